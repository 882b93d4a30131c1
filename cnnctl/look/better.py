"""Which way is better for a metric, told from its name alone: the look commands read files, not Keras.

A metric is minimized when its name (any `val_` prefix aside) contains `loss`, `error`,
`crossentropy`, `hinge`, `divergence`, `poisson`, `logcosh` or `false_`, or is one of Keras' short
names `mae`, `mse`, `mape`, `msle`; every other (accuracy, auc, precision, recall, f1_score, ...) is
maximized. These are the directions Keras' own metrics carry (`_direction`), spelt as names.
"""

from __future__ import annotations

LOWER_IS_BETTER = ("loss", "error", "crossentropy", "hinge", "divergence", "poisson", "logcosh", "false_")
SHORT_ERRORS = {"mae", "mse", "mape", "msle"}


def minimized(metric: str) -> bool:
    """Whether a lower value of `metric` is better (the rule above)."""
    name = metric.removeprefix("val_").lower()
    return name in SHORT_ERRORS or any(word in name for word in LOWER_IS_BETTER)


def ranked(metric: str, value: float) -> float:
    """`value` turned so that smaller is better, whichever way `metric` goes: a sort key."""
    return value if minimized(metric) else -value


def best_of(metric: str, values: list[float | None]) -> list[int]:
    """The positions of the best of `values` (all of them when tied); none when the known values are all
    equal, as then no run is better than another."""
    known = {i: ranked(metric, v) for i, v in enumerate(values) if v is not None}
    if len(set(known.values())) < 2:
        return []
    top = min(known.values())
    return [i for i, v in known.items() if v == top]
