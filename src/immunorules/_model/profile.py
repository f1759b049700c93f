"""The condition profile: what is known about the patient, validated strictly against a schema.

:class:`ConditionProfile` is the bundled knowledge base's profile model; a knowledge base whose
vocabulary adds fields, conditions or disease areas gets a subclass of it built by
:func:`make_profile_model`, so every profile model shares the bundled fields. Validation raises
:class:`ProfileError` listing every problem; no pydantic error, ``KeyError``, ``ValueError`` or
``RecursionError`` escapes.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from .._errors import ProfileError, ProfileProblem, shown
from .base import WithoutV1

if TYPE_CHECKING:
    from .schema import Schema

__all__ = [
    "WARNING_FIELDS",
    "ConditionProfile",
    "did_you_mean",
    "make_profile_model",
    "parse_with",
    "profile_warnings",
]

ImmuneActivity = Literal["overactive", "underactive", "balanced"]
TransplantStatus = Literal["none", "candidate", "solid_organ_recipient", "hsct_recipient"]
Severity = Literal["mild", "moderate", "severe"]
InfectionStatus = Literal["none", "recent_serious", "active_serious"]
HbvSerology = Literal["negative", "resolved", "hbsag_positive"]
HsctType = Literal["allogeneic", "autologous"]
MalignancyType = Literal[
    "lymphoproliferative", "non_melanoma_skin_cancer", "melanoma", "solid_tumour", "other"
]
PhiladelphiaChromosome = Literal["positive", "negative"]
GvhdType = Literal["acute", "chronic"]
TreatmentPhase = Literal["induction", "maintenance"]


#: The bundled fields that the vocabulary may make not stated (None).
_MAY_BE_UNSTATED = (
    "transplant_status",
    "prior_lines_of_therapy",
    "infection_status",
    "latent_tuberculosis",
    "hepatitis_b",
    "pregnant",
    "heart_failure",
    "demyelinating_disease",
    "autoimmune_disease_history",
    "malignancy_history",
    "cardiovascular_risk",
    "targetable_driver_alteration",
    "prior_therapy_classes",
)
_NOT_NULL = {
    "boolean": "a boolean (true or false)",
    "integer": "an integer",
    "set": "a list",
}

#: Builds the bundled schema; set by the schema module when it is imported (it imports this
#: module, so this one cannot import it).
_BUNDLED: Callable[[], Schema] | None = None


def set_bundled_schema(build: Callable[[], Schema]) -> None:
    global _BUNDLED
    _BUNDLED = build


class ConditionProfile(WithoutV1, BaseModel):
    """A patient's condition profile under the bundled vocabulary. Frozen, hashable, strictly
    typed; ``disease_area`` may be omitted when ``condition`` is given (it is derived from it).

    A knowledge base with its own vocabulary has its own subclass: ``kb.profile_model``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    _schema: ClassVar[Schema | None] = None

    immune_activity: ImmuneActivity
    disease_area: str
    condition: str | None = None
    # Fields the vocabulary may make not stated (None) accept None here; whether they may, and
    # their defaults, are the vocabulary's (checked by ``_stated_where_required`` and
    # ``_vocabulary_defaults``), so making one not stated by default is a vocabulary change.
    transplant_status: TransplantStatus | None = None
    severity: Severity | None = None
    prior_lines_of_therapy: int | None = Field(default=None, ge=0, le=20)
    infection_status: InfectionStatus | None = None
    latent_tuberculosis: bool | None = None
    hepatitis_b: bool | None = None
    pregnant: bool | None = None
    heart_failure: bool | None = None
    demyelinating_disease: bool | None = None
    autoimmune_disease_history: bool | None = None
    malignancy_history: bool | None = None
    cardiovascular_risk: bool | None = None
    targetable_driver_alteration: bool | None = None
    prior_therapy_classes: tuple[str, ...] | None = None
    hbv_serology: HbvSerology | None = None
    hsct_type: HsctType | None = None
    malignancy_type: MalignancyType | None = None
    prior_other_therapies: tuple[str, ...] | None = None
    philadelphia_chromosome: PhiladelphiaChromosome | None = None
    gvhd_type: GvhdType | None = None
    treatment_phase: TreatmentPhase | None = None
    autologous_hsct_eligible: bool | None = None

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _profile_error(type(self), exc) from None
        except RecursionError:
            raise ProfileError([ProfileProblem("$", "the profile is nested too deeply")]) from None

    @classmethod
    def bind_schema(cls, schema: Schema) -> None:
        """Make ``schema`` the one this model validates against (done once, on creation)."""
        cls._schema = schema

    @classmethod
    def schema_of(cls) -> Schema:
        """The schema this profile model belongs to."""
        schema = cls._schema
        if schema is None:
            assert _BUNDLED is not None, "the schema module binds the bundled schema on import"
            schema = _BUNDLED()  # builds the bundled schema, which binds ConditionProfile
        return schema

    @classmethod
    def model_validate(cls, obj: Any, *, strict: bool | None = None, **kwargs: Any) -> Self:
        """Validate a mapping (or a profile); raises :class:`ProfileError`."""
        checked: Self = parse_with(cls, obj)
        return checked

    @field_validator("prior_therapy_classes", "prior_other_therapies", mode="before")
    @classmethod
    def _known_classes(cls, value: Any, info: Any) -> Any:
        return _set_members(cls, value, info)

    @field_validator(*_MAY_BE_UNSTATED)
    @classmethod
    def _stated_where_required(cls, value: Any, info: Any) -> Any:
        """None (not stated) only where the vocabulary lets the field be not stated."""
        field = cls.schema_of().fields[info.field_name]
        if value is None and not field.nullable:
            if field.type == "enum":
                allowed = ", ".join(repr(v) for v in field.values)
                raise _custom(f"None is not one of {allowed}")
            raise _custom(f"expected {_NOT_NULL[field.type]}, got NoneType None")
        return value

    @model_validator(mode="after")
    def _vocabulary_defaults(self) -> Self:
        """A field left out takes the vocabulary's default (not stated, where it says so)."""
        defaults = type(self).schema_of().defaults
        values = self.__dict__
        for name in _MAY_BE_UNSTATED:
            if name not in self.model_fields_set and values[name] != defaults[name]:
                values[name] = defaults[name]
        return self

    @model_validator(mode="before")
    @classmethod
    def _derive_disease_area(cls, data: Any) -> Any:
        """Fill in ``disease_area`` from the condition, and ``immune_activity`` from the
        condition's typical activity (else the area's default), when they are omitted."""
        if not isinstance(data, dict):
            return data
        schema = cls.schema_of()
        given = data.get("condition")
        condition = given if isinstance(given, str) and given in schema.condition_area else None
        if data.get("disease_area") is None:
            if condition is not None:
                data = {**data, "disease_area": schema.condition_area[condition]}
            elif "disease_area" in data:
                data = {key: value for key, value in data.items() if key != "disease_area"}
        if data.get("immune_activity") is None:
            area = data.get("disease_area")
            if condition is not None or (isinstance(area, str) and area in schema.disease_areas):
                typical = schema.typical_activity(str(area), condition)
                data = {**data, "immune_activity": typical}
            elif "immune_activity" in data:
                data = {key: value for key, value in data.items() if key != "immune_activity"}
        return data

    @field_validator("disease_area")
    @classmethod
    def _known_area(cls, value: str) -> str:
        areas = cls.schema_of().disease_areas
        if value not in areas:
            allowed = ", ".join(repr(area) for area in areas)
            raise _custom(f"{shown(value)} is not one of {allowed}{did_you_mean(value, areas)}")
        return value

    @field_validator("condition")
    @classmethod
    def _known_condition(cls, value: str | None, info: Any) -> str | None:
        if value is None:
            return None
        schema = cls.schema_of()
        if value not in schema.condition_area:
            hint = did_you_mean(value, schema.conditions)
            raise _custom(f"{shown(value)} is not a known condition{hint}")
        area = info.data.get("disease_area")
        expected = schema.condition_area[value]
        if area is not None and expected != area:
            raise _custom(f"{value!r} belongs to disease area {expected!r}, not {area!r}")
        return value

    def __reduce_ex__(self, protocol: Any) -> Any:
        """A profile of a knowledge base's own model pickles with that model's schema, which
        rebuilds the model when unpickled (the class cannot be found by its name)."""
        cls = type(self)
        if cls is ConditionProfile:
            return super().__reduce_ex__(protocol)
        return (_unpickle, (cls.schema_of(), dict(self.__dict__), set(self.model_fields_set)))

    def to_fact(self) -> dict[str, Any]:
        """The profile as a flat dict of field -> value, in field order."""
        return dict(self.__dict__)  # exactly the fields, in order (extra fields are forbidden)


def _unpickle(schema: Schema, values: dict[str, Any], given: set[str]) -> ConditionProfile:
    """A profile of ``schema``'s model holding ``values`` (those of a valid profile)."""
    profile: ConditionProfile = schema.profile_model.model_construct(given, **values)
    return profile


def make_profile_model(schema: Schema) -> type[ConditionProfile]:
    """The profile model of ``schema``: :class:`ConditionProfile` plus the schema's own fields
    (its extra conditions and disease areas are checked through the schema)."""
    fields: dict[str, Any] = {}
    set_fields: list[str] = []
    for name, field in schema.fields.items():
        if name in ConditionProfile.model_fields:
            continue
        default = schema.defaults[name]
        info = Field() if field.required else Field(default=default)
        if field.type == "enum":
            annotation: Any = Literal[field.values]
        elif field.type == "integer":
            annotation = int
            info = (
                Field(ge=field.min, le=field.max)
                if field.required
                else Field(default=default, ge=field.min, le=field.max)
            )
        elif field.type == "boolean":
            annotation = bool
        else:
            annotation = tuple[str, ...]
            set_fields.append(name)
        if field.nullable:  # may be not stated
            annotation = annotation | None
        fields[name] = (annotation, info)
    validators: dict[str, Any] = {}
    if set_fields:
        validators["_set_members"] = field_validator(*set_fields, mode="before")(_set_members)
    model = create_model(
        "ConditionProfile",
        __base__=ConditionProfile,
        __module__="immunorules",
        __validators__=validators,
        **fields,
    )
    assert issubclass(model, ConditionProfile)
    model.bind_schema(schema)
    return model


def _set_members(cls: type[ConditionProfile], value: Any, info: Any) -> Any:
    """A set field's value as a tuple of its members in vocabulary order, each once."""
    if not isinstance(value, list | tuple | set | frozenset):
        return value  # strict validation reports the type
    members = cls.schema_of().set_fields[info.field_name]
    problems = []
    for item in value:
        if not isinstance(item, str):
            problems.append(f"members must be strings, not {shown(item)}")
        elif item not in members:
            problems.append(f"{shown(item)} is not a member{did_you_mean(item, members)}")
    if problems:
        raise _custom("; ".join(problems))
    return tuple(member for member in members if member in value)


def parse_with(model: type[ConditionProfile], data: object) -> Any:
    """A valid ``model`` profile from a profile or a plain mapping; raises
    :class:`ProfileError` otherwise. A profile of another model is re-checked by its fields."""
    if type(data) is model:
        return data
    if type(data) is dict:
        fast = _fast_path(model, data)
        if fast is not None:
            return fast
    if isinstance(data, ConditionProfile):
        data = {name: data.__dict__[name] for name in data.model_fields_set} | {
            "disease_area": data.disease_area
        }
    if not isinstance(data, Mapping):
        raise ProfileError(
            [ProfileProblem("$", f"a profile must be a mapping, not {type(data).__name__}")]
        )
    bad_keys = [key for key in data if not isinstance(key, str)]
    if bad_keys:
        raise ProfileError(
            ProfileProblem("$", f"field names must be strings, not {shown(key)}")
            for key in bad_keys
        )
    return model(**data)


# -- the fast path: a plain dict whose every value is of its field's exact type and in its domain
# gives the very profile validation would (same values, same fields set); anything else, valid
# or not, goes through validation.

_FastTable = tuple[
    dict[str, tuple[type, frozenset[object], bool]], dict[str, Any], tuple[str, ...], Any
]
_FAST: dict[type[ConditionProfile], _FastTable] = {}


def _fast_table(model: type[ConditionProfile]) -> _FastTable:
    table = _FAST.get(model)
    if table is None:
        schema = model.schema_of()
        domains: dict[str, tuple[type, frozenset[object], bool]] = {}
        for name, domain in schema.domains.items():
            field = schema.fields[name]
            kind: type = {"boolean": bool, "integer": int}.get(field.type, str)
            values = frozenset(value for value in domain if value is not None)
            # None is valid where the domain holds it (never for a boolean field)
            derived = name in ("disease_area", "immune_activity")  # None: derive it
            domains[name] = (kind, values, None in domain or derived)
        required = tuple(name for name, f in model.model_fields.items() if f.is_required())
        # Every profile of the fast path is a copy of this one (all defaults, no field set)
        # updated with its values: pydantic's public model_copy, at a third of the cost of
        # model_construct.
        blank = model.model_construct(set(), **schema.defaults)
        table = _FAST[model] = (domains, dict(schema.defaults), required, blank)
    return table


def _fast_path(model: type[ConditionProfile], data: dict[Any, Any]) -> ConditionProfile | None:
    domains, defaults, required, blank = _fast_table(model)
    for name, value in data.items():
        found = domains.get(name)
        if found is None:
            return None  # an unknown field, a set field, or a key that is not a string
        if value is None:
            if not found[2]:
                return None
        elif type(value) is not found[0] or value not in found[1]:
            return None
    values = defaults.copy()  # in field order: updating keeps it
    values.update(data)
    given = dict(data)
    condition = values["condition"]
    areas = model.schema_of().condition_area
    if values["disease_area"] is None:
        if condition is None:
            return None  # the area is required: let validation say so
        values["disease_area"] = given["disease_area"] = areas[condition]
    elif condition is not None and areas[condition] != values["disease_area"]:
        return None
    if values["immune_activity"] is None:
        typical = model.schema_of().typical_activity(values["disease_area"], condition)
        values["immune_activity"] = given["immune_activity"] = typical
    if any(values[name] is None for name in required):
        return None
    profile: ConditionProfile = blank.model_copy(update=given)
    return profile


#: The fields :func:`profile_warnings` reads: profiles equal on them have the same warnings.
WARNING_FIELDS: Final = ("condition", "disease_area", "immune_activity")


def profile_warnings(profile: ConditionProfile) -> tuple[str, ...]:
    """What in a valid profile deserves a warning beside its answer: a given
    ``immune_activity`` that contradicts the condition's typical one (kept as given; the
    bundled rules about a condition do not depend on it)."""
    condition = profile.condition
    if condition is None:
        return ()
    typical = type(profile).schema_of().typical_activity(profile.disease_area, condition)
    if profile.immune_activity == typical:
        return ()
    return (
        f"immune_activity {profile.immune_activity!r} contradicts the usual activity of "
        f"{condition} ({typical!r}); it is kept as given, and the answer follows the condition",
    )


def did_you_mean(value: object, choices: tuple[str, ...] | list[str]) -> str:
    """A ``; did you mean 'x'?`` hint for a misspelt name, or an empty string.

    Names are compared without regard to case, spaces or hyphens (``Rheumatoid Arthritis``,
    ``AChR``); a unique name starting with the value, or whose words' initials spell it
    (``SLE``), is suggested too. Where two names fit equally, none is."""
    if not isinstance(value, str) or len(value) > 200:
        return ""
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.75)
    plain = _SEPARATORS.sub("_", value.strip().lower())
    if not close and plain != value:
        close = [choice for choice in choices if choice == plain]
        close = close or difflib.get_close_matches(plain, choices, n=1, cutoff=0.75)
    if not close and len(plain) >= 3:
        close = _unique([choice for choice in choices if choice.startswith(plain)])
    if not close and len(plain) >= 2 and plain.isalnum():
        close = _unique([c for c in choices if "".join(w[:1] for w in c.split("_")) == plain])
    return f"; did you mean {close[0]!r}?" if close else ""


_SEPARATORS = re.compile(r"[\s\-]+")


def _unique(found: list[str]) -> list[str]:
    """``found`` when it holds one name, else nothing: two candidates are no suggestion."""
    return found if len(found) == 1 else []


def _custom(message: str) -> PydanticCustomError:
    return PydanticCustomError("immunorules", "{message}", {"message": message})


def _profile_error(model: type[ConditionProfile], exc: ValidationError) -> ProfileError:
    try:
        problems = [_problem(model, error) for error in exc.errors(include_url=False)]
    except (ValueError, RecursionError):
        problems = [ProfileProblem("$", "the profile is not valid (its values could not be shown)")]
    if any(problem.path == "condition" for problem in problems):
        # An unknown condition is why the area could not be derived: report only that.
        problems = [p for p in problems if p.path != "disease_area"]
    if any(problem.path in ("condition", "disease_area") for problem in problems):
        # Without a known problem (condition or area) immune activity cannot be derived.
        problems = [
            p for p in problems if not (p.path == "immune_activity" and p.message == "required")
        ]
    return ProfileError(problems)


_EXPECTED = {
    "int_type": "an integer",
    "bool_type": "a boolean (true or false)",
    "string_type": "a string",
    "tuple_type": "a list",
}


def _problem(model: type[ConditionProfile], error: ErrorDetails) -> ProfileProblem:
    schema = model.schema_of()
    loc = error["loc"]
    field = str(loc[0]) if loc else ""
    path = field if loc else "$"
    if loc and not field.isidentifier():
        path = f"$[{shown(field)}]"
    elif len(loc) > 1 and field in schema.set_fields:
        path = field  # a member of a set field: the field is where the problem is
    kind = error["type"]
    domain = schema.domains.get(field, ())
    if kind == "extra_forbidden":
        message = f"unknown field{did_you_mean(field, list(model.model_fields))}"
    elif kind == "missing" and field == "disease_area":
        message = (
            "required when no condition is given (a profile needs a condition or a disease area)"
        )
    elif kind == "missing":
        message = "required"
    elif kind in {"literal_error", "enum"}:
        allowed = ", ".join(repr(v) for v in domain if v is not None)
        hint = did_you_mean(error["input"], [str(v) for v in domain if v is not None])
        message = f"{shown(error['input'])} is not one of {allowed}{hint}"
    elif kind.endswith("_type"):
        expected = _EXPECTED.get(kind, kind.removesuffix("_type"))
        got = type(error["input"]).__name__
        message = f"expected {expected}, got {got} {shown(error['input'])}"
    elif kind == "immunorules":
        message = str(error.get("ctx", {}).get("message", error["msg"]))
    elif kind in {"greater_than_equal", "less_than_equal"}:
        field_def = schema.fields.get(field)
        bounds = f"{field_def.min}..{field_def.max}" if field_def else "its range"
        message = f"{shown(error['input'])} is outside {bounds}"
    else:
        message = error["msg"]
    return ProfileProblem(path, message)
