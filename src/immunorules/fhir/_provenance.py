"""What reading a FHIR record gives: a :class:`FhirProfile` (the profile, or None) with the
:class:`Evidence` for every value it holds, the fields the record does not state and the
warnings.

Plain frozen data with its text and JSON forms; this module must never read a record or decide
what a code means.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .._model.profile import ConditionProfile

__all__ = ["NO_EVIDENCE", "UNRECOGNISED", "Evidence", "FhirProfile"]

#: Why a field is not stated: nothing in the record says anything about it.
NO_EVIDENCE = "no evidence in the record"
#: Why a field is not stated although the record may speak of it: records it holds could not
#: be read (e.g. medications whose drug the terminology does not know).
UNRECOGNISED = "the record holds evidence that was not recognised"
_UNRECOGNISED_SHORT = "not recognised"


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where a value came from: a resource and the code in it that set the value (``resource``
    None: derived, e.g. the immune activity typical of the condition).

    ``by`` says how the resource was read: ``"code"`` (a code the mapping knows) or ``"name"``
    (no code it knows, but an ingredient's name in the medication's ``display`` or ``text``: the
    name fallback); None for a derived value."""

    resource: str | None
    system: str | None
    code: str | None
    display: str | None
    detail: str
    by: Literal["code", "name"] | None = None

    def __str__(self) -> str:
        named = " [by name]" if self.by == "name" else ""
        return f"{self.where}{named}: {self.detail}"

    @property
    def where(self) -> str:
        """The resource, code and display, without the detail: ``MedicationRequest/x
        http://www.nlm.nih.gov/research/umls/rxnorm|1736854``."""
        coded = f" {self.system}|{self.code}" if self.code else ""
        shown = f" ({self.display})" if self.display else ""
        return f"{self.resource or 'derived'}{coded}{shown}"

    def as_dict(self) -> dict[str, str | None]:
        return {
            "resource": self.resource,
            "system": self.system,
            "code": self.code,
            "display": self.display,
            "detail": self.detail,
            "by": self.by,
        }


@dataclass(frozen=True, slots=True)
class FhirProfile:
    """A profile read from a FHIR record, with where every value came from.

    ``profile`` is an instance of the knowledge base's profile model, or None when the record
    holds no problem the knowledge base can treat (no condition it names and no disease area it
    codes) and none was given with ``condition=``; ``warnings`` then says why.
    ``provenance`` maps each field the record states to the evidence for it: evidence of a fact,
    or evidence of its absence (a negative test, a refuted Condition, one that ended, for a fact
    about the current state), which states "no". ``unknown`` lists the fields the record does not
    state: they are *not stated* (None) in the profile, never a silent "no", and ``not_stated``
    says why for each: no evidence in the record, or evidence that was not recognised (e.g.
    medication records whose drug the terminology does not know, named by their resource and
    code, never the drug's name, so an answer that depends on the field says what it depends
    on); a field the knowledge base cannot leave not stated keeps its default, and says so.
    ``unrecognised`` maps a field to that evidence (for ``prior_therapy_classes`` also when the
    field is stated from other records: the classes read may not be all). ``therapy_classes``
    maps each drug class found in medication records to its evidence, and ``warnings`` holds
    what a reader should know (several treatable problems and the one chosen, a history-only
    condition, classes the profile has no field for).
    """

    patient_id: str
    profile: ConditionProfile | None
    provenance: Mapping[str, tuple[Evidence, ...]] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    therapy_classes: Mapping[str, tuple[Evidence, ...]] = field(default_factory=dict)
    not_stated: Mapping[str, str] = field(default_factory=dict)
    unrecognised: Mapping[str, tuple[Evidence, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready): the profile's fields, provenance, the fields not stated (and
        why), the evidence that was not recognised, warnings and drug classes."""
        return {
            "patient_id": self.patient_id,
            "profile": None if self.profile is None else self.profile.model_dump(mode="json"),
            "provenance": {
                name: [e.as_dict() for e in found] for name, found in self.provenance.items()
            },
            "unknown": list(self.unknown),
            "not_stated": {name: self.not_stated.get(name, NO_EVIDENCE) for name in self.unknown},
            "unrecognised": {
                name: [e.as_dict() for e in found] for name, found in self.unrecognised.items()
            },
            "warnings": list(self.warnings),
            "therapy_classes": {
                name: [e.as_dict() for e in found] for name, found in self.therapy_classes.items()
            },
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def explain(self, *, markdown: bool = False) -> str:
        """The provenance as text (or Markdown): each field the record states with its evidence
        (and the records it could not read for it), then the fields it does not state, each
        with the records that were not recognised, and the warnings."""
        bullet = "- " if markdown else "  "
        sub = "  - " if markdown else "      "
        deeper = "    - " if markdown else "          "
        head = "### " if markdown else ""
        out = [f"{head}From the FHIR record of patient {self.patient_id}"]
        if self.profile is None:
            out.append(f"{bullet}no profile: the record names no problem the rules treat")
        for name, found in self.provenance.items():
            value = None if self.profile is None else getattr(self.profile, name, None)
            shown = _shown(value) if self.profile is not None else "(found)"
            out.append(f"{bullet}{name} = {shown}")
            out.extend(f"{sub}{evidence}" for evidence in found)
            if self.unrecognised.get(name):
                out.append(f"{sub}also in the record, {_UNRECOGNISED_SHORT}:")
                out.extend(f"{deeper}{evidence}" for evidence in self.unrecognised[name])
        if self.therapy_classes:
            out.append(f"{bullet}drug classes in medication records:")
            for name, found in self.therapy_classes.items():
                out.append(f"{sub}{name}: " + "; ".join(str(e) for e in found))
        why = {n: self.not_stated.get(n, NO_EVIDENCE) for n in self.unknown}
        plain = [n for n in self.unknown if why[n] == NO_EVIDENCE]
        if plain:
            out.append(f"{bullet}not stated ({NO_EVIDENCE}): {', '.join(plain)}")
        for name in self.unknown:
            if not why[name].startswith(NO_EVIDENCE):
                value = None if self.profile is None else getattr(self.profile, name)
                head = (
                    f"{name}: not stated"
                    if value is None
                    else f"{name} = {_shown(value)} (its default: it cannot be not stated)"
                )
                out.append(f"{bullet}{head}; {UNRECOGNISED}:")
                out.extend(f"{sub}{evidence}" for evidence in self.unrecognised.get(name, ()))
        kept = [n for n in self.unknown if n not in plain and why[n].startswith(NO_EVIDENCE)]
        if kept:
            shown = ", ".join(
                n if self.profile is None else f"{n} = {_shown(getattr(self.profile, n, None))}"
                for n in kept
            )
            out.append(
                f"{bullet}{NO_EVIDENCE}, but the knowledge base cannot leave these not stated, "
                f"so their defaults were used: {shown}"
            )
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
