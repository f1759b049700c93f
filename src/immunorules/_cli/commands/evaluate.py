"""``immunorules evaluate PROFILE``: what is suggested, flagged or avoided for one profile (JSON),
for each line of JSON Lines, or with ``--fhir`` for a patient's FHIR R4 record (with where every
profile value came from).

It never reads a profile itself: :mod:`..inputs` does, and :mod:`..answers` drives the answering.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from .. import knowledge
from ..answers import Renderers, answer_each
from ..assume import Policy, add_assume, policy
from ..context import CliError, Context
from ..inputs import fhir_source
from ..options import EXAMPLE_PROFILE, FORMATTER, PROG, add_format, add_rules

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``evaluate``."""
    evaluate = sub.add_parser(
        "evaluate",
        help="evaluate one profile (JSON) or many (JSON Lines)",
        description="Evaluate condition profiles: what is suggested, flagged or avoided, and why.",
        epilog=f"""examples:
  {PROG} evaluate examples/profiles/rheumatoid_arthritis.json
  echo '{EXAMPLE_PROFILE}' | {PROG} evaluate -
  {PROG} evaluate cohort.jsonl --format json    (one JSON result per line)
  {PROG} evaluate profile.json --assume pregnant=false --assume prior_lines_of_therapy=0""",
        formatter_class=FORMATTER,
    )
    evaluate.add_argument(
        "profile",
        metavar="PROFILE",
        help="a JSON file with one profile, a JSON Lines file (.jsonl) with one per line, "
        "or - for standard input",
    )
    add_rules(evaluate)
    add_format(evaluate)
    add_assume(evaluate)
    evaluate.add_argument(
        "--fhir",
        action="store_true",
        help="PROFILE is a FHIR R4 Bundle (JSON) of one patient; prints a provenance section "
        "(needs the fhir extra)",
    )
    evaluate.add_argument(
        "--as-of", metavar="DATE", default=None, help="with --fhir: read the record as on DATE"
    )
    evaluate.add_argument(
        "--condition",
        metavar="CONDITION",
        default=None,
        help="with --fhir: the condition being treated, when the record has several",
    )


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Evaluate; 0, or 1 when some JSON Lines were not valid profiles."""
    from ..._render.text import result_json, result_markdown, result_text

    if args.fhir:
        return _run_fhir(args, ctx)
    policies: dict[int, Policy] = {}

    def answer(kb: Any, profile: Any) -> Any:
        if id(kb) not in policies:  # read once, against the knowledge base's vocabulary
            policies[id(kb)] = policy(args.assume, kb, kb.evaluate)
        return _evaluate(kb, profile, policies[id(kb)])

    return answer_each(
        args,
        ctx,
        answer,
        Renderers(text=result_text, markdown=result_markdown, json=result_json),
    )


def _evaluate(kb: Any, profile: Any, assume: Policy) -> Any:
    if assume is None:
        return kb.evaluate(profile)
    return kb.evaluate(profile, assume=assume)


def _run_fhir(args: argparse.Namespace, ctx: Context) -> int:
    kb = knowledge.load(args)
    assume = policy(args.assume, kb, kb.evaluate)
    try:
        from ...fhir import FhirError, profile_from_fhir
    except ImportError:
        raise CliError(
            "--fhir needs the fhir extra: pip install 'immunorules[fhir]' (fhir.resources)."
        ) from None
    from ..._render.text import result_json, result_markdown, result_text

    source = fhir_source(args.profile, ctx.stdin)
    try:
        found = profile_from_fhir(source, kb=kb, as_of=args.as_of, condition=args.condition)
    except FhirError as exc:
        listed = "; ".join(str(problem) for problem in exc.problems[:20])
        more = f" (and {len(exc.problems) - 20} more)" if len(exc.problems) > 20 else ""
        raise CliError(
            f"{args.profile!r} is not a usable FHIR R4 record: {listed}{more}."
        ) from None
    if found.profile is None:
        reason = " ".join(found.warnings) or "no problem the rules treat"
        raise CliError(
            f"the FHIR record of patient {found.patient_id} gives no profile: {reason}. Pass "
            "--condition to name the condition being treated."
        )
    result = _evaluate(kb, found.profile, assume)
    if args.format == "json":
        data = json.loads(result_json(result, indent=None))
        ctx.out.write(json.dumps({**data, "fhir": found.to_dict()}, indent=2) + "\n")
    elif args.format == "markdown":
        ctx.out.write(result_markdown(result) + "\n\n" + found.explain(markdown=True) + "\n")
    else:
        ctx.out.write(result_text(result) + "\n\n" + found.explain() + "\n")
    return 0
