"""The published JSON Schema: generated from the validator's definitions, shipped, and in step."""

from __future__ import annotations

import json
import re
import textwrap

import jsonschema
import pytest
import yaml

from cnnctl import keras_catalog
from cnnctl.config.components import parse_component
from cnnctl.config.layers import parse_layers
from cnnctl.config.source import Origins
from cnnctl.schema import PACKAGED, json_schema
from tests.conftest import CONFIGS, LECTURE_YAML, ROOT, cli


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
    args = schema["$defs"]["Layer"]["else"]["properties"]["Conv2D"]
    assert args["required"] == ["filters", "kernel_size"]
    assert args["properties"]["filters"]["type"] == "integer"
    assert {"inputs", "name", "strides", "padding", "dilation_rate"} <= set(args["properties"])


def _readme_yaml() -> list[str]:
    """The README's ```yaml blocks, dedented (some sit inside list items)."""
    blocks = re.findall(r"^( *)```yaml\n(.*?)^\1```", (ROOT / "README.md").read_text(), re.S | re.M)
    return [textwrap.dedent(block) for _, block in blocks]


def _as_config(example: str) -> dict:
    """A README example as a whole config: a list is `model.layers`; keys of a section go under it."""
    data = yaml.safe_load(example)
    if isinstance(data, list):
        return {"model": {"input_shape": [8, 8, 1], "layers": data}}
    sections = json_schema()["$defs"]
    for key in list(data):
        for section, definition in (("data", "DataSection"), ("train", "TrainSection")):
            if key in sections[definition]["properties"]:
                data.setdefault(section, {})[key] = data.pop(key)
    return {"model": {"input_shape": [8, 8, 1], "layers": ["Flatten"]}, **data}


README_EXAMPLES = [e for e in _readme_yaml() if yaml.safe_load(e) is not None]  # not the modeline alone


def test_readme_has_yaml_examples_to_check():
    assert len(README_EXAMPLES) >= 4  # the mnist config, inputs, an anchored block, augment


@pytest.mark.parametrize("example", README_EXAMPLES, ids=lambda e: e.strip().splitlines()[0][:40])
def test_readme_yaml_examples_validate(example, validator):
    assert [e.message for e in validator.iter_errors(_as_config(example))] == []


@pytest.mark.parametrize("mutate", [
    lambda d: d["train"].update(loss="categorical_crosentropy"),
    lambda d: d["train"].update(optimizer="adamm"),
    lambda d: d["train"].update(metrics=["acuracy"]),
    lambda d: d["model"]["layers"][-1]["Dense"].update(activation="sofmax"),
    lambda d: d["model"]["layers"].__setitem__(0, {"Conv2d": {"filters": 8, "kernel_size": 3}}),
    lambda d: d["model"]["layers"].__setitem__(4, "Flaten"),
    lambda d: d["model"]["layers"].__setitem__(4, "Conv2D"),
    lambda d: d["model"]["layers"].__setitem__(4, [["Flaten"]]),
], ids=["loss", "optimizer", "metric", "activation", "layer mapping", "layer name", "layer without its arguments",
        "layer in a nested block"])
def test_issue_16_typos_fail_against_the_schema(mutate, validator):
    data = yaml.safe_load((ROOT / "configs" / "mnist.yaml").read_text())
    assert list(validator.iter_errors(data)) == []
    mutate(data)
    assert list(validator.iter_errors(data)) != []


# The schema must refuse a name cnnctl refuses and never refuse one it accepts. Candidates: every name Keras
# offers, and near misses of each (the typos to catch, the other spellings Keras may accept). cnnctl's side
# is the function `cnnctl validate` checks these entries with.

def _near(names) -> list[str]:
    out = set()
    for n in names:
        out |= {n, n.lower(), n[0].swapcase() + n[1:], n[:-1] + n[-1].swapcase(), n[:-1]}
    return sorted(out)


def _entry_validator(validator, definition: dict) -> jsonschema.Draft202012Validator:
    """A validator for one entry (a layer, a loss, ...), resolving references in the whole schema."""
    return jsonschema.Draft202012Validator({"$defs": validator.schema["$defs"], **definition})


def _disagreements(schema_accepts, cnnctl_accepts, entries) -> list[str]:
    return [f"{entry!r}: cnnctl {'accepts' if ok else 'refuses'} it, the schema does not"
            for entry in entries if (ok := cnnctl_accepts(entry)) != schema_accepts(entry)]


@pytest.mark.parametrize("kind", ["losses", "optimizers", "metrics"])
def test_schema_accepts_exactly_the_components_cnnctl_accepts(kind, validator):
    key = {"losses": "loss", "optimizers": "optimizer", "metrics": "metrics"}[kind]
    train = validator.schema["$defs"]["TrainSection"]["properties"]
    schema = _entry_validator(validator, train[key]["items"] if key == "metrics" else train[key])
    names = _near([*keras_catalog.classes(kind), *keras_catalog.functions(kind),
                   *keras_catalog.resolvable_names(kind), "categorical_crosentropy", "adamm", "acuracy"])
    entries = [form for name in names for form in (name, {name: None})]
    assert _disagreements(schema.is_valid, lambda e: not parse_component(kind, e, (key,), Origins("t"))[1],
                          entries) == []


def test_schema_accepts_exactly_the_layer_names_cnnctl_accepts(validator):
    schema = _entry_validator(validator, {"$ref": "#/$defs/LayerOrBlock"})
    names = _near([*keras_catalog.classes("layers"), *keras_catalog.UNSAFE_LAYERS, "InputLayer", "Conv2d"])
    entries = [form for name in names for form in (name, {name: None})]
    assert _disagreements(schema.is_valid, lambda e: not parse_layers([e], Origins("t"))[1], entries) == []


def test_schema_accepts_exactly_the_activations_keras_accepts(validator):
    keras = keras_catalog.keras()
    schema = _entry_validator(validator, {"$ref": "#/$defs/Activation"})
    public = [n for n in dir(keras.activations) if not n.startswith("_")]
    names = _near([*public, *keras_catalog.resolvable_names("activations"), "sofmax", "ReLU", "Softmax"])

    def keras_accepts(name: str | None) -> bool:  # cnnctl leaves activations to Keras, when it builds the layer
        try:
            keras.layers.Dense(2, activation=name)
            return True
        except ValueError:
            return False

    assert _disagreements(schema.is_valid, keras_accepts, [*names, None]) == []


def test_asking_keras_for_its_names_leaves_the_names_of_later_objects_alone():
    """Keras' `get` builds what it resolves, and Keras numbers the objects it names (`auc`, `auc_1`) in one
    table per process: generating the schema must not make a metric built later in the process `auc_1`."""
    from keras.src.backend.common import global_state  # the table `keras.src.utils.naming.uniquify` keeps

    def table() -> dict:
        return dict(global_state.get_global_attribute("object_name_uids") or {})

    before = table()
    keras_catalog.resolvable_names.cache_clear()
    assert "auc" in keras_catalog.resolvable_names("metrics")
    assert table() == before
