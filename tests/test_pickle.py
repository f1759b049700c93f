"""Knowledge bases and profiles pickle, so they travel to worker processes (Dask, Spark)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings

import immunorules as ir
from immunorules.testing import profiles

ROOT = Path(__file__).resolve().parents[1]
GCA_RULES = ROOT / "examples" / "own_vocabulary" / "rules"
GCA = {
    "immune_activity": "overactive",
    "condition": "giant_cell_arteritis",
    "age": 80,
    "prior_therapy_classes": ["il6_pathway_inhibitors"],
}


@pytest.mark.parametrize("engine", ["native", "durable"])
def test_a_knowledge_base_pickles_as_its_rules_not_its_caches(engine: str) -> None:
    kb = ir.load_rules(engine=engine)  # type: ignore[arg-type]
    before = len(pickle.dumps(kb))
    rows = [
        {"immune_activity": "overactive", "condition": "rheumatoid_arthritis", "severity": s}
        for s in ("mild", "moderate", "severe")
    ]
    kb.evaluate_many([{**row, "prior_lines_of_therapy": n} for row in rows for n in range(21)])
    data = pickle.dumps(kb)
    assert len(data) == before  # no cached result travels
    copy = pickle.loads(data)
    assert copy is not kb and copy is pickle.loads(data)  # rebuilt once per process
    assert (copy.engine, copy.fingerprint, copy.name, copy.version) == (
        kb.engine,
        kb.fingerprint,
        kb.name,
        kb.version,
    )
    assert copy.evaluate(rows[0]) == kb.evaluate(rows[0])


GCA_KB = ir.load_rules(GCA_RULES, engine="native")


@settings(max_examples=60, deadline=None)
@given(profile=profiles(GCA_KB))
def test_a_knowledge_base_with_its_own_vocabulary_pickles(profile: ir.ConditionProfile) -> None:
    copy = pickle.loads(pickle.dumps(GCA_KB))
    assert copy.info == GCA_KB.info and copy.name == "gca"
    sent = pickle.loads(pickle.dumps(profile))
    assert type(sent) is copy.profile_model  # the rebuilt model, shared by every unpickle
    assert sent.model_dump() == profile.model_dump()
    assert sent.model_fields_set == profile.model_fields_set
    assert copy.evaluate(sent).model_dump() == GCA_KB.evaluate(profile).model_dump()


def test_results_of_own_vocabulary_pickle() -> None:
    result = GCA_KB.evaluate(GCA)
    copy = pickle.loads(pickle.dumps(result))
    assert copy.model_dump() == result.model_dump()
    assert copy.profile.prior_therapy_classes == ("il6_pathway_inhibitors",)
