"""What a semantic diff of two rule sets holds: its regions, their answers, the vocabulary.

These are frozen models only; the diff itself is computed in ``_analysis.diff.regions`` and its
text, Markdown and HTML come from the render layer (through ``Rendered``). This module must never
compute a diff or write a rendering itself.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, SerializeAsAny, computed_field

from ..._model.base import WithoutV1
from ..._model.matching import Scalar
from ..._model.profile import ConditionProfile
from ..._model.result import NOT_FOR_CLINICAL_USE, KnowledgeBaseInfo, Rendered

__all__ = [
    "DiffAnswer",
    "DiffRegion",
    "DiffRuleIds",
    "RuleSetDiff",
    "SuggestionAnswer",
    "VocabularyDiff",
]

ConflictState = Literal["none", "resolved", "unresolved"]


class _Frozen(WithoutV1, BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SuggestionAnswer(_Frozen):
    """How one rule set suggests one therapy category: its tier (a flag makes it
    ``flagged``), the drug classes it names and the suggestion's direction."""

    tier: Literal["first_line", "escalation", "flagged"]
    subcategories: tuple[str, ...] = ()
    direction: str | None = None

    def describe(self) -> str:
        """E.g. ``first_line (antifolate_dmards)``."""
        named = f" ({', '.join(self.subcategories)})" if self.subcategories else ""
        return f"{self.tier}{named}"


class DiffAnswer(_Frozen):
    """One side of a change: only the parts of the answer that differ from the other side.

    ``suggestions`` maps each category whose suggestion (tier, drug classes or direction)
    differs to this side's suggestion (None: not suggested); ``avoided`` maps each drug class
    (or category, avoided as a whole) avoided on one side only to whether this side avoids
    it; ``advisories`` maps each advisory
    given on one side only to whether this side gives it; ``conflict`` is this side's conflict
    state when it differs (``"none"``, ``"resolved"``, ``"unresolved"``; None: alike);
    ``covered`` whether a decisive rule fires on this side, when that differs (None: alike)."""

    suggestions: dict[str, SuggestionAnswer | None] = {}
    avoided: dict[str, bool] = {}
    advisories: dict[str, bool] = {}
    conflict: ConflictState | None = None
    covered: bool | None = None

    def describe(self) -> str:
        """The changed parts in words, e.g. ``biologic_therapies: escalation; advisory
        pml_risk: given``."""
        parts = [
            f"{name}: {'not suggested' if line is None else line.describe()}"
            for name, line in self.suggestions.items()
        ]
        avoids = [name for name, avoided in self.avoided.items() if avoided]
        if avoids:
            parts.append(f"avoids {', '.join(avoids)}")
        kept = [name for name, avoided in self.avoided.items() if not avoided]
        if kept:
            parts.append(f"does not avoid {', '.join(kept)}")
        parts += [
            f"advisory {key}: {'given' if given else 'not given'}"
            for key, given in self.advisories.items()
        ]
        if self.conflict is not None:
            parts.append(f"conflict: {self.conflict}")
        if self.covered is not None:
            parts.append("covered" if self.covered else "not covered (no decisive rule)")
        return "; ".join(parts)


class DiffRuleIds(_Frozen):
    """The rules responsible for a change on each side: those that fire there and touch what
    changed (its categories or advisories; every decisive rule for a change of coverage)."""

    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()


class DiffRegion(_Frozen):
    """A maximal region of the profile space where the answer changes in the same way, for the
    same rules: ``region`` (field -> allowed values; a field left out takes any value) and
    ``region_text`` in words, ``region_size`` (how many valid profiles), an ``example_profile``
    in it, ``before`` and ``after`` (only what changed) and the ``rule_ids`` on each side."""

    region: dict[str, list[Scalar]]
    region_text: str
    region_size: int
    example_profile: SerializeAsAny[ConditionProfile]
    before: DiffAnswer
    after: DiffAnswer
    rule_ids: DiffRuleIds

    def describe(self) -> str:
        """The change in one line: ``before -> after``, each only its changed parts."""
        return f"{self.before.describe()} -> {self.after.describe()}"

    def to_text(self) -> str:
        lines = [
            f"{self.region_size:,} profile{'s' if self.region_size != 1 else ''}: "
            f"{self.region_text}",
            f"    before: {self.before.describe()}",
            f"    after:  {self.after.describe()}",
        ]
        if self.rule_ids.before or self.rule_ids.after:
            lines.append(
                f"    rules: before {', '.join(self.rule_ids.before) or '-'}; "
                f"after {', '.join(self.rule_ids.after) or '-'}"
            )
        return "\n".join(lines)


class VocabularyDiff(_Frozen):
    """What the new vocabulary adds to or removes from the old one: profile fields, the values
    of fields both have (``values_added``/``values_removed``: field -> values), disease areas,
    conditions, categories, drug classes and advisories."""

    fields_added: tuple[str, ...] = ()
    fields_removed: tuple[str, ...] = ()
    values_added: dict[str, tuple[Scalar, ...]] = {}
    values_removed: dict[str, tuple[Scalar, ...]] = {}
    disease_areas_added: tuple[str, ...] = ()
    disease_areas_removed: tuple[str, ...] = ()
    conditions_added: tuple[str, ...] = ()
    conditions_removed: tuple[str, ...] = ()
    categories_added: tuple[str, ...] = ()
    categories_removed: tuple[str, ...] = ()
    classes_added: tuple[str, ...] = ()
    classes_removed: tuple[str, ...] = ()
    advisories_added: tuple[str, ...] = ()
    advisories_removed: tuple[str, ...] = ()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def changed(self) -> bool:
        """Whether anything was added or removed."""
        return any(
            getattr(self, name)
            for name in type(self).model_fields
            if name.endswith(("_added", "_removed"))
        )

    def lines(self) -> list[str]:
        """One line per kind of change, e.g. ``conditions added: gca``."""
        found = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if not value:
                continue
            what = name.replace("_", " ")
            if isinstance(value, dict):
                shown = "; ".join(
                    f"{field}: {', '.join(str(v) for v in values)}"
                    for field, values in value.items()
                )
            else:
                shown = ", ".join(value)
            found.append(f"{what}: {shown}")
        return found


class RuleSetDiff(Rendered, _Frozen):
    """The exact semantic difference between two rule sets over every profile both can answer.

    ``regions`` are maximal regions where some part of the answer (tiers, drug classes,
    directions, avoidances, flags, advisories, conflicts, coverage) differs, the largest first;
    ``changed_profiles`` counts the profiles in them (out of ``profiles``). ``vocabulary`` lists
    what the new vocabulary adds or removes; ``rules_added``, ``rules_removed`` and
    ``rules_edited`` list rule ids (an edit that changes no answer, e.g. a new title or
    evidence, shows only there). ``changed`` is true when some answer or the vocabulary differs.
    ``shared_space`` says which profiles were compared when the two vocabularies define
    different profiles (None: the same profile space)."""

    _render_kind: ClassVar[str] = "diff"

    old: KnowledgeBaseInfo
    new: KnowledgeBaseInfo
    profiles: int
    """How many valid profiles were compared (every one, exactly)."""
    changed_profiles: int
    regions: tuple[DiffRegion, ...]
    vocabulary: VocabularyDiff
    rules_added: tuple[str, ...] = ()
    rules_removed: tuple[str, ...] = ()
    rules_edited: tuple[str, ...] = ()
    shared_space: str | None = None
    notice: str = NOT_FOR_CLINICAL_USE

    @computed_field  # type: ignore[prop-decorator]
    @property
    def changed(self) -> bool:
        """Whether some answer or the vocabulary differs."""
        return self.changed_profiles > 0 or self.vocabulary.changed

    def summary(self) -> str:
        """E.g. ``12,288 of 8,889,434,864,640 profiles change, in 3 regions``."""
        if not self.changed_profiles:
            head = "no answer changes"
        else:
            count = len(self.regions)
            head = (
                f"{self.changed_profiles:,} of {self.profiles:,} profiles change, in {count} "
                f"region{'s' if count != 1 else ''}"
            )
        if self.vocabulary.changed:
            head += "; the vocabulary changes"
        return head

    def to_text(self) -> str:
        """A plain-text report: the summary, the vocabulary and rule changes, each region."""
        return self._rendered("text")

    def to_json(self, *, indent: int | None = 2) -> str:
        """The diff as JSON (``model_dump(mode="json")``, with ``changed``)."""
        return self.model_dump_json(indent=indent)
