"""Where training images come from (generated shapes, Keras' built-in datasets, your own files) and how they reach the model."""

from cnnctl.data.builtin import load_builtin
from cnnctl.data.idx import read_idx, read_idx_folder
from cnnctl.data.npz import read_npz
from cnnctl.data.synthetic import make_synthetic

__all__ = ["load_builtin", "make_synthetic", "read_idx", "read_idx_folder", "read_npz"]
