"""What an answer depends on: ``Result.unstated`` and ``Result.depends_on`` are exact (stating a
field outside ``depends_on`` never changes the answer, stating one as any of its ``values``
does, and no other value does), agree between the engines and the columnar path, and
``depends_on=False`` and ``assume=`` do what they say.

The vocabulary is a rule set's own with a field of every type that may be not stated; its rules
suggest with drug classes, avoid classes and categories, flag, and give advisories both when a
field is stated and when it is not (a screening advisory that disappears when it is stated).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import immunorules as ir
from immunorules._engines.durable import durable_available
from immunorules.testing import profiles

from .conftest import EVIDENCE, require
from .test_unstated import FORMS, VOCABULARY

SUGGEST = {"suggest": [{"category": "immunosuppressants", "tier": "first_line"}]}

RULES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "BASE",
        {"immune_activity": "overactive"},
        {
            "suggest": [
                {
                    "category": "immunosuppressants",
                    "tier": "first_line",
                    "subcategories": ["corticosteroids", "jak_inhibitors"],
                }
            ]
        },
    ),
    ("DIAL-AVOID", {"on_dialysis": True}, {"avoid": [{"subcategory": "jak_inhibitors"}]}),
    ("DIAL-SCREEN", {"on_dialysis": None}, {"advise": ["hbv_screen"]}),
    ("EGFR-FLAG", {"egfr_band": {"min": 3}}, {"flag": ["immunosuppressants"]}),
    (
        "TRIED-BIO",
        {"tried": {"includes": ["tnf_inhibitors"]}},
        {
            "suggest": [
                {
                    "category": "biologic_therapies",
                    "tier": "escalation",
                    "subcategories": ["interleukin_inhibitors"],
                }
            ]
        },
    ),
    (
        "TRIED-EXCL",
        {"tried": {"excludes": ["corticosteroids"]}, "stage": "early"},
        {"advise": ["serious_infection_risk"]},
    ),
    ("STAGE-LATE", {"stage": "late"}, {"avoid": [{"category": "biologic_therapies"}]}),
    (
        "STAGE-UNSURE",
        {"stage": ["early", None]},
        {"advise": ["vaccinate_before_immunosuppression"]},
    ),
    (
        "FRAIL",
        {"frail": True, "on_dialysis": False},
        {"suggest": [{"category": "cellular_therapies", "tier": "escalation"}]},
    ),
    *((f"F-{rule_id}", when, SUGGEST) for rule_id, when, _ in FORMS[::3]),
]

KBS: dict[str, ir.KnowledgeBase] = {}
NULLABLE = ("on_dialysis", "tried", "egfr_band", "stage")


def _write(folder: Path) -> Path:
    rules = [
        {
            "id": rule_id,
            "title": rule_id,
            "when": when,
            "then": then,
            "because": "Test.",
            "evidence": ["E1"],
        }
        for rule_id, when, then in RULES
    ]
    data = {"vocabulary": VOCABULARY, "evidence": EVIDENCE, "rules": rules}
    (folder / "own.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


@pytest.fixture(scope="module", autouse=True)
def _kbs(tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = _write(tmp_path_factory.mktemp("depends"))
    KBS["native"] = ir.load_rules(folder, engine="native")
    if durable_available():
        KBS["durable"] = ir.load_rules(folder, engine="durable")


BASE: dict[str, Any] = {"immune_activity": "overactive", "condition": "psoriasis"}


def _answer(result: ir.Result) -> tuple[Any, Any, Any]:
    return (
        {s.category: (s.tier, s.subcategories, s.direction) for s in result.suggestions},
        frozenset((a.category, a.subcategory) for a in result.avoided),
        frozenset(a.key for a in result.advisories),
    )


def _same(before: ir.Result, after: ir.Result) -> bool:
    """The same answer, but for advisories that only disappear."""
    old, new = _answer(before), _answer(after)
    return bool(old[0] == new[0] and old[1] == new[1] and new[2] <= old[2])


# -- examples ------------------------------------------------------------------------------------


def test_a_fully_stated_profile_depends_on_nothing() -> None:
    kb = KBS["native"]
    stated = {**BASE, "on_dialysis": False, "tried": [], "egfr_band": 0, "stage": "none"}
    for name in kb.schema.fields:  # every other field not stated by default: state it
        if kb.parse(stated).__dict__[name] is None:
            if kb.schema.fields[name].type == "set":
                stated[name] = []
            else:
                stated[name] = next(v for v in kb.schema.domains[name] if v is not None)
    result = kb.evaluate(stated)
    assert result.unstated == () and result.depends_on == ()


def test_an_example_reads_plainly() -> None:
    kb = KBS["native"]
    result = kb.evaluate({**BASE, "tried": [], "egfr_band": 0, "stage": "none"})
    assert "on_dialysis" in result.unstated
    (dialysis,) = [d for d in result.depends_on if d.field == "on_dialysis"]
    assert dialysis.values == (True, False) or dialysis.values == (True,)
    assert "if on dialysis" in dialysis.effect and "avoided" in dialysis.effect
    assert "jak_inhibitors" in dialysis.affects and len(dialysis.effect) <= 120
    assert [a.key for a in result.advisories] == ["hbv_screen"]  # only while not stated


def test_a_set_field_lists_the_member_sets_that_change_it() -> None:
    kb = KBS["native"]
    late = kb.evaluate({**BASE, "on_dialysis": False, "egfr_band": 0, "stage": "late"})
    assert "tried" in late.unstated and "tried" not in [d.field for d in late.depends_on]
    result = kb.evaluate({**BASE, "on_dialysis": False, "egfr_band": 0, "stage": "none"})
    (tried,) = [d for d in result.depends_on if d.field == "tried"]
    assert ("tnf_inhibitors",) in tried.values and tried.affects == ("biologic_therapies",)
    assert all(isinstance(m, tuple) and len(m) == 1 for m in tried.values)  # the smallest sets
    assert tried.effect.startswith("if tried includes TNF inhibitors or 2 others: ")
    assert tried.effect.endswith(": Biologic therapies suggested (escalation)")
    early = kb.evaluate({**BASE, "on_dialysis": False, "egfr_band": 0, "stage": "early"})
    (tried,) = [d for d in early.depends_on if d.field == "tried"]
    assert () in tried.values  # stating "none tried" gives the infection advisory
    assert "biologic_therapies" in tried.affects


def test_the_bundled_condition_is_a_dependency_within_its_area() -> None:
    kb = ir.load_rules(engine="native")
    result = kb.evaluate({"immune_activity": "overactive", "disease_area": "autoimmune"})
    (condition,) = [d for d in result.depends_on if d.field == "condition"]
    areas = kb.schema.condition_area
    assert condition.values and all(areas[str(v)] == "autoimmune" for v in condition.values)
    assert "condition" in result.unstated


# -- properties ----------------------------------------------------------------------------------


def _stated_values(
    kb: ir.KnowledgeBase, profile: Any, field: str, data: st.DataObject
) -> list[Any]:
    schema = kb.schema
    if field in schema.set_fields:
        members = schema.set_fields[field]
        drawn = data.draw(st.lists(st.lists(st.sampled_from(members), unique=True), max_size=6))
        return [(), *drawn]
    values = [v for v in schema.domains[field] if v is not None]
    if field == "condition":
        values = [v for v in values if schema.condition_area[str(v)] == profile.disease_area]
    return values


def _normal(kb: ir.KnowledgeBase, field: str, value: Any) -> Any:
    if field in kb.schema.set_fields:
        return tuple(m for m in kb.schema.set_fields[field] if m in value)
    return value


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_depends_on_is_exact(data: st.DataObject) -> None:
    kb = KBS["native"]
    profile = data.draw(profiles(kb, condition=["psoriasis", None]))
    result = kb.evaluate(profile)
    values = profile.__dict__
    assert result.unstated == tuple(name for name, value in values.items() if value is None)
    depends = {d.field: d for d in result.depends_on}
    assert set(depends) <= set(result.unstated)
    assert [d.field for d in result.depends_on] == [f for f in result.unstated if f in depends]
    for field in result.unstated:
        dependency = depends.get(field)
        if dependency is not None:
            assert dependency.values and dependency.effect and len(dependency.effect) <= 120
        changing = () if dependency is None else dependency.values
        for value in changing:  # each of its values changes the answer
            stated = kb.evaluate(profile.model_copy(update={field: value}))
            assert not _same(result, stated), (field, value, dependency)
        for value in _stated_values(kb, profile, field, data):
            stated = kb.evaluate(profile.model_copy(update={field: _normal(kb, field, value)}))
            if dependency is None:  # a field it does not depend on: no value changes it
                assert _same(result, stated), (field, value)
            elif field not in kb.schema.set_fields:  # a scalar: exactly its values change it
                assert _same(result, stated) == (value not in changing), (field, value)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_engines_agree_and_depends_on_false_leaves_only_that_out(data: st.DataObject) -> None:
    native = KBS["native"]
    profile = data.draw(profiles(native, condition=["psoriasis", None]))
    result = native.evaluate(profile)
    if "durable" in KBS:
        durable = KBS["durable"].evaluate(profile)
        assert durable.depends_on == result.depends_on and durable.unstated == result.unstated
    plain = native.evaluate(profile, depends_on=False)
    assert plain.depends_on == () and plain.unstated == result.unstated
    assert plain == result.model_copy(update={"depends_on": ()})


def _table(drawn: list[Any]) -> list[dict[str, Any]]:
    return [
        {k: (list(v) if isinstance(v, tuple) else v) for k, v in p.__dict__.items()} for p in drawn
    ]


def _check_columns(kb: ir.KnowledgeBase, drawn: list[Any], unstated: Any, depends: Any) -> None:
    for profile, names, fields in zip(drawn, unstated, depends, strict=True):
        result = kb.evaluate(profile)
        assert tuple(names) == result.unstated
        assert tuple(fields) == tuple(d.field for d in result.depends_on)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_evaluate_frame_columns_agree_with_evaluate(data: st.DataObject) -> None:
    pd = require("pandas")
    kb = KBS["native"]
    drawn = data.draw(
        st.lists(profiles(kb, condition=["psoriasis", None]), min_size=1, max_size=12)
    )
    out = kb.evaluate_frame(pd.DataFrame(_table(drawn)))
    _check_columns(kb, drawn, out["unstated"], out["depends_on"])


@settings(max_examples=25, deadline=None)
@given(drawn=st.lists(profiles(), min_size=1, max_size=20))
def test_bundled_frames_of_every_kind_agree_with_evaluate(drawn: list[Any]) -> None:
    pa = require("pyarrow")
    pl = require("polars")
    kb = ir.load_rules(engine="native") if "bundled" not in KBS else KBS["bundled"]
    KBS["bundled"] = kb
    table = pa.Table.from_pylist(_table(drawn))
    arrow = kb.evaluate_frame(table)
    _check_columns(kb, drawn, arrow["unstated"].to_pylist(), arrow["depends_on"].to_pylist())
    polars = kb.evaluate_frame(pl.from_arrow(table))
    _check_columns(kb, drawn, polars["unstated"].to_list(), polars["depends_on"].to_list())


def test_invalid_rows_have_null_lists() -> None:
    pd = require("pandas")
    kb = KBS["native"]
    out = kb.evaluate_frame(pd.DataFrame([BASE, {**BASE, "stage": "nope"}]))
    assert out["unstated"][1] is None and out["depends_on"][1] is None
    assert "on_dialysis" in out["depends_on"][0]


# -- assume ----------------------------------------------------------------------------------------


def test_assume_fills_only_what_is_not_stated_and_says_so() -> None:
    kb = KBS["native"]
    result = kb.evaluate({**BASE, "stage": "late"}, assume={"on_dialysis": False, "stage": "none"})
    assert dict(result.assumed) == {"on_dialysis": False}
    assert result.profile.on_dialysis is False and result.profile.stage == "late"  # type: ignore[attr-defined]
    assert "on_dialysis" not in result.unstated
    assert kb.evaluate({**BASE, "on_dialysis": False, "stage": "late"}).model_copy(
        update={"assumed": {"on_dialysis": False}}
    ) == result.model_copy(update={"profile": result.profile})


def test_assume_v2_reads_every_not_stated_default_as_before() -> None:
    kb = KBS["native"]
    result = kb.evaluate(BASE, assume="v2")
    own = {"on_dialysis": False, "tried": (), "egfr_band": 0, "stage": "none"}
    assert {name: result.assumed[name] for name in own} == own
    # the bundled fields this vocabulary extends are read as version 2 read them too
    assert result.assumed["pregnant"] is False and result.assumed["prior_lines_of_therapy"] == 0
    assert result.unstated == tuple(
        name
        for name in (
            "severity",
            "hbv_serology",
            "hsct_type",
            "malignancy_type",
            # knowledge base v3 enum fields (the v3 set and boolean fields are read as "no",
            # like every set and boolean of version 2)
            "philadelphia_chromosome",
            "gvhd_type",
            "treatment_phase",
        )
        if name in kb.schema.fields
    )
    bundled = ir.load_rules(engine="native")
    reading = ir.evaluate(
        {"immune_activity": "overactive", "condition": "psoriasis"}, assume="v2"
    ).assumed
    for name, value in reading.items():
        assert bundled.schema.fields[name].type in ("boolean", "set", "integer", "enum")
        assert value in (False, (), 0, "none")


def test_a_bad_policy_is_a_profile_error() -> None:
    kb = KBS["native"]
    with pytest.raises(ir.ProfileError, match="did you mean 'on_dialysis'"):
        kb.evaluate(BASE, assume={"on_dialisys": False})
    with pytest.raises(ValueError, match="egfr_band"):
        kb.evaluate(BASE, assume={"egfr_band": 9})
    with pytest.raises(ValueError, match="tried"):
        kb.evaluate(BASE, assume={"tried": ["nope"]})
    with pytest.raises(ValueError, match="'v2'"):
        kb.evaluate(BASE, assume="v1")  # type: ignore[arg-type]


def test_the_options_reach_evaluate_many_and_iter_evaluate() -> None:
    kb = KBS["native"]
    rows: list[dict[str, Any]] = [BASE, {**BASE, "on_dialysis": True}, BASE]
    one = [kb.evaluate(row, assume={"on_dialysis": False}) for row in rows]
    assert kb.evaluate_many(rows, assume={"on_dialysis": False}) == one
    assert list(kb.iter_evaluate(rows, batch_size=2, assume={"on_dialysis": False})) == one
    plain = kb.evaluate_many(rows, depends_on=False)
    assert all(r.depends_on == () for r in plain)
    assert kb.evaluate_many(rows) == [kb.evaluate(row) for row in rows]
    assert any(r.depends_on for r in kb.evaluate_many(rows))
    with pytest.raises(ir.ProfileError):
        list(kb.iter_evaluate(rows, assume={"nope": 1}))


# -- why-not -----------------------------------------------------------------------------------


def test_why_not_proposes_stating_a_fact_and_never_unstating_one() -> None:
    kb = KBS["native"]
    answer = kb.why_not({**BASE, "frail": True}, "cellular_therapies", fields=["on_dialysis"])
    ((change,),) = [change_set.changes for change_set in answer.changes]
    assert (change.field, change.before, change.after) == ("on_dialysis", None, False)
    assert change.states and change.description == "state on_dialysis as false"
    stated = kb.why_not(
        {**BASE, "frail": True, "on_dialysis": True}, "cellular_therapies", fields=["on_dialysis"]
    )
    assert all(c.after is not None for s in stated.changes for c in s.changes)
    assert not stated.changes[0].changes[0].states
