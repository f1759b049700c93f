"""The entry function :func:`why_not`: checks the question, then puts the answer together from
the explanation, the search and its verification.

It decides which fields the search may change (``fields``, ``fixed``, or the fields the
vocabulary marks modifiable) and which categories exist; the work itself is done by the other
modules of this package. This module must never compute a tier: evaluation gives the current
one, the index predicts the changed ones and verification confirms them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..._evaluate.resolve import citations
from ..._model.profile import ConditionProfile, did_you_mean
from ..._model.schema import Schema
from . import explain
from .changes import change_sets
from .index import Index, Relevant, Slots, relevant
from .models import DEFAULT_MAX_CHANGES, ChangeSet, Status, WhyNot
from .search import reachable, search
from .verify import verify

if TYPE_CHECKING:
    from ..._evaluate.protocol import KnowledgeBaseLike as KnowledgeBase

__all__ = ["check_category", "why_not"]


def check_category(category: object, schema: Schema | None = None) -> str:
    """``category`` if it is a therapy category; ``ValueError`` with a hint otherwise."""
    if schema is None:
        from ..._model.schema import bundled_schema

        schema = bundled_schema()
    categories = schema.categories
    if isinstance(category, str) and category in categories:
        return category
    if isinstance(category, str) and category in schema.sub_category:
        parent = schema.sub_category[category]
        hint = f"; {category!r} is a drug class of {parent!r}"
    else:
        hint = did_you_mean(category, categories)
    allowed = ", ".join(categories)
    raise ValueError(f"unknown therapy category {category!r}{hint} (categories: {allowed})")


def why_not(
    kb: KnowledgeBase,
    profile: ConditionProfile | Mapping[str, Any],
    category: str,
    *,
    max_changes: int = DEFAULT_MAX_CHANGES,
    fixed: Iterable[str] = (),
    fields: Iterable[str] | None = None,
) -> WhyNot:
    """Why ``category`` is or is not suggested for ``profile``, and what would change that.

    Changes are proposed to ``fields`` if given, else to every field but those ``fixed`` if
    any are, else only to the fields the vocabulary marks ``modifiable``. Raises
    :class:`ProfileError` for an invalid profile and ``ValueError`` for an unknown category or
    field (with a "did you mean" hint).
    """
    checked = kb.schema.parse(profile)
    category = check_category(category, kb.schema)
    if not isinstance(max_changes, int) or isinstance(max_changes, bool) or max_changes < 0:
        raise ValueError(f"max_changes must be a non-negative integer, not {max_changes!r}")
    space = Slots(kb.space)
    pinned = _pinned(kb.schema, fixed, fields)
    result = kb.evaluate(checked)
    found = relevant(kb.active_rules, category, space)
    suggestion = result.suggestion(category)
    status = explain.status(result, category, found, checked)
    overrides = explain.overrides(result, category, kb.active_rules, checked)
    sets, can_reach = _search_changes(
        kb, checked, found, status, max_changes=max_changes, pinned=pinned
    )
    fixed_fields = tuple(name for name in kb.schema.fields if name in pinned)
    changeable = tuple(
        name
        for name in kb.schema.fields
        if name not in pinned and not (name == "disease_area" and "condition" in pinned)
    )
    return WhyNot(
        profile=checked,
        category=category,
        status=status,
        tier=None if suggestion is None else suggestion.tier,
        rules=explain.rule_checks(space, found, checked, pinned),
        overrides=overrides,
        inactive_rule_ids=tuple(
            rule.id
            for rule in kb.rules
            if not rule.active and any(s.category == category for s in rule.then.suggest)
        ),
        changes=sets,
        max_changes=max_changes,
        fixed=fixed_fields,
        changeable=changeable,
        reachable=can_reach,
        summary=explain.summary(
            kb.schema.category(category).name,
            status,
            suggestion.tier if suggestion else None,
            found,
            sets,
            can_reach,
            max_changes,
            fixed=fixed_fields,
            changeable=changeable,
        ),
        knowledge_base=result.knowledge_base,
        citations=citations(
            [*found.all, *(kb.rule(o.reason.rule_id) for o in overrides)], kb.evidence
        ),
    )


def _search_changes(
    kb: KnowledgeBase,
    profile: ConditionProfile,
    found: Relevant,
    status: Status,
    *,
    max_changes: int,
    pinned: frozenset[str],
) -> tuple[tuple[ChangeSet, ...], bool | None]:
    """The minimal verified change sets, and whether any change can make the category a
    suggestion (None: unknown)."""
    if status == "suggested":
        return (), True
    if not found.suggesters:
        return (), False
    index = Index(found)
    verified = [
        verify(kb, found.space, profile, found.category, chosen, promised)
        for chosen, promised in search(profile, index, max_changes, pinned)
    ]
    sets = change_sets(found.space, profile, verified)
    return sets, True if sets else reachable(profile, index, pinned)


def _pinned(schema: Schema, fixed: Iterable[str], fields: Iterable[str] | None) -> frozenset[str]:
    """The profile fields held fixed; ``disease_area`` and ``condition`` both pin the
    condition. Without ``fields`` or ``fixed``, every field not marked modifiable."""
    known = list(schema.fields)

    def names(given: Iterable[str], what: str) -> set[str]:
        found = set()
        for name in [given] if isinstance(given, str) else given:
            if name not in schema.fields:
                hint = did_you_mean(name, known)
                raise ValueError(f"cannot {what} {name!r}: not a profile field{hint}")
            found.add("condition" if name == "disease_area" else name)
        return found

    pinned = names(fixed, "hold fixed")
    if fields is not None:
        free = names(fields, "change")
        pinned |= {name for name in known if name not in free and name != "disease_area"}
    elif not pinned:
        pinned = {
            "condition" if name == "disease_area" else name
            for name in known
            if not schema.fields[name].modifiable
        }
    return frozenset(pinned)
