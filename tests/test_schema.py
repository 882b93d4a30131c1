"""The published JSON Schema: generated from the validator's definitions, shipped, and in step."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from cnnctl.schema import PACKAGED, json_schema
from tests.conftest import CONFIGS, LECTURE_YAML, cli


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(PACKAGED.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_packaged_schema_equals_what_cnnctl_schema_prints():
    result = cli("schema")
    assert result.exit_code == 0
    assert result.stdout == PACKAGED.read_text(), "stale: run `cnnctl schema --output cnnctl/cnnctl.schema.json`"


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_shipped_configs_validate_and_carry_the_modeline(config, validator):
    text = config.read_text()
    assert text.startswith("# yaml-language-server: $schema=../cnnctl/cnnctl.schema.json\n")
    assert list(validator.iter_errors(yaml.safe_load(text))) == []


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(trian={"epochs": 1}),
    lambda d: d["model"]["layers"].__setitem__(0, {"Conv2d": {"filters": 3, "kernel_size": 3}}),
    lambda d: d["model"]["layers"].__setitem__(0, {"Conv2D": {"filter": 3, "kernel_size": 3}}),
    lambda d: d["model"]["layers"].__setitem__(0, {"Conv2D": {"filters": "x", "kernel_size": 3}}),
    lambda d: d.setdefault("train", {}).update(batch_size="100"),
    lambda d: d.setdefault("train", {}).update(optimizer={"SGD": {"learning_rat": 0.1}}),
], ids=["unknown key", "misspelt layer", "misspelt argument", "wrong argument type", "wrong type", "optimizer arg"])
def test_mistakes_fail_against_the_schema(mutate, validator):
    data = yaml.safe_load(LECTURE_YAML)
    assert list(validator.iter_errors(data)) == []
    mutate(data)
    assert list(validator.iter_errors(data)) != []


def test_schema_describes_keys_and_layer_arguments():
    schema = json_schema()
    train = schema["$defs"]["TrainSection"]["properties"]
    assert train["batch_size"]["default"] == 32 and train["batch_size"]["description"]
    layers = schema["$defs"]["Layer"]["anyOf"]
    conv = next(v for v in layers if v.get("required") == ["Conv2D"])
    args = conv["properties"]["Conv2D"]
    assert args["required"] == ["filters", "kernel_size"]
    assert args["properties"]["filters"]["type"] == "integer"
    assert {"inputs", "name", "strides", "padding", "dilation_rate"} <= set(args["properties"])
