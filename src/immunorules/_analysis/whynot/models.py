"""The answer of a why-not question, as frozen models: what :func:`why_not` returns.

:class:`WhyNot` holds the category's status, every rule that could suggest it with each of its
conditions checked (:class:`RuleCheck`, :class:`ConditionCheck`), the avoid and flag rules that
overrode it (:class:`Override`) and the minimal verified change sets (:class:`ChangeSet` of
:class:`ProfileChange`). These are plain data that round-trip through JSON and render through
the renderers; this module must never compute anything about rules or profiles.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, SerializeAsAny

from ..._model.base import WithoutV1
from ..._model.profile import ConditionProfile
from ..._model.result import (
    NOT_FOR_CLINICAL_USE,
    Citation,
    KnowledgeBaseInfo,
    Reason,
    Rendered,
    Tier,
)

__all__ = [
    "DEFAULT_MAX_CHANGES",
    "ChangeSet",
    "ConditionCheck",
    "Override",
    "ProfileChange",
    "RuleCheck",
    "Status",
    "SuggestedTier",
    "Value",
    "WhyNot",
]

Value = str | bool | int | None | tuple[str, ...]
Status = Literal["suggested", "flagged", "avoided", "absent"]
#: The tiers that count as a suggestion: what a change set must reach.
SuggestedTier = Literal["first_line", "escalation"]

#: How many fields a change set may change at most (``condition`` with its area counts as one).
DEFAULT_MAX_CHANGES = 3


class _Frozen(WithoutV1, BaseModel):
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
    tier: SuggestedTier
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

    @property
    def states(self) -> bool:
        """Whether the change states a fact the profile left not stated (``before`` is None)."""
        return self.before is None and self.after is not None

    @property
    def description(self) -> str:
        """The change in words: ``state pregnant as true`` for a fact not stated, else
        ``prior_lines_of_therapy: 0 -> 1``."""
        if self.states:
            return f"state {self.field} as {_shown(self.after)}"
        return f"{self.field}: {_shown(self.before)} -> {_shown(self.after)}"


class ChangeSet(_Frozen):
    """A minimal set of profile changes that makes the category a suggestion (verified)."""

    changes: tuple[ProfileChange, ...]
    size: int  # fields changed; a condition change and its implied area change count as one
    tier: SuggestedTier  # the tier the changed profile gets
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


def _shown(value: Value) -> str:
    if value is None:
        return "not stated"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "none" if not value else "{" + ", ".join(value) + "}"
    return str(value)
