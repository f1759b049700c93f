"""The worked-examples notebook: committed without outputs, and runs clean in a fresh kernel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "explore.ipynb"


def read_notebook() -> Any:
    return nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]


def test_notebook_is_committed_with_outputs_cleared() -> None:
    notebook = read_notebook()
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert len(code) >= 8
    for cell in code:
        assert cell.outputs == [], "clear the notebook's outputs before committing it"
        assert cell.execution_count is None


def test_notebook_runs_clean_in_a_fresh_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel is a new process: make the package importable there even without an install.
    paths = [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    notebook = read_notebook()
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()  # raises CellExecutionError on the first cell that fails

    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    # The knowledge base, two results and a why-not answer render as rich HTML with the notice.
    assert sum("ir-root" in h and "NOT FOR CLINICAL USE" in h for h in html) >= 4
    assert any("ir-conflict" in h for h in html), "the transplant + melanoma conflict is shown"
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "NOT FOR CLINICAL USE" in text
    assert "OK:" in text, "the bundled knowledge base audits clean"
    # pandas reads the cohort's boolean columns with gaps as floats: every row is still valid
    assert " with a conflict, 0 invalid" in text, "the notebook's cohort has no invalid row"
    markdown = [o.data["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
    assert any(table.count("\n|") >= 10 for table in markdown), "the cohort table is shown"


def test_quickstart_script_runs(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # from any working directory
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("NOT FOR CLINICAL USE") == 3
    assert "Why (not) Immunostimulants?" in done.stdout and "CONFLICT" in done.stdout


def test_audit_progress_shows_in_a_notebook_cell(tmp_path: Path) -> None:
    """``audit(progress=True)`` in a real kernel: one display, updated in place to "done"."""
    notebook = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    source = (
        "import immunorules as ir\n"
        "report = ir.audit(ir.load_rules(engine='native'), progress=True)\n"
        "report.ok"
    )
    notebook.cells = [nbformat.v4.new_code_cell(source)]  # type: ignore[no-untyped-call]
    NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=180,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    outputs = notebook.cells[0].outputs
    shown = [o for o in outputs if o.output_type == "display_data"]
    assert len(shown) == 1  # updates replace the display, they do not add lines
    assert shown[0].data["text/plain"] == "audit: done (100%)"
    assert outputs[-1].data["text/plain"] == "True"
