"""The loader: the only code that touches rule files.

It reads every ``*.yaml``/``*.yml`` file under the given paths (but a folder's
``knowledge-base.yaml``, which :mod:`.about` reads as the folder's name and version), checks each
against the rule-file format and the knowledge base's vocabulary, and collects every problem in
every file into one :class:`RuleFileError`. Nothing in a rule file is ever executed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

from .._errors import ProfileError, RuleFileError, RuleFileProblem, display_path, shown
from .._model.matching import Scalar
from .._model.profile import did_you_mean
from .._model.rules import (
    AvoidEffect,
    Effects,
    Evidence,
    Expectation,
    GoldenCase,
    Rule,
    SetCondition,
    SuggestEffect,
    show_value,
)
from .._model.schema import Schema, bundled_schema
from .._model.space import FlatSpace
from .._model.vocabulary import bundled_vocabulary
from .about import About, is_about_file, read_about
from .vocabulary import VocabularyMerger
from .workbook import WorkbookDocument, read_workbook
from .yaml import YamlDocument, child_path, parse_yaml

__all__ = ["BUNDLED_RULES", "LoadedRules", "load_rule_files", "unstated_warnings"]

PathInput = str | PathLike[str]

_ID = re.compile(r"[A-Z][A-Z0-9]*(-[A-Z0-9]+)*\Z")
_RULE_KEYS = ("id", "title", "status", "when", "then", "because", "evidence", "tests")
_EFFECT_KEYS = ("suggest", "flag", "avoid", "advise")
_EXPECT_KEYS = ("suggest", "flagged", "not", "advise")
_EVIDENCE_KEYS = ("citation", "url", "accessed", "version", "confidence", "note")
_STATUSES = ("active", "draft", "retired")
_TIERS = ("first_line", "escalation")
_GOALS = ("suppress", "stimulate", "reconstitute", "cytotoxic")
_CONFIDENCE = ("verified", "secondary", "unverified")
_TOP_KEYS = ("rules", "evidence", "vocabulary", "scope")
_SET_KEYS = ("includes", "includes_any", "excludes")
_UNSTATED = "or_not_stated"


def _bundled_rules() -> Path:
    installed = Path(str(resources.files("immunorules").joinpath("_bundled_rules")))
    if installed.is_dir():
        return installed
    # An editable install or a source checkout: src/immunorules/_load -> ../../../rules
    return Path(__file__).resolve().parents[3] / "rules"


#: The folder of the bundled knowledge base (inside the installed package).
BUNDLED_RULES: Path = _bundled_rules()


@dataclass(frozen=True, slots=True)
class LoadedRules:
    """Everything read from a set of rule files."""

    rules: tuple[Rule, ...]
    evidence: dict[str, Evidence]
    files: tuple[str, ...]
    schema: Schema
    space: FlatSpace
    #: The regions the rule files claim to cover (``scope:``); empty: the whole space.
    scope: tuple[Rule, ...] = ()
    #: Conditions that load but may not mean what their authors think (see
    #: :func:`unstated_warnings`).
    warnings: tuple[RuleFileProblem, ...] = ()
    #: What each path given says about itself (its ``knowledge-base.yaml``, or its own name).
    about: tuple[About, ...] = ()


def unstated_warnings(loaded: LoadedRules) -> tuple[str, ...]:
    """One line per rule condition that tests a "stated: no" value (``false``, ``none``, ``0``,
    or a set without some members, which the empty set satisfies) on a field that has no
    default: such a field is not stated when a profile leaves it out, and the condition does
    not match that (it did before not stated became a value). Each line reads
    ``file:line [RULE-ID] $.path: message``."""
    return tuple(str(warning) for warning in loaded.warnings)


def load_rule_files(paths: PathInput | Sequence[PathInput]) -> LoadedRules:
    """Read and check every rule file under ``paths``; raise one error listing every problem."""
    items = [paths] if isinstance(paths, str | PathLike) else list(paths)
    files: list[Path] = []
    problems: list[RuleFileProblem] = []
    about: list[About] = []
    for item in items:
        found, problem = _rule_files(Path(item))
        files.extend(found)
        if problem is not None:
            problems.append(problem)
        elif found:
            described, about_problems = read_about(Path(item), bundled=_is_bundled(Path(item)))
            about.append(described)
            problems.extend(about_problems)
    if not items:
        problems.append(RuleFileProblem("<none>", None, None, "$", "no rule paths were given"))
    checkers: list[_FileChecker] = []
    merger = VocabularyMerger(bundled_vocabulary())
    for path in dict.fromkeys(files):
        checker = _FileChecker(display_path(path))
        checker.read(path, merger)
        checkers.append(checker)
    schema = bundled_schema() if not merger.added else Schema(merger.vocabulary())
    for checker in checkers:
        checker.check(schema)
    evidence: dict[str, Evidence] = {}
    rules: dict[str, Rule] = {}
    for checker in checkers:
        for key, entry in checker.evidence.items():
            if key in evidence:
                first = evidence[key]
                checker.add(
                    child_path("$.evidence", key),
                    f"evidence key {shown(key)} is already defined at {first.file}:{first.line}",
                )
            else:
                evidence[key] = entry
        for rule, json_path in checker.rules:
            if rule.id in rules:
                first_rule = rules[rule.id]
                checker.add(
                    f"{json_path}.id",
                    f"duplicate rule id; first defined at {first_rule.file}:{first_rule.line}",
                    rule_id=rule.id,
                )
            else:
                rules[rule.id] = rule
    for checker in checkers:
        checker.check_evidence_keys(evidence)
        problems.extend(sorted(checker.problems, key=lambda p: p.line or 0))
    if problems:
        raise RuleFileError(_without_cascades(problems, merger.broken()))
    ordered = tuple(sorted(rules.values(), key=lambda rule: rule.id))
    scope = tuple(region for checker in checkers for region in checker.scope)
    return LoadedRules(
        ordered,
        dict(sorted(evidence.items())),
        tuple(c.file for c in checkers),
        schema,
        FlatSpace(schema, [*ordered, *scope]),
        scope,
        tuple(warning for checker in checkers for warning in checker.warnings),
        tuple(about),
    )


def parse_scope(
    schema: Schema, scope: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> tuple[Rule, ...]:
    """Scope regions (``when`` syntax: one mapping or a list) as rules of ``schema``; raises
    :class:`RuleFileError` naming each problem (file ``<scope>``)."""
    checker = _FileChecker("<scope>", schema=schema)
    checker._scope(list(scope) if isinstance(scope, Sequence) else scope)
    if checker.problems:
        raise RuleFileError(checker.problems)
    return tuple(checker.scope)


def _is_bundled(path: Path) -> bool:
    try:
        return path.resolve() == BUNDLED_RULES.resolve()
    except OSError:  # pragma: no cover - a path the file system cannot resolve
        return False


def _rule_files(path: Path) -> tuple[list[Path], RuleFileProblem | None]:
    """The rule files of ``path`` (a folder: every ``*.yaml``/``*.yml`` under it but its
    ``knowledge-base.yaml``), or the one problem that there are none."""
    shown = display_path(path)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())
        nested = [p for p in found if is_about_file(p) and p.parent != path]
        if nested:
            return [], RuleFileProblem(
                display_path(nested[0]),
                None,
                None,
                "$",
                "a knowledge-base.yaml is read only at the top of a rule folder given to the "
                "loader: give its folder as a path of its own, or move it",
            )
        found = [p for p in found if not is_about_file(p)]
        if not found:
            return [], RuleFileProblem(shown, None, None, "$", "no rule files (*.yaml, *.yml) here")
        return found, None
    if path.is_file():
        if is_about_file(path):
            return [], RuleFileProblem(
                shown,
                None,
                None,
                "$",
                "knowledge-base.yaml describes a rule folder: give the folder, not this file",
            )
        # a workbook is read only when named: a folder's rule files are its YAML files
        if path.suffix not in {".yaml", ".yml", ".xlsx"}:
            return [], RuleFileProblem(
                shown, None, None, "$", "not a rule file (*.yaml, *.yml) or workbook (*.xlsx)"
            )
        return [path], None
    return [], RuleFileProblem(shown, None, None, "$", "no such file or directory")


@dataclass
class _FileChecker:
    """Checks one rule file, collecting problems with file, line, rule id and JSON path."""

    file: str
    doc: YamlDocument = field(default_factory=lambda: YamlDocument(None))
    problems: list[RuleFileProblem] = field(default_factory=list)
    rules: list[tuple[Rule, str]] = field(default_factory=list)  # each with its JSON path
    evidence: dict[str, Evidence] = field(default_factory=dict)
    scope: list[Rule] = field(default_factory=list)
    current_rule: str | None = None
    schema: Schema = field(default_factory=bundled_schema)
    noted: int = 0  # problems noted so far, including those a YAML problem already explains
    warnings: list[RuleFileProblem] = field(default_factory=list)

    def add(self, path: str, message: str, *, rule_id: str | None = None) -> None:
        """Note a problem at ``path`` (its line is looked up in the parsed document)."""
        self.noted += 1  # even when the YAML problem below explains it: the rule is not built
        if any(problem.path == path for problem in self.doc.problems):
            return  # the YAML problem at this node (e.g. a refused tag) already explains it
        rule = rule_id if rule_id is not None else self.current_rule
        self.problems.append(self._problem(path, message, rule, self.doc.line(path)))

    def _problem(
        self, path: str, message: str, rule: str | None, line: int | None
    ) -> RuleFileProblem:
        """A problem at ``path``, located by line in a rule file or by cell in a workbook."""
        if isinstance(self.doc, WorkbookDocument):
            cell = self.doc.cell(path)
            if cell is not None:
                sheet, row, column = cell
                return RuleFileProblem(self.file, None, rule, path, message, sheet, row, column)
        return RuleFileProblem(self.file, line, rule, path, message)

    def read(self, path: Path, merger: VocabularyMerger) -> None:
        """Parse the file, check its shape, and add its ``vocabulary:`` to ``merger``."""
        if path.suffix == ".xlsx":
            self.doc = read_workbook(path)
        else:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                self.add("$", f"cannot read file: {exc}")
                return
            self.doc = parse_yaml(text)
        for problem in self.doc.problems:
            self.problems.append(self._problem(problem.path, problem.message, None, problem.line))
        data = self.doc.data
        if self.doc.problems and data is None:
            return
        if not isinstance(data, dict):
            shape = "an empty file" if data is None else f"a {_kind(data)}"
            self.add(
                "$", f"a rule file must be a mapping with 'rules' and/or 'evidence', not {shape}"
            )
            return
        self._keys(data, "$", _TOP_KEYS)
        if not any(key in data for key in ("rules", "evidence", "vocabulary")):
            self.add(
                "$", "a rule file needs a 'rules' list, an 'evidence' mapping or a 'vocabulary'"
            )
        if "vocabulary" in data:
            merger.add_section(
                data["vocabulary"],
                "$.vocabulary",
                lambda where: f"{self.file}:{self.doc.line(where)}",
                self.add,
            )

    def check(self, schema: Schema) -> None:
        """Check the evidence, scope and rules of the file read, against ``schema``."""
        self.schema = schema
        data = self.doc.data
        if not isinstance(data, dict):
            return
        if "evidence" in data:
            self._evidence(data["evidence"])
        if "scope" in data:
            self._scope(data["scope"])
        if "rules" in data:
            rules = data["rules"]
            if not isinstance(rules, list):
                self.add("$.rules", f"'rules' must be a list, not a {_kind(rules)}")
            else:
                for index, raw in enumerate(rules):
                    self._rule(raw, f"$.rules[{index}]")
                    self.current_rule = None

    def _scope(self, value: Any) -> None:
        """``scope:`` is one region (a ``when`` mapping) or a list of them."""
        regions = value if isinstance(value, list) else [value]
        for index, region in enumerate(regions):
            path = f"$.scope[{index}]" if isinstance(value, list) else "$.scope"
            if not isinstance(region, dict) or not region:
                self.add(path, "a scope is a non-empty mapping of profile fields, like 'when'")
                continue
            conditions = self._when(region, path)
            if conditions is None:
                continue
            when, sets = conditions
            self.scope.append(
                Rule(
                    id=f"SCOPE-{len(self.scope) + 1}",
                    title=f"Scope of {self.file}",
                    when=when,
                    sets=sets,
                    then=Effects(),
                    because="The profiles this rule set claims to cover.",
                    file=self.file,
                    line=self.doc.line(path),
                )
            )

    # -- helpers -----------------------------------------------------------------------------

    def _keys(self, data: Mapping[Any, Any], path: str, allowed: Sequence[str]) -> None:
        for key in data:
            if key not in allowed:
                hint = did_you_mean(key, list(allowed)) or f"; allowed: {', '.join(allowed)}"
                self.add(child_path(path, key), f"unknown key {shown(key)}{hint}")

    def _text(self, data: Mapping[str, Any], key: str, path: str, *, required: bool) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.add(path if key not in data else child_path(path, key), f"'{key}' is required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.add(child_path(path, key), f"'{key}' must be a non-empty string")
            return None
        return value

    def _list(self, value: Any, path: str) -> list[Any] | None:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(path, f"expected a list, not a {_kind(value)}")
            return None
        return value

    def _names(self, value: Any, path: str, choices: Sequence[str], what: str) -> tuple[str, ...]:
        items = self._list(value, path)
        found: list[str] = []
        for index, item in enumerate(items or []):
            if isinstance(item, str) and item in choices:
                found.append(item)
            else:
                self.add(f"{path}[{index}]", _unknown(item, choices, what))
        return tuple(dict.fromkeys(found))

    # -- evidence ----------------------------------------------------------------------------

    def _evidence(self, data: Any) -> None:
        if not isinstance(data, dict):
            self.add("$.evidence", f"'evidence' must be a mapping, not a {_kind(data)}")
            return
        for key, entry in data.items():
            path = child_path("$.evidence", key)
            if not isinstance(key, str) or not key:
                self.add(path, "evidence keys must be non-empty strings")
                continue
            if not isinstance(entry, dict):
                self.add(path, f"an evidence entry must be a mapping, not a {_kind(entry)}")
                continue
            self._keys(entry, path, _EVIDENCE_KEYS)
            citation = self._text(entry, "citation", path, required=True)
            texts = {
                name: self._text(entry, name, path, required=False)
                for name in ("url", "accessed", "version", "note")
            }
            confidence = entry.get("confidence")
            if confidence is not None and confidence not in _CONFIDENCE:
                self.add(
                    child_path(path, "confidence"), _unknown(confidence, _CONFIDENCE, "confidence")
                )
                confidence = None
            if citation is not None:
                self.evidence[key] = Evidence(
                    key=key,
                    citation=citation,
                    confidence=confidence,
                    file=self.file,
                    line=self.doc.line(path),
                    **texts,
                )

    def check_evidence_keys(self, evidence: Mapping[str, Evidence]) -> None:
        for rule, path in self.rules:
            for index, key in enumerate(rule.evidence):
                if key not in evidence:
                    self.add(
                        f"{path}.evidence[{index}]",
                        _unknown(key, list(evidence), "evidence key"),
                        rule_id=rule.id,
                    )

    # -- rules -------------------------------------------------------------------------------

    def _rule(self, raw: Any, path: str) -> None:
        if not isinstance(raw, dict):
            self.add(path, f"a rule must be a mapping, not a {_kind(raw)}")
            return
        before = self.noted
        rule_id = raw.get("id")
        if isinstance(rule_id, str) and _ID.match(rule_id):
            self.current_rule = rule_id
        elif "id" not in raw:
            self.add(path, "'id' is required")
        else:
            self.add(
                f"{path}.id",
                f"{shown(rule_id)} is not a valid rule id (like RA-ESCALATE-BIOLOGIC: capitals, "
                "digits and single hyphens)",
            )
        self._keys(raw, path, _RULE_KEYS)
        title = self._text(raw, "title", path, required=True)
        because = self._text(raw, "because", path, required=True)
        status = raw.get("status", "active")
        if status not in _STATUSES:
            self.add(f"{path}.status", _unknown(status, _STATUSES, "status"))
        conditions = self._when(raw.get("when"), f"{path}.when")
        then = self._then(raw.get("then"), f"{path}.then", present="then" in raw)
        evidence = self._evidence_refs(raw.get("evidence"), f"{path}.evidence")
        tests = self._tests(raw.get("tests"), f"{path}.tests")
        if self.noted > before or title is None or because is None:
            return
        assert isinstance(rule_id, str) and then is not None and conditions is not None
        when, sets = conditions
        self.rules.append(
            (
                Rule(
                    id=rule_id,
                    title=title,
                    status=status,
                    when=when,
                    sets=sets,
                    then=then,
                    because=" ".join(because.split()),
                    evidence=evidence,
                    tests=tests,
                    file=self.file,
                    line=self.doc.line(path),
                ),
                path,
            )
        )

    def _evidence_refs(self, value: Any, path: str) -> tuple[str, ...]:
        items = self._list(value, path)
        keys: list[str] = []
        for index, item in enumerate(items or []):
            if isinstance(item, str) and item:
                keys.append(item)
            else:
                self.add(f"{path}[{index}]", "an evidence reference must be a key (a string)")
        return tuple(dict.fromkeys(keys))

    def _when(
        self, value: Any, path: str
    ) -> tuple[dict[str, frozenset[Scalar]], dict[str, SetCondition]] | None:
        if value is None:
            return {}, {}
        if not isinstance(value, dict):
            self.add(path, f"'when' must be a mapping of profile fields, not a {_kind(value)}")
            return None
        fields = list(self.schema.fields)
        result: dict[str, frozenset[Scalar]] = {}
        sets: dict[str, SetCondition] = {}
        ok = True
        for name, spec in value.items():
            field_path = child_path(path, name)
            if name not in self.schema.fields:
                self.add(field_path, _unknown(name, fields, "profile field"))
                ok = False
                continue
            if name in self.schema.set_fields:
                test = self._set_condition(name, spec, field_path)
                if test is None:
                    ok = False
                else:
                    sets[name] = test
                    if test.holds(()) and not test.or_not_stated:
                        self._warn_unstated(name, "the empty set", field_path)
                continue
            allowed = self._condition(name, spec, field_path)
            if allowed is None:
                ok = False
            else:
                result[name] = allowed
                stated_no = sorted(
                    (show_value(v) for v in allowed if v is False or v == 0 or v == "none"),
                    key=str,
                )
                if stated_no and None not in allowed:
                    self._warn_unstated(name, " or ".join(stated_no), field_path)
        return (result, sets) if ok else None

    def _warn_unstated(self, name: str, what: str, path: str) -> None:
        """Warn that a condition matching ``what`` (a "stated: no" value) on a field without a
        default does not match the field left out."""
        field_def = self.schema.fields[name]
        if self.current_rule is None or not field_def.nullable or field_def.default is not None:
            return
        message = (
            f"matches {what}, but {name} has no default: a profile that leaves it out has it "
            "not stated, which this condition does not match; add null (or or_not_stated: "
            "true) to match it too, or give the field a default"
        )
        self.warnings.append(
            RuleFileProblem(self.file, self.doc.line(path), self.current_rule, path, message)
        )

    def _set_condition(self, name: str, spec: Any, path: str) -> SetCondition | None:
        members = self.schema.set_fields[name]
        if spec is None:
            # ``null``: the set is not stated (and nothing else matches)
            if not self._may_be_unstated(name, path):
                return None
            return SetCondition(or_not_stated=True, includes_any=(frozenset(),))
        if not isinstance(spec, dict) or not spec or not set(spec) <= {*_SET_KEYS, _UNSTATED}:
            self.add(
                path,
                f"{name} is a set field: its condition is a mapping of "
                "includes, includes_any and/or excludes (each a list of members), "
                "with or_not_stated: true to match a set that is not stated, or null",
            )
            return None
        unstated = self._or_not_stated(name, spec, path)
        if unstated is None:
            return None
        if not set(spec) & set(_SET_KEYS):
            self.add(path, "or_not_stated needs a condition beside it (or write null)")
            return None
        includes: set[str] = set()
        any_of: list[frozenset[str]] = []
        parts: dict[str, frozenset[str]] = {}
        for key, items in spec.items():
            if key == _UNSTATED:
                continue
            listed = items if isinstance(items, list) else [items]
            found: set[str] = set()
            if not listed:
                self.add(f"{path}.{key}", "an empty list: list at least one member")
            for index, item in enumerate(listed):
                if isinstance(item, str) and item in members:
                    # a coarser class means any of its finer ones
                    finer = {d for d in self.schema.descendants(item) if d in members}
                    if key == "includes":
                        if finer:
                            any_of.append(frozenset({item, *finer}))
                        else:
                            includes.add(item)
                    found.add(item)
                    found.update(finer)
                else:
                    where = f"{path}.{key}[{index}]" if isinstance(items, list) else f"{path}.{key}"
                    self.add(where, _unknown(item, members, f"member of {name}"))
            parts[key] = frozenset(found)
        if any(problem.path.startswith(path) for problem in self.problems):
            return None
        if "includes_any" in parts:
            any_of.append(parts["includes_any"])
        test = SetCondition(
            includes=frozenset(includes),
            includes_any=tuple(dict.fromkeys(any_of)),
            excludes=parts.get("excludes", frozenset()),
            or_not_stated=unstated,
        )
        if parts.get("includes", frozenset()) & test.excludes:
            self.add(path, "a member is both included and excluded: the rule could never fire")
            return None
        return test

    def _or_not_stated(self, name: str, spec: Mapping[str, Any], path: str) -> bool | None:
        """The ``or_not_stated`` of a condition mapping (False when absent); None (reported)
        when it is not a boolean or the field can never be not stated."""
        value = spec.get(_UNSTATED, False)
        if not isinstance(value, bool):
            self.add(f"{path}.{_UNSTATED}", f"expected true or false, not {shown(value)}")
            return None
        if value and not self._may_be_unstated(name, f"{path}.{_UNSTATED}"):
            return None
        return value

    def _may_be_unstated(self, name: str, path: str) -> bool:
        if self.schema.fields[name].nullable:
            return True
        self.add(path, f"null is not allowed: {name} is never null (it cannot be not stated)")
        return False

    def _condition(self, name: str, spec: Any, path: str) -> frozenset[Scalar] | None:
        domain = self.schema.domains[name]
        integer = self.schema.fields[name].type == "integer"
        if not isinstance(spec, dict):
            return self._values(name, spec, path)
        keys = set(spec) - {_UNSTATED}
        unstated = self._or_not_stated(name, spec, path)
        if unstated is None:
            return None
        allowed: frozenset[Scalar] | None
        if integer and keys and keys <= {"min", "max"}:
            allowed = self._range(name, {k: spec[k] for k in keys}, path)
        elif keys == {"not"}:
            excluded = self._values(name, spec["not"], f"{path}.not")
            if excluded is None:
                return None
            # a negative condition never matches a field that is not stated (unless it opts in)
            allowed = frozenset(v for v in domain if v not in excluded and v is not None)
            if not allowed and not unstated:
                self.add(f"{path}.not", "excludes every value: the rule could never fire")
                return None
        else:
            options = "'min'/'max' or 'not'" if integer else "'not'"
            self.add(
                path,
                f"a condition mapping takes only {options} (and or_not_stated), "
                f"got {sorted(map(str, spec))}",
            )
            return None
        if allowed is None:
            return None
        return allowed | {None} if unstated else allowed

    def _values(self, name: str, spec: Any, path: str) -> frozenset[Scalar] | None:
        items = spec if isinstance(spec, list) else [spec]
        if not items:
            self.add(path, "an empty list matches nothing: list at least one value")
            return None
        found: set[Scalar] = set()
        ok = True
        for index, item in enumerate(items):
            item_path = f"{path}[{index}]" if isinstance(spec, list) else path
            problem = self._value_problem(name, item)
            if problem:
                self.add(item_path, problem)
                ok = False
            else:
                found.add(item)
        return frozenset(found) if ok else None

    def _value_problem(self, name: str, value: Any) -> str | None:
        field_def = self.schema.fields[name]
        domain = self.schema.domains[name]
        if value is None:
            if None in domain:
                return None
            return f"null is not allowed: {name} is never null (it cannot be not stated)"
        if field_def.type == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                return f"expected an integer, {{min: n}} or {{max: n}}, not {shown(value)}"
            if not field_def.min <= value <= field_def.max:  # type: ignore[operator]
                return f"{shown(value)} is outside {field_def.min}..{field_def.max}"
            return None
        if field_def.type == "boolean":
            return (
                None if isinstance(value, bool) else f"expected true or false, not {shown(value)}"
            )
        if isinstance(value, str) and value in domain:
            return None
        return _unknown(value, [str(v) for v in domain if v is not None], f"{name} value")

    def _range(self, name: str, spec: Mapping[str, Any], path: str) -> frozenset[Scalar] | None:
        field_def = self.schema.fields[name]
        lowest, highest = field_def.min, field_def.max
        assert lowest is not None and highest is not None
        bounds: dict[str, int] = {}
        for key in ("min", "max"):
            if key not in spec:
                continue
            value = spec[key]
            if isinstance(value, bool) or not isinstance(value, int):
                self.add(f"{path}.{key}", f"'{key}' must be an integer, not {shown(value)}")
            elif not lowest <= value <= highest:
                self.add(f"{path}.{key}", f"{shown(value)} is outside {lowest}..{highest}")
            else:
                bounds[key] = value
        if len(bounds) != len(spec):
            return None
        low, high = bounds.get("min", lowest), bounds.get("max", highest)
        if low > high:
            self.add(path, f"min ({low}) is greater than max ({high})")
            return None
        return frozenset(range(low, high + 1))

    def _then(self, value: Any, path: str, *, present: bool) -> Effects | None:
        if not present:
            self.add(path.rsplit(".", 1)[0], "'then' is required (at least one effect)")
            return None
        if not isinstance(value, dict):
            self.add(path, f"'then' must be a mapping of effects, not a {_kind(value)}")
            return None
        self._keys(value, path, _EFFECT_KEYS)
        suggest = self._suggestions(value.get("suggest"), f"{path}.suggest")
        schema = self.schema
        flag = self._names(value.get("flag"), f"{path}.flag", schema.categories, "category")
        avoid = self._avoids(value.get("avoid"), f"{path}.avoid")
        advise = self._names(
            value.get("advise"), f"{path}.advise", schema.advisories, "advisory key"
        )
        effects = Effects(suggest=suggest, flag=flag, avoid=avoid, advise=advise)
        if not (suggest or flag or avoid or advise) and not any(
            value.get(key) for key in _EFFECT_KEYS
        ):
            self.add(path, "'then' needs at least one effect (suggest, flag, avoid or advise)")
            return None
        return effects

    def _suggestions(self, value: Any, path: str) -> tuple[SuggestEffect, ...]:
        found: list[SuggestEffect] = []
        for index, item in enumerate(self._list(value, path) or []):
            item_path = f"{path}[{index}]"
            if not isinstance(item, dict):
                self.add(item_path, "a suggestion must be a mapping with 'category' and 'tier'")
                continue
            self._keys(item, item_path, ("category", "tier", "subcategories", "goal"))
            category = item.get("category")
            tier = item.get("tier")
            goal = item.get("goal")
            ok = True
            if goal is not None and goal not in _GOALS:
                self.add(f"{item_path}.goal", _unknown(goal, _GOALS, "goal"))
                ok = False
            categories = self.schema.categories
            if category not in categories:
                message = "'category' is required" if category is None else None
                self.add(
                    f"{item_path}.category" if category is not None else item_path,
                    message or _unknown(category, categories, "category"),
                )
                ok = False
            if tier not in _TIERS:
                message = "'tier' is required" if tier is None else _unknown(tier, _TIERS, "tier")
                self.add(f"{item_path}.tier" if tier is not None else item_path, message)
                ok = False
            subcategories = self._names(
                item.get("subcategories"),
                f"{item_path}.subcategories",
                self.schema.subcategories,
                "subcategory",
            )
            for sub_index, sub in enumerate(subcategories):
                owner = self.schema.sub_category[sub]
                if ok and owner != category:
                    self.add(
                        f"{item_path}.subcategories[{sub_index}]",
                        f"subcategory {shown(sub)} belongs to {owner!r}, not {category!r}",
                    )
                    ok = False
            if ok:
                found.append(
                    SuggestEffect(
                        category=category, tier=tier, subcategories=subcategories, goal=goal
                    )
                )
        return tuple(found)

    def _avoids(self, value: Any, path: str) -> tuple[AvoidEffect, ...]:
        found: list[AvoidEffect] = []
        for index, item in enumerate(self._list(value, path) or []):
            item_path = f"{path}[{index}]"
            if not isinstance(item, dict) or len(item) != 1:
                self.add(item_path, "an avoid entry is {category: X} or {subcategory: Y}")
                continue
            ((key, name),) = item.items()
            schema = self.schema
            if key == "category" and name in schema.categories:
                found.append(AvoidEffect(category=name))
            elif key == "subcategory" and name in schema.subcategories:
                owner = schema.sub_category[name]
                found.append(AvoidEffect(category=owner, subcategory=name))
                found.extend(
                    AvoidEffect(category=owner, subcategory=finer)
                    for finer in schema.descendants(name)
                )
            elif key in ("category", "subcategory"):
                choices = schema.categories if key == "category" else schema.subcategories
                self.add(f"{item_path}.{key}", _unknown(name, choices, key))
            else:
                self.add(
                    child_path(item_path, key), _unknown(key, ("category", "subcategory"), "key")
                )
        return tuple(found)

    def _tests(self, value: Any, path: str) -> tuple[GoldenCase, ...]:
        cases: list[GoldenCase] = []
        for index, item in enumerate(self._list(value, path) or []):
            case_path = f"{path}[{index}]"
            if not isinstance(item, dict):
                self.add(case_path, "a golden case is a mapping with 'profile' and 'expect'")
                continue
            self._keys(item, case_path, ("profile", "expect"))
            profile = None
            if "profile" not in item:
                self.add(case_path, "'profile' is required")
            else:
                try:
                    profile = self.schema.parse(item["profile"])
                except ProfileError as exc:
                    for problem in exc.problems:
                        where = f"{case_path}.profile"
                        if problem.path != "$":
                            where = child_path(where, problem.path)
                        self.add(where, f"invalid golden-case profile: {problem.message}")
            expect = self._expect(item.get("expect"), f"{case_path}.expect")
            if profile is not None and expect is not None:
                cases.append(
                    GoldenCase(profile=profile, expect=expect, line=self.doc.line(case_path))
                )
        return tuple(cases)

    def _expect(self, value: Any, path: str) -> Expectation | None:
        if not isinstance(value, dict) or not value:
            self.add(path, "'expect' must be a mapping with suggest, flagged, not and/or advise")
            return None
        self._keys(value, path, _EXPECT_KEYS)
        cats = self.schema.categories
        return Expectation(
            suggest=self._names(value.get("suggest"), f"{path}.suggest", cats, "category"),
            flagged=self._names(value.get("flagged"), f"{path}.flagged", cats, "category"),
            not_=self._names(value.get("not"), f"{path}.not", cats, "category"),
            advise=self._names(
                value.get("advise"), f"{path}.advise", self.schema.advisories, "advisory key"
            ),
        )


def _follows_from(problem: RuleFileProblem, name: str, section: str) -> bool:
    """Whether ``problem`` is only an unknown use of ``name``, a name whose definition (in
    ``section``) has a problem of its own."""
    if f"{shown(name)} is not a known" in problem.message:
        return True
    return (
        section == "fields"
        and problem.message.startswith(("unknown field", "invalid golden-case profile: unknown"))
        and (problem.path.endswith(f".{name}") or problem.path.endswith(f"[{name!r}]"))
    )


def _without_cascades(
    problems: list[RuleFileProblem], broken: Mapping[str, tuple[str, str, str]]
) -> list[RuleFileProblem]:
    """``problems`` with each broken definition reported once: the unknown-name problems of its
    uses are left out, and the definition's first problem says how many there were."""
    if not broken:
        return problems
    kept: list[RuleFileProblem] = []
    uses = dict.fromkeys(broken, 0)
    for problem in problems:
        name = next(
            (n for n, (sec, _, _) in broken.items() if _follows_from(problem, n, sec)), None
        )
        if name is None:
            kept.append(problem)
        else:
            uses[name] += 1
    for name, count in uses.items():
        _, file, path = broken[name]
        for index, problem in enumerate(kept):
            if count and problem.file == file and _under(problem.path, path):
                note = "use" if count == 1 else "uses"
                kept[index] = replace(
                    problem,
                    message=f"{problem.message} (so {shown(name)} is not defined: its {count} "
                    f"{note} are not checked until this is fixed)",
                )
                break
    return kept


def _under(path: str, entry: str) -> bool:
    return path == entry or path.startswith((f"{entry}.", f"{entry}["))


def _unknown(value: Any, choices: Iterable[str], what: str) -> str:
    options = list(choices)
    hint = did_you_mean(value, options)
    if not hint and len(options) <= 8:
        hint = f"; expected one of {', '.join(options)}"
    return f"{shown(value)} is not a known {what}{hint}"


_KINDS: dict[type, str] = {dict: "mapping", list: "list", str: "string"}


def _kind(value: object) -> str:
    return _KINDS.get(type(value), type(value).__name__)
