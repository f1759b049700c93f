"""zen-engine on the exported JDM against immunorules' own engines, on the same profiles.

    PYTHONPATH=src python benchmarks/interop_bench.py [--profiles 5000] [--rules DIR]

Not part of the test suite (needs zen-engine and pandas, both in the dev extra). In one run and
on the same distinct, never-seen profiles it measures, per profile:

- zen-engine evaluating the JDM that ``kb.to_jdm`` wrote (one decision made once, one
  ``evaluate`` per profile; its input is the profile as ``kb.parse`` completes it, prepared
  beforehand, since the tables read ``disease_area`` and ``immune_activity`` as given);
- immunorules' native engine, the same answer: ``kb.match`` and the collect policy's tiers,
  avoids and advisories (what the JDM answers, nothing more);
- the native engine's full ``kb.evaluate`` (a whole ``Result`` with reasons), with and without
  ``depends_on``;
- the columnar matcher: ``kb.evaluate_frame`` on the same profiles as one pandas DataFrame per
  slice (every column of the answer, for the whole slice at once), and once more on one frame
  of all of them (a knowledge base of its own).

Each runner has a knowledge base of its own, its caches cold; all run in interleaved slices in
CPU time of this process (``time.process_time``), so other load on the machine hits them alike.
Every zen-engine answer is checked against immunorules' before anything is timed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]

from perrow_bench import distinct_profiles  # noqa: E402

import immunorules as ir  # noqa: E402
from immunorules._interop import answer_of  # noqa: E402

SLICES = 20


def as_json(kb: ir.KnowledgeBase, data: dict[str, Any]) -> dict[str, Any]:
    profile = kb.parse(data)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in profile.__dict__.items()}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=5_000, help="profiles (default 5000)")
    parser.add_argument("--rules", help="rule files or folder (default: the bundled rules)")
    args = parser.parse_args(argv)

    import pandas as pd
    import zen

    def fresh() -> ir.KnowledgeBase:
        return ir.load_rules(args.rules, engine="native")

    exporter = fresh()
    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        path = exporter.to_jdm(Path(folder) / "kb.json")
        export_seconds = time.perf_counter() - began
        text = path.read_text()
    began = time.perf_counter()
    decision = zen.ZenEngine().create_decision(text)
    load_seconds = time.perf_counter() - began

    profiles = distinct_profiles(exporter, args.profiles, seed=24)
    inputs = {id(data): as_json(exporter, data) for data in profiles}
    wrong = sum(
        decision.evaluate(inputs[id(data)])["result"]
        != answer_of(exporter.schema, exporter.match(data))
        for data in profiles
    )

    same_answer, full, lean, frame_kb = fresh(), fresh(), fresh(), fresh()
    runners: dict[str, Callable[[dict[str, Any]], object]] = {
        "zen-engine, exported JDM": lambda data: decision.evaluate(inputs[id(data)]),
        "native engine, same answer (match + collect policy)": lambda data: answer_of(
            same_answer.schema, same_answer.match(data)
        ),
        "native engine, evaluate (full Result)": full.evaluate,
        "native engine, evaluate depends_on=False": lambda data: lean.evaluate(
            data, depends_on=False
        ),
    }
    spent = dict.fromkeys([*runners, "columnar matcher, evaluate_frame (per slice)"], 0.0)
    step = max(1, len(profiles) // SLICES)
    for start in range(0, len(profiles), step):
        chunk = profiles[start : start + step]
        for name, run in runners.items():
            began = time.process_time()
            for data in chunk:
                run(data)
            spent[name] += time.process_time() - began
        table = pd.DataFrame([as_json(frame_kb, data) for data in chunk])
        began = time.process_time()
        frame_kb.evaluate_frame(table)
        spent["columnar matcher, evaluate_frame (per slice)"] += time.process_time() - began

    whole = pd.DataFrame([as_json(frame_kb, data) for data in profiles])
    twin = fresh()
    began = time.process_time()
    twin.evaluate_frame(whole)
    spent["columnar matcher, evaluate_frame (one frame of all)"] = time.process_time() - began

    count = len(profiles)
    print(
        f"# zen-engine on the exported JDM, {len(exporter.active_rules)} active rules, "
        f"{count:,} distinct never-seen profiles\n"
    )
    print(
        f"JDM: {len(text) / 1e6:.2f} MB, exported in {export_seconds:.2f} s, loaded by zen-engine "
        f"in {load_seconds:.2f} s; answers differing from immunorules': {wrong} of {count:,}\n"
    )
    zen_rate = count / spent["zen-engine, exported JDM"]
    print("| measure | profiles/s | µs per profile | ratio to zen-engine |")
    print("|---|---:|---:|---:|")
    for name, seconds in spent.items():
        rate = count / seconds
        print(f"| {name} | {rate:,.0f} | {1e6 / rate:,.0f} | {rate / zen_rate:.2f} |")
    print(json.dumps({"profiles": count, "seconds": spent}, indent=None), file=sys.stderr)


if __name__ == "__main__":
    main()
