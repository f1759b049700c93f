"""What each finding of a record says on the record's date: how it stands in time
(:func:`timing`), which problem it names (a :class:`Candidate` for the problem treated), which
field values its codes support (:class:`FieldHit`) and which drug classes a medication belongs to.

What a code means comes from the knowledge base's code index; this module holds the rules of
time (current, history, the past year, ``as_of``), of evidence (what counts for a value, what
is evidence that a fact is absent) and of code specificity (the most specific match wins). It
must never choose among problems or set a profile field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple

from .._model.vocabulary import FieldCode
from ._codes import CodeIndex, Hit, Problem
from ._provenance import Evidence
from ._record import Drug, Finding, drug_of, earlier

__all__ = [
    "NOT_RECOGNISED",
    "Candidate",
    "FieldHit",
    "Match",
    "Reading",
    "Timing",
    "absent",
    "counts",
    "read",
    "stated_no",
    "timing",
]

#: The detail of a drug class read by the name fallback.
_BY_NAME = (
    "read by name: no code the mapping knows, but the medication's text names an ingredient "
    "of the class"
)
#: The start of the detail of a medication record no drug class could be read from.
NOT_RECOGNISED = "not recognised"
_CURRENT = {"active", "recurrence", "relapse", ""}
_HISTORY = {"inactive", "remission", "resolved"}
_YEAR = timedelta(days=365)
#: How long a negative test says "no" about the current state (a code with ``when: current``,
#: e.g. a negative pregnancy test); ``past_year`` codes (e.g. a negative latent TB screen) keep
#: saying it for a year.
FRESH_TEST = timedelta(days=14)


@dataclass
class Timing:
    """How a finding stands on the record's date."""

    current: bool
    ever: bool
    past_year: bool
    detail: str
    age: timedelta | None = None  # from the finding's date to the record's date


def timing(finding: Finding, as_of: date | None, reference: date) -> Timing | None:
    """None: the finding is after ``as_of``, or not about the patient then."""
    start = finding.start
    if as_of is not None and start is not None and start > as_of:
        return None
    if finding.kind == "condition":
        return _condition_timing(finding, as_of, reference)
    recent = start is None or reference - start <= _YEAR
    if finding.kind == "observation":
        age = None if start is None else reference - start
        observed = f"observed {start.isoformat() if start else ''}"
        return Timing(recent, True, recent, observed, age)
    if finding.kind == "procedure":
        done = f"{finding.status} {start.isoformat()}" if start else finding.status
        return Timing(finding.status == "in-progress", True, recent, f"procedure {done}")
    since = f" since {start.isoformat()}" if start else ""
    return Timing(finding.status == "active", True, recent, f"{finding.status}{since}")


def _condition_timing(finding: Finding, as_of: date | None, reference: date) -> Timing:
    """A Condition is current unless it abated by the reference date, or is marked history
    (and, read ``as_of`` a date, had abated by then)."""
    start, end = finding.start, finding.end
    since = f" since {start.isoformat()}" if start else ""
    ended = end is not None and end <= reference
    if finding.status in _HISTORY and (as_of is None or end is None or end <= as_of):
        ended = True
    if ended:
        last = end or start
        recent = last is not None and reference - last <= _YEAR
        when = f", ended {end.isoformat()}" if end else ""
        return Timing(False, True, recent, f"{finding.status or 'ended'}{since}{when}")
    status = finding.status if as_of is None or end is None else "active"
    if status not in _CURRENT and status not in _HISTORY:
        status = "active"
    return Timing(True, True, True, f"{status or 'active'}{since}")


def stated_no(value: object) -> bool:
    """Whether a field value means "stated: no" (``false``, ``none``, ``0``)."""
    return value is False or value == "none" or (type(value) is int and value == 0)


def counts(code: FieldCode, timing: Timing, finding: Finding) -> bool:
    """Whether ``finding``, standing as ``timing`` says, sets the value of ``code``.

    A refuted Condition sets no value of its codes (see :func:`absent`). A code whose value is a
    stated no (a negative test result, e.g. ``value: false`` with negative ``answers``) counts
    only from a dated observation: taken within :data:`FRESH_TEST` of the record's date for
    ``when: current``, within a year for ``past_year``.
    """
    if finding.refuted:
        return False
    if code.answers and not (finding.answers & set(code.answers)):
        return False
    if finding.kind == "observation" and stated_no(code.value):
        if timing.age is None or timing.age < timedelta(0):
            return False
        if code.when == "current":
            return timing.age <= FRESH_TEST
        if code.when == "past_year":
            return timing.age <= _YEAR
        return True
    if code.when == "ever":
        return timing.ever
    if code.when == "past_year":
        return timing.past_year and not timing.current
    return timing.current


def absent(code: FieldCode, timing: Timing, finding: Finding) -> str | None:
    """Why ``finding`` is evidence that the fact ``code`` names is absent (None: it is not).

    A refuted Condition, and a Condition that ended (resolved, inactive or abated on the
    record's date) for a fact about the current state (``when: current`` or ``past_year``),
    say "no"; a history fact (``when: ever``) stays true once recorded, and a refuted one says
    nothing about the rest of the history.
    """
    if finding.kind != "condition" or code.answers or stated_no(code.value):
        return None
    if code.when == "ever":
        return None
    if finding.refuted:
        return "refuted (verificationStatus)"
    if not timing.current and code.when == "current":
        return f"{timing.detail}: not current on the record's date"
    return None


class Match(NamedTuple):
    """One coding of a finding and the vocabulary entry it matched."""

    system: str
    code: str
    entry: FieldCode

    def evidence(self, finding: Finding, timing: Timing) -> Evidence:
        return Evidence(
            finding.ref, self.system, self.code, self.entry.display, timing.detail, by="code"
        )


class FieldHit(NamedTuple):
    """A field value a finding's code supports (the most specific code for that value)."""

    name: str
    match: Match
    finding: Finding
    timing: Timing

    def evidence(self) -> Evidence:
        return self.match.evidence(self.finding, self.timing)


@dataclass
class Candidate:
    """A problem the record names, with the findings that name it; ``current`` False for a
    problem named only as history."""

    problem: Problem
    evidence: list[Evidence]
    findings: list[Finding]
    current: bool
    onset: date | None


class _Looked(NamedTuple):
    system: str
    code: str
    specificity: tuple[int, int]
    hit: Hit


@dataclass
class Reading:
    """Everything the findings of one record say, before any choice."""

    candidates: dict[Problem, Candidate] = field(default_factory=dict)
    field_hits: list[FieldHit] = field(default_factory=list)
    classes: dict[str, list[Evidence]] = field(default_factory=dict)
    #: Per drug (its codes and texts), the earliest medication record naming it that no drug
    #: class could be read from: evidence the record holds but the mapping cannot read.
    unread: dict[Drug, tuple[Finding, Evidence]] = field(default_factory=dict)

    def unrecognised(self) -> tuple[Evidence, ...]:
        """The evidence of :attr:`unread`, the earliest first (then by reference)."""
        ordered = sorted(
            self.unread.values(),
            key=lambda pair: (pair[0].start is not None, pair[0].start or date.min, pair[0].ref),
        )
        return tuple(evidence for _, evidence in ordered)

    @property
    def current(self) -> list[Candidate]:
        return [c for c in self.candidates.values() if c.current]

    @property
    def histories(self) -> list[Candidate]:
        return [c for c in self.candidates.values() if not c.current]

    def treated(self, problem: Problem) -> list[Candidate]:
        """The candidates (current and history) of ``problem``."""
        return [c for c in self.candidates.values() if c.problem == problem]

    def add_problem(self, finding: Finding, when: Timing, problem: Problem, match: Match) -> None:
        evidence = match.evidence(finding, when)
        key = (
            problem
            if when.current
            else Problem("history:" + problem.kind, problem.id, problem.rank)
        )
        known = self.candidates.get(key)
        if known is None:
            self.candidates[key] = Candidate(
                problem, [evidence], [finding], when.current, finding.start
            )
            return
        known.evidence.append(evidence)
        known.findings.append(finding)
        start = finding.start
        if when.current and start and (known.onset is None or start > known.onset):
            known.onset = start

    def add_classes(
        self, finding: Finding, when: Timing, looked: Iterable[_Looked], index: CodeIndex
    ) -> None:
        """The drug classes of a medication: those of its codes; when none of its codes is
        known, those the ingredient names in its displays and text mean (the name fallback).
        A medication that gives neither, and whose text names no local dose form (read as not
        systemic), is kept in :attr:`unread`: the record says something the mapping cannot
        read."""
        by_code = False
        for system, code, _, hit in looked:
            for sub, entry in hit.classes:
                evidence = Evidence(
                    finding.ref, system, code, entry.display, when.detail, by="code"
                )
                self.classes.setdefault(sub, []).append(evidence)
                by_code = True
        if by_code:
            return
        named: set[str] = set()
        for text in finding.texts:
            for sub, _ in index.classes_named(text):
                if sub in named:
                    continue
                named.add(sub)
                detail = f"{when.detail}; {_BY_NAME}"
                evidence = Evidence(finding.ref, None, None, None, detail, by="name")
                self.classes.setdefault(sub, []).append(evidence)
        if not named and not any(index.drug_names.local(text) for text in finding.texts):
            known = self.unread.get(drug_of(finding))
            if known is None or earlier(finding, known[0]):
                self.unread[drug_of(finding)] = (finding, _unread(finding, when))


def _unread(finding: Finding, when: Timing) -> Evidence:
    """The evidence of a medication record no drug class could be read from: the record, its
    first code and why it was not recognised. Its display and text are not repeated (what the
    reading outputs names drug classes, never drugs or doses): the record's reference finds
    them."""
    system, code = finding.codings[0] if finding.codings else (None, None)
    if finding.codings and finding.texts:
        why = "no code or ingredient name the drug terminology knows"
    elif finding.codings:
        why = "no code the drug terminology knows, and no text"
    elif finding.texts:
        why = "no code, and no ingredient name the drug terminology knows in its text"
    else:
        why = "it names no drug (no code and no text)"
    return Evidence(finding.ref, system, code, None, f"{when.detail}; {NOT_RECOGNISED}: {why}")


def read(
    findings: Iterable[Finding], index: CodeIndex, *, as_of: date | None, reference: date
) -> Reading:
    """What ``findings`` say as of ``reference`` (``as_of``: leave out later findings)."""
    reading = Reading()
    for finding in findings:
        when = timing(finding, as_of, reference)
        if when is None:
            continue
        looked = [
            _Looked(system, code, specificity, hit)
            for system, code in finding.codings
            for specificity, hit in index.lookup(system, code)
        ]
        if finding.kind == "medication":
            reading.add_classes(finding, when, looked, index)
            continue
        if finding.kind == "condition" and not finding.refuted:
            best = _best_problem(looked)
            if best is not None:
                reading.add_problem(finding, when, *best)
        reading.field_hits.extend(_field_hits(finding, when, looked))
    return reading


def _best_problem(looked: Iterable[_Looked]) -> tuple[Problem, Match] | None:
    """The problem a Condition names: its most specific code, then the vocabulary's order."""
    best: tuple[tuple[tuple[int, int], int], Problem, Match] | None = None
    for system, code, specificity, hit in looked:
        for problem, entry in hit.problems:
            rank = (specificity, -problem.rank)
            if best is None or rank > best[0]:
                best = (rank, problem, Match(system, code, entry))
    return None if best is None else (best[1], best[2])


def _field_hits(finding: Finding, when: Timing, looked: Iterable[_Looked]) -> list[FieldHit]:
    """Per field value a finding's codes support, the most specific code that supports it."""
    per_value: dict[tuple[str, str], tuple[tuple[int, int], Match]] = {}
    for system, code, specificity, hit in looked:
        for name, entry in hit.fields:
            slot = (name, str(entry.value))
            known = per_value.get(slot)
            if known is None or specificity > known[0]:
                per_value[slot] = (specificity, Match(system, code, entry))
    return [FieldHit(name, match, finding, when) for (name, _), (_, match) in per_value.items()]
