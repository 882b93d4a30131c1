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
from cnnctl.config.search import check_search
from cnnctl.config.spec import ConfigFile, DataSection, ModelSection, SearchSection, TrainSection
from cnnctl.errors import CnnctlError, Problem, did_you_mean, in_file_order

EXTENSION_PREFIX = "x-"  # top-level keys that cnnctl ignores: a home for YAML anchors, as in Compose files
PATH_KEYS = ("path", "test_path", "data_dir", "cache_dir")  # data keys naming files or folders (see `_resolve_paths`)


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
    search: SearchSection | None = None  # `cnnctl tune`'s; not part of what a run trains (`resolved`)
    overrides: tuple[str, ...] = field(default=(), compare=False)  # the `--set`s applied to the file, as given

    def resolved(self) -> dict[str, Any]:
        """The whole config as plain data, defaults included: what reproduces a run.

        Data paths are absolute (`_resolve_paths`), so the copy in a run folder finds the data from anywhere.
        """
        data = ConfigFile(name=self.name, data=self.data, model=self.model, train=self.train)
        return data.model_dump(mode="json", exclude={"search"})  # a trial's, or best.yaml, is a plain config

    def input_order_hint(self) -> str | None:
        """The fix for the lecture's `input_shape: [1, 28, 28]` written without `data_format`.

        Read channels-last, that is 1 row of 28 pixels with 28 channels each, so the first 3×3 window
        "does not fit its 1×28 input" and MNIST's 28×28×1 images do not match it: a first dimension of
        1, 3 or 4 (grey, RGB, RGBA) far smaller than the other two is a channel count.
        """
        shape = self.model.input_shape
        if (self.model.data_format == "channels_last" and len(shape) == 3 and shape[0] in (1, 3, 4)
                and min(shape[1:]) >= 4 * shape[0]):
            return (f"if {shape} is [channels, height, width], as the lecture writes it, add "
                    "model.data_format: channels_first")
        return None

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
    return _validate(data, origins, overrides, Path(path).stem, os.path.dirname(os.path.abspath(path)))


def peek_distribution(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> tuple[str, Any] | None:
    """`train.distribution` alone, as (name, options), read before the config is validated.

    A distribution strategy has to be made before TensorFlow starts its runtime (it configures
    collectives and logical devices), and validating a config runs Keras. None where the value cannot
    be read: `load_config` then says what is wrong with it.
    """
    try:
        data, origins = read_yaml(path)
        data = apply_overrides(data if isinstance(data, dict) else {}, overrides, origins)
        train = data.get("train") or {}
        return TrainSection.model_validate({"distribution": train.get("distribution", "none")}).strategy()
    except (CnnctlError, pydantic.ValidationError, AttributeError, TypeError):
        return None


def parse_config(text: str, overrides: list[str] | tuple[str, ...] = (), name: str = "config") -> Config:
    """The same as `load_config`, for YAML text (notebooks, tests)."""
    data, origins = parse_yaml(text, "<string>")
    return _validate(data, origins, overrides, name, os.getcwd())


def _validate(data: Any, origins: Origins, overrides: list[str] | tuple[str, ...], stem: str,
              folder: str) -> Config:
    """Every problem of every section, then the `Config`; `folder`: where the file's data paths start.

    Each section is validated on its own, so a mistake in one (a wrong type, an unknown key) does
    not hide those in the others: the checks of every section that parsed still run.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CnnctlError(Problem("a config is a mapping of sections (data, model, train)", origins.file, 1,
                                  hint="start with 'model:'"))
    data = apply_overrides(data, overrides, origins)
    data = {k: v for k, v in data.items() if not str(k).startswith(EXTENSION_PREFIX)}
    sections = _parse_sections(data, origins)
    problems = sections.problems
    model, layers = sections.model, []
    if sections.usable("model", "layers"):
        layers, p = parse_layers(data["model"]["layers"], origins)
        problems += p
    if model is not None:
        problems += _check_shape(model, origins)
    if sections.data is not None:
        sections.data = _resolve_paths(sections.data, origins, folder)
        refused = sections.bad["data"]
        problems += check_data(sections.data, origins, refused)
        if model is not None and not refused & {"source", "synthetic"}:
            problems += check_synthetic_size(sections.data, model, origins)
    train, components = sections.train, ()
    if train is not None:
        train, components, p = _parse_train(train, origins, sections.bad["train"])
        problems += p
    if sections.search is not None and train is not None and not sections.bad["train"]:
        problems += check_search(sections.search, logged_metrics(components[2], train.validation is not None)
                                 if None not in components[2] else None, origins)
    if problems:
        # The data section, if it loaded, goes with the error: `validate` still looks for its files, so a
        # mistake in another section hides no missing one.
        data_loaded = sections.data is not None and not sections.bad["data"]
        raise CnnctlError(in_file_order(problems), loaded=(sections.data, origins) if data_loaded else None)
    return Config(sections.name or stem, sections.data, model, train, tuple(layers), *components,
                  origins.file, origins, sections.search, tuple(overrides))


def _resolve_paths(data: DataSection, origins: Origins, folder: str) -> DataSection:
    """Data paths made absolute: one written in the file starts at the file's folder, as the schema
    modeline beside it does (and as in Compose files), so a config finds its data from wherever cnnctl
    runs; one given with `--set` starts at the current folder, as anything typed at a prompt does.
    `~` is the home folder. A text config (`parse_config`) has no folder: its paths start at the current one.
    """
    update = {}
    for key in PATH_KEYS:
        value = getattr(data, key)
        if value is not None:
            start = os.getcwd() if origins.overridden(("data", key)) else folder
            update[key] = os.path.normpath(os.path.join(start, os.path.expanduser(value)))
    return data.model_copy(update=update)


@dataclass
class _Sections:
    """What pydantic accepted of each section (None: nothing usable), the keys it refused, and why.

    `bad` holds, by section, the keys pydantic refused; a section refused whole is not in it.
    """

    name: str | None = None
    data: DataSection | None = None
    model: ModelSection | None = None
    train: TrainSection | None = None
    search: SearchSection | None = None
    bad: dict[str, set[str]] = field(default_factory=lambda: {key: set() for key in SECTIONS})
    problems: list[Problem] = field(default_factory=list)

    def usable(self, section: str, key: str) -> bool:
        """Did pydantic accept this key (so a check of it reads what the user wrote, not a default)?"""
        return section in self.bad and key not in self.bad[section]


SECTIONS = {"data": DataSection, "model": ModelSection, "train": TrainSection, "search": SearchSection}
OPTIONAL = {"search"}  # sections that are absent (None) unless written, rather than all defaults


def _parse_sections(data: dict[str, Any], origins: Origins) -> _Sections:
    """Each section as pydantic validates it, the keys it refused left out.

    A section with a refused key is validated again without it, so the checks of its other keys
    still run (an unknown `train.nb_epoch` must not hide the optimizer's mistakes); those keys take
    their defaults, which the checks of the keys around them are told (`_Sections.usable`). A section
    that is not a mapping, or lacks a required key, is left out whole.
    """
    try:
        file = ConfigFile.model_validate(data)
    except pydantic.ValidationError as exc:
        errors = exc.errors()
        problems = _translate(exc, data, origins)
    else:
        return _Sections(file.name, file.data, file.model, file.train, file.search)
    whole = {err["loc"][0] for err in errors if len(err["loc"]) == 1}
    bad = {key: {err["loc"][1] for err in errors if len(err["loc"]) > 1 and err["loc"][0] == key}
           for key in SECTIONS if key not in whole}
    parsed = _Sections(None if "name" in whole else data.get("name"), bad=bad, problems=problems)
    for key, cls in SECTIONS.items():
        if key in whole or (key in OPTIONAL and data.get(key) is None):
            continue
        raw = data.get(key, {})
        try:
            setattr(parsed, key, cls.model_validate({k: v for k, v in raw.items() if k not in bad[key]}))
        except pydantic.ValidationError:  # a required key was refused: only its siblings' own checks run
            pass
    return parsed


def _parse_train(train: TrainSection, origins: Origins, bad: set[str]) -> tuple[TrainSection, tuple, list[Problem]]:
    """The train section with its Keras names resolved: `(train, (loss, optimizer, metrics, schedule), problems)`.

    `bad`: keys pydantic refused, at their defaults here: the monitors are not checked against them.
    """
    problems: list[Problem] = []
    loss, p1 = parse_component("losses", train.loss, ("train", "loss"), origins)
    optimizer, p2 = parse_component("optimizers", train.optimizer, ("train", "optimizer"), origins)
    problems += p1 + p2
    metrics = []
    for i, raw in enumerate(train.metrics):
        metric, p = parse_component("metrics", raw, ("train", "metrics", i), origins)
        problems += p
        metrics.append(metric)
    schedule, p = _parse_schedule(train, optimizer, origins)
    problems += p
    if schedule is not None and schedule.kind == "schedules" and "on_divergence" not in train.model_fields_set:
        train.on_divergence = "stop"  # cnnctl cannot halve a rate that a schedule computes
    # with a metric unknown (or refused), what the run logs is unknown too
    if None not in metrics and not bad & {"metrics", "validation", "lr_schedule", "early_stopping"}:
        problems += _check_monitors(train, metrics, schedule, origins)
    if train.early_stopping is not None:
        cls = keras_catalog.classes("callbacks")["EarlyStopping"]
        stopping, p = parse_arguments(cls, train.early_stopping, ("train", "early_stopping"), origins)
        problems += p
        train = train.model_copy(update={"early_stopping": stopping})
    return train, (loss, optimizer, tuple(metrics), schedule), problems


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
