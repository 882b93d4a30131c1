"""What an import found, ready to be written as a config: sections, layer entries, and what it could not translate.

Both readers (`script`, `keras_file`) fill one `Imported`; `write_config` writes it. The YAML is written
by hand, entry by entry, because a config is read by people: one layer a line, a `# TODO` comment where
something could not be translated, and a header naming where it came from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnctl.config.arguments import flow

# `cnnctl import` exits with this when the config was written but something could not be translated
# (2: a user error, 1: a bug, 3: diverged, 4: an export disagrees, 130: interrupted).
INCOMPLETE_EXIT = 5


@dataclass(frozen=True)
class Todo:
    """Something the source holds that the config does not: where, and what to do about it."""

    line: int | None  # in the source script; None for a .keras file
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass
class Entry:
    """One item of `model.layers`: the mapping written, or only a TODO where nothing could be."""

    value: Any = None  # `Flatten` or `{Conv2D: {...}}`; None: a placeholder for a TODO
    todos: list[Todo] = field(default_factory=list)
    auto_name: bool = False  # its `name:` was given by the import, not by the source


# Arguments whose uniform lists read better as one number: kernel_size [3, 3] is 3.
SIZES = ("kernel_size", "strides", "pool_size", "dilation_rate", "size")


def compact_size(value: Any) -> Any:
    """`[3, 3]` is 3 (Keras reads one number as the same size on every axis); `[3, 5]` stays."""
    if (isinstance(value, (list, tuple)) and value and isinstance(value[0], int)
            and all(v == value[0] for v in value)):
        return value[0]
    return list(value) if isinstance(value, tuple) else value


@dataclass
class Imported:
    """A config as the readers found it; `translations` are the lines `cnnctl import` prints."""

    source: str
    name: str
    input_shape: list[int] | None = None
    data_format: str = "channels_last"
    layers: list[Entry] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    translations: list[str] = field(default_factory=list)
    todos: list[Todo] = field(default_factory=list)  # not tied to a layer: placed at the top of the file
    comments: list[str] = field(default_factory=list)  # notes for the reader, at the top of the file
    input_todo: Todo | None = None  # the input shape is missing or open: written as a guess, marked here

    @property
    def all_todos(self) -> list[Todo]:
        found = list(self.todos) + [todo for entry in self.layers for todo in entry.todos]
        found += [self.input_todo] if self.input_todo else []
        return sorted(found, key=lambda t: (t.line is None, t.line or 0))

    def note(self, line: str) -> None:
        self.translations.append(line)


def render(imported: Imported, output: Path) -> str:
    """The config's text: modeline, header, then data, model and train, one layer a line."""
    schema = Path(__file__).resolve().parents[1] / "cnnctl.schema.json"
    relative = os.path.relpath(schema, output.resolve().parent)
    lines = [f"# yaml-language-server: $schema={relative}",
             f"# Imported by `cnnctl import` from {imported.source}"]
    lines += [f"# {comment}" for comment in imported.comments]
    lines += [f"# TODO: {todo}" for todo in imported.todos]
    lines.append(f"name: {flow(imported.name)}")
    if imported.data:
        lines.append("data:")
        lines += [f"  {key}: {flow(value)}" for key, value in imported.data.items()]
    lines.append("model:")
    if imported.data_format != "channels_last":
        lines.append(f"  data_format: {imported.data_format}")
    if imported.input_todo is not None:
        lines.append(f"  # TODO: {imported.input_todo}")
    lines.append(f"  input_shape: {flow(imported.input_shape or [28, 28, 1])}")
    lines.append("  layers:")
    for entry in imported.layers:
        lines += [f"    # TODO: {todo}" for todo in entry.todos]
        if isinstance(entry.value, dict):
            (key, args), = entry.value.items()
            lines.append(f"    - {key}: {flow(args)}")
        elif entry.value is not None:
            lines.append(f"    - {entry.value}")
    if imported.train:
        from cnnctl.config.spec import TrainSection

        order = list(TrainSection.model_fields)  # the order the config reference documents them in
        lines.append("train:")
        lines += [f"  {key}: {flow(imported.train[key])}"
                  for key in sorted(imported.train, key=lambda k: order.index(k) if k in order else len(order))]
    return "\n".join(lines) + "\n"


def write_config(imported: Imported, output: Path) -> None:
    """Write the config whole or not at all (an interrupted import leaves no half file)."""
    from cnnctl.runfolder.atomic import write_atomic

    write_atomic(output, render(imported, output))
