"""Shared helpers: write a config, run the CLI in-process as a user would."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cnnctl.cli import main

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))

LECTURE_YAML = """\
model:
  data_format: channels_first
  input_shape: [1, 28, 28]
  layers:
    - Conv2D: {filters: 25, kernel_size: 3}
    - MaxPooling2D: {pool_size: 2}
    - Conv2D: {filters: 50, kernel_size: 3}
    - MaxPooling2D: {pool_size: 2}
    - Flatten
    - Dense: {units: 100, activation: relu}
    - Dense: {units: 10, activation: softmax}
"""


def cli(*args: str) -> Result:
    """Run `cnnctl ARGS...` in-process; stdout and stderr stay apart."""
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def write_config(tmp_path: Path):
    """Write YAML (dedented) to a file and return its path."""

    def write(text: str, name: str = "net.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write


MNIST = ROOT.parent / "shared" / "data" / "mnist"
MNIST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@pytest.fixture(scope="session")
def real_digits(tmp_path_factory) -> Path:
    """The official MNIST test set (10,000 real digits) split 8,000 to train on and 2,000 to test on, as an .npz;
    skipped, with the reason, where ../shared/data/mnist is absent."""
    if not all((MNIST / name).is_file() for name in MNIST_FILES):
        pytest.skip(f"the MNIST test set is not in {MNIST}")
    import numpy as np

    from cnnctl.data.idx import read_idx

    images, labels = (read_idx(MNIST / name) for name in MNIST_FILES)
    path = tmp_path_factory.mktemp("digits") / "mnist-8k-2k.npz"
    np.savez(path, x_train=images[:8000], y_train=labels[:8000], x_test=images[8000:], y_test=labels[8000:])
    return path


@pytest.fixture(scope="session")
def smoke_trained(tmp_path_factory) -> Path:
    """The smoke config trained 2 epochs on the CPU, once a session: a finished run folder to copy, not change."""
    runs = tmp_path_factory.mktemp("smoke-trained")
    result = cli("train", ROOT / "configs" / "smoke.yaml", "--runs-dir", runs, "--quiet", "--device", "cpu",
                 "--set", "train.epochs=2")
    assert result.exit_code == 0, result.output
    return runs / "smoke"


@pytest.fixture
def smoke_copy(smoke_trained: Path, tmp_path: Path) -> Path:
    """A private copy of `smoke_trained` that a test may damage or add to."""
    import shutil

    return Path(shutil.copytree(smoke_trained, tmp_path / "smoke"))
