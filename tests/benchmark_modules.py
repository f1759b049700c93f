"""The benchmarks' own modules, for the tests that hold them to what they claim.

``benchmarks/`` is not a package (its scripts put themselves on ``sys.path``), so a test
loads a module of it from its file; an sdist without ``benchmarks/`` skips those tests.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def benchmark_module(name: str) -> ModuleType:
    """``benchmarks/<name>.py``, loaded from its file (skips the test when it is not here)."""
    path = BENCHMARKS / f"{name}.py"
    if not path.is_file():  # pragma: no cover - an sdist without benchmarks/
        pytest.skip(f"benchmarks/{name}.py is not here")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
