"""The columnar matcher: the native engine's semantics over a whole batch of rows at once.

For every flat field some rule tests, a table maps each value's code (its position in the
field's domain) to the words of a rule bitset: bit ``i % 64`` of word ``i // 64`` is set when
rule ``i`` accepts the value. The rules that hold for each row are the AND of one table row per
field, looked up with numpy for every row of the batch at once, so no fact and no Python value is
built per row. It answers exactly what :class:`~immunorules._engines.native.NativeMatcher` answers
(the same allowed-value sets, compared with Python's ``in``), which the test suite checks on both
engines. numpy is imported when a matcher is built, never before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._model.matching import RuleMatcher, Scalar

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ColumnarMatcher"]

#: The most value combinations one lookup table covers (rows of ``words`` uint64 each).
GROUP = 4096


class ColumnarMatcher:
    """Matches a batch of rows, given as one code array per flat field, against the rules."""

    def __init__(
        self, rules: Sequence[RuleMatcher], domains: Mapping[str, Sequence[Scalar]]
    ) -> None:
        import numpy as np

        self.ids: tuple[str, ...] = tuple(rule.rule_id for rule in rules)
        self.words = max(1, -(-len(self.ids) // 64))
        everything = np.zeros(self.words, dtype=np.uint64)
        for bit in range(len(self.ids)):
            everything[bit // 64] |= np.uint64(1 << (bit % 64))
        self.everything = everything
        tested: dict[str, list[tuple[int, frozenset[Scalar]]]] = {}
        for bit, rule in enumerate(rules):
            for name, allowed in rule.tests:
                tested.setdefault(name, []).append((bit, allowed))
        #: flat field -> (values of its domain, words): the rules each value lets through
        self.tables: dict[str, np.ndarray[Any, Any]] = {}
        for name, tests in tested.items():
            domain = tuple(domains[name])
            table = np.tile(everything, (len(domain), 1))
            for bit, allowed in tests:
                word, mask = bit // 64, np.uint64(~(1 << (bit % 64)) & (2**64 - 1))
                for code, value in enumerate(domain):
                    if value not in allowed:
                        table[code, word] &= mask
            if (table != everything).any():
                self.tables[name] = table
        # Fields with small domains are looked up together: one table over the combinations of
        # their values (at most GROUP entries), indexed by a mixed-radix code, so a row costs
        # a few lookups instead of one per field (nine booleans: one table of 512 rows).
        self.groups: list[tuple[tuple[str, ...], tuple[int, ...], np.ndarray[Any, Any]]] = []
        group: list[str] = []
        size = 1
        for name in sorted(self.tables, key=lambda n: len(self.tables[n])):
            count = len(self.tables[name])
            if group and size * count > GROUP:
                self.groups.append(self._combined(group))
                group, size = [], 1
            group.append(name)
            size *= count
        if group:
            self.groups.append(self._combined(group))

    def _combined(
        self, names: list[str]
    ) -> tuple[tuple[str, ...], tuple[int, ...], np.ndarray[Any, Any]]:
        """The table of a group of fields over every combination of their values."""
        table = self.tables[names[0]]
        for name in names[1:]:
            other = self.tables[name]
            table = (table[:, None, :] & other[None, :, :]).reshape(-1, self.words)
        return tuple(names), tuple(len(self.tables[name]) for name in names), table

    @property
    def fields(self) -> tuple[str, ...]:
        """The flat fields whose values matter (every other field is accepted by every rule)."""
        return tuple(self.tables)

    def match(self, codes: Mapping[str, np.ndarray[Any, Any]], rows: int) -> np.ndarray[Any, Any]:
        """The rule bitsets of ``rows`` rows, shape ``(rows, words)``: ``codes[field][row]``
        is the position of the row's value in that flat field's domain."""
        import numpy as np

        bits = np.tile(self.everything, (rows, 1))
        looked_up = np.empty_like(bits)
        for names, sizes, table in self.groups:
            index = np.asarray(codes[names[0]], dtype=np.int64)
            for name, size in zip(names[1:], sizes[1:], strict=True):
                index = index * size + codes[name]
            np.take(table, index, axis=0, out=looked_up)
            np.bitwise_and(bits, looked_up, out=bits)
        return bits

    def ids_of(self, words: np.ndarray[Any, Any]) -> frozenset[str]:
        """The ids of the rules set in one row of bitset words."""
        found = []
        for index, word in enumerate(words.tolist()):
            while word:
                low = word & -word
                found.append(self.ids[index * 64 + low.bit_length() - 1])
                word ^= low
        return frozenset(found)
