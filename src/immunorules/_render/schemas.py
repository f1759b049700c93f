"""JSON Schemas of a knowledge base: of its profiles, and of its rule files (for editors such as
yaml-language-server), and its vocabulary as text, Markdown or JSON.

Everything here is built from the knowledge base's schema, so a rule set's own fields,
conditions, drug classes and advisories appear in what editors and users see.
"""

from __future__ import annotations

import json
from typing import Any

from .._model.result import NOT_FOR_CLINICAL_USE
from .._model.rules import show_value
from .._model.schema import Schema
from .._model.vocabulary import FieldDef

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
    """The JSON Schema of a profile (``disease_area`` may be left out when a condition is given)."""
    properties = {name: _field_schema(field) for name, field in schema.fields.items()}
    properties["disease_area"]["description"] = (
        "The area of the problem being treated; derived from the condition when left out."
    )
    return {
        "$schema": _DRAFT,
        "title": "immunorules condition profile",
        "description": NOT_FOR_CLINICAL_USE,
        "type": "object",
        "properties": properties,
        "required": [n for n, f in schema.fields.items() if f.required and n != "disease_area"],
        "additionalProperties": False,
    }


def _condition_schema(field: FieldDef) -> dict[str, Any]:
    """What a rule's ``when`` accepts for a field."""
    if field.type == "set":
        members = {"type": "array", "items": {"enum": list(field.values)}, "minItems": 1}
        found_set: dict[str, Any] = {
            "type": "object",
            "properties": {
                "includes": members,
                "includes_any": members,
                "excludes": members,
                **({"or_not_stated": {"type": "boolean"}} if field.nullable else {}),
            },
            "additionalProperties": False,
            "minProperties": 1,
        }
        return {"anyOf": [found_set, {"type": "null"}]} if field.nullable else found_set
    value = _field_schema(field)
    value.pop("default", None)
    value.pop("description", None)
    if field.type == "integer":
        value = {"type": "integer", "minimum": field.min, "maximum": field.max}
        if field.nullable:
            value = {"anyOf": [value, {"type": "null"}]}
    shapes: list[dict[str, Any]] = [value, {"type": "array", "items": value, "minItems": 1}]
    unstated = {"or_not_stated": {"type": "boolean"}} if field.nullable else {}
    shapes.append(
        {
            "type": "object",
            "properties": {
                "not": {"anyOf": [value, {"type": "array", "items": value}]},
                **unstated,
            },
            "required": ["not"],
            "additionalProperties": False,
        }
    )
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


def rule_file_json_schema(schema: Schema) -> dict[str, Any]:
    """The JSON Schema of a rule file's ``rules``, ``evidence`` and ``scope`` (its
    ``vocabulary:`` section is checked by the loader, not by this schema)."""
    when = {
        "type": "object",
        "properties": {name: _condition_schema(field) for name, field in schema.fields.items()},
        "additionalProperties": False,
    }
    names = {
        "category": {"enum": list(schema.categories)},
        "subcategory": {"enum": list(schema.subcategories)},
        "advisory": {"enum": list(schema.advisories)},
    }
    categories = {"type": "array", "items": names["category"]}
    then = {
        "type": "object",
        "properties": {
            "suggest": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "category": names["category"],
                        "tier": {"enum": ["first_line", "escalation"]},
                        "subcategories": {"type": "array", "items": names["subcategory"]},
                        "goal": {"enum": ["suppress", "stimulate", "reconstitute", "cytotoxic"]},
                    },
                    "required": ["category", "tier"],
                    "additionalProperties": False,
                },
            },
            "flag": categories,
            "avoid": {
                "type": "array",
                "items": {
                    "oneOf": [
                        {
                            "type": "object",
                            "properties": {"category": names["category"]},
                            "required": ["category"],
                            "additionalProperties": False,
                        },
                        {
                            "type": "object",
                            "properties": {"subcategory": names["subcategory"]},
                            "required": ["subcategory"],
                            "additionalProperties": False,
                        },
                    ]
                },
            },
            "advise": {"type": "array", "items": names["advisory"]},
        },
        "additionalProperties": False,
        "minProperties": 1,
    }
    expect = {
        "type": "object",
        "properties": {
            "suggest": categories,
            "flagged": categories,
            "not": categories,
            "advise": {"type": "array", "items": names["advisory"]},
        },
        "additionalProperties": False,
    }
    rule = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "pattern": "^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$"},
            "title": {"type": "string", "minLength": 1},
            "status": {"enum": ["active", "draft", "retired"]},
            "when": when,
            "then": then,
            "because": {"type": "string", "minLength": 1},
            "evidence": {"type": "array", "items": {"type": "string"}},
            "tests": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"profile": {"type": "object"}, "expect": expect},
                    "required": ["profile", "expect"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["id", "title", "then", "because"],
        "additionalProperties": False,
    }
    evidence = {
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "properties": {
                key: {"type": "string"}
                for key in ("citation", "url", "accessed", "version", "note")
            }
            | {"confidence": {"enum": ["verified", "secondary", "unverified"]}},
            "required": ["citation"],
            "additionalProperties": False,
        },
    }
    return {
        "$schema": _DRAFT,
        "title": "immunorules rule file",
        "type": "object",
        "properties": {
            "rules": {"type": "array", "items": rule},
            "evidence": evidence,
            "scope": {"anyOf": [when, {"type": "array", "items": when}]},
            "vocabulary": {"type": "object"},
        },
        "additionalProperties": False,
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
