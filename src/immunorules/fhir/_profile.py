"""From findings to a profile: the treated problem, every field the record supports, where each
value came from, what the record does not state, and what the reader should know.

:func:`assemble` reads the findings (``_reading``: the rules of time and evidence), chooses the
problem treated (``_choice``), then fills one family of fields at a time: the problem's own
fields (condition, disease area, immune activity, severity), the fields coded findings support
(conditions, observations, procedures; evidence of a fact, or of its absence), those the
patient's age supports, and the drug classes of medication records. A field with no evidence is
*not stated* (None), never a silent "no". The meaning of every code comes from the knowledge
base's vocabulary (see ``_codes``); this module must never hold a code of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

from .._errors import ProfileError
from .._model.profile import ConditionProfile
from .._model.schema import Schema
from ._choice import Choice, choose, severity
from ._codes import CodeIndex, code_index
from ._errors import FhirError, FhirProblem
from ._provenance import NO_EVIDENCE, UNRECOGNISED, Evidence, FhirProfile
from ._reading import FieldHit, Reading, absent, counts, read, stated_no
from ._record import Finding, PatientInfo

__all__ = ["Evidence", "FhirProfile", "assemble"]

#: The fields a record's treated problem sets.
_PROBLEM_FIELDS = ("immune_activity", "disease_area", "condition")

#: Per field, per value the record supports, the evidence for it (in the order found).
_Support = dict[str, dict[Any, list[Evidence]]]
#: The most records that were not recognised named in a field's ``not_stated`` reason (all are
#: in ``FhirProfile.unrecognised``).
_NAMED = 5


@dataclass
class _Draft:
    """The profile being assembled: values, their evidence, and the warnings so far."""

    values: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, list[Evidence]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def set(self, name: str, value: Any, evidence: list[Evidence]) -> None:
        self.values[name] = value
        self.provenance[name] = evidence


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
    draft = _Draft()
    reference = _reference_date(patient, as_of or today, draft.warnings)
    reading = read(findings, index, as_of=as_of, reference=reference)
    chosen = choose(reading.current, schema, condition, reading.histories, draft.warnings)
    treated_refs = _problem_fields(chosen, reading, schema, index, draft) if chosen else set()
    supported = _coded_support(reading.field_hits, schema, treated_refs)
    _age_support(supported, patient, reference, schema, index)
    _supported_fields(supported, schema, draft)
    therapy = {sub: tuple(found) for sub, found in reading.classes.items()}
    _therapy_fields(therapy, schema, index, draft)
    unread = reading.unrecognised()
    prior = index.prior_classes_field
    unrecognised = {prior: unread} if prior is not None and unread else {}
    return _finish(patient, schema, chosen is not None, draft, therapy, unrecognised)


def _reference_date(patient: PatientInfo, reference: date, warnings: list[str]) -> date:
    """The date the record is read on: ``reference``, or the date of death if earlier."""
    if patient.death is not None and patient.death < reference:
        warnings.append(
            f"the patient died on {patient.death.isoformat()}; recency and age are read as of "
            "that date"
        )
        return patient.death
    return reference


def _problem_fields(
    chosen: Choice, reading: Reading, schema: Schema, index: CodeIndex, draft: _Draft
) -> set[str]:
    """Condition, disease area, immune activity and severity from the chosen problem; returns
    the references of the findings that name it."""
    problem, reasons = chosen
    treated = reading.treated(problem)
    if problem.kind == "condition":
        area = schema.condition_area[problem.id]
        draft.set("condition", problem.id, reasons)
        derived = Evidence(None, None, None, None, f"the area of condition {problem.id}")
        draft.set("disease_area", area, [derived])
    else:
        area = problem.id
        draft.set("disease_area", area, reasons)
    activity = schema.typical_activity(area, draft.values.get("condition"))
    what = f"condition {problem.id}" if problem.kind == "condition" else f"area {area}"
    typical = Evidence(None, None, None, None, f"the immune activity typical of {what}")
    draft.set("immune_activity", activity, [typical])
    found = severity(treated, index, schema)
    if found is not None:
        draft.set("severity", *found)
    return {f.ref for c in treated for f in c.findings}


def _coded_support(hits: Iterable[FieldHit], schema: Schema, treated_refs: set[str]) -> _Support:
    """The field values coded findings support, as they stand on the record's date (a code
    marked ``besides_treated`` does not count on the treated problem's own findings): the value
    of a code the finding counts for, or the field's stated no when the finding is evidence that
    the code's fact is absent (a refuted Condition; an ended one, for a current fact)."""
    supported: _Support = {}
    for hit in hits:
        name, entry = hit.name, hit.match.entry
        value: Any
        if name not in schema.fields or name in _PROBLEM_FIELDS:
            continue
        if entry.besides_treated and hit.finding.ref in treated_refs:
            continue
        if counts(entry, hit.timing, hit.finding):
            value, evidence = entry.value, hit.evidence()
            if stated_no(value):  # a negative result: evidence of absence
                shown = ", ".join(sorted(hit.finding.answers & set(entry.answers)))
                evidence = Evidence(
                    evidence.resource,
                    evidence.system,
                    evidence.code,
                    evidence.display,
                    f"absent: negative result ({shown}), {evidence.detail}",
                )
        else:
            why = absent(entry, hit.timing, hit.finding)
            value = _no_value(schema, name) if why is not None else None
            if why is None or value is None:
                continue
            found = hit.evidence()
            evidence = Evidence(
                found.resource, found.system, found.code, found.display, f"absent: {why}"
            )
        supported.setdefault(name, {}).setdefault(value, []).append(evidence)
    return supported


def _no_value(schema: Schema, name: str) -> bool | str | None:
    """The value that says "stated: no" for a field about the current state (None: it has
    none, or a code of the field records history, e.g. a transplant done: an ended "awaiting a
    transplant" then does not say "none")."""
    definition = schema.fields[name]
    if any(c.when == "ever" and not stated_no(c.value) for c in definition.codes):
        return None
    if definition.type == "boolean":
        return False
    if definition.type == "enum" and "none" in definition.values:
        return "none"
    return None


def _age_support(
    supported: _Support, patient: PatientInfo, reference: date, schema: Schema, index: CodeIndex
) -> None:
    """Add the field values the patient's age on the record's date supports."""
    age = _age(patient, reference)
    if age is None:
        return
    for name, entry in index.ages:
        if name in schema.fields and age >= int(entry.code):
            detail = f"born {patient.birth}, aged {age} on {reference.isoformat()}"
            evidence = Evidence(
                f"Patient/{patient.id}", entry.system_uri, entry.code, entry.display, detail
            )
            supported.setdefault(name, {}).setdefault(entry.value, []).append(evidence)


def _supported_fields(supported: _Support, schema: Schema, draft: _Draft) -> None:
    """One value per supported field: every member for a set, the furthest in the field's order
    for an enum (with a warning when the record supports several besides a stated no), true over
    false (evidence of a fact wins over evidence of its absence)."""
    for name, by_value in supported.items():
        definition = schema.fields[name]
        if definition.type == "set":
            members = tuple(m for m in definition.values if m in by_value)
            draft.set(name, members, [e for m in members for e in by_value[m]])
            continue
        if definition.type == "enum":
            order = definition.values
            keep = max(by_value, key=lambda v: order.index(v) if v in order else -1)
            rivals = [v for v in by_value if v != keep and not stated_no(v)]
            if rivals:
                others = ", ".join(str(v) for v in rivals)
                draft.warnings.append(
                    f"{name}: the record supports {keep} and also {others}; kept {keep}, the "
                    "furthest in the field's order"
                )
        else:
            keep = True if True in by_value else next(iter(by_value))
        draft.set(name, keep, by_value[keep])


def _therapy_fields(
    therapy: dict[str, tuple[Evidence, ...]], schema: Schema, index: CodeIndex, draft: _Draft
) -> None:
    """The drug classes of medication records, as prior therapy classes when the knowledge base
    has that field; a warning otherwise."""
    if not therapy:
        return
    name = index.prior_classes_field
    if name is not None:
        classes = tuple(sub for sub in schema.subcategories if sub in therapy)
        draft.set(name, classes, [e for sub in classes for e in therapy[sub]])
        return
    draft.warnings.append(
        "medication records show the drug classes "
        + ", ".join(sorted(therapy))
        + "; the knowledge base has no prior_therapy_classes field, so they are not in the "
        "profile, and prior_lines_of_therapy (lines that failed) cannot be read from a "
        "record: it is left unknown"
    )


def _finish(
    patient: PatientInfo,
    schema: Schema,
    treats: bool,
    draft: _Draft,
    therapy: dict[str, tuple[Evidence, ...]],
    unrecognised: dict[str, tuple[Evidence, ...]],
) -> FhirProfile:
    """The profile (None unless a problem is treated), provenance in field order, and the fields
    the record does not state: None in the profile (given explicitly, whatever the field's
    default), or the default of a field the knowledge base says cannot be not stated; each with
    why (no evidence, or evidence that was not recognised, named)."""
    unknown = tuple(name for name in schema.fields if name not in draft.provenance)
    reasons: dict[str, str] = {}
    values = dict(draft.values)
    for name in unknown:
        definition = schema.fields[name]
        if definition.nullable:
            values[name] = None
        why = _unrecognised_reason(unrecognised[name]) if name in unrecognised else NO_EVIDENCE
        if definition.nullable or not treats:
            reasons[name] = why
        else:
            default = _shown(definition.default)
            reasons[name] = (
                f"{why}; the knowledge base cannot leave {name} not stated, so its "
                f"default ({default}) was used"
            )
    profile: ConditionProfile | None = None
    if treats:
        try:
            profile = schema.parse(values)
        except ProfileError as exc:  # pragma: no cover - the vocabulary checks the values
            raise FhirError(
                FhirProblem(f"Patient/{patient.id}", p.path, p.message) for p in exc.problems
            ) from None
    provenance = draft.provenance
    ordered = {name: tuple(provenance[name]) for name in schema.fields if name in provenance}
    return FhirProfile(
        patient_id=patient.id,
        profile=profile,
        provenance=MappingProxyType(ordered),
        unknown=unknown,
        warnings=tuple(draft.warnings),
        therapy_classes=MappingProxyType(therapy),
        not_stated=MappingProxyType(reasons),
        unrecognised=MappingProxyType(unrecognised),
    )


def _unrecognised_reason(found: tuple[Evidence, ...]) -> str:
    """Why a field is not stated when records that speak of it were not recognised: the
    records, named (the first few), so an answer that depends on the field says what it
    depends on."""
    count = len(found)
    drugs, which = ("a drug", "it belongs") if count == 1 else (f"{count} drugs", "any belongs")
    named = "; ".join(evidence.where for evidence in found[:_NAMED])
    more = f"; and {count - _NAMED} more" if count > _NAMED else ""
    return (
        f"{UNRECOGNISED}: medication records name {drugs} the drug terminology does not "
        f"recognise, so whether {which} to a drug class is unknown: {named}{more}"
    )


def _shown(value: Any) -> str:
    if value is None:
        return "not stated"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _age(patient: PatientInfo, on: date) -> int | None:
    if patient.birth is None or patient.birth > on:
        return None
    birth = patient.birth
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
