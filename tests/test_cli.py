"""The commands as a user meets them: output, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import CONFIGS, LECTURE_YAML, ROOT, cli


def test_summary_of_the_lecture_network(write_config):
    result = cli("summary", write_config(LECTURE_YAML), "--explain")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ["25×26×26", "25×13×13", "50×11×11", "50×5×5", "1250", "11,300", "125,100", "1,010",
                 "Total params: 137,660", "(28 − 3)/1 + 1 = 26", "⌊(11 − 2)/2⌋ + 1 = 5"]:
        assert text in out


def test_summary_explains_dilation_and_same_padding(write_config):
    path = write_config("""
model:
  input_shape: [28, 28, 1]
  layers:
    - Conv2D: {filters: 2, kernel_size: 3, dilation_rate: 2}
    - Conv2D: {filters: 2, kernel_size: 3, strides: 2, padding: same}
    - Flatten
""")
    result = cli("summary", path, "--explain")
    assert result.exit_code == 0, result.output
    assert "(28 − 5)/1 + 1 = 24 (dilated kernel 2·(3 − 1) + 1 = 5)" in result.stdout
    assert "(24 + 1 − 3)/2 + 1 = 12 (same: ⌈24/2⌉, padding 0 before, 1 after)" in result.stdout


def test_summary_json_and_set(write_config):
    result = cli("summary", write_config(LECTURE_YAML), "--json", "--set", "model.layers.0.Conv2D.filters=32")
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    assert facts["layers"][0]["params"] == 32 * 10
    assert facts["layers"][0]["output_shape"] == [32, 26, 26]
    assert facts["total_params"] == sum(layer["params"] for layer in facts["layers"])


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_every_shipped_config_validates(config, tmp_path):
    overrides = []
    if config.name == "image_folder.yaml":  # your own photos: validate looks for them, beside configs/
        missing = cli("validate", config)
        assert f"data.path: no such folder: {ROOT / 'data' / 'images'} (" in missing.stderr, missing.output
        for name in ("cat", "dog"):
            (tmp_path / "pets" / name).mkdir(parents=True)
            (tmp_path / "pets" / name / "001.png").write_bytes(b"")  # listed, never decoded
        overrides = ["--set", f"data.path={tmp_path / 'pets'}"]
    result = cli("validate", config, *overrides)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"ok: {config}")


ERRORS = {
    "yaml syntax": ("model:\n  input_shape: [28, 28, 1\n  layers: [Flatten]\n",
                    "net.yaml:3: YAML syntax error"),
    "unknown top-level key": (LECTURE_YAML + "trian: {epochs: 1}\n",
                              "net.yaml:12: trian: unknown key 'trian' (did you mean 'train'?)"),
    "unknown layer": (LECTURE_YAML.replace("- Conv2D: {filters: 25", "- Conv2d: {filters: 25"),
                      "net.yaml:5: model.layers.0.Conv2d: unknown layer 'Conv2d' (did you mean 'Conv2D'?)"),
    "misspelt argument": (LECTURE_YAML.replace("{filters: 50", "{filter: 50"),
                          "net.yaml:7: model.layers.2.Conv2D.filter: unknown argument 'filter' for Conv2D "
                          "(did you mean 'filters'?)"),
    "wrong value type": (LECTURE_YAML.replace("units: 100", "units: lots"),
                         "net.yaml:10: model.layers.5.Dense.units: expected an integer, got 'lots' (string)"),
    "wrong section type": (LECTURE_YAML + "train: {batch_size: 1.5}\n",
                           "net.yaml:12: train.batch_size: expected a valid integer, got 1.5"),
    "kernel larger than input": (LECTURE_YAML.replace("[1, 28, 28]", "[1, 6, 6]"),
                                 "net.yaml:7: model.layers.2.Conv2D: Conv2D window 3×3 does not fit its 2×2 input "
                                 "(use a smaller kernel_size or pool_size, padding: same, or a larger "
                                 "model.input_shape)"),
    "input shape that does not fit": (
        "model:\n  input_shape: [28, 28]\n  layers:\n    - Conv2D: {filters: 2, kernel_size: 3}\n",
        "net.yaml:4: model.layers.0.Conv2D: Conv2D cannot take input of shape (28, 28): "),
    "mismatched branches": (
        "model:\n  input_shape: [8, 8, 3]\n  layers:\n    - Conv2D: {filters: 2, kernel_size: 1}\n"
        "    - Add: {inputs: [input, conv2d]}\n",
        "net.yaml:5: model.layers.1.Add: Add cannot take input of shape (8, 8, 3), (8, 8, 2)"),
    "value keras rejects": (LECTURE_YAML.replace("activation: relu", "activation: relux"),
                            "net.yaml:10: model.layers.5.Dense: Keras rejected the arguments: "
                            "Could not interpret activation function identifier: relux"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_user_errors_are_one_clear_line_and_exit_2(case, write_config):
    text, expected = ERRORS[case]
    path = write_config(text)
    result = cli("summary", path)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path.parent}/") and expected in lines[0], lines[0]
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(write_config):
    path = write_config(LECTURE_YAML.replace("Conv2D: {filters: 25", "Conv2d: {filters: 25"))
    result = cli("--debug", "summary", path)
    assert result.exit_code != 0 and result.exception is not None
    assert type(result.exception).__name__ == "CnnctlError"


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_works_before_or_after_the_command(write_config, monkeypatch, where):
    monkeypatch.delenv("CNNCTL_DEBUG", raising=False)  # the flag sets it: put back after the test
    path = write_config(LECTURE_YAML.replace("Conv2D: {filters: 25", "Conv2d: {filters: 25"))
    result = cli("--debug", "summary", path) if where == "before" else cli("summary", path, "--debug")
    assert type(result.exception).__name__ == "CnnctlError"  # raised, with its traceback, not one line
    assert os.environ["CNNCTL_DEBUG"] == "1"


def test_top_level_help_shows_each_command_whole():
    from cnnctl.cli import main

    result = cli("--help")
    assert result.exit_code == 0
    commands = " ".join(result.stdout.split("Commands:")[1].split())  # wrapped lines, as one
    assert "..." not in commands and "…" not in commands
    for command in main.commands.values():
        first = " ".join(command.help.split("\n\n")[0].split())
        assert f"{command.name} {first}" in commands


def test_validate_reports_every_problem_in_every_file(write_config):
    good = write_config(LECTURE_YAML + "data: {source: mnist}\n", "good.yaml")
    bad = write_config(LECTURE_YAML.replace("filters: 25", "filter: 25").replace("units: 10,", "units: x,")
                       + "train: {epochs: 0}\n", "bad.yaml")
    also_bad = write_config("model: {input_shape: [1], layers: [Conv2d]}\n", "also_bad.yaml")
    result = cli("validate", good, bad, also_bad)
    assert result.exit_code == 2
    assert result.stdout == f"ok: {good} (137,660 parameters)\n"
    errors = result.stderr.splitlines()
    mine = [e for e in errors if "bad.yaml" in e and "also_bad" not in e]  # a type error hides no layer error
    assert [e.split(": ")[2] for e in mine] == ["model.layers.0.Conv2D.filter", "model.layers.6.Dense.units",
                                               "train.epochs"], mine
    assert any("also_bad.yaml:1: model.layers.0.Conv2d: unknown layer" in e for e in errors)
    assert errors[-1] == "2 of 3 config(s) invalid"


def test_validate_lists_all_layer_problems(write_config):
    bad = write_config(LECTURE_YAML.replace("filters: 25", "filter: 25").replace("units: 10,", "units: x,"))
    result = cli("validate", bad)
    assert result.exit_code == 2
    assert "filter" in result.stderr and "units: expected an integer, got 'x'" in result.stderr


HEAVY = ('tensorflow', 'keras', 'matplotlib', 'tensorboard', 'onnxruntime', 'tf2onnx', 'optuna', 'sqlalchemy')


def test_help_and_version_import_nothing_heavy():
    """`cnnctl --help`, `--version` and every command's `--help` stay instant: no TensorFlow, no matplotlib."""
    code = ("import sys\nfrom cnnctl.cli import main\n"
            "for args in (['--help'], ['--version'], *([name, '--help'] for name in main.commands)):\n"
            "    try:\n        main(args, prog_name='cnnctl')\n    except SystemExit:\n        pass\n"
            f"print('IMPORTED', sorted(m for m in {HEAVY} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "IMPORTED []" in out
    assert "Usage: cnnctl" in out and "Usage: cnnctl report" in out and "Usage: cnnctl export" in out


def test_version():
    from cnnctl import __version__

    result = cli("--version")
    assert result.exit_code == 0 and result.stdout == f"cnnctl, version {__version__}\n"


def test_internal_bugs_exit_1_with_traceback_and_a_hint(write_config, monkeypatch):
    import cnnctl.model

    def broken(config):
        raise RuntimeError("boom")

    monkeypatch.setattr(cnnctl.model, "summarize", broken)
    result = cli("summary", write_config(LECTURE_YAML))
    assert result.exit_code == 1
    assert "RuntimeError: boom" in result.stderr and "Traceback" in result.stderr
    assert "this is a bug in cnnctl" in result.stderr


@pytest.fixture
def plugin_registry(monkeypatch):
    """Plugins register globally: give the test its own registry and forget it afterwards."""
    from cnnctl import keras_catalog

    monkeypatch.setattr(keras_catalog, "PLUGIN_LAYERS", {})
    yield
    monkeypatch.undo()
    keras_catalog.classes.cache_clear()


def test_plugin_layers_come_from_the_command_line_only(tmp_path, monkeypatch, plugin_registry):
    (tmp_path / "my_layers.py").write_text(
        "import keras\n\n"
        "class Doubler(keras.layers.Layer):\n"
        "    def call(self, x):\n"
        "        return x * 2\n")
    config = tmp_path / "net.yaml"
    config.write_text("model:\n  input_shape: [4, 4, 1]\n  layers: [Doubler, Flatten, {Dense: {units: 2}}]\n")
    monkeypatch.chdir(tmp_path)
    without = cli("summary", config)
    assert without.exit_code == 2 and "unknown layer 'Doubler'" in without.stderr and "--plugin" in without.stderr
    with_plugin = cli("--plugin", "my_layers", "summary", config, "--json")
    assert with_plugin.exit_code == 0, with_plugin.output
    assert json.loads(with_plugin.stdout)["layers"][0]["type"] == "Doubler"
    missing = cli("--plugin", "no_such_module", "summary", config)
    assert missing.exit_code == 2 and "--plugin no_such_module: cannot import it" in missing.stderr


@pytest.mark.parametrize("name, expected", [
    ("./my_layers.py", "error: --plugin ./my_layers.py: not a Python module name (--plugin takes a module name, "
                       "not a file: --plugin my_layers)"),
    ("my_layers.py", "--plugin takes a module name, not a file: --plugin my_layers)"),
    ("lib/my_layers.py", "not a file: --plugin my_layers, with lib on PYTHONPATH)"),
    ("a/b", "error: --plugin a/b: not a Python module name"),
    ("a..b", "error: --plugin a..b: not a Python module name (a module name is Python identifiers joined by dots"),
    ("", "error: --plugin needs a module name (e.g. --plugin my_layers"),
], ids=["relative path", "file name", "path elsewhere", "slash", "empty part", "empty"])
def test_plugin_names_that_are_not_module_names(tmp_path, monkeypatch, plugin_registry, name, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_layers.py").write_text("raise AssertionError('a refused name must not be imported')\n")
    result = cli("--plugin", name, "validate", tmp_path / "net.yaml")
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [result.stderr.splitlines()[0]] and expected in result.stderr, result.stderr


@pytest.mark.parametrize("source, last_lines", [
    ("import json\n\ndef check():\n    raise ValueError('units must be even')\n\ncheck()\n",
     ["    raise ValueError('units must be even')", "ValueError: units must be even",
      "error: {name}: importing it raised ValueError: units must be even (the traceback above is from the plugin's "
      "code; fix the module)"]),
    ("import keras\nimport not_installed_anywhere\n",
     ["    import not_installed_anywhere", "ModuleNotFoundError: No module named 'not_installed_anywhere'",
      "error: {name}: importing it raised ModuleNotFoundError: No module named 'not_installed_anywhere' (the "
      "traceback above is from the plugin's code; fix the module)"]),
    ("class Broken(:\n    pass\n",
     ["SyntaxError: invalid syntax", "error: {name}: importing it raised SyntaxError: invalid syntax"]),
    ("import sys\nsys.exit(4)\n", ["SystemExit: 4", "error: {name}: importing it raised SystemExit: 4"]),
], ids=["raises", "imports a missing package", "syntax error", "exits"])
def test_a_plugin_that_fails_on_import_shows_its_own_traceback_and_exits_2(tmp_path, monkeypatch, plugin_registry,
                                                                           source, last_lines):
    module = f"failing_plugin_{abs(hash(source))}"
    (tmp_path / f"{module}.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    result = cli("--plugin", module, "validate", tmp_path / "net.yaml")
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert f'File "{tmp_path / module}.py", line' in result.stderr, result.stderr
    assert [line.startswith(expected.format(name=f"--plugin {module}")) for line, expected
            in zip(lines[-len(last_lines):], last_lines)] == [True] * len(last_lines), result.stderr
    assert "importlib" not in result.stderr and "cnnctl/plugins.py" not in result.stderr
    assert "this is a bug in cnnctl" not in result.stderr


def test_a_missing_data_path_says_where_cnnctl_looked(tmp_path, monkeypatch):
    (tmp_path / "configs").mkdir()
    (tmp_path / "elsewhere").mkdir()
    config = tmp_path / "configs" / "net.yaml"
    config.write_text("data: {source: idx, path: ../data/mnist_idx}\n"
                      "model: {input_shape: [28, 28, 1],\n"
                      "        layers: [Flatten, {Dense: {units: 10, activation: softmax}}]}\n")
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = cli("validate", config)
    assert result.stderr.splitlines()[0] == (f"error: {config}:1: data.path: no such folder: "
                                             f"{tmp_path / 'data' / 'mnist_idx'} (a relative path starts at the "
                                             "config file's folder)"), result.stderr
    typed = cli("validate", config, "--set", "data.path=mnist_idx")
    assert typed.stderr.splitlines()[0] == (f"error: --set data.path=mnist_idx: data.path: no such folder: "
                                            f"{tmp_path / 'elsewhere' / 'mnist_idx'} (a --set path starts at the "
                                            "current folder)"), typed.stderr
    npz = cli("validate", config, "--set", f"data={{source: npz, path: {tmp_path}}}")
    assert f"data.path: a folder, not a file: {tmp_path} (source npz reads a .npz file)" in npz.stderr, npz.stderr


def test_a_mistake_in_another_section_hides_no_missing_data_file(write_config, tmp_path):
    config = write_config(f"data: {{source: npz, path: {tmp_path / 'nowhere.npz'}}}\n"
                          "model: {input_shape: [28, 28, 1], layers: [Flatten, {Dense: {units: 10}}]}\n"
                          "train: {nb_epoch: 3}\n")
    result = cli("validate", config)
    assert result.exit_code == 2
    assert [line.split(": ")[2] for line in result.stderr.splitlines()[:2]] == ["data.path", "train.nb_epoch"]
    assert f"no such file: {tmp_path / 'nowhere.npz'}" in result.stderr


def test_train_refuses_what_validate_refuses_with_the_same_line(write_config, tmp_path):
    config = write_config("model: {input_shape: [6, 6, 1],\n"
                          "        layers: [Flatten, {Dense: {units: 4, activation: softmax}}]}\n")
    validated = cli("validate", config)
    trained = cli("train", config, "--runs-dir", tmp_path / "runs", "--quiet")
    assert trained.exit_code == validated.exit_code == 2
    line = f"error: {config}:1: model.input_shape: synthetic images are at least 8×8 pixels, the model input is 6×6"
    assert trained.stderr.splitlines()[0].startswith(line), trained.stderr
    assert validated.stderr.splitlines()[0] == trained.stderr.splitlines()[0]
