"""How the exact audit, why_not and the decision table grow with the number of rules.

    python benchmarks/audit_scale.py [--sizes 100 300 1000 3000 5000] [--seed 0] [--timeout 600]

Each size runs in a fresh subprocess: it writes a generated rule set (``ruleset_gen.py``, shaped
like real rules), loads it with the native engine, then times ``immunorules.audit(kb)`` and
reads the process's peak RSS (``ru_maxrss``) right after it, so the figure is the audit's peak
(with the loaded knowledge base). Then, in the same process, it times 16 ``kb.why_not`` calls
(4 seeded random profiles x the 4 therapy categories) and the decision table (built, rendered
as Markdown and CSV, grouped by file and every row looked up by id). Not part of the test
suite: the targets are for this benchmark (e.g. 1,000 rules under 10 s, 5,000 under 60 s, peak
RSS under 1 GB on a 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]

from ruleset_gen import write_rules  # noqa: E402
from synthetic import random_profiles, write_synthetic_rules  # noqa: E402

CATEGORIES = ("immunosuppressants", "immunostimulants", "biologic_therapies", "cellular_therapies")


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(count: int, seed: int, generator: str) -> dict[str, Any]:
    import immunorules as ir

    with tempfile.TemporaryDirectory() as tmp:
        if generator == "synthetic":
            write_synthetic_rules(tmp, count=count, seed=seed)
        else:
            write_rules(tmp, count=count, seed=seed)
        kb = ir.load_rules(tmp, engine="native")
    loaded_rss = peak_rss_mb()
    start = time.perf_counter()
    report = ir.audit(kb)
    audit_s = time.perf_counter() - start
    audit_rss = peak_rss_mb()
    start = time.perf_counter()
    for profile in random_profiles(4, seed=seed + 1):
        for category in CATEGORIES:
            kb.why_not(profile, category)
    why_not_s = time.perf_counter() - start
    start = time.perf_counter()
    table = kb.decision_table()
    table.to_markdown()
    table.to_csv()
    table.by_file()
    for rule in kb.active_rules:
        table.row(rule.id)
    table_s = time.perf_counter() - start
    totals = getattr(report, "totals", None) or {}
    return {
        "rules": report.active_rules,
        "audit_s": audit_s,
        "rss_mb": audit_rss,
        "loaded_rss_mb": loaded_rss,
        "why_not_s": why_not_s,
        "table_s": table_s,
        "findings": len(report.findings),
        "total_findings": sum(totals.values()) if totals else len(report.findings),
        "counts": report.counts(),
    }


def run(count: int, seed: int, generator: str, timeout: float) -> dict[str, Any] | None:
    command = [sys.executable, __file__, "--child", str(count), "--seed", str(seed)]
    command += ["--generator", generator]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    except subprocess.CalledProcessError as error:
        sys.stderr.write(error.stderr)
        raise
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 300, 1000, 3000, 5000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=600.0, help="per size, in seconds")
    parser.add_argument(
        "--generator",
        choices=["shaped", "synthetic"],
        default="shaped",
        help="shaped: ruleset_gen.py (default); synthetic: synthetic.py's random rules",
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.seed, args.generator)))
        return
    print(f"Python {sys.version.split()[0]}; {args.generator} rules, seed {args.seed}")
    head = f"{'rules':>6} {'audit s':>9} {'peak RSS MB':>12} {'why_not s':>10} {'table s':>8}"
    print(f"{head}  findings (shown/total; error, warning, info)")
    for count in args.sizes:
        result = run(count, args.seed, args.generator, args.timeout)
        if result is None:
            print(f"{count:>6} {'timeout':>9}  (over {args.timeout:.0f} s)", flush=True)
            continue
        counts = result["counts"]
        print(
            f"{result['rules']:>6} {result['audit_s']:>9.2f} {result['rss_mb']:>12.0f} "
            f"{result['why_not_s']:>10.2f} {result['table_s']:>8.3f}  "
            f"{result['findings']}/{result['total_findings']}; {counts['error']}, "
            f"{counts['warning']}, {counts['info']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
