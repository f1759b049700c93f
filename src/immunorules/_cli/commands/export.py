"""``immunorules export``: write the knowledge base's answer for another engine or a spreadsheet.

``--format dmn`` (a DMN 1.3 model), ``jdm`` (a GoRules JSON Decision Model) or ``xlsx`` (the
rule workbook, when this version has it). Each format is one entry of a table here: the
name of the knowledge-base method that writes it. Export only: this command never reads such a
file back, and never writes over a rule file it loads.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from .. import knowledge, paths
from ..context import CliError, Context
from ..options import FORMATTER, PROG, add_rules

__all__ = ["register", "run"]

#: Each format: the method that writes it, reached as ``kb.<method>(path)`` (for ``xlsx`` on the
#: decision table: ``kb.decision_table().to_excel(path)``), and what the file is.
_EXPORTERS: Final = {
    "dmn": ("to_dmn", "a DMN 1.3 model (decision tables, PRIORITY and COLLECT)"),
    "jdm": ("to_jdm", "a GoRules JSON Decision Model (decision tables only)"),
    "xlsx": ("to_excel", "the rule workbook a clinician can edit"),
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``export``."""
    export = sub.add_parser(
        "export",
        help="write the rules' answer as DMN, GoRules JDM or a spreadsheet",
        description="Write what the knowledge base's active rules answer (a tier per category, "
        "the drug classes avoided, the advisories) for another engine: "
        + "; ".join(f"{name}: {what}" for name, (_, what) in _EXPORTERS.items())
        + ". Export only: explanations, evidence and the audit are not carried; a fact not "
        "stated is null.",
        epilog=f"examples:\n  {PROG} export --format dmn immunorules.dmn\n  {PROG} export "
        "--format jdm --rules my_rules/ decision.json",
        formatter_class=FORMATTER,
    )
    export.add_argument("--format", required=True, choices=tuple(_EXPORTERS), help="the format")
    export.add_argument("out", metavar="OUT", help="the file to write")
    add_rules(export)


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Write the file; 0, or 2 for a file it cannot write."""
    target = Path(args.out)
    if target.is_dir():
        raise CliError(f"OUT {args.out!r} is a folder; give a file name.")
    if not target.parent.exists():
        raise CliError(f"the folder of OUT, {str(target.parent)!r}, does not exist.")
    kb = knowledge.load(args)
    for source in kb.files:
        paths.refuse_output_over_input(Path(source), target, what="a rule file")
    method, _ = _EXPORTERS[args.format]
    owner = kb.decision_table() if args.format == "xlsx" else kb
    write = getattr(owner, method)
    try:
        write(target)
    except OSError as exc:
        raise CliError(f"cannot write {args.out!r}: {exc.strerror or exc}.") from None
    except ValueError as exc:  # text a workbook cannot hold, named by rule and column
        raise CliError(f"cannot write {args.out!r}: {exc}.") from None
    ctx.note(f"wrote {args.format} to {args.out}")
    return 0
