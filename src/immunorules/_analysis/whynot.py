"""Why (not)? What the knowledge base says about one category for one profile, and why.

:func:`why_not` answers, for a profile and a therapy category:

* its **status**: suggested (first line or escalation), flagged, avoided or absent;
* every active rule that **could suggest** it, each condition marked held or failed against the
  profile's actual value;
* the avoid and flag rules that fired and **overrode** it;
* the **smallest sets of profile changes** that would make it a first-line or escalation
  suggestion, each verified by evaluating the changed profile, or a plain statement that no
  valid profile change can.

The search is exact, not a sample. Only the rules that can affect the category matter (those
that suggest it, flag it, or avoid it or one of its drug classes), so the values of each field
fall into classes that those rules cannot tell apart; one value per class is tried. Change sets
are searched by size (one field, then two, ...) up to ``max_changes`` fields, and only minimal
ones are kept (no proper subset of a kept set works). ``condition`` and ``disease_area`` change
together as one field, since the area follows from the condition.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from .._evaluate.resolve import citations
from .._model.profile import (
    FIELD_DOMAINS,
    PROFILE_FIELDS,
    ConditionProfile,
    did_you_mean,
    parse_profile,
)
from .._model.result import (
    NOT_FOR_CLINICAL_USE,
    Citation,
    KnowledgeBaseInfo,
    Reason,
    Rendered,
    Result,
    Tier,
)
from .._model.rules import Rule, describe_condition
from .._model.vocabulary import CATEGORIES, CONDITION_AREA, CONDITIONS, DISEASE_AREAS, vocabulary

if TYPE_CHECKING:
    from .._evaluate.knowledge_base import KnowledgeBase

__all__ = [
    "DEFAULT_MAX_CHANGES",
    "ChangeSet",
    "ConditionCheck",
    "Override",
    "ProfileChange",
    "RuleCheck",
    "WhyNot",
    "why_not",
]

Value = str | bool | int | None
Status = Literal["suggested", "flagged", "avoided", "absent"]

#: How many fields a change set may change at most (``condition`` with its area counts as one).
DEFAULT_MAX_CHANGES = 3
#: Above this many combinations, the exhaustive reachability check is not attempted.
_EXHAUSTIVE_LIMIT = 500_000


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConditionCheck(_Frozen):
    """One condition of a rule, checked against the profile."""

    field: str
    requirement: str  # e.g. "prior_lines_of_therapy >= 1"
    allowed: tuple[Value, ...]  # the accepted values, in the field's domain order
    actual: Value  # the profile's value
    held: bool


class RuleCheck(_Frozen):
    """A rule that suggests the category, with each of its conditions checked."""

    rule_id: str
    title: str
    tier: Literal["first_line", "escalation"]
    subcategories: tuple[str, ...]
    because: str
    evidence: tuple[str, ...]
    fired: bool
    conditions: tuple[ConditionCheck, ...]

    @property
    def failed(self) -> tuple[ConditionCheck, ...]:
        """The conditions that did not hold."""
        return tuple(check for check in self.conditions if not check.held)


class Override(_Frozen):
    """An avoid or flag rule that fired against the category (or one of its drug classes)."""

    kind: Literal["avoid", "flag"]
    subcategory: str | None  # for an avoid of one drug class; None for the whole category
    reason: Reason


class ProfileChange(_Frozen):
    """One field changed: ``before`` -> ``after``. ``alternatives`` are every value that works
    the same way here (``after`` among them), e.g. every prior_lines_of_therapy >= 1."""

    field: str
    before: Value
    after: Value
    alternatives: tuple[Value, ...]
    implied: bool = False  # disease_area changed because the condition changed


class ChangeSet(_Frozen):
    """A minimal set of profile changes that makes the category a suggestion (verified)."""

    changes: tuple[ProfileChange, ...]
    size: int  # fields changed; a condition change and its implied area change count as one
    tier: Literal["first_line", "escalation"]  # the tier the changed profile gets
    rule_ids: tuple[str, ...]  # the rules that suggest the category for the changed profile
    profile: ConditionProfile  # the changed profile


class WhyNot(Rendered, _Frozen):
    """Why a category is, or is not, suggested for a profile, and what would change that."""

    profile: ConditionProfile
    category: str
    status: Status
    tier: Tier | None
    rules: tuple[RuleCheck, ...]  # every active rule that could suggest it, closest first
    overrides: tuple[Override, ...]  # avoid/flag rules that fired against it
    inactive_rule_ids: tuple[str, ...]  # draft or retired rules that would suggest it
    changes: tuple[ChangeSet, ...]  # minimal change sets, in a deterministic order
    max_changes: int
    fixed: tuple[str, ...] = ()  # fields the search held fixed
    reachable: bool | None  # can any valid profile change make it a suggestion? None: unknown
    summary: str
    knowledge_base: KnowledgeBaseInfo
    citations: tuple[Citation, ...] = ()  # the evidence entries its rules cite
    notice: str = NOT_FOR_CLINICAL_USE

    @property
    def suggested(self) -> bool:
        """Whether the category is a first-line or escalation suggestion now."""
        return self.status == "suggested"

    def explain(self) -> str:
        """A plain-text explanation, with the not-for-clinical-use notice."""
        from .._render.text import whynot_text

        return whynot_text(self)

    def to_markdown(self) -> str:
        from .._render.text import whynot_markdown

        return whynot_markdown(self)

    def to_html(self) -> str:
        from .._render.text import whynot_html

        return whynot_html(self)

    def to_json(self, *, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent)


# -- computation ---------------------------------------------------------------------------------

# A "slot" is a field as the search sees it: every profile field but disease_area, whose values
# for the "condition" slot are (disease_area, condition) pairs.
_SLOTS: tuple[str, ...] = tuple(name for name in PROFILE_FIELDS if name != "disease_area")
_CONDITION_VALUES: tuple[tuple[str, str | None], ...] = (
    *((CONDITION_AREA[c], c) for c in CONDITIONS),
    *((area, None) for area in DISEASE_AREAS),
)


def _slot_values(slot: str) -> tuple[Any, ...]:
    return _CONDITION_VALUES if slot == "condition" else FIELD_DOMAINS[slot]


def _slot_value(profile: ConditionProfile, slot: str) -> Any:
    if slot == "condition":
        return (profile.disease_area, profile.condition)
    return getattr(profile, slot)


@dataclass(frozen=True, slots=True)
class _Relevant:
    """The rules that can change whether ``category`` is suggested, reduced to predicates."""

    category: str
    suggesters: tuple[Rule, ...]
    flaggers: tuple[Rule, ...]
    category_avoiders: tuple[Rule, ...]
    sub_avoiders: tuple[Rule, ...]

    @property
    def all(self) -> tuple[Rule, ...]:
        return (*self.suggesters, *self.flaggers, *self.category_avoiders, *self.sub_avoiders)


class _Index:
    """The relevant rules as bitsets (rule ``i`` is bit ``i``) per value of each slot, so that
    the rules firing on a profile are one AND per slot and the category's tier follows from
    the few that fire: the search tries many profiles, and this keeps each try independent
    of how many rules the knowledge base has."""

    def __init__(self, relevant: _Relevant) -> None:
        rules = tuple({rule.id: rule for rule in relevant.all}.values())
        self.every = (1 << len(rules)) - 1
        self.accepts: dict[str, dict[Any, int]] = {}
        for slot in _SLOTS:
            tested = ("condition", "disease_area") if slot == "condition" else (slot,)
            untested = sum(
                1 << i for i, rule in enumerate(rules) if not any(n in rule.when for n in tested)
            )
            per_value = dict.fromkeys(_slot_values(slot), untested)
            for i, rule in enumerate(rules):
                if untested >> i & 1:
                    continue
                accepted = rule.when.get(slot, ()) if slot != "condition" else per_value
                for value in accepted:
                    if value in per_value and _accepts(rule, slot, value):
                        per_value[value] |= 1 << i
            self.accepts[slot] = per_value
        position = {rule.id: 1 << i for i, rule in enumerate(rules)}

        def bitset(group: Iterable[Rule]) -> int:
            return sum(position[rule.id] for rule in group)

        self.suggesters = bitset(relevant.suggesters)
        self.flaggers = bitset(relevant.flaggers)
        self.category_avoiders = bitset(relevant.category_avoiders)
        self.sub_avoiders = bitset(relevant.sub_avoiders)
        self.avoids = [
            frozenset(a.subcategory for a in rule.then.avoid if a.subcategory is not None)
            for rule in rules
        ]
        self.suggests = [
            [s for s in rule.then.suggest if s.category == relevant.category] for rule in rules
        ]

    def base(self, profile: ConditionProfile) -> dict[str, int]:
        """Per slot, the rules that accept the profile's value."""
        return {slot: self.accepts[slot][_slot_value(profile, slot)] for slot in _SLOTS}

    def fired(self, base: Mapping[str, int], chosen: Iterable[_Option]) -> int:
        """The rules that fire on the profile of ``base`` changed by ``chosen``."""
        changed = {option.slot: option.accepts for option in chosen}
        found = self.every
        for slot, accepted in base.items():
            found &= changed.get(slot, accepted)
        return found

    def tier(self, fired: int) -> str | None:
        """The category's tier where ``fired`` fire, per the resolution policy (SPEC §5)."""
        suggesting = fired & self.suggesters
        if not suggesting:
            return None
        if fired & self.category_avoiders:
            return "avoided"
        avoided: set[str] = set()
        for i in _bits(fired & self.sub_avoiders):
            avoided.update(self.avoids[i])
        subs: set[str] = set()
        all_named = True
        best = "escalation"
        for i in _bits(suggesting):
            for suggest in self.suggests[i]:
                subs.update(suggest.subcategories)
                all_named = all_named and bool(suggest.subcategories)
                if suggest.tier == "first_line":
                    best = "first_line"
        if all_named and not subs - avoided:
            return "avoided"
        if fired & self.flaggers:
            return "flagged"
        return best


def _bits(mask: int) -> Iterator[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _relevant(rules: Sequence[Rule], category: str) -> _Relevant:
    vocab = vocabulary()
    return _Relevant(
        category=category,
        suggesters=tuple(r for r in rules if any(s.category == category for s in r.then.suggest)),
        flaggers=tuple(r for r in rules if category in r.then.flag),
        category_avoiders=tuple(
            r
            for r in rules
            if any(a.category == category and a.subcategory is None for a in r.then.avoid)
        ),
        sub_avoiders=tuple(
            r
            for r in rules
            if any(
                a.subcategory is not None and vocab.subcategory(a.subcategory).category == category
                for a in r.then.avoid
            )
        ),
    )


def _accepts(rule: Rule, slot: str, value: Any) -> bool:
    if slot == "condition":
        area, condition = value
        return area in rule.when.get("disease_area", (area,)) and condition in rule.when.get(
            "condition", (condition,)
        )
    return slot not in rule.when or value in rule.when[slot]


@dataclass(frozen=True, slots=True)
class _Option:
    """A class of values of one slot that the relevant rules cannot tell apart."""

    slot: str
    value: Any  # the representative tried
    members: tuple[Any, ...]  # every value of the class, in domain order
    order: int  # position of the class (its first member) in the slot's domain
    accepts: int  # the relevant rules that accept its values (an _Index bitset)


def _options(slot: str, index: _Index, current: Any) -> list[_Option]:
    """The classes of ``slot``'s values other than the current value's class."""
    accepts = index.accepts[slot]
    domain = _slot_values(slot)
    classes: dict[int, list[Any]] = {}
    for value in domain:
        classes.setdefault(accepts[value], []).append(value)
    options = []
    for signature, members in classes.items():
        if signature == accepts[current]:
            continue
        if slot == "prior_lines_of_therapy":  # the smallest change: the nearest number
            value = min(members, key=lambda n: (abs(n - current), n))
        else:
            value = members[0]
        options.append(_Option(slot, value, tuple(members), domain.index(members[0]), signature))
    return sorted(options, key=lambda option: option.order)


def _fact(profile: ConditionProfile, chosen: Sequence[_Option]) -> dict[str, Any]:
    fact = profile.to_fact()
    for option in chosen:
        if option.slot == "condition":
            fact["disease_area"], fact["condition"] = option.value
        else:
            fact[option.slot] = option.value
    return fact


def _changes(
    profile: ConditionProfile, group: Sequence[Sequence[_Option]]
) -> tuple[ProfileChange, ...]:
    """The field changes of a merged change set: one entry per slot, each with its classes."""
    changes: list[ProfileChange] = []
    for options in group:
        first = options[0]
        members = [member for option in options for member in option.members]
        if first.slot != "condition":
            domain = _slot_values(first.slot)
            changes.append(
                ProfileChange(
                    field=first.slot,
                    before=getattr(profile, first.slot),
                    after=first.value,
                    alternatives=tuple(v for v in domain if v in members),
                )
            )
            continue
        ordered = [pair for pair in _CONDITION_VALUES if pair in members]
        area, condition = first.value
        if condition != profile.condition:
            changes.append(
                ProfileChange(
                    field="condition",
                    before=profile.condition,
                    after=condition,
                    alternatives=tuple(dict.fromkeys(c for _, c in ordered)),
                )
            )
        if area != profile.disease_area:
            changes.append(
                ProfileChange(
                    field="disease_area",
                    before=profile.disease_area,
                    after=area,
                    alternatives=tuple(dict.fromkeys(a for a, _ in ordered)),
                    implied=condition is not None,
                )
            )
    return tuple(changes)


def _merge(
    found: Sequence[tuple[tuple[_Option, ...], tuple[str, tuple[str, ...]]]],
) -> list[tuple[list[list[_Option]], tuple[str, tuple[str, ...]]]]:
    """Merge change sets that change the same fields with the same outcome and differ in the
    value of one field only (e.g. prior_lines_of_therapy 1, 2-3 and 4-20 become one set)."""
    groups = [([[option] for option in chosen], outcome) for chosen, outcome in found]
    merged = True
    while merged:
        merged = False
        for i, j in itertools.combinations(range(len(groups)), 2):
            (a, out_a), (b, out_b) = groups[i], groups[j]
            if out_a != out_b or [o[0].slot for o in a] != [o[0].slot for o in b]:
                continue
            differ = [k for k in range(len(a)) if a[k] != b[k]]
            if len(differ) != 1:
                continue
            k = differ[0]
            a[k] = sorted([*a[k], *b[k]], key=lambda option: option.order)
            del groups[j]
            merged = True
            break
    return groups


def _sort_key(group: Sequence[Sequence[_Option]]) -> tuple[Any, ...]:
    """Fewest fields first; among equals, those that keep the condition; then field order of
    the profile model, then value order in each field's domain."""
    return (
        len(group),
        any(options[0].slot == "condition" for options in group),
        [(_SLOTS.index(options[0].slot), options[0].order) for options in group],
    )


def _per_slot(
    profile: ConditionProfile, index: _Index, fixed: frozenset[str]
) -> list[list[_Option]]:
    return [
        options
        for slot in _SLOTS
        if slot not in fixed and (options := _options(slot, index, _slot_value(profile, slot)))
    ]


def _search(
    profile: ConditionProfile, index: _Index, max_changes: int, fixed: frozenset[str]
) -> Iterator[tuple[_Option, ...]]:
    """Minimal working change sets, by size, then slot order, then value order."""
    per_slot = _per_slot(profile, index, fixed)
    base = index.base(profile)
    found: set[frozenset[tuple[str, Any]]] = set()
    for size in range(1, min(max_changes, len(per_slot)) + 1):
        for slots in itertools.combinations(per_slot, size):
            for chosen in itertools.product(*slots):
                items = [(option.slot, option.value) for option in chosen]
                if any(
                    frozenset(smaller) in found
                    for fewer in range(1, size)
                    for smaller in itertools.combinations(items, fewer)
                ):
                    continue  # not minimal: a smaller change set already works
                if index.tier(index.fired(base, chosen)) in ("first_line", "escalation"):
                    found.add(frozenset(items))
                    yield chosen


def _reachable(profile: ConditionProfile, index: _Index, fixed: frozenset[str]) -> bool | None:
    """Whether any valid profile makes the category a suggestion (None: too many to check)."""
    per_slot = _per_slot(profile, index, fixed)
    total = 1
    for options in per_slot:
        total *= len(options) + 1
        if total > _EXHAUSTIVE_LIMIT:
            return None
    base = index.base(profile)
    keep: list[_Option | None] = [None]
    for chosen in itertools.product(*([*keep, *options] for options in per_slot)):
        picked = [option for option in chosen if option is not None]
        if index.tier(index.fired(base, picked)) in ("first_line", "escalation"):
            return True
    return False


def _checks(rule: Rule, profile: ConditionProfile) -> tuple[ConditionCheck, ...]:
    checks = []
    for name in PROFILE_FIELDS:  # field order of the profile model
        if name not in rule.when:
            continue
        allowed = rule.when[name]
        actual = getattr(profile, name)
        checks.append(
            ConditionCheck(
                field=name,
                requirement=describe_condition(name, allowed),
                allowed=tuple(v for v in FIELD_DOMAINS[name] if v in allowed),
                actual=actual,
                held=actual in allowed,
            )
        )
    return tuple(checks)


def _rule_check(rule: Rule, category: str, profile: ConditionProfile) -> RuleCheck:
    suggests = [s for s in rule.then.suggest if s.category == category]
    tier: Literal["first_line", "escalation"] = (
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
        conditions=_checks(rule, profile),
    )


def _reason(rule: Rule, profile: ConditionProfile) -> Reason:
    return Reason(
        rule_id=rule.id,
        title=rule.title,
        because=rule.because,
        evidence=rule.evidence,
        matched=rule.matched(profile),
    )


def _overrides(result: Result, category: str) -> tuple[Override, ...]:
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
    return tuple(found)


def _flag_overrides(
    kb_rules: Sequence[Rule], category: str, profile: ConditionProfile
) -> tuple[Override, ...]:
    """Flag rules that fired for the category even where it was not suggested."""
    return tuple(
        Override(kind="flag", subcategory=None, reason=_reason(rule, profile))
        for rule in kb_rules
        if category in rule.then.flag and rule.holds(profile)
    )


def check_category(category: object) -> str:
    """``category`` if it is a therapy category; ``ValueError`` with a hint otherwise."""
    if isinstance(category, str) and category in CATEGORIES:
        return category
    vocab = vocabulary()
    if isinstance(category, str) and category in {s.id for s in vocab.subcategories}:
        parent = vocab.subcategory(category).category
        hint = f"; {category!r} is a drug class of {parent!r}"
    else:
        hint = did_you_mean(category, CATEGORIES)
    allowed = ", ".join(CATEGORIES)
    raise ValueError(f"unknown therapy category {category!r}{hint} (categories: {allowed})")


def why_not(
    kb: KnowledgeBase,
    profile: ConditionProfile | Mapping[str, Any],
    category: str,
    *,
    max_changes: int = DEFAULT_MAX_CHANGES,
    fixed: Iterable[str] = (),
) -> WhyNot:
    """Why ``category`` is or is not suggested for ``profile``, and what would change that.

    Raises :class:`ProfileError` for an invalid profile and ``ValueError`` for an unknown
    category (with a "did you mean" hint).
    """
    checked = parse_profile(profile)
    category = check_category(category)
    if not isinstance(max_changes, int) or isinstance(max_changes, bool) or max_changes < 0:
        raise ValueError(f"max_changes must be a non-negative integer, not {max_changes!r}")
    pinned = _pinned(fixed)
    result = kb.evaluate(checked)
    active = kb.active_rules
    relevant = _relevant(active, category)
    suggestion = result.suggestion(category)

    status: Status
    if suggestion is not None and suggestion.tier != "flagged":
        status = "suggested"
    elif suggestion is not None:
        status = "flagged"
    elif any(a.category == category and a.subcategory is None for a in result.avoided) or any(
        rule.holds(checked) for rule in relevant.suggesters
    ):
        status = "avoided"
    else:
        status = "absent"

    overrides = _overrides(result, category)
    if suggestion is None:
        overrides = (*overrides, *_flag_overrides(active, category, checked))
    rule_checks = tuple(
        sorted(
            (_rule_check(rule, category, checked) for rule in relevant.suggesters),
            key=lambda check: (not check.fired, len(check.failed), check.rule_id),
        )
    )
    inactive = tuple(
        rule.id
        for rule in kb.rules
        if not rule.active and any(s.category == category for s in rule.then.suggest)
    )

    change_sets: list[ChangeSet] = []
    reachable: bool | None
    if status == "suggested":
        reachable = True
    elif not relevant.suggesters:
        reachable = False
    else:
        index = _Index(relevant)
        verified_sets = []
        profiles: dict[tuple[_Option, ...], ConditionProfile] = {}
        for chosen in _search(checked, index, max_changes, pinned):
            verified = kb.evaluate(ConditionProfile.model_validate(_fact(checked, chosen)))
            found = verified.suggestion(category)
            if found is None or found.tier == "flagged":  # pragma: no cover - never expected
                continue  # keep only what evaluating the changed profile confirms
            outcome = (found.tier, tuple(reason.rule_id for reason in found.reasons))
            verified_sets.append((chosen, outcome))
            profiles[chosen] = verified.profile
        for group, (tier, rule_ids) in sorted(_merge(verified_sets), key=lambda g: _sort_key(g[0])):
            representative = tuple(options[0] for options in group)
            change_sets.append(
                ChangeSet(
                    changes=_changes(checked, group),
                    size=len(group),
                    tier=tier,
                    rule_ids=rule_ids,
                    profile=profiles[representative],
                )
            )
        reachable = True if change_sets else _reachable(checked, index, pinned)

    return WhyNot(
        profile=checked,
        category=category,
        status=status,
        tier=None if suggestion is None else suggestion.tier,
        rules=rule_checks,
        overrides=overrides,
        inactive_rule_ids=inactive,
        changes=tuple(change_sets),
        max_changes=max_changes,
        fixed=tuple(name for name in PROFILE_FIELDS if name in pinned),
        reachable=reachable,
        summary=_summary(
            category,
            status,
            suggestion.tier if suggestion else None,
            relevant,
            change_sets,
            reachable,
            max_changes,
        ),
        knowledge_base=result.knowledge_base,
        citations=citations(
            [*relevant.all, *(kb.rule(o.reason.rule_id) for o in overrides)], kb.evidence
        ),
    )


def _pinned(fixed: Iterable[str]) -> frozenset[str]:
    """The search slots held fixed; ``disease_area`` and ``condition`` both pin the condition."""
    if isinstance(fixed, str):
        fixed = [fixed]
    pinned = set()
    for name in fixed:
        if name not in PROFILE_FIELDS:
            hint = did_you_mean(name, list(PROFILE_FIELDS))
            raise ValueError(f"cannot hold {name!r} fixed: not a profile field{hint}")
        pinned.add("condition" if name == "disease_area" else name)
    return frozenset(pinned)


def _summary(
    category: str,
    status: Status,
    tier: Tier | None,
    relevant: _Relevant,
    change_sets: Sequence[ChangeSet],
    reachable: bool | None,
    max_changes: int,
) -> str:
    name = vocabulary().category(category).name
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
    if reachable is True:
        return (
            f"{head} Only a change of more than {max_changes} fields would make it a suggestion; "
            "such change sets are not listed."
        )
    if reachable is False:
        return (
            f"{head} No valid change to this profile can make it a first-line or escalation "
            "suggestion."
        )
    return (
        f"{head} No change of up to {max_changes} field(s) makes it a first-line or escalation "
        "suggestion; larger changes were not searched."
    )
