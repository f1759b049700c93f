"""The durable_rules engine: every rule compiles to one durable_rules rule over the profile fact.

This is the only module that imports durable_rules. Version 2.0.28 is unmaintained and has traps
(SPEC §6); each is neutralised here:

1. ``post`` consumes an event on its first match: the fact is asserted with ``assert_fact``, in a
   session (``sid``) of its own that is deleted in ``finally``.
2. an ``$or`` with several true branches fires its rule once per branch: firings go into a set.
3. a ruleset name registers once per host: each matcher has its own host, and its ruleset a
   process-unique name.
4. a first fact that matches nothing, then ``delete_state``, segfaults: a sentinel rule matches
   every fact (and is left out of the results).
5. more than 1,024 live sessions per ruleset raise ``MemoryError``: no session outlives its
   evaluation, failed ones included.
6. exceptions inside actions are swallowed into the session state: durable's dispatcher (which
   also round-trips the state through JSON after every action, and silently drops the rest of an
   evaluation once an action has run for 10 seconds) never runs. The matcher reads the fired
   rules of its session itself, runs their action, and raises any failure, in an action or in
   the engine, as :class:`EngineError` once the session is deleted.
7. the stock ``Host`` runs background dispatch threads that race with callers: ``_QuietHost``
   starts none, and one lock serialises evaluations.
8. durable_rules does not import on Python >= 3.13: the import is guarded,
   :func:`durable_available` says so, and :class:`DurableMatcher` raises :class:`EngineError`.

Every rule, the sentinel included, also tests a mark that only profile facts carry, so none
matches the session's own state fact (``{"sid": ..., "$s": 1}``); under durable's dispatcher, a
rule that matched it would refire after every action, forever.

Values never reach the engine as they are. Each field's values named by any rule are numbered in
a fixed order, and the fact carries those numbers (-1 for a value no rule names); a rule's
allowed set becomes one ``==`` per number, or a ``>=``/``<=`` range per run of consecutive
numbers. durable_rules then only compares small integers, so ``None`` (which ``!=`` mishandles),
``True`` against ``1`` and ``"1"`` against ``1`` (which it coerces), and strings with odd
characters all mean exactly what Python's ``in`` means: fact values are looked up in a dict, with
Python's own equality, as :meth:`RuleMatcher.holds` does.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Sequence
from typing import Any, Final

from .._errors import EngineError
from .._model.matching import Fact, RuleMatcher, Scalar

try:
    from durable.engine import Host, durable_rules_engine  # the C extension, as durable uses it
except ImportError as error:  # Python >= 3.13 (PyEval_CallObject is gone), or not installed
    _IMPORT_ERROR: ImportError | None = error
else:
    _IMPORT_ERROR = None

    class _QuietHost(Host):  # type: ignore[misc]  # durable_rules ships no type hints
        """A Host without the background dispatch and timer threads of the stock one."""

        def _run(self) -> None:
            """Start nothing: the matcher reads each session's fired rules itself."""


__all__ = ["DurableMatcher", "durable_available"]

#: The mark of profile facts: every asserted fact carries ``"profile": 1``, every rule tests it.
_MARK: Final = "profile"
_SENTINEL: Final = "sentinel"
_UNNAMED: Final = -1
_LOCK = threading.Lock()
_RULESET_NUMBERS = itertools.count()


def durable_available() -> bool:
    """True when durable_rules imports (it does not on Python >= 3.13)."""
    return _IMPORT_ERROR is None


class DurableMatcher:
    """Matches facts against rules with durable_rules, one short-lived session per fact."""

    name = "durable"

    def __init__(self, rules: Sequence[RuleMatcher]) -> None:
        if _IMPORT_ERROR is not None:
            raise EngineError(
                "the durable engine needs durable_rules, which cannot be imported here "
                f"({_IMPORT_ERROR}); it does not support Python 3.13 or later: use engine='native'"
            ) from _IMPORT_ERROR
        self._rules = tuple(rules)
        named: dict[str, set[Scalar]] = {}
        for rule in rules:
            for name, allowed in rule.tests:
                named.setdefault(name, set()).update(allowed)
        fields = sorted(named)
        self._numbers = tuple((name, _numbering(named[name])) for name in fields)
        keys = {name: f"f{index}" for index, name in enumerate(fields)}
        self._template = "".join(
            ['{"sid":"%s","', _MARK, '":1', *(f',"{keys[name]}":%d' for name in fields), "}"]
        )
        numbering = dict(self._numbers)
        definition: dict[str, Any] = {_SENTINEL: _rule({_MARK: 1})}
        self._rule_ids: dict[str, str] = {}
        for index, rule in enumerate(rules):
            if not all(allowed for _, allowed in rule.tests):
                continue  # an empty allowed set: the rule can never hold
            tests = [
                _condition(keys[name], sorted(numbering[name][value] for value in allowed))
                for name, allowed in rule.tests
            ]
            self._rule_ids[f"r{index}"] = rule.rule_id
            definition[f"r{index}"] = _rule({"$and": [{_MARK: 1}, *tests]})
        self._sessions = itertools.count()
        with _LOCK:
            ruleset = f"immunorules{next(_RULESET_NUMBERS)}"
            host = _QuietHost()
            host.register_rulesets({ruleset: definition})
            self._handle: int = host.get_ruleset(ruleset)._handle
        # No lock here: the matcher is unreachable, so none of its evaluations can be running.
        weakref.finalize(self, durable_rules_engine.delete_ruleset, self._handle).atexit = False

    def __reduce__(self) -> tuple[type[DurableMatcher], tuple[tuple[RuleMatcher, ...]]]:
        """Copies and pickles rebuild the ruleset: a handle is never shared (nor deleted twice)."""
        return (DurableMatcher, (self._rules,))

    def match(self, fact: Fact) -> frozenset[str]:
        """The ids of the rules whose every test holds for ``fact``."""
        values = tuple(numbers.get(fact[name], _UNNAMED) for name, numbers in self._numbers)
        fired: set[str] = set()
        with _LOCK:
            sid = str(next(self._sessions))
            try:
                try:
                    self._evaluate(self._template % (sid, *values), fired)
                finally:
                    durable_rules_engine.delete_state(self._handle, sid)
            except Exception as exc:
                raise EngineError(f"durable_rules failed to evaluate a fact: {exc!r}") from exc
        fired.discard(_SENTINEL)
        return frozenset(self._rule_ids[rule] for rule in fired)

    def _evaluate(self, payload: str, fired: set[str]) -> None:
        """Assert one fact in a new session and run the action of every rule it fired."""
        code, state = durable_rules_engine.assert_fact(self._handle, payload)
        if code:
            raise RuntimeError(f"durable_rules did not take the fact (result code {code})")
        started = durable_rules_engine.start_action_for_state(self._handle, state)
        message = started[1] if started else None
        while message:
            # A message is {"<rule name>": {"m": <fact>}}; rule names hold no quote.
            self._action(fired, message.partition('"')[2].partition('"')[0])
            message = durable_rules_engine.complete_and_start_action(self._handle, state)

    def _action(self, fired: set[str], rule: str) -> None:
        """The action of every rule: note that it fired (tests replace it with a failing one)."""
        fired.add(rule)


def _numbering(values: set[Scalar]) -> dict[Scalar, int]:
    """Number the values from 0: ints and bools by value, then ``None``, then strings."""

    def order(value: Scalar) -> tuple[int, int | str]:
        if isinstance(value, int):
            return (0, value)
        return (1, "") if value is None else (2, value)

    return {value: number for number, value in enumerate(sorted(values, key=order))}


def _condition(key: str, numbers: list[int]) -> dict[str, Any]:
    """A test that ``key`` is one of the sorted ``numbers``: a range per run of consecutive ones."""
    branches: list[dict[str, Any]] = []
    for _, run in itertools.groupby(enumerate(numbers), lambda pair: pair[1] - pair[0]):
        low, *rest = (number for _, number in run)
        if rest:
            branches.append({"$and": [{"$gte": {key: low}}, {"$lte": {key: rest[-1]}}]})
        else:
            branches.append({key: low})
    return branches[0] if len(branches) == 1 else {"$or": branches}


def _rule(condition: dict[str, Any]) -> dict[str, Any]:
    """A durable_rules rule over one fact; its ``run`` is required but never called."""
    return {"all": [{"m": condition}], "run": _never_dispatched}


def _never_dispatched(closure: object) -> None:
    """The action durable_rules requires: its dispatcher never runs (``_QuietHost``)."""
