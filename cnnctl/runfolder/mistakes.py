"""The most confident mistakes, written where a person looks: a contact sheet and a CSV.

The CSV names each mistake by its index in the test split (the order the
run folder's data report describes), with the true and predicted class and
the probability the model gave its wrong answer, surest first.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from cnnctl.runfolder import files
from cnnctl.runfolder.atomic import write_atomic
from cnnctl.runfolder.plots import mistakes_figure, save


def write_mistakes(folder: Path, name: str, record: dict[str, Any], mistakes: list[dict[str, Any]],
                   images: np.ndarray) -> list[Path]:
    """errors.csv and errors.png in `folder`; `mistakes` as `per_class.confident_mistakes` gives them,
    `images` theirs, 0-255."""
    names = record["classes"]
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["rank", "index", "true", "predicted", "probability"])
    for rank, m in enumerate(mistakes, 1):
        writer.writerow([rank, m["index"], names[m["true"]], names[m["predicted"]], f"{m['probability']:.4f}"])
    write_atomic(folder / files.ERRORS_TABLE, table.getvalue())
    written = [folder / files.ERRORS_TABLE]
    if mistakes:
        captions = [f"#{m['index']}: {names[m['true']]}\n→ {names[m['predicted']]} ({m['probability']:.2f})"
                    for m in mistakes]
        title = f"{name}: the {len(mistakes)} most confident mistakes ({record['model']})"
        written.append(save(mistakes_figure(images, captions, title), folder / files.ERRORS_SHEET))
    return written
