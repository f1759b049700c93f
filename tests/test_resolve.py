"""Resolution semantics (SPEC §5): merge, avoid > flag > suggest, conflicts, coverage, order."""

from __future__ import annotations

import pytest

import immunorules as ir

from .conftest import MakeKB, rule

RA = {"immune_activity": "overactive", "condition": "rheumatoid_arthritis"}


def sug(
    category: str, tier: str = "first_line", subs: list[str] | None = None
) -> dict[str, object]:
    entry: dict[str, object] = {"category": category, "tier": tier}
    if subs is not None:
        entry["subcategories"] = subs
    return entry


def test_suggestions_merge_best_tier_and_union_of_classes(make_kb: MakeKB) -> None:
    kb = make_kb(
        [
            rule("A-1", {"suggest": [sug("immunosuppressants", "escalation", ["jak_inhibitors"])]}),
            rule(
                "A-2", {"suggest": [sug("immunosuppressants", "first_line", ["corticosteroids"])]}
            ),
        ]
    )
    (suggestion,) = kb.evaluate(RA).suggestions
    assert suggestion.tier == "first_line"
    assert suggestion.subcategories == ("corticosteroids", "jak_inhibitors")  # vocabulary order
    assert [r.rule_id for r in suggestion.reasons] == ["A-1", "A-2"]
    assert suggestion.direction == "suppress"


def test_category_avoid_beats_flag_and_suggest(make_kb: MakeKB) -> None:
    kb = make_kb(
        [
            rule("A-1", {"suggest": [sug("biologic_therapies")]}),
            rule("A-2", {"flag": ["biologic_therapies"]}),
            rule("A-3", {"avoid": [{"category": "biologic_therapies"}]}),
        ]
    )
    result = kb.evaluate(RA)
    assert result.suggestions == ()
    assert [(a.category, a.subcategory) for a in result.avoided] == [("biologic_therapies", None)]
    assert result.covered  # the suggest (and the category avoid) are decisive


def test_flag_downgrades_but_creates_nothing(make_kb: MakeKB) -> None:
    kb = make_kb(
        [
            rule("A-1", {"suggest": [sug("immunostimulants", subs=["checkpoint_inhibitors"])]}),
            rule("A-2", {"flag": ["immunostimulants", "cellular_therapies"]}),
        ]
    )
    result = kb.evaluate(RA)
    (suggestion,) = result.suggestions
    assert (suggestion.category, suggestion.tier) == ("immunostimulants", "flagged")
    assert suggestion.requires_specialist_review
    assert [r.rule_id for r in suggestion.flag_reasons] == ["A-2"]


def test_subcategory_avoid_removes_class_then_category_when_all_named(make_kb: MakeKB) -> None:
    named = [
        rule("A-1", {"suggest": [sug("immunosuppressants", subs=["antimetabolites"])]}),
        rule("A-2", {"avoid": [{"subcategory": "antimetabolites"}]}),
    ]
    result = make_kb(named).evaluate(RA)
    assert result.suggestions == ()
    # the bundled antimetabolites have finer classes, which an avoid of the parent covers
    assert [(a.category, a.subcategory) for a in result.avoided] == [
        ("immunosuppressants", "antimetabolites"),
        ("immunosuppressants", "impdh_inhibitors"),
        ("immunosuppressants", "thiopurines"),
    ]
    unnamed = [*named, rule("A-3", {"suggest": [sug("immunosuppressants", "escalation")]})]
    (suggestion,) = make_kb(unnamed).evaluate(RA).suggestions
    assert suggestion.subcategories == ()
    assert suggestion.tier == "first_line"


def test_conflict_resolved_by_flag_and_unresolved_without(make_kb: MakeKB) -> None:
    both = [
        rule("S-1", {"suggest": [sug("immunosuppressants", subs=["mtor_inhibitors"])]}),
        rule("T-1", {"suggest": [sug("immunostimulants", subs=["checkpoint_inhibitors"])]}),
    ]
    (conflict,) = make_kb(both).evaluate(RA).conflicts
    assert not conflict.resolved
    assert conflict.categories == ("immunosuppressants", "immunostimulants")
    assert conflict.rule_ids == ("S-1", "T-1")
    flagged = make_kb([*both, rule("F-1", {"flag": ["immunostimulants"]})]).evaluate(RA)
    (conflict,) = flagged.conflicts
    assert conflict.resolved


def test_direction_counts_per_subcategory_and_category_default(make_kb: MakeKB) -> None:
    kb = make_kb(
        [
            rule(
                "A-1",
                {
                    "suggest": [
                        sug(
                            "biologic_therapies",
                            subs=["tnf_inhibitors", "bispecific_t_cell_engagers"],
                        )
                    ]
                },
            ),
            rule("A-2", {"suggest": [sug("cellular_therapies")]}),
        ]
    )
    result = kb.evaluate(RA)
    assert [s.direction for s in result.suggestions] == ["mixed", None]
    assert len(result.conflicts) == 1 and not result.conflicts[0].resolved


def test_coverage_needs_a_decisive_rule(make_kb: MakeKB) -> None:
    caution_only = make_kb([rule("A-1", {"advise": ["hbv_screen"]})]).evaluate(RA)
    assert not caution_only.covered and caution_only.fired_rules == ("A-1",)
    referral = make_kb([rule("A-1", {"advise": ["multidisciplinary_review"]})]).evaluate(RA)
    assert referral.covered
    sub_avoid = make_kb([rule("A-1", {"avoid": [{"subcategory": "jak_inhibitors"}]})]).evaluate(RA)
    assert not sub_avoid.covered


def test_output_ordering(make_kb: MakeKB) -> None:
    kb = make_kb(
        [
            rule("Z-1", {"advise": ["serious_infection_risk", "multidisciplinary_review"]}),
            rule("A-1", {"advise": ["hbv_screen", "targeted_therapy_first"]}),
            rule(
                "M-1",
                {
                    "avoid": [
                        {"subcategory": "tnf_inhibitors"},
                        {"category": "immunostimulants"},
                        {"category": "immunosuppressants"},
                    ]
                },
            ),
            rule("B-1", {"suggest": [sug("cellular_therapies"), sug("immunosuppressants")]}),
        ]
    )
    result = kb.evaluate(RA)
    assert [a.key for a in result.advisories] == [
        "multidisciplinary_review",
        "targeted_therapy_first",
        "hbv_screen",
        "serious_infection_risk",
    ]
    assert [(a.category, a.subcategory) for a in result.avoided] == [
        ("immunosuppressants", None),
        ("immunostimulants", None),
        ("biologic_therapies", "tnf_inhibitors"),
        ("biologic_therapies", "anti_tnf_antibodies"),  # finer classes follow in vocabulary order
        ("biologic_therapies", "tnf_receptor_fusion_proteins"),
    ]
    assert [s.category for s in result.suggestions] == ["cellular_therapies"]
    assert result.fired_rules == ("A-1", "B-1", "M-1", "Z-1")


def test_reasons_carry_matched_values(make_kb: MakeKB) -> None:
    kb = make_kb(
        [
            rule(
                "A-1",
                {"suggest": [sug("immunosuppressants")]},
                when={"condition": "rheumatoid_arthritis", "prior_lines_of_therapy": {"max": 2}},
            )
        ]
    )
    (reason,) = kb.evaluate({**RA, "prior_lines_of_therapy": 1}).suggestions[0].reasons
    assert reason.matched == {"condition": "rheumatoid_arthritis", "prior_lines_of_therapy": 1}
    assert reason.evidence == ("E1",) and reason.because == "Because of A-1."


def test_shared_reasons_cannot_be_edited_in_place(make_kb: MakeKB) -> None:
    import pickle

    kb = make_kb(
        [
            rule(
                "A-1",
                {"suggest": [sug("immunosuppressants")]},
                when={"condition": "rheumatoid_arthritis"},
            )
        ]
    )
    first, second = kb.evaluate(RA), kb.evaluate({**RA, "pregnant": True})
    reason = first.suggestions[0].reasons[0]
    assert reason.matched == second.suggestions[0].reasons[0].matched
    with pytest.raises(TypeError, match="read-only"):
        reason.matched["condition"] = "psoriasis"
    with pytest.raises(TypeError, match="read-only"):
        reason.matched.update(condition="psoriasis")
    assert pickle.loads(pickle.dumps(first)) == first
    copy = ir.Result.model_validate_json(first.model_dump_json())
    assert copy == first
    with pytest.raises(TypeError, match="read-only"):
        copy.suggestions[0].reasons[0].matched.clear()
    assert second.suggestions[0].reasons[0].matched == {"condition": "rheumatoid_arthritis"}


# -- goals ---------------------------------------------------------------------------------------


def _direction(result: ir.Result, category: str) -> str | None:
    suggestion = result.suggestion(category)
    assert suggestion is not None
    return suggestion.direction


def test_a_goal_overrides_the_class_direction_and_conflicts_follow_goals(make_kb: MakeKB) -> None:
    """An anti-CD20 antibody suppresses by class; aimed at a lymphoma it is cytotoxic, so it
    does not oppose a stimulating therapy suggested beside it."""
    car_t = sug("cellular_therapies", "escalation", ["car_t_cells"])
    anti_cd20 = sug("biologic_therapies", "first_line", ["anti_cd20_antibodies"])
    plain = make_kb([rule("A-1", {"suggest": [anti_cd20, car_t]})])
    (conflict,) = plain.evaluate(RA).conflicts
    assert not conflict.resolved
    assert _direction(plain.evaluate(RA), "biologic_therapies") == "suppress"

    aimed = make_kb([rule("A-1", {"suggest": [{**anti_cd20, "goal": "cytotoxic"}, car_t]})])
    result = aimed.evaluate(RA)
    assert result.conflicts == ()
    assert _direction(result, "biologic_therapies") == "cytotoxic"
    assert aimed.rule("A-1").then.suggest[0].goal == "cytotoxic"
    assert (
        ir.audit(aimed, scope={"condition": "rheumatoid_arthritis"}).filter(
            kind="unresolved_conflict"
        )
        == ()
    )


def test_a_class_counts_with_every_goal_it_was_suggested_with(make_kb: MakeKB) -> None:
    """Merged suggestions keep each rule's goal: the same class suggested plainly by one rule
    and with a goal by another counts with both directions."""
    steroids = sug("immunosuppressants", "first_line", ["corticosteroids"])
    kb = make_kb(
        [
            rule("A-1", {"suggest": [{**steroids, "goal": "cytotoxic"}]}),
            rule("A-2", {"suggest": [steroids]}),
            rule("A-3", {"suggest": [sug("immunostimulants", subs=["checkpoint_inhibitors"])]}),
        ]
    )
    result = kb.evaluate(RA)
    assert _direction(result, "immunosuppressants") == "mixed"
    (conflict,) = result.conflicts
    assert conflict.rule_ids == ("A-1", "A-2", "A-3")
    alone = make_kb([rule("A-1", {"suggest": [{**steroids, "goal": "cytotoxic"}]})])
    assert _direction(alone.evaluate(RA), "immunosuppressants") == "cytotoxic"


def test_a_classless_suggestion_counts_with_its_goal(make_kb: MakeKB) -> None:
    kb = make_kb(
        [
            rule("A-1", {"suggest": [{**sug("biologic_therapies"), "goal": "stimulate"}]}),
            rule("A-2", {"suggest": [sug("immunosuppressants", subs=["corticosteroids"])]}),
        ]
    )
    result = kb.evaluate(RA)
    assert _direction(result, "biologic_therapies") == "stimulate"
    (conflict,) = result.conflicts
    assert conflict.categories == ("immunosuppressants", "biologic_therapies")
