"""Why (not)? What the knowledge base says about one category for one profile, and why.

:func:`why_not` answers, for a profile and a therapy category:

* its **status**: suggested (first line or escalation), flagged, avoided or absent;
* every active rule that **could suggest** it, each condition marked held or failed against the
  profile's actual value;
* the avoid and flag rules that fired and **overrode** it;
* the **smallest sets of profile changes** that would make it a first-line or escalation
  suggestion, each verified by evaluating the changed profile, or a plain statement that no
  valid profile change can.

The search is exact, not a sample. Only the rules that can affect the category matter (those
that suggest it, flag it, or avoid it or one of its drug classes), so the values of each field
fall into classes that those rules cannot tell apart; one value per class is tried. Change sets
are searched by size (one field, then two, ...) up to ``max_changes`` fields, and only minimal
ones are kept (no proper subset of a kept set works). ``condition`` and ``disease_area`` change
together as one field, since the area follows from the condition. A proposed change that
evaluation does not confirm raises :class:`VerificationError` (a bug, never silently dropped).

The modules, in the order the answer is built:

* ``models``: the frozen answer models (:class:`WhyNot` and its parts);
* ``index``: the rules relevant to the category, as bitsets per value of each field;
* ``search``: the minimal change sets and whether any change could work;
* ``verify``: each proposed change set evaluated for real;
* ``changes``: verified change sets merged, described and ordered;
* ``explain``: status, rule checks, overrides and the summary;
* ``answer``: :func:`why_not` itself, which puts these together.

This package only re-exports; it must never import the package root or anything above the
analysis layer.
"""

from __future__ import annotations

from .answer import check_category, why_not
from .models import (
    DEFAULT_MAX_CHANGES,
    ChangeSet,
    ConditionCheck,
    Override,
    ProfileChange,
    RuleCheck,
    WhyNot,
)
from .verify import VerificationError

__all__ = [
    "DEFAULT_MAX_CHANGES",
    "ChangeSet",
    "ConditionCheck",
    "Override",
    "ProfileChange",
    "RuleCheck",
    "VerificationError",
    "WhyNot",
    "check_category",
    "why_not",
]
