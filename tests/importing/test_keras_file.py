"""`cnnctl import MODEL.keras`: real architectures round-trip through a config (same parameters, same
layers, same output for the same weights), and files that are not safe or not models are refused."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cnnctl import keras_catalog
from cnnctl.config import load_config
from cnnctl.model.build import build_model
from tests.conftest import cli


def small_functional(keras):
    """A residual branch, a layer applied twice (shared weights) and a Dropout called with training=False."""
    layers = keras.layers
    inputs = keras.Input((16, 16, 3))
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inputs)
    shared = layers.Conv2D(8, 3, padding="same", name="shared")
    y = layers.BatchNormalization(name="bn")(shared(x))
    y = shared(y)
    x = layers.Add(name="residual")([x, y])
    x = layers.Dropout(0.25, name="drop")(x, training=False)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, layers.Dense(4, activation="softmax", name="out")(x), name="small")


def mobilenet_v2(keras):
    """keras.applications' MobileNetV2 at a small size and width, so the test stays fast: every layer kind of
    the full network (ZeroPadding2D, DepthwiseConv2D, ReLU(6), residual Adds) is there."""
    return keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), alpha=0.35, classes=10)


def import_saved(make, folder: Path):
    """The Keras model, saved as .keras, imported by the CLI, and the config it wrote."""
    original = make(keras_catalog.keras())
    original.save(folder / "model.keras")
    result = cli("import", folder / "model.keras", "-o", folder / "model.yaml")
    assert result.exit_code == 0, result.output
    return original, load_config(folder / "model.yaml"), folder


@pytest.fixture(scope="module")
def small_trip(tmp_path_factory):
    return import_saved(small_functional, tmp_path_factory.mktemp("small"))


@pytest.fixture(scope="module")
def mobilenet_trip(tmp_path_factory):
    return import_saved(mobilenet_v2, tmp_path_factory.mktemp("mobilenet"))


@pytest.fixture(params=["small_trip", "mobilenet_trip"], ids=["small_functional", "MobileNetV2"])
def round_trip(request):
    return request.getfixturevalue(request.param)


def test_same_parameters_and_layers(round_trip):
    original, config, _ = round_trip
    rebuilt = build_model(config)
    assert rebuilt.count_params() == original.count_params()
    assert len(rebuilt.layers) == len(original.layers)
    assert [type(layer).__name__ for layer in rebuilt.layers[1:]] == \
        [type(layer).__name__ for layer in original.layers[1:]]


def test_same_output_for_the_same_weights(round_trip):
    original, config, _ = round_trip
    rebuilt = build_model(config)
    for layer in original.layers:
        if layer.weights:
            rebuilt.get_layer(layer.name).set_weights(layer.get_weights())
    x = np.random.default_rng(0).uniform(0, 255, (4, *original.input_shape[1:])).astype("float32")
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), original.predict(x, verbose=0), rtol=0, atol=1e-6)


def test_shared_layer_and_call_arguments_are_written(small_trip):
    _, _, folder = small_trip
    text = (folder / "model.yaml").read_text()
    assert "- Reuse: {layer: shared, name: shared_use2}" in text
    assert "- Add: {name: residual, inputs: [stem, shared_use2]}" in text
    assert "- Dropout: {name: drop, rate: 0.25, call: {training: false}}" in text


def nested(keras):
    """A Sequential block applied twice (shared weights) and a functional block with a residual, nested in a model."""
    layers = keras.layers
    block = keras.Sequential([keras.Input((8, 8, 4)), layers.Conv2D(4, 3, padding="same", name="b_conv"),
                              layers.BatchNormalization(name="b_bn"), layers.ReLU(name="b_relu")], name="block")
    inner = keras.Input((8, 8, 4))
    residual = keras.Model(inner, layers.Add(name="r_add")([inner, layers.Conv2D(4, 1, name="r_conv")(inner)]),
                           name="residual")
    inputs = keras.Input((8, 8, 3))
    x = residual(block(block(layers.Conv2D(4, 1, name="stem")(inputs))))
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, layers.Dense(3, activation="softmax", name="out")(x), name="nested")


def leaves(model):
    """The model's layers, those of nested models in their place."""
    for layer in model.layers:
        yield from leaves(layer) if hasattr(layer, "layers") else [layer]


def test_nested_models_are_written_inline(tmp_path):
    original, config, folder = import_saved(nested, tmp_path)
    text = (folder / "model.yaml").read_text()
    assert "- Reuse: {layer: b_conv, name: b_conv_use2}" in text  # the block's second use shares its weights
    assert "- Add: {name: r_add, inputs: [b_relu_use2, r_conv]}" in text
    rebuilt = build_model(config)
    assert rebuilt.count_params() == original.count_params() == 215
    # Keras counts each nested model as one layer; the config has their layers inline, and a layer used twice once
    assert len(original.layers) == 6
    assert [layer.name for layer in rebuilt.layers] == ["input", "stem", "b_conv", "b_bn", "b_relu", "r_conv",
                                                         "r_add", "pool", "out"]
    for layer in leaves(original):
        if layer.weights:
            rebuilt.get_layer(layer.name).set_weights(layer.get_weights())
    x = np.random.default_rng(0).uniform(0, 1, (2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), original.predict(x, verbose=0), rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def small_config_json(small_trip) -> dict:
    """config.json of the saved small model, to make hostile archives from."""
    with zipfile.ZipFile(small_trip[2] / "model.keras") as saved:
        return json.loads(saved.read("config.json"))


def archive(path: Path, config: dict) -> Path:
    """A .keras file of config.json alone: the import needs nothing else (weights are never read)."""
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("config.json", json.dumps(config))
    return path


def with_layer(config: dict, index: int, **changes) -> dict:
    changed = json.loads(json.dumps(config))
    changed["config"]["layers"][index].update(changes)
    return changed


def test_config_json_alone_is_enough(tmp_path, small_config_json):
    result = cli("import", archive(tmp_path / "m.keras", small_config_json), "-o", tmp_path / "m.yaml")
    assert result.exit_code == 0, result.output
    assert "read from config.json only (no weights, no code)" in result.stdout


@pytest.mark.parametrize("make, message", [
    (lambda path, cfg: path.write_text("not a zip"), "not a .keras archive"),
    (lambda path, cfg: archive(path, with_layer(cfg, 2, class_name="Lambda")),
     "layer 'shared' is a Lambda: it holds code, and cnnctl runs none from a file"),
    (lambda path, cfg: archive(path, with_layer(cfg, 2, class_name="MyConv", registered_name="my_pkg>MyConv",
                                                module="my_pkg")),
     "'MyConv' (my_pkg>MyConv) is a custom object"),
    (lambda path, cfg: archive(path, {**cfg, "config": {**cfg["config"], "output_layers": [["out", 0, 0],
                                                                                           ["pool", 0, 0]]}}),
     "the model has 1 input and 2 outputs; cnnctl trains image classifiers with one of each"),
    (lambda path, cfg: archive(path, {**cfg, "config": {**cfg["config"], "layers": [cfg["config"]["layers"][0], 7]}}),
     "config.json is not a Keras 3 model config cnnctl can read (AttributeError: "),
], ids=["not a zip", "Lambda", "custom object", "two outputs", "damaged config.json"])
def test_bad_keras_files_exit_2_with_one_line(tmp_path, small_config_json, make, message):
    path = tmp_path / "m.keras"
    make(path, small_config_json)
    result = cli("import", path, "-o", tmp_path / "m.yaml")
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr, result.stderr
    assert result.stderr.startswith(f"error: {path}: ")
    assert not (tmp_path / "m.yaml").exists()


def test_sequential_model_round_trips(tmp_path):
    """The lecture's network as a Keras 3 Sequential (channels last), compiled: architecture and training."""
    def lecture(keras):
        layers = keras.layers
        model = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(25, 3), layers.MaxPooling2D(2),
                                  layers.Conv2D(50, 3), layers.MaxPooling2D(2), layers.Flatten(),
                                  layers.Dense(100, activation="relu"), layers.Dense(10, activation="softmax")])
        model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.SGD(0.1), metrics=["accuracy"])
        return model

    original, config, folder = import_saved(lecture, tmp_path)
    # Keras names layers by a count for the whole process (conv2d, conv2d_1, ...): the arguments are what is fixed
    assert "filters: 25, kernel_size: 3}" in (folder / "model.yaml").read_text()
    assert config.train.optimizer == {"SGD": {"learning_rate": 0.1}} and config.loss.name == "categorical_crossentropy"
    rebuilt = build_model(config)
    assert rebuilt.count_params() == original.count_params() == 137_660
    assert len(rebuilt.layers) == len(original.layers) + 1  # a Sequential does not list its InputLayer
