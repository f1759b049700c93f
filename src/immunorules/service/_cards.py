"""CDS Hooks cards from a :class:`~immunorules.Result`: one card per line of the result, each
carrying the rules, because-texts, matched values and evidence behind it, and the
not-for-clinical-use notice.

It builds plain JSON data and never decides anything clinical: the indicator follows the kind of
line (an avoid is ``critical``; a flagged category or a conflict is ``warning``; the rest
``info``).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._model.result import Citation, Dependency, Reason, Result
from .._model.schema import Schema
from .._render.fragments import Labels, code, evidence_for, md, notice, reason_line, safe_url

if TYPE_CHECKING:
    from ..fhir import FhirProfile

__all__ = ["MAX_SUMMARY", "PARTS", "cards_from_result", "order_cards"]

#: The spec asks for a summary of fewer than 140 characters.
MAX_SUMMARY = 139
#: How much of a citation a source label or link label shows.
_MAX_LABEL = 100
_INDICATOR_ORDER = {"critical": 0, "warning": 1, "info": 2}

Card = dict[str, Any]


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _card(
    result: Result,
    labels: Labels,
    *,
    indicator: str,
    summary: str,
    heading: str,
    reasons: Sequence[Reason],
    fhir: FhirProfile | None,
    extra: Sequence[str] = (),
) -> Card:
    evidence = evidence_for(result)
    cited = _cited(reasons, evidence)
    detail = [notice(result.notice), "", heading, *extra, "", "**Why:**", ""]
    detail += [f"- {reason_line(labels, reason, evidence)}" for reason in reasons]
    detail += _record_lines(reasons, fhir)
    info = result.knowledge_base
    detail += [
        "",
        f"*Knowledge base {md(info.name)} {md(info.version)}, fingerprint "
        f"{code(info.fingerprint[:12])}; rules {', '.join(code(r.rule_id) for r in reasons)}.*",
    ]
    card: Card = {
        "uuid": str(uuid.uuid4()),
        "summary": _clip(summary, MAX_SUMMARY),
        "indicator": indicator,
        "detail": "\n".join(detail),
        "source": _source(cited, info.name),
    }
    links = [
        {
            "label": _clip(f"Evidence {citation.key}: {citation.citation}", _MAX_LABEL),
            "url": url,
            "type": "absolute",
        }
        for citation in cited
        if (url := safe_url(citation.url))
    ]
    if links:
        card["links"] = links
    return card


def _cited(reasons: Iterable[Reason], evidence: Mapping[str, Citation]) -> list[Citation]:
    """The citations of ``reasons``, each once, in the order they are first cited."""
    seen: dict[str, Citation] = {}
    for reason in reasons:
        for key in reason.evidence:
            if key in evidence and key not in seen:
                seen[key] = evidence[key]
    return list(seen.values())


def _source(cited: Sequence[Citation], kb_name: str) -> dict[str, str]:
    """The primary source: the first cited evidence with a link (else the first cited, else
    the knowledge base), marked as coming from a research prototype."""
    suffix = " (via immunorules, research prototype - not for clinical use)"
    linked = [c for c in cited if safe_url(c.url)]
    primary = linked[0] if linked else (cited[0] if cited else None)
    if primary is None:
        return {"label": f"immunorules knowledge base {kb_name}{suffix}"}
    source = {"label": _clip(primary.citation, _MAX_LABEL) + suffix}
    url = safe_url(primary.url)
    if url:
        source["url"] = url
    return source


def _record_lines(reasons: Sequence[Reason], fhir: FhirProfile | None) -> list[str]:
    """Where the matched profile values came from in the patient's record."""
    if fhir is None:
        return []
    fields = dict.fromkeys(name for reason in reasons for name in reason.matched)
    lines = []
    for name in fields:
        found = fhir.provenance.get(name)
        if found:
            shown = "; ".join(md(evidence) for evidence in found[:5])
            more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
            lines.append(f"- {code(name)}: {shown}{more}")
        elif name in fhir.unknown:
            lines.append(f"- {code(name)}: not determined by the record; its default was used")
    if not lines:
        return []
    return ["", "**From the patient's record:**", "", *lines]


def _ordered(cards: list[Card]) -> list[Card]:
    return sorted(cards, key=lambda card: _INDICATOR_ORDER[card["indicator"]])


#: The parts of a result that become cards, in the order they are built.
PARTS = ("avoided", "conflicts", "suggestions", "advisories", "depends_on")


def _check_card(
    result: Result,
    labels: Labels,
    dependencies: Sequence[Dependency],
    fhir: FhirProfile | None,
    *,
    ordered: str | None = None,
) -> Card:
    """A ``warning`` card: check these facts before ordering (``ordered``: the class being
    ordered, when the card is about one order), each with the values that would change the
    answer and what they would change; then the result's warnings and assumed values."""
    fields = [labels.field(d.field) for d in dependencies]
    what = f" {ordered}" if ordered else ""
    if fields:
        summary = f"Check before ordering{what}: " + _listed(fields, MAX_SUMMARY - 60 - len(what))
        summary += " - not stated; would change this advice"
    else:
        summary = f"Check the profile: {result.warnings[0]}"
    detail = [notice(result.notice), ""]
    if dependencies:
        detail += [
            f"**Check before ordering{md(what)}:** the record does not state these facts, and "
            "stating them would change this advice.",
            "",
        ]
    for d in dependencies:
        line = (
            f"- **{md(labels.field(d.field))}** = {code(labels.values_text(d.values, d.field))}: "
            f"{md(d.effect)}"
        )
        if d.affects:
            line += f" (affects {', '.join(md(labels.target(t)) for t in d.affects)})"
        if fhir is not None and d.field in fhir.unknown:
            line += "; the patient's record does not determine it"
        detail.append(line)
    if result.warnings:
        detail += ["", "**Warnings:**", "", *(f"- {md(w)}" for w in result.warnings)]
    if result.assumed:
        assumed = ", ".join(
            code(f"{labels.field(k)}={labels.value(k, v)}") for k, v in result.assumed.items()
        )
        detail += ["", f"Assumed for this advice (not from the record): {assumed}."]
    info = result.knowledge_base
    detail += [
        "",
        f"*Knowledge base {md(info.name)} {md(info.version)}, fingerprint "
        f"{code(info.fingerprint[:12])}.*",
    ]
    return {
        "uuid": str(uuid.uuid4()),
        "summary": _clip(summary, MAX_SUMMARY),
        "indicator": "warning",
        "detail": "\n".join(detail),
        "source": _source((), info.name),
    }


def _listed(names: Sequence[str], limit: int) -> str:
    """Names joined by commas, as many as fit in ``limit`` characters, then ``and N more``."""
    shown: list[str] = []
    for index, name in enumerate(names):
        rest = len(names) - index - 1
        tail = f" and {rest} more" if rest else ""
        if shown and len(", ".join([*shown, name])) + len(tail) > limit:
            return ", ".join(shown) + f" and {len(names) - len(shown)} more"
        shown.append(name)
    return ", ".join(shown)


def _cards(
    result: Result, labels: Labels, fhir: FhirProfile | None, parts: Collection[str]
) -> list[Card]:
    cards: list[Card] = []
    for avoided in result.avoided if "avoided" in parts else ():
        if avoided.subcategory:
            what = (
                f"{labels.subcategory(avoided.subcategory)} ({labels.category(avoided.category)})"
            )
            heading = (
                f"**Avoid: {md(labels.class_label(avoided.subcategory))}**, within "
                f"{md(labels.category(avoided.category))}"
            )
        else:
            what = labels.category(avoided.category)
            heading = f"**Avoid: {md(what)}** (the whole category)"
        cards.append(
            _card(
                result,
                labels,
                indicator="critical",
                summary=f"Avoid {what}: {avoided.reasons[0].title}",
                heading=heading,
                reasons=avoided.reasons,
                fhir=fhir,
            )
        )
    for conflict in result.conflicts if "conflicts" in parts else ():
        reasons = [
            reason
            for suggestion in result.suggestions
            if suggestion.category in conflict.categories
            for reason in (*suggestion.reasons, *suggestion.flag_reasons)
        ]
        state = "resolved: one side is flagged" if conflict.resolved else "unresolved"
        cards.append(
            _card(
                result,
                labels,
                indicator="warning",
                summary=f"Conflict ({state}): {conflict.message}",
                heading=f"**Conflict ({md(state)}):** {md(conflict.message)}",
                reasons=reasons,
                fhir=fhir,
            )
        )
    for suggestion in result.suggestions if "suggestions" in parts else ():
        name = labels.category(suggestion.category)
        classes = (
            "; ".join(md(labels.class_label(sub)) for sub in suggestion.subcategories) or "(any)"
        )
        extra = [f"Drug classes: {classes}"]
        if suggestion.tier == "flagged":
            flagged = (*suggestion.flag_reasons, *suggestion.reasons)
            cards.append(
                _card(
                    result,
                    labels,
                    indicator="warning",
                    summary=f"{name} flagged for specialist review: {flagged[0].title}",
                    heading=f"**{md(name)}: FLAGGED - requires specialist review**",
                    reasons=flagged,
                    fhir=fhir,
                    extra=extra,
                )
            )
            continue
        short = ", ".join(labels.subcategory(sub) for sub in suggestion.subcategories)
        tier = labels.tier(suggestion.tier)
        cards.append(
            _card(
                result,
                labels,
                indicator="info",
                summary=f"Consider {name} ({tier})" + (f": {short}" if short else ""),
                heading=f"**Suggested: {md(name)}, {md(tier)}**",
                reasons=suggestion.reasons,
                fhir=fhir,
                extra=extra,
            )
        )
    for advisory in result.advisories if "advisories" in parts else ():
        kind = "Referral" if advisory.kind == "referral" else "Caution"
        cards.append(
            _card(
                result,
                labels,
                indicator="info",
                summary=f"{kind}: {advisory.message}",
                heading=f"**{kind}:** {md(advisory.message)} ({code(advisory.key)})",
                reasons=advisory.reasons,
                fhir=fhir,
            )
        )
    if "depends_on" in parts and (result.depends_on or result.warnings):
        cards.append(_check_card(result, labels, result.depends_on, fhir))
    return _ordered(cards)


def cards_from_result(
    result: Result, *, fhir: FhirProfile | None = None, parts: Collection[str] = PARTS
) -> list[Card]:
    """CDS Hooks cards for ``result``, most urgent first: ``critical`` for each avoided category
    or drug class, ``warning`` for each conflict and flagged category and one "check before
    ordering" card for the facts the answer depends on (``depends_on``: fields not stated whose
    stated value would change it, with the values and what they would change) and its
    warnings, ``info`` for each suggestion and advisory.

    Every card has a fresh ``uuid``, a ``summary`` of fewer than 140 characters, a Markdown
    ``detail`` (the not-for-clinical-use notice, then each reason: rule id, title, because-text,
    matched profile values and evidence; with ``fhir``, the record entries those values came
    from), a ``source`` (the first cited evidence, with its link) and ``links`` to every cited
    evidence that has one. ``parts`` chooses which lines become cards (default: all of
    ``"avoided"``, ``"conflicts"``, ``"suggestions"``, ``"advisories"`` and
    ``"depends_on"``).
    """
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    return _cards(result, Labels.for_subject(result), fhir, frozenset(parts))


def _overlap(schema: Schema, named: str, sub: str) -> str | None:
    """How a class named by the result relates to an ordered class: ``"within"`` when the
    ordered class is it or one of its finer classes, ``"contains"`` when the ordered class is
    coarser (the order may or may not be in the named class), else None."""
    if schema.covers(named, sub):
        return "within"
    if schema.covers(sub, named):
        return "contains"
    return None


def _order_cards(
    result: Result,
    labels: Labels,
    ordered: Mapping[str, Sequence[str]],
    fhir: FhirProfile | None,
) -> list[Card]:
    schema = labels.schema
    cards: list[Card] = []
    for sub, orders in ordered.items():
        category = schema.sub_category[sub]
        name = labels.subcategory(sub)
        label = md(labels.class_label(sub))
        which = ", ".join(md(order) for order in orders)
        extra = [f"Selected order(s): {which}"]
        avoided = [
            (a, a.subcategory and _overlap(schema, a.subcategory, sub))
            for a in result.avoided
            if a.category == category
        ]
        avoided = [(a, how) for a, how in avoided if a.subcategory is None or how]
        suggestion = result.suggestion(category)
        if avoided:
            # An order of a coarser class than the one avoided may be in the avoided class.
            surely = any(how != "contains" for _, how in avoided)
            verb = "is in" if surely else "may be in"
            cards.append(
                _card(
                    result,
                    labels,
                    indicator="critical",
                    summary=f"Selected order {verb} an avoided class: {name}",
                    heading=f"**Avoid** - the selected order ({label}) {verb} an avoided class",
                    reasons=[reason for a, _ in avoided for reason in a.reasons],
                    fhir=fhir,
                    extra=extra,
                )
            )
        elif suggestion is not None and suggestion.tier == "flagged":
            cards.append(
                _card(
                    result,
                    labels,
                    indicator="warning",
                    summary=f"Selected order: {labels.category(category)} are flagged for "
                    "specialist review",
                    heading=f"**{md(labels.category(category))}: FLAGGED - requires specialist "
                    f"review** ({label} selected)",
                    reasons=(*suggestion.flag_reasons, *suggestion.reasons),
                    fhir=fhir,
                    extra=extra,
                )
            )
        elif suggestion is not None:
            found = {_overlap(schema, named, sub) for named in suggestion.subcategories}
            if not found - {None}:
                continue
            tier = labels.tier(suggestion.tier)
            verb = "matches" if "within" in found else "includes"
            suggested = ", ".join(labels.subcategory(named) for named in suggestion.subcategories)
            cards.append(
                _card(
                    result,
                    labels,
                    indicator="info",
                    summary=f"Selected order ({name}) {verb} a {tier} suggestion: {suggested}",
                    heading=f"**Suggested: {md(labels.category(category))}, {md(tier)}** - the "
                    f"selected order ({label}) {verb} the suggested classes",
                    reasons=suggestion.reasons,
                    fhir=fhir,
                    extra=extra,
                )
            )
        relevant = [
            d
            for d in result.depends_on
            if any(
                t == category or (t in schema.sub_category and _overlap(schema, t, sub))
                for t in d.affects
            )
        ]
        if relevant:
            cards.append(_check_card(result, labels, relevant, fhir, ordered=name))
    return _ordered(cards)


def order_cards(
    result: Result, ordered: Mapping[str, Sequence[str]], *, fhir: FhirProfile | None = None
) -> list[Card]:
    """Cards about orders being selected: ``ordered`` maps each drug class (subcategory id) of
    the selected orders to the orders in it. An order in an avoided class (or of a coarser class
    that contains an avoided one) is ``critical``, in a flagged category ``warning``, in or
    around a suggested class ``info``; a class the result says nothing about gets no card.
    A fact not stated that would change the answer about an ordered class (its category, or a
    class in or around it) adds a ``warning`` card "check before ordering" for that class."""
    return _order_cards(result, Labels.for_subject(result), ordered, fhir)
