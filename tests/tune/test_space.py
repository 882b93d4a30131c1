"""The search space: values as `--set` takes them, Optuna's distributions, each end of each range checked
against the config before any trial, and a seeded sampler proposing the same trials every time."""

from __future__ import annotations

import pytest
import yaml

from cnnctl.config import load_config
from cnnctl.errors import CnnctlError

optuna = pytest.importorskip("optuna", reason='cnnctl tune needs the tune extra: pip install "cnnctl[tune]"')

from cnnctl.tune.space import check_ends, distributions, ends, trial_overrides, yaml_value  # noqa: E402
from cnnctl.tune.study import _component, _sampler  # noqa: E402

NET = """\
model:
  input_shape: [8, 8, 1]
  layers:
    - Conv2D: {filters: 4, kernel_size: 3}
    - GlobalAveragePooling2D
    - Dense: {units: 4, activation: softmax}
train:
  optimizer: {SGD: {learning_rate: 0.1}}
search:
  space:
"""


@pytest.mark.parametrize("value", [1e-5, 0.001, 3, "adam", True, None, {"SGD": {"learning_rate": 1e-3}}, [1, 2]])
def test_a_value_written_for_set_reads_back_as_the_same_value(value):
    assert yaml.safe_load(yaml_value(value)) == value


def test_a_small_float_is_written_with_a_dot_so_yaml_reads_a_number():
    assert yaml_value(1e-5) == "1.0e-05"


def test_ranges_become_optunas_distributions_and_choices_that_are_mappings_come_back_whole(write_config):
    config = load_config(write_config(NET + """\
    train.optimizer.SGD.learning_rate: {loguniform: [1e-3, 0.3]}
    train.batch_size: {choice: [16, 32]}
    model.layers.0.Conv2D.filters: {int: [4, 16], step: 4}
    train.optimizer: {choice: [adam, {SGD: {momentum: 0.9}}]}
"""))
    space = config.search.space
    found = distributions(space)
    assert found["train.optimizer.SGD.learning_rate"] == optuna.distributions.FloatDistribution(1e-3, 0.3, log=True)
    assert found["model.layers.0.Conv2D.filters"] == optuna.distributions.IntDistribution(4, 16, step=4)
    assert found["train.optimizer"].choices == ("adam", "{SGD: {momentum: 0.9}}")
    params = {"train.optimizer.SGD.learning_rate": 0.01, "train.batch_size": 32,
              "model.layers.0.Conv2D.filters": 8, "train.optimizer": "{SGD: {momentum: 0.9}}"}
    assert trial_overrides(space, params) == ["train.optimizer.SGD.learning_rate=0.01", "train.batch_size=32",
                                              "model.layers.0.Conv2D.filters=8",
                                              "train.optimizer={SGD: {momentum: 0.9}}"]


def test_the_ends_of_a_stepped_range_are_the_values_optuna_can_draw(write_config):
    config = load_config(write_config(NET + "    model.layers.0.Conv2D.filters: {int: [4, 18], step: 4}\n"))
    assert ends(config.search.space["model.layers.0.Conv2D.filters"]) == [("low end 4", 4), ("high end 16", 16)]


def test_every_end_of_every_range_is_checked_before_any_trial_each_at_its_line(write_config):
    path = write_config(NET + """\
    model.layers.0.Conv2D.kernel_size: {int: [1, 9]}
    train.optimizer.SGD.momentum: {uniform: [0.5, 0.9]}
    train.optimizer.SGD.learning_rat: {loguniform: [1e-3, 0.1]}
    train.batch_size: {choice: [16, -1]}
""")
    config = load_config(path)
    with pytest.raises(CnnctlError) as exc:
        check_ends(config, path, ())
    found = [str(p).removeprefix(f"{path}:") for p in exc.value.problems]
    assert found[0].startswith("11: search.space.model.layers.0.Conv2D.kernel_size: at its high end 9: ")
    assert "does not fit" in found[0]
    assert found[1:] == [
        "13: search.space.train.optimizer.SGD.learning_rat: at its low end 0.001: unknown argument 'learning_rat' "
        "for SGD (did you mean 'learning_rate'?)",  # said once: the high end has the same problem
        "14: search.space.train.batch_size: at its choice -1: expected greater than 0, got -1",
    ]


def test_a_sampler_or_pruner_is_optunas_own_by_name_with_its_arguments(write_config):
    config = load_config(write_config(NET + "    train.batch_size: {choice: [16, 32]}\n  sampler: TPESamplr\n"
                                      "  pruner: {MedianPruner: {patience: 2}}\n"))
    with pytest.raises(CnnctlError, match=r":12: search.sampler: optuna.samplers has no 'TPESamplr' \(did you "
                                          r"mean 'TPESampler'"):
        _component(config.search.sampler, "samplers", config)
    with pytest.raises(CnnctlError, match=r":13: search.pruner.MedianPruner.patience: MedianPruner takes no "
                                          r"argument 'patience'"):
        _component(config.search.pruner, "pruners", config)


def propose(spec, space, seed, n=4):
    """The params a fresh study proposes for `n` trials, each told a value that depends on its params."""
    study = optuna.create_study(direction="maximize")
    proposed = []
    for _ in range(n):
        trial = study.ask()
        study.sampler = _sampler(spec, seed, trial.number)
        params = {k: trial._suggest(k, d) for k, d in distributions(space).items()}
        study.tell(trial, sum(float(v) for v in params.values() if not isinstance(v, str)))
        proposed.append(params)
    return proposed


def test_a_seeded_study_proposes_the_same_trials_and_each_trial_its_own(write_config):
    config = load_config(write_config(NET + """\
    train.optimizer.SGD.learning_rate: {loguniform: [1e-3, 0.3]}
    train.batch_size: {choice: [16, 32, 64]}
"""))
    spec = _component("TPESampler", "samplers", config)
    first = propose(spec, config.search.space, 7)
    assert first == propose(spec, config.search.space, 7)
    assert first != propose(spec, config.search.space, 8)
    rates = [p["train.optimizer.SGD.learning_rate"] for p in first]
    assert len(set(rates)) == len(rates)  # workers started together do not propose the same trial
