"""``immunorules cohort IN OUT``: a whole cohort file in, one answer row per profile out, streamed.

Parquet, CSV or JSON Lines in and out, by extension (or a FHIR Bulk Data export folder in, with
``--fhir``); :mod:`..tables` reads and writes them a batch at a time. Invalid rows are reported by
row number on standard error and written with their ``error``; they never stop the valid ones.
Exit codes: 0 every row valid, 1 some row invalid, 2 bad input (a missing file, an unknown
extension, a file that cannot be read). It needs pyarrow (``pip install "immunorules[cohort]"``);
tqdm draws the progress bar on a terminal. The output appears only when it is complete.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
from pathlib import Path
from typing import Any

from ..._errors import ProfileError
from .. import knowledge, paths, tables
from ..assume import add_assume, policy
from ..context import CliError, Context
from ..options import FORMATTER, PROG, add_rules

__all__ = ["register", "run"]

#: At most this many invalid rows are listed on standard error (all are in the output).
MAX_LISTED = 100


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``cohort``."""
    cohort = sub.add_parser(
        "cohort",
        help="evaluate a cohort file (Parquet, CSV, JSON Lines) into one answer row per profile",
        description="Evaluate every profile of a cohort, one per row, streaming: the id columns "
        "are passed through, then covered, conflict, a tier column per category, avoided, "
        "advisories, fired_rules and error. Formats follow the extensions (.parquet, .csv, "
        ".jsonl). Invalid rows are listed by row number on stderr and kept in the output with "
        "their error; exit 1 if there was any. In CSV, an empty cell is not given and a set "
        "field's members are separated by '|' (lists are written that way too).",
        epilog=f"examples:\n  {PROG} cohort patients.parquet answers.parquet\n"
        f"  {PROG} cohort patients.csv answers.jsonl --id-column patient_id\n"
        f"  {PROG} cohort --fhir bulk_export/ answers.parquet\n"
        f"  {PROG} cohort patients.csv answers.csv --assume pregnant=false",
        formatter_class=FORMATTER,
    )
    cohort.add_argument("input", metavar="IN", help="the cohort: .parquet, .csv or .jsonl")
    cohort.add_argument("output", metavar="OUT", help="where to write: .parquet, .csv or .jsonl")
    add_rules(cohort)
    cohort.add_argument(
        "--id-column",
        action="append",
        default=None,
        metavar="COL",
        help="a column to pass through (repeatable); by default every column that is not a "
        "profile field, and with this option any other such column is an error",
    )
    cohort.add_argument(
        "--fhir",
        action="store_true",
        help="IN is a FHIR Bulk Data export folder (Patient.ndjson, Condition.ndjson, ...)",
    )
    cohort.add_argument(
        "--batch-size", type=int, default=65_536, metavar="N", help="rows per batch (65536)"
    )
    add_assume(cohort)


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Evaluate the cohort; 0 when every row was valid, 1 when some were not."""
    if args.batch_size < 1:
        raise CliError(f"--batch-size must be 1 or more, not {args.batch_size}.")
    source = Path(args.input)
    target = Path(args.output)
    write_format = tables.format_of(target, "OUT")
    if args.fhir:
        if not source.is_dir():
            raise CliError(
                f"--fhir needs IN to be a FHIR Bulk Data export folder; {args.input!r} "
                + ("is not a folder." if source.exists() else "does not exist.")
            )
    elif not source.exists():
        raise CliError(f"the cohort file {args.input!r} does not exist.")
    elif source.is_dir():
        raise CliError(
            f"{args.input!r} is a folder; give a .parquet, .csv or .jsonl file (or --fhir for "
            "a FHIR Bulk Data export)."
        )
    read_format = "fhir" if args.fhir else tables.format_of(source, "IN")
    paths.refuse_output_over_input(source, target)
    if not target.parent.is_dir():
        raise CliError(f"the folder of OUT, {str(target.parent)!r}, does not exist.")
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise CliError(
            "the cohort command needs pyarrow: pip install 'immunorules[cohort]'."
        ) from None
    profiles_from_bulk = _fhir() if args.fhir else None
    kb = knowledge.load(args)
    args.assume = policy(args.assume, kb, tables.evaluation(read_format))
    return _evaluate(kb, args, ctx, source, target, read_format, write_format, profiles_from_bulk)


def _fhir() -> Any:
    try:
        profiles_from_bulk = importlib.import_module("immunorules.fhir").profiles_from_bulk
    except (ImportError, AttributeError) as exc:
        raise CliError(
            "--fhir needs the FHIR input module (immunorules.fhir), which this installation "
            f"does not have ({exc}); install 'immunorules[fhir]'."
        ) from None
    return profiles_from_bulk


def _batches(
    kb: Any,
    args: argparse.Namespace,
    ctx: Context,
    source: Path,
    read_format: str,
    profiles_from_bulk: Any,
) -> tuple[tables.Batches, int | None]:
    """The answer batches of the input, and its number of rows when known up front."""
    ids = list(args.id_column) if args.id_column else None
    assume = args.assume
    if read_format == "fhir":
        batches = tables.fhir_batches(kb, source, args.batch_size, profiles_from_bulk, assume)
        return batches, None
    if read_format == "parquet":
        batches = tables.parquet_batches(kb, source, ids, args.batch_size, assume)
        return batches, tables.parquet_rows(source)
    if read_format == "csv":
        return tables.csv_batches(kb, source, ids, args.batch_size, assume), None
    batches = tables.jsonl_batches(kb, source, ids, args.batch_size, assume, warn=ctx.note)
    return batches, None


def _evaluate(
    kb: Any,
    args: argparse.Namespace,
    ctx: Context,
    source: Path,
    target: Path,
    read_format: str,
    write_format: str,
    profiles_from_bulk: Any,
) -> int:
    import pyarrow as pa

    batches, total = _batches(kb, args, ctx, source, read_format, profiles_from_bulk)
    partial = target.with_name(f".{target.name}.partial")
    invalid = 0
    progress = tables.progress(total, stream=ctx.err.stream, interactive=ctx.interactive)
    try:
        with tables.writer(write_format, partial) as write:
            for batch, labels in batches:
                write(batch)
                errors = batch.column("error")
                if errors.null_count < len(batch):
                    for row in tables.non_null(errors):
                        invalid += 1
                        if invalid <= MAX_LISTED:
                            ctx.note(f"{labels(row)}: {errors[row].as_py()}")
                progress(len(batch))
        os.replace(partial, target)
    except ProfileError as exc:  # the columns, not a row: unknown or duplicate columns
        raise CliError(f"the cohort's columns are not usable: {exc}.") from None
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read or write the cohort: {exc}.") from None
    except ValueError as exc:  # id columns that are missing or named like result columns
        raise CliError(f"{exc}.") from None
    finally:
        progress(0, close=True)
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    if invalid:
        more = f" ({invalid - MAX_LISTED} more not listed)" if invalid > MAX_LISTED else ""
        rows = "1 invalid row" if invalid == 1 else f"{invalid} invalid rows"
        ctx.note(
            f"{rows}{more}; the error column says why, and every valid row was written to "
            f"{str(target)!r}."
        )
        return 1
    return 0
