"""Rule files that are too deep, too large or hold huge numbers: each costs a located problem,
never a crash, an exhausted machine or a flood of follow-on problems."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import immunorules as ir
from immunorules._load import yaml as ir_yaml
from immunorules._load.loader import load_rule_files
from immunorules._load.yaml import parse_yaml

BAD_RULE = "  - id: bad id\n    title: t\n    then: {advise: [hbv_screen]}\n    because: b\n"


def _rules(count: int) -> str:
    """``count`` small, valid rules in one file."""
    rule = (
        "  - id: R-{0}\n    title: Rule {0}\n    when: {{condition: melanoma}}\n"
        "    then: {{advise: [hbv_screen]}}\n    because: Because {0}.\n    evidence: [E1]\n"
    )
    return "evidence:\n  E1: {citation: A source}\nrules:\n" + "".join(
        rule.format(i) for i in range(count)
    )


# -- nesting ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["[" * 500 + "]" * 500, "{a: " * 500 + "x" + "}" * 500, "[" * 100_000 + "]" * 100_000],
    ids=["lists", "mappings", "very-deep"],
)
def test_deep_nesting_is_a_located_problem_and_other_files_still_report(
    tmp_path: Path, value: str
) -> None:
    (tmp_path / "a_deep.yaml").write_text(
        f"rules:\n  - id: X-1\n    title: t\n    when: {value}\n    then: {{advise: [hbv_screen]}}"
        "\n    because: b\n"
    )
    (tmp_path / "b_other.yaml").write_text("rules:\n" + BAD_RULE)
    with pytest.raises(ir.RuleFileError) as info:
        ir.load_rules(tmp_path, engine="native")
    deep = [p for p in info.value.problems if p.file.endswith("a_deep.yaml")]
    assert deep[0].line == 4
    if deep[0].path == "$":  # libyaml's own limit (1,000 levels) comes first
        assert "exceeded maximum nesting depth" in deep[0].message
    else:
        assert deep[0].path.startswith("$.rules[0].when")
        assert "nested too deeply" in deep[0].message
    other = [p for p in info.value.problems if p.file.endswith("b_other.yaml")]
    assert other and "not a valid rule id" in other[0].message


def test_nesting_up_to_the_limit_is_read() -> None:
    depth = ir_yaml.MAX_DEPTH
    doc = parse_yaml("[" * depth + "]" * depth)
    assert doc.problems == []
    doc = parse_yaml("[" * (depth + 1) + "]" * (depth + 1))
    assert [p.message.split(":")[0] for p in doc.problems] == ["nested too deeply"]


# -- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "literal",
    ["0x" + "f" * 5000, "0b" + "1" * 20_000, ":".join(["59"] * 3000), "9" * 4000, "-0" + "7" * 99],
    ids=["hex", "binary", "sexagesimal", "decimal", "octal"],
)
@pytest.mark.parametrize("where", ["value", "key", "status", "advisory"])
def test_huge_integers_are_problems_with_a_line(tmp_path: Path, literal: str, where: str) -> None:
    fields = {
        "value": f"    when: {{prior_lines_of_therapy: {literal}}}\n",
        "key": f"    when:\n      ? {literal}\n      : x\n",
        "status": f"    status: {literal}\n",
        "advisory": f"    then: {{advise: [hbv_screen, {literal}]}}\n",
    }
    then = "" if where == "advisory" else "    then: {advise: [hbv_screen]}\n"
    path = tmp_path / "rules.yaml"
    path.write_text(f"rules:\n  - id: X-1\n    title: t\n{fields[where]}{then}    because: b\n")
    with pytest.raises(ir.RuleFileError) as info:
        ir.load_rules(path, engine="native")
    first = info.value.problems[0]
    assert first.line == (5 if where == "key" else 4)
    assert "integer too large" in first.message
    assert len(str(info.value)) < 1000  # the literal is shown shortened


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!bool maybe\n", "invalid bool value: 'maybe'"),
        ("a: !!int ''\n", "invalid int value: ''"),
        ("a: !!float ''\n", "invalid float value: ''"),
        ("a: !!int 12abc\n", "invalid int value: '12abc'"),
    ],
)
def test_explicitly_tagged_scalars_that_do_not_convert_are_problems(
    text: str, message: str
) -> None:
    doc = parse_yaml(text)
    assert [(p.line, p.path, p.message) for p in doc.problems] == [(1, "$.a", message)]
    assert doc.data == {}  # left out of the mapping, not read as null


def test_small_numbers_still_read() -> None:
    doc = parse_yaml("a: 0x1F\nb: 1_000\nc: 1:30\nd: -9223372036854775807\ne: 0b101\n")
    assert doc.problems == []
    assert doc.data == {"a": 31, "b": 1000, "c": 90, "d": -(2**63) + 1, "e": 5}


# -- size ---------------------------------------------------------------------------------------


def test_twenty_thousand_ordinary_rules_in_one_file_load(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(_rules(20_000))
    loaded = load_rule_files(path)
    assert len(loaded.rules) == 20_000
    assert loaded.rules[0].line is not None


def test_node_limit_stops_reading_early_with_one_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ir_yaml, "MAX_NODES", 1_000)
    path = tmp_path / "big.yaml"
    path.write_text(_rules(2_000))  # about 40,000 nodes
    (tmp_path / "other.yaml").write_text("rules:\n" + BAD_RULE)
    with pytest.raises(ir.RuleFileError) as info:
        ir.load_rules(tmp_path, engine="native")
    big = [p for p in info.value.problems if p.file.endswith("big.yaml")]
    assert len(big) == 1  # no follow-on problem for the rules that were not read
    assert "document too large" in big[0].message and "1,000 YAML nodes" in big[0].message
    assert big[0].line is not None and big[0].line < 400  # where reading stopped, of 12,000
    assert any(p.file.endswith("other.yaml") for p in info.value.problems)


def test_aliases_count_every_node_they_repeat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ir_yaml, "MAX_NODES", 100_000)  # 10**12 nodes once expanded
    laughs = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    laughs += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 12)]
    started = time.perf_counter()
    doc = parse_yaml("\n".join(laughs) + "\n")
    assert time.perf_counter() - started < 10
    assert doc.data is None
    assert [p.message.split(":")[0] for p in doc.problems] == ["document too large"]


def test_file_size_limit_is_checked_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ir_yaml, "MAX_CHARS", 1_000)
    doc = parse_yaml("rules: [" + "x, " * 1_000)  # a syntax error too, never reached
    assert doc.data is None
    assert len(doc.problems) == 1 and doc.problems[0].message.startswith("file too large")


# -- echoed values ------------------------------------------------------------------------------


def test_a_huge_key_is_shown_shortened(tmp_path: Path) -> None:
    key = "k" * 1_000_000
    doc = parse_yaml(f"a:\n  {'? ' + key}\n  : 1\n  ? {key}\n  : 2\n")
    (problem,) = doc.problems
    assert problem.line == 4 and "duplicate key" in problem.message
    assert len(problem.message) < 200 and len(problem.path) < 200


# -- without libyaml ----------------------------------------------------------------------------


def test_pyyamls_own_parser_reads_the_same_and_is_bounded_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PyYAML built without libyaml falls back to its pure-Python parser: same data, same lines,
    same limits."""
    import yaml

    bundled = sorted(ir.BUNDLED_RULES.glob("*.yaml"))
    fast = [parse_yaml(path.read_text(encoding="utf-8")) for path in bundled]
    monkeypatch.setattr(ir_yaml, "_Loader", yaml.SafeLoader)
    for path, expected in zip(bundled, fast, strict=True):
        doc = parse_yaml(path.read_text(encoding="utf-8"))
        assert (doc.data, doc.lines, doc.problems) == (expected.data, expected.lines, []), path
    deep = parse_yaml("a: " + "[" * 100_000 + "]" * 100_000)
    assert [p.message.split(":")[0] for p in deep.problems] == ["nested too deeply"]
    huge = parse_yaml("a: 0x" + "f" * 5000 + "\n")
    assert [p.message.split(":")[0] for p in huge.problems] == ["integer too large"]
