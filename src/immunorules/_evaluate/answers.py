"""What each row of an evaluated batch shows, built from its distinct sets of fired rules.

A frame row shows ``covered``, ``conflict``, a tier per category, the avoided classes, the
advisories and the fired rules. Each depends only on which rules fired, and most on only some of
them: tiers, avoids and conflicts on the rules that suggest, flag or avoid; advisories on those
that advise; ``covered`` on the decisive ones. So the batch's distinct sets of fired rules are
reduced to those parts, each distinct part is resolved once by the collect policy
(:func:`immunorules._policy.plan`, cached per knowledge base, bounded), and every row takes its
values with numpy lookups. List columns stay codes into a small dictionary of names until a
table library builds them. The answers equal those of ``evaluate``'s results field for field
(the test suite checks it on both engines).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from .._model.cache import BoundedCache
from .._policy import is_decisive, plan
from .columns import Columnar, Evaluated, columnar, distinct_rows
from .depends import ColumnarDepends

if TYPE_CHECKING:
    from .protocol import KnowledgeBaseLike as KnowledgeBase

__all__ = ["TIERS", "Answers", "ListColumn", "answer"]

#: The values of a ``tier_<category>`` column; code -1 is null (not suggested).
TIERS: Final = ("first_line", "escalation", "flagged")
#: Bound of each cache of resolved parts, per knowledge base.
MAX_CACHED: Final = 16384


class ListColumn(NamedTuple):
    """A column of lists of names: row ``i`` holds entry ``index[i]`` (null when -1), and entry
    ``e`` is ``dictionary[flat[offsets[e]:offsets[e + 1]]]``."""

    dictionary: tuple[str, ...]
    flat: Any  # numpy int32
    offsets: Any  # numpy int64, entries + 1
    index: Any  # numpy int64, one per row
    entries: Callable[[], list[tuple[str, ...]]]  # each entry as a tuple of names

    def per_row(self) -> tuple[Any, Any]:
        """``(offsets, codes)`` of each row's list (an invalid row's is empty), for Arrow."""
        import numpy as np

        index = self.index
        lengths = np.diff(self.offsets)
        picked = np.where(index >= 0, np.take(np.append(lengths, 0), index), 0)
        offsets = np.zeros(len(index) + 1, dtype=np.int64)
        np.cumsum(picked, out=offsets[1:])
        starts = np.take(np.append(self.offsets[:-1], 0), index)
        # Element j of row r sits at starts[r] + (j - offsets[r]): one repeat, one arange.
        positions = np.repeat(starts - offsets[:-1], picked)
        positions += np.arange(offsets[-1], dtype=np.int64)
        return offsets, np.take(self.flat, positions)

    def tuples(self) -> Any:
        """A numpy object array of each row's tuple of names (None for an invalid row); rows
        with the same list share one tuple."""
        import numpy as np

        entries = self.entries()
        values = np.empty(len(entries) + 1, dtype=object)
        values[: len(entries)] = entries
        values[-1] = None
        return np.take(values, self.index)


class Answers(NamedTuple):
    """The answers of a batch, as numpy arrays (one value per row; invalid rows hold fillers
    and ``valid`` is False there)."""

    valid: Any
    covered: Any
    conflict: Any
    tiers: list[Any]  # one int8 code array per category
    avoided: ListColumn
    advisories: ListColumn
    fired_rules: ListColumn
    errors: dict[int, str]
    unstated: ListColumn | None = None  # the fields not stated
    depends_on: ListColumn | None = None  # those of them the answer depends on


class _Parts:
    """A knowledge base's rule masks and name dictionaries, kept with its columnar state."""

    def __init__(self, kb: KnowledgeBase, state: Columnar) -> None:
        import numpy as np

        self.kb = kb
        self.state = state
        matcher = state.matcher
        self.ids = matcher.ids
        schema = kb.schema
        rules = [kb.rule(rule_id) for rule_id in self.ids]

        def mask(bits: list[int]) -> Any:
            words = np.zeros(matcher.words, dtype=np.uint64)
            for bit in bits:
                words[bit // 64] |= np.uint64(1 << (bit % 64))
            return words

        def where(keep: Callable[[Any], bool]) -> Any:
            return mask([bit for bit, rule in enumerate(rules) if keep(rule)])

        self.effects = where(lambda r: bool(r.then.suggest or r.then.flag or r.then.avoid))
        self.decisive = where(lambda r: is_decisive(r, schema))
        self.tier_codes = {tier: code for code, tier in enumerate(TIERS)}
        # Avoids and advisories are unions over the fired rules, in the order resolution
        # gives them: a mask per avoided name and per advisory, in that order.
        categories, subcategories = schema.category_order, schema.subcategory_order
        pairs = sorted(
            {(a.category, a.subcategory) for rule in rules for a in rule.then.avoid},
            key=lambda pair: (
                categories[pair[0]],
                -1 if pair[1] is None else subcategories[pair[1]],
            ),
        )
        self.avoid_names = tuple(sub or category for category, sub in pairs)
        avoids = [{(a.category, a.subcategory) for a in rule.then.avoid} for rule in rules]
        self.avoid_masks = np.array(
            [mask([bit for bit, found in enumerate(avoids) if pair in found]) for pair in pairs],
            dtype=np.uint64,
        ).reshape(len(pairs), matcher.words)
        kinds = {advisory.key: advisory.kind for advisory in schema.vocabulary.advisories}
        keys = sorted(
            {key for rule in rules for key in rule.then.advise},
            key=lambda key: (kinds[key] != "referral", key),
        )
        self.advisory_names = tuple(keys)
        advised = [set(rule.then.advise) for rule in rules]
        self.advisory_masks = np.array(
            [mask([bit for bit, found in enumerate(advised) if key in found]) for key in keys],
            dtype=np.uint64,
        ).reshape(len(keys), matcher.words)
        state.caches.setdefault("effects", BoundedCache(MAX_CACHED))

    def cached(self, name: str, key: bytes, make: Callable[[], Any]) -> Any:
        return self.state.caches[name].get_or_put(key, make)

    def rules(self, words: Any) -> list[Any]:
        found = []
        for index, word in enumerate(words.tolist()):
            while word:
                low = word & -word
                found.append(self.kb.rule(self.ids[index * 64 + low.bit_length() - 1]))
                word ^= low
        return found

    def effect(self, words: Any) -> tuple[tuple[int, ...], bool]:
        """Tier codes per category, and whether there is a conflict."""
        steps = plan(self.rules(words), self.kb.schema)
        tiers = {}
        for line in steps.suggestions:
            fields = dict(line.fields)
            tiers[fields["category"]] = self.tier_codes[fields["tier"]]
        categories = self.kb.schema.categories
        return tuple(tiers.get(category, -1) for category in categories), bool(steps.conflicts)


def _parts(kb: KnowledgeBase) -> _Parts:
    state = columnar(kb)
    parts: _Parts | None = state.__dict__.get("parts")
    if parts is None:
        with state.lock:
            parts = state.__dict__.get("parts")
            if parts is None:
                parts = state.__dict__["parts"] = _Parts(kb, state)
    return parts


def answer(kb: KnowledgeBase, evaluated: Evaluated) -> Answers:
    """The answers of a batch matched by :func:`~.columns.evaluate_columns`."""
    import numpy as np

    parts = _parts(kb)
    group, distinct = evaluated.group, evaluated.distinct
    valid = group >= 0
    covered = _per_row((distinct & parts.decisive).any(axis=1), group, False)

    keys, effect_of = distinct_rows(distinct & parts.effects)
    effects = [
        parts.cached("effects", words.tobytes(), partial(parts.effect, words)) for words in keys
    ]
    effect_row = _per_row(effect_of, group, -1)
    categories = len(kb.schema.categories)
    table = np.array([tiers for tiers, _ in effects], dtype=np.int8).reshape(-1, categories)
    tiers = [_per_row(table[:, i], effect_row, -1) for i in range(categories)]
    conflict = _per_row(np.array([c for _, c in effects], dtype=bool), effect_row, False)

    avoided = _unions(distinct, group, parts.avoid_masks, parts.avoid_names)
    advisories = _unions(distinct, group, parts.advisory_masks, parts.advisory_names)
    octets = np.ascontiguousarray(distinct.astype("<u8")).view(np.uint8)
    bits = np.unpackbits(
        octets.reshape(len(distinct), 8 * distinct.shape[1]), axis=1, bitorder="little"
    )
    fired = _lists(bits[:, : len(parts.ids)], parts.ids, group)  # rules in id order
    unstated, depends_on = _assumes(kb, parts, evaluated, valid)
    return Answers(
        valid,
        covered,
        conflict,
        tiers,
        avoided,
        advisories,
        fired,
        evaluated.errors,
        unstated,
        depends_on,
    )


def _assumes(
    kb: KnowledgeBase, parts: _Parts, evaluated: Evaluated, valid: Any
) -> tuple[ListColumn, ListColumn]:
    """The ``unstated`` and ``depends_on`` columns: which fields each row leaves not stated,
    and which of them its answer depends on (see :mod:`.depends`)."""
    import numpy as np

    rows = len(valid)
    nulls = dict(evaluated.unstated or {})
    names = tuple(nulls)
    found: dict[str, Any] = {}
    depends = getattr(kb._resolver, "depends", None)
    if depends is not None and evaluated.codes is not None:
        columnar_depends = parts.state.__dict__.get("depends")
        if columnar_depends is None:
            columnar_depends = parts.state.__dict__["depends"] = ColumnarDepends(
                depends, parts.state.matcher
            )
        found = columnar_depends.rows(evaluated.codes, rows, valid)
    empty = np.zeros(rows, dtype=bool)
    unstated = np.stack([nulls[name] & valid for name in names], axis=1) if names else None
    depending = np.stack([found.get(name, empty) for name in names], axis=1) if names else None
    index = np.where(valid, np.arange(rows, dtype=np.int64), -1)
    return _flags(unstated, names, index, rows), _flags(depending, names, index, rows)


def _flags(present: Any, names: tuple[str, ...], index: Any, rows: int) -> ListColumn:
    """A list column from a (rows, names) bool matrix, each distinct row's list made once;
    rows whose ``index`` is -1 are null."""
    import numpy as np

    if present is None:
        return _lists(np.zeros((1, 0), dtype=bool), names, np.where(index >= 0, 0, -1))
    words = -(-len(names) // 64)
    packed = np.zeros((rows, words), dtype=np.uint64)
    for n in range(len(names)):
        packed[:, n // 64] |= present[:, n].astype(np.uint64) << np.uint64(n % 64)
    keys, key_of = distinct_rows(packed)
    shifts = np.arange(len(names), dtype=np.uint64) % np.uint64(64)
    unpacked = ((keys[:, np.arange(len(names)) // 64] >> shifts) & np.uint64(1)).astype(bool)
    return _lists(unpacked, names, np.where(index >= 0, key_of, -1))


def _per_row(values: Any, index: Any, filler: Any) -> Any:
    """``values[index]``, with ``filler`` where ``index`` is -1."""
    import numpy as np

    return np.take(np.append(values, np.asarray([filler], dtype=values.dtype)), index)


def _unions(distinct: Any, group: Any, masks: Any, names: tuple[str, ...]) -> ListColumn:
    """For each row, the names whose mask meets its fired rules (distinct parts computed once)."""
    import numpy as np

    union = np.bitwise_or.reduce(masks, axis=0) if len(masks) else np.zeros(distinct.shape[1])
    keys, key_of = distinct_rows(distinct & union.astype(np.uint64))
    present = ((keys[:, None, :] & masks[None, :, :]) != 0).any(axis=2)
    return _lists(present, names, _per_row(key_of, group, -1))


def _lists(present: Any, names: tuple[str, ...], index: Any) -> ListColumn:
    """A list column from a (entries, names) matrix of which names each entry holds."""
    import numpy as np

    entries, columns = np.nonzero(present)  # names in order within each entry
    count = len(present)
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.bincount(entries, minlength=count), out=offsets[1:])
    flat = columns.astype(np.int32)

    def named() -> list[tuple[str, ...]]:
        codes = flat.tolist()
        bounds = offsets.tolist()
        return [
            tuple([names[code] for code in codes[bounds[e] : bounds[e + 1]]]) for e in range(count)
        ]

    return ListColumn(names, flat, offsets, index, named)
