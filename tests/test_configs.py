"""The config zoo: every shipped config says its parameter count, says it right, validates and passes its schema.

The lecture's configs (configs/lecture/) show one lecture idea each; configs/fashion/ reproduces the
small-CNN rows of Fashion-MNIST's published table; fashion_best, fashion_stretch and mnist_small aim
past them. Full trainings are not run here (their measured numbers are issue #23's to publish); one zoo config
trains a few steps on a slice of the real data.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from cnnctl.schema import PACKAGED
from tests.conftest import ROOT, cli

CONFIGS = ROOT / "configs"
LECTURE = CONFIGS / "lecture"
FASHION = CONFIGS / "fashion"
LECTURE_CONFIGS = sorted(LECTURE.glob("*.yaml"))
ZOO = [*LECTURE_CONFIGS, *sorted(FASHION.glob("*.yaml")),
       *(CONFIGS / f"{name}.yaml" for name in ("fashion_best", "fashion_stretch", "mnist_small"))]
# One config for each idea of the lecture that the network can show.
IDEAS = ("cross_entropy", "square_error", "batch_norm", "stride", "same_padding", "dilation", "average_pooling",
         "adagrad", "rmsprop", "adadelta", "adam", "nadam", "schedule", "cifar10_rgb")
# The small-CNN rows of the table in /usr/share/doc/dataset-fashion-mnist/README.md.gz.
FASHION_ROWS = ("two_conv_pool", "two_conv_pool_bn", "two_conv_100k", "three_conv_bn_pool")
HEADER = re.compile(r"# (?P<idea>[^\n]+): (?P<params>\d{1,3}(?:,\d{3})*) parameters")
FASHION_DATA = Path("/usr/share/datasets/fashion-mnist")


def _ids(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(CONFIGS).with_suffix("")) for path in paths]


def test_every_idea_and_every_fashion_row_has_its_config():
    assert sorted(path.stem for path in LECTURE_CONFIGS) == sorted(IDEAS)
    assert sorted(path.stem for path in FASHION.glob("*.yaml")) == sorted(FASHION_ROWS)


def _expected_name(config: Path) -> str:
    prefix = {LECTURE: "lecture_", FASHION: "fashion_"}.get(config.parent, "")
    return prefix + config.stem


@pytest.mark.parametrize("config", ZOO, ids=_ids(ZOO))
def test_zoo_config_header_and_parameter_count(config):
    modeline, comment, name = config.read_text(encoding="utf-8").splitlines()[:3]
    schema = Path("../" * len(config.relative_to(ROOT).parent.parts)) / "cnnctl" / "cnnctl.schema.json"
    assert modeline == f"# yaml-language-server: $schema={schema.as_posix()}"
    header = HEADER.fullmatch(comment)
    assert header, f"{config.name}: second line should be '# <idea>: <N> parameters', not {comment!r}"
    assert name == f"name: {_expected_name(config)}"

    summary = cli("summary", config, "--json")
    assert summary.exit_code == 0, summary.output
    assert f"{json.loads(summary.stdout)['total_params']:,}" == header["params"]

    validated = cli("validate", config)  # the data too: every source here is a built-in dataset
    assert validated.exit_code == 0, validated.output
    assert validated.stdout.startswith(f"ok: {config} ({header['params']} parameters)")


@pytest.mark.parametrize("config", ZOO, ids=_ids(ZOO))
def test_zoo_config_passes_the_schema_its_modeline_names(config):
    schema = json.loads(PACKAGED.read_text())
    errors = jsonschema.Draft202012Validator(schema).iter_errors(yaml.safe_load(config.read_text(encoding="utf-8")))
    assert [error.message for error in errors] == []


def test_the_size_limits_the_zoo_promises():
    """fashion_best and fashion_stretch stay under 1M parameters, mnist_small under 20k (issue #23)."""
    limits = {"fashion_best": 1_000_000, "fashion_stretch": 1_000_000, "mnist_small": 20_000}
    for name, limit in limits.items():
        header = HEADER.fullmatch((CONFIGS / f"{name}.yaml").read_text(encoding="utf-8").splitlines()[1])
        assert int(header["params"].replace(",", "")) < limit, name


@pytest.mark.slow
@pytest.mark.skipif(not FASHION_DATA.is_dir(), reason="needs Fashion-MNIST: apt-get install dataset-fashion-mnist")
def test_fashion_best_trains_a_few_steps_on_real_clothes(tmp_path):
    result = cli("train", CONFIGS / "fashion_best.yaml", "--runs-dir", tmp_path, "--quiet", "--device", "cpu",
                 "--set", "data.limit=640", "--set", "train.epochs=1")
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "fashion_best" / "results.json").read_text())
    assert results["status"] == "completed" and results["epochs_completed"] == 1
