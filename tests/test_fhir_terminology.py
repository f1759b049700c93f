"""The drug terminology of the FHIR mapping: RxNorm clinical drug, branded drug and pack codes and
WHO ATC codes map to their ingredient's class; the ingredient-name fallback matches whole words
only and says so in the provenance; every bundled code has a verification status; the Synthea
records' immunomodulating medications are all mapped; ``immunorules vocabulary --codes`` lists
the codes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import immunorules as ir

from .conftest import require

require("fhir.resources", reason="needs the fhir extra: pip install 'immunorules[fhir]'")

from immunorules._cli.main import main  # noqa: E402 - after the skip
from immunorules.fhir import (  # noqa: E402
    _codes,
    profile_from_fhir,
)
from immunorules.fhir._terminology import (  # noqa: E402
    NameMatcher,
    Terminology,
    bundled_terminology,
)

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
ROOT = Path(__file__).resolve().parents[1]


def _shared() -> Path | None:
    """The shared Synthea records, beside the clone or a worktree's parent folder."""
    for parent in ROOT.parents:
        candidate = parent / "shared" / "data" / "fhir"
        if candidate.is_dir():
            return candidate
    return None


SHARED = _shared()


@pytest.fixture(scope="module")
def kb() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


def _record(*, code: str | None = None, display: str | None = None, text: str | None = None,
            system: str = RXNORM) -> dict[str, Any]:  # fmt: skip
    coding: dict[str, Any] = {"system": system}
    if code is not None:
        coding["code"] = code
    if display is not None:
        coding["display"] = display
    concept: dict[str, Any] = {"coding": [coding]}
    if text is not None:
        concept["text"] = text
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p", "birthDate": "1970-01-01"}},
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "ra",
                    "subject": {"reference": "Patient/p"},
                    "clinicalStatus": {"coding": [{"code": "active"}]},
                    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "69896004"}]},
                }
            },
            {
                "resource": {
                    "resourceType": "MedicationRequest",
                    "id": "m",
                    "status": "active",
                    "intent": "order",
                    "subject": {"reference": "Patient/p"},
                    "authoredOn": "2024-01-01",
                    "medicationCodeableConcept": concept,
                }
            },
        ],
    }


# -- codes ---------------------------------------------------------------------------------------


def test_every_bundled_code_maps_to_its_ingredients_class(kb: ir.KnowledgeBase) -> None:
    index = _codes.code_index(kb.schema)
    classes = {sub.id for sub in kb.schema.vocabulary.subcategories}
    terminology = bundled_terminology()
    assert {i.drug_class for i in terminology.ingredients} <= classes
    for ingredient, code in terminology.codes():
        found = {
            sub for _, hit in index.lookup(code.system_uri, code.code) for sub, _ in hit.classes
        }
        assert found == {ingredient.drug_class}, (code.code, found)


@pytest.mark.parametrize(
    ("code", "tty", "drug_class"),
    [
        ("1012895", "SCD", "s1p_receptor_modulators"),  # fingolimod 0.5 MG Oral Capsule
        ("1012899", "SBD", "s1p_receptor_modulators"),  # ... [Gilenya]
        ("1357541", "SCD", "jak_inhibitors"),  # tofacitinib 5 MG Oral Tablet
        ("1357547", "SBD", "jak_inhibitors"),  # ... [Xeljanz]
        ("105585", "SCD", "conventional_dmards"),  # methotrexate 2.5 MG Oral Tablet
        ("105586", "SCD", "conventional_dmards"),  # methotrexate 10 MG Oral Tablet
        ("284593", "SBD", "conventional_dmards"),  # methotrexate 10 MG Oral Tablet [Trexall]
        ("1655959", None, "conventional_dmards"),  # a methotrexate 25 MG/ML injection
        ("312617", "SCD", "corticosteroids"),  # prednisone 5 MG Oral Tablet
        ("198377", "SCD", "calcineurin_inhibitors"),  # tacrolimus 1 MG Oral Capsule
    ],
)
def test_clinical_and_branded_drug_codes_name_the_ingredients_class(
    kb: ir.KnowledgeBase, code: str, tty: str | None, drug_class: str
) -> None:
    listed = {c.code: c for _, c in bundled_terminology().codes()}
    assert listed[code].tty == tty
    found = profile_from_fhir(_record(code=code), kb=kb)
    assert set(found.therapy_classes) == {drug_class}
    (evidence,) = found.therapy_classes[drug_class]
    assert (evidence.by, evidence.code, evidence.system) == ("code", code, RXNORM)
    assert found.profile is not None
    assert found.profile.prior_therapy_classes == (drug_class,)


def test_atc_codes_name_the_ingredients_class(kb: ir.KnowledgeBase) -> None:
    found = profile_from_fhir(_record(code="L04AX03", system=ATC), kb=kb)
    assert set(found.therapy_classes) == {"conventional_dmards"}
    atc = [c for _, c in bundled_terminology().codes() if c.system == "atc"]
    assert atc and all(re.fullmatch(r"[A-Z]\d\d[A-Z][A-Z]\d\d", c.code) for c in atc)


def test_pack_codes_name_the_ingredients_class(
    kb: ir.KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A generic or branded pack maps like any code of its ingredient (the bundled table has
    no pack code read in a source yet, so the mechanism is shown with a table of its own)."""
    table = Terminology.model_validate(
        {
            "sources": {"here": {"title": "this test"}},
            "ingredients": [
                {
                    "name": "methylprednisolone",
                    "class": "corticosteroids",
                    "codes": [
                        {"system": "rxnorm", "code": "900001", "tty": "GPCK",
                         "display": "a generic pack", "status": "secondary", "source": "here"},
                        {"system": "rxnorm", "code": "900002", "tty": "BPCK",
                         "display": "a branded pack", "status": "secondary", "source": "here"},
                    ],
                }
            ],
        }
    )  # fmt: skip
    monkeypatch.setattr(_codes, "bundled_terminology", lambda: table)
    index = _codes._build(kb.schema)
    for code in ("900001", "900002"):
        hits = index.lookup(RXNORM, code)
        assert [sub for _, hit in hits for sub, _ in hit.classes] == ["corticosteroids"]


def test_every_code_has_a_status_and_every_sourced_status_names_a_source() -> None:
    terminology = bundled_terminology()
    seen: set[tuple[str, str]] = set()
    for _, code in terminology.codes():
        assert code.status in ("verified", "secondary", "unverified")
        if code.status != "unverified":
            assert code.source in terminology.sources
            assert terminology.sources[code.source].title
        assert (code.system, code.code) not in seen, code.code
        seen.add((code.system, code.code))
    assert {c.status for _, c in terminology.codes()} >= {"verified", "secondary"}


def test_the_data_file_is_plain_data() -> None:
    """The loader reads plain YAML with its own models: a tag that would build an object is
    refused."""
    import yaml

    text = (ROOT / "src" / "immunorules" / "fhir" / "drug_codes.yaml").read_text()
    assert "!!" not in text
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load("sources: !!python/object:os.system {}")


# -- the name fallback ---------------------------------------------------------------------------


def test_a_name_in_the_display_gives_the_class_by_name(kb: ir.KnowledgeBase) -> None:
    found = profile_from_fhir(
        _record(code="999999999", display="Methotrexate 2.5 MG Oral Tablet"), kb=kb
    )
    (evidence,) = found.therapy_classes["conventional_dmards"]
    assert evidence.by == "name"
    assert evidence.display is None and evidence.code is None  # the drug is never echoed
    assert "[by name]" in found.explain()
    data = found.to_dict()
    assert data["therapy_classes"]["conventional_dmards"][0]["by"] == "name"


def test_a_name_in_the_text_gives_the_class_by_name(kb: ir.KnowledgeBase) -> None:
    found = profile_from_fhir(_record(code=None, text="FINGOLIMOD 0.5mg capsule"), kb=kb)
    assert [e.by for e in found.therapy_classes["s1p_receptor_modulators"]] == ["name"]


def test_a_known_code_wins_over_the_name(kb: ir.KnowledgeBase) -> None:
    found = profile_from_fhir(_record(code="105586", display="tofacitinib (mislabelled)"), kb=kb)
    assert set(found.therapy_classes) == {"conventional_dmards"}
    assert found.therapy_classes["conventional_dmards"][0].by == "code"


@pytest.mark.parametrize(
    "text",
    [
        "Hydrocortisone 10 MG/ML Topical Cream",
        "cycloSPORINE 0.5 MG/ML Ophthalmic Emulsion",
        "tacrolimus 0.001 MG/MG Topical Ointment",
        "120 ACTUAT budesonide 0.08 MG/ACTUAT Metered Dose Inhaler",
        "abataceptish 10 MG",
        "methotrexatex",
    ],
)
def test_local_forms_and_longer_words_give_no_class(kb: ir.KnowledgeBase, text: str) -> None:
    found = profile_from_fhir(_record(code="999999999", display=text), kb=kb)
    assert found.therapy_classes == {}


def test_the_longest_name_at_a_place_wins() -> None:
    terminology = bundled_terminology()
    matcher = NameMatcher(terminology.ingredients)
    assert [i.name for i in matcher.find("Peginterferon beta-1a 125 MCG")] == [
        "peginterferon beta-1a"
    ]
    assert [i.name for i in matcher.find("mycophenolic  acid 180 MG")] == ["mycophenolic acid"]
    assert [i.name for i in matcher.find("cortisone acetate 25 MG Oral Tablet")] == ["cortisone"]
    assert [i.name for i in matcher.find("Hydrocortisone 10 MG Oral Tablet")] == ["hydrocortisone"]
    # a made-up name inside a real one is not found
    fake = Terminology.model_validate(
        {"sources": {}, "ingredients": [{"name": "tacept", "class": "x"}]}
    )
    assert NameMatcher(fake.ingredients).find("abatacept 125 MG/ML") == []
    assert [i.name for i in NameMatcher(fake.ingredients).find("TACEPT 1 MG")] == ["tacept"]


_NAMES = sorted({n for i in bundled_terminology().ingredients for n in i.all_names})
_ONE_WORD = [n for n in _NAMES if n.isalpha()]
_KNOWN = {n.casefold() for n in _NAMES}
_LETTERS = st.text(st.characters(categories=("Ll", "Lu")), max_size=6)


@given(name=st.sampled_from(_ONE_WORD), before=_LETTERS, after=_LETTERS)
def test_an_ingredient_name_inside_another_word_never_matches(
    name: str, before: str, after: str
) -> None:
    """Letters before or after a name make another word, and a name is only ever found as a
    whole word: ``xmethotrexate`` or ``abatacepts`` name nothing."""
    assume(before or after)
    word = f"{before}{name}{after}"
    assume(word.casefold() not in _KNOWN)
    matcher = NameMatcher(bundled_terminology().ingredients)
    assert matcher.find(f"take {word} daily") == []
    assert matcher.find(word) == []


@given(name=st.sampled_from(_NAMES), before=st.sampled_from(["", " ", "(", "- ", "2x "]),
       after=st.sampled_from(["", " ", ")", ",", " 5 MG"]))  # fmt: skip
def test_an_ingredient_name_as_a_word_matches_in_any_case(
    name: str, before: str, after: str
) -> None:
    matcher = NameMatcher(bundled_terminology().ingredients)
    found = matcher.find(f"{before}{name.upper()}{after}")
    assert any(name.casefold() in {n.casefold() for n in i.all_names} for i in found)


# -- the Synthea records -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "drug_class"),
    [
        (
            "835900",
            "calcineurin_inhibitors",
        ),  # cyclosporine 50 MG oral capsule (as Synthea names it)
        ("108515", "calcineurin_inhibitors"),  # 1 ML tacrolimus 5 MG/ML injection
        ("1664463", "calcineurin_inhibitors"),  # 24 HR tacrolimus 1 MG extended-release tablet
        ("105586", "conventional_dmards"),  # methotrexate 10 MG oral tablet
    ],
)
def test_the_synthea_immunomodulating_codes_are_mapped(
    kb: ir.KnowledgeBase, code: str, drug_class: str
) -> None:
    index = _codes.code_index(kb.schema)
    assert {sub for _, hit in index.lookup(RXNORM, code) for sub, _ in hit.classes} == {drug_class}


def _medications(folder: Path) -> Iterator[tuple[str, str, str]]:
    def walk(resource: Any) -> Iterator[tuple[str, str, str]]:
        if not isinstance(resource, dict):
            return
        if resource.get("resourceType") == "Bundle":
            for entry in resource.get("entry") or ():
                yield from walk(entry.get("resource"))
            return
        if resource.get("resourceType") not in ("MedicationRequest", "MedicationStatement"):
            return
        concept = resource.get("medicationCodeableConcept") or {}
        for coding in concept.get("coding") or ():
            yield coding.get("system", ""), coding.get("code", ""), coding.get("display", "")

    for path in sorted(folder.rglob("*.json")):
        yield from walk(json.loads(path.read_text()))
    for path in sorted(folder.rglob("*.ndjson")):
        for line in path.read_text().splitlines():
            if line.strip():
                yield from walk(json.loads(line))


@pytest.mark.skipif(SHARED is None, reason="the shared Synthea records are not beside the clone")
def test_every_synthea_medication_of_an_immunomodulating_ingredient_is_mapped_by_code(
    kb: ir.KnowledgeBase,
) -> None:
    """Each medication code in the shared records whose name is a systemic form of an
    ingredient in the table maps to that ingredient's class by its code."""
    assert SHARED is not None
    index = _codes.code_index(kb.schema)
    checked = 0
    for system, code, display in set(_medications(SHARED)):
        named = index.classes_named(display)
        if not named:
            continue
        checked += 1
        by_code = {sub for _, hit in index.lookup(system, code) for sub, _ in hit.classes}
        assert by_code == {sub for sub, _ in named}, (code, display)
    assert checked >= 4


# -- the command line ----------------------------------------------------------------------------


def test_the_cli_lists_the_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["vocabulary", "--codes", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = data["codes"]
    assert {"system", "code", "tty", "display", "class", "status", "source"} <= set(rows[0])
    by_code = {(r["system"], r["code"]): r for r in rows}
    fingolimod = by_code[(RXNORM, "1012895")]
    assert fingolimod["class"] == "s1p_receptor_modulators"
    assert fingolimod["status"] == "verified" and fingolimod["source"]
    assert sum(sum(v.values()) for v in data["counts"].values()) == len(rows)
    assert len(rows) == sum(1 for _ in bundled_terminology().codes())

    assert main(["vocabulary", "--codes"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split() == ["system", "code", "tty", "display", "class", "status",
                                            "source"]  # fmt: skip
    assert "1357541" in text and f"{len(rows)} codes (" in text

    assert main(["vocabulary", "--codes", "--format", "markdown"]) == 0
    assert "| system | code | tty | display | class | status | source |" in capsys.readouterr().out
