"""One spelling per operation: pydantic's deprecated v1 methods are hidden on the public models,
second spellings warn, and a model renders however it was built."""

from __future__ import annotations

import subprocess
import sys
import warnings
from typing import Any

import pandas as pd
import pytest

import immunorules as ir
from immunorules._model.base import HIDDEN_V1_API

RA = {"immune_activity": "overactive", "condition": "rheumatoid_arthritis", "severity": "severe"}


def _models(kb: ir.KnowledgeBase) -> list[Any]:
    """An object of every public model: results and their parts, answers, reports, rules."""
    result = kb.evaluate(RA)
    report = ir.audit(kb)
    return [
        result,
        result.suggestions[0],
        result.suggestions[0].reasons[0],
        result.knowledge_base,
        kb.parse(RA),
        kb.why_not(RA, "cellular_therapies"),
        report,
        kb.decision_table()[0],
        kb.rules[0],
        kb.conditions[0],
        kb.fields["severity"],
        *report.findings[:1],
    ]


@pytest.fixture(scope="module")
def kb() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


@pytest.mark.parametrize("name", sorted(HIDDEN_V1_API))
def test_pydantic_v1_methods_are_hidden_on_every_public_model(
    kb: ir.KnowledgeBase, name: str
) -> None:
    for model in _models(kb):
        assert not hasattr(model, name), (type(model).__name__, name)
        assert not hasattr(type(model), name), (type(model).__name__, name)
        assert name not in dir(model)
    with pytest.raises(AttributeError, match=name):
        getattr(kb.evaluate(RA), name)


def test_the_v2_spellings_still_work(kb: ir.KnowledgeBase) -> None:
    result = kb.evaluate(RA)
    assert ir.Result.model_validate(result.model_dump()) == result
    assert ir.Result.model_validate_json(result.model_dump_json()) == result
    assert result.model_copy() == result
    assert ir.Result.model_json_schema()["title"] == "Result"
    profile = kb.parse(RA)
    assert profile.model_copy(update={"severity": "mild"}).severity == "mild"
    assert "model_dump" in dir(result) and "suggestions" in dir(result)


def test_kb_audit_is_a_deprecated_alias_of_ir_audit(kb: ir.KnowledgeBase) -> None:
    with pytest.warns(DeprecationWarning, match=r"use immunorules\.audit\(kb\)"):
        report = kb.audit(max_findings=3)
    assert report == ir.audit(kb, max_findings=3)


def test_kb_summary_is_a_deprecated_alias_of_explain(kb: ir.KnowledgeBase) -> None:
    with pytest.warns(DeprecationWarning, match=r"use kb\.explain\(\)"):
        text = kb.summary()
    assert text == kb.explain() == str(kb)


def test_evaluate_frame_with_a_knowledge_base_is_a_deprecated_alias(kb: ir.KnowledgeBase) -> None:
    frame = pd.DataFrame([RA])
    with pytest.warns(DeprecationWarning, match=r"use kb\.evaluate_frame\(table\)"):
        deprecated = ir.evaluate_frame(frame, kb)
    pd.testing.assert_frame_equal(deprecated, kb.evaluate_frame(frame))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the documented spellings never warn
        pd.testing.assert_frame_equal(
            ir.evaluate_frame(frame), ir.load_rules().evaluate_frame(frame)
        )
        ir.audit(kb, max_findings=1)


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    )
    return done.stdout


def test_a_model_built_from_its_own_module_renders() -> None:
    # No public name is used: the first rendering loads the front door, which registers the
    # renderers (the model layer never imports the render layer).
    data = ir.evaluate(RA).model_dump_json()
    code = (
        "import sys\n"
        "from immunorules import _registry\n"
        "from immunorules._model.result import Result\n"
        f"result = Result.model_validate_json({data!r})\n"
        "print(bool(_registry._RENDERERS), 'immunorules._api' in sys.modules)\n"
        "print(result.to_markdown().splitlines()[0])\n"
        "print(bool(_registry._RENDERERS))\n"
    )
    before, first, after = _run(code).splitlines()
    assert before == "False False"
    assert "NOT FOR CLINICAL USE" in first
    assert after == "True"


def test_a_missing_renderer_is_a_clear_error() -> None:
    code = (
        "from immunorules import _registry\n"
        "_registry._LOADER.clear()\n"
        "try:\n"
        "    _registry.renderer('result', 'text')\n"
        "except _registry.RendererMissingError as error:\n"
        "    print(error)\n"
    )
    assert "no text renderer for 'result' objects" in _run(code)


def test_no_module_of_the_package_imports_the_package_root() -> None:
    # The front door owns the bundled knowledge base; the root only re-exports.
    assert "_bundled" not in dir(ir)
    assert ir.evaluate.__module__ == "immunorules._api.functions"
    assert ir.KnowledgeBase.__module__ == "immunorules._api.knowledge_base"
