"""Packaging: the public surface, the version, and a wheel that carries the bundled rules."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import immunorules as ir

ROOT = Path(__file__).resolve().parents[1]


def test_public_names_exist_and_nothing_else_is_public() -> None:
    for name in ir.__all__:
        assert hasattr(ir, name), name
    modules = [p.stem for p in (ROOT / "src" / "immunorules").glob("*.py")]
    public = {m for m in modules if not m.startswith("_")}
    # Integration modules are public and import the core; the core never imports them.
    assert public == {"dask", "spark"}, f"modules should be private: {public}"
    core = [p for p in (ROOT / "src" / "immunorules").rglob("*.py") if p.stem not in public]
    for path in core:
        text = path.read_text(encoding="utf-8")
        for name in public:
            assert f"immunorules.{name}" not in text and f"from .{name}" not in text, path


def test_version_comes_from_package_metadata() -> None:
    assert ir.__version__ == version("immunorules")


def test_bundled_rules_path_exists_and_loads() -> None:
    assert ir.BUNDLED_RULES.is_dir()
    assert any(ir.BUNDLED_RULES.glob("*.yaml"))
    assert ir.load_rules(engine="native").name == "immunorules-bundled"


def test_wheel_ships_rules_vocabulary_and_marker(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("immunorules-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    rules = {p.name for p in (ROOT / "rules").glob("*.yaml")}
    assert {f"immunorules/_bundled_rules/{name}" for name in rules} <= names
    assert {"immunorules/vocabulary.yaml", "immunorules/py.typed"} <= names
    assert not any(name.startswith(("tests/", "rules/")) for name in names)


def test_dask_and_distributed_are_pinned_together() -> None:
    """``distributed`` pins ``dask`` to its own release, so an extra leaving the two free of each
    other sends pip backtracking through dozens of ``distributed`` releases: every extra naming
    dask asks for dask's own ``distributed`` extra (the matching release) with one lower bound."""
    import tomllib

    from packaging.requirements import Requirement

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    checked = []
    for extra, lines in extras.items():
        found = {r.name: r for r in map(Requirement, lines) if r.name in {"dask", "distributed"}}
        if not found:
            continue
        checked.append(extra)
        assert set(found) == {"dask", "distributed"}, extra
        assert {"dataframe", "distributed"} <= found["dask"].extras, extra
        assert str(found["dask"].specifier) == str(found["distributed"].specifier), extra
        assert str(found["dask"].specifier).startswith(">=2025"), extra
    assert sorted(checked) == ["bench", "dask"]
