"""``import immunorules`` is cheap: the heavy parts load on first use, and first use works."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("pandas", "numpy", "pyarrow", "polars", "durable", "hypothesis", "pydantic", "yaml")


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    )
    return done.stdout


def test_import_loads_no_heavy_module() -> None:
    code = (
        "import json, sys, immunorules\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    assert json.loads(_run(code)) == []


def test_first_use_of_a_public_name_loads_it_and_the_renderers() -> None:
    code = (
        "import immunorules as ir\n"
        "result = ir.evaluate({'immune_activity': 'overactive', 'condition': 'psoriasis'})\n"
        "print(result.to_markdown().splitlines()[0])\n"
        "from immunorules import KnowledgeBase, load_rules\n"
        "print(isinstance(load_rules(engine='native'), KnowledgeBase), 'Result' in dir(ir))"
    )
    first, second = _run(code).splitlines()
    assert "NOT FOR CLINICAL USE" in first
    assert second == "True True"


def test_an_unknown_name_is_an_attribute_error() -> None:
    import immunorules as ir

    assert not hasattr(ir, "no_such_name")


def test_a_public_name_is_resolved_once_then_a_plain_attribute() -> None:
    code = (
        "import immunorules as ir\n"
        "before = 'load_rules' in vars(ir)\n"
        "first = ir.load_rules\n"
        "print(before, vars(ir).get('load_rules') is first, ir.load_rules is first)"
    )
    assert _run(code).split() == ["False", "True", "True"]
