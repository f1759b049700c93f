"""CLIPS through clipspy: the rules as defrules over a ``profile`` deftemplate.

Two ways to drive it. ``stock``: assert the fact with ``Template.assert_fact``, ``run``, read the
``fired`` facts back, ``reset``: the clipspy way, where every fact that crosses into Python is a
``Fact`` object that retains the CLIPS fact and releases it only in ``__del__``; with clipspy
1.0.6 memory grows with every profile (the fact-release leak; the benchmark reports the growth).
``patched``: one deffunction asserts, runs, retracts and returns the fired rule ids as a
multifield, so no fact ever crosses into Python, and memory stays flat.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from immunorules._model.matching import RuleMatcher

from . import Anchor, Fact, Scalar, Unavailable, contiguous


def _literal(value: Scalar) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    return f'"{value}"'


def _constraint(variable: str, allowed: frozenset[Scalar]) -> str:
    bounds = contiguous(allowed)
    if bounds is not None and bounds[0] != bounds[1]:
        low, high = bounds
        return f"{variable}&:(and (>= {variable} {low}) (<= {variable} {high}))"
    return "|".join(_literal(value) for value in sorted(allowed, key=repr))


def constructs(rules: Sequence[RuleMatcher], fields: Sequence[str], *, patched: bool) -> list[str]:
    slots = " ".join(f"(slot {name})" for name in fields)
    built = [f"(deftemplate profile {slots})", "(deftemplate fired (slot rule))"]
    if patched:
        built.append("(defglobal ?*fired* = (create$))")
    for index, rule in enumerate(rules):
        patterns = " ".join(
            f"({name} {_constraint(f'?v{position}', allowed)})"
            for position, (name, allowed) in enumerate(rule.tests)
        )
        action = (
            f"(bind ?*fired* (create$ ?*fired* {rule.rule_id}))"
            if patched
            else f"(assert (fired (rule {rule.rule_id})))"
        )
        built.append(f"(defrule r{index} (profile {patterns}) => {action})")
    if patched:
        parameters = " ".join(f"?{name}" for name in fields)
        slots_in = " ".join(f"({name} ?{name})" for name in fields)
        built.append(
            f"(deffunction evaluate-profile ({parameters}) (bind ?*fired* (create$)) "
            f"(bind ?fact (assert (profile {slots_in}))) (run) (retract ?fact) ?*fired*)"
        )
    return built


def _python_value(clips: Any, value: Scalar) -> Any:
    if value is None:
        return clips.Symbol("nil")
    if isinstance(value, bool):
        return clips.Symbol("TRUE" if value else "FALSE")
    return value


def build(rules: Sequence[RuleMatcher], *, patched: bool = True) -> Anchor:
    try:
        import clips
    except ImportError as error:
        raise Unavailable(f"clipspy does not import: {error}") from None
    fields = sorted({name for rule in rules for name, _ in rule.tests} | {"immune_activity"})
    env = clips.Environment()
    for construct in constructs(rules, fields, patched=patched):
        env.build(construct)
    if patched:
        evaluate = env.find_function("evaluate-profile")

        def match(fact: Fact, env: Any = env) -> frozenset[str]:  # keeps env alive
            found = evaluate(*(_python_value(clips, fact[name]) for name in fields))
            return frozenset(str(rule_id) for rule_id in found)

        return Anchor(
            "CLIPS (clipspy), patched",
            match,
            "one deffunction asserts, runs, retracts: no fact crosses into Python",
        )
    profile = env.find_template("profile")
    fired = env.find_template("fired")

    def match_stock(fact: Fact, env: Any = env) -> frozenset[str]:
        profile.assert_fact(**{name: _python_value(clips, fact[name]) for name in fields})
        env.run()
        found = frozenset(str(item["rule"]) for item in fired.facts())
        env.reset()
        return found

    return Anchor(
        "CLIPS (clipspy), stock",
        match_stock,
        "Template.assert_fact, run, read facts, reset (leaks facts in clipspy 1.0.6)",
    )
