"""`cnnctl import SCRIPT.py`: the lecture's Keras 1 code, functional graphs, TODOs, and bad scripts."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cnnctl.config import load_config
from cnnctl.importing.imported import INCOMPLETE_EXIT
from cnnctl.model import summarize
from tests.conftest import cli

LECTURE_SCRIPT = Path(__file__).with_name("lecture_model2.py")


def write(tmp_path: Path, text: str, name: str = "net.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture(scope="module")
def lecture(tmp_path_factory):
    """The lecture's script imported once: the CLI's result and the config it wrote."""
    out = tmp_path_factory.mktemp("lecture") / "lecture.yaml"
    return cli("import", LECTURE_SCRIPT, "-o", out), out


def test_lecture_script_imports_with_one_line_per_translation(lecture):
    result, out = lecture
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    for expected in ("line 14: Convolution2D -> Conv2D",
                     "line 14: Conv2D(25, 3, 3) -> filters: 25, kernel_size: 3 (Keras 1's nb_filter, nb_row, nb_col)",
                     "line 15: input_shape=(1, 28, 28) -> model.input_shape: [1, 28, 28] with data_format: "
                     "channels_first (Keras 1 put channels first)",
                     "line 20: output_dim=100 -> units: 100",
                     "line 26: lr=0.1 -> learning_rate: 0.1",
                     "line 29: nb_epoch=20 -> train.epochs: 20",
                     "line 9: mnist.load_data() -> data.source: mnist"):
        assert expected in lines, result.stdout
    assert lines[-1] == f"wrote {out}"
    text = out.read_text()
    assert text.startswith("# yaml-language-server: $schema=")
    assert "# Imported by `cnnctl import` from lecture_model2.py" in text
    assert "TODO" not in text


def test_lecture_config_has_the_lectures_parameters_and_channels_first_shapes(lecture):
    _, out = lecture
    config = load_config(out)
    assert config.train.optimizer == {"SGD": {"learning_rate": 0.1}}
    assert (config.train.batch_size, config.train.epochs, config.loss.name) == (100, 20, "categorical_crossentropy")
    facts = summarize(config)
    assert facts.total_params == 137_660
    shapes = [row.output_shape for row in facts.layers]
    assert shapes[:5] == [(25, 26, 26), (25, 13, 13), (50, 11, 11), (50, 5, 5), (1250,)]
    assert [row.weights_per_filter for row in facts.layers[:3:2]] == [9, 225]
    shown = cli("summary", out)  # as a student runs it
    assert shown.exit_code == 0 and "Total params: 137,660" in shown.stdout
    assert "input 1×28×28 (channels_first)" in shown.stdout and "25×26×26" in shown.stdout


FUNCTIONAL = """\
    import keras
    from keras import layers

    inputs = keras.Input(shape=(16, 16, 3))
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inputs)
    shared = layers.Conv2D(8, 3, padding="same")
    y = shared(x)
    y = layers.BatchNormalization()(y)
    y = shared(y)
    x = layers.Add()([x, y])
    x = layers.Dropout(0.25)(x, training=False)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(4, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.Adam(1e-3))
    model.fit(x_train, y_train, batch_size=32, epochs=3, validation_split=0.1)
"""


def test_functional_script_with_a_residual_and_a_shared_layer(tmp_path):
    out = tmp_path / "net.yaml"
    result = cli("import", write(tmp_path, FUNCTIONAL), "-o", out)
    assert result.exit_code == 0, result.output
    # `stem` is Keras' conv2d, so the shared one is conv2d_1, as Keras would name it
    assert "line 9: shared applied again -> Reuse: {layer: conv2d_1} (shared weights)" in result.stdout
    text = out.read_text()
    assert "- Reuse: {layer: conv2d_1, name: conv2d_1_use2}" in text
    assert "- Add: {inputs: [stem, conv2d_1_use2]}" in text
    assert "- Dropout: {rate: 0.25, call: {training: false}}" in text
    config = load_config(out)
    assert config.train.optimizer == {"Adam": {"learning_rate": 0.001}} and config.train.validation == 0.1
    # the same network written with Keras directly: 224 + 584 (one Conv2D, used twice) + 32 + 36
    assert summarize(config).total_params == 876


def test_untranslatable_things_are_listed_and_marked_todo(tmp_path):
    script = write(tmp_path, """\
        from keras.models import Sequential
        from keras.layers import Dense, Flatten, Lambda
        from mylib import FancyLayer
        units = 64
        model = Sequential()
        model.add(Flatten(input_shape=(28, 28, 1)))
        model.add(Lambda(lambda t: t * 2))
        model.add(Dense(units, activation="relu"))
        model.add(FancyLayer(3))
        model.add(Dense(compute_units(), activation="relu"))
        model.add(Dense(10, activation="softmax"))
        model.compile(loss="categorical_crossentropy", optimizer="adam")
    """)
    out = tmp_path / "net.yaml"
    result = cli("import", script, "-o", out)
    assert result.exit_code == INCOMPLETE_EXIT, result.output
    todos = [line for line in result.stderr.splitlines() if line.startswith("todo: ")]
    assert [line.split(": ")[2] for line in todos] == ["line 7", "line 9", "line 10"]
    assert "Lambda runs Python code" in todos[0] and "FancyLayer is not a keras.layers class" in todos[1]
    assert "units=compute_units() is not a literal" in todos[2]
    assert result.stderr.splitlines()[-1] == f"incomplete: 3 thing(s) not translated, marked # TODO in {out}"
    text = out.read_text()
    assert text.count("# TODO: line") == 3
    assert "- Dense: {units: 64, activation: relu}" in text  # a name bound to a literal is its value
    # the layer whose value is unknown is written with what is known: validate points at it
    lines = text.splitlines()
    todo = lines.index("    # TODO: line 10: Dense units=compute_units() is not a literal: write its value")
    assert lines[todo + 1] == "    - Dense: {activation: relu}"
    check = cli("validate", out)
    assert check.exit_code == 2
    assert check.stderr.startswith(f"error: {out}:{todo + 2}: model.layers.2.Dense: Dense needs 'units'")


def test_the_script_is_never_run(tmp_path):
    marker = tmp_path / "ran"
    script = write(tmp_path, f"""\
        open({str(marker)!r}, "w").write("ran")
        import keras
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2, activation="softmax")])
        raise SystemExit(7)
    """)
    result = cli("import", script, "-o", tmp_path / "net.yaml")
    assert result.exit_code == 0, result.output
    assert not marker.exists()


@pytest.mark.parametrize("text, message", [
    ("import keras\nx = 1\n", "net.py: no Keras model found"),
    ("model = Sequential()\nmodel.add(Dense(10)))\n", "net.py:2: not valid Python: unmatched ')'"),
    ("import keras\ni = keras.Input((8,))\na = keras.layers.Dense(2)(i)\nb = keras.layers.Dense(3)(i)\n"
     "m = keras.Model(i, [a, b])\n", "net.py:5: the model has 2 outputs; cnnctl trains image classifiers"),
    ("import keras\nclass Net(keras.Model):\n    def call(self, x):\n        return x\nmodel = Net()\n",
     "net.py: no Keras model found: no Sequential(...), model.add(...) or Model(inputs, outputs) with layers (a "
     "subclassed model's call() is code"),
], ids=["no model", "syntax error", "two outputs", "subclassed model"])
def test_bad_scripts_exit_2_with_one_line(tmp_path, text, message):
    out = tmp_path / "net.yaml"
    result = cli("import", write(tmp_path, text), "-o", out)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.output and not out.exists()


def test_an_existing_config_is_not_replaced_without_force(tmp_path):
    out = tmp_path / "net.yaml"
    out.write_text("mine\n")
    result = cli("import", LECTURE_SCRIPT, "-o", out)
    assert result.exit_code == 2 and "exists already" in result.stderr
    assert out.read_text() == "mine\n"


def test_keras2_example_with_names_and_branches(tmp_path):
    out = tmp_path / "cnn.yaml"
    result = cli("import", Path(__file__).with_name("keras2_mnist_cnn.py"), "-o", out)
    assert result.exit_code == 0, result.output
    assert "line 42: keras.losses.categorical_crossentropy -> categorical_crossentropy" in result.stdout
    config = load_config(out)
    # Keras' else branch (channels_last) is the last assignment of input_shape: the one read
    assert (config.model.input_shape, config.model.data_format) == ([28, 28, 1], "channels_last")
    assert (config.train.batch_size, config.train.epochs, config.train.validation) == (128, 12, "test")
    assert summarize(config).total_params == 1_199_882  # what the example's model.summary() reports


def test_keras1_spellings_and_decay(tmp_path):
    script = write(tmp_path, """\
        from keras.models import Sequential
        from keras.layers.core import Dense, Activation, Flatten
        from keras.layers.convolutional import Convolution2D
        from keras.optimizers import SGD
        model = Sequential()
        model.add(Convolution2D(32, 3, 3, border_mode='same', input_shape=(3, 32, 32), init='he_normal'))
        model.add(Convolution2D(32, 3, 3, subsample=(2, 2)))
        model.add(Flatten())
        model.add(Dense(10))
        model.add(Activation('softmax'))
        sgd = SGD(lr=0.01, decay=1e-6, momentum=0.9)
        model.compile(loss='categorical_crossentropy', optimizer=sgd)
    """)
    out = tmp_path / "net.yaml"
    result = cli("import", script, "-o", out)
    assert result.exit_code == 0, result.output
    for expected in ("line 6: border_mode=same -> padding: same", "line 6: init=he_normal -> kernel_initializer: "
                     "he_normal", "line 7: subsample=[2, 2] -> strides: [2, 2]",
                     "line 11: decay=1e-06 -> train.lr_schedule: {InverseTimeDecay: {initial_learning_rate: 0.01, "
                     "decay_steps: 1, decay_rate: 1.0e-06}} (Keras 2 divided the rate by 1 + decay × step)"):
        assert expected in result.stdout.splitlines(), result.stdout
    config = load_config(out)
    assert config.model.data_format == "channels_first" and config.model.input_shape == [3, 32, 32]
    assert config.layers[1].args == {"filters": 32, "kernel_size": 3, "strides": 2}
    assert config.train.optimizer == {"SGD": {"momentum": 0.9}}
    assert config.lr_schedule.name == "InverseTimeDecay"


def test_compile_on_another_name_is_read_for_the_one_model(tmp_path):
    """The lecture builds `model2` and compiles `model`: pasted as is, the one model built is meant."""
    text = LECTURE_SCRIPT.read_text().replace("model2.compile", "model.compile").replace("model2.fit", "model.fit")
    out = tmp_path / "net.yaml"
    result = cli("import", write(tmp_path, text), "-o", out)
    assert result.exit_code == 0, result.output
    assert "line 25: model.compile(...) read as model2's: the script builds no other model" in result.stdout
    assert load_config(out).train.epochs == 20


def test_merge_functions_are_layers_and_other_calls_on_tensors_are_todos(tmp_path):
    script = write(tmp_path, """\
        import tensorflow as tf
        from tensorflow import keras
        from tensorflow.keras import layers
        inputs = keras.Input(shape=(32, 32, 3))
        x = layers.Conv2D(16, 3, padding="same")(inputs)
        a = layers.Conv2D(16, 1)(x)
        b = layers.Conv2D(16, 3, padding="same")(x)
        x = layers.concatenate([a, b], axis=-1)
        x = tf.nn.relu(x)
        x = layers.add([x, layers.Conv2D(32, 1)(inputs)])
        x = layers.GlobalAveragePooling2D()(x)
        outputs = layers.Dense(10, activation="softmax")(x)
        model = keras.Model(inputs=inputs, outputs=outputs)
        x = x_train / 255.0
    """)
    out = tmp_path / "net.yaml"
    result = cli("import", script, "-o", out)
    assert result.exit_code == INCOMPLETE_EXIT, result.output
    assert "line 8: layers.concatenate(...) -> Concatenate" in result.stdout
    assert result.stderr.splitlines()[0] == (f"todo: {script}: line 9: tf.nn.relu(x) is not a Keras layer: write "
                                             "what it does here")
    text = out.read_text()
    assert "- Concatenate: {name: concatenate, axis: -1, inputs: [conv2d_1, conv2d_2]}" in text
    assert "- Conv2D: {name: conv2d_3, filters: 32, kernel_size: 1, inputs: [input]}" in text
    assert "- Add: {inputs: [concatenate, conv2d_3]}" in text  # the relu's place is the TODO; its tensor goes on
    assert summarize(load_config(out)).total_params == 448 + 272 + 2320 + 128 + 330
