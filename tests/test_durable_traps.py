"""Regression tests for the durable_rules traps of SPEC §6, one or more per guard in ``_durable``.

Checks that could crash the interpreter without their guard (a segfault) run in a subprocess, so
the crash fails the test instead of killing pytest.
"""

from __future__ import annotations

import copy
import gc
import json
import os
import pickle
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

import immunorules
from immunorules._engines import durable as _durable
from immunorules._engines.durable import DurableMatcher, durable_available
from immunorules._errors import EngineError
from immunorules._model.matching import Fact, RuleMatcher

needs_durable = pytest.mark.skipif(not durable_available(), reason="durable_rules does not import")

RULES = (
    RuleMatcher("EVERYONE", ()),
    RuleMatcher(
        "RA-SEVERE", (("condition", frozenset({"ra"})), ("severity", frozenset({"severe"})))
    ),
    RuleMatcher("RA-ANY", (("condition", frozenset({"ra"})),)),
    RuleMatcher("NO-CONDITION", (("condition", frozenset({None})),)),
    RuleMatcher("LINES-1-TO-3", (("lines", frozenset({1, 2, 3})),)),
)


def fact(condition: str | None = "ra", severity: str | None = "severe", lines: int = 2) -> Fact:
    return {"condition": condition, "severity": severity, "lines": lines}


def oracle(rules: tuple[RuleMatcher, ...], fact: Fact) -> frozenset[str]:
    return frozenset(rule.rule_id for rule in rules if rule.holds(fact))


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that imports this checkout's immunorules."""
    source = str(Path(immunorules.__file__).parent.parent)
    path = os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": path},
        check=False,
    )


# 1. post consumes an event on its first match ------------------------------------------------


@needs_durable
def test_every_rule_that_holds_fires_and_the_same_fact_matches_again() -> None:
    matcher = DurableMatcher(RULES)
    expected = {"EVERYONE", "RA-SEVERE", "RA-ANY", "LINES-1-TO-3"}
    assert matcher.match(fact()) == expected
    assert matcher.match(fact()) == expected
    assert matcher.match(fact(condition=None)) == {"EVERYONE", "NO-CONDITION", "LINES-1-TO-3"}


@needs_durable
def test_each_evaluation_asserts_its_fact_in_the_kept_session_and_retracts_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, str, str]] = []
    engine = pytest.importorskip("durable_rules_engine")

    class Spy:
        def __getattr__(self, name: str) -> Any:
            def call(handle: int, argument: Any, *rest: Any) -> Any:
                if name in ("assert_event", "assert_fact", "retract_fact"):
                    sent = json.loads(argument)
                    calls.append((name, sent["sid"], sent["id"]))
                elif name == "delete_state":
                    calls.append((name, argument, ""))
                return getattr(engine, name)(handle, argument, *rest)

            return call

    matcher = DurableMatcher(RULES)
    monkeypatch.setattr(_durable, "durable_rules_engine", Spy())
    for _ in range(3):
        assert matcher.match(fact()) == oracle(RULES, fact())
        (handle, sid), *others = matcher._kept.items()
        assert not others
        assert json.loads(engine.get_facts(handle, sid)) == []  # nothing left between facts
    assert calls == [
        (name, sid, "fact") for _ in range(3) for name in ("assert_fact", "retract_fact")
    ]


@needs_durable
def test_a_fact_left_in_the_kept_session_is_refused_not_answered_for() -> None:
    """The next fact has the same id: durable refuses it, and the session is replaced."""
    engine = pytest.importorskip("durable_rules_engine")
    matcher = DurableMatcher(RULES)
    assert matcher.match(fact()) == oracle(RULES, fact())
    ((handle, sid),) = matcher._kept.items()
    engine.assert_fact(handle, json.dumps({"sid": sid, "id": "fact", "profile": 1}))
    with pytest.raises(EngineError, match="result code 2"):
        matcher.match(fact(condition=None))
    assert matcher._kept == {}
    with pytest.raises(engine.error, match="error code: 309"):  # no such session
        engine.get_state(handle, sid)
    for probe in (fact(condition=None), fact()):
        assert matcher.match(probe) == oracle(RULES, probe)
    assert matcher._kept[handle] != sid


# 2. an $or with several true branches fires a rule once per true branch ----------------------


@needs_durable
def test_a_rule_firing_twice_for_one_fact_is_reported_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiled rules have no $or, so this test makes every test a doubled one."""
    compile_test = _durable._condition
    monkeypatch.setattr(_durable, "_condition", lambda name: {"$or": [compile_test(name)] * 2})
    matcher = DurableMatcher(RULES)
    firings: list[str] = []
    note = matcher._action

    def counting(fired: set[str], rule: str) -> None:
        firings.extend(matcher._rule_ids.get(rule, (rule,)))
        note(fired, rule)

    monkeypatch.setattr(matcher, "_action", counting)
    assert matcher.match(fact()) == oracle(RULES, fact())
    assert firings.count("RA-ANY") == 2  # the trap is live: durable fired the rule twice


# 3. a ruleset name can be registered only once per host -------------------------------------


@needs_durable
def test_several_matchers_live_side_by_side() -> None:
    other_rules = (RuleMatcher("LINES-0", (("lines", frozenset({0})),)),)
    first, same, other = DurableMatcher(RULES), DurableMatcher(RULES), DurableMatcher(other_rules)
    for lines in (0, 2, 0, 2):
        probe = fact(lines=lines)
        assert first.match(probe) == same.match(probe) == oracle(RULES, probe)
        assert other.match(probe) == oracle(other_rules, probe)


# 4. a first fact that matches nothing, then delete_state, segfaults --------------------------


@needs_durable
def test_a_first_fact_that_matches_no_rule_does_not_crash() -> None:
    done = run_python(
        """
        from immunorules._engines.durable import DurableMatcher
        from immunorules._model.matching import RuleMatcher

        matcher = DurableMatcher([RuleMatcher("ONLY-RA", (("condition", frozenset({"ra"})),))])
        print(sorted(matcher.match({"condition": "psoriasis"})))
        print(sorted(matcher.match({"condition": "ra"})))
        print(sorted(DurableMatcher([]).match({"condition": "ra"})))
        """
    )
    assert (done.returncode, done.stdout.split()) == (0, ["[]", "['ONLY-RA']", "[]"]), done.stderr


# 5. more than 1,024 live sessions per ruleset raise MemoryError -----------------------------


@needs_durable
def test_a_ruleset_has_one_live_session_at_most(monkeypatch: pytest.MonkeyPatch) -> None:
    """2,601 evaluations, 1,100 of them failing; the matcher numbers its sessions 0, 1, ..."""
    matcher = DurableMatcher(RULES)
    for lines in range(1_500):
        assert matcher.match(fact(lines=lines % 5)) == oracle(RULES, fact(lines=lines % 5))

    def fail(fired: set[str], rule: str) -> None:
        raise ValueError("injected")

    with monkeypatch.context() as patch:  # failed evaluations delete their session
        patch.setattr(matcher, "_action", fail)
        for _ in range(1_100):
            with pytest.raises(EngineError):
                matcher.match(fact())
    assert matcher.match(fact()) == oracle(RULES, fact())
    engine = pytest.importorskip("durable_rules_engine")
    live = {sid: handle for handle, sid in matcher._kept.items()}
    assert len(live) <= len(matcher._handles)
    for sid in range(next(matcher._sessions)):
        if str(sid) in live:
            engine.get_state(live[str(sid)], str(sid))
        else:
            for handle in matcher._handles:
                with pytest.raises(engine.error, match="error code: 309"):  # no such session
                    engine.get_state(handle, str(sid))


@needs_durable
def test_a_matcher_no_longer_used_deletes_its_sessions_then_its_rulesets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = pytest.importorskip("durable_rules_engine")
    calls: list[tuple[str, int]] = []

    class Spy:
        def __getattr__(self, name: str) -> Any:
            def call(handle: int, *rest: Any) -> Any:
                if name in ("delete_state", "delete_ruleset"):
                    calls.append((name, handle))
                return getattr(engine, name)(handle, *rest)

            return call

    monkeypatch.setattr(_durable, "durable_rules_engine", Spy())
    matcher = DurableMatcher(RULES)
    for probe in (fact(), fact(condition=None), fact(lines=9)):
        assert matcher.match(probe) == oracle(RULES, probe)
    kept = dict(matcher._kept)
    handles = list(matcher._handles)
    assert kept and not calls
    del matcher
    gc.collect()
    assert calls == [
        *(("delete_state", handle) for handle in kept),
        *(("delete_ruleset", handle) for handle in handles),
    ]


# 6. exceptions inside actions are swallowed into the session state --------------------------


@needs_durable
def test_a_failing_action_raises_engine_error(monkeypatch: pytest.MonkeyPatch) -> None:
    matcher = DurableMatcher(RULES)
    cause = ValueError("injected failure")

    def fail(fired: set[str], rule: str) -> None:
        raise cause

    with monkeypatch.context() as patch:
        patch.setattr(matcher, "_action", fail)
        with pytest.raises(EngineError, match="injected failure") as caught:
            matcher.match(fact())
    assert caught.value.__cause__ is cause
    assert matcher.match(fact()) == oracle(RULES, fact())


@needs_durable
def test_an_interrupt_between_assert_and_retract_leaves_no_fact_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C in a notebook while durable runs the actions: the interrupt goes through as it
    is, and the next evaluation answers (no fact of the interrupted one refused or counted)."""
    matcher = DurableMatcher(RULES)

    def interrupt(fired: set[str], rule: str) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(matcher, "_action", interrupt)
        with pytest.raises(KeyboardInterrupt):
            matcher.match(fact())
    other = fact(condition="sle", severity="mild", lines=0)
    assert matcher.match(other) == oracle(RULES, other)
    assert matcher.match(fact()) == oracle(RULES, fact())


# 7. the stock Host's background dispatch thread races with callers ---------------------------


@needs_durable
def test_building_a_matcher_starts_no_thread() -> None:
    before = set(threading.enumerate())
    matcher = DurableMatcher(RULES)
    assert matcher.match(fact()) == oracle(RULES, fact())
    assert set(threading.enumerate()) <= before


@needs_durable
def test_eight_threads_at_once_get_the_oracle_results() -> None:
    """Two matchers, eight threads, a thread switch every microsecond (in a subprocess)."""
    done = run_python(
        """
        import itertools, sys, threading
        from immunorules._engines.durable import DurableMatcher
        from immunorules._model.matching import RuleMatcher

        conditions = ("ra", "psoriasis", None)
        rules = [
            RuleMatcher(f"R{i}-{j}", (("condition", frozenset(c)), ("lines", frozenset(n))))
            for i, c in enumerate(itertools.combinations(conditions, 2))
            for j, n in enumerate(((0,), (1, 2), (0, 3, 4), tuple(range(5))))
        ] + [RuleMatcher("SEVERE", (("severity", frozenset({"severe"})),))]
        engines = [(DurableMatcher(rules), rules), (DurableMatcher(rules[::2]), rules[::2])]
        facts = [
            {"condition": c, "severity": s, "lines": n}
            for c, s, n in itertools.product(conditions, ("mild", "severe", None), range(6))
        ]
        failures = []

        def work(offset):
            try:
                for turn in range(40):
                    for matcher, its_rules in engines:
                        for fact in facts[offset % 7 :: 3]:
                            expected = {r.rule_id for r in its_rules if r.holds(fact)}
                            if matcher.match(fact) != expected:
                                failures.append((fact, turn))
            except BaseException as error:
                failures.append(repr(error))

        sys.setswitchinterval(1e-6)
        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(len(failures), failures[:3])
        """
    )
    assert (done.returncode, done.stdout.strip()) == (0, "0 []"), done.stderr


@needs_durable
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_child_forked_while_another_thread_evaluates_can_evaluate() -> None:
    """A thread evaluates in a loop while 20 children are forked; each evaluates once, exits."""
    done = run_python(
        """
        import os, signal, threading, time
        from immunorules._engines.durable import DurableMatcher
        from immunorules._model.matching import RuleMatcher

        rules = [RuleMatcher(f"R{i}", (("condition", frozenset({"ra", f"c{i}"})),))
                 for i in range(30)]
        matcher = DurableMatcher(rules)
        fact = {"condition": "ra"}
        stop = threading.Event()

        def spin():
            while not stop.is_set():
                matcher.match(fact)

        thread = threading.Thread(target=spin)
        thread.start()
        children = []
        for _ in range(20):
            time.sleep(0.002)
            pid = os.fork()
            if pid == 0:
                try:
                    os._exit(0 if len(matcher.match(fact)) == 30 else 3)
                except BaseException:
                    os._exit(4)
            children.append(pid)
        stop.set()
        thread.join()
        deadline = time.monotonic() + 15
        codes = {}
        while len(codes) < len(children) and time.monotonic() < deadline:
            for pid in set(children) - set(codes):
                finished, status = os.waitpid(pid, os.WNOHANG)
                if finished:
                    codes[pid] = os.waitstatus_to_exitcode(status)
            time.sleep(0.01)
        for pid in set(children) - set(codes):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        print(len(children) - len(codes), "hung;", sorted(codes.values()))
        """
    )
    assert (done.returncode, done.stdout.strip()) == (0, f"0 hung; {[0] * 20}"), done.stderr


@needs_durable
def test_after_a_fork_the_sessions_kept_in_the_parent_are_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As if the parent forked while another thread had asserted a fact and not yet retracted
    it: the child deletes that session and starts a new one."""
    engine = pytest.importorskip("durable_rules_engine")
    matcher = DurableMatcher(RULES)
    assert matcher.match(fact()) == oracle(RULES, fact())
    ((handle, sid),) = matcher._kept.items()
    engine.assert_fact(handle, json.dumps({"sid": sid, "id": "fact", "profile": 1}))
    monkeypatch.setattr(_durable, "_GENERATION", _durable._GENERATION + 1)  # what fork does
    for probe in (fact(condition=None), fact()):
        assert matcher.match(probe) == oracle(RULES, probe)
    assert matcher._kept[handle] != sid
    with pytest.raises(engine.error, match="error code: 309"):  # no such session
        engine.get_state(handle, sid)


# 8. durable_rules does not import on Python >= 3.13 ------------------------------------------


def test_without_durable_rules_the_matcher_says_why() -> None:
    done = run_python(
        """
        import sys
        sys.modules["durable"] = sys.modules["durable_rules_engine"] = None  # imports fail
        from immunorules._engines.durable import DurableMatcher, durable_available
        from immunorules._errors import EngineError

        print(durable_available())
        try:
            DurableMatcher([])
        except EngineError as error:
            print("EngineError:", error)
        """
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    assert lines[0] == "False"
    assert lines[1].startswith("EngineError: the durable engine needs durable_rules")
    assert "engine='native'" in lines[1]


def test_durable_available_matches_the_interpreter() -> None:
    if sys.version_info >= (3, 13):
        assert not durable_available()
    else:
        assert durable_available()


# Beyond SPEC §6 -----------------------------------------------------------------------------


@needs_durable
def test_copies_and_pickles_get_a_ruleset_of_their_own() -> None:
    matcher = DurableMatcher(RULES)
    copies = [copy.copy(matcher), copy.deepcopy(matcher), pickle.loads(pickle.dumps(matcher))]
    assert len({*matcher._handles, *(h for other in copies for h in other._handles)}) == 4
    del matcher
    gc.collect()  # the original's ruleset is deleted; the copies' are not
    for other in copies:
        assert other.match(fact()) == oracle(RULES, fact())
