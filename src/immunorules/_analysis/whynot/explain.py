"""The explanation part of a why-not answer: the category's status, each rule that could suggest
it with its conditions checked against the profile, the avoid and flag rules that overrode it,
and the one-paragraph summary.

Everything here reads the evaluation result and the rules as they stand for the profile asked
about; this module must never search for changes or evaluate a changed profile.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..._model.profile import ConditionProfile
from ..._model.result import Reason, Result, Tier
from ..._model.rules import Rule
from .index import Relevant, Slots
from .models import ChangeSet, ConditionCheck, Override, RuleCheck, Status, SuggestedTier

__all__ = ["overrides", "rule_checks", "status", "summary"]


def status(result: Result, category: str, relevant: Relevant, profile: ConditionProfile) -> Status:
    """Suggested, flagged, avoided (by an avoid rule, or suggested by a rule that fired but
    lost to an avoidance of its drug classes) or absent."""
    suggestion = result.suggestion(category)
    if suggestion is not None and suggestion.tier != "flagged":
        return "suggested"
    if suggestion is not None:
        return "flagged"
    if any(a.category == category and a.subcategory is None for a in result.avoided) or any(
        rule.holds(profile) for rule in relevant.suggesters
    ):
        return "avoided"
    return "absent"


def rule_checks(
    space: Slots, relevant: Relevant, profile: ConditionProfile, pinned: frozenset[str]
) -> tuple[RuleCheck, ...]:
    """Every rule that suggests the category, checked; those that fired first, then those the
    search can still make fire, then by how many conditions failed."""
    return tuple(
        sorted(
            (_rule_check(space, rule, relevant.category, profile) for rule in relevant.suggesters),
            key=lambda check: (
                not check.fired,
                any(space.pin_of(c.field) in pinned for c in check.failed),  # cannot fire
                len(check.failed),
                check.rule_id,
            ),
        )
    )


def _checks(space: Slots, rule: Rule, profile: ConditionProfile) -> tuple[ConditionCheck, ...]:
    checks = []
    when = space.when(rule)
    fact = space.flat.fact(profile)
    for name in space.flat.domains:  # field order of the profile model
        if name not in when:
            continue
        allowed = when[name]
        actual = fact[name]
        checks.append(
            ConditionCheck(
                field=name,
                requirement=space.flat.describe(name, allowed),
                allowed=tuple(v for v in space.flat.domains[name] if v in allowed),
                actual=actual,
                held=actual in allowed,
            )
        )
    return tuple(checks)


def _rule_check(space: Slots, rule: Rule, category: str, profile: ConditionProfile) -> RuleCheck:
    suggests = [s for s in rule.then.suggest if s.category == category]
    tier: SuggestedTier = (
        "first_line" if any(s.tier == "first_line" for s in suggests) else "escalation"
    )
    subs = tuple(dict.fromkeys(sub for s in suggests for sub in s.subcategories))
    return RuleCheck(
        rule_id=rule.id,
        title=rule.title,
        tier=tier,
        subcategories=subs,
        because=rule.because,
        evidence=rule.evidence,
        fired=rule.holds(profile),
        conditions=_checks(space, rule, profile),
    )


def overrides(
    result: Result, category: str, rules: Sequence[Rule], profile: ConditionProfile
) -> tuple[Override, ...]:
    """The avoid and flag rules that fired against the category; where it is not suggested at
    all, also the flag rules that fired for it (the result does not carry those)."""
    found: list[Override] = []
    for avoidance in result.avoided:
        if avoidance.category == category:
            for reason in avoidance.reasons:
                found.append(
                    Override(kind="avoid", subcategory=avoidance.subcategory, reason=reason)
                )
    suggestion = result.suggestion(category)
    if suggestion is not None:
        for reason in suggestion.flag_reasons:
            found.append(Override(kind="flag", subcategory=None, reason=reason))
    else:
        found.extend(
            Override(kind="flag", subcategory=None, reason=_reason(rule, profile))
            for rule in rules
            if category in rule.then.flag and rule.holds(profile)
        )
    return tuple(found)


def _reason(rule: Rule, profile: ConditionProfile) -> Reason:
    return Reason(
        rule_id=rule.id,
        title=rule.title,
        because=rule.because,
        evidence=rule.evidence,
        matched=rule.matched(profile),
    )


def summary(
    name: str,
    status: Status,
    tier: Tier | None,
    relevant: Relevant,
    change_sets: Sequence[ChangeSet],
    reachable: bool | None,
    max_changes: int,
    *,
    fixed: Sequence[str] = (),
    changeable: Sequence[str] = (),
) -> str:
    """The answer in one or two sentences. ``fixed`` names the fields the search held fixed
    and ``changeable`` those it could change: when some were held fixed, a "no change" answer
    says it is about the fields searched, not every valid change."""
    tier_text = {"first_line": "first-line", "escalation": "escalation", "flagged": "flagged"}
    head = {
        "suggested": f"{name} is suggested ({tier_text.get(str(tier), '')}).",
        "flagged": f"{name} is suggested but flagged: it requires specialist review.",
        "avoided": f"{name} is avoided for this profile.",
        "absent": f"{name} is not suggested: no rule that suggests it applies to this profile.",
    }[status]
    if status == "suggested":
        return head
    if not relevant.suggesters:
        return (
            f"{name} is not suggested: no active rule in this knowledge base suggests it, so no "
            "profile change can make it a suggestion."
        )
    if change_sets:
        smallest = change_sets[0].size
        count = len(change_sets)
        noun = "field" if smallest == 1 else "fields"
        sets = "change set" if count == 1 else "change sets"
        return (
            f"{head} {count} minimal {sets} would make it a suggestion "
            f"(smallest: {smallest} {noun})."
        )
    searched = _searched(fixed, changeable)
    if reachable is True:
        return (
            f"{head} Only a change of more than {max_changes} fields would make it a suggestion; "
            f"such change sets are not listed.{searched}"
        )
    if reachable is False and not fixed:
        return (
            f"{head} No valid change to this profile can make it a first-line or escalation "
            "suggestion."
        )
    if reachable is False:
        return (
            f"{head} No change to the fields searched can make it a first-line or escalation "
            f"suggestion.{searched}"
        )
    return (
        f"{head} No change of up to {max_changes} field(s) makes it a first-line or escalation "
        f"suggestion; larger changes were not searched.{searched}"
    )


def _searched(fixed: Sequence[str], changeable: Sequence[str]) -> str:
    """What the search was limited to, as a sentence (empty when every field was searched)."""
    if not fixed:
        return ""
    free = ", ".join(changeable) if changeable else "none"
    return (
        f" The search changed only {free}; it held the {len(fixed)} other field(s) fixed "
        "(pass fields= or fixed= to search them)."
    )
