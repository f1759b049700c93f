"""The selected draft orders of an ``order-select`` call, read as real CDS clients send them.

Only what the cards need is read from each selected ``MedicationRequest``: its ``medication[x]``
(a ``medicationCodeableConcept``, or a ``medicationReference`` to a Medication in the Bundle or
contained in the order), its ``status`` and its ``subject``. Everything else an order holds
(``category``, ``dosageInstruction``, ``dispenseRequest``, ...) is never looked at, so a
non-conformant field there (the public sandbox sends ``category`` as one object, not a list)
cannot make the service refuse the call; it is only noted in the log at debug level. A wrong
shape in an element that is read is a :class:`~immunorules.service._hooks.RequestProblem`
(400). This module never logs patient data and never decides anything clinical.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._hooks import RequestProblem

__all__ = ["DraftOrders", "read_draft_orders"]

log = logging.getLogger("immunorules.service")

#: The elements of a MedicationRequest that the service reads.
_READ = frozenset(
    {"resourceType", "id", "status", "subject", "medicationCodeableConcept", "medicationReference"}
)
#: The elements of a Medication that the service reads.
_MEDICATION_READ = frozenset({"resourceType", "id", "code"})
#: Statuses of an order that orders nothing.
_NOT_ORDERED = frozenset({"cancelled", "entered-in-error"})
#: Elements FHIR R4 makes arrays: the ones the sandbox and some EHRs send as single values.
_R4_ARRAYS = (
    "category",
    "dosageInstruction",
    "identifier",
    "note",
    "reasonCode",
    "reasonReference",
    "insurance",
    "detectedIssue",
    "eventHistory",
    "supportingInformation",
    "basedOn",
    "instantiatesCanonical",
    "instantiatesUri",
)


@dataclass(frozen=True)
class DraftOrders:
    """The selected orders, reduced to what is read, as a FHIR collection Bundle with a stand-in
    Patient (``bundle``), and the references of the selected orders kept (``selected``)."""

    bundle: dict[str, Any]
    selected: tuple[str, ...]


def _bad(message: str) -> RequestProblem:
    return RequestProblem(400, "invalid_draft_orders", f"context.draftOrders: {message}")


def _note_unread(resource: Mapping[str, Any], where: str) -> None:
    """A debug note of the non-conformant elements the service does not read (names only)."""
    if not log.isEnabledFor(logging.DEBUG):
        return
    odd = [
        key
        for key in _R4_ARRAYS
        if key in resource and resource[key] is not None and not isinstance(resource[key], list)
    ]
    if odd:
        log.debug(
            "%s: not an array as FHIR R4 says, not read by the service: %s",
            where,
            ", ".join(odd),
        )


def _concept(value: Any, where: str) -> None:
    """Check a CodeableConcept the service reads: an object, its ``coding`` an array of
    objects whose ``system``, ``code`` and ``display`` are strings, its ``text`` a string."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise _bad(f"{where} is not a CodeableConcept (an object)")
    coding = value.get("coding")
    if coding is not None and (
        not isinstance(coding, list)
        or not all(
            isinstance(c, dict)
            and all(isinstance(c.get(k), str) for k in ("system", "code", "display") if k in c)
            for c in coding
        )
    ):
        raise _bad(f"{where}.coding is not an array of Codings")
    if "text" in value and not isinstance(value["text"], str):
        raise _bad(f"{where}.text is not a string")


def _reduced_medication(resource: Mapping[str, Any]) -> dict[str, Any]:
    """A Medication with only the elements read."""
    _concept(resource.get("code"), "a Medication's code")
    return {key: resource[key] for key in _MEDICATION_READ if key in resource}


def _reduced_order(
    resource: Mapping[str, Any], where: str, patient_id: str
) -> dict[str, Any] | None:
    """The order with only the elements read (as an active order, since the record reader
    leaves drafts out; without a ``subject``, for the patient in context), or None when it
    orders nothing (cancelled, entered in error)."""
    status = resource.get("status")
    if status is not None and not isinstance(status, str):
        raise _bad(f"{where}.status is not a code (a string)")
    if status in _NOT_ORDERED:
        return None
    _concept(resource.get("medicationCodeableConcept"), f"{where}.medicationCodeableConcept")
    reference = resource.get("medicationReference")
    if reference is not None and not isinstance(reference, dict):
        raise _bad(f"{where}.medicationReference is not an object")
    subject = resource.get("subject")
    if subject is not None and not isinstance(subject, dict):
        raise _bad(f"{where}.subject is not a Reference (an object)")
    _note_unread(resource, where)
    reduced = {key: resource[key] for key in _READ if key in resource}
    reduced["status"] = "active"
    reduced["intent"] = "order"
    reduced.setdefault("subject", {"reference": f"Patient/{patient_id}"})
    contained = resource.get("contained")
    if isinstance(reference, dict) and isinstance(contained, list):
        medications = [
            _reduced_medication(item)
            for item in contained
            if isinstance(item, dict) and item.get("resourceType") == "Medication"
        ]
        if medications:
            reduced["contained"] = medications
    return reduced


def read_draft_orders(context: Mapping[str, Any], patient_id: str) -> DraftOrders:
    """The selected MedicationRequests of ``context.draftOrders`` (and the Medications of the
    Bundle), reduced to the elements the service reads; orders not selected are not read."""
    selected = {s for s in context.get("selections") or () if isinstance(s, str)}
    entries = context["draftOrders"].get("entry")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise _bad("Bundle.entry is not an array")
    kept: list[dict[str, Any]] = []
    chosen: list[str] = []
    for number, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        full_url = entry.get("fullUrl")
        kind = resource.get("resourceType")
        if kind == "MedicationRequest":
            reference = f"{kind}/{resource.get('id')}"
            if reference not in selected and not (
                isinstance(full_url, str) and full_url in selected
            ):
                continue
            reduced = _reduced_order(resource, f"entry[{number}].resource", patient_id)
            if reduced is None:
                continue
            chosen.append(reference)
        elif kind == "Medication":
            reduced = _reduced_medication(resource)
        else:
            continue
        item: dict[str, Any] = {"resource": reduced}
        if isinstance(full_url, str):
            item["fullUrl"] = full_url
        kept.append(item)
    patient = {"resourceType": "Patient", "id": patient_id}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": patient}, *kept] if chosen else [],
    }
    return DraftOrders(bundle, tuple(chosen))
