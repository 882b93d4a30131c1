"""metrics.csv: one row per epoch, read back and checked against what the checkpoint says was completed.

A row is written (and synced) before its epoch's checkpoint, so the file
holds at least the epochs the checkpoint counts. Reading insists on that:
each row whole and numeric, its epoch the row's number (1, 2, ...); a hole
is refused in one line rather than papered over, since those values cannot
be rebuilt.
"""

from __future__ import annotations

import csv
from pathlib import Path

from cnnctl.errors import CnnctlError, Problem
from cnnctl.runfolder.results import anew

# The columns every metrics.csv has besides the metrics: `epoch` first.
FIXED = ("epoch", "loss", "lr", "seconds", "images_per_second")


def read_rows(path: Path) -> tuple[list[str], list[dict[str, float]]]:
    """The columns and every row of a metrics.csv, numbers as floats (checked as `parse` checks them)."""
    fields, _, rows = parse(path)
    return fields, [dict(zip(fields, row)) for row in rows]


def parse(path: Path, count: int | None = None) -> tuple[list[str], list[str], list[list[float]]]:
    """The columns, the header and first `count` rows as lines (all rows when None), and their numbers.

    Each row must be whole and numeric, its epoch the row's number (1, 2, ...), blank lines aside;
    lines past `count` are not read at all (a row cut off by a kill may be there).
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CnnctlError(Problem(f"cannot read it: {exc.strerror or exc}", str(path))) from None
    numbered = [(n, line.rstrip(b"\r")) for n, line in enumerate(raw.split(b"\n"), 1) if line.strip()]
    if not numbered:
        raise lost(path, None, "empty" + (f", but {holds(count)}" if count else ""))
    fields = _cells(path, *numbered[0])
    wanted = [f for f in FIXED if f not in fields]
    if fields[:1] != ["epoch"] or wanted or len(set(fields)) != len(fields):
        raise lost(path, numbered[0][0], "the header is not epoch, loss, ..., lr, seconds, images_per_second")
    rows = numbered[1:] if count is None else numbered[1:count + 1]
    if count is not None and len(rows) < count:
        gone = f"row {count} is" if len(rows) + 1 == count else f"rows {len(rows) + 1} to {count} are"
        raise lost(path, None, f"{gone} missing, but {holds(count)}")
    numbers = []
    for epoch, (n, line) in enumerate(rows, 1):
        cells = _cells(path, n, line)
        if len(cells) != len(fields):
            raise lost(path, n, f"epoch {epoch}'s row has {len(cells)} values, the header {len(fields)}")
        values = []
        for field, cell in zip(fields, cells):
            try:
                values.append(float(cell))
            except ValueError:
                raise lost(path, n, f"epoch {epoch}'s {field} is {cell!r}, not a number") from None
        if values[0] != epoch:
            raise lost(path, n, f"row {epoch} is epoch {cells[0]}: rows must be epochs 1, 2, 3, ... in order")
        numbers.append(values)
    return fields, [line.decode() for _, line in [numbered[0], *rows]], numbers


def _cells(path: Path, n: int, line: bytes) -> list[str]:
    try:
        return next(csv.reader([line.decode("utf-8")]))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        raise lost(path, n, "not a line of CSV text") from None


def lost(path: Path, line: int | None, what: str) -> CnnctlError:
    """metrics.csv lacks rows the checkpoint counts on: refused, as those values cannot be rebuilt."""
    return CnnctlError(Problem(what, str(path), line=line, hint=anew(
        path.parent, "resume cannot rebuild lost rows: restore or repair metrics.csv")))


def holds(epochs: int) -> str:
    return f"the checkpoint holds {epochs} completed epoch{'' if epochs == 1 else 's'}"
