"""Rendering of results as plain text, Markdown and HTML."""

from __future__ import annotations

import html
from collections.abc import Iterable

from ._result import Reason, Result
from ._vocabulary import vocabulary

__all__ = ["result_html", "result_markdown", "result_text"]

_TIER = {"first_line": "first line", "escalation": "escalation", "flagged": "FLAGGED"}


def _matched(reason: Reason) -> str:
    values = ", ".join(f"{k}={_value(v)}" for k, v in reason.matched.items())
    return values or "any profile"


def _value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _atc(subcategory: str) -> str:
    codes = [code.code for code in vocabulary().subcategory(subcategory).atc]
    return f" (ATC {', '.join(codes)})" if codes else ""


def _reason_lines(reasons: Iterable[Reason], indent: str) -> list[str]:
    lines = []
    for reason in reasons:
        evidence = f" [{', '.join(reason.evidence)}]" if reason.evidence else ""
        lines.append(f"{indent}- {reason.rule_id}: {reason.title}{evidence}")
        lines.append(f"{indent}  because: {reason.because}")
        lines.append(f"{indent}  matched: {_matched(reason)}")
    return lines


def result_text(result: Result) -> str:
    """A readable plain-text explanation of a result."""
    vocab = vocabulary()
    profile = result.profile
    head = profile.condition or f"{profile.disease_area} (no specific condition)"
    lines = [result.notice, "", f"Profile: {head}; immune activity {profile.immune_activity}"]
    if not result.covered:
        lines += ["", "The knowledge base has no guidance for this profile (not covered)."]
    if result.suggestions:
        lines += ["", "Suggested therapy categories:"]
    for suggestion in result.suggestions:
        name = vocab.category(suggestion.category).name
        review = " - requires specialist review" if suggestion.requires_specialist_review else ""
        lines.append(f"  * {name} [{_TIER[suggestion.tier]}]{review}")
        for sub in suggestion.subcategories:
            lines.append(f"      class: {vocab.subcategory(sub).name}{_atc(sub)}")
        lines += _reason_lines(suggestion.reasons, "      ")
        if suggestion.flag_reasons:
            lines.append("      flagged by:")
            lines += _reason_lines(suggestion.flag_reasons, "        ")
    if result.avoided:
        lines += ["", "Avoid:"]
    for avoidance in result.avoided:
        what = vocab.category(avoidance.category).name
        if avoidance.subcategory:
            what = f"{vocab.subcategory(avoidance.subcategory).name} (within {what})"
        lines.append(f"  * {what}")
        lines += _reason_lines(avoidance.reasons, "      ")
    for kind, title in (("referral", "Referrals:"), ("caution", "Cautions:")):
        chosen = [a for a in result.advisories if a.kind == kind]
        if chosen:
            lines += ["", title]
        for advisory in chosen:
            lines.append(f"  * {advisory.message} ({advisory.key})")
            lines += _reason_lines(advisory.reasons, "      ")
    for conflict in result.conflicts:
        state = "resolved by a flag" if conflict.resolved else "UNRESOLVED"
        lines += ["", f"CONFLICT ({state}): {conflict.message}"]
    info = result.knowledge_base
    lines += ["", f"Knowledge base: {info.name} {info.version} (engine: {info.engine})"]
    return "\n".join(lines)


def result_markdown(result: Result) -> str:
    """The explanation as Markdown (for notebooks)."""
    return "```text\n" + result_text(result) + "\n```"


def result_html(result: Result) -> str:
    """The explanation as self-contained, escaped HTML (for notebooks)."""
    return f"<pre>{html.escape(result_text(result))}</pre>"
