"""The condition profile: what is known about the patient, validated strictly.

``ConditionProfile`` is the only input of evaluation. Construction and validation raise
:class:`ProfileError` listing every problem; no pydantic error escapes.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, Final, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from .._errors import ProfileError, ProfileProblem
from .vocabulary import CONDITION_AREA, CONDITIONS

__all__ = [
    "FIELD_DOMAINS",
    "ConditionProfile",
    "parse_profile",
]

ImmuneActivity = Literal["overactive", "underactive", "balanced"]
DiseaseArea = Literal[
    "autoimmune",
    "oncology",
    "hematologic_malignancy",
    "infectious",
    "transplant",
    "immunodeficiency",
    "allergic",
]
TransplantStatus = Literal["none", "candidate", "solid_organ_recipient", "hsct_recipient"]
Severity = Literal["mild", "moderate", "severe"]
InfectionStatus = Literal["none", "recent_serious", "active_serious"]

MAX_PRIOR_LINES: Final = 20


class ConditionProfile(BaseModel):
    """A patient's condition profile (SPEC §2). Frozen, hashable, strictly typed.

    ``disease_area`` may be omitted when ``condition`` is given: it is derived from it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    immune_activity: ImmuneActivity
    disease_area: DiseaseArea
    condition: str | None = None
    transplant_status: TransplantStatus = "none"
    severity: Severity | None = None
    prior_lines_of_therapy: int = Field(default=0, ge=0, le=MAX_PRIOR_LINES)
    infection_status: InfectionStatus = "none"
    latent_tuberculosis: bool = False
    hepatitis_b: bool = False
    pregnant: bool = False
    heart_failure: bool = False
    demyelinating_disease: bool = False
    autoimmune_disease_history: bool = False
    malignancy_history: bool = False
    cardiovascular_risk: bool = False
    targetable_driver_alteration: bool = False

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _profile_error(exc) from None

    @classmethod
    def model_validate(cls, obj: Any, *, strict: bool | None = None, **kwargs: Any) -> Self:
        """Validate a mapping (or a profile); raises :class:`ProfileError`."""
        if isinstance(obj, cls):
            return obj
        if not isinstance(obj, Mapping):
            raise ProfileError(
                [ProfileProblem("$", f"a profile must be a mapping, not {type(obj).__name__}")]
            )
        bad_keys = [key for key in obj if not isinstance(key, str)]
        if bad_keys:
            raise ProfileError(
                ProfileProblem("$", f"field names must be strings, not {key!r}") for key in bad_keys
            )
        return cls(**obj)

    @model_validator(mode="before")
    @classmethod
    def _derive_disease_area(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("disease_area") is None:
            condition = data.get("condition")
            if isinstance(condition, str) and condition in CONDITION_AREA:
                return {**data, "disease_area": CONDITION_AREA[condition]}
            if "disease_area" in data:
                return {key: value for key, value in data.items() if key != "disease_area"}
        return data

    @field_validator("condition")
    @classmethod
    def _known_condition(cls, value: str | None, info: Any) -> str | None:
        if value is None:
            return None
        if value not in CONDITION_AREA:
            raise _custom(f"{value!r} is not a known condition{did_you_mean(value, CONDITIONS)}")
        area = info.data.get("disease_area")
        if area is not None and CONDITION_AREA[value] != area:
            expected = CONDITION_AREA[value]
            raise _custom(f"{value!r} belongs to disease area {expected!r}, not {area!r}")
        return value

    def to_fact(self) -> dict[str, str | bool | int | None]:
        """The profile as a flat dict of field -> value, as the engines see it."""
        return dict(self.__dict__)  # exactly the fields, in order (extra fields are forbidden)


PROFILE_FIELDS: Final[tuple[str, ...]] = tuple(ConditionProfile.model_fields)

#: Every value each profile field can take, in display order (the profile space of the audit).
FIELD_DOMAINS: Final[dict[str, tuple[str | bool | int | None, ...]]] = {
    "immune_activity": get_args(ImmuneActivity),
    "disease_area": get_args(DiseaseArea),
    "condition": (None, *CONDITIONS),
    "transplant_status": get_args(TransplantStatus),
    "severity": (None, *get_args(Severity)),
    "prior_lines_of_therapy": tuple(range(MAX_PRIOR_LINES + 1)),
    "infection_status": get_args(InfectionStatus),
    **{
        name: (False, True)
        for name, field in ConditionProfile.model_fields.items()
        if field.annotation is bool
    },
}


def did_you_mean(value: object, choices: tuple[str, ...] | list[str]) -> str:
    """A ``; did you mean 'x'?`` hint for a misspelt name, or an empty string."""
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def parse_profile(data: ConditionProfile | Mapping[str, Any] | object) -> ConditionProfile:
    """A profile from a profile or a plain mapping; raises :class:`ProfileError` otherwise."""
    if isinstance(data, ConditionProfile):
        return data
    if type(data) is dict:
        fast = _valid_dict(data)
        if fast is not None:
            return fast
    return ConditionProfile.model_validate(data)


# The fast path of parse_profile: a plain dict whose every value is of its field's exact type and
# in its domain gives the very profile validation would (same values, same fields set); anything
# else, valid or not, goes through validation.
_FAST_DOMAINS: Final[dict[str, tuple[type, frozenset[object]]]] = {
    name: (
        bool if domain == (False, True) else int if name == "prior_lines_of_therapy" else str,
        frozenset(value for value in domain if value is not None),
    )
    for name, domain in FIELD_DOMAINS.items()
}
_NULLABLE: Final = frozenset({"condition", "severity", "disease_area"})
_DEFAULTS: Final[dict[str, Any]] = {
    name: None if field.is_required() else field.default
    for name, field in ConditionProfile.model_fields.items()
}


def _valid_dict(data: dict[Any, Any]) -> ConditionProfile | None:
    domains = _FAST_DOMAINS
    for name, value in data.items():
        found = domains.get(name)
        if found is None:
            return None  # an unknown field (or a key that is not a string)
        if value is None:
            if name not in _NULLABLE:
                return None
        elif type(value) is not found[0] or value not in found[1]:
            return None
    values = _DEFAULTS.copy()  # in field order: updating keeps it
    values.update(data)
    fields_set = set(data)
    condition = values["condition"]
    if values["disease_area"] is None:
        if condition is None:
            return None  # the area is required: let validation say so
        values["disease_area"] = CONDITION_AREA[condition]
        fields_set.add("disease_area")
    elif condition is not None and CONDITION_AREA[condition] != values["disease_area"]:
        return None
    if values["immune_activity"] is None:
        return None
    profile = object.__new__(ConditionProfile)
    object.__setattr__(profile, "__dict__", values)
    object.__setattr__(profile, "__pydantic_fields_set__", fields_set)
    object.__setattr__(profile, "__pydantic_extra__", None)
    object.__setattr__(profile, "__pydantic_private__", None)
    return profile


def _custom(message: str) -> PydanticCustomError:
    return PydanticCustomError("immunorules", "{message}", {"message": message})


def _profile_error(exc: ValidationError) -> ProfileError:
    problems = [_problem(error) for error in exc.errors(include_url=False)]
    if any(problem.path == "condition" for problem in problems):
        # An unknown condition is why the area could not be derived: report only that.
        problems = [p for p in problems if p.path != "disease_area"]
    return ProfileError(problems)


_EXPECTED = {
    "int_type": "an integer",
    "bool_type": "a boolean (true or false)",
    "string_type": "a string",
}


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _problem(error: ErrorDetails) -> ProfileProblem:
    loc = error["loc"]
    path = ".".join(str(part) for part in loc) if loc else "$"
    if loc and not str(loc[0]).isidentifier():
        path = f"$[{str(loc[0])!r}]"
    kind = error["type"]
    field = str(loc[0]) if loc else ""
    if kind == "extra_forbidden":
        message = f"unknown field{did_you_mean(field, list(PROFILE_FIELDS))}"
    elif kind == "missing" and field == "disease_area":
        message = "required when no condition is given"
    elif kind == "missing":
        message = "required"
    elif kind in {"literal_error", "enum"}:
        allowed = ", ".join(repr(v) for v in FIELD_DOMAINS.get(field, ()) if v is not None)
        message = (
            f"{_shown(error['input'])} is not one of {allowed}"
            f"{did_you_mean(error['input'], [str(v) for v in FIELD_DOMAINS.get(field, ())])}"
        )
    elif kind.endswith("_type"):
        expected = _EXPECTED.get(kind, kind.removesuffix("_type"))
        got = type(error["input"]).__name__
        message = f"expected {expected}, got {got} {_shown(error['input'])}"
    elif kind == "immunorules":
        message = str(error.get("ctx", {}).get("message", error["msg"]))
    else:
        message = error["msg"]
    return ProfileProblem(path, message)
