"""The tabular path: evaluate_frame over pandas, pyarrow and polars tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import immunorules as ir
from immunorules._evaluate import frame as frame_module
from immunorules._evaluate.frame import frame_columns

from .bundled import CATEGORIES, SCHEMA
from .conftest import MakeKB, require, rule

pd = require("pandas")
pa = require("pyarrow")

RA = {"immune_activity": "overactive", "condition": "rheumatoid_arthritis"}
ROWS: list[dict[str, Any]] = [
    RA,
    {**RA, "prior_lines_of_therapy": 2, "latent_tuberculosis": True},
    {"immune_activity": "underactive", "condition": "melanoma", "severity": "severe"},
    {"immune_activity": "balanced", "disease_area": "allergic"},
    {
        "immune_activity": "underactive",
        "condition": "melanoma",
        "transplant_status": "solid_organ_recipient",
    },
]
RESULT_COLUMNS = list(frame_columns(SCHEMA))


@pytest.fixture(scope="module")
def kb() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


def expected_row(result: ir.Result) -> dict[str, Any]:
    return {
        "covered": result.covered,
        "conflict": bool(result.conflicts),
        **{f"tier_{category}": result.tier(category) for category in CATEGORIES},
        "avoided": tuple(a.subcategory or a.category for a in result.avoided),
        "advisories": tuple(a.key for a in result.advisories),
        "fired_rules": result.fired_rules,
        "unstated": result.unstated,
        "depends_on": tuple(d.field for d in result.depends_on),
        "error": None,
    }


def plain(row: dict[str, Any]) -> dict[str, Any]:
    """A pandas row with missing values as None and lists as tuples."""
    out = {}
    for key, value in row.items():
        if value is None or value is pd.NA or (isinstance(value, float) and value != value):
            value = None
        elif isinstance(value, list):
            value = tuple(value)
        out[key] = value
    return out


def test_one_row_per_input_row_in_order_ids_passed_through(kb: ir.KnowledgeBase) -> None:
    frame = pd.DataFrame(ROWS, index=[10, 11, 10, 3, 7])  # a repeated label is kept too
    frame.insert(0, "patient_id", ["a", "b", "c", "d", "e"])
    out = kb.evaluate_frame(frame)
    assert list(out.columns) == ["patient_id", *RESULT_COLUMNS]
    assert list(out.index) == [10, 11, 10, 3, 7]
    assert out["patient_id"].tolist() == ["a", "b", "c", "d", "e"]
    for position, row in enumerate(ROWS):
        assert plain(out.iloc[position].drop("patient_id").to_dict()) == expected_row(
            kb.evaluate(row)
        )
    assert out["conflict"].tolist() == [False, False, False, False, True]
    assert str(out["covered"].dtype) == "boolean"
    assert list(out["tier_immunosuppressants"].cat.categories) == list(frame_module.TIERS)


def test_the_method_and_the_bundled_default_agree(kb: ir.KnowledgeBase) -> None:
    frame = pd.DataFrame(ROWS)
    with pytest.warns(DeprecationWarning, match=r"use kb\.evaluate_frame\(table\)"):
        deprecated = ir.evaluate_frame(frame, kb)  # the second spelling: an alias that warns
    pd.testing.assert_frame_equal(kb.evaluate_frame(frame), deprecated)
    assert ir.evaluate_frame(frame)["fired_rules"].tolist() == [
        ir.evaluate(row).fired_rules for row in ROWS
    ]


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
    out = kb.evaluate_frame(frame)
    first = kb.evaluate({**RA, "prior_lines_of_therapy": 1})
    second = kb.evaluate(
        {
            "immune_activity": "overactive",
            "condition": "psoriasis",
            "pregnant": True,
            "severity": "severe",
        }
    )
    assert out["fired_rules"].tolist() == [first.fired_rules, second.fired_rules]
    assert out["error"].isna().all()


def test_nullable_categorical_and_numpy_dtypes(kb: ir.KnowledgeBase) -> None:
    frame = pd.DataFrame(
        {
            "immune_activity": pd.Categorical(["overactive", "overactive", "overactive"]),
            "condition": pd.array(["rheumatoid_arthritis", pd.NA, "psoriasis"], dtype="string"),
            "disease_area": [None, "autoimmune", None],
            "prior_lines_of_therapy": pd.array([3, pd.NA, 30], dtype="Int64"),
            "hepatitis_b": pd.array([True, pd.NA, False], dtype="boolean"),
        }
    )
    out = kb.evaluate_frame(frame)
    assert out["fired_rules"].iloc[0] == (
        kb.evaluate({**RA, "prior_lines_of_therapy": 3, "hepatitis_b": True}).fired_rules
    )
    assert out["fired_rules"].iloc[1] == (
        kb.evaluate({"immune_activity": "overactive", "disease_area": "autoimmune"}).fired_rules
    )
    assert out["error"].iloc[2] == (
        "invalid condition profile (1 problem): prior_lines_of_therapy: 30 is outside 0..20"
    )


def test_invalid_rows_get_their_error_and_never_stop_the_others(kb: ir.KnowledgeBase) -> None:
    rows: list[dict[str, Any]] = [
        RA,
        {**RA, "severity": "sever"},
        {**RA, "prior_lines_of_therapy": 1.5},
        {"condition": "melanoma", "disease_area": "autoimmune"},
        {**RA, "pregnant": 2},  # a float column with gaps: 0.0 and 1.0 are booleans, 2.0 is not
        RA,
    ]
    out = kb.evaluate_frame(pd.DataFrame(rows))
    for position, row in enumerate(rows):
        try:
            want = expected_row(kb.evaluate(row))
        except ir.ProfileError as exc:
            assert out["error"].iloc[position] == str(exc)
            assert out["covered"].iloc[position] is pd.NA
            assert out["fired_rules"].iloc[position] is None
            assert pd.isna(out["tier_immunosuppressants"].iloc[position])
        else:
            assert plain(out.iloc[position].to_dict()) == want
    assert out["error"].notna().tolist() == [False, True, True, True, True, False]
    assert "did you mean 'severe'" in out["error"].iloc[1]
    assert "belongs to disease area 'oncology'" in out["error"].iloc[3]  # activity derived (v3)


def test_id_columns_by_default_and_by_name(kb: ir.KnowledgeBase) -> None:
    frame = pd.DataFrame([{**RA, "patient_id": "p1", "site": 4}])
    assert list(kb.evaluate_frame(frame).columns)[:2] == ["patient_id", "site"]
    out = kb.evaluate_frame(frame, id_columns=["site", "patient_id", "condition"])
    assert list(out.columns)[:3] == ["site", "patient_id", "condition"]
    assert out["condition"].tolist() == ["rheumatoid_arthritis"]  # a field may be passed too
    with pytest.raises(ir.ProfileError) as raised:
        kb.evaluate_frame(frame, id_columns="patient_id")
    assert [p.path for p in raised.value.problems] == ["site"]
    assert "id_columns" in raised.value.problems[0].message
    with pytest.raises(ValueError, match="'nope'"):
        kb.evaluate_frame(frame, id_columns=["nope"])
    clash = pd.DataFrame([{**RA, "covered": "yes"}])
    with pytest.raises(ValueError, match="names of result columns"):
        kb.evaluate_frame(clash)


def test_a_misspelt_field_passed_through_is_warned_about(kb: ir.KnowledgeBase) -> None:
    frame = pd.DataFrame([{**RA, "severty": "mild"}])
    with pytest.warns(UserWarning, match="did you mean 'severity'"):
        out = kb.evaluate_frame(frame)
    assert out["severty"].tolist() == ["mild"]
    with pytest.raises(ir.ProfileError, match="did you mean 'severity'"):
        kb.evaluate_frame(frame, id_columns=[])


def test_duplicate_columns_are_refused(kb: ir.KnowledgeBase) -> None:
    frame = pd.DataFrame(
        [["overactive", "psoriasis", "x"]], columns=["immune_activity"] * 2 + ["c"]
    )
    with pytest.raises(ir.ProfileError, match="duplicate column"):
        kb.evaluate_frame(frame)


def test_arrow_tables_and_record_batches(kb: ir.KnowledgeBase) -> None:
    ids = pa.array([7, 8, 9, 10, 11], pa.int32())
    frame = pd.DataFrame(ROWS)
    table = pa.Table.from_pandas(frame, preserve_index=False).append_column("pid", ids)
    out = kb.evaluate_frame(table)
    assert isinstance(out, pa.Table)
    assert out.column_names == ["pid", *RESULT_COLUMNS]
    assert out.column("pid").combine_chunks().equals(ids)
    names = pa.list_(pa.dictionary(pa.int32(), pa.string()))  # codes into one list of names
    assert out.schema.field("fired_rules").type == names
    assert out.schema.field("tier_immunostimulants").type == pa.string()
    assert out.schema.field("covered").type == pa.bool_()
    for position, row in enumerate(ROWS):
        got = {k: v[position] for k, v in out.to_pydict().items() if k != "pid"}
        assert plain(got) == expected_row(kb.evaluate(row))
    batch = kb.evaluate_frame(table.combine_chunks().to_batches()[0])
    assert isinstance(batch, pa.RecordBatch)
    assert batch.to_pydict() == out.to_pydict()
    dictionary = table.set_column(
        table.column_names.index("condition"),
        "condition",
        table.column("condition").dictionary_encode(),
    )
    assert kb.evaluate_frame(dictionary).equals(out)


def test_polars_frames() -> None:
    pl = require("polars")
    kb = ir.load_rules(engine="native")
    frame = pl.DataFrame(ROWS).with_columns(pl.Series("pid", [1, 2, 3, 4, 5], dtype=pl.UInt16))
    out = kb.evaluate_frame(frame)
    assert isinstance(out, pl.DataFrame)
    assert out.columns == ["pid", *RESULT_COLUMNS]
    assert out["pid"].dtype == pl.UInt16
    assert out["fired_rules"].to_list() == [list(kb.evaluate(row).fired_rules) for row in ROWS]
    no_fields = kb.evaluate_frame(pl.DataFrame({"pid": [1, 2]}))
    assert no_fields.height == 2 and no_fields["error"].null_count() == 0
    with pytest.raises(TypeError, match="collect"):
        kb.evaluate_frame(frame.lazy())


def test_empty_tables_keep_their_columns(kb: ir.KnowledgeBase) -> None:
    out = kb.evaluate_frame(pd.DataFrame({"immune_activity": [], "patient_id": []}))
    assert len(out) == 0 and list(out.columns) == ["patient_id", *RESULT_COLUMNS]
    table = kb.evaluate_frame(pa.table({"immune_activity": pa.array([], pa.string())}))
    assert table.num_rows == 0 and table.column_names == RESULT_COLUMNS


def test_not_a_table() -> None:
    with pytest.raises(TypeError, match="pandas DataFrame, a pyarrow Table"):
        ir.evaluate_frame([RA])


def test_chunks_join_into_one_table(kb: ir.KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    rows: list[dict[str, Any]] = [*ROWS, {**RA, "severity": "sever"}] * 3
    frame = pd.DataFrame(rows)
    whole = kb.evaluate_frame(frame)
    arrow_whole = kb.evaluate_frame(pa.Table.from_pandas(frame))
    monkeypatch.setattr(frame_module, "CHUNK", 4)
    pd.testing.assert_frame_equal(kb.evaluate_frame(frame), whole)
    chunked = kb.evaluate_frame(pa.Table.from_pandas(frame))
    assert chunked.column("fired_rules").num_chunks == 5
    assert chunked.to_pydict() == arrow_whole.to_pydict()


def test_few_rules_and_no_rule_fired(make_kb: MakeKB) -> None:
    suggest = {"suggest": [{"category": "immunosuppressants", "tier": "first_line"}]}
    small = make_kb([rule("ONE", suggest, {"severity": "severe"})])
    out = small.evaluate_frame(pd.DataFrame([{**RA, "severity": "severe"}, RA]))
    assert out["fired_rules"].tolist() == [("ONE",), ()]
    assert out["covered"].tolist() == [True, False]
    assert out["tier_immunosuppressants"].tolist()[0] == "first_line"
    assert pd.isna(out["tier_immunosuppressants"].iloc[1])


def test_the_error_column_has_one_dtype_with_or_without_errors(kb: ir.KnowledgeBase) -> None:
    valid = kb.evaluate_frame(pd.DataFrame([RA]))
    invalid = kb.evaluate_frame(pd.DataFrame([{**RA, "severity": "sever"}]))
    assert valid["error"].dtype == invalid["error"].dtype == "string"
    assert valid["error"].isna().all() and invalid["error"].notna().all()


def test_arrow_backed_pandas_columns_and_list_cells() -> None:
    gca = ir.load_rules(Path(__file__).resolve().parents[1] / "examples/own_vocabulary/rules")
    base = {"immune_activity": "overactive", "condition": "giant_cell_arteritis"}
    frame = pd.DataFrame(
        {
            **{name: [value] * 4 for name, value in base.items()},
            "prior_therapy_classes": pd.array(
                [["il6_pathway_inhibitors"], [], None, ["il6_inhibitor"]],
                dtype=pd.ArrowDtype(pa.list_(pa.string())),
            ),
            "visual_symptoms": pd.array([True, None, False, True], dtype=pd.ArrowDtype(pa.bool_())),
        }
    )
    out = gca.evaluate_frame(frame)
    classes = {"prior_therapy_classes": ["il6_pathway_inhibitors"]}
    assert (
        out["fired_rules"][0]
        == gca.evaluate({**base, **classes, "visual_symptoms": True}).fired_rules
    )
    assert out["fired_rules"][1] == gca.evaluate({**base, "prior_therapy_classes": []}).fired_rules
    assert out["fired_rules"][2] == gca.evaluate(base).fired_rules
    assert "'il6_inhibitor' is not a member" in out["error"][3]
