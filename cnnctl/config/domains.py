"""Values Keras accepts but no training can use: the documented ranges of a few hyperparameters.

Keras checks the type of most arguments and the range of very few, so a
negative learning rate, `momentum: 5` or `Dropout: {rate: 1}` reaches
`fit` and trains nowhere, or fails there with a traceback. This table holds
the ranges that Keras' docstrings or the papers behind the classes state,
keyed by the Keras class that documents the argument (the first match in a
class's MRO wins, so a subclass can narrow its parent). It is kept small on
purpose: only arguments whose wrong values are both plausible and silent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Domain:
    """An interval of finite numbers; `why` says where it comes from and what goes wrong outside."""

    low: float
    high: float = math.inf
    low_open: bool = False
    high_open: bool = True
    why: str = ""

    def __contains__(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        if self.high == math.inf:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


RATE = Domain(0, low_open=True, why="a learning rate of 0 or below never descends")
DECAY = Domain(0, 1, why="a moving average's decay rate, in [0, 1) in Kingma & Ba 2015 (Adam) and Zeiler 2012 "
                         "(Adadelta); at 1 the average never changes")
DROP = Domain(0, 1, why="the fraction of units dropped; at 1 nothing reaches the next layer")

DOMAINS: dict[str, dict[str, Domain]] = {
    # keras.optimizers.Optimizer and its subclasses' docstrings.
    "BaseOptimizer": {
        "learning_rate": RATE,
        "momentum": Domain(0, 1, high_open=False, why="SGD documents a float >= 0, and Keras refuses more than 1"),
        "beta_1": DECAY,
        "beta_2": DECAY,
        "rho": DECAY,
        "epsilon": Domain(0, low_open=True, why="the small constant added to a denominator for numerical stability"),
        "clipnorm": Domain(0, low_open=True, why="gradients are clipped to this norm; 0 zeroes every gradient"),
        "clipvalue": Domain(0, low_open=True, why="gradients are clipped to ±this value; 0 zeroes every gradient"),
        "global_clipnorm": Domain(0, low_open=True, why="gradients are clipped to this norm; 0 zeroes every gradient"),
        "weight_decay": Domain(0, why="a negative decay grows the weights"),
    },
    # keras.optimizers.schedules: rates, and step counts the step is divided by.
    "LearningRateSchedule": {
        "initial_learning_rate": RATE,
        "warmup_target": RATE,
        "end_learning_rate": Domain(0, why="a learning rate below 0 ascends the loss"),
        "decay_steps": Domain(0, low_open=True, why="the step is divided by decay_steps"),
        "first_decay_steps": Domain(0, low_open=True, why="the step is divided by first_decay_steps"),
        "decay_rate": Domain(0, low_open=True, why="the rate is multiplied by a power of it"),
    },
    # keras.callbacks.ReduceLROnPlateau: `new_lr = lr * factor`, and Keras refuses factor >= 1.
    "ReduceLROnPlateau": {
        "factor": Domain(0, 1, low_open=True, why="new_lr = lr * factor: it must shrink the rate and keep it above 0"),
        "min_lr": Domain(0, why="a learning rate below 0 ascends the loss"),
    },
    # keras.layers: "Float between 0 and 1. Fraction of the input units to drop."
    "Dropout": {"rate": DROP},
    "GaussianDropout": {"rate": DROP},
    "AlphaDropout": {"rate": DROP},
}

# CosineDecay's warm-up climbs from initial_learning_rate to warmup_target, so it may start at 0.
WARMUP_FROM_ZERO = ("initial_learning_rate", "warmup_target")


def domain_of(cls: type, key: str) -> Domain | None:
    """The documented range of `cls`'s argument `key`, if the table has one."""
    for klass in cls.__mro__:
        if key in DOMAINS.get(klass.__name__, {}):
            return DOMAINS[klass.__name__][key]
    return None


def outside(cls: type, key: str, value: Any, args: dict[str, Any]) -> Domain | None:
    """The domain `value` violates, or None (also for values that are not numbers: their type is checked elsewhere)."""
    domain = domain_of(cls, key)
    if domain is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if (key, value) == (WARMUP_FROM_ZERO[0], 0) and args.get(WARMUP_FROM_ZERO[1]):
        return None
    return None if value in domain else domain
