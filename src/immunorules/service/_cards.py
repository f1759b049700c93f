"""CDS Hooks cards from a :class:`~immunorules.Result`: one card per line of the result (an
avoided class and its avoided finer classes share one), each carrying the rules, because-texts,
matched values and evidence behind it, the full citations, the knowledge base's name, version
and fingerprint, and the not-for-clinical-use notice; for ``order-select``, one or more cards
per ordered drug class. Given the knowledge base, the cards keep to the patient's problem (see
``_focus``).

It builds plain JSON data and never decides anything clinical: the indicator follows the kind of
line (an avoid is ``critical``; a flagged category, a conflict or the facts to check are
``warning``; the rest ``info``), and the only suggestion a card makes is removing an order of an
avoided class.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._model.result import Avoidance, Citation, Dependency, Reason, Result
from .._model.schema import Schema
from .._render.fragments import Labels, code, evidence_for, md, notice, reason_line, safe_url
from ._focus import Focus, RuleSource

if TYPE_CHECKING:
    from ..fhir import FhirProfile

__all__ = [
    "MAX_SOURCE_LABEL",
    "MAX_SUMMARY",
    "OVERRIDE_REASONS",
    "OVERRIDE_SYSTEM",
    "PARTS",
    "cards_from_result",
    "order_cards",
]

#: The spec asks for a summary of fewer than 140 characters.
MAX_SUMMARY = 139
#: A card's ``source.label`` is a short name; the full citation is in the card's detail.
MAX_SOURCE_LABEL = 60
#: How much of a citation a link label shows.
_MAX_LABEL = 100
#: The code system of the override reasons the cards offer.
OVERRIDE_SYSTEM = "urn:immunorules:cds-hooks:override-reason"
#: The override reasons a ``critical`` or ``warning`` card offers (code, display).
OVERRIDE_REASONS: tuple[tuple[str, str], ...] = (
    ("benefit-outweighs-risk", "Benefit judged to outweigh the risk (specialist decision)"),
    ("record-incomplete", "The patient's record is incomplete or wrong here"),
    ("fact-checked", "The facts to check were checked"),
    ("not-applicable", "Does not apply to this patient"),
)
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
    after: Sequence[str] = (),
    remove: Sequence[str] = (),
) -> Card:
    """A card; ``after`` adds Markdown lines after the reasons, ``remove`` offers to remove
    these selected orders (a suggestion with a ``delete`` action each)."""
    evidence = evidence_for(result)
    reasons = _unique(reasons)
    cited = _cited(reasons, evidence)
    detail = [notice(result.notice), "", heading, *extra, "", "**Why:**", ""]
    detail += [f"- {reason_line(labels, reason, evidence)}" for reason in reasons]
    detail += list(after)
    detail += _record_lines(reasons, fhir)
    detail += _sources_lines(cited)
    detail += ["", _kb_line(result, reasons)]
    card: Card = {
        "uuid": str(uuid.uuid4()),
        "summary": _clip(summary, MAX_SUMMARY),
        "indicator": indicator,
        "detail": "\n".join(detail),
        "source": _source(cited, result.knowledge_base.name),
    }
    if remove:
        card["suggestions"] = [
            {
                "label": _clip(f"Remove the selected order {order}", 80),
                "uuid": str(uuid.uuid4()),
                "actions": [
                    {
                        "type": "delete",
                        "description": f"Remove the selected order {order}",
                        "resourceId": order,
                    }
                ],
            }
            for order in remove
        ]
        card["selectionBehavior"] = "any"
    if indicator != "info":
        card["overrideReasons"] = _override_reasons()
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


def _override_reasons() -> list[dict[str, str]]:
    return [
        {"system": OVERRIDE_SYSTEM, "code": key, "display": display}
        for key, display in OVERRIDE_REASONS
    ]


def _unique(reasons: Iterable[Reason]) -> list[Reason]:
    """Each rule's reason once, in the order first given."""
    seen: dict[str, Reason] = {}
    for reason in reasons:
        seen.setdefault(reason.rule_id, reason)
    return list(seen.values())


def _kb_line(result: Result, reasons: Sequence[Reason] = ()) -> str:
    info = result.knowledge_base
    rules = f"; rules {', '.join(code(r.rule_id) for r in reasons)}" if reasons else ""
    return (
        f"*Knowledge base {md(info.name)} {md(info.version)}, fingerprint "
        f"{code(info.fingerprint)}{rules}.*"
    )


def _sources_lines(cited: Sequence[Citation]) -> list[str]:
    """The full citation of every cited source (the source label is only a short name)."""
    if not cited:
        return []
    lines = ["", "**Sources:**", ""]
    for citation in cited:
        url = safe_url(citation.url)
        link = f" <{url}>" if url else ""
        lines.append(f"- {code(citation.key)}: {md(citation.citation)}{link}")
    return lines


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
    the knowledge base), as a short label (at most ``MAX_SOURCE_LABEL`` characters; the full
    citation is in the card's detail)."""
    linked = [c for c in cited if safe_url(c.url)]
    primary = linked[0] if linked else (cited[0] if cited else None)
    if primary is None:
        return {"label": _clip(f"immunorules {kb_name} (research prototype)", MAX_SOURCE_LABEL)}
    source = {"label": _clip(primary.citation, MAX_SOURCE_LABEL)}
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
            why = fhir.not_stated.get(name) or "no evidence in the record"
            lines.append(f"- {code(name)}: not determined by the record: {md(why)}")
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
            if d.field in fhir.unrecognised:  # it may: name what could not be read
                line += f": {md(fhir.not_stated.get(d.field, ''))}"
        detail.append(line)
    if result.warnings:
        detail += ["", "**Warnings:**", "", *(f"- {md(w)}" for w in result.warnings)]
    if result.assumed:
        assumed = ", ".join(
            code(f"{labels.field(k)}={labels.value(k, v)}") for k, v in result.assumed.items()
        )
        detail += ["", f"Assumed for this advice (not from the record): {assumed}."]
    detail += ["", _kb_line(result)]
    return {
        "uuid": str(uuid.uuid4()),
        "summary": _clip(summary, MAX_SUMMARY),
        "indicator": "warning",
        "detail": "\n".join(detail),
        "source": _source((), result.knowledge_base.name),
        "overrideReasons": _override_reasons(),
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


def _avoid_groups(
    avoided: Sequence[Avoidance], schema: Schema
) -> list[tuple[Avoidance, list[Avoidance]]]:
    """Avoided lines grouped under the coarsest avoided class that covers them (a whole
    category stands alone): a parent class and its finer classes make one group."""
    groups: list[tuple[Avoidance, list[Avoidance]]] = []
    for one in avoided:
        sub = one.subcategory
        if sub is not None and any(
            other.category == one.category
            and other.subcategory is not None
            and other.subcategory != sub
            and schema.covers(other.subcategory, sub)
            for other in avoided
        ):
            continue  # a finer class of another avoided class: in that one's card
        finer = [
            other
            for other in avoided
            if sub is not None
            and other.subcategory is not None
            and other.subcategory != sub
            and schema.covers(sub, other.subcategory)
        ]
        groups.append((one, finer))
    return groups


def _avoid_card(
    result: Result,
    labels: Labels,
    avoided: Avoidance,
    finer: Sequence[Avoidance],
    fhir: FhirProfile | None,
) -> Card:
    if avoided.subcategory:
        what = f"{labels.subcategory(avoided.subcategory)} ({labels.category(avoided.category)})"
        heading = (
            f"**Avoid: {md(labels.class_label(avoided.subcategory))}**, within "
            f"{md(labels.category(avoided.category))}"
        )
    else:
        what = labels.category(avoided.category)
        heading = f"**Avoid: {md(what)}** (the whole category)"
    extra = []
    if finer:
        names = "; ".join(md(labels.class_label(f.subcategory or "")) for f in finer)
        extra = [f"Its finer classes, avoided with it: {names}"]
    return _card(
        result,
        labels,
        indicator="critical",
        summary=f"Avoid {what}: {avoided.reasons[0].title}",
        heading=heading,
        reasons=[r for line in (avoided, *finer) for r in line.reasons],
        fhir=fhir,
        extra=extra,
    )


def _cards(
    result: Result,
    labels: Labels,
    fhir: FhirProfile | None,
    parts: Collection[str],
    focus: Focus | None,
) -> list[Card]:
    cards: list[Card] = []
    avoided = [a for a in result.avoided if focus is None or focus.about(a.category, a.subcategory)]
    for line, finer in _avoid_groups(avoided, labels.schema) if "avoided" in parts else ():
        cards.append(_avoid_card(result, labels, line, finer, fhir))
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
        if focus is not None and not focus.reasons_about(advisory.reasons):
            continue  # only about a class never suggested here
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
    result: Result,
    *,
    fhir: FhirProfile | None = None,
    parts: Collection[str] = PARTS,
    kb: RuleSource | None = None,
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

    An avoided class and its avoided finer classes share one card. With ``kb`` (the knowledge
    base that gave ``result``), the cards are about the patient's problem: an avoid (or an
    advisory that comes only from avoids) of a class that none of the fired rules suggests,
    before any avoid applies, gets no card.
    """
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    labels = Labels.for_subject(result)
    focus = None if kb is None else Focus.of(result, kb, labels.schema)
    return _cards(result, labels, fhir, frozenset(parts), focus)


def _overlap(schema: Schema, named: str, sub: str) -> str | None:
    """How a class named by the result relates to an ordered class: ``"within"`` when the
    ordered class is it or one of its finer classes, ``"contains"`` when the ordered class is
    coarser (the order may or may not be in the named class), else None."""
    if schema.covers(named, sub):
        return "within"
    if schema.covers(sub, named):
        return "contains"
    return None


def _instead(result: Result, labels: Labels) -> tuple[str, list[str], list[Reason]]:
    """What the rules suggest for this problem now: a short text, Markdown lines, the reasons."""
    offered = [s for s in result.suggestions if s.tier != "flagged"]
    if not offered:
        return "no class is suggested for this problem now", [], []
    short = "; ".join(
        f"{labels.category(s.category)}"
        + (
            f" ({', '.join(labels.subcategory(c) for c in s.subcategories)})"
            if s.subcategories
            else ""
        )
        + f", {labels.tier(s.tier)}"
        for s in offered
    )
    lines = ["", "**Suggested instead, for this problem at this point:**", ""]
    for s in offered:
        classes = "; ".join(md(labels.class_label(c)) for c in s.subcategories) or "(any class)"
        lines.append(f"- {md(labels.category(s.category))}, {md(labels.tier(s.tier))}: {classes}")
    return short, lines, [r for s in offered for r in s.reasons]


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
            reasons = _unique(reason for a, _ in avoided for reason in a.reasons)
            cards.append(
                _card(
                    result,
                    labels,
                    indicator="critical",
                    summary=f"Avoid {name} (selected order {verb} an avoided class): "
                    f"{reasons[0].title}",
                    heading=f"**Avoid** - the selected order ({label}) {verb} an avoided class",
                    reasons=reasons,
                    fhir=fhir,
                    extra=extra,
                    remove=[o for o in orders if o],
                )
            )
        elif suggestion is not None and suggestion.tier == "flagged":
            flagged = (*suggestion.flag_reasons, *suggestion.reasons)
            cards.append(
                _card(
                    result,
                    labels,
                    indicator="warning",
                    summary=f"Flagged for specialist review: {name} (selected order; "
                    f"{labels.category(category)}): {flagged[0].title}",
                    heading=f"**{md(labels.category(category))}: FLAGGED - requires specialist "
                    f"review** ({label} selected)",
                    reasons=flagged,
                    fhir=fhir,
                    extra=extra,
                )
            )
        else:
            found = (
                {_overlap(schema, named, sub) for named in suggestion.subcategories}
                if suggestion is not None
                else set()
            )
            if suggestion is not None and (found - {None} or not suggestion.subcategories):
                tier = labels.tier(suggestion.tier)
                verb = (
                    "matches" if "within" in found or not suggestion.subcategories else "includes"
                )
                suggested = ", ".join(
                    labels.subcategory(named) for named in suggestion.subcategories
                ) or labels.category(category)
                cards.append(
                    _card(
                        result,
                        labels,
                        indicator="info",
                        summary=f"Selected order ({name}) {verb} a {tier} suggestion: {suggested}",
                        heading=f"**Suggested: {md(labels.category(category))}, {md(tier)}** - "
                        f"the selected order ({label}) {verb} the suggested classes",
                        reasons=suggestion.reasons,
                        fhir=fhir,
                        extra=extra,
                    )
                )
            else:
                short, lines, reasons = _instead(result, labels)
                cards.append(
                    _card(
                        result,
                        labels,
                        indicator="info",
                        summary=f"{name} (selected) is not suggested for this problem now; "
                        f"suggested: {short}",
                        heading=f"**Not suggested now** - the rules do not suggest the selected "
                        f"order's class ({label}) for this problem at this point",
                        reasons=reasons,
                        fhir=fhir,
                        extra=extra,
                        after=lines,
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
    result: Result,
    ordered: Mapping[str, Sequence[str]],
    *,
    fhir: FhirProfile | None = None,
    kb: RuleSource | None = None,
) -> list[Card]:
    """Cards about orders being selected: ``ordered`` maps each drug class (subcategory id) of
    the selected orders to the orders in it. An order in an avoided class (or of a coarser class
    that contains an avoided one) is ``critical``, naming the class, the reasons and their
    evidence, and offers to remove the order; in a flagged category ``warning``; in or around a
    suggested class ``info``; of a class the rules do not suggest for this problem at this point
    ``info``, saying what is suggested instead and why. A fact not stated that would change the
    answer about an ordered class (its category, or a class in or around it) adds a ``warning``
    card "check before ordering" for that class. With ``kb``, the advisories about the problem
    or the ordered classes follow (see :func:`cards_from_result`)."""
    labels = Labels.for_subject(result)
    cards = _order_cards(result, labels, ordered, fhir)
    if kb is not None:
        focus = Focus.of(result, kb, labels.schema, ordered=ordered)
        cards += _cards(result, labels, fhir, frozenset({"advisories"}), focus)
    return _ordered(cards)
