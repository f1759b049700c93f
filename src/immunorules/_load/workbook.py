"""Spreadsheets: a knowledge base as an Excel workbook a clinician can edit, and read back.

The workbook has a ``rules`` sheet (one row per rule: id, title, status, one column per profile
field holding that rule's condition, one column per effect, the ``because`` text and the
evidence keys), and ``evidence``, ``golden cases``, ``vocabulary`` and ``scope`` sheets. A cell
that holds structure (a condition, an effect, a golden case) is written in YAML's flow style,
as in rule files: ``[none, null]``, ``{min: 1}``, ``[{category: biologic_therapies, tier:
escalation}]``. Reading turns the workbook back into the document a rule file would hold and
hands it to the loader's checks, with each JSON path mapped to its sheet, row and column so
problems name the cell.

Nothing in a workbook is executed: formulas are refused (never evaluated), every cell is parsed
by the same safe YAML reader as rule files, and the file is checked for size before openpyxl
(with defusedxml) unpacks it. This module never decides what a rule means: the loader does.
"""

from __future__ import annotations

import datetime as _dt
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Final

from .._model.rules import AvoidEffect, Evidence, Rule, SetCondition
from .._model.schema import Schema
from .._model.vocabulary import Vocabulary
from .vocabulary import SECTIONS
from .yaml import YamlDocument, YamlProblem, child_path, parse_yaml

__all__ = ["SHEETS", "WorkbookDocument", "read_workbook", "write_workbook"]

#: The sheets of a knowledge-base workbook, in order.
SHEETS: Final = ("rules", "evidence", "golden cases", "vocabulary", "scope")
#: Columns of the rules sheet before and after the field columns.
_HEAD: Final = ("id", "title", "status")
_EFFECTS: Final = ("suggest", "flag", "avoid", "advise")
_TAIL: Final = (*_EFFECTS, "because", "evidence")
#: Text columns: read as they are typed, never parsed as YAML.
_TEXT: Final = frozenset({"id", "title", "status", "because", "citation", "url", "note", "key"})
_EVIDENCE: Final = ("key", "citation", "url", "accessed", "version", "confidence", "note")
#: A workbook is refused before it is unpacked when larger than this, or when its parts would
#: unpack to more than _MAX_UNPACKED bytes (a zip bomb).
_MAX_BYTES: Final = 50 * 1024 * 1024
_MAX_UNPACKED: Final = 400 * 1024 * 1024
_MAX_ROWS: Final = 100_000
_BARE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*\Z")
_YAML_WORDS: Final = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n"})
#: Characters a workbook cannot hold as they are: XML 1.0 control characters, and a carriage
#: return (XML reads it back as a line feed).
_UNSTORABLE: Final = re.compile(r"[\x00-\x08\x0b-\x1f]")


# -- writing -----------------------------------------------------------------------------------


def write_workbook(
    path: str | PathLike[str],
    *,
    rules: Sequence[Rule],
    evidence: Mapping[str, Evidence],
    scope: Sequence[Rule],
    schema: Schema,
    bundled: Vocabulary | None,
) -> None:
    """Write ``rules`` (with the ``evidence`` they cite, their golden cases, the ``scope`` and
    the vocabulary entries that ``bundled`` lacks) as a workbook at ``path``."""
    openpyxl = _openpyxl()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "rules"
    fields = list(schema.fields)
    _row(sheet, [*_HEAD, *fields, *_TAIL])
    cases: list[list[Any]] = []
    for rule in rules:
        when = _when(rule, schema)
        then = _then(rule, schema)
        cells: list[Any] = [rule.id, rule.title, rule.status]
        cells += [_flow(when[name]) if name in when else None for name in fields]
        cells += [_flow(then[name]) if name in then else None for name in _EFFECTS]
        cells += [rule.because, _flow(list(rule.evidence)) if rule.evidence else None]
        _row(sheet, cells)
        for case in rule.tests:
            profile = {
                name: _plain(value)
                for name, value in case.profile.model_dump().items()
                if name in case.profile.model_fields_set
            }
            expect = {
                name.rstrip("_"): list(value)
                for name, value in case.expect.model_dump().items()
                if value
            }
            cases.append([rule.id, _flow(profile), _flow(expect)])
    sheet.freeze_panes = "B2"
    shown = book.create_sheet("evidence")
    _row(shown, list(_EVIDENCE))
    for key, entry in evidence.items():
        _row(shown, [key, *(_cell(getattr(entry, name)) for name in _EVIDENCE[1:])])
    golden = book.create_sheet("golden cases")
    _row(golden, ["rule", "profile", "expect"])
    for line in cases:
        _row(golden, line)
    vocabulary = book.create_sheet("vocabulary")
    _row(vocabulary, ["section", "definition"])
    for section, entry in _added(schema.vocabulary, bundled):
        _row(vocabulary, [section, _flow(entry)])
    regions = book.create_sheet("scope")
    _row(regions, ["region"])
    for region in scope:
        _row(regions, [_flow(_when(region, schema))])
    for each in book.worksheets:
        _widths(each)
    book.save(str(path))


def _row(sheet: Any, cells: Sequence[Any]) -> None:
    """Append a row whose text cells stay text (a leading ``=`` never becomes a formula)."""
    for index, value in enumerate(cells):
        if isinstance(value, str) and _UNSTORABLE.search(value):
            head = [c.value for c in sheet[1]] if sheet.max_row >= 1 and index else []
            column = head[index] if index < len(head) else _letter(index)
            character = _UNSTORABLE.search(value).group()  # type: ignore[union-attr]
            raise ValueError(
                f"sheet {sheet.title!r}, row {sheet.max_row + 1} ({cells[0]}), column "
                f"{column!r}: the text holds the control character U+{ord(character):04X}, "
                "which a workbook cannot store; remove it from the rule file"
            )
    sheet.append(list(cells))
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


def _widths(sheet: Any) -> None:
    for column in sheet.columns:
        longest = max((len(str(c.value)) for c in column if c.value is not None), default=8)
        sheet.column_dimensions[column[0].column_letter].width = min(max(longest, 8), 60) + 2


def _cell(value: Any) -> Any:
    return None if value is None else str(value)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _when(rule: Rule, schema: Schema) -> dict[str, Any]:
    """A rule's conditions as a rule file would write them (one canonical spelling each)."""
    out: dict[str, Any] = {}
    for name in schema.fields:
        if name in rule.sets:
            out[name] = _set_spec(schema, rule.sets[name])
        elif name in rule.when:
            out[name] = _spec(schema, name, rule.when[name])
    return out


def _spec(schema: Schema, name: str, allowed: frozenset[Any]) -> Any:
    definition = schema.fields[name]
    domain = schema.domains[name]
    stated = [value for value in domain if value in allowed and value is not None]
    unstated = None in allowed
    if not stated:
        return None
    numbers = [value for value in stated if isinstance(value, int)]
    if definition.type == "integer" and len(numbers) > 2:
        low, high = min(numbers), max(numbers)
        if numbers == list(range(low, high + 1)):
            spec: dict[str, Any] = {"min": low, "max": high}
            return {**spec, "or_not_stated": True} if unstated else spec
    if len(stated) == 1 and not unstated:
        return stated[0]
    return [*stated, None] if unstated else stated


def _set_spec(schema: Schema, test: SetCondition) -> Any:
    """A set condition as written: a group that is a class with its finer classes was written
    ``includes: [class]`` (the loader widens it); the other group is ``includes_any``."""
    if test.or_not_stated and not test.members:
        return None
    spec: dict[str, Any] = {}
    parents: list[str] = []
    listed: list[str] = []
    for group in test.includes_any:
        parent = next(
            (
                m
                for m in sorted(group)
                if schema.descendants(m) and group == {m, *schema.descendants(m)}
            ),
            None,
        )
        if parent is not None and not listed:
            parents.append(parent)
        else:
            listed = sorted(group)
    if test.includes or parents:
        spec["includes"] = [*parents, *sorted(test.includes)]
    if listed:
        spec["includes_any"] = listed
    if test.excludes:
        spec["excludes"] = sorted(test.excludes)
    if test.or_not_stated:
        spec["or_not_stated"] = True
    return spec


def _then(rule: Rule, schema: Schema) -> dict[str, Any]:
    then = rule.then
    out: dict[str, Any] = {}
    if then.suggest:
        out["suggest"] = [
            {
                "category": s.category,
                "tier": s.tier,
                **({"subcategories": list(s.subcategories)} if s.subcategories else {}),
                **({"goal": s.goal} if s.goal else {}),
            }
            for s in then.suggest
        ]
    if then.flag:
        out["flag"] = list(then.flag)
    if then.avoid:
        out["avoid"] = _avoids(schema, then.avoid)
    if then.advise:
        out["advise"] = list(then.advise)
    return out


def _avoids(schema: Schema, effects: Sequence[AvoidEffect]) -> list[dict[str, str]]:
    """Avoids as written: the loader follows an avoided class with its finer classes, so
    each such run is written as the class alone."""
    written: list[dict[str, str]] = []
    index = 0
    while index < len(effects):
        effect = effects[index]
        index += 1
        if effect.subcategory is None:
            written.append({"category": effect.category})
            continue
        written.append({"subcategory": effect.subcategory})
        finer = schema.descendants(effect.subcategory)
        following = tuple(e.subcategory for e in effects[index : index + len(finer)])
        if finer and following == finer:
            index += len(finer)
    return written


def _added(vocabulary: Vocabulary, bundled: Vocabulary | None) -> Iterable[tuple[str, Any]]:
    """The vocabulary entries ``bundled`` does not hold as they are, section by section."""
    for section in SECTIONS:
        known = {} if bundled is None else {_id(e): e for e in getattr(bundled, section)}
        for entry in getattr(vocabulary, section):
            if known.get(_id(entry)) != entry:
                yield section, entry.model_dump(mode="json", exclude_defaults=True)


def _id(entry: Any) -> Any:
    return getattr(entry, "id", None) or getattr(entry, "key", None)


def _flow(value: Any) -> str:
    """``value`` in YAML's flow style, as a rule file would spell it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        if _BARE.match(value) and value.lower() not in _YAML_WORDS:
            return value
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_flow(str(k))}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Iterable):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _flow(str(value))


# -- reading -----------------------------------------------------------------------------------


@dataclass(slots=True)
class WorkbookDocument(YamlDocument):
    """The document a workbook stands for, with the cell of every JSON path in it."""

    cells: dict[str, tuple[str, int, str]] = field(default_factory=dict)

    def line(self, path: str) -> int | None:
        """The row of ``path`` (a workbook's rules are located by row where a file has lines)."""
        cell = self.cell(path)
        return None if cell is None else cell[1]

    def cell(self, path: str) -> tuple[str, int, str] | None:
        """The (sheet, row, column) of ``path``, or of its nearest ancestor that has one."""
        while path:
            if path in self.cells:
                return self.cells[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ("" if path == "$" else "$")
        return None


def read_workbook(path: Path) -> WorkbookDocument:
    """The document ``path`` (an ``.xlsx`` workbook) stands for; what cannot be read becomes
    problems located by sheet, row and column."""
    doc = WorkbookDocument(None)
    refusal = _refusal(path)
    if refusal is not None:
        doc.problems.append(YamlProblem(None, "$", refusal))
        return doc
    openpyxl = _openpyxl()
    try:
        book = openpyxl.load_workbook(str(path), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        doc.problems.append(YamlProblem(None, "$", f"cannot read the workbook: {exc}"))
        return doc
    try:
        _Reader(doc).read(book)
    finally:
        book.close()
    return doc


def _refusal(path: Path) -> str | None:
    try:
        size = path.stat().st_size
        if size > _MAX_BYTES:
            return f"workbook too large: {size:,} bytes, more than {_MAX_BYTES:,}"
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        return "not an Excel workbook (.xlsx): the file is not a zip archive"
    except OSError as exc:
        return f"cannot read file: {exc}"
    if unpacked > _MAX_UNPACKED:
        return f"workbook unpacks to {unpacked:,} bytes, more than {_MAX_UNPACKED:,}"
    return None


class _Reader:
    def __init__(self, doc: WorkbookDocument) -> None:
        self.doc = doc
        self.data: dict[str, Any] = {}

    def problem(self, path: str, message: str, where: tuple[str, int, str] | None) -> None:
        if where is not None:
            self.doc.cells[path] = where
        self.doc.problems.append(YamlProblem(None, path, message))

    def read(self, book: Any) -> None:
        names = list(book.sheetnames)
        if "rules" not in names:
            self.problem("$", f"no 'rules' sheet (sheets: {', '.join(names) or 'none'})", None)
            self.doc.data = None
            return
        unknown = [name for name in names if name not in SHEETS]
        if unknown:
            self.problem(
                "$", f"unknown sheet(s) {', '.join(map(repr, unknown))}; a knowledge-base "
                f"workbook has {', '.join(SHEETS)}", None
            )  # fmt: skip
        self.doc.cells["$"] = ("rules", 1, "A")
        rules = self._rules(book["rules"])
        if "golden cases" in names:
            self._cases(book["golden cases"], rules)
        if "evidence" in names:
            self._evidence(book["evidence"])
        if "vocabulary" in names:
            self._vocabulary(book["vocabulary"])
        if "scope" in names:
            self._scope(book["scope"])
        self.doc.data = self.data

    def _table(self, sheet: Any) -> Iterable[tuple[int, dict[str, tuple[Any, str]]]]:
        """Each non-empty row after the header: {column name: (value, column letter)}."""
        rows = sheet.iter_rows()
        header = next(rows, None)
        if header is None:
            return
        names = [str(c.value).strip() if c.value is not None else "" for c in header]
        for number, row in enumerate(rows, start=2):
            if number > _MAX_ROWS:
                self.problem("$", f"sheet {sheet.title!r} has more than {_MAX_ROWS:,} rows", None)
                return
            cells: dict[str, tuple[Any, str]] = {}
            for index, cell in enumerate(row):
                value = cell.value
                if value is None or (isinstance(value, str) and not value.strip()):
                    continue
                letter = _letter(index)
                name = names[index] if index < len(names) else ""
                if getattr(cell, "data_type", None) == "f":
                    where = (sheet.title, number, f"{name or letter} ({letter}{number})")
                    self.problem(_at(sheet.title, number), "a formula: type the value", where)
                    continue
                if not name:
                    where = (sheet.title, number, f"{letter} ({letter}{number})")
                    self.problem(
                        _at(sheet.title, number), "a value in a column without a header", where
                    )
                    continue
                cells[name] = (value, letter)
            if cells:
                yield number, cells

    def _value(
        self, value: Any, column: str, path: str, where: tuple[str, int, str]
    ) -> tuple[bool, Any]:
        """A cell's value as a rule file would hold it (structure parsed as flow YAML)."""
        self.doc.cells[path] = where
        if isinstance(value, _dt.datetime):
            return True, value.date().isoformat() if value.time() == _dt.time() else str(value)
        if isinstance(value, _dt.date):
            return True, value.isoformat()
        if isinstance(value, float) and value.is_integer():
            return True, int(value)
        if not isinstance(value, str) or column in _TEXT:
            return True, value
        parsed = parse_yaml(value)
        if parsed.problems:
            for problem in parsed.problems:
                self.problem(path, f"cannot read {value!r}: {problem.message}", where)
            return False, None
        return True, parsed.data

    def _rules(self, sheet: Any) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = []
        self.data["rules"] = rules
        for number, cells in self._table(sheet):
            path = f"$.rules[{len(rules)}]"
            self.doc.cells[path] = ("rules", number, "id (A)")
            raw: dict[str, Any] = {}
            when: dict[str, Any] = {}
            then: dict[str, Any] = {}
            for column, (value, letter) in cells.items():
                where = ("rules", number, f"{column} ({letter}{number})")
                if column in _HEAD or column in ("because", "evidence"):
                    target, key, at = raw, column, f"{path}.{column}"
                elif column in _EFFECTS:
                    target, key, at = then, column, f"{path}.then.{column}"
                else:
                    target, key, at = when, column, child_path(f"{path}.when", column)
                ok, parsed = self._value(value, column, at, where)
                if ok:
                    target[key] = parsed
            raw["when"] = when
            if then:
                raw["then"] = then
            rules.append(raw)
        return rules

    def _cases(self, sheet: Any, rules: list[dict[str, Any]]) -> None:
        by_id = {str(rule.get("id")): (index, rule) for index, rule in enumerate(rules)}
        for number, cells in self._table(sheet):
            owner, letter = cells.get("rule", ("", "A"))
            owner = str(owner)
            if owner not in by_id:
                where = ("golden cases", number, f"rule ({letter}{number})")
                self.problem(
                    _at("golden cases", number), f"golden case of unknown rule {owner!r}", where
                )
                continue
            index, rule = by_id[owner]
            tests = rule.setdefault("tests", [])
            path = f"$.rules[{index}].tests[{len(tests)}]"
            self.doc.cells[path] = ("golden cases", number, "rule (A)")
            case: dict[str, Any] = {}
            for column in ("profile", "expect"):
                if column in cells:
                    value, letter = cells[column]
                    where = ("golden cases", number, f"{column} ({letter}{number})")
                    ok, parsed = self._value(value, column, f"{path}.{column}", where)
                    if ok:
                        case[column] = parsed
            tests.append(case)

    def _evidence(self, sheet: Any) -> None:
        evidence: dict[str, Any] = {}
        for number, cells in self._table(sheet):
            key = str(cells.get("key", ("", "A"))[0]).strip()
            path = child_path("$.evidence", key)
            self.doc.cells[path] = ("evidence", number, "key (A)")
            entry: dict[str, Any] = {}
            for column, (value, letter) in cells.items():
                if column == "key":
                    continue
                where = ("evidence", number, f"{column} ({letter}{number})")
                # every evidence column is text: a date or a number is kept as it reads
                _, parsed = self._value(value, "citation", child_path(path, column), where)
                entry[column] = parsed if isinstance(parsed, str) else str(parsed)
            evidence[key] = entry
        if evidence:
            self.data["evidence"] = evidence

    def _vocabulary(self, sheet: Any) -> None:
        vocabulary: dict[str, list[Any]] = {}
        for number, cells in self._table(sheet):
            section = str(cells.get("section", ("", "A"))[0]).strip()
            entries = vocabulary.setdefault(section, [])
            path = f"{child_path('$.vocabulary', section)}[{len(entries)}]"
            if "definition" not in cells:
                where = ("vocabulary", number, f"definition (B{number})")
                self.problem(path, "a vocabulary row needs a definition", where)
                continue
            value, letter = cells["definition"]
            where = ("vocabulary", number, f"definition ({letter}{number})")
            ok, parsed = self._value(value, "definition", path, where)
            if ok:
                entries.append(parsed)
        if vocabulary:
            self.data["vocabulary"] = vocabulary

    def _scope(self, sheet: Any) -> None:
        regions: list[Any] = []
        for number, cells in self._table(sheet):
            if "region" not in cells:
                continue
            value, letter = cells["region"]
            where = ("scope", number, f"region ({letter}{number})")
            ok, parsed = self._value(value, "region", f"$.scope[{len(regions)}]", where)
            if ok:
                regions.append(parsed)
        if regions:
            self.data["scope"] = regions


def _at(sheet: str, row: int) -> str:
    """The path of a row that has no place in the document (reported, then left out)."""
    return f"{child_path('$', sheet)}[{row}]"


def _letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _openpyxl() -> Any:
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - the excel extra is part of dev
        raise ImportError(
            "reading or writing Excel workbooks needs openpyxl: pip install 'immunorules[excel]'"
        ) from None
    return openpyxl
