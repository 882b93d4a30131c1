"""From a YAML file (plus `--set` overrides) to one validated, resolved `Config`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic

from cnnctl import keras_catalog
from cnnctl.config.arguments import parse_arguments
from cnnctl.config.components import ComponentSpec, logged_metrics, parse_component
from cnnctl.config.data import check_data, check_synthetic_size
from cnnctl.config.layers import LayerSpec, parse_layers
from cnnctl.config.overrides import apply_overrides
from cnnctl.config.source import Origins, parse_yaml, read_yaml
from cnnctl.config.spec import ConfigFile, DataSection, ModelSection, TrainSection
from cnnctl.errors import CnnctlError, Problem, did_you_mean

EXTENSION_PREFIX = "x-"
PATH_KEYS = ("path", "test_path", "data_dir")  # data keys naming files or folders, relative to the current folder  # top-level keys that cnnctl ignores: a home for YAML anchors, as in Compose files


@dataclass(frozen=True)
class Config:
    """A checked config: every value typed, every default filled, every Keras name resolved."""

    name: str
    data: DataSection
    model: ModelSection
    train: TrainSection
    layers: tuple[LayerSpec, ...]
    loss: ComponentSpec
    optimizer: ComponentSpec
    metrics: tuple[ComponentSpec, ...]
    lr_schedule: ComponentSpec | None = None
    source: str = "<string>"
    origins: Origins = field(default_factory=lambda: Origins("<string>"), compare=False, repr=False)

    def resolved(self) -> dict[str, Any]:
        """The whole config as plain data, defaults included: what reproduces a run.

        Data paths become absolute, so the copy in a run folder still finds the data from anywhere.
        """
        data = ConfigFile(name=self.name, data=self.data, model=self.model, train=self.train)
        resolved = data.model_dump(mode="json")
        for key in PATH_KEYS:
            if resolved["data"].get(key):
                resolved["data"][key] = os.path.abspath(os.path.expanduser(resolved["data"][key]))
        return resolved

    def in_config_order(self, shape: tuple) -> tuple:
        """A channels-last image shape (as the model is built) in the order the config writes it.

        `(C, H, W)` for `data_format: channels_first`, so what is printed reads like the config's input_shape.
        """
        if self.model.data_format == "channels_first" and len(shape) == 3:
            return (shape[2], shape[0], shape[1])
        return shape

    @property
    def monitor(self) -> str:
        """What picks best.keras: the configured metric, else `val_loss` with validation, else `loss`."""
        if self.train.monitor:
            return self.train.monitor
        return "val_loss" if self.train.validation is not None else "loss"

    def logged_metrics(self) -> list[str]:
        """What `fit` logs each epoch, by the names Keras gives them: what a monitor may name."""
        return logged_metrics(self.metrics, self.train.validation is not None)

    def error(self, path: tuple, message: str, hint: str | None = None) -> CnnctlError:
        """An error pointing at `path` in the file (or at the `--set` that changed it)."""
        return self.origins.error(path, message, hint)


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read, override and validate a config file; raise `CnnctlError` listing every problem."""
    data, origins = read_yaml(path)
    return _validate(data, origins, overrides, Path(path).stem)


def parse_config(text: str, overrides: list[str] | tuple[str, ...] = (), name: str = "config") -> Config:
    """The same as `load_config`, for YAML text (notebooks, tests)."""
    data, origins = parse_yaml(text, "<string>")
    return _validate(data, origins, overrides, name)


def _validate(data: Any, origins: Origins, overrides: list[str] | tuple[str, ...], stem: str) -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CnnctlError(Problem("a config is a mapping of sections (data, model, train)", origins.file, 1,
                                  hint="start with 'model:'"))
    data = apply_overrides(data, overrides, origins)
    data = {k: v for k, v in data.items() if not str(k).startswith(EXTENSION_PREFIX)}
    try:
        file = ConfigFile.model_validate(data)
    except pydantic.ValidationError as exc:
        raise CnnctlError(_translate(exc, data, origins)) from None
    problems: list[Problem] = []
    layers, layer_problems = parse_layers(file.model.layers, origins)
    problems += layer_problems
    problems += _check_shape(file.model, origins)
    problems += check_data(file.data, origins)
    problems += check_synthetic_size(file.data, file.model, origins)
    loss, p1 = parse_component("losses", file.train.loss, ("train", "loss"), origins)
    optimizer, p2 = parse_component("optimizers", file.train.optimizer, ("train", "optimizer"), origins)
    problems += p1 + p2
    metrics = []
    for i, raw in enumerate(file.train.metrics):
        metric, p = parse_component("metrics", raw, ("train", "metrics", i), origins)
        problems += p
        metrics.append(metric)
    schedule, p = _parse_schedule(file.train, optimizer, origins)
    problems += p
    if schedule is not None and schedule.kind == "schedules" and "on_divergence" not in file.train.model_fields_set:
        file.train.on_divergence = "stop"  # cnnctl cannot halve a rate that a schedule computes
    if None not in metrics:  # with a metric unknown, what the run logs is unknown too
        problems += _check_monitors(file.train, metrics, schedule, origins)
    train = file.train
    if train.early_stopping is not None:
        cls = keras_catalog.classes("callbacks")["EarlyStopping"]
        stopping, p = parse_arguments(cls, train.early_stopping, ("train", "early_stopping"), origins)
        problems += p
        train = train.model_copy(update={"early_stopping": stopping})
    if problems:
        raise CnnctlError(problems)
    return Config(file.name or stem, file.data, file.model, train, tuple(layers), loss, optimizer,
                  tuple(metrics), schedule, origins.file, origins)


# Keras' learning-rate schedules are functions of the step; ReduceLROnPlateau is a callback that
# changes the rate between epochs. Both are written under `lr_schedule`.
PLATEAU = "ReduceLROnPlateau"


def _parse_schedule(train: TrainSection, optimizer: ComponentSpec | None,
                    origins: Origins) -> tuple[ComponentSpec | None, list[Problem]]:
    raw, path = train.lr_schedule, ("train", "lr_schedule")
    if raw is None:
        return None, []
    name = raw if isinstance(raw, str) else next(iter(raw), "")
    if name == PLATEAU:
        args = (raw.get(PLATEAU) or {}) if isinstance(raw, dict) else {}
        cls = keras_catalog.classes("callbacks")[PLATEAU]
        args, problems = parse_arguments(cls, args, path + (PLATEAU,), origins)
        return ComponentSpec("callbacks", PLATEAU, args), problems
    schedule, problems = parse_component("schedules", raw, path, origins)
    if schedule is None:
        return None, problems
    if train.on_divergence == "halve" and "on_divergence" in train.model_fields_set:
        problems.append(origins.problem(("train", "on_divergence"), "halving on divergence needs a learning rate "
                                        "cnnctl can change", f"use a constant rate or {PLATEAU} with it"))
    if optimizer is not None and "learning_rate" in optimizer.args:
        problems.append(origins.problem(("train", "optimizer", optimizer.name, "learning_rate"),
                                        "the learning rate comes from train.lr_schedule",
                                        "remove it here and set the schedule's initial_learning_rate"))
    return schedule, problems


def _check_monitors(train: TrainSection, metrics: list[ComponentSpec], schedule: ComponentSpec | None,
                    origins: Origins) -> list[Problem]:
    """Every monitor names something the run logs: a misspelt one never saves best.keras, never stops early."""
    monitors = [(("train", "monitor"), train.monitor)]
    if isinstance(train.early_stopping, dict):
        monitors.append((("train", "early_stopping", "monitor"), train.early_stopping.get("monitor")))
    if schedule is not None and schedule.name == PLATEAU:
        monitors.append((("train", "lr_schedule", PLATEAU, "monitor"), schedule.args.get("monitor")))
    logged = logged_metrics(metrics, train.validation is not None)
    problems = []
    for path, monitor in monitors:
        if monitor is None or monitor in logged:
            continue
        if isinstance(monitor, str) and monitor.startswith("val_") and monitor[4:] in logged:
            hint = f"train.validation is null, so nothing is validated: set it, or monitor '{monitor[4:]}'"
        else:
            hint = (isinstance(monitor, str) and did_you_mean(monitor, logged)) or f"it logs {', '.join(logged)}"
        problems.append(origins.problem(path, f"the run logs no metric named {monitor!r}", hint))
    return problems


def _check_shape(model: ModelSection, origins: Origins) -> list[Problem]:
    if model.data_format == "channels_first" and len(model.input_shape) != 3:
        return [origins.problem(("model", "input_shape"), "channels_first needs [channels, height, width]",
                                f"got {model.input_shape}")]
    return []


def _translate(exc: pydantic.ValidationError, data: Any, origins: Origins) -> list[Problem]:
    """Pydantic's errors, one line each, at the key path the user wrote."""
    problems: dict[tuple, Problem] = {}
    for err in exc.errors():
        path = _data_path(err["loc"], data)
        if path in problems:  # a union reports once per member; the first is enough
            continue
        if err["type"] == "extra_forbidden":
            known = _fields_at(path[:-1])
            hint = did_you_mean(str(path[-1]), known) or (f"known keys: {', '.join(known)}" if known else None)
            problems[path] = origins.problem(path, f"unknown key '{path[-1]}'", hint)
        elif err["type"] == "missing":
            problems[path] = origins.problem(path[:-1], f"missing required key '{path[-1]}'")
        elif err["type"] == "too_short":
            problems[path] = origins.problem(path, f"needs at least {err['ctx']['min_length']} item(s)")
        elif err["type"] == "string_pattern_mismatch":
            problems[path] = origins.problem(path, f"{err['input']!r} is not a plain name",
                                             "use letters, digits, '_', '-' and '.'")
        else:
            message = err["msg"].replace("Input should be", "expected").replace("Input ", "value ")
            problems[path] = origins.problem(path, f"{message}, got {err['input']!r}")
    return list(problems.values())


def _data_path(loc: tuple, data: Any) -> tuple:
    """Drop the parts of pydantic's `loc` that name union members rather than keys in the data."""
    path: list = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        elif not isinstance(node, (dict, list)) or _is_union_tag(part):
            continue
        else:
            node = None
        path.append(part)
    return tuple(path)


def _is_union_tag(part: Any) -> bool:
    """`str`, `constrained-float`, `literal['test']`, `dict[str,...]`: pydantic's names for union members."""
    return isinstance(part, str) and ("[" in part or "-" in part or part in {"str", "int", "float", "bool", "none"})


def _fields_at(path: tuple) -> list[str]:
    model: Any = ConfigFile
    for part in path:
        info = model.model_fields.get(part) if isinstance(part, str) else None
        if info is None or not (isinstance(info.annotation, type) and issubclass(info.annotation, pydantic.BaseModel)):
            return []
        model = info.annotation
    return list(model.model_fields)
