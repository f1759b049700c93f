"""The vocabulary as data: profile fields, conditions, therapy categories, drug classes, advisories.

The bundled vocabulary (``vocabulary.yaml``, package data) is the start of every knowledge
base's vocabulary; a rule file's ``vocabulary:`` section extends it (the loader merges them and
the knowledge base's :class:`~immunorules._model.schema.Schema` owns the result). Nothing here
is a module-level value set: every consumer asks its knowledge base.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator

from .base import WithoutV1

__all__ = [
    "CODE_SYSTEMS",
    "AdvisoryDef",
    "Category",
    "Code",
    "ConditionDef",
    "DiseaseAreaDef",
    "FieldCode",
    "FieldDef",
    "Subcategory",
    "Vocabulary",
    "bundled_vocabulary",
]

#: ``cytotoxic``: the therapy is aimed at the malignant cells themselves (e.g. an anti-CD20
#: antibody in lymphoma); it counts with neither side of a suppress/stimulate conflict.
Direction = Literal["suppress", "stimulate", "reconstitute", "cytotoxic"]
AdvisoryKind = Literal["caution", "referral"]
FieldType = Literal["enum", "integer", "boolean", "set"]
ImmuneActivityValue = Literal["overactive", "underactive", "balanced"]


class _Frozen(WithoutV1, BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Code(_Frozen):
    """A code in a coding system, with how well it was verified and where."""

    code: str
    status: Literal["verified", "secondary", "unverified"] = "unverified"
    source: str | None = None
    note: str | None = None


#: Short names a vocabulary may use for the coding systems of patient records (FHIR input);
#: any other system is written as its URI. ``patient_age`` is not a coding system: its code
#: is an age in years, met when the patient is at least that old on the record's date.
CODE_SYSTEMS: dict[str, str] = {
    "snomed_ct": "http://snomed.info/sct",
    "icd10cm": "http://hl7.org/fhir/sid/icd-10-cm",
    "rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "loinc": "http://loinc.org",
    "atc": "http://www.whocc.no/atc",
    "patient_age": "urn:immunorules:patient-age",
}


class FieldCode(_Frozen):
    """A code that, found in a patient record, sets a field to ``value`` (FHIR input).

    ``system`` is a coding system's URI or short name (:data:`CODE_SYSTEMS`). ICD-10-CM codes
    match themselves and every code below them (``M05`` matches ``M05.79``), and a block such
    as ``C00-C96`` matches every category in it; the most specific entry wins. ``when`` says
    which findings count: ``current`` (an active condition, a recent observation), ``ever``
    (also a resolved one, or a procedure done), ``past_year`` (one that ended within a year).
    ``element: severity`` matches the severity of the treated condition instead of a code;
    ``answers`` are the result codes an observation must carry (none: any result);
    ``besides_treated`` makes the code count only when it is not the treated condition's.
    Conditions, disease areas and drug classes carry codes of the same shape, with only
    ``system``, ``code``, ``display`` and the verification keys.
    """

    system: str
    code: str
    value: str | bool | int = True
    display: str | None = None
    when: Literal["current", "ever", "past_year"] = "current"
    element: Literal["code", "severity"] = "code"
    answers: tuple[str, ...] = ()
    besides_treated: bool = False
    status: Literal["verified", "secondary", "unverified"] = "unverified"
    source: str | None = None
    note: str | None = None

    @property
    def system_uri(self) -> str:
        """The system's URI (short names resolved)."""
        return CODE_SYSTEMS.get(self.system, self.system)


class FieldDef(_Frozen):
    """A profile field: its type and finite domain, default, and whether why-not may change it.

    ``values`` holds the enum values or the set members (for ``of:`` fields, the ids of the
    conditions, disease areas or subcategories, filled in when the vocabulary is merged).

    Every field may be *not stated* (``None``) unless it says ``nullable: false``, and not
    stated is its default unless it gives a ``default``. A boolean or set field that gives a
    ``default`` (and does not say ``nullable: true``) cannot be not stated, as in earlier
    versions; for a set field ``None`` (not stated) and ``()`` (stated: none) are different
    values.
    """

    id: str
    type: FieldType
    values: tuple[str, ...] = ()
    of: Literal["conditions", "disease_areas", "subcategories"] | None = None
    min: int | None = None
    max: int | None = None
    default: str | bool | int | tuple[str, ...] | None = None
    required: bool = False
    nullable: bool = True
    modifiable: bool = False
    description: str | None = None
    codes: tuple[FieldCode, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _stated_default(cls, data: object) -> object:
        """A boolean or set field with a default and no ``nullable`` is never not stated."""
        if (
            isinstance(data, dict)
            and "nullable" not in data
            and data.get("type") in ("boolean", "set")
            and data.get("default") is not None
        ):
            return {**data, "nullable": False}
        return data

    @property
    def domain(self) -> tuple[str | bool | int | None, ...]:
        """Every value of a scalar field, ``None`` first when it may be not stated (set
        fields: the members; whether the set may be not stated is :attr:`nullable`)."""
        if self.type == "set":
            return self.values
        none: tuple[None, ...] = (None,) if self.nullable else ()
        if self.type == "boolean":
            return (*none, False, True)
        if self.type == "integer":
            assert self.min is not None and self.max is not None
            return (*none, *range(self.min, self.max + 1))
        return (*none, *self.values)


class DiseaseAreaDef(_Frozen):
    """A disease area. Its ``codes`` name problems of the area that have no condition of their
    own (a record with one of them gets the area, with no condition)."""

    id: str
    name: str
    default_immune_activity: ImmuneActivityValue
    codes: tuple[FieldCode, ...] = ()


class ConditionDef(_Frozen):
    id: str
    disease_area: str
    immune_activity: ImmuneActivityValue
    name: str
    snomed_ct: Code | None = None
    icd10cm: Code | None = None
    note: str | None = None
    codes: tuple[FieldCode, ...] = ()


class Category(_Frozen):
    id: str
    name: str
    direction: Direction | None


class Subcategory(_Frozen):
    """A drug class. ``parent`` names the coarser class it refines, if any: a rule that names
    the parent means any of its finer classes."""

    id: str
    category: str
    direction: Direction
    name: str
    atc: tuple[Code, ...] = ()
    atc_note: str | None = None
    parent: str | None = None
    codes: tuple[FieldCode, ...] = ()


class AdvisoryDef(_Frozen):
    key: str
    kind: AdvisoryKind
    message: str


class Source(_Frozen):
    citation: str
    url: str | None = None
    accessed: str | None = None
    version: str | None = None
    note: str | None = None


class Vocabulary(_Frozen):
    """Every id the profile model and rule files may use, in display order."""

    fields: tuple[FieldDef, ...] = ()
    disease_areas: tuple[DiseaseAreaDef, ...]
    conditions: tuple[ConditionDef, ...]
    categories: tuple[Category, ...]
    subcategories: tuple[Subcategory, ...]
    advisories: tuple[AdvisoryDef, ...]
    sources: dict[str, Source] = {}

    _conditions: dict[str, ConditionDef] = PrivateAttr(default_factory=dict)
    _categories: dict[str, Category] = PrivateAttr(default_factory=dict)
    _subcategories: dict[str, Subcategory] = PrivateAttr(default_factory=dict)
    _advisories: dict[str, AdvisoryDef] = PrivateAttr(default_factory=dict)
    _areas: dict[str, DiseaseAreaDef] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: object, /) -> None:
        self._conditions = {c.id: c for c in self.conditions}
        self._categories = {c.id: c for c in self.categories}
        self._subcategories = {s.id: s for s in self.subcategories}
        self._advisories = {a.key: a for a in self.advisories}
        self._areas = {a.id: a for a in self.disease_areas}

    def condition(self, condition_id: str) -> ConditionDef:
        return self._conditions[condition_id]

    def disease_area(self, area_id: str) -> DiseaseAreaDef:
        return self._areas[area_id]

    def category(self, category_id: str) -> Category:
        return self._categories[category_id]

    def subcategory(self, subcategory_id: str) -> Subcategory:
        return self._subcategories[subcategory_id]

    def advisory(self, key: str) -> AdvisoryDef:
        return self._advisories[key]


@cache
def bundled_vocabulary() -> Vocabulary:
    """The package's own vocabulary, parsed once (every knowledge base starts from it)."""
    text = resources.files("immunorules").joinpath("vocabulary.yaml").read_text(encoding="utf-8")
    return Vocabulary.model_validate(yaml.safe_load(text))
