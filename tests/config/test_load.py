"""Loading configs: defaults, overrides, anchors, and one clear problem per mistake."""

from __future__ import annotations

import re

import pytest

from cnnctl.config import load_config, parse_config
from cnnctl.errors import CnnctlError
from tests.conftest import LECTURE_YAML, cli


def problems(text: str, overrides=()) -> list[str]:
    with pytest.raises(CnnctlError) as info:
        parse_config(text, overrides)
    return [str(p) for p in info.value.problems]


def test_defaults_are_filled_and_resolved_config_round_trips():
    config = parse_config(LECTURE_YAML, name="lecture")
    assert config.name == "lecture"
    assert config.train.batch_size == 32 and config.data.source == "synthetic"
    again = parse_config(__import__("yaml").safe_dump(config.resolved()))
    assert again.resolved() == config.resolved()


def test_overrides_are_typed_as_yaml():
    config = parse_config(LECTURE_YAML, ["model.layers.0.Conv2D.filters=32", "train.epochs=1",
                                         "train.optimizer={SGD: {learning_rate: 0.5}}", "data.limit=100"])
    assert config.layers[0].args["filters"] == 32
    assert config.train.epochs == 1
    assert config.optimizer.args == {"learning_rate": 0.5}
    assert config.resolved()["data"]["limit"] == 100


def test_override_errors_name_the_override():
    [message] = problems(LECTURE_YAML, ["model.layers.9.Conv2D.filters=3"])
    assert "--set model.layers.9.Conv2D.filters=3" in message and "0 to 6" in message
    [message] = problems(LECTURE_YAML, ["train.epochs=many"])
    assert message.startswith("--set train.epochs=many: train.epochs:") and "integer" in message
    [message] = problems(LECTURE_YAML, ["train.epochs"])
    assert "KEY=VALUE" in message


def test_anchors_aliases_and_blocks():
    config = parse_config("""
x-block: &block
  - Conv2D: &conv {filters: 8, kernel_size: 3, padding: same}
  - BatchNormalization
  - ReLU
model:
  input_shape: [16, 16, 1]
  layers:
    - *block
    - *block
    - Conv2D: {<<: *conv, filters: 4}
    - Flatten
    - Dense: {units: 2}
""")
    assert [s.type for s in config.layers] == ["Conv2D", "BatchNormalization", "ReLU"] * 2 + [
        "Conv2D", "Flatten", "Dense"]
    assert config.layers[6].args == {"filters": 4, "kernel_size": 3, "padding": "same"}
    assert [s.name for s in config.layers[:4]] == ["conv2d", "batch_normalization", "re_lu", "conv2d_1"]


def test_many_problems_reported_at_once_with_lines():
    found = problems("""\
model:
  input_shape: [28, 28, 1]
  layers:
    - Conv2d: {filters: 8, kernel_size: 3}
    - Conv2D: {filter: 8, kernel_size: 3}
    - Dense: {units: "ten"}
train:
  batch_size: 0
  optimiser: adam
""")
    text = "\n".join(found)
    assert "<string>:8: train.batch_size: expected" in text or "<string>:8: train.batch_size" in text
    assert "<string>:9: train.optimiser: unknown key 'optimiser' (did you mean 'optimizer'?)" in text


def test_layer_problems_all_reported():
    found = problems("""\
model:
  input_shape: [28, 28, 1]
  layers:
    - Conv2d: {filters: 8, kernel_size: 3}
    - Conv2D: {filter: 8, kernel_size: 3}
    - Dense: {units: "ten"}
    - Lambda: {function: x}
    - Dense: {activation: relu}
""")
    assert found[0] == "<string>:4: model.layers.0.Conv2d: unknown layer 'Conv2d' (did you mean 'Conv2D'?)"
    assert "<string>:5: model.layers.1.Conv2D.filter: unknown argument 'filter' for Conv2D" in found[1]
    assert "did you mean 'filters'?" in found[1]
    assert not any("needs 'filters'" in f for f in found)  # the misspelling is the one mistake
    assert any(f.startswith("<string>:8: model.layers.4.Dense: Dense needs 'units'") for f in found)
    assert any(f.startswith("<string>:6: model.layers.2.Dense.units: expected an integer, got 'ten'") for f in found)
    assert any("Lambda" in f and "run code" in f for f in found)


def test_graph_name_errors():
    found = problems("""\
model:
  input_shape: [8, 8, 1]
  layers:
    - Conv2D: {name: a, filters: 2, kernel_size: 1}
    - Conv2D: {name: a, filters: 2, kernel_size: 1}
    - Add: {inputs: [a, later]}
    - Add: {inputs: [a, ab]}
    - Dense: {name: later, units: 2}
""")
    assert any("duplicate layer name 'a'" in f for f in found)
    assert any("no earlier layer named 'later'" in f and "no cycles" in f for f in found)
    assert any("no earlier layer named 'ab'" in f for f in found)


def test_train_components_checked_against_keras():
    found = problems(LECTURE_YAML + """\
train:
  loss: categorical_crossentropie
  optimizer: {SGD: {learning_rat: 0.1}}
  metrics: [accuracy, top_k_categorical_accuracy, acuracy]
""")
    assert any("unknown loss 'categorical_crossentropie'" in f and "categorical_crossentropy" in f for f in found)
    assert any("train.optimizer.SGD.learning_rat: unknown argument" in f and "learning_rate" in f for f in found)
    assert any("train.metrics.2: unknown metric 'acuracy'" in f for f in found)
    assert len(found) == 3


def test_optimizer_names_are_case_insensitive_like_keras():
    config = parse_config(LECTURE_YAML + "train: {optimizer: rmsprop, loss: mse}\n")
    assert config.optimizer.name == "rmsprop" and config.loss.name == "mse"


@pytest.mark.parametrize("name", ["optimizermap", "OptimizerMap"])
def test_a_name_keras_cannot_build_alone_is_an_unknown_optimizer_not_a_crash(name):
    # keras.optimizers.get("optimizermap") raises KeyError from OptimizerMap.from_config
    [message] = problems(LECTURE_YAML + f"train: {{optimizer: {name}}}\n")
    assert f"unknown optimizer '{name}'" in message


def test_yaml_errors(write_config):
    with pytest.raises(CnnctlError) as info:
        load_config(write_config("model:\n  input_shape: [28, 28\n  layers: []\n"))
    assert "net.yaml:3: YAML syntax error" in str(info.value)
    with pytest.raises(CnnctlError, match="duplicate key 'layers'"):
        parse_config("model:\n  input_shape: [2]\n  layers: [Flatten]\n  layers: [Flatten]\n")
    with pytest.raises(CnnctlError, match="YAML tag not allowed"):
        parse_config("model: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(CnnctlError, match="no such file"):
        load_config("does/not/exist.yaml")


def test_alias_bomb_is_refused_quickly():
    bomb = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
    for name, prev in zip("bcdefgh", "abcdefg"):
        bomb += f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]\n"
    with pytest.raises(CnnctlError, match="expands to more than"):
        parse_config(bomb)


def test_channels_first_needs_three_dims():
    [message] = problems("model: {data_format: channels_first, input_shape: [28, 28], layers: [Flatten]}")
    assert "channels_first needs [channels, height, width]" in message


BLOCKS_YAML = """\
x-block: &block
  - Conv2D: {filters: 32, kernel_size: 3, padding: same}
  - BatchNormalization
  - ReLU
model:
  input_shape: [32, 32, 3]
  layers: [*block, *block, MaxPooling2D, Flatten, {Dense: {units: 10, activation: softmax}}]
"""


def test_override_into_an_aliased_block_changes_one_copy():
    config = parse_config(BLOCKS_YAML, ["model.layers.0.0.Conv2D.filters=8"])
    assert [s.args["filters"] for s in config.layers if s.type == "Conv2D"] == [8, 32]
    where = config.origins.problem
    assert str(where(("model", "layers", 0, 0, "Conv2D", "filters"), "x")).startswith("--set model.layers.0.0")
    assert str(where(("model", "layers", 1, 0, "Conv2D", "filters"), "x")).startswith("<string>:2: ")
    assert str(where(("model", "layers", 0, 0, "Conv2D", "kernel_size"), "x")).startswith("<string>:2: ")


def test_values_outside_their_documented_range_are_all_reported():
    found = problems(LECTURE_YAML + """\
train:
  optimizer: {Adam: {learning_rate: .inf, beta_1: 1, beta_2: -0.5, epsilon: 0, clipnorm: 0, weight_decay: -1}}
  lr_schedule: {ReduceLROnPlateau: {factor: 1.5, min_lr: -1}}
""")
    assert [f.split(": ")[1] for f in found] == [f"train.optimizer.Adam.{key}" for key in (
        "learning_rate", "beta_1", "beta_2", "epsilon", "clipnorm", "weight_decay")] + [
        "train.lr_schedule.ReduceLROnPlateau.factor", "train.lr_schedule.ReduceLROnPlateau.min_lr"]
    assert all(f.startswith("<string>:") for f in found)
    assert "expected a number > 0, got inf" in found[0] and "in [0, 1), got 1" in found[1]


def test_schedule_ranges_and_a_warmup_from_zero():
    [decay_steps] = problems(LECTURE_YAML + "train: {optimizer: sgd, lr_schedule: "
                             "{CosineDecay: {initial_learning_rate: 0.1, decay_steps: 0}}}\n")
    assert "CosineDecay.decay_steps: expected a number > 0, got 0" in decay_steps
    [zero] = problems(LECTURE_YAML + "train: {optimizer: sgd, lr_schedule: "
                      "{CosineDecay: {initial_learning_rate: 0, decay_steps: 10}}}\n")
    assert "CosineDecay.initial_learning_rate: expected a number > 0, got 0" in zero
    warmup = parse_config(LECTURE_YAML + "train: {optimizer: sgd, lr_schedule: {CosineDecay: "
                          "{initial_learning_rate: 0, decay_steps: 10, warmup_target: 0.1, warmup_steps: 5}}}\n")
    assert warmup.lr_schedule.args["initial_learning_rate"] == 0.0


def _deep(n: int) -> str:
    return "model:\n  input_shape: [28, 28, 1]\n  layers: " + "[" * n + "Flatten" + "]" * n + "\n"


def _alias_chain(n: int) -> str:
    chain = ["x-0: &a0 [Flatten]"] + [f"x-{i}: &a{i} [*a{i - 1}]" for i in range(1, n)]
    return "\n".join(chain) + f"\nmodel: {{input_shape: [4], layers: [*a{n - 1}, {{Dense: {{units: 2}}}}]}}\n"


@pytest.mark.parametrize("text, expected", [
    (_deep(5000), ":3: nested more than 100 levels deep"),
    (_alias_chain(300), ":101: nested more than 100 levels deep through aliases"),
    ("x-a: &a [Flatten, *a]\nmodel: {input_shape: [4], layers: [Flatten]}\n", ":1: alias *a is inside its own anchor"),
    ("x-a: &a {b: {c: *a}}\nmodel: {input_shape: [4], layers: [Flatten]}\n", ":1: alias *a is inside its own anchor"),
    ("model:\n  input_shape: [28, 28, 1]\n  layers:\n" + "    - Flatten\n" * 1_500_000,
     ": file is 20.0 MiB; a config is at most 1 MiB"),
], ids=["deep", "alias-chain", "self-alias", "self-alias-mapping", "20MiB"])
def test_pathological_yaml_is_one_line_at_once(tmp_path, text, expected):
    """Refused with one line: unguarded, deep nesting (written out or through aliases) ends in a RecursionError
    and a self-including alias in endless recursion, a traceback and exit 1 either way. No timing is
    asserted: a loaded machine is slow for reasons of its own."""
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = cli("validate", path)
    assert result.exit_code == 2 and "Traceback" not in result.output
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert line.startswith(f"error: {path}{expected}"), line
    with pytest.raises(CnnctlError, match=re.escape(expected.split(": ", 1)[1])):
        parse_config(text)


def test_monitors_name_what_the_run_logs():
    found = problems(LECTURE_YAML + """\
train:
  monitor: val_acc
  early_stopping: {monitor: accurcy, patience: 2}
  lr_schedule: {ReduceLROnPlateau: {monitor: los}}
""")
    assert found == [
        "<string>:13: train.monitor: the run logs no metric named 'val_acc' (did you mean 'val_accuracy'?)",
        "<string>:14: train.early_stopping.monitor: the run logs no metric named 'accurcy' "
        "(did you mean 'accuracy' or 'val_accuracy'?)",
        "<string>:15: train.lr_schedule.ReduceLROnPlateau.monitor: the run logs no metric named 'los' "
        "(did you mean 'loss'?)"]
    [no_validation] = problems(LECTURE_YAML, ["train.validation=null", "train.monitor=val_loss"])
    assert "no metric named 'val_loss' (train.validation is null, so nothing is validated: set it, or monitor " \
           "'loss')" in no_validation
    config = parse_config(LECTURE_YAML + "train: {metrics: [accuracy, {Precision: {}}], monitor: val_precision}\n")
    assert config.logged_metrics() == ["loss", "accuracy", "precision", "val_loss", "val_accuracy", "val_precision"]


def test_a_problem_in_every_section_is_reported_in_one_run():
    found = problems("""\
data:
  scale: units
model:
  input_shape: [28, 28, 1]
  layers:
    - Conv2d: {filters: 8, kernel_size: 3}
    - Flatten
    - Dense: {units: 10, activation: softmax}
train:
  optimizer: {SGD: {learning_rate: 0.1, momentun: 0.9}}
  nb_epoch: 3
""")
    assert [f.split(":")[1] for f in found] == ["2", "6", "10", "11"], found
    assert "data.scale: expected 'unit' or 'standardize'" in found[0]
    assert "unknown layer 'Conv2d'" in found[1]
    assert "train.optimizer.SGD.momentun: unknown argument 'momentun' for SGD (did you mean 'momentum'" in found[2]
    assert "train.nb_epoch: unknown key 'nb_epoch' (did you mean 'epochs'?)" in found[3]


def test_a_refused_value_hides_nothing_else_in_its_section():
    found = problems("""\
model:
  input_shape: [28, 28, "1"]
  layers: [{Conv2D: {filter: 8, kernel_size: 3}}, Flatten, {Dense: {units: 10}}]
data: {source: npzz, path: x.npz, augment: [RandomFlop]}
train: {metrics: {Precision: {}}, monitor: val_precision}
""")
    assert any("model.input_shape.2: expected a valid integer" in f for f in found), found
    assert any("unknown argument 'filter' for Conv2D" in f for f in found), found
    assert any("unknown augmentation layer 'RandomFlop'" in f for f in found), found
    # checks that would judge a refused key by its default stay silent
    assert not any("reads no path" in f or "logs no metric" in f for f in found), found
    assert len(found) == 5, found


@pytest.mark.parametrize("shape, data_format, hinted", [
    ([1, 28, 28], "channels_last", True),   # the lecture's MNIST shape
    ([3, 32, 32], "channels_last", True),   # CIFAR's
    ([4, 16, 16], "channels_last", True),   # RGBA
    ([1, 28, 28], "channels_first", False),  # said so
    ([28, 28, 1], "channels_last", False),
    ([3, 8, 8], "channels_last", False),     # not much smaller: could be 3×8 images of 8 channels
    ([2, 28, 28], "channels_last", False),   # not a channel count images have
])
def test_the_channels_first_hint_names_data_format_only_for_a_shape_that_looks_like_it(shape, data_format, hinted):
    config = parse_config(f"model: {{input_shape: {shape}, data_format: {data_format}, layers: [Flatten]}}")
    hint = config.input_order_hint()
    assert (hint is not None) == hinted
    assert hint is None or hint == (f"if {shape} is [channels, height, width], as the lecture writes it, add "
                                    "model.data_format: channels_first")


@pytest.mark.parametrize("layer, expected", [
    ("Dense: 10", "arguments of Dense must be a mapping of names to values (write Dense: {units: 10})"),
    ("Activation: relu", "(write Activation: {activation: relu})"),
    ("Convolution2D: [25, 3, 3]", "(write Convolution2D: {filters: 25, kernel_size: ...})"),
    ("MaxPooling2D: 2", "(write MaxPooling2D: {pool_size: 2})"),  # nothing required: its first argument
])
def test_arguments_that_are_not_a_mapping_say_what_the_mapping_would_be(layer, expected):
    [message] = problems(f"model: {{input_shape: [28, 28, 1], layers: [{{{layer}}}, Flatten]}}")
    assert message.endswith(expected), message


def test_keras1_arguments_with_no_one_to_one_name_say_what_replaced_them():
    conv = "Conv2D: {filters: 25, nb_row: 3, nb_col: 5}"
    found = problems(LECTURE_YAML.replace("Conv2D: {filters: 25, kernel_size: 3}", conv)
                     + "train: {optimizer: {SGD: {learning_rate: 0.1, decay: 1.0e-6}}}\n")
    assert found[:2] == [f"<string>:5: model.layers.0.Conv2D.{key}: unknown argument '{key}' for Conv2D (Keras 1's "
                         "nb_row and nb_col are one argument in Keras 3: kernel_size: [3, 5])"
                         for key in ("nb_row", "nb_col")]  # and no 'needs kernel_size' besides
    assert found[2] == ("<string>:12: train.optimizer.SGD.decay: unknown argument 'decay' for SGD (Keras 2's decay "
                        "divided the rate by 1 + decay × step; in Keras 3 that is a schedule: remove learning_rate "
                        "and decay here and set train.lr_schedule: {InverseTimeDecay: {initial_learning_rate: 0.1, "
                        "decay_steps: 1, decay_rate: 1.0e-06}}; weight_decay is another thing: it shrinks the "
                        "weights)")
    assert len(found) == 3
