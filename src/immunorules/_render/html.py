"""The HTML writer, for notebooks: a neutral document as a self-contained fragment (one scoped
``<style>``, no external CSS, JS or fonts), every piece of text escaped, and colours that read in
light and dark themes alike.

Text takes the page's own colour (JupyterLab's ``--jp-*`` variables where present); colour is
used only for borders and translucent tints, so the same markup works on a white or a dark page.
It only formats what the document holds; it must never look up a vocabulary, re-walk a model or
let a rule file's text through unescaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from functools import singledispatch
from typing import TYPE_CHECKING

from .._model.result import NOT_FOR_CLINICAL_USE, Result
from .build import (
    audit_document,
    diff_document,
    kb_document,
    result_document,
    whynot_document,
)
from .document import (
    Advisories,
    Assumptions,
    AuditHead,
    Avoids,
    Block,
    ChangeItem,
    Changes,
    Conflict,
    DecisionRow,
    DecisionTable,
    DiffHead,
    DiffRegions,
    Document,
    DrugClass,
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
from .labels import Labels

if TYPE_CHECKING:
    from .._analysis.audit_report import AuditReport
    from .._analysis.decision_table import DecisionTable as DecisionTableModel
    from .._analysis.diff import RuleSetDiff
    from .._analysis.protocol import KnowledgeBaseWithTable as KnowledgeBase
    from .._analysis.whynot import WhyNot

__all__ = [
    "CSS",
    "audit_html",
    "badge",
    "chip",
    "decision_table_html",
    "diff_html",
    "esc",
    "kb_html",
    "result_html",
    "root",
    "whynot_html",
    "write",
]

# JupyterLab styles output tables and lists with ``.jp-RenderedHTMLCommon`` rules (cells
# right-aligned at specificity 0,2,1, a fixed table layout, bulleted lists). Rules here that must
# win are written one step more specific (``.ir-root table.ir-table td`` is 0,2,2), and
# tests/test_notebook_css.py counts it.
CSS = """
.ir-root{--ir-green:#2da44e;--ir-blue:#4c8df6;--ir-amber:#d4a72c;--ir-red:#e5534b;
--ir-purple:#a371f7;--ir-grey:rgba(127,127,127,.55);
--ir-border:var(--jp-border-color2,rgba(127,127,127,.35));
font-family:var(--jp-content-font-family,system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif);font-size:13px;line-height:1.45;color:inherit;
max-width:980px;text-align:left}
.ir-root *{box-sizing:border-box}
.ir-root p{margin:4px 0}
.ir-root h4{margin:14px 0 6px;font-size:12px;font-weight:700;text-transform:uppercase;
letter-spacing:.05em;opacity:.78}
.ir-root a,div.ir-root a:link,div.ir-root a:visited{color:var(--jp-content-link-color,#4c8df6);
text-decoration:underline}
.ir-notice{border:1px dashed var(--ir-amber);background:rgba(212,167,44,.12);
border-radius:6px;padding:6px 10px;margin:0 0 10px;font-size:12px}
.ir-head{margin:0 0 8px}
.ir-title{font-size:16px;font-weight:700;margin-right:6px}
.ir-muted{opacity:.72}
.ir-small{font-size:12px}
.ir-code,.ir-chip{font-family:var(--jp-code-font-family,ui-monospace,SFMono-Regular,Menlo,
Consolas,"DejaVu Sans Mono",monospace);font-size:11.5px}
.ir-chip{display:inline-block;border:1px solid var(--ir-border);border-radius:4px;
padding:0 5px;margin:1px 3px 1px 0;background:rgba(127,127,127,.10);white-space:nowrap}
.ir-badge{display:inline-block;border:1px solid var(--ir-grey);border-radius:999px;
padding:0 8px;margin:0 4px 0 0;font-size:11px;font-weight:700;letter-spacing:.03em;
text-transform:uppercase;white-space:nowrap;vertical-align:1px}
.ir-first_line,.ir-suggested,.ir-ok,.ir-held{border-color:var(--ir-green);
background:rgba(45,164,78,.18)}
.ir-escalation{border-color:var(--ir-blue);background:rgba(76,141,246,.18)}
.ir-flagged,.ir-warning,.ir-caution{border-color:var(--ir-amber);background:rgba(212,167,44,.20)}
.ir-avoided,.ir-avoid,.ir-error,.ir-failed,.ir-unresolved{border-color:var(--ir-red);
background:rgba(229,83,75,.18)}
.ir-referral{border-color:var(--ir-purple);background:rgba(163,113,247,.18)}
.ir-absent,.ir-info,.ir-direction{border-color:var(--ir-grey);background:rgba(127,127,127,.12)}
.ir-card{border:1px solid var(--ir-border);border-left:4px solid var(--ir-grey);
border-radius:6px;padding:7px 10px;margin:6px 0}
.ir-card.ir-first_line{border-left-color:var(--ir-green);background:rgba(45,164,78,.06)}
.ir-card.ir-escalation{border-left-color:var(--ir-blue);background:rgba(76,141,246,.06)}
.ir-card.ir-flagged,.ir-card.ir-caution{border-left-color:var(--ir-amber);
background:rgba(212,167,44,.07)}
.ir-card.ir-avoid{border-left-color:var(--ir-red);background:rgba(229,83,75,.06)}
.ir-card.ir-referral{border-left-color:var(--ir-purple);background:rgba(163,113,247,.07)}
.ir-card-head{font-weight:600}
.ir-conflict{border:1px solid var(--ir-red);border-left:6px solid var(--ir-red);
background:rgba(229,83,75,.13);border-radius:6px;padding:8px 10px;margin:8px 0}
.ir-conflict.ir-resolved{border-color:var(--ir-amber);background:rgba(212,167,44,.13)}
.ir-gap{border:1px solid var(--ir-grey);border-left:6px solid var(--ir-grey);
background:rgba(127,127,127,.10);border-radius:6px;padding:8px 10px;margin:8px 0}
.ir-assumes{border:1px solid var(--ir-amber);border-left:6px solid var(--ir-amber);
background:rgba(212,167,44,.08);border-radius:6px;padding:6px 10px;margin:8px 0}
div.ir-root ul.ir-depends{margin:4px 0;padding-left:18px}
.ir-classes{margin:4px 0}
div.ir-root ul.ir-reasons{margin:4px 0 0;padding:0;list-style:none}
.ir-reason{margin:5px 0;padding:0 0 0 8px;border-left:2px solid var(--ir-border)}
.ir-reason .ir-because{margin:1px 0}
.ir-label{font-size:11px;font-weight:700;text-transform:uppercase;letter-spacing:.04em;
opacity:.7;margin-right:4px}
.ir-root details>summary{cursor:pointer}
.ir-root table.ir-table{border-collapse:collapse;border-spacing:0;table-layout:fixed;
width:100%;margin:6px 0;font-size:12px;color:inherit}
.ir-root table.ir-table th,.ir-root table.ir-table td{border:1px solid var(--ir-border);
padding:3px 6px;line-height:1.4;vertical-align:top;text-align:left;white-space:normal;
overflow-wrap:anywhere;max-width:none}
.ir-root table.ir-table th{background:rgba(127,127,127,.12);font-weight:700}
.ir-kb table.ir-table th:nth-child(1){width:27%}
.ir-kb table.ir-table th:nth-child(2){width:35%}
.ir-audit table.ir-table th:nth-child(1){width:96px}
.ir-audit table.ir-table th:nth-child(2){width:22%}
.ir-audit table.ir-table th:nth-child(3){width:22%}
.ir-diff table.ir-table th:nth-child(1){width:36px}
.ir-diff table.ir-table th:nth-child(2){width:12%}
.ir-whynot table.ir-table th:nth-child(1){width:80px}
.ir-whynot table.ir-table th:nth-child(2){width:55%}
.ir-root table.ir-table tr.ir-group td{background:rgba(127,127,127,.07);font-weight:700}
.ir-scroll{max-height:480px;overflow:auto}
.ir-foot{margin-top:10px;font-size:11.5px;opacity:.7}
div.ir-root ol.ir-changes{margin:4px 0;padding-left:22px}
.ir-changes li{margin:3px 0}
"""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def badge(text: str, kind: str) -> str:
    return f'<span class="ir-badge ir-{esc(kind)}">{esc(text)}</span>'


def chip(text: str) -> str:
    return f'<span class="ir-chip">{esc(text)}</span>'


def _root(kind: str, notice: str, body: Iterable[str]) -> str:
    return (
        f'<div class="ir-root ir-{kind}"><style>{CSS}</style>'
        f'<div class="ir-notice" role="note">&#9888; {_notice(notice)}</div>'
        + "".join(body)
        + "</div>"
    )


def root(kind: str, notice: str, body: Iterable[str]) -> str:
    """A self-contained fragment of ``kind`` (its CSS inline): the notice, then ``body``."""
    return _root(kind, notice, body)


def _notice(text: str) -> str:
    head, _, rest = text.partition(". ")
    return f"<b>{esc(head)}.</b> {esc(rest)}" if rest else esc(text)


# -- entry points -----------------------------------------------------------------------------


def result_html(result: Result) -> str:
    """A result as a self-contained HTML fragment."""
    return write(result_document(result, Labels.for_subject(result)))


def whynot_html(answer: WhyNot) -> str:
    """A why-not answer as a self-contained HTML fragment."""
    return write(whynot_document(answer, Labels.for_subject(answer)))


def kb_html(kb: KnowledgeBase) -> str:
    """A knowledge-base summary with its decision table, grouped by disease area."""
    return write(kb_document(kb, Labels.for_subject(kb)))


def audit_html(report: AuditReport) -> str:
    """An audit report: verdict, counts and one row per finding."""
    return write(audit_document(report, Labels.for_subject(report)))


def diff_html(found: RuleSetDiff) -> str:
    """A rule-set diff: the verdict, the vocabulary and rule changes, one row per region."""
    return write(diff_document(found))


def write(document: Document) -> str:
    """The document as a self-contained HTML fragment."""
    seen: set[str] = set()  # reasons shown in full once already
    body = [_block(block, seen) for block in document.blocks]
    return _root(document.kind, document.notice, body)


# -- pieces -----------------------------------------------------------------------------------


def _evidence_links(links: tuple[EvidenceLink, ...]) -> str:
    parts = []
    for link in links:
        title = f' title="{esc(link.citation)}"' if link.citation is not None else ""
        if link.url:
            parts.append(
                f'<a href="{esc(link.url)}"{title} target="_blank" rel="noopener noreferrer">'
                f"{esc(link.key)}</a>"
            )
        else:
            parts.append(f'<span class="ir-code"{title}>{esc(link.key)}</span>')
    return ", ".join(parts)


def _reason(reason: ReasonItem) -> str:
    matched = "".join(chip(item) for item in reason.matched)
    matched = matched or '<span class="ir-muted">any profile</span>'
    cited = (
        f' <span class="ir-label">evidence</span>{_evidence_links(reason.evidence)}'
        if reason.evidence
        else ' <span class="ir-label">evidence</span><span class="ir-muted">none</span>'
    )
    return (
        f'<li class="ir-reason"><span class="ir-code"><b>{esc(reason.rule_id)}</b></span> '
        f"{esc(reason.title)}"
        f'<div class="ir-because ir-muted">{esc(reason.because)}</div>'
        f'<div class="ir-small"><span class="ir-label">matched</span>{matched}{cited}</div></li>'
    )


def _reasons(reasons: tuple[ReasonItem, ...], seen: set[str] | None = None) -> str:
    """The reasons as a list; a reason already shown in full (its id in ``seen``) is shown by
    rule and title only, with the rest behind a disclosure."""
    items = []
    for reason in reasons:
        if seen is not None and reason.rule_id in seen:
            full = _reason(reason).removeprefix('<li class="ir-reason">')
            items.append(
                f'<li class="ir-reason"><details><summary><span class="ir-code"><b>'
                f"{esc(reason.rule_id)}</b></span> {esc(reason.title)} "
                f'<span class="ir-muted ir-small">(shown above)</span></summary>'
                f"{full.removesuffix('</li>')}</details></li>"
            )
        else:
            items.append(_reason(reason))
        if seen is not None:
            seen.add(reason.rule_id)
    return '<ul class="ir-reasons">' + "".join(items) + "</ul>"


def _class_chip(drug_class: DrugClass) -> str:
    atc = f" · ATC {', '.join(drug_class.atc)}" if drug_class.atc else " · no ATC code"
    return chip(f"{drug_class.name}{atc}")


def _change(change: ChangeItem) -> str:
    text = chip(f"{change.field}: {change.before} → {change.after}")
    if change.alternatives:
        lead, values = change.alternatives
        text += f' <span class="ir-muted ir-small">({esc(lead)} {esc(values)})</span>'
    if change.implied:
        field, value = change.implied
        text += f' <span class="ir-muted ir-small">({esc(field)} → {esc(value)})</span>'
    return text


# -- blocks -----------------------------------------------------------------------------------


@singledispatch
def _block(block: Block, seen: set[str]) -> str:
    raise TypeError(f"no HTML for {type(block).__name__}")  # pragma: no cover


@_block.register
def _(block: ProfileHead, seen: set[str]) -> str:
    return (
        f'<div class="ir-head"><span class="ir-title">{esc(block.title)}</span>'
        f"<div>{''.join(chip(item) for item in block.details)}</div></div>"
    )


@_block.register
def _(block: Conflict, seen: set[str]) -> str:
    kind = "ir-resolved" if block.resolved else "ir-unresolved"
    return (
        f'<div class="ir-conflict {kind}" role="alert"><b>&#9888; Conflict '
        f"({esc(block.state)})</b>: {esc(block.message)}"
        f'<div class="ir-small"><span class="ir-label">rules</span>'
        f"{''.join(chip(r) for r in block.rule_ids)}</div></div>"
    )


@_block.register
def _(block: Uncovered, seen: set[str]) -> str:
    return (
        '<div class="ir-gap"><b>Not covered.</b> The knowledge base has no guidance for this '
        "profile: no rule that suggests, avoids a category or refers applies to it.</div>"
    )


@_block.register
def _(block: Suggestions, seen: set[str]) -> str:
    body = ["<h4>Suggested therapy categories</h4>"]
    if not block.items:
        body.append('<p class="ir-muted">None.</p>')
    for s in block.items:
        head = [f"{esc(s.category)} ", badge(s.tier_label, s.tier)]
        if s.review:
            head.append(badge("specialist review", "flagged"))
        if s.direction:
            head.append(badge(s.direction, "direction"))
        classes = "".join(_class_chip(c) for c in s.classes) or (
            '<span class="ir-muted">no drug class named</span>'
        )
        card = [
            f'<div class="ir-card ir-{esc(s.tier)}">',
            f'<div class="ir-card-head">{"".join(head)}</div>',
            f'<div class="ir-classes"><span class="ir-label">drug classes</span>{classes}</div>',
            '<div><span class="ir-label">suggested by</span></div>',
            _reasons(s.reasons, seen),
        ]
        if s.flag_reasons:
            card += ['<div><span class="ir-label">flagged by</span></div>']
            card.append(_reasons(s.flag_reasons, seen))
        body.append("".join(card) + "</div>")
    return "".join(body)


@_block.register
def _(block: Avoids, seen: set[str]) -> str:
    body = ["<h4>Avoid</h4>"]
    for a in block.items:
        if a.drug_class:
            what = (
                f"{_class_chip(a.drug_class)} <span class='ir-muted'>within "
                f"{esc(a.category)}</span>"
            )
        else:
            what = f"{esc(a.category)} <span class='ir-muted'>(whole category)</span>"
        body.append(
            f'<div class="ir-card ir-avoid"><div class="ir-card-head">{badge("avoid", "avoid")}'
            f"{what}</div>{_reasons(a.reasons, seen)}</div>"
        )
    return "".join(body)


@_block.register
def _(block: Advisories, seen: set[str]) -> str:
    kind = esc(block.kind)
    body = [f"<h4>{esc(block.title)}</h4>"]
    for item in block.items:
        rules = ", ".join(esc(r.rule_id) for r in item.reasons)
        body.append(
            f'<div class="ir-card ir-{kind}"><div>{badge(block.kind, block.kind)}'
            f"{esc(item.message)} "
            f'<span class="ir-code ir-muted">{esc(item.key)}</span></div>'
            f'<details class="ir-small"><summary class="ir-muted">from {rules}</summary>'
            f"{_reasons(item.reasons)}</details></div>"
        )
    return "".join(body)


@_block.register
def _(block: Assumptions, seen: set[str]) -> str:
    body = ['<h4>What this answer assumes</h4><div class="ir-assumes" role="note">']
    body += [f"<p>{badge('warning', 'warning')}{esc(warning)}</p>" for warning in block.warnings]
    if block.depends_on:
        items = []
        for item in block.depends_on:
            title = f' title="{esc(item.description)}"' if item.description else ""
            affects = (
                f' <span class="ir-muted ir-small">(affects {esc(", ".join(item.affects))})</span>'
                if item.affects
                else ""
            )
            items.append(
                f'<li><span class="ir-chip"{title}>{esc(item.field)} = {esc(item.values)}</span> '
                f"{esc(item.effect)}{affects}</li>"
            )
        body.append(
            '<div><span class="ir-label">depends on</span><span class="ir-muted ir-small">'
            "not stated; stating it would change the answer</span></div>"
            f'<ul class="ir-depends">{"".join(items)}</ul>'
        )
    if block.unstated:
        body.append(
            '<div class="ir-small"><span class="ir-label">also not stated</span>'
            f"{''.join(chip(name) for name in block.unstated)}"
            '<span class="ir-muted">would not change this answer</span></div>'
        )
    if block.assumed:
        body.append(
            '<div class="ir-small"><span class="ir-label">assumed</span>'
            f"{''.join(chip(item) for item in block.assumed)}</div>"
        )
    return "".join(body) + "</div>"


@_block.register
def _(block: Reasons, seen: set[str]) -> str:
    return ""  # the HTML shows each reason in place, under the line it supports


@_block.register
def _(block: Foot, seen: set[str]) -> str:
    fired = (
        f"Rules fired: {esc(', '.join(block.fired) or 'none')}. " if block.fired is not None else ""
    )
    fingerprint = f", fingerprint {esc(block.fingerprint)}" if block.fingerprint else ""
    return (
        f'<div class="ir-foot">{fired}Knowledge base {esc(block.name)} {esc(block.version)}, '
        f"engine {esc(block.engine)}{fingerprint}.</div>"
    )


@_block.register
def _(block: WhyNotHead, seen: set[str]) -> str:
    suggested = block.status == "suggested" and block.tier is not None
    status_kind = block.tier if suggested and block.tier else block.status
    status = block.status_label + (f" · {block.tier_label}" if suggested else "")
    return (
        f'<div class="ir-head"><span class="ir-title">Why (not) {esc(block.category)}?</span>'
        f"{badge(status, status_kind)}</div>"
        f"<div><b>{esc(block.profile.title)}</b> "
        f"{''.join(chip(item) for item in block.profile.details)}</div>"
        f"<p>{esc(block.summary)}</p>"
    )


@_block.register
def _(block: Changes, seen: set[str]) -> str:
    fixed = f"; {block.search_text}" if block.search_text else ""
    body = [
        f"<h4>What would make it a suggestion (up to {block.max_changes} fields{esc(fixed)})</h4>"
    ]
    if not block.items:
        body.append(f'<p class="ir-muted">{esc(block.none_text)}</p>')
    else:
        items = "".join(
            f"<li>{' + '.join(_change(change) for change in cs.changes)} → "
            f"{badge(cs.tier_label, cs.tier)}"
            f'<span class="ir-muted ir-small">via {esc(", ".join(cs.rule_ids))}</span></li>'
            for cs in block.items
        )
        body.append(f'<ol class="ir-changes">{items}</ol>')
        if block.hidden:
            body.append(
                f'<p class="ir-muted ir-small">…and {block.hidden} more (all in '
                "<code>WhyNot.changes</code> and the JSON output).</p>"
            )
    return "".join(body)


@_block.register
def _(block: Overrides, seen: set[str]) -> str:
    body = ["<h4>Overridden by</h4>"]
    for item in block.items:
        look = "avoid" if item.kind == "avoid" else "flagged"
        body.append(
            f'<div class="ir-card ir-{look}"><div class="ir-card-head">'
            f"{badge(item.kind, look)}{esc(item.target)}"
            f"</div>{_reasons((item.reason,))}</div>"
        )
    return "".join(body)


@_block.register
def _(block: RuleChecks, seen: set[str]) -> str:
    body = [
        f"<h4>Rules that could suggest {esc(block.category)} ({len(block.items)}), "
        "closest first</h4>"
    ]
    if not block.items:
        body.append('<p class="ir-muted">None in this knowledge base.</p>')
    for check in block.items:
        count = badge(f"{check.failed} failed", "absent")
        fired = badge("fired", "held") if check.fired else count
        rows = "".join(
            f"<tr><td>{badge('held' if c.held else 'failed', 'held' if c.held else 'failed')}</td>"
            f'<td class="ir-code">{esc(c.requirement)}</td>'
            f'<td class="ir-code">{esc(c.actual)}</td></tr>'
            for c in check.conditions
        )
        table = (
            '<table class="ir-table"><tr><th></th><th>condition</th><th>profile value</th></tr>'
            f"{rows}</table>"
            if rows
            else '<p class="ir-muted">No conditions: applies to every profile.</p>'
        )
        kind = check.tier if check.fired else "absent"
        body.append(
            f'<div class="ir-card ir-{esc(kind)}"><div class="ir-card-head">'
            f'<span class="ir-code">{esc(check.rule_id)}</span> {esc(check.title)} '
            f"{badge(check.tier_label, check.tier)}{fired}</div>{table}</div>"
        )
    return "".join(body)


@_block.register
def _(block: Inactive, seen: set[str]) -> str:
    return (
        '<p class="ir-muted ir-small">Not active (draft or retired), so not considered: '
        f"{esc(', '.join(block.rule_ids))}.</p>"
    )


@_block.register
def _(block: KnowledgeBaseHead, seen: set[str]) -> str:
    return (
        f'<div class="ir-head"><span class="ir-title">Knowledge base {esc(block.name)}</span>'
        f'<span class="ir-muted">{esc(block.version)}</span></div>'
        f"<p>{block.active_rules} active rules of {block.rules} · {block.evidence} "
        f"evidence entries · {block.golden_cases} golden cases · engine {esc(block.engine)} · "
        f'fingerprint <span class="ir-code">{esc(block.fingerprint[:12])}</span></p>'
    )


@_block.register
def _(block: DecisionTable, seen: set[str]) -> str:
    header = "<th>rule</th><th>when (all must hold)</th><th>then</th>"
    table = [f'<div class="ir-scroll"><table class="ir-table"><tr>{header}</tr>']
    areas: dict[str, list[DecisionRow]] = {}
    for row in block.rows:
        areas.setdefault(row.area, []).append(row)
    for area, members in areas.items():
        table.append(f'<tr class="ir-group"><td colspan="3">{esc(area)}</td></tr>')
        for row in members:
            then = "".join(
                f'<div><span class="ir-label">{esc(key)}</span>{esc(text)}</div>'
                for key, text in row.effects
            )
            table.append(
                f'<tr><td><span class="ir-code">{esc(row.rule)}</span><br>'
                f'<span class="ir-muted">{esc(row.title)}</span></td>'
                f'<td class="ir-code">{esc(row.when)}</td><td>{then}</td></tr>'
            )
    table.append("</table></div>")
    return (
        f"<details open><summary><b>Decision table</b> ({len(block.rows)} active rules)</summary>"
        + "".join(table)
        + "</details>"
    )


@_block.register
def _(block: AuditHead, seen: set[str]) -> str:
    verdict = badge("ok", "ok") if block.ok else badge("errors found", "error")
    return (
        f'<div class="ir-head"><span class="ir-title">Audit</span>{verdict}</div>'
        f'<p class="ir-muted">Knowledge base {esc(block.name)} {esc(block.version)}, '
        f"fingerprint <code>{esc(block.fingerprint)}</code>: {block.active_rules} active rules, "
        f"{block.profiles:,} valid profiles analysed exactly.</p>"
        "<p>" + " ".join(badge(f"{n} {sev}", sev) for sev, n in block.counts) + "</p>"
    )


@_block.register
def _(block: Findings, seen: set[str]) -> str:
    if not block.items:
        return '<p class="ir-muted">No findings.</p>'
    rows = []
    for finding in block.items:
        extra = ""
        if finding.region:
            extra += f'<div class="ir-small ir-muted">region: {esc(finding.region)}</div>'
        if finding.example is not None:
            extra += f'<div class="ir-small ir-muted">example: {esc(finding.example)}</div>'
        rows.append(
            f"<tr><td>{badge(finding.severity, finding.severity)}</td>"
            f'<td class="ir-code">{esc(finding.kind)}</td>'
            f'<td class="ir-code">{esc(", ".join(finding.rule_ids))}</td>'
            f"<td>{esc(finding.message)}{extra}</td></tr>"
        )
    return (
        '<div class="ir-scroll"><table class="ir-table"><tr><th>severity</th><th>kind</th>'
        "<th>rules</th><th>finding</th></tr>" + "".join(rows) + "</table></div>"
    )


@_block.register
def _(block: DiffHead, seen: set[str]) -> str:
    if block.changed_profiles:
        verdict = badge("answers change", "warning")
    elif block.changed:
        verdict = badge("vocabulary changes", "info")
    else:
        verdict = badge("no change", "ok")
    summary = esc(block.summary)
    if block.changed_profiles:
        summary += f" ({esc(block.share)} of the profiles, counted exactly)"
    items = [f"<li>rules {esc(what)}: {esc(', '.join(ids))}</li>" for what, ids in block.rules]
    items += [f"<li>vocabulary: {esc(item)}</li>" for item in block.vocabulary]
    shared = f'<p class="ir-muted">{esc(block.shared_space)}</p>' if block.shared_space else ""
    return (
        f'<div class="ir-head"><span class="ir-title">Rule-set diff</span>{verdict}</div>'
        f'<p><span class="ir-code">{esc(block.old)}</span> &#8594; '
        f'<span class="ir-code">{esc(block.new)}</span><br>{summary}</p>{shared}'
        + (f"<ul>{''.join(items)}</ul>" if items else "")
    )


@_block.register
def _(block: DiffRegions, seen: set[str]) -> str:
    if not block.items:
        return ""
    rows = []
    for item in block.items:
        rules = (
            f"before: {esc(', '.join(item.before_rules) or '-')}<br>"
            f"after: {esc(', '.join(item.after_rules) or '-')}"
        )
        rows.append(
            f"<tr><td>{item.number}</td><td>{item.size:,}</td>"
            f"<td>{esc(item.region)}"
            f'<div class="ir-small ir-muted">example: {esc(item.example)}</div></td>'
            f"<td>{esc(item.before)}</td><td>{esc(item.after)}</td>"
            f'<td class="ir-code ir-small">{rules}</td></tr>'
        )
    hidden = (
        f'<p class="ir-muted">{block.hidden:,} more regions, smaller, are not shown (the JSON '
        "lists them all).</p>"
        if block.hidden
        else ""
    )
    return (
        '<div class="ir-scroll"><table class="ir-table"><tr><th>#</th><th>profiles</th>'
        "<th>region</th><th>before</th><th>after</th><th>rules</th></tr>"
        + "".join(rows)
        + "</table></div>"
        + hidden
    )


def decision_table_html(table: DecisionTableModel) -> str:
    """A decision table: one row per rule, one column per profile field some rule tests ("-":
    any value), then the effects and evidence."""
    show_status = any(row.status != "active" for row in table.rows)
    effects = ("suggest", "flag", "avoid", "advise")
    head = ["rule", "title", *(["status"] if show_status else []), *table.fields]
    head += [*effects, "evidence"]
    rows = []
    for row in table.rows:
        cells = [
            f'<td class="ir-code">{esc(row.rule_id)}</td>',
            f"<td>{esc(row.title)}</td>",
        ]
        if show_status:
            cells.append(f"<td>{badge(row.status, 'absent')}</td>")
        for name in table.fields:
            condition = row.conditions.get(name)
            cells.append(
                f'<td class="ir-code">{esc(condition)}</td>'
                if condition is not None
                else '<td class="ir-muted">-</td>'
            )
        for effect in effects:
            items = "".join(f"<div>{esc(item)}</div>" for item in getattr(row, effect))
            cells.append(f'<td class="ir-small">{items}</td>')
        cells.append(f'<td class="ir-code">{esc(", ".join(row.evidence))}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    header = "".join(f"<th>{esc(name)}</th>" for name in head)
    count = len(table.rows)
    body = [
        f'<div class="ir-head"><span class="ir-title">Decision table</span>'
        f'<span class="ir-muted">{count} rule{"s" if count != 1 else ""}, '
        f"{len(table.fields)} profile fields tested</span></div>",
        f'<div class="ir-scroll"><table class="ir-table"><tr>{header}</tr>'
        + "".join(rows)
        + "</table></div>",
    ]
    return _root("decision-table", NOT_FOR_CLINICAL_USE, body)
