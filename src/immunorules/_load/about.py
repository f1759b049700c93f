"""``knowledge-base.yaml``: the name, version and description of a rule folder.

A rule folder may hold one ``knowledge-base.yaml`` (or ``.yml``) at its top, with ``name``,
``version``, ``description``, ``effective`` (a date) and ``authors``. It is read here, with the
same safe YAML reader and the same problem reports (file, line, path) as rule files; it is never
read as a rule file. Without it a folder is named after itself (a single rule file after its
name without the suffix). This module reads only that file; it must never read a rule file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from .._errors import RuleFileProblem, display_path, shown
from .._model.profile import did_you_mean
from .yaml import YamlDocument, child_path, parse_yaml

__all__ = ["ABOUT_FILES", "ABOUT_KEYS", "About", "is_about_file", "read_about"]

#: The names a rule folder's description file may have.
ABOUT_FILES: tuple[str, ...] = ("knowledge-base.yaml", "knowledge-base.yml")
#: The keys ``knowledge-base.yaml`` may hold (all optional).
ABOUT_KEYS: tuple[str, ...] = ("name", "version", "description", "effective", "authors")

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_MAX_NAME = 100


@dataclass(frozen=True, slots=True)
class About:
    """What one path given to the loader says about itself: the name (declared, or the
    folder's or file's own), the version, description, effective date and authors declared
    (None or empty when not), and whether it is the bundled rule folder."""

    name: str
    version: str | None = None
    description: str | None = None
    effective: date | None = None
    authors: tuple[str, ...] = ()
    bundled: bool = False


def is_about_file(path: Path) -> bool:
    """Whether ``path`` is named like a rule folder's ``knowledge-base.yaml``."""
    return path.name in ABOUT_FILES


def read_about(item: Path, *, bundled: bool = False) -> tuple[About, list[RuleFileProblem]]:
    """What the rule path ``item`` says about itself, and the problems of its
    ``knowledge-base.yaml`` (each with file, line and path, like a rule file's)."""
    own_name = (item.stem if item.is_file() else item.resolve().name) or "rules"
    found = [item / name for name in ABOUT_FILES] if item.is_dir() else []
    present = [path for path in found if path.is_file()]
    if not present:
        return About(name=own_name, bundled=bundled), []
    if len(present) > 1:
        shown_files = " and ".join(display_path(path) for path in present)
        problem = RuleFileProblem(
            display_path(present[1]), None, None, "$", f"a rule folder has one of {shown_files}"
        )
        return About(name=own_name, bundled=bundled), [problem]
    reader = _Reader(display_path(present[0]))
    values = reader.read(present[0])
    about = About(
        name=values.get("name", own_name),
        version=values.get("version"),
        description=values.get("description"),
        effective=values.get("effective"),
        authors=values.get("authors", ()),
        bundled=bundled,
    )
    return about, reader.problems


class _Reader:
    """Reads one ``knowledge-base.yaml``, collecting problems with their lines."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.doc = YamlDocument(None)
        self.problems: list[RuleFileProblem] = []

    def add(self, path: str, message: str) -> None:
        if any(problem.path == path for problem in self.doc.problems):
            return  # the YAML problem there (e.g. a refused tag) already explains it
        self.problems.append(RuleFileProblem(self.file, self.doc.line(path), None, path, message))

    def read(self, path: Path) -> dict[str, Any]:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.add("$", f"cannot read file: {exc}")
            return {}
        self.doc = parse_yaml(text)
        for problem in self.doc.problems:
            self.problems.append(
                RuleFileProblem(self.file, problem.line, None, problem.path, problem.message)
            )
        data = self.doc.data
        if not isinstance(data, dict):
            if data is not None or not self.doc.problems:
                shape = "an empty file" if data is None else f"a {type(data).__name__}"
                self.add(
                    "$",
                    f"knowledge-base.yaml must be a mapping with some of {', '.join(ABOUT_KEYS)}, "
                    f"not {shape}",
                )
            return {}
        values: dict[str, Any] = {}
        for key, value in data.items():
            where = child_path("$", key)
            if key not in ABOUT_KEYS:
                hint = did_you_mean(key, list(ABOUT_KEYS)) or f"; allowed: {', '.join(ABOUT_KEYS)}"
                self.add(where, f"unknown key {shown(key)}{hint}")
                continue
            checked = getattr(self, f"_{key}")(value, where)
            if checked is not None:
                values[key] = checked
        return values

    def _line(self, value: Any, path: str, what: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.add(path, f"{what} must be a non-empty string, not {shown(value)}")
            return None
        if "\n" in value.strip() or "\r" in value:
            self.add(path, f"{what} must be one line")
            return None
        return value.strip()

    def _name(self, value: Any, path: str) -> str | None:
        name = self._line(value, path, "'name'")
        if name is None:
            return None
        if "+" in name:
            self.add(path, "'name' must not hold '+', which joins the names of several folders")
            return None
        if len(name) > _MAX_NAME:
            self.add(path, f"'name' has {len(name)} characters; at most {_MAX_NAME}")
            return None
        return name

    def _version(self, value: Any, path: str) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, float):
            self.add(
                path,
                f"write the version as text in quotes ('{value}'): unquoted, 1.10 would read "
                "as the number 1.1",
            )
            return None
        version = self._line(value, path, "'version'")
        if version is not None and "+" in version:
            self.add(path, "'version' must not hold '+', which joins the versions of folders")
            return None
        return version

    def _description(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.add(path, f"'description' must be a non-empty string, not {shown(value)}")
            return None
        return value.strip()

    def _effective(self, value: Any, path: str) -> date | None:
        if isinstance(value, str) and _DATE.match(value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        self.add(path, f"'effective' must be a date (YYYY-MM-DD), not {shown(value)}")
        return None

    def _authors(self, value: Any, path: str) -> tuple[str, ...] | None:
        if not isinstance(value, list) or not value:
            self.add(path, f"'authors' must be a non-empty list of names, not {shown(value)}")
            return None
        authors: list[str] = []
        for index, item in enumerate(value):
            author = self._line(item, f"{path}[{index}]", "an author")
            if author is not None:
                authors.append(author)
        return tuple(authors) if len(authors) == len(value) else None
