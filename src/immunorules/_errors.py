"""The exceptions immunorules raises, and the structured problems they carry.

Every error is an :class:`ImmunorulesError`; the two caused by bad input are also
``ValueError``. Each carries a list of problems, so one exception reports everything wrong at
once, and its own ``path`` (and, for rule files, ``file``/``line``/``rule_id``) are those of the
first problem, the one shown first.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "EngineError",
    "ImmunorulesError",
    "ProfileError",
    "ProfileProblem",
    "RuleFileError",
    "RuleFileProblem",
    "listed_problems",
    "shown",
]

#: How many problems of one file a message lists before "... and K more problems".
SHOWN_PROBLEMS_PER_FILE = 50
#: The most characters of one problem's message that its ``str`` shows.
SHOWN_MESSAGE_CHARS = 1000


def shown(value: object, limit: int = 60) -> str:
    """A short, safe ``repr`` of ``value`` for messages: never raises, never huge.

    Strings, bytes and containers are cut to about ``limit`` characters (a long string also
    says how long it is); an integer too long to show says how many digits it has (``repr``
    itself raises ``ValueError`` past 4,300 digits). Control characters come out escaped, as
    ``repr`` writes them.
    """
    limit = max(limit, 8)
    try:
        if isinstance(value, str) and len(value) > limit:
            return f"{_head(value, limit)}... ({len(value):,} characters)"
        if isinstance(value, bytes | bytearray) and len(value) > limit:
            return f"{_head(value, limit)}... ({len(value):,} bytes)"
        if isinstance(value, int) and not isinstance(value, bool):
            return _int_text(value, limit)
        return _cut(_Short(limit).repr(value), limit)
    except Exception:
        try:
            return f"<{type(value).__name__} object>"
        except Exception:  # pragma: no cover - a type whose name cannot be read
            return "<object>"


def _head(value: str | bytes | bytearray, limit: int) -> str:
    text = repr(value[:limit])
    return text if len(text) <= limit + 2 else text[:limit]


def _clipped(message: str) -> str:
    """A problem's message as shown: at most SHOWN_MESSAGE_CHARS characters (whatever value
    it echoes), the full message staying on the problem."""
    if len(message) <= SHOWN_MESSAGE_CHARS:
        return message
    return f"{message[:SHOWN_MESSAGE_CHARS]}... ({len(message):,} characters)"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _int_text(value: int, limit: int) -> str:
    bits = abs(value).bit_length()
    digits = max(1, math.floor(bits * math.log10(2)) + 1) if bits else 1
    if digits <= limit:
        return repr(value)
    sign = "a negative " if value < 0 else "an "
    return f"<{sign}integer of about {digits:,} digits>"


class _Short(reprlib.Repr):
    """``reprlib`` with its limits tied to ``limit`` and integers that never raise."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxstring = self.maxother = self.maxlong = limit
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = self.maxfrozenset = 6

    def repr_int(self, x: int, level: int) -> str:
        return _int_text(x, self.maxlong)

    def repr_instance(self, x: Any, level: int) -> str:
        try:
            return super().repr_instance(x, level)
        except Exception:
            return f"<{type(x).__name__} object>"


class ImmunorulesError(Exception):
    """Base class of every error immunorules raises."""


class EngineError(ImmunorulesError, RuntimeError):
    """A matching engine failed or is unavailable."""


@dataclass(frozen=True, slots=True)
class ProfileProblem:
    """One thing wrong with a condition profile: where (``path``) and what (``message``)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {_clipped(self.message)}"


class ProfileError(ImmunorulesError, ValueError):
    """A condition profile is invalid. ``problems`` lists every problem found."""

    def __init__(self, problems: Iterable[ProfileProblem]) -> None:
        self.problems: tuple[ProfileProblem, ...] = tuple(problems)
        if not self.problems:
            self.problems = (ProfileProblem("$", "invalid profile"),)
        self.path: str = self.problems[0].path
        lines = "; ".join(str(problem) for problem in self.problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"invalid condition profile ({count} {noun}): {lines}")


@dataclass(frozen=True, slots=True)
class RuleFileProblem:
    """One thing wrong in a rule file, located by file, line, rule id and JSON path; in a
    workbook (``.xlsx``), by ``sheet``, ``row`` (1-based, as the spreadsheet shows it) and
    ``column`` (its header and cell, e.g. ``'pregnant (H7)'``) instead of a line."""

    file: str
    line: int | None
    rule_id: str | None
    path: str
    message: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None

    @property
    def json_path(self) -> str:
        """The JSON path of the offending node (same as ``path``), as jsonschema names it."""
        return self.path

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.sheet is not None:
            where = f"{self.file} [sheet {self.sheet!r}, row {self.row}, column {self.column}]"
        rule = f" [{self.rule_id}]" if self.rule_id else ""
        return f"{where}{rule} {self.path}: {_clipped(self.message)}"


class RuleFileError(ImmunorulesError, ValueError):
    """Rule files could not be loaded. ``problems`` lists every problem in every file."""

    def __init__(self, problems: Sequence[RuleFileProblem]) -> None:
        if not problems:
            raise ValueError("RuleFileError needs at least one problem")
        self.problems: tuple[RuleFileProblem, ...] = tuple(problems)
        first = self.problems[0]
        self.file: str = first.file
        self.line: int | None = first.line
        self.rule_id: str | None = first.rule_id
        self.path: str = first.path
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in rule files:"
        super().__init__("\n".join([head, *listed_problems(self.problems)]))


def listed_problems(
    problems: Sequence[RuleFileProblem], per_file: int = SHOWN_PROBLEMS_PER_FILE
) -> list[str]:
    """The problems as indented lines, at most ``per_file`` of each file (in their order),
    then ``... and K more problems in FILE``."""
    lines: list[str] = []
    counts: dict[str, int] = {}
    for problem in problems:
        seen = counts[problem.file] = counts.get(problem.file, 0) + 1
        if seen <= per_file:
            lines.append(f"  {problem}")
    for file, count in counts.items():
        if count > per_file:
            more = count - per_file
            lines.append(f"  ... and {more:,} more problem{'s' if more != 1 else ''} in {file}")
    return lines


def display_path(path: Path) -> str:
    """A file path as errors show it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
