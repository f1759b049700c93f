"""A medication record the drug terminology does not recognise is evidence that could not be
read, not "no evidence": ``prior_therapy_classes`` stays not stated, and ``not_stated``,
``unrecognised``, the explanation and the CDS Hooks check card name the records it depends on
(resource, code), never the drug's name or dose."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import immunorules as ir

from .conftest import require

require("fhir.resources", reason="needs the fhir extra: pip install 'immunorules[fhir]'")

from immunorules.fhir import FhirProfile, profile_from_fhir, profiles_from_bulk  # noqa: E402
from immunorules.fhir._provenance import NO_EVIDENCE, UNRECOGNISED  # noqa: E402

from .test_fhir import bundle, condition, patient  # noqa: E402
from .test_fhir_terminology import SHARED  # noqa: E402 - the shared records, found from a worktree too
from .test_knowledge_base_text import _problems  # noqa: E402

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
FIELD = "prior_therapy_classes"


@pytest.fixture(scope="module")
def kb() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


def medication(
    mid: str,
    *,
    code: str | None = None,
    display: str | None = None,
    text: str | None = None,
    on: str = "2023-01-01",
    kind: str = "MedicationRequest",
) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    if code is not None:
        coding: dict[str, Any] = {"system": RXNORM, "code": code}
        if display is not None:
            coding["display"] = display
        concept["coding"] = [coding]
    if text is not None:
        concept["text"] = text
    resource: dict[str, Any] = {
        "resourceType": kind,
        "id": mid,
        "status": "active",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": concept,
    }
    if kind == "MedicationRequest":
        resource.update(intent="order", authoredOn=on)
    else:
        resource["effectiveDateTime"] = on
    return resource


#: RxNorm codes the terminology does not know (an antihypertensive and an analgesic).
LISINOPRIL = medication("lis", code="314076", display="lisinopril 10 MG Oral Tablet")
ACETAMINOPHEN = medication("apap", code="313782", display="Acetaminophen 325 MG Oral Tablet")
#: A code it knows (methotrexate 2.5 MG oral tablet: conventional DMARDs).
METHOTREXATE = medication("mtx", code="105586")


def _read(kb: Any, *resources: dict[str, Any], **options: Any) -> FhirProfile:
    options.setdefault("as_of", "2024-01-01")
    result = profile_from_fhir(
        bundle(patient(), condition("ra", "69896004"), *resources), kb=kb, **options
    )
    assert result.profile is not None and result.profile.condition == "rheumatoid_arthritis"
    return result


def test_an_unrecognised_medication_is_named_not_called_no_evidence(kb: ir.KnowledgeBase) -> None:
    result = _read(kb, LISINOPRIL)
    assert result.profile is not None and getattr(result.profile, FIELD) is None
    assert FIELD in result.unknown and FIELD not in result.provenance
    why = result.not_stated[FIELD]
    assert why != NO_EVIDENCE and NO_EVIDENCE not in why
    assert why.startswith(UNRECOGNISED)
    assert "does not recognise" in why
    assert f"MedicationRequest/lis {RXNORM}|314076" in why
    (evidence,) = result.unrecognised[FIELD]
    assert (evidence.resource, evidence.system, evidence.code) == (
        "MedicationRequest/lis",
        RXNORM,
        "314076",
    )
    assert "not recognised" in evidence.detail
    # the other fields the record says nothing about still have no evidence
    assert result.not_stated["pregnant"] == NO_EVIDENCE
    assert "pregnant" not in result.unrecognised
    data = result.to_dict()
    assert data["not_stated"][FIELD] == why
    assert data["unrecognised"][FIELD][0]["resource"] == "MedicationRequest/lis"
    json.dumps(data)
    for markdown in (False, True):
        text = result.explain(markdown=markdown)
        line = next(x for x in text.splitlines() if FIELD in x)
        assert "not stated" in line and UNRECOGNISED in line, line
        assert "MedicationRequest/lis" in text
        assert NO_EVIDENCE not in line


def test_outputs_name_the_record_never_the_drug(kb: ir.KnowledgeBase) -> None:
    result = _read(
        kb, LISINOPRIL, ACETAMINOPHEN, medication("x", text="Zorblaximab 40 MG Injection")
    )
    shown = result.explain() + result.explain(markdown=True) + result.to_json()
    assert _problems(shown) == []
    for name in ("lisinopril", "Acetaminophen", "Zorblaximab", "325 MG"):
        assert name.casefold() not in shown.casefold(), name
    assert "MedicationRequest/x" in result.not_stated[FIELD]
    text_only = next(e for e in result.unrecognised[FIELD] if e.resource == "MedicationRequest/x")
    assert text_only.code is None and "no code" in text_only.detail


def test_medication_statements_and_records_without_a_drug_are_named(kb: ir.KnowledgeBase) -> None:
    statement = medication("st", code="314076", kind="MedicationStatement")
    nothing = medication("blank")
    result = _read(kb, statement, nothing)
    why = result.not_stated[FIELD]
    assert "MedicationStatement/st" in why and "MedicationRequest/blank" in why
    blank = next(e for e in result.unrecognised[FIELD] if e.resource == "MedicationRequest/blank")
    assert "names no drug" in blank.detail


def test_one_drug_in_many_records_is_named_once_the_earliest(kb: ir.KnowledgeBase) -> None:
    later = {**LISINOPRIL, "id": "lis-2", "authoredOn": "2023-06-01"}
    earliest = {**LISINOPRIL, "id": "lis-0", "authoredOn": "2022-01-01"}
    result = _read(kb, LISINOPRIL, later, earliest)
    (evidence,) = result.unrecognised[FIELD]
    assert evidence.resource == "MedicationRequest/lis-0"
    assert "a drug the drug terminology does not recognise" in result.not_stated[FIELD]


def test_many_drugs_are_named_up_to_five_and_counted(kb: ir.KnowledgeBase) -> None:
    many = [medication(f"m{i}", code=str(900000 + i), on=f"2023-01-0{i + 1}") for i in range(7)]
    result = _read(kb, *many)
    why = result.not_stated[FIELD]
    assert "7 drugs" in why and why.endswith("; and 2 more")
    assert [e.resource for e in result.unrecognised[FIELD]] == [
        f"MedicationRequest/m{i}" for i in range(7)
    ]
    assert "MedicationRequest/m4" in why and "MedicationRequest/m5" not in why


def test_no_medication_and_a_local_form_are_still_no_evidence(kb: ir.KnowledgeBase) -> None:
    cream = medication("cream", code="999999", text="Hydrocortisone 10 MG/ML Topical Cream")
    for resources in ((), (cream,)):
        result = _read(kb, *resources)
        assert result.not_stated[FIELD] == NO_EVIDENCE
        assert result.unrecognised == {}


def test_after_as_of_an_unrecognised_medication_is_not_cited(kb: ir.KnowledgeBase) -> None:
    late = {**LISINOPRIL, "authoredOn": "2025-01-01"}
    assert _read(kb, late).not_stated[FIELD] == NO_EVIDENCE
    assert FIELD in _read(kb, late, as_of="2025-06-01").unrecognised


def test_a_stated_field_keeps_the_records_it_could_not_read(kb: ir.KnowledgeBase) -> None:
    result = _read(kb, METHOTREXATE, LISINOPRIL)
    assert result.profile is not None
    assert getattr(result.profile, FIELD) == ("conventional_dmards",)
    assert FIELD not in result.not_stated
    assert [e.resource for e in result.unrecognised[FIELD]] == ["MedicationRequest/lis"]
    text = result.explain()
    assert "also in the record, not recognised:" in text and "MedicationRequest/lis" in text


def test_an_unrecognised_medication_is_not_validated_under_validate_used(
    kb: ir.KnowledgeBase,
) -> None:
    odd = {**LISINOPRIL, "status": 7}  # not a FHIR code: invalid, but nothing is read from it
    result = _read(kb, odd, validate="used")
    assert FIELD in result.unrecognised


def test_bulk_names_each_unrecognised_drug_once_as_a_bundle_does(
    tmp_path: Path, kb: ir.KnowledgeBase
) -> None:
    later = {**LISINOPRIL, "id": "lis-2", "authoredOn": "2023-06-01"}
    earliest = {**LISINOPRIL, "id": "lis-0", "authoredOn": "2022-01-01"}
    statement = medication("st", code="313782", kind="MedicationStatement", on="2021-01-01")
    (tmp_path / "Patient.000.ndjson").write_text(json.dumps(patient()) + "\n")
    (tmp_path / "Condition.000.ndjson").write_text(json.dumps(condition("ra", "69896004")) + "\n")
    (tmp_path / "MedicationRequest.000.ndjson").write_text(
        "".join(json.dumps(r) + "\n" for r in (LISINOPRIL, later, earliest))
    )
    (tmp_path / "MedicationStatement.000.ndjson").write_text(json.dumps(statement) + "\n")
    ((pid, bulk),) = list(profiles_from_bulk(tmp_path, kb=kb, as_of="2024-01-01"))
    single = _read(kb, LISINOPRIL, later, earliest, statement)
    assert pid == "p1"
    assert bulk.unrecognised == single.unrecognised
    assert bulk.not_stated == single.not_stated
    assert [e.resource for e in bulk.unrecognised[FIELD]] == [
        "MedicationStatement/st",
        "MedicationRequest/lis-0",
    ]


def test_the_check_card_and_record_lines_say_what_the_answer_depends_on(
    kb: ir.KnowledgeBase,
) -> None:
    require("starlette", reason="needs the service extra: pip install 'immunorules[service]'")
    from immunorules.service import cards_from_result

    found = _read(kb, LISINOPRIL)
    assert found.profile is not None
    result = kb.evaluate(found.profile)
    # No bundled rule's answer turns on prior classes alone here: say that one would.
    depends = ir.Dependency(field=FIELD, values=("tnf_inhibitors",), effect="if tried: escalate")
    result = result.model_copy(update={"depends_on": (depends, *result.depends_on)})
    cards = cards_from_result(result, kb=kb, fhir=found)
    (check,) = [c for c in cards if str(c["summary"]).startswith("Check before")]
    line = next(x for x in str(check["detail"]).splitlines() if "prior\\_therapy\\_classes" in x)
    assert "the patient's record does not determine it" in line
    assert "MedicationRequest/lis" in line and "314076" in line and "does not recognise" in line
    assert "lisinopril" not in str(check["detail"]).casefold()
    # A fact with no evidence at all says no more than before.
    others = [x for x in str(check["detail"]).splitlines() if x.startswith("- **") and x != line]
    assert others
    for plain in others:
        assert plain.endswith("the patient's record does not determine it"), plain


@pytest.mark.skipif(SHARED is None, reason="the shared Synthea records are not beside the clone")
def test_a_synthea_record_names_its_unrecognised_medications(kb: ir.KnowledgeBase) -> None:
    assert SHARED is not None
    austin = (
        SHARED
        / "smart-generated-sample-data-R4/Austin_Franecki_f23eef30-acb2-49da-8091-159b61dc1ed5.json"
    )
    result = profile_from_fhir(austin, kb=kb)
    assert result.profile is not None and getattr(result.profile, FIELD) is None
    why = result.not_stated[FIELD]
    # cisplatin and paclitaxel (as in the shared manifest) are not in the drug terminology
    for code in ("1736854", "583214"):
        assert f"{RXNORM}|{code}" in why
    assert "MedicationRequest/29b221e6-31d9-4b91-9bfa-03b2b2cd45d1" in why
    assert _problems(result.explain() + result.to_json()) == []
