"""HTML rendering for notebooks: self-contained (one scoped ``<style>``, no external CSS, JS or
fonts), every piece of text escaped, and colours that read in light and dark themes alike.

Text takes the page's own colour (JupyterLab's ``--jp-*`` variables where present); colour is
used only for borders and translucent tints, so the same markup works on a white or a dark page.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from .._model.result import NOT_FOR_CLINICAL_USE, Citation, Reason, Result
from .._model.rules import show_value as show
from .text import (
    SHOWN_CHANGE_SETS,
    STATUS_LABEL,
    TIER_LABEL,
    atc_codes,
    audit_counts,
    category_name,
    conflict_state,
    decision_rows,
    evidence_for,
    in_schema,
    no_change_text,
    override_target,
    profile_details,
    profile_title,
    safe_url,
    subcategory_name,
    values_text,
)

if TYPE_CHECKING:
    from .._analysis.audit_report import AuditReport
    from .._analysis.decision_table import DecisionTable
    from .._analysis.protocol import KnowledgeBaseWithTable as KnowledgeBase
    from .._analysis.whynot import ProfileChange, WhyNot

__all__ = ["CSS", "audit_html", "decision_table_html", "kb_html", "result_html", "whynot_html"]

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


def _root(kind: str, body: Iterable[str]) -> str:
    return (
        f'<div class="ir-root ir-{kind}"><style>{CSS}</style>'
        f'<div class="ir-notice" role="note">&#9888; {_notice()}</div>' + "".join(body) + "</div>"
    )


def _notice() -> str:
    head, _, rest = NOT_FOR_CLINICAL_USE.partition(". ")
    return f"<b>{esc(head)}.</b> {esc(rest)}" if rest else esc(NOT_FOR_CLINICAL_USE)


def badge(text: str, kind: str) -> str:
    return f'<span class="ir-badge ir-{esc(kind)}">{esc(text)}</span>'


def chip(text: str) -> str:
    return f'<span class="ir-chip">{esc(text)}</span>'


def _evidence_links(keys: Sequence[str], evidence: Mapping[str, Citation]) -> str:
    parts = []
    for key in keys:
        entry = evidence.get(key)
        url = safe_url(entry.url) if entry else None
        title = f' title="{esc(entry.citation)}"' if entry else ""
        if url:
            parts.append(
                f'<a href="{esc(url)}"{title} target="_blank" rel="noopener noreferrer">'
                f"{esc(key)}</a>"
            )
        else:
            parts.append(f'<span class="ir-code"{title}>{esc(key)}</span>')
    return ", ".join(parts)


def _reason(reason: Reason, evidence: Mapping[str, Citation]) -> str:
    matched = "".join(chip(f"{k}={show(v)}") for k, v in reason.matched.items())
    matched = matched or '<span class="ir-muted">any profile</span>'
    cited = (
        f' <span class="ir-label">evidence</span>{_evidence_links(reason.evidence, evidence)}'
        if reason.evidence
        else ' <span class="ir-label">evidence</span><span class="ir-muted">none</span>'
    )
    return (
        f'<li class="ir-reason"><span class="ir-code"><b>{esc(reason.rule_id)}</b></span> '
        f"{esc(reason.title)}"
        f'<div class="ir-because ir-muted">{esc(reason.because)}</div>'
        f'<div class="ir-small"><span class="ir-label">matched</span>{matched}{cited}</div></li>'
    )


def _reasons(
    reasons: Sequence[Reason], evidence: Mapping[str, Citation], seen: set[str] | None = None
) -> str:
    """The reasons as a list; a reason already shown in full (its id in ``seen``) is shown by
    rule and title only, with the rest behind a disclosure."""
    items = []
    for reason in reasons:
        if seen is not None and reason.rule_id in seen:
            full = _reason(reason, evidence).removeprefix('<li class="ir-reason">')
            items.append(
                f'<li class="ir-reason"><details><summary><span class="ir-code"><b>'
                f"{esc(reason.rule_id)}</b></span> {esc(reason.title)} "
                f'<span class="ir-muted ir-small">(shown above)</span></summary>'
                f"{full.removesuffix('</li>')}</details></li>"
            )
        else:
            items.append(_reason(reason, evidence))
        if seen is not None:
            seen.add(reason.rule_id)
    return '<ul class="ir-reasons">' + "".join(items) + "</ul>"


def _class_chip(subcategory: str) -> str:
    codes = atc_codes(subcategory)
    atc = f" · ATC {', '.join(codes)}" if codes else " · no ATC code"
    return chip(f"{subcategory_name(subcategory)}{atc}")


def _profile_head(result_profile: object) -> str:
    from .._model.profile import ConditionProfile

    assert isinstance(result_profile, ConditionProfile)
    return (
        f'<div class="ir-head"><span class="ir-title">{esc(profile_title(result_profile))}</span>'
        f"<div>{''.join(chip(item) for item in profile_details(result_profile))}</div></div>"
    )


@in_schema
def result_html(result: Result) -> str:
    """A result as a self-contained HTML fragment."""
    evidence = evidence_for(result)
    seen: set[str] = set()
    body = [_profile_head(result.profile)]
    for conflict in result.conflicts:
        kind = "ir-resolved" if conflict.resolved else "ir-unresolved"
        body.append(
            f'<div class="ir-conflict {kind}" role="alert"><b>&#9888; Conflict '
            f"({esc(conflict_state(conflict.resolved))})</b>: {esc(conflict.message)}"
            f'<div class="ir-small"><span class="ir-label">rules</span>'
            f"{''.join(chip(r) for r in conflict.rule_ids)}</div></div>"
        )
    if not result.covered:
        body.append(
            '<div class="ir-gap"><b>Not covered.</b> The knowledge base has no guidance for this '
            "profile: no rule that suggests, avoids a category or refers applies to it.</div>"
        )
    body.append("<h4>Suggested therapy categories</h4>")
    if not result.suggestions:
        body.append('<p class="ir-muted">None.</p>')
    for s in result.suggestions:
        head = [f"{esc(category_name(s.category))} ", badge(TIER_LABEL[s.tier], s.tier)]
        if s.requires_specialist_review:
            head.append(badge("specialist review", "flagged"))
        if s.direction:
            head.append(badge(s.direction, "direction"))
        classes = "".join(_class_chip(sub) for sub in s.subcategories) or (
            '<span class="ir-muted">no drug class named</span>'
        )
        card = [
            f'<div class="ir-card ir-{s.tier}"><div class="ir-card-head">{"".join(head)}</div>',
            f'<div class="ir-classes"><span class="ir-label">drug classes</span>{classes}</div>',
            '<div><span class="ir-label">suggested by</span></div>',
            _reasons(s.reasons, evidence, seen),
        ]
        if s.flag_reasons:
            card += ['<div><span class="ir-label">flagged by</span></div>']
            card.append(_reasons(s.flag_reasons, evidence, seen))
        body.append("".join(card) + "</div>")
    if result.avoided:
        body.append("<h4>Avoid</h4>")
    for a in result.avoided:
        if a.subcategory:
            what = (
                f"{_class_chip(a.subcategory)} <span class='ir-muted'>within "
                f"{esc(category_name(a.category))}</span>"
            )
        else:
            what = (
                f"{esc(category_name(a.category))} <span class='ir-muted'>(whole category)</span>"
            )
        body.append(
            f'<div class="ir-card ir-avoid"><div class="ir-card-head">{badge("avoid", "avoid")}'
            f"{what}</div>{_reasons(a.reasons, evidence, seen)}</div>"
        )
    for kind, title in (("referral", "Referrals"), ("caution", "Cautions")):
        chosen = [a for a in result.advisories if a.kind == kind]
        if chosen:
            body.append(f"<h4>{title}</h4>")
        for adv in chosen:
            rules = ", ".join(esc(r.rule_id) for r in adv.reasons)
            body.append(
                f'<div class="ir-card ir-{kind}"><div>{badge(kind, kind)}{esc(adv.message)} '
                f'<span class="ir-code ir-muted">{esc(adv.key)}</span></div>'
                f'<details class="ir-small"><summary class="ir-muted">from {rules}</summary>'
                f"{_reasons(adv.reasons, evidence)}</details></div>"
            )
    info = result.knowledge_base
    body.append(
        f'<div class="ir-foot">Rules fired: {esc(", ".join(result.fired_rules) or "none")}. '
        f"Knowledge base {esc(info.name)} {esc(info.version)}, engine {esc(info.engine)}, "
        f"fingerprint {esc(info.fingerprint[:12])}.</div>"
    )
    return _root("result", body)


def _change_set(changes: Sequence[ProfileChange]) -> str:
    parts: list[str] = []
    for change in changes:
        if change.implied and parts:
            area = esc(show(change.after))
            parts[-1] += f' <span class="ir-muted ir-small">(disease_area → {area})</span>'
            continue
        text = chip(f"{change.field}: {show(change.before)} → {show(change.after)}")
        others = [v for v in change.alternatives if v != change.after]
        if others:
            shown = change.alternatives if change.field == "prior_lines_of_therapy" else others
            lead = "any of" if change.field == "prior_lines_of_therapy" else "or"
            text += (
                f' <span class="ir-muted ir-small">({lead} '
                f"{esc(values_text(shown, change.field))})</span>"
            )
        parts.append(text)
    return " + ".join(parts)


@in_schema
def whynot_html(answer: WhyNot) -> str:
    """A why-not answer as a self-contained HTML fragment."""
    evidence = evidence_for(answer)
    name = category_name(answer.category)
    status_kind = answer.tier if answer.status == "suggested" and answer.tier else answer.status
    status = STATUS_LABEL[answer.status] + (
        f" · {TIER_LABEL[answer.tier]}" if answer.tier and answer.status == "suggested" else ""
    )
    body = [
        f'<div class="ir-head"><span class="ir-title">Why (not) {esc(name)}?</span>'
        f"{badge(status, status_kind)}</div>",
        f"<div><b>{esc(profile_title(answer.profile))}</b> "
        f"{''.join(chip(item) for item in profile_details(answer.profile))}</div>",
        f"<p>{esc(answer.summary)}</p>",
    ]
    if answer.status != "suggested":
        fixed = f"; {answer.search_text}" if answer.fixed else ""
        body.append(
            f"<h4>What would make it a suggestion (up to {answer.max_changes} fields"
            f"{esc(fixed)})</h4>"
        )
        if not answer.changes:
            body.append(f'<p class="ir-muted">{esc(no_change_text(answer))}</p>')
        else:
            items = "".join(
                f"<li>{_change_set(cs.changes)} → {badge(TIER_LABEL[cs.tier], cs.tier)}"
                f'<span class="ir-muted ir-small">via {esc(", ".join(cs.rule_ids))}</span></li>'
                for cs in answer.changes[:SHOWN_CHANGE_SETS]
            )
            body.append(f'<ol class="ir-changes">{items}</ol>')
            hidden = len(answer.changes) - SHOWN_CHANGE_SETS
            if hidden > 0:
                body.append(
                    f'<p class="ir-muted ir-small">…and {hidden} more (all in '
                    "<code>WhyNot.changes</code> and the JSON output).</p>"
                )
    if answer.overrides:
        body.append("<h4>Overridden by</h4>")
    for override in answer.overrides:
        look = "avoid" if override.kind == "avoid" else "flagged"
        body.append(
            f'<div class="ir-card ir-{look}"><div class="ir-card-head">'
            f"{badge(override.kind, look)}"
            f"{esc(override_target(override.kind, override.subcategory))}"
            f"</div>{_reasons([override.reason], evidence)}</div>"
        )
    body.append(
        f"<h4>Rules that could suggest {esc(name)} ({len(answer.rules)}), closest first</h4>"
    )
    if not answer.rules:
        body.append('<p class="ir-muted">None in this knowledge base.</p>')
    for check in answer.rules:
        if check.fired:
            fired = badge("fired", "held")
        else:
            fired = badge(f"{len(check.failed)} failed", "absent")
        rows = "".join(
            f"<tr><td>{badge('held' if c.held else 'failed', 'held' if c.held else 'failed')}</td>"
            f'<td class="ir-code">{esc(c.requirement)}</td>'
            f'<td class="ir-code">{esc(show(c.actual))}</td></tr>'
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
            f'<div class="ir-card ir-{kind}"><div class="ir-card-head">'
            f'<span class="ir-code">{esc(check.rule_id)}</span> {esc(check.title)} '
            f"{badge(TIER_LABEL[check.tier], check.tier)}{fired}</div>{table}</div>"
        )
    if answer.inactive_rule_ids:
        body.append(
            '<p class="ir-muted ir-small">Not active (draft or retired), so not considered: '
            f"{esc(', '.join(answer.inactive_rule_ids))}.</p>"
        )
    info = answer.knowledge_base
    body.append(
        f'<div class="ir-foot">Knowledge base {esc(info.name)} {esc(info.version)}, '
        f"engine {esc(info.engine)}.</div>"
    )
    return _root("whynot", body)


@in_schema
def kb_html(kb: KnowledgeBase) -> str:
    """A knowledge-base summary with its decision table, grouped by disease area."""
    rows = decision_rows(kb)
    golden = sum(len(rule.tests) for rule in kb.rules)
    body = [
        f'<div class="ir-head"><span class="ir-title">Knowledge base {esc(kb.name)}</span>'
        f'<span class="ir-muted">{esc(kb.version)}</span></div>',
        f"<p>{len(kb.active_rules)} active rules of {len(kb.rules)} · {len(kb.evidence)} "
        f"evidence entries · {golden} golden cases · engine {esc(kb.engine)} · fingerprint "
        f'<span class="ir-code">{esc(kb.fingerprint[:12])}</span></p>',
    ]
    header = "<th>rule</th><th>when (all must hold)</th><th>then</th>"
    table = [f'<div class="ir-scroll"><table class="ir-table"><tr>{header}</tr>']
    areas: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        areas.setdefault(row["area"], []).append(row)
    for area, members in areas.items():
        table.append(f'<tr class="ir-group"><td colspan="3">{esc(area)}</td></tr>')
        for row in members:
            then = "".join(
                f'<div><span class="ir-label">{key}</span>{esc(row[key])}</div>'
                for key in ("suggest", "flag", "avoid", "advise")
                if row[key]
            )
            table.append(
                f'<tr><td><span class="ir-code">{esc(row["rule"])}</span><br>'
                f'<span class="ir-muted">{esc(row["title"])}</span></td>'
                f'<td class="ir-code">{esc(row["when"])}</td><td>{then}</td></tr>'
            )
    table.append("</table></div>")
    body.append(
        f"<details open><summary><b>Decision table</b> ({len(rows)} active rules)</summary>"
        + "".join(table)
        + "</details>"
    )
    return _root("kb", body)


def audit_html(report: AuditReport) -> str:
    """An audit report: verdict, counts and one row per finding."""
    from .._analysis.audit_report import describe_region

    counts = audit_counts(report)
    verdict = badge("ok", "ok") if report.ok else badge("errors found", "error")
    body = [
        f'<div class="ir-head"><span class="ir-title">Audit</span>{verdict}</div>',
        "<p>" + " ".join(badge(f"{n} {sev}", sev) for sev, n in counts.items()) + "</p>",
    ]
    if report.findings:
        rows = []
        for finding in report.findings:
            extra = ""
            if finding.region:
                region = finding.region_text or describe_region(finding.region)
                extra += f'<div class="ir-small ir-muted">region: {esc(region)}</div>'
            if finding.example_profile is not None:
                example = ", ".join(profile_details(finding.example_profile))
                extra += f'<div class="ir-small ir-muted">example: {esc(example)}</div>'
            rows.append(
                f"<tr><td>{badge(finding.severity, finding.severity)}</td>"
                f'<td class="ir-code">{esc(finding.kind)}</td>'
                f'<td class="ir-code">{esc(", ".join(finding.rule_ids))}</td>'
                f"<td>{esc(finding.message)}{extra}</td></tr>"
            )
        body.append(
            '<div class="ir-scroll"><table class="ir-table"><tr><th>severity</th><th>kind</th>'
            "<th>rules</th><th>finding</th></tr>" + "".join(rows) + "</table></div>"
        )
    else:
        body.append('<p class="ir-muted">No findings.</p>')
    return _root("audit", body)


def decision_table_html(table: DecisionTable) -> str:
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
    return _root("decision-table", body)
