"""Training: consumes a validated `Config`, writes a run folder."""

from cnnctl.training.run import Run, train

__all__ = ["Run", "train"]
