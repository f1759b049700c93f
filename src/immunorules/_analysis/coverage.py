"""Golden-case coverage: which rules the golden cases fire, and which effects they check.

A rule is tested when some golden case (of any active rule) fires it. An effect of a fired rule
(a suggestion or flag of a category, an avoid, an advisory) is observed when some golden case
that fires the rule checks it: its expectation names the effect's category (in ``suggest``,
``flagged`` or ``not``; golden cases speak of categories, so an avoid of a drug class is checked
through its category) or the advisory (in ``advise``). Nothing here judges whether a case
passes (the audit does); this module reads golden cases and never writes or renders anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, computed_field

from .._model.base import WithoutV1
from .._model.result import NOT_FOR_CLINICAL_USE, KnowledgeBaseInfo, Rendered
from .._model.rules import Rule
from .._model.schema import Schema
from .golden import golden_cases

if TYPE_CHECKING:
    from .._evaluate.protocol import KnowledgeBaseLike as KnowledgeBase

__all__ = ["Coverage", "UnobservedEffect", "coverage", "rule_effects"]


class _Frozen(WithoutV1, BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UnobservedEffect(_Frozen):
    """An effect of a rule that golden cases fire, which no golden case that fires it checks:
    ``effect`` reads ``suggest:<category>``, ``flag:<category>``, ``avoid:<category or drug
    class>`` or ``advise:<advisory>``."""

    rule_id: str
    effect: str


class Coverage(Rendered, _Frozen):
    """How much of a knowledge base its golden cases exercise.

    ``untested_rules``: the active rules that no golden case fires; ``unobserved_effects``: the
    effects of fired rules that no golden case firing them checks; ``rule_share`` and
    ``effect_share``: the tested rules over all active rules, and the checked effects over
    the effects of all active rules (1.0 when there are none); ``scope_share``: the regions the
    rule set claims to cover (``scope:``) that some golden case lies in, over all of them, with
    ``untouched_scope`` naming the others."""

    _render_kind: ClassVar[str] = "coverage"

    knowledge_base: KnowledgeBaseInfo
    golden_cases: int
    """How many golden cases (of active rules) were run."""
    rules: int
    """How many active rules there are."""
    effects: int
    """How many effects the active rules have in all."""
    untested_effects: int
    """How many of them are effects of untested rules (so checked by no golden case)."""
    untested_rules: tuple[str, ...]
    unobserved_effects: tuple[UnobservedEffect, ...]
    scope_regions: int = 1
    """How many regions the rule set claims to cover (its ``scope:`` entries; 1, the whole
    profile space, without any)."""
    untouched_scope: tuple[str, ...] = ()
    """The scope regions (as text) that no golden case's profile lies in."""
    notice: str = NOT_FOR_CLINICAL_USE

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rule_share(self) -> float:
        """Tested rules over all active rules."""
        return 1.0 if not self.rules else (self.rules - len(self.untested_rules)) / self.rules

    @computed_field  # type: ignore[prop-decorator]
    @property
    def observed_effects(self) -> int:
        """Effects that some golden case firing their rule checks."""
        return self.effects - self.untested_effects - len(self.unobserved_effects)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def effect_share(self) -> float:
        """Checked effects over the effects of all active rules."""
        return 1.0 if not self.effects else self.observed_effects / self.effects

    @computed_field  # type: ignore[prop-decorator]
    @property
    def scope_share(self) -> float:
        """The scope regions that some golden case's profile lies in, over all of them."""
        touched = self.scope_regions - len(self.untouched_scope)
        return 1.0 if not self.scope_regions else touched / self.scope_regions

    def to_json(self, *, indent: int | None = 2) -> str:
        """The coverage as JSON (with ``rule_share``, ``effect_share``, ``observed_effects``)."""
        return self.model_dump_json(indent=indent)


def rule_effects(rule: Rule, schema: Schema) -> tuple[tuple[str, str], ...]:
    """A rule's effects as ``(name, category or advisory)`` pairs, e.g. ``("avoid:jak_inhibitors",
    "targeted_synthetic_dmards")``, ``("advise:hbv_screen", "")``: each as its rule file wrote
    it (a drug class avoided stands for its finer classes too)."""
    then = rule.then
    found: dict[str, str] = {}
    for suggestion in then.suggest:
        found.setdefault(f"suggest:{suggestion.category}", suggestion.category)
    for category in then.flag:
        found.setdefault(f"flag:{category}", category)
    avoided = {a.subcategory for a in then.avoid if a.subcategory is not None}
    implied = {finer for name in avoided for finer in schema.descendants(name)}
    for avoid in then.avoid:
        name = avoid.subcategory or avoid.category
        if avoid.subcategory is None or avoid.subcategory not in implied:
            found.setdefault(f"avoid:{name}", avoid.category)
    for key in then.advise:
        found.setdefault(f"advise:{key}", "")
    return tuple(found.items())


def coverage(kb: KnowledgeBase) -> Coverage:
    """Run every golden case of ``kb``'s active rules and say which rules they fire and which
    of those rules' effects they check: see :func:`immunorules.coverage`."""
    cases = list(golden_cases(kb))
    checked: dict[str, set[str]] = {}  # rule id -> the effects checked (by cases firing it)
    for ref in cases:
        result = kb.evaluate(ref.case.profile, depends_on=False)
        expect = ref.case.expect
        categories = {*expect.suggest, *expect.flagged, *expect.not_}
        advisories = set(expect.advise)
        for rule_id in result.fired_rules:
            seen = checked.setdefault(rule_id, set())
            for name, category in rule_effects(kb.rule(rule_id), kb.schema):
                advisory = name.startswith("advise:") and name[7:] in advisories
                if advisory or (category and category in categories):
                    seen.add(name)
    untested: list[str] = []
    unobserved: list[UnobservedEffect] = []
    effects = untested_effects = 0
    for rule in kb.active_rules:
        names = [name for name, _ in rule_effects(rule, kb.schema)]
        effects += len(names)
        if rule.id not in checked:
            untested.append(rule.id)
            untested_effects += len(names)
            continue
        unobserved += [
            UnobservedEffect(rule_id=rule.id, effect=name)
            for name in names
            if name not in checked[rule.id]
        ]
    regions = kb.scope
    untouched = tuple(
        _region_text(region, kb)
        for region in regions
        if not any(region.holds(ref.case.profile) for ref in cases)
    )
    if not regions and not cases:
        untouched = ("the whole profile space",)
    return Coverage(
        knowledge_base=kb.info,
        golden_cases=len(cases),
        rules=len(kb.active_rules),
        effects=effects,
        untested_effects=untested_effects,
        untested_rules=tuple(untested),
        unobserved_effects=tuple(unobserved),
        scope_regions=len(regions) or 1,
        untouched_scope=untouched,
    )


def _region_text(region: Rule, kb: KnowledgeBase) -> str:
    """A scope region in words, e.g. ``condition = giant_cell_arteritis; age >= 50``."""
    parts = [kb.space.describe(name, allowed) for name, allowed in region.when.items()]
    parts += [test.describe(name) for name, test in region.sets.items()]
    return "; ".join(parts) or "the whole profile space"
