"""Per-row cost: one ``evaluate(dict)`` against validating the same dict with pydantic.

    PYTHONPATH=src python benchmarks/perrow_bench.py [--profiles 20000] [--rules DIR]
        [--leave-out P]

Not part of the test suite. In one run and on the same profiles it measures pydantic
validation alone (``kb.profile_model.model_validate(d)``, which is also what ``kb.parse(d)`` does:
a plain dict of valid values takes a fast path to the very profile validation gives; and, for
reference, pydantic-core's validator of the same model without that fast path), ``evaluate``
on the native engine and ``evaluate`` on the durable engine, each with and without
``depends_on`` (the dependencies on fields not stated; ``depends_on=False`` skips them), and
prints each throughput and its ratio to validation's (the ratio of ``evaluate`` to ``evaluate
depends_on=False`` is the cost of ``Result.depends_on``), and, for reference, durable_rules' own
calls for the same profiles (``assert_fact`` with the fact the durable engine builds, its
actions, ``retract_fact``, in the session each ruleset keeps): the floor of the durable engine,
however little of its own it adds.
Every profile is distinct and never seen by the knowledge base that evaluates it; each engine's
knowledge base is fresh, its caches cold (``cold``), and then, in a second pass on other
never-seen profiles, warm from that first pass (``warm``); a third pass (``seen``) evaluates
the second pass's profiles again, so that every cache hits: the floor of ``evaluate`` on this
design, whatever profiles it gets. All are measured in interleaved slices of the same
profiles, in CPU time of this process (``time.process_time``), so that other load on the
machine hits them alike.

Python's cyclic garbage collector runs a full collection (generation 2) now and then, over
every tracked object of the process (the loaded knowledge bases of both engines, their caches,
the profiles); it falls inside whichever slice happens to be running, takes about as long as
hundreds of evaluations, and so makes one ratio swing from run to run. Each full collection's
CPU time is therefore also recorded per runner, and the cost of ``depends_on`` is printed both
as measured and without the full collections that fell in either runner's slices (the young
generations' collections, which each runner's own allocations cause, stay in); so is each
``evaluate`` runner's throughput where full collections fell in its slices (beside
validation's without those in its own).
"""

from __future__ import annotations

import argparse
import gc
import random
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
    the fact retracted); the facts are prepared beforehand, outside the measure."""
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
    args = parser.parse_args(argv)
    count: int = args.profiles

    native = ir.load_rules(args.rules, engine="native")
    kbs = {"native": native}
    try:
        kbs["durable"] = ir.load_rules(args.rules, engine="durable")
    except ir.EngineError as exc:
        print(f"the durable engine is left out: {exc}")
    model = native.profile_model
    profiles = distinct_profiles(native, 2 * count, seed=11, leave_out=args.leave_out)
    runners: dict[str, Callable[[dict[str, Any]], object]] = {
        "pydantic validation": model.model_validate,
        # pydantic-core alone, without the profile model's fast path for plain dicts
        "pydantic-core validation": model.__pydantic_validator__.validate_python,
    }
    for name, kb in kbs.items():
        runners[f"evaluate, {name} engine"] = kb.evaluate
        # the same without the dependencies on fields not stated (Result.depends_on), on a
        # knowledge base of its own: its caches are as cold as the other's
        twin = ir.load_rules(args.rules, engine=kb.engine)  # type: ignore[arg-type]
        runners[f"evaluate depends_on=False, {name} engine"] = partial(
            twin.evaluate, depends_on=False
        )
    print(
        f"# per-row cost, {len(native.active_rules)} active rules, {count:,} distinct never-seen "
        "profiles per pass\n"
    )
    print("| pass | measure | profiles/s | ratio to validation |")
    print("|---|---|---:|---:|")
    passes = [("cold", profiles[:count]), ("warm", profiles[count:])]
    if args.seen:
        passes.append(("seen", profiles[count:]))
    full = FullCollections()
    gc.callbacks.append(full)
    for label, part in passes:
        if "durable" in kbs:
            runners["durable_rules alone (assert_fact, actions, retract_fact)"] = durable_alone(
                kbs["durable"], part
            )
        full.spent.clear()
        spent = interleaved(runners, part, full)
        base = count / spent["pydantic validation"]
        for name, seconds in spent.items():
            rate = count / seconds
            print(f"| {label} | {name} | {rate:,.0f} | {rate / base:.2f} |")
        # each evaluate runner again without the full collections that fell in its slices
        # (and validation without those in its own)
        validation = "pydantic validation"
        calm_base = count / (spent[validation] - full.spent.get(validation, 0.0))
        for name, seconds in spent.items():
            paused_here = full.spent.get(name, 0.0)
            if name.startswith("evaluate") and paused_here:
                rate = count / (seconds - paused_here)
                print(
                    f"| {label} | {name}, without full collections ({paused_here:.2f} s of "
                    f"them) | {rate:,.0f} | {rate / calm_base:.2f} |"
                )
        for name in kbs:
            with_it, without = (
                f"evaluate, {name} engine",
                f"evaluate depends_on=False, {name} engine",
            )
            ratio = spent[with_it] / spent[without]
            print(f"| {label} | cost of depends_on, {name} engine | | {ratio:.2f}x |")
            paused = {key: full.spent.get(key, 0.0) for key in (with_it, without)}
            calm = (spent[with_it] - paused[with_it]) / (spent[without] - paused[without])
            print(
                f"| {label} | cost of depends_on, {name} engine, without full collections "
                f"({paused[with_it]:.2f} s / {paused[without]:.2f} s of them) | | {calm:.2f}x |"
            )


if __name__ == "__main__":
    main()
