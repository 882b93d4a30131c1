"""Property: any mutation of a valid config is either a valid config or a clean CnnctlError.

Never another exception (a traceback for the user), never a hang or a huge allocation.
"""

from __future__ import annotations

import copy

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnctl.config import parse_config
from cnnctl.errors import CnnctlError
from cnnctl.model import build_model, check_output
from tests.conftest import LECTURE_YAML

VALID = yaml.safe_load(LECTURE_YAML + """\
train:
  loss: categorical_crossentropy
  optimizer: {SGD: {learning_rate: 0.1, momentum: 0.9}}
  batch_size: 100
  epochs: 2
  metrics: [accuracy]
  lr_schedule: {ReduceLROnPlateau: {factor: 0.5}}
""")


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


PATHS = [p for p in _paths(VALID) if p]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.integers(-3, 64),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["same", "valid", "relu", "softmax", "Conv2D", "Dense", "input", "", "-1", "1e9"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=12)
mutations = st.lists(st.tuples(st.sampled_from(["replace", "delete", "add"]), st.sampled_from(PATHS),
                               st.text(min_size=1, max_size=10), values), min_size=1, max_size=4)


def _mutate(data, kind, path, key, value):
    parent = data
    for step in path[:-1]:
        if isinstance(parent, dict) and step in parent or isinstance(parent, list) and isinstance(step, int) \
                and step < len(parent):
            parent = parent[step]
        else:
            return
    last = path[-1]
    if isinstance(parent, dict) and last in parent or isinstance(parent, list) and isinstance(last, int) \
            and last < len(parent):
        if kind == "replace":
            parent[last] = value
        elif kind == "delete":
            del parent[last]
        elif isinstance(parent[last], dict):
            parent[last][key] = value


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations)
def test_mutated_configs_are_valid_or_clean_errors(changes):
    data = copy.deepcopy(VALID)
    for change in changes:
        _mutate(data, *change)
    text = yaml.safe_dump(data)
    try:
        config = parse_config(text)
        model = build_model(config)
        check_output(config, model)
    except CnnctlError as error:
        assert error.problems and all(str(p) for p in error.problems)
