"""Training: consumes a validated `Config`, writes a run folder."""

from cnnctl.training.run import Run, resume, train

__all__ = ["Run", "resume", "train"]
