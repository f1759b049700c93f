"""The bundled drug terminology: which ingredient, and so which drug class, a medication code or
name means. Codes cover RxNorm ingredients (IN), clinical drugs (SCD), branded drugs (SBD) and
packs (GPCK, BPCK), and WHO ATC 5th-level substances; each carries a verification status and the
source it was read in.

The data is ``drug_codes.yaml`` beside this module; this module owns its format (the models
below, with every key the file may hold) and reads it with a safe YAML loader: nothing in the
file is ever run. The name fallback (:class:`NameMatcher`) finds ingredient names in a
medication's ``display``/``text`` as whole words. This module must never decide what a profile
field is, nor hold a code outside the data file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .._model.vocabulary import CODE_SYSTEMS

__all__ = [
    "LOCAL_FORMS",
    "DrugCode",
    "Ingredient",
    "NameMatcher",
    "Terminology",
    "TerminologySource",
    "bundled_terminology",
]

#: RxNorm term types the table holds: ingredient, precise ingredient, clinical and branded drug,
#: generic and branded pack; ``ATC5`` marks a WHO ATC 5th-level code.
TermType = Literal["IN", "PIN", "MIN", "SCD", "SBD", "GPCK", "BPCK", "ATC5"]
Status = Literal["verified", "secondary", "unverified"]

#: Dose forms that act where they are applied (skin, eye, ear, nose, airway, gut lumen): the
#: name fallback never reads a class from a medication text that names one, since e.g. a
#: hydrocortisone cream or a ciclosporin eye emulsion is not systemic immunomodulation.
LOCAL_FORMS: tuple[str, ...] = (
    "topical",
    "cream",
    "ointment",
    "lotion",
    "gel",
    "foam",
    "shampoo",
    "paste",
    "ophthalmic",
    "eye",
    "otic",
    "ear",
    "nasal",
    "inhalation",
    "inhaler",
    "inhalant",
    "inhaled",
    "metered dose",
    "nebulizer",
    "rectal",
    "enema",
    "suppository",
    "vaginal",
    "mouthwash",
    "dental",
    "transdermal",
    "intravitreal",
    "intra-articular",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TerminologySource(_Frozen):
    """A source a code was read in: its title and address."""

    title: str
    url: str | None = None
    note: str | None = None


class DrugCode(_Frozen):
    """One code of an ingredient. ``status``: ``verified`` (read in an authoritative source:
    NLM RxNav or DailyMed, the FDA's openFDA listing of RxNorm codes, the WHO ATC index),
    ``secondary`` (read only in a copy derived from one: the CDS Hooks sandbox's RxNorm list,
    Synthea records) or ``unverified``; ``source`` names an entry of the file's ``sources``.
    ``tty`` is the RxNorm term type when it was read (None: a code read only in a product
    listing, whose RxNorm name was not seen; its ``display`` then says so)."""

    system: str
    code: str
    tty: TermType | None = None
    display: str
    status: Status
    source: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _sourced(self) -> DrugCode:
        if self.status != "unverified" and not self.source:
            raise ValueError(f"{self.system} {self.code}: a {self.status} code names its source")
        if self.system not in CODE_SYSTEMS and ":" not in self.system:
            raise ValueError(f"{self.code}: unknown coding system {self.system!r}")
        return self

    @property
    def system_uri(self) -> str:
        """The system's URI (short names resolved)."""
        return CODE_SYSTEMS.get(self.system, self.system)


class Ingredient(_Frozen):
    """An active ingredient, the drug class (a subcategory id of the bundled vocabulary) it
    belongs to, the other names the name fallback knows it by, and its codes."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str
    drug_class: str = Field(alias="class")
    names: tuple[str, ...] = ()
    codes: tuple[DrugCode, ...] = ()
    note: str | None = None

    @property
    def all_names(self) -> tuple[str, ...]:
        return (self.name, *self.names)


class Terminology(_Frozen):
    """The whole table: sources, then ingredients in class order."""

    sources: dict[str, TerminologySource]
    ingredients: tuple[Ingredient, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Terminology:
        seen: dict[tuple[str, str], str] = {}
        names: dict[str, str] = {}
        for ingredient in self.ingredients:
            for name in ingredient.all_names:
                other = names.setdefault(name.casefold(), ingredient.name)
                if other != ingredient.name:
                    raise ValueError(f"the name {name!r} is given to {other} and {ingredient.name}")
            for code in ingredient.codes:
                if code.source is not None and code.source not in self.sources:
                    raise ValueError(f"{code.code}: unknown source {code.source!r}")
                key = (code.system_uri, code.code)
                other = seen.setdefault(key, ingredient.name)
                if other != ingredient.name:
                    raise ValueError(f"{code.code} is listed for {other} and {ingredient.name}")
        return self

    def codes(self) -> Iterator[tuple[Ingredient, DrugCode]]:
        """Every (ingredient, code) pair, in file order."""
        for ingredient in self.ingredients:
            for code in ingredient.codes:
                yield ingredient, code


@cache
def bundled_terminology() -> Terminology:
    """The package's drug terminology, parsed once."""
    text = (
        resources.files("immunorules.fhir").joinpath("drug_codes.yaml").read_text(encoding="utf-8")
    )
    return Terminology.model_validate(yaml.safe_load(text))


class NameMatcher:
    """Finds ingredient names in free text: case-insensitive, whole words only (a name never
    matches inside a longer word: ``tacept`` is not found in ``abatacept``), the longest name at
    a place first (``peginterferon beta-1a`` before ``interferon beta-1a``), and never in a text
    that names a local dose form (:data:`LOCAL_FORMS`)."""

    def __init__(self, ingredients: Iterable[Ingredient]) -> None:
        self._by_name: dict[str, Ingredient] = {}
        for ingredient in ingredients:
            for name in ingredient.all_names:
                self._by_name.setdefault(_fold(name), ingredient)
        ordered = sorted(self._by_name, key=lambda n: (-len(n), n))
        self._pattern = (
            re.compile(
                r"(?<!\w)(" + "|".join(_spaced(n) for n in ordered) + r")(?!\w)",
                re.IGNORECASE,
            )
            if ordered
            else None
        )

    def find(self, text: str) -> list[Ingredient]:
        """The ingredients ``text`` names, in order of appearance (each once); none when the
        text names a local dose form."""
        if self._pattern is None or self.local(text):
            return []
        found: dict[str, Ingredient] = {}
        for match in self._pattern.finditer(text):
            ingredient = self._by_name[_fold(match.group(1))]
            found.setdefault(ingredient.name, ingredient)
        return list(found.values())

    @staticmethod
    def local(text: str) -> bool:
        """Whether ``text`` names a local dose form (:data:`LOCAL_FORMS`): a medication that
        acts where it is applied, never read as a drug class."""
        return _LOCAL.search(text) is not None


def _fold(name: str) -> str:
    return " ".join(name.casefold().split())


def _spaced(name: str) -> str:
    """A name as a pattern where any run of white space stands for its spaces."""
    return r"\s+".join(re.escape(part) for part in name.split())


_LOCAL = re.compile(r"(?<!\w)(?:" + "|".join(_spaced(f) for f in LOCAL_FORMS) + r")(?!\w)", re.I)
