"""The tabular path: evaluate every row of a pandas DataFrame (pandas is an optional extra).

One output row per input row, on the same index: the tier of each therapy category, the drug
classes, avoidances, advisory keys, whether there is a conflict, ``covered`` and the fired
rules. Cells that are missing (None, NaN, ``pd.NA``) are fields not given, so the profile's
defaults apply; an integral float (pandas stores an integer column with missing cells as
floats) is taken as an integer; numpy scalars are taken as the Python values they hold.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Literal

from .._errors import ProfileError, ProfileProblem
from .._model.profile import did_you_mean
from .._model.result import Result
from .._model.schema import Schema

if TYPE_CHECKING:
    import pandas as pd

    from .knowledge_base import KnowledgeBase

__all__ = ["evaluate_frame", "frame_columns"]

#: The columns of :func:`evaluate_frame`'s output after one per category, in order
#: (``problems`` only when collecting).
_RESULT_COLUMNS: Final[tuple[str, ...]] = (
    "drug_classes",
    "avoided",
    "advisories",
    "conflict",
    "covered",
    "fired_rules",
)
_MISSING: Final = object()


def frame_columns(schema: Schema) -> tuple[str, ...]:
    """The output columns for a knowledge base of ``schema``: one per category, then the rest."""
    return (*schema.categories, *_RESULT_COLUMNS)


_TIERS: Final = ("first_line", "escalation", "flagged")


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "evaluate_frame needs pandas: pip install 'immunorules[pandas]'"
        ) from None
    return pandas


def evaluate_frame(
    frame: pd.DataFrame,
    kb: KnowledgeBase | None = None,
    *,
    errors: Literal["raise", "collect"] = "raise",
    extra_columns: Literal["forbid", "ignore"] = "forbid",
    workers: int = 1,
) -> pd.DataFrame:
    """Evaluate each row of ``frame`` (columns named after profile fields) with ``kb``.

    ``kb`` defaults to the bundled knowledge base. Returns a DataFrame on the same index with
    the columns of :data:`FRAME_COLUMNS`: one per therapy category holding its tier (a
    categorical of ``first_line``, ``escalation``, ``flagged``; missing when the category is not
    suggested), then ``drug_classes``, ``avoided``
    (category or drug-class names) and ``advisories`` (tuples of ids), ``conflict`` and
    ``covered`` (booleans) and ``fired_rules`` (a tuple of rule ids).

    ``errors="raise"`` raises :class:`ProfileError` for the first invalid row, its paths
    prefixed with the row's position (``[3].severity``). ``errors="collect"`` evaluates every
    valid row and adds a ``problems`` column: for an invalid row, its problems as
    ``"path: message"`` strings (its other cells empty), for a valid row an empty tuple.

    A column that is not a profile field is a :class:`ProfileError` before any row is
    evaluated, unless ``extra_columns="ignore"`` (e.g. for an id column kept in the frame).
    """
    pd = _pandas()
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"evaluate_frame takes a pandas DataFrame, not {type(frame).__name__}")
    if extra_columns not in ("forbid", "ignore"):
        raise ValueError(f"extra_columns must be 'forbid' or 'ignore', not {extra_columns!r}")
    if kb is None:
        from .. import _bundled

        kb = _bundled()
    columns = _columns(frame, kb.schema, ignore=extra_columns == "ignore")
    names = [name for name, _ in columns]
    cleaned = [[clean(cell) for cell in frame[name].tolist()] for name, clean in columns]
    rows = [
        {name: value for name, value in zip(names, cells, strict=True) if value is not _MISSING}
        for cells in zip(*cleaned, strict=True)
    ]
    if not columns:
        rows = [{} for _ in range(len(frame))]
    outcomes = kb.evaluate_many(rows, workers=workers, errors=errors)
    return _frame(pd, frame.index, outcomes, kb.schema, collect=errors == "collect")


def _columns(
    frame: pd.DataFrame, schema: Schema, *, ignore: bool
) -> list[tuple[str, Callable[[Any], Any]]]:
    """The profile-field columns of ``frame``, each with how to read its cells."""
    known = set(schema.fields)
    unknown = [name for name in frame.columns if name not in known]
    if unknown and not ignore:
        raise ProfileError(
            ProfileProblem(
                str(name),
                "unknown column (not a profile field)"
                f"{did_you_mean(name, list(schema.fields))}; pass extra_columns='ignore' "
                "to leave such columns out",
            )
            for name in unknown
        )
    if frame.columns.has_duplicates:
        duplicated = sorted({str(name) for name in frame.columns[frame.columns.duplicated()]})
        raise ProfileError(ProfileProblem(name, "duplicate column") for name in duplicated)
    return [
        (name, _float_cell if frame[name].dtype.kind == "f" else _cell)
        for name in frame.columns
        if name in known
    ]


def _cell(value: Any) -> Any:
    """A cell as a profile value: missing cells are fields not given; numpy scalars unboxed."""
    if value is None:
        return _MISSING
    kind = type(value)
    if kind is str or kind is bool or kind is int:
        return value
    if isinstance(value, float):
        return _float_cell(value)
    item = getattr(value, "item", None)  # a numpy scalar
    if item is not None and type(value).__module__ == "numpy":
        return _cell(item())
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return _MISSING
    except ImportError:  # pragma: no cover
        pass
    return value


def _float_cell(value: Any) -> Any:
    if value is None:
        return _MISSING
    if isinstance(value, float):
        if math.isnan(value):
            return _MISSING
        if value.is_integer():
            return int(value)
        return value
    return _cell(value)


def _frame(
    pd: Any, index: Any, outcomes: list[Any], schema: Schema, *, collect: bool
) -> pd.DataFrame:
    categories = schema.categories
    data: dict[str, list[Any]] = {name: [] for name in frame_columns(schema)}
    problems: list[tuple[str, ...]] = []
    tiers = [data[category] for category in categories]
    for outcome in outcomes:
        if isinstance(outcome, Result):
            found = {s.category: s.tier for s in outcome.suggestions}
            for category, column in zip(categories, tiers, strict=True):
                column.append(found.get(category))
            data["drug_classes"].append(
                tuple(sub for s in outcome.suggestions for sub in s.subcategories)
            )
            data["avoided"].append(
                tuple(
                    a.category if a.subcategory is None else a.subcategory for a in outcome.avoided
                )
            )
            data["advisories"].append(tuple(a.key for a in outcome.advisories))
            data["conflict"].append(bool(outcome.conflicts))
            data["covered"].append(outcome.covered)
            data["fired_rules"].append(outcome.fired_rules)
            problems.append(())
        else:
            for column in data.values():
                column.append(None)
            problems.append(tuple(str(problem) for problem in outcome.problems))
    columns: dict[str, Any] = dict(data)
    for category in categories:
        columns[category] = pd.Categorical(data[category], categories=_TIERS)
    for name in ("drug_classes", "avoided", "advisories", "fired_rules"):
        columns[name] = pd.array(data[name], dtype=object)
    columns["conflict"] = pd.array(data["conflict"], dtype="boolean")
    columns["covered"] = pd.array(data["covered"], dtype="boolean")
    if collect:
        columns["problems"] = pd.array(problems, dtype=object)
    return pd.DataFrame(columns, index=index)
