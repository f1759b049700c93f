"""The knowledge base's record codes as one lookup table: which problem (condition or disease
area), which field values and which drug classes a coded record element means, and which drug
classes the ingredient names in a medication's text mean (the name fallback).

Built from the schema of a knowledge base (its bundled vocabulary plus every rule file's
``vocabulary:``) and the bundled drug terminology (``drug_codes.yaml``: RxNorm ingredient,
clinical drug, branded drug and pack codes and WHO ATC codes, each mapped to its ingredient's
class), once per schema; nothing here is a module-level mapping.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from dataclasses import dataclass, field

from .._model.schema import Schema
from .._model.vocabulary import CODE_SYSTEMS, FieldCode
from ._terminology import DrugCode, Ingredient, NameMatcher, bundled_terminology

__all__ = [
    "AGE",
    "ICD10CM",
    "CodeIndex",
    "DrugCodeRow",
    "Hit",
    "Problem",
    "code_index",
    "drug_codes",
]

ICD10CM = CODE_SYSTEMS["icd10cm"]
AGE = CODE_SYSTEMS["patient_age"]
_ICD_ALIASES = {"http://hl7.org/fhir/sid/icd-10", ICD10CM}

#: How specific a match is: a longer code, or a narrower ICD-10-CM block, wins.
Specificity = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem a code names: a condition of the knowledge base, or only a disease area."""

    kind: str  # "condition" or "area"
    id: str
    rank: int  # vocabulary order (conditions first, then areas)


@dataclass(frozen=True, slots=True)
class Hit:
    """Everything one coding means."""

    problems: tuple[tuple[Problem, FieldCode], ...] = ()
    fields: tuple[tuple[str, FieldCode], ...] = ()
    classes: tuple[tuple[str, FieldCode], ...] = ()


@dataclass
class CodeIndex:
    exact: dict[tuple[str, str], Hit] = field(default_factory=dict)
    icd_prefix: dict[str, Hit] = field(default_factory=dict)
    icd_blocks: list[tuple[str, str, Hit]] = field(default_factory=list)
    ages: list[tuple[str, FieldCode]] = field(default_factory=list)
    severity: dict[tuple[str, str], list[tuple[str, FieldCode]]] = field(default_factory=dict)
    prior_classes_field: str | None = None
    drug_names: NameMatcher = field(default_factory=lambda: NameMatcher(()))

    def classes_named(self, text: str) -> list[tuple[str, Ingredient]]:
        """The drug classes the ingredient names in ``text`` mean (the name fallback: whole
        words, case-insensitive, longest name first, never in a local dose form's text)."""
        return [(found.drug_class, found) for found in self.drug_names.find(text)]

    def lookup(self, system: str | None, code: str | None) -> list[tuple[Specificity, Hit]]:
        """Every entry a coding matches, with how specific each match is."""
        if not system or not code:
            return []
        found: list[tuple[Specificity, Hit]] = []
        hit = self.exact.get((system, code))
        if hit is not None:
            found.append(((len(code), 0), hit))
        if system in _ICD_ALIASES:
            plain = code.strip().upper().replace(".", "")
            for size in range(1, len(plain) + 1):
                prefix_hit = self.icd_prefix.get(plain[:size])
                if prefix_hit is not None:
                    found.append(((size, 0), prefix_hit))
            category = plain[:3]
            for low, high, block_hit in self.icd_blocks:
                if len(category) == 3 and low <= category <= high:
                    found.append(((3, -_width(low, high)), block_hit))
        return found


def _width(low: str, high: str) -> int:
    if low[0] != high[0]:
        return 1000
    try:
        return int(high[1:3]) - int(low[1:3]) + 1
    except ValueError:
        return 1000


def _field_code(code: DrugCode) -> FieldCode:
    """A terminology code as the index holds it. Its display (a product's name) stays in the
    terminology: what the reading outputs names drug classes, never drugs."""
    return FieldCode(system=code.system_uri, code=code.code, status=code.status, source=code.source)


@dataclass(frozen=True, slots=True)
class DrugCodeRow:
    """One code that names a drug class in the mapping of a knowledge base."""

    system: str
    code: str
    tty: str | None
    display: str | None
    drug_class: str
    status: str
    source: str | None
    source_url: str | None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "system": self.system,
            "code": self.code,
            "tty": self.tty,
            "display": self.display,
            "class": self.drug_class,
            "status": self.status,
            "source": self.source,
            "source_url": self.source_url,
        }


def drug_codes(schema: Schema) -> list[DrugCodeRow]:
    """Every code the FHIR mapping of ``schema`` reads a drug class from: the bundled drug
    terminology's codes of the classes the knowledge base has, then the ``codes`` its own
    vocabulary gives drug classes, each with its verification status and source."""
    class_ids = {sub.id for sub in schema.vocabulary.subcategories}
    terminology = bundled_terminology()
    rows: list[DrugCodeRow] = []
    for ingredient, code in terminology.codes():
        if ingredient.drug_class not in class_ids:
            continue
        source = terminology.sources.get(code.source) if code.source else None
        rows.append(
            DrugCodeRow(
                system=code.system_uri,
                code=code.code,
                tty=code.tty,
                display=code.display,
                drug_class=ingredient.drug_class,
                status=code.status,
                source=None if source is None else source.title,
                source_url=None if source is None else source.url,
            )
        )
    sources = schema.vocabulary.sources
    for sub in schema.vocabulary.subcategories:
        for own in sub.codes:
            cited = sources.get(own.source) if own.source else None
            rows.append(
                DrugCodeRow(
                    system=own.system_uri,
                    code=own.code,
                    tty=None,
                    display=own.display or own.note,
                    drug_class=sub.id,
                    status=own.status,
                    source=cited.citation if cited is not None else own.source,
                    source_url=None if cited is None else cited.url,
                )
            )
    return rows


_INDEXES: weakref.WeakKeyDictionary[Schema, CodeIndex] = weakref.WeakKeyDictionary()


def code_index(schema: Schema) -> CodeIndex:
    """The code table of a knowledge base's schema (built once per schema)."""
    index = _INDEXES.get(schema)
    if index is None:
        index = _build(schema)
        _INDEXES[schema] = index
    return index


def _build(schema: Schema) -> CodeIndex:
    vocab = schema.vocabulary
    problems: dict[str, list[tuple[Problem, FieldCode]]] = defaultdict(list)
    fields: dict[str, list[tuple[str, FieldCode]]] = defaultdict(list)
    classes: dict[str, list[tuple[str, FieldCode]]] = defaultdict(list)
    index = CodeIndex()

    def key(code: FieldCode) -> str:
        return f"{code.system_uri}|{code.code}"

    rank = 0
    for condition in vocab.conditions:
        target = Problem("condition", condition.id, rank)
        rank += 1
        listed = list(condition.codes)
        for system, main in (("snomed_ct", condition.snomed_ct), ("icd10cm", condition.icd10cm)):
            if main is not None:
                listed.append(FieldCode(system=system, code=main.code, status=main.status))
        for code in listed:
            problems[key(code)].append((target, code))
    for area in vocab.disease_areas:
        target = Problem("area", area.id, rank)
        rank += 1
        for code in area.codes:
            problems[key(code)].append((target, code))
    for name, definition in schema.fields.items():
        for code in definition.codes:
            if code.system_uri == AGE:
                index.ages.append((name, code))
            elif code.element == "severity":
                index.severity.setdefault((code.system_uri, code.code), []).append((name, code))
            else:
                fields[key(code)].append((name, code))
    for sub in vocab.subcategories:
        for code in sub.codes:
            classes[key(code)].append((sub.id, code))
    class_ids = {sub.id for sub in vocab.subcategories}
    known = [i for i in bundled_terminology().ingredients if i.drug_class in class_ids]
    for ingredient in known:
        for drug_code in ingredient.codes:
            mapped = classes[f"{drug_code.system_uri}|{drug_code.code}"]
            if all(sub != ingredient.drug_class for sub, _ in mapped):
                mapped.append((ingredient.drug_class, _field_code(drug_code)))
    index.drug_names = NameMatcher(known)
    prior = schema.fields.get("prior_therapy_classes")
    if prior is not None and prior.type == "set" and prior.of == "subcategories":
        index.prior_classes_field = "prior_therapy_classes"

    for joined in set(problems) | set(fields) | set(classes):
        system, text = joined.split("|", 1)
        hit = Hit(
            problems=tuple(problems.get(joined, ())),
            fields=tuple(fields.get(joined, ())),
            classes=tuple(classes.get(joined, ())),
        )
        if system == ICD10CM:
            plain = text.strip().upper().replace(".", "")
            if "-" in plain:
                low, high = plain.split("-", 1)
                index.icd_blocks.append((low[:3], high[:3], hit))
            else:
                index.icd_prefix[plain] = hit
        else:
            index.exact[(system, text)] = hit
    return index
