"""Interchange: what ``kb.to_dmn`` and ``kb.to_jdm`` write, run on real engines.

The DMN model is validated against the OMG DMN 1.3 XML Schemas (tests/data/dmn13) and evaluated
by pyDMNrules; the JDM graph by zen-engine. Both must give immunorules' own answer on random
profiles, for the bundled knowledge base and for custom ones (own vocabulary, set fields, class
avoids that remove a suggestion, flags, whole-category avoids, not-stated conditions).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

import immunorules as ir
from immunorules._interop import answer_of
from immunorules.testing import profiles

from .conftest import EVIDENCE, require, rule

zen = require("zen", reason="the JDM tests run zen-engine (dev extra)")
xmlschema = require("xmlschema", reason="the DMN is validated with xmlschema (dev extra)")
pyDMNrules = require("pyDMNrules", reason="the DMN tests run pyDMNrules (dev extra)")

ROOT = Path(__file__).resolve().parent.parent
XSD = ROOT / "tests" / "data" / "dmn13" / "DMN13.xsd"
EXAMPLE = ROOT / "examples" / "own_vocabulary" / "rules"
NS = {"dmn": "https://www.omg.org/spec/DMN/20191111/MODEL/"}


def examples(count: int) -> settings:
    """Hypothesis settings for ``count`` profiles, the same on every run."""
    return settings(
        max_examples=count,
        suppress_health_check=list(HealthCheck),
        deadline=None,
        derandomize=True,
        database=None,
    )


CUSTOM_VOCABULARY: dict[str, Any] = {
    "fields": [
        {"id": "egfr", "type": "integer", "min": 0, "max": 12},
        {"id": "tried", "type": "set", "of": "subcategories", "modifiable": True},
        {"id": "band", "type": "enum", "values": ["low", "high"], "default": "low"},
        {"id": "on_dialysis", "type": "boolean"},
    ]
}
PSO = {"immune_activity": "overactive", "condition": "psoriasis"}
CUSTOM_RULES = [
    rule(
        "C-01",
        {
            "suggest": [
                {
                    "category": "immunosuppressants",
                    "tier": "first_line",
                    "subcategories": ["jak_inhibitors"],
                },
            ],
            "advise": ["serious_infection_risk"],
        },
        {**PSO, "egfr": {"min": 3}},
    ),
    rule(  # removes c01's only class: the category is then avoided
        "C-02",
        {"avoid": [{"subcategory": "jak_inhibitors"}], "advise": ["serious_infection_risk"]},
        {"on_dialysis": True},
    ),
    rule(  # a suggestion naming no class: never removed by class avoids
        "C-03",
        {"suggest": [{"category": "immunosuppressants", "tier": "escalation"}]},
        {**PSO, "band": "high", "tried": {"includes_any": ["tnf_inhibitors", "jak_inhibitors"]}},
    ),
    rule(
        "C-04",
        {"flag": ["immunosuppressants"], "advise": ["multidisciplinary_review"]},
        {"egfr": {"max": 4, "or_not_stated": True}},
    ),
    rule(
        "C-05",
        {"avoid": [{"category": "immunostimulants"}]},
        {"tried": {"excludes": ["corticosteroids"]}},
    ),
    rule(
        "C-06",
        {"suggest": [{"category": "immunostimulants", "tier": "first_line"}]},
        {"immune_activity": "underactive", "on_dialysis": [False, None]},
    ),
    rule("C-07", {"advise": ["hbv_screen"]}, {"tried": None}),
    rule(
        "C-08",
        {
            "suggest": [
                {
                    "category": "biologic_therapies",
                    "tier": "escalation",
                    "subcategories": ["tnf_inhibitors"],
                }
            ]
        },
        {"tried": {"includes": ["jak_inhibitors"], "or_not_stated": True}, "egfr": [0, 2, 7]},
    ),
]


@pytest.fixture(scope="module")
def bundled() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


@pytest.fixture(scope="module")
def custom(tmp_path_factory: pytest.TempPathFactory) -> ir.KnowledgeBase:
    folder = tmp_path_factory.mktemp("custom_kb")
    document = {"vocabulary": CUSTOM_VOCABULARY, "evidence": EVIDENCE, "rules": CUSTOM_RULES}
    (folder / "rules.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return ir.load_rules(folder, engine="native")


@pytest.fixture(scope="module")
def example() -> ir.KnowledgeBase:
    return ir.load_rules(EXAMPLE, engine="native")


def expected(kb: ir.KnowledgeBase, profile: Any) -> dict[str, Any]:
    """immunorules' answer in the exported shape, read from its result: a suggested category
    has its tier; a category avoided as a whole, or suggested by rules that fired but left out
    of the result (every class it named avoided), is "avoided"; else null."""
    result = kb.evaluate(profile, depends_on=False)
    whole = {a.category for a in result.avoided if a.subcategory is None}
    suggested = {s.category for r in kb.match(profile) for s in r.then.suggest}
    tiers: dict[str, str | None] = {}
    for category in kb.schema.categories:
        line = next((s for s in result.suggestions if s.category == category), None)
        if line is not None:
            tiers[category] = line.tier
        elif category in whole or category in suggested:
            tiers[category] = "avoided"
        else:
            tiers[category] = None
    avoided = {a.subcategory for a in result.avoided if a.subcategory is not None}
    advised = {a.key for a in result.advisories}
    return {
        "tiers": tiers,
        "avoided": [s for s in kb.schema.subcategories if s in avoided],
        "advisories": [k for k in kb.schema.advisories if k in advised],
    }


def as_json(profile: Any) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in profile.__dict__.items()}


# -- the reference answer ----------------------------------------------------------------------


@pytest.mark.parametrize("which", ["bundled", "custom", "example"])
def test_the_exported_answer_is_immunorules_answer(
    which: str, request: pytest.FixtureRequest
) -> None:
    kb = request.getfixturevalue(which)

    @examples(200)
    @given(profiles(kb))
    def check(profile: Any) -> None:
        assert answer_of(kb.schema, kb.match(profile)) == expected(kb, profile)

    check()


def test_the_custom_rules_reach_every_tier(custom: ir.KnowledgeBase) -> None:
    """The custom knowledge base exercises each case (so the engine tests below test them)."""

    def tier(**values: Any) -> str | None:
        tiers: dict[str, str | None] = expected(custom, {**PSO, **values})["tiers"]
        return tiers["immunosuppressants"]

    assert tier(egfr=5) == "first_line"
    assert tier(egfr=5, on_dialysis=True) == "avoided"  # every class it named is avoided
    assert tier(egfr=3) == "flagged"
    # a suggestion naming no class keeps the category (with the best tier of its suggestions)
    assert tier(egfr=5, band="high", tried=["jak_inhibitors"], on_dialysis=True) == "first_line"
    assert tier(egfr=2, band="high", tried=["jak_inhibitors"]) == "flagged"
    assert expected(custom, {**PSO, "tried": ["tnf_inhibitors"]})["tiers"]["immunostimulants"] == (
        "avoided"
    )


# -- DMN -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> Any:
    return xmlschema.XMLSchema(str(XSD))


@pytest.mark.parametrize("which", ["bundled", "custom", "example"])
def test_dmn_is_valid_dmn13(
    which: str, request: pytest.FixtureRequest, schema: Any, tmp_path: Path
) -> None:
    kb = request.getfixturevalue(which)
    path = kb.to_dmn(tmp_path / "kb.dmn")
    assert path == tmp_path / "kb.dmn"
    schema.validate(str(path))
    root = ET.parse(path).getroot()
    assert root.tag == f"{{{NS['dmn']}}}definitions"
    decisions = {d.get("name"): d for d in root.findall("dmn:decision", NS)}
    assert list(decisions) == [
        *(f"tier_{c}" for c in kb.schema.categories),
        "avoided",
        "advisories",
    ]
    for category in kb.schema.categories:
        table = decisions[f"tier_{category}"].find("dmn:decisionTable", NS)
        assert table is not None and table.get("hitPolicy") == "PRIORITY"
        output = table.find("dmn:output", NS)
        assert output is not None and output.get("name") == f"tier_{category}"
        values = output.findtext("dmn:outputValues/dmn:text", namespaces=NS)
        rows = [r.findtext("dmn:outputEntry/dmn:text", namespaces=NS) for r in table]
        if [r for r in rows if r is not None] == ["null"]:  # no rule gives this category
            assert values is None
        else:
            assert values == '"avoided", "flagged", "first_line", "escalation"'
    for name in ("avoided", "advisories"):
        table = decisions[name].find("dmn:decisionTable", NS)
        assert table is not None and table.get("hitPolicy") == "COLLECT"
    inputs = {str(d.get("name")) for d in root.findall("dmn:inputData", NS)}
    scalar = {n for n in inputs if "." not in n}
    assert scalar <= set(kb.schema.fields)
    assert {n.split(".")[0] for n in inputs - scalar} <= set(kb.schema.set_fields)


def _dmn_answer(engine: Any, kb: ir.KnowledgeBase, model: Any, profile: Any) -> dict[str, Any]:
    status, decided = engine.decide(model.inputs(profile.__dict__))
    assert "errors" not in status, status
    results = decided if isinstance(decided, list) else [decided]
    merged: dict[str, Any] = {}
    for part in results:
        merged.update({k: v for k, v in part["Result"].items() if "." in k})

    def listed(name: str) -> list[str]:
        value = merged.get(f"{name}.{name}")
        found = set() if value is None else {value} if isinstance(value, str) else set(value)
        found.discard(None)
        order = kb.schema.subcategories if name == "avoided" else kb.schema.advisories
        return [key for key in order if key in found]

    return {
        "tiers": {c: merged.get(f"tier_{c}.tier_{c}") for c in kb.schema.categories},
        "avoided": listed("avoided"),
        "advisories": listed("advisories"),
    }


@pytest.mark.parametrize(("which", "count"), [("bundled", 15), ("custom", 80)])
def test_pydmnrules_gives_immunorules_answer(
    which: str, count: int, request: pytest.FixtureRequest
) -> None:
    from immunorules._interop import dmn_text, model_of

    kb = request.getfixturevalue(which)
    engine = pyDMNrules.DMN()
    status = engine.useXML(dmn_text(kb))
    assert "errors" not in status, status
    model = model_of(kb)

    @examples(count)
    @given(profiles(kb))
    def check(profile: Any) -> None:
        assert _dmn_answer(engine, kb, model, profile) == expected(kb, profile)

    check()


# -- JDM -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("which", "count"), [("bundled", 100), ("custom", 200), ("example", 100)])
def test_zen_engine_gives_immunorules_answer(
    which: str, count: int, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    kb = request.getfixturevalue(which)
    path = kb.to_jdm(tmp_path / "kb.json")
    graph = json.loads(path.read_text())
    kinds = {node["type"] for node in graph["nodes"]}
    assert kinds == {"inputNode", "decisionTableNode", "outputNode"}  # no code nodes
    decision = zen.ZenEngine().create_decision(path.read_text())

    @examples(count)
    @given(profiles(kb))
    def check(profile: Any) -> None:
        assert decision.evaluate(as_json(profile))["result"] == expected(kb, profile)

    check()


def test_jdm_reads_fields_left_out_as_not_stated(bundled: ir.KnowledgeBase, tmp_path: Path) -> None:
    decision = zen.ZenEngine().create_decision(bundled.to_jdm(tmp_path / "kb.json").read_text())
    # disease_area and immune_activity are always stated (immunorules derives them from the
    # condition when a profile leaves them out; the exported tables read them as given)
    given_only = {
        "immune_activity": "overactive",
        "disease_area": "autoimmune",
        "condition": "rheumatoid_arthritis",
        "latent_tuberculosis": True,
    }
    full = as_json(bundled.parse(given_only))
    assert decision.evaluate(given_only)["result"] == decision.evaluate(full)["result"]
    assert decision.evaluate(full)["result"] == expected(bundled, given_only)


def test_export_is_deterministic(custom: ir.KnowledgeBase) -> None:
    from immunorules._interop import dmn_text, jdm_text

    assert dmn_text(custom) == dmn_text(custom)
    assert jdm_text(custom) == jdm_text(custom)
