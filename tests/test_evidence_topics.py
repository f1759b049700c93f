"""Every evidence entry supports the rules that cite it: each rule's evidence keys belong to its
topic (``tests/data/evidence_topics.yaml``), so a citation cannot drift to a rule about another
condition (knowledge base v2 found a CAR T-cell indication table cited for first-line lymphoma
and a myeloma source cited for lymphoma)."""

from __future__ import annotations

from pathlib import Path

import yaml

import immunorules as ir
from immunorules._model.rules import Rule

TOPICS = yaml.safe_load((Path(__file__).parent / "data" / "evidence_topics.yaml").read_text())
TOPIC_FILES = ("safety.yaml", "fallbacks.yaml")  # rules whose topic is not their condition


def _topics(rule: Rule, kb: ir.KnowledgeBase) -> set[str]:
    if rule.id in TOPICS["rule_topics"]:
        return set(TOPICS["rule_topics"][rule.id])
    conditions = rule.when.get("condition")
    if conditions is not None and None not in conditions:
        return {str(condition) for condition in conditions}
    areas = rule.when.get("disease_area", frozenset(kb.schema.disease_areas))
    return {f"area:{area}" for area in areas}


def test_every_rule_cites_evidence_of_its_own_topic() -> None:
    kb = ir.load_rules(engine="native")
    evidence = TOPICS["evidence"]
    misplaced = [
        f"{rule.id} cites {key} ({', '.join(evidence.get(key, ['no topic']))}) "
        f"for {', '.join(sorted(_topics(rule, kb)))}"
        for rule in kb.rules
        for key in rule.evidence
        if not set(evidence.get(key, ())) & _topics(rule, kb)
    ]
    assert misplaced == []


def test_the_topic_map_is_complete_and_current() -> None:
    kb = ir.load_rules(engine="native")
    cited = {key for rule in kb.rules for key in rule.evidence}
    assert set(TOPICS["evidence"]) == cited, "map exactly the evidence keys the rules cite"
    in_topic_files = {rule.id for rule in kb.rules if Path(rule.file).name in TOPIC_FILES}
    assert set(TOPICS["rule_topics"]) == in_topic_files
    known = {*kb.schema.conditions, *(f"area:{area}" for area in kb.schema.disease_areas)}
    for key, topics in TOPICS["evidence"].items():
        for topic in topics:
            assert topic in known or topic.startswith(("safety:", "fallback:")), (key, topic)


def test_unverified_sources_are_disclosed_in_the_rule_text() -> None:
    """A rule that rests on a source whose text was not read says so in its own words."""
    kb = ir.load_rules(engine="native")
    unverified = {key for key, entry in kb.evidence.items() if entry.confidence == "unverified"}
    silent = [
        rule.id
        for rule in kb.active_rules
        if set(rule.evidence) & unverified
        and not any(word in rule.because for word in ("unverified", "not re-read", "not read"))
    ]
    assert silent == []
