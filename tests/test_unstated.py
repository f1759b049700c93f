"""Not stated is a value: fields that may be not stated (``None``), rule conditions that match it
only when they say so, and every matcher and the audit agreeing on it.

The vocabulary here is a rule set's own, with a field of each type that may be not stated, and
rules that use every condition form with and without ``or_not_stated``. The native engine, the
durable engine, the declarative ``Rule.holds``, the columnar path (``evaluate_frame``) and a
brute-force enumeration for the audit are held to each other on profiles with nulls.
"""

from __future__ import annotations

import itertools
import time
from math import prod
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import immunorules as ir
from immunorules._analysis.space import ProfileSpace, size
from immunorules._engines.durable import durable_available
from immunorules._load.loader import load_rule_files, unstated_warnings
from immunorules._model.vocabulary import FieldDef
from immunorules.testing import profiles

from .conftest import EVIDENCE, require

VOCABULARY = {
    "fields": [
        {"id": "on_dialysis", "type": "boolean"},
        {"id": "frail", "type": "boolean", "default": False},
        {"id": "tried", "type": "set", "of": "subcategories"},
        {"id": "egfr_band", "type": "integer", "min": 0, "max": 4},
        {"id": "stage", "type": "enum", "values": ["none", "early", "late"]},
    ]
}
SUGGEST = {"suggest": [{"category": "immunosuppressants", "tier": "first_line"}]}
ADVISE = {"advise": ["hbv_screen"]}

#: Every condition form, with and without or_not_stated: (id, when, what a profile with the
#: field not stated gets).
FORMS: list[tuple[str, dict[str, Any], bool]] = [
    ("BOOL-TRUE", {"on_dialysis": True}, False),
    ("BOOL-FALSE", {"on_dialysis": False}, False),
    ("BOOL-NULL", {"on_dialysis": None}, True),
    ("BOOL-TRUE-OR-NULL", {"on_dialysis": [True, None]}, True),
    ("BOOL-NOT-TRUE", {"on_dialysis": {"not": True}}, False),
    ("BOOL-NOT-TRUE-U", {"on_dialysis": {"not": True, "or_not_stated": True}}, True),
    ("ENUM-NOT", {"stage": {"not": ["late"]}}, False),
    ("ENUM-NOT-U", {"stage": {"not": ["late"], "or_not_stated": True}}, True),
    ("ENUM-NONE", {"stage": "none"}, False),
    ("ENUM-STATED", {"stage": {"not": None}}, False),
    ("INT-MIN", {"egfr_band": {"min": 2}}, False),
    ("INT-MAX-U", {"egfr_band": {"max": 0, "or_not_stated": True}}, True),
    ("INT-ZERO", {"egfr_band": 0}, False),
    ("INT-NOT-U", {"egfr_band": {"not": [1, 2], "or_not_stated": True}}, True),
    ("SET-INCLUDES", {"tried": {"includes": ["tnf_inhibitors"]}}, False),
    ("SET-INCLUDES-U", {"tried": {"includes": ["corticosteroids"], "or_not_stated": True}}, True),
    ("SET-ANY", {"tried": {"includes_any": ["jak_inhibitors", "corticosteroids"]}}, False),
    ("SET-EXCLUDES", {"tried": {"excludes": ["jak_inhibitors"]}}, False),
    ("SET-EXCLUDES-U", {"tried": {"excludes": ["jak_inhibitors"], "or_not_stated": True}}, True),
    ("SET-NULL", {"tried": None}, True),
    (
        "MIXED",
        {
            "frail": False,
            "stage": ["early", None],
            "tried": {"includes_any": ["tnf_inhibitors"], "or_not_stated": True},
            "egfr_band": {"min": 1, "max": 3},
        },
        False,  # egfr_band: a range never matches not stated
    ),
]


def _rule(rule_id: str, when: dict[str, Any], then: dict[str, Any]) -> dict[str, Any]:
    return {"id": rule_id, "title": rule_id, "when": when, "then": then, "because": "Test.",
            "evidence": ["E1"]}  # fmt: skip


def _write(folder: Path, rules: list[dict[str, Any]], vocabulary: Any = VOCABULARY) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"vocabulary": vocabulary, "evidence": EVIDENCE, "rules": rules}
    (folder / "own.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def _rules() -> list[dict[str, Any]]:
    return [
        _rule(rule_id, when, SUGGEST if index % 2 else ADVISE)
        for index, (rule_id, when, _) in enumerate(FORMS)
    ]


KBS: dict[str, ir.KnowledgeBase] = {}


@pytest.fixture(scope="module", autouse=True)
def _kbs(tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = _write(tmp_path_factory.mktemp("unstated"), _rules())
    KBS["native"] = ir.load_rules(folder, engine="native")
    if durable_available():
        KBS["durable"] = ir.load_rules(folder, engine="durable")


BASE = {"immune_activity": "overactive", "condition": "psoriasis"}


# -- the field model ----------------------------------------------------------------------------


def test_every_type_defaults_to_not_stated_unless_it_says_otherwise() -> None:
    fields = KBS["native"].schema.fields
    assert fields["on_dialysis"].domain == (None, False, True)
    assert fields["frail"].domain == (False, True)  # a default: stated, as before
    assert not fields["frail"].nullable and fields["tried"].nullable
    defaults = KBS["native"].schema.defaults
    assert [defaults[n] for n in ("on_dialysis", "frail", "tried", "egfr_band", "stage")] == [
        None,
        False,
        None,
        None,
        None,
    ]
    explicit = FieldDef.model_validate(
        {"id": "x", "type": "boolean", "default": False, "nullable": True}
    )
    assert explicit.domain == (None, False, True) and explicit.default is False
    stated_set = FieldDef.model_validate({"id": "y", "type": "set", "values": ["a"], "default": []})
    assert not stated_set.nullable


def test_profiles_hold_not_stated_apart_from_no() -> None:
    kb = KBS["native"]
    omitted = kb.parse(BASE)
    assert (omitted.on_dialysis, omitted.tried, omitted.frail) == (None, None, False)  # type: ignore[attr-defined]
    stated = kb.parse({**BASE, "on_dialysis": False, "tried": [], "egfr_band": 0})
    assert (stated.on_dialysis, stated.tried, stated.egfr_band) == (False, (), 0)  # type: ignore[attr-defined]
    explicit = kb.parse({**BASE, "on_dialysis": None, "tried": None, "stage": None})
    assert explicit == omitted
    with pytest.raises(ir.ProfileError, match="frail"):
        kb.parse({**BASE, "frail": None})


# -- what each condition form matches ------------------------------------------------------------


@pytest.mark.parametrize(("rule_id", "when", "unstated"), FORMS, ids=[f[0] for f in FORMS])
def test_only_null_and_or_not_stated_match_a_field_not_stated(
    rule_id: str, when: dict[str, Any], unstated: bool
) -> None:
    kb = KBS["native"]
    # every field the rule tests left out (not stated); frail keeps its default (false)
    fired = rule_id in kb.evaluate(BASE).fired_rules
    assert fired == unstated


def test_stated_values_match_as_before() -> None:
    kb = KBS["native"]
    stated = {**BASE, "on_dialysis": False, "stage": "none", "egfr_band": 0, "tried": []}
    fired = set(kb.evaluate(stated).fired_rules)
    assert {
        "BOOL-FALSE",
        "BOOL-NOT-TRUE",
        "BOOL-NOT-TRUE-U",
        "ENUM-NOT",
        "ENUM-NONE",
        "ENUM-STATED",
        "INT-ZERO",
        "INT-MAX-U",
        "SET-EXCLUDES",
        "SET-EXCLUDES-U",
    } <= fired
    assert not fired & {"BOOL-NULL", "SET-NULL", "SET-INCLUDES", "INT-MIN", "SET-INCLUDES-U"}


def test_includes_of_a_parent_class_means_any_of_its_finer_classes() -> None:
    """Issue 23, item 5: ``includes`` of a coarser class matched only the class itself."""
    kb = KBS["native"]
    for tried in (["anti_tnf_antibodies"], ["tnf_receptor_fusion_proteins"], ["tnf_inhibitors"]):
        assert "SET-INCLUDES" in kb.evaluate({**BASE, "tried": tried}).fired_rules, tried
    assert "SET-INCLUDES" not in kb.evaluate({**BASE, "tried": ["jak_inhibitors"]}).fired_rules


def test_bundled_includes_of_a_parent_class_matches_a_finer_one(tmp_path: Path) -> None:
    rules = [
        _rule(
            "AFTER-TNF",
            {"condition": "rheumatoid_arthritis",
             "prior_therapy_classes": {"includes": ["tnf_inhibitors", "antifolate_dmards"]}},
            SUGGEST,
        )
    ]  # fmt: skip
    kb = ir.load_rules(_write(tmp_path, rules, {}), engine="native")
    profile = {
        "immune_activity": "overactive",
        "condition": "rheumatoid_arthritis",
        "prior_therapy_classes": ["antifolate_dmards", "anti_tnf_antibodies"],
    }
    assert kb.evaluate(profile).fired_rules == ("AFTER-TNF",)
    without = {**profile, "prior_therapy_classes": ["anti_tnf_antibodies"]}
    assert kb.evaluate(without).fired_rules == ()


# -- engines, columnar and the declarative rules agree on nulls ----------------------------------


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_engines_agree_on_profiles_with_nulls(data: st.DataObject) -> None:
    native = KBS["native"]
    profile = data.draw(profiles(native, condition=["psoriasis", None]))
    fired = native.evaluate(profile).fired_rules
    assert set(fired) == {rule.id for rule in native.active_rules if rule.holds(profile)}
    if "durable" in KBS:
        assert KBS["durable"].evaluate(profile).fired_rules == fired


def test_the_strategies_draw_not_stated() -> None:
    seen: dict[str, set[bool]] = {name: set() for name in ("on_dialysis", "tried", "stage")}

    @settings(max_examples=200, deadline=None)
    @given(profile=profiles(KBS["native"]))
    def draw(profile: Any) -> None:
        for name, found in seen.items():
            found.add(getattr(profile, name) is None)

    draw()
    assert all(found == {False, True} for found in seen.values()), seen


def test_evaluate_frame_reads_gaps_as_not_stated() -> None:
    pd = require("pandas")
    kb = KBS["native"]
    rows: list[dict[str, Any]] = [
        {**BASE, "on_dialysis": None, "tried": None, "egfr_band": None, "stage": None},
        {**BASE, "on_dialysis": False, "tried": [], "egfr_band": 0, "stage": "none"},
        {**BASE, "on_dialysis": True, "tried": ["anti_tnf_antibodies"], "egfr_band": 2,
         "stage": "late"},
    ]  # fmt: skip
    frame = kb.evaluate_frame(pd.DataFrame(rows))
    for index, row in enumerate(rows):
        expected = kb.evaluate({k: v for k, v in row.items() if v is not None})
        assert list(frame["fired_rules"][index]) == list(expected.fired_rules), index
    # a column of booleans with a gap (pandas reads it as object) is not stated in that row
    gappy = pd.DataFrame({"condition": ["psoriasis"] * 2, "immune_activity": ["overactive"] * 2,
                          "on_dialysis": [True, None]})  # fmt: skip
    out = kb.evaluate_frame(gappy)
    assert "BOOL-NULL" in list(out["fired_rules"][1]) and "BOOL-TRUE" in list(out["fired_rules"][0])


# -- the audit: not stated is one more value, and the partition stays exact ---------------------


def test_audit_gaps_agree_with_brute_force_over_nulls(tmp_path: Path) -> None:
    decisive = [
        _rule("D-DIALYSIS", {"on_dialysis": True}, SUGGEST),
        _rule("D-TRIED", {"tried": {"excludes": ["jak_inhibitors"], "or_not_stated": True},
                          "on_dialysis": [False, None]}, SUGGEST),
        _rule("D-LOW", {"egfr_band": {"max": 1}, "stage": {"not": ["late"]}}, SUGGEST),
        _rule("D-UNSTATED", {"egfr_band": None, "tried": {"includes_any": ["jak_inhibitors"]}},
              SUGGEST),
    ]  # fmt: skip
    kb = ir.load_rules(_write(tmp_path, decisive), engine="native")
    report = ir.audit(kb)
    space = ProfileSpace(kb.space)
    tested = ["on_dialysis", "egfr_band", "stage", *kb.space.groups]
    domains = [kb.space.domains[name] for name in tested]
    factor = size(space.full) // prod(len(d) for d in domains)
    base = kb.parse(BASE)
    uncovered = 0
    for values in itertools.product(*domains):
        flat = dict(zip(tested, values, strict=True))
        profile = kb.parse(
            {**BASE, **kb.space.unflatten(flat)} | {"disease_area": base.disease_area}
        )
        if not kb.evaluate(profile).fired_rules:
            uncovered += 1
    gaps = report.filter(kind="gap")
    assert uncovered  # some combinations of nulls are gaps
    assert sum(gap.region_size or 0 for gap in gaps) == uncovered * factor


# -- loading: errors, warnings, and no blow-up on large set conditions ---------------------------


def test_validate_warns_about_stated_no_on_a_field_without_default(tmp_path: Path) -> None:
    loaded = load_rule_files(_write(tmp_path, _rules()))
    warned = {line.split("[", 1)[1].split("]", 1)[0] for line in unstated_warnings(loaded)}
    assert warned == {
        "BOOL-FALSE",
        "BOOL-NOT-TRUE",  # matches false
        "ENUM-NOT",  # matches none
        "ENUM-NONE",
        "ENUM-STATED",
        "INT-ZERO",
        "SET-EXCLUDES",  # the empty set
    }
    line = next(w for w in unstated_warnings(loaded) if "[BOOL-FALSE]" in w)
    assert "$.rules[1].when.on_dialysis" in line and "not stated" in line
    assert unstated_warnings(load_rule_files(ir.BUNDLED_RULES)) == ()


def test_validate_command_prints_the_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from immunorules._cli.main import main

    assert main(["validate", str(_write(tmp_path, _rules()))]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK:") and "warning: " in out and "[INT-ZERO]" in out


@pytest.mark.parametrize("kind", ["includes_any", "excludes", "includes"])
def test_a_set_condition_over_200_members_loads_without_listing_subsets(
    tmp_path: Path, kind: str
) -> None:
    """Issue 23, item 7: 13 members took 25 s and 1.25 GB, 200 raised MemoryError."""
    members = [f"m{i:03d}" for i in range(200)]
    vocabulary = {
        "fields": [
            {"id": "codes", "type": "set", "values": members},
            {"id": "kept", "type": "set", "values": members, "default": []},
        ]
    }
    rules = [
        _rule("ALL", {"codes": {kind: members}}, SUGGEST),
        _rule("SOME", {"codes": {"includes_any": members[:50], "or_not_stated": True}}, SUGGEST),
        _rule("ONE", {"codes": {"includes": [members[7]]}}, ADVISE),
        _rule("KEPT", {"kept": {kind: members}}, ADVISE),
        _rule("KEPT-HALF", {"kept": {"excludes": members[100:]}}, ADVISE),
    ]
    start = time.perf_counter()
    kb = ir.load_rules(_write(tmp_path, rules, vocabulary), engine="native")
    elapsed = time.perf_counter() - start
    # structural: one value per class of subsets the rules tell apart, never 2**200
    for key in kb.space.groups:
        assert len(kb.space.domains[key]) <= 64, key
    assert elapsed < 30  # generous: a regression is minutes or a MemoryError
    profile = {**BASE, "codes": [members[7], members[150]], "kept": members[:3]}
    fired = set(kb.evaluate(profile).fired_rules)
    expected = {r.id for r in kb.active_rules if r.holds(kb.parse(profile))}
    assert fired == expected
    assert {"ONE"} <= fired
    assert "SOME" in kb.evaluate(BASE).fired_rules  # codes not stated
    report = ir.audit(kb)
    assert report.profiles > 0


@given(
    domain=st.sampled_from(
        [(None, True, False), (None, "none", "resolved", "active_serious"), (None, 0, 1, 2, 3)]
    ),
    data=st.data(),
)
def test_a_condition_that_holds_when_not_stated_reads_so(
    domain: tuple[object, ...], data: st.DataObject
) -> None:
    """A condition's reading says "(or not stated)" exactly when a not-stated field meets it
    and so does some stated value; a reading without it never covers a not-stated field."""
    from immunorules._model.rules import describe_condition

    allowed = frozenset(data.draw(st.sets(st.sampled_from(domain), min_size=1)))
    integer = isinstance(domain[1], int) and not isinstance(domain[1], bool)
    text = describe_condition("f", allowed, domain, integer=integer)  # type: ignore[arg-type]
    assert text.endswith("(or not stated)") == (None in allowed and len(allowed) > 1)
    if None not in allowed:
        assert "not stated" not in text
        assert not text.startswith("f not in [") or "null" in text


def test_the_result_json_schema_builds_without_warnings() -> None:
    """``Result.assumed`` defaults to an empty read-only mapping without making the JSON Schema
    warn (a shared default that pydantic cannot serialise did)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        schema = ir.Result.model_json_schema()
    assert schema["properties"]["assumed"]["type"] == "object"
    result = ir.load_rules(engine="native").evaluate({"condition": "psoriasis"})
    assert result.assumed == {}
    with pytest.raises(TypeError):
        result.assumed["pregnant"] = False
