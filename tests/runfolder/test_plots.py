"""The run folder's pictures: real plots (titles, labelled axes, legends, not blank) for every kind of run.

Run folders are written by hand here (results.json and metrics.csv as training writes them), so runs of
different lengths, without validation, diverged, halved and resumed can all be drawn without training.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnctl.runfolder import Results, RunFolder
from cnnctl.runfolder.plots import Curves, confusion_figure, curves_figure
from tests.conftest import cli


def rows(epochs: int, validation: bool = True, bad_epoch: int | None = None) -> list[dict[str, float]]:
    out = []
    for e in range(1, epochs + 1):
        loss = 1.0 / e if e != bad_epoch else math.inf
        row = {"epoch": e, "accuracy": 1 - loss / 2, "loss": loss}
        if validation:
            row |= {"val_accuracy": 1 - loss / 3, "val_loss": loss * 1.1}
        out.append(row | {"lr": 0.1 if e < 3 else 0.05, "seconds": 1.0, "images_per_second": 100.0})
    return out


def run_folder(root: Path, name: str, metrics: list[dict[str, float]], **results) -> Path:
    folder = RunFolder(root / name)
    folder.path.mkdir(parents=True)
    for row in metrics:
        folder.append_metrics(row)
    folder.write_results(Results(name=name, status=results.pop("status", "completed"), **results))
    return folder.path


def is_a_picture(path: Path) -> bool:
    """Not blank: many colours, and plenty of pixels that are not the background."""
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    colours = len(np.unique(pixels, axis=0))
    drawn = np.mean(np.any(pixels < 240, axis=1))
    return colours > 20 and drawn > 0.02


def test_curves_have_titles_labels_and_a_line_per_series():
    figure = curves_figure([Curves("lecture", rows(5), [{"epoch": 3, "new_learning_rate": 0.05}])])
    axes = [a for a in figure.axes if a.get_visible()]
    assert [a.get_title() for a in axes] == ["loss", "accuracy", "learning rate"]
    assert all(a.get_xlabel() == "epoch" and a.get_ylabel() for a in axes)
    assert figure._suptitle.get_text() == "lecture"
    loss, accuracy, rate = axes
    assert [line.get_label() for line in loss.get_lines()] == ["training", "validation"]
    assert list(loss.get_lines()[0].get_ydata()) == pytest.approx([1.0 / e for e in range(1, 6)])
    assert any(line.get_label() == "halved" for line in rate.get_lines())  # the halving is marked


def test_several_runs_overlay_with_their_names_even_of_different_lengths_and_without_validation():
    figure = curves_figure([Curves("a", rows(3)), Curves("b", rows(7, validation=False))])
    loss = figure.axes[0]
    assert [line.get_label() for line in loss.get_lines()] == ["a training", "a validation", "b training"]
    assert [len(line.get_xdata()) for line in loss.get_lines()] == [3, 3, 7]
    assert figure._suptitle.get_text() == "2 runs"


def test_a_non_finite_loss_is_a_gap_not_an_error():
    figure = curves_figure([Curves("diverged", rows(2, bad_epoch=2))])
    assert np.isnan(figure.axes[0].get_lines()[0].get_ydata()[1])


def test_the_confusion_matrix_names_its_classes_and_counts():
    record = {"classes": ["cat", "dog"], "confusion": [[5, 1], [2, 7]], "model": "model.keras", "accuracy": 0.8}
    figure = confusion_figure(record, "pets")
    axis = figure.axes[0]
    assert [t.get_text() for t in axis.get_xticklabels()] == ["cat", "dog"]
    assert axis.get_xlabel() == "predicted class" and axis.get_ylabel() == "true class"
    assert sorted(t.get_text() for t in axis.texts) == ["1", "2", "5", "7"]


def test_plot_draws_one_run_into_its_folder_and_several_onto_one_figure(tmp_path):
    a = run_folder(tmp_path, "a", rows(4), halvings=[{"epoch": 3, "new_learning_rate": 0.05}])
    from cnnctl.training.per_class import per_class_report

    record = per_class_report(np.array([0, 0, 0, 0, 1, 1, 1, 1]), np.eye(2)[[0, 0, 0, 1, 1, 1, 1, 1]], ["x", "y"])
    (a / "evaluation.json").write_text(json.dumps({"model": "model.keras", "metrics": {}, **record}))
    b = run_folder(tmp_path, "b", rows(2, validation=False), status="diverged")
    c = run_folder(tmp_path, "c", rows(6), status="interrupted", resumed=[{"at_epoch": 3}])

    one = cli("plot", a)
    assert one.exit_code == 0, one.output
    assert one.stdout.split() == ["wrote", str(a / "curves.png"), "wrote", str(a / "confusion.png")]
    assert is_a_picture(a / "curves.png") and is_a_picture(a / "confusion.png")

    overlay = tmp_path / "all.png"
    many = cli("plot", a, b, c, "-o", overlay)
    assert many.exit_code == 0, many.output
    assert is_a_picture(overlay)


def test_a_run_without_a_finished_epoch_has_nothing_to_plot(tmp_path):
    folder = run_folder(tmp_path, "early", [])
    result = cli("plot", folder)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {folder / 'metrics.csv'}: no epoch has completed: nothing to plot yet"


def test_a_damaged_evaluation_is_one_line_naming_it(tmp_path):
    folder = run_folder(tmp_path, "hurt", rows(2))
    (folder / "evaluation.json").write_text("{not json")
    result = cli("plot", folder)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {folder / 'evaluation.json'}: damaged (not JSON: ")
    assert len(result.stderr.splitlines()) == 1
