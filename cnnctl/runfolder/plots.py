"""The pictures of a run: learning curves, the learning rate, the confusion matrix, confident mistakes.

Drawn with matplotlib's Agg backend (no display, no window), from what the
run folder holds: the rows of metrics.csv, the halvings in results.json and
the per-class evaluation. A run of any length plots, with or without
validation, resumed or diverged: a missing or non-finite value is a gap in its
line, never an error. matplotlib is imported here only, when a picture is
drawn, so `cnnctl --help` and training's set-up never load it.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cnnctl.errors import CnnctlError, Problem
from cnnctl.runfolder import files
from cnnctl.runfolder.atomic import writing
from cnnctl.runfolder.evaluation import read_evaluation
from cnnctl.runfolder.metrics import read_rows
from cnnctl.runfolder.results import read_results

# Columns of metrics.csv that are not curves of a metric.
NOT_METRICS = ("epoch", "lr", "seconds", "images_per_second")
ANNOTATE_UP_TO = 20  # classes whose confusion cells get their counts written in


@dataclass
class Curves:
    """One run's per-epoch values, as metrics.csv holds them, and where its learning rate was halved."""

    name: str
    rows: list[dict[str, float]]
    halvings: list[dict[str, Any]] = field(default_factory=list)

    def metrics(self) -> list[str]:
        """The metrics the run logged, loss first, without their `val_` twins."""
        names = [k for k in (self.rows[0] if self.rows else {}) if k not in NOT_METRICS and not k.startswith("val_")]
        return sorted(names, key=lambda k: (k != "loss", names.index(k)))

    def series(self, key: str) -> tuple[list[float], list[float]] | None:
        """Epochs and values of one column; None if the run never logged it. Non-finite values are gaps."""
        if not any(key in row for row in self.rows):
            return None
        return [row["epoch"] for row in self.rows], [_finite(row.get(key)) for row in self.rows]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)  # a file, never a window (CI, ssh, a headless GPU box)
    import matplotlib.pyplot as plt

    return plt


def curves_figure(runs: Sequence[Curves], title: str | None = None) -> Any:
    """Loss and every metric (training solid, validation dashed) and the learning rate, per epoch.

    One run, or several overlaid on the same axes, one colour each; halvings are marked on the rate.
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    metrics: list[str] = []
    for run in runs:
        metrics += [m for m in run.metrics() if m not in metrics]
    panels = [*metrics, "lr"]
    columns = min(len(panels), 3)
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 3.6 * rows), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for axis, panel in zip(axes.flat, panels):
        for k, run in enumerate(runs):
            colour = colours[k % len(colours)]
            label = f"{run.name} " if len(runs) > 1 else ""
            if panel == "lr":
                _rate(axis, run, colour, label)
                continue
            for key, style, part in ((panel, "-", "training"), (f"val_{panel}", "--", "validation")):
                found = run.series(key)
                if found:
                    axis.plot(*found, style, color=colour, marker="." if len(found[0]) < 30 else None,
                              label=f"{label}{part}")
        axis.set_title("learning rate" if panel == "lr" else panel)
        axis.set_xlabel("epoch")
        axis.set_ylabel("learning rate" if panel == "lr" else panel)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize="small")
    for axis in list(axes.flat)[len(panels):]:
        axis.set_visible(False)
    figure.suptitle(title or (runs[0].name if len(runs) == 1 else f"{len(runs)} runs"), fontweight="bold")
    figure.tight_layout()
    return figure


def _rate(axis: Any, run: Curves, colour: str, label: str) -> None:
    found = run.series("lr")
    if not found:
        return
    epochs, rates = found
    axis.plot(epochs, rates, "-", color=colour, marker="." if len(epochs) < 30 else None, label=f"{label}rate")
    positive = [r for r in rates if r and r > 0 and math.isfinite(r)]
    if positive and max(positive) / min(positive) > 4:
        axis.set_yscale("log")
    for n, halving in enumerate(run.halvings):
        axis.axvline(halving["epoch"], color=colour, linestyle=":", alpha=0.7,
                     label=f"{label}halved" if n == 0 else None)


def confusion_figure(evaluation: dict[str, Any], title: str) -> Any:
    """The confusion matrix of a per-class evaluation: true classes down, predicted across, counts written in."""
    plt = _pyplot()
    matrix = np.asarray(evaluation["confusion"])
    names = evaluation["classes"]
    k = len(names)
    size = min(max(5.0, 0.55 * k + 2.5), 16.0)
    figure, axis = plt.subplots(figsize=(size + 1.2, size))
    image = axis.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04, label="images")
    if k <= ANNOTATE_UP_TO:
        axis.set_xticks(range(k), names, rotation=45, ha="right")
        axis.set_yticks(range(k), names)
        threshold = matrix.max() / 2 if matrix.size else 0
        for t in range(k):
            for p in range(k):
                axis.text(p, t, str(matrix[t, p]), ha="center", va="center", fontsize="small",
                          color="white" if matrix[t, p] > threshold else "black")
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    axis.set_title(title)
    figure.tight_layout()
    return figure


def mistakes_figure(images: np.ndarray, captions: list[str], title: str) -> Any:
    """A contact sheet: each image (`(n, height, width, channels)`, 0-255) with its caption above it.

    Every tested run draws this sheet, so it is placed on a fixed grid of tiles (pixels drawn as squares,
    `nearest`) rather than laid out by `tight_layout` over `subplots`: 1.0 s of CPU for 24 mistakes
    instead of 1.5 s (median of 6, the 2-core AMD EPYC of configs/README.md).
    """
    plt = _pyplot()
    n = max(len(images), 1)
    columns = min(n, 8)
    rows = math.ceil(n / columns)
    tile, caption, heading = 1.9, 0.5, 0.6  # inches: a tile's width and height, its caption, the title
    width, height = tile * columns, (tile + caption) * rows + heading
    figure = plt.figure(figsize=(width, height))
    figure.suptitle(title, fontweight="bold", y=1 - 0.15 / height, va="top")
    for k, (image, text) in enumerate(zip(images, captions)):
        row, column = divmod(k, columns)
        bottom = height - heading - (tile + caption) * (row + 1) + 0.1
        axis = figure.add_axes((column / columns + 0.05 / width, bottom / height, (tile - 0.1) / width,
                                (tile - 0.1) / height))
        axis.set_axis_off()
        pixels = np.asarray(image, dtype=np.float32)
        if pixels.ndim == 3 and pixels.shape[-1] == 1:
            axis.imshow(pixels[..., 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        else:
            axis.imshow(np.clip(pixels[..., :3], 0, 255).astype(np.uint8), interpolation="nearest")
        axis.set_title(text, fontsize="small")
    return figure


def save(figure: Any, path: Path, dpi: int = 100) -> Path:
    """Write a figure as PNG, whole or not at all (a temporary file renamed over `path`), and close it."""
    plt = _pyplot()
    try:
        with writing(path):
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp.png")
            os.close(fd)
            try:
                figure.savefig(tmp, dpi=dpi, format="png")
                os.chmod(tmp, 0o644)
                os.replace(tmp, path)
            finally:
                Path(tmp).unlink(missing_ok=True)
    finally:
        plt.close(figure)
    return path


def png_bytes(figure: Any, dpi: int = 100) -> bytes:
    """A figure as PNG bytes, for a page that inlines its pictures (`cnnctl report`); the figure is closed."""
    import io

    plt = _pyplot()
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, dpi=dpi, format="png")
    finally:
        plt.close(figure)
    return buffer.getvalue()


def _finite(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def draw_run(folder: Path, name: str, rows: list[dict[str, float]], halvings: list[dict[str, Any]],
             target: Path | None = None) -> list[Path]:
    """A run's own pictures: its curves from its rows, and its confusion matrix from evaluation.json where the
    run was tested (a diverged run has curves only); into its folder, or `target` and `<target>-confusion.png`."""
    curves = target or folder / files.CURVES
    confusion = target.with_name(f"{target.stem}-{files.CONFUSION}") if target else folder / files.CONFUSION
    written = []
    if rows:
        written.append(save(curves_figure([Curves(name, rows, halvings)]), curves))
    if (folder / files.EVALUATION).is_file():
        record = read_evaluation(folder / files.EVALUATION)
        written.append(save(confusion_figure(record, confusion_title(name, record)), confusion))
    return written


def confusion_title(name: str, record: dict[str, Any]) -> str:
    return f"{name}: test confusion matrix ({record['model']}), accuracy {record['accuracy']:.4f}"


def plot_runs(folders: Sequence[Path], output: Path | None = None) -> list[Path]:
    """`cnnctl plot`: one run's pictures (into its folder, or `output`), or several runs' curves overlaid on one
    figure at `output` (default: curves.png in the current folder)."""
    runs = []
    for folder in folders:
        results = read_results(folder)
        if not (folder / files.METRICS).is_file():
            raise CnnctlError(Problem("no epoch has completed: nothing to plot yet", str(folder / files.METRICS)))
        runs.append(Curves(results.name or folder.name, read_rows(folder / files.METRICS)[1], results.halvings))
    if len(runs) == 1:
        return draw_run(folders[0], runs[0].name, runs[0].rows, runs[0].halvings, output)
    return [save(curves_figure(runs), output or Path(files.CURVES))]
