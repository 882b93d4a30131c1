"""Errors a user can cause and fix: each becomes one line, exit code 2, no traceback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong, with where it is and, when obvious, how to fix it."""

    message: str
    file: str | None = None
    line: int | None = None
    path: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        key = f"{self.path}: " if self.path else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{key}{self.message}{hint}"


class CnnctlError(Exception):
    """A mistake the user can fix: bad config, missing data, impossible shape.

    Carries every problem found, so a user fixes them all in one round.
    `file`, `line` and `path` are those of the first problem. `details`, when
    given, is shown before them: the traceback of the user's own code (a
    `--plugin` module that raised), which is theirs to read, not cnnctl's.
    `loaded`, when given, is what did load despite the problems (a config's
    data section and its origins), for checks that can still run on it.
    """

    exit_code = 2  # what `cnnctl` exits with; a subclass may name its own (export's failed self-check: 4)

    def __init__(self, problems: list[Problem] | Problem | str, details: str | None = None, loaded: Any = None):
        self.details, self.loaded = details, loaded
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def file(self) -> str | None:
        return self.problems[0].file

    @property
    def line(self) -> int | None:
        return self.problems[0].line

    @property
    def path(self) -> str | None:
        return self.problems[0].path


def in_file_order(problems: list[Problem]) -> list[Problem]:
    """Problems as a reader meets them in the file; those with no line (a `--set`) last."""
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0))


def did_you_mean(word: str, choices: list[str] | set[str]) -> str | None:
    """A 'did you mean' hint from the closest choices, case-insensitively."""
    import difflib

    by_lower = {c.lower(): c for c in choices}
    if word.lower() in by_lower:
        return f"did you mean '{by_lower[word.lower()]}'?"
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=3, cutoff=0.6)
    if not close:
        return None
    return "did you mean " + " or ".join(f"'{by_lower[c]}'" for c in close) + "?"


def plural(n: int, word: str, words: str | None = None) -> str:
    """`1 output`, `10 outputs` (`words` where the plural is not `word` + s): a count with its noun."""
    return f"{n} {word}" if n == 1 else f"{n} {words or word + 's'}"


def human_bytes(n: float) -> str:
    """A size for people: `512 B`, `537.7 KiB`, `3.3 TiB`."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
