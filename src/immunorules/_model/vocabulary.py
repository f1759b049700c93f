"""The vocabulary: conditions, therapy categories, drug classes and advisories.

It is package data (``vocabulary.yaml``), read once at import. It defines the value sets of the
condition profile and of rule effects, and carries the codes (SNOMED CT, ICD-10-CM, ATC) with
the status of their verification.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, PrivateAttr

__all__ = [
    "AdvisoryDef",
    "Category",
    "Code",
    "ConditionDef",
    "DiseaseAreaDef",
    "Subcategory",
    "Vocabulary",
    "vocabulary",
]

Direction = Literal["suppress", "stimulate", "reconstitute"]
AdvisoryKind = Literal["caution", "referral"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Code(_Frozen):
    """A code in a coding system, with how well it was verified and where."""

    code: str
    status: Literal["verified", "secondary", "unverified"]
    source: str | None = None
    note: str | None = None


class DiseaseAreaDef(_Frozen):
    id: str
    name: str
    default_immune_activity: Literal["overactive", "underactive", "balanced"]


class ConditionDef(_Frozen):
    id: str
    disease_area: str
    immune_activity: Literal["overactive", "underactive", "balanced"]
    name: str
    snomed_ct: Code | None = None
    icd10cm: Code | None = None
    note: str | None = None


class Category(_Frozen):
    id: str
    name: str
    direction: Direction | None


class Subcategory(_Frozen):
    id: str
    category: str
    direction: Direction
    name: str
    atc: tuple[Code, ...] = ()
    atc_note: str | None = None


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

    def model_post_init(self, context: object, /) -> None:
        self._conditions = {c.id: c for c in self.conditions}
        self._categories = {c.id: c for c in self.categories}
        self._subcategories = {s.id: s for s in self.subcategories}
        self._advisories = {a.key: a for a in self.advisories}

    def condition(self, condition_id: str) -> ConditionDef:
        return self._conditions[condition_id]

    def category(self, category_id: str) -> Category:
        return self._categories[category_id]

    def subcategory(self, subcategory_id: str) -> Subcategory:
        return self._subcategories[subcategory_id]

    def advisory(self, key: str) -> AdvisoryDef:
        return self._advisories[key]


@cache
def vocabulary() -> Vocabulary:
    """The package's vocabulary, parsed once."""
    text = resources.files("immunorules").joinpath("vocabulary.yaml").read_text(encoding="utf-8")
    return Vocabulary.model_validate(yaml.safe_load(text))


def _ids(items: tuple[DiseaseAreaDef, ...] | tuple[ConditionDef, ...]) -> tuple[str, ...]:
    return tuple(item.id for item in items)


DISEASE_AREAS: tuple[str, ...] = _ids(vocabulary().disease_areas)
CONDITIONS: tuple[str, ...] = _ids(vocabulary().conditions)
CONDITION_AREA: dict[str, str] = {c.id: c.disease_area for c in vocabulary().conditions}
CATEGORIES: tuple[str, ...] = tuple(c.id for c in vocabulary().categories)
SUBCATEGORIES: tuple[str, ...] = tuple(s.id for s in vocabulary().subcategories)
ADVISORIES: tuple[str, ...] = tuple(a.key for a in vocabulary().advisories)
REFERRALS: frozenset[str] = frozenset(
    a.key for a in vocabulary().advisories if a.kind == "referral"
)
