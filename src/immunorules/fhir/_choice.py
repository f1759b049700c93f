"""Which of a record's problems is the one treated, and how severe it is.

A record may name several conditions the rules treat, or only history ones, or none; the caller
may name one with ``condition=``. :func:`choose` picks the problem and says why in a warning
whenever there was a choice to make; :func:`severity` reads the severity of the chosen problem's
current Conditions. This module must never read timing or codes itself: it works on the
candidates that reading the findings produced.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from .._model.schema import Schema
from ._codes import CodeIndex, Problem
from ._provenance import Evidence
from ._reading import Candidate

__all__ = ["Choice", "choose", "severity"]


class Choice(NamedTuple):
    """The problem treated and the evidence for it."""

    problem: Problem
    evidence: list[Evidence]


def choose(
    current: list[Candidate],
    schema: Schema,
    condition: str | None,
    history: list[Candidate],
    warnings: list[str],
) -> Choice | None:
    """The problem treated: the ``condition`` given, else the most specific and most recent
    current one; None when the record has no current problem the rules treat."""
    if condition is not None:
        return _given(current, schema, condition, warnings)
    if not current:
        if history:
            warnings.append(_only_history(history))
        return None
    ordered = sorted(current, key=_preference, reverse=True)
    chosen = ordered[0]
    if len(ordered) > 1:
        warnings.append(_several(chosen, ordered[1:]))
    return Choice(chosen.problem, chosen.evidence)


def _given(current: list[Candidate], schema: Schema, condition: str, warnings: list[str]) -> Choice:
    rank = schema.conditions.index(condition)
    problem = Problem("condition", condition, rank)
    evidence = [c for c in current if c.problem == problem]
    if not evidence:
        warnings.append(
            f"condition {condition} was given by the caller; the record has no current "
            "Condition coded as it"
        )
    given = Evidence(None, None, None, None, "given as condition=")
    return Choice(problem, [given, *(e for c in evidence for e in c.evidence)])


def _only_history(history: list[Candidate]) -> str:
    names = sorted(
        {("" if c.problem.kind == "condition" else "area ") + c.problem.id for c in history}
    )
    return (
        f"no current problem the rules treat; {', '.join(names)} "
        f"{'is' if len(names) == 1 else 'are'} in the record only as history (resolved, "
        "inactive or abated before the record's date), so not taken as the problem "
        "treated now; pass condition= to choose one"
    )


def _preference(candidate: Candidate) -> tuple[int, date, int]:
    """A condition before a bare area, then the latest onset, then the vocabulary's order."""
    specific = 1 if candidate.problem.kind == "condition" else 0
    return (specific, candidate.onset or date.min, -candidate.problem.rank)


def _several(chosen: Candidate, others: list[Candidate]) -> str:
    first = others[0]
    if chosen.problem.kind == "condition" and first.problem.kind != "condition":
        why = "a condition the rules name is preferred to a problem known only by its area"
    elif (chosen.onset or date.min) > (first.onset or date.min):
        why = "the most recent onset among the current ones"
    else:
        why = "the first in the vocabulary's order among equally recent ones"
    return (
        f"several current problems the rules treat: chose {_label(chosen)} ({why}) over "
        + "; ".join(_label(c) for c in others)
        + "; pass condition= to choose another"
    )


def _label(candidate: Candidate) -> str:
    kind = "condition" if candidate.problem.kind == "condition" else "area"
    since = f", onset {candidate.onset.isoformat()}" if candidate.onset else ""
    return f"{kind} {candidate.problem.id}{since}"


def severity(
    treated: list[Candidate], index: CodeIndex, schema: Schema
) -> tuple[str, list[Evidence]] | None:
    """The highest severity the treated problem's current Conditions record, with the evidence
    of every Condition that records it; None when none does."""
    ranked: list[tuple[int, str, Evidence]] = []
    for candidate in treated:
        if not candidate.current:
            continue
        for finding in candidate.findings:
            for system, code in finding.severity:
                for name, entry in index.severity.get((system, code), ()):
                    if name != "severity" or not isinstance(entry.value, str):
                        continue
                    order = schema.fields[name].values
                    rank = order.index(entry.value) if entry.value in order else -1
                    evidence = Evidence(
                        finding.ref, system, code, entry.display, "Condition.severity"
                    )
                    ranked.append((rank, entry.value, evidence))
    if not ranked:
        return None
    top = max(ranked, key=lambda item: item[0])
    return top[1], [e for r, _, e in ranked if r == top[0]]
