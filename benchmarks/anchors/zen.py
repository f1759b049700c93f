"""zen-engine (GoRules, Rust core): the rules as one JDM decision table, collect hit policy.

One input column per profile field, one output column (the rule id), one table row per rule; the
decision is created once on one reused ``ZenEngine`` and evaluated per profile.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from immunorules._model.matching import RuleMatcher

from . import Anchor, Fact, Scalar, Unavailable, contiguous


def _literal(value: Scalar) -> str:
    return json.dumps(value)  # "x", true, false, 3, null


def _cell(allowed: frozenset[Scalar]) -> str:
    """A unary test: the cell's value ``$`` is one of ``allowed``."""
    bounds = contiguous(allowed)
    if bounds is not None:
        low, high = bounds
        return str(low) if low == high else f"[{low}..{high}]"
    values = sorted(allowed, key=repr)
    if None in allowed:
        others = [_literal(value) for value in values if value is not None]
        return "$ == null" + (f" or $ in [{', '.join(others)}]" if others else "")
    return ", ".join(_literal(value) for value in values)


def decision_table(rules: Sequence[RuleMatcher], fields: Sequence[str]) -> dict[str, Any]:
    """The JDM graph: input node -> decision table (collect) -> output node."""
    inputs = [
        {"id": f"in_{name}", "type": "expression", "field": name, "name": name} for name in fields
    ]
    rows = []
    for index, rule in enumerate(rules):
        row: dict[str, str] = {"_id": f"row{index}", "out_rule": json.dumps(rule.rule_id)}
        tests = dict(rule.tests)
        for name in fields:
            row[f"in_{name}"] = _cell(tests[name]) if name in tests else ""
        rows.append(row)
    table = {
        "hitPolicy": "collect",
        "inputs": inputs,
        "outputs": [{"id": "out_rule", "type": "expression", "field": "rule", "name": "rule"}],
        "rules": rows,
    }
    position = {"x": 0, "y": 0}
    return {
        "contentType": "application/vnd.gorules.decision",
        "nodes": [
            {"id": "input", "type": "inputNode", "name": "Profile", "position": position},
            {
                "id": "table",
                "type": "decisionTableNode",
                "name": "Rules",
                "position": position,
                "content": table,
            },
            {"id": "output", "type": "outputNode", "name": "Fired", "position": position},
        ],
        "edges": [
            {"id": "e1", "sourceId": "input", "targetId": "table", "type": "edge"},
            {"id": "e2", "sourceId": "table", "targetId": "output", "type": "edge"},
        ],
    }


def build(rules: Sequence[RuleMatcher]) -> Anchor:
    try:
        import zen
    except ImportError as error:
        raise Unavailable(f"zen-engine does not import: {error}") from None
    fields = sorted({name for rule in rules for name, _ in rule.tests})
    engine = zen.ZenEngine()
    decision = engine.create_decision(json.dumps(decision_table(rules, fields)))

    def match(fact: Fact) -> frozenset[str]:
        rows = decision.evaluate(dict(fact))["result"]
        return frozenset(row["rule"] for row in rows)

    return Anchor("zen-engine (JDM table)", match, "collect hit policy, one reused ZenEngine")
