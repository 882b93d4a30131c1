"""Where training images come from: generated shapes, or Keras' built-in datasets from disk or download."""

from cnnctl.data.builtin import load_builtin
from cnnctl.data.idx import read_idx
from cnnctl.data.synthetic import make_synthetic

__all__ = ["load_builtin", "make_synthetic", "read_idx"]
