"""The declarative rule model: what a rule file says, after the loader has checked it.

A rule's ``when`` is stored as one allowed-value set per field (every field has a finite
domain), which the engines, the audit and why-not all reason over.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from .matching import RuleMatcher, Scalar
from .profile import FIELD_DOMAINS, ConditionProfile
from .result import Citation

__all__ = [
    "AvoidEffect",
    "Effects",
    "Evidence",
    "Expectation",
    "GoldenCase",
    "Rule",
    "SuggestEffect",
    "describe_condition",
    "show_value",
]

Status = Literal["active", "draft", "retired"]
SuggestTier = Literal["first_line", "escalation"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Evidence(Citation):
    """A citation that rules refer to by key, with where it is defined."""

    note: str | None = None
    file: str = ""
    line: int | None = None


class SuggestEffect(_Frozen):
    category: str
    tier: SuggestTier
    subcategories: tuple[str, ...] = ()


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


class Rule(_Frozen):
    """One rule: if every condition in ``when`` holds, ``then`` applies."""

    id: str
    title: str
    status: Status = "active"
    when: dict[str, frozenset[Scalar]]
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
        return all(getattr(profile, name) in allowed for name, allowed in self.when.items())

    def matched(self, profile: ConditionProfile) -> dict[str, Scalar]:
        """The profile's values of the fields this rule tests."""
        return {name: getattr(profile, name) for name in sorted(self.when)}

    def matcher(self) -> RuleMatcher:
        """The engine-neutral form of this rule's ``when``."""
        return RuleMatcher(self.id, tuple(sorted(self.when.items())))


def describe_condition(field: str, allowed: frozenset[Scalar]) -> str:
    """A short human reading of one condition, e.g. ``prior_lines_of_therapy >= 1``."""
    domain = FIELD_DOMAINS[field]
    ordered = [value for value in domain if value in allowed]
    if field == "prior_lines_of_therapy":
        numbers = [value for value in ordered if isinstance(value, int)]
        low, high = min(numbers), max(numbers)
        if numbers == list(range(low, high + 1)):
            if low == high:
                return f"{field} = {low}"
            if high == domain[-1]:
                return f"{field} >= {low}"
            if low == 0:
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
    return str(value)
