"""The condition profile model: derivation, strict typing, and errors that name every problem."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings

import immunorules as ir
from immunorules import ConditionProfile, ProfileError

from .bundled import FIELD_DOMAINS, parse_profile
from .strategies import junk_profiles, profile_dicts


def test_disease_area_is_derived_from_condition() -> None:
    profile = parse_profile({"immune_activity": "overactive", "condition": "crohns_disease"})
    assert profile.disease_area == "autoimmune"
    assert parse_profile({**profile.model_dump(), "disease_area": None}) == profile


def test_defaults_match_the_spec() -> None:
    """Knowledge base v3: the safety flags, infection and transplant status and the therapy
    history default to not stated (None); false/none/0/() mean "stated: no"."""
    profile = ConditionProfile(immune_activity="balanced", disease_area="allergic")
    assert profile.condition is None
    assert profile.transplant_status is None
    assert profile.severity is None
    assert profile.prior_lines_of_therapy is None
    assert profile.infection_status is None
    assert profile.prior_therapy_classes is None
    booleans = [name for name, domain in FIELD_DOMAINS.items() if set(domain) >= {False, True}]
    assert booleans
    assert all(getattr(profile, name) is None for name in booleans)
    stated = parse_profile(
        {"disease_area": "allergic", "pregnant": False, "prior_lines_of_therapy": 0}
    )
    assert stated.pregnant is False and stated.prior_lines_of_therapy == 0


def test_immune_activity_is_derived_when_omitted() -> None:
    assert parse_profile({"condition": "rheumatoid_arthritis"}).immune_activity == "overactive"
    assert parse_profile({"condition": "melanoma"}).immune_activity == "underactive"
    area_only = parse_profile({"disease_area": "transplant", "immune_activity": None})
    assert area_only.immune_activity == "overactive"  # the area's default
    assert ConditionProfile(condition="multiple_myeloma").immune_activity == "underactive"


def test_a_contradicting_immune_activity_is_kept_and_reported() -> None:
    from immunorules._model.profile import profile_warnings

    given = parse_profile({"immune_activity": "balanced", "condition": "rheumatoid_arthritis"})
    assert given.immune_activity == "balanced"
    (warning,) = profile_warnings(given)
    assert "balanced" in warning and "rheumatoid_arthritis" in warning
    assert profile_warnings(parse_profile({"condition": "rheumatoid_arthritis"})) == ()
    assert (
        profile_warnings(
            parse_profile({"immune_activity": "balanced", "disease_area": "autoimmune"})
        )
        == ()
    )


@pytest.mark.parametrize("data", [{}, {"immune_activity": "overactive"}, {"pregnant": True}])
def test_a_profile_needs_a_problem(data: dict[str, object]) -> None:
    with pytest.raises(ProfileError) as info:
        parse_profile(data)
    assert [p.path for p in info.value.problems] == ["disease_area"]
    assert "condition or a disease area" in info.value.problems[0].message


def test_profile_is_frozen_and_hashable() -> None:
    a = parse_profile({"immune_activity": "overactive", "condition": "psoriasis"})
    b = parse_profile({"immune_activity": "overactive", "condition": "psoriasis"})
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    with pytest.raises(Exception, match="frozen"):
        a.pregnant = True  # type: ignore[misc]


@pytest.mark.parametrize(
    ("data", "paths", "fragment"),
    [
        ([1, 2], ["$"], "must be a mapping"),
        ("overactive", ["$"], "must be a mapping"),
        ({"immune_activity": "overactive"}, ["disease_area"], "required"),
        ({"immune_activity": "over", "disease_area": "oncology"}, ["immune_activity"], "not one"),
        (
            {
                "immune_activity": "overactive",
                "condition": "melanoma",
                "disease_area": "autoimmune",
            },
            ["condition"],
            "belongs to disease area 'oncology'",
        ),
        (
            {"immune_activity": "overactive", "condition": "rheumatoid_artritis"},
            ["condition"],
            "did you mean 'rheumatoid_arthritis'",
        ),
        (
            {"immune_activity": "overactive", "disease_area": "oncology", "sevrity": "mild"},
            ["sevrity"],
            "did you mean 'severity'",
        ),
        (
            {"immune_activity": "overactive", "disease_area": "oncology", "pregnant": "yes"},
            ["pregnant"],
            "boolean",
        ),
        (
            {"immune_activity": "overactive", "disease_area": "oncology", "pregnant": 1},
            ["pregnant"],
            "boolean",
        ),
        (
            {
                "immune_activity": "balanced",
                "disease_area": "oncology",
                "prior_lines_of_therapy": "1",
            },
            ["prior_lines_of_therapy"],
            "integer",
        ),
        (
            {
                "immune_activity": "balanced",
                "disease_area": "oncology",
                "prior_lines_of_therapy": True,
            },
            ["prior_lines_of_therapy"],
            "integer",
        ),
        (
            {
                "immune_activity": "balanced",
                "disease_area": "oncology",
                "prior_lines_of_therapy": 21,
            },
            ["prior_lines_of_therapy"],
            "21 is outside 0..20",
        ),
        ({1: "x"}, ["$"], "field names must be strings"),
    ],
)
def test_invalid_profiles_name_each_problem(data: Any, paths: list[str], fragment: str) -> None:
    with pytest.raises(ProfileError) as info:
        parse_profile(data)
    error = info.value
    assert [problem.path for problem in error.problems] == paths
    assert fragment in str(error)
    assert error.path == paths[0]
    assert isinstance(error, ValueError) and isinstance(error, ir.ImmunorulesError)


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ProfileError) as info:
        parse_profile(
            {"immune_activity": 3, "disease_area": "oncology", "severity": "x", "pregnant": "yes"}
        )
    assert {p.path for p in info.value.problems} == {"immune_activity", "severity", "pregnant"}


def test_direct_construction_raises_profile_error_not_pydantic() -> None:
    with pytest.raises(ProfileError) as info:
        ConditionProfile(immune_activity="x", disease_area="oncology")
    assert info.value.problems[0].path == "immune_activity"


@given(profile_dicts())
def test_valid_profiles_round_trip(data: dict[str, Any]) -> None:
    profile = parse_profile(data)
    assert parse_profile(profile.model_dump()) == profile
    assert parse_profile(profile) is profile


@settings(max_examples=500, deadline=None)
@given(junk_profiles())
def test_only_profile_error_escapes_on_junk(data: object) -> None:
    try:
        profile = parse_profile(data)
    except ProfileError as error:
        assert error.problems
        assert all(problem.path and problem.message for problem in error.problems)
        assert str(error)
    else:
        assert isinstance(profile, ConditionProfile)


# -- hostile values: never a bare ValueError or RecursionError ---------------------------------

BIG = 10**5000  # repr() of an int over 4,300 digits raises ValueError


def _nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "data",
    [
        {"immune_activity": BIG},
        {"immune_activity": "overactive", "condition": "psoriasis", "pregnant": BIG},
        {"immune_activity": "overactive", "condition": "psoriasis", "prior_lines_of_therapy": BIG},
        {BIG: 1, "immune_activity": "overactive"},
        {"immune_activity": _nested(990)},
        {"immune_activity": "overactive", "condition": "psoriasis", "severity": _nested(5000)},
        {"immune_activity": "overactive", "condition": "x" * 10_000_000},
    ],
    ids=["big-enum", "big-bool", "big-int", "big-key", "nested-990", "nested-5000", "10MB-name"],
)
def test_hostile_values_are_profile_errors(data: dict[object, object]) -> None:
    kb = ir.load_rules(engine="native")
    with pytest.raises(ir.ProfileError) as info:
        kb.evaluate(data)  # type: ignore[arg-type]
    assert len(str(info.value)) < 2_000  # echoed values are cut short
    (collected,) = kb.evaluate_many([data], errors="collect")  # type: ignore[call-overload]
    assert isinstance(collected, ir.ProfileError)
    with pytest.raises(ir.ProfileError):
        kb.why_not(data, "immunosuppressants")  # type: ignore[arg-type]


def test_a_boolean_field_may_be_not_stated() -> None:
    """A plain dict takes a fast path past validation; null on a boolean field is "not stated"
    (knowledge base v3), the same as leaving the field out."""
    kb = ir.load_rules(engine="native")
    booleans = [name for name, field in kb.fields.items() if field.type == "boolean"]
    assert booleans
    for name in booleans:
        data = {"immune_activity": "overactive", "disease_area": "autoimmune", name: None}
        assert getattr(kb.parse(data), name) is None
        assert kb.parse(data) == kb.parse({"disease_area": "autoimmune"})


# -- did you mean: case, separators and abbreviations ---------------------------------------------

CONDITIONS = [c.id for c in ir.load_rules(engine="native").conditions]


@pytest.mark.parametrize(
    ("value", "choices", "meant"),
    [
        ("AChR", ["achr", "musk", "lrp4"], "achr"),
        ("AChR", ["achr_positive", "musk_positive"], "achr_positive"),
        ("MuSK", ["achr", "musk", "lrp4"], "musk"),
        ("SLE", CONDITIONS, "systemic_lupus_erythematosus"),
        ("CRS", CONDITIONS, "cytokine_release_syndrome"),
        ("Rheumatoid Arthritis", CONDITIONS, "rheumatoid_arthritis"),
        ("crohns-disease", CONDITIONS, "crohns_disease"),
        ("HIV", CONDITIONS, "hiv_infection"),
    ],
)
def test_did_you_mean_ignores_case_and_knows_abbreviations(
    value: str, choices: list[str], meant: str
) -> None:
    from immunorules._model.profile import did_you_mean

    assert did_you_mean(value, choices) == f"; did you mean {meant!r}?"


@pytest.mark.parametrize(
    ("value", "choices"),
    [
        ("giant_cell_arteritis", CONDITIONS),  # not a guess
        ("MM", ["multiple_myeloma", "mixed_malady"]),  # two abbreviations fit: no guess
        ("xyz", CONDITIONS),
    ],
)
def test_did_you_mean_does_not_guess(value: str, choices: list[str]) -> None:
    from immunorules._model.profile import did_you_mean

    assert did_you_mean(value, choices) == ""


def test_an_abbreviated_condition_gets_a_hint() -> None:
    with pytest.raises(ProfileError, match="did you mean 'systemic_lupus_erythematosus'"):
        ConditionProfile(immune_activity="overactive", condition="SLE")
