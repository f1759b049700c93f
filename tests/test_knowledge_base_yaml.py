"""``knowledge-base.yaml``: a rule folder's name, version, description, effective date and
authors, read by the loader (strictly, with file, line and path for each problem), exposed as
``kb.info`` and carried by results and audit reports; without it, the folder's own name."""

from __future__ import annotations

import datetime
import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import immunorules as ir
from immunorules import RuleFileError

ROOT = Path(__file__).resolve().parents[1]
GCA = ROOT / "examples" / "own_vocabulary" / "rules"
RULE = """\
evidence:
  E1: {citation: "A source", url: "https://example.org/source"}
rules:
  - id: X-ONE
    title: One rule
    when: {condition: psoriasis}
    then: {advise: [hbv_screen]}
    because: An example.
    evidence: [E1]
"""
PSORIASIS = {"immune_activity": "overactive", "condition": "psoriasis"}


def _folder(root: Path, name: str, about: str | None = None) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "rules.yaml").write_text(RULE, encoding="utf-8")
    if about is not None:
        (folder / "knowledge-base.yaml").write_text(about, encoding="utf-8")
    return folder


def test_the_bundled_knowledge_base_keeps_its_name_and_the_library_version() -> None:
    kb = ir.load_rules(engine="native")
    assert (kb.name, kb.version) == ("immunorules-bundled", ir.__version__)
    assert kb.info.description and kb.info.authors == ("immunorules developers",)
    assert (ir.BUNDLED_RULES / "knowledge-base.yaml").is_file()
    assert all(rule.file.rsplit("/", 1)[-1] != "knowledge-base.yaml" for rule in kb.rules)


def test_the_example_declares_everything() -> None:
    kb = ir.load_rules(GCA, engine="native")
    info = kb.info
    assert (info.name, info.version, info.effective) == ("gca", "1.0.0", datetime.date(2026, 12, 7))
    assert info.fingerprint == kb.fingerprint and info.engine == "native"
    assert info.description is not None and info.description.startswith("Giant cell arteritis")
    assert isinstance(info, ir.KnowledgeBaseInfo)
    with pytest.raises(Exception, match="frozen"):
        info.name = "other"  # type: ignore[misc]


def test_a_folder_without_the_file_is_named_after_itself(tmp_path: Path) -> None:
    kb = ir.load_rules(_folder(tmp_path, "psoriasis-rules"), engine="native")
    assert (kb.name, kb.version) == ("psoriasis-rules", "unversioned")
    assert (kb.info.description, kb.info.effective, kb.info.authors) == (None, None, ())
    single = ir.load_rules(tmp_path / "psoriasis-rules" / "rules.yaml", engine="native")
    assert single.name == "rules"  # a single file: its name without the suffix


def test_several_folders_join_names_and_versions(tmp_path: Path) -> None:
    one = _folder(tmp_path, "one", "name: first\nversion: '2.1'\neffective: 2025-01-31\n")
    (one / "rules.yaml").write_text(RULE.replace("X-ONE", "X-FIRST").replace("E1", "E2"))
    both = ir.load_rules([ir.BUNDLED_RULES, GCA, one], engine="native")
    assert both.name == "immunorules-bundled+gca+first"
    assert both.version == f"{ir.__version__}+1.0.0+2.1"
    assert both.info.effective == datetime.date(2026, 12, 7)  # the latest one
    assert both.info.authors == ("immunorules developers",)
    result = both.evaluate(PSORIASIS)
    assert result.knowledge_base == both.info


def test_results_and_audit_reports_carry_name_version_and_fingerprint(tmp_path: Path) -> None:
    kb = ir.load_rules(_folder(tmp_path, "mine", "name: psoriasis\nversion: 3\n"), engine="native")
    assert (kb.name, kb.version) == ("psoriasis", "3")  # an integer version reads as text
    result = kb.evaluate(PSORIASIS)
    assert result.knowledge_base == kb.info
    assert f"Knowledge base: psoriasis 3 (engine native, fingerprint {kb.fingerprint[:12]})" in (
        result.explain()
    )
    report = ir.audit(kb)
    assert report.knowledge_base == kb.info
    head = f"psoriasis 3 (fingerprint {kb.fingerprint[:12]})"
    assert report.to_text().startswith(f"immunorules audit of {head}")
    assert f"psoriasis 3, fingerprint `{kb.fingerprint[:12]}`" in report.to_markdown()
    assert f"psoriasis 3, fingerprint <code>{kb.fingerprint[:12]}</code>" in report.to_html()
    assert '"version": "3"' in report.to_json()


def test_the_fingerprint_is_the_content_not_the_description(tmp_path: Path) -> None:
    plain = ir.load_rules(_folder(tmp_path, "a"), engine="native")
    named = ir.load_rules(_folder(tmp_path, "b", "name: other\nversion: '9'\n"), engine="native")
    assert plain.fingerprint == named.fingerprint
    assert (plain.name, named.name) == ("a", "other")
    # a pickle keeps its own name, though a knowledge base of the same rules was rebuilt first
    assert pickle.loads(pickle.dumps(plain)).name == "a"
    assert pickle.loads(pickle.dumps(named)).info == named.info


@pytest.mark.parametrize(
    ("about", "line", "path", "message"),
    [
        ("name: x\nowner: me\n", 2, "$.owner", "unknown key 'owner'"),
        ("nmae: x\n", 1, "$.nmae", "did you mean 'name'"),
        ("name: [x]\n", 1, "$.name", "'name' must be a non-empty string"),
        ("name: a+b\n", 1, "$.name", "must not hold '+'"),
        ("version: 1.10\n", 1, "$.version", "write the version as text in quotes"),
        ("version: true\n", 1, "$.version", "'version' must be a non-empty string"),
        ("effective: 2026-13-01\n", 1, "$.effective", "must be a date (YYYY-MM-DD)"),
        ("effective: yesterday\n", 1, "$.effective", "must be a date (YYYY-MM-DD)"),
        ("authors: me\n", 1, "$.authors", "'authors' must be a non-empty list"),
        ("authors:\n  - me\n  - 3\n", 3, "$.authors[1]", "an author must be a non-empty string"),
        ("description: ''\n", 1, "$.description", "'description' must be a non-empty string"),
        ("", None, "$", "must be a mapping"),
        ("- name\n", 1, "$", "must be a mapping"),
        ("name: !!python/name:os.system x\n", 1, "$.name", "tag"),
    ],
)
def test_problems_have_file_line_and_path(
    tmp_path: Path, about: str, line: int | None, path: str, message: str
) -> None:
    folder = _folder(tmp_path, "mine", about)
    with pytest.raises(RuleFileError) as info:
        ir.load_rules(folder, engine="native")
    (problem,) = info.value.problems
    assert problem.file.endswith("knowledge-base.yaml")
    assert (problem.line, problem.path) == (line, path), str(info.value)
    assert message in problem.message


def test_problems_are_reported_with_those_of_the_rule_files(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "mine", "name: x\nowner: me\n")
    (folder / "rules.yaml").write_text(RULE.replace("psoriasis", "psoriasys"))
    with pytest.raises(RuleFileError) as info:
        ir.load_rules(folder, engine="native")
    assert sorted(p.file.rsplit("/", 1)[-1] for p in info.value.problems) == [
        "knowledge-base.yaml",
        "rules.yaml",
    ]


def test_it_is_never_a_rule_file(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "mine", "name: x\n")
    with pytest.raises(RuleFileError, match="give the folder, not this file"):
        ir.load_rules(folder / "knowledge-base.yaml", engine="native")
    nested = _folder(folder, "inner", "name: y\n")
    (nested / "rules.yaml").write_text(RULE.replace("X-ONE", "X-TWO").replace("E1", "E2"))
    with pytest.raises(RuleFileError, match="read only at the top of a rule folder"):
        ir.load_rules(folder, engine="native")
    assert ir.load_rules([folder / "rules.yaml", nested], engine="native").name == "rules+y"
    only = tmp_path / "only"
    only.mkdir()
    (only / "knowledge-base.yaml").write_text("name: z\n")
    with pytest.raises(RuleFileError, match="no rule files"):
        ir.load_rules(only, engine="native")


def test_two_spellings_in_one_folder_are_a_problem(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "mine", "name: x\n")
    (folder / "knowledge-base.yml").write_text("name: y\n")
    with pytest.raises(RuleFileError, match="a rule folder has one of"):
        ir.load_rules(folder, engine="native")


_TEXT = st.text(
    alphabet=st.characters(
        whitelist_categories=("L", "N", "P", "S", "Zs"), blacklist_characters="+"
    ),
    min_size=1,
    max_size=40,
).filter(lambda text: text.strip() == text and text.strip())


@settings(max_examples=40, deadline=None)
@given(
    name=_TEXT,
    version=_TEXT,
    authors=st.lists(_TEXT, min_size=1, max_size=3, unique=True),
    effective=st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2999, 12, 31)),
)
def test_what_is_declared_is_what_info_says(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    version: str,
    authors: list[str],
    effective: datetime.date,
) -> None:
    import json

    folder = _folder(tmp_path_factory.mktemp("kb"), "mine")
    about = {"name": name, "version": version, "authors": authors, "effective": str(effective)}
    (folder / "knowledge-base.yaml").write_text(
        json.dumps(about, ensure_ascii=False), encoding="utf-8"
    )  # JSON is YAML
    info = ir.load_rules(folder, engine="native").info
    assert (info.name, info.version, info.authors, info.effective) == (
        name,
        version,
        tuple(authors),
        effective,
    )


def test_why_not_answers_and_the_summary_carry_them_too() -> None:
    kb = ir.load_rules(GCA, engine="native")
    relapse = {"immune_activity": "overactive", "condition": "giant_cell_arteritis", "age": 80}
    answer = kb.why_not(relapse, "biologic_therapies")
    assert f"Knowledge base: gca 1.0.0 (engine native, fingerprint {kb.fingerprint[:12]})" in (
        answer.explain()
    )
    import json

    summary = json.loads(kb.to_json())
    assert (summary["name"], summary["version"], summary["effective"]) == (
        "gca",
        "1.0.0",
        "2026-12-07",
    )
    assert summary["authors"] == ["immunorules developers"] and summary["description"]
