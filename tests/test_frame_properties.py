"""evaluate_frame gives the answers of evaluate, row by row, on random tables.

Tables are drawn from each knowledge base's valid profiles (``immunorules.testing.profiles``),
then broken at random: fields left out, nulls, wrong types, values outside a domain, integral
and fractional floats, junk set members, a condition in the wrong disease area. Each is evaluated
as a pandas DataFrame (plain, and with categoricals), a pyarrow Table and a polars DataFrame where
its columns allow it, and every output column is compared with ``kb.evaluate`` of that row's
cells, on a native and a durable knowledge base, with and without a vocabulary of its own.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import immunorules as ir
from immunorules._evaluate.columns import MISSING, clean
from immunorules.testing import profiles

from .conftest import EVIDENCE, require

pd = require("pandas")
pa = require("pyarrow")

ROOT = Path(__file__).resolve().parents[1]

OWN_VOCABULARY = {
    "fields": [
        {"id": "stage", "type": "enum", "values": ["early", "late"], "default": "early",
         "nullable": False},
        {"id": "score", "type": "integer", "min": -2, "max": 5},
        {"id": "flags", "type": "set", "values": ["a", "b", "c", "d", "e"]},
        {"id": "site", "type": "enum", "values": ["x", "y"], "required": True},
    ],
}  # fmt: skip


def _rule(rule_id: str, when: dict[str, Any], then: dict[str, Any]) -> dict[str, Any]:
    return {"id": rule_id, "title": rule_id, "when": when, "then": then, "because": "Test.",
            "evidence": ["E1"]}  # fmt: skip


OWN_RULES = [
    _rule("OWN-A", {"flags": {"includes": ["a"]}},
          {"suggest": [{"category": "immunosuppressants", "tier": "first_line",
                        "subcategories": ["conventional_dmards"]}]}),
    _rule("OWN-BC", {"flags": {"includes_any": ["b", "c"]}, "stage": "late"},
          {"suggest": [{"category": "biologic_therapies", "tier": "escalation",
                        "subcategories": ["tnf_inhibitors", "interleukin_inhibitors"]}],
           "advise": ["hbv_screen"]}),
    _rule("OWN-NOT-D", {"flags": {"excludes": ["d"]}, "score": {"min": 1}},
          {"avoid": [{"subcategory": "tnf_inhibitors"}], "flag": ["biologic_therapies"]}),
    _rule("OWN-SITE", {"site": "y", "score": [None, -2]},
          {"advise": ["multidisciplinary_review"]}),
    _rule("OWN-STIMULATE", {"condition": "melanoma", "flags": {"includes": ["e"]}},
          {"suggest": [{"category": "immunostimulants", "tier": "first_line"}]}),
    _rule("OWN-SUPPRESS", {"disease_area": "oncology"},
          {"suggest": [{"category": "immunosuppressants", "tier": "escalation"}]}),
]  # fmt: skip


def _own(folder: Path, engine: str) -> ir.KnowledgeBase:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"vocabulary": OWN_VOCABULARY, "evidence": EVIDENCE, "rules": OWN_RULES}
    (folder / "own.yaml").write_text(yaml.safe_dump(data))
    return ir.load_rules(folder, engine=engine)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=["native", "durable"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def bundled(engine: str) -> ir.KnowledgeBase:
    return ir.load_rules(engine=engine)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def gca(engine: str) -> ir.KnowledgeBase:
    return ir.load_rules(ROOT / "examples" / "own_vocabulary" / "rules", engine=engine)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def own(engine: str, tmp_path_factory: pytest.TempPathFactory) -> ir.KnowledgeBase:
    return _own(tmp_path_factory.mktemp("own") / engine, engine)


# -- random tables -------------------------------------------------------------------------------

JUNK = st.one_of(
    st.none(),
    st.just(float("nan")),
    st.booleans(),
    st.integers(-3, 25),
    st.integers(-(10**20), 10**20),
    st.floats(-3, 25).map(lambda x: round(x, 1)),
    st.sampled_from(["", "sever", "melanom", "true", "3", "none", "a", "x"]),
    st.lists(st.sampled_from(["a", "b", "z", "il6_pathway_inhibitors"]), max_size=2),
    st.lists(st.integers(0, 2), max_size=1),
)


@st.composite
def rows(draw: st.DrawFn, kb: ir.KnowledgeBase) -> dict[str, Any]:
    """A row: a valid profile's fields, some left out, some broken."""
    profile = draw(profiles(kb))
    row: dict[str, Any] = dict(profile.__dict__)
    defaults = kb.schema.defaults
    for name in list(row):
        value = row[name]
        if name == "disease_area" and row["condition"] is not None and draw(st.booleans()):
            del row[name]  # follows from the condition
        elif value == defaults.get(name) and draw(st.booleans()):
            del row[name]
        elif name in kb.schema.set_fields and value is not None and draw(st.booleans()):
            row[name] = list(value)  # (None: the set is not stated)
    if draw(st.integers(0, 3)) == 0:  # broken: a field or two replaced by junk
        for name in draw(st.lists(st.sampled_from(sorted(kb.schema.fields)), max_size=2)):
            row[name] = draw(JUNK)
    if draw(st.integers(0, 3)) == 0:  # a value of some field's domain, maybe of another field
        values = sorted({repr(v): v for d in kb.schema.domains.values() for v in d}.items())
        name = draw(st.sampled_from(sorted(kb.schema.fields)))
        row[name] = draw(st.sampled_from([v for _, v in values]))
    if draw(st.integers(0, 9)) == 0 and type(row.get("prior_lines_of_therapy")) is int:
        row["prior_lines_of_therapy"] = float(row["prior_lines_of_therapy"])  # integral float
    return row


def tables(kb: ir.KnowledgeBase) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(rows(kb), min_size=0, max_size=25)


def _columns(kb: ir.KnowledgeBase, drawn: list[dict[str, Any]]) -> dict[str, list[Any]]:
    names = [name for name in kb.schema.fields if any(name in row for row in drawn)]
    columns = {name: [row.get(name) for row in drawn] for name in names}
    columns["patient_id"] = [f"p{i}" for i in range(len(drawn))]
    return columns


def _frames(kb: ir.KnowledgeBase, drawn: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    columns = _columns(kb, drawn)
    frame = pd.DataFrame(
        {name: pd.Series(values, dtype=object) for name, values in columns.items()}
    )
    found: list[tuple[str, Any]] = [("pandas-object", frame)]
    inferred = pd.DataFrame(columns) if drawn else frame
    found.append(("pandas-inferred", inferred))
    categorical = inferred.copy()
    for name in categorical.columns:
        values = [v for v in columns[name] if v is not None]
        if values and all(type(v) is str for v in values):
            categorical[name] = categorical[name].astype("category")
    found.append(("pandas-categorical", categorical))
    try:
        table = pa.table({name: pa.array(values) for name, values in columns.items()})
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return found  # mixed types: no Arrow column holds them
    found.append(("arrow", table))
    found.append(("arrow-batch", table.combine_chunks().to_batches()[0] if drawn else table))
    try:
        import polars as pl
    except ImportError:  # pragma: no cover - polars is optional
        return found
    found.append(("polars", pl.from_arrow(table)))
    return found


def _names(table: Any) -> list[str]:
    return list(getattr(table, "column_names", None) or table.columns)


def _cells(kind: str, table: Any, name: str) -> list[Any]:
    if kind.startswith("pandas"):
        return list(table[name].tolist())
    if kind == "polars":
        return list(table[name].to_list())
    return list(table.column(name).to_pylist())


def _expected(kb: ir.KnowledgeBase, data: dict[str, Any]) -> dict[str, Any]:
    try:
        result = kb.evaluate(data)
    except ir.ProfileError as exc:
        empty = dict.fromkeys(
            (
                "covered",
                "conflict",
                "avoided",
                "advisories",
                "fired_rules",
                "unstated",
                "depends_on",
            )
        )
        return {**empty, **{f"tier_{c}": None for c in kb.schema.categories}, "error": str(exc)}
    return {
        "covered": result.covered,
        "conflict": bool(result.conflicts),
        **{f"tier_{c}": result.tier(c) for c in kb.schema.categories},
        "avoided": tuple(a.subcategory or a.category for a in result.avoided),
        "advisories": tuple(a.key for a in result.advisories),
        "fired_rules": result.fired_rules,
        "unstated": result.unstated,
        "depends_on": tuple(d.field for d in result.depends_on),
        "error": None,
    }


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return tuple(value)
    return value


def _float_column(kind: str, table: Any, name: str) -> bool:
    """Whether a column holds floats (pandas reads a boolean column with gaps as floats)."""
    if kind.startswith("pandas"):
        return bool(table[name].dtype.kind == "f")
    if kind == "polars":
        return bool(table[name].dtype.is_float())
    return bool(pa.types.is_floating(table.column(name).type))


def check_table(kb: ir.KnowledgeBase, drawn: list[dict[str, Any]]) -> None:
    fields_of = kb.schema.fields
    for kind, table in _frames(kb, drawn):
        out = kb.evaluate_frame(table)
        assert type(out) is type(table), kind
        fields = [name for name in _names(table) if name in fields_of]
        columns = {name: _cells(kind, table, name) for name in fields}
        floats = {name for name in fields if _float_column(kind, table, name)}
        got = {name: [_plain(v) for v in _cells(kind, out, name)] for name in _names(out)}
        assert got["patient_id"] == [f"p{i}" for i in range(len(drawn))], kind
        for index in range(len(drawn)):
            data: dict[str, Any] = {}
            for name in fields:
                value = clean(columns[name][index])
                if value is MISSING:
                    # an empty cell is not stated (it differs from leaving the field out only
                    # where the field has a default other than not stated)
                    if fields_of[name].nullable and not fields_of[name].required:
                        data[name] = None
                    continue
                if name in floats and fields_of[name].type == "boolean" and value in (0, 1):
                    value = value == 1  # 0.0 and 1.0 in a float column are booleans
                data[name] = value
            want = _expected(kb, data)
            have = {name: got[name][index] for name in want}
            assert have == want, (kind, index, data)


SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(data=st.data())
def test_bundled_rules(bundled: ir.KnowledgeBase, data: st.DataObject) -> None:
    check_table(bundled, data.draw(tables(bundled)))


@SETTINGS
@given(data=st.data())
def test_own_vocabulary_example(gca: ir.KnowledgeBase, data: st.DataObject) -> None:
    check_table(gca, data.draw(tables(gca)))


@SETTINGS
@given(data=st.data())
def test_set_fields_required_fields_and_negative_integers(
    own: ir.KnowledgeBase, data: st.DataObject
) -> None:
    check_table(own, data.draw(tables(own)))
