"""Columnar evaluation: a batch of profiles given column by column, evaluated without building a
profile, a fact or a result per row.

Each profile column is encoded once: its distinct values are classified (a code in the field's
domain, not given, or invalid) and every row takes its value's code with one numpy lookup;
integer, boolean and float arrays are coded arithmetically. Defaults, required fields and the
``condition``/``disease_area`` pair are checked on whole arrays. Only the rows these checks refuse
go through :meth:`KnowledgeBase.parse`, which gives the very problems ``evaluate`` would report.
The valid rows are matched together by the columnar matcher, and each distinct set of fired rules
is resolved once with the collect policy (:func:`~.resolve.plan`) into the values a frame row
shows. Nothing here knows pandas, pyarrow or polars: the frame module adapts their columns to
:class:`Column`. It must never give an answer that ``evaluate`` would not give for the same row:
the test suite compares every column with ``evaluate`` on random rows, valid or not.

A cell is a profile value the way a table holds it: ``None``, NaN, ``pd.NA`` and ``NaT`` are
not stated (``None``, for a field that may be not stated; a field that may not takes its
default, and a field absent from the table takes its default too); a float with an integral
value is that integer (pandas stores an integer column with gaps as floats), and in a boolean
column ``0.0`` and ``1.0`` are false and true (pandas stores a boolean column with gaps as
floats); numpy scalars are the Python values they hold; a set field's cell is a list (or tuple,
set, array) of members.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol

from .._errors import ProfileError
from .._model.cache import BoundedCache
from .._model.schema import Schema

if TYPE_CHECKING:
    from .._engines.columnar import ColumnarMatcher
    from .._model.space import FlatSpace
    from .protocol import KnowledgeBaseLike as KnowledgeBase

__all__ = [
    "ABSENT",
    "INVALID",
    "MISSING",
    "Column",
    "Columnar",
    "Evaluated",
    "NumericColumn",
    "ObjectColumn",
    "clean",
    "columnar",
    "distinct_rows",
    "evaluate_columns",
]

#: A cell that is not given.
MISSING: Final = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
#: Codes that are not a position in a domain.
ABSENT: Final = -1
INVALID: Final = -2


def clean(value: Any) -> Any:
    """A table cell as a profile value (:data:`MISSING` when it is not given)."""
    if value is None:
        return MISSING
    kind = type(value)
    if kind is str or kind is bool or kind is int:
        return value
    if kind is float:
        if math.isnan(value):
            return MISSING
        return int(value) if value.is_integer() else value
    if kind is list or kind is tuple:
        return value
    module = kind.__module__
    if module == "numpy" and hasattr(value, "tolist"):  # a scalar, or an array (a list cell)
        return clean(value.tolist())
    if module.startswith("pandas"):
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return MISSING
    if isinstance(value, float) and math.isnan(value):
        return MISSING
    return value


def _key(value: Any) -> Any:
    """A hashable key that keeps apart values Python finds equal (``1``, ``1.0``, ``True``)."""
    kind = type(value)
    if kind is list or kind is tuple:
        return (kind, tuple(_key(item) for item in value))
    if kind is set or kind is frozenset:
        return (kind, frozenset(_key(item) for item in value))
    hash(value)  # a TypeError for anything else that cannot be a key
    return (kind, value)


class Column(Protocol):
    """One profile column of a batch, as the frame module reads it."""

    def factorize(self) -> tuple[Any, list[Any]]:
        """``(inverse, uniques)``: for each row the position of its value in ``uniques`` (or
        -1 when not given); ``uniques`` are cleaned values (see :func:`clean`), none MISSING."""
        ...

    def numeric(self) -> tuple[Any, Any] | None:
        """``(values, missing)`` for a numpy bool, integer or float array (``missing`` a bool
        array or None), else None."""
        ...

    def value(self, row: int) -> Any:
        """The cleaned cell of ``row`` (:data:`MISSING` when not given)."""
        ...


class ObjectColumn:
    """Cells as Python objects (a list, or a numpy object array), factorized exactly: values
    Python finds equal but validation tells apart (``1``, ``1.0``, ``True``) stay apart."""

    def __init__(self, cells: Sequence[Any]) -> None:
        self.cells = cells

    def numeric(self) -> None:
        return None

    def value(self, row: int) -> Any:
        return clean(self.cells[row])

    def factorize(self) -> tuple[Any, list[Any]]:
        import numpy as np

        seen: dict[Any, int] = {}
        uniques: list[Any] = []
        inverse: list[int] = []
        add = inverse.append
        for cell in self.cells:
            value = clean(cell)
            if value is MISSING:
                add(-1)
                continue
            try:
                key = _key(value)
            except TypeError:  # a cell no key can hold: a value of its own (invalid anyway)
                key = object()
            code = seen.get(key)
            if code is None:
                code = seen[key] = len(uniques)
                uniques.append(value)
            add(code)
        return np.array(inverse, dtype=np.int64), uniques


class NumericColumn:
    """A numpy bool, integer or float array, with an optional mask of cells not given."""

    def __init__(self, values: Any, missing: Any = None) -> None:
        self.values = values
        self.missing = missing

    def numeric(self) -> tuple[Any, Any]:
        return self.values, self.missing

    def value(self, row: int) -> Any:
        if self.missing is not None and self.missing[row]:
            return MISSING
        return clean(self.values[row].item())

    def factorize(self) -> tuple[Any, list[Any]]:  # pragma: no cover - coded arithmetically
        return ObjectColumn([self.value(row) for row in range(len(self.values))]).factorize()


# -- the outcome ---------------------------------------------------------------------------------


class Evaluated(NamedTuple):
    """A batch matched: row ``i`` fired the rules set in ``distinct[group[i]]`` (bit ``j`` for
    the ``j``-th rule of the matcher, in id order), or was invalid (``group[i] == -1``) with
    the message ``errors[i]``; ``codes`` and ``unstated`` are what the row's values were."""

    group: Any  # numpy int64, one per row
    distinct: Any  # numpy uint64, (distinct sets of fired rules, words)
    errors: dict[int, str]
    #: each flat field's codes, one per row (an invalid row's are meaningless)
    codes: Mapping[str, Any] | None = None
    #: for each field that may be not stated, a bool per row: not stated in that row
    unstated: Mapping[str, Any] | None = None


# -- the knowledge base's columnar state -----------------------------------------------------------


class _Field(NamedTuple):
    """How to code one scalar profile field."""

    name: str
    type: str
    domain: tuple[Any, ...]
    codes: dict[Any, int]  # _key(value) -> code
    default: int  # the code of the default, or ABSENT when the field is required
    int_range: tuple[int, int, int] | None  # min, max, code of min (integer fields)
    null: int  # the code of an empty cell: not stated where the field may be, else the default


class _SetField(NamedTuple):
    name: str
    members: tuple[str, ...]
    groups: tuple[tuple[str, tuple[str, ...], dict[Any, int]], ...]  # flat key, members, codes
    default: tuple[str, ...] | None  # None: not stated
    null: tuple[str, ...] | None  # an empty cell: None (not stated) where the field may be


class Columnar:
    """A knowledge base's columnar matcher (its rules in id order) and field coders, built on
    first use; :mod:`.answers` keeps its bounded caches here too."""

    def __init__(self, kb: KnowledgeBase) -> None:
        from .._engines.columnar import ColumnarMatcher

        self.kb = kb
        schema, space = kb.schema, kb.space
        rules = sorted(kb.active_rules, key=lambda rule: rule.id)
        self.matcher: ColumnarMatcher = ColumnarMatcher(
            [space.matcher(rule) for rule in rules], space.domains
        )
        self.fields: dict[str, _Field] = {}
        for name, domain in schema.domains.items():
            definition = schema.fields[name]
            index = {_key(value): code for code, value in enumerate(domain)}
            default = schema.defaults[name]
            int_range = None
            if definition.type == "integer":
                assert definition.min is not None and definition.max is not None
                int_range = (definition.min, definition.max, index[_key(definition.min)])
            code = ABSENT if definition.required else index[_key(default)]
            null = code
            if default is not None and None in domain:  # an empty cell is not stated
                null = index[_key(None)]
            self.fields[name] = _Field(name, definition.type, domain, index, code, int_range, null)
        by_field: dict[str, list[tuple[str, tuple[str, ...], dict[Any, int]]]] = {}
        for key, (name, members) in space.groups.items():
            # a group's code for each value the set field may hold (None: not stated)
            codes = {value: code for code, value in enumerate(space.domains[key])}
            by_field.setdefault(name, []).append((key, members, codes))
        self.sets: dict[str, _SetField] = {
            name: _SetField(
                name,
                members,
                tuple(by_field.get(name, ())),
                schema.defaults[name],
                None if schema.fields[name].nullable else schema.defaults[name],
            )
            for name, members in schema.set_fields.items()
        }
        self.lock = threading.Lock()
        self.caches: dict[str, BoundedCache[bytes, Any]] = {}


_STATE_LOCK = threading.Lock()


def columnar(kb: KnowledgeBase) -> Columnar:
    """The columnar state of ``kb``, built once."""
    state: Columnar | None = kb.__dict__.get("_columnar")
    if state is None:
        with _STATE_LOCK:
            state = kb.__dict__.get("_columnar")
            if state is None:
                state = kb.__dict__["_columnar"] = Columnar(kb)
    return state


# -- evaluation ------------------------------------------------------------------------------------


def evaluate_columns(
    kb: KnowledgeBase,
    columns: Mapping[str, Column],
    rows: int,
    refused: Mapping[int, str] | None = None,
) -> Evaluated:
    """Evaluate ``rows`` rows given as one :class:`Column` per profile field present (every
    other field is not given in any row). ``refused`` maps rows already known to be invalid
    (e.g. a JSON line that is not an object) to their messages."""
    import numpy as np

    state = columnar(kb)
    schema = kb.schema
    invalid = np.zeros(rows, dtype=bool)
    codes: dict[str, Any] = {}
    for name, field in state.fields.items():
        column = columns.get(name)
        found = np.full(rows, ABSENT, dtype=np.int64) if column is None else _codes(column, field)
        invalid |= found == INVALID
        codes[name] = found
    _pair(schema, state, codes, invalid)
    for name, field in state.fields.items():
        found = codes[name]
        missing = found == ABSENT
        fill = field.default if columns.get(name) is None else field.null
        if fill == ABSENT:
            invalid |= missing
        elif missing.any():
            found[missing] = fill
    unstated: dict[str, Any] = {}
    for name, set_field in state.sets.items():
        column = columns.get(name)
        if column is None:
            for key, _, group_codes in set_field.groups:
                value = kb.space.group_value(key, set_field.default)
                codes[key] = np.full(rows, group_codes[value], dtype=np.int64)
            unstated[name] = np.full(rows, set_field.default is None, dtype=bool)
            continue
        unstated[name] = _set_codes(column, set_field, codes, invalid, kb.space)
    if refused:
        invalid[list(refused)] = False  # checked below by their given messages
    errors = _check_refused(kb, state, columns, codes, invalid)
    if refused:
        invalid[list(refused)] = True
        errors.update(refused)
    for name, field in state.fields.items():
        if None in field.domain:
            unstated[name] = codes[name] == field.codes[_key(None)]
    order = {name: n for n, name in enumerate(kb.schema.profile_model.model_fields)}
    unstated = dict(sorted(unstated.items(), key=lambda item: order[item[0]]))
    return _match(state, codes, invalid, errors, rows)._replace(codes=codes, unstated=unstated)


def _members(field: _SetField, present: Collection[Any]) -> tuple[str, ...]:
    return tuple(member for member in field.members if member in present)


def _codes(column: Column, field: _Field) -> Any:
    """The codes of a scalar field's column: a position in its domain, ABSENT or INVALID."""
    import numpy as np

    numeric = column.numeric()
    if numeric is not None:
        values, missing = numeric
        kind = values.dtype.kind
        if kind == "b":
            if field.type == "boolean":  # the domain is (False, True), or (None, False, True)
                found = np.where(values, field.codes[_key(True)], field.codes[_key(False)])
            else:
                found = np.full(len(values), INVALID, dtype=np.int64)
        elif kind == "f" and field.type == "boolean":  # 0.0 and 1.0: a boolean column with gaps
            nan = np.isnan(values)
            missing = nan if missing is None else (missing | nan)
            found = np.where(values == 1.0, field.codes[_key(True)], field.codes[_key(False)])
            found = np.where((values == 1.0) | (values == 0.0), found, INVALID)
        elif kind in "iuf" and field.int_range is not None:
            low, high, first = field.int_range
            if kind == "f":
                with np.errstate(invalid="ignore"):
                    nan = np.isnan(values)
                    ok = (values >= low) & (values <= high) & (values == np.floor(values))
                missing = nan if missing is None else (missing | nan)
            else:
                ok = (values >= low) & (values <= high)
            shifted = np.where(ok, values, low).astype(np.int64) - (low - first)
            found = np.where(ok, shifted, INVALID)
        elif kind == "f":
            nan = np.isnan(values)
            missing = nan if missing is None else (missing | nan)
            found = np.full(len(values), INVALID, dtype=np.int64)
        else:
            found = np.full(len(values), INVALID, dtype=np.int64)
        if missing is not None:
            found[missing] = ABSENT
        return found
    inverse, uniques = column.factorize()
    index = field.codes
    table = []
    for value in uniques:
        if value is MISSING:
            table.append(ABSENT)
            continue
        try:
            table.append(index.get(_key(value), INVALID))
        except TypeError:
            table.append(INVALID)
    table.append(ABSENT)  # inverse -1: not given
    return np.take(np.asarray(table, dtype=np.int64), inverse)


def _pair(schema: Schema, state: Columnar, codes: dict[str, Any], invalid: Any) -> None:
    """``disease_area`` follows from ``condition`` when not given, and must agree with it."""
    import numpy as np

    if "condition" not in codes or "disease_area" not in codes:  # pragma: no cover
        return
    areas = state.fields["disease_area"]
    conditions = state.fields["condition"]
    area_of = np.array(
        [
            ABSENT if value is None else areas.codes[_key(schema.condition_area[value])]
            for value in conditions.domain
        ]
        + [ABSENT, ABSENT],  # codes -2 and -1 index from the end: no area
        dtype=np.int64,
    )
    condition, area = codes["condition"], codes["disease_area"]
    implied = np.take(area_of, condition)
    derive = (area == ABSENT) & (implied != ABSENT)
    area[derive] = implied[derive]
    invalid |= (area >= 0) & (implied != ABSENT) & (area != implied)


def _set_codes(
    column: Column, field: _SetField, codes: dict[str, Any], invalid: Any, space: FlatSpace
) -> Any:
    """The codes of a set field's member groups; a cell that is not a list of members is
    invalid, a missing cell takes the field's default (not stated, if it may be). Returns
    a bool per row: the set is not stated."""
    import numpy as np

    inverse, uniques = column.factorize()
    allowed = frozenset(field.members)
    tables: list[list[int]] = [[] for _ in field.groups]
    bad = []
    nulls = []
    for value in [*uniques, MISSING]:
        stated = True
        if value is MISSING:
            stated = field.null is not None
            present: tuple[str, ...] | None = _members(field, field.null or ())
        elif isinstance(value, list | tuple | set | frozenset) and all(
            isinstance(m, str) and m in allowed for m in value
        ):
            present = _members(field, value)
        else:
            present = None
        bad.append(present is None)
        nulls.append(not stated)
        for table, (key, _, group_codes) in zip(tables, field.groups, strict=True):
            if present is None:
                table.append(0)
            else:
                table.append(group_codes[space.group_value(key, present if stated else None)])
    invalid |= np.take(np.asarray(bad, dtype=bool), inverse)
    for table, (key, _, _) in zip(tables, field.groups, strict=True):
        codes[key] = np.take(np.asarray(table, dtype=np.int64), inverse)
    return np.take(np.asarray(nulls, dtype=bool), inverse)


def _check_refused(
    kb: KnowledgeBase,
    state: Columnar,
    columns: Mapping[str, Column],
    codes: dict[str, Any],
    invalid: Any,
) -> dict[int, str]:
    """Validate the rows the vectorised checks refused, for their exact problems.

    A row that validation accepts after all (which the test suite checks never happens) is
    coded from its validated profile and evaluated like the others.
    """
    import numpy as np

    errors: dict[int, str] = {}
    if not invalid.any():
        return errors
    seen: dict[Any, str | dict[str, int]] = {}
    nulls = _nulls(state)
    for row in np.flatnonzero(invalid).tolist():
        data = {}
        for name, column in columns.items():
            value = _cell(column, row, state.fields.get(name))
            if value is not MISSING:
                data[name] = value
            elif name in nulls:  # an empty cell is not stated, not the field's default
                data[name] = None
        try:
            key: Any = _key(tuple(data.items()))
        except TypeError:
            key = object()
        outcome = seen.get(key)
        if outcome is None:
            try:
                profile = kb.parse(data)
            except ProfileError as exc:
                outcome = str(exc)
            else:
                fact = kb.space.fact(profile)
                outcome = {
                    name: _flat_code(kb, state, name, fact[name])
                    for name in (*state.fields, *kb.space.groups)
                }
            seen[key] = outcome
        if isinstance(outcome, str):
            errors[row] = outcome
        else:
            for name, code in outcome.items():
                codes[name][row] = code
            invalid[row] = False
    return errors


def _nulls(state: Columnar) -> frozenset[str]:
    """The fields whose empty cells are not stated where an omitted field is not."""
    scalars = (f.name for f in state.fields.values() if f.null != f.default)
    sets = (f.name for f in state.sets.values() if f.null != f.default)
    return frozenset((*scalars, *sets))


def _cell(column: Column, row: int, field: _Field | None) -> Any:
    """The cell of ``row`` as a profile value: ``0.0``/``1.0`` of a float column are booleans
    in a boolean field."""
    value = column.value(row)
    if field is not None and field.type == "boolean" and value in (0, 1):
        numeric = column.numeric()
        if numeric is not None and numeric[0].dtype.kind == "f":
            return value == 1
    return value


def _flat_code(kb: KnowledgeBase, state: Columnar, name: str, value: Any) -> int:
    field = state.fields.get(name)
    if field is not None:
        return field.codes[_key(value)]
    return list(kb.space.domains[name]).index(value)


def _match(
    state: Columnar, codes: dict[str, Any], invalid: Any, errors: dict[int, str], rows: int
) -> Evaluated:
    import numpy as np

    matcher = state.matcher
    group = np.full(rows, -1, dtype=np.int64)
    valid = np.flatnonzero(~invalid)
    if not len(valid):
        return Evaluated(group, np.zeros((0, matcher.words), dtype=np.uint64), errors)
    every = len(valid) == rows
    bits = matcher.match(
        {name: codes[name] if every else np.take(codes[name], valid) for name in matcher.fields},
        len(valid),
    )
    distinct, inverse = distinct_rows(bits)
    group[valid] = inverse
    return Evaluated(group, distinct, errors)


def distinct_rows(bits: Any) -> tuple[Any, Any]:
    """The distinct rows of a 2-d uint64 array and, for each row, the position of its own:
    hashed by pandas where it is installed (linear time), else sorted by numpy."""
    import numpy as np

    rows, words = bits.shape
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - depends on the environment
        pd = None
    code: Any = None
    for word in range(words):
        column = np.ascontiguousarray(bits[:, word])
        if pd is not None:
            inverse, uniques = pd.factorize(column)
        else:  # pragma: no cover
            uniques, inverse = np.unique(column, return_inverse=True)
        code = inverse if code is None else code * len(uniques) + inverse
        if word and pd is not None:
            code, _ = pd.factorize(code)
        elif word:  # pragma: no cover
            _, code = np.unique(code, return_inverse=True)
    code = np.asarray(code, dtype=np.int64).reshape(-1)
    example = np.empty(int(code.max()) + 1 if rows else 0, dtype=np.int64)
    example[code] = np.arange(rows, dtype=np.int64)  # any row of each: they are equal
    return np.take(bits, example, axis=0), code
