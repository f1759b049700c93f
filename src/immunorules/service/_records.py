"""The patient's record for a hook call: the prefetched resources, and whatever prefetch lacks
fetched from the client's FHIR server with the bearer token the client gave.

The access token goes only to the FHIR server named in the request (a paging link to any other
origin is refused) and is never logged. A FHIR server that fails, answers with an error, or
sends more than the size bounds is :class:`FhirUnavailable`; the caller bounds the time.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote, urljoin, urlsplit

import anyio.to_thread
import httpx

from .._model import jsonstrict
from ._hooks import PREFETCH, HookCall, RequestProblem

__all__ = ["INLINE_BYTES", "FhirUnavailable", "Record", "offload", "patient_record"]

log = logging.getLogger("immunorules.service")

T = TypeVar("T")
#: Answers of at most this many bytes are parsed on the event loop, larger ones in a thread.
INLINE_BYTES = 128 * 1024


async def offload(work: Callable[[], T]) -> T:
    """``work()`` in a worker thread; a deadline around the call is not held up by it (the
    thread is left to finish on its own)."""
    return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)


#: The most bytes read from the FHIR server for one request, over all its responses.
MAX_FHIR_BYTES = 32 * 1024 * 1024
#: The most pages of one search followed.
MAX_PAGES = 100


_Problem = Callable[[str], Exception]


class FhirUnavailable(Exception):
    """The FHIR server could not give the record; the message is safe to log (no patient
    data, no token)."""


class Record:
    """The resources of a patient's record, and whether any came from the FHIR server."""

    def __init__(self) -> None:
        self.resources: list[dict[str, Any]] = []
        self.fetched = False
        self.fetched_bytes = 0


class _Budget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit

    def take(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise FhirUnavailable(f"the FHIR server sent more than {MAX_FHIR_BYTES} bytes")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


async def _get(
    client: httpx.AsyncClient, url: str, token: str | None, budget: _Budget
) -> dict[str, Any]:
    headers = {"Accept": "application/fhir+json, application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        async with client.stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                raise FhirUnavailable(f"the FHIR server answered HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                budget.take(len(chunk))
                body += chunk
    except httpx.TimeoutException:
        raise FhirUnavailable("the FHIR server timed out") from None
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:  # ValueError: bad IDNA
        raise FhirUnavailable(f"the FHIR server is unreachable ({type(exc).__name__})") from None
    parse = partial(jsonstrict.loads, bytes(body))
    try:
        # A large answer is parsed in a worker thread: the event loop (and the caller's
        # deadline) is not held up by it.
        data = parse() if len(body) <= INLINE_BYTES else await offload(parse)
    except ValueError:
        raise FhirUnavailable("the FHIR server sent something that is not JSON") from None
    if not isinstance(data, dict):
        raise FhirUnavailable("the FHIR server sent JSON that is not a resource")
    return data


def _prefetch_problem(message: str) -> Exception:
    return RequestProblem(400, "bad_prefetch", f"prefetch: {message}")


def _server_problem(message: str) -> Exception:
    return FhirUnavailable(f"the FHIR server's answer is not FHIR: {message}")


def _array(value: Mapping[str, Any], key: str, where: str, problem: _Problem) -> list[Any]:
    """``value[key]``, which FHIR makes an array (left out or null: empty)."""
    found = value.get(key)
    if found is None:
        return []
    if not isinstance(found, list):
        raise problem(f"{where}.{key} is not an array")
    return found


def _checked(resource: dict[str, Any], problem: _Problem) -> dict[str, Any]:
    """``resource``, when the parts the service reads are of the right JSON type."""
    kind = resource.get("resourceType")
    for contained in _array(resource, "contained", str(kind), problem):
        if not isinstance(contained, dict):
            raise problem(f"{kind}.contained holds something that is not a resource")
    return resource


def _entries(bundle: Mapping[str, Any], problem: _Problem) -> list[dict[str, Any]]:
    """The resources of a searchset Bundle, without the OperationOutcomes a server may add."""
    found = []
    for entry in _array(bundle, "entry", "Bundle", problem):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") != "OperationOutcome":
            found.append(_checked(resource, problem))
    return found


def _next(bundle: Mapping[str, Any], problem: _Problem) -> str | None:
    for link in _array(bundle, "link", "Bundle", problem):
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) else None
    return None


async def _pages(
    client: httpx.AsyncClient, call: HookCall, url: str | None, budget: _Budget
) -> list[dict[str, Any]]:
    """The resources of every page of a search, from ``url`` on."""
    assert call.fhir_server is not None
    found: list[dict[str, Any]] = []
    pages = 0
    while url is not None:
        try:
            url = urljoin(call.fhir_server + "/", url)
            away = _origin(url) != _origin(call.fhir_server)
        except ValueError:
            raise FhirUnavailable("a paging link is not a URL") from None
        if away:
            raise FhirUnavailable("a paging link leads away from the FHIR server")
        pages += 1
        if pages > MAX_PAGES:
            raise FhirUnavailable(f"a search has more than {MAX_PAGES} pages")
        bundle = await _get(client, url, call.access_token, budget)
        if bundle.get("resourceType") != "Bundle":
            raise FhirUnavailable("a FHIR search did not answer with a Bundle")
        found += _entries(bundle, _server_problem)
        url = _next(bundle, _server_problem)
    return found


@functools.lru_cache(maxsize=256)
def _resource_type(name: str) -> bool:
    """Whether ``name`` is a FHIR R4 resource type (not a data type, not an abstract base)."""
    if not name.isalpha() or len(name) > 64 or name in ("Resource", "DomainResource"):
        return False
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.resource import Resource

    try:
        model = get_fhir_model_class(name)
    except (ValueError, KeyError, AttributeError, ImportError):
        return False
    return isinstance(model, type) and issubclass(model, Resource)


def _known(resources: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    for resource in resources:
        kind = resource.get("resourceType")
        if not isinstance(kind, str) or not _resource_type(kind):
            raise RequestProblem(
                400,
                "bad_prefetch",
                f"prefetch {key!r} holds a resource of an unknown type "
                f"({str(kind)[:64]!r} is not a FHIR R4 resource type)",
            )
    return resources


def _subject_id(resource: Mapping[str, Any]) -> tuple[str, str] | None:
    """The (type, id) a resource's ``subject`` (or ``patient``) reference names, when it is a
    relative, versioned or absolute reference; None when there is none or it is resolved only
    within a record (``urn:uuid:``, contained): the FHIR reader decides those."""
    for key in ("subject", "patient"):
        value = resource.get(key)
        if not isinstance(value, dict):
            continue
        reference = value.get("reference")
        if not isinstance(reference, str) or reference.startswith(("urn:", "#")):
            return None
        parts = reference.split("?")[0].split("/")
        if len(parts) >= 4 and parts[-2] == "_history":
            parts = parts[:-2]
        if len(parts) >= 2 and parts[-2] and parts[-1]:
            return parts[-2], parts[-1]
        return None
    return None


def _about_patient(
    resources: list[dict[str, Any]], key: str, call: HookCall
) -> list[dict[str, Any]]:
    """``resources`` without those whose subject names another patient (or a group): they are
    dropped, and the log counts them without naming anyone."""
    kept = []
    for resource in resources:
        named = _subject_id(resource)
        if named is None or named == ("Patient", call.patient_id):
            kept.append(resource)
    if len(kept) < len(resources):
        log.warning(
            "prefetch %r: %d resource(s) about another patient or a group dropped",
            key,
            len(resources) - len(kept),
        )
    return kept


def _prefetched(key: str, value: Any, call: HookCall) -> tuple[list[dict[str, Any]], str | None]:
    """The resources a prefetch value gives, and the link to its next page (if paginated).
    Resources about another patient are dropped (and logged without patient data)."""
    if value is None:  # the client has no data for this template
        return [], None
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        raise RequestProblem(
            400, "bad_prefetch", f"prefetch {key!r} must be a FHIR resource, a Bundle or null"
        )
    if value["resourceType"] == "Bundle":
        resources = _known(_entries(value, _prefetch_problem), key)
        link = _next(value, _prefetch_problem)
        if key != "patient":
            return _about_patient(resources, key, call), link
    else:
        resources = [_checked(_known([value], key)[0], _prefetch_problem)]
        if key != "patient":
            return _about_patient(resources, key, call), None
    # Only the Patient of context.patientId: a record about someone else is never read.
    kept = [
        r for r in resources if r["resourceType"] == "Patient" and r.get("id") == call.patient_id
    ]
    if len(kept) < len(resources):
        log.warning(
            "prefetch 'patient': %d resource(s) about another patient or not a Patient dropped",
            len(resources) - len(kept),
        )
    return kept[:1], None


def _had_resources(value: Any) -> bool:
    """Whether a prefetch value held a resource (other than an OperationOutcome) before those
    about someone else were dropped."""
    if not isinstance(value, dict):
        return False
    if value.get("resourceType") != "Bundle":
        return True
    return any(
        isinstance(entry, dict)
        and isinstance(entry.get("resource"), dict)
        and entry["resource"].get("resourceType") != "OperationOutcome"
        for entry in value.get("entry") or ()
    )


async def patient_record(client: httpx.AsyncClient, call: HookCall) -> Record:
    """The record of the call's patient: prefetch first; what prefetch lacks (a key left out,
    or an OperationOutcome in its place) and the later pages of a paginated prefetch come from
    the FHIR server. :class:`RequestProblem` (412) when something is missing and there is no
    FHIR server to ask; :class:`FhirUnavailable` when the server fails."""
    record = Record()
    missing: list[str] = []
    follow: list[str] = []
    for key, template in PREFETCH.items():
        value = call.prefetch.get(key, ...)
        outcome = isinstance(value, dict) and value.get("resourceType") == "OperationOutcome"
        if value is ... or outcome:
            missing.append(template.replace("{{context.patientId}}", quote(call.patient_id)))
            continue
        resources, more = _prefetched(key, value, call)
        if not resources and _had_resources(value):  # all about someone else: none left to use
            missing.append(template.replace("{{context.patientId}}", quote(call.patient_id)))
            continue
        record.resources += resources
        if more is not None:
            follow.append(more)
    if not missing and not follow:
        return record
    if call.fhir_server is None:
        lacking = "some prefetch data is missing" if missing else "prefetch is paginated"
        raise RequestProblem(
            412, "precondition_failed", f"{lacking} and the request names no fhirServer"
        )
    record.fetched = True
    budget = _Budget(MAX_FHIR_BYTES)
    parts = [_fetch(client, call, query, budget) for query in missing]
    parts += [_pages(client, call, link, budget) for link in follow]
    tasks = [asyncio.ensure_future(part) for part in parts]
    try:
        for resources in await asyncio.gather(*tasks):
            record.resources += resources
    finally:  # one failed (or the caller's deadline passed): stop the others
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        record.fetched_bytes = budget.limit - budget.left
    return record


async def _fetch(
    client: httpx.AsyncClient, call: HookCall, query: str, budget: _Budget
) -> list[dict[str, Any]]:
    """The resources of one prefetch template, asked of the FHIR server."""
    if not query.startswith("Patient/"):
        return await _pages(client, call, query, budget)
    patient = await _get(client, f"{call.fhir_server}/{query}", call.access_token, budget)
    if patient.get("resourceType") != "Patient" or patient.get("id") != call.patient_id:
        raise FhirUnavailable("the FHIR server did not answer with the Patient asked for")
    return [_checked(patient, _server_problem)]
