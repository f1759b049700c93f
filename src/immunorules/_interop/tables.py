"""A knowledge base's answer as plain decision tables, ready to be written as DMN or JDM.

The answer exported is, for each category, its tier (``avoided``, ``flagged``, ``first_line``,
``escalation`` or none), the drug classes avoided and the advisories, as the collect policy
gives them. A category's table has rows in priority order: ``avoided`` where a rule avoids the
whole category, or where the category is suggested only with drug classes that are all avoided
(found by splitting the profile space into cells on which the same rules fire, the audit's
partition, cut short wherever that cannot happen); ``flagged`` where a flag and a suggestion
meet; ``first_line`` and ``escalation`` where a suggestion of that tier fires. The highest tier
among the rows that hold is the policy's answer. An avoided class or an advisory has disjoint
rows (from the same partition of the rules that give it), so that a collecting engine lists it
once. Boxes that differ in one input only are merged into one row.

The inputs are the profile's fields, by id; a set field becomes one boolean input per member
some rule names (true: in the set; false: stated, not in it; null: the set is not stated).
Nothing here writes a file or knows a file format, and nothing here decides an answer of its
own: the tiers, avoids and advisories are those of the collect policy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any, Final

from .._analysis.space import Box, CompiledRule, intersect, is_empty, merge_boxes, partition
from .._model.matching import Scalar
from .._model.rules import Rule, SetCondition
from .._model.schema import Schema
from .._policy.collect import Effects, category_tier, effects_of, tables

__all__ = [
    "TIERS",
    "Column",
    "DecisionModel",
    "Row",
    "Table",
    "answer_of",
    "decision_model",
]

#: The tiers a category may have, highest priority first (no row: no tier).
TIERS: Final = ("avoided", "flagged", "first_line", "escalation")


@dataclass(frozen=True, slots=True)
class Column:
    """One input: a profile field (``member`` None) or one member of a set field. ``values``
    are every value it may take, ``None`` (not stated) included when the field may be."""

    name: str
    field: str
    member: str | None
    values: tuple[Scalar, ...]

    @property
    def full(self) -> int:
        return (1 << len(self.values)) - 1

    def chosen(self, mask: int) -> tuple[Scalar, ...]:
        return tuple(value for index, value in enumerate(self.values) if mask >> index & 1)

    def mask(self, allowed: Iterable[Scalar]) -> int:
        wanted = set(allowed)
        return sum(1 << index for index, value in enumerate(self.values) if value in wanted)

    def value(self, profile: Mapping[str, Any]) -> Scalar:
        """This input's value for a profile (a mapping of field id to value)."""
        value = profile.get(self.field)
        if self.member is None:
            return value
        return None if value is None else self.member in value


@dataclass(frozen=True, slots=True)
class Row:
    """One row: for each input it tests, the values it accepts (an input it does not test
    takes any value); ``output`` is the answer where it holds."""

    tests: tuple[tuple[int, tuple[Scalar, ...]], ...]  # column index, allowed values
    output: Any


@dataclass(frozen=True, slots=True)
class Table:
    """One decision table: ``kind`` is ``"priority"`` (rows may overlap: the answer is the
    output of highest priority among those that hold, ``outputs`` in priority order; the rows
    come in that order too, so the first that holds is the answer) or ``"collect"`` (disjoint
    rows all giving the same key)."""

    name: str
    kind: str
    inputs: tuple[int, ...]  # the columns its rows test
    rows: tuple[Row, ...]
    outputs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DecisionModel:
    """Every table of a knowledge base's answer, over one list of inputs: a priority table per
    category, and a collect table per avoided drug class and per advisory key (DMN joins the
    latter into one table each; JDM keeps them apart)."""

    name: str
    columns: tuple[Column, ...]
    categories: tuple[str, ...]
    tiers: tuple[Table, ...]  # one per category, in vocabulary order
    avoided: tuple[Table, ...]  # one per drug class some rule avoids
    advisories: tuple[Table, ...]  # one per advisory key some rule gives

    def inputs(self, profile: Mapping[str, Any]) -> dict[str, Scalar]:
        """The input values of a profile (a mapping of field id to value; a field left out is
        not stated)."""
        return {column.name: column.value(profile) for column in self.columns}


def _member_name(field: str, member: str) -> str:
    return f"{field}.{member}"


class _Space:
    """The exported inputs as box dimensions, and each rule as disjoint boxes over them."""

    def __init__(self, schema: Schema, rules: Sequence[Rule]) -> None:
        columns = [
            Column(name, name, None, domain)
            for name, domain in schema.domains.items()
            if any(name in rule.when for rule in rules)
        ]
        named: dict[str, set[str]] = {}
        for rule in rules:
            for name, test in rule.sets.items():
                named.setdefault(name, set()).update(test.members)
        for name, members in named.items():
            field = schema.fields[name]
            order = schema.set_fields[name]
            if not members:  # only "not stated" is tested: one member carries it
                members = {order[0]}
            values: tuple[Scalar, ...] = (None, False, True) if field.nullable else (False, True)
            columns.extend(
                Column(_member_name(name, member), name, member, values)
                for member in order
                if member in members
            )
        order_of = {name: index for index, name in enumerate(schema.fields)}
        columns.sort(key=lambda column: order_of[column.field])
        self.columns = tuple(columns)
        self.index = {column.name: i for i, column in enumerate(self.columns)}
        self.full: Box = tuple(column.full for column in self.columns)
        self.members: dict[str, list[int]] = {}
        for i, column in enumerate(self.columns):
            if column.member is not None:
                self.members.setdefault(column.field, []).append(i)

    def boxes(self, rule: Rule) -> list[Box]:
        """The rule as disjoint boxes (one unless a set condition is an OR)."""
        base = list(self.full)
        for name, allowed in rule.when.items():
            if name not in self.index:
                raise ValueError(f"rule {rule.id} tests {name!r}, which is no profile field")
            i = self.index[name]
            base[i] = self.columns[i].mask(allowed)
        found: list[Box] = [tuple(base)]
        for name, test in rule.sets.items():
            found = [
                both
                for box in found
                for alternative in self._set_boxes(name, test)
                if not is_empty(both := intersect(box, alternative))
            ]
        return [box for box in found if not is_empty(box)]

    def _set_boxes(self, name: str, test: SetCondition) -> list[Box]:
        positions = self.members[name]
        carrier = positions[0]
        at = {self.columns[i].member: i for i in positions}

        def box(values: Mapping[int, bool | None]) -> Box:
            masks = list(self.full)
            for i, value in values.items():
                masks[i] &= self.columns[i].mask((value,))
            return tuple(masks)

        found: list[Box] = []
        if test.or_not_stated and None in self.columns[carrier].values:
            found.append(box({carrier: None}))
        if any(not group for group in test.includes_any):
            return found  # an empty group: only "not stated" matches
        stated = list(self.full)
        stated[carrier] &= self.columns[carrier].mask((False, True))
        fixed: dict[int, bool | None] = {}
        for member in test.includes:
            fixed[at[member]] = True
        for member in test.excludes:
            fixed[at[member]] = False
        base = intersect(tuple(stated), box(fixed))
        # each "includes any" group as disjoint choices: its first member in, or the first out
        # and the second in, ...
        choices = [
            [
                box({**{at[m]: False for m in ordered[:k]}, at[ordered[k]]: True})
                for k in range(len(ordered))
            ]
            for group in test.includes_any
            for ordered in [sorted(group, key=at.__getitem__)]
        ]
        for combination in product(*choices):
            current = base
            for part in combination:
                current = intersect(current, part)
            if not is_empty(current):
                found.append(current)
        return found


def _rows(space: _Space, boxes: Iterable[Box], output: Any) -> list[Row]:
    """Rows holding exactly on the union of ``boxes`` (merged where they differ in one input)."""
    rows = []
    for box in merge_boxes(boxes):
        tests = tuple(
            (i, space.columns[i].chosen(mask))
            for i, mask in enumerate(box)
            if mask != space.full[i]
        )
        rows.append(Row(tests, output))
    return rows


def _table(name: str, kind: str, rows: Sequence[Row], outputs: tuple[str, ...] = ()) -> Table:
    used = sorted({i for row in rows for i, _ in row.tests})
    return Table(name, kind, tuple(used), tuple(rows), outputs)


class _Compiler:
    """The tables of one knowledge base (its active rules)."""

    def __init__(self, schema: Schema, rules: Sequence[Rule]) -> None:
        self.schema = schema
        self.rules = tuple(rules)
        self.space = _Space(schema, rules)
        self.boxes = {rule.id: self.space.boxes(rule) for rule in rules}
        self.effects = {rule.id: effects_of(rule, schema) for rule in rules}
        self.policy = tables(schema)

    def _compiled(self, rule_ids: Iterable[str]) -> list[CompiledRule]:
        by_id = {rule.id: rule for rule in self.rules}
        return [CompiledRule(by_id[i], box) for i in rule_ids for box in self.boxes[i]]

    def tier(self, category: str) -> Table:
        """``tier_<category>``: rows in priority order, each holding where its tier (or a
        higher one) is the answer; the highest tier among the rows that hold is the policy's."""
        suggesters = [r for r in self.rules if any(s.category == category for s in r.then.suggest)]
        first_line = [
            r
            for r in suggesters
            if any(s.category == category and s.tier == "first_line" for s in r.then.suggest)
        ]
        flaggers = [r for r in self.rules if category in r.then.flag]
        whole = [r for r in self.rules if (category, None) in self.effects[r.id].avoid]
        boxes: dict[str, list[Box]] = {tier: [] for tier in TIERS}
        for rule in whole:  # avoid beats flag beats suggest
            boxes["avoided"].extend(self.boxes[rule.id])
        boxes["avoided"].extend(self._avoided_by_classes(category, suggesters))
        for flagger in flaggers:
            for suggester in suggesters:
                for a in self.boxes[flagger.id]:
                    for b in self.boxes[suggester.id]:
                        both = intersect(a, b)
                        if not is_empty(both):
                            boxes["flagged"].append(both)
        for rule in first_line:
            boxes["first_line"].extend(self.boxes[rule.id])
        for rule in suggesters:
            boxes["escalation"].extend(self.boxes[rule.id])
        rows = [row for tier in TIERS for row in _rows(self.space, boxes[tier], tier)]
        return _table(f"tier_{category}", "priority", rows, TIERS)

    def _avoided_by_classes(self, category: str, suggesters: Sequence[Rule]) -> list[Box]:
        """Where the category is suggested, but only with drug classes that are all avoided."""
        named = {
            sub
            for rule in suggesters
            for s in rule.then.suggest
            if s.category == category
            for sub in s.subcategories
        }
        avoiders = [
            r.id
            for r in self.rules
            if any(a.subcategory in named for a in r.then.avoid if a.subcategory is not None)
        ]
        if not avoiders:
            return []
        unnamed = {
            r.id
            for r in suggesters
            if any(s.category == category and not s.subcategories for s in r.then.suggest)
        }
        avoiding = set(avoiders)
        suggesting = {r.id for r in suggesters}

        def cut(held: frozenset[str], pending: Sequence[CompiledRule]) -> bool:
            alive = held | {c.id for c in pending}
            return bool(held & unnamed) or not (alive & avoiding and alive & suggesting)

        found = []
        compiled = self._compiled([*sorted(suggesting), *avoiders])
        known: dict[frozenset[str], bool] = {}
        for cell in partition(self.space.full, compiled, cut, full=self.space.full):
            if cell.fired not in known:
                effects = [self.effects[i] for i in cell.fired]
                known[cell.fired] = category_tier(effects, category, self.policy) == "avoided"
            if known[cell.fired]:
                found.append(cell.box)
        return found

    def collected(self, name: str, key: str, holders: Sequence[str]) -> Table:
        """The rows where ``key`` is in the answer (some of ``holders`` fires), disjoint, so that
        a collecting engine lists the key once."""
        compiled = self._compiled(holders)
        cells = (
            c.box for c in partition(self.space.full, compiled, full=self.space.full) if c.fired
        )
        return _table(f"{name}_{key}", "collect", _rows(self.space, cells, key))

    def model(self, name: str) -> DecisionModel:
        avoiders: dict[str, list[str]] = {}
        advisers: dict[str, list[str]] = {}
        for rule in self.rules:
            for avoid in rule.then.avoid:
                if avoid.subcategory is not None:
                    avoiders.setdefault(avoid.subcategory, []).append(rule.id)
            for key in rule.then.advise:
                advisers.setdefault(key, []).append(rule.id)
        return DecisionModel(
            name=name,
            columns=self.space.columns,
            categories=self.schema.categories,
            tiers=tuple(self.tier(category) for category in self.schema.categories),
            avoided=tuple(
                self.collected("avoided", sub, avoiders[sub])
                for sub in self.schema.subcategories
                if sub in avoiders
            ),
            advisories=tuple(
                self.collected("advisory", key, advisers[key])
                for key in self.schema.advisories
                if key in advisers
            ),
        )


def decision_model(schema: Schema, rules: Sequence[Rule], *, name: str) -> DecisionModel:
    """The decision tables of these (active) rules' answers."""
    return _Compiler(schema, rules).model(name)


def _tier(fired: Sequence[Effects], category: str, policy: Any) -> str | None:
    """The exported tier of ``category`` where ``fired`` fire: the policy's (see
    :func:`~immunorules._policy.collect.category_tier`), and ``avoided`` too where the category
    is avoided as a whole without being suggested."""
    tier = category_tier(fired, category, policy)
    if tier is None and any((category, None) in effects.avoid for effects in fired):
        return "avoided"
    return tier


def answer_of(schema: Schema, fired: Iterable[Rule]) -> dict[str, Any]:
    """What the exported tables answer where exactly ``fired`` fire: ``{"tiers": {category:
    tier or None}, "avoided": [drug class ids], "advisories": [keys]}`` (lists in vocabulary
    order)."""
    effects = [effects_of(rule, schema) for rule in fired]
    policy = tables(schema)
    avoided = {sub for e in effects for _, sub in e.avoid if sub is not None}
    advised = {key for e in effects for key in e.advise}
    return {
        "tiers": {c: _tier(effects, c, policy) for c in schema.categories},
        "avoided": [sub for sub in schema.subcategories if sub in avoided],
        "advisories": [key for key in schema.advisories if key in advised],
    }
