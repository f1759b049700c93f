"""The command line shows what an answer assumes, and ``--assume`` passes a policy for fields
not stated to evaluation (or says plainly that this installation's evaluation takes none)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import immunorules as ir
from immunorules._cli.assume import policy, supports
from immunorules._cli.context import CliError
from immunorules._cli.main import main
from immunorules._evaluate import frame as frame_module

from .conftest import require

RA = {"immune_activity": "overactive", "condition": "rheumatoid_arthritis"}


@pytest.fixture(scope="module")
def kb() -> ir.KnowledgeBase:
    return ir.load_rules()


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    path = tmp_path / "ra.json"
    path.write_text(json.dumps(RA))
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_policies_are_read_against_the_vocabulary(kb: ir.KnowledgeBase) -> None:
    assert policy(None, kb) is None
    assert policy(["v2"], kb) == "v2"
    assert policy(
        [
            "pregnant=false",
            "prior_lines_of_therapy=0",
            "infection_status=none",
            "prior_therapy_classes=tnf_inhibitors|antifolate_dmards",
        ],
        kb,
    ) == {
        "pregnant": False,
        "prior_lines_of_therapy": 0,
        "infection_status": "none",
        "prior_therapy_classes": tuple(
            m for m in kb.schema.set_fields["prior_therapy_classes"]
            if m in ("tnf_inhibitors", "antifolate_dmards")
        ),
    }  # fmt: skip
    assert policy(["prior_therapy_classes=[]"], kb) == {"prior_therapy_classes": ()}
    bad = {
        "pregnat=false": "did you mean 'pregnant'",
        "pregnant=yes": "not one of its values (false, true)",
        "pregnant=1": "not one of its values",
        "pregnant": "give FIELD=VALUE",
        "pregnant=null": "assume a stated value",
        "prior_lines_of_therapy=x": "not one of its values (0..20)",
        "infection_status=bad": "not one of its values (none, recent_serious",
        "prior_therapy_classes=zz": "'zz' is not among its members",
    }
    for given, message in bad.items():
        with pytest.raises(CliError, match=message.replace("(", r"\(").replace(")", r"\)")):
            policy([given], kb)
    with pytest.raises(CliError, match="cannot be combined"):
        policy(["v2", "pregnant=false"], kb)
    with pytest.raises(CliError, match="twice"):
        policy(["pregnant=false", "pregnant=true"], kb)


def test_an_evaluation_without_assume_is_a_clear_error(
    kb: ir.KnowledgeBase, profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(CliError, match="not supported"):
        policy(["pregnant=false"], kb, lambda profile: None)
    assert supports(ir.KnowledgeBase.evaluate)  # this installation's evaluation takes it
    code, out, err = _run(capsys, "evaluate", str(profile), "--assume", "pregnant=false")
    assert code == 0 and "pregnant" in out and not err


def test_evaluate_passes_the_policy_and_shows_what_was_assumed(
    kb: ir.KnowledgeBase,
    profile: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[Any] = []
    plain = ir.KnowledgeBase.evaluate

    def evaluate(self: ir.KnowledgeBase, data: Any, *, assume: Any = None) -> ir.Result:
        seen.append(assume)
        result = plain(self, data)
        assumed = assume if isinstance(assume, dict) else {}
        return result.model_copy(update={"assumed": assumed, "unstated": ("heart_failure",)})

    monkeypatch.setattr(ir.KnowledgeBase, "evaluate", evaluate)
    code, out, _ = _run(
        capsys, "evaluate", str(profile), "--assume", "pregnant=false", "--assume",
        "prior_lines_of_therapy=0",
    )  # fmt: skip
    assert code == 0
    assert seen == [{"pregnant": False, "prior_lines_of_therapy": 0}]
    assert "What this answer assumes:" in out
    assert "Assumed for this answer: pregnant=false, prior_lines_of_therapy=0" in out
    code, out, _ = _run(capsys, "evaluate", str(profile), "--format", "markdown")
    assert seen[-1] is None and "#### What this answer assumes" in out
    code, out, err = _run(capsys, "evaluate", str(profile), "--format", "json", "--assume", "v2")
    assert code == 0, err
    assert seen[-1] == "v2"
    assert json.loads(out)["unstated"] == ["heart_failure"]


def test_evaluate_text_shows_what_the_answer_depends_on(
    profile: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = ir.KnowledgeBase.evaluate

    def evaluate(self: ir.KnowledgeBase, data: Any) -> ir.Result:
        dependency = ir.Dependency(
            field="pregnant", values=(True,), effect="if pregnant: antifolate csDMARDs avoided"
        )
        return plain(self, data).model_copy(
            update={"unstated": ("pregnant",), "depends_on": (dependency,)}
        )

    monkeypatch.setattr(ir.KnowledgeBase, "evaluate", evaluate)
    code, out, _ = _run(capsys, "evaluate", str(profile))
    assert code == 0
    assert "* pregnant = true: if pregnant: antifolate csDMARDs avoided" in out


def test_cohort_passes_the_policy_or_says_it_cannot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    require("pyarrow")
    source = tmp_path / "cohort.csv"
    source.write_text("patient_id,immune_activity,condition,pregnant\np1,overactive,psoriasis,\n")
    target = tmp_path / "out.jsonl"
    if not supports(frame_module.evaluate_arrow):
        code, _, err = _run(
            capsys, "cohort", str(source), str(target), "--assume", "pregnant=false"
        )
        assert code == 2 and "--assume is not supported" in err
        assert not target.exists()
    seen: list[Any] = []
    plain = frame_module.evaluate_arrow

    def evaluate_arrow(*args: Any, assume: Any = None, **kwargs: Any) -> Any:
        seen.append(assume)
        return plain(*args, **kwargs)

    monkeypatch.setattr(frame_module, "evaluate_arrow", evaluate_arrow)
    code, _, err = _run(capsys, "cohort", str(source), str(target), "--assume", "pregnant=false")
    assert code == 0, err
    assert seen == [{"pregnant": False}]
    code, _, err = _run(capsys, "cohort", str(source), str(target), "--assume", "pregnan=true")
    assert code == 2 and "did you mean 'pregnant'" in err
