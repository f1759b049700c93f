"""The one walk of each model: a result, why-not answer, knowledge base or audit report and its
labels become a neutral :class:`~immunorules._render.document.Document`.

Everything a rendering shows is chosen here (names from the labels, evidence links checked,
order, the cap on change sets); the writers only format it. It must never format for one output
(no markup, no wrapping) and never change what the model says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from .._model.result import NOT_FOR_CLINICAL_USE, Citation, Reason, Result
from .document import (
    Advisories,
    AdvisoryItem,
    Assumptions,
    AuditHead,
    AvoidItem,
    Avoids,
    Block,
    ChangeItem,
    Changes,
    ChangeSetItem,
    CheckItem,
    ConditionItem,
    Conflict,
    DecisionRow,
    DecisionTable,
    DependencyItem,
    DiffHead,
    DiffRegionItem,
    DiffRegions,
    Document,
    DrugClass,
    EvidenceLink,
    FindingItem,
    Findings,
    Foot,
    Inactive,
    KnowledgeBaseHead,
    OverrideItem,
    Overrides,
    ProfileHead,
    ReasonItem,
    Reasons,
    RuleChecks,
    SuggestionItem,
    Suggestions,
    Uncovered,
    WhyNotHead,
)
from .labels import Labels

if TYPE_CHECKING:
    from .._analysis.audit_report import AuditReport
    from .._analysis.diff import RuleSetDiff
    from .._analysis.protocol import KnowledgeBaseWithTable as KnowledgeBase
    from .._analysis.whynot import ProfileChange, WhyNot
    from .._model.profile import ConditionProfile

__all__ = [
    "EFFECTS",
    "SHOWN_CHANGE_SETS",
    "SHOWN_DIFF_REGIONS",
    "all_reasons",
    "assumptions",
    "audit_document",
    "change_items",
    "conflict_state",
    "decision_rows",
    "diff_document",
    "evidence_for",
    "kb_counts",
    "kb_document",
    "no_change_text",
    "override_target",
    "reason_item",
    "result_document",
    "safe_url",
    "whynot_document",
]

#: How many change sets the text, Markdown and HTML renderings list (JSON has them all).
SHOWN_CHANGE_SETS = 10
#: The effect columns of a decision table, in order.
EFFECTS = ("suggest", "flag", "avoid", "advise")


# -- evidence and reasons ---------------------------------------------------------------------


def evidence_for(answer: Result | WhyNot) -> Mapping[str, Citation]:
    """The full citations a result (or why-not answer) carries, by evidence key."""
    return {citation.key: citation for citation in answer.citations}


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an http(s) link (never a javascript: or data: one), else None."""
    if url and re.match(r"https?://[^\s<>\"']+\Z", url):
        return url
    return None


def reason_item(reason: Reason, evidence: Mapping[str, Citation], labels: Labels) -> ReasonItem:
    """A reason with its matched values shown and its evidence keys linked."""
    links = []
    for key in reason.evidence:
        entry = evidence.get(key)
        links.append(
            EvidenceLink(
                key=key,
                citation=entry.citation if entry else None,
                url=safe_url(entry.url) if entry else None,
            )
        )
    return ReasonItem(
        rule_id=reason.rule_id,
        title=reason.title,
        because=reason.because,
        matched=tuple(f"{labels.field(k)}={labels.value(k, v)}" for k, v in reason.matched.items()),
        evidence=tuple(links),
    )


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


def conflict_state(resolved: bool) -> str:
    return "resolved by a flag" if resolved else "UNRESOLVED - needs a specialist decision"


def _profile(profile: ConditionProfile, labels: Labels) -> ProfileHead:
    return ProfileHead(labels.profile_title(profile), tuple(labels.profile_details(profile)))


def _drug_class(subcategory: str, labels: Labels) -> DrugClass:
    return DrugClass(
        labels.subcategory(subcategory), labels.atc(subcategory), labels.class_label(subcategory)
    )


# -- results ----------------------------------------------------------------------------------


def result_document(result: Result, labels: Labels) -> Document:
    """A result: profile, conflicts, suggestions, avoids, advisories, reasons, footer."""
    evidence = evidence_for(result)

    def reasons(found: Iterable[Reason]) -> tuple[ReasonItem, ...]:
        return tuple(reason_item(r, evidence, labels) for r in found)

    blocks: list[Block] = [_profile(result.profile, labels)]
    blocks += [
        Conflict(c.resolved, conflict_state(c.resolved), c.message, tuple(c.rule_ids))
        for c in result.conflicts
    ]
    if not result.covered:
        blocks.append(Uncovered())
    blocks.append(
        Suggestions(
            tuple(
                SuggestionItem(
                    tier=s.tier,
                    tier_label=labels.tier(s.tier),
                    category=labels.category(s.category),
                    review=s.requires_specialist_review,
                    direction=s.direction,
                    classes=tuple(_drug_class(sub, labels) for sub in s.subcategories),
                    reasons=reasons(s.reasons),
                    flag_reasons=reasons(s.flag_reasons),
                )
                for s in result.suggestions
            )
        )
    )
    if result.avoided:
        blocks.append(
            Avoids(
                tuple(
                    AvoidItem(
                        category=labels.category(a.category),
                        drug_class=_drug_class(a.subcategory, labels) if a.subcategory else None,
                        reasons=reasons(a.reasons),
                    )
                    for a in result.avoided
                )
            )
        )
    for kind, title in (("referral", "Referrals"), ("caution", "Cautions")):
        chosen = [a for a in result.advisories if a.kind == kind]
        if chosen:
            items = tuple(AdvisoryItem(a.key, a.message, reasons(a.reasons)) for a in chosen)
            blocks.append(Advisories(kind, title, items))
    assumed = assumptions(result, labels)
    if assumed is not None:
        blocks.append(assumed)
    found = all_reasons(result)
    if found:
        blocks.append(Reasons(reasons(found)))
    info = result.knowledge_base
    blocks.append(
        Foot(info.name, info.version, info.engine, info.fingerprint[:12], tuple(result.fired_rules))
    )
    return Document("result", result.notice, tuple(blocks))


def assumptions(result: Result, labels: Labels) -> Assumptions | None:
    """What a result assumes (None when it states every field, assumes nothing and warns of
    nothing): each fact it depends on, the other unstated fields, assumed values, warnings."""
    if not (result.unstated or result.depends_on or result.warnings or result.assumed):
        return None
    depends = tuple(
        DependencyItem(
            field=labels.field(d.field),
            description=labels.field_description(d.field),
            values=labels.values_text(d.values, d.field),
            effect=d.effect,
            affects=tuple(labels.target(target) for target in d.affects),
        )
        for d in result.depends_on
    )
    named = {d.field for d in result.depends_on}
    return Assumptions(
        depends_on=depends,
        unstated=tuple(labels.field(f) for f in result.unstated if f not in named),
        assumed=tuple(f"{labels.field(k)}={labels.value(k, v)}" for k, v in result.assumed.items()),
        warnings=tuple(result.warnings),
    )


# -- why-not answers --------------------------------------------------------------------------


def _changed(labels: Labels, field: str, value: object) -> str:
    """A value before or after a change: ``not stated`` for None (stating a fact is a change)."""
    return "not stated" if value is None else labels.value(field, value)


def change_items(changes: Sequence[ProfileChange], labels: Labels) -> tuple[ChangeItem, ...]:
    """The changes of a change set; an area change that follows from the condition is shown
    with it rather than as a change of its own; a field not stated reads ``not stated``."""
    items: list[ChangeItem] = []
    for change in changes:
        after = _changed(labels, change.field, change.after)
        if change.implied and items:
            last = items[-1]
            implied = (labels.field(change.field), after)
            items[-1] = ChangeItem(last.field, last.before, last.after, last.alternatives, implied)
            continue
        items.append(
            ChangeItem(
                field=labels.field(change.field),
                before=_changed(labels, change.field, change.before),
                after=after,
                alternatives=labels.alternatives(change),
                implied=None,
            )
        )
    return tuple(items)


def no_change_text(answer: WhyNot) -> str:
    if answer.reachable is False and answer.fixed:
        return (
            "None among the fields searched: no change to them can make it a first-line or "
            f"escalation suggestion (held fixed: {', '.join(answer.fixed)})."
        )
    if answer.reachable is False:
        return "None: no valid profile change can make it a first-line or escalation suggestion."
    if answer.reachable is True:
        return f"None within {answer.max_changes} fields; a larger change would be needed."
    return f"None within {answer.max_changes} fields; larger changes were not searched."


def override_target(kind: str, subcategory: str | None, labels: Labels) -> str:
    if subcategory:
        return f"avoids {labels.subcategory(subcategory)}"
    return "avoids the whole category" if kind == "avoid" else "flags it"


def whynot_document(answer: WhyNot, labels: Labels) -> Document:
    """A why-not answer: the answer, what would change it, overrides, the rules, inactive."""
    evidence = evidence_for(answer)
    name = labels.category(answer.category)
    blocks: list[Block] = [
        WhyNotHead(
            category=name,
            profile=_profile(answer.profile, labels),
            status=answer.status,
            status_label=labels.status(answer.status),
            tier=answer.tier,
            tier_label=labels.tier(answer.tier) if answer.tier else None,
            summary=answer.summary,
        )
    ]
    if answer.status != "suggested":
        blocks.append(
            Changes(
                max_changes=answer.max_changes,
                search_text=answer.search_text if answer.fixed else None,
                items=tuple(
                    ChangeSetItem(
                        change_items(cs.changes, labels),
                        cs.tier,
                        labels.tier(cs.tier),
                        tuple(cs.rule_ids),
                    )
                    for cs in answer.changes[:SHOWN_CHANGE_SETS]
                ),
                hidden=max(len(answer.changes) - SHOWN_CHANGE_SETS, 0),
                none_text=no_change_text(answer),
            )
        )
    if answer.overrides:
        blocks.append(
            Overrides(
                tuple(
                    OverrideItem(
                        o.kind,
                        override_target(o.kind, o.subcategory, labels),
                        reason_item(o.reason, evidence, labels),
                    )
                    for o in answer.overrides
                )
            )
        )
    blocks.append(
        RuleChecks(
            name,
            tuple(
                CheckItem(
                    rule_id=check.rule_id,
                    title=check.title,
                    tier=check.tier,
                    tier_label=labels.tier(check.tier),
                    fired=check.fired,
                    failed=len(check.failed),
                    conditions=tuple(
                        ConditionItem(c.requirement, c.held, labels.value(c.field, c.actual))
                        for c in check.conditions
                    ),
                )
                for check in answer.rules
            ),
        )
    )
    if answer.inactive_rule_ids:
        blocks.append(Inactive(tuple(answer.inactive_rule_ids)))
    info = answer.knowledge_base
    blocks.append(Foot(info.name, info.version, info.engine, info.fingerprint[:12], None))
    return Document("whynot", answer.notice, tuple(blocks))


# -- knowledge bases --------------------------------------------------------------------------


def decision_rows(kb: KnowledgeBase) -> list[dict[str, str]]:
    """The knowledge base's decision table (active rules) as flat text rows."""
    return kb.decision_table().to_records()


def kb_counts(kb: KnowledgeBase) -> dict[str, int]:
    return {
        "rules": len(kb.rules),
        "active_rules": len(kb.active_rules),
        "evidence": len(kb.evidence),
        "files": len(kb.files),
        "golden_cases": sum(len(rule.tests) for rule in kb.rules),
    }


def kb_document(kb: KnowledgeBase, labels: Labels) -> Document:
    """A knowledge-base summary: its counts and decision table."""
    counts = kb_counts(kb)
    head = KnowledgeBaseHead(
        name=kb.name,
        version=kb.version,
        engine=kb.engine,
        fingerprint=kb.fingerprint,
        rules=counts["rules"],
        active_rules=counts["active_rules"],
        evidence=counts["evidence"],
        golden_cases=counts["golden_cases"],
        files=counts["files"],
    )
    rows = tuple(
        DecisionRow(
            rule=row["rule"],
            title=row["title"],
            area=row["area"],
            when=row["when"],
            effects=tuple((key, row[key]) for key in EFFECTS if row[key]),
            cells=tuple((key, row[key]) for key in EFFECTS),
        )
        for row in decision_rows(kb)
    )
    return Document("kb", NOT_FOR_CLINICAL_USE, (head, DecisionTable(rows, labels.area_order())))


# -- audit reports ----------------------------------------------------------------------------


def audit_document(report: AuditReport, labels: Labels) -> Document:
    """An audit report: the verdict, counts per severity and each listed finding."""
    from .._analysis.audit_report import KINDS, compact_profile, describe_region

    findings = tuple(
        FindingItem(
            severity=f.severity,
            kind=f.kind,
            rule_ids=tuple(f.rule_ids),
            message=f.message,
            region=(f.region_text or describe_region(f.region)) if f.region is not None else None,
            example=(
                ", ".join(labels.profile_details(f.example_profile))
                if f.example_profile is not None
                else None
            ),
            example_compact=(
                compact_profile(f.example_profile) if f.example_profile is not None else None
            ),
            subject=f.subject,
        )
        for f in report.findings
    )
    omitted = []
    for kind in KINDS:
        shown, total = len(report.filter(kind=kind)), report.total(kind)
        if total > shown:
            omitted.append(
                f"{kind}: {total:,} findings, {shown:,} listed (max_findings="
                f"{report.max_findings}; those about the most profiles first)."
            )
    info = report.knowledge_base
    head = AuditHead(
        name=info.name,
        version=info.version,
        fingerprint=info.fingerprint[:12],
        active_rules=report.active_rules,
        profiles=report.profiles,
        ok=report.ok,
        summary=report.summary(),
        counts=tuple(report.counts().items()),
        omitted=tuple(omitted),
    )
    return Document("audit", report.notice, (head, Findings(findings)), notice_last=True)


# -- rule-set diffs ---------------------------------------------------------------------------

#: How many regions of a diff the text, Markdown and HTML renderings list (JSON has them all).
SHOWN_DIFF_REGIONS = 50


def diff_document(found: RuleSetDiff) -> Document:
    """A diff: the verdict, the vocabulary and rule-id changes, then each region (the largest
    first, at most :data:`SHOWN_DIFF_REGIONS`)."""
    from .._analysis.audit_report import compact_profile

    share = found.changed_profiles / found.profiles if found.profiles else 0.0
    rules = tuple(
        (what, ids)
        for what, ids in (
            ("added", found.rules_added),
            ("removed", found.rules_removed),
            ("edited", found.rules_edited),
        )
        if ids
    )
    head = DiffHead(
        old=f"{found.old.name} {found.old.version}",
        new=f"{found.new.name} {found.new.version}",
        changed=found.changed,
        summary=found.summary(),
        profiles=found.profiles,
        changed_profiles=found.changed_profiles,
        share=f"{share:.2%}" if share >= 0.0001 or not share else "<0.01%",
        shared_space=found.shared_space,
        rules=rules,
        vocabulary=tuple(found.vocabulary.lines()),
    )
    shown = found.regions[:SHOWN_DIFF_REGIONS]
    items = tuple(
        DiffRegionItem(
            number=number,
            size=region.region_size,
            region=region.region_text,
            example=compact_profile(region.example_profile),
            before=region.before.describe(),
            after=region.after.describe(),
            before_rules=region.rule_ids.before,
            after_rules=region.rule_ids.after,
        )
        for number, region in enumerate(shown, start=1)
    )
    blocks: tuple[Block, ...] = (head, DiffRegions(items, len(found.regions) - len(shown)))
    return Document("diff", found.notice, blocks, notice_last=True)
