"""The exceptions immunorules raises, and the structured problems they carry.

Every error is an :class:`ImmunorulesError`; the two caused by bad input are also
``ValueError``. Each carries a list of problems, so one exception reports everything wrong at
once, and its own ``path`` (and, for rule files, ``file``/``line``/``rule_id``) are those of the
first problem, the one shown first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "EngineError",
    "ImmunorulesError",
    "ProfileError",
    "ProfileProblem",
    "RuleFileError",
    "RuleFileProblem",
]


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
        return f"{self.path}: {self.message}"


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
    """One thing wrong in a rule file, located by file, line, rule id and JSON path."""

    file: str
    line: int | None
    rule_id: str | None
    path: str
    message: str

    @property
    def json_path(self) -> str:
        """The JSON path of the offending node (same as ``path``), as jsonschema names it."""
        return self.path

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        rule = f" [{self.rule_id}]" if self.rule_id else ""
        return f"{where}{rule} {self.path}: {self.message}"


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
        super().__init__("\n".join([head, *(f"  {problem}" for problem in self.problems)]))


def display_path(path: Path) -> str:
    """A file path as errors show it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
