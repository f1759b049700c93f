"""The services the discovery endpoint lists, and the checks a hook request must pass.

A request that fails a check is a :class:`RequestProblem`: a 4xx status, a short error code and
a message for the caller (which never echoes patient data back beyond what the caller sent).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from .._model.result import NOT_FOR_CLINICAL_USE

__all__ = [
    "PREFETCH",
    "SERVICES",
    "HookCall",
    "RequestProblem",
    "Service",
    "discovery",
    "hook_call",
]

#: What the services ask the client to prefetch: the record that the FHIR mapping reads.
PREFETCH: dict[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "medications": "MedicationRequest?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
}
#: A FHIR resource id (the only text put into a FHIR server URL).
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}\Z")
#: What may go into an ``Authorization: Bearer`` header sent to the FHIR server: visible ASCII.
_TOKEN = re.compile(r"[\x21-\x7e]{1,8192}\Z")
#: Characters no URL the service calls may hold: controls and spaces (raw, not %-encoded).
_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f]")
_MAX_URL = 2048


class RequestProblem(Exception):
    """A request the service cannot answer: ``status`` (4xx), ``error`` and ``message``."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


@dataclass(frozen=True)
class Service:
    id: str
    hook: str
    title: str
    description: str


SERVICES: dict[str, Service] = {
    service.id: service
    for service in (
        Service(
            id="immunorules-patient-view",
            hook="patient-view",
            title="immunorules: immunomodulation therapy categories (research prototype)",
            description="When a patient's record is opened: the therapy categories and drug "
            "classes the rules suggest, flag or avoid for the patient's condition, with the "
            "safety advisories, each card with its rules and evidence.",
        ),
        Service(
            id="immunorules-order-select",
            hook="order-select",
            title="immunorules: selected immunomodulation orders (research prototype)",
            description="When orders are selected: whether the drug class of each selected "
            "medication order is avoided, flagged or suggested by the rules for the patient, "
            "with the safety advisories.",
        ),
    )
}


def discovery(*, unauthenticated: bool) -> dict[str, Any]:
    """The discovery response."""
    warning = (
        "UNAUTHENTICATED DEVELOPMENT MODE (no token is checked; never expose this). "
        if unauthenticated
        else ""
    )
    return {
        "services": [
            {
                "hook": service.hook,
                "id": service.id,
                "title": service.title,
                "description": warning + service.description,
                "prefetch": dict(PREFETCH),
                "usageRequirements": NOT_FOR_CLINICAL_USE,
            }
            for service in SERVICES.values()
        ]
    }


@dataclass(frozen=True)
class HookCall:
    """A checked hook request."""

    service: Service
    hook_instance: str
    patient_id: str
    fhir_server: str | None
    access_token: str | None
    prefetch: Mapping[str, Any]
    context: Mapping[str, Any]


def _bad(message: str, error: str = "bad_request") -> RequestProblem:
    return RequestProblem(400, error, message)


def _server_url(server: Any) -> str:
    """``fhirServer`` without a trailing slash, when it is a URL the service can call."""
    problem = _bad("'fhirServer' must be an http(s) URL")
    if not isinstance(server, str) or len(server) > _MAX_URL or _UNSAFE.search(server):
        raise problem
    try:
        parts = urlsplit(server)
        port = parts.port  # ValueError when it is not a number from 0 to 65535
        host = httpx.URL(server).host  # ValueError: a host name that is not valid IDNA
    except (ValueError, httpx.InvalidURL):
        raise problem from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not host or port == 0:
        raise problem
    return server.rstrip("/")


def hook_call(service: Service, body: Any) -> HookCall:
    """The checked request for ``service``; :class:`RequestProblem` (400) when the hook is not
    the service's, or a required field is missing or of the wrong type."""
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object")
    hook = body.get("hook")
    if not isinstance(hook, str):
        raise _bad("'hook' is required (a string)")
    if hook != service.hook:
        raise _bad(
            f"service {service.id} answers the {service.hook} hook, not {hook[:64]!r}",
            "wrong_hook",
        )
    instance = body.get("hookInstance")
    if not isinstance(instance, str) or not instance:
        raise _bad("'hookInstance' is required (a string)")
    context = body.get("context")
    if not isinstance(context, dict):
        raise _bad("'context' is required (an object)", "missing_context")
    patient_id = context.get("patientId")
    if not isinstance(patient_id, str) or not patient_id:
        raise _bad("'context.patientId' is required (a string)", "missing_context")
    if not _FHIR_ID.match(patient_id):
        raise _bad("'context.patientId' is not a FHIR resource id", "missing_context")
    if service.hook == "order-select":
        if not isinstance(context.get("selections"), list):
            raise _bad("'context.selections' is required (an array)", "missing_context")
        orders = context.get("draftOrders")
        if not isinstance(orders, dict) or orders.get("resourceType") != "Bundle":
            raise _bad("'context.draftOrders' is required (a Bundle)", "missing_context")
    prefetch = body.get("prefetch", {})
    if not isinstance(prefetch, dict):
        raise _bad("'prefetch' must be an object")
    server = body.get("fhirServer")
    if server is not None:
        server = _server_url(server)
    authorization = body.get("fhirAuthorization")
    token = None
    if authorization is not None:
        if server is None:
            raise _bad("'fhirServer' is required with 'fhirAuthorization'")
        if not isinstance(authorization, dict) or not isinstance(
            authorization.get("access_token"), str
        ):
            raise _bad("'fhirAuthorization.access_token' is required (a string)")
        token = authorization["access_token"]
        if not _TOKEN.match(token):
            raise _bad(
                "'fhirAuthorization.access_token' must be printable ASCII without spaces "
                "(an OAuth 2.0 bearer token)"
            )
    return HookCall(service, instance, patient_id, server, token, prefetch, context)
