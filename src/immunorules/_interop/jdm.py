"""GoRules JSON Decision Model (JDM) of a knowledge base's decision tables (:mod:`.tables`).

The graph is made of decision-table nodes only, editable in the GoRules editor: per category a
table (first hit, rows in priority order: ``avoided``, ``flagged``, ``first_line``,
``escalation``, then a last row answering null) writing ``tiers.<category>``; per drug class
avoided and per advisory key a table writing the class id or key under ``avoided_found`` or
``advisories_found`` where it holds; and two last tables that list the values found as
``avoided`` and ``advisories``. Its input is the profile as JSON (field ids as keys, not stated
as null or left out); a set field is read as a list, each member some rule names being one
column (``contains``). Written with the standard library only; this module never evaluates.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from .._model.matching import Scalar
from .tables import Column, DecisionModel, Table

__all__ = ["JDM_CONTENT_TYPE", "jdm_document", "jdm_graph"]

JDM_CONTENT_TYPE: Final = "application/vnd.gorules.decision"


def _literal(value: Scalar) -> str:
    return json.dumps(value)


def unary_test(column: Column, allowed: Sequence[Scalar]) -> str:
    """A zen unary-test cell (``$`` is the column's value) accepting exactly ``allowed``; it
    never fails on a value not stated (null)."""
    stated = [value for value in allowed if value is not None]
    if not stated:
        return "$ == null"
    numbers = all(isinstance(v, int) and not isinstance(v, bool) for v in stated)
    if None in allowed:
        if len(stated) == 1:
            return f"$ == null or $ == {_literal(stated[0])}"
        return f"$ == null or $ in [{', '.join(map(_literal, stated))}]"
    if numbers and len(stated) > 2:
        ints = sorted(v for v in stated if isinstance(v, int))
        if ints == list(range(ints[0], ints[-1] + 1)):
            return f"$ != null and $ in [{ints[0]}..{ints[-1]}]"
    return ", ".join(map(_literal, stated))


def _column_expression(column: Column) -> str:
    if column.member is None:
        return column.field
    return f"{column.field} == null ? null : contains({column.field}, {_literal(column.member)})"


def _node_table(model: DecisionModel, table: Table, node_id: str, output: str) -> dict[str, Any]:
    inputs = [
        {
            "id": f"{node_id}_in_{i}",
            "name": model.columns[i].name,
            "type": "expression",
            "field": _column_expression(model.columns[i]),
        }
        for i in table.inputs
    ]
    out_id = f"{node_id}_out"
    rows: list[dict[str, str]] = []
    for number, row in enumerate(table.rows):
        tests = dict(row.tests)
        cells = {
            f"{node_id}_in_{i}": unary_test(model.columns[i], tests[i]) if i in tests else ""
            for i in table.inputs
        }
        rows.append({"_id": f"{node_id}_row_{number}", **cells, out_id: _literal(row.output)})
    return {
        "id": node_id,
        "type": "decisionTableNode",
        "name": table.name,
        "position": {"x": 0, "y": 0},
        "content": {
            "hitPolicy": "first",
            "inputs": inputs,
            "outputs": [{"id": out_id, "name": output, "type": "expression", "field": output}],
            "rules": rows,
        },
    }


def _answer(model: DecisionModel, found: dict[str, list[str]]) -> dict[str, Any]:
    """The last table: one row that gathers what the tables before it found into the answer
    (a tier per category, null where no table found one; the lists in vocabulary order)."""
    outputs: list[tuple[str, str]] = [
        (f"tiers.{category}", f"tier_found.{category}") for category in model.categories
    ]
    for kind, keys in found.items():
        listed = ", ".join(f"{kind}_found.{key}" for key in keys)
        outputs.append((kind, f"filter([{listed}], # != null)" if keys else "[]"))
    row: dict[str, str] = {"_id": "answer_row"}
    columns = []
    for number, (field, expression) in enumerate(outputs):
        columns.append(
            {"id": f"answer_out_{number}", "name": field, "type": "expression", "field": field}
        )
        row[f"answer_out_{number}"] = expression
    return {
        "id": "answer_table",
        "type": "decisionTableNode",
        "name": "answer",
        "position": {"x": 0, "y": 0},
        "content": {"hitPolicy": "first", "inputs": [], "outputs": columns, "rules": [row]},
    }


def jdm_graph(model: DecisionModel) -> dict[str, Any]:
    """The JDM graph of ``model`` as JSON-ready data."""
    nodes: list[dict[str, Any]] = [
        {"id": "profile", "type": "inputNode", "name": "Profile", "position": {"x": 0, "y": 0}}
    ]
    edges: list[tuple[str, str]] = [("profile", "answer_table")]
    for number, table in enumerate(model.tiers):
        node_id = f"tier_{number}"
        category = model.categories[number]
        nodes.append(_node_table(model, table, node_id, f"tier_found.{category}"))
        edges += [("profile", node_id), (node_id, "answer_table")]
    found: dict[str, list[str]] = {}
    for kind, tables in (("avoided", model.avoided), ("advisories", model.advisories)):
        found[kind] = []
        for number, table in enumerate(tables):
            node_id = f"{kind}_{number}"
            key = str(table.rows[0].output)
            found[kind].append(key)
            nodes.append(_node_table(model, table, node_id, f"{kind}_found.{key}"))
            edges += [("profile", node_id), (node_id, "answer_table")]
    nodes.append(_answer(model, found))
    nodes.append(
        {"id": "answer", "type": "outputNode", "name": "Answer", "position": {"x": 0, "y": 0}}
    )
    edges.append(("answer_table", "answer"))
    for index, node in enumerate(nodes):
        node["position"] = {"x": 0 if node["type"] == "inputNode" else 300, "y": 120 * index}
    return {
        "contentType": JDM_CONTENT_TYPE,
        "nodes": nodes,
        "edges": [
            {"id": f"edge_{number}", "sourceId": source, "targetId": target, "type": "edge"}
            for number, (source, target) in enumerate(edges)
        ],
    }


def jdm_document(model: DecisionModel) -> str:
    """The JDM JSON text of ``model``."""
    return json.dumps(jdm_graph(model), indent=2) + "\n"
