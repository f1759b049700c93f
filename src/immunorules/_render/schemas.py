"""JSON Schemas of a knowledge base: of its profiles, and of its rule files (for editors such as
yaml-language-server), and its vocabulary as text, Markdown or JSON.

Everything here is built from the knowledge base's schema, so a rule set's own fields,
conditions, drug classes and advisories appear in what editors and users see. The rule-file
schema is built from the loader's own lists of keys, statuses, tiers and goals and from the
models it validates vocabulary entries with; it must never accept what the loader refuses where
JSON Schema can say so, nor become a second judge: the loader decides what a rule file means.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic.json_schema import models_json_schema

# The loader's own definitions of the rule-file format, so that the schema cannot drift from it
from .._load.loader import (
    _CONFIDENCE,
    _EFFECT_KEYS,
    _EVIDENCE_KEYS,
    _EXPECT_KEYS,
    _GOALS,
    _RULE_KEYS,
    _SET_KEYS,
    _STATUSES,
    _TIERS,
    _TOP_KEYS,
)
from .._load.loader import _ID as _RULE_ID
from .._load.vocabulary import _ID as _VOCAB_ID
from .._load.vocabulary import _MODELS, _PLAIN_CODE_KEYS, _RESERVED, SECTIONS
from .._model.result import NOT_FOR_CLINICAL_USE
from .._model.rules import show_value
from .._model.schema import Schema
from .._model.vocabulary import CODE_SYSTEMS, FieldDef

__all__ = ["profile_json_schema", "rule_file_json_schema", "vocabulary_text"]

_DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _field_schema(field: FieldDef) -> dict[str, Any]:
    found: dict[str, Any]
    if field.type == "boolean":
        found = {"type": ["boolean", "null"] if field.nullable else "boolean"}
    elif field.type == "integer":
        found = {"type": ["integer", "null"] if field.nullable else "integer"}
        found |= {"minimum": field.min, "maximum": field.max}
    elif field.type == "set":
        found = {"type": "array", "items": {"enum": list(field.values)}, "uniqueItems": True}
        if field.nullable:
            found["type"] = ["array", "null"]
    else:
        found = {"enum": [*field.values, *([None] if field.nullable else [])]}
    if field.description:
        found["description"] = field.description
    if not field.required:
        default = field.default
        if field.type == "boolean" and default is None and not field.nullable:
            default = False
        if field.type == "set" and default is None and not field.nullable:
            default = ()
        found["default"] = list(default) if isinstance(default, tuple) else default
    return found


def profile_json_schema(schema: Schema) -> dict[str, Any]:
    """The JSON Schema of a profile (``disease_area`` may be left out when a condition is given;
    ``immune_activity`` may be left out: it is derived from the condition, else the area)."""
    properties = {name: _field_schema(field) for name, field in schema.fields.items()}
    areas: dict[str, list[str]] = {}
    for condition, area in schema.condition_area.items():
        areas.setdefault(area, []).append(condition)
    properties["disease_area"]["description"] = (
        "The area of the problem being treated; derived from the condition when left out."
    )
    return {
        "$schema": _DRAFT,
        "title": "immunorules condition profile",
        "description": NOT_FOR_CLINICAL_USE,
        "type": "object",
        "properties": properties,
        "required": [
            n
            for n, f in schema.fields.items()
            if f.required and n not in ("disease_area", "immune_activity")
        ],
        "additionalProperties": False,
        # the area is derived from the condition, so a given one must be the condition's
        "allOf": [
            {
                "if": {
                    "properties": {"condition": {"enum": conditions}},
                    "required": ["condition"],
                },
                "then": {"properties": {"disease_area": {"enum": [area, None]}}},
            }
            for area, conditions in areas.items()
        ],
    }


#: Above this many values a field's ``{not: [...]}`` is not checked for excluding every value
#: (the check names each value once).
_NOT_ALL_LIMIT = 64

_TEXT: dict[str, Any] = {"type": "string", "pattern": r"\S"}  # a non-empty string


def _pattern(regex: re.Pattern[str]) -> str:
    """The loader's full-match regex as a JSON Schema pattern (anchored at both ends)."""
    return "^" + regex.pattern.removesuffix(r"\Z") + "$"


def _optional_list(items: dict[str, Any], **more: Any) -> dict[str, Any]:
    """A list the loader also accepts as null (read as an empty list)."""
    return {"type": ["array", "null"], "items": items, **more}


def _one_of(choices: Sequence[Any]) -> dict[str, Any]:
    return {"enum": list(choices)} if choices else {"not": {}}


def _condition_schema(schema: Schema, name: str) -> dict[str, Any]:
    """What a rule's ``when`` accepts for a field."""
    field = schema.fields[name]
    unstated = {"or_not_stated": {"type": "boolean"}} if field.nullable else {}
    if field.type == "set":
        member = _one_of(schema.set_fields[name])
        members = {"anyOf": [member, {"type": "array", "items": member, "minItems": 1}]}
        found_set: dict[str, Any] = {
            "type": "object",
            "properties": {**dict.fromkeys(_SET_KEYS, members), **unstated},
            "additionalProperties": False,
            "minProperties": 1,
        }
        return {"anyOf": [found_set, {"type": "null"}]} if field.nullable else found_set
    domain = schema.domains[name]
    value: dict[str, Any]
    if field.type == "integer":
        value = {"type": "integer", "minimum": field.min, "maximum": field.max}
        if field.nullable:
            value = {"anyOf": [value, {"type": "null"}]}
    elif field.type == "boolean":
        value = {"type": ["boolean", "null"] if field.nullable else "boolean"}
    else:
        value = {"enum": list(domain)}
    values = {"type": "array", "items": value, "minItems": 1}
    excluded: dict[str, Any] = {"type": "array", "items": value, "minItems": 1}
    if len(domain) <= _NOT_ALL_LIMIT:  # excluding every value: the rule could never fire
        excluded["not"] = {"allOf": [{"contains": {"const": v}} for v in domain]}
    shapes: list[dict[str, Any]] = [
        value,
        values,
        {
            "type": "object",
            "properties": {
                "not": {"anyOf": [value, excluded] if len(domain) > 1 else [excluded]},
                **unstated,
            },
            "required": ["not"],
            "additionalProperties": False,
        },
    ]
    if field.type == "integer":
        bound = {"type": "integer", "minimum": field.min, "maximum": field.max}
        shapes.append(
            {
                "type": "object",
                "properties": {"min": bound, "max": bound, **unstated},
                "additionalProperties": False,
                "minProperties": 1,
            }
        )
    found: dict[str, Any] = {"anyOf": shapes}
    if field.description:
        found["description"] = field.description
    return found


def _then_schema(schema: Schema) -> dict[str, Any]:
    """A rule's effects: at least one non-empty list; a suggestion's drug classes belong to its
    category."""
    category, advisory = _one_of(schema.categories), _one_of(schema.advisories)
    owned: dict[str, list[str]] = {name: [] for name in schema.categories}
    for sub, owner in schema.sub_category.items():
        owned[owner].append(sub)
    suggestion = {
        "type": "object",
        "properties": {
            "category": category,
            "tier": _one_of(_TIERS),
            "subcategories": _optional_list(_one_of(schema.subcategories)),
            "goal": _one_of([*_GOALS, None]),
        },
        "required": ["category", "tier"],
        "additionalProperties": False,
        "allOf": [
            {
                "if": {"properties": {"category": {"const": name}}, "required": ["category"]},
                "then": {"properties": {"subcategories": _optional_list(_one_of(subs))}},
            }
            for name, subs in owned.items()
        ],
    }
    avoid = {
        "oneOf": [
            {
                "type": "object",
                "properties": {key: _one_of(names)},
                "required": [key],
                "additionalProperties": False,
            }
            for key, names in (
                ("category", schema.categories),
                ("subcategory", schema.subcategories),
            )
        ]
    }
    effects: dict[str, dict[str, Any]] = {
        "suggest": _optional_list(suggestion),
        "flag": _optional_list(category),
        "avoid": _optional_list(avoid),
        "advise": _optional_list(advisory),
    }
    return {
        "type": "object",
        "properties": {key: effects[key] for key in _EFFECT_KEYS},
        "additionalProperties": False,
        "anyOf": [
            {"properties": {key: {"type": "array", "minItems": 1}}, "required": [key]}
            for key in _EFFECT_KEYS
        ],
    }


def _golden_case_schema(schema: Schema) -> dict[str, Any]:
    """A rule's golden case: a valid profile and what the result must show."""
    categories = _optional_list(_one_of(schema.categories))
    lists: dict[str, dict[str, Any]] = {
        "suggest": categories,
        "flagged": categories,
        "not": categories,
        "advise": _optional_list(_one_of(schema.advisories)),
    }
    expect = {
        "type": "object",
        "properties": {key: lists[key] for key in _EXPECT_KEYS},
        "additionalProperties": False,
        "minProperties": 1,
    }
    profile = {
        key: value
        for key, value in profile_json_schema(schema).items()
        if key not in ("$schema", "title", "description")
    }
    return {
        "type": "object",
        "properties": {"profile": profile, "expect": expect},
        "required": ["profile", "expect"],
        "additionalProperties": False,
    }


def _rule_schema(schema: Schema) -> dict[str, Any]:
    keys: dict[str, dict[str, Any]] = {
        "id": {"type": "string", "pattern": _pattern(_RULE_ID)},
        "title": _TEXT,
        "status": _one_of(_STATUSES),
        "when": {"anyOf": [{"$ref": "#/$defs/when"}, {"type": "null"}]},
        "then": _then_schema(schema),
        "because": _TEXT,
        "evidence": _optional_list({"type": "string", "minLength": 1}),
        "tests": _optional_list(_golden_case_schema(schema)),
    }
    return {
        "type": "object",
        "properties": {key: keys[key] for key in _RULE_KEYS},
        "required": ["id", "title", "then", "because"],
        "additionalProperties": False,
    }


def _evidence_schema() -> dict[str, Any]:
    optional = {"anyOf": [_TEXT, {"type": "null"}]}
    keys: dict[str, dict[str, Any]] = {
        "citation": _TEXT,
        "url": optional,
        "accessed": optional,
        "version": optional,
        "confidence": _one_of([*_CONFIDENCE, None]),
        "note": optional,
    }
    return {
        "type": "object",
        "propertyNames": {"minLength": 1},
        "additionalProperties": {
            "type": "object",
            "properties": {key: keys[key] for key in _EVIDENCE_KEYS},
            "required": ["citation"],
            "additionalProperties": False,
        },
    }


def _vocabulary_schema(schema: Schema, defs: dict[str, Any]) -> dict[str, Any]:
    """A ``vocabulary:`` section, from the models the loader validates its entries with, plus
    the loader's further checks that JSON Schema can state (``defs`` receives the models)."""
    models = {section: _MODELS[section] for section in SECTIONS}
    refs, top = models_json_schema(
        [(model, "validation") for model in models.values()], ref_template="#/$defs/{model}"
    )
    defs.update(top["$defs"])
    system = {"anyOf": [_one_of(list(CODE_SYSTEMS)), {"type": "string", "pattern": ":"}]}
    age = {"enum": ["patient_age", CODE_SYSTEMS["patient_age"]]}
    defs["FieldCode"]["properties"]["system"] = system
    defs["FieldCode"]["allOf"] = [
        {
            "if": {"properties": {"system": age}, "required": ["system"]},
            "then": {"properties": {"code": {"type": "string", "pattern": r"^\d+$"}}},
        }
    ]
    vocab_id = {"type": "string", "pattern": _pattern(_VOCAB_ID)}
    plain_codes = {"codes": {"items": {"propertyNames": _one_of(sorted(_PLAIN_CODE_KEYS))}}}
    reserved = sorted(name for name in _RESERVED if _VOCAB_ID.match(name))
    listed = {"required": ["values"], "properties": {"values": {"minItems": 1}}}
    named = {"required": ["of"], "properties": {"of": {"type": "string"}}}
    no_domain = {"properties": {"values": {"maxItems": 0}, "of": {"type": "null"}}}
    extra: dict[str, list[dict[str, Any]]] = {
        "fields": [
            {
                "properties": {
                    "id": {
                        **vocab_id,
                        "not": {"anyOf": [_one_of(reserved), {"pattern": "^model_"}]},
                    }
                }
            },
            {
                "if": {"properties": {"type": {"const": "integer"}}},
                "then": {
                    **no_domain,
                    "required": ["min", "max"],
                    "properties": {
                        **no_domain["properties"],
                        "min": {"type": "integer"},
                        "max": {"type": "integer"},
                    },
                },
            },
            {
                "if": {"properties": {"type": {"const": "boolean"}}},
                "then": {
                    "properties": {
                        **no_domain["properties"],
                        "min": {"type": "null"},
                        "max": {"type": "null"},
                    }
                },
            },
            {
                "if": {"properties": {"type": {"enum": ["enum", "set"]}}},
                "then": {
                    "oneOf": [listed, named],
                    "properties": {
                        "values": {"items": vocab_id, "uniqueItems": True},
                    },
                },
            },
            {  # a field that cannot be null needs a default or 'required: true'
                "if": {
                    "properties": {
                        "nullable": {"const": False},
                        "type": {"enum": ["enum", "integer"]},
                    },
                    "required": ["nullable"],
                },
                "then": {
                    "anyOf": [
                        {
                            "required": ["default"],
                            "properties": {"default": {"not": {"type": "null"}}},
                        },
                        {"required": ["required"], "properties": {"required": {"const": True}}},
                    ]
                },
            },
        ],
        "conditions": [
            {"properties": {"id": vocab_id, "disease_area": _one_of(schema.disease_areas)}},
            {"properties": plain_codes},
        ],
        "disease_areas": [{"properties": {"id": vocab_id, **plain_codes}}],
        "subcategories": [
            {
                "properties": {
                    "id": vocab_id,
                    "category": _one_of(schema.categories),
                    "parent": _one_of([*schema.subcategories, None]),
                    **plain_codes,
                }
            }
        ],
        "advisories": [{"properties": {"key": vocab_id}}],
    }
    return {
        "type": "object",
        "properties": {
            section: {
                "type": "array",
                "items": {"allOf": [refs[(model, "validation")], *extra[section]]},
            }
            for section, model in models.items()
        },
        "additionalProperties": False,
    }


def rule_file_json_schema(schema: Schema) -> dict[str, Any]:
    """The JSON Schema of a rule file: its ``rules``, ``evidence``, ``scope`` and
    ``vocabulary``, with the names of ``schema``'s vocabulary.

    It states every check of the loader that JSON Schema can express; the loader also checks
    what needs more than one place in the files at once: duplicate rule ids and evidence keys,
    references to evidence keys, ``min`` above ``max``, a set condition that includes and
    excludes the same member, a vocabulary entry that redefines another or a code value outside
    its own field's values, and YAML itself (duplicate keys, tags, anchors, huge numbers).
    """
    when = {
        "type": "object",
        "properties": {name: _condition_schema(schema, name) for name in schema.fields},
        "additionalProperties": False,
    }
    defs: dict[str, Any] = {"when": when}
    region = {"$ref": "#/$defs/when", "minProperties": 1}
    top: dict[str, dict[str, Any]] = {
        "rules": {"type": "array", "items": _rule_schema(schema)},
        "evidence": _evidence_schema(),
        "vocabulary": _vocabulary_schema(schema, defs),
        "scope": {"anyOf": [region, {"type": "array", "items": region}]},
    }
    return {
        "$schema": _DRAFT,
        "title": "immunorules rule file",
        "type": "object",
        "properties": {key: top[key] for key in _TOP_KEYS},
        "additionalProperties": False,
        "anyOf": [{"required": [key]} for key in ("rules", "evidence", "vocabulary")],
        "$defs": defs,
    }


def _domain_text(field: FieldDef) -> str:
    if field.type == "integer":
        return f"{field.min}..{field.max}" + (" or null" if field.nullable else "")
    if field.type == "boolean":
        return "true, false"
    values = ", ".join(field.values)
    if field.type == "set":
        return (
            f"any subset of: {values}"
            if len(field.values) <= 12
            else f"any subset of the {field.of}"
        )
    if field.of is not None:
        return f"one of the {field.of}" + (" or null" if field.nullable else "")
    return values + (", or null" if field.nullable else "")


def _heading(text: str, markdown: bool) -> str:
    return f"### {text}" if markdown else f"{text}:"


def vocabulary_text(schema: Schema, *, markdown: bool = False) -> str:
    """The vocabulary: fields and their values, conditions, drug classes and advisories."""
    vocab = schema.vocabulary
    out: list[str] = []
    item = "- " if markdown else "  "
    out.append(_heading("Profile fields", markdown))
    for name, field in schema.fields.items():
        flags: list[str] = [field.type]
        if field.required:
            flags.append("required")
        elif field.type != "set":
            flags.append(f"default {show_value(schema.defaults[name])}")
        if field.modifiable:
            flags.append("modifiable")
        described = f" - {field.description}" if field.description else ""
        out.append(f"{item}{name} ({', '.join(flags)}): {_domain_text(field)}{described}")
    out += ["", _heading("Conditions", markdown)]
    for area in vocab.disease_areas:
        members = [c.id for c in vocab.conditions if c.disease_area == area.id]
        out.append(f"{item}{area.id} ({area.name}): {', '.join(members) or '-'}")
    out += ["", _heading("Therapy categories and drug classes", markdown)]
    for category in vocab.categories:
        classes = [
            s.id + (f" (within {s.parent})" if s.parent else "")
            for s in vocab.subcategories
            if s.category == category.id
        ]
        out.append(
            f"{item}{category.id} ({category.direction or 'no default direction'}): "
            f"{', '.join(classes)}"
        )
    out += ["", _heading("Advisories", markdown)]
    for kind in ("referral", "caution"):
        keys = [a.key for a in vocab.advisories if a.kind == kind]
        out.append(f"{item}{kind}s: {', '.join(keys)}")
    return "\n".join(out)


def vocabulary_json(schema: Schema, *, indent: int | None = 2) -> str:
    data = schema.vocabulary.model_dump(mode="json", exclude={"sources"})
    data["fields"] = [field.model_dump(mode="json") for field in schema.fields.values()]
    return json.dumps({"notice": NOT_FOR_CLINICAL_USE, **data}, indent=indent)
