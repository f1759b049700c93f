"""CDS Hooks cards turn what an answer depends on into "check before ordering" content: a
``warning`` card naming the facts not stated and what stating them would change."""

from __future__ import annotations

import pytest

import immunorules as ir

from .conftest import require

require("starlette", reason="needs the service extra: pip install 'immunorules[service]'")

from immunorules.service import MAX_SUMMARY, cards_from_result, order_cards  # noqa: E402

RA = {"immune_activity": "overactive", "condition": "rheumatoid_arthritis"}


@pytest.fixture(scope="module")
def kb() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


def _depending(result: ir.Result, fields: int = 2) -> ir.Result:
    sub = result.suggestions[0].subcategories[0]
    names = [
        "pregnant",
        "latent_tuberculosis",
        "heart_failure",
        "hepatitis_b",
        "malignancy_history",
    ]
    dependencies = tuple(
        ir.Dependency(
            field=name,
            values=(True,),
            effect=f"if {name}: <b>{sub}</b> avoided",
            affects=(sub,) if index == 0 else (),
        )
        for index, name in enumerate(names[:fields])
    )
    return result.model_copy(
        update={
            "unstated": tuple(names),
            "depends_on": dependencies,
            "assumed": {"severity": "mild"},
        }
    )


def _checks(cards: list[dict[str, object]]) -> list[dict[str, object]]:
    return [c for c in cards if str(c["summary"]).startswith(("Check before", "Check the"))]


def test_no_check_card_when_the_answer_depends_on_nothing(kb: ir.KnowledgeBase) -> None:
    result = kb.evaluate(RA).model_copy(update={"depends_on": (), "warnings": ()})
    assert _checks(cards_from_result(result)) == []


def test_a_warning_card_names_the_facts_to_check(kb: ir.KnowledgeBase) -> None:
    result = _depending(kb.evaluate(RA))
    cards = cards_from_result(result)
    (card,) = _checks(cards)
    assert card["indicator"] == "warning"
    summary = str(card["summary"])
    assert summary.startswith("Check before ordering: pregnant, latent_tuberculosis")
    assert len(summary) <= MAX_SUMMARY
    detail = str(card["detail"])
    assert detail.startswith("> **Research prototype")
    assert "**pregnant** = `true`: if pregnant: \\<b\\>" in detail  # escaped
    assert "(affects Antifolate csDMARDs)" in detail
    assert "**latent\\_tuberculosis** = `true`" in detail
    assert "Assumed for this advice (not from the record): `severity=mild`." in detail
    assert "<b>" not in detail
    # warnings come before info cards
    indicators = [c["indicator"] for c in cards]
    assert indicators.index("warning") < indicators.index("info")
    # the part can be left out
    assert _checks(cards_from_result(result, parts=("suggestions",))) == []


def test_the_summary_stays_short_with_many_facts(kb: ir.KnowledgeBase) -> None:
    (card,) = _checks(cards_from_result(_depending(kb.evaluate(RA), fields=5)))
    summary = str(card["summary"])
    assert len(summary) <= MAX_SUMMARY
    assert "more" in summary or "malignancy_history" in summary


def test_warnings_alone_make_a_card(kb: ir.KnowledgeBase) -> None:
    result = kb.evaluate(RA, depends_on=False).model_copy(
        update={"warnings": ("immune activity contradicts",)}
    )
    (card,) = _checks(cards_from_result(result))
    assert card["summary"] == "Check the profile: immune activity contradicts"
    assert "**Warnings:**" in str(card["detail"])


def test_order_cards_check_the_facts_about_the_ordered_class(kb: ir.KnowledgeBase) -> None:
    result = _depending(kb.evaluate(RA))
    sub = result.suggestions[0].subcategories[0]
    cards = order_cards(result, {sub: ["methotrexate 15 mg"]})
    (card,) = _checks(cards)
    assert str(card["summary"]).startswith("Check before ordering Antifolate csDMARDs: pregnant")
    assert "latent" not in str(card["summary"])  # it affects no class
    other = next(
        s
        for s in kb.schema.subcategories
        if s != sub and kb.schema.sub_category[s] != result.suggestions[0].category
    )
    assert _checks(order_cards(result, {other: ["x"]})) == []
