"""Why-not (SPEC §7): status, condition checks, overrides and minimal verified change sets."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

import immunorules as ir

from .bundled import FIELD_DOMAINS, PROFILE_FIELDS
from .conftest import MakeKB, rule

#: The facts these tests rest on are stated (knowledge base v3: a fact left out is not stated,
#: which the fixture rules below do not match); the values are v2's defaults.
RA = {
    "immune_activity": "overactive",
    "condition": "rheumatoid_arthritis",
    "prior_lines_of_therapy": 0,
    "infection_status": "none",
    "latent_tuberculosis": False,
    "pregnant": False,
    "heart_failure": False,
}
SUGGESTING = ("first_line", "escalation")


def sug(category: str, tier: str = "first_line", subs: list[str] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"category": category, "tier": tier}
    if subs is not None:
        entry["subcategories"] = subs
    return entry


#: Every field: these tests explore the whole search, not only the modifiable fields.
ALL = list(ir.load_rules(engine="native").fields)


@pytest.fixture
def kb(make_kb: MakeKB) -> ir.KnowledgeBase:
    """RA: csDMARD first; a biologic after one line unless there is heart failure or a recent
    infection; TNF inhibitors avoided with heart failure; biologics flagged when pregnant."""
    return make_kb(
        [
            rule(
                "RA-FIRST",
                {"suggest": [sug("immunosuppressants", "first_line", ["conventional_dmards"])]},
                {"condition": "rheumatoid_arthritis", "prior_lines_of_therapy": 0},
            ),
            rule(
                "RA-BIOLOGIC",
                {"suggest": [sug("biologic_therapies", "escalation", ["tnf_inhibitors"])]},
                {
                    "condition": "rheumatoid_arthritis",
                    "prior_lines_of_therapy": {"min": 1},
                    "infection_status": ["none"],
                },
            ),
            rule(
                "HF-NO-TNF",
                {"avoid": [{"subcategory": "tnf_inhibitors"}]},
                {"heart_failure": True},
            ),
            rule("PREG-FLAG", {"flag": ["biologic_therapies"]}, {"pregnant": True}),
            rule(
                "TB-NO-BIOLOGIC",
                {"avoid": [{"category": "biologic_therapies"}]},
                {"latent_tuberculosis": True},
            ),
        ]
    )


def tier_of(kb: ir.KnowledgeBase, profile: ir.ConditionProfile, category: str) -> str | None:
    return kb.evaluate(profile).tier(category)


def test_suggested_category_needs_no_change(kb: ir.KnowledgeBase) -> None:
    answer = kb.why_not(RA, "immunosuppressants")
    assert answer.status == "suggested"
    assert answer.tier == "first_line"
    assert answer.suggested
    assert answer.changes == ()
    assert answer.reachable is True
    (check,) = answer.rules
    assert check.rule_id == "RA-FIRST" and check.fired
    assert all(condition.held for condition in check.conditions)


def test_absent_category_marks_each_condition_with_the_actual_value(kb: ir.KnowledgeBase) -> None:
    answer = kb.why_not({**RA, "infection_status": "recent_serious"}, "biologic_therapies")
    assert answer.status == "absent"
    assert answer.tier is None
    (check,) = answer.rules
    assert check.rule_id == "RA-BIOLOGIC" and not check.fired
    by_field = {c.field: c for c in check.conditions}
    assert list(by_field) == ["condition", "prior_lines_of_therapy", "infection_status"]
    assert by_field["condition"].held and by_field["condition"].actual == "rheumatoid_arthritis"
    prior = by_field["prior_lines_of_therapy"]
    assert not prior.held and prior.actual == 0
    assert prior.requirement == "prior_lines_of_therapy >= 1"
    infection = by_field["infection_status"]
    assert not infection.held and infection.actual == "recent_serious"
    assert infection.allowed == ("none",)
    assert [c.field for c in check.failed] == ["prior_lines_of_therapy", "infection_status"]


def test_smallest_changes_are_minimal_verified_and_merged(kb: ir.KnowledgeBase) -> None:
    profile = ir.ConditionProfile(**{**RA, "infection_status": "recent_serious"})
    answer = kb.why_not(profile, "biologic_therapies")
    (change_set,) = answer.changes
    assert change_set.size == 2
    assert [(c.field, c.before, c.after) for c in change_set.changes] == [
        ("prior_lines_of_therapy", 0, 1),
        ("infection_status", "recent_serious", "none"),
    ]
    # Every prior_lines value >= 1 works the same: one change set, not twenty.
    assert change_set.changes[0].alternatives == tuple(range(1, 21))
    assert change_set.tier == "escalation"
    assert change_set.rule_ids == ("RA-BIOLOGIC",)
    assert tier_of(kb, change_set.profile, "biologic_therapies") == "escalation"
    # Neither change alone is enough: the set is minimal.
    assert (
        tier_of(kb, profile.model_copy(update={"prior_lines_of_therapy": 1}), "biologic_therapies")
        is None
    )
    assert (
        tier_of(kb, profile.model_copy(update={"infection_status": "none"}), "biologic_therapies")
        is None
    )


def test_flagged_and_avoided_show_their_overrides(kb: ir.KnowledgeBase) -> None:
    pregnant = kb.why_not(
        {**RA, "prior_lines_of_therapy": 2, "pregnant": True}, "biologic_therapies", fields=ALL
    )
    assert pregnant.status == "flagged" and pregnant.tier == "flagged"
    assert [(o.kind, o.reason.rule_id) for o in pregnant.overrides] == [("flag", "PREG-FLAG")]
    # stating "no", or (v3) leaving it not stated, lifts the flag
    assert [c.field for cs in pregnant.changes for c in cs.changes] == ["pregnant"]
    assert pregnant.changes[0].changes[0].after in (None, False)

    hf = kb.why_not(
        {**RA, "prior_lines_of_therapy": 2, "heart_failure": True}, "biologic_therapies", fields=ALL
    )
    assert hf.status == "avoided"  # its only drug class is avoided
    assert [(o.kind, o.subcategory, o.reason.rule_id) for o in hf.overrides] == [
        ("avoid", "tnf_inhibitors", "HF-NO-TNF"),
        ("avoid", "anti_tnf_antibodies", "HF-NO-TNF"),  # the bundled finer classes, avoided too
        ("avoid", "tnf_receptor_fusion_proteins", "HF-NO-TNF"),
    ]
    assert [c.field for cs in hf.changes for c in cs.changes] == ["heart_failure"]
    assert hf.changes[0].changes[0].after in (None, False)

    tb = kb.why_not(
        {**RA, "prior_lines_of_therapy": 2, "latent_tuberculosis": True},
        "biologic_therapies",
        fields=ALL,
    )
    assert tb.status == "avoided"
    assert [(o.kind, o.subcategory) for o in tb.overrides] == [("avoid", None)]


def test_flag_that_fired_without_a_suggestion_is_still_shown(kb: ir.KnowledgeBase) -> None:
    answer = kb.why_not({**RA, "pregnant": True}, "biologic_therapies", fields=ALL)
    assert answer.status == "absent"
    assert [o.reason.rule_id for o in answer.overrides] == ["PREG-FLAG"]
    # Changing prior lines alone would only give a flagged suggestion: both changes are needed.
    assert [sorted(c.field for c in cs.changes) for cs in answer.changes] == [
        ["pregnant", "prior_lines_of_therapy"]
    ]


def _brute_force(
    kb: ir.KnowledgeBase, profile: ir.ConditionProfile, category: str, fields: list[str]
) -> set[frozenset[tuple[str, Any]]]:
    """Every minimal change set of one or two of ``fields``, by evaluating every combination."""

    def works(changes: tuple[tuple[str, Any], ...]) -> bool:
        changed = ir.ConditionProfile(**{**profile.to_fact(), **dict(changes)})
        return kb.evaluate(changed).tier(category) in SUGGESTING

    singles = [
        (name, value)
        for name in fields
        for value in FIELD_DOMAINS[name]
        # why-not never proposes forgetting a stated fact (a stated value -> not stated)
        if value != getattr(profile, name) and (value is not None or getattr(profile, name) is None)
    ]
    found = {frozenset([change]) for change in singles if works((change,))}
    for a, b in itertools.combinations(singles, 2):
        if a[0] == b[0] or frozenset([a]) in found or frozenset([b]) in found:
            continue
        if works((a, b)):
            found.add(frozenset([a, b]))
    return found


def _expanded(answer: ir.WhyNot) -> set[frozenset[tuple[str, Any]]]:
    expanded: set[frozenset[tuple[str, Any]]] = set()
    for change_set in answer.changes:
        options = [[(c.field, v) for v in c.alternatives] for c in change_set.changes]
        expanded.update(frozenset(combo) for combo in itertools.product(*options))
    return expanded


@pytest.mark.parametrize(
    ("profile", "category"),
    [
        (
            {
                **RA,
                "prior_lines_of_therapy": 1,
                "infection_status": "recent_serious",
                "pregnant": True,
            },
            "biologic_therapies",
        ),
        (
            {**RA, "prior_lines_of_therapy": 1, "heart_failure": True, "latent_tuberculosis": True},
            "biologic_therapies",
        ),
        ({**RA, "prior_lines_of_therapy": 3}, "immunosuppressants"),
    ],
)
def test_change_sets_match_a_brute_force_search(
    kb: ir.KnowledgeBase, profile: dict[str, Any], category: str
) -> None:
    checked = ir.ConditionProfile(**profile)
    # the brute force enumerates scalar fields; set fields (none of these rules names one) stay
    scalar = [name for name in PROFILE_FIELDS if name in FIELD_DOMAINS]
    fields = [name for name in scalar if name not in ("condition", "disease_area")]
    fixed = ["condition", *(name for name in PROFILE_FIELDS if name not in FIELD_DOMAINS)]
    answer = kb.why_not(checked, category, max_changes=2, fixed=fixed)
    assert answer.changes, "expected at least one change set"
    assert _expanded(answer) == _brute_force(kb, checked, category, fields)
    for change_set in answer.changes:
        assert tier_of(kb, change_set.profile, category) in SUGGESTING


def test_order_is_by_size_then_keeps_the_condition_first(make_kb: MakeKB) -> None:
    kb = make_kb(
        [
            rule("PSO", {"suggest": [sug("biologic_therapies")]}, {"condition": "psoriasis"}),
            rule(
                "RA-LATER",
                {"suggest": [sug("biologic_therapies", "escalation")]},
                {"condition": "rheumatoid_arthritis", "prior_lines_of_therapy": {"min": 2}},
            ),
            rule(
                "RA-SEVERE",
                {"suggest": [sug("biologic_therapies", "escalation")]},
                {"condition": "rheumatoid_arthritis", "severity": "severe", "pregnant": True},
            ),
        ]
    )
    answer = kb.why_not(RA, "biologic_therapies", fields=ALL)
    sizes = [cs.size for cs in answer.changes]
    assert sizes == sorted(sizes)
    described = [[(c.field, c.after) for c in cs.changes] for cs in answer.changes]
    assert described == [
        [("prior_lines_of_therapy", 2)],
        [("condition", "psoriasis")],
        [("severity", "severe"), ("pregnant", True)],
    ]
    assert answer.changes[0].changes[0].alternatives == tuple(range(2, 21))
    pinned = kb.why_not(RA, "biologic_therapies", fixed=["disease_area"])
    assert pinned.fixed == ("condition",)
    assert all(c.field != "condition" for cs in pinned.changes for c in cs.changes)


def test_condition_change_brings_its_disease_area(make_kb: MakeKB) -> None:
    kb = make_kb([rule("MEL", {"suggest": [sug("immunostimulants")]}, {"condition": "melanoma"})])
    answer = kb.why_not(RA, "immunostimulants", fields=ALL)
    (change_set,) = answer.changes
    assert change_set.size == 1
    condition, area = change_set.changes
    assert (condition.field, condition.after) == ("condition", "melanoma")
    assert (area.field, area.before, area.after, area.implied) == (
        "disease_area",
        "autoimmune",
        "oncology",
        True,
    )
    assert change_set.profile.disease_area == "oncology"


def test_unreachable_and_capped_searches_say_so(make_kb: MakeKB) -> None:
    kb = make_kb(
        [
            rule("PREG-ONLY", {"suggest": [sug("cellular_therapies")]}, {"pregnant": True}),
            rule(
                "NEVER-IN-PREG", {"avoid": [{"category": "cellular_therapies"}]}, {"pregnant": True}
            ),
            rule(
                "THREE",
                {"suggest": [sug("immunostimulants")]},
                {"pregnant": True, "heart_failure": True, "hepatitis_b": True},
            ),
        ]
    )
    nothing = kb.why_not(RA, "biologic_therapies", fields=ALL)
    assert nothing.rules == () and nothing.reachable is False
    assert "no active rule" in nothing.summary
    blocked = kb.why_not(RA, "cellular_therapies", fields=ALL)
    assert blocked.changes == () and blocked.reachable is False
    assert "No valid change" in blocked.summary
    capped = kb.why_not(RA, "immunostimulants", max_changes=2, fields=ALL)
    assert capped.changes == () and capped.reachable is True
    assert "more than 2 fields" in capped.summary
    found = kb.why_not(RA, "immunostimulants", fields=ALL)
    assert [cs.size for cs in found.changes] == [3]


def test_inactive_rules_are_named_not_used(make_kb: MakeKB) -> None:
    draft = rule("DRAFT-CELL", {"suggest": [sug("cellular_therapies")]})
    draft["status"] = "draft"
    kb = make_kb([draft, rule("ANY", {"suggest": [sug("immunosuppressants")]})])
    answer = kb.why_not(RA, "cellular_therapies")
    assert answer.inactive_rule_ids == ("DRAFT-CELL",)
    assert answer.rules == () and answer.reachable is False


def test_bad_arguments(kb: ir.KnowledgeBase) -> None:
    with pytest.raises(ValueError, match="did you mean 'immunostimulants'"):
        kb.why_not(RA, "immunostimulant")
    with pytest.raises(ValueError, match="drug class of 'biologic_therapies'"):
        kb.why_not(RA, "tnf_inhibitors")
    with pytest.raises(ir.ProfileError) as caught:
        kb.why_not({"immune_activity": "sideways"}, "immunosuppressants")
    assert {p.path for p in caught.value.problems} == {"immune_activity", "disease_area"}
    with pytest.raises(ValueError, match="did you mean 'pregnant'"):
        kb.why_not(RA, "immunosuppressants", fixed=["pregnent"])
    with pytest.raises(ValueError, match="non-negative"):
        kb.why_not(RA, "immunosuppressants", max_changes=-1)


def test_whynot_is_a_frozen_json_round_tripping_model(kb: ir.KnowledgeBase) -> None:
    answer = kb.why_not({**RA, "pregnant": True}, "biologic_therapies")
    assert ir.WhyNot.model_validate_json(answer.to_json()) == answer
    with pytest.raises(Exception, match="frozen"):
        answer.status = "suggested"  # type: ignore[misc]
    assert answer.notice == ir.NOT_FOR_CLINICAL_USE
    assert answer.knowledge_base == kb.info


def test_bundled_transplant_recipient_with_melanoma() -> None:
    kb = ir.load_rules(engine="native")
    profile = {
        "immune_activity": "underactive",
        "condition": "melanoma",
        "transplant_status": "solid_organ_recipient",
    }
    answer = kb.why_not(profile, "immunostimulants", fields=ALL)
    assert answer.status == "flagged"
    assert any(o.kind == "flag" for o in answer.overrides)
    first = answer.changes[0]
    # stating another transplant status, or leaving it not stated (v3), lifts the flag
    assert [c.field for c in first.changes] == ["transplant_status"]
    assert first.changes[0].after in (None, "none")
    assert first.tier == "first_line"
    assert kb.evaluate(first.profile).tier("immunostimulants") == "first_line"
    for change_set in answer.changes:
        assert kb.evaluate(change_set.profile).tier("immunostimulants") in SUGGESTING


def test_by_default_only_modifiable_fields_change() -> None:
    kb = ir.load_rules(engine="native")
    modifiable = {name for name, field in kb.fields.items() if field.modifiable}
    assert modifiable == {
        "prior_lines_of_therapy",
        "infection_status",
        "latent_tuberculosis",
        "prior_therapy_classes",
        "prior_other_therapies",  # knowledge base v3: therapies outside the four categories
    }
    melanoma = {"immune_activity": "underactive", "condition": "melanoma"}
    answer = kb.why_not(melanoma, "immunosuppressants")
    changed = {c.field for cs in answer.changes for c in cs.changes}
    assert changed <= modifiable  # never "turn melanoma into chronic granulomatous disease"
    everything = kb.why_not(melanoma, "immunosuppressants", fields=ALL)
    assert any(c.field == "condition" for cs in everything.changes for c in cs.changes)


def test_default_search_proposes_treating_a_modifiable_state(kb: ir.KnowledgeBase) -> None:
    tb = kb.why_not(
        {**RA, "prior_lines_of_therapy": 2, "latent_tuberculosis": True}, "biologic_therapies"
    )
    assert [[c.field for c in cs.changes] for cs in tb.changes] == [["latent_tuberculosis"]]
    assert tb.changes[0].changes[0].after in (None, False)  # stated no, or (v3) not stated
    pregnant = kb.why_not({**RA, "pregnant": True}, "biologic_therapies")
    assert [[c.field for c in cs.changes] for cs in pregnant.changes] == []  # not modifiable


def test_fields_limits_the_search(kb: ir.KnowledgeBase) -> None:
    answer = kb.why_not({**RA, "pregnant": True}, "biologic_therapies", fields=["pregnant"])
    assert answer.changes == ()  # prior lines must change too, and it may not
    with pytest.raises(ValueError, match="did you mean 'pregnant'"):
        kb.why_not(RA, "biologic_therapies", fields=["pregnent"])


def test_rules_that_cannot_fire_under_the_search_rank_after_live_ones(make_kb: MakeKB) -> None:
    kb = make_kb(
        [
            rule("NEEDS-PREGNANCY", {"suggest": [sug("cellular_therapies")]}, {"pregnant": True}),
            rule(
                "NEEDS-TWO-CHANGES",
                {"suggest": [sug("cellular_therapies")]},
                {"prior_lines_of_therapy": {"min": 2}, "latent_tuberculosis": True},
            ),
        ]
    )
    # By default pregnancy is not modifiable: the rule that needs it can never fire, so it comes
    # after the live rule even though fewer of its conditions failed.
    default = kb.why_not(RA, "cellular_therapies")
    assert [check.rule_id for check in default.rules] == ["NEEDS-TWO-CHANGES", "NEEDS-PREGNANCY"]
    free = kb.why_not(RA, "cellular_therapies", fields=ALL)
    assert [check.rule_id for check in free.rules] == ["NEEDS-PREGNANCY", "NEEDS-TWO-CHANGES"]


def test_did_you_mean_is_not_a_guess() -> None:
    from immunorules._model.profile import did_you_mean

    conditions = [c.id for c in ir.load_rules(engine="native").conditions]
    assert did_you_mean("giant_cell_arteritis", conditions) == ""
    assert (
        did_you_mean("rheumatoid_arthritus", conditions) == "; did you mean 'rheumatoid_arthritis'?"
    )
    assert did_you_mean("crohns", conditions) == "; did you mean 'crohns_disease'?"


def test_a_change_that_evaluation_does_not_confirm_raises(
    kb: ir.KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proposed change set whose changed profile, once evaluated, does not get the promised
    suggestion means the search and evaluation disagree: a bug, raised, never a set dropped."""
    from immunorules._analysis.whynot import VerificationError

    asked = kb.schema.parse({**RA, "infection_status": "recent_serious"})
    # Without tampering the search proposes one change set, and evaluation confirms it.
    assert len(kb.why_not(asked, "biologic_therapies", fields=ALL).changes) == 1
    evaluate = ir.KnowledgeBase.evaluate

    def as_asked(self: ir.KnowledgeBase, profile: Any) -> ir.Result:
        return evaluate(self, asked)  # every changed profile evaluates as the unchanged one

    monkeypatch.setattr(ir.KnowledgeBase, "evaluate", as_asked)
    with pytest.raises(VerificationError, match="biologic_therapies") as raised:
        kb.why_not(asked, "biologic_therapies", fields=ALL)
    assert "gives no suggestion" in str(raised.value)
    assert isinstance(raised.value, AssertionError)
    assert not isinstance(raised.value, ir.ImmunorulesError | ValueError)


def test_a_change_confirmed_at_another_tier_raises(
    kb: ir.KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The promise includes the tier: an index that predicts first line where evaluation gives
    escalation fails verification too."""
    from immunorules._analysis.whynot import VerificationError
    from immunorules._analysis.whynot.index import Index

    tier = Index.tier

    def first_line_instead(self: Index, fired: int) -> str | None:
        found = tier(self, fired)
        return "first_line" if found == "escalation" else found

    monkeypatch.setattr(Index, "tier", first_line_instead)
    with pytest.raises(VerificationError, match=r"first_line suggestion, but .* gives escalation"):
        kb.why_not({**RA, "infection_status": "recent_serious"}, "biologic_therapies", fields=ALL)


def test_a_search_limited_to_some_fields_says_so(make_kb: MakeKB) -> None:
    """When the search held fields fixed (by default: every field not marked modifiable), a
    "no change" answer is about the fields searched, and says so, naming them."""
    kb = make_kb(
        [
            rule("PREG-ONLY", {"suggest": [sug("cellular_therapies")]}, {"pregnant": True}),
            rule(
                "NEVER-IN-PREG", {"avoid": [{"category": "cellular_therapies"}]}, {"pregnant": True}
            ),
            rule(
                "IN-MS", {"suggest": [sug("immunostimulants")]}, {"condition": "multiple_sclerosis"}
            ),
        ]
    )
    everything = kb.why_not(RA, "cellular_therapies", fields=ALL)
    assert everything.fixed == () and "No valid change" in everything.summary
    limited = kb.why_not(RA, "immunostimulants")  # condition is not modifiable: held fixed
    assert limited.reachable is False and limited.fixed
    assert "No valid change" not in limited.summary
    assert "fields searched" in limited.summary
    assert f"held the {len(limited.fixed)} other field(s) fixed" in limited.summary
    assert all(name in limited.summary for name in limited.changeable)
    assert "held fixed: " in str(limited)
    free = kb.why_not(RA, "immunostimulants", fields=ALL)
    assert free.changes and free.changes[0].size == 1
