"""Text, Markdown and HTML of a golden-case coverage report.

Each says which knowledge base (name, version, fingerprint), the shares of rules and effects
the golden cases exercise, then the untested rules and the unobserved effects, with the
not-for-clinical-use notice. It only lays out what :class:`Coverage` holds; it must never run
a golden case or judge one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import html, markdown
from .plain import wrap

if TYPE_CHECKING:
    from .._analysis.coverage import Coverage

__all__ = ["coverage_html", "coverage_markdown", "coverage_text"]


def _scope(report: Coverage) -> str:
    touched = report.scope_regions - len(report.untouched_scope)
    return (
        f"{touched:,} of {report.scope_regions:,} scope regions hold a golden case "
        f"({report.scope_share:.0%})"
    )


def _head(report: Coverage) -> tuple[str, str, str]:
    info = report.knowledge_base
    about = f"{info.name} {info.version} (fingerprint {info.fingerprint[:12]})"
    rules = (
        f"{report.rules - len(report.untested_rules):,} of {report.rules:,} active rules "
        f"fired by {report.golden_cases:,} golden cases ({report.rule_share:.0%})"
    )
    effects = (
        f"{report.observed_effects:,} of {report.effects:,} effects checked by a golden case "
        f"that fires their rule ({report.effect_share:.0%})"
    )
    return about, rules, effects


def _by_rule(report: Coverage) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in report.unobserved_effects:
        found.setdefault(item.rule_id, []).append(item.effect)
    return found


def coverage_text(report: Coverage) -> str:
    """Plain text: the shares, the untested rules, the unobserved effects by rule, the notice."""
    about, rules, effects = _head(report)
    lines = [
        f"immunorules coverage of {about}:",
        f"  {rules}",
        f"  {effects}",
        f"  {_scope(report)}",
    ]
    if report.untested_rules:
        lines += ["", f"Untested rules ({len(report.untested_rules):,}):"]
        lines += wrap(", ".join(report.untested_rules), "  ")
    if report.untouched_scope:
        lines += ["", f"Scope regions without a golden case ({len(report.untouched_scope):,}):"]
        for region in report.untouched_scope:
            lines += wrap(region, "  ", then="    ")
    unobserved = _by_rule(report)
    if unobserved:
        lines += ["", f"Unobserved effects ({len(report.unobserved_effects):,}):"]
        for rule_id, names in unobserved.items():
            lines += wrap(f"{rule_id}: {', '.join(names)}", "  ", then="    ")
    lines += ["", report.notice]
    return "\n".join(lines)


def coverage_markdown(report: Coverage) -> str:
    """Markdown: the shares, then a table of the untested rules and the unobserved effects."""
    md = markdown.md
    info = report.knowledge_base
    _, rules, effects = _head(report)
    lines = [
        markdown.notice(report.notice),
        "",
        f"### Coverage of {md(info.name)} {md(info.version)}",
        "",
        f"Fingerprint {markdown.code(info.fingerprint[:12])}: {md(rules)}; {md(effects)}; "
        f"{md(_scope(report))}.",
    ]
    if report.untouched_scope:
        lines += ["", "**Scope regions without a golden case:**", ""]
        lines += [f"- {md(region)}" for region in report.untouched_scope]
    if report.untested_rules:
        lines += ["", "**Untested rules:** " + ", ".join(map(markdown.code, report.untested_rules))]
    unobserved = _by_rule(report)
    if unobserved:
        lines += ["", "| Rule | Unobserved effects |", "|---|---|"]
        lines += [
            f"| {markdown.code(rule_id)} | {', '.join(map(markdown.code, names))} |"
            for rule_id, names in unobserved.items()
        ]
    return "\n".join(lines)


def coverage_html(report: Coverage) -> str:
    """Self-contained HTML: the shares as badges, the untested rules, the unobserved effects."""
    esc = html.esc
    info = report.knowledge_base
    _, rules, effects = _head(report)
    kind = "ok" if not report.untested_rules else "warning"
    body = [
        f'<div class="ir-head"><span class="ir-title">Coverage of {esc(info.name)} '
        f"{esc(info.version)}</span>{html.badge(f'{report.rule_share:.0%} of rules', kind)}"
        f"{html.badge(f'{report.effect_share:.0%} of effects', 'info')}</div>",
        f'<p class="ir-muted">Fingerprint <code>{esc(info.fingerprint[:12])}</code>: '
        f"{esc(rules)}; {esc(effects)}; {esc(_scope(report))}.</p>",
    ]
    if report.untouched_scope:
        items = "".join(f"<li>{esc(region)}</li>" for region in report.untouched_scope)
        body.append(f"<p><b>Scope regions without a golden case:</b></p><ul>{items}</ul>")
    if report.untested_rules:
        chips = "".join(html.chip(rule_id) for rule_id in report.untested_rules)
        body.append(f"<p><b>Untested rules:</b> {chips}</p>")
    unobserved = _by_rule(report)
    if unobserved:
        rows = "".join(
            f"<tr><td><code>{esc(rule_id)}</code></td><td>"
            + "".join(html.chip(name) for name in names)
            + "</td></tr>"
            for rule_id, names in unobserved.items()
        )
        body.append(
            "<table><thead><tr><th>Rule</th><th>Unobserved effects</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    return html.root("coverage", report.notice, body)
