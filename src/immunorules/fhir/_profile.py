"""From findings to a profile: the treated problem, every field the record supports, where each
value came from, what stayed unknown, and what the reader should know.

The meaning of every code comes from the knowledge base's vocabulary (see ``_codes``); this
module holds only the rules of time (current, history, the past year, ``as_of``) and of choice
(which of several problems is the one treated).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType
from typing import Any

from .._errors import ProfileError
from .._model.profile import ConditionProfile
from .._model.schema import Schema
from .._model.vocabulary import FieldCode
from ._codes import CodeIndex, Problem, code_index
from ._errors import FhirError, FhirProblem
from ._record import Finding, PatientInfo

__all__ = ["Evidence", "FhirProfile", "assemble"]

_CURRENT = {"active", "recurrence", "relapse", ""}
_HISTORY = {"inactive", "remission", "resolved"}
_YEAR = timedelta(days=365)
#: The fields a record's treated problem sets.
_PROBLEM_FIELDS = ("immune_activity", "disease_area", "condition")


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where a value came from: a resource and the code in it that set the value (``resource``
    None: derived, e.g. the immune activity typical of the condition)."""

    resource: str | None
    system: str | None
    code: str | None
    display: str | None
    detail: str

    def __str__(self) -> str:
        coded = f" {self.system}|{self.code}" if self.code else ""
        shown = f" ({self.display})" if self.display else ""
        where = self.resource or "derived"
        return f"{where}{coded}{shown}: {self.detail}"

    def as_dict(self) -> dict[str, str | None]:
        return {
            "resource": self.resource,
            "system": self.system,
            "code": self.code,
            "display": self.display,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class FhirProfile:
    """A profile read from a FHIR record, with where every value came from.

    ``profile`` is an instance of the knowledge base's profile model, or None when the record
    holds no problem the knowledge base can treat (no condition it names and no disease area it
    codes) and none was given with ``condition=``; ``warnings`` then says why.
    ``provenance`` maps each field the record determined to the evidence for it, ``unknown``
    lists the fields it could not determine (left at their defaults), ``therapy_classes`` maps
    each drug class found in medication records to its evidence, and ``warnings`` holds what a
    reader should know (several treatable problems and the one chosen, a history-only
    condition, classes the profile has no field for).
    """

    patient_id: str
    profile: ConditionProfile | None
    provenance: Mapping[str, tuple[Evidence, ...]] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    therapy_classes: Mapping[str, tuple[Evidence, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready): the profile's fields, provenance, unknown and warnings."""
        return {
            "patient_id": self.patient_id,
            "profile": None if self.profile is None else self.profile.model_dump(mode="json"),
            "provenance": {
                name: [e.as_dict() for e in found] for name, found in self.provenance.items()
            },
            "unknown": list(self.unknown),
            "warnings": list(self.warnings),
            "therapy_classes": {
                name: [e.as_dict() for e in found] for name, found in self.therapy_classes.items()
            },
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def explain(self, *, markdown: bool = False) -> str:
        """The provenance as text (or Markdown): each field with its evidence, then what stayed
        unknown and the warnings."""
        bullet = "- " if markdown else "  "
        sub = "  - " if markdown else "      "
        head = "### " if markdown else ""
        out = [f"{head}From the FHIR record of patient {self.patient_id}"]
        if self.profile is None:
            out.append(f"{bullet}no profile: the record names no problem the rules treat")
        for name, found in self.provenance.items():
            value = None if self.profile is None else getattr(self.profile, name, None)
            shown = _shown(value) if self.profile is not None else "(found)"
            out.append(f"{bullet}{name} = {shown}")
            out.extend(f"{sub}{evidence}" for evidence in found)
        if self.therapy_classes:
            out.append(f"{bullet}drug classes in medication records:")
            for name, found in self.therapy_classes.items():
                out.append(f"{sub}{name}: " + "; ".join(str(e) for e in found))
        if self.unknown:
            out.append(f"{bullet}unknown (left at defaults): {', '.join(self.unknown)}")
        for warning in self.warnings:
            out.append(f"{bullet}warning: {warning}")
        return "\n".join(out)


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class _Timing:
    """How a finding stands on the record's date."""

    current: bool
    ever: bool
    past_year: bool
    detail: str


def _timing(finding: Finding, as_of: date | None, reference: date) -> _Timing | None:
    """None: the finding is after ``as_of``, or not about the patient then."""
    start, end = finding.start, finding.end
    if as_of is not None and start is not None and start > as_of:
        return None
    since = f" since {start.isoformat()}" if start else ""
    if finding.kind == "condition":
        ended = end is not None and end <= reference
        if finding.status in _HISTORY and (as_of is None or end is None or end <= as_of):
            ended = True
        if ended:
            last = end or start
            recent = last is not None and reference - last <= _YEAR
            when = f", ended {end.isoformat()}" if end else ""
            return _Timing(False, True, recent, f"{finding.status or 'ended'}{since}{when}")
        status = finding.status if as_of is None or end is None else "active"
        if status not in _CURRENT and status not in _HISTORY:
            status = "active"
        return _Timing(True, True, True, f"{status or 'active'}{since}")
    recent = start is None or reference - start <= _YEAR
    if finding.kind == "observation":
        return _Timing(recent, True, recent, f"observed {start.isoformat() if start else ''}")
    if finding.kind == "procedure":
        done = f"{finding.status} {start.isoformat()}" if start else finding.status
        return _Timing(finding.status == "in-progress", True, recent, f"procedure {done}")
    return _Timing(finding.status == "active", True, recent, f"{finding.status}{since}")


def _counts(code: FieldCode, timing: _Timing, finding: Finding) -> bool:
    if code.answers and not (finding.answers & set(code.answers)):
        return False
    if code.when == "ever":
        return timing.ever
    if code.when == "past_year":
        return timing.past_year and not timing.current
    return timing.current


@dataclass
class _Candidate:
    problem: Problem
    evidence: list[Evidence]
    findings: list[Finding]
    current: bool
    onset: date | None


def assemble(
    patient: PatientInfo,
    findings: Iterable[Finding],
    schema: Schema,
    *,
    as_of: date | None,
    condition: str | None,
    today: date,
) -> FhirProfile:
    """The profile of one patient from the findings of their record."""
    index = code_index(schema)
    reference = as_of or today
    warnings: list[str] = []
    if patient.death is not None and patient.death < reference:
        warnings.append(
            f"the patient died on {patient.death.isoformat()}; recency and age are read as of "
            "that date"
        )
        reference = patient.death

    candidates: dict[Problem, _Candidate] = {}
    field_hits: list[tuple[str, FieldCode, Finding, _Timing, str, str]] = []
    classes: dict[str, list[Evidence]] = {}
    for finding in findings:
        timing = _timing(finding, as_of, reference)
        if timing is None:
            continue
        best: tuple[Any, Problem, FieldCode, str, str] | None = None
        per_field: dict[tuple[str, str], tuple[Any, FieldCode, str, str]] = {}
        for system, code in finding.codings:
            for specificity, hit in index.lookup(system, code):
                if finding.kind == "condition":
                    for problem, entry in hit.problems:
                        rank = (specificity, -problem.rank)
                        if best is None or rank > best[0]:
                            best = (rank, problem, entry, system, code)
                if finding.kind != "medication":
                    for name, entry in hit.fields:
                        slot = (name, str(entry.value))
                        known = per_field.get(slot)
                        if known is None or specificity > known[0]:
                            per_field[slot] = (specificity, entry, system, code)
                else:
                    for sub, entry in hit.classes:
                        classes.setdefault(sub, []).append(
                            Evidence(finding.ref, system, code, entry.display, timing.detail)
                        )
        if best is not None and timing.current:
            _, problem, entry, system, code = best
            candidate = candidates.get(problem)
            evidence = Evidence(finding.ref, system, code, entry.display, timing.detail)
            if candidate is None:
                candidates[problem] = _Candidate(
                    problem, [evidence], [finding], timing.current, finding.start
                )
            else:
                candidate.evidence.append(evidence)
                candidate.findings.append(finding)
                if finding.start and (candidate.onset is None or finding.start > candidate.onset):
                    candidate.onset = finding.start
        elif best is not None:
            _, problem, entry, system, code = best
            key = Problem("history:" + problem.kind, problem.id, problem.rank)
            past = candidates.get(key)
            note = Evidence(finding.ref, system, code, entry.display, timing.detail)
            if past is None:
                candidates[key] = _Candidate(problem, [note], [finding], False, finding.start)
            else:
                past.evidence.append(note)
                past.findings.append(finding)
        for (name, _), (_, entry, system, code) in per_field.items():
            field_hits.append((name, entry, finding, timing, system, code))

    current = [c for c in candidates.values() if c.current]
    histories = [c for c in candidates.values() if not c.current]
    chosen = _choose(current, schema, condition, histories, warnings)
    values: dict[str, Any] = {}
    provenance: dict[str, list[Evidence]] = {}
    treated_refs: set[str] = set()
    if chosen is not None:
        problem, reasons = chosen
        treated = [c for c in candidates.values() if c.problem == problem]
        treated_refs = {f.ref for c in treated for f in c.findings}
        if problem.kind == "condition":
            area = schema.condition_area[problem.id]
            values["condition"] = problem.id
            provenance["condition"] = reasons
        else:
            area = problem.id
        values["disease_area"] = area
        provenance["disease_area"] = (
            [Evidence(None, None, None, None, f"the area of condition {problem.id}")]
            if problem.kind == "condition"
            else reasons
        )
        activity = schema.typical_activity(area, values.get("condition"))
        values["immune_activity"] = activity
        what = f"condition {problem.id}" if problem.kind == "condition" else f"area {area}"
        provenance["immune_activity"] = [
            Evidence(None, None, None, None, f"the immune activity typical of {what}")
        ]
        severity = _severity(treated, index, schema)
        if severity is not None:
            values["severity"], provenance["severity"] = severity

    supported: dict[str, dict[Any, list[Evidence]]] = {}
    for name, entry, finding, timing, system, code in field_hits:
        if name not in schema.fields or name in _PROBLEM_FIELDS:
            continue
        if entry.besides_treated and finding.ref in treated_refs:
            continue
        if not _counts(entry, timing, finding):
            continue
        evidence = Evidence(finding.ref, system, code, entry.display, timing.detail)
        supported.setdefault(name, {}).setdefault(entry.value, []).append(evidence)
    age = _age(patient, reference)
    for name, entry in index.ages:
        if name in schema.fields and age is not None and age >= int(entry.code):
            detail = f"born {patient.birth}, aged {age} on {reference.isoformat()}"
            evidence = Evidence(
                f"Patient/{patient.id}", entry.system_uri, entry.code, entry.display, detail
            )
            supported.setdefault(name, {}).setdefault(entry.value, []).append(evidence)
    for name, by_value in supported.items():
        definition = schema.fields[name]
        if definition.type == "set":
            values[name] = tuple(m for m in definition.values if m in by_value)
            provenance[name] = [e for m in values[name] for e in by_value[m]]
            continue
        if definition.type == "enum":
            order = definition.values
            keep = max(by_value, key=lambda v: order.index(v) if v in order else -1)
            if len(by_value) > 1:
                others = ", ".join(str(v) for v in by_value if v != keep)
                warnings.append(
                    f"{name}: the record supports {keep} and also {others}; kept {keep}, the "
                    "furthest in the field's order"
                )
        else:
            keep = True if True in by_value else next(iter(by_value))
        values[name] = keep
        provenance[name] = by_value[keep]

    therapy = {sub: tuple(found) for sub, found in classes.items()}
    if index.prior_classes_field is not None and therapy:
        name = index.prior_classes_field
        values[name] = tuple(sub for sub in schema.subcategories if sub in therapy)
        provenance[name] = [e for sub in values[name] for e in therapy[sub]]
    elif therapy:
        warnings.append(
            "medication records show the drug classes "
            + ", ".join(sorted(therapy))
            + "; the knowledge base has no prior_therapy_classes field, so they are not in the "
            "profile, and prior_lines_of_therapy (lines that failed) cannot be read from a "
            "record: it is left unknown"
        )
    profile: ConditionProfile | None = None
    if chosen is not None:
        try:
            profile = schema.parse(values)
        except ProfileError as exc:  # pragma: no cover - the vocabulary checks the values
            raise FhirError(
                FhirProblem(f"Patient/{patient.id}", p.path, p.message) for p in exc.problems
            ) from None
    determined = set(provenance)
    unknown = tuple(name for name in schema.fields if name not in determined)
    ordered = {name: tuple(provenance[name]) for name in schema.fields if name in provenance}
    return FhirProfile(
        patient_id=patient.id,
        profile=profile,
        provenance=MappingProxyType(ordered),
        unknown=unknown,
        warnings=tuple(warnings),
        therapy_classes=MappingProxyType(therapy),
    )


def _severity(
    treated: list[_Candidate], index: CodeIndex, schema: Schema
) -> tuple[str, list[Evidence]] | None:
    ranked: list[tuple[int, str, Evidence]] = []
    for candidate in treated:
        if not candidate.current:
            continue
        for finding in candidate.findings:
            for system, code in finding.severity:
                for name, entry in index.severity.get((system, code), ()):
                    if name != "severity" or not isinstance(entry.value, str):
                        continue
                    order = schema.fields[name].values
                    rank = order.index(entry.value) if entry.value in order else -1
                    evidence = Evidence(
                        finding.ref, system, code, entry.display, "Condition.severity"
                    )
                    ranked.append((rank, entry.value, evidence))
    if not ranked:
        return None
    top = max(ranked, key=lambda item: item[0])
    return top[1], [e for r, _, e in ranked if r == top[0]]


def _choose(
    current: list[_Candidate],
    schema: Schema,
    condition: str | None,
    history: list[_Candidate],
    warnings: list[str],
) -> tuple[Problem, list[Evidence]] | None:
    if condition is not None:
        rank = schema.conditions.index(condition)
        problem = Problem("condition", condition, rank)
        evidence = [c for c in current if c.problem == problem]
        if not evidence:
            warnings.append(
                f"condition {condition} was given by the caller; the record has no current "
                "Condition coded as it"
            )
        given = Evidence(None, None, None, None, "given as condition=")
        return problem, [given, *(e for c in evidence for e in c.evidence)]
    if not current:
        if history:
            names = sorted(
                {("" if c.problem.kind == "condition" else "area ") + c.problem.id for c in history}
            )
            warnings.append(
                f"no current problem the rules treat; {', '.join(names)} "
                f"{'is' if len(names) == 1 else 'are'} in the record only as history (resolved, "
                "inactive or abated before the record's date), so not taken as the problem "
                "treated now; pass condition= to choose one"
            )
        return None

    def key(candidate: _Candidate) -> tuple[int, date, int]:
        specific = 1 if candidate.problem.kind == "condition" else 0
        return (specific, candidate.onset or date.min, -candidate.problem.rank)

    ordered = sorted(current, key=key, reverse=True)
    chosen = ordered[0]
    others = ordered[1:]
    if others:

        def label(c: _Candidate) -> str:
            kind = "condition" if c.problem.kind == "condition" else "area"
            since = f", onset {c.onset.isoformat()}" if c.onset else ""
            return f"{kind} {c.problem.id}{since}"

        first = others[0]
        if chosen.problem.kind == "condition" and first.problem.kind != "condition":
            why = "a condition the rules name is preferred to a problem known only by its area"
        elif (chosen.onset or date.min) > (first.onset or date.min):
            why = "the most recent onset among the current ones"
        else:
            why = "the first in the vocabulary's order among equally recent ones"
        warnings.append(
            f"several current problems the rules treat: chose {label(chosen)} ({why}) over "
            + "; ".join(label(c) for c in others)
            + "; pass condition= to choose another"
        )
    return chosen.problem, chosen.evidence


def _age(patient: PatientInfo, on: date) -> int | None:
    if patient.birth is None or patient.birth > on:
        return None
    birth = patient.birth
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
