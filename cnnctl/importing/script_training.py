"""A script's `compile(loss=, optimizer=, metrics=)` and `fit(batch_size=, epochs=, validation_split=)` as
the config's `train` section, with Keras 1 and 2 names (`lr`, `nb_epoch`, an optimizer's `decay`) translated."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from cnnctl import keras_catalog
from cnnctl.config.arguments import flow
from cnnctl.importing.imported import Todo
from cnnctl.importing.literals import UNKNOWN, callee, keyword, positional_names, source

if TYPE_CHECKING:
    from cnnctl.importing.script import _Reader


def component(reader: _Reader, kind: str, node: ast.expr) -> tuple[Any, list[Todo]]:
    """A loss, optimizer or metric: a name (`'adam'`), or a Keras class called with literals (`SGD(lr=0.1)`)."""
    value = reader.literal(node)
    if isinstance(value, str):
        return value, []
    named = node.attr if isinstance(node, ast.Attribute) else None  # keras.losses.categorical_crossentropy
    if named is not None and (named in keras_catalog.functions(kind) or keras_catalog.known_by_keras(kind, named)):
        reader.imported.note(f"line {node.lineno}: {source(node)} -> {named}")
        return named, []
    if isinstance(node, ast.Name) and isinstance(reader.values.get(node.id), ast.Call):
        node = reader.values.get(node.id)
    if not isinstance(node, ast.Call):
        return UNKNOWN, [reader.todo(node, f"{source(node)} is not a Keras {keras_catalog.SINGULAR[kind]} "
                                         "by name or class")]
    called = callee(node)
    cls = keras_catalog.lookup_class(kind, called or "")
    if cls is None:
        return UNKNOWN, [reader.todo(node, f"{called or source(node.func)} is not in keras.{kind}")]
    known = keras_catalog.arguments(cls)
    args: dict[str, Any] = {}
    todos = []
    decay = None
    for name, arg in zip([n for n in positional_names(cls) if n in known], node.args):
        args[name] = reader.literal(arg)
    for kw in node.keywords:
        value = reader.literal(kw.value)
        key = kw.arg or "" if value is UNKNOWN else reader.renamed(kw.arg or "", value, known, cls.__name__,
                                                                  kw.value.lineno)
        if key == "decay" and kind == "optimizers" and isinstance(value, (int, float)) and "learning_rate" in known:
            decay = value
            continue
        if value is UNKNOWN or key not in known:
            why = "is not a literal" if value is UNKNOWN else f"is not an argument of {cls.__name__} in Keras 3"
            todos.append(reader.todo(kw.value, f"{cls.__name__} {kw.arg}={source(kw.value)} {why}"))
            continue
        args[key] = value
    args = {k: v for k, v in args.items() if v is not UNKNOWN}
    if decay:
        # Keras 2 divided the rate by 1 + decay × step: Keras 3's InverseTimeDecay with decay_steps 1
        rate = args.pop("learning_rate", known["learning_rate"].default)
        schedule = {"InverseTimeDecay": {"initial_learning_rate": rate, "decay_steps": 1, "decay_rate": decay}}
        reader.imported.train["lr_schedule"] = schedule
        reader.imported.note(f"line {node.lineno}: decay={decay} -> train.lr_schedule: {flow(schedule)} (Keras 2 "
                           "divided the rate by 1 + decay × step)")
    return ({cls.__name__: args} if args else cls.__name__), todos

def read_compile(reader: _Reader, node: ast.Call) -> None:
    train = reader.imported.train
    for key in ("loss", "optimizer"):
        value = keyword(node, key)
        if value is None:
            continue
        kind = "losses" if key == "loss" else "optimizers"
        found, todos = component(reader, kind, value)
        reader.imported.todos += todos
        if found is not UNKNOWN:
            train[key] = found
    metrics = keyword(node, "metrics")
    if metrics is not None:
        items = metrics.elts if isinstance(metrics, (ast.List, ast.Tuple)) else [metrics]
        found_metrics = []
        for item in items:
            found, todos = component(reader, "metrics", item)
            reader.imported.todos += todos
            if found is not UNKNOWN:
                found_metrics.append(found)
        train["metrics"] = found_metrics

def read_fit(reader: _Reader, node: ast.Call) -> None:
    train = reader.imported.train
    for kw in node.keywords:
        key, value = kw.arg, reader.literal(kw.value)
        line = kw.value.lineno
        if key in ("batch_size", "epochs", "nb_epoch"):
            if value is UNKNOWN or not isinstance(value, int):
                reader.imported.todos.append(reader.todo(kw.value, f"fit {key}={source(kw.value)} is not a number"))
                continue
            if key == "nb_epoch":
                reader.imported.note(f"line {line}: nb_epoch={value} -> train.epochs: {value}")
                key = "epochs"
            train[key] = value
        elif key == "validation_split":
            if isinstance(value, (int, float)) and value:
                train["validation"] = value
            else:
                train["validation"] = None
        elif key == "validation_data":
            train["validation"] = "test"
            reader.imported.note(f"line {line}: validation_data=... -> train.validation: test")


