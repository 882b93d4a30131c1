"""Per-class scores: checked by hand on a small case, and against a computation of our own from a real
model's predictions (issue #17: the numbers must agree with a direct computation)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnnctl.training.per_class import confident_mistakes, normalized, per_class_report
from tests.conftest import ROOT, cli

SMOKE = ROOT / "configs" / "smoke.yaml"


def one_hot(predicted: list[int], classes: int, sure: float = 0.9) -> np.ndarray:
    rest = (1 - sure) / (classes - 1)
    out = np.full((len(predicted), classes), rest)
    out[np.arange(len(predicted)), predicted] = sure
    return out


def test_a_small_case_worked_by_hand():
    # true:      a a a b b c
    # predicted: a a b b a a   -> a: tp 2, predicted 4, support 3; b: tp 1, predicted 2, support 2; c: tp 0, support 1
    report = per_class_report(np.array([0, 0, 0, 1, 1, 2]), one_hot([0, 0, 1, 1, 0, 0], 3), ["a", "b", "c"])
    rows = {row["class"]: row for row in report["per_class"]}
    assert rows["a"]["precision"] == pytest.approx(2 / 4) and rows["a"]["recall"] == pytest.approx(2 / 3)
    assert rows["a"]["f1"] == pytest.approx(2 * (1 / 2) * (2 / 3) / (1 / 2 + 2 / 3))
    assert rows["b"]["precision"] == pytest.approx(1 / 2) and rows["b"]["recall"] == pytest.approx(1 / 2)
    assert rows["c"] == {"class": "c", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}  # never predicted
    assert report["confusion"] == [[2, 1, 0], [1, 1, 0], [1, 0, 0]]
    assert report["accuracy"] == pytest.approx(3 / 6)
    assert report["macro"]["recall"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    assert report["weighted"]["recall"] == pytest.approx((3 * 2 / 3 + 2 * 1 / 2 + 0) / 6)  # = accuracy
    assert [(p["true"], p["predicted"], p["count"]) for p in report["most_confused"]] == [
        ("a", "b", 1), ("b", "a", 1), ("c", "a", 1)]
    assert normalized(report["confusion"])[0] == pytest.approx([2 / 3, 1 / 3, 0])


def test_a_single_sigmoid_output_is_two_classes():
    report = per_class_report(np.array([0, 1, 1]), np.array([[0.2], [0.7], [0.4]]), ["no", "yes"])
    assert report["confusion"] == [[1, 0], [1, 1]]


def test_confident_mistakes_come_surest_first():
    probabilities = np.array([[0.6, 0.4], [0.1, 0.9], [0.95, 0.05], [0.2, 0.8]])
    mistakes = confident_mistakes(np.array([1, 1, 1, 0]), probabilities, 2)
    assert [(m["index"], m["predicted"]) for m in mistakes] == [(2, 0), (3, 1)]
    assert mistakes[0]["probability"] == pytest.approx(0.95)


@pytest.mark.slow
def test_the_run_folders_per_class_numbers_are_the_models_own(tmp_path):
    """evaluation.json, and `evaluate --json`, agree with counting the model's predictions one by one."""
    from cnnctl.config import load_config
    from cnnctl.data.prepare import load_data
    from cnnctl.model.build import internal_input_shape
    from cnnctl.training.evaluate import load_saved_model

    result = cli("train", SMOKE, "--runs-dir", tmp_path, "--quiet", "--device", "cpu", "--set", "train.epochs=2")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "smoke"
    written = json.loads((folder / "evaluation.json").read_text())

    config = load_config(folder / "config.yaml")
    data = load_data(config, internal_input_shape(config))
    model = load_saved_model(folder / "model.keras")
    predicted = model.predict(data.prepare.inputs(data.test.x).numpy(), verbose=0).argmax(axis=1)
    names = written["classes"]
    for c, row in enumerate(written["per_class"]):
        hits = sum(1 for t, p in zip(data.test.y, predicted) if t == c and p == c)
        said = sum(1 for p in predicted if p == c)
        have = sum(1 for t in data.test.y if t == c)
        assert row["class"] == names[c] and row["support"] == have
        assert row["precision"] == pytest.approx(hits / said if said else 0.0)
        assert row["recall"] == pytest.approx(hits / have if have else 0.0)
        for p in range(len(names)):
            assert written["confusion"][c][p] == sum(1 for t, q in zip(data.test.y, predicted) if t == c and q == p)
    assert written["accuracy"] == pytest.approx(float(np.mean(predicted == data.test.y)))
    assert written["accuracy"] == pytest.approx(written["metrics"]["accuracy"], abs=1e-6)  # Keras agrees

    evaluated = cli("evaluate", folder, "--json")
    assert evaluated.exit_code == 0, evaluated.output
    again = json.loads(evaluated.stdout)
    assert again["confusion"] == written["confusion"] and again["per_class"] == written["per_class"]  # counts

    shown = cli("evaluate", folder, "--errors", "3", "--errors-dir", tmp_path / "mistakes")
    assert shown.exit_code == 0, shown.output
    for name in names:
        assert name in shown.stdout  # the per-class table and the matrix name every class
    assert "macro average" in shown.stdout and "most confused" in shown.stdout
    lines = (tmp_path / "mistakes" / "errors.csv").read_text().splitlines()
    assert lines[0] == "rank,index,true,predicted,probability"
    wrong = np.flatnonzero(predicted != data.test.y)
    assert len(lines) - 1 == min(3, len(wrong))
    for line in lines[1:]:
        index = int(line.split(",")[1])
        assert index in wrong and line.split(",")[3] == names[predicted[index]]
