"""The audit's box algebra against brute force on small spaces: the bitset index's queries, its
partition (with and without pruning and settling), the disjoint union and the merge."""

from __future__ import annotations

import itertools

from hypothesis import example, given, settings
from hypothesis import strategies as st

from immunorules._analysis.audit import _Union
from immunorules._analysis.audit_report import describe_region
from immunorules._analysis.space import (
    Box,
    BoxIndex,
    bits,
    contains,
    intersect,
    is_empty,
    merge_boxes,
    partition,
    size,
)
from immunorules._api.knowledge_base import KnowledgeBase

from .bundled import DIMENSIONS, JOINT_VALUES, compile_rule, pieces, regions
from .bundled import FULL as SPACE
from .test_audit_differential import knowledge_bases

FULL: Box = (0b111, 0b1111, 0b11111)  # a small space: 3 x 4 x 5 values
POINTS = list(itertools.product(*(range(mask.bit_length()) for mask in FULL)))


def _inside(point: tuple[int, ...], box: Box) -> bool:
    return all(mask >> value & 1 for value, mask in zip(point, box, strict=True))


boxes = st.tuples(*(st.integers(1, mask) for mask in FULL))


@settings(max_examples=200, deadline=None)
@given(st.lists(boxes, max_size=8), boxes)
def test_meeting_and_containing_are_what_they_say(found: list[Box], probe: Box) -> None:
    index = BoxIndex(found, FULL)
    meeting = {
        i
        for i, box in enumerate(found)
        if any(_inside(p, box) for p in POINTS if _inside(p, probe))
    }
    holding = {
        i
        for i, box in enumerate(found)
        if all(_inside(p, box) for p in POINTS if _inside(p, probe))
    }
    assert set(bits(index.meeting(probe))) == meeting
    assert set(bits(index.containing(probe))) == holding


@settings(max_examples=200, deadline=None)
@given(st.lists(boxes, max_size=8), boxes, st.integers(0, 2**8 - 1))
def test_cells_are_disjoint_cover_the_start_and_hold_exactly(
    found: list[Box], start: Box, among: int
) -> None:
    index = BoxIndex(found, FULL)
    among &= index.every
    seen: set[tuple[int, ...]] = set()
    for cell, held in index.cells(start, among):
        points = [p for p in POINTS if _inside(p, cell)]
        assert points and len(points) == size(cell)
        for point in points:
            assert point not in seen
            seen.add(point)
            expected = {i for i in bits(among) if _inside(point, found[i])}
            assert set(bits(held)) == expected
    assert seen == {p for p in POINTS if _inside(p, start)}


@settings(max_examples=200, deadline=None)
@given(st.lists(boxes, min_size=1, max_size=8), boxes)
def test_pruned_cells_are_the_uncovered_part(found: list[Box], start: Box) -> None:
    index = BoxIndex(found, FULL)
    uncovered = [cell for cell, _ in index.cells(start, prune=lambda held, _: held != 0)]
    points = {p for cell in uncovered for p in POINTS if _inside(p, cell)}
    assert sum(size(cell) for cell in uncovered) == len(points)
    assert points == {
        p for p in POINTS if _inside(p, start) and not any(_inside(p, box) for box in found)
    }


@settings(max_examples=200, deadline=None)
@given(st.lists(boxes, max_size=8), boxes, st.integers(0, 2**8 - 1), st.integers(0, 2**8 - 1))
def test_settled_branches_hold_what_they_say(
    found: list[Box], start: Box, among: int, settling: int
) -> None:
    """A branch ``settle`` takes whole is yielded with the boxes holding all of it and those
    still pending there; the branches and cells stay disjoint and cover the start."""
    index = BoxIndex(found, FULL)
    among &= index.every
    seen: set[tuple[int, ...]] = set()
    for box, held, pending in index.branches(
        start, among, settle=lambda held, pending: bool(pending & settling), weigh=4
    ):
        points = [p for p in POINTS if _inside(p, box)]
        assert points and len(points) == size(box)
        assert not held & pending
        for point in points:
            assert point not in seen
            seen.add(point)
            expected = {i for i in bits(among) if _inside(point, found[i])}
            assert set(bits(held)) <= expected <= set(bits(held | pending))
        assert pending == 0 or pending & settling
        if not pending:
            assert all(
                {i for i in bits(among) if _inside(p, found[i])} == set(bits(held)) for p in points
            )
    assert seen == {p for p in POINTS if _inside(p, start)}


@settings(max_examples=200, deadline=None)
@given(st.lists(boxes, min_size=1, max_size=8), boxes, st.integers(0, 2**8 - 1))
def test_sparsest_is_the_boxes_holding_one_profile(found: list[Box], box: Box, among: int) -> None:
    """The boxes ``sparsest`` gives are exactly those of ``among`` holding one profile of the
    box (the masked-rule check judges that profile first)."""
    index = BoxIndex(found, FULL)
    among &= index.every
    chosen = index.sparsest(box, among)
    holding = [{i for i in bits(among) if _inside(p, found[i])} for p in POINTS if _inside(p, box)]
    assert set(bits(chosen)) in holding


@settings(max_examples=200, deadline=None)
@given(st.lists(boxes, max_size=8), boxes)
def test_a_union_merged_as_cells_come_keeps_them(found: list[Box], start: Box) -> None:
    """The audit's :class:`_Union`, fed a partition's cells in the order they come (merging
    each with the last where they differ in one dimension), holds exactly their profiles."""
    index = BoxIndex(found, FULL)
    union = _Union()
    cells = [cell for cell, held in index.cells(start) if held]
    for cell in cells:
        union.add(cell)
    points = {p for cell in cells for p in POINTS if _inside(p, cell)}
    merged = union.merged()
    assert union.size == len(points) == sum(size(box) for box in merged)
    assert {p for box in merged for p in POINTS if _inside(p, box)} == points


@settings(max_examples=200, deadline=None)
@given(st.lists(boxes, max_size=8), boxes)
def test_merging_cells_keeps_their_union(found: list[Box], start: Box) -> None:
    index = BoxIndex(found, FULL)
    cells = [cell for cell, held in index.cells(start) if held]
    finished: list[Box] = []
    assert [c for c, h in index.cells(start, finished=finished.append) if h] == cells
    assert sum(size(box) for box in finished) == size(start)  # disjoint, and cover the start
    union = {p for p in POINTS if _inside(p, start) and any(_inside(p, box) for box in found)}
    merged = merge_boxes(cells)
    assert sum(size(box) for box in merged) == len(union)
    assert {p for box in merged for p in POINTS if _inside(p, box)} == union
    assert len(merged) <= len(cells)
    assert [size(box) for box in merged] == sorted((size(box) for box in merged), reverse=True)


@settings(max_examples=30, deadline=None)
@given(knowledge_bases())
def test_partition_of_rules_names_the_rules_that_fire(kb: KnowledgeBase) -> None:
    compiled = [compile_rule(rule) for rule in kb.active_rules]
    cells = list(partition(SPACE, compiled, full=SPACE))
    assert sum(size(cell.box) for cell in cells) == size(SPACE)
    for cell in cells:
        for rule in compiled:
            if rule.box is None or is_empty(intersect(rule.box, cell.box)):
                assert rule.id not in cell.fired
            else:  # a rule that meets a cell holds on all of it
                assert contains(rule.box, cell.box)
                assert rule.id in cell.fired


_NO_CONDITION = sum(1 << i for i, (_, c) in enumerate(JOINT_VALUES) if c is None)


@settings(max_examples=300, deadline=None)
@given(st.tuples(*(st.integers(1, mask) for mask in SPACE)))
@example((_NO_CONDITION, *SPACE[1:]))  # every area, no condition
@example((SPACE[0] & ~_NO_CONDITION, *SPACE[1:]))  # every condition
@example((_NO_CONDITION | 0b10, *SPACE[1:]))  # every area without one, a condition too
def test_regions_are_the_box_exactly_and_read_as_words(box: Box) -> None:
    """Each piece's region, read back as a box, is the piece; no condition reads as an empty
    list (e.g. "disease_area not in []")."""
    found = pieces(box)
    assert sum(size(piece) for piece in found) == size(box)
    for piece, region in zip(found, regions(box), strict=True):
        areas, conditions = region.get("disease_area"), region.get("condition")
        joint = sum(
            1 << i
            for i, (area, condition) in enumerate(JOINT_VALUES)
            if (areas is None or area in areas) and (conditions is None or condition in conditions)
        )
        rest = [
            dim.full if dim.name not in region else dim.mask(region[dim.name].__contains__)
            for dim in DIMENSIONS[1:]
        ]
        assert (joint, *rest) == piece
        assert "[]" not in describe_region(region)
