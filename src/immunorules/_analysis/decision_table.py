"""The decision-table view of a knowledge base: one row per rule, one column per profile field
it tests, then its effects and evidence, rendered as Markdown, HTML or CSV (the rule catalogue),
or as a pandas DataFrame.

Rule titles and evidence keys are untrusted text from rule files: the Markdown rendering escapes
them (no raw HTML, links, images or code spans), as the HTML one does.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from os import PathLike
from typing import TYPE_CHECKING, Any, overload

from pydantic import BaseModel, ConfigDict

from .._model.base import WithoutV1
from .._model.matching import Scalar
from .._model.rules import Evidence, Rule, SuggestEffect, describe_condition
from .._model.schema import Schema, bundled_schema
from .._registry import renderer

if TYPE_CHECKING:
    from .._evaluate.protocol import KnowledgeBaseLike as KnowledgeBase

__all__ = ["DecisionRow", "DecisionTable", "decision_table"]

_EFFECTS = ("suggest", "flag", "avoid", "advise")


class DecisionRow(WithoutV1, BaseModel):
    """One rule as a row: ``conditions`` maps each field it tests to a short condition (a
    field it does not test takes any value); effects and evidence are short texts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule_id: str
    title: str
    status: str
    area: str
    conditions: dict[str, str]
    suggest: tuple[str, ...]
    flag: tuple[str, ...]
    avoid: tuple[str, ...]
    advise: tuple[str, ...]
    evidence: tuple[str, ...]
    file: str
    line: int | None

    def record(self) -> dict[str, str]:
        """The row as flat text: rule, area, title, when, suggest, flag, avoid, advise,
        evidence."""
        when = "; ".join(f"{name} {_verb(text)}" for name, text in self.conditions.items())
        return {
            "rule": self.rule_id,
            "area": self.area,
            "title": self.title,
            "when": when or "(every profile)",
            "suggest": "; ".join(self.suggest),
            "flag": ", ".join(self.flag),
            "avoid": "; ".join(self.avoid),
            "advise": ", ".join(self.advise),
            "evidence": ", ".join(self.evidence),
        }

    def __getitem__(self, key: str) -> str:
        return self.record()[key]


def _verb(text: str) -> str:
    if text.startswith(("not ", ">=", "<=", "includes ", "excludes ", "stated")):
        return text
    return f"in {text}" if ".." in text or ", " in text else f"= {text}"


@dataclass(frozen=True)
class DecisionTable(Sequence[DecisionRow]):
    """Rows in rule-id order; ``fields`` are the profile fields some row tests."""

    rows: tuple[DecisionRow, ...]
    field_order: tuple[str, ...] = ()
    #: What a workbook needs beyond the rows (the rules themselves, evidence, scope, schema).
    source: _Source | None = field(default=None, repr=False, compare=False)

    @cached_property
    def fields(self) -> tuple[str, ...]:
        tested = {name for row in self.rows for name in row.conditions}
        order = self.field_order or tuple(sorted(tested))
        return tuple(name for name in order if name in tested)

    @cached_property
    def _by_id(self) -> dict[str, DecisionRow]:
        return {row.rule_id: row for row in reversed(self.rows)}  # the first row of an id wins

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> DecisionRow: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[DecisionRow]: ...
    def __getitem__(self, index: int | slice) -> DecisionRow | Sequence[DecisionRow]:
        return self.rows[index]

    def __iter__(self) -> Iterator[DecisionRow]:
        return iter(self.rows)

    def row(self, rule_id: str) -> DecisionRow:
        """The row of this rule; ``KeyError`` if there is none."""
        return self._by_id[rule_id]

    def by_file(self) -> dict[str, DecisionTable]:
        """One table per rule file, in file order."""
        groups: dict[str, list[DecisionRow]] = {}
        for row in sorted(self.rows, key=lambda r: (r.file, r.line or 0)):
            groups.setdefault(row.file, []).append(row)
        part = None if self.source is None else replace(self.source, whole=False)
        return {
            file: DecisionTable(tuple(rows), self.field_order, part)
            for file, rows in groups.items()
        }

    def to_records(self) -> list[dict[str, str]]:
        """Every row as flat text (see :meth:`DecisionRow.record`)."""
        return [row.record() for row in self.rows]

    def to_markdown(self) -> str:
        """A Markdown table: rule, title, one column per tested field ("-" = any value),
        suggest, flag, avoid, advise, evidence; a status column when a rule is not active."""
        show_status = any(row.status != "active" for row in self.rows)
        fields = self.fields
        head = ["rule", "title", *(["status"] if show_status else []), *fields]
        head += [*_EFFECTS, "evidence"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in self.rows:
            cells = [_md_code(row.rule_id), _md_text(row.title)]
            cells += [_md_cell(row.status)] if show_status else []
            cells += [_md_cell(row.conditions.get(name, "-")) for name in fields]
            cells += ["<br>".join(map(_md_cell, getattr(row, effect))) for effect in _EFFECTS]
            cells.append(", ".join(map(_md_text, row.evidence)))
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def to_csv(self) -> str:
        """CSV with a header: rule_id, title, status, area, one column per tested field (empty
        = any value), the effects and evidence (several values joined by "; "), file, line."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        fields = self.fields
        head = ["rule_id", "title", "status", "area", *fields, *_EFFECTS, "evidence"]
        writer.writerow([*head, "file", "line"])
        for row in self.rows:
            writer.writerow(
                [row.rule_id, row.title, row.status, row.area]
                + [row.conditions.get(name, "") for name in fields]
                + ["; ".join(getattr(row, effect)) for effect in _EFFECTS]
                + ["; ".join(row.evidence), row.file, "" if row.line is None else row.line]
            )
        return buffer.getvalue()

    def to_html(self) -> str:
        """A self-contained, escaped HTML table (the notebook rendering)."""
        return renderer("decision_table", "html")(self)

    def to_frame(self) -> Any:
        """A pandas DataFrame with the columns of :meth:`to_csv`: a field a rule does not test
        is missing (NA), several effects or evidence keys are joined by "; ", ``line`` is an Int64
        column. Needs pandas (``pip install 'immunorules[pandas]'``)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "DecisionTable.to_frame() needs pandas: pip install 'immunorules[pandas]'"
            ) from None
        head = ["rule_id", "title", "status", "area", *self.fields, *_EFFECTS, "evidence"]
        records: list[list[Any]] = [
            [row.rule_id, row.title, row.status, row.area]
            + [row.conditions.get(name) for name in self.fields]
            + ["; ".join(getattr(row, effect)) for effect in _EFFECTS]
            + ["; ".join(row.evidence), row.file, row.line]
            for row in self.rows
        ]
        frame = pd.DataFrame(records, columns=[*head, "file", "line"])
        frame["line"] = frame["line"].astype("Int64")
        return frame

    def to_excel(self, path: str | PathLike[str]) -> None:
        """Write the rules of this table as an Excel workbook a clinician can edit and
        :func:`immunorules.load_rules` reads back (``ir.load_rules("table.xlsx")``): a
        ``rules`` sheet with one row per rule (id, title, status, one column per profile field
        with the rule's condition, one per effect, ``because`` and ``evidence``), and
        ``evidence``, ``golden cases``, ``vocabulary`` (entries beyond the bundled vocabulary)
        and ``scope`` sheets. Conditions and effects are written as in rule files (YAML flow
        style: ``[none, null]``, ``{min: 1}``). The round trip is lossless: the same rules, the
        same fingerprint. The workbook of a whole knowledge base's table holds its draft and
        retired rules too (their ``status`` says so), whether or not the table shows them: it
        is the knowledge base's source, not a view; a table of one file (:meth:`by_file`) writes
        that file's rules. Needs openpyxl (``pip install 'immunorules[excel]'``)."""
        from .._load.workbook import write_workbook
        from .._model.vocabulary import bundled_vocabulary

        if self.source is None:
            raise ValueError("this table was not made from a knowledge base: nothing to write")
        source = self.source
        ids = list(source.rules) if source.whole else [row.rule_id for row in self.rows]
        if not source.whole:
            files = {row.file for row in self.rows}
            shown = set(ids)
            ids += [i for i, r in source.rules.items() if r.file in files and i not in shown]
        write_workbook(
            path,
            rules=[source.rules[rule_id] for rule_id in ids],
            evidence=source.evidence,
            scope=source.scope,
            schema=source.schema,
            bundled=bundled_vocabulary(),
        )

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        return self.to_html()


# Markdown that gives text a meaning of its own: code spans, emphasis, links and images,
# strikethrough, table cells, escapes (HTML is made entities first).
_MD_SPECIAL = re.compile(r"([\\`*_\[\]~|])")


def _md_text(text: str) -> str:
    """Untrusted text as one Markdown table cell that renders as exactly that text: ``<>&`` as
    HTML entities (never raw HTML), Markdown punctuation and pipes backslash-escaped."""
    escaped = html.escape(" ".join(text.splitlines()), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", escaped)


def _md_code(text: str) -> str:
    """Text as an inline code span that cannot be broken out of."""
    clean = text.replace("`", "'").replace("|", "\\|").replace("\n", " ")
    return f"`{clean}`"


def _md_cell(text: str) -> str:
    """Text immunorules makes from its vocabulary (conditions such as ``<= 1``, effects) as a
    cell: it holds no markup, so only pipes and line breaks need escaping."""
    return text.replace("|", "\\|").replace("\n", " ")


#: How a condition that matches a field not stated reads, alone and beside stated values.
NOT_STATED = "not stated"
OR_NOT_STATED = " or not stated"


def condition_cell(field: str, allowed: frozenset[Scalar], schema: Schema | None = None) -> str:
    """A condition in table form: ``melanoma``, ``none, candidate``, ``not solid_organ_recipient``,
    ``>= 1``, ``1..3``, ``true``; ``not stated`` when it matches only a field not stated, and
    ``... or not stated`` when it matches that too (``not mild`` matches stated values only;
    ``stated`` any stated value)."""
    schema = schema or bundled_schema()
    stated = frozenset(value for value in allowed if value is not None)
    if not stated:
        return NOT_STATED
    domain = schema.domains[field]
    if stated >= frozenset(value for value in domain if value is not None):
        # every stated value: only whether it is stated counts
        return "any value" if None in allowed else "stated"
    if None in allowed:
        domain = tuple(value for value in domain if value is not None)
        return _stated_cell(field, stated, domain, schema) + OR_NOT_STATED
    return _stated_cell(field, stated, domain, schema)


def _stated_cell(
    field: str, allowed: frozenset[Scalar], domain: tuple[Scalar, ...], schema: Schema
) -> str:
    integer = schema.fields[field].type == "integer"
    text = describe_condition(field, allowed, domain, integer=integer)
    text = text.removeprefix(f"{field} ")
    if text.startswith("= "):
        return text[2:]
    if text.startswith("in ["):
        return text[4:-1]
    if text.startswith("not in ["):  # not stated is never among them: it does not match
        return "not " + ", ".join(v for v in text[8:-1].split(", ") if v != "null")
    return text.removeprefix("in ")


def _set_cell(field: str, text: str) -> str:
    """A set condition's reading in table form: ``includes a``, ``not stated``, ``includes a or
    not stated``."""
    text = text.replace(f"{field} ", "")
    if text in ("= null", "null"):
        return NOT_STATED
    return text.replace(" (or not stated)", OR_NOT_STATED)


def _area(rule: Rule, schema: Schema) -> str:
    owner = schema.condition_area
    areas = [owner[c] for c in rule.when.get("condition", ()) if isinstance(c, str)]
    if not areas:
        areas = [a for a in rule.when.get("disease_area", ()) if isinstance(a, str)]
    unique = sorted(set(areas), key=schema.disease_areas.index)
    if len(unique) == 1:
        return unique[0]
    return "several areas" if unique else "any area"


def rule_row(rule: Rule, schema: Schema | None = None) -> DecisionRow:
    schema = schema or bundled_schema()
    then = rule.then
    conditions: dict[str, str] = {}
    for name in schema.fields:
        if name in rule.when:
            conditions[name] = condition_cell(name, rule.when[name], schema)
        elif name in rule.sets:
            conditions[name] = _set_cell(name, rule.sets[name].describe(name))
    return DecisionRow(
        rule_id=rule.id,
        title=rule.title,
        status=rule.status,
        area=_area(rule, schema),
        conditions=conditions,
        suggest=tuple(_suggestion(s) for s in then.suggest),
        flag=then.flag,
        avoid=tuple(a.subcategory or f"{a.category} (all)" for a in then.avoid),
        advise=then.advise,
        evidence=rule.evidence,
        file=rule.file,
        line=rule.line,
    )


def _suggestion(effect: SuggestEffect) -> str:
    names = f": {', '.join(effect.subcategories)}" if effect.subcategories else ""
    goal = f"; goal {effect.goal}" if effect.goal else ""
    return f"{effect.category} ({effect.tier}{names}{goal})"


def decision_table(kb: KnowledgeBase, *, include_inactive: bool = False) -> DecisionTable:
    """The knowledge base's rules (active ones unless ``include_inactive``) as a table."""
    rules = kb.rules if include_inactive else kb.active_rules
    schema = kb.schema
    rows = tuple(rule_row(rule, schema) for rule in rules)
    source = _Source({rule.id: rule for rule in kb.rules}, kb.evidence, kb.scope, schema)
    return DecisionTable(rows, tuple(schema.fields), source)


@dataclass(frozen=True)
class _Source:
    rules: Mapping[str, Rule]
    evidence: Mapping[str, Evidence]
    scope: tuple[Rule, ...]
    schema: Schema
    #: The table of the whole knowledge base (not of one file).
    whole: bool = True
