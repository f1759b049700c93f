"""evaluate_many: worker processes that cannot start, and errors that rows must not share."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest

import immunorules as ir
from immunorules._evaluate import batch

RA = {"immune_activity": "overactive", "condition": "rheumatoid_arthritis"}
ROWS: list[dict[str, Any]] = [
    RA,
    {**RA, "prior_lines_of_therapy": 2},
    {**RA, "condition": "psoriasis"},
] * 20


@pytest.fixture(scope="module")
def kb() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


# Worker processes that cannot import __main__ ------------------------------------------------


def test_workers_from_a_script_read_on_stdin_do_not_hang() -> None:
    """``python - < script.py``: spawned workers cannot re-import ``<stdin>``; this used to hang."""
    script = textwrap.dedent(
        """
        import immunorules as ir
        kb = ir.load_rules(engine="native")
        rows = [{"immune_activity": "overactive", "condition": c}
                for c in ("rheumatoid_arthritis", "psoriasis", "crohns_disease")] * 30
        results = kb.evaluate_many(rows, workers=2)
        print(len(results), results == kb.evaluate_many(rows))
        """
    )
    source = str(Path(ir.__file__).parent.parent)
    done = subprocess.run(
        [sys.executable, "-"],
        input=script,
        capture_output=True,
        text=True,
        timeout=90,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")]),
        },
        check=False,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "90 True"), done.stderr
    assert "RuntimeWarning: evaluate_many(workers=2) matches in this process" in done.stderr


def fake_main(**attributes: Any) -> types.ModuleType:
    module = types.ModuleType("__main__")
    module.__spec__ = None
    for name, value in attributes.items():
        setattr(module, name, value)
    return module


def test_an_unimportable_main_module_is_detected(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = tmp_path / "script.py"
    script.write_text("")
    cases: list[tuple[types.ModuleType, str | None]] = [
        (fake_main(__file__="<stdin>"), "<stdin>"),
        (fake_main(__file__=str(tmp_path / "gone.py")), str(tmp_path / "gone.py")),
        (fake_main(__file__=str(script)), None),  # a script file: workers run it
        (fake_main(), None),  # the REPL, python -c, notebooks: nothing to import
    ]
    spec = types.SimpleNamespace(name="package.__main__")  # python -m: imported by name
    cases.append((fake_main(__file__="<stdin>", __spec__=spec), None))
    for module, expected in cases:
        monkeypatch.setitem(sys.modules, "__main__", module)
        found = batch._unimportable_main()
        assert (found if found is None else Path(found).name) == (
            expected if expected is None else Path(expected).name
        )


def test_an_unimportable_main_module_matches_in_this_process(
    kb: ir.KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = kb.evaluate_many(ROWS)
    kb._results.clear()

    def no_pool(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no worker process may be started")

    monkeypatch.setattr(batch, "ProcessPoolExecutor", no_pool)
    monkeypatch.setitem(sys.modules, "__main__", fake_main(__file__="<stdin>"))
    with pytest.warns(RuntimeWarning, match=r"workers=2\) matches in this process") as caught:
        assert kb.evaluate_many(ROWS, workers=2) == expected
    assert caught[0].filename == __file__  # the warning points at the caller


# Errors are not shared between rows ----------------------------------------------------------


def errors_in(outcomes: list[ir.Result | ir.ProfileError]) -> list[ir.ProfileError]:
    return [item for item in outcomes if isinstance(item, ir.ProfileError)]


def test_each_invalid_row_gets_an_error_of_its_own(kb: ir.KnowledgeBase) -> None:
    bad = {**RA, "severity": "sideways"}
    rows: list[Any] = [bad, RA, bad, dict(bad), "not a profile", "not a profile"]
    first = errors_in(kb.evaluate_many(rows, errors="collect"))
    again = errors_in(kb.evaluate_many(rows, errors="collect"))  # from the cache this time
    assert len({id(error) for error in first + again}) == 10
    for error in first[:3] + again[:3]:
        assert error.problems == first[0].problems
        assert str(error) == str(first[0])
    first[0].add_note("seen by the caller of row 0")
    first[0].problems = ()
    third = errors_in(kb.evaluate_many(rows, errors="collect"))
    assert third[1].problems == first[1].problems != ()
    assert not hasattr(third[1], "__notes__") and not hasattr(first[1], "__notes__")
    with pytest.raises(ir.ProfileError, match=r"\[2\]\.severity"):
        kb.evaluate_many([RA, RA, bad])
