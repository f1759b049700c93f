"""Error messages stay readable: echoed values are shortened safely (``shown``) and a rule
file's problems are listed up to a limit."""

from __future__ import annotations

from pathlib import Path

import pytest

import immunorules as ir
from immunorules._errors import ProfileProblem, RuleFileProblem, listed_problems, shown

BAD_RULE = "  - id: bad id\n    title: t\n    then: {advise: [hbv_screen]}\n    because: b\n"


def test_each_file_lists_at_most_fifty_problems(tmp_path: Path) -> None:
    (tmp_path / "a_many.yaml").write_text("rules:\n" + BAD_RULE * 300)
    (tmp_path / "b_one.yaml").write_text("rules:\n" + BAD_RULE)
    with pytest.raises(ir.RuleFileError) as info:
        ir.load_rules(tmp_path, engine="native")
    assert len(info.value.problems) == 301  # all kept on the exception
    lines = str(info.value).splitlines()
    assert lines[0] == "301 problems in rule files:"
    assert sum("a_many.yaml:" in line for line in lines) == 50
    assert sum("b_one.yaml:" in line for line in lines) == 1
    assert lines[-1].strip().startswith("... and 250 more problems in ")
    assert lines[-1].endswith("a_many.yaml")


def test_listed_problems_keeps_file_order_and_counts_per_file() -> None:
    problems = [RuleFileProblem(f, i, None, "$", "m") for i, f in enumerate("aabab")]
    assert listed_problems(problems, per_file=1) == [
        "  a:0 $: m",
        "  b:2 $: m",
        "  ... and 2 more problems in a",
        "  ... and 1 more problem in b",
    ]


def test_shown_is_short_and_never_raises() -> None:
    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    nested: list[object] = []
    for _ in range(10_000):
        nested = [nested]
    assert shown("abc") == "'abc'"
    assert shown(42) == "42" and shown(None) == "None" and shown(True) == "True"
    long = shown("x" * 10_000_000)
    assert len(long) < 100 and long.endswith("(10,000,000 characters)")
    assert shown(10**5000) == "<an integer of about 5,001 digits>"
    assert shown(-(10**5000)).startswith("<a negative integer")
    assert "about 5,001 digits" in shown([1, 10**5000])
    assert shown(Unprintable()).startswith("<Unprintable ")
    assert len(shown(nested)) <= 60
    assert shown("\x1b[31m\x07") == "'\\x1b[31m\\x07'"
    assert len(shown(b"y" * 1000, limit=20)) < 40
    assert len(shown({"k" * 500: list(range(500))})) <= 60


def test_a_problem_shows_at_most_a_thousand_characters_of_its_message(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(f"rules:\n  - id: {'a' * 1_000_000}\n    title: t\n")
    with pytest.raises(ir.RuleFileError) as info:
        ir.load_rules(path, engine="native")
    assert len(str(info.value)) < 5_000
    assert all(len(str(problem)) < 1_200 for problem in info.value.problems)
    profile_problem = ir.ProfileError([ProfileProblem("$.x", "y" * 100_000)])
    assert len(str(profile_problem)) < 1_200
    assert profile_problem.problems[0].message == "y" * 100_000  # kept whole on the problem
