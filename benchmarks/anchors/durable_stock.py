"""Raw durable_rules through its stock ``Host`` (background dispatch threads and all).

Each rule becomes one durable_rules rule over the profile fact, written as a user of the library
would: equality per allowed value under ``$or``, ``$gte``/``$lte`` for a run of integers. What
the library needs to give right answers at all is done the documented way: ``assert_fact`` in a
session of its own, ``delete_state`` after each fact, an always-true sentinel rule, a set to
dedupe rules that fire once per true ``$or`` branch, ``null`` spelt as a string (durable_rules
mishandles ``None``), and a mark so no rule matches the session's own state fact.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from immunorules._model.matching import RuleMatcher

from . import Anchor, Fact, Scalar, Unavailable, contiguous

_NULL = "__null__"


def _value(value: Scalar) -> Any:
    return _NULL if value is None else value


def _test(name: str, allowed: frozenset[Scalar]) -> dict[str, Any]:
    bounds = contiguous(allowed)
    if bounds is not None and bounds[0] != bounds[1]:
        low, high = bounds
        return {"$and": [{"$gte": {name: low}}, {"$lte": {name: high}}]}
    branches = [{name: _value(value)} for value in sorted(allowed, key=repr)]
    return branches[0] if len(branches) == 1 else {"$or": branches}


def build(rules: Sequence[RuleMatcher]) -> Anchor:
    try:
        from durable.engine import Host
    except ImportError as error:
        raise Unavailable(f"durable_rules does not import: {error}") from None
    fired: set[str] = set()

    def action(rule_id: str) -> Any:
        def run(closure: object) -> None:
            fired.add(rule_id)

        return run

    definition: dict[str, Any] = {
        "sentinel": {"all": [{"m": {"kind": "profile"}}], "run": lambda closure: None}
    }
    for index, rule in enumerate(rules):
        tests = [_test(name, allowed) for name, allowed in rule.tests]
        definition[f"r{index}"] = {
            "all": [{"m": {"$and": [{"kind": "profile"}, *tests]}}],
            "run": action(rule.rule_id),
        }
    host = Host()  # the stock host: its dispatch threads run alongside
    host.register_rulesets({"anchor": definition})
    sessions = itertools.count()

    def match(fact: Fact) -> frozenset[str]:
        fired.clear()
        sid = str(next(sessions))
        message = {"sid": sid, "kind": "profile", **{k: _value(v) for k, v in fact.items()}}
        try:
            host.assert_fact("anchor", message)
        finally:
            host.delete_state("anchor", sid)
        return frozenset(fired)

    return Anchor("durable_rules, stock Host", match, "assert_fact + delete_state per profile")
