"""Docs that copy the bundled knowledge base stay current: the rule catalogue and the table of
rule files on the knowledge-base page."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import immunorules as ir

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_rule_catalogue_is_current() -> None:
    spec = importlib.util.spec_from_file_location(
        "make_rule_catalogue", DOCS / "make_rule_catalogue.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.catalogue(ir.load_rules(engine="native"))
    actual = (DOCS / "rule-catalogue.md").read_text(encoding="utf-8")
    assert actual == expected, "run: python docs/make_rule_catalogue.py"


def test_knowledge_base_page_counts_match_the_bundled_rules() -> None:
    """docs/knowledge-base.md's table of rule files (rules, retired ones included, and golden
    cases per file) matches the bundled knowledge base, and names every file that has rules."""
    page = (DOCS / "knowledge-base.md").read_text(encoding="utf-8")
    kb = ir.load_rules(engine="native")
    files = sorted({Path(rule.file).name for rule in kb.rules})
    assert files, "the bundled knowledge base has no rules"
    for file in files:
        rules = [rule for rule in kb.rules if Path(rule.file).name == file]
        cases = sum(len(rule.tests) for rule in rules)
        assert f"| `{file}` | {len(rules)} | {cases} |" in page, file


def test_fhir_page_counts_match_the_drug_terminology() -> None:
    """docs/fhir.md's table of drug-class codes by system and status matches the bundled drug
    terminology (src/immunorules/fhir/drug_codes.yaml)."""
    from collections import Counter

    from immunorules.fhir._terminology import bundled_terminology

    page = (DOCS / "fhir.md").read_text(encoding="utf-8")
    counts = Counter((code.system, code.status) for _, code in bundled_terminology().codes())
    assert {system for system, _ in counts} == {"rxnorm", "atc"}
    for system, shown in (("rxnorm", "RxNorm"), ("atc", "WHO ATC")):
        found = [counts[(system, s)] for s in ("verified", "secondary", "unverified")]
        row = f"| {shown} | " + " | ".join(str(n) for n in [*found, sum(found)]) + " |"
        assert row in page, f"docs/fhir.md should have the row {row!r}"
