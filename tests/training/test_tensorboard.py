"""`train.tensorboard` / `--tensorboard`: event files in the run folder, read back with TensorBoard's own reader.

TensorBoard is an extra (TensorFlow 2.21 no longer installs it): without it a run that asks for it is
refused in one line before its folder is made, and a run that does not ask imports none of it.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, cli

SMOKE = ROOT / "configs" / "smoke.yaml"
EPOCHS = 2
# Never an improvement after the first epoch: the rate halves at the end of the second, after its row is written.
PLATEAU = "train.lr_schedule={ReduceLROnPlateau: {factor: 0.5, patience: 0, min_delta: 10}}"
INSTALL = 'pip install "cnnctl[tensorboard]"'


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    """A 2-epoch smoke run with `--tensorboard` and a plateau: its folder, and TensorBoard's reader on
    train/ and validation/."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing import event_accumulator

    runs = tmp_path_factory.mktemp("tensorboard") / "runs"
    result = cli("train", SMOKE, "--runs-dir", runs, "--quiet", "--device", "cpu", "--tensorboard",
                 "--set", f"train.epochs={EPOCHS}", "--set", PLATEAU)
    assert result.exit_code == 0, result.output + repr(result.exception)
    folder = runs / "smoke"
    readers = {}
    for split in ("train", "validation"):
        reader = event_accumulator.EventAccumulator(str(folder / "tensorboard" / split),
                                                    size_guidance={event_accumulator.TENSORS: 0})
        readers[split] = reader.Reload()
    return folder, readers


def series(reader, tag: str) -> list[tuple[int, np.float32]]:
    """A scalar written with `tf.summary.scalar` (a tensor event in TensorBoard 2): `(step, value)` pairs."""
    from tensorboard.util.tensor_util import make_ndarray

    return [(e.step, np.float32(make_ndarray(e.tensor_proto))) for e in reader.Tensors(tag)]


def metrics(folder) -> list[dict[str, str]]:
    with (folder / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
@pytest.mark.parametrize("split, prefix", [("train", ""), ("validation", "val_")])
@pytest.mark.parametrize("metric", ["loss", "accuracy"])
def test_epoch_scalars_are_the_numbers_of_metrics_csv(events, split, prefix, metric):
    """One point per epoch (Keras counts them from 0), each the float32 that metrics.csv writes."""
    folder, readers = events
    rows = metrics(folder)
    assert series(readers[split], f"epoch_{metric}") == [(i, np.float32(row[prefix + metric]))
                                                         for i, row in enumerate(rows)]
    assert len(rows) == EPOCHS


@pytest.mark.slow
def test_the_learning_rate_of_each_epoch_is_logged(events):
    """The rate each epoch trained at, as metrics.csv has it: written before the plateau halves it."""
    folder, readers = events
    assert json.loads((folder / "results.json").read_text())["status"] == "completed"
    assert series(readers["train"], "epoch_learning_rate") == [(i, np.float32(row["lr"]))
                                                               for i, row in enumerate(metrics(folder))]


@pytest.mark.slow
def test_the_model_graph_reads_back_as_its_layers(events):
    """Keras writes the model as TensorBoard's conceptual graph; its graph plugin turns it into the layers.

    (Keras 3 writes no op graph of the training step on TensorFlow: its train_function is a plain Python
    function, not the `tf.function` whose graph the callback would write.)
    """
    from tensorboard.plugins.graph import keras_util
    from tensorboard.util.tensor_util import make_ndarray

    folder, readers = events
    train = readers["train"]
    assert train.SummaryMetadata("keras").plugin_data.plugin_name == "graph_keras_model"
    (event,) = train.Tensors("keras")
    graph = keras_util.keras_model_to_graph_def(json.loads(make_ndarray(event.tensor_proto).item()))
    layers = json.loads((folder / "summary.json").read_text())["layers"]
    assert [(n.name, n.attr["keras_class"].s.decode()) for n in graph.node][1:] == [
        (f"smoke/{layer['name']}", layer["type"]) for layer in layers]
    assert list(graph.node[1].input) == ["smoke/input"]


@pytest.mark.slow
def test_nothing_but_scalars_and_the_graph(events):
    """Per-epoch scalars only: no histograms, images or profile, no per-batch points."""
    folder, readers = events
    for reader in readers.values():
        tags = reader.Tags()
        assert not (tags["histograms"] or tags["images"] or tags["run_metadata"])
        assert not [tag for tag in tags["tensors"] if tag.startswith("batch_")]
        assert all(step < EPOCHS for tag in tags["tensors"] if tag.startswith("epoch_")
                   for step, _ in series(reader, tag))
    assert {p.name for p in (folder / "tensorboard").iterdir()} == {"train", "validation"}


@pytest.mark.slow
def test_a_resumed_run_goes_on_writing(tmp_path):
    """config.yaml keeps `train.tensorboard`: the resumed epochs land in new event files, which TensorBoard's
    reader reads as one series with the first run's."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing import event_accumulator

    first = cli("train", SMOKE, "--runs-dir", tmp_path, "--quiet", "--device", "cpu", "--tensorboard",
                "--set", "train.epochs=1")
    assert first.exit_code == 0, first.output
    folder = tmp_path / "smoke"
    result = cli("resume", folder, "--quiet", "--device", "cpu", "--set", "train.epochs=2")
    assert result.exit_code == 0, result.output + repr(result.exception)
    train = folder / "tensorboard" / "train"
    assert len(list(train.glob("events.out.tfevents.*"))) == 2
    reader = event_accumulator.EventAccumulator(str(train), size_guidance={event_accumulator.TENSORS: 0}).Reload()
    assert series(reader, "epoch_loss") == [(i, np.float32(row["loss"])) for i, row in enumerate(metrics(folder))]


def test_resume_can_turn_tensorboard_on_or_off():
    """Nothing in a checkpoint depends on event files: `resume --set train.tensorboard=...` is allowed."""
    from cnnctl.training.changes import check_resume_overrides

    check_resume_overrides(["train.tensorboard=true", "train.tensorboard=false"])


@pytest.fixture
def no_tensorboard(monkeypatch):
    """TensorBoard as if not installed: every `tensorboard` module, loaded or not, unimportable."""
    for name in {m for m in sys.modules if m.partition(".")[0] == "tensorboard"} | {"tensorboard"}:
        monkeypatch.setitem(sys.modules, name, None)


def test_missing_tensorboard_is_one_line_naming_the_extra_and_leaves_nothing(tmp_path, no_tensorboard):
    result = cli("train", SMOKE, "--runs-dir", tmp_path / "runs", "--quiet", "--tensorboard")
    assert result.exit_code == 2, result.output + repr(result.exception)
    assert result.stderr == ("error: --set train.tensorboard=true: train.tensorboard: TensorBoard is not installed "
                             f"({INSTALL})\n")
    assert not (tmp_path / "runs").exists()


def test_validate_points_at_the_key_when_tensorboard_is_missing(write_config, no_tensorboard):
    config = write_config(SMOKE.read_text() + "  tensorboard: true\n")
    line = len(config.read_text().splitlines())
    result = cli("validate", config)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (f"error: {config}:{line}: train.tensorboard: TensorBoard is not "
                                             f"installed ({INSTALL})")


# Trains twice in a fresh process: without TensorBoard, then with it, so the check is seen to catch an import.
IMPORTS = """\
import sys
from click.testing import CliRunner
from cnnctl.cli import main

def imported():
    return sorted(m for m in sys.modules if m.partition(".")[0] == "tensorboard")

for flags in ([], ["--tensorboard"]):
    result = CliRunner().invoke(main, ["train", sys.argv[1], "--runs-dir", sys.argv[2], "--quiet", "--device", "cpu",
                                       "--set", "train.epochs=1", *flags])
    assert result.exit_code == 0, result.output
    print(bool(imported()), imported()[:3])
"""


@pytest.mark.slow
def test_a_run_without_tensorboard_imports_none_of_it(tmp_path):
    pytest.importorskip("tensorboard")  # installed, or the check below could not fail
    out = subprocess.run([sys.executable, "-c", IMPORTS, str(SMOKE), str(tmp_path / "runs")], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert out[0] == "False []"
    assert out[1].startswith("True ['tensorboard'")
