"""Benchmark the exact rule audit: the bundled knowledge base, then synthetic rule sets.

    PYTHONPATH=src python benchmarks/audit_bench.py [--runs 7] [--sizes 100 300 1000]

Prints the median (and min/max) wall time of ``ir.audit(kb)`` over ``--runs`` runs, each on a
freshly loaded knowledge base (so no result cache is reused), with the number of findings.
The engine (``--engine``, default auto) only matters for the golden cases, which are evaluated.
The synthetic rule sets (``benchmarks/synthetic.py``) are random and full of conflicts, so
their audit time mostly measures how many findings there are to report.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import immunorules as ir
from immunorules._api.knowledge_base import EngineName


def bench(label: str, paths: Path | None, runs: int, engine: EngineName) -> None:
    times = []
    report = None
    for _ in range(runs):
        kb = ir.load_rules(paths, engine=engine) if paths else ir.load_rules(engine=engine)
        start = time.perf_counter()
        report = ir.audit(kb)
        times.append(time.perf_counter() - start)
    assert report is not None
    counts = report.counts()
    print(
        f"{label:<24} {report.active_rules:>4} rules {kb.engine:<7} "
        f"median {statistics.median(times):7.3f} s"
        f"  (min {min(times):.3f}, max {max(times):.3f}, {runs} runs)"
        f"  findings: {counts['error']} error, {counts['warning']} warning, {counts['info']} info"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100])
    parser.add_argument("--engine", choices=["auto", "durable", "native"], default="auto")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}; every audit covers every valid profile")
    bench("bundled knowledge base", None, args.runs, args.engine)
    sys.path.insert(0, str(Path(__file__).parent))
    from synthetic import write_synthetic_rules  # benchmarks/synthetic.py

    with tempfile.TemporaryDirectory() as tmp:
        for count in args.sizes:
            folder = Path(tmp) / f"synthetic{count}"
            folder.mkdir()
            write_synthetic_rules(folder, count=count)
            bench(f"synthetic ({count} rules)", folder, max(1, args.runs // 2), args.engine)


if __name__ == "__main__":
    main()
