"""A naive plain-Python loop: every rule, every condition, for every fact."""

from __future__ import annotations

from collections.abc import Sequence

from immunorules._model.matching import RuleMatcher

from . import Anchor, Fact


def build(rules: Sequence[RuleMatcher]) -> Anchor:
    compiled = [(rule.rule_id, rule.tests) for rule in rules]

    def match(fact: Fact) -> frozenset[str]:
        return frozenset(
            rule_id
            for rule_id, tests in compiled
            if all(fact[name] in allowed for name, allowed in tests)
        )

    return Anchor("naive Python loop", match, "for rule in rules: all(value in allowed ...)")
