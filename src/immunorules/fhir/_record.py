"""Reading FHIR R4 resources: validation against the R4B models of ``fhir.resources``, and the
few facts of each resource the mapping needs (its codes, status and dates), kept small so a
whole Bulk Data export never has to be held in memory.

It validates and reads; it never decides what a code means (that is the vocabulary's).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from ._errors import FhirProblem

__all__ = [
    "CLINICAL_TYPES",
    "Drug",
    "Finding",
    "PatientInfo",
    "clip",
    "codings_of",
    "drug_of",
    "earlier",
    "medication_codings",
    "patient_info",
    "read_finding",
    "texts_of",
    "validate_resource",
]

Coding = tuple[str, str]

#: The resource types that can set profile fields.
CLINICAL_TYPES = (
    "Condition",
    "Procedure",
    "MedicationRequest",
    "MedicationStatement",
    "Observation",
)
_KIND = {
    "Condition": "condition",
    "Procedure": "procedure",
    "MedicationRequest": "medication",
    "MedicationStatement": "medication",
    "Observation": "observation",
}
#: Statuses that mean the resource says nothing about the patient.
_IGNORED_STATUS = {
    "procedure": {"not-done", "entered-in-error", "preparation", "stopped", "unknown"},
    "medication": {"cancelled", "entered-in-error", "draft", "not-taken", "unknown"},
    "observation": {"registered", "cancelled", "entered-in-error", "unknown"},
}
_DATE = re.compile(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")


@dataclass(frozen=True, slots=True)
class Finding:
    """What one clinical resource can tell: its codes, status and dates."""

    ref: str  # "Condition/abc"
    kind: str  # condition | procedure | medication | observation
    codings: tuple[Coding, ...]
    status: str  # Condition.clinicalStatus, or the resource's status
    start: date | None
    end: date | None = None
    severity: tuple[Coding, ...] = ()
    answers: frozenset[str] = frozenset()
    refuted: bool = False  # a Condition whose verificationStatus is refuted
    texts: tuple[str, ...] = ()  # a medication's coding displays and text (the name fallback)


#: A drug as a medication record names it: its codes and texts.
Drug = tuple[tuple[Coding, ...], tuple[str, ...]]


def drug_of(finding: Finding) -> Drug:
    """The drug a medication finding names, as a key: records naming it alike share it."""
    return finding.codings, finding.texts


def earlier(finding: Finding, than: Finding) -> bool:
    """Whether ``finding`` is dated before ``than`` (an undated finding counts as earliest)."""
    return than.start is not None and (finding.start is None or finding.start < than.start)


@dataclass(frozen=True, slots=True)
class PatientInfo:
    id: str
    birth: date | None
    death: date | None


@cache
def _model(resource_type: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(resource_type)


def validate_resource(resource: Any, where: str) -> list[FhirProblem]:
    """The problems that keep ``resource`` from being a valid FHIR R4 resource, checked with
    ``fhir.resources``' R4B models (none: valid)."""
    if not isinstance(resource, dict):
        return [FhirProblem(where, "$", f"a resource must be a JSON object, not {_kind(resource)}")]
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        return [FhirProblem(where, "resourceType", "the resource has no resourceType")]
    try:
        model = _model(resource_type)
    except (ValueError, KeyError, AttributeError, ImportError):
        return [
            FhirProblem(
                where, "resourceType", f"{clip(repr(resource_type))} is not a FHIR R4 resource type"
            )
        ]
    from pydantic import ValidationError

    try:
        model.model_validate(resource)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            path = ".".join(str(part) for part in error["loc"]) or "$"
            message = " ".join(str(error["msg"]).split())
            problems.append(FhirProblem(where, clip(path), clip(message, 200)))
        return problems or [FhirProblem(where, "$", "not a valid FHIR R4 resource")]
    except (ValueError, TypeError, RecursionError) as exc:
        return [FhirProblem(where, "$", f"not a valid FHIR R4 resource: {clip(str(exc), 200)}")]
    except LookupError:  # fhir.resources looks a nested resource's type up in a table
        return [
            FhirProblem(
                where,
                "$",
                "not a valid FHIR R4 resource: a nested (e.g. contained) resource names no "
                "FHIR R4 resource type",
            )
        ]
    return []


def clip(text: str, limit: int = 100) -> str:
    """``text`` cut to about ``limit`` characters: a problem never echoes much of the input."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return repr(value)
    return type(value).__name__


def where_of(resource: Mapping[str, Any], fallback: str) -> str:
    rid = resource.get("id")
    rtype = resource.get("resourceType")
    if isinstance(rid, str) and isinstance(rtype, str):
        return clip(f"{rtype}/{rid}")
    return fallback


def parse_date(value: Any) -> date | None:
    """The date of a FHIR date or dateTime (a partial date: its first day)."""
    if not isinstance(value, str):
        return None
    match = _DATE.match(value)
    if match is None:
        return None
    year, month, day = match.groups()
    try:
        return date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return None


def codings_of(concept: Any) -> tuple[Coding, ...]:
    """(system, code) of every coding of a CodeableConcept."""
    if not isinstance(concept, dict):
        return ()
    found = []
    for coding in _list(concept.get("coding")):
        if isinstance(coding, dict):
            system, code = coding.get("system"), coding.get("code")
            if isinstance(system, str) and isinstance(code, str):
                found.append((system, code))
    return tuple(found)


def texts_of(concept: Any) -> tuple[str, ...]:
    """The ``display`` of every coding of a CodeableConcept, then its ``text`` (each once)."""
    if not isinstance(concept, dict):
        return ()
    found = [
        coding.get("display") for coding in _list(concept.get("coding")) if isinstance(coding, dict)
    ]
    found.append(concept.get("text"))
    return tuple(dict.fromkeys(t for t in found if isinstance(t, str) and t.strip()))


def _first_code(concept: Any) -> str:
    for coding in _list(concept.get("coding")) if isinstance(concept, dict) else ():
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            return str(coding["code"])
    return ""


def _list(value: Any) -> list[Any]:
    """An element FHIR makes an array, when it is one (anything else: read as empty; the
    validation reports it)."""
    return value if isinstance(value, list) else []


def patient_info(resource: Mapping[str, Any]) -> PatientInfo:
    death = parse_date(resource.get("deceasedDateTime"))
    return PatientInfo(
        id=str(resource.get("id") or ""),
        birth=parse_date(resource.get("birthDate")),
        death=death,
    )


def medication_codings(resource: Mapping[str, Any]) -> tuple[Coding, ...]:
    return codings_of(resource.get("code"))


def read_finding(
    resource: Mapping[str, Any],
    ref: str,
    medication: Callable[[Mapping[str, Any]], Any] | None = None,
) -> Finding | None:
    """The finding of a clinical resource, or None when it says nothing about the patient
    (entered in error, cancelled, not done, not a clinical type). A refuted Condition is a
    finding marked ``refuted``: it says the patient does not have what it names.
    ``medication`` gives the ``code`` of the Medication a ``medicationReference`` names."""
    kind = _KIND.get(str(resource.get("resourceType")))
    if kind is None:
        return None
    if kind == "condition":
        verification = _first_code(resource.get("verificationStatus"))
        if verification == "entered-in-error":
            return None
        onset = resource.get("onsetPeriod")
        abatement = resource.get("abatementPeriod")
        return Finding(
            ref=ref,
            kind=kind,
            codings=codings_of(resource.get("code")),
            status=_first_code(resource.get("clinicalStatus")),
            start=parse_date(resource.get("onsetDateTime"))
            or parse_date(onset.get("start") if isinstance(onset, dict) else None)
            or parse_date(resource.get("recordedDate")),
            end=parse_date(resource.get("abatementDateTime"))
            or parse_date(abatement.get("end") if isinstance(abatement, dict) else None),
            severity=codings_of(resource.get("severity")),
            refuted=verification == "refuted",
        )
    status = str(resource.get("status") or "")
    if status in _IGNORED_STATUS[kind]:
        return None
    if kind == "procedure":
        period = resource.get("performedPeriod")
        start = parse_date(resource.get("performedDateTime")) or parse_date(
            period.get("start") if isinstance(period, dict) else None
        )
        return Finding(ref, kind, codings_of(resource.get("code")), status, start)
    if kind == "medication":
        concept = resource.get("medicationCodeableConcept")
        if not codings_of(concept) and not texts_of(concept) and medication is not None:
            concept = medication(resource)
        codings = codings_of(concept)
        period = resource.get("effectivePeriod")
        start = (
            parse_date(resource.get("authoredOn"))
            or parse_date(resource.get("effectiveDateTime"))
            or parse_date(period.get("start") if isinstance(period, dict) else None)
            or parse_date(resource.get("dateAsserted"))
        )
        return Finding(ref, kind, codings, status, start, texts=texts_of(concept))
    period = resource.get("effectivePeriod")
    answers = {code for _, code in codings_of(resource.get("valueCodeableConcept"))}
    for concept in _list(resource.get("interpretation")):
        answers |= {code for _, code in codings_of(concept)}
    start = (
        parse_date(resource.get("effectiveDateTime"))
        or parse_date(period.get("start") if isinstance(period, dict) else None)
        or parse_date(resource.get("issued"))
    )
    return Finding(
        ref, kind, codings_of(resource.get("code")), status, start, answers=frozenset(answers)
    )
