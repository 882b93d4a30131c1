"""`train()` many times in one process (a notebook, a search): each run as if it were the process's first."""

from __future__ import annotations

import json

import pytest

from cnnctl.config import load_config
from cnnctl.training import train
from tests.conftest import ROOT

SMOKE = ROOT / "configs" / "smoke.yaml"
QUIET = lambda line, kind: None  # noqa: E731


@pytest.mark.slow
def test_runs_in_one_process_name_their_layers_alike_and_leave_the_dtype_policy_as_found(tmp_path):
    import keras

    mixed = train(load_config(SMOKE, ["train.epochs=1", "train.precision=mixed"]), tmp_path, name="mixed",
                  device="cpu", say=QUIET)
    assert mixed.results.precision == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"  # put back after the run
    plain = train(load_config(SMOKE, ["train.epochs=1", "train.precision=float32"]), tmp_path, name="plain",
                  device="cpu", say=QUIET)
    assert plain.results.precision == "float32"
    names = [[layer["name"] for layer in json.loads((run.path / "summary.json").read_text())["layers"]]
             for run in (mixed, plain)]
    assert names[0] == names[1] and names[0][0] == "conv2d"  # not conv2d_2: Keras' names restart each run
