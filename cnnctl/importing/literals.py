"""The values a script's syntax tree gives without running it: literals, names bound to literals, arithmetic.

`1.0 / 255`, `(img_rows, img_cols, 1)` with `img_rows, img_cols = 28, 28` above, `keras.activations.relu`
as an activation: what a reader sees at a glance, evaluated without `eval`. Anything else (a call, an
attribute of a computed object) is `UNKNOWN`, for the import to list as a TODO.
"""

from __future__ import annotations

import ast
import inspect
from typing import Any

from cnnctl import keras_catalog

UNKNOWN = object()  # a value the syntax tree does not give
MAX_DEPTH = 8  # names bound to names bound to ...: followed this far


class Literals:
    """The names a script binds by plain assignment (the last assignment wins), and their values on demand."""

    def __init__(self) -> None:
        self.bound: dict[str, ast.AST] = {}

    def bind(self, name: str, value: ast.AST) -> None:
        self.bound[name] = value

    def get(self, name: str) -> ast.AST | None:
        return self.bound.get(name)

    def literal(self, node: ast.expr, activation: bool = False, depth: int = 0) -> Any:
        """A literal, a name bound to one, or (for activations) `keras.activations.relu` as `relu`; else UNKNOWN."""
        try:
            return ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            pass
        if isinstance(node, ast.Name) and node.id in self.bound and depth < MAX_DEPTH:
            return self.literal(self.bound[node.id], activation, depth + 1)
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.literal(item, depth=depth + 1) for item in node.elts]
            return UNKNOWN if any(item is UNKNOWN for item in items) else list(items)
        if activation and isinstance(node, ast.Attribute) and node.attr in keras_catalog.resolvable_names("activations"):
            return node.attr
        if isinstance(node, ast.BinOp) and depth < MAX_DEPTH:  # 1.0 / 255, 2 * 16
            left, right = self.literal(node.left, depth=depth + 1), self.literal(node.right, depth=depth + 1)
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right)):
                try:
                    return eval_arithmetic(left, node.op, right)
                except (ZeroDivisionError, TypeError, OverflowError):
                    return UNKNOWN
        return UNKNOWN


def eval_arithmetic(left: float, op: ast.operator, right: float) -> float:
    """`left op right` for the four operations and powers: the arithmetic a script writes in a literal."""
    operations = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
                  ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b}
    if type(op) not in operations:
        raise TypeError(type(op).__name__)
    return operations[type(op)](left, right)


def callee(node: ast.Call) -> str | None:
    """`Conv2D`, `layers.Conv2D`, `keras.layers.Conv2D`: the called name's last part."""
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def keyword(node: ast.Call, name: str) -> ast.expr | None:
    return next((kw.value for kw in node.keywords if kw.arg == name), None)


def source(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


def positional_names(cls: type) -> list[str]:
    """The arguments of a Keras class that a call may give by position, in order: `Dense(10)` is units."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    return [p.name for p in params if p.kind == p.POSITIONAL_OR_KEYWORD]
