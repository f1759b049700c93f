"""The loader: bundled rules, path handling, and every bad rule file reported with its location."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import immunorules as ir
from immunorules import RuleFileError

DATA = Path(__file__).parent / "data"
BAD = sorted((DATA / "bad_rules").glob("*.yaml"))
_EXPECT = re.compile(r"# expect: line=(\S+) path=(\S+) message=(.+)")


def _expectation(path: Path) -> tuple[int | None, str, str]:
    match = _EXPECT.match(path.read_text(encoding="utf-8").splitlines()[0])
    assert match, f"{path.name} lacks an '# expect:' header"
    line, json_path, message = match.groups()
    return (None if line == "None" else int(line)), json_path, message.strip()


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_rule_file_reports_file_line_and_path(path: Path) -> None:
    line, json_path, message = _expectation(path)
    with pytest.raises(RuleFileError) as info:
        ir.load_rules(path, engine="native")
    error = info.value
    assert error.file.endswith(path.name)
    assert (error.line, error.path) == (line, json_path), str(error)
    assert message in error.problems[0].message
    assert str(error).splitlines()[1].strip().startswith(f"{error.file}")
    assert isinstance(error, ValueError)


def test_python_tag_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    rule_file = tmp_path / "evil.yaml"
    rule_file.write_text(
        "rules:\n"
        f"  - !!python/object/apply:os.system ['touch {marker}']\n"
        f"  - !!python/object/new:pathlib.Path ['{marker}']\n"
    )
    with pytest.raises(RuleFileError) as info:
        ir.load_rules(rule_file, engine="native")
    assert not marker.exists()
    assert [p.path for p in info.value.problems] == ["$.rules[0]", "$.rules[1]"]
    assert all("is not allowed" in p.message for p in info.value.problems)


def test_all_problems_in_all_files_are_collected(tmp_path: Path) -> None:
    for name in ("unknown_severity.yaml", "min_greater_than_max.yaml", "bad_rule_id.yaml"):
        (tmp_path / name).write_text((DATA / "bad_rules" / name).read_text())
    with pytest.raises(RuleFileError) as info:
        ir.load_rules(tmp_path, engine="native")
    files = {Path(p.file).name for p in info.value.problems}
    assert files == {"unknown_severity.yaml", "min_greater_than_max.yaml", "bad_rule_id.yaml"}
    assert info.value.problems[0].rule_id is None  # files in sorted order: bad_rule_id first


def test_problem_carries_rule_id_and_json_path() -> None:
    with pytest.raises(RuleFileError) as info:
        ir.load_rules(DATA / "bad_rules" / "unknown_severity.yaml", engine="native")
    problem = info.value.problems[0]
    assert problem.rule_id == "RA-FIRST"
    assert problem.json_path == "$.rules[0].when.severity"
    assert str(problem).endswith(
        "$.rules[0].when.severity: 'sever' is not a known severity value; did you mean 'severe'?"
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "no such file or directory"),
        (lambda p: p, "no rule files"),
        (lambda p: (p / "notes.txt", (p / "notes.txt").write_text("x"))[0], "not a rule file"),
    ],
)
def test_bad_paths(tmp_path: Path, make: object, message: str) -> None:
    target = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(RuleFileError, match=message):
        ir.load_rules(target, engine="native")


def test_only_given_paths_are_loaded() -> None:
    kb = ir.load_rules(DATA / "small_rules", engine="native")
    assert {rule.file.rsplit("/", 1)[-1] for rule in kb.rules} == {"ra.yaml", "oncology.yaml"}
    assert kb.name == "small_rules"  # the folder's name: it has no knowledge-base.yaml
    assert kb.version == "unversioned"


def test_evidence_keys_are_global_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "evidence:\n  E1: {citation: 'A source', url: 'https://example.org'}\n"
    )
    (tmp_path / "b.yaml").write_text(
        "rules:\n  - id: X-1\n    title: t\n    then: {advise: [hbv_screen]}\n"
        "    because: b\n    evidence: [E1]\n"
    )
    kb = ir.load_rules(tmp_path, engine="native")
    assert kb.rule("X-1").evidence == ("E1",)
    (tmp_path / "c.yaml").write_text("evidence:\n  E1: {citation: 'Again'}\n")
    with pytest.raises(RuleFileError, match="already defined"):
        ir.load_rules(tmp_path, engine="native")


def test_rule_conditions_are_normalised_to_value_sets() -> None:
    kb = ir.load_rules(DATA / "small_rules", engine="native")
    rule = kb.rule("RA-ESCALATE-BIOLOGIC")
    assert rule.when["prior_lines_of_therapy"] == frozenset(range(1, 21))
    assert rule.when["transplant_status"] == {"none", "candidate", "hsct_recipient"}
    assert rule.when["heart_failure"] == {False}
    assert kb.rule("DRAFT-RULE").status == "draft"
    assert kb.rule("DRAFT-RULE") not in kb.active_rules


def test_fingerprint_depends_on_content_not_location(tmp_path: Path) -> None:
    first = ir.load_rules(DATA / "small_rules", engine="native")
    for path in (DATA / "small_rules").iterdir():
        (tmp_path / path.name).write_text(path.read_text())
    assert ir.load_rules(tmp_path, engine="native").fingerprint == first.fingerprint
    ra = tmp_path / "ra.yaml"
    ra.write_text(ra.read_text().replace("csDMARD first.", "csDMARD first!"))
    assert ir.load_rules(tmp_path, engine="native").fingerprint != first.fingerprint
