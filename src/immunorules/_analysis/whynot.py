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
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, SerializeAsAny

from .._evaluate.resolve import citations
from .._model.profile import ConditionProfile, did_you_mean
from .._model.result import (
    NOT_FOR_CLINICAL_USE,
    Citation,
    KnowledgeBaseInfo,
    Reason,
    Rendered,
    Result,
    Tier,
)
from .._model.rules import Rule
from .._model.schema import Schema
from .._model.space import FlatSpace
from .._policy import category_tier, effects_of, tables

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

Value = str | bool | int | None | tuple[str, ...]
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
    profile: SerializeAsAny[ConditionProfile]  # the changed profile


class WhyNot(Rendered, _Frozen):
    """Why a category is, or is not, suggested for a profile, and what would change that."""

    _render_kind: ClassVar[str] = "whynot"

    profile: SerializeAsAny[ConditionProfile]
    category: str
    status: Status
    tier: Tier | None
    rules: tuple[RuleCheck, ...]  # every active rule that could suggest it, closest first
    overrides: tuple[Override, ...]  # avoid/flag rules that fired against it
    inactive_rule_ids: tuple[str, ...]  # draft or retired rules that would suggest it
    changes: tuple[ChangeSet, ...]  # minimal change sets, in a deterministic order
    max_changes: int
    fixed: tuple[str, ...] = ()  # fields the search held fixed
    changeable: tuple[str, ...] = ()  # fields the search may change

    @property
    def search_text(self) -> str:
        """Which fields the change search could touch, in words."""
        if not self.fixed:
            return ""
        if len(self.changeable) <= len(self.fixed):
            shown = ", ".join(self.changeable) or "no field"
            return f"changing only {shown}"
        return f"{', '.join(self.fixed)} held fixed"

    reachable: bool | None  # can any valid profile change make it a suggestion? None: unknown
    summary: str
    knowledge_base: KnowledgeBaseInfo
    citations: tuple[Citation, ...] = ()  # the evidence entries its rules cite
    notice: str = NOT_FOR_CLINICAL_USE

    @property
    def suggested(self) -> bool:
        """Whether the category is a first-line or escalation suggestion now."""
        return self.status == "suggested"

    def to_json(self, *, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent)


# -- computation ---------------------------------------------------------------------------------


class _Slots:
    """The search space of one knowledge base. A "slot" is a flat field as the search sees it:
    every one but disease_area, whose values for the "condition" slot are (disease_area,
    condition) pairs."""

    def __init__(self, flat: FlatSpace) -> None:
        schema = flat.schema
        self.flat = flat
        self.schema = schema
        self.slots: tuple[str, ...] = tuple(name for name in flat.domains if name != "disease_area")
        self.condition_values: tuple[tuple[str, str | None], ...] = (
            *((schema.condition_area[c], c) for c in schema.conditions),
            *((area, None) for area in schema.disease_areas),
        )
        self._whens: dict[str, dict[str, frozenset[Any]]] = {}

    def values(self, slot: str) -> tuple[Any, ...]:
        return self.condition_values if slot == "condition" else self.flat.domains[slot]

    def field_of(self, slot: str) -> str:
        """The profile field a slot belongs to (a set field for its groups)."""
        return self.flat.groups[slot][0] if slot in self.flat.groups else slot

    def pin_of(self, field: str) -> str:
        """What holds a flat field fixed: its profile field (the condition for its area)."""
        return "condition" if field == "disease_area" else self.field_of(field)

    def when(self, rule: Rule) -> dict[str, frozenset[Any]]:
        found = self._whens.get(rule.id)
        if found is None:
            found = self._whens[rule.id] = self.flat.when(rule)
        return found

    def value(self, fact: Mapping[str, Any], slot: str) -> Any:
        if slot == "condition":
            return (fact["disease_area"], fact["condition"])
        return fact[slot]


@dataclass(frozen=True, slots=True)
class _Relevant:
    """The rules that can change whether ``category`` is suggested, reduced to predicates."""

    category: str
    suggesters: tuple[Rule, ...]
    flaggers: tuple[Rule, ...]
    category_avoiders: tuple[Rule, ...]
    sub_avoiders: tuple[Rule, ...]
    space: _Slots

    @property
    def all(self) -> tuple[Rule, ...]:
        return (*self.suggesters, *self.flaggers, *self.category_avoiders, *self.sub_avoiders)


class _Index:
    """The relevant rules as bitsets (rule ``i`` is bit ``i``) per value of each slot, so that
    the rules firing on a profile are one AND per slot and the category's tier follows from
    the few that fire: the search tries many profiles, and this keeps each try independent
    of how many rules the knowledge base has."""

    def __init__(self, relevant: _Relevant) -> None:
        space = relevant.space
        self.space = space
        rules = tuple({rule.id: rule for rule in relevant.all}.values())
        whens = [space.when(rule) for rule in rules]
        self.every = (1 << len(rules)) - 1
        self.accepts: dict[str, dict[Any, int]] = {}
        self.tested: set[str] = set()
        for slot in space.slots:
            tested = ("condition", "disease_area") if slot == "condition" else (slot,)
            untested = sum(
                1 << i for i, when in enumerate(whens) if not any(n in when for n in tested)
            )
            if untested != self.every:
                self.tested.add(slot)
            per_value = dict.fromkeys(space.values(slot), untested)
            for i, when in enumerate(whens):
                if untested >> i & 1:
                    continue
                for value in per_value:
                    if _accepts(when, slot, value):
                        per_value[value] |= 1 << i
            self.accepts[slot] = per_value
        # What the rules do, for the collect policy to decide the category's tier from the
        # few that fire (memoised per set of fired rules).
        self.category = relevant.category
        self.effects = [effects_of(rule, space.schema) for rule in rules]
        self.tables = tables(space.schema)
        self.tiers: dict[int, str | None] = {}

    def base(self, profile: ConditionProfile) -> dict[str, int]:
        """Per slot, the rules that accept the profile's value."""
        fact = self.space.flat.fact(profile)
        return {slot: self.accepts[slot][self.space.value(fact, slot)] for slot in self.space.slots}

    def fired(self, base: Mapping[str, int], chosen: Iterable[_Option]) -> int:
        """The rules that fire on the profile of ``base`` changed by ``chosen``."""
        changed = {option.slot: option.accepts for option in chosen}
        found = self.every
        for slot, accepted in base.items():
            found &= changed.get(slot, accepted)
        return found

    def tier(self, fired: int) -> str | None:
        """The category's tier where ``fired`` fire, as the collect policy decides it."""
        if fired in self.tiers:
            return self.tiers[fired]
        effects = [self.effects[i] for i in _bits(fired)]
        found = self.tiers[fired] = category_tier(effects, self.category, self.tables)
        return found


def _bits(mask: int) -> Iterator[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _relevant(rules: Sequence[Rule], category: str, space: _Slots) -> _Relevant:
    owner = space.schema.sub_category
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
                a.subcategory is not None and owner[a.subcategory] == category for a in r.then.avoid
            )
        ),
        space=space,
    )


def _accepts(when: Mapping[str, frozenset[Any]], slot: str, value: Any) -> bool:
    if slot == "condition":
        area, condition = value
        return area in when.get("disease_area", (area,)) and condition in when.get(
            "condition", (condition,)
        )
    return slot not in when or value in when[slot]


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
    if slot not in index.tested:
        return []
    space = index.space
    accepts = index.accepts[slot]
    domain = space.values(slot)
    classes: dict[int, list[Any]] = {}
    for value in domain:
        classes.setdefault(accepts[value], []).append(value)
    integer = slot in space.schema.fields and space.schema.fields[slot].type == "integer"
    options = []
    for signature, members in classes.items():
        if signature == accepts[current]:
            continue
        if integer and isinstance(current, int):  # the smallest change: the nearest number
            value = min(members, key=lambda n: (abs(n - current), n) if n is not None else (0, 0))
        else:
            value = members[0]
        order = domain.index(members[0])
        options.append(_Option(slot, value, tuple(members), order, signature))
    return sorted(options, key=lambda option: option.order)


def _fact(space: _Slots, profile: ConditionProfile, chosen: Sequence[_Option]) -> dict[str, Any]:
    fact = dict(space.flat.fact(profile))
    for option in chosen:
        if option.slot == "condition":
            fact["disease_area"], fact["condition"] = option.value
        else:
            fact[option.slot] = option.value
    return fact


def _changes(
    space: _Slots, profile: ConditionProfile, group: Sequence[Sequence[_Option]]
) -> tuple[ProfileChange, ...]:
    """The field changes of a merged change set: one entry per slot, each with its classes."""
    changes: list[ProfileChange] = []
    for options in group:
        first = options[0]
        members = [member for option in options for member in option.members]
        if first.slot in space.flat.groups:  # a set field: its whole value before and after
            name = space.field_of(first.slot)
            fact = space.flat.fact(profile)

            def as_set(
                value: Any, slot: str = first.slot, name: str = name, fact: Any = fact
            ) -> tuple[str, ...]:
                changed = space.flat.unflatten({**fact, slot: value})
                return tuple(changed[name])

            changes.append(
                ProfileChange(
                    field=name,
                    before=getattr(profile, name),
                    after=as_set(first.value),
                    alternatives=tuple(as_set(v) for v in space.values(first.slot) if v in members),
                )
            )
            continue
        if first.slot != "condition":
            domain = space.values(first.slot)
            changes.append(
                ProfileChange(
                    field=first.slot,
                    before=space.value(space.flat.fact(profile), first.slot),
                    after=first.value,
                    alternatives=tuple(v for v in domain if v in members),
                )
            )
            continue
        ordered = [pair for pair in space.condition_values if pair in members]
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


def _sort_key(space: _Slots, group: Sequence[Sequence[_Option]]) -> tuple[Any, ...]:
    """Fewest fields first; among equals, those that keep the condition; then field order of
    the profile model, then value order in each field's domain."""
    return (
        len(group),
        any(options[0].slot == "condition" for options in group),
        [(space.slots.index(options[0].slot), options[0].order) for options in group],
    )


def _per_slot(
    profile: ConditionProfile, index: _Index, fixed: frozenset[str]
) -> list[list[_Option]]:
    space = index.space
    fact = space.flat.fact(profile)
    return [
        options
        for slot in space.slots
        if space.field_of(slot) not in fixed
        and (options := _options(slot, index, space.value(fact, slot)))
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


def _checks(space: _Slots, rule: Rule, profile: ConditionProfile) -> tuple[ConditionCheck, ...]:
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


def _rule_check(space: _Slots, rule: Rule, category: str, profile: ConditionProfile) -> RuleCheck:
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
        conditions=_checks(space, rule, profile),
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


def check_category(category: object, schema: Schema | None = None) -> str:
    """``category`` if it is a therapy category; ``ValueError`` with a hint otherwise."""
    if schema is None:
        from .._model.schema import bundled_schema

        schema = bundled_schema()
    categories = schema.categories
    if isinstance(category, str) and category in categories:
        return category
    if isinstance(category, str) and category in schema.sub_category:
        parent = schema.sub_category[category]
        hint = f"; {category!r} is a drug class of {parent!r}"
    else:
        hint = did_you_mean(category, categories)
    allowed = ", ".join(categories)
    raise ValueError(f"unknown therapy category {category!r}{hint} (categories: {allowed})")


def why_not(
    kb: KnowledgeBase,
    profile: ConditionProfile | Mapping[str, Any],
    category: str,
    *,
    max_changes: int = DEFAULT_MAX_CHANGES,
    fixed: Iterable[str] = (),
    fields: Iterable[str] | None = None,
) -> WhyNot:
    """Why ``category`` is or is not suggested for ``profile``, and what would change that.

    Changes are proposed to ``fields`` if given, else to every field but those ``fixed`` if
    any are, else only to the fields the vocabulary marks ``modifiable``. Raises
    :class:`ProfileError` for an invalid profile and ``ValueError`` for an unknown category or
    field (with a "did you mean" hint).
    """
    checked = kb.schema.parse(profile)
    category = check_category(category, kb.schema)
    if not isinstance(max_changes, int) or isinstance(max_changes, bool) or max_changes < 0:
        raise ValueError(f"max_changes must be a non-negative integer, not {max_changes!r}")
    space = _slots(kb)
    pinned = _pinned(kb.schema, fixed, fields)
    result = kb.evaluate(checked)
    active = kb.active_rules
    relevant = _relevant(active, category, space)
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
            (_rule_check(space, rule, category, checked) for rule in relevant.suggesters),
            key=lambda check: (
                not check.fired,
                any(space.pin_of(c.field) in pinned for c in check.failed),  # cannot fire
                len(check.failed),
                check.rule_id,
            ),
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
            values = space.flat.unflatten(_fact(space, checked, chosen))
            verified = kb.evaluate(kb.schema.parse(values))
            found = verified.suggestion(category)
            if found is None or found.tier == "flagged":  # pragma: no cover - never expected
                continue  # keep only what evaluating the changed profile confirms
            outcome = (found.tier, tuple(reason.rule_id for reason in found.reasons))
            verified_sets.append((chosen, outcome))
            profiles[chosen] = verified.profile
        merged = sorted(_merge(verified_sets), key=lambda g: _sort_key(space, g[0]))
        for group, (tier, rule_ids) in merged:
            representative = tuple(options[0] for options in group)
            change_sets.append(
                ChangeSet(
                    changes=_changes(space, checked, group),
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
        fixed=tuple(name for name in kb.schema.fields if name in pinned),
        changeable=tuple(
            name
            for name in kb.schema.fields
            if name not in pinned and not (name == "disease_area" and "condition" in pinned)
        ),
        reachable=reachable,
        summary=_summary(
            kb.schema.category(category).name,
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


def _slots(kb: KnowledgeBase) -> _Slots:
    return _Slots(kb.space)


def _pinned(schema: Schema, fixed: Iterable[str], fields: Iterable[str] | None) -> frozenset[str]:
    """The profile fields held fixed; ``disease_area`` and ``condition`` both pin the
    condition. Without ``fields`` or ``fixed``, every field not marked modifiable."""
    known = list(schema.fields)

    def names(given: Iterable[str], what: str) -> set[str]:
        found = set()
        for name in [given] if isinstance(given, str) else given:
            if name not in schema.fields:
                hint = did_you_mean(name, known)
                raise ValueError(f"cannot {what} {name!r}: not a profile field{hint}")
            found.add("condition" if name == "disease_area" else name)
        return found

    pinned = names(fixed, "hold fixed")
    if fields is not None:
        free = names(fields, "change")
        pinned |= {name for name in known if name not in free and name != "disease_area"}
    elif not pinned:
        pinned = {
            "condition" if name == "disease_area" else name
            for name in known
            if not schema.fields[name].modifiable
        }
    return frozenset(pinned)


def _summary(
    name: str,
    status: Status,
    tier: Tier | None,
    relevant: _Relevant,
    change_sets: Sequence[ChangeSet],
    reachable: bool | None,
    max_changes: int,
) -> str:
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
