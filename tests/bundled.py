"""The bundled vocabulary's value sets, for tests about the bundled knowledge base (the library
itself reads them from each knowledge base's schema)."""

from __future__ import annotations

from typing import Any

from immunorules._analysis.space import ProfileSpace
from immunorules._model.profile import ConditionProfile
from immunorules._model.schema import bundled_schema
from immunorules._model.space import FlatSpace

SCHEMA = bundled_schema()
FIELD_DOMAINS = SCHEMA.domains
PROFILE_FIELDS = tuple(SCHEMA.fields)
CONDITIONS = SCHEMA.conditions
CONDITION_AREA = SCHEMA.condition_area
DISEASE_AREAS = SCHEMA.disease_areas
CATEGORIES = SCHEMA.categories
SUBCATEGORIES = SCHEMA.subcategories
PROFILE_SPACE = ProfileSpace(FlatSpace(SCHEMA, ()))
FULL = PROFILE_SPACE.full
DIMENSIONS = PROFILE_SPACE.dimensions
JOINT_VALUES = PROFILE_SPACE.joint_values
compile_rule = PROFILE_SPACE.compile_rule
pieces = PROFILE_SPACE.pieces
regions = PROFILE_SPACE.regions


def parse_profile(data: Any) -> ConditionProfile:
    return SCHEMA.parse(data)


def vocabulary() -> Any:
    return SCHEMA.vocabulary
