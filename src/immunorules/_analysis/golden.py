"""Golden cases: the ``tests:`` of a rule file, checked against a knowledge base.

Shared by the audit (``golden_case_failed``), :mod:`immunorules.testing` and the pytest plugin,
so all three agree on what an expectation means:

- ``suggest``: the category is suggested at ``first_line`` or ``escalation``;
- ``flagged``: the category is suggested with tier ``flagged``;
- ``not``: the category is not suggested at ``first_line`` or ``escalation`` (absent or flagged);
- ``advise``: the advisory is in the result.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._model.result import Result
from .._model.rules import Expectation, GoldenCase, Rule

if TYPE_CHECKING:
    from .._evaluate.protocol import KnowledgeBaseLike as KnowledgeBase

__all__ = ["GoldenCaseRef", "expectation_problems", "golden_cases"]

_CONFIDENT = ("first_line", "escalation")


@dataclass(frozen=True, slots=True)
class GoldenCaseRef:
    """One golden case of one rule, with a readable id such as ``RA-FIRST[1]``."""

    rule: Rule
    index: int  # 1-based position in the rule's ``tests``
    case: GoldenCase

    @property
    def id(self) -> str:
        return f"{self.rule.id}[{self.index}]"

    @property
    def location(self) -> str:
        line = self.case.line if self.case.line is not None else self.rule.line
        return self.rule.file if line is None else f"{self.rule.file}:{line}"

    def problems(self, kb: KnowledgeBase) -> list[str]:
        """What does not hold (empty when the case passes)."""
        return expectation_problems(kb.evaluate(self.case.profile), self.case.expect)

    def describe_failure(self, kb: KnowledgeBase) -> str | None:
        """A readable failure message, or None when the case passes."""
        result = kb.evaluate(self.case.profile)
        problems = expectation_problems(result, self.case.expect)
        if not problems:
            return None
        given = self.case.profile.model_dump(mode="json", exclude_defaults=True)
        shown = ", ".join(f"{key}={value}" for key, value in given.items())
        got = ", ".join(f"{s.category} ({s.tier})" for s in result.suggestions) or "nothing"
        lines = [
            f"golden case {self.id} at {self.location} failed:",
            *(f"  - {problem}" for problem in problems),
            f"  profile: {shown}",
            f"  suggested: {got}; fired rules: {', '.join(result.fired_rules) or 'none'}",
        ]
        return "\n".join(lines)


def golden_cases(kb: KnowledgeBase, *, include_inactive: bool = False) -> Iterator[GoldenCaseRef]:
    """Every golden case of the knowledge base's (active) rules, in rule-id order."""
    for rule in kb.rules:
        if rule.active or include_inactive:
            for index, case in enumerate(rule.tests, start=1):
                yield GoldenCaseRef(rule, index, case)


def expectation_problems(result: Result, expect: Expectation) -> list[str]:
    """Every expectation that ``result`` does not meet, as a sentence."""
    problems: list[str] = []
    avoided = {a.category for a in result.avoided if a.subcategory is None}

    def state(category: str) -> str:
        tier = result.tier(category)
        if tier is not None:
            return f"it is {tier}"
        return "it is avoided" if category in avoided else "it is not suggested"

    for category in expect.suggest:
        if result.tier(category) not in _CONFIDENT:
            problems.append(
                f"expected {category} to be suggested (first_line or escalation), "
                f"but {state(category)}"
            )
    for category in expect.flagged:
        if result.tier(category) != "flagged":
            problems.append(f"expected {category} to be flagged, but {state(category)}")
    for category in expect.not_:
        if result.tier(category) in _CONFIDENT:
            problems.append(f"expected {category} not to be suggested, but {state(category)}")
    given = {advisory.key for advisory in result.advisories}
    for key in expect.advise:
        if key not in given:
            problems.append(f"expected advisory {key}, but it is not given")
    return problems
