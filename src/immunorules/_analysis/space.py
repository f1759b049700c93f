"""The profile space of the audit: every valid profile, reasoned about as boxes.

A *box* is one set of values per dimension (a bitmask over the dimension's values); the
profiles in it are every combination of those values. Each rule's ``when`` is a box, so the
whole analysis is box intersection and partition, as DMN decision-table analysers do, and it is
exact: no profile is sampled.

``disease_area`` and ``condition`` are one *joint* dimension whose values are the valid pairs,
``(area, None)`` and ``(CONDITION_AREA[c], c)``, so the constraint between them is built in and
every box holds only valid profiles. The integer field is a dimension of its 21 values; the
partition groups them into the intervals between the thresholds the rules use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from math import prod
from typing import Final

from .._model.matching import Scalar
from .._model.profile import ConditionProfile
from .._model.rules import Rule
from .._model.space import FlatSpace

__all__ = [
    "BitNarrow",
    "BitPrune",
    "Box",
    "BoxIndex",
    "Cell",
    "CompiledRule",
    "ProfileSpace",
    "bits",
    "contains",
    "intersect",
    "is_empty",
    "merge_boxes",
    "partition",
    "size",
]

Box = tuple[int, ...]
"""One bitmask per dimension: bit ``i`` set = the dimension's value ``i`` is in the box."""

JOINT: Final = "disease_area+condition"


@dataclass(frozen=True, slots=True)
class Dimension:
    name: str
    values: tuple[object, ...]

    @property
    def full(self) -> int:
        return (1 << len(self.values)) - 1

    def mask(self, allowed: Callable[[object], bool]) -> int:
        return sum(1 << index for index, value in enumerate(self.values) if allowed(value))

    def chosen(self, mask: int) -> list[object]:
        return [value for index, value in enumerate(self.values) if mask >> index & 1]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule as a box over the dimensions (``None`` box: no valid profile fires it)."""

    rule: Rule
    box: Box | None

    @property
    def id(self) -> str:
        return self.rule.id


class ProfileSpace:
    """The dimensions of one knowledge base's profile space (its flat fields, with
    ``disease_area`` and ``condition`` joined into the valid pairs)."""

    def __init__(self, flat: FlatSpace) -> None:
        self.flat = flat
        schema = flat.schema
        pairs: list[tuple[str, str | None]] = []
        for area in schema.disease_areas:
            pairs.append((area, None))
            pairs.extend((area, c) for c in schema.conditions if schema.condition_area[c] == area)
        self.joint_values: tuple[tuple[str, str | None], ...] = tuple(pairs)
        self.dimensions: tuple[Dimension, ...] = (
            Dimension(JOINT, self.joint_values),
            *(
                Dimension(name, values)
                for name, values in flat.domains.items()
                if name not in ("disease_area", "condition")
            ),
        )
        self.full: Box = tuple(dim.full for dim in self.dimensions)
        self.fields: tuple[str, ...] = tuple(flat.domains)

    def compile_rule(self, rule: Rule) -> CompiledRule:
        when = self.flat.when(rule)
        areas = when.get("disease_area")
        conditions = when.get("condition")
        masks = [
            self._joint_mask(
                lambda a, c: (
                    (areas is None or a in areas) and (conditions is None or c in conditions)
                )
            )
        ]
        for dim in self.dimensions[1:]:
            allowed = when.get(dim.name)
            masks.append(dim.full if allowed is None else dim.mask(allowed.__contains__))
        box = tuple(masks)
        return CompiledRule(rule, None if is_empty(box) else box)

    def _pairs(self, joint: int) -> list[tuple[str, str | None]]:
        return [pair for index, pair in enumerate(self.joint_values) if joint >> index & 1]

    def _joint_mask(self, allowed: Callable[[str, str | None], bool]) -> int:
        return sum(
            1 << i
            for i, (area, condition) in enumerate(self.joint_values)
            if allowed(area, condition)
        )

    def pieces(self, box: Box) -> list[Box]:
        """The box split so that each piece is exactly ``disease_area x condition`` within the
        valid pairs (a box whose pairs mix "no condition" and conditions may not be)."""
        pairs = self._pairs(box[0])
        areas = {area for area, _ in pairs}
        conditions = {condition for _, condition in pairs}
        if self._joint_mask(lambda a, c: a in areas and c in conditions) == box[0]:
            return [box]
        none_mask = self._joint_mask(lambda _, c: c is None)
        return [(joint, *box[1:]) for joint in (box[0] & none_mask, box[0] & ~none_mask) if joint]

    def regions(self, box: Box) -> list[dict[str, list[Scalar]]]:
        """The box as ``field -> allowed values`` mappings, one per :meth:`pieces` piece. A
        field that takes every value is left out, and so is ``condition`` when it is any
        condition of the areas given, or ``disease_area`` when the conditions imply it."""
        domains = self.flat.domains
        shown: list[dict[str, list[Scalar]]] = []
        for piece in self.pieces(box):
            region: dict[str, list[Scalar]] = {}
            if piece[0] != self.full[0]:
                pairs = self._pairs(piece[0])
                areas = {area for area, _ in pairs}
                conditions = {condition for _, condition in pairs}
                if piece[0] != self._joint_mask(lambda a, _, areas=areas: a in areas):  # type: ignore[misc]
                    region["condition"] = [v for v in domains["condition"] if v in conditions]
                if (None in conditions or "condition" not in region) and not areas.issuperset(
                    domains["disease_area"]
                ):
                    region["disease_area"] = [v for v in domains["disease_area"] if v in areas]
            for dim, mask in zip(self.dimensions[1:], piece[1:], strict=True):
                if mask != dim.full:
                    region[dim.name] = list(dim.chosen(mask))  # type: ignore[arg-type]
            shown.append({name: region[name] for name in self.fields if name in region})
        return shown

    def describe_region(self, region: dict[str, list[Scalar]]) -> str:
        """A region in words, e.g. ``condition = melanoma; prior_lines_of_therapy >= 1``."""
        parts = [self.flat.describe(name, frozenset(values)) for name, values in region.items()]
        return "; ".join(parts) if parts else "every profile"

    def example_profile(self, box: Box) -> ConditionProfile:
        """A readable profile from the box: a named condition where possible, the condition's
        typical immune activity, and field defaults where the box allows them."""
        data, _ = self._example(box)
        return self.flat.schema.profile_model(**self.flat.unflatten(data))

    def example_point(self, box: Box) -> Box:
        """The box of :meth:`example_profile`'s one profile (one value per dimension)."""
        return self._example(box)[1]

    def _example(self, box: Box) -> tuple[dict[str, object], Box]:
        joint = next((i for i in bits(box[0]) if self.joint_values[i][1] is not None), None)
        if joint is None:
            joint = next(bits(box[0]))
        area, condition = self.joint_values[joint]
        schema = self.flat.schema
        typical = schema.typical_activity(area, condition)
        defaults = schema.defaults
        data: dict[str, object] = {"disease_area": area, "condition": condition}
        point = [1 << joint]
        for dim, mask in zip(self.dimensions[1:], box[1:], strict=True):
            chosen = list(bits(mask))
            preferred = typical if dim.name == "immune_activity" else defaults.get(dim.name)
            index = next((i for i in chosen if dim.values[i] == preferred), None)
            if index is None:
                index = chosen[0]
                preferred = dim.values[index]
            data[dim.name] = preferred
            point.append(1 << index)
        return data, tuple(point)


def intersect(a: Box, b: Box) -> Box:
    return tuple(x & y for x, y in zip(a, b, strict=True))


def is_empty(box: Box) -> bool:
    return any(mask == 0 for mask in box)


def contains(outer: Box, inner: Box) -> bool:
    """Whether every profile of ``inner`` is in ``outer``."""
    return all(i & ~o == 0 for o, i in zip(outer, inner, strict=True))


def size(box: Box) -> int:
    """How many valid profiles the box holds."""
    return prod(mask.bit_count() for mask in box)


@dataclass(frozen=True, slots=True)
class Cell:
    """A box on which the same rules fire for every profile."""

    box: Box
    fired: frozenset[str]


BitPrune = Callable[[int, int], bool]
"""``(held, pending) -> bool`` on a :class:`BoxIndex`'s bitsets (see :meth:`BoxIndex.cells`)."""

BitNarrow = Callable[[int, int], int]
"""``(held, pending) -> kept`` on a :class:`BoxIndex`'s bitsets: the pending boxes that still
matter (see :meth:`BoxIndex.cells`)."""


def bits(mask: int) -> Iterator[int]:
    """The positions of the set bits of ``mask``, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


class BoxIndex:
    """Boxes indexed by dimension value, so that questions about all of them at once are a few
    big-integer operations per value rather than a loop over the boxes.

    Box ``i`` is bit ``i`` of every bitset: ``accepts[d][v]`` holds the boxes whose mask on
    dimension ``d`` has value ``v``, ``whole[d]`` those that take every value of ``d``. ``full``
    is the box of every profile (one mask per dimension)."""

    def __init__(self, boxes: Sequence[Box], full: Box) -> None:
        self.boxes = tuple(boxes)
        self.full = full
        self.every = (1 << len(self.boxes)) - 1
        values: list[list[int]] = [[0] * mask.bit_length() for mask in full]
        whole = [0] * len(full)
        for i, box in enumerate(self.boxes):
            bit = 1 << i
            for d, mask in enumerate(box):
                if mask == full[d]:
                    whole[d] |= bit
                else:
                    for v in bits(mask):
                        values[d][v] |= bit
        self.whole = tuple(whole)
        self.accepts = tuple(
            tuple(held | everywhere for held in per_value)
            for per_value, everywhere in zip(values, whole, strict=True)
        )

    def meeting(self, box: Box, among: int | None = None) -> int:
        """The boxes (of ``among``; all by default) that share at least one profile with ``box``."""
        found = self.every if among is None else among
        for d, mask in enumerate(box):
            if found and mask != self.full[d]:
                accepts = self.accepts[d]
                union = 0
                for v in bits(mask):
                    union |= accepts[v]
                found &= union
        return found

    def sparsest(self, box: Box, among: int) -> int:
        """The boxes of ``among`` that hold one profile of ``box``: the one with, on each
        dimension, the value the fewest of them take (the first such value), so few hold it."""
        found = among
        for d, mask in enumerate(box):
            accepts = self.accepts[d]
            best = -1
            for v in bits(mask):
                held = found & accepts[v]
                count = held.bit_count()
                if best < 0 or count < best:
                    best, chosen = count, held
                    if not best:
                        break
            found = chosen
        return found

    def containing(self, box: Box, among: int | None = None) -> int:
        """The boxes (of ``among``; all by default) that hold every profile of ``box``."""
        found = self.every if among is None else among
        for d, mask in enumerate(box):
            if found:
                found &= self._covering(d, mask)
        return found

    def _covering(self, d: int, mask: int) -> int:
        if mask == self.full[d]:
            return self.whole[d]
        accepts = self.accepts[d]
        found = -1
        for v in bits(mask):
            found &= accepts[v]
        return found

    def cells(
        self,
        start: Box,
        among: int | None = None,
        *,
        prune: BitPrune | None = None,
        narrow: BitNarrow | None = None,
        first: int = 0,
        weigh: int = 0,
        finished: Callable[[Box], None] | None = None,
    ) -> Iterator[tuple[Box, int]]:
        """:meth:`branches` without settled branches: the cells of ``start``, each with the
        bitset of the boxes that hold on it."""
        for box, held, _ in self.branches(
            start,
            among,
            prune=prune,
            narrow=narrow,
            first=first,
            weigh=weigh,
            finished=finished,
        ):
            yield box, held

    def branches(
        self,
        start: Box,
        among: int | None = None,
        *,
        prune: BitPrune | None = None,
        narrow: BitNarrow | None = None,
        settle: BitPrune | None = None,
        first: int = 0,
        weigh: int = 0,
        finished: Callable[[Box], None] | None = None,
    ) -> Iterator[tuple[Box, int, int]]:
        """Split ``start`` into disjoint cells on each of which every box of ``among`` (all by
        default) holds either everywhere or nowhere; yield each cell with the bitset of the boxes
        that hold on it and 0 (the boxes pending there: none).

        The split goes dimension by dimension, the one the most undecided boxes test first
        (the most undecided boxes of ``first`` while some are undecided), and
        groups a dimension's values into the classes no undecided box tells apart (so integer
        values fall into the intervals between thresholds); a dimension is split at most once on
        a path, so the depth is at most the number of dimensions. Cells come depth first, the
        class the fewest boxes hold first. ``prune(held, pending)`` may drop a branch whose cells
        cannot matter (``held``: the boxes that hold on all of it; ``pending``: those that hold
        on part of it); unpruned, the cells cover ``start``. ``narrow(held, pending)`` may drop
        pending boxes that cannot matter on a branch any more, given what holds on all of it:
        the branch is not split by them, and a cell's bitset then holds only the boxes kept
        (the dropped ones may hold on part of the cell). ``finished(box)``, if given, is
        called for each branch done with (cut or yielded): those boxes are disjoint and cover
        ``start``, so it tells how far the partition has got. ``settle(held, pending)``, if
        given, may say a branch (neither cut nor a cell yet) needs no more splitting: it is
        yielded whole, with the boxes that hold on all of it and those pending there (not 0).
        With ``weigh`` above 0, a dimension's count of undecided boxes is divided by ``weigh``
        plus the number of values the branch has on it, so that at close counts a dimension of
        few values (a flag) is split before a wide one (the integer field): fewer branches
        where most boxes test both."""
        alive = self.meeting(start, among)
        cover = tuple(self._covering(d, mask) for d, mask in enumerate(start))
        held = alive
        for covered in cover:
            held &= covered
        accepts = self.accepts
        # a branch carries the dimensions on which some of its pending boxes may still be
        # undecided: the others need no look (each pending box holds all of the branch there)
        stack = [(start, alive, cover, held, tuple(range(len(start))))]
        while stack:
            box, alive, cover, held, active = stack.pop()
            pending = alive & ~held
            if narrow is not None and pending:
                pending = narrow(held, pending)
                alive = held | pending
            if prune is not None and prune(held, pending):
                if finished is not None:
                    finished(box)
                continue
            if not pending or (settle is not None and settle(held, pending)):
                if finished is not None:
                    finished(box)
                yield box, held, pending
                continue
            # every pending box is undecided on some dimension, so one is chosen (weighed by
            # its values, a count can be 0: ``most`` starts below it); ties go to the lowest
            # dimension
            dim, most = 0, -1
            ranked = pending & first or pending
            undecided = []
            for d in active:
                testing = pending & ~cover[d]
                if testing:
                    undecided.append(d)
                    count = (ranked & testing).bit_count()
                    if weigh:
                        count = (count << 6) // (weigh + box[d].bit_count())
                    if count > most:
                        dim, most = d, count
            testing = pending & ~cover[dim]
            classes: dict[int, int] = {}
            per_value = accepts[dim]
            for v in bits(box[dim]):
                signature = per_value[v] & testing
                classes[signature] = classes.get(signature, 0) | 1 << v
            # the pending boxes that hold all of the branch on every dimension but ``dim``
            # (each class is a subset of the pending boxes, which hold all of it elsewhere)
            elsewhere = pending
            for d in undecided:
                if d != dim:
                    elsewhere &= cover[d]
            undecided.remove(dim)  # every box a child keeps holds all of its class
            left = tuple(undecided)
            ordered = sorted(classes.items(), key=lambda item: (item[0].bit_count(), item[1]))
            for signature, values in reversed(ordered):
                stack.append(
                    (
                        (*box[:dim], values, *box[dim + 1 :]),
                        alive & ~(testing & ~signature),
                        (*cover[:dim], cover[dim] | signature, *cover[dim + 1 :]),
                        held | (signature & elsewhere),
                        left,
                    )
                )


def partition(
    start: Box,
    rules: Iterable[CompiledRule],
    prune: Callable[[frozenset[str], Sequence[CompiledRule]], bool] | None = None,
    *,
    full: Box,
) -> Iterator[Cell]:
    """Split ``start`` into cells on which each of ``rules`` either fires everywhere or
    nowhere (:meth:`BoxIndex.cells` over the rules' boxes; ``full`` is the box of every
    profile); ``prune(fired, undecided)`` may cut off a branch whose cells cannot matter. The
    cells are disjoint and, unpruned, cover ``start``."""
    live = [compiled for compiled in rules if compiled.box is not None]
    index = BoxIndex([compiled.box for compiled in live if compiled.box is not None], full)

    def ids(held: int) -> frozenset[str]:
        return frozenset(live[i].id for i in bits(held))

    def cut(held: int, pending: int) -> bool:
        assert prune is not None
        return prune(ids(held), [live[i] for i in bits(pending)])

    for box, held in index.cells(start, prune=None if prune is None else cut):
        yield Cell(box, ids(held))


def merge_boxes(boxes: Iterable[Box]) -> list[Box]:
    """Merge disjoint boxes that differ in one dimension only, until none do; the union is
    unchanged (and stays a union of disjoint boxes). Largest first."""
    current = list(dict.fromkeys(boxes))
    dimensions = len(current[0]) if current else 0
    changed = True
    while changed and len(current) > 1:
        changed = False
        for dim in range(dimensions):
            groups: dict[Box, int] = {}
            for box in current:
                key = (*box[:dim], -1, *box[dim + 1 :])
                groups[key] = groups.get(key, 0) | box[dim]
            if len(groups) < len(current):
                changed = True
                current = [(*key[:dim], mask, *key[dim + 1 :]) for key, mask in groups.items()]
    return sorted(current, key=lambda box: (-size(box), box))
