"""Benchmark the cohort path: columnar evaluate_frame, the cohort command, Dask, memory, import.

    python benchmarks/cohort_bench.py [--quick] [--rows N] [--cli-rows N] [--no-dask]

Not part of the test suite (needs the ``bench`` extra: pyarrow, psutil, dask, distributed).
Profiles are ALL DISTINCT unless a line says otherwise: row ``i`` is profile number
``(a * i + b) mod S`` of the S valid profiles of the bundled knowledge base (a bijection over its
scalar fields, set fields left at their default), so no two rows of a run repeat. Every
throughput is set beside the per-row ``evaluate`` rate measured in the same run on never-seen
profiles, and is reported as wall time and as CPU time of this process (on a shared machine the
wall time also counts other people's work). Each figure is
the median of its runs. Large figures run in a process of their own (memory figures are
untouched by earlier work). The output is a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import gc
import math
import multiprocessing
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

import immunorules as ir  # noqa: E402

TARGETS = {"columnar_x": 20.0, "columnar_rate": 1_000_000, "cli_rss": 1500.0, "dask_x": 1.5,
           "import": 0.300, "memory": 50.0}  # fmt: skip


# -- all-distinct profiles ------------------------------------------------------------------------


class Space:
    """The valid profiles of the bundled vocabulary, numbered in mixed radix."""

    def __init__(self) -> None:
        schema = ir.load_rules(engine="native").schema
        self.pairs = [(a, None) for a in schema.disease_areas] + [
            (a, c) for c, a in schema.condition_area.items()
        ]
        self.fields = [n for n in schema.domains if n not in ("disease_area", "condition")]
        self.domains = [schema.domains[n] for n in self.fields]
        self.radices = [len(self.pairs), *(len(d) for d in self.domains)]
        self.size = math.prod(self.radices)
        self.step = 2_654_435_761
        while math.gcd(self.step, self.size) != 1:
            self.step += 2

    def table(self, start: int, count: int) -> Any:
        """Rows ``start`` to ``start + count`` as a pyarrow Table (plain string columns)."""
        import numpy as np
        import pyarrow as pa

        index = (np.arange(start, start + count, dtype=np.int64) * self.step + 12345) % self.size
        digits = []
        for radix in reversed(self.radices):
            index, digit = np.divmod(index, radix)
            digits.append(digit)
        digits.reverse()
        columns: dict[str, Any] = {"patient_id": pa.array(np.arange(start, start + count))}
        pair = digits[0]
        areas = pa.array([a for a, _ in self.pairs], pa.string())
        conditions = pa.array([c for _, c in self.pairs], pa.string())
        columns["disease_area"] = areas.take(pa.array(pair))
        columns["condition"] = conditions.take(pa.array(pair))
        for name, domain, digit in zip(self.fields, self.domains, digits[1:], strict=True):
            columns[name] = pa.array(domain).take(pa.array(digit))
        return pa.table(columns)

    def dicts(self, start: int, count: int) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.table(start, count).drop(["patient_id"]).to_pylist()
        return rows

    def stream(self, start: int, count: int) -> Iterator[dict[str, Any]]:
        """The same rows, made a thousand at a time (so the caller holds few)."""
        for first in range(start, start + count, 1000):
            yield from self.dicts(first, min(1000, start + count - first))


# -- measuring -------------------------------------------------------------------------------------


def rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def timed(function: Callable[[], Any], runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``runs`` calls."""
    walls, cpus = [], []
    for _ in range(runs):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def isolated(function: Callable[..., Any], *args: Any) -> Any:
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


def per_row_rate(engine: str, count: int, runs: int) -> tuple[float, float]:
    """Single ``evaluate`` (dict in, explained result out) on never-seen profiles, after a
    warm-up of 20,000 others: rows per second, wall and CPU."""
    space = Space()
    kb = ir.load_rules(engine=engine)  # type: ignore[arg-type]
    for data in space.dicts(10_000_000, 20_000):
        kb.evaluate(data)
    batches = [space.dicts(20_000_000 + run * count, count) for run in range(runs)]
    walls, cpus = [], []
    for batch in batches:
        wall, cpu = time.perf_counter(), time.process_time()
        for data in batch:
            kb.evaluate(data)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return count / statistics.median(walls), count / statistics.median(cpus)


def columnar_rates(rows: int, runs: int) -> dict[str, Any]:
    """evaluate_frame on ``rows`` all-distinct rows, as pandas (str and categorical columns)
    and pyarrow tables; and how many distinct sets of fired rules they have."""
    space = Space()
    kb = ir.load_rules()
    table = space.table(0, rows)
    frame = table.to_pandas()
    categorical = frame.copy()
    for name in frame.columns:
        if frame[name].dtype == object or str(frame[name].dtype) in ("str", "string"):
            categorical[name] = frame[name].astype("category")
    kb.evaluate_frame(table.slice(0, 1000))  # builds the columnar matcher once
    found: dict[str, Any] = {"rows": rows}
    for label, data in (("pandas", frame), ("categorical", categorical), ("arrow", table)):
        wall, cpu = timed(lambda data=data: kb.evaluate_frame(data), runs)
        found[label] = (rows / wall, rows / cpu)
    out = kb.evaluate_frame(table)
    found["distinct_fired"] = len({tuple(ids) for ids in out.column("fired_rules").to_pylist()})
    check = space.dicts(0, 2000)
    results = [kb.evaluate(row) for row in check]
    expected = [result.fired_rules for result in results]
    got = [tuple(x) for x in out.column("fired_rules").to_pylist()[:2000]]
    # what each answer depends on (the unstated and depends_on columns) agrees too
    unstated = [tuple(x) for x in out.column("unstated").to_pylist()[:2000]]
    depends = [tuple(x) for x in out.column("depends_on").to_pylist()[:2000]]
    found["checked"] = (
        expected == got
        and unstated == [result.unstated for result in results]
        and depends == [tuple(d.field for d in result.depends_on) for result in results]
    )
    found["depending_rows"] = sum(1 for x in out.column("depends_on").to_pylist() if x)
    return found


def memory_of_evaluate(engine: str, count: int) -> tuple[float, float, float]:
    """RSS growth (MB) over ``count`` single evaluate calls on distinct profiles after a
    warm-up of 20,000, growth from before loading, seconds."""
    gc.collect()
    start_rss = rss_mb()
    space = Space()
    kb = ir.load_rules(engine=engine)  # type: ignore[arg-type]
    for data in space.stream(30_000_000, 20_000):
        kb.evaluate(data)
    gc.collect()
    before = rss_mb()
    wall = time.perf_counter()
    for data in space.stream(0, count):
        kb.evaluate(data)
    elapsed = time.perf_counter() - wall
    gc.collect()
    after = rss_mb()
    return after - before, after - start_rss, elapsed


def memory_of_many(rows: int) -> dict[str, float]:
    """tracemalloc figures of evaluate_many on all-distinct rows (native engine): the returned
    list, what stays after it is dropped (the bounded caches), and iter_evaluate's peak."""
    import tracemalloc

    space = Space()
    kb = ir.load_rules(engine="native")
    data = space.dicts(0, rows)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    out = kb.evaluate_many(data)
    held = tracemalloc.get_traced_memory()[0] - base
    del out
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    kb = ir.load_rules(engine="native")
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for _ in kb.iter_evaluate(iter(data), batch_size=10_000):
        pass
    streamed = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return {"held": held / 2**20, "kept": kept / 2**20, "streamed": streamed / 2**20}


def many_rates(rows: int, distinct: int, engine: str) -> float:
    """evaluate_many rows per second on a fresh knowledge base: ``distinct`` different profiles
    repeated to ``rows`` rows (``distinct == rows``: all distinct)."""
    space = Space()
    pool = space.dicts(0, distinct)
    data = [pool[i % distinct] for i in range(rows)]
    kb = ir.load_rules(engine=engine)  # type: ignore[arg-type]
    wall = time.perf_counter()
    kb.evaluate_many(data)
    return rows / (time.perf_counter() - wall)


def write_parquet(path: Path, rows: int) -> None:
    import pyarrow.parquet as pq

    space = Space()
    chunk = 500_000
    writer = None
    for start in range(0, rows, chunk):
        table = space.table(start, min(chunk, rows - start))
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=250_000)
    assert writer is not None
    writer.close()


def cli_run(source: Path, target: Path) -> tuple[float, float, int]:
    """``immunorules cohort`` in a child process: seconds, its peak RSS (MB), exit code."""
    command = [sys.executable, "-m", "immunorules", "cohort", str(source), str(target)]
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    return elapsed, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def dask_rate(source: Path, workers: int, rows: int) -> float:
    """Rows per second of immunorules.dask.evaluate over the Parquet file with ``workers``
    single-threaded worker processes (reading the file is part of the work)."""
    import dask.dataframe as dd
    import distributed

    from immunorules.dask import evaluate

    with (
        distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        ddf = dd.read_parquet(source, split_row_groups=True)
        kb = ir.load_rules()
        client.run(_warm, pickle.dumps(kb))  # every worker has built the kb (and numpy, ...)
        answers: Any = evaluate(ddf, kb)
        start = time.perf_counter()
        counted = int(answers.map_partitions(_valid).compute().sum())
        elapsed = time.perf_counter() - start
    assert counted == rows
    return rows / elapsed


def _warm(data: bytes) -> bool:
    """Rebuild a pickled knowledge base and its columnar state in this worker."""
    import pandas as pd

    kb = pickle.loads(data)
    kb.evaluate_frame(pd.DataFrame({"immune_activity": ["overactive"], "condition": ["psoriasis"]}))
    return True


def _valid(frame: Any) -> int:
    """How many rows of a partition of answers are valid (all of them, here)."""
    return int(frame["error"].isna().sum())


def import_time(runs: int) -> tuple[float, float]:
    """Median seconds of ``import immunorules`` and of ``ir.load_rules()`` after it, each in
    a fresh process (cold: nothing imported before)."""
    code = (
        "import time; t = time.perf_counter(); import immunorules as ir; "
        "a = time.perf_counter() - t; t = time.perf_counter(); ir.load_rules(); "
        "print(a, time.perf_counter() - t)"
    )
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    found = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env
        ).stdout.split()
        for _ in range(runs)
    ]
    return (
        statistics.median(float(a) for a, _ in found),
        statistics.median(float(b) for _, b in found),
    )


# -- report ----------------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                cpu,
            )
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} cores (shared; load average {load:.1f} at the start), "
        f"{platform.system()} {platform.release()}"
    )


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = [f"Python {platform.python_version()}"]
    for name in ("numpy", "pandas", "pyarrow", "dask", "distributed", "durable_rules", "pydantic"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def rate(value: float) -> str:
    return f"{value:,.0f}/s"


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows (rough)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for evaluate_frame")
    parser.add_argument("--cli-rows", type=int, default=10_000_000, help="rows for the CLI/Dask")
    parser.add_argument("--no-dask", action="store_true")
    args = parser.parse_args(argv)
    rows = args.rows // 10 if args.quick else args.rows
    cli_rows = args.cli_rows // 10 if args.quick else args.cli_rows
    runs = 3
    print(f"# {datetime.date.today()} on {machine()}\n# {versions()}\n", flush=True)
    lines: list[str] = []

    def line(figure: str, measured: str, reference: str, target: str, met: str) -> None:
        lines.append(f"| {figure} | {measured} | {reference} | {target} | {met} |")
        print(lines[-1], flush=True)

    durable_wall, durable_cpu = isolated(per_row_rate, "durable", 20_000, runs)
    native_wall, native_cpu = isolated(per_row_rate, "native", 20_000, runs)
    reference = (
        f"`evaluate` per row: durable {rate(durable_wall)} wall, {rate(durable_cpu)} CPU; "
        f"native {rate(native_wall)} wall, {rate(native_cpu)} CPU"
    )
    print(reference, flush=True)
    line("per-row `evaluate`, durable engine (default), never-seen profiles",
         f"{rate(durable_wall)} ({rate(durable_cpu)} CPU)", "", "", "")  # fmt: skip
    line("per-row `evaluate`, native engine, never-seen profiles",
         f"{rate(native_wall)} ({rate(native_cpu)} CPU)", "", "", "")  # fmt: skip

    found = isolated(columnar_rates, rows, runs)
    assert found["checked"], "evaluate_frame disagrees with evaluate"
    for label, text in (
        ("arrow", "pyarrow Table (string columns)"),
        ("pandas", "pandas DataFrame (str columns)"),
        ("categorical", "pandas DataFrame (categorical columns)"),
    ):
        wall, cpu = found[label]
        line(
            f"`evaluate_frame`, {rows:,} all-distinct rows, {text}, "
            f"{found['distinct_fired']:,} distinct sets of fired rules, "
            f"{found['depending_rows']:,} rows with a depends_on",
            f"{rate(wall)} wall, {rate(cpu)} CPU",
            f"{wall / durable_wall:.0f}x / {cpu / durable_cpu:.0f}x durable; "
            f"{wall / native_wall:.0f}x / {cpu / native_cpu:.0f}x native (wall / CPU)",
            ">= 20x, >= 1,000,000/s",
            yes(cpu / durable_cpu >= TARGETS["columnar_x"] and cpu >= TARGETS["columnar_rate"]),
        )

    for engine in ("durable", "native"):
        distinct = isolated(many_rates, 200_000, 200_000, engine)
        repeated = isolated(many_rates, 1_000_000, 5_000, engine)
        line(f"`evaluate_many`, {engine}: 200,000 all-distinct rows (cold)", rate(distinct),
             "", "", "")  # fmt: skip
        line(f"`evaluate_many`, {engine}: 1,000,000 rows of 5,000 distinct (99.5% cached)",
             rate(repeated), "", "", "")  # fmt: skip

    memory = isolated(memory_of_many, 100_000)
    line("`evaluate_many` memory, 100,000 all-distinct rows (tracemalloc, native)",
         f"{memory['held']:.0f} MB with the returned list; {memory['kept']:.0f} MB kept after "
         "it is dropped (the bounded caches)", "", "", "")  # fmt: skip
    line("`iter_evaluate` peak, the same 100,000 rows, batches of 10,000",
         f"{memory['streamed']:.0f} MB", "", "", "")  # fmt: skip
    for engine in ("durable", "native"):
        growth, total, seconds = isolated(memory_of_evaluate, engine, 1_000_000)
        line(
            f"RSS growth over 1,000,000 single `evaluate` calls, {engine}, distinct profiles "
            f"after a warm-up of 20,000 ({seconds:.0f} s; {total:+.1f} MB from before loading)",
            f"{growth:+.1f} MB", "", "< 50 MB", yes(growth < TARGETS["memory"]),
        )  # fmt: skip

    imported, loaded = import_time(7)
    line("`import immunorules`, fresh process", f"{imported * 1000:.0f} ms",
         f"then `ir.load_rules()` {loaded * 1000:.0f} ms (first use: models, YAML, engine)",
         "< 300 ms", yes(imported < TARGETS["import"]))  # fmt: skip

    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "cohort.parquet"
        start = time.perf_counter()
        write_parquet(source, cli_rows)
        print(f"# wrote {cli_rows:,} rows in {time.perf_counter() - start:.0f} s", flush=True)
        elapsed, peak, code = cli_run(source, Path(folder) / "answers.parquet")
        assert code == 0, code
        line(f"`immunorules cohort` Parquet in and out, {cli_rows:,} all-distinct rows",
             f"peak RSS {peak:,.0f} MB; {elapsed:.0f} s ({cli_rows / elapsed:,.0f} rows/s)",
             reference, "< 1,500 MB", yes(peak < TARGETS["cli_rss"]))  # fmt: skip
        if not args.no_dask:
            one = dask_rate(source, 1, cli_rows)
            two = dask_rate(source, 2, cli_rows)
            line(f"`immunorules.dask.evaluate`, {cli_rows:,} rows read from Parquet",
                 f"2 workers {rate(two)}, 1 worker {rate(one)}: {two / one:.2f}x", reference,
                 ">= 1.5x", yes(two / one >= TARGETS["dask_x"]))  # fmt: skip
    print("\n| figure (median) | measured | same-run reference | target | met |")
    print("|---|---:|---|---:|:---:|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
