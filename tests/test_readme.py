"""The README's examples are executed, so they cannot rot; its rule file example passes its rule
audit test file."""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
SRC = ROOT / "src"
PYTHONPATH = os.environ.get("PYTHONPATH", "")


def test_readme_examples_pass() -> None:
    failures, attempted = doctest.testfile(
        str(README),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
        raise_on_error=False,
    )
    assert attempted >= 20, "the README lost its examples"
    assert failures == 0, f"{failures} of {attempted} README examples failed (see the output above)"


def _block(text: str, heading: str, language: str) -> str:
    """The first ``language`` code block after ``heading``."""
    after = text[text.index(heading) :]
    start = after.index(f"```{language}\n") + len(f"```{language}\n")
    return after[start : after.index("```", start)]


@pytest.mark.parametrize(
    ("page", "heading"),
    [(README, "### A rule audit test file"), (DOCS / "audit.md", "## Auditing in your own test")],
)
def test_the_rule_example_passes_the_audit_test_file(
    tmp_path: Path, page: Path, heading: str
) -> None:
    """The README's rule file, saved as my_rules/, passes the rule audit test file that the
    README (and the audit page) give for my_rules/."""
    rules = tmp_path / "my_rules"
    rules.mkdir()
    (rules / "ra.yaml").write_text(_block(README.read_text(), "## Rule files", "yaml"))
    (tmp_path / "test_my_rules.py").write_text(_block(page.read_text(), heading, "python"))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_my_rules.py"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), PYTHONPATH]))},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    assert "2 passed" in done.stdout
