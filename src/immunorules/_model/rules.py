"""The declarative rule model: what a rule file says, after the loader has checked it.

A rule's ``when`` is stored as one allowed-value set per field (every field has a finite
domain), which the engines, the audit and why-not all reason over.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from .base import WithoutV1
from .matching import Scalar
from .profile import ConditionProfile
from .result import Citation
from .vocabulary import Direction

__all__ = [
    "AvoidEffect",
    "Effects",
    "Evidence",
    "Expectation",
    "GoldenCase",
    "Rule",
    "SetCondition",
    "SuggestEffect",
    "describe_condition",
    "show_value",
]

Status = Literal["active", "draft", "retired"]
SuggestTier = Literal["first_line", "escalation"]


class _Frozen(WithoutV1, BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Evidence(Citation):
    """A citation that rules refer to by key, with where it is defined."""

    note: str | None = None
    file: str = ""
    line: int | None = None


class SuggestEffect(_Frozen):
    """A suggestion of a category (and drug classes). ``goal`` states what the rule wants of
    it when that differs from the classes' own direction (an anti-CD20 antibody suppresses in
    multiple sclerosis but is ``cytotoxic`` in lymphoma): conflicts are judged on the goal."""

    category: str
    tier: SuggestTier
    subcategories: tuple[str, ...] = ()
    goal: Direction | None = None


class AvoidEffect(_Frozen):
    """An avoid of a whole ``category`` (``subcategory`` None) or of one drug class."""

    category: str
    subcategory: str | None = None


class Effects(_Frozen):
    suggest: tuple[SuggestEffect, ...] = ()
    flag: tuple[str, ...] = ()
    avoid: tuple[AvoidEffect, ...] = ()
    advise: tuple[str, ...] = ()


class Expectation(_Frozen):
    suggest: tuple[str, ...] = ()
    flagged: tuple[str, ...] = ()
    not_: tuple[str, ...] = ()
    advise: tuple[str, ...] = ()


class GoldenCase(_Frozen):
    """A profile and what the knowledge base must say about it."""

    profile: ConditionProfile
    expect: Expectation
    line: int | None = None


class SetCondition(_Frozen):
    """A condition on a set field: every member of ``includes`` present, at least one of each
    ``includes_any`` group present, no member of ``excludes`` present. A set that is not
    stated (``None``) matches only when ``or_not_stated`` is true."""

    includes: frozenset[str] = frozenset()
    includes_any: tuple[frozenset[str], ...] = ()
    excludes: frozenset[str] = frozenset()
    or_not_stated: bool = False

    def holds(self, value: tuple[str, ...] | None) -> bool:
        if value is None:
            return self.or_not_stated
        present = frozenset(value)
        return (
            self.includes <= present
            and not self.excludes & present
            and all(group & present for group in self.includes_any)
        )

    @property
    def members(self) -> frozenset[str]:
        """Every member this condition names."""
        return self.includes.union(self.excludes, *self.includes_any)

    def describe(self, field: str) -> str:
        if self.or_not_stated and not self.members:
            return f"{field} = null"
        parts = []
        if self.includes:
            parts.append(f"{field} includes {', '.join(sorted(self.includes))}")
        for group in filter(None, self.includes_any):
            parts.append(f"{field} includes any of {', '.join(sorted(group))}")
        if self.excludes:
            parts.append(f"{field} excludes {', '.join(sorted(self.excludes))}")
        text = " and ".join(parts)
        return f"{text} (or not stated)" if self.or_not_stated else text


class Rule(_Frozen):
    """One rule: if every condition in ``when`` holds, ``then`` applies."""

    id: str
    title: str
    status: Status = "active"
    when: dict[str, frozenset[Scalar]]
    sets: dict[str, SetCondition] = {}
    then: Effects
    because: str
    evidence: tuple[str, ...] = ()
    tests: tuple[GoldenCase, ...] = ()
    file: str = ""
    line: int | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"

    def holds(self, profile: ConditionProfile) -> bool:
        """Whether every condition of ``when`` holds for ``profile``."""
        values = profile.__dict__
        if self.sets:
            return all(test.holds(values[name]) for name, test in self.sets.items()) and all(
                values[name] in allowed for name, allowed in self.when.items() if name in values
            )
        return all(values[name] in allowed for name, allowed in self.when.items())

    @property
    def fields(self) -> tuple[str, ...]:
        """The profile fields this rule tests, sorted."""
        return tuple(sorted({*(n for n in self.when if "[" not in n), *self.sets}))

    def matched(self, profile: ConditionProfile) -> dict[str, Scalar | tuple[str, ...]]:
        """The profile's values of the fields this rule tests."""
        values = profile.__dict__
        return {name: values[name] for name in self.fields}


def describe_condition(
    field: str, allowed: frozenset[Scalar], domain: tuple[Scalar, ...], *, integer: bool = False
) -> str:
    """A short human reading of one condition, e.g. ``prior_lines_of_therapy >= 1``; a
    condition that also holds when the field is not stated ends with ``(or not stated)``, so
    ``pregnant not in [true]`` (stated: no) and ``pregnant = false (or not stated)`` read
    apart."""
    if None in allowed and len(allowed) > 1:
        stated = describe_condition(
            field,
            allowed - {None},
            tuple(value for value in domain if value is not None),
            integer=integer,
        )
        return f"{stated} (or not stated)"
    ordered = [value for value in domain if value in allowed]
    if integer and not any(v is None for v in ordered):
        numbers = [value for value in ordered if isinstance(value, int)]
        everything = [value for value in domain if isinstance(value, int)]
        low, high = min(numbers), max(numbers)
        if numbers == list(range(low, high + 1)):
            if low == high:
                return f"{field} = {low}"
            if high == everything[-1]:
                return f"{field} >= {low}"
            if low == everything[0]:
                return f"{field} <= {high}"
            return f"{field} in {low}..{high}"
    shown = [show_value(value) for value in ordered]
    if len(ordered) == 1:
        return f"{field} = {shown[0]}"
    excluded = [show_value(value) for value in domain if value not in allowed]
    if len(excluded) < len(ordered):
        return f"{field} not in [{', '.join(excluded)}]"
    return f"{field} in [{', '.join(shown)}]"


def show_value(value: object) -> str:
    """A profile value as rules write it: null, true/false, numbers and ids as they are."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):  # a set field's members
        return "[" + ", ".join(str(member) for member in value) + "]"
    return str(value)
