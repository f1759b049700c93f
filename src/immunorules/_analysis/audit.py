"""The audit: an exact analysis of a knowledge base over every valid profile.

Each rule's ``when`` is a box in the profile space (``_space``); each question is answered by
partitioning a box into cells on which a fixed set of rules fires, and by resolving each distinct
set of fired rules once with the production :func:`resolve`. Every question looks only at the
rules that can affect its answer (e.g. gaps only at decisive rules), which keeps the number of
cells small: nothing is sampled and nothing is enumerated profile by profile.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._evaluate.resolve import effect_directions, is_decisive
from .._model.rules import Rule
from .audit_report import SEVERITY_OF, AuditReport, Finding, FindingKind
from .audit_semantics import (
    OPPOSITE,
    Projection,
    Side,
    covers,
    fates,
    keys,
    outcome,
    part,
    side_text,
    touches,
    unresolved_conflict,
)
from .golden import golden_cases
from .space import (
    Box,
    CompiledRule,
    ProfileSpace,
    intersect,
    is_empty,
    merge_boxes,
    partition,
    size,
)

if TYPE_CHECKING:
    from .._evaluate.knowledge_base import KnowledgeBase

__all__ = ["audit"]


def audit(
    kb: KnowledgeBase | None = None,
    *,
    scope: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> AuditReport:
    """Audit a knowledge base (the bundled one by default) over the whole profile space.

    Gaps are looked for only inside the scope: ``scope`` (a region in ``when`` syntax, or a
    list of regions), else the union of the rule files' ``scope:``, else every profile. Every
    other finding is judged over the whole space.
    """
    if kb is None:
        from .. import _bundled

        kb = _bundled()
    regions = kb.scope if scope is None else _scope_rules(kb, scope)
    analysis = _Analysis(kb, regions)
    findings = [
        *analysis.dead_rules(),
        *analysis.missing_evidence(),
        *analysis.golden_cases(),
        *analysis.gaps(),
        *analysis.conflicts(),
    ]
    redundant, redundant_ids = analysis.redundant_rules()
    findings += redundant
    findings += analysis.masked_rules(skip=redundant_ids)
    findings += analysis.unused_vocabulary()
    order = {kind: index for index, kind in enumerate(SEVERITY_OF)}
    findings.sort(key=lambda f: (order[f.kind], f.rule_ids, f.subject or "", f.message))
    return AuditReport(
        findings=tuple(findings),
        knowledge_base=kb.info,
        active_rules=len(kb.active_rules),
        profiles=size(analysis.space.full),
    )


def _scope_rules(
    kb: KnowledgeBase, scope: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> tuple[Rule, ...]:
    from .._load.loader import parse_scope

    found: tuple[Rule, ...] = parse_scope(kb.schema, scope)
    return found


def _finding(kind: FindingKind, message: str, **extra: object) -> Finding:
    return Finding.model_validate(
        {"kind": kind, "severity": SEVERITY_OF[kind], "message": message, **extra}
    )


def _located(rule: Rule) -> str:
    return rule.file if rule.line is None else f"{rule.file}:{rule.line}"


class _Analysis:
    def __init__(self, kb: KnowledgeBase, scope: Sequence[Rule] = ()) -> None:
        self.kb = kb
        self.space = space = ProfileSpace(kb.space)
        self.scope = [space.compile_rule(region) for region in scope]
        self.compiled = [space.compile_rule(rule) for rule in kb.active_rules]
        self.live = [c for c in self.compiled if c.box is not None]
        self.by_id = {c.id: c for c in self.live}

    def _regional(
        self, kind: FindingKind, boxes: Iterable[Box], message: str, **extra: object
    ) -> Iterator[Finding]:
        space = self.space
        merged = [piece for box in merge_boxes(boxes) for piece in space.pieces(box)]
        for number, piece in enumerate(merged, start=1):
            region = space.regions(piece)[0]
            count = size(piece)
            where = f" (region {number} of {len(merged)})" if len(merged) > 1 else ""
            text = message.format(
                count=f"{count:,} valid profile{'s' if count != 1 else ''}",
                region=space.describe_region(region),
                where=where,
            )
            yield _finding(
                kind,
                text,
                region=region,
                region_text=space.describe_region(region),
                region_size=count,
                example_profile=space.example_profile(piece),
                **extra,
            )

    # -- rules on their own -----------------------------------------------------------------

    def dead_rules(self) -> Iterator[Finding]:
        """Rules no valid profile fires: only ``disease_area`` and ``condition`` constrain each
        other, so it is always a condition outside the areas the rule asks for."""
        for compiled in self.compiled:
            if compiled.box is None:
                rule = compiled.rule
                describe = self.space.flat.describe
                tests = [
                    describe(name, rule.when[name])
                    for name in ("disease_area", "condition")
                    if name in rule.when
                ]
                areas = self.kb.schema.condition_area
                owners = sorted(
                    f"{c} is {areas[c]}"
                    for c in rule.when.get("condition", ())
                    if isinstance(c, str)
                )
                because = f" ({'; '.join(owners)})" if owners else ""
                yield _finding(
                    "dead_rule",
                    f"{rule.id} can never fire: no valid profile has {' and '.join(tests)}"
                    f"{because}. Fix its `when` ({_located(rule)}).",
                    rule_ids=(rule.id,),
                )

    def missing_evidence(self) -> Iterator[Finding]:
        for rule in self.kb.active_rules:
            if not rule.evidence:
                yield _finding(
                    "missing_evidence",
                    f"{rule.id} cites no evidence: list the keys of its sources under `evidence:` "
                    f"({_located(rule)}).",
                    rule_ids=(rule.id,),
                )

    def golden_cases(self) -> Iterator[Finding]:
        for ref in golden_cases(self.kb):
            problems = ref.problems(self.kb)
            if problems:
                yield _finding(
                    "golden_case_failed",
                    f"golden case {ref.id} ({ref.location}) fails: " + "; ".join(problems) + ".",
                    rule_ids=(ref.rule.id,),
                    example_profile=ref.case.profile,
                )

    # -- the profile space ------------------------------------------------------------------

    def gaps(self) -> Iterator[Finding]:
        schema = self.kb.schema
        decisive = [c for c in self.live if is_decisive(c.rule, schema)]
        full = self.space.full
        if not self.scope:
            uncovered = [
                cell.box for cell in partition(full, decisive, prune=lambda fired, _: bool(fired))
            ]
        else:
            scopes = [c for c in self.scope if c.box is not None]
            scope_ids = {c.id for c in scopes}
            decisive_ids = {c.id for c in decisive}

            def settled(fired: frozenset[str], pending: Sequence[CompiledRule]) -> bool:
                if fired & decisive_ids:
                    return True  # covered
                return not fired & scope_ids and not any(c.id in scope_ids for c in pending)

            uncovered = [
                cell.box
                for cell in partition(full, [*scopes, *decisive], prune=settled)
                if cell.fired & scope_ids
            ]
        yield from self._regional(
            "gap",
            uncovered,
            "No decisive rule (a suggestion, a category-level avoid or a referral) covers "
            "{count}{where}: {region}.",
        )

    def conflicts(self) -> Iterator[Finding]:
        sides: dict[str, set[str]] = {direction: set() for direction in OPPOSITE}
        directional: set[str] = set()
        for compiled in self.live:
            for suggest in compiled.rule.then.suggest:
                found = effect_directions(suggest, self.kb.schema)
                for direction in found.intersection(OPPOSITE):
                    sides[direction].add(compiled.id)
                    directional.add(suggest.category)
        if not all(sides.values()):
            return
        relevant = [c for c in self.live if touches(c.rule)[0] & directional]
        suppress, stimulate = sides["suppress"], sides["stimulate"]

        def hopeless(fired: frozenset[str], pending: Iterable[CompiledRule]) -> bool:
            ids = fired | {c.id for c in pending}
            return not (ids & suppress and ids & stimulate)

        boxes_by_sides: dict[tuple[Side, Side], list[Box]] = {}
        outcomes: dict[frozenset[str], tuple[Side, Side] | None] = {}
        for cell in partition(self.space.full, relevant, prune=hopeless):
            if cell.fired not in outcomes:
                rules = [self.by_id[rule_id].rule for rule_id in cell.fired]
                outcomes[cell.fired] = unresolved_conflict(rules, self.kb.schema)
            key = outcomes[cell.fired]
            if key is not None:
                boxes_by_sides.setdefault(key, []).append(cell.box)
        for (suppressing, stimulating), boxes in sorted(boxes_by_sides.items()):
            yield from self._regional(
                "unresolved_conflict",
                boxes,
                f"{side_text(suppressing)} would suppress the immune system while "
                f"{side_text(stimulating)} would stimulate it, both at first_line or escalation "
                "(neither flagged), on {count}{where}: {region}. Flag or avoid one side there, "
                "or narrow the rules.",
                rule_ids=tuple(sorted({rule_id for _, rule_id in suppressing + stimulating})),
            )

    # -- rules against each other ------------------------------------------------------------

    def redundant_rules(self) -> tuple[list[Finding], set[str]]:
        """Redundant rules, and the ids of every rule that another one covers."""
        covered_by: dict[str, list[str]] = {
            c.id: [o.id for o in self.live if o.id != c.id and covers(o, c)] for c in self.live
        }
        findings: list[Finding] = []
        grouped: set[str] = set()
        for compiled in self.live:
            same = [o for o in covered_by[compiled.id] if compiled.id in covered_by[o]]
            if same and compiled.id not in grouped:
                group = sorted({compiled.id, *same})
                grouped.update(group)
                findings.append(
                    _finding(
                        "redundant_rule",
                        f"Identical rules: {', '.join(group)} have the same conditions and "
                        "effects; keep one.",
                        rule_ids=tuple(group),
                        example_profile=self.space.example_profile(self._box(compiled)),
                    )
                )
        for compiled in self.live:
            wider = [o for o in covered_by[compiled.id] if compiled.id not in covered_by[o]]
            if wider:
                names = ", ".join(wider)
                findings.append(
                    _finding(
                        "redundant_rule",
                        f"{compiled.id} is redundant: {names} "
                        f"{'fires' if len(wider) == 1 else 'each fire'} on every profile where it "
                        "fires and already has all its effects. Remove it, or make it differ.",
                        rule_ids=(compiled.id, *wider),
                        example_profile=self.space.example_profile(self._box(compiled)),
                    )
                )
        return findings, {rule_id for rule_id, wider in covered_by.items() if wider}

    def _box(self, compiled: CompiledRule) -> Box:
        assert compiled.box is not None
        return compiled.box

    def masked_rules(self, *, skip: set[str]) -> Iterator[Finding]:
        """Rules that change nothing where they fire. A rule changes a result only in the
        categories and advisories it touches, each decided by the rules touching it, so each
        of those is checked on its own, cell by cell, with and without the rule."""
        outcomes: dict[frozenset[str], Projection] = {}

        def outcome_of(fired: frozenset[str]) -> Projection:
            if fired not in outcomes:
                rules = (self.by_id[rule_id].rule for rule_id in fired)
                outcomes[fired] = outcome(rules, self.kb.schema)
            return outcomes[fired]

        for compiled in self.live:
            if compiled.id in skip:
                continue
            box = self._box(compiled)
            overlapping = [
                other
                for other in self.live
                if other.id != compiled.id and not is_empty(intersect(self._box(other), box))
            ]
            if not all(
                part(outcome_of(cell.fired | {compiled.id}), key)
                == part(outcome_of(cell.fired), key)
                for key in keys(compiled.rule)
                for cell in partition(box, [o for o in overlapping if key in keys(o.rule)])
            ):
                continue
            example = self.space.example_profile(box)
            result = self.kb.evaluate(example)
            touching = {other.id for other in overlapping if keys(other.rule) & keys(compiled.rule)}
            piece = self.space.pieces(box)[0]
            region = self.space.regions(piece)[0]
            yield _finding(
                "masked_rule",
                f"{compiled.id} never changes a result: on each of the {size(box):,} valid "
                "profiles where it fires, other rules override or repeat all its effects. "
                f"In the example, {fates(compiled.rule, result)}.",
                rule_ids=(compiled.id, *sorted(touching.intersection(result.fired_rules))),
                example_profile=example,
                region=region,
                region_text=self.space.describe_region(region),
                region_size=size(piece),
            )

    def unused_vocabulary(self) -> Iterator[Finding]:
        named: dict[str, set[str]] = {"category": set(), "subcategory": set(), "advisory": set()}
        for compiled in self.live:
            then = compiled.rule.then
            for suggest in then.suggest:
                named["category"].add(suggest.category)
                named["subcategory"].update(suggest.subcategories)
            named["category"].update(then.flag)
            for avoid in then.avoid:
                if avoid.subcategory is None:
                    named["category"].add(avoid.category)
                else:
                    named["subcategory"].add(avoid.subcategory)
            named["advisory"].update(then.advise)
        for group, names in (
            ("category", self.kb.schema.categories),
            ("subcategory", self.kb.schema.subcategories),
            ("advisory", self.kb.schema.advisories),
        ):
            for name in names:
                if name not in named[group]:
                    yield _finding(
                        "unused_vocabulary",
                        f"{group} {name!r} is named by no live rule's effects.",
                        subject=f"{group}:{name}",
                    )
