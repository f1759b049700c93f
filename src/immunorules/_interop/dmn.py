"""DMN 1.3 XML of a knowledge base's decision tables (:mod:`.tables`).

One input data per exported input (a profile field by id, or ``<field>.<member>`` for a member of
a set field), one decision ``tier_<category>`` per category (hit policy PRIORITY over
``"avoided"``, ``"flagged"``, ``"first_line"``, ``"escalation"``; no row holds: null) and the
decisions ``avoided`` and ``advisories`` (hit policy COLLECT, one drug class id or advisory key
per row that holds). A fact not stated is FEEL ``null``: a cell that accepts it says ``null``.
Written with the standard library only; this module never evaluates anything.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Final

from .._model.matching import Scalar
from .tables import Column, DecisionModel, Table

__all__ = ["DMN_NAMESPACE", "dmn_document"]

#: The DMN 1.3 model namespace.
DMN_NAMESPACE: Final = "https://www.omg.org/spec/DMN/20191111/MODEL/"
_FEEL: Final = "https://www.omg.org/spec/DMN/20191111/FEEL/"


def _type(column: Column) -> str:
    values = [value for value in column.values if value is not None]
    if all(isinstance(value, bool) for value in values):
        return "boolean"
    if all(isinstance(value, int) for value in values):
        return "number"
    return "string"


def _literal(value: Scalar) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)


def unary_tests(column: Column, allowed: Sequence[Scalar]) -> str:
    """A FEEL unary-test cell accepting exactly ``allowed`` of the column's values: not stated is
    ``null``; one run of integers is a range (``[1..3]``), else the integers are listed (a range
    beside ``null`` or another range is valid FEEL, but pyDMNrules misreads it)."""
    stated = [value for value in allowed if value is not None]
    if stated and None not in allowed and _type(column) == "number":
        numbers = sorted(value for value in stated if isinstance(value, int))
        low, high = numbers[0], numbers[-1]
        if len(numbers) > 2 and numbers == list(range(low, high + 1)):
            return f"[{low}..{high}]"
    return ", ".join(_literal(value) for value in (None, *stated) if value in allowed)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        ET.SubElement(element, "text").text = text
    return element


def dmn_document(model: DecisionModel, *, namespace: str, description: str = "") -> str:
    """The DMN 1.3 XML text of ``model`` (``namespace``: the model's own namespace URI)."""
    root = ET.Element(
        "definitions",
        {
            "xmlns": DMN_NAMESPACE,
            "id": "immunorules",
            "name": model.name,
            "namespace": namespace,
            "expressionLanguage": _FEEL,
            "typeLanguage": _FEEL,
        },
    )
    if description:
        ET.SubElement(root, "description").text = description
    input_ids = {}
    for position, column in enumerate(model.columns):
        input_id = f"input_{position}"
        input_ids[position] = input_id
        data = ET.SubElement(root, "inputData", {"id": input_id, "name": column.name})
        if column.member is not None:
            ET.SubElement(data, "description").text = (
                f"true when {column.field} includes {column.member}, false when it is stated "
                f"without it, null when {column.field} is not stated"
            )
        ET.SubElement(
            data,
            "variable",
            {"id": f"{input_id}_variable", "name": column.name, "typeRef": _type(column)},
        )
    decisions: list[tuple[str, str, Sequence[Table], tuple[str, ...], str]] = [
        (table.name, "PRIORITY", (table,), table.outputs, "string") for table in model.tiers
    ]
    decisions.append(("avoided", "COLLECT", model.avoided, (), "string"))
    decisions.append(("advisories", "COLLECT", model.advisories, (), "string"))
    for name, hit_policy, parts, outputs, type_ref in decisions:
        _decision(root, model, input_ids, name, hit_policy, parts, outputs, type_ref)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _decision(
    root: ET.Element,
    model: DecisionModel,
    input_ids: dict[int, str],
    name: str,
    hit_policy: str,
    parts: Sequence[Table],
    outputs: tuple[str, ...],
    type_ref: str,
) -> None:
    rows = [(row.tests, json.dumps(row.output)) for part in parts for row in part.rows]
    used = sorted({i for table in parts for i in table.inputs})
    if not rows and model.columns:
        # a decision no rule gives: one row, any profile, null (an engine may refuse a table
        # without rules or inputs), and no output values to prioritise (null is none of them)
        rows, used, outputs = [((), "null")], [0], ()
    decision = ET.SubElement(root, "decision", {"id": name, "name": name})
    ET.SubElement(
        decision, "variable", {"id": f"{name}_variable", "name": name, "typeRef": type_ref}
    )
    for i in used:
        requirement = ET.SubElement(
            decision, "informationRequirement", {"id": f"{name}_requires_{input_ids[i]}"}
        )
        ET.SubElement(requirement, "requiredInput", {"href": f"#{input_ids[i]}"})
    table = ET.SubElement(
        decision, "decisionTable", {"id": f"{name}_table", "hitPolicy": hit_policy}
    )
    for i in used:
        column = model.columns[i]
        clause = ET.SubElement(table, "input", {"id": f"{name}_in_{i}", "label": column.name})
        _sub(
            clause, "inputExpression", column.name, id=f"{name}_in_{i}_expr", typeRef=_type(column)
        )
    output = ET.SubElement(
        table, "output", {"id": f"{name}_out", "name": name, "typeRef": type_ref}
    )
    if outputs:
        _sub(
            output,
            "outputValues",
            ", ".join(json.dumps(value) for value in outputs),
            id=f"{name}_values",
        )
    # no row holds: null (written out, as some engines take a table no row matches for an error)
    _sub(output, "defaultOutputEntry", "null", id=f"{name}_default")
    for number, (row_tests, output_text) in enumerate(rows, start=1):
        rule = ET.SubElement(table, "rule", {"id": f"{name}_row_{number}"})
        tests = dict(row_tests)
        for i in used:
            cell = "-" if i not in tests else unary_tests(model.columns[i], tests[i])
            _sub(rule, "inputEntry", cell, id=f"{name}_row_{number}_in_{i}")
        _sub(rule, "outputEntry", output_text, id=f"{name}_row_{number}_out")
