"""The search: section: checked with the rest of the config, each problem at its line; `train` ignores it."""

from __future__ import annotations

import pytest

from cnnctl.config import load_config
from cnnctl.errors import CnnctlError

BASE = """\
model:
  input_shape: [16, 16, 1]
  layers:
    - Conv2D: {filters: 8, kernel_size: 3}
    - GlobalAveragePooling2D
    - Dense: {units: 4, activation: softmax}
train:
  optimizer: {Adam: {learning_rate: 0.01}}
"""


def problems(write_config, search: str) -> list[str]:
    with pytest.raises(CnnctlError) as exc:
        load_config(write_config(BASE + search))
    return [str(p) for p in exc.value.problems]


def test_a_search_section_loads_beside_the_config_and_stays_out_of_what_a_run_trains(write_config):
    config = load_config(write_config(BASE + """\
search:
  trials: 5
  metric: val_accuracy
  space:
    train.optimizer.Adam.learning_rate: {loguniform: [1e-4, 0.1]}
    train.batch_size: {choice: [16, 32]}
    model.layers.0.Conv2D.filters: {int: [4, 16], step: 4}
"""))
    assert config.search.trials == 5
    # PyYAML reads 1e-4 as the text '1e-4'; a range reads it as the number it means
    assert config.search.space["train.optimizer.Adam.learning_rate"].loguniform == [1e-4, 0.1]
    assert config.search.space["model.layers.0.Conv2D.filters"].integer == [4, 16]
    assert "search" not in config.resolved()


def test_each_mistake_in_the_search_section_is_reported_at_its_line(write_config):
    found = problems(write_config, """\
search:
  metric: val_acuracy
  space:
    train.batch_size: {choice: [16, 32], int: [1, 3]}
    foo.bar: {uniform: [0, 1]}
    model.layers.0.Conv2D.filters: {int: [16, 4]}
    train.optimizer.Adam.learning_rate: {loguniform: [0, 0.1]}
    train.epochs: {int: [1, 3], step: 0.5}
""")
    net = found[0].split(":")[0]
    assert found == [
        f"{net}:10: search.metric: the run logs no metric named 'val_acuracy' (did you mean 'val_accuracy' or "
        "'accuracy'?)",
        f"{net}:12: search.space.train.batch_size: give exactly one of loguniform, uniform, int, choice, not int "
        "and choice (e.g. {loguniform: [1.0e-4, 0.1]} or {choice: [32, 64]})",
        f"{net}:13: search.space.foo.bar: 'foo.bar' is not a config key a trial can change (a dotted key under "
        "data, model, train, as --set takes it: train.batch_size)",
        f"{net}:14: search.space.model.layers.0.Conv2D.filters.int: low 16 is not below high 4 (write [low, high]; "
        "a fixed value is set in the config itself)",
        f"{net}:15: search.space.train.optimizer.Adam.learning_rate.loguniform: a log scale starts above 0, not at "
        "0.0 (use uniform, or a positive low end)",
        f"{net}:16: search.space.train.epochs.step: an int range steps by whole numbers, not 0.5",
    ]


def test_a_range_end_that_is_not_a_number_says_what_it_got(write_config):
    found = problems(write_config, """\
search:
  space:
    train.optimizer.Adam.learning_rate: {loguniform: [one, 0.1]}
""")
    assert found[0].endswith(":11: search.space.train.optimizer.Adam.learning_rate.loguniform.0: expected a valid "
                             "number, got 'one'")


@pytest.mark.slow
def test_train_trains_a_config_with_a_search_section_as_written(write_config, tmp_path):
    from tests.conftest import ROOT, cli

    result = cli("train", ROOT / "configs" / "tune_smoke.yaml", "--runs-dir", tmp_path, "--quiet", "--device", "cpu",
                 "--set", "train.epochs=1", "--set", "data.synthetic.train_size=100",
                 "--set", "data.synthetic.test_size=40")
    assert result.exit_code == 0, result.output
    assert "its search: is for `cnnctl tune" in result.output
    assert load_config(tmp_path / "tune_smoke" / "config.yaml").search is None


def test_trials_run_in_fresh_processes_unless_the_search_says_shared_and_a_wrong_word_is_at_its_line(
        write_config):
    space = "  space:\n    train.batch_size: {choice: [16, 32]}\n"
    assert load_config(write_config(BASE + "search:\n" + space)).search.process == "fresh"
    assert load_config(write_config(BASE + "search:\n  process: shared\n" + space)).search.process == "shared"
    [found] = problems(write_config, "search:\n  process: forked\n" + space)
    assert found.split(":", 1)[1].startswith("10: search.process: ") and "'fresh' or 'shared'" in found, found
