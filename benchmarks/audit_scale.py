"""How the exact audit, why_not and the decision table grow with the number of rules.

    python benchmarks/audit_scale.py [--sizes 100 300 1000 3000 5000] [--seed 0] [--timeout 600]
    python benchmarks/audit_scale.py --sizes 5000 --against 0.03 --audit-only \
        --baseline $(git merge-base HEAD main)

Each size runs in a fresh subprocess: it writes a generated rule set (``ruleset_gen.py``, shaped
like real rules; ``--against`` makes that share of its condition rules suggest against the
condition's direction, so conflicts exist), loads it with the native engine, then times
``immunorules.audit(kb)`` and reads the process's peak RSS (``ru_maxrss``) right after it, so
the figure is the audit's peak (with the loaded knowledge base). Then, in the same process
(unless ``--audit-only``), it times 16 ``kb.why_not`` calls (4 seeded random profiles x the 4
therapy categories) and the decision table (built, rendered as Markdown and CSV, grouped by file
and every row looked up by id).

``--baseline REV`` measures, in the same run and on the same rule sets, the audit of the code at
git revision ``REV`` (its ``src/`` extracted with ``git archive`` into a temporary folder; the
generator is always this one), each size in a fresh subprocess run side by side with the
current code's (so both meet the same load on a shared machine: compare the CPU seconds too),
printed beside the current code's row. Not part of the test suite: the targets are for this
benchmark (e.g. 1,000 rules under 10 s, 5,000 under 60 s, peak RSS under 1 GB on a 2-core
machine; 5,000 rules with 3% against under 10 s and 500 MB).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
# a child measuring another revision gets its src first on PYTHONPATH; this one's comes after
sys.path[:0] = [str(HERE), *os.environ.get("AUDIT_SCALE_SRC", "").split(os.pathsep), str(SRC)]
sys.path[:] = [entry for entry in sys.path if entry]

from ruleset_gen import write_rules  # noqa: E402
from synthetic import random_profiles, write_synthetic_rules  # noqa: E402

CATEGORIES = ("immunosuppressants", "immunostimulants", "biologic_therapies", "cellular_therapies")


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(
    count: int, seed: int, generator: str, *, against: float = 0.0, audit_only: bool = False
) -> dict[str, Any]:
    import immunorules as ir

    with tempfile.TemporaryDirectory() as tmp:
        if generator == "synthetic":
            write_synthetic_rules(tmp, count=count, seed=seed)
        else:
            write_rules(tmp, count=count, seed=seed, against=against)
        kb = ir.load_rules(tmp, engine="native")
    loaded_rss = peak_rss_mb()
    cpu = time.process_time()
    start = time.perf_counter()
    report = ir.audit(kb)
    audit_s = time.perf_counter() - start
    cpu_s = time.process_time() - cpu
    audit_rss = peak_rss_mb()
    totals = getattr(report, "totals", None) or {}
    measured = {
        "rules": report.active_rules,
        "audit_s": audit_s,
        "cpu_s": cpu_s,
        "rss_mb": audit_rss,
        "loaded_rss_mb": loaded_rss,
        "findings": len(report.findings),
        "total_findings": sum(totals.values()) if totals else len(report.findings),
        "conflicts": report.total("unresolved_conflict"),
        "counts": report.counts(),
        "code": str(Path(ir.__file__).resolve().parents[1]),
    }
    if audit_only:
        return measured
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
    return {**measured, "why_not_s": why_not_s, "table_s": table_s}


@contextlib.contextmanager
def revision_src(revision: str) -> Iterator[Path]:
    """The ``src`` folder of a git revision of this repository, extracted into a temporary
    folder (nothing in the repository or its worktrees changes)."""
    archive = subprocess.run(
        ["git", "-C", str(HERE.parent), "archive", "--format=tar", revision, "src"],
        capture_output=True,
        check=True,
    ).stdout
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp) / "src"


def run(
    count: int,
    seed: int,
    generator: str,
    timeout: float,
    *,
    against: float = 0.0,
    audit_only: bool = False,
    src: Path | None = None,
) -> dict[str, Any] | None:
    command = [sys.executable, __file__, "--child", str(count), "--seed", str(seed)]
    command += ["--generator", generator, "--against", str(against)]
    command += ["--audit-only"] if audit_only else []
    env = dict(os.environ)
    if src is not None:
        env["AUDIT_SCALE_SRC"] = str(src)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=True, env=env
        )
    except subprocess.TimeoutExpired:
        return None
    except subprocess.CalledProcessError as error:
        sys.stderr.write(error.stderr)
        raise
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _row(label: str, count: int, result: dict[str, Any] | None, timeout: float) -> str:
    if result is None:
        return f"{label:<9} {count:>6} {'timeout':>9}  (over {timeout:.0f} s)"
    counts = result["counts"]
    if "why_not_s" in result:
        extra = f" {result['why_not_s']:>10.2f} {result['table_s']:>8.3f}"
    else:
        extra = f" {'-':>10} {'-':>8}"
    return (
        f"{label:<9} {result['rules']:>6} {result['audit_s']:>9.2f} {result['cpu_s']:>7.2f}"
        f" {result['rss_mb']:>12.0f}"
        f"{extra}  {result['conflicts']:>9,}  {result['findings']}/{result['total_findings']}; "
        f"{counts['error']}, {counts['warning']}, {counts['info']}"
    )


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
    parser.add_argument(
        "--against",
        type=float,
        default=0.0,
        help="share of condition rules suggesting against the condition's direction (shaped)",
    )
    parser.add_argument(
        "--audit-only", action="store_true", help="time the audit only (no why_not, no table)"
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also measure the audit of git revision REV, in the same run, on the same rules",
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        found = child(
            args.child, args.seed, args.generator, against=args.against, audit_only=args.audit_only
        )
        print(json.dumps(found))
        return
    print(
        f"Python {sys.version.split()[0]}; {args.generator} rules, seed {args.seed}, "
        f"against {args.against:g}; load average {os.getloadavg()[0]:.2f} at the start"
    )
    head = (
        f"{'code':<9} {'rules':>6} {'audit s':>9} {'CPU s':>7} {'peak RSS MB':>12} "
        f"{'why_not s':>10} {'table s':>8}  {'conflicts':>9}"
    )
    print(f"{head}  findings (shown/total; error, warning, info)")
    with contextlib.ExitStack() as stack:
        baseline = None
        if args.baseline:
            baseline = stack.enter_context(revision_src(args.baseline))
        for count in args.sizes:
            options = {"against": args.against, "audit_only": args.audit_only}
            if baseline is None:
                result = run(count, args.seed, args.generator, args.timeout, **options)
                print(_row("current", count, result, args.timeout), flush=True)
                continue
            # side by side, so that both meet the same load on a shared machine
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                now = pool.submit(run, count, args.seed, args.generator, args.timeout, **options)
                before = pool.submit(
                    run, count, args.seed, args.generator, args.timeout, src=baseline, **options
                )
                print(_row("current", count, now.result(), args.timeout), flush=True)
                print(_row(args.baseline[:9], count, before.result(), args.timeout), flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
