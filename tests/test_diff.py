"""The semantic diff (``ir.diff``): the bundled rules against an edited copy (regions, speed,
mirror), a vocabulary change, the renderings, ``assert_changes_within`` and ``immunorules diff``
on folders and git revisions with its exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import immunorules as ir
from immunorules._cli.main import main
from immunorules.testing import assert_changes_within

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "data" / "small_rules"
OWN_VOCABULARY = ROOT / "examples" / "own_vocabulary" / "rules"


@pytest.fixture(scope="module")
def bundled() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


def _edited(tmp_path: Path, old: str, new: str, source: Path = SMALL) -> Path:
    """A copy of ``source`` with the first ``old`` replaced by ``new`` (in any file)."""
    copy = tmp_path / "rules"
    shutil.copytree(source, copy)
    for path in sorted(copy.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if old in text:
            path.write_text(text.replace(old, new, 1), encoding="utf-8")
            return copy
    raise AssertionError(f"{old!r} is in no rule file")


def _first_rule_edit(tmp_path: Path) -> tuple[Path, str]:
    """The bundled rules with one rule's advisories extended: returns the folder and the id."""
    kb = ir.load_rules(engine="native")
    rule = next(r for r in kb.active_rules if r.then.suggest and r.when and not r.then.advise)
    copy = tmp_path / "bundled"
    shutil.copytree(ir.BUNDLED_RULES, copy)
    path = copy / Path(rule.file).name
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == f"- id: {rule.id}")
    then = next(i for i in range(start, len(lines)) if lines[i].strip() == "then:")
    indent = lines[then + 1][: len(lines[then + 1]) - len(lines[then + 1].lstrip())]
    lines.insert(then + 1, f"{indent}advise: [multidisciplinary_review]\n")
    path.write_text("".join(lines), encoding="utf-8")
    return copy, rule.id


def test_a_rule_set_against_itself_changes_nothing(bundled: ir.KnowledgeBase) -> None:
    found = ir.diff(bundled, bundled)
    assert not found.changed
    assert (found.changed_profiles, found.regions) == (0, ())
    assert not found.vocabulary.changed
    assert found.profiles > 0
    assert "UNCHANGED" in found.to_text()


def test_an_edited_copy_of_the_bundled_rules_in_seconds(
    bundled: ir.KnowledgeBase, tmp_path: Path
) -> None:
    folder, rule_id = _first_rule_edit(tmp_path)
    new = ir.load_rules(folder, engine="native")
    start = time.perf_counter()
    found = ir.diff(bundled, new)
    took = time.perf_counter() - start
    assert took < 30, f"the diff took {took:.1f} s"
    assert found.changed and found.rules_edited == (rule_id,)
    assert not (found.rules_added or found.rules_removed or found.vocabulary.changed)
    assert found.changed_profiles == sum(r.region_size for r in found.regions) > 0
    for region in found.regions:
        assert region.after.advisories == {"multidisciplinary_review": True}
        assert region.before.advisories == {"multidisciplinary_review": False}
        assert region.rule_ids.after == (rule_id,)
        example = region.example_profile.model_dump()
        assert "multidisciplinary_review" not in {
            a.key for a in bundled.evaluate(example).advisories
        }
        assert "multidisciplinary_review" in {a.key for a in new.evaluate(example).advisories}
    back = ir.diff(new, bundled)
    assert back.changed_profiles == found.changed_profiles
    assert [(r.region, r.before, r.after) for r in back.regions] == [
        (r.region, r.after, r.before) for r in found.regions
    ]


def test_a_vocabulary_change_is_listed_and_only_shared_profiles_compared(
    bundled: ir.KnowledgeBase,
) -> None:
    both = ir.load_rules([ir.BUNDLED_RULES, OWN_VOCABULARY], engine="native")
    found = ir.diff(bundled, both)
    vocabulary = found.vocabulary
    assert vocabulary.changed
    assert "giant_cell_arteritis" in vocabulary.conditions_added
    assert {"age", "visual_symptoms"} <= set(vocabulary.fields_added)
    assert "il6_pathway_inhibitors" in vocabulary.classes_added
    assert found.shared_space is not None and "age" in found.shared_space
    assert set(found.rules_added) == {r.id for r in both.rules} - {r.id for r in bundled.rules}
    # the rules for the new condition fire on no profile both can answer; each example is a
    # profile of both, and both knowledge bases answer it as the region says
    for region in found.regions:
        example = region.example_profile.model_dump(exclude_defaults=True)
        assert example.get("condition") != "giant_cell_arteritis"
        before, after = bundled.evaluate(example), both.evaluate(example)
        for name, avoids in region.before.avoided.items():
            assert any((a.subcategory or a.category) == name for a in before.avoided) == avoids
        for name, avoids in region.after.avoided.items():
            assert any((a.subcategory or a.category) == name for a in after.avoided) == avoids
        for key, gives in region.after.advisories.items():
            assert any(a.key == key for a in after.advisories) == gives
    back = ir.diff(both, bundled)
    assert back.vocabulary.conditions_removed == vocabulary.conditions_added
    assert back.changed_profiles == found.changed_profiles


def test_renderings(tmp_path: Path) -> None:
    old = ir.load_rules(SMALL, engine="native")
    new = ir.load_rules(
        _edited(
            tmp_path,
            "tier: first_line, subcategories: [checkpoint_inhibitors]",
            "tier: escalation, subcategories: [checkpoint_inhibitors]",
        ),
        engine="native",
    )
    found = ir.diff(old, new)
    assert found.changed and len(found.regions) >= 1
    text = found.to_text()
    assert text.startswith("immunorules diff: ") and "CHANGED" in text
    assert "immunostimulants: first_line (checkpoint_inhibitors)" in text
    assert "NOT FOR CLINICAL USE" in text
    markdown = found.to_markdown()
    assert "### Rule-set diff: changes answers" in markdown
    assert "| # | Profiles | Region | Before | After | Rules |" in markdown
    assert "`MEL-ICI`" in markdown
    html = found._repr_html_()
    assert "Rule-set diff" in html and "<script" not in html and "MEL-ICI" in html
    data = json.loads(found.to_json())
    assert data["changed"] is True and data["changed_profiles"] == found.changed_profiles
    assert data["regions"][0]["after"]["suggestions"]["immunostimulants"]["tier"] == "escalation"
    assert str(found) == text


def test_assert_changes_within(tmp_path: Path) -> None:
    old = ir.load_rules(SMALL, engine="native")
    folder = _edited(
        tmp_path,
        "tier: first_line, subcategories: [checkpoint_inhibitors]",
        "tier: escalation, subcategories: [checkpoint_inhibitors]",
    )
    whole = assert_changes_within(old, folder, {"condition": "melanoma"})
    assert whole.changed
    assert_changes_within(old, folder, [{"condition": "melanoma"}, {"condition": "psoriasis"}])
    with pytest.raises(AssertionError, match=r"outside the allowed region") as raised:
        assert_changes_within(old, folder, {"condition": "melanoma", "severity": "severe"})
    message = str(raised.value)
    assert "condition = melanoma" in message and "example:" in message
    assert "before: immunostimulants: first_line" in message


# -- the command line ---------------------------------------------------------------------------


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_exit_codes_and_formats(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = _edited(tmp_path, "advise: [irae_risk]", "advise: [irae_risk, pml_risk]")
    code, out, _ = _run(capsys, "diff", str(SMALL), str(SMALL))
    assert code == 0 and "UNCHANGED" in out
    code, out, _ = _run(capsys, "diff", str(SMALL), str(folder))
    assert code == 1 and "advisory pml_risk: given" in out
    code, out, _ = _run(capsys, "diff", str(SMALL), str(folder), "--format", "markdown")
    assert code == 1 and out.startswith("> **Research prototype")
    code, out, _ = _run(capsys, "diff", str(SMALL), str(folder), "--format", "html")
    assert code == 1 and out.startswith('<div class="ir-root ir-diff">')
    code, out, _ = _run(capsys, "diff", str(SMALL), str(folder), "--format", "json")
    assert code == 1 and json.loads(out)["changed"] is True
    code, _, err = _run(capsys, "diff", str(SMALL), str(tmp_path / "missing"))
    assert code == 2 and "does not exist" in err


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_cli_reads_git_revisions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(SMALL, repo / "rules")
    _git(repo, "init", "-q")
    _git(repo, "add", "rules")
    _git(repo, "commit", "-q", "-m", "rules")
    path = repo / "rules" / "oncology.yaml"
    path.write_text(
        path.read_text().replace("advise: [irae_risk]", "advise: [irae_risk, pml_risk]", 1)
    )
    _git(repo, "commit", "-q", "-am", "edit")
    monkeypatch.chdir(repo)
    code, out, _ = _run(capsys, "diff", "HEAD~1:rules", "rules")
    assert code == 1 and "advisory pml_risk: given" in out
    code, out, _ = _run(capsys, "diff", "HEAD:rules", "rules")
    assert code == 0
    code, _, err = _run(capsys, "diff", "HEAD~5:rules", "rules")
    assert code == 2 and "git revision" in err and "Traceback" not in err
    code, _, err = _run(capsys, "diff", "HEAD:nothing", "rules")
    assert code == 2 and "nothing" in err


def test_cli_without_git_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    code, _, err = _run(capsys, "diff", "HEAD~1:rules", str(SMALL))
    assert code == 2 and "git is not installed" in err
