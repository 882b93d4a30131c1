"""A table as text cells, before anything draws it: `cnnctl.render` draws one for a terminal (rich) or as
Markdown, from the same cells, so both say the same. Also the few ways a cell writes a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

MISSING = "—"  # not known, or not there


@dataclass(frozen=True)
class Grid:
    """Rows of cells under headers. `right`: the columns of numbers, aligned right; `marked`: the (row,
    column) cells to stand out, the best of their row (bold in a terminal, **bold** in Markdown)."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    right: frozenset[int] = frozenset()
    marked: frozenset[tuple[int, int]] = frozenset()


def number(value: float | None) -> str:
    """A metric as training prints it: four decimals."""
    return MISSING if value is None else f"{value:.4f}"


def count(value: float | None) -> str:
    """A count with thousands separators: `1,316`."""
    return MISSING if value is None else f"{value:,.0f}"


def duration(seconds: float | None) -> str:
    """A wall time for people: `12.3 s`, `4 min 05 s`, `2 h 03 min`."""
    if seconds is None:
        return MISSING
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def local_minute(iso: str | None) -> str:
    """An ISO 8601 time (as results.json records it, in UTC) in local time, to the minute."""
    if not iso:
        return MISSING
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return str(iso)  # not a time: shown as written
