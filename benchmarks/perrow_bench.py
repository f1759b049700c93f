"""Per-row cost: one ``evaluate(dict)`` against validating the same dict with pydantic.

    PYTHONPATH=src python benchmarks/perrow_bench.py [--profiles 20000] [--rules DIR]
        [--leave-out P] [--no-seen]

Not part of the test suite. Each engine (native, durable) is measured in a process of its
own, so that the garbage collector's full passes walk that engine's knowledge bases only, not
the other's: two fresh knowledge bases, one evaluating with ``depends_on`` (the dependencies
on fields not stated) and one without (``depends_on=False``; its caches as cold as the
other's), and, on the same profiles and interleaved with them slice by slice, the references:
pydantic validation alone (``kb.profile_model.model_validate(d)``, which is also what
``kb.parse(d)`` does: a plain dict of valid values takes a fast path to the very profile
validation gives) and, for reference, pydantic-core's validator of the same model without that
fast path; with the durable engine, also durable_rules' own calls for the same profiles
(``assert_fact`` with the fact the durable engine builds, its actions, ``retract_fact``, in the
session each ruleset keeps, in the rulesets of a third knowledge base, so that preparing those
facts builds no ruleset a measured one would then find built): the floor of the durable
engine, however little of its own it adds. Each throughput is printed with its ratio to
validation's in the same process, and the ratio of ``evaluate`` to ``evaluate
depends_on=False`` is the cost of ``Result.depends_on``.

Every profile is distinct and never seen by the knowledge base that evaluates it; it states
every field ``benchmarks/synthetic.py``'s ``random_profile`` draws (``--leave-out`` leaves out
those whose default is not stated). The knowledge base is fresh, its caches cold (``cold``),
and then, in a second pass on other never-seen profiles, warm from that first pass
(``warm``); a third pass (``seen``) evaluates the second pass's profiles again, so that every
cache hits: the floor of ``evaluate`` on this design, whatever profiles it gets. Times are CPU
times of the measuring process (``time.process_time``), so that other load on the machine
hits runners alike.

Python's cyclic garbage collector runs a full collection (generation 2) now and then, over
every tracked object of the process (the knowledge bases, their caches); it falls inside
whichever slice happens to be running and makes one ratio swing from run to run. Each full
collection's CPU time is therefore also recorded per runner, and each ``evaluate`` runner's
throughput is printed again without the full collections that fell in its slices (beside
validation's without those in its own), and so is the cost of ``depends_on``.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]

from synthetic import random_profile  # noqa: E402

import immunorules as ir  # noqa: E402

SLICES = 20


def distinct_profiles(
    kb: ir.KnowledgeBase, count: int, seed: int, leave_out: float = 0.0
) -> list[dict[str, Any]]:
    """``count`` random valid profiles (dicts), no two the same profile; each field the
    vocabulary leaves not stated by default is left out with probability ``leave_out``."""
    rng = random.Random(seed)
    seen: set[ir.ConditionProfile] = set()
    found: list[dict[str, Any]] = []
    schema = kb.schema
    optional = [
        name
        for name, field in schema.fields.items()
        if field.nullable and not field.required and schema.defaults[name] is None
    ]
    while len(found) < count:
        data = random_profile(rng)
        for name in optional:
            if name in data and name != "condition" and rng.random() < leave_out:
                del data[name]
        profile = kb.parse(data)
        if profile not in seen:
            seen.add(profile)
            found.append(data)
    return found


class FullCollections:
    """CPU seconds of the garbage collector's full collections, per runner that was running."""

    def __init__(self) -> None:
        self.running = ""
        self.spent: dict[str, float] = {}
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._began = time.process_time()
        else:
            took = time.process_time() - self._began
            self.spent[self.running] = self.spent.get(self.running, 0.0) + took


def interleaved(
    runners: dict[str, Callable[[dict[str, Any]], object]],
    profiles: Sequence[dict[str, Any]],
    full: FullCollections | None = None,
) -> dict[str, float]:
    """Seconds each runner takes over ``profiles``, run slice by slice in turn (``full``, if
    given, is told which runner is running)."""
    spent = dict.fromkeys(runners, 0.0)
    step = max(1, len(profiles) // SLICES)
    for start in range(0, len(profiles), step):
        chunk = profiles[start : start + step]
        for name, run in runners.items():
            if full is not None:
                full.running = name
            began = time.process_time()
            for data in chunk:
                run(data)
            spent[name] += time.process_time() - began
    return spent


def durable_alone(
    kb: ir.KnowledgeBase, profiles: Sequence[dict[str, Any]]
) -> Callable[[dict[str, Any]], object]:
    """A runner that makes only durable_rules' own calls for each profile, as the durable
    matcher makes them (each ruleset's one kept session: the fact asserted, its actions read,
    the fact retracted); the facts are prepared beforehand, outside the measure, by ``kb``,
    which must be a knowledge base of its own (preparing builds the rulesets the facts need,
    which a measured knowledge base would then find built)."""
    from durable.engine import durable_rules_engine as engine

    matcher: Any = kb._matcher
    prepared: dict[int, list[tuple[int, str, str]]] = {}
    for data in profiles:
        fact = kb.space.fact(kb.parse(data))
        prepared[id(data)] = [
            (
                handle,
                f'{{"sid":"alone{handle}","id":"fact","profile":1{body}}}',
                f'{{"sid":"alone{handle}","id":"fact"}}',
            )
            for handle, body in matcher._payloads(fact)  # the rulesets the fact is asserted in
        ]

    def run(data: dict[str, Any]) -> None:
        for handle, text, retract in prepared[id(data)]:
            code, state = engine.assert_fact(handle, text)
            if code:
                raise RuntimeError(f"durable_rules refused the fact (result code {code})")
            started = engine.start_action_for_state(handle, state)
            message = started[1] if started else None
            while message:
                message = engine.complete_and_start_action(handle, state)
            engine.retract_fact(handle, retract)

    return run


#: The engines measured, each in a process of its own.
ENGINES = ("native", "durable")
VALIDATION = "pydantic validation"


def _label(engine: str, depends_on: bool) -> str:
    return f"evaluate{'' if depends_on else ' depends_on=False'}, {engine} engine"


def measure(
    engine: str, count: int, rules: str | None, leave_out: float, seen: bool
) -> dict[str, Any]:
    """In this process: two fresh knowledge bases of ``engine``, one evaluating with
    ``depends_on`` and one without (its caches as cold as the other's), and the references,
    interleaved on each pass; per pass, per runner, the CPU seconds it took and those of the
    full collections that fell in its slices (``{"left out": why}`` when the engine cannot
    load)."""
    try:
        kb = ir.load_rules(rules, engine=engine)  # type: ignore[arg-type]
        twin = ir.load_rules(rules, engine=engine)  # type: ignore[arg-type]
        alone = None
        if engine == "durable":  # durable_rules alone asserts in a third one's rulesets
            alone = ir.load_rules(rules, engine="durable")
    except ir.EngineError as exc:
        return {"left out": str(exc)}
    profiles = distinct_profiles(kb, 2 * count, seed=11, leave_out=leave_out)
    model = kb.profile_model
    runners: dict[str, Callable[[dict[str, Any]], object]] = {
        VALIDATION: model.model_validate,
        # pydantic-core alone, without the profile model's fast path for plain dicts
        "pydantic-core validation": model.__pydantic_validator__.validate_python,
        _label(engine, True): kb.evaluate,
        _label(engine, False): partial(twin.evaluate, depends_on=False),
    }
    passes = [("cold", profiles[:count]), ("warm", profiles[count:])]
    if seen:
        passes.append(("seen", profiles[count:]))
    full = FullCollections()
    gc.collect()
    gc.callbacks.append(full)
    found: dict[str, Any] = {"active rules": len(kb.active_rules)}
    for name, part in passes:
        if alone is not None:
            runners["durable_rules alone (assert_fact, actions, retract_fact)"] = durable_alone(
                alone, part
            )
        full.spent.clear()
        spent = interleaved(runners, part, full)
        found[name] = {key: (seconds, full.spent.get(key, 0.0)) for key, seconds in spent.items()}
    return found


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=20_000, help="profiles per pass")
    parser.add_argument("--rules", help="rule files or folder (default: the bundled rules)")
    parser.add_argument(
        "--leave-out",
        type=float,
        default=0.0,
        help="leave each field whose default is not stated out of a profile with this "
        "probability (default 0: every field random_profile draws is stated)",
    )
    parser.add_argument(
        "--no-seen",
        dest="seen",
        action="store_false",
        help="leave out the third pass (the second pass's profiles again: every cache hits)",
    )
    parser.add_argument("--child", metavar="ENGINE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    count: int = args.profiles
    if args.child:
        print(json.dumps(measure(args.child, count, args.rules, args.leave_out, args.seen)))
        return
    results: dict[str, dict[str, Any]] = {}
    for engine in ENGINES:
        command = [sys.executable, str(Path(__file__).resolve()), "--child", engine]
        command += ["--profiles", str(count)]
        command += ["--leave-out", str(args.leave_out)]
        command += [] if args.seen else ["--no-seen"]
        command += ["--rules", args.rules] if args.rules else []
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            sys.exit(f"measuring the {engine} engine failed:\n{done.stderr}")
        found = json.loads(done.stdout.strip().splitlines()[-1])
        if "left out" in found:
            print(f"the {engine} engine is left out: {found['left out']}")
            continue
        results[engine] = found
    rules = next(iter(results.values()))["active rules"]
    print(
        f"# per-row cost, {rules} active rules, {count:,} distinct never-seen profiles per "
        "pass; each engine in a process of its own, beside validation in that process\n"
    )
    print("| pass | measure | profiles/s | ratio to validation |")
    print("|---|---|---:|---:|")
    for name in ("cold", "warm", "seen") if args.seen else ("cold", "warm"):
        report(name, count, results)


def report(name: str, count: int, results: dict[str, dict[str, Any]]) -> None:
    """The rows of one pass: validation's throughput (in each engine's process), then each
    runner's throughput and its ratio to validation in its own process, then the cost of
    ``depends_on`` (the two runners of an engine, interleaved in its process)."""
    rows: list[tuple[str, float, float]] = []
    references: dict[str, list[float]] = {}
    costs: list[tuple[str, float, float]] = []
    for engine, found in results.items():
        spent = found[name]
        base = count / spent[VALIDATION][0]
        calm_base = count / (spent[VALIDATION][0] - spent[VALIDATION][1])
        references.setdefault(VALIDATION, []).append(base)
        for key, (seconds, paused) in spent.items():
            rate = count / seconds
            if not key.startswith("evaluate"):
                if key != VALIDATION:
                    references.setdefault(key, []).append(rate / base)
                continue
            rows.append((key, rate, rate / base))
            if paused:
                calm = count / (seconds - paused)
                label = f"{key}, without full collections ({paused:.2f} s of them)"
                rows.append((label, calm, calm / calm_base))
        (with_it, paused_with), (without, paused_without) = (
            spent[_label(engine, True)],
            spent[_label(engine, False)],
        )
        costs.append(
            (engine, with_it / without, (with_it - paused_with) / (without - paused_without))
        )
    low, high = min(references[VALIDATION]), max(references[VALIDATION])
    print(
        f"| {name} | {VALIDATION} (the reference, in each process) "
        f"| {low:,.0f}-{high:,.0f} | 1.00 |"
    )
    for key, ratios in references.items():
        if key != VALIDATION:
            low_ratio, high_ratio = f"{min(ratios):.2f}", f"{max(ratios):.2f}"
            shown = low_ratio if low_ratio == high_ratio else f"{low_ratio}-{high_ratio}"
            print(f"| {name} | {key} | | {shown} |")
    for label, rate, ratio in rows:
        print(f"| {name} | {label} | {rate:,.0f} | {ratio:.2f} |")
    for engine, cost, calm in costs:
        print(f"| {name} | cost of depends_on, {engine} engine | | {cost:.2f}x |")
        print(
            f"| {name} | cost of depends_on, {engine} engine, without full collections "
            f"| | {calm:.2f}x |"
        )


if __name__ == "__main__":
    main()
