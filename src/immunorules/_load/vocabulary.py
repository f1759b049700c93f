"""Checks and merges the ``vocabulary:`` sections of rule files into one vocabulary.

The bundled vocabulary comes first; each section may add fields, conditions, disease areas,
drug classes (subcategories) and advisories. Redefining an id with different content, an unknown
field type, an empty or infinite domain, and ``of:`` naming nothing are problems reported with
the file, line and path of the entry, like any rule problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from .._errors import shown
from .._model.profile import did_you_mean
from .._model.vocabulary import (
    CODE_SYSTEMS,
    AdvisoryDef,
    ConditionDef,
    DiseaseAreaDef,
    FieldCode,
    FieldDef,
    Subcategory,
    Vocabulary,
)
from .yaml import child_path

__all__ = ["SECTIONS", "VocabularyMerger", "code_problems"]

Add = Callable[[str, str], None]

SECTIONS = ("fields", "conditions", "disease_areas", "subcategories", "advisories")
_MODELS: dict[str, type[BaseModel]] = {
    "fields": FieldDef,
    "conditions": ConditionDef,
    "disease_areas": DiseaseAreaDef,
    "subcategories": Subcategory,
    "advisories": AdvisoryDef,
}
_ID = re.compile(r"[a-z][a-z0-9_]*\Z")
#: Field ids the profile model cannot take: its own attribute names, and ``cls``, the name of the
#: first parameter of pydantic's ``model_construct`` (a keyword of that name would collide).
#: ``self`` is not among them: the profile's ``__init__`` takes ``self`` positionally only.
_RESERVED = frozenset(dir(BaseModel)) | {"to_fact", "bind_schema", "schema_of", "cls"}


class VocabularyMerger:
    """Collects entries from every file's section, in order, on top of a base vocabulary."""

    def __init__(self, base: Vocabulary) -> None:
        self.base = base
        self.entries: dict[str, dict[str, tuple[BaseModel, str]]] = {s: {} for s in SECTIONS}
        for section in SECTIONS:
            for item in getattr(base, section):
                self.entries[section][_key(item)] = (item, "the bundled vocabulary")
        self.added = False
        #: Entries whose definition has a problem: (section, id, where(path), path). Their uses
        #: would fail as unknown names; the loader reports the definition alone.
        self.rejected: list[tuple[str, str, str, str]] = []

    def add_section(self, data: Any, path: str, where: Callable[[str], str], add: Add) -> None:
        """Check one file's ``vocabulary:`` mapping; ``where(path)`` says file:line."""
        if not isinstance(data, dict):
            add(path, "'vocabulary' must be a mapping of sections")
            return
        for section, items in data.items():
            section_path = child_path(path, section)
            if section not in SECTIONS:
                hint = did_you_mean(section, SECTIONS) or f"; sections: {', '.join(SECTIONS)}"
                add(section_path, f"unknown vocabulary section {shown(section)}{hint}")
                continue
            if not isinstance(items, list):
                add(section_path, f"'{section}' must be a list of entries")
                continue
            for index, raw in enumerate(items):
                self._entry(section, raw, f"{section_path}[{index}]", where, add)

    def _entry(
        self, section: str, raw: Any, path: str, where: Callable[[str], str], add: Add
    ) -> None:
        if not isinstance(raw, dict):
            add(path, "a vocabulary entry must be a mapping")
            return
        try:
            item = _MODELS[section].model_validate(raw)
        except ValidationError as exc:
            name = raw.get("key" if section == "advisories" else "id")
            if isinstance(name, str):
                self.rejected.append((section, name, where(path), path))
            for error in exc.errors(include_url=False):
                loc = [str(part) for part in error["loc"]]
                sub = path
                for part in loc:
                    sub = f"{sub}[{part}]" if part.isdigit() else child_path(sub, part)
                if error["type"] == "extra_forbidden":
                    message = (
                        f"unknown key{did_you_mean(loc[-1], list(_MODELS[section].model_fields))}"
                    )
                elif error["type"] == "literal_error" and loc and loc[-1] == "of":
                    message = "'of' must name conditions, disease_areas or subcategories"
                elif error["type"] == "literal_error" and loc and loc[-1] == "type":
                    message = (
                        f"unknown field type {shown(error['input'])}; "
                        "expected enum, integer, boolean or set"
                    )
                else:
                    message = error["msg"]
                add(sub, message)
            return
        key = _key(item)
        if not isinstance(key, str) or not _ID.match(key):
            add(path, f"{shown(key)} is not a valid id (lower case letters, digits and _)")
            return
        problems = self._problems(section, item)
        for sub, message in problems:
            if not sub:
                add(path, message)
            elif sub.startswith("codes["):  # already a path: codes[0].value
                add(f"{path}.{sub}", message)
            else:
                add(child_path(path, sub), message)
        if problems:
            self.rejected.append((section, key, where(path), path))
            return
        known = self.entries[section].get(key)
        if known is not None:
            bundled = known[1] == "the bundled vocabulary"
            if _comparable(section, known[0], bundled) != _comparable(section, item, bundled):
                what = section[:-1].replace("_", " ")
                add(path, f"redefines {what} {shown(key)} differently from {known[1]}")
            return
        self.entries[section][key] = (item, where(path))
        self.added = True

    def _problems(self, section: str, item: BaseModel) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        domain: tuple[str, ...] = ()
        if isinstance(item, FieldDef):
            domain = item.values if item.of is None else tuple(self.entries[item.of])
        found.extend(code_problems(item, domain))
        if isinstance(item, FieldDef):
            found.extend(_field_problems(item, self))
        elif isinstance(item, ConditionDef):
            if item.disease_area not in self.entries["disease_areas"]:
                hint = did_you_mean(item.disease_area, list(self.entries["disease_areas"]))
                found.append(
                    (
                        "disease_area",
                        f"{shown(item.disease_area)} is not a known disease area{hint}",
                    )
                )
        elif isinstance(item, Subcategory):
            if item.category not in {c.id for c in self.base.categories}:
                found.append(("category", f"{shown(item.category)} is not a therapy category"))
            if item.parent is not None:
                parent = self.entries["subcategories"].get(item.parent)
                if parent is None:
                    found.append(("parent", f"{shown(item.parent)} is not a known subcategory"))
                elif getattr(parent[0], "category", None) != item.category:
                    found.append(("parent", f"{shown(item.parent)} belongs to another category"))
        return found

    def broken(self) -> dict[str, tuple[str, str, str]]:
        """The names defined only by entries with problems: name -> (section, file, path of the
        first such entry)."""
        found: dict[str, tuple[str, str, str]] = {}
        for section, name, where, path in self.rejected:
            if name not in self.entries[section] and name not in found:
                found[name] = (section, where.rsplit(":", 1)[0], path)
        return found

    def vocabulary(self) -> Vocabulary:
        """The merged vocabulary."""
        if not self.added:
            return self.base
        data: dict[str, Any] = {
            section: tuple(item for item, _ in self.entries[section].values())
            for section in SECTIONS
        }
        return Vocabulary(categories=self.base.categories, sources=self.base.sources, **data)


def _key(item: BaseModel) -> Any:
    return (
        getattr(item, "key", None) if isinstance(item, AdvisoryDef) else getattr(item, "id", None)
    )


def _field_problems(field: FieldDef, merger: VocabularyMerger) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if field.id in _RESERVED or field.id.startswith("model_"):
        found.append(("id", f"{shown(field.id)} is a reserved name; choose another field id"))
    if field.type == "integer":
        if field.min is None or field.max is None:
            found.append(
                ("", "an integer field needs both 'min' and 'max' (every domain is finite)")
            )
        elif field.min > field.max:
            found.append(
                ("", f"min ({field.min}) is greater than max ({field.max}): an empty domain")
            )
        elif field.max - field.min > 10_000:
            found.append(("", "an integer field may span at most 10,001 values"))
        if field.values or field.of:
            found.append(("", "an integer field takes 'min' and 'max', not 'values' or 'of'"))
    elif field.type == "boolean":
        if field.values or field.of or field.min is not None or field.max is not None:
            found.append(("", "a boolean field takes no 'values', 'of', 'min' or 'max'"))
    else:
        if field.of is None and not field.values:
            found.append(
                ("values", f"an empty domain: a {field.type} field needs 'values' or 'of'")
            )
        if field.of is not None and field.values:
            found.append(("", "give 'values' or 'of', not both"))
        if field.of is not None and not merger.entries[field.of]:
            found.append(("of", f"'of: {field.of}' names nothing"))
        if field.of is None:
            bad = [v for v in field.values if not _ID.match(v)]
            if bad:
                found.append(
                    (
                        "values",
                        f"{shown(bad[0])} is not a valid value (lower case letters, digits and _)",
                    )
                )
            if len(set(field.values)) != len(field.values):
                found.append(("values", "values must be distinct"))
    if field.default is not None and not found:
        domain = field.values if field.of is None else tuple(merger.entries[field.of])
        ok = {
            "integer": isinstance(field.default, int)
            and not isinstance(field.default, bool)
            and field.min is not None
            and field.max is not None
            and field.min <= field.default <= field.max,
            "boolean": isinstance(field.default, bool),
            "enum": field.default in domain,
            "set": isinstance(field.default, tuple) and set(field.default) <= set(domain),
        }[field.type]
        if not ok:
            found.append(
                ("default", f"default {shown(field.default)} is not in the field's domain")
            )
    if (
        not field.nullable
        and field.default is None
        and not field.required
        and field.type in ("enum", "integer")
    ):
        found.append(("", "a field that cannot be null needs a 'default' or 'required: true'"))
    return found


#: The keys a condition's, disease area's or drug class's code may carry (no field value).
_PLAIN_CODE_KEYS = frozenset({"system", "code", "display", "status", "source", "note"})


def code_problems(item: BaseModel, domain: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """What is wrong with the record ``codes`` of a vocabulary entry: an unknown short system
    name, an age that is not a number, a field value outside the field's domain (``domain``:
    its enum values or set members), or a field-only key on a condition, area or class."""
    codes: tuple[FieldCode, ...] = getattr(item, "codes", ())
    found: list[tuple[str, str]] = []
    for index, code in enumerate(codes):
        where = f"codes[{index}]"
        if ":" not in code.system and code.system not in CODE_SYSTEMS:
            hint = did_you_mean(code.system, list(CODE_SYSTEMS)) or (
                f"; give a URI or one of {', '.join(CODE_SYSTEMS)}"
            )
            found.append((f"{where}.system", f"unknown coding system {shown(code.system)}{hint}"))
        if code.system_uri == CODE_SYSTEMS["patient_age"] and not code.code.isdigit():
            found.append((f"{where}.code", "a patient_age code is an age in whole years"))
        if not isinstance(item, FieldDef):
            extra = sorted(code.model_fields_set - _PLAIN_CODE_KEYS)
            if extra:
                found.append(
                    (where, f"{', '.join(extra)}: only a field's codes set a value or say when")
                )
            continue
        value = code.value
        ok = {
            "boolean": isinstance(value, bool),
            "integer": isinstance(value, int)
            and not isinstance(value, bool)
            and (item.min is None or value >= item.min)
            and (item.max is None or value <= item.max),
            "enum": isinstance(value, str) and value in domain,
            "set": isinstance(value, str) and value in domain,
        }[item.type]
        if not ok:
            hint = did_you_mean(str(value), list(domain)) if isinstance(value, str) else ""
            found.append((f"{where}.value", f"{shown(value)} is not a value of the field{hint}"))
    return found


def _comparable(section: str, item: Any, bundled: bool = False) -> Any:
    """What must match when an id is defined twice: a field's description is documentation
    only, so a rule set that declared a field the bundled vocabulary later adopted (with its own
    description) keeps loading; the first definition, with its description, is the one kept.
    Redeclaring a bundled field, its default and whether it may be not stated are the bundled
    vocabulary's too (they change between versions: not stated became the default)."""
    if section != "fields":
        return item
    update: dict[str, Any] = {"description": None}
    if bundled:
        update.update(default=None, nullable=True)
    return item.model_copy(update=update)
