"""`cnnctl compare`: the config keys that differ, metrics side by side with the best marked, seed groups."""

from __future__ import annotations

import json
import statistics

import pytest

from cnnctl.look.better import best_of, minimized
from cnnctl.look.compare import flatten
from tests.conftest import cli


def compared(*runs, args=("--json",)):
    result = cli("compare", *runs, *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def cells(text: str) -> dict[str, list[str]]:
    """The rows of the tables printed (rich or Markdown) by their first cell, cells stripped."""
    rows = {}
    for line in text.splitlines():
        sep = "│" if "│" in line else "|"
        if line.count(sep) > 1 and "---" not in line:
            first, *rest = [cell.strip() for cell in line.split(sep)[1:-1]]
            rows.setdefault(first, rest)  # the first table that has the row
    return rows


def metric(found: dict, name: str) -> dict:
    return next(line for line in found["metrics"] if line["metric"] == name)


def test_flatten_gives_dotted_keys():
    assert flatten({"train": {"optimizer": {"SGD": {"learning_rate": 0.1}}, "metrics": ["accuracy"]},
                    "model": {"layers": [{"Conv2D": {"filters": 8}}, "Flatten"]}, "data": {"augment": []}}) == {
        "train.optimizer.SGD.learning_rate": 0.1, "train.metrics.0": "accuracy",
        "model.layers.0.Conv2D.filters": 8, "model.layers.1": "Flatten", "data.augment": []}


def test_the_config_keys_that_differ_side_by_side(make_run):
    a = make_run("a")
    b = make_run("b", config={"model.layers.0.Conv2D.filters": 16, "train.optimizer": {"SGD": {"momentum": 0.9}}})
    found = compared(a, b)
    assert found["config"] == {"model.layers.0.Conv2D.filters": {"a": 8, "b": 16},
                               "train.optimizer.Adam.learning_rate": {"a": 0.01},
                               "train.optimizer.SGD.momentum": {"b": 0.9}}
    rows = cells(compared(a, b, args=()))
    assert rows["train.optimizer.Adam.learning_rate"] == ["0.01", "—"]
    assert rows["train.optimizer.SGD.momentum"] == ["—", "0.9"]
    assert not found["only_seed_differs"] and found["seed_groups"] == [["a"], ["b"]]


def test_the_best_of_each_metric_is_marked(make_run):
    a = make_run("a", test={"accuracy": 0.9, "loss": 0.4}, best={"val_loss": 0.3}, wall_seconds=10.0,
                 validation=[{"val_accuracy": 0.5, "val_loss": 0.9}, {"val_accuracy": 0.8, "val_loss": 0.35}])
    b = make_run("b", test={"accuracy": 0.8, "loss": 0.2}, best={"val_loss": 0.3}, wall_seconds=5.0,
                 validation=[{"val_accuracy": 0.85, "val_loss": 0.3}], config={"train.epochs": 1})
    c = make_run("c", test={"accuracy": 0.9, "loss": 0.5}, best={"val_loss": 0.3}, wall_seconds=20.0,
                 validation=[{"val_accuracy": 0.7, "val_loss": 0.4}], config={"train.epochs": 1})
    found = compared(a, b, c)
    assert metric(found, "test accuracy")["best"] == ["a", "c"]  # higher is better; a tie marks both
    assert metric(found, "test loss")["best"] == ["b"]  # lower is better
    assert metric(found, "final val_accuracy") == {"metric": "final val_accuracy", "best": ["b"],
                                                   "values": {"a": 0.8, "b": 0.85, "c": 0.7}}  # the last epoch's
    assert metric(found, "best val_loss")["best"] == []  # all the same: none is better
    assert metric(found, "wall time") == {"metric": "wall time", "values": {"a": 10.0, "b": 5.0, "c": 20.0},
                                          "best": []}  # shown, not judged
    markdown = cells(compared(a, b, c, args=("--markdown",)))
    assert markdown["test accuracy"] == ["**0.9000**", "0.8000", "**0.9000**"]
    assert markdown["test loss"] == ["0.4000", "**0.2000**", "0.5000"]
    assert markdown["wall time"] == ["10.0 s", "5.0 s", "20.0 s"]


def test_runs_that_differ_only_in_the_seed_are_grouped_as_mean_and_std(make_run):
    accuracies = {"a": 0.9, "b": 0.8, "c": 0.6, "d": 0.7, "e": 0.75}
    runs = [make_run("a"), make_run("b", config={"train.seed": 1, "name": "other"}),
            make_run("c", config={"train.optimizer.Adam.learning_rate": 0.1}),
            make_run("d", config={"train.optimizer.Adam.learning_rate": 0.1, "train.seed": 1}),
            make_run("e", config={"train.optimizer.Adam.learning_rate": 0.1, "train.seed": 2}, test=None)]
    for run in runs:
        if run.name != "e":
            results = json.loads((run / "results.json").read_text())
            results["test"] = {"accuracy": accuracies[run.name], "loss": 0.3}
            (run / "results.json").write_text(json.dumps(results))
    found = compared(*runs)
    assert found["seed_groups"] == [["a", "b"], ["c", "d", "e"]]
    line = next(line for line in found["seed_group_metrics"] if line["metric"] == "test accuracy")
    assert line["values"]["a, b"] == {"mean": pytest.approx(0.85), "std": pytest.approx(statistics.stdev([0.9, 0.8])),
                                      "n": 2}
    assert line["values"]["c, d, e"]["n"] == 2  # e has no test metrics
    assert line["best"] == ["a, b"]
    text = compared(*runs, args=("--markdown",))
    groups = cells(text.split("seed groups: mean ± std")[1])
    assert groups["metric"] == ["a, b (n=2)", "c, d, e (n=3)"]
    assert groups["test accuracy"] == ["**0.8500 ± 0.0707**", "0.6500 ± 0.0707 (n=2)"]
    assert groups["epochs"] == ["4.0 ± 0.0", "4.0 ± 0.0"]


def test_when_only_the_seed_differs_it_says_so(make_run):
    a, b = make_run("a"), make_run("b", config={"train.seed": 7})
    found = compared(a, b)
    assert found["only_seed_differs"] and found["seed_groups"] == [["a", "b"]]
    assert "only train.seed differs: mean ± std" in compared(a, b, args=())


def test_same_config_says_so_and_is_one_group(make_run):
    a, b = make_run("a"), make_run("b")
    text = compared(a, b, args=())
    assert text.startswith("config: the same in every run, train.seed included\n")
    assert "one config: mean ± std" in text  # one group, its spread the machine's


def test_runs_of_the_same_name_are_told_apart_by_path(make_run, tmp_path):
    from tests.look.conftest import write_run

    a, b = make_run("smoke"), write_run(tmp_path / "elsewhere" / "smoke", {"train.seed": 3})
    assert [run["name"] for run in compared(a, b)["runs"]] == [str(a), str(b)]


@pytest.mark.parametrize("case", ["one run", "not a run", "damaged results", "damaged config", "twice"])
def test_what_cannot_be_compared_is_one_line(make_run, tmp_path, case):
    a, b = make_run("a"), make_run("b")
    expected = {
        "one run": ([a], "error: compare needs two runs or more, got 1 (cnnctl compare runs/a runs/b)"),
        "not a run": ([a, tmp_path], f"error: {tmp_path}: no results.json here: not a cnnctl run folder "
                                     f"(pass runs/<name>)"),
        "damaged results": ([a, b], f"error: {b / 'results.json'}: damaged: a JSON array, not an object "
                                    f"(restore it, or start anew with `cnnctl train {b / 'config.yaml'}`)"),
        "damaged config": ([a, b], f"error: {b / 'config.yaml'}: damaged: not a mapping of sections "
                                   f"(restore it, or start anew with `cnnctl train {b / 'config.yaml'}`)"),
        "twice": ([a, a], f"error: {a}: this run is given twice (compare different runs)"),
    }
    if case == "damaged results":
        (b / "results.json").write_text("[]")
    if case == "damaged config":
        (b / "config.yaml").write_text("- just\n- a list\n")
    runs, message = expected[case]
    result = cli("compare", *runs)
    assert result.exit_code == 2 and result.stderr == message + "\n", result.output


@pytest.mark.parametrize("name, lower", [
    ("loss", True), ("val_loss", True), ("mean_squared_error", True), ("val_mae", True),
    ("categorical_crossentropy", True), ("kl_divergence", True), ("false_positives", True),
    ("accuracy", False), ("val_accuracy", False), ("auc", False), ("f1_score", False), ("precision", False),
])
def test_which_way_is_better(name, lower):
    assert minimized(name) is lower
    assert best_of(name, [0.2, None, 0.1, 0.2]) == ([2] if lower else [0, 3])


def test_losses_of_different_loss_functions_are_shown_not_judged(make_run):
    """Square error's 0.02 is not better than cross-entropy's 0.3: with train.loss differing, no loss row has
    a best (the configs/lecture/ pair of cross_entropy.yaml and square_error.yaml); accuracy still has."""
    a = make_run("ce", test={"accuracy": 0.90, "loss": 0.33}, best={"val_loss": 0.28})
    b = make_run("mse", test={"accuracy": 0.85, "loss": 0.02}, best={"val_loss": 0.02}, config={"train.loss": "mse"})
    found = compared(a, b)
    assert metric(found, "test accuracy")["best"] == ["ce"]
    assert metric(found, "test loss") == {"metric": "test loss", "values": {"ce": 0.33, "mse": 0.02}, "best": []}
    assert metric(found, "best val_loss")["best"] == []
    assert "loss: not judged, the runs minimise different losses (train.loss differs)" in compared(a, b, args=())
    smoothed = make_run("smoothed", test={"accuracy": 0.88, "loss": 0.5},
                        config={"train.loss": {"CategoricalCrossentropy": {"label_smoothing": 0.1}}})
    assert metric(compared(a, smoothed), "test loss")["best"] == []  # another argument is another loss
    same = make_run("same", test={"accuracy": 0.88, "loss": 0.5}, config={"train.seed": 1})
    assert metric(compared(a, same), "test loss")["best"] == ["ce"]  # the same loss: lower is better
