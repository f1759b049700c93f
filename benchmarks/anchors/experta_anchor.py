"""experta (a Python RETE engine): one ``@Rule`` per rule over a ``Profile`` fact.

experta 1.9.4 does not import on Python >= 3.10 as it is (its frozendict pin uses the aliases
``collections.Mapping`` and co., removed in 3.10): the shim below restores them, for this
benchmark only.
"""

from __future__ import annotations

import collections
import collections.abc
from collections.abc import Sequence
from typing import Any

from immunorules._model.matching import RuleMatcher

from . import Anchor, Fact, Unavailable

_ALIASES = ("Mapping", "MutableMapping", "Sequence", "Iterable", "Callable", "Hashable", "Set")


def _shim() -> None:
    for name in _ALIASES:
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))


def build(rules: Sequence[RuleMatcher]) -> Anchor:
    _shim()
    try:
        import experta
    except Exception as error:  # experta fails with AttributeError/ImportError when it fails
        raise Unavailable(f"experta does not import: {error!r}") from None

    class Profile(experta.Fact):  # type: ignore[misc]
        pass

    def make_rule(rule_id: str, tests: Any) -> Any:
        pattern = Profile(**{name: experta.P(allowed.__contains__) for name, allowed in tests})

        @experta.Rule(pattern)
        def fire(self: Any) -> None:
            self.fired.add(rule_id)

        return fire

    methods = {f"r{index}": make_rule(rule.rule_id, rule.tests) for index, rule in enumerate(rules)}
    engine = type("AnchorEngine", (experta.KnowledgeEngine,), methods)()

    def match(fact: Fact) -> frozenset[str]:
        engine.reset()
        engine.fired = set()
        engine.declare(Profile(**fact))
        engine.run()
        return frozenset(engine.fired)

    return Anchor("experta", match, "Python 3.11 needs a collections shim (benchmark only)")
