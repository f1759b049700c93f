"""The Markdown writer: a neutral document as Markdown (for notebooks and the command line).

Every piece of text is escaped (no raw HTML, no link or emphasis from the rule files), codes go
in backtick spans that cannot be broken out of, and links are only the http(s) ones the document
checked. It only formats what the document holds; it must never look up a vocabulary or re-walk
a model.
"""

from __future__ import annotations

import re
from functools import singledispatch

from .._model.result import NOT_FOR_CLINICAL_USE
from .document import (
    Advisories,
    Assumptions,
    AuditHead,
    Avoids,
    Block,
    Changes,
    Conflict,
    DecisionTable,
    DiffHead,
    DiffRegions,
    Document,
    EvidenceLink,
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
from .plain import change_text

__all__ = ["cell", "code", "md", "notice", "reason", "write"]

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!~])")
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def md(text: object) -> str:
    """Text with Markdown's special characters escaped (and no raw HTML)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def code(text: object) -> str:
    """Inline code; backticks in the text are replaced so the span cannot be broken out of."""
    return "`" + str(text).replace("`", "'").replace("\n", " ") + "`"


def cell(text: str) -> str:
    """A table cell: pipes escaped, on one line."""
    return text.replace("|", "\\|").replace("\n", " ")


def notice(text: str = NOT_FOR_CLINICAL_USE) -> str:
    return f"> **{md(text)}**"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cell(text) for text in cells) + " |"


def _evidence(links: tuple[EvidenceLink, ...]) -> str:
    return ", ".join(f"[{md(e.key)}](<{e.url}>)" if e.url else md(e.key) for e in links)


def reason(item: ReasonItem) -> str:
    """A reason on one line: rule, title, because, matched values, linked evidence."""
    matched = ", ".join(code(value) for value in item.matched) or "any profile"
    text = f"{code(item.rule_id)} {md(item.title)}: {md(item.because)} Matched: {matched}."
    if item.evidence:
        text += f" Evidence: {_evidence(item.evidence)}."
    return text


def _codes(ids: tuple[str, ...]) -> str:
    return ", ".join(code(rule_id) for rule_id in ids)


def _rules(reasons: tuple[ReasonItem, ...]) -> str:
    return _codes(tuple(r.rule_id for r in reasons))


def write(document: Document) -> str:
    """The document as Markdown."""
    out = [notice(document.notice)]
    for block in document.blocks:
        out += _block(block)
    return "\n".join(out)


def _profile(block: ProfileHead) -> list[str]:
    return [f"**Profile:** {md(block.title)}  ", " · ".join(code(item) for item in block.details)]


@singledispatch
def _block(block: Block) -> list[str]:
    raise TypeError(f"no Markdown for {type(block).__name__}")  # pragma: no cover


@_block.register
def _(block: ProfileHead) -> list[str]:
    return ["", *_profile(block)]


@_block.register
def _(block: Conflict) -> list[str]:
    return [
        "",
        f"> **Conflict ({md(block.state)}):** {md(block.message)} Rules: {_codes(block.rule_ids)}.",
    ]


@_block.register
def _(block: Uncovered) -> list[str]:
    return ["", "> **Not covered:** the knowledge base has no guidance for this profile."]


@_block.register
def _(block: Suggestions) -> list[str]:
    out = ["", "#### Suggested therapy categories", ""]
    if not block.items:
        return [*out, "None."]
    out += ["| Category | Tier | Drug classes (ATC) | Suggested by |", "|---|---|---|---|"]
    for s in block.items:
        tier = s.tier_label + (" (specialist review)" if s.review else "")
        classes = "; ".join(md(c.label) for c in s.classes) or "(any)"
        rules = _rules(s.reasons)
        if s.flag_reasons:
            rules += "; flagged by " + _rules(s.flag_reasons)
        out.append(_row([md(s.category), f"**{tier}**", classes, rules]))
    return out


@_block.register
def _(block: Avoids) -> list[str]:
    out = ["", "#### Avoid", ""]
    for a in block.items:
        what = md(a.category) + " (whole category)"
        if a.drug_class:
            what = f"{md(a.drug_class.label)}, within {md(a.category)}"
        out.append(f"- **{what}**: {_rules(a.reasons)}")
    return out


@_block.register
def _(block: Advisories) -> list[str]:
    out = ["", f"#### {block.title}", ""]
    for item in block.items:
        out.append(f"- {md(item.message)} ({code(item.key)}; {_rules(item.reasons)})")
    return out


@_block.register
def _(block: Assumptions) -> list[str]:
    out = ["", "#### What this answer assumes", ""]
    out += [f"> **Warning:** {md(warning)}" for warning in block.warnings]
    if block.warnings:
        out.append("")
    if block.depends_on:
        out += ["**Depends on** (not stated; stating it would change the answer):", ""]
        for item in block.depends_on:
            line = f"- {code(item.field)} = {code(item.values)}: {md(item.effect)}"
            if item.affects:
                line += f" (affects {', '.join(md(name) for name in item.affects)})"
            out.append(line)
        out.append("")
    if block.unstated:
        fields = ", ".join(code(name) for name in block.unstated)
        out.append(f"Also not stated (would not change this answer): {fields}.  ")
    if block.assumed:
        out.append(f"Assumed for this answer: {', '.join(code(item) for item in block.assumed)}.")
    while out[-1] == "":
        out.pop()
    return out


@_block.register
def _(block: Reasons) -> list[str]:
    return ["", "#### Reasons", "", *(f"- {reason(item)}" for item in block.items)]


@_block.register
def _(block: Foot) -> list[str]:
    text = f"*Knowledge base {md(block.name)} {md(block.version)}, engine {md(block.engine)}"
    if block.fingerprint is not None:
        text += f", fingerprint {code(block.fingerprint)}"
    return ["", text + ".*"]


@_block.register
def _(block: WhyNotHead) -> list[str]:
    return [
        "",
        f"### Why (not) {md(block.category)}?",
        "",
        *_profile(block.profile),
        "",
        f"**{block.status_label}:** {md(block.summary)}",
    ]


@_block.register
def _(block: Changes) -> list[str]:
    fixed = f"; {md(block.search_text)}" if block.search_text else ""
    out = ["", f"#### What would change it (up to {block.max_changes} fields{fixed})", ""]
    if not block.items:
        out.append(md(block.none_text))
    for index, change_set in enumerate(block.items, 1):
        changes = "; ".join(code(change_text(change)) for change in change_set.changes)
        rules = _codes(change_set.rule_ids)
        out.append(f"{index}. {changes} → **{change_set.tier_label}** via {rules}")
    if block.hidden:
        out.append(f"\n...and {block.hidden} more (all in `WhyNot.changes` and the JSON output).")
    return out


@_block.register
def _(block: Overrides) -> list[str]:
    out = ["", "#### Overridden by", ""]
    out += [f"- {md(item.target)}: {reason(item.reason)}" for item in block.items]
    return out


@_block.register
def _(block: RuleChecks) -> list[str]:
    out = ["", f"#### Rules that could suggest {md(block.category)}, closest first", ""]
    if not block.items:
        out.append("None in this knowledge base.")
    for check in block.items:
        fired = "fired" if check.fired else f"{check.failed} condition(s) failed"
        out.append(f"- {code(check.rule_id)} {md(check.title)} ({check.tier_label}; {fired})")
        for cond in check.conditions:
            mark = "✓ held" if cond.held else "✗ **failed**"
            out.append(f"  - {mark}: {code(cond.requirement)}; profile has {code(cond.actual)}")
    return out


@_block.register
def _(block: Inactive) -> list[str]:
    return ["", f"Not active (draft or retired): {_codes(block.rule_ids)}."]


@_block.register
def _(block: KnowledgeBaseHead) -> list[str]:
    return [
        "",
        f"### Knowledge base {md(block.name)} {md(block.version)}",
        "",
        f"{block.active_rules} active rules of {block.rules} · {block.evidence} evidence entries"
        f" · {block.golden_cases} golden cases · engine {md(block.engine)} · "
        f"fingerprint {code(block.fingerprint[:12])}",
    ]


@_block.register
def _(block: DecisionTable) -> list[str]:
    out = [
        "",
        "| Rule | Area | When | Suggest | Flag | Avoid | Advise |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in block.rows:
        cells = [code(row.rule), md(row.area), md(row.when), *(md(text) for _, text in row.cells)]
        out.append(_row(cells))
    return out


@_block.register
def _(block: AuditHead) -> list[str]:
    verdict = "OK" if block.ok else "errors found"
    counts = ", ".join(f"{n} {severity}(s)" for severity, n in block.counts)
    about = (
        f"Knowledge base {md(block.name)} {md(block.version)}, fingerprint "
        f"`{block.fingerprint}`: {block.active_rules} active rules, {block.profiles:,} valid "
        "profiles analysed exactly."
    )
    return ["", f"### Audit: {verdict}", "", about, "", counts]


@_block.register
def _(block: Findings) -> list[str]:
    if not block.items:
        return []
    out = ["", "| Severity | Kind | Rules | Finding |", "|---|---|---|---|"]
    for finding in sorted(block.items, key=lambda f: _SEVERITY_ORDER.get(f.severity, 9)):
        message = md(finding.message)
        if finding.region:
            message += f" Region: {md(finding.region)}."
        if finding.example is not None:
            message += f" Example: {md(finding.example)}."
        cells = [f"**{finding.severity}**", code(finding.kind), _codes(finding.rule_ids), message]
        out.append(_row(cells))
    return out


@_block.register
def _(block: DiffHead) -> list[str]:
    verdict = (
        "changes answers"
        if block.changed_profiles
        else ("changes the vocabulary only" if block.changed else "no change")
    )
    out = ["", f"### Rule-set diff: {verdict}", "", f"{code(block.old)} → {code(block.new)}  "]
    summary = md(block.summary)
    if block.changed_profiles:
        summary += f" ({md(block.share)} of the profiles, counted exactly)"
    out.append(summary)
    if block.shared_space:
        out += ["", f"*{md(block.shared_space)}*"]
    if block.rules or block.vocabulary:
        out.append("")
        out += [f"- rules {md(what)}: {_codes(ids)}" for what, ids in block.rules]
        out += [f"- vocabulary: {md(item)}" for item in block.vocabulary]
    return out


@_block.register
def _(block: DiffRegions) -> list[str]:
    if not block.items:
        return []
    out = ["", "| # | Profiles | Region | Before | After | Rules |", "|---|---|---|---|---|---|"]
    for item in block.items:
        rules = (
            f"before: {_codes(item.before_rules) or '-'}; after: {_codes(item.after_rules) or '-'}"
        )
        region = f"{md(item.region)} (example: {md(item.example)})"
        cells = [str(item.number), f"{item.size:,}", region, md(item.before), md(item.after), rules]
        out.append(_row(cells))
    if block.hidden:
        out += [
            "",
            f"{block.hidden:,} more regions, smaller, are not shown (the JSON lists them all).",
        ]
    return out
