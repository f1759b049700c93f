"""``immunorules vocabulary``: the knowledge base's vocabulary (profile fields and their values,
conditions, drug classes, advisories) for people (text, Markdown) and tools (JSON); with
``--codes``, every code the FHIR mapping reads a drug class from, with its verification status
and source.

It only prints what the knowledge base and the drug terminology say; it never changes either.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from .. import knowledge
from ..context import Context
from ..options import FORMATTER, PROG, add_format, add_rules

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``vocabulary``."""
    vocabulary = sub.add_parser(
        "vocabulary",
        help="list the profile fields and their values, conditions, drug classes and advisories",
        description="The vocabulary of the knowledge base: the bundled one plus the "
        "'vocabulary:' sections of the rule files loaded.",
        epilog=f"examples:\n  {PROG} vocabulary\n  {PROG} vocabulary --rules my_rules/ "
        f"--format json\n  {PROG} vocabulary --codes --format json",
        formatter_class=FORMATTER,
    )
    add_rules(vocabulary)
    add_format(vocabulary)
    vocabulary.add_argument(
        "--codes",
        action="store_true",
        help="list the codes medication records are mapped to drug classes with (RxNorm "
        "ingredient, clinical and branded drug, pack; WHO ATC), each with its verification "
        "status and source",
    )


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Print the vocabulary; 0."""
    from ..._render.schemas import vocabulary_json, vocabulary_text

    kb = knowledge.load(args)
    if args.codes:
        ctx.out.write(_codes_listing(kb.schema, args.format) + "\n")
        return 0
    if args.format == "json":
        ctx.out.write(vocabulary_json(kb.schema) + "\n")
    else:
        ctx.out.write(vocabulary_text(kb.schema, markdown=args.format == "markdown") + "\n")
    return 0


_COLUMNS = ("system", "code", "tty", "display", "class", "status", "source")
_SHORT_SYSTEMS = {
    "http://www.nlm.nih.gov/research/umls/rxnorm": "rxnorm",
    "http://www.whocc.no/atc": "atc",
}


def _codes_listing(schema: Any, fmt: str) -> str:
    """The drug-class codes as JSON, a Markdown table or aligned text, with a count by system
    and status (the terminology's codes name products: this listing is the only output that
    names drugs, as the table of codes it is)."""
    from ...fhir._codes import drug_codes

    rows = [row.as_dict() for row in drug_codes(schema)]
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        by_status = counts.setdefault(str(row["system"]), {})
        by_status[str(row["status"])] = by_status.get(str(row["status"]), 0) + 1
    if fmt == "json":
        return json.dumps({"codes": rows, "counts": counts}, indent=2)
    shown = [[_cell(row, column) for column in _COLUMNS] for row in rows]
    summary = "; ".join(
        f"{_SHORT_SYSTEMS.get(system, system)}: "
        + ", ".join(f"{n} {status}" for status, n in sorted(found.items()))
        for system, found in counts.items()
    )
    if fmt == "markdown":
        head = "| " + " | ".join(_COLUMNS) + " |"
        rule = "|" + "---|" * len(_COLUMNS)
        body = ["| " + " | ".join(c.replace("|", "\\|") for c in line) + " |" for line in shown]
        return "\n".join([f"{len(rows)} codes ({summary})", "", head, rule, *body])
    widths = [max(len(c), *(len(line[i]) for line in shown)) for i, c in enumerate(_COLUMNS)]
    widths[-1] = 0  # the source is last and left unpadded
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in [list(_COLUMNS), *shown]
    ]
    return "\n".join([*lines, "", f"{len(rows)} codes ({summary})"])


def _cell(row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    if column == "system":
        return _SHORT_SYSTEMS.get(str(value), str(value))
    return "" if value is None else str(value)
