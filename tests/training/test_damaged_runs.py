"""Damaged run files: `resume` and `evaluate` refuse in one line naming the file (exit 2), never a
traceback, never a run that goes on with something silently lost.

One small run is trained per session (conftest's `smoke_trained`); each case damages a copy of it. The copy is marked `interrupted`
as a killed run would be; its checkpoint is at the last epoch, so an undamaged copy resumes at once to
`completed` (the control case).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import ROOT, cli

SMOKE = ROOT / "configs" / "smoke.yaml"
EPOCHS = 2  # as conftest's smoke_trained


@pytest.fixture
def run(smoke_copy: Path) -> Path:
    folder = smoke_copy
    results = json.loads((folder / "results.json").read_text())
    (folder / "results.json").write_text(json.dumps({**results, "status": "interrupted"}))
    return folder


def refused(result, file: Path, *words: str) -> str:
    """Exit 2 and one line, `error: FILE...`, holding `words`."""
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.output + repr(result.exception)
    assert len(lines) == 1 and lines[0].startswith(f"error: {file}"), result.stderr
    for word in words:
        assert word in lines[0]
    return lines[0]


def resume(folder: Path):
    return cli("resume", folder, "--quiet")


# checkpoint.npz

def rewrite_checkpoint(folder: Path, change) -> None:
    """Load the checkpoint's arrays; `change(arrays, state)` edits them in place or returns a new state."""
    path = folder / "checkpoint.npz"
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    state = json.loads(str(arrays["state"]))
    new = change(arrays, state)
    arrays["state"] = np.array(json.dumps(state if new is None else new))
    np.savez(path, **arrays)


def edit_config(folder: Path, change) -> None:
    config = yaml.safe_load((folder / "config.yaml").read_text())
    change(config)
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def test_an_undamaged_copy_resumes(run):
    assert resume(run).exit_code == 0
    assert json.loads((run / "results.json").read_text())["status"] == "completed"


def test_an_empty_checkpoint_is_refused(run):
    (run / "checkpoint.npz").write_bytes(b"")
    refused(resume(run), run / "checkpoint.npz", "damaged checkpoint: the file is empty")


@pytest.mark.parametrize("name", ["weight_3", "optimizer_13", "callback.DivergenceGuard.point1_weight_2"])
def test_a_missing_array_is_named(run, name):
    def drop(arrays, state):
        del arrays[name]

    rewrite_checkpoint(run, drop)
    refused(resume(run), run / "checkpoint.npz", f"damaged checkpoint: array {name} is missing")


@pytest.mark.parametrize("missing", [None, "weight_3"])
def test_a_checkpoint_from_before_layouts_were_kept_counts_as_its_own_layout(run, missing):
    def drop(arrays, state):
        del arrays["layout"]
        if missing:
            del arrays[missing]

    rewrite_checkpoint(run, drop)
    if missing:
        refused(resume(run), run / "checkpoint.npz", f"damaged checkpoint: array {missing} is missing")
    else:
        assert resume(run).exit_code == 0


def test_an_array_of_the_wrong_shape_is_damage(run):
    rewrite_checkpoint(run, lambda arrays, state: arrays.update(weight_1=arrays["weight_1"][:3]))
    refused(resume(run), run / "checkpoint.npz", "damaged checkpoint: weight_1 is 3")


@pytest.mark.parametrize("change, says", [
    (lambda c: c["model"]["layers"][0]["Conv2D"].update(filters=4), "weight_0 (conv2d/kernel) is 3×3×1×8 in the "
                                                                    "checkpoint, 3×3×1×4 in the model"),
    (lambda c: c["model"]["layers"].insert(-1, {"Dense": {"units": 4}}), "it holds 6 weights, the model has 8"),
    (lambda c: c["train"].update(optimizer="SGD"), "optimizer variables"),
], ids=["filters", "a layer more", "optimizer"])
def test_a_config_edited_to_another_model_no_longer_fits_the_checkpoint(run, change, says):
    edit_config(run, change)
    refused(resume(run), run / "checkpoint.npz", "the checkpoint does not fit the model in config.yaml", says)


@pytest.mark.parametrize("state, says", [
    ([1, 2], "its state is a JSON array, not an object"),
    ({"wall_seconds": 1.0, "callbacks": {}}, "its state has no epoch"),
    ("epoch as text", 'its state has epoch "2", not a whole number'),
    (-2, "its state has epoch -2, not a whole number"),
], ids=["array", "no epoch", "text epoch", "negative epoch"])
def test_a_state_that_is_not_an_object_or_has_a_bad_epoch_is_refused(run, state, says):
    def change(arrays, saved):
        if state == "epoch as text":
            return {**saved, "epoch": "2"}
        if isinstance(state, int):
            return {**saved, "epoch": state}
        return state

    rewrite_checkpoint(run, change)
    refused(resume(run), run / "checkpoint.npz", f"damaged checkpoint: {says}")
    assert len((run / "metrics.csv").read_text().splitlines()) == EPOCHS + 1  # untouched


def test_a_checkpoint_past_train_epochs_is_refused(run):
    rewrite_checkpoint(run, lambda arrays, state: {**state, "epoch": EPOCHS + 10})
    refused(resume(run), run / "checkpoint.npz", f"at epoch {EPOCHS + 10}, past train.epochs ({EPOCHS})")


def test_state_that_is_not_json_is_refused(run):
    path = run / "checkpoint.npz"
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    np.savez(path, **{**arrays, "state": np.array("{epoch: 2")})
    refused(resume(run), path, "damaged checkpoint: its state is not JSON")


def test_damaged_callback_counters_are_refused(run):
    def change(arrays, state):
        state["callbacks"]["BestCheckpoint"]["best"] = "low"

    rewrite_checkpoint(run, change)
    refused(resume(run), run / "checkpoint.npz", "BestCheckpoint's best is \"low\", not a number")


# metrics.csv: the checkpoint at epoch N needs rows 1..N

def lines(folder: Path) -> list[str]:
    return (folder / "metrics.csv").read_text().splitlines()


def write_lines(folder: Path, rows: list[str]) -> None:
    (folder / "metrics.csv").write_text("".join(row + "\r\n" for row in rows))


def test_a_blank_line_does_not_lose_a_row(run):
    header, *rows = before = lines(run)
    write_lines(run, [header, "", *rows, ""])
    assert resume(run).exit_code == 0
    assert lines(run) == before


def test_a_row_past_the_checkpoint_is_from_the_lost_epoch_and_goes(run):
    """The row of an epoch killed before its checkpoint, here cut off mid-line by the kill."""
    before = lines(run)
    write_lines(run, [*before, f"{EPOCHS + 1},0.5,0.7"])
    assert resume(run).exit_code == 0
    assert lines(run) == before


@pytest.mark.parametrize("damage, line, says", [
    (lambda h, r: [h, r[1]], None, "row 2 is missing, but the checkpoint holds 2 completed epochs"),
    (lambda h, r: [h], None, "rows 1 to 2 are missing"),
    (lambda h, r: [h, r[1], r[0]], 2, "row 1 is epoch 2"),
    (lambda h, r: [h, r[0].replace(",", ",x", 1), r[1]], 2, "epoch 1's accuracy is 'x"),
    (lambda h, r: [h, r[0].rsplit(",", 2)[0], r[1]], 2, "epoch 1's row has 6 values, the header 8"),
    (lambda h, r: [h, r[0], "\udcff\udcfe\x00garbage"], 3, "not a line of CSV text"),
    (lambda h, r: [], None, "empty, but the checkpoint holds 2 completed epochs"),
], ids=["row missing", "rows missing", "out of order", "not a number", "short", "binary", "empty"])
def test_missing_or_damaged_rows_are_refused_and_the_file_kept(run, damage, line, says):
    header, *rows = lines(run)
    text = "".join(row + "\r\n" for row in damage(header, rows))
    (run / "metrics.csv").write_bytes(text.encode("utf-8", "surrogateescape"))
    message = refused(resume(run), run / "metrics.csv", says, "cannot rebuild lost rows", "cnnctl train")
    if line:
        assert message.startswith(f"error: {run / 'metrics.csv'}:{line}: ")
    assert (run / "metrics.csv").read_bytes() == text.encode("utf-8", "surrogateescape")


def test_a_deleted_metrics_file_is_refused(run):
    (run / "metrics.csv").unlink()
    refused(resume(run), run / "metrics.csv", "missing, but the checkpoint holds 2 completed epochs")
    assert not (run / "metrics.csv").exists()


# results.json, and folders that are not runs

@pytest.mark.parametrize("text, says", [
    ("[1, 2]", "damaged: a JSON array, not an object"),
    ('{"status": ', "damaged: not JSON"),
    ("\xff\xfe", "damaged: not JSON"),
    ('{"name": "smoke"}', "damaged: its status is not a string"),
], ids=["array", "cut short", "not UTF-8", "no status"])
def test_damaged_results_are_refused(run, text, says):
    (run / "results.json").write_bytes(text.encode("latin-1"))
    refused(resume(run), run / "results.json", says)


def test_a_run_folder_without_results_is_refused(run):
    (run / "results.json").unlink()
    refused(resume(run), run / "results.json", "missing: the run's status is unknown")


def test_a_folder_that_is_not_a_run_is_refused(tmp_path):
    refused(resume(tmp_path), tmp_path, "not a cnnctl run folder")
    refused(resume(tmp_path / "nowhere"), tmp_path / "nowhere", "no such folder")


# model.keras and best.keras

def evaluate(folder: Path, *args: str):
    return cli("evaluate", folder, *args)


@pytest.mark.parametrize("name", ["model.keras", "best.keras"])
@pytest.mark.parametrize("damage", ["truncated", "not a zip"])
def test_a_damaged_model_file_is_refused(run, name, damage):
    path = run / name
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2] if damage == "truncated" else b"not a model")
    refused(evaluate(run, *(["--best"] if name == "best.keras" else [])), path, "damaged model file")


@pytest.mark.parametrize("member, damage", [("config.json", b"{not json"), ("model.weights.h5", None)],
                         ids=["config", "weights"])
def test_a_whole_archive_around_a_damaged_member_is_refused(run, member, damage):
    path = run / "model.keras"
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members[member] = damage or members[member][:1000]
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    refused(evaluate(run), path, "damaged model file")


@pytest.mark.parametrize("function, says", [
    ("a lambda", "holds code (a Lambda layer's Python function) that Keras' safe mode refuses to run"),
    ("a named function", "names a layer, class or function that neither Keras nor a --plugin module offers"),
])
def test_a_model_file_with_a_lambda_layer_is_refused(run, function, says):
    from cnnctl.keras_catalog import keras

    k = keras()
    model = k.saving.load_model(run / "model.keras")
    images = k.Input(model.input.shape[1:])
    layer = k.layers.Lambda(k.ops.abs if function == "a named function" else lambda x: x * 1.0)
    wrapped = k.Model(images, model(layer(images)))
    wrapped.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    wrapped.save(run / "model.keras")
    refused(evaluate(run), run / "model.keras", says)


@pytest.mark.parametrize("change, says", [
    (lambda c: c["model"].update(input_shape=[20, 20, 1]), "it takes 16×16×1 images, config.yaml's are 20×20×1"),
    (lambda c: (c["data"]["synthetic"].update(classes=3), c["model"]["layers"][-1]["Dense"].update(units=3)),
     "it gives 4 outputs, the data has 3 classes"),
], ids=["input shape", "classes"])
def test_a_model_file_that_does_not_fit_an_edited_config_is_refused(run, change, says):
    edit_config(run, change)
    refused(evaluate(run), run / "model.keras", "the model file does not fit config.yaml", says)


def test_a_model_file_is_scored_with_its_own_loss_whatever_config_yaml_says_now(run):
    expected = cli("evaluate", run, "--json")
    edit_config(run, lambda c: c["train"].update(loss="sparse_categorical_crossentropy"))
    result = cli("evaluate", run, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == json.loads(expected.output)
