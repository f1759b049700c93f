"""The plain-text writer: a neutral document as text wrapped at 100 columns.

It only formats what the document holds (``_render.build`` chose it); it must never look up a
vocabulary or re-walk a model, and every rendering starts with the not-for-clinical-use notice.
"""

from __future__ import annotations

import textwrap
from functools import singledispatch

from .document import (
    Advisories,
    Assumptions,
    AuditHead,
    Avoids,
    Block,
    ChangeItem,
    Changes,
    Conflict,
    DecisionTable,
    DiffHead,
    DiffRegions,
    Document,
    Findings,
    Foot,
    Inactive,
    KnowledgeBaseHead,
    Overrides,
    ProfileHead,
    ReasonItem,
    Reasons,
    RuleChecks,
    Suggestions,
    Uncovered,
    WhyNotHead,
)

__all__ = ["change_text", "reason_lines", "wrap", "write"]


def wrap(text: str, indent: str, *, then: str | None = None, width: int = 100) -> list[str]:
    """``text`` wrapped to ``width`` columns; continuation lines are indented by ``then``."""
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=indent if then is None else then,
        break_on_hyphens=False,
        break_long_words=False,
    ) or [indent.rstrip()]


def write(document: Document) -> str:
    """The document as plain text."""
    lines = [] if document.notice_last else wrap(document.notice, "")
    for block in document.blocks:
        lines += _block(block)
    if document.notice_last:
        lines += ["", document.notice]
    return "\n".join(lines)


def reason_lines(reason: ReasonItem, indent: str, *, head: bool = True) -> list[str]:
    """A reason: its rule and title (unless ``head`` is false), because, matched, evidence."""
    lines = wrap(f"{reason.rule_id}: {reason.title}", indent, then=indent + "    ") if head else []
    lines += wrap(f"because: {reason.because}", indent + "    ")
    matched = ", ".join(reason.matched) or "any profile (no conditions)"
    lines += wrap(f"matched: {matched}", indent + "    ")
    for link in reason.evidence:
        shown = f"{link.key} <{link.url}>" if link.url else link.key
        lines.append(f"{indent}    evidence: {shown}")
    if not reason.evidence:
        lines.append(f"{indent}    evidence: none listed")
    return lines


def change_text(change: ChangeItem, *, arrow: str = "->") -> str:
    """One field change, e.g. ``prior_lines_of_therapy: 0 -> 1 (any of 1-20)``."""
    text = f"{change.field}: {change.before} {arrow} {change.after}"
    if change.alternatives:
        lead, values = change.alternatives
        text += f" ({lead} {values})"
    if change.implied:
        field, value = change.implied
        text += f" ({field} {arrow} {value})"
    return text


def _ids(reasons: tuple[ReasonItem, ...]) -> str:
    return ", ".join(reason.rule_id for reason in reasons)


def _profile(block: ProfileHead) -> list[str]:
    return [f"Profile: {block.title}", *wrap("; ".join(block.details), "  ")]


@singledispatch
def _block(block: Block) -> list[str]:
    raise TypeError(f"no text for {type(block).__name__}")  # pragma: no cover


@_block.register
def _(block: ProfileHead) -> list[str]:
    return ["", *_profile(block)]


@_block.register
def _(block: Conflict) -> list[str]:
    return [
        "",
        *wrap(f"CONFLICT ({block.state}): {block.message}", ""),
        f"  rules: {', '.join(block.rule_ids)}",
    ]


@_block.register
def _(block: Uncovered) -> list[str]:
    return [
        "",
        *wrap(
            "NOT COVERED: the knowledge base has no guidance for this profile; no rule that "
            "suggests, avoids a category or refers applies to it.",
            "",
        ),
    ]


@_block.register
def _(block: Suggestions) -> list[str]:
    lines = ["", "Suggested therapy categories:"]
    if not block.items:
        lines.append("  (none)")
    for s in block.items:
        tier = s.tier_label + (" - requires specialist review" if s.review else "")
        direction = f" ({s.direction})" if s.direction else ""
        lines.append(f"  * {s.category}{direction}: {tier}")
        lines += [f"      class: {drug_class.label}" for drug_class in s.classes]
        lines.append(f"      suggested by: {_ids(s.reasons)}")
        if s.flag_reasons:
            lines.append(f"      flagged by: {_ids(s.flag_reasons)}")
    return lines


@_block.register
def _(block: Avoids) -> list[str]:
    lines = ["", "Avoid:"]
    for a in block.items:
        if a.drug_class:
            what = f"{a.drug_class.label}, within {a.category}"
        else:
            what = f"{a.category} (the whole category)"
        lines.append(f"  * {what}  [{_ids(a.reasons)}]")
    return lines


@_block.register
def _(block: Advisories) -> list[str]:
    lines = ["", f"{block.title}:"]
    for item in block.items:
        lines += wrap(f"{item.message} ({item.key}; {_ids(item.reasons)})", "  * ", then="    ")
    return lines


@_block.register
def _(block: Assumptions) -> list[str]:
    lines = ["", "What this answer assumes:"]
    for warning in block.warnings:
        lines += wrap(f"WARNING: {warning}", "  ! ", then="    ")
    if block.depends_on:
        lines.append("  Depends on (not stated; stating it would change the answer):")
        for item in block.depends_on:
            lines += wrap(f"{item.field} = {item.values}: {item.effect}", "  * ", then="      ")
            if item.affects:
                lines += wrap(f"affects: {', '.join(item.affects)}", "      ")
    if block.unstated:
        text = "Also not stated (would not change this answer): " + ", ".join(block.unstated)
        lines += wrap(text, "  ", then="    ")
    if block.assumed:
        lines += wrap("Assumed for this answer: " + ", ".join(block.assumed), "  ", then="    ")
    return lines


@_block.register
def _(block: Reasons) -> list[str]:
    lines = ["", "Reasons:"]
    for reason in block.items:
        lines += reason_lines(reason, "  ")
    return lines


@_block.register
def _(block: Foot) -> list[str]:
    lines = [""]
    if block.fired is not None:
        lines.append(f"Rules fired: {', '.join(block.fired) or '(none)'}")
    details = f"engine {block.engine}"
    if block.fingerprint is not None:
        details += f", fingerprint {block.fingerprint}"
    lines.append(f"Knowledge base: {block.name} {block.version} ({details})")
    return lines


@_block.register
def _(block: WhyNotHead) -> list[str]:
    return [
        "",
        f"Why (not) {block.category}?",
        *_profile(block.profile),
        "",
        *wrap(f"{block.status_label}: {block.summary}", ""),
    ]


@_block.register
def _(block: Changes) -> list[str]:
    fixed = f"; {block.search_text}" if block.search_text else ""
    lines = [
        "",
        *wrap(
            f"What would make it a first-line or escalation suggestion (changes of up to "
            f"{block.max_changes} fields{fixed}):",
            "",
        ),
    ]
    if not block.items:
        lines += wrap(block.none_text, "  ")
    for index, change_set in enumerate(block.items, 1):
        text = "; ".join(change_text(change) for change in change_set.changes)
        lines += wrap(text, f"  {index:>2}. ", then="      ")
        lines.append(f"        => {change_set.tier_label} via {', '.join(change_set.rule_ids)}")
    if block.hidden:
        lines.append(f"  ... and {block.hidden} more (all are in the JSON output, WhyNot.changes)")
    return lines


@_block.register
def _(block: Overrides) -> list[str]:
    lines = ["", "Overridden by:"]
    for item in block.items:
        reason = item.reason
        lines += wrap(f"{reason.rule_id} {item.target}: {reason.title}", "  * ", then="    ")
        lines += reason_lines(reason, "  ", head=False)
    return lines


@_block.register
def _(block: RuleChecks) -> list[str]:
    lines = ["", f"Rules that could suggest {block.category} ({len(block.items)}), closest first:"]
    if not block.items:
        lines.append("  (none in this knowledge base)")
    for check in block.items:
        mark = "FIRED" if check.fired else f"{check.failed} condition(s) failed"
        lines += wrap(
            f"{check.rule_id} ({check.tier_label}) - {mark}: {check.title}", "  * ", then="    "
        )
        if not check.conditions:
            lines.append("      (no conditions: applies to every profile)")
        for cond in check.conditions:
            state = "held  " if cond.held else "FAILED"
            lines.append(f"      {state} {cond.requirement}  (profile: {cond.actual})")
    return lines


@_block.register
def _(block: Inactive) -> list[str]:
    text = "Not active (draft or retired), so not considered: " + ", ".join(block.rule_ids)
    return ["", *wrap(text, "")]


@_block.register
def _(block: KnowledgeBaseHead) -> list[str]:
    return [
        "",
        f"Knowledge base {block.name} {block.version} (engine {block.engine})",
        f"  fingerprint {block.fingerprint}",
        f"  {block.active_rules} active rules of {block.rules}, {block.evidence} evidence "
        f"entries, {block.golden_cases} golden cases, {block.files} files",
    ]


@_block.register
def _(block: DecisionTable) -> list[str]:
    lines: list[str] = []
    present = {row.area for row in block.rows}
    for area in (area for area in block.area_order if area in present):
        lines += ["", f"{area}:"]
        for row in block.rows:
            if row.area != area:
                continue
            lines.append(f"  {row.rule}: {row.title}")
            lines.append(f"      when {row.when}")
            lines.append(f"      then {'; '.join(f'{key} {text}' for key, text in row.effects)}")
    return lines


@_block.register
def _(block: AuditHead) -> list[str]:
    head = (
        f"immunorules audit of {block.name} {block.version} (fingerprint {block.fingerprint}): "
        f"{block.active_rules} active rules, {block.profiles:,} valid profiles analysed exactly"
    )
    return [head, block.summary, *block.omitted]


@_block.register
def _(block: Findings) -> list[str]:
    lines: list[str] = []
    unused: dict[str, list[str]] = {}  # unused vocabulary in brief, by kind of name
    for finding in block.items:
        if finding.kind == "unused_vocabulary":
            group, _, name = (finding.subject or "").partition(":")
            unused.setdefault(group, []).append(name)
            continue
        lines += ["", f"[{finding.severity}] {finding.kind}: {finding.message}"]
        if finding.rule_ids:
            lines.append(f"    rules: {', '.join(finding.rule_ids)}")
        if finding.region is not None:
            lines.append(f"    region: {finding.region}")
        if finding.example_compact is not None:
            lines.append(f"    example: {finding.example_compact}")
    if unused:
        count = sum(len(names) for names in unused.values())
        lines += ["", f"[info] unused_vocabulary: {count} names no live rule uses"]
        lines += [f"    {group}: {', '.join(names)}" for group, names in unused.items()]
    return lines


@_block.register
def _(block: DiffHead) -> list[str]:
    state = "CHANGED" if block.changed else "UNCHANGED"
    lines = [f"immunorules diff: {block.old} -> {block.new}"]
    summary = block.summary
    if block.changed_profiles:
        summary += f" ({block.share} of the profiles)"
    lines += wrap(f"{state}: {summary}", "", then="    ")
    if block.shared_space:
        lines += wrap(block.shared_space, "", then="    ")
    lines += [
        line
        for what, ids in block.rules
        for line in wrap(f"rules {what}: {', '.join(ids)}", "", then="    ")
    ]
    lines += [
        line for item in block.vocabulary for line in wrap(f"vocabulary: {item}", "", then="    ")
    ]
    return lines


@_block.register
def _(block: DiffRegions) -> list[str]:
    lines: list[str] = []
    total = len(block.items) + block.hidden
    for item in block.items:
        noun = "profile" if item.size == 1 else "profiles"
        lines += [""]
        lines += wrap(
            f"region {item.number} of {total}: {item.size:,} {noun}: {item.region}", "", then="    "
        )
        lines += wrap(f"before: {item.before}", "    ", then="            ")
        lines += wrap(f"after:  {item.after}", "    ", then="            ")
        lines.append(
            f"    rules:  before {', '.join(item.before_rules) or '-'}; "
            f"after {', '.join(item.after_rules) or '-'}"
        )
        lines += wrap(f"example: {item.example}", "    ", then="            ")
    if block.hidden:
        lines += ["", f"({block.hidden:,} more regions, smaller; the JSON output lists them all)"]
    return lines
