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

    def error(self, path: KeyPath, message: str, hint: str | None = None) -> CnnctlError:
        return CnnctlError(self.problem(path, message, hint))


def read_yaml(path: str | Path) -> tuple[Any, Origins]:
    """Parse a YAML file safely; return its data and the line of every key path."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CnnctlError(Problem("no such file", name, hint="check the path")) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CnnctlError(Problem(f"cannot read: {exc}", name)) from None
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str = "<string>") -> tuple[Any, Origins]:
    """Parse YAML text with `SafeLoader`, keeping marks for error messages."""
    loader = yaml.SafeLoader(text)
    problems: list[Problem] = []
    try:
        node = loader.get_single_node()
        if node is not None:
            _find_duplicate_keys(node, name, problems, set())
        data = loader.construct_document(node) if node is not None and not problems else None
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
