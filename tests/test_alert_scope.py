"""Cautions tied to a profile flag appear only where a class they concern is suggested for the
problem (knowledge base v3, issue 21: alert noise). The class guards still avoid their class
everywhere; only the caution text is scoped."""

from __future__ import annotations

import pytest

import immunorules as ir

__all__: list[str] = []

KB = ir.load_rules(engine="native")


def _advice(profile: dict[str, object]) -> set[str]:
    return {advisory.key for advisory in KB.evaluate(profile).advisories}


@pytest.mark.parametrize(
    ("profile", "absent"),
    [
        ({"condition": "melanoma", "heart_failure": True}, "tnfi_heart_failure"),
        ({"condition": "melanoma", "heart_failure": True}, "s1p_cardiac_contraindication"),
        (
            {"condition": "rheumatoid_arthritis", "heart_failure": True},
            "il2_cardiopulmonary_function",
        ),
        ({"condition": "multiple_myeloma", "demyelinating_disease": True}, "tnfi_demyelination"),
        ({"condition": "chronic_hepatitis_b", "pregnant": True}, "neuropsychiatric_effects"),
        ({"condition": "chronic_hepatitis_b", "severity": "severe"}, "neuropsychiatric_effects"),
        ({"condition": "large_b_cell_lymphoma", "hbv_serology": "negative"}, "hbv_screen"),
        ({"condition": "large_b_cell_lymphoma", "hepatitis_b": True}, "hbv_screen"),
        (
            {
                "condition": "rheumatoid_arthritis",
                "prior_lines_of_therapy": 1,
                "hbv_serology": "hbsag_positive",
            },
            "hbv_screen",
        ),
    ],
)
def test_a_caution_is_absent_where_no_class_it_concerns_is_suggested(
    profile: dict[str, object], absent: str
) -> None:
    assert absent not in _advice(profile)


@pytest.mark.parametrize(
    ("profile", "present"),
    [
        ({"condition": "crohns_disease", "heart_failure": True}, "tnfi_heart_failure"),
        (
            {"condition": "multiple_sclerosis", "heart_failure": True},
            "s1p_cardiac_contraindication",
        ),
        (
            {"condition": "melanoma", "prior_lines_of_therapy": 1, "heart_failure": True},
            "il2_cardiopulmonary_function",
        ),
        ({"condition": "large_b_cell_lymphoma"}, "hbv_screen"),
    ],
)
def test_the_caution_stays_where_the_class_is_suggested(
    profile: dict[str, object], present: str
) -> None:
    assert present in _advice(profile)


def test_the_guards_still_avoid_their_class_everywhere() -> None:
    result = KB.evaluate({"condition": "melanoma", "heart_failure": True})
    avoided = {avoidance.subcategory for avoidance in result.avoided}
    assert {"tnf_inhibitors", "s1p_receptor_modulators", "interleukins"} <= avoided
