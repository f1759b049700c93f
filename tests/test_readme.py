"""The README's examples are executed, so they cannot rot."""

from __future__ import annotations

import doctest
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


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
