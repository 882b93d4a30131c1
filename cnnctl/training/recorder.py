"""Who records a run: the chief writes its run folder; the other workers of a cluster write nothing there.

Every worker of a cluster runs the same steps, because `fit`, `evaluate` and `predict` are collectives
that need all of them. What differs is only where the record goes, and that is this small interface:
`_fit` hands each thing to keep (results, an epoch's row, a model, a checkpoint, the evaluation, the
plots) to a recorder.

- `FolderRecorder`, the chief's (and a run's on one machine): the run folder.
- `WorkerRecorder`, every other worker's: saves models and checkpoints as the chief does, so that every
  worker takes part in every save (TensorFlow's multi-worker tutorial: a save may read variables that
  are synced across workers), but into a private temporary folder deleted at the end; everything else
  goes nowhere.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from cnnctl.runfolder import Results, RunFolder, files


class FolderRecorder:
    """Records into the run folder."""

    chief = True

    def __init__(self, run: RunFolder):
        self.run, self.path = run, run.path

    def results(self, results: Results) -> None:
        self.run.write_results(results)

    def rows(self) -> list[dict[str, Any]]:
        """The epochs recorded so far (a resumed run's)."""
        return self.run.read_metrics()

    def epoch(self, row: dict[str, Any]) -> None:
        self.run.append_metrics(row)

    def model(self, model: Any, name: str) -> None:
        self.run.save_model(model, name)

    def checkpoint(self, model: Any, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        from cnnctl.training.checkpoint import save_checkpoint

        save_checkpoint(self.path, model, state, arrays)

    def evaluation(self, record: dict[str, Any], mistakes: list[dict[str, Any]], pixels: Any) -> None:
        from cnnctl.runfolder.mistakes import write_mistakes

        self.run.write_json(files.EVALUATION, record)
        write_mistakes(self.path, self.path.name, record, mistakes, pixels)

    def plots(self, name: str, rows: list[dict[str, Any]], halvings: list[dict[str, Any]]) -> None:
        from cnnctl.runfolder.plots import draw_run

        draw_run(self.path, name, rows, halvings)

    def close(self) -> None:
        """The run folder stays; its lock is released by whoever claimed it."""


class WorkerRecorder(FolderRecorder):
    """A non-chief worker's: its saves go to a private temporary folder, removed by `close`."""

    chief = False

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="cnnctl-worker-"))
        self.run = RunFolder(self.path)

    def results(self, results: Results) -> None:
        pass

    def rows(self) -> list[dict[str, Any]]:
        return []

    def epoch(self, row: dict[str, Any]) -> None:
        pass

    def evaluation(self, record: dict[str, Any], mistakes: list[dict[str, Any]], pixels: Any) -> None:
        pass

    def plots(self, name: str, rows: list[dict[str, Any]], halvings: list[dict[str, Any]]) -> None:
        pass

    def close(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
