"""The schema of a knowledge base: its merged vocabulary, the profile fields and their finite
domains, and the profile model built from them.

Every part of the library (loader, engines, resolution, audit, why-not, renderers, frames,
strategies, CLI) reads the profile space from a knowledge base's schema, never from a module
constant, so a rule set's own ``vocabulary:`` changes all of them at once. The bundled schema is
the one :class:`ConditionProfile` belongs to.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from functools import cache, cached_property
from typing import Any

from .cache import BoundedCache
from .matching import Scalar
from .profile import ConditionProfile, make_profile_model, parse_with, set_bundled_schema
from .vocabulary import (
    AdvisoryDef,
    Category,
    ConditionDef,
    FieldDef,
    Subcategory,
    Vocabulary,
    bundled_vocabulary,
)

__all__ = ["Schema", "bundled_schema"]


class Schema:
    """The profile space and value sets of one knowledge base (immutable once built)."""

    def __init__(self, vocabulary: Vocabulary, *, bundled: bool = False) -> None:
        self.vocabulary = vocabulary
        self.bundled = bundled
        self.disease_areas: tuple[str, ...] = tuple(a.id for a in vocabulary.disease_areas)
        self.conditions: tuple[str, ...] = tuple(c.id for c in vocabulary.conditions)
        self.condition_area: dict[str, str] = {c.id: c.disease_area for c in vocabulary.conditions}
        self.categories: tuple[str, ...] = tuple(c.id for c in vocabulary.categories)
        self.subcategories: tuple[str, ...] = tuple(s.id for s in vocabulary.subcategories)
        self.advisories: tuple[str, ...] = tuple(a.key for a in vocabulary.advisories)
        self.referrals: frozenset[str] = frozenset(
            a.key for a in vocabulary.advisories if a.kind == "referral"
        )
        self.category_order = {name: i for i, name in enumerate(self.categories)}
        self.subcategory_order = {name: i for i, name in enumerate(self.subcategories)}
        self.sub_direction = {s.id: s.direction for s in vocabulary.subcategories}
        self.category_direction = {c.id: c.direction for c in vocabulary.categories}
        self.sub_category = {s.id: s.category for s in vocabulary.subcategories}
        of = {
            "conditions": self.conditions,
            "disease_areas": self.disease_areas,
            "subcategories": self.subcategories,
        }
        fields: dict[str, FieldDef] = {}
        for definition in vocabulary.fields:
            if definition.of is not None:
                definition = definition.model_copy(update={"values": of[definition.of]})
            fields[definition.id] = definition
        self.fields: dict[str, FieldDef] = fields
        #: Every value of each scalar field (set fields are in ``set_fields``), in display order.
        self.domains: dict[str, tuple[Scalar, ...]] = {
            name: field.domain for name, field in fields.items() if field.type != "set"
        }
        #: The members each set field's value may hold.
        self.set_fields: dict[str, tuple[str, ...]] = {
            name: field.values for name, field in fields.items() if field.type == "set"
        }
        self.modifiable: tuple[str, ...] = tuple(n for n, f in fields.items() if f.modifiable)
        children: dict[str, list[str]] = {}
        for sub in vocabulary.subcategories:
            if sub.parent is not None:
                children.setdefault(sub.parent, []).append(sub.id)
        self._children = {parent: tuple(kids) for parent, kids in children.items()}
        self.profile_model: type[ConditionProfile] = (
            ConditionProfile if bundled else make_profile_model(self)
        )
        if bundled:
            ConditionProfile.bind_schema(self)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles rebuild the schema (and its profile model) from the vocabulary, once per
        process for the same vocabulary, so profiles unpickled apart share one model."""
        if self.bundled:
            return (bundled_schema, ())
        return (_unpickled, (self._content_key, self.vocabulary))

    @cached_property
    def _content_key(self) -> str:
        encoded = json.dumps(self.vocabulary.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(encoded.encode()).hexdigest()

    # -- lookups -----------------------------------------------------------------------------

    def condition(self, condition_id: str) -> ConditionDef:
        return self.vocabulary.condition(condition_id)

    def category(self, category_id: str) -> Category:
        return self.vocabulary.category(category_id)

    def subcategory(self, subcategory_id: str) -> Subcategory:
        return self.vocabulary.subcategory(subcategory_id)

    def advisory(self, key: str) -> AdvisoryDef:
        return self.vocabulary.advisory(key)

    def typical_activity(self, area: str, condition: str | None) -> str:
        """The immune activity a condition (or, without one, its area) usually has."""
        if condition is not None:
            return self.vocabulary.condition(condition).immune_activity
        return self.vocabulary.disease_area(area).default_immune_activity

    def descendants(self, subcategory: str) -> tuple[str, ...]:
        """The finer classes of a drug class, at every depth (not the class itself)."""
        found: list[str] = []
        stack = list(self._children.get(subcategory, ()))
        while stack:
            kid = stack.pop(0)
            found.append(kid)
            stack.extend(self._children.get(kid, ()))
        return tuple(found)

    def covers(self, named: str, subcategory: str) -> bool:
        """Whether naming ``named`` means ``subcategory`` (itself or one of its finer classes)."""
        return named == subcategory or subcategory in self.descendants(named)

    @cached_property
    def defaults(self) -> dict[str, Any]:
        """Each field's default (``None`` for required fields, and for fields whose default
        is not stated)."""
        return {
            name: None if field.required else _default(field) for name, field in self.fields.items()
        }

    # -- profiles ----------------------------------------------------------------------------

    def parse(self, data: object) -> ConditionProfile:
        """A valid profile of this schema from a profile or a mapping; raises
        :class:`~immunorules.ProfileError` listing every problem otherwise."""
        profile: ConditionProfile = parse_with(self.profile_model, data)
        return profile

    def example(self, values: Mapping[str, Any]) -> ConditionProfile:
        profile: ConditionProfile = self.profile_model(**values)
        return profile


def _default(field: FieldDef) -> Any:
    """The field's default: its ``default``, else not stated (``None``), else (a field that
    can never be not stated) false for a boolean and empty for a set."""
    if field.type == "set":
        if isinstance(field.default, tuple | list):
            return tuple(field.default)
        return None if field.nullable else ()
    if field.type == "boolean" and field.default is None and not field.nullable:
        return False
    return field.default


_UNPICKLED: BoundedCache[str, Schema] = BoundedCache(16)
_UNPICKLED_LOCK = threading.Lock()  # one build per key: equal pickles share one schema


def _unpickled(key: str, vocabulary: Vocabulary) -> Schema:
    """The schema of a pickle (see :meth:`Schema.__reduce__`); the last 16 are kept."""
    with _UNPICKLED_LOCK:
        schema = _UNPICKLED.get(key)
        if schema is None:
            schema = Schema(vocabulary)
            _UNPICKLED.put(key, schema)
        return schema


@cache
def bundled_schema() -> Schema:
    """The schema of the bundled vocabulary (that of :class:`ConditionProfile`)."""
    return Schema(bundled_vocabulary(), bundled=True)


set_bundled_schema(bundled_schema)
