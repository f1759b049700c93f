"""Verification: every change set the search proposes is checked by evaluating the changed
profile with the knowledge base itself.

The search predicts tiers from an index of the relevant rules; evaluation is what users get. If
the two ever disagree (the changed profile does not get the suggestion, at the tier, that the
search promised), that is a bug in immunorules, and :func:`verify` raises
:class:`VerificationError` rather than list a change that does not work or quietly drop one that
the search believed in. This module must never decide a tier itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from ..._model.profile import ConditionProfile
from .index import Slots
from .models import SuggestedTier
from .search import Option, changed_fact

if TYPE_CHECKING:
    from ..._evaluate.protocol import KnowledgeBaseLike as KnowledgeBase

__all__ = ["Outcome", "VerificationError", "Verified", "verify"]


class VerificationError(AssertionError):
    """A change set proposed by the why-not search does not give, once the changed profile is
    evaluated, the suggestion the search promised: the search and evaluation disagree, a bug in
    immunorules, never a problem with the input.

    It is an :class:`AssertionError` (a broken internal invariant), not an
    :class:`~immunorules.ImmunorulesError`, so that code handling bad input never swallows it;
    unlike an ``assert`` statement it is raised under ``python -O`` too.
    """


class Outcome(NamedTuple):
    """What evaluating a changed profile gave the category."""

    tier: SuggestedTier
    rule_ids: tuple[str, ...]  # the rules that suggest the category there


class Verified(NamedTuple):
    """A change set of the search, confirmed by evaluation."""

    chosen: tuple[Option, ...]
    outcome: Outcome
    profile: ConditionProfile  # the changed profile, as evaluation saw it


def verify(
    kb: KnowledgeBase,
    space: Slots,
    profile: ConditionProfile,
    category: str,
    chosen: tuple[Option, ...],
    promised: SuggestedTier,
) -> Verified:
    """Evaluate ``profile`` changed by ``chosen``; raise :class:`VerificationError` unless
    ``category`` is then suggested at the ``promised`` tier."""
    values = space.flat.unflatten(changed_fact(space, profile, chosen))
    evaluated = kb.evaluate(kb.schema.parse(values))
    found = evaluated.suggestion(category)
    tier = None if found is None else found.tier
    if found is None or tier != promised:
        raise VerificationError(
            f"why-not: changing {_described(chosen)} was expected to make {category} a "
            f"{promised} suggestion, but evaluating the changed profile gives "
            f"{'no suggestion' if tier is None else tier}"
        )
    outcome = Outcome(promised, tuple(reason.rule_id for reason in found.reasons))
    return Verified(chosen, outcome, evaluated.profile)


def _described(chosen: Sequence[Option]) -> str:
    return ", ".join(f"{option.slot} to {option.value!r}" for option in chosen) or "nothing"
