"""The testing kit with fields not stated: golden cases whose profiles say ``null`` run through
the pytest plugin, and the strategies draw ``None`` for every field that may be not stated."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest
import yaml
from hypothesis import find, given, settings

import immunorules as ir
from immunorules.testing import profiles

from .conftest import EVIDENCE

pytest_plugins = ["pytester"]

VOCABULARY = {
    "fields": [
        {"id": "score", "type": "integer", "min": 0, "max": 3},
        {"id": "smoker", "type": "boolean"},
        {"id": "stage", "type": "enum", "values": ["early", "late"]},
        {"id": "flags", "type": "set", "values": ["a", "b"]},
    ]
}
RA = {"immune_activity": "overactive", "condition": "rheumatoid_arthritis"}
RULES = [
    {
        "id": "OWN-SMOKER-UNSTATED",
        "title": "Smoking not stated - confirm",
        "because": "Test.",
        "evidence": ["E1"],
        "when": {"smoker": None, "score": {"max": 0, "or_not_stated": True}},
        "then": {"suggest": [{"category": "immunosuppressants", "tier": "first_line"}]},
        "tests": [
            {"profile": {**RA}, "expect": {"suggest": ["immunosuppressants"]}},
            {"profile": {**RA, "smoker": None, "score": None, "flags": None},
             "expect": {"suggest": ["immunosuppressants"]}},
            {"profile": {**RA, "smoker": False}, "expect": {"not": ["immunosuppressants"]}},
            {"profile": {**RA, "score": 2}, "expect": {"not": ["immunosuppressants"]}},
        ],
    }
]  # fmt: skip


def _write(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"vocabulary": VOCABULARY, "evidence": EVIDENCE, "rules": RULES}
    (folder / "own.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def _plugin_args() -> list[str]:
    installed = any(ep.name == "immunorules" for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", "immunorules.testing._pytest_plugin"]


def test_golden_cases_with_null_values_run_as_items(pytester: pytest.Pytester) -> None:
    _write(pytester.path / "own_rules")
    args = ["--immunorules-rules", "own_rules", "--immunorules-engine", "native", "-v"]
    result = pytester.runpytest(*_plugin_args(), *args)
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*own_rules/own.yaml::OWN-SMOKER-UNSTATED[[]2[]] PASSED*"])


def test_a_failing_null_case_says_so(pytester: pytest.Pytester) -> None:
    folder = _write(pytester.path / "own_rules")
    text = (folder / "own.yaml").read_text().replace("not:", "suggest:")
    (folder / "own.yaml").write_text(text)
    args = ["--immunorules-rules", "own_rules", "--immunorules-engine", "native"]
    result = pytester.runpytest(*_plugin_args(), *args)
    result.assert_outcomes(passed=2, failed=2)
    assert "Traceback" not in result.stdout.str()


def test_strategies_draw_not_stated_for_every_nullable_field(tmp_path: Path) -> None:
    kb = ir.load_rules(_write(tmp_path / "own"), engine="native")
    names = ("score", "smoker", "stage", "flags", "severity")
    seen: dict[str, set[bool]] = {name: set() for name in names}

    @settings(max_examples=150, deadline=None, database=None)
    @given(profiles(kb))
    def draw(profile: ir.ConditionProfile) -> None:
        for name in names:
            seen[name].add(getattr(profile, name) is None)

    draw()
    assert seen == {name: {True, False} for name in names}
    # a pin keeps not stated out, or asks for it
    pinned = find(profiles(kb, smoker=[True, False]), lambda p: True)
    assert pinned.smoker is not None
    assert find(profiles(kb, smoker=None), lambda p: True).smoker is None
