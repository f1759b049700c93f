"""``immunorules explain PROFILE --category CATEGORY``: why a therapy category is or is not
suggested for a profile, and the smallest profile changes that would make it a suggestion.

It never reads a profile itself: :mod:`..inputs` does, and :mod:`..answers` drives the answering.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..answers import Renderers, answer_each
from ..context import CliError, Context
from ..options import FORMATTER, PROG, add_format, add_rules

if TYPE_CHECKING:
    from ..._model.profile import ConditionProfile
    from ..knowledge import KnowledgeBase

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``explain``."""
    explain = sub.add_parser(
        "explain",
        help="why (or why not) a therapy category is suggested for a profile",
        description="Why a category is or is not suggested: the rules that could suggest it, "
        "which of their conditions failed, what overrode it, and the smallest profile changes "
        "that would make it a first-line or escalation suggestion.",
        epilog=f"""examples:
  {PROG} explain examples/profiles/transplant_recipient_melanoma.json --category immunostimulants
  {PROG} explain profile.json --category cellular_therapies --fixed condition --max-changes 2
  {PROG} explain profile.json --category immunostimulants --all-fields""",
        formatter_class=FORMATTER,
    )
    explain.add_argument("profile", metavar="PROFILE", help="a JSON profile file, or - for stdin")
    explain.add_argument(
        "--category",
        required=True,
        metavar="CATEGORY",
        help="immunosuppressants, immunostimulants, biologic_therapies or cellular_therapies",
    )
    add_rules(explain)
    add_format(explain)
    explain.add_argument(
        "--max-changes",
        type=int,
        default=3,
        metavar="N",
        help="search profile changes of up to N fields (default: 3)",
    )
    explain.add_argument(
        "--fixed",
        action="append",
        default=[],
        metavar="FIELD",
        help="a profile field the suggested changes must not touch (repeatable)",
    )
    explain.add_argument(
        "--field",
        action="append",
        default=None,
        metavar="FIELD",
        help="a profile field the suggested changes may touch (repeatable; default: the fields "
        "the vocabulary marks modifiable)",
    )
    explain.add_argument(
        "--all-fields",
        action="store_true",
        help="let the suggested changes touch any field (the condition and histories too)",
    )


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Explain; 0, or 1 when some JSON Lines were not valid profiles."""
    from ..._analysis.whynot import check_category
    from ..._render.text import whynot_json, whynot_markdown, whynot_text

    try:
        category = check_category(args.category)
    except ValueError as exc:
        raise CliError(f"{exc}.") from None
    if args.max_changes < 0:
        raise CliError(f"--max-changes must be 0 or more, not {args.max_changes}.")

    def why_not(kb: KnowledgeBase, profile: ConditionProfile) -> Any:
        try:
            fields = list(kb.fields) if args.all_fields else args.field
            return kb.why_not(
                profile, category, max_changes=args.max_changes, fixed=args.fixed, fields=fields
            )
        except ValueError as exc:  # an unknown --fixed or --field field
            raise CliError(f"{exc}.") from None

    return answer_each(
        args,
        ctx,
        why_not,
        Renderers(text=whynot_text, markdown=whynot_markdown, json=whynot_json),
    )
