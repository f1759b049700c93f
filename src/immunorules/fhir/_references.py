"""FHIR references: what a reference names (:func:`parse_reference`), and which resource of a
record it is (:class:`Locator`): the patient being read, a Medication the record holds or one
contained in the referring resource.

Versioned (``Patient/x/_history/2``), absolute (``https://server/fhir/Patient/x``), ``urn:uuid:``
(a Bundle entry's ``fullUrl``) and contained (``#x``) references are understood; anything else
names nothing. This module only resolves references; it never reads codes or validates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

__all__ = ["Locator", "Reference", "Target", "parse_reference"]

_TYPE = r"[A-Z][A-Za-z]{0,63}"
_ID = r"[A-Za-z0-9\-.]{1,64}"
_RELATIVE = re.compile(rf"(?P<type>{_TYPE})/(?P<id>{_ID})(?:/_history/(?P<version>{_ID}))?")
_ABSOLUTE = re.compile(
    rf"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<host>[^/?#\s]+)(?P<path>(?:/[^/?#\s]+)*?)"
    rf"/(?P<type>{_TYPE})/(?P<id>{_ID})(?:/_history/(?P<version>{_ID}))?"
)
_URN = re.compile(r"urn:(?:uuid|oid):[^\s]+", re.IGNORECASE)
_CONTAINED = re.compile(r"#[A-Za-z0-9\-.]{0,64}")
#: A reference longer than this is no reference (a URL is far shorter in practice).
_MAX = 4096


class Reference(NamedTuple):
    """What a reference names. ``kind`` is ``relative`` (``Type/id``), ``absolute`` (``base``
    is the server's base URL, scheme and host in lower case), ``urn`` (``base`` holds the whole
    ``urn:uuid:`` or ``urn:oid:``, to be found among a Bundle's ``fullUrl``s) or ``contained``
    (``id`` of a resource contained in the referring one; ``""`` for the container itself).
    ``version`` is the ``_history`` version, if any (any version of a resource is that
    resource)."""

    kind: Literal["relative", "absolute", "urn", "contained"]
    base: str | None
    type: str | None
    id: str | None
    version: str | None


def parse_reference(text: object) -> Reference | None:
    """What ``text`` (a ``Reference.reference``, or a ``fullUrl``) names; None when it is not
    a reference a reader can resolve (a bare id, a conditional ``Type?query``, a malformed
    URL, anything but a string)."""
    if not isinstance(text, str) or not text or len(text) > _MAX:
        return None
    if text.startswith("#"):
        if _CONTAINED.fullmatch(text) is None:
            return None
        return Reference("contained", None, None, text[1:], None)
    if text[:4].lower() == "urn:":
        return Reference("urn", text, None, None, None) if _URN.fullmatch(text) else None
    found = _RELATIVE.fullmatch(text)
    if found is not None:
        return Reference("relative", None, found["type"], found["id"], found["version"])
    found = _ABSOLUTE.fullmatch(text)
    if found is not None:
        base = f"{found['scheme'].lower()}://{found['host'].lower()}{found['path']}"
        return Reference("absolute", base, found["type"], found["id"], found["version"])
    return None


def _server(full_url: object) -> str | None:
    """The base URL of a RESTful absolute ``fullUrl`` (None for a ``urn:``, or none)."""
    parsed = parse_reference(full_url)
    return parsed.base if parsed is not None and parsed.kind == "absolute" else None


@dataclass(frozen=True, slots=True)
class Target:
    """A resource a reference may name: its type, id and where it lives (``full_url`` as the
    Bundle gives it, ``server``: the base of a RESTful ``fullUrl``)."""

    type: str
    id: str
    full_url: str | None = None
    server: str | None = None

    @classmethod
    def of(cls, resource: Mapping[str, Any], full_url: object = None) -> Target | None:
        kind, rid = resource.get("resourceType"), resource.get("id")
        url = full_url if isinstance(full_url, str) else None
        if not isinstance(kind, str) or not (isinstance(rid, str) or url is not None):
            return None
        rid = rid if isinstance(rid, str) else ""  # no id: only its fullUrl names it
        return cls(kind, rid, url, _server(url))

    def named_by(self, reference: Reference, referrer: str | None, *, loose_urn: bool) -> bool:
        """Whether ``reference``, written in a resource whose ``fullUrl`` is ``referrer``, names
        this resource. A relative reference lives on the referrer's server when that is known;
        when either side's server is unknown, type and id decide. ``loose_urn``: a ``urn:uuid:``
        names the resource whose id it holds when no ``fullUrl`` says otherwise (as Synthea
        writes Bulk Data and lists of resources)."""
        if reference.kind == "urn":
            if self.full_url is not None:
                return reference.base == self.full_url
            return loose_urn and _uuid(reference) == self.id
        if reference.kind == "contained":
            return False
        if reference.type != self.type or reference.id != self.id:
            return False
        server = reference.base if reference.kind == "absolute" else _server(referrer)
        return server is None or self.server is None or server == self.server


#: How a resource stands to the patient being read.
About = Literal["patient", "other", "none"]


@dataclass
class Locator:
    """The resources of one record that references may name: its Patient (or, for a Bulk Data
    export, every Patient) and its Medications."""

    loose_urn: bool = True
    patients: dict[str, Target] = field(default_factory=dict)
    _medications: dict[str, list[tuple[Target, Any]]] = field(default_factory=dict)
    _urls: dict[str, Any] = field(default_factory=dict)
    _patient_urls: dict[str, Target] = field(default_factory=dict)

    def add_patient(self, resource: Mapping[str, Any], full_url: object = None) -> None:
        target = Target.of(resource, full_url)
        if target is not None:
            self.patients[target.id] = target
            if target.full_url is not None:
                self._patient_urls[target.full_url] = target

    def add_medication(self, resource: Mapping[str, Any], full_url: object = None) -> None:
        target = Target.of(resource, full_url)
        if target is None:
            return
        code = resource.get("code")
        self._medications.setdefault(target.id, []).append((target, code))
        if target.full_url is not None:
            self._urls[target.full_url] = code

    def subject(self, resource: Mapping[str, Any], full_url: object = None) -> str | None:
        """The id of the Patient of this record that ``resource`` is about (``subject``, else
        ``patient``); None when it names no such Patient, or names nothing."""
        for key in ("subject", "patient"):
            value = resource.get(key)
            if value is None:
                continue
            reference = _reference(value)
            if reference is None:
                return None
            referrer = full_url if isinstance(full_url, str) else None
            if reference.kind == "urn":
                by_url = self._patient_urls.get(reference.base or "")
                found = by_url or self.patients.get(_uuid(reference) or "")
            else:
                found = self.patients.get(reference.id or "")
            if found is not None and found.named_by(reference, referrer, loose_urn=self.loose_urn):
                return found.id
            return None
        return None

    def about(self, resource: Mapping[str, Any], full_url: object, patient: str) -> About:
        """Whether ``resource`` is about ``patient`` (an id of this locator), about someone or
        something else, or names no subject at all."""
        if resource.get("subject") is None and resource.get("patient") is None:
            return "none"
        return "patient" if self.subject(resource, full_url) == patient else "other"

    def medication(self, resource: Mapping[str, Any], full_url: object = None) -> Any:
        """The ``code`` of the Medication ``resource.medicationReference`` names (one contained
        in ``resource``, or one of the record), or None."""
        reference = _reference(resource.get("medicationReference"))
        if reference is None:
            return None
        if reference.kind == "contained":
            contained = resource.get("contained")
            for item in contained if isinstance(contained, list) else ():
                if (
                    isinstance(item, Mapping)
                    and item.get("resourceType") == "Medication"
                    and item.get("id") == reference.id
                ):
                    return item.get("code")
            return None
        if reference.kind == "urn" and reference.base in self._urls:
            return self._urls[reference.base]
        key = (_uuid(reference) if reference.kind == "urn" else reference.id) or ""
        referrer = full_url if isinstance(full_url, str) else None
        for target, code in self._medications.get(key, ()):
            if target.named_by(reference, referrer, loose_urn=self.loose_urn):
                return code
        return None


def _uuid(reference: Reference) -> str | None:
    """The uuid of a ``urn:uuid:`` reference (None for any other)."""
    text = reference.base or ""
    return text[9:] if reference.kind == "urn" and text[:9].lower() == "urn:uuid:" else None


def _reference(value: object) -> Reference | None:
    """The reference of a FHIR ``Reference`` element; its ``type``, when given, must agree."""
    if not isinstance(value, Mapping):
        return None
    reference = parse_reference(value.get("reference"))
    stated = value.get("type")
    if reference is None or (stated is not None and reference.type not in (None, stated)):
        return None
    return reference
