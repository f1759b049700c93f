"""Resolution: from the rules that fired to a :class:`Result` (SPEC §5).

A DMN-style collect policy, independent of rule order: suggestions merge per category (best
tier, union of drug classes); avoid beats flag beats suggest; advisories are a union; opposite
directions among what remains are reported as a conflict.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from ._profile import ConditionProfile
from ._result import (
    Advisory,
    Avoidance,
    Conflict,
    KnowledgeBaseInfo,
    Reason,
    Result,
    Suggestion,
)
from ._rules import Rule
from ._vocabulary import CATEGORIES, REFERRALS, SUBCATEGORIES, vocabulary

__all__ = ["is_decisive", "resolve", "suggestion_directions"]

_CATEGORY_ORDER = {name: index for index, name in enumerate(CATEGORIES)}
_SUBCATEGORY_ORDER = {name: index for index, name in enumerate(SUBCATEGORIES)}
_OPPOSITE = ("suppress", "stimulate")


def is_decisive(rule: Rule) -> bool:
    """Whether a rule covers the profiles it fires on: it suggests, avoids a whole category, or
    refers."""
    effects = rule.then
    return bool(
        effects.suggest
        or any(avoid.subcategory is None for avoid in effects.avoid)
        or REFERRALS.intersection(effects.advise)
    )


def suggestion_directions(category: str, subcategories: Iterable[str]) -> frozenset[str]:
    """The directions a suggestion counts with: its classes', or its category's default."""
    vocab = vocabulary()
    subs = tuple(subcategories)
    if subs:
        return frozenset(vocab.subcategory(sub).direction for sub in subs)
    default = vocab.category(category).direction
    return frozenset() if default is None else frozenset({default})


def resolve(profile: ConditionProfile, fired: Sequence[Rule], info: KnowledgeBaseInfo) -> Result:
    """Apply the collect policy to the rules that fired for ``profile``."""
    rules = sorted(fired, key=lambda rule: rule.id)
    reasons = {rule.id: _reason(rule, profile) for rule in rules}

    tiers: dict[str, str] = {}
    subs: dict[str, set[str]] = defaultdict(set)
    suggesters: dict[str, list[str]] = defaultdict(list)
    all_named: dict[str, bool] = {}
    flaggers: dict[str, list[str]] = defaultdict(list)
    avoiders: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    advisers: dict[str, list[str]] = defaultdict(list)
    for rule in rules:
        for suggest in rule.then.suggest:
            category = suggest.category
            if tiers.get(category) != "first_line":
                tiers[category] = suggest.tier
            subs[category].update(suggest.subcategories)
            if rule.id not in suggesters[category]:
                suggesters[category].append(rule.id)
            all_named[category] = all_named.get(category, True) and bool(suggest.subcategories)
        for category in rule.then.flag:
            flaggers[category].append(rule.id)
        for avoid in rule.then.avoid:
            avoiders[(avoid.category, avoid.subcategory)].append(rule.id)
        for key in rule.then.advise:
            advisers[key].append(rule.id)

    avoided_subs = {sub for (_, sub) in avoiders if sub is not None}
    suggestions: list[Suggestion] = []
    for category in sorted(tiers, key=_CATEGORY_ORDER.__getitem__):
        if (category, None) in avoiders:
            continue
        remaining = sorted(subs[category] - avoided_subs, key=_SUBCATEGORY_ORDER.__getitem__)
        if all_named[category] and not remaining:
            continue
        flagged = category in flaggers
        directions = suggestion_directions(category, remaining)
        suggestions.append(
            Suggestion(
                category=category,
                tier="flagged" if flagged else tiers[category],  # type: ignore[arg-type]
                subcategories=tuple(remaining),
                direction=_direction(directions),
                requires_specialist_review=flagged,
                reasons=tuple(reasons[rule_id] for rule_id in suggesters[category]),
                flag_reasons=tuple(reasons[rule_id] for rule_id in flaggers.get(category, ())),
            )
        )

    vocab = vocabulary()
    avoided = [
        Avoidance(
            category=category,
            subcategory=sub,
            reasons=tuple(reasons[rule_id] for rule_id in rule_ids),
        )
        for (category, sub), rule_ids in sorted(
            avoiders.items(),
            key=lambda item: (
                _CATEGORY_ORDER[item[0][0]],
                -1 if item[0][1] is None else _SUBCATEGORY_ORDER[item[0][1]],
            ),
        )
    ]
    advisories = [
        Advisory(
            key=key,
            kind=vocab.advisory(key).kind,
            message=vocab.advisory(key).message,
            reasons=tuple(reasons[rule_id] for rule_id in rule_ids),
        )
        for key, rule_ids in sorted(
            advisers.items(), key=lambda item: (vocab.advisory(item[0]).kind != "referral", item[0])
        )
    ]
    return Result(
        profile=profile,
        suggestions=tuple(suggestions),
        avoided=tuple(avoided),
        advisories=tuple(advisories),
        conflicts=_conflicts(suggestions),
        covered=any(is_decisive(rule) for rule in rules),
        fired_rules=tuple(rule.id for rule in rules),
        knowledge_base=info,
    )


def _reason(rule: Rule, profile: ConditionProfile) -> Reason:
    return Reason(
        rule_id=rule.id,
        title=rule.title,
        because=rule.because,
        evidence=rule.evidence,
        matched=rule.matched(profile),
    )


def _direction(directions: frozenset[str]) -> str | None:
    if not directions:
        return None
    if len(directions) == 1:
        return next(iter(directions))
    return "mixed"


def _conflicts(suggestions: Sequence[Suggestion]) -> tuple[Conflict, ...]:
    sides: dict[str, list[Suggestion]] = {direction: [] for direction in _OPPOSITE}
    for suggestion in suggestions:
        for direction in suggestion_directions(suggestion.category, suggestion.subcategories):
            if direction in sides:
                sides[direction].append(suggestion)
    if not all(sides.values()):
        return ()
    confident = {
        direction: [s for s in side if s.tier != "flagged"] for direction, side in sides.items()
    }
    resolved = not all(confident.values())
    involved = {s.category for side in sides.values() for s in side}
    categories = tuple(sorted(involved, key=_CATEGORY_ORDER.__getitem__))
    rule_ids = sorted(
        {reason.rule_id for side in sides.values() for s in side for reason in s.reasons}
    )
    names = {
        direction: ", ".join(dict.fromkeys(s.category for s in side))
        for direction, side in sides.items()
    }
    message = (
        f"Opposing goals: {names['suppress']} would suppress the immune system while "
        f"{names['stimulate']} would stimulate it. "
        + (
            "One side is flagged for specialist review."
            if resolved
            else "Both sides are suggested without a flag: this needs a specialist decision."
        )
    )
    return (
        Conflict(
            categories=categories,
            directions=_OPPOSITE,
            message=message,
            resolved=resolved,
            rule_ids=tuple(rule_ids),
        ),
    )
