"""The durable_rules engine: rules compile to conjunctions of equalities over derived facts.

This is the only module that imports durable_rules. Version 2.0.28 is unmaintained and has
traps; each is neutralised here:

1. ``post`` consumes an event on its first match: the fact is asserted with ``assert_fact`` and
   retracted once its actions are read, in the one session (``sid``) each ruleset keeps, which
   holds no fact between evaluations. Every fact has the same ``id``, so one left behind would
   make durable refuse the next (result code 2, an :class:`EngineError`) rather than answer for
   it; a failed evaluation deletes the session, and the next evaluation starts a new one.
2. an ``$or`` with several true branches fires its rule once per branch: no compiled rule has an
   ``$or`` (see below), and firings go into a set all the same.
3. a ruleset name registers once per ``Host``: no ``Host`` is used; rulesets are created with the
   C engine's ``create_ruleset`` under process-unique names.
4. a first fact that matches nothing, then ``delete_state``, segfaults: a sentinel rule matches
   every fact (its firing stands for the rules without tests, and is otherwise left out).
5. more than 1,024 live sessions per ruleset raise ``MemoryError``: a ruleset has one live
   session at most (a failed evaluation deletes it before the next starts another). durable
   does not free a session's state with its ruleset, so a matcher that is no longer used
   deletes its sessions, then its rulesets.
6. exceptions inside actions are swallowed into the session state: durable's dispatcher (which
   also round-trips the state through JSON after every action, and silently drops the rest of an
   evaluation once an action has run for 10 seconds) never runs. The matcher reads the fired
   rules of its session itself, runs their action, and raises any failure, in an action or in
   the engine, as :class:`EngineError` once the session is deleted. Only when ``assert_fact``
   itself fails is the session left alone (deleting a half-built one has crashed the process),
   and the matcher refuses every later evaluation with :class:`EngineError`.
7. the stock ``Host`` runs background dispatch threads that race with callers: there is no
   ``Host``, and one lock serialises every call into the engine. ``os.register_at_fork`` gives a
   forked child a fresh lock, so a fork while another thread evaluates cannot leave the child's
   lock held forever, and the child's matchers delete the sessions they kept in the parent
   (that evaluation may have been half done) and start new ones.
8. durable_rules does not import on Python >= 3.13: the import is guarded,
   :func:`durable_available` says so, and :class:`DurableMatcher` raises :class:`EngineError`.

Every rule, the sentinel included, also tests a mark that only profile facts carry, so none
matches the session's own state fact (``{"sid": ..., "$s": 1}``); under durable's dispatcher, a
rule that matched it would refire after every action, forever.

Values never reach the engine as they are. Each distinct ``(field, allowed set)`` pair of the
rules is a derived attribute (``a0``, ``a1``, ...), computed in Python before the fact is
asserted: present with value ``1`` when the fact's value is in the set (looked up in a dict, with
Python's own equality, as :meth:`RuleMatcher.holds` does), absent otherwise. A rule is then
``$and`` of ``aK == 1`` tests, its attributes always in one global order (the most used first),
so rules share prefixes in durable's alpha network. durable_rules never sees ``None``, bools,
ints against strings, odd characters, field names, ranges or ``$or``; attribute names are chosen
so that their 32-bit FNV-1a hashes differ, since durable tells properties apart by hash alone.
Rules with the same attributes are one durable rule (mapped back to all their ids); rules whose
ids repeat are reported once.

durable_rules' own limits (found by experiment on 2.0.28; numbers are durable's):

* a fact holds at most 254 properties (``sid``, ``id`` and the mark included), else error 302;
* the alpha walk of one fact pushes at most 64 nodes on a fixed stack, else error 303 and often
  heap corruption (``free(): invalid pointer``) or a segfault, now or at ``delete_state``;
* an alpha node holds at most 511 child nodes: at 512 building never returns (a full hash set);
* at most 256 rules may end on one alpha node: the 257th is written past the end of its list
  (or fails with error 108), the 258th fails with error 108; each ``$or`` adds a "forward" node
  to its branches' nodes, at most 128 per node (error 107);
* a ruleset holds at most 4,096 rules, the sentinel included (error 106).

:func:`_pack` keeps each of them out of reach: rules are packed into as many rulesets as needed,
each with at most :data:`_MAX_RULES` rules, :data:`_MAX_ATTRIBUTES` attributes that can hold at
once, :data:`_MAX_CHILDREN` children per node and a computed worst-case walk stack of at most
:data:`_MAX_STACK`; deduplication leaves one rule per node.

What an evaluation costs is mostly durable's. A new session sets up (and ``delete_state``
frees) over 8 kB of state for every rule of its ruleset, under a microsecond a rule, and the
CPU caches it flushes slow the Python around it: a fact asserted in a new session of one
ruleset of all 200 bundled rules cost about 150 us whatever it matched. Hence the session each
ruleset keeps (item 1): a fact then costs durable its JSON parsing, the walk of the ruleset's
alpha network, storing and retracting the fact and an action per rule that fires, more in a
larger ruleset. Rulesets are therefore small and *opened* by value classes: a fact is
asserted only in the rulesets that a value class of it opens, and durable decides every rule
of those. A ruleset is opened by the classes that hold one test of each of its rules (the
rule's *gate*, or its test of the field the rules are split on), so every rule that can fire
for a fact is in a ruleset the fact opens.
:func:`_pack` picks the plan that costs least for an average fact: rules split on one field,
each value class of it opening the rulesets of the rules that allow it (rules copied as
needed; a copied rule is reported once), or rules grouped by gate. Rules split on a field may
be refined by a second one (the bundled rules: the condition, then the disease area): the
rules that allow a pair of classes get rulesets of their own, built at the first fact of that
pair (only the pairs that occur are built, :data:`_MAX_REFINED` rules in all at most; beyond
that, or if durable cannot build them, the split's rulesets serve). Every ruleset has its
sentinel, so no asserted fact matches nothing; when rules without tests exist, every fact opens
a ruleset, and the sentinel's firing stands for them.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .._errors import EngineError
from .._model.matching import Fact, RuleMatcher, Scalar

try:
    from durable.engine import durable_rules_engine  # the C extension, as durable imports it
except ImportError as error:  # Python >= 3.13 (PyEval_CallObject is gone), or not installed
    _IMPORT_ERROR: ImportError | None = error
else:
    _IMPORT_ERROR = None

__all__ = ["DurableMatcher", "durable_available"]

#: The mark of profile facts: every asserted fact carries ``"profile": 1``, every rule tests it.
_MARK: Final = "profile"
#: The ``id`` of every asserted fact (see :meth:`DurableMatcher._evaluate`).
_FACT_ID: Final = "fact"
_SENTINEL: Final = "sentinel"

#: Margins under durable's limits (module docstring), per ruleset.
_MAX_RULES: Final = 4000  # durable: 4,096 rules, the sentinel included
_MAX_ATTRIBUTES: Final = 240  # durable: 254 fact properties, sid, id and the mark included
_MAX_CHILDREN: Final = 400  # durable: 511 children per alpha node
_MAX_STACK: Final = 56  # durable: 64 alpha nodes on the walk stack

#: What asserting a fact in a ruleset costs whatever its rules, in rules' worth (measured when
#: every fact had a new session, which sets up and frees per-rule state: about 0.8 us a rule
#: against about 15 us a session; in a kept session a rule costs less, so plans lean to
#: smaller rulesets a little less than they could).
_RULESET_COST: Final = 18
#: A plan that copies rules into several rulesets holds this many times the rules at most,
#: and this many more at most (each costs building time: about 0.1 ms a rule).
_MAX_COPIES: Final = 8
_MAX_EXTRA: Final = 2000
#: ... and must cost at most this share of what the plan without copies costs.
_SPLIT_GAIN: Final = 0.75
#: Rules split on a field are refined by a second field when that leaves at most this share of
#: the rules for an average fact; the refined rulesets hold this many rules in all at most.
_REFINE_GAIN: Final = 0.85
_MAX_REFINED: Final = 2000

#: durable_rules' error codes, as its rules.h names them.
_ERROR_CODES: Final = {
    101: "out of memory",
    106: "too many rules, or too many children of one node",
    107: "too many $or branches end on one node",
    108: "too many rules end on one node",
    113: "too many expressions in one rule",
    302: "too many properties in one fact",
    303: "the alpha walk overflowed its stack",
    309: "no such session",
}

_LOCK = threading.Lock()
_RULESET_NUMBERS = itertools.count()
#: One more at every ``fork``, in the child: its matchers leave the sessions they kept behind.
_GENERATION = 0


def _reset_lock_in_child() -> None:
    """After ``fork``: the child has only the forking thread, so no evaluation is running (one
    may have been half done in another thread of the parent: the sessions kept are left)."""
    global _LOCK, _GENERATION
    _LOCK = threading.Lock()
    _GENERATION += 1


os.register_at_fork(after_in_child=_reset_lock_in_child)


def durable_available() -> bool:
    """True when durable_rules imports (it does not on Python >= 3.13)."""
    return _IMPORT_ERROR is None


@dataclass(frozen=True, slots=True)
class _Ruleset:
    """One durable ruleset: its handle and, per field its rules test, the JSON text of the
    derived attributes each value carries there (values that carry none are left out)."""

    handle: int
    always: bool  # asserted for every fact, whatever its values
    texts: tuple[tuple[str, dict[Scalar, str]], ...]  # (field name, value -> text)


class DurableMatcher:
    """Matches facts against rules with durable_rules: each fact is asserted, and retracted once
    its actions are read, in the session kept by each ruleset that the fact opens."""

    name = "durable"

    def __init__(self, rules: Sequence[RuleMatcher]) -> None:
        if _IMPORT_ERROR is not None:
            raise EngineError(
                "the durable engine needs durable_rules, which cannot be imported here "
                f"({_IMPORT_ERROR}); it does not support Python 3.13 or later: use engine='native'"
            ) from _IMPORT_ERROR
        self._rules = tuple(rules)
        self._broken: str | None = None
        compiled = _Compiled(self._rules)
        self._fields = compiled.fields
        #: durable rule name -> the ids of the rules it stands for
        self._rule_ids = {f"g{group}": ids for group, ids in enumerate(compiled.ids)}
        packs = _pack(compiled)
        self._always = compiled.always
        #: the rulesets asserted for every fact
        self._asserted = frozenset(n for n, pack in enumerate(packs) if pack.opening is None)
        #: per field that opens rulesets: for each value class, the rulesets it opens
        self._opens = compiled.opens([pack.opening for pack in packs])
        self._sessions = itertools.count()
        #: every ruleset's handle, the refinements' too (they are added as they are built)
        self._handles: list[int] = []
        #: per ruleset handle, the session kept for its facts (see :meth:`_evaluate`)
        self._kept: dict[int, str] = {}
        self._generation = _GENERATION
        # No lock here: the matcher is unreachable, so none of its evaluations can be running.
        weakref.finalize(
            self, _release, durable_rules_engine, self._kept, self._handles
        ).atexit = False
        with _LOCK:
            self._rulesets = self._create(compiled, packs)
        #: split on a field: (that field, the refining field), see :meth:`_refined`
        self._refine = _refinement(compiled, packs[0].split) if packs else None
        self._compiled = compiled if self._refine else None
        self._refinements: dict[tuple[int, int], tuple[_Ruleset, ...] | None] = {}
        self._budget = _MAX_REFINED  # rules the refinements may still hold
        #: per pair of classes of the split and the refining field, the rulesets its facts are
        #: asserted in (the refined ones, else the split's), once known
        self._chosen: dict[tuple[int, int], tuple[_Ruleset, ...]] = {}
        self._keyed = (
            None
            if self._refine is None
            else (self._fields[self._refine[0]], self._fields[self._refine[1]])
        )

    def _create(self, compiled: _Compiled, packs: Sequence[_Pack]) -> tuple[_Ruleset, ...]:
        """A durable ruleset per pack (the caller holds the lock); all or none."""
        handles: list[int] = []
        rulesets: list[_Ruleset] = []
        try:
            for pack in packs:
                definition: dict[str, Any] = {_SENTINEL: _rule([])}
                for group in pack.groups:
                    names = [compiled.names[a] for a in compiled.keys[group]]
                    definition[f"g{group}"] = _rule(names)
                name = f"immunorules{next(_RULESET_NUMBERS)}"
                handle = durable_rules_engine.create_ruleset(name, json.dumps(definition))
                handles.append(handle)
                texts = []
                for position, by_class in compiled.texts(pack.attributes):
                    field_name, lookup, _ = self._fields[position]
                    carried = {value: by_class[c] for value, c in lookup.items() if by_class[c]}
                    texts.append((field_name, carried))
                rulesets.append(_Ruleset(handle, pack.opening is None, tuple(texts)))
        except Exception as exc:
            for handle in handles:
                durable_rules_engine.delete_ruleset(handle)
            raise EngineError(
                f"durable_rules could not build ruleset {len(handles) + 1} of "
                f"{len(packs)} ({len(self._rules)} rules): {_describe(exc)}"
            ) from exc
        self._handles.extend(handles)
        return tuple(rulesets)

    def __reduce__(self) -> tuple[type[DurableMatcher], tuple[tuple[RuleMatcher, ...]]]:
        """Copies and pickles rebuild the rulesets: a handle is never shared (nor deleted twice)."""
        return (DurableMatcher, (self._rules,))

    def match(self, fact: Fact) -> frozenset[str]:
        """The ids of the rules whose every test holds for ``fact``."""
        payloads = self._payloads(fact)
        fired: set[str] = set()
        with _LOCK:
            if self._broken is not None:
                raise EngineError(self._broken)
            if self._generation != _GENERATION:
                self._leave_kept()
            for handle, body in payloads:
                self._evaluate(handle, body, fired)
        found: list[str] = []
        rule_ids = self._rule_ids
        for rule in fired:
            if rule == _SENTINEL:
                found += self._always
            else:
                found += rule_ids[rule]
        return frozenset(found)

    def _payloads(self, fact: Fact) -> list[tuple[int, str]]:
        """The rulesets ``fact`` is asserted in, each with the derived attributes it carries
        there (the JSON text after ``sid`` and the mark): what :meth:`match` asserts (the
        per-row benchmark asserts them itself to measure durable_rules' own calls)."""
        return [
            (ruleset.handle, "".join([texts.get(fact[name], "") for name, texts in ruleset.texts]))
            for ruleset in self._which(fact)
        ]

    def _which(self, fact: Fact) -> tuple[_Ruleset, ...]:
        """The rulesets ``fact`` is asserted in: the refined ones of its pair of classes, else
        those its value classes open."""
        keyed = self._keyed
        if keyed is None:
            return self._opened(fact)
        (first, lookup, none), (second, other, other_none) = keyed
        key = (lookup.get(fact[first], none), other.get(fact[second], other_none))
        chosen = self._chosen.get(key)
        return self._choose(key, fact) if chosen is None else chosen

    def _choose(self, key: tuple[int, int], fact: Fact) -> tuple[_Ruleset, ...]:
        """The rulesets of the facts of the classes ``key``: the refined ones, else those that
        the split's value class opens (noted for the next fact of ``key``)."""
        refined = self._refinements.get(key)
        if refined is None and key not in self._refinements:
            refined = self._refined(key)
        chosen = self._opened(fact) if refined is None else refined
        self._chosen[key] = chosen
        return chosen

    def _opened(self, fact: Fact) -> tuple[_Ruleset, ...]:
        """The rulesets asserted for every fact and those that ``fact``'s value classes open."""
        numbers = set(self._asserted)
        for position, opens in self._opens:
            name, lookup, none = self._fields[position]
            numbers.update(opens[lookup.get(fact[name], none)])
        return tuple(self._rulesets[number] for number in sorted(numbers))

    def _refined(self, key: tuple[int, int]) -> tuple[_Ruleset, ...] | None:
        """The rulesets for the facts of the classes ``key`` of the split and the refining
        field: the rules that allow both, in rulesets built at the first such fact, or ``None``
        (use the split field's) once they would hold more than :data:`_MAX_REFINED` rules in all,
        would not be smaller, or durable could not build them."""
        compiled = self._compiled
        assert compiled is not None and self._refine is not None
        split, refining = self._refine
        holds = compiled.holds
        allowed = [
            group
            for group, tested in enumerate(compiled.tested)
            if split not in tested or key[0] in holds[tested[split]]
        ]
        groups = [
            group
            for group in allowed
            if refining not in (tested := compiled.tested[group])
            or key[1] in holds[tested[refining]]
        ]
        with _LOCK:
            if key in self._refinements:
                return self._refinements[key]
            rulesets = None
            if len(groups) < len(allowed) and len(groups) <= self._budget:
                packs: list[_Pack] = []
                if groups or compiled.always:
                    _fill(compiled, packs, groups, None)
                try:
                    rulesets = self._create(compiled, packs)
                except EngineError:
                    pass  # a refinement durable cannot build is not used
                else:
                    self._budget -= len(groups)
            self._refinements[key] = rulesets
            return rulesets

    def _evaluate(self, handle: int, body: str, fired: set[str]) -> None:
        """Assert one fact in the session kept for ``handle``, run its actions, retract it (the
        caller holds the lock).

        A session of its own for every fact would set up and free durable's state for every
        rule of the ruleset each time (most of what an evaluation cost), so each ruleset keeps
        one session, which holds no fact between evaluations: the fact has the same ``id``
        every time, so a fact left behind would make durable refuse the next (result code 2)
        instead of answering for it, and every action is read to the end (durable leases the
        session to an action until it completes). A failed evaluation deletes its session; the
        next evaluation starts a new one.
        """
        kept = self._kept
        sid = kept.get(handle)
        if sid is None:
            sid = kept[handle] = str(next(self._sessions))
        try:
            code, state = durable_rules_engine.assert_fact(
                handle, f'{{"sid":"{sid}","id":"{_FACT_ID}","{_MARK}":1{body}}}'
            )
        except Exception as exc:
            # The session may be half built; deleting it has been seen to crash the process.
            del kept[handle]
            self._broken = (
                "durable_rules failed inside an earlier evaluation, so this matcher is no "
                f"longer used: {_describe(exc)}"
            )
            raise EngineError(f"durable_rules failed to evaluate a fact: {_describe(exc)}") from exc
        try:
            if code:
                raise RuntimeError(f"durable_rules did not take the fact (result code {code})")
            started = durable_rules_engine.start_action_for_state(handle, state)
            message = started[1] if started else None
            action = self._action
            while message:
                # A message is {"<rule name>": {"m": <fact>}}; rule names hold no quote.
                action(fired, message[2 : message.index('"', 2)])
                message = durable_rules_engine.complete_and_start_action(handle, state)
            durable_rules_engine.retract_fact(handle, f'{{"sid":"{sid}","id":"{_FACT_ID}"}}')
        except BaseException as exc:
            del kept[handle]
            try:
                durable_rules_engine.delete_state(handle, sid)
            except Exception as failed:
                exc.add_note(f"deleting its session failed too: {failed!r}")
            if not isinstance(exc, Exception):
                raise  # an interrupt: the session is gone, the next evaluation starts anew
            raise EngineError(f"durable_rules failed to evaluate a fact: {exc!r}") from exc

    def _leave_kept(self) -> None:
        """In a child process: delete the sessions kept in the parent (whose last evaluation may
        have been half done in another thread when it forked); the next evaluations start new
        ones (the caller holds the lock)."""
        self._generation = _GENERATION
        kept = dict(self._kept)
        self._kept.clear()
        for handle, sid in kept.items():
            with contextlib.suppress(Exception):  # the next evaluations use new sessions anyway
                durable_rules_engine.delete_state(handle, sid)

    def _action(self, fired: set[str], rule: str) -> None:
        """The action of every rule: note that it fired (tests replace it with a failing one)."""
        fired.add(rule)


class _Compiled:
    """The rules as derived attributes: distinct (field, allowed set) pairs, and rule groups.

    ``attributes[k]`` is ``(field position, allowed set)``, numbered most used first; a group is
    a distinct sorted tuple of attribute numbers (``keys``) and the rule ids that have exactly
    those tests (``ids``). Rules without tests are ``always``; rules with an empty allowed set
    can never hold and are left out.
    """

    def __init__(self, rules: Sequence[RuleMatcher]) -> None:
        # An empty allowed set: the rule can never hold, and is left out.
        rules = [rule for rule in rules if all(allowed for _, allowed in rule.tests)]
        uses: dict[tuple[str, frozenset[Scalar]], int] = {}
        for rule in rules:
            for test in set(rule.tests):
                uses[test] = uses.get(test, 0) + 1
        ordered = sorted(uses, key=lambda test: -uses[test])  # stable: first seen first
        number = {test: index for index, test in enumerate(ordered)}
        names = sorted({name for name, _ in ordered})
        position = {name: index for index, name in enumerate(names)}
        self.attributes = tuple((position[name], allowed) for name, allowed in ordered)
        self.names = _attribute_names(len(ordered))
        groups: dict[tuple[int, ...], list[str]] = {}
        always: list[str] = []
        for rule in rules:
            key = tuple(sorted({number[test] for test in rule.tests}))
            (groups.setdefault(key, []) if key else always).append(rule.rule_id)
        self.always = tuple(dict.fromkeys(always))
        self.keys = sorted(groups)  # depth-first order of the global prefix tree
        self.ids = [tuple(dict.fromkeys(groups[key])) for key in self.keys]
        # Value classes per field: the values named by the same attributes are one class.
        self.classes: list[dict[frozenset[int], int]] = [{} for _ in names]
        lookups: list[dict[Scalar, int]] = []
        members: list[dict[Scalar, set[int]]] = [{} for _ in names]
        for index, (field_position, allowed) in enumerate(self.attributes):
            for value in allowed:
                members[field_position].setdefault(value, set()).add(index)
        for field_position, by_value in enumerate(members):
            classes = self.classes[field_position]
            lookups.append(
                {
                    value: classes.setdefault(frozenset(found), len(classes))
                    for value, found in by_value.items()
                }
            )
        self.fields = tuple(
            (name, lookup, len(classes))
            for name, lookup, classes in zip(names, lookups, self.classes, strict=True)
        )
        # A guess at how often a value class holds: its share of the values the rules name for
        # its field, one more standing for the values no rule names (the last class).
        self.chances: list[list[float]] = []
        for lookup, classes in zip(lookups, self.classes, strict=True):
            shares = [0.0] * (len(classes) + 1)
            for index in lookup.values():
                shares[index] += 1
            shares[-1] = 1
            self.chances.append([share / (len(lookup) + 1) for share in shares])
        #: per attribute, the value classes of its field that hold it
        self.holds = tuple(
            frozenset(index for found, index in self.classes[field_position].items() if a in found)
            for a, (field_position, _) in enumerate(self.attributes)
        )
        #: per group, its attribute on each field it tests (rules test a field once)
        self.tested = [{self.attributes[a][0]: a for a in key} for key in self.keys]

    def chance(self, attribute: int) -> float:
        """A guess at how often ``attribute`` holds."""
        chances = self.chances[self.attributes[attribute][0]]
        return sum(chances[index] for index in self.holds[attribute])

    def opens(
        self, openings: Sequence[set[tuple[int, int]] | None]
    ) -> tuple[tuple[int, tuple[tuple[int, ...], ...]], ...]:
        """Per field that opens a ruleset, for each value class (the last: a value no rule
        names), the numbers of the rulesets it opens (``openings[n]``, ruleset ``n``'s
        ``(field position, class)`` pairs; ``None``: asserted for every fact)."""
        out = []
        for field_position, classes in enumerate(self.classes):
            opens = tuple(
                tuple(
                    n
                    for n, opening in enumerate(openings)
                    if opening is not None and (field_position, index) in opening
                )
                for index in range(len(classes) + 1)
            )
            if any(opens):
                out.append((field_position, opens))
        return tuple(out)

    def texts(self, attributes: Iterable[int]) -> tuple[tuple[int, tuple[str, ...]], ...]:
        """Per field with attributes in this ruleset, the JSON text of each value class."""
        mine = set(attributes)
        out = []
        for field_position, classes in enumerate(self.classes):
            texts = [""] * (len(classes) + 1)  # the last: a value no rule names
            for found, index in classes.items():
                texts[index] = "".join(f',"{self.names[a]}":1' for a in sorted(found & mine))
            if any(texts):
                out.append((field_position, tuple(texts)))
        return tuple(out)


@dataclass(eq=False, slots=True)
class _Node:
    """A node of a ruleset's alpha network (a prefix tree of attribute numbers)."""

    children: dict[int, _Node] = field(default_factory=dict)
    #: per field, how many children's allowed sets name each value, and the largest count
    counts: dict[int, dict[Scalar, int]] = field(default_factory=dict)
    widest: dict[int, int] = field(default_factory=dict)
    width: int = 0  # how many children one fact can match at most: the sum of ``widest``
    deepest: int = 0  # the largest ``stack`` of a child
    stack: int = 0  # worst-case walk stack below this node: width - 1 + max(1, deepest)


@dataclass(eq=False, slots=True)
class _Pack:
    """The rule groups of one ruleset, with what bounds durable's limits."""

    root: _Node = field(default_factory=_Node)  # the mark's node: the sentinel ends here
    groups: list[int] = field(default_factory=list)
    attributes: set[int] = field(default_factory=set)
    #: the (field position, value class) pairs that open it: a fact of none of them is not
    #: asserted in it (none of its rules can fire); ``None``: asserted for every fact
    opening: set[tuple[int, int]] | None = None
    split: int | None = None  # the field the rules are split on, if they are
    counts: dict[int, dict[Scalar, int]] = field(default_factory=dict)
    widest: dict[int, int] = field(default_factory=dict)
    width: int = 0  # how many attributes one fact can hold at most


def _pack(compiled: _Compiled) -> list[_Pack]:
    """Rule groups packed into rulesets kept under durable's limits, and what opens each.

    Asserting a fact in a ruleset costs durable about :data:`_RULESET_COST` rules' worth of
    work, whatever the ruleset, on top of about one unit per rule in it (as measured with a new
    session per fact; see the constant). Of two plans, the one with the smaller cost for an
    average fact (each value a rule names as likely as any other, and as the values no rule
    names together):

    * split on one field: per value class of that field, a ruleset (or more, under the limits)
      of the groups that allow it, opened by that class alone, so that each fact is asserted
      in one ruleset (rules copied into :data:`_MAX_COPIES` times as many at most);
    * gated: each group goes with its gate (its attribute least likely to hold); the groups of
      a gate get rulesets of their own, opened by the classes that hold the gate, when that
      is cheaper on average than sharing the first ruleset (asserted for every fact when there
      are rules without tests, whose sentinel stands for them; else opened by every gate of its
      groups) with the groups of every other gate.
    """
    gated = _gated(compiled)
    cost = sum(_opened(compiled, pack) * (_RULESET_COST + len(pack.groups)) for pack in gated)
    cost *= _SPLIT_GAIN  # copies cost building time and memory: a split must be clearly cheaper
    best: int | None = None
    groups = len(compiled.keys)
    for position in range(len(compiled.classes)):
        sizes = _split_sizes(compiled, position)
        if sum(sizes) > min(_MAX_COPIES * groups, groups + _MAX_EXTRA):
            continue
        chances = compiled.chances[position]
        split = sum(c * (_RULESET_COST + n) for c, n in zip(chances, sizes, strict=True))
        if split < cost:
            best, cost = position, split
    return gated if best is None else _split(compiled, best)


def _split_sizes(compiled: _Compiled, position: int) -> list[int]:
    """How many groups allow each value class of the field at ``position``."""
    classes = compiled.classes[position]
    free = sum(1 for tested in compiled.tested if position not in tested)
    sizes = [free] * (len(classes) + 1)
    for tested in compiled.tested:
        attribute = tested.get(position)
        if attribute is not None:
            for index in compiled.holds[attribute]:
                sizes[index] += 1
    return sizes


def _split(compiled: _Compiled, position: int) -> list[_Pack]:
    """Per value class of the field at ``position``, rulesets of the groups that allow it."""
    packs: list[_Pack] = []
    for index in range(len(compiled.classes[position]) + 1):
        groups = [
            group
            for group, tested in enumerate(compiled.tested)
            if position not in tested or index in compiled.holds[tested[position]]
        ]
        if groups or compiled.always:  # the sentinel of one stands for the rules without tests
            _fill(compiled, packs, groups, {(position, index)})
    for pack in packs:
        pack.split = position
    return packs


def _refinement(compiled: _Compiled, split: int | None) -> tuple[int, int] | None:
    """Rules split on the field at ``split``: that field and the field whose classes, with
    its, leave the fewest rules for an average fact (fields taken as independent), if that is
    at most :data:`_REFINE_GAIN` of the rules the split leaves."""
    if split is None:
        return None
    chances = compiled.chances

    def allowing(tested: dict[int, int], position: int) -> float:
        attribute = tested.get(position)
        if attribute is None:
            return 1.0
        return sum(chances[position][index] for index in compiled.holds[attribute])

    first = [allowing(tested, split) for tested in compiled.tested]
    best, fewest = None, sum(first) * _REFINE_GAIN
    for position in range(len(compiled.classes)):
        if position != split:
            rules = sum(
                share * allowing(tested, position)
                for share, tested in zip(first, compiled.tested, strict=True)
            )
            if rules < fewest:
                best, fewest = position, rules
    return None if best is None else (split, best)


def _gated(compiled: _Compiled) -> list[_Pack]:
    """Each group with its gate, and a gate's groups apart when that is cheaper (:func:`_pack`)."""
    by_gate: dict[int, list[int]] = {}
    for group, key in enumerate(compiled.keys):
        by_gate.setdefault(_gate(compiled, key), []).append(group)
    shared: list[int] = []
    apart: list[list[int]] = []
    for gate, groups in sorted(by_gate.items()):
        chance = compiled.chance(gate)
        if len(groups) * (1 - chance) > chance * _RULESET_COST:
            apart.append(groups)
        else:
            shared.extend(groups)
    packs: list[_Pack] = []
    if shared or compiled.always:
        _fill(compiled, packs, sorted(shared), None if compiled.always else set())
    for groups in apart:
        _fill(compiled, packs, groups, set())
    for pack in packs:
        if pack.opening is not None:
            for group in pack.groups:
                gate = _gate(compiled, compiled.keys[group])
                field_position = compiled.attributes[gate][0]
                pack.opening.update((field_position, i) for i in compiled.holds[gate])
    return packs


def _gate(compiled: _Compiled, key: tuple[int, ...]) -> int:
    """The attribute of ``key`` (a group's, not empty) least likely to hold: the group's gate."""
    return min(key, key=lambda a: (compiled.chance(a), a))


def _opened(compiled: _Compiled, pack: _Pack) -> float:
    """A guess at how often ``pack`` is asserted."""
    if pack.opening is None:
        return 1.0
    return min(1.0, sum(compiled.chances[p][i] for p, i in pack.opening))


def _fill(
    compiled: _Compiled,
    packs: list[_Pack],
    groups: Sequence[int],
    opening: set[tuple[int, int]] | None,
) -> None:
    """Add rulesets holding ``groups`` (in this order) to ``packs``, each opened by ``opening``
    (a copy each)."""
    packs.append(_Pack(opening=None if opening is None else set(opening)))
    for group in groups:
        key = compiled.keys[group]
        if not _add(packs[-1], group, key, compiled.attributes):
            packs.append(_Pack(opening=None if opening is None else set(opening)))
            if not _add(packs[-1], group, key, compiled.attributes):
                raise EngineError(
                    f"durable_rules cannot take rule {compiled.ids[group][0]!r}: it has "
                    f"{len(key)} tests, more than the {_MAX_ATTRIBUTES} that fit in one fact "
                    "(durable_rules allows at most 254 properties); use engine='native'"
                )


def _add(
    pack: _Pack, group: int, key: tuple[int, ...], attributes: tuple[tuple[int, Any], ...]
) -> bool:
    """Add ``key`` (a group's attributes, in order) to ``pack`` if it stays under every limit."""
    if len(pack.groups) + 1 >= _MAX_RULES:  # the sentinel is a rule too
        return False
    new = [a for a in key if a not in pack.attributes]
    if _widened(pack.counts, pack.widest, pack.width, new, attributes) > _MAX_ATTRIBUTES:
        return False
    path = [pack.root]
    for a in key:
        child = path[-1].children.get(a)
        if child is None:
            break
        path.append(child)
    rest = key[len(path) - 1 :]
    if rest:  # a new branch under path[-1]: check the stack bound all the way up
        parent = path[-1]
        if len(parent.children) >= _MAX_CHILDREN:
            return False
        width = _widened(parent.counts, parent.widest, parent.width, rest[:1], attributes)
        stack = width - 1 + max(1, parent.deepest, 1 if len(rest) > 1 else 0)
        for node in reversed(path[:-1]):
            stack = node.width - 1 + max(1, node.deepest, stack)
        if stack > _MAX_STACK:
            return False
    # Commit.
    for a in new:
        _count(pack.counts, pack.widest, attributes[a])
    pack.width = sum(pack.widest.values())
    pack.attributes.update(new)
    pack.groups.append(group)
    if rest:
        parent = path[-1]
        _count(parent.counts, parent.widest, attributes[rest[0]])
        parent.width = sum(parent.widest.values())
        node = parent.children[rest[0]] = _Node()
        for a in rest[1:]:  # a chain: one child each
            _count(node.counts, node.widest, attributes[a])
            node.width = 1
            path.append(node)
            node.children[a] = child = _Node()
            node = child
        for node in reversed(path):  # the bounds, recomputed from the new leaf up
            node.deepest = max(child.stack for child in node.children.values())
            node.stack = node.width - 1 + max(1, node.deepest)
    return True


def _widened(
    counts: dict[int, dict[Scalar, int]],
    widest: dict[int, int],
    width: int,
    new: Sequence[int],
    attributes: tuple[tuple[int, Any], ...],
) -> int:
    """``width`` (the sum of ``widest``) once the attributes ``new`` are counted too."""
    extra: dict[int, dict[Scalar, int]] = {}
    for a in new:
        field_position, allowed = attributes[a]
        bump = extra.setdefault(field_position, {})
        for value in allowed:
            bump[value] = bump.get(value, 0) + 1
    for field_position, bump in extra.items():
        seen = counts.get(field_position, {})
        old = widest.get(field_position, 0)
        width += max(old, max(seen.get(v, 0) + n for v, n in bump.items())) - old
    return width


def _count(
    counts: dict[int, dict[Scalar, int]], widest: dict[int, int], attribute: tuple[int, Any]
) -> None:
    field_position, allowed = attribute
    seen = counts.setdefault(field_position, {})
    top = widest.get(field_position, 0)
    for value in allowed:
        seen[value] = seen.get(value, 0) + 1
        top = max(top, seen[value])
    widest[field_position] = top


def _attribute_names(count: int) -> list[str]:
    """``count`` property names whose durable hashes differ from each other and from reserved ones.

    durable_rules tells properties apart by a 32-bit FNV-1a hash of their name alone.
    """
    taken = {_fnv1a(name) for name in ("sid", "id", _MARK, "$s", "$forward")}
    names: list[str] = []
    for number in itertools.count():
        if len(names) == count:
            break
        name = f"a{number}"
        digest = _fnv1a(name)
        if digest not in taken:
            taken.add(digest)
            names.append(name)
    return names


def _fnv1a(name: str) -> int:
    digest = 0x811C9DC5
    for byte in name.encode():
        digest = ((digest ^ byte) * 16777619) & 0xFFFFFFFF
    return digest


def _rule(names: Sequence[str]) -> dict[str, Any]:
    """A durable_rules rule over one fact: the mark, then each attribute present (and 1)."""
    return {"all": [{"m": {"$and": [{_MARK: 1}, *(_condition(name) for name in names)]}}]}


def _condition(name: str) -> dict[str, Any]:
    """One test of a compiled rule: the derived attribute ``name`` is 1 (it is never 0)."""
    return {name: 1}


def _describe(exc: BaseException) -> str:
    """An exception of durable_rules, with the meaning of its error code when known."""
    text = str(exc)
    code = text.rpartition("error code: ")[2].strip()
    meaning = _ERROR_CODES.get(int(code)) if code.isdigit() else None
    return f"{text} ({meaning})" if meaning else text


def _release(engine: Any, kept: dict[int, str], handles: Sequence[int]) -> None:
    """Delete the sessions kept (durable does not free a session's state with its ruleset),
    then the rulesets."""
    for handle, sid in kept.items():
        with contextlib.suppress(Exception):  # the ruleset goes all the same
            engine.delete_state(handle, sid)
    for handle in handles:
        engine.delete_ruleset(handle)
