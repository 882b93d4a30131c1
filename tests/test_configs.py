"""The lecture's configs (configs/lecture/): each says its parameter count, and says it right."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
import yaml

from cnnctl.schema import PACKAGED
from tests.conftest import ROOT, cli

LECTURE = ROOT / "configs" / "lecture"
LECTURE_CONFIGS = sorted(LECTURE.glob("*.yaml"))
# One config for each idea of the lecture that the network can show.
IDEAS = ("cross_entropy", "square_error", "batch_norm", "stride", "same_padding", "dilation", "average_pooling",
         "adagrad", "rmsprop", "adadelta", "adam", "nadam", "schedule", "cifar10_rgb")
HEADER = re.compile(r"# (?P<idea>[^\n]+): (?P<params>\d{1,3}(?:,\d{3})*) parameters")


def test_every_idea_has_its_config():
    assert sorted(path.stem for path in LECTURE_CONFIGS) == sorted(IDEAS)


@pytest.mark.parametrize("config", LECTURE_CONFIGS, ids=[c.stem for c in LECTURE_CONFIGS])
def test_lecture_config_header_and_parameter_count(config):
    modeline, comment, name = config.read_text(encoding="utf-8").splitlines()[:3]
    assert modeline == "# yaml-language-server: $schema=../../cnnctl/cnnctl.schema.json"
    header = HEADER.fullmatch(comment)
    assert header, f"{config.name}: second line should be '# <lecture idea>: <N> parameters', not {comment!r}"
    assert name == f"name: lecture_{config.stem}"

    summary = cli("summary", config, "--json")
    assert summary.exit_code == 0, summary.output
    assert f"{json.loads(summary.stdout)['total_params']:,}" == header["params"]

    validated = cli("validate", config)  # the data too: every source here is a built-in dataset
    assert validated.exit_code == 0, validated.output
    assert validated.stdout.startswith(f"ok: {config} ({header['params']} parameters)")


@pytest.mark.parametrize("config", LECTURE_CONFIGS, ids=[c.stem for c in LECTURE_CONFIGS])
def test_lecture_config_passes_the_schema_its_modeline_names(config):
    schema = json.loads(PACKAGED.read_text())
    errors = jsonschema.Draft202012Validator(schema).iter_errors(yaml.safe_load(config.read_text(encoding="utf-8")))
    assert [error.message for error in errors] == []
