"""What a patient's cards are about: the drug classes the rules that fired for this profile
suggest, before any avoid removes one, and the classes being ordered.

A ``patient-view`` card about a class that no fired rule suggests for the patient's problem
(an avoid that only guards a class used elsewhere) says nothing about this patient's treatment;
``order-select`` adds the ordered classes, so an avoid of the class being ordered is always
shown. This module only reads rules' effects; it never evaluates or decides anything clinical.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from .._model.result import Reason, Result
from .._model.rules import Rule
from .._model.schema import Schema

__all__ = ["Focus", "RuleSource"]


class RuleSource(Protocol):
    """What the cards need of a knowledge base: its rules by id (a ``KnowledgeBase`` is one)."""

    def rule(self, rule_id: str) -> Rule: ...


@dataclass(frozen=True)
class Focus:
    """The classes a result's cards are about: by category, the classes suggested (an empty
    set: every class of the category)."""

    schema: Schema
    rules: RuleSource
    classes: dict[str, frozenset[str]]

    @classmethod
    def of(
        cls, result: Result, rules: RuleSource, schema: Schema, *, ordered: Iterable[str] = ()
    ) -> Focus:
        """The focus of ``result`` (whose vocabulary is ``schema``): what its fired rules
        suggest (before avoids), and the ``ordered`` classes."""
        classes: dict[str, set[str]] = {}
        for rule_id in result.fired_rules:
            for suggest in rules.rule(rule_id).then.suggest:
                named = classes.setdefault(suggest.category, set())
                if not suggest.subcategories:
                    classes[suggest.category] = named | {"*"}
                named.update(suggest.subcategories)
        for sub in ordered:
            classes.setdefault(schema.sub_category[sub], set()).add(sub)
        return cls(
            schema,
            rules,
            {
                category: frozenset() if "*" in named else frozenset(named)
                for category, named in classes.items()
            },
        )

    def about(self, category: str, subcategory: str | None) -> bool:
        """Whether a category (``subcategory`` None) or a class of it is in focus: the category
        is, or the class is a suggested one, one of its finer classes or a coarser one."""
        if category not in self.classes:
            return False
        named = self.classes[category]
        if subcategory is None or not named:
            return True
        return any(
            self.schema.covers(one, subcategory) or self.schema.covers(subcategory, one)
            for one in named
        )

    def rule_about(self, rule_id: str) -> bool:
        """Whether a rule's effects concern the focus: it suggests or flags something, has no
        avoid, or avoids a category or class in focus."""
        then = self.rules.rule(rule_id).then
        if then.suggest or then.flag or not then.avoid:
            return True
        return any(self.about(avoid.category, avoid.subcategory) for avoid in then.avoid)

    def reasons_about(self, reasons: Iterable[Reason]) -> bool:
        """Whether any of ``reasons`` comes from a rule about the focus."""
        return any(self.rule_about(reason.rule_id) for reason in reasons)
