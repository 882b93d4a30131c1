"""Model building and its summary; consumes a validated `Config`."""

from cnnctl.model.build import build_model, check_output
from cnnctl.model.summary import LayerRow, Summary, summarize, summarize_model

__all__ = ["build_model", "check_output", "summarize", "summarize_model", "Summary", "LayerRow"]
