"""The ``cohort`` command: a whole cohort file in, one answer row per profile out, streamed.

Parquet, CSV or JSON Lines in and out, by extension (or a FHIR Bulk Data export folder in, with
``--fhir``). The input is read a batch of rows at a time, each batch evaluated column by column
and written before the next is read, so memory depends on the batch size, not on the cohort.
Invalid rows are reported by row number on standard error and written with their ``error``; they
never stop the valid ones. Exit codes: 0 every row valid, 1 some row invalid, 2 bad input (a
missing file, an unknown extension, a file that cannot be read), with a one-paragraph message and
never a traceback. It needs pyarrow (``pip install "immunorules[cohort]"``); tqdm draws the
progress bar on a terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .._errors import ProfileError
from .jsonin import loads as _loads

__all__ = ["add_commands", "cmd_cohort"]


class CliError(Exception):
    """Bad input: one paragraph on standard error, exit code 2."""


FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl",
           ".ndjson": "jsonl"}  # fmt: skip
#: At most this many invalid rows are listed on standard error (all are in the output).
MAX_LISTED = 100


def add_commands(
    commands: Any,
    formatter: type[argparse.HelpFormatter],
    rules_option: Callable[[argparse.ArgumentParser], None],
    prog: str,
) -> None:
    cohort = commands.add_parser(
        "cohort",
        help="evaluate a cohort file (Parquet, CSV, JSON Lines) into one answer row per profile",
        description="Evaluate every profile of a cohort, one per row, streaming: the id columns "
        "are passed through, then covered, conflict, a tier column per category, avoided, "
        "advisories, fired_rules and error. Formats follow the extensions (.parquet, .csv, "
        ".jsonl). Invalid rows are listed by row number on stderr and kept in the output with "
        "their error; exit 1 if there was any. In CSV, an empty cell is not given and a set "
        "field's members are separated by '|' (lists are written that way too).",
        epilog=f"examples:\n  {prog} cohort patients.parquet answers.parquet\n"
        f"  {prog} cohort patients.csv answers.jsonl --id-column patient_id\n"
        f"  {prog} cohort --fhir bulk_export/ answers.parquet",
        formatter_class=formatter,
    )
    cohort.add_argument("input", metavar="IN", help="the cohort: .parquet, .csv or .jsonl")
    cohort.add_argument("output", metavar="OUT", help="where to write: .parquet, .csv or .jsonl")
    rules_option(cohort)
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


def cmd_cohort(load: Callable[[], Any], args: argparse.Namespace, out: Any) -> int:
    """Run ``immunorules cohort`` (``load`` loads the knowledge base the options name); returns
    the exit code."""
    try:
        return _cohort(load, args)
    except CliError as exc:
        sys.stderr.write(f"immunorules: error: {exc}\n")
        return 2


def _cohort(load: Callable[[], Any], args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise CliError(f"--batch-size must be 1 or more, not {args.batch_size}.")
    source = Path(args.input)
    target = Path(args.output)
    write_format = _format(target, "OUT")
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
    read_format = "fhir" if args.fhir else _format(source, "IN")
    if not target.parent.is_dir():
        raise CliError(f"the folder of OUT, {str(target.parent)!r}, does not exist.")
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise CliError(
            "the cohort command needs pyarrow: pip install 'immunorules[cohort]'."
        ) from None
    profiles_from_bulk = _fhir() if args.fhir else None
    kb = load()
    return _run(kb, args, source, target, read_format, write_format, profiles_from_bulk)


def _format(path: Path, which: str) -> str:
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        known = ", ".join(sorted(FORMATS))
        raise CliError(
            f"{which} {str(path)!r} has an extension the cohort command does not know "
            f"({path.suffix or 'none'}); use one of {known}."
        )
    return found


def _fhir() -> Any:
    try:
        profiles_from_bulk = importlib.import_module("immunorules.fhir").profiles_from_bulk
    except (ImportError, AttributeError) as exc:
        raise CliError(
            "--fhir needs the FHIR input module (immunorules.fhir), which this installation "
            f"does not have ({exc}); install 'immunorules[fhir]'."
        ) from None
    return profiles_from_bulk


def _run(
    kb: Any,
    args: argparse.Namespace,
    source: Path,
    target: Path,
    read_format: str,
    write_format: str,
    profiles_from_bulk: Any,
) -> int:
    import pyarrow as pa

    if read_format == "fhir":
        batches, total = _fhir_batches(kb, source, args.batch_size, profiles_from_bulk), None
    elif read_format == "parquet":
        batches, total = _parquet_batches(kb, source, args), _parquet_rows(source)
    elif read_format == "csv":
        batches, total = _csv_batches(kb, source, args), None
    else:
        batches, total = _jsonl_batches(kb, source, args), None
    partial = target.with_name(f".{target.name}.partial")
    invalid = 0
    progress = _progress(total)
    try:
        with _writer(write_format, partial) as write:
            for batch, labels in batches:
                write(batch)
                errors = batch.column("error")
                if errors.null_count < len(batch):
                    for row in _non_null(errors):
                        invalid += 1
                        if invalid <= MAX_LISTED:
                            message = errors[row].as_py()
                            sys.stderr.write(f"immunorules: {labels(row)}: {message}\n")
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
        sys.stderr.write(
            f"immunorules: {rows}{more}; the error column says why, and every valid row was "
            f"written to {str(target)!r}.\n"
        )
        return 1
    return 0


def _non_null(column: Any) -> list[int]:
    import numpy as np

    return [int(i) for i in np.flatnonzero(column.is_valid().to_numpy(zero_copy_only=False))]


# -- readers: (result batch, row label of a batch row) ------------------------------------------

Batches = Iterator[tuple[Any, Callable[[int], str]]]


def _ids(args: argparse.Namespace) -> list[str] | None:
    return list(args.id_column) if args.id_column else None


def _parquet_rows(source: Path) -> int | None:
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(source).metadata.num_rows)
    except Exception:  # the reader reports it properly
        return None


def _parquet_batches(kb: Any, source: Path, args: argparse.Namespace) -> Batches:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .._evaluate.frame import evaluate_arrow

    try:
        reader = pq.ParquetFile(source)
    except (pa.ArrowException, OSError) as exc:
        raise CliError(f"{str(source)!r} is not a readable Parquet file: {exc}.") from None
    start = 0
    for batch in reader.iter_batches(batch_size=args.batch_size):
        yield evaluate_arrow(kb, batch, _ids(args)), _rows_from(start)
        start += batch.num_rows


def _rows_from(start: int) -> Callable[[int], str]:
    return lambda row: f"row {start + row + 1}"


def _csv_batches(kb: Any, source: Path, args: argparse.Namespace) -> Batches:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from .._evaluate.frame import evaluate_arrow

    with source.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), None)
    if not header:
        raise CliError(f"{str(source)!r} is empty; a cohort CSV starts with a header row.")
    reader = pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(block_size=1 << 22),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            null_values=[""],
            strings_can_be_null=True,
        ),
    )
    start = 0
    for block in reader:
        for offset in range(0, block.num_rows, args.batch_size):
            batch = block.slice(offset, args.batch_size)
            yield evaluate_arrow(kb, batch, _ids(args), text=True), _rows_from(start)
            start += batch.num_rows
    if start == 0:  # a header and no row
        empty = pa.RecordBatch.from_pylist([], schema=reader.schema)
        yield evaluate_arrow(kb, empty, _ids(args), text=True), _rows_from(start)


def _jsonl_batches(kb: Any, source: Path, args: argparse.Namespace) -> Batches:
    from .._evaluate.frame import evaluate_records

    fields = kb.schema.fields
    ids = _ids(args)
    inferred = ids is None
    left_out: set[str] = set()
    records: list[Any] = []
    lines: list[int] = []
    refused: dict[int, str] = {}
    with source.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                records.append(_loads(line))
            except ValueError as exc:  # JSONDecodeError included
                refused[len(records)] = f"not valid JSON: {exc}"
                records.append(None)
            lines.append(number)
            if len(records) >= args.batch_size:
                ids, left_out = _batch_ids(records, lines, fields, ids, inferred, left_out)
                yield evaluate_records(kb, records, ids, refused, left_out), _lines(lines)
                records, lines, refused = [], [], {}
    if records or not lines:
        ids, left_out = _batch_ids(records, lines, fields, ids, inferred, left_out)
        yield evaluate_records(kb, records, ids, refused, left_out), _lines(lines)


def _batch_ids(
    records: list[Any],
    lines: list[int],
    fields: Any,
    ids: list[str] | None,
    inferred: bool,
    left_out: set[str],
) -> tuple[list[str], set[str]]:
    """The id columns (given, or the other keys of the first batch) and the keys left out: a
    key of a later batch that is neither, reported once (Parquet and CSV outputs keep the
    columns of their first batch)."""
    if ids is None:
        return _record_ids(records, fields), left_out
    if inferred:
        for key in _record_ids(records, fields):
            if key not in ids and key not in left_out:
                left_out = {*left_out, key}
                line = next(
                    lines[i] for i, r in enumerate(records) if isinstance(r, dict) and key in r
                )
                sys.stderr.write(
                    f"immunorules: warning: the key {key!r} (first at line {line}) is not a "
                    "profile field and not one of the id columns found in the first batch; it "
                    "is left out (name it with --id-column to keep it).\n"
                )
    return ids, left_out


def _record_ids(records: list[Any], fields: Any) -> list[str]:
    found: dict[str, None] = {}
    for record in records:
        if isinstance(record, dict):
            found.update((key, None) for key in record if key not in fields)
    return list(found)


def _lines(numbers: list[int]) -> Callable[[int], str]:
    return lambda row: f"line {numbers[row]}"


def _fhir_batches(kb: Any, source: Path, batch_size: int, profiles_from_bulk: Any) -> Batches:
    from .._errors import ImmunorulesError
    from .._evaluate.frame import evaluate_records

    ids = ["patient_id", "fhir_unknown", "fhir_warnings"]
    records: list[dict[str, Any]] = []
    refused: dict[int, str] = {}
    try:
        for patient_id, found in profiles_from_bulk(source, kb=kb):
            warnings = [str(item) for item in found.warnings]
            record: dict[str, Any] = {
                "patient_id": str(patient_id),
                "fhir_unknown": [str(item) for item in found.unknown],
                "fhir_warnings": warnings,
            }
            if found.profile is None:  # no problem the knowledge base treats: the warnings say
                refused[len(records)] = "the FHIR record gives no profile: " + (
                    "; ".join(warnings) or "no condition or disease area this knowledge base knows"
                )
            else:
                record.update(
                    (name, list(value) if isinstance(value, tuple) else value)
                    for name, value in found.profile.__dict__.items()
                )
            records.append(record)
            if len(records) >= batch_size:
                yield evaluate_records(kb, records, ids, refused), _patients(records)
                records, refused = [], {}
    except ImmunorulesError as exc:
        raise CliError(f"the FHIR export {str(source)!r} could not be read: {exc}") from None
    yield evaluate_records(kb, records, ids, refused), _patients(records)


def _patients(records: list[dict[str, Any]]) -> Callable[[int], str]:
    return lambda row: f"patient {records[row]['patient_id']}"


# -- writers ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def _writer(kind: str, path: Path) -> Iterator[Callable[[Any], None]]:
    import pyarrow as pa

    if kind == "parquet":
        import pyarrow.parquet as pq

        parquet: list[Any] = []  # the writer and the schema of the first batch

        def write_parquet(batch: Any) -> None:
            if not parquet:
                parquet.extend((pq.ParquetWriter(path, batch.schema), batch.schema))
            parquet[0].write_batch(_cast(batch, parquet[1]))

        try:
            yield write_parquet
        finally:
            if parquet:
                parquet[0].close()
    elif kind == "csv":
        import pyarrow.csv as pacsv

        writers: list[Any] = []  # the writer and the schema of the first batch

        def write_csv(batch: Any) -> None:
            batch = _flat_lists(pa, batch)
            if not writers:
                writers.extend((pacsv.CSVWriter(path, batch.schema), batch.schema))
            writers[0].write_batch(_cast(batch, writers[1]))

        try:
            yield write_csv
        finally:
            if writers:
                writers[0].close()
    else:
        with path.open("w", encoding="utf-8") as handle:

            def write_jsonl(batch: Any) -> None:
                for row in batch.to_pylist():
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")

            yield write_jsonl


def _cast(batch: Any, schema: Any) -> Any:
    """The batch in the schema of the first one written (an id column all null in one batch
    is of Arrow's null type there)."""
    if batch.schema.equals(schema):
        return batch
    import pyarrow as pa

    try:
        return batch.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
        raise CliError(
            f"the id columns change type within the cohort ({exc}); give every row the same "
            "kind of value in each, or pass them through as text."
        ) from None


def _flat_lists(pa: Any, batch: Any) -> Any:
    """List columns as text, members separated by '|' (CSV has no lists)."""
    import pyarrow.compute as pc

    arrays, names = [], []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            column = pc.binary_join(column.cast(pa.list_(pa.string())), "|")
        arrays.append(column)
        names.append(name)
    return pa.RecordBatch.from_arrays(arrays, names=names)


# -- progress --------------------------------------------------------------------------------------


def _progress(total: int | None) -> Callable[..., None]:
    """A progress bar on a terminal (tqdm), nothing elsewhere."""
    if not sys.stderr.isatty():
        return lambda rows, close=False: None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with the cohort extra
        return lambda rows, close=False: None
    bar = tqdm(total=total, unit=" rows", unit_scale=True, file=sys.stderr, leave=False)

    def update(rows: int, close: bool = False) -> None:
        if close:
            bar.close()
        elif rows:
            bar.update(rows)

    return update
