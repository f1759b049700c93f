"""Rendering: results, why-not answers, audit reports and knowledge-base summaries as plain text,
Markdown, HTML (``_render_html``) and JSON.

Every rendering carries the not-for-clinical-use notice. Evidence keys are shown with the
citation links that a result (or why-not answer) carries in its ``citations``.
"""

from __future__ import annotations

import functools
import json
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from .._model.profile import ConditionProfile
from .._model.result import NOT_FOR_CLINICAL_USE, Citation, Reason, Result
from .._model.rules import show_value as show
from .._model.schema import Schema, bundled_schema

if TYPE_CHECKING:
    from .._analysis.audit_report import AuditReport
    from .._analysis.protocol import KnowledgeBaseWithTable as KnowledgeBase
    from .._analysis.whynot import ProfileChange, WhyNot

__all__ = [
    "audit_markdown",
    "audit_text",
    "decision_rows",
    "kb_json",
    "kb_markdown",
    "kb_text",
    "result_json",
    "result_markdown",
    "result_text",
    "whynot_json",
    "whynot_markdown",
    "whynot_text",
]

TIER_LABEL = {"first_line": "first line", "escalation": "escalation", "flagged": "FLAGGED"}
STATUS_LABEL = {
    "suggested": "SUGGESTED",
    "flagged": "FLAGGED",
    "avoided": "AVOIDED",
    "absent": "NOT SUGGESTED",
}


# -- evidence lookup ------------------------------------------------------------------------------


def evidence_for(answer: Result | WhyNot) -> Mapping[str, Citation]:
    """The full citations a result (or why-not answer) carries, by evidence key."""
    return {citation.key: citation for citation in answer.citations}


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an http(s) link (never a javascript: or data: one), else None."""
    if url and re.match(r"https?://[^\s<>\"']+\Z", url):
        return url
    return None


# -- the schema of what is rendered ---------------------------------------------------------------

_SCHEMA: ContextVar[Schema | None] = ContextVar("immunorules_render_schema", default=None)
_Rendered = TypeVar("_Rendered", bound=Callable[..., Any])


def schema() -> Schema:
    """The schema of the object being rendered (names of its conditions, classes, fields)."""
    return _SCHEMA.get() or bundled_schema()


def schema_of(subject: object) -> Schema:
    found = getattr(subject, "schema", None)
    if isinstance(found, Schema):
        return found
    profile = getattr(subject, "profile", None)
    if isinstance(profile, ConditionProfile):
        return type(profile).schema_of()
    return bundled_schema()


def in_schema(render: _Rendered) -> _Rendered:
    """Run a renderer with its subject's schema (a knowledge base, result or why-not answer)."""

    @functools.wraps(render)
    def wrapper(subject: object, *args: Any, **kwargs: Any) -> Any:
        token = _SCHEMA.set(schema_of(subject))
        try:
            return render(subject, *args, **kwargs)
        finally:
            _SCHEMA.reset(token)

    return wrapper  # type: ignore[return-value]


# -- shared wording -------------------------------------------------------------------------------


def category_name(category: str) -> str:
    return schema().category(category).name


def subcategory_name(subcategory: str) -> str:
    return schema().subcategory(subcategory).name


def atc_codes(subcategory: str) -> tuple[str, ...]:
    return tuple(code.code for code in schema().subcategory(subcategory).atc)


def class_label(subcategory: str) -> str:
    """``Name (ATC L04AB)`` or just ``Name`` when the class has no ATC code."""
    codes = atc_codes(subcategory)
    name = subcategory_name(subcategory)
    return f"{name} (ATC {', '.join(codes)})" if codes else f"{name} (no ATC code)"


def matched_text(reason: Reason) -> str:
    values = ", ".join(f"{k}={show(v)}" for k, v in reason.matched.items())
    return values or "any profile (no conditions)"


def profile_title(profile: ConditionProfile) -> str:
    vocab = type(profile).schema_of().vocabulary
    area = vocab.disease_area(profile.disease_area).name
    if profile.condition is None:
        return f"{area} (no specific condition)"
    return f"{vocab.condition(profile.condition).name} ({area.lower()})"


def profile_details(profile: ConditionProfile) -> list[str]:
    """The profile's values that differ from their defaults, as ``field=value`` items."""
    items = [f"immune_activity={profile.immune_activity}"]
    if profile.condition is not None:
        items.append(f"condition={profile.condition}")
    else:
        items.append(f"disease_area={profile.disease_area}")
    for name, field in type(profile).model_fields.items():
        if name in ("immune_activity", "condition", "disease_area"):
            continue
        value = getattr(profile, name)
        if value != field.default:
            items.append(f"{name}={show(value)}")
    return items


def values_text(values: Sequence[Any], field: str) -> str:
    """A short reading of a set of values: ranges for integers, a capped list otherwise."""
    if field == "prior_lines_of_therapy" and values:
        numbers = sorted(int(v) for v in values)
        if numbers == list(range(numbers[0], numbers[-1] + 1)) and len(numbers) > 2:
            return f"{numbers[0]}-{numbers[-1]}"
    shown = [show(v) for v in values]
    if len(shown) > 6:
        return ", ".join(shown[:5]) + f", ... ({len(shown)} values)"
    return ", ".join(shown)


def change_text(change: ProfileChange) -> str:
    """One field change, e.g. ``prior_lines_of_therapy: 0 -> 1 (any of 1-20)``."""
    text = f"{change.field}: {show(change.before)} -> {show(change.after)}"
    others = [v for v in change.alternatives if v != change.after]
    if others and change.field == "prior_lines_of_therapy":
        text += f" (any of {values_text(change.alternatives, change.field)})"
    elif others:
        text += f" (or {values_text(others, change.field)})"
    return text


def changes_text(changes: Sequence[ProfileChange]) -> list[str]:
    """The changes of a change set; an area change that follows from the condition is shown
    with it rather than as a change of its own."""
    items: list[str] = []
    for change in changes:
        if change.implied and items:
            items[-1] += f" (disease_area -> {show(change.after)})"
        else:
            items.append(change_text(change))
    return items


#: How many change sets the text, Markdown and HTML renderings list (JSON has them all).
SHOWN_CHANGE_SETS = 10


def conflict_state(resolved: bool) -> str:
    return "resolved by a flag" if resolved else "UNRESOLVED - needs a specialist decision"


# -- results: text --------------------------------------------------------------------------------


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


def _reason_lines(
    reason: Reason, indent: str, evidence: Mapping[str, Citation], *, head: bool = True
) -> list[str]:
    lines = wrap(f"{reason.rule_id}: {reason.title}", indent, then=indent + "    ") if head else []
    lines += wrap(f"because: {reason.because}", indent + "    ")
    lines += wrap(f"matched: {matched_text(reason)}", indent + "    ")
    for key in reason.evidence:
        entry = evidence.get(key)
        url = safe_url(entry.url) if entry else None
        lines.append(
            f"{indent}    evidence: {key} <{url}>" if url else f"{indent}    evidence: {key}"
        )
    if not reason.evidence:
        lines.append(f"{indent}    evidence: none listed")
    return lines


def _ids(reasons: Iterable[Reason]) -> str:
    return ", ".join(reason.rule_id for reason in reasons)


def all_reasons(result: Result) -> list[Reason]:
    """Every reason in a result, once per rule, by rule id."""
    found: dict[str, Reason] = {}
    for s in result.suggestions:
        for r in (*s.reasons, *s.flag_reasons):
            found.setdefault(r.rule_id, r)
    for a in result.avoided:
        for r in a.reasons:
            found.setdefault(r.rule_id, r)
    for adv in result.advisories:
        for r in adv.reasons:
            found.setdefault(r.rule_id, r)
    return [found[key] for key in sorted(found)]


@in_schema
def result_text(result: Result) -> str:
    """A readable plain-text explanation of a result: the answer first, then the reasons."""
    evidence = evidence_for(result)
    profile = result.profile
    lines = [
        *wrap(result.notice, ""),
        "",
        f"Profile: {profile_title(profile)}",
        *wrap("; ".join(profile_details(profile)), "  "),
    ]
    for conflict in result.conflicts:
        lines.append("")
        lines += wrap(f"CONFLICT ({conflict_state(conflict.resolved)}): {conflict.message}", "")
        lines.append(f"  rules: {', '.join(conflict.rule_ids)}")
    if not result.covered:
        lines.append("")
        lines += wrap(
            "NOT COVERED: the knowledge base has no guidance for this profile; no rule that "
            "suggests, avoids a category or refers applies to it.",
            "",
        )
    lines += ["", "Suggested therapy categories:"]
    if not result.suggestions:
        lines.append("  (none)")
    for suggestion in result.suggestions:
        tier = TIER_LABEL[suggestion.tier]
        if suggestion.requires_specialist_review:
            tier += " - requires specialist review"
        direction = f" ({suggestion.direction})" if suggestion.direction else ""
        lines.append(f"  * {category_name(suggestion.category)}{direction}: {tier}")
        for sub in suggestion.subcategories:
            lines.append(f"      class: {class_label(sub)}")
        lines.append(f"      suggested by: {_ids(suggestion.reasons)}")
        if suggestion.flag_reasons:
            lines.append(f"      flagged by: {_ids(suggestion.flag_reasons)}")
    if result.avoided:
        lines += ["", "Avoid:"]
    for avoidance in result.avoided:
        what = category_name(avoidance.category)
        if avoidance.subcategory:
            what = f"{class_label(avoidance.subcategory)}, within {what}"
        else:
            what = f"{what} (the whole category)"
        lines.append(f"  * {what}  [{_ids(avoidance.reasons)}]")
    for kind, title in (("referral", "Referrals:"), ("caution", "Cautions:")):
        chosen = [a for a in result.advisories if a.kind == kind]
        if chosen:
            lines += ["", title]
        for advisory in chosen:
            text = f"{advisory.message} ({advisory.key}; {_ids(advisory.reasons)})"
            lines += wrap(text, "  * ", then="    ")
    reasons = all_reasons(result)
    if reasons:
        lines += ["", "Reasons:"]
    for reason in reasons:
        lines += _reason_lines(reason, "  ", evidence)
    info = result.knowledge_base
    lines += [
        "",
        f"Rules fired: {', '.join(result.fired_rules) or '(none)'}",
        f"Knowledge base: {info.name} {info.version} (engine {info.engine}, "
        f"fingerprint {info.fingerprint[:12]})",
    ]
    return "\n".join(lines)


# -- Markdown helpers -----------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!~])")


def md(text: object) -> str:
    """Text with Markdown's special characters escaped (and no raw HTML)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def code(text: object) -> str:
    """Inline code; backticks in the text are replaced so the span cannot be broken out of."""
    return "`" + str(text).replace("`", "'").replace("\n", " ") + "`"


def md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def md_notice(notice: str = NOT_FOR_CLINICAL_USE) -> str:
    return f"> **{md(notice)}**"


def _md_evidence(keys: Sequence[str], evidence: Mapping[str, Citation]) -> str:
    cited = []
    for key in keys:
        entry = evidence.get(key)
        url = safe_url(entry.url) if entry else None
        cited.append(f"[{md(key)}](<{url}>)" if url else md(key))
    return ", ".join(cited)


def md_reason(reason: Reason, evidence: Mapping[str, Citation]) -> str:
    matched = ", ".join(code(f"{k}={show(v)}") for k, v in reason.matched.items()) or "any profile"
    text = f"{code(reason.rule_id)} {md(reason.title)}: {md(reason.because)} Matched: {matched}."
    if reason.evidence:
        text += f" Evidence: {_md_evidence(reason.evidence, evidence)}."
    return text


@in_schema
def result_markdown(result: Result) -> str:
    """The explanation as Markdown (for notebooks and the CLI)."""
    evidence = evidence_for(result)
    profile = result.profile
    out = [
        md_notice(result.notice),
        "",
        f"**Profile:** {md(profile_title(profile))}  ",
        " · ".join(code(item) for item in profile_details(profile)),
    ]
    for conflict in result.conflicts:
        out += [
            "",
            f"> **Conflict ({md(conflict_state(conflict.resolved))}):** {md(conflict.message)} "
            f"Rules: {', '.join(code(r) for r in conflict.rule_ids)}.",
        ]
    if not result.covered:
        out += ["", "> **Not covered:** the knowledge base has no guidance for this profile."]
    out += ["", "#### Suggested therapy categories", ""]
    if result.suggestions:
        out += ["| Category | Tier | Drug classes (ATC) | Suggested by |", "|---|---|---|---|"]
        for s in result.suggestions:
            tier = TIER_LABEL[s.tier] + (
                " (specialist review)" if s.requires_specialist_review else ""
            )
            classes = "; ".join(md(class_label(sub)) for sub in s.subcategories) or "(any)"
            rules = ", ".join(code(r.rule_id) for r in s.reasons)
            if s.flag_reasons:
                rules += "; flagged by " + ", ".join(code(r.rule_id) for r in s.flag_reasons)
            row = [md(category_name(s.category)), f"**{tier}**", classes, rules]
            out.append("| " + " | ".join(md_cell(cell) for cell in row) + " |")
    else:
        out.append("None.")
    if result.avoided:
        out += ["", "#### Avoid", ""]
        for a in result.avoided:
            what = md(category_name(a.category)) + " (whole category)"
            if a.subcategory:
                what = f"{md(class_label(a.subcategory))}, within {md(category_name(a.category))}"
            rules = ", ".join(code(r.rule_id) for r in a.reasons)
            out.append(f"- **{what}**: {rules}")
    for kind, title in (("referral", "Referrals"), ("caution", "Cautions")):
        chosen = [a for a in result.advisories if a.kind == kind]
        if chosen:
            out += ["", f"#### {title}", ""]
        for advisory in chosen:
            rules = ", ".join(code(r.rule_id) for r in advisory.reasons)
            out.append(f"- {md(advisory.message)} ({code(advisory.key)}; {rules})")
    reasons = all_reasons(result)
    if reasons:
        out += ["", "#### Reasons", ""]
        out += [f"- {md_reason(reason, evidence)}" for reason in reasons]
    info = result.knowledge_base
    out += [
        "",
        f"*Knowledge base {md(info.name)} {md(info.version)}, engine {md(info.engine)}, "
        f"fingerprint {code(info.fingerprint[:12])}.*",
    ]
    return "\n".join(out)


@in_schema
def result_json(result: Result, *, indent: int | None = 2) -> str:
    return result.model_dump_json(indent=indent)


# -- why-not ------------------------------------------------------------------------------


def override_target(kind: str, subcategory: str | None) -> str:
    if subcategory:
        return f"avoids {subcategory_name(subcategory)}"
    return "avoids the whole category" if kind == "avoid" else "flags it"


@in_schema
def whynot_text(answer: WhyNot) -> str:
    """A why-not answer as plain text: the answer, what would change it, then the rules."""
    evidence = evidence_for(answer)
    name = category_name(answer.category)
    lines = [
        *wrap(answer.notice, ""),
        "",
        f"Why (not) {name}?",
        f"Profile: {profile_title(answer.profile)}",
        *wrap("; ".join(profile_details(answer.profile)), "  "),
        "",
        *wrap(f"{STATUS_LABEL[answer.status]}: {answer.summary}", ""),
    ]
    if answer.status != "suggested":
        fixed = f"; {answer.search_text}" if answer.fixed else ""
        lines += [
            "",
            *wrap(
                f"What would make it a first-line or escalation suggestion (changes of up to "
                f"{answer.max_changes} fields{fixed}):",
                "",
            ),
        ]
        if not answer.changes:
            lines += wrap(no_change_text(answer), "  ")
        for index, change_set in enumerate(answer.changes[:SHOWN_CHANGE_SETS], 1):
            lines += wrap(
                "; ".join(changes_text(change_set.changes)), f"  {index:>2}. ", then="      "
            )
            lines.append(
                f"        => {TIER_LABEL[change_set.tier]} via {', '.join(change_set.rule_ids)}"
            )
        hidden = len(answer.changes) - SHOWN_CHANGE_SETS
        if hidden > 0:
            lines.append(f"  ... and {hidden} more (all are in the JSON output, WhyNot.changes)")
    if answer.overrides:
        lines += ["", "Overridden by:"]
    for override in answer.overrides:
        target = override_target(override.kind, override.subcategory)
        lines += wrap(
            f"{override.reason.rule_id} {target}: {override.reason.title}", "  * ", then="    "
        )
        lines += _reason_lines(override.reason, "  ", evidence, head=False)
    lines += ["", f"Rules that could suggest {name} ({len(answer.rules)}), closest first:"]
    if not answer.rules:
        lines.append("  (none in this knowledge base)")
    for check in answer.rules:
        mark = "FIRED" if check.fired else f"{len(check.failed)} condition(s) failed"
        lines += wrap(
            f"{check.rule_id} ({TIER_LABEL[check.tier]}) - {mark}: {check.title}",
            "  * ",
            then="    ",
        )
        if not check.conditions:
            lines.append("      (no conditions: applies to every profile)")
        for cond in check.conditions:
            state = "held  " if cond.held else "FAILED"
            lines.append(f"      {state} {cond.requirement}  (profile: {show(cond.actual)})")
    if answer.inactive_rule_ids:
        lines.append("")
        lines += wrap(
            "Not active (draft or retired), so not considered: "
            + ", ".join(answer.inactive_rule_ids),
            "",
        )
    info = answer.knowledge_base
    lines += ["", f"Knowledge base: {info.name} {info.version} (engine {info.engine})"]
    return "\n".join(lines)


def no_change_text(answer: WhyNot) -> str:
    if answer.reachable is False:
        return "None: no valid profile change can make it a first-line or escalation suggestion."
    if answer.reachable is True:
        return f"None within {answer.max_changes} fields; a larger change would be needed."
    return f"None within {answer.max_changes} fields; larger changes were not searched."


@in_schema
def whynot_markdown(answer: WhyNot) -> str:
    evidence = evidence_for(answer)
    name = md(category_name(answer.category))
    out = [
        md_notice(answer.notice),
        "",
        f"### Why (not) {name}?",
        "",
        f"**Profile:** {md(profile_title(answer.profile))}  ",
        " · ".join(code(item) for item in profile_details(answer.profile)),
        "",
        f"**{STATUS_LABEL[answer.status]}:** {md(answer.summary)}",
    ]
    if answer.status != "suggested":
        fixed = f"; {md(answer.search_text)}" if answer.fixed else ""
        out += ["", f"#### What would change it (up to {answer.max_changes} fields{fixed})", ""]
        if not answer.changes:
            out.append(md(no_change_text(answer)))
        for index, change_set in enumerate(answer.changes[:SHOWN_CHANGE_SETS], 1):
            changes = "; ".join(code(text) for text in changes_text(change_set.changes))
            rules = ", ".join(code(r) for r in change_set.rule_ids)
            out.append(f"{index}. {changes} → **{TIER_LABEL[change_set.tier]}** via {rules}")
        hidden = len(answer.changes) - SHOWN_CHANGE_SETS
        if hidden > 0:
            out.append(f"\n...and {hidden} more (all in `WhyNot.changes` and the JSON output).")
    if answer.overrides:
        out += ["", "#### Overridden by", ""]
        for override in answer.overrides:
            target = md(override_target(override.kind, override.subcategory))
            out.append(f"- {target}: {md_reason(override.reason, evidence)}")
    out += ["", f"#### Rules that could suggest {name}, closest first", ""]
    if not answer.rules:
        out.append("None in this knowledge base.")
    for check in answer.rules:
        fired = "fired" if check.fired else f"{len(check.failed)} condition(s) failed"
        out.append(f"- {code(check.rule_id)} {md(check.title)} ({TIER_LABEL[check.tier]}; {fired})")
        for cond in check.conditions:
            mark = "✓ held" if cond.held else "✗ **failed**"
            out.append(
                f"  - {mark}: {code(cond.requirement)}; profile has {code(show(cond.actual))}"
            )
    if answer.inactive_rule_ids:
        inactive = ", ".join(code(r) for r in answer.inactive_rule_ids)
        out += ["", f"Not active (draft or retired): {inactive}."]
    return "\n".join(out)


@in_schema
def whynot_json(answer: WhyNot, *, indent: int | None = 2) -> str:
    return answer.model_dump_json(indent=indent)


# -- knowledge base summary and decision table ----------------------------------------------------


def decision_rows(kb: KnowledgeBase) -> list[dict[str, str]]:
    """The knowledge base's decision table (active rules) as flat text rows."""
    return kb.decision_table().to_records()


def _kb_counts(kb: KnowledgeBase) -> dict[str, int]:
    return {
        "rules": len(kb.rules),
        "active_rules": len(kb.active_rules),
        "evidence": len(kb.evidence),
        "files": len(kb.files),
        "golden_cases": sum(len(rule.tests) for rule in kb.rules),
    }


@in_schema
def kb_text(kb: KnowledgeBase) -> str:
    counts = _kb_counts(kb)
    lines = [
        NOT_FOR_CLINICAL_USE,
        "",
        f"Knowledge base {kb.name} {kb.version} (engine {kb.engine})",
        f"  fingerprint {kb.fingerprint}",
        f"  {counts['active_rules']} active rules of {counts['rules']}, "
        f"{counts['evidence']} evidence entries, {counts['golden_cases']} golden cases, "
        f"{counts['files']} files",
    ]
    rows = decision_rows(kb)
    for area in _areas(rows):
        lines += ["", f"{area}:"]
        for row in rows:
            if row["area"] != area:
                continue
            effects = [
                f"{key} {row[key]}" for key in ("suggest", "flag", "avoid", "advise") if row[key]
            ]
            lines.append(f"  {row['rule']}: {row['title']}")
            lines.append(f"      when {row['when']}")
            lines.append(f"      then {'; '.join(effects)}")
    return "\n".join(lines)


def _areas(rows: Sequence[Mapping[str, str]]) -> list[str]:
    order = [*schema().disease_areas, "several areas", "any area"]
    present = {row["area"] for row in rows}
    return [area for area in order if area in present]


@in_schema
def kb_markdown(kb: KnowledgeBase) -> str:
    counts = _kb_counts(kb)
    out = [
        md_notice(),
        "",
        f"### Knowledge base {md(kb.name)} {md(kb.version)}",
        "",
        f"{counts['active_rules']} active rules of {counts['rules']} · {counts['evidence']} "
        f"evidence entries · {counts['golden_cases']} golden cases · engine {md(kb.engine)} · "
        f"fingerprint {code(kb.fingerprint[:12])}",
        "",
        "| Rule | Area | When | Suggest | Flag | Avoid | Advise |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in decision_rows(kb):
        cells = [code(row["rule"]), md(row["area"]), md(row["when"])]
        cells += [md(row[key]) for key in ("suggest", "flag", "avoid", "advise")]
        out.append("| " + " | ".join(md_cell(cell) for cell in cells) + " |")
    return "\n".join(out)


@in_schema
def kb_json(kb: KnowledgeBase, *, indent: int | None = 2) -> str:
    data = {
        "notice": NOT_FOR_CLINICAL_USE,
        "name": kb.name,
        "version": kb.version,
        "fingerprint": kb.fingerprint,
        "engine": kb.engine,
        "counts": _kb_counts(kb),
        "categories": list(schema().categories),
        "decision_table": decision_rows(kb),
    }
    return json.dumps(data, indent=indent)


# -- audit reports --------------------------------------------------------------------------------


def audit_text(report: AuditReport) -> str:
    """The report as plain text (its own ``to_text``, which carries the notice)."""
    return report.to_text()


_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def audit_counts(report: AuditReport) -> dict[str, int]:
    """Findings per severity, those a capped report does not list included."""
    return report.counts()


def audit_markdown(report: AuditReport) -> str:
    from .._analysis.audit_report import describe_region

    counts = audit_counts(report)
    verdict = "OK" if report.ok else "errors found"
    out = [
        md_notice(),
        "",
        f"### Audit: {verdict}",
        "",
        ", ".join(f"{n} {severity}(s)" for severity, n in counts.items()),
    ]
    if report.findings:
        out += ["", "| Severity | Kind | Rules | Finding |", "|---|---|---|---|"]
    for finding in sorted(report.findings, key=lambda f: _SEVERITY_ORDER.get(f.severity, 9)):
        message = md(finding.message)
        if finding.region:
            message += f" Region: {md(finding.region_text or describe_region(finding.region))}."
        if finding.example_profile is not None:
            example = ", ".join(profile_details(finding.example_profile))
            message += f" Example: {md(example)}."
        cells = [
            f"**{finding.severity}**",
            code(finding.kind),
            ", ".join(code(r) for r in finding.rule_ids),
            message,
        ]
        out.append("| " + " | ".join(md_cell(cell) for cell in cells) + " |")
    return "\n".join(out)
