"""The tabular path: evaluate_frame over a pandas DataFrame."""

from __future__ import annotations

from typing import Any

import pytest

import immunorules as ir
from immunorules._evaluate.frame import frame_columns

from .bundled import CATEGORIES, SCHEMA

pd = pytest.importorskip("pandas")

RA = {"immune_activity": "overactive", "condition": "rheumatoid_arthritis"}


@pytest.fixture(scope="module")
def kb() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


def expected_row(result: ir.Result) -> dict[str, Any]:
    tiers = {s.category: s.tier for s in result.suggestions}
    return {
        **{category: tiers.get(category) for category in CATEGORIES},
        "drug_classes": tuple(sub for s in result.suggestions for sub in s.subcategories),
        "avoided": tuple(a.subcategory or a.category for a in result.avoided),
        "advisories": tuple(a.key for a in result.advisories),
        "conflict": bool(result.conflicts),
        "covered": result.covered,
        "fired_rules": result.fired_rules,
    }


def test_one_row_per_input_row_on_the_same_index(kb: ir.KnowledgeBase) -> None:
    rows = [
        RA,
        {**RA, "prior_lines_of_therapy": 2, "latent_tuberculosis": True},
        {"immune_activity": "underactive", "condition": "melanoma", "severity": "severe"},
        {"immune_activity": "balanced", "disease_area": "allergic"},
    ]
    frame = pd.DataFrame(rows, index=["a", "b", "c", "d"])
    out = ir.evaluate_frame(frame, kb)
    assert list(out.columns) == list(frame_columns(SCHEMA))
    assert list(out.index) == ["a", "b", "c", "d"]
    for label, row in zip(out.index, rows, strict=True):
        assert isinstance(row, dict)
        got = out.loc[label].to_dict()
        want = expected_row(kb.evaluate(row))
        assert {
            k: (None if v is None or v is pd.NA or v != v else v) for k, v in got.items()
        } == want


def test_missing_cells_take_the_profile_defaults(kb: ir.KnowledgeBase) -> None:
    # pandas turns an integer column with a gap into floats and a bool column into objects.
    frame = pd.DataFrame(
        {
            "immune_activity": ["overactive", "overactive"],
            "condition": ["rheumatoid_arthritis", "psoriasis"],
            "prior_lines_of_therapy": [1, None],
            "pregnant": [None, True],
            "severity": [float("nan"), "severe"],
        }
    )
    assert frame["prior_lines_of_therapy"].dtype.kind == "f"
    out = ir.evaluate_frame(frame, kb)
    first = kb.evaluate({**RA, "prior_lines_of_therapy": 1})
    second = kb.evaluate(
        {
            "immune_activity": "overactive",
            "condition": "psoriasis",
            "pregnant": True,
            "severity": "severe",
        }
    )
    assert out.iloc[0]["fired_rules"] == first.fired_rules
    assert out.iloc[1]["fired_rules"] == second.fired_rules


def test_nullable_and_numpy_dtypes(kb: ir.KnowledgeBase) -> None:
    frame = pd.DataFrame(
        {
            "immune_activity": pd.array(["overactive", "overactive"], dtype="string"),
            "condition": pd.array(["rheumatoid_arthritis", pd.NA], dtype="string"),
            "disease_area": [None, "autoimmune"],
            "prior_lines_of_therapy": pd.array([3, pd.NA], dtype="Int64"),
            "hepatitis_b": pd.array([True, pd.NA], dtype="boolean"),
        }
    )
    out = ir.evaluate_frame(frame, kb)
    assert (
        out.iloc[0]["fired_rules"]
        == kb.evaluate({**RA, "prior_lines_of_therapy": 3, "hepatitis_b": True}).fired_rules
    )
    assert (
        out.iloc[1]["fired_rules"]
        == kb.evaluate({"immune_activity": "overactive", "disease_area": "autoimmune"}).fired_rules
    )


def test_invalid_rows_are_collected_per_row(kb: ir.KnowledgeBase) -> None:
    frame = pd.DataFrame(
        [RA, {**RA, "severity": "sever"}, {**RA, "prior_lines_of_therapy": 1.5}, RA],
        index=[10, 11, 12, 13],
    )
    out = ir.evaluate_frame(frame, kb, errors="collect")
    assert list(out.columns) == [*frame_columns(SCHEMA), "problems"]
    assert out.loc[10, "problems"] == () and out.loc[13, "problems"] == ()
    assert out.loc[11, "problems"][0].startswith("severity: 'sever' is not one of")
    assert out.loc[12, "problems"][0].startswith("prior_lines_of_therapy: expected an integer")
    assert out.loc[11, "fired_rules"] is None and out.loc[11, "covered"] is pd.NA
    assert out.loc[10, "fired_rules"] == kb.evaluate(RA).fired_rules
    with pytest.raises(ir.ProfileError, match=r"\[1\]\.severity"):
        ir.evaluate_frame(frame, kb)


def test_unknown_columns_are_refused_or_ignored(kb: ir.KnowledgeBase) -> None:
    frame = pd.DataFrame([{**RA, "patient_id": "p1", "severty": "mild"}])
    with pytest.raises(ir.ProfileError) as raised:
        ir.evaluate_frame(frame, kb)
    paths = [problem.path for problem in raised.value.problems]
    assert paths == ["patient_id", "severty"]
    assert "did you mean 'severity'" in raised.value.problems[1].message
    out = ir.evaluate_frame(frame, kb, extra_columns="ignore")
    assert out.iloc[0]["fired_rules"] == kb.evaluate(RA).fired_rules


def test_empty_frame_and_bundled_default() -> None:
    out = ir.evaluate_frame(pd.DataFrame({"immune_activity": [], "condition": []}))
    assert len(out) == 0 and list(out.columns) == list(frame_columns(SCHEMA))
    out = ir.evaluate_frame(pd.DataFrame([RA]))
    assert out.iloc[0]["fired_rules"] == ir.evaluate(RA).fired_rules


def test_not_a_frame() -> None:
    with pytest.raises(TypeError, match="DataFrame"):
        ir.evaluate_frame([RA])
