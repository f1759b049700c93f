"""The neutral document a rendering is written from.

One walk (``_render.build``) turns a result, why-not answer, knowledge base or audit report and
its :class:`~immunorules._render.labels.Labels` into a :class:`Document`: a sequence of blocks that
hold only display-ready words and plain data (names looked up, evidence links checked, lists
ordered and capped). The writers (``_render.plain``, ``_render.markdown``, ``_render.html``) turn
the same document into plain text, Markdown or HTML. Blocks must never hold markup, and a writer
must never look anything up in a vocabulary or re-walk the model.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Advisories",
    "AdvisoryItem",
    "Assumptions",
    "AuditHead",
    "AvoidItem",
    "Avoids",
    "Block",
    "ChangeItem",
    "ChangeSetItem",
    "Changes",
    "CheckItem",
    "ConditionItem",
    "Conflict",
    "DecisionRow",
    "DecisionTable",
    "DependencyItem",
    "DiffHead",
    "DiffRegionItem",
    "DiffRegions",
    "Document",
    "DrugClass",
    "EvidenceLink",
    "FindingItem",
    "Findings",
    "Foot",
    "Inactive",
    "KnowledgeBaseHead",
    "OverrideItem",
    "Overrides",
    "ProfileHead",
    "ReasonItem",
    "Reasons",
    "RuleChecks",
    "SuggestionItem",
    "Suggestions",
    "Uncovered",
    "WhyNotHead",
]


# -- pieces -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceLink:
    """An evidence key, with its citation and a safe http(s) link when the answer carries them."""

    key: str
    citation: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class ReasonItem:
    """A rule behind a line of the answer: why, what it matched and on what evidence."""

    rule_id: str
    title: str
    because: str
    matched: tuple[str, ...]  # ``field=value`` items; empty: the rule has no conditions
    evidence: tuple[EvidenceLink, ...]


@dataclass(frozen=True)
class DrugClass:
    name: str
    atc: tuple[str, ...]
    label: str  # ``Name (ATC ...)`` or ``Name (no ATC code)``


@dataclass(frozen=True)
class ProfileHead:
    title: str
    details: tuple[str, ...]  # ``field=value`` items


# -- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conflict:
    resolved: bool
    state: str
    message: str
    rule_ids: tuple[str, ...]


@dataclass(frozen=True)
class Uncovered:
    """No rule that suggests, avoids a category or refers applies to the profile."""


@dataclass(frozen=True)
class SuggestionItem:
    tier: str
    tier_label: str
    category: str
    review: bool
    direction: str | None
    classes: tuple[DrugClass, ...]
    reasons: tuple[ReasonItem, ...]
    flag_reasons: tuple[ReasonItem, ...]


@dataclass(frozen=True)
class Suggestions:
    items: tuple[SuggestionItem, ...]


@dataclass(frozen=True)
class AvoidItem:
    category: str
    drug_class: DrugClass | None  # None: the whole category
    reasons: tuple[ReasonItem, ...]


@dataclass(frozen=True)
class Avoids:
    items: tuple[AvoidItem, ...]


@dataclass(frozen=True)
class AdvisoryItem:
    key: str
    message: str
    reasons: tuple[ReasonItem, ...]


@dataclass(frozen=True)
class Advisories:
    kind: str  # referral or caution
    title: str
    items: tuple[AdvisoryItem, ...]


@dataclass(frozen=True)
class DependencyItem:
    """A fact the answer depends on: stating ``field`` as one of ``values`` would change it."""

    field: str
    description: str | None  # what the field means, from the vocabulary
    values: str  # the values that would change the answer, e.g. ``true`` or ``1-20``
    effect: str
    affects: tuple[str, ...]  # names of the categories and drug classes it would change


@dataclass(frozen=True)
class Assumptions:
    """What the answer assumes: the facts it depends on, the other fields not stated, values an
    ``assume=`` policy filled in, and warnings about the profile. Left out when all are empty."""

    depends_on: tuple[DependencyItem, ...]
    unstated: tuple[str, ...]  # fields not stated that would not change the answer
    assumed: tuple[str, ...]  # ``field=value`` items
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class Reasons:
    """Every reason of the answer once, by rule id (writers that show reasons in place may
    leave this block out)."""

    items: tuple[ReasonItem, ...]


@dataclass(frozen=True)
class Foot:
    name: str
    version: str
    engine: str
    fingerprint: str | None  # None: not shown
    fired: tuple[str, ...] | None  # None: not shown


# -- why-not answers --------------------------------------------------------------------------


@dataclass(frozen=True)
class WhyNotHead:
    category: str
    profile: ProfileHead
    status: str
    status_label: str
    tier: str | None
    tier_label: str | None
    summary: str


@dataclass(frozen=True)
class ChangeItem:
    field: str
    before: str
    after: str
    alternatives: tuple[str, str] | None  # (lead, values), e.g. ("or", "a, b")
    implied: tuple[str, str] | None  # (field, value) of a change that follows from this one


@dataclass(frozen=True)
class ChangeSetItem:
    changes: tuple[ChangeItem, ...]
    tier: str
    tier_label: str
    rule_ids: tuple[str, ...]


@dataclass(frozen=True)
class Changes:
    max_changes: int
    search_text: str | None  # what the search kept fixed; None: nothing
    items: tuple[ChangeSetItem, ...]  # those shown
    hidden: int  # found but not shown
    none_text: str  # what to say when there are none


@dataclass(frozen=True)
class OverrideItem:
    kind: str  # avoid or flag
    target: str
    reason: ReasonItem


@dataclass(frozen=True)
class Overrides:
    items: tuple[OverrideItem, ...]


@dataclass(frozen=True)
class ConditionItem:
    requirement: str
    held: bool
    actual: str


@dataclass(frozen=True)
class CheckItem:
    rule_id: str
    title: str
    tier: str
    tier_label: str
    fired: bool
    failed: int
    conditions: tuple[ConditionItem, ...]


@dataclass(frozen=True)
class RuleChecks:
    category: str
    items: tuple[CheckItem, ...]


@dataclass(frozen=True)
class Inactive:
    rule_ids: tuple[str, ...]


# -- knowledge bases and audits ---------------------------------------------------------------


@dataclass(frozen=True)
class KnowledgeBaseHead:
    name: str
    version: str
    engine: str
    fingerprint: str
    rules: int
    active_rules: int
    evidence: int
    golden_cases: int
    files: int


@dataclass(frozen=True)
class DecisionRow:
    rule: str
    title: str
    area: str
    when: str
    effects: tuple[tuple[str, str], ...]  # (suggest|flag|avoid|advise, text), each present one
    cells: tuple[tuple[str, str], ...]  # every effect column, empty or not


@dataclass(frozen=True)
class DecisionTable:
    rows: tuple[DecisionRow, ...]
    area_order: tuple[str, ...]


@dataclass(frozen=True)
class AuditHead:
    name: str
    version: str
    fingerprint: str  # the first 12 hex digits
    active_rules: int
    profiles: int
    ok: bool
    summary: str  # e.g. ``OK: 0 errors, 1 warning, 12 info``
    counts: tuple[tuple[str, int], ...]  # per severity, those not listed included
    omitted: tuple[str, ...]  # a line per kind whose findings are not all listed


@dataclass(frozen=True)
class FindingItem:
    severity: str
    kind: str
    rule_ids: tuple[str, ...]
    message: str
    region: str | None
    example: str | None  # the example profile's details, as a result shows them
    example_compact: str | None  # the same profile's values that differ from the defaults
    subject: str | None  # what an unused-vocabulary finding is about, e.g. ``advisory:x``


@dataclass(frozen=True)
class Findings:
    items: tuple[FindingItem, ...]  # in the report's order


# -- rule-set diffs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffHead:
    """A diff's verdict: the two knowledge bases, how many profiles change, and what the
    vocabulary and the rule ids add, remove or edit."""

    old: str  # ``name version``
    new: str
    changed: bool
    summary: str  # e.g. ``12 of 100 profiles change, in 2 regions``
    profiles: int
    changed_profiles: int
    share: str  # the changed profiles' share of all, e.g. ``0.25%``
    shared_space: str | None  # which profiles were compared when the vocabularies differ
    rules: tuple[tuple[str, tuple[str, ...]], ...]  # (added|removed|edited, ids), non-empty
    vocabulary: tuple[str, ...]  # one line per kind of vocabulary change


@dataclass(frozen=True)
class DiffRegionItem:
    number: int
    size: int
    region: str
    example: str  # the example profile's values that differ from the defaults
    before: str  # the changed parts only
    after: str
    before_rules: tuple[str, ...]
    after_rules: tuple[str, ...]


@dataclass(frozen=True)
class DiffRegions:
    items: tuple[DiffRegionItem, ...]  # those shown, the largest first
    hidden: int  # regions not shown (JSON has them all)


Block = (
    ProfileHead
    | Conflict
    | Uncovered
    | Suggestions
    | Avoids
    | Advisories
    | Assumptions
    | Reasons
    | Foot
    | WhyNotHead
    | Changes
    | Overrides
    | RuleChecks
    | Inactive
    | KnowledgeBaseHead
    | DecisionTable
    | AuditHead
    | Findings
    | DiffHead
    | DiffRegions
)


@dataclass(frozen=True)
class Document:
    """What one rendering says: its kind (result, whynot, kb, audit), the notice, the blocks;
    ``notice_last``: the plain text puts the notice at the end (an audit report's does)."""

    kind: str
    notice: str
    blocks: tuple[Block, ...]
    notice_last: bool = False
