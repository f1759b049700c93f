"""``assert_changes_within``: hold a rule change to the region of profiles it claims to change.

It runs the exact semantic diff and fails with the offending regions; it never judges a change
by sampling profiles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._analysis.diff import RuleSetDiff
from .._analysis.diff import diff as _diff
from .._api.knowledge_base import KnowledgeBase, load_rules
from .._load.loader import PathInput

__all__ = ["assert_changes_within"]

#: How many offending regions the failure message lists.
_SHOWN = 5


def assert_changes_within(
    old: KnowledgeBase | PathInput,
    new: KnowledgeBase | PathInput,
    region: Mapping[str, Any] | Sequence[Mapping[str, Any]],
) -> RuleSetDiff:
    """Fail unless every profile whose answer differs between ``old`` and ``new`` lies in
    ``region``; return the whole diff (``ir.diff(old, new)``).

    ``region`` is written like a rule's ``when:`` (e.g. ``{"condition": "rheumatoid_arthritis",
    "prior_lines_of_therapy": {"max": 0}}``), or a list of such mappings for their union. The
    check is exact over every profile both rule sets can answer: the ``AssertionError`` names
    each region of change outside ``region`` (the largest first), its size, what changes there
    and an example profile. ``old`` and ``new`` are knowledge bases or rule folders. A change
    of the vocabulary alone is not a change of answers and never fails this check."""
    before, after = _knowledge_base(old), _knowledge_base(new)
    outside = _diff(before, after, within=region)
    if outside.regions:
        count = len(outside.regions)
        lines = [
            f"the rule change alters {outside.changed_profiles:,} profiles outside the allowed "
            f"region, in {count} region{'s' if count != 1 else ''}:"
        ]
        for found in outside.regions[:_SHOWN]:
            lines.append(found.to_text())
            lines.append(f"    example: {found.example_profile.model_dump(exclude_defaults=True)}")
        if count > _SHOWN:
            lines.append(f"... and {count - _SHOWN} more")
        raise AssertionError("\n".join(lines))
    return _diff(before, after)


def _knowledge_base(given: KnowledgeBase | PathInput) -> KnowledgeBase:
    return given if isinstance(given, KnowledgeBase) else load_rules(given, engine="native")
