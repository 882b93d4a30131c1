"""Read YAML with PyYAML's safe loader while remembering where every key stands.

Errors must point at `file:line`, so the document is composed into nodes
(which carry marks) before it is turned into plain Python values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cnnctl.errors import CnnctlError, Problem

KeyPath = tuple[str | int, ...]

# An alias-heavy document can expand exponentially ("billion laughs");
# past this many values it is refused rather than walked.
MAX_VALUES = 100_000
# A config is a few hundred lines: a bigger file is the wrong file (a dataset?), refused before it is read.
MAX_BYTES = 2**20
# A config nests a handful of levels (model.layers, a block, a layer, its arguments, a list);
# the readers that walk it recurse, so deeper documents are refused while they are composed.
MAX_DEPTH = 100


def dotted(path: KeyPath) -> str:
    """`("model", "layers", 0, "Conv2D")` -> `model.layers.0.Conv2D`, the form `--set` takes."""
    return ".".join(str(p) for p in path)


@dataclass
class Origins:
    """Where each key path came from: a line of the file, or a `--set` override."""

    file: str
    lines: dict[KeyPath, int] = field(default_factory=dict)
    overrides: dict[KeyPath, str] = field(default_factory=dict)

    def problem(self, path: KeyPath, message: str, hint: str | None = None) -> Problem:
        """A problem located at the closest known ancestor of `path`."""
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if prefix in self.overrides:
                return Problem(message, file=self.overrides[prefix], path=dotted(path) or None, hint=hint)
            if prefix in self.lines:
                return Problem(message, self.file, self.lines[prefix], dotted(path) or None, hint)
        return Problem(message, self.file, None, dotted(path) or None, hint)

    def overridden(self, path: KeyPath) -> bool:
        """Was the value at `path` given by a `--set` (of it, or of a key above it) rather than the file?

        Overrides are applied after the file is read, so one above `path` replaced the file's value too.
        """
        return any(path[:end] in self.overrides for end in range(1, len(path) + 1))

    def error(self, path: KeyPath, message: str, hint: str | None = None) -> CnnctlError:
        return CnnctlError(self.problem(path, message, hint))


def read_yaml(path: str | Path) -> tuple[Any, Origins]:
    """Parse a YAML file safely; return its data and the line of every key path."""
    name = str(path)
    try:
        size = Path(path).stat().st_size
        if size > MAX_BYTES:
            raise CnnctlError(_too_big(size, name))
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CnnctlError(Problem("no such file", name, hint="check the path")) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CnnctlError(Problem(f"cannot read: {exc}", name)) from None
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str = "<string>") -> tuple[Any, Origins]:
    """Parse YAML text with `SafeLoader`, keeping marks for error messages."""
    if len(text) > MAX_BYTES:
        raise CnnctlError(_too_big(len(text.encode("utf-8")), name))
    loader = _Loader(text)
    problems: list[Problem] = []
    try:
        node = loader.get_single_node()
        if node is not None:
            _find_duplicate_keys(node, name, problems, set())
        data = loader.construct_document(node) if node is not None and not problems else None
    except _Refused as exc:
        raise CnnctlError(Problem(exc.message, name, exc.mark.line + 1, hint=exc.hint)) from None
    except yaml.constructor.ConstructorError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise CnnctlError(Problem(f"YAML tag not allowed: {exc.problem}", name, line,
                                  hint="cnnctl reads plain YAML; remove the '!!' tag")) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = " ".join(s for s in (exc.context, exc.problem) if s)
        raise CnnctlError(Problem(f"YAML syntax error: {what}", name, line,
                                  hint="check indentation, colons and quotes on this line or the one above")) from None
    except yaml.YAMLError as exc:
        raise CnnctlError(Problem(f"YAML error: {exc}", name)) from None
    finally:
        loader.dispose()
    origins = Origins(name)
    if node is not None and not problems:
        _record(node, (), origins, problems, [0])
    if problems:
        raise CnnctlError(problems)
        if problems:
            raise CnnctlError(problems)
    return data, origins


def _too_big(size: int, name: str) -> Problem:
    return Problem(f"file is {size / 2**20:.1f} MiB; a config is at most {MAX_BYTES // 2**20} MiB", name,
                   hint="is this the config? data goes in files named by data.path")


class _Refused(Exception):
    def __init__(self, message: str, mark: yaml.Mark, hint: str):
        super().__init__(message)
        self.message, self.mark, self.hint = message, mark, hint


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing documents that every recursive reader would choke on.

    PyYAML composes nodes recursively, and so do the checks below and the
    validation after them: a document nested more than `MAX_DEPTH` levels,
    whether written so or built up through aliases, is refused with its line
    while it is composed, and so is an alias inside its own anchor (`&a [*a]`),
    a value that would contain itself.
    """

    def __init__(self, text: str):
        super().__init__(text)
        self._open: list[str | None] = []  # anchors of the nodes being composed, outermost first
        self._depth: dict[int, int] = {}  # levels under each composed collection node, by id

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) and event.anchor in self._open:
            raise _Refused(f"alias *{event.anchor} is inside its own anchor &{event.anchor}: the value would "
                           "contain itself", event.start_mark, "alias a block defined elsewhere, not its own parent")
        if len(self._open) >= MAX_DEPTH:
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep", event.start_mark,
                           "a config needs a handful of levels, not hundreds")
        self._open.append(getattr(event, "anchor", None))
        try:
            node = super().compose_node(parent, index)
        finally:
            self._open.pop()
        if isinstance(node, (yaml.SequenceNode, yaml.MappingNode)) and id(node) not in self._depth:
            children = node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair]
            self._depth[id(node)] = 1 + max((self._depth.get(id(c), 0) for c in children), default=0)
            if self._depth[id(node)] > MAX_DEPTH:
                raise _Refused(f"nested more than {MAX_DEPTH} levels deep through aliases", node.start_mark,
                               "an alias inside an alias inside ...: flatten the chain")
        return node


def _record(node: yaml.Node, path: KeyPath, origins: Origins, problems: list[Problem], count: list[int]) -> None:
    count[0] += 1
    if count[0] > MAX_VALUES:
        if count[0] == MAX_VALUES + 1:
            problems.append(Problem(f"the document expands to more than {MAX_VALUES} values",
                                    origins.file, hint="are YAML aliases nested too deeply?"))
        return
    origins.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        # Merge keys (`<<: *base`) are already flattened here; a later key wins, as in the data.
        for key_node, value_node in node.value:
            key = _key(key_node)
            origins.lines[path + (key,)] = key_node.start_mark.line + 1
            _record(value_node, path + (key,), origins, problems, count)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _record(item, path + (i,), origins, problems, count)


def _key(node: yaml.Node) -> Any:
    return node.value if isinstance(node, yaml.ScalarNode) else str(node.value)


def _find_duplicate_keys(node: yaml.Node, name: str, problems: list[Problem], visited: set[int]) -> None:
    """PyYAML silently keeps the last of two equal keys; a user almost never means that."""
    if id(node) in visited:
        return
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key, line = _key(key_node), key_node.start_mark.line + 1
            if key in seen and key_node.tag != "tag:yaml.org,2002:merge":
                problems.append(Problem(f"duplicate key '{key}' (first on line {seen[key]})", name, line,
                                        hint="remove one of them"))
            seen[key] = line
            _find_duplicate_keys(value_node, name, problems, visited)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _find_duplicate_keys(item, name, problems, visited)
