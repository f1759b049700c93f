"""``immunorules evaluate --fhir BUNDLE.json``: evaluate a patient's FHIR R4 record, printing the
result and where every profile value came from. Bad input is a one-paragraph error (exit 2)."""

from __future__ import annotations

import argparse
import json
from typing import Any, Protocol

__all__ = ["add_options", "cmd_evaluate_fhir"]


def add_options(evaluate: argparse.ArgumentParser) -> None:
    """The FHIR options of the ``evaluate`` command."""
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


class _Out(Protocol):
    def write(self, text: str) -> None: ...


def cmd_evaluate_fhir(args: argparse.Namespace, out: _Out, kb: Any, error: type[Exception]) -> int:
    try:
        from ..fhir import FhirError, profile_from_fhir
    except ImportError:
        raise error(
            "--fhir needs the fhir extra: pip install 'immunorules[fhir]' (fhir.resources)."
        ) from None
    from .._render.text import result_json, result_markdown, result_text

    if args.profile == "-":
        import sys

        source: Any = sys.stdin.read()
    else:
        source = args.profile
    try:
        found = profile_from_fhir(source, kb=kb, as_of=args.as_of, condition=args.condition)
    except FhirError as exc:
        listed = "; ".join(str(problem) for problem in exc.problems[:20])
        more = f" (and {len(exc.problems) - 20} more)" if len(exc.problems) > 20 else ""
        raise error(f"{args.profile!r} is not a usable FHIR R4 record: {listed}{more}.") from None
    if found.profile is None:
        reason = " ".join(found.warnings) or "no problem the rules treat"
        raise error(
            f"the FHIR record of patient {found.patient_id} gives no profile: {reason}. Pass "
            "--condition to name the condition being treated."
        )
    result = kb.evaluate(found.profile)
    if args.format == "json":
        data = json.loads(result_json(result, indent=None))
        out.write(json.dumps({**data, "fhir": found.to_dict()}, indent=2) + "\n")
    elif args.format == "markdown":
        out.write(result_markdown(result) + "\n\n" + found.explain(markdown=True) + "\n")
    else:
        out.write(result_text(result) + "\n\n" + found.explain() + "\n")
    return 0
