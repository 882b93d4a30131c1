"""What Keras offers, by name: layers, losses, optimizers, metrics, schedules, callbacks.

Nothing here is a hand-written table of Keras: names come from Keras' own
namespaces, arguments from the real `__init__` signatures and the types and
one-line descriptions from the `Args:` section of Keras' docstrings.
Keras (and so TensorFlow) is imported on first use only.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import os
import re
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

# namespace key -> (dotted attribute of the keras module, its base class there)
NAMESPACES: dict[str, tuple[str, str]] = {
    "layers": ("layers", "layers.Layer"),
    "losses": ("losses", "losses.Loss"),
    "optimizers": ("optimizers", "optimizers.Optimizer"),
    "metrics": ("metrics", "metrics.Metric"),
    "schedules": ("optimizers.schedules", "optimizers.schedules.LearningRateSchedule"),
    "callbacks": ("callbacks", "callbacks.Callback"),
}

SINGULAR = {"layers": "layer", "losses": "loss", "optimizers": "optimizer", "metrics": "metric",
            "schedules": "learning-rate schedule", "callbacks": "callback"}

# Layers that wrap Python code, foreign frameworks or files on disk: a config
# must not be able to run code or load objects the user did not choose.
UNSAFE_LAYERS = frozenset({"Lambda", "TFSMLayer", "TorchModuleWrapper", "JaxLayer", "FlaxLayer"})


@functools.cache
def keras() -> ModuleType:
    """Import Keras on the TensorFlow backend, with TensorFlow's start-up chatter silenced.

    TensorFlow's C++ libraries log (oneDNN notices, CUDA probing) before its
    log level is read, so the process's stderr is muted while it loads and
    looks for devices. `CNNCTL_DEBUG=1` (`cnnctl --debug`) keeps everything.
    """
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _muted_stderr(os.environ.get("CNNCTL_DEBUG") != "1"):
        import keras as _keras
        import tensorflow as tf

        tf.config.list_physical_devices()
    return _keras


@contextlib.contextmanager
def _muted_stderr(mute: bool):
    if not mute:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _namespace(kind: str) -> tuple[ModuleType, type]:
    return tuple(functools.reduce(getattr, path.split("."), keras()) for path in NAMESPACES[kind])


def _module(kind: str) -> ModuleType:
    """`keras.<kind>`: a namespace of NAMESPACES, or one without a base class (`activations`)."""
    path = NAMESPACES[kind][0] if kind in NAMESPACES else kind
    return functools.reduce(getattr, path.split("."), keras())


@functools.cache
def classes(kind: str) -> dict[str, type]:
    """Public classes of a Keras namespace that subclass its base class (aliases included)."""
    module, base = _namespace(kind)
    found = {}
    for name in dir(module):
        obj = getattr(module, name)
        if (name[0].isupper() and isinstance(obj, type) and issubclass(obj, base)
                and obj is not base and not inspect.isabstract(obj)):
            found[name] = obj
    if kind == "layers":
        for name in UNSAFE_LAYERS | {"InputLayer"}:
            found.pop(name, None)
        found.update(PLUGIN_LAYERS)
    return found


# Layer classes from modules the user named with `--plugin`: the one way custom code enters a model.
PLUGIN_LAYERS: dict[str, type] = {}


def load_plugin(module_name: str) -> list[str]:
    """Import a module the user named on the command line and offer its Layer subclasses by class name.

    Each class is registered with Keras' serialization, so models that use it save and load. Names and
    import failures are checked in `cnnctl.plugins`.
    """
    from cnnctl.errors import CnnctlError, Problem
    from cnnctl.plugins import import_plugin

    base = keras().layers.Layer
    module = import_plugin(module_name)
    found = [obj for obj in vars(module).values()
             if isinstance(obj, type) and issubclass(obj, base) and obj.__module__ == module.__name__]
    if not found:
        raise CnnctlError(Problem(f"--plugin {module_name}: the module defines no keras.layers.Layer subclass"))
    for cls in found:
        keras().saving.register_keras_serializable(package="cnnctl_plugin")(cls)
        PLUGIN_LAYERS[cls.__name__] = cls
    classes.cache_clear()
    arguments.cache_clear()
    return [cls.__name__ for cls in found]


@functools.cache
def functions(kind: str) -> dict[str, Any]:
    """Public snake_case functions of a namespace (`keras.losses.categorical_crossentropy`)."""
    module, _ = _namespace(kind)
    return {n: getattr(module, n) for n in dir(module)
            if n[0].islower() and not n.startswith("_") and callable(getattr(module, n))
            and n not in {"get", "serialize", "deserialize"}}


@dataclass(frozen=True)
class Argument:
    """One constructor argument as Keras declares and documents it."""

    name: str
    required: bool
    default: Any
    types: tuple[str, ...] | None  # JSON types the value may have; None: not known, Keras will check
    description: str

    @property
    def wants_float(self) -> bool:
        """Keras documents a float here (`A float`, `Float between 0 and 1`), or defaults to one."""
        return bool(self.types and "number" in self.types) or isinstance(self.default, float)


@functools.cache
def arguments(cls: type) -> dict[str, Argument]:
    """Every keyword a class accepts: its own `__init__`, then its parents' while `**kwargs` passes them on.

    A parent's argument that the child sets itself (`rank=2` in `Conv2D`) is
    not the user's to set, so it is left out.
    """
    docs: dict[str, str] = {}
    found: dict[str, Argument] = {}
    set_by_child: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        for name, desc in _documented_args(klass.__doc__ or "").items():
            docs.setdefault(name, desc)
        params = inspect.signature(klass.__init__).parameters
        for p in list(params.values())[1:]:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in found or p.name in set_by_child:
                continue
            if klass is not cls and p.default is p.empty:
                continue  # required by a parent, so always passed by the child
            found[p.name] = Argument(p.name, p.default is p.empty, None if p.default is p.empty else p.default,
                                     None, "")
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            break
        set_by_child |= _keywords_passed(klass)
    return {name: Argument(a.name, a.required, a.default, _types(docs.get(name, ""), a),
                           _first_sentence(docs.get(name, "")))
            for name, a in found.items()}


def _keywords_passed(klass: type) -> set[str]:
    """Names a class's `__init__` passes by keyword (to its parent), read from its source."""
    try:
        source = inspect.getsource(vars(klass)["__init__"])
    except (OSError, TypeError):
        return set()
    return set(re.findall(r"\b(\w+)\s*=(?!=)", source))


def _documented_args(doc: str) -> dict[str, str]:
    """The `Args:` section of a Google-style docstring, as name -> description."""
    section = re.search(r"^(\s*)Args:\n(.*?)(?=\n\s*\n\1\S|\Z)", doc, re.S | re.M)
    if not section:
        return {}
    lines = [line for line in section.group(2).splitlines() if line.strip()]
    if not lines:
        return {}
    indent = _indent(lines[0])
    out: dict[str, str] = {}
    current = None
    for line in lines:
        m = re.match(r"(\w+):\s?(.*)$", line.strip())
        if _indent(line) == indent and m:
            current = m.group(1)
            out[current] = m.group(2)
        elif current:
            out[current] += " " + line.strip()
    return out


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


_DOC_TYPE = re.compile(
    r"(?:an? )?(?:python )?(?:strictly positive |positive |non-negative |optional )?"
    r"(int|integer|float|bool|boolean|string|str)\b(?P<rest>.*)", re.I)
_JSON_TYPE = {"int": "integer", "integer": "integer", "float": "number", "bool": "boolean",
              "boolean": "boolean", "string": "string", "str": "string"}


def _types(desc: str, arg: Argument) -> tuple[str, ...] | None:
    """JSON types a value may take, when the docstring or the default says so plainly."""
    types: list[str] | None = None
    m = _DOC_TYPE.match(desc)
    if m:
        rest = m.group("rest").lstrip()
        types = [_JSON_TYPE[m.group(1).lower()]]
        # "Int, or tuple of 2 ints, or tuple of 2 tuples of 2 ints." (ZeroPadding2D) and "Integer, tuple of
        # integers, or None." (Normalization's axis) are as "int or tuple"
        if re.match(r",?\s*(or )?(an? )?(tuple|list)", rest):
            types.append("array")
        elif re.match(r",?\s*or |/", rest):
            types = None
    elif isinstance(arg.default, bool):
        types = ["boolean"]
    if types is None:
        return None
    if "number" in types:
        types.append("integer")
    if arg.default is None and not arg.required:
        types.append("null")
    return tuple(dict.fromkeys(types))


def _first_sentence(desc: str) -> str:
    text = re.sub(r"\s+", " ", desc).strip()
    m = re.match(r"(.+?[.!?])(\s|$)", text)
    return (m.group(1) if m else text)[:200]


def value_matches(value: Any, types: tuple[str, ...]) -> bool:
    """Does a YAML value have one of these JSON types?"""
    checks = {
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "string": lambda v: isinstance(v, str),
        "array": lambda v: isinstance(v, list),
        "null": lambda v: v is None,
    }
    return any(checks[t](value) for t in types)


# Namespaces whose class names match in any case (`sgd`, `Adam`, `RMSPROP`), as Keras' own `get` allows.
CASE_INSENSITIVE = frozenset({"optimizers"})


def lookup_class(kind: str, name: str) -> type | None:
    """The class `name` names. Optimizers match case-insensitively (`sgd`, as Keras' `get` allows);
    other names must match exactly, so `accuracy` stays the string `compile` resolves by the loss."""
    classes_ = classes(kind)
    if name in classes_:
        return classes_[name]
    if kind in CASE_INSENSITIVE:
        return {k.lower(): c for k, c in classes_.items()}.get(name.lower())
    return None


def default_name(cls: type) -> str:
    """The name Keras gives an instance of `cls` that was given none (`MeanIoU` -> `mean_io_u`).

    Keras' own rule, `naming.to_snake_case` (not exported under `keras.`), so names agree with the logs.
    """
    keras()
    from keras.src.utils.naming import to_snake_case

    return to_snake_case(cls.__name__)


def loss_from_logits(name: str, args: dict[str, Any]) -> bool | None:
    """Does a loss read raw scores (`from_logits` true) or probabilities (false)? As its class or
    function declares it, with the config's arguments; None for a loss without `from_logits` (`mse`)."""
    cls = lookup_class("losses", name)
    if cls is not None:
        arg = arguments(cls).get("from_logits")
        return None if arg is None else bool(args.get("from_logits", arg.default))
    function = keras().losses.get(name)
    param = inspect.signature(function).parameters.get("from_logits") if callable(function) else None
    return None if param is None else bool(param.default)


def loss_class(name: str) -> str:
    """The class of a loss named as a function (`categorical_crossentropy` -> `CategoricalCrossentropy`):
    the one whose instances Keras names so by default."""
    for class_name, cls in classes("losses").items():
        arg = arguments(cls).get("name")
        if class_name == name or (arg is not None and arg.default == name):
            return class_name
    return name


def known_by_keras(kind: str, name: str) -> bool:
    """Does Keras' own `get` accept this string (`mse`, `accuracy`, `categorical_crossentropy`, `relu`)?

    `get` builds the object it names, so a name whose class cannot be built
    without arguments fails with whatever its constructor raises (`optimizermap`:
    a KeyError): a name `get` cannot turn into an object is not one it accepts.
    """
    getter = getattr(_module(kind), "get", None)
    if getter is None:
        return False
    with _object_names_kept():
        try:
            return getter(name) is not None
        except Exception:  # noqa: BLE001 - see above: any failure of `get` means "not a name Keras resolves"
            return False


@contextlib.contextmanager
def _object_names_kept():
    """Keras numbers the objects it names itself (`auc`, `auc_1`, ...) in one table per process, and `get`
    builds the object a name stands for: without this, asking about `auc` would make the next `AUC()`
    the user builds `auc_1`. The table (Keras' `naming.uniquify` keeps it) is put back as it was."""
    from keras.src.backend.common import global_state

    saved = global_state.get_global_attribute("object_name_uids")
    kept = None if saved is None else copy.copy(saved)
    try:
        yield
    finally:
        global_state.set_global_attribute("object_name_uids", kept)


@functools.cache
def resolvable_names(kind: str) -> tuple[str, ...]:
    """Every string Keras' own `get` resolves in `keras.<kind>` (`activations` too), sorted.

    Aliases such as the loss `mse` are in no public namespace: they are keys of
    the table `get` looks names up in, so that table (the module global that
    `get` reads) supplies the candidates and `get` itself says which it accepts.
    The schema's lists of names come from here, so they are Keras' own.
    """
    getter = getattr(_module(kind), "get", None)
    table = getattr(sys.modules.get(getattr(getter, "__module__", "")), "ALL_OBJECTS_DICT", {})
    return tuple(sorted(name for name in table if known_by_keras(kind, name)))
