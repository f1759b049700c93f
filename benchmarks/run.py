"""Benchmark immunorules against its targets and, side by side, against other rule engines.

    PYTHONPATH=src python benchmarks/run.py [--quick] [--rules DIR] [--no-anchors]

Not part of the test suite. Needs the ``bench`` extra for the anchors and memory figures
(``pip install -e ".[bench]"``); an anchor whose engine does not import is reported as such.

Every figure is the median of several runs in this one process (anchors each in a process of
their own, so one that crashes or leaks cannot disturb the others), on the bundled knowledge
base unless ``--rules`` names other rule files. Profiles are random valid ones (about one in ten
without a condition, 15% chance for each risk flag); "never seen" means the knowledge base has
not evaluated that profile before (its resolution caches are warm from other profiles, as they
are in any long run). The anchors match only (rule ids out), on the same profiles and the same
rules, and every answer is checked against the native engine's: the ``mismatches`` column.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import gc
import importlib
import multiprocessing
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]

from synthetic import random_profile  # noqa: E402

import immunorules as ir  # noqa: E402
from immunorules._model.matching import RuleMatcher  # noqa: E402
from immunorules._model.schema import bundled_schema  # noqa: E402

TARGETS = {
    "durable": 5_000,
    "native": 60_000,
    "many": 500_000,
    "memory": 50.0,
    "load": 0.300,
    "audit": 2.0,
}
#: (label, module, keyword arguments) of each anchor, in the order of the table.
ANCHORS: list[tuple[str, str, dict[str, Any]]] = [
    ("naive", "anchors.naive", {}),
    ("durable-stock", "anchors.durable_stock", {}),
    ("zen", "anchors.zen", {}),
    ("clips-stock", "anchors.clips_anchor", {"patched": False}),
    ("clips-patched", "anchors.clips_anchor", {"patched": True}),
    ("experta", "anchors.experta_anchor", {}),
]


def rss_mb() -> float:
    """This process's resident set size in MB."""
    try:
        import psutil

        return float(psutil.Process().memory_info().rss) / 2**20
    except ImportError:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def median_rate(count: int, runs: Sequence[float]) -> float:
    return count / statistics.median(runs)


class Profiles:
    """Random valid profiles, never the same twice from one instance."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seen: set[ir.ConditionProfile] = set()

    def fresh(self, count: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while len(found) < count:
            data = random_profile(self.rng)
            profile = bundled_schema().parse(data)
            if profile not in self.seen:
                self.seen.add(profile)
                found.append(data)
        return found


def load(rules: str | None, engine: str) -> ir.KnowledgeBase:
    return ir.load_rules(rules, engine=engine)  # type: ignore[arg-type]


# -- our figures ------------------------------------------------------------------------------


def bench_evaluate(
    rules: str | None, engine: str, seed: int, count: int, runs: int, warm: int
) -> tuple[float, float]:
    """Single ``evaluate`` (dict in, full explained result out) on never-seen profiles: the
    rate on a fresh knowledge base (its first ``count`` profiles; median of ``runs`` fresh
    ones), and the steady rate after a warm-up of ``warm`` other profiles."""
    profiles = Profiles(seed)
    cold = []
    for _ in range(runs):
        kb = load(rules, engine)
        batch = profiles.fresh(count)
        start = time.perf_counter()
        for data in batch:
            kb.evaluate(data)
        cold.append(time.perf_counter() - start)
    for data in profiles.fresh(warm):  # resolution caches warm, as in any long run
        kb.evaluate(data)
    steady = []
    for _ in range(runs):
        batch = profiles.fresh(count)
        start = time.perf_counter()
        for data in batch:
            kb.evaluate(data)
        steady.append(time.perf_counter() - start)
    return median_rate(count, cold), median_rate(count, steady)


def bench_many(rules: str | None, engine: str, rows: int, distinct: int, runs: int) -> float:
    """``evaluate_many`` over ``rows`` rows drawn from ``distinct`` profiles, fresh knowledge
    base each run (so the distinct profiles are evaluated within the timed call)."""
    pool = Profiles(seed=99).fresh(distinct)
    rng = random.Random(5)
    batch = [pool[rng.randrange(distinct)] for _ in range(rows)]
    times = []
    for _ in range(runs):
        kb = load(rules, engine)
        start = time.perf_counter()
        results = kb.evaluate_many(batch)
        times.append(time.perf_counter() - start)
        assert len(results) == rows
        del results
    return median_rate(rows, times)


def bench_memory(rules: str | None, engine: str, count: int) -> tuple[float, float, float]:
    """RSS growth (MB) over ``count`` evaluations of random profiles after a warm-up of 20,000,
    the growth from before the knowledge base was loaded, and the seconds it took."""
    gc.collect()
    start_rss = rss_mb()
    kb = load(rules, engine)
    rng = random.Random(123)
    for _ in range(20_000):
        kb.evaluate(random_profile(rng))
    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    for _ in range(count):
        kb.evaluate(random_profile(rng))
    elapsed = time.perf_counter() - start
    gc.collect()
    after = rss_mb()
    return after - before, after - start_rss, elapsed


def bench_many_memory(rules: str | None, engine: str, rows: int, distinct: int) -> float:
    """RSS growth (MB) of repeated ``evaluate_many`` calls, results dropped each time."""
    kb = load(rules, engine)
    pool = Profiles(seed=7).fresh(distinct)
    rng = random.Random(8)
    chunk = [pool[rng.randrange(distinct)] for _ in range(10_000)]
    kb.evaluate_many(chunk)
    gc.collect()
    before = rss_mb()
    for _ in range(rows // len(chunk)):
        kb.evaluate_many(chunk)
    gc.collect()
    return rss_mb() - before


def bench_load(rules: str | None, engine: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        load(rules, engine)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_audit(rules: str | None, runs: int) -> float:
    times = []
    for _ in range(runs):
        kb = load(rules, "native")
        start = time.perf_counter()
        ir.audit(kb)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def isolated(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in a fresh process (for memory figures untouched by earlier runs)."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


# -- anchors (matching only) ------------------------------------------------------------------


def run_anchor(
    module: str,
    options: dict[str, Any],
    rules: Sequence[RuleMatcher],
    facts: Sequence[dict[str, Any]],
    oracle: Sequence[frozenset[str]],
    runs: int,
) -> dict[str, Any]:
    """In a process of its own: build the anchor, time it, check it, measure its memory."""
    from anchors import Unavailable

    try:
        anchor = importlib.import_module(module).build(rules, **options)
    except Unavailable as unavailable:
        return {"error": str(unavailable)}
    found = [anchor.match(fact) for fact in facts]  # warm-up; checked below
    mismatches = sum(a != b for a, b in zip(found, oracle, strict=True))
    del found
    gc.collect()
    before = rss_mb()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for fact in facts:
            anchor.match(fact)
        times.append(time.perf_counter() - start)
    gc.collect()
    return {
        "name": anchor.name,
        "note": anchor.note,
        "rate": median_rate(len(facts), times),
        "mismatches": mismatches,
        "rss": rss_mb() - before,
        "evaluations": runs * len(facts),
    }


def ours_matching(
    kb: ir.KnowledgeBase,
    facts: Sequence[dict[str, Any]],
    oracle: Sequence[frozenset[str]],
    runs: int,
) -> dict[str, Any]:
    match = kb._matcher.match
    times, mismatches = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        found = [match(fact) for fact in facts]
        times.append(time.perf_counter() - start)
        mismatches = sum(a != b for a, b in zip(found, oracle, strict=True))
    return {"rate": median_rate(len(facts), times), "mismatches": mismatches}


# -- report -----------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = [f"Python {platform.python_version()}"]
    for name in ("durable_rules", "zen-engine", "clipspy", "experta", "pydantic"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def status(ok: bool) -> str:
    return "yes" if ok else "**no**"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the work (rough)")
    parser.add_argument("--rules", help="rule files or folder (default: the bundled rules)")
    parser.add_argument("--no-anchors", action="store_true", help="our figures only")
    parser.add_argument("--anchor-profiles", type=int, default=3000)
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    rules: str | None = args.rules
    say: Callable[..., None] = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731

    kb_native = load(rules, "native")
    engines = ["native"]
    try:
        kb_durable: ir.KnowledgeBase | None = load(rules, "durable")
        engines.insert(0, "durable")
    except ir.EngineError:
        kb_durable = None
    default = engines[0]
    print(f"# immunorules benchmark, {datetime.date.today().isoformat()}\n")
    print(f"- machine: {machine()}")
    print(f"- software: {versions()}")
    print(
        f"- knowledge base: {kb_native.name} {kb_native.version}, "
        f"{len(kb_native.active_rules)} active rules"
    )
    print(
        f"- command: `PYTHONPATH=src python benchmarks/run.py{' --quick' if args.quick else ''}`\n"
    )

    rows: list[tuple[str, str, str, str]] = []
    for engine, count in (("durable", 4_000), ("native", 20_000)):
        if engine not in engines:
            continue
        say(f"{engine} evaluate ...")
        cold, steady = bench_evaluate(rules, engine, 1, count // scale, 5, 20_000 // scale)
        target = TARGETS[engine]
        rows.append(
            (
                f"{engine} engine: `evaluate`, never-seen profiles, after a warm-up of "
                f"{20_000 // scale:,} others",
                f"{steady:,.0f}/s",
                f">= {target:,}/s",
                status(steady >= target),
            )
        )
        rows.append(
            (
                f"{engine} engine: the same, first {count // scale:,} profiles of a fresh "
                "knowledge base",
                f"{cold:,.0f}/s",
                "",
                "",
            )
        )
    for engine in engines:
        say(f"evaluate_many ({engine}) ...")
        rate = bench_many(rules, engine, 1_000_000 // scale, 5_000, 3)
        rows.append(
            (
                f"{engine} engine: `evaluate_many`, 1,000,000 rows of 5,000 distinct "
                "(fresh knowledge base)".replace("1,000,000", f"{1_000_000 // scale:,}"),
                f"{rate:,.0f} rows/s",
                f">= {TARGETS['many']:,} rows/s",
                status(rate >= TARGETS["many"]),
            )
        )
    for engine in engines:
        say(f"memory ({engine}) ...")
        growth, total, elapsed = isolated(bench_memory, rules, engine, 1_000_000 // scale)
        rows.append(
            (
                f"{engine} engine: RSS growth over {1_000_000 // scale:,} `evaluate` calls "
                f"after a warm-up of 20,000 ({elapsed:.0f} s; {total:+.1f} MB in all, from before "
                "loading the rules, in a fresh process)",
                f"{growth:+.1f} MB",
                f"< {TARGETS['memory']:.0f} MB",
                status(growth < TARGETS["memory"]),
            )
        )
    say("evaluate_many memory ...")
    growth = isolated(bench_many_memory, rules, default, 1_000_000 // scale, 5_000)
    rows.append(
        (
            f"{default} engine: RSS growth over {1_000_000 // scale:,} `evaluate_many` rows",
            f"{growth:+.1f} MB",
            f"< {TARGETS['memory']:.0f} MB",
            status(growth < TARGETS["memory"]),
        )
    )
    say("load ...")
    seconds = bench_load(rules, default, 7)
    rows.append(
        (
            f"`load_rules()` ({default} engine)",
            f"{seconds * 1000:.0f} ms",
            f"< {TARGETS['load'] * 1000:.0f} ms",
            status(seconds < TARGETS["load"]),
        )
    )
    say("audit ...")
    seconds = bench_audit(rules, 3)
    rows.append(
        (
            "`audit()`",
            f"{seconds:.2f} s",
            f"< {TARGETS['audit']:.0f} s",
            status(seconds < TARGETS["audit"]),
        )
    )

    print("## Targets\n")
    print("| figure (median) | measured | target | met |")
    print("|---|---:|---:|:---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")

    if args.no_anchors:
        return
    count = max(300, args.anchor_profiles // scale)
    facts = [bundled_schema().parse(data).to_fact() for data in Profiles(3).fresh(count)]
    rule_matchers = [kb_native.space.matcher(rule) for rule in kb_native.active_rules]
    oracle = [kb_native._matcher.match(fact) for fact in facts]
    table: list[tuple[str, str, float | None, str, str, str]] = []
    say("anchors: ours ...")
    ours = ours_matching(kb_native, facts, oracle, 5)
    table.append(
        (
            "immunorules native (per-field bitsets)",
            "match",
            ours["rate"],
            str(ours["mismatches"]),
            "",
            "the engine's own `match`",
        )
    )
    if kb_durable is not None:
        ours = ours_matching(kb_durable, facts, oracle, 3)
        table.append(
            (
                "immunorules durable (C module driven directly)",
                "match",
                ours["rate"],
                str(ours["mismatches"]),
                "",
                "the engine's own `match`",
            )
        )
    context = multiprocessing.get_context("spawn")
    for label, module, options in ANCHORS:
        say(f"anchors: {label} ...")
        subset = facts if label != "experta" else facts[: max(100, count // 10)]
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
            future = pool.submit(
                run_anchor, module, options, rule_matchers, subset, oracle[: len(subset)], 3
            )
            try:
                found = future.result()
            except concurrent.futures.process.BrokenProcessPool:
                found = {"error": "crashed (the process died)"}
        if "error" in found:
            table.append((label, "match", None, "", "", found["error"]))
            continue
        growth = f"{found['rss']:+.1f} MB / {found['evaluations']:,}"
        table.append(
            (found["name"], "match", found["rate"], str(found["mismatches"]), growth, found["note"])
        )
    naive = next((rate for name, _, rate, *_ in table if name.startswith("naive")), None)
    print(f"\n## Matching only, side by side ({count:,} profiles, rule ids out)\n")
    print("| engine | profiles/s (median) | vs naive loop | mismatches | RSS growth | notes |")
    print("|---|---:|---:|---:|---:|---|")
    for name, _, rate, mismatches, growth, note in table:
        shown = "-" if rate is None else f"{rate:,.0f}"
        ratio = "-" if rate is None or not naive else f"{rate / naive:.2f}"
        print(f"| {name} | {shown} | {ratio} | {mismatches} | {growth} | {note} |")


if __name__ == "__main__":
    main()
