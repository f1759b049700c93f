"""FHIR R4 input: every record in ../shared/data/fhir against expectations written from reading
the records (tests/data/fhir_expected.yaml), hand-made edge records, bad input, and memory."""

from __future__ import annotations

import contextlib
import copy
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import immunorules as ir

from .conftest import require

require("fhir.resources", reason="needs the fhir extra: pip install 'immunorules[fhir]'")

from immunorules.fhir import (  # noqa: E402 - after the skip
    FhirError,
    FhirProfile,
    FhirWarning,
    profile_from_fhir,
    profiles_from_bulk,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "fhir"
EXPECTED = yaml.safe_load((ROOT / "tests" / "data" / "fhir_expected.yaml").read_text())
LOCAL = ROOT / "tests" / "data" / "fhir" / "hershel_marvin_ra.json"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"the shared FHIR test data is not beside the clone ({SHARED})"
)


@pytest.fixture(scope="module")
def kb() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


#: The fields the bundled vocabulary leaves not stated by default (issue 19).
NOT_STATED_BY_DEFAULT = [
    "pregnant",
    "heart_failure",
    "latent_tuberculosis",
    "hepatitis_b",
    "demyelinating_disease",
    "autoimmune_disease_history",
    "malignancy_history",
    "cardiovascular_risk",
    "targetable_driver_alteration",
    "infection_status",
    "transplant_status",
    "prior_therapy_classes",
    "prior_lines_of_therapy",
]


class _SchemaOnly:
    """A knowledge base as far as the FHIR reader needs one: its schema (and parse)."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.parse = schema.parse
        self.fields = schema.fields


@pytest.fixture(scope="module")
def unstated() -> Any:
    """The bundled schema with every field of issue 19 nullable and not stated by default,
    whether or not the bundled vocabulary says so yet (flipping it again changes nothing)."""
    from immunorules._model.schema import Schema
    from immunorules._model.vocabulary import bundled_vocabulary

    vocabulary = bundled_vocabulary()
    fields = tuple(
        f.model_copy(update={"default": None, "nullable": True})
        if f.id in NOT_STATED_BY_DEFAULT
        else f
        for f in vocabulary.fields
    )
    return _SchemaOnly(Schema(vocabulary.model_copy(update={"fields": fields})))


@pytest.fixture(params=["bundled", "not_stated"])
def either(request: pytest.FixtureRequest, kb: ir.KnowledgeBase, unstated: Any) -> Any:
    """The bundled knowledge base as it is, and with the issue 19 fields not stated by default."""
    return kb if request.param == "bundled" else unstated


def check(result: FhirProfile, expected: dict[str, Any], kb: Any) -> None:
    wanted = expected.get("profile")
    if wanted is None:
        assert result.profile is None, result.profile
    else:
        assert result.profile is not None, result.warnings
        assert result.profile == kb.parse(wanted)
        assert set(result.provenance) >= set(wanted), "every value set has evidence"
        for name in result.unknown:  # no evidence: not stated, or a default that cannot be
            definition = kb.schema.fields[name]
            value = getattr(result.profile, name)
            assert value == (None if definition.nullable else definition.default), name
    for field, resources in (expected.get("provenance") or {}).items():
        found = {e.resource or "derived" for e in result.provenance[field]}
        assert set(resources) <= found, (field, found)
    for field, resources in (expected.get("absent") or {}).items():
        evidence = result.provenance[field]
        assert all(e.detail.startswith("absent: ") for e in evidence), evidence
        assert set(resources) <= {e.resource for e in evidence}, (field, evidence)
        if result.profile is not None:
            assert getattr(result.profile, field) in (False, "none")
    absent = {
        name
        for name, evidence in result.provenance.items()
        if all(e.detail.startswith("absent: ") for e in evidence)
    }
    assert absent == set(expected.get("absent") or ()), absent
    for name, resources in (expected.get("classes") or {}).items():
        found = {e.resource or "derived" for e in result.therapy_classes[name]}
        assert set(resources) <= found
    assert set(result.therapy_classes) == set(expected.get("classes") or {})
    for text in expected.get("warnings") or ():
        assert any(text in w for w in result.warnings), (text, result.warnings)
    assert not set(result.unknown) & set(result.provenance)
    assert set(result.unknown) | set(result.provenance) == set(kb.fields)
    assert set(result.not_stated) == set(result.unknown)


@needs_shared
def test_every_shared_file_has_an_expectation() -> None:
    bundles = {p.relative_to(SHARED).as_posix() for p in SHARED.glob("*/*.json")}
    assert bundles == set(EXPECTED["bundles"])
    folder = SHARED / EXPECTED["bulk"]["folder"]
    ids = [json.loads(line)["id"] for line in (folder / "Patient.000.ndjson").open()]
    assert sorted(ids) == sorted(EXPECTED["bulk"]["patients"])


@needs_shared
@pytest.mark.parametrize("name", sorted(EXPECTED["bundles"]))
def test_bundle_becomes_the_expected_profile(name: str, either: Any) -> None:
    expected = EXPECTED["bundles"][name]
    check(profile_from_fhir(SHARED / name, kb=either, as_of=expected["as_of"]), expected, either)


@needs_shared
def test_bulk_export_becomes_the_expected_profiles(either: Any) -> None:
    bulk = EXPECTED["bulk"]
    seen = []
    for patient_id, result in profiles_from_bulk(
        SHARED / bulk["folder"], kb=either, as_of=bulk["as_of"]
    ):
        seen.append(patient_id)
        assert result.patient_id == patient_id
        check(result, bulk["patients"][patient_id], either)
    assert sorted(seen) == sorted(bulk["patients"])


@needs_shared
def test_bulk_validating_every_line_gives_the_same_profiles(kb: ir.KnowledgeBase) -> None:
    folder = SHARED / EXPECTED["bulk"]["folder"]
    used = dict(profiles_from_bulk(folder, kb=kb, as_of="2024-08-06"))
    full = dict(profiles_from_bulk(folder, kb=kb, as_of="2024-08-06", validate="all"))
    assert used == full


@needs_shared
def test_as_of_reads_the_record_on_an_earlier_date(kb: ir.KnowledgeBase) -> None:
    willy = (
        SHARED
        / "smart-generated-sample-data-R4/Willy_Koepp_ebbb96ce-c538-4ac4-ad6a-7c709ef6639c.json"
    )
    # RA resolved 2014-02-07: current on 2012-01-01, history after; onset 2009: absent in 2008.
    # Methotrexate, ordered in 2009 and stopped, is a class already tried by 2012.
    assert profile_from_fhir(willy, kb=kb, as_of="2012-01-01").profile == kb.parse(
        {
            "immune_activity": "overactive",
            "condition": "rheumatoid_arthritis",
            "prior_therapy_classes": ["conventional_dmards"],
        }
    )
    assert profile_from_fhir(willy, kb=kb, as_of="2015-01-01").profile is None
    early = profile_from_fhir(willy, kb=kb, as_of="2008-01-01")
    assert early.profile is None and "autoimmune_disease_history" in early.unknown
    folder = SHARED / EXPECTED["bulk"]["folder"]
    # The 2022-08-17 pregnancy abated 2023-03-22: pregnant on 2023-01-01; on 2023-06-01 the
    # abated pregnancy is evidence that she is not pregnant (a stated no, with its evidence).
    for day, pregnant in (("2023-01-01", True), ("2023-06-01", False)):
        found = dict(profiles_from_bulk(folder, kb=kb, as_of=day))
        (evidence, *_) = found["ca15b832-01e4-41dd-6a52-97bd3e5510cb"].provenance["pregnant"]
        assert evidence.detail.startswith("absent: ") is not pregnant
    # Before her first pregnancy (2017-12-27) the record says nothing about it: not stated.
    found = dict(profiles_from_bulk(folder, kb=kb, as_of="2017-01-01"))
    assert "pregnant" in found["ca15b832-01e4-41dd-6a52-97bd3e5510cb"].unknown


def test_condition_argument_chooses_the_treated_condition(kb: ir.KnowledgeBase) -> None:
    result = profile_from_fhir(LOCAL, kb=kb, condition="psoriasis", as_of="2024-01-01")
    assert result.profile is not None and result.profile.condition == "psoriasis"
    assert any("no current Condition coded as it" in w for w in result.warnings)
    assert result.provenance["condition"][0].detail == "given as condition="
    with pytest.raises(FhirError, match="did you mean 'psoriasis'"):
        profile_from_fhir(LOCAL, kb=kb, condition="psoriasiss")


def test_sources_a_dict_text_path_and_list_agree(kb: ir.KnowledgeBase) -> None:
    text = LOCAL.read_text()
    bundle = json.loads(text)
    resources = [entry["resource"] for entry in bundle["entry"]]
    results = [
        profile_from_fhir(source, kb=kb, as_of="2024-01-01")
        for source in (LOCAL, str(LOCAL), text, bundle, resources)
    ]
    assert all(r == results[0] for r in results)
    assert results[0].profile is not None and results[0].profile.condition == "rheumatoid_arthritis"


# -- hand-made edge records ------------------------------------------------------------------

SCT = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"


def patient(pid: str = "p1", **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "birthDate": "1980-01-01", **extra}


def condition(
    cid: str,
    code: str,
    *,
    system: str = SCT,
    clinical: str = "active",
    verification: str = "confirmed",
    onset: str = "2020-01-01",
    abated: str | None = None,
    severity: str | None = None,
    pid: str = "p1",
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": cid,
        "subject": {"reference": f"Patient/{pid}"},
        "code": {"coding": [{"system": system, "code": code}]},
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": clinical,
                }
            ]
        },
        "verificationStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": verification,
                }
            ]
        },
        "onsetDateTime": onset,
    }
    if abated:
        resource["abatementDateTime"] = abated
    if severity:
        resource["severity"] = {"coding": [{"system": SCT, "code": severity}]}
    return resource


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }


def test_refuted_and_entered_in_error_conditions_are_ignored(kb: ir.KnowledgeBase) -> None:
    record = bundle(
        patient(),
        condition("ra", "69896004", verification="refuted"),
        condition("ms", "24700007", verification="entered-in-error"),
        condition("pso", "9014002", severity="24484000"),
    )
    result = profile_from_fhir(record, kb=kb, as_of="2024-01-01")
    assert result.profile == kb.parse(
        {"immune_activity": "overactive", "condition": "psoriasis", "severity": "severe"}
    )
    assert "demyelinating_disease" in result.unknown
    assert "autoimmune_disease_history" in result.unknown


def test_abated_before_as_of_is_history_and_onset_after_is_ignored(kb: ir.KnowledgeBase) -> None:
    record = bundle(
        patient(),
        condition("uc", "64766004", onset="2010-01-01", abated="2015-01-01"),
        condition("sepsis", "91302008", onset="2023-03-01", abated="2023-04-01"),
        condition("ra", "69896004", onset="2030-01-01"),
        condition("cd", "34000006", onset="2018-01-01", severity="6736007"),
    )
    result = profile_from_fhir(record, kb=kb, as_of="2023-10-01")
    assert result.profile == kb.parse(
        {
            "immune_activity": "overactive",
            "condition": "crohns_disease",
            "severity": "moderate",
            "infection_status": "recent_serious",  # sepsis ended within the year
            "autoimmune_disease_history": True,  # ulcerative colitis, history
        }
    )
    # More than a year after it ended, the sepsis is evidence of no serious infection (a stated
    # none, with its evidence), not a silent default.
    later = profile_from_fhir(record, kb=kb, as_of="2025-01-01")
    assert later.profile is not None and later.profile.infection_status == "none"
    (evidence,) = later.provenance["infection_status"]
    assert evidence.resource == "Condition/sepsis" and evidence.detail.startswith("absent: ")


LOINC = "http://loinc.org"
NEGATIVE = {"coding": [{"system": SCT, "code": "260385009", "display": "Negative"}]}


def observation(
    oid: str, code: str, *, value: dict[str, Any] | None = None, on: str | None = "2023-12-28"
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": LOINC, "code": code}]},
    }
    if value is not None:
        resource["valueCodeableConcept"] = value
    if on is not None:
        resource["effectiveDateTime"] = on
    return resource


def _read(kb: Any, *resources: dict[str, Any], as_of: str = "2024-01-01") -> FhirProfile:
    record = bundle(patient(), condition("ra", "69896004"), *resources)
    result = profile_from_fhir(record, kb=kb, as_of=as_of)
    assert result.profile is not None and result.profile.condition == "rheumatoid_arthritis"
    return result


def _absent(result: FhirProfile, name: str) -> list[str | None]:
    evidence = result.provenance[name]
    assert all(e.detail.startswith("absent: ") for e in evidence), evidence
    return [e.resource for e in evidence]


def test_no_evidence_means_not_stated(unstated: Any, kb: ir.KnowledgeBase) -> None:
    result = _read(unstated)
    assert result.profile is not None
    for name in NOT_STATED_BY_DEFAULT:
        assert getattr(result.profile, name) is None, name
        assert name in result.unknown and name not in result.provenance
        assert result.not_stated[name] == "no evidence in the record"
    text = result.explain()
    assert "not stated (no evidence in the record): " in text and "pregnant" in text
    assert result.to_dict()["not_stated"]["pregnant"] == "no evidence in the record"
    # A knowledge base whose field cannot be not stated keeps its default, and says so.
    bundled = _read(kb)
    for name in NOT_STATED_BY_DEFAULT:
        definition = kb.schema.fields[name]
        value = getattr(bundled.profile, name)
        assert value == (None if definition.nullable else definition.default), name
        if not definition.nullable:
            assert "its default" in bundled.not_stated[name]


def test_negative_tests_are_evidence_of_absence(unstated: Any) -> None:
    igra, hcg = "71773-6", "2106-3"
    result = _read(
        unstated,
        observation("igra", igra, value=NEGATIVE, on="2023-06-01"),
        observation("hcg", hcg, value=NEGATIVE, on="2023-12-28"),
    )
    assert result.profile is not None
    assert result.profile.latent_tuberculosis is False
    assert result.profile.pregnant is False
    assert _absent(result, "latent_tuberculosis") == ["Observation/igra"]
    assert _absent(result, "pregnant") == ["Observation/hcg"]
    assert "latent_tuberculosis" not in result.unknown
    # The interpretation alone (HL7 NEG) says it too.
    interpreted = observation("hcg", hcg)
    interpreted["interpretation"] = [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                    "code": "NEG",
                }
            ]
        }
    ]
    assert _read(unstated, interpreted).profile.pregnant is False  # type: ignore[union-attr]


def test_old_undated_or_positive_tests_are_not_evidence_of_absence(unstated: Any) -> None:
    positive = {"coding": [{"system": SCT, "code": "10828004", "display": "Positive"}]}
    result = _read(
        unstated,
        observation("old-hcg", "2106-3", value=NEGATIVE, on="2023-11-01"),  # 61 days before
        observation("old-igra", "71773-6", value=NEGATIVE, on="2022-06-01"),  # over a year
        observation("undated", "2106-3", value=NEGATIVE, on=None),
        observation("igra-pos", "71773-6", value=positive, on="2023-12-01"),
    )
    assert result.profile is not None
    assert result.profile.pregnant is None and result.profile.latent_tuberculosis is None
    assert {"pregnant", "latent_tuberculosis"} <= set(result.unknown)
    # Evidence of a fact wins over evidence of its absence.
    status = observation(
        "status", "82810-3", value={"coding": [{"system": SCT, "code": "77386006"}]}
    )
    both = _read(unstated, status, observation("hcg", "2106-3", value=NEGATIVE))
    assert both.profile is not None and both.profile.pregnant is True
    assert [e.resource for e in both.provenance["pregnant"]] == ["Observation/status"]


def test_refuted_conditions_are_evidence_of_absence(unstated: Any) -> None:
    result = _read(
        unstated,
        condition("ltbi", "Z22.7", system=ICD, verification="refuted"),
        condition("sepsis", "91302008", onset="2023-12-01", verification="refuted"),
        condition("hf", "84114007", verification="refuted"),
        condition("ms", "24700007", verification="refuted"),
    )
    assert result.profile is not None
    assert result.profile.latent_tuberculosis is False
    assert result.profile.infection_status == "none"
    assert result.profile.heart_failure is False
    assert _absent(result, "latent_tuberculosis") == ["Condition/ltbi"]
    assert "refuted" in result.provenance["infection_status"][0].detail
    # A refuted multiple sclerosis says nothing about the rest of the history.
    assert result.profile.demyelinating_disease is None
    assert result.profile.autoimmune_disease_history is None
    # A refuted condition is never the problem treated.
    alone = bundle(patient(), condition("ra", "69896004", verification="refuted"))
    assert profile_from_fhir(alone, kb=unstated, as_of="2024-01-01").profile is None


def test_ended_conditions_say_no_for_current_facts_and_history_stays_true(
    unstated: Any,
) -> None:
    result = _read(
        unstated,
        condition("sepsis", "91302008", onset="2020-01-01", abated="2020-02-01"),
        condition("preg", "72892002", clinical="resolved", onset="2023-01-01", abated="2023-09-01"),
        condition("hf", "84114007", clinical="resolved", onset="2019-01-01", abated="2019-06-01"),
        condition("crc", "93761005", clinical="resolved", onset="2010-01-01", abated="2011-01-01"),
        condition("uc", "64766004", clinical="inactive", onset="2005-01-01"),
        condition("hbv", "B18.1", system=ICD, clinical="resolved", onset="2001-01-01"),
    )
    profile = result.profile
    assert profile is not None
    assert profile.infection_status == "none" and _absent(result, "infection_status")
    assert profile.pregnant is False and _absent(result, "pregnant") == ["Condition/preg"]
    assert profile.heart_failure is False
    assert profile.malignancy_history is True  # history facts stay true once recorded
    assert profile.autoimmune_disease_history is True
    assert profile.hepatitis_b is True  # a resolved hepatitis B is not "no hepatitis B"
    assert profile.hbv_serology is None  # nor a negative serology
    # No longer awaiting a transplant does not say "no transplant" (the field records history).
    awaited = _read(
        unstated,
        condition(
            "wait", "698306007", clinical="resolved", onset="2019-01-01", abated="2020-01-01"
        ),
    )
    assert awaited.profile is not None and awaited.profile.transplant_status is None
    # Within a year of its end the sepsis is a recent serious infection (no warning about none).
    recent = _read(
        unstated, condition("sepsis", "91302008", onset="2023-05-01", abated="2023-06-01")
    )
    assert recent.profile is not None and recent.profile.infection_status == "recent_serious"
    assert not any("infection_status" in w for w in recent.warnings)
    # A current condition wins over an ended one of the same fact.
    again = _read(
        unstated,
        condition("old", "72892002", clinical="resolved", onset="2021-01-01", abated="2021-09-01"),
        condition("now", "72892002", onset="2023-11-01"),
    )
    assert again.profile is not None and again.profile.pregnant is True


def test_medication_records_state_prior_classes_and_no_medication_data_says_nothing(
    unstated: Any,
) -> None:
    none = _read(unstated)
    assert none.profile is not None
    assert none.profile.prior_therapy_classes is None
    assert none.profile.prior_lines_of_therapy is None
    methotrexate = {
        "resourceType": "MedicationRequest",
        "id": "mtx",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "105586"}]
        },
        "authoredOn": "2023-01-01",
    }
    some = _read(unstated, methotrexate)
    assert some.profile is not None
    assert some.profile.prior_therapy_classes == ("conventional_dmards",)
    assert some.profile.prior_lines_of_therapy is None  # lines that failed are not in a record
    assert "prior_lines_of_therapy" in some.unknown


@needs_shared
def test_a_real_resolved_pregnancy_is_a_stated_no_in_the_profile(unstated: Any) -> None:
    fannie = (
        SHARED
        / "smart-generated-sample-data-R4/Fannie_Kutch_fa67e140-9713-495b-b144-a9c087a48b38.json"
    )
    result = profile_from_fhir(
        fannie, kb=unstated, as_of="2024-01-01", condition="rheumatoid_arthritis"
    )
    assert result.profile is not None and result.profile.pregnant is False
    assert _absent(result, "pregnant") == ["Condition/2e717c64-6f03-4c29-b336-1afe97e79881"]
    assert result.profile.latent_tuberculosis is None and result.profile.hepatitis_b is None


def test_bulk_reads_evidence_of_absence_as_a_bundle_does(tmp_path: Path, unstated: Any) -> None:
    resources = [
        condition("ra", "69896004"),
        condition("ltbi", "Z22.7", system=ICD, verification="refuted"),
        observation("hcg", "2106-3", value=NEGATIVE),
    ]
    (tmp_path / "Patient.000.ndjson").write_text(json.dumps(patient()) + "\n")
    (tmp_path / "Condition.000.ndjson").write_text(
        "".join(json.dumps(r) + "\n" for r in resources[:2])
    )
    (tmp_path / "Observation.000.ndjson").write_text(json.dumps(resources[2]) + "\n")
    ((pid, bulk),) = list(profiles_from_bulk(tmp_path, kb=unstated, as_of="2024-01-01"))
    single = profile_from_fhir(bundle(patient(), *resources), kb=unstated, as_of="2024-01-01")
    assert pid == "p1" and bulk == single
    assert bulk.profile is not None
    assert bulk.profile.latent_tuberculosis is False and bulk.profile.pregnant is False
    assert bulk.profile.heart_failure is None


def test_several_treatable_conditions_warn_and_choose_the_most_recent(
    kb: ir.KnowledgeBase,
) -> None:
    record = bundle(
        patient(),
        condition("ra", "69896004", onset="2015-01-01"),
        condition("pso", "9014002", onset="2019-01-01"),
        condition("old", "34000006", onset="2021-01-01", clinical="resolved"),
    )
    result = profile_from_fhir(record, kb=kb, as_of="2024-01-01")
    assert result.profile is not None and result.profile.condition == "psoriasis"
    assert result.profile.autoimmune_disease_history  # the RA beside it, and the old Crohn's
    (warning,) = [w for w in result.warnings if "several" in w]
    assert "chose condition psoriasis" in warning and "most recent onset" in warning
    assert "rheumatoid_arthritis" in warning


def test_transplant_sepsis_shock_and_icd_codes(kb: ir.KnowledgeBase) -> None:
    hsct = {
        "resourceType": "Procedure",
        "id": "bmt",
        "status": "completed",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": SCT, "code": "234336002"}]},
        "performedDateTime": "2019-05-01",
    }
    record = bundle(
        patient(),
        hsct,
        condition("gvhd", "D89.811", system=ICD),
        condition("shock", "76571007", onset="2023-12-20"),
    )
    result = profile_from_fhir(record, kb=kb, as_of="2024-01-01")
    assert result.profile is not None
    # Septic shock is its own condition, more recent than the GVHD.
    assert result.profile.condition == "septic_shock"
    assert result.profile.infection_status == "active_serious"
    assert result.profile.transplant_status == "hsct_recipient"
    assert [e.resource for e in result.provenance["transplant_status"]] == ["Procedure/bmt"]
    gvhd = profile_from_fhir(
        record, kb=kb, as_of="2024-01-01", condition="graft_versus_host_disease"
    )
    assert gvhd.profile is not None and gvhd.profile.disease_area == "transplant"


def test_unknown_code_systems_and_codes_are_ignored(kb: ir.KnowledgeBase) -> None:
    record = bundle(
        patient(),
        condition("x", "69896004", system="http://example.org/local-codes"),
        condition("y", "NOPE-1", system=ICD),
    )
    result = profile_from_fhir(record, kb=kb)
    assert result.profile is None and result.provenance == {}


def test_a_users_vocabulary_extends_the_mapping(tmp_path: Path) -> None:
    (tmp_path / "gca.yaml").write_text(
        """
vocabulary:
  conditions:
    - {id: giant_cell_arteritis, disease_area: autoimmune, immune_activity: overactive,
       name: Giant cell arteritis, codes: [{system: icd10cm, code: M31.6}]}
  fields:
    - id: visual_symptoms
      type: boolean
      codes: [{system: snomed_ct, code: "63102001", when: ever}]
rules:
  - id: GCA-1
    title: An example rule
    when: {condition: giant_cell_arteritis}
    then: {advise: [multidisciplinary_review]}
    because: An example rule for the FHIR mapping test.
    evidence: [X]
evidence:
  X: {citation: An example source}
"""
    )
    mine = ir.load_rules(tmp_path, engine="native")
    drug = {
        "resourceType": "MedicationRequest",
        "id": "m1",
        "status": "completed",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "8640"}]
        },
    }
    record = bundle(
        patient(), condition("gca", "M31.6", system=ICD), condition("v", "63102001"), drug
    )
    result = profile_from_fhir(record, kb=mine)
    assert result.profile is not None
    data = result.profile.model_dump()
    assert data["condition"] == "giant_cell_arteritis"
    assert data["visual_symptoms"] is True
    assert data["prior_therapy_classes"] == ("corticosteroids",)
    assert not any("prior_therapy_classes field" in w for w in result.warnings)


# -- bad input -------------------------------------------------------------------------------


def test_no_patient_two_patients_and_invalid_resources_raise(kb: ir.KnowledgeBase) -> None:
    with pytest.raises(FhirError, match="no Patient"):
        profile_from_fhir(bundle(condition("ra", "69896004")), kb=kb)
    with pytest.raises(FhirError, match="2 patients"):
        profile_from_fhir(bundle(patient("a"), patient("b")), kb=kb)
    broken = condition("ra", "69896004")
    broken["onsetDateTime"] = "yesterday"
    del broken["subject"]
    with pytest.raises(FhirError) as info:
        profile_from_fhir(bundle(patient(), broken), kb=kb)
    error = info.value
    assert isinstance(error, ir.ImmunorulesError) and isinstance(error, ValueError)
    assert {(p.resource, p.path) for p in error.problems} == {
        ("Condition/ra", "subject"),
        ("Condition/ra", "onsetDateTime"),
    }
    with pytest.raises(FhirError, match="not a FHIR R4 resource type"):
        profile_from_fhir([patient(), {"resourceType": "Banana", "id": "b"}], kb=kb)
    with pytest.raises(FhirError, match="not valid JSON"):
        profile_from_fhir("{not json", kb=kb)
    with pytest.raises(FhirError, match="cannot read"):
        profile_from_fhir(Path("/nonexistent/bundle.json"), kb=kb)
    with pytest.raises(FhirError, match="as_of"):
        profile_from_fhir(bundle(patient()), kb=kb, as_of="someday")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(
    junk=_JSON,
    key=st.sampled_from(["code", "subject", "clinicalStatus", "onsetDateTime", "severity", "id"]),
)
def test_junk_raises_fhir_error_and_nothing_else(junk: Any, key: str) -> None:
    kb = ir.load_rules(engine="native")
    for source in (junk, {"resourceType": "Bundle", "type": "collection", "entry": junk}):
        with contextlib.suppress(FhirError):
            profile_from_fhir(source, kb=kb)
    mangled = condition("c", "69896004")
    mangled[key] = junk
    with contextlib.suppress(FhirError):
        profile_from_fhir(bundle(patient(), mangled), kb=kb)


def test_bulk_problems(tmp_path: Path, kb: ir.KnowledgeBase) -> None:
    with pytest.raises(FhirError, match="no Patient"):
        list(profiles_from_bulk(tmp_path, kb=kb))
    (tmp_path / "Patient.000.ndjson").write_text(
        "\n".join(json.dumps(patient(p)) for p in ("a", "b")) + "\n"
    )
    bad = condition("ra", "69896004", pid="a")
    bad["onsetDateTime"] = "soon"
    lines = [bad, condition("pso", "9014002", pid="b"), condition("cd", "34000006", pid="zz")]
    (tmp_path / "Condition.000.ndjson").write_text("\n".join(json.dumps(r) for r in lines))
    with pytest.raises(FhirError, match="onsetDateTime"):
        list(profiles_from_bulk(tmp_path, kb=kb))
    with pytest.warns(FhirWarning, match="onsetDateTime"):
        found = dict(profiles_from_bulk(tmp_path, kb=kb, errors="warn"))
    assert list(found) == ["a", "b"]
    assert found["a"].profile is None and "left out invalid resources" in found["a"].warnings[-1]
    assert found["b"].profile is not None and found["b"].profile.condition == "psoriasis"


def test_a_50_mb_bundle_is_read_in_under_six_times_its_size(
    tmp_path: Path, kb: ir.KnowledgeBase
) -> None:
    """A 50 MB bundle: mostly Observations the vocabulary does not map, one RA Condition. One
    bundle is parsed whole, so its memory grows with its size (a Bulk Data export is streamed
    instead)."""
    filler = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "Patient/p1"},
        "valueQuantity": {"value": 72, "unit": "/min"},
        "note": [{"text": "x" * 300}],
    }
    entries = [patient(), condition("ra", "69896004")]
    entries += [dict(copy.deepcopy(filler), id=f"o{i}") for i in range(105_000)]
    path = tmp_path / "big.json"
    path.write_text(json.dumps(bundle(*entries)))
    size = path.stat().st_size
    assert size > 50_000_000
    tracemalloc.start()
    result = profile_from_fhir(path, kb=kb, validate="used")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.profile is not None and result.profile.condition == "rheumatoid_arthritis"
    assert peak < 6 * size, f"peak {peak / 1e6:.0f} MB for a {size / 1e6:.0f} MB bundle"


def test_outputs_name_no_drug(kb: ir.KnowledgeBase) -> None:
    from tests.test_knowledge_base_text import _problems

    result = profile_from_fhir(LOCAL, kb=kb, as_of="2024-01-01")
    text = result.explain() + result.to_json()
    assert _problems(text) == []


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_cli_evaluates_a_record_with_provenance(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from immunorules._cli.main import main

    code = main(["evaluate", "--fhir", str(LOCAL), "--format", fmt, "--engine", "native"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Condition/cd390cd5-e2d3-40ef-a8ed-eaa769deeac0" in out
    if fmt == "json":
        data = json.loads(out)
        assert data["fhir"]["profile"]["condition"] == "rheumatoid_arthritis"
        assert "notice" in data
    else:
        assert "NOT FOR CLINICAL USE" in out and "From the FHIR record" in out


def test_cli_bad_fhir_input_exits_2_with_one_paragraph(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from immunorules._cli.main import main

    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(bundle()))
    junk = tmp_path / "junk.json"
    junk.write_text("{oops")
    no_problem = tmp_path / "healthy.json"
    no_problem.write_text(json.dumps(bundle(patient())))
    for path, text in ((empty, "no Patient"), (junk, "not valid JSON"), (no_problem, "no profile")):
        assert main(["evaluate", "--fhir", str(path), "--engine", "native"]) == 2
        err = capsys.readouterr().err
        assert text in err and "Traceback" not in err and err.count("\n") == 1


@pytest.mark.parametrize("path", ["\x00", "records/a\x00b.json"])
def test_a_path_with_a_nul_is_a_fhir_error_naming_it(path: str) -> None:
    # Hypothesis found it: a path holding NUL made pathlib raise a bare ValueError.
    with pytest.raises(FhirError, match="NUL") as caught:
        profile_from_fhir(path)
    assert caught.value.problems[0].resource == repr(path)


# -- issue 23: fixes from use, round 2 -----------------------------------------------------


def _problems_are_located(error: FhirError) -> None:
    assert error.problems
    for problem in error.problems:
        assert all(isinstance(part, str) for part in (problem.resource, problem.path))
        assert problem.message and len(str(problem)) < 1_000


def test_duplicate_keys_are_a_fhir_problem(tmp_path: Path, kb: ir.KnowledgeBase) -> None:
    """Item 21: ``json`` silently kept the last of two ``subject`` keys."""
    text = json.dumps(bundle(patient(), condition("ra", "69896004")))
    doubled = text.replace('"subject": {', '"subject": {"reference": "Patient/zz"}, "subject": {')
    assert doubled != text
    for source in (doubled, doubled.encode()):
        with pytest.raises(FhirError, match="appears twice") as caught:
            profile_from_fhir(source, kb=kb)
        _problems_are_located(caught.value)
    (tmp_path / "Patient.000.ndjson").write_text(json.dumps(patient()) + "\n")
    line = json.dumps(condition("ra", "69896004")).replace('"id": "ra"', '"id": "ra", "id": "x"')
    (tmp_path / "Condition.000.ndjson").write_text(line + "\n")
    with pytest.raises(FhirError, match="appears twice") as caught:
        list(profiles_from_bulk(tmp_path, kb=kb))
    assert caught.value.problems[0].resource == "Condition.000.ndjson:1"


def _medication_order(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "o1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2021-01-01",
        **extra,
    }


@pytest.mark.parametrize("validate", ["all", "used"])
def test_wrong_json_types_are_fhir_problems(validate: Any, kb: ir.KnowledgeBase) -> None:
    """Item 13: ``contained: 5``, ``coding: 7`` and a 5,000-digit number raised TypeError or
    ValueError."""
    medication = {"resourceType": "Medication", "id": "m1", "code": {"coding": 7}}
    records = [
        bundle(patient(), _medication_order(medicationReference={"reference": "#m"}, contained=5)),
        bundle(patient(), _medication_order(medicationReference={"reference": "Medication/m1"}),
               medication),
        bundle(patient(), dict(condition("ra", "69896004"), code={"coding": 7})),
        bundle(patient(), dict(observation("o", "2106-3"), interpretation=5)),
        bundle(patient(), dict(condition("ra", "69896004"), contained=[5])),
    ]  # fmt: skip
    for record in records:
        for source in (record, json.dumps(record), record["entry"] and [
            e["resource"] for e in record["entry"]
        ]):  # fmt: skip
            try:
                profile_from_fhir(source, kb=kb, validate=validate)
            except FhirError as error:
                _problems_are_located(error)
    huge = json.dumps(bundle(patient())).replace('"1980-01-01"', "1" * 5_000)
    with pytest.raises(FhirError) as caught:
        profile_from_fhir(huge, kb=kb, validate=validate)
    _problems_are_located(caught.value)
    assert "1" * 200 not in str(caught.value)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for number, item in enumerate(value):
            found += _paths(item, (*prefix, number))
    return found


def _rich_record() -> dict[str, Any]:
    """A record that makes the reader read every element it reads."""
    ra = condition("ra", "69896004", severity="6736007", abated="2030-01-01")
    ra["onsetPeriod"] = {"start": "2019-01-01"}
    ra["abatementPeriod"] = {"end": "2030-01-01"}
    contained = _medication_order(
        medicationReference={"reference": "#m"},
        contained=[{"resourceType": "Medication", "id": "m", "code": {
            "coding": [{"system": RXNORM, "code": "6851"}]
        }}],
    )  # fmt: skip
    statement = {
        "resourceType": "MedicationStatement",
        "id": "s1",
        "status": "active",
        "subject": {"reference": "Patient/p1"},
        "medicationReference": {"reference": "Medication/m2"},
        "effectivePeriod": {"start": "2021-01-01"},
    }
    medication = {
        "resourceType": "Medication",
        "id": "m2",
        "code": {"coding": [{"system": RXNORM, "code": "5492"}]},
    }
    test = observation("hcg", "2106-3", value=NEGATIVE)
    test["interpretation"] = [{"coding": [{"system": "x", "code": "NEG"}]}]
    test["effectivePeriod"] = {"start": "2023-12-28"}
    procedure = {
        "resourceType": "Procedure",
        "id": "tx",
        "status": "completed",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": SCT, "code": "70536003"}]},
        "performedPeriod": {"start": "2015-01-01"},
    }
    person = patient(deceasedDateTime="2030-01-01")
    return bundle(person, ra, contained, statement, medication, test, procedure)


RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
RICH = _rich_record()
RICH_PATHS = _paths(RICH)
_WRONG = _JSON | st.sampled_from([10**5000, -(10**400), 1e308, "", "\x00", "#m", "urn:uuid:p1"])


def _set(record: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    record = copy.deepcopy(record)
    target: Any = record
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return record


@settings(max_examples=150, deadline=None)
@given(path=st.sampled_from(RICH_PATHS), junk=_WRONG, validate=st.sampled_from(["all", "used"]))
def test_any_wrong_json_anywhere_is_a_fhir_error_or_a_profile(
    path: tuple[Any, ...], junk: Any, validate: Any
) -> None:
    """Item 13: every element the reader reads, given any JSON value (hypothesis), gives a
    profile or a FhirError with located problems, read as a Bundle, a list of resources, JSON
    text and a Bulk Data export; never another exception."""
    import tempfile

    kb = _cached_kb()
    mangled = _set(RICH, path, junk)
    entries = mangled.get("entry")
    resources = (
        [e.get("resource") if isinstance(e, dict) else e for e in entries]
        if isinstance(entries, list)
        else []
    )
    sources: list[Any] = [mangled, resources]
    with contextlib.suppress(ValueError):  # an integer too long for json.dumps
        sources.append(json.dumps(mangled))
    for source in sources:
        try:
            profile_from_fhir(source, kb=kb, validate=validate, as_of="2024-01-01")
        except FhirError as error:
            _problems_are_located(error)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        by_type: dict[str, list[str]] = {}
        for resource in resources:
            kind = resource.get("resourceType") if isinstance(resource, dict) else None
            kind = kind if isinstance(kind, str) and kind.isalpha() else "Condition"
            try:
                by_type.setdefault(kind, []).append(json.dumps(resource))
            except ValueError:
                by_type.setdefault(kind, []).append("1" * 5_000)
        for kind, lines in by_type.items():
            (root / f"{kind}.000.ndjson").write_text("\n".join(lines) + "\n")
        for errors in ("raise", "warn"):
            try:
                with warnings_ignored():
                    list(profiles_from_bulk(root, kb=kb, validate=validate, errors=errors))
            except FhirError as error:
                _problems_are_located(error)


@contextlib.contextmanager
def warnings_ignored() -> Any:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


_KB_CACHE: list[ir.KnowledgeBase] = []


def _cached_kb() -> ir.KnowledgeBase:
    if not _KB_CACHE:
        _KB_CACHE.append(ir.load_rules(engine="native"))
    return _KB_CACHE[0]


def test_a_byte_order_mark_is_accepted_and_errors_echo_no_record(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], kb: ir.KnowledgeBase
) -> None:
    """Item 6: JSON text with a UTF-8 BOM was taken for a path, and the error echoed the whole
    record to stderr."""
    import io

    from immunorules._cli.main import main

    text = LOCAL.read_text()
    expected = profile_from_fhir(text, kb=kb, as_of="2024-01-01")
    for source in ("\ufeff" + text, b"\xef\xbb\xbf" + text.encode()):
        assert profile_from_fhir(source, kb=kb, as_of="2024-01-01") == expected
    monkeypatch.setattr("sys.stdin", io.StringIO("\ufeff" + text))
    assert main(["evaluate", "--fhir", "-", "--engine", "native", "--as-of", "2024-01-01"]) == 0
    assert "From the FHIR record" in capsys.readouterr().out
    # Text that is neither JSON nor a path: the error quotes at most ~100 characters of it.
    secret = "Hershel Marvin " * 30_000
    for junk in (secret, "\ufeff" + secret, "\ufeff{" + secret, "  " + secret + "\n"):
        with pytest.raises(FhirError) as caught:
            profile_from_fhir(junk, kb=kb)
        assert len(str(caught.value)) < 400, str(caught.value)[:500]
        monkeypatch.setattr("sys.stdin", io.StringIO(junk))
        assert main(["evaluate", "--fhir", "-", "--engine", "native"]) == 2
        err = capsys.readouterr().err
        assert len(err) < 600 and err.count("Hershel") <= 8, err[:700]


def _bad_export(root: Path) -> Path:
    invalid = patient("c", birthDate="soon")
    (root / "Patient.000.ndjson").write_bytes(
        b"\n".join(
            [
                json.dumps(patient("a")).encode(),
                b"{not json",
                json.dumps(invalid).encode(),
                json.dumps(patient("b")).encode(),
                b'{"resourceType": "Patient", "id": "\xff\xfe"}',
            ]
        )
        + b"\n"
    )
    (root / "Condition.000.ndjson").write_text(
        "[1,\n"
        + json.dumps(condition("ra", "69896004", pid="a"))
        + "\n"
        + json.dumps(condition("pso", "9014002", pid="b"))
        + "\n"
    )
    return root


def test_bulk_bad_lines_are_each_reported_and_the_rest_is_read(
    tmp_path: Path, kb: ir.KnowledgeBase
) -> None:
    """Item 4: one non-JSON line failed the whole export (only the first was reported) and an
    invalid Patient disappeared without a warning."""
    from immunorules.fhir import FhirWarning

    root = _bad_export(tmp_path)
    with pytest.warns(FhirWarning) as caught:
        found = dict(profiles_from_bulk(root, kb=kb, errors="warn"))
    assert list(found) == ["a", "b"]
    assert found["a"].profile is not None and found["b"].profile is not None
    messages = [str(w.message) for w in caught]
    for where in ("Patient.000.ndjson:2", "Patient.000.ndjson:3", "Patient.000.ndjson:5",
                  "Condition.000.ndjson:1"):  # fmt: skip
        assert any(m.startswith(where) for m in messages), (where, messages)
    assert any("Patient.000.ndjson:3" in m and "birthDate" in m for m in messages)
    with pytest.raises(FhirError) as raised:
        list(profiles_from_bulk(root, kb=kb))
    assert {p.resource for p in raised.value.problems} >= {
        "Patient.000.ndjson:2",
        "Patient.000.ndjson:5",
        "Condition.000.ndjson:1",
    }


def test_bulk_reports_at_most_twenty_bad_lines_and_counts_the_rest(
    tmp_path: Path, kb: ir.KnowledgeBase
) -> None:
    from immunorules.fhir import FhirWarning

    lines = [json.dumps(patient("a"))] + [f"{{bad {n}" for n in range(30)]
    (tmp_path / "Patient.000.ndjson").write_text("\n".join(lines) + "\n")
    with pytest.warns(FhirWarning) as caught:
        found = dict(profiles_from_bulk(tmp_path, kb=kb, errors="warn"))
    assert list(found) == ["a"]
    messages = [str(w.message) for w in caught]
    assert len(messages) == 21 and "10 more" in messages[-1] and "30" in messages[-1]


def test_bulk_line_length_is_capped(tmp_path: Path, kb: ir.KnowledgeBase) -> None:
    """Item 9: an endless line grew without bound; a line over ``max_line_bytes`` is a bad
    line, skipped in bounded memory, and the next line is read."""
    from immunorules.fhir import FhirWarning

    with (tmp_path / "Patient.000.ndjson").open("w") as handle:
        handle.write(json.dumps(patient("a")) + "\n")
        handle.write(
            '{"resourceType": "Patient", "id": "big", "name": [{"text": "' + "y" * 8_000_000
        )
        handle.write('"}]}\n' + json.dumps(patient("b")) + "\n")
    tracemalloc.start()
    with pytest.warns(FhirWarning, match=r"Patient.000.ndjson:2.*longer than 1,000,000 bytes"):
        found = dict(profiles_from_bulk(tmp_path, kb=kb, errors="warn", max_line_bytes=1_000_000))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert list(found) == ["a", "b"]
    assert peak < 6_000_000, peak  # the 8 MB line is never held
    with pytest.raises(FhirError, match="longer than"):
        list(profiles_from_bulk(tmp_path, kb=kb, max_line_bytes=1_000_000))
    assert len(dict(profiles_from_bulk(tmp_path, kb=kb, errors="warn"))) == 3  # default: 64 MB


@pytest.mark.parametrize("kind", ["", "NoSuchResource", 5, None])
def test_a_contained_resource_without_a_valid_type_is_a_fhir_error(kind: Any) -> None:
    """Found by the property test above (seed 3): a contained resource whose resourceType is
    empty made fhir.resources raise a KeyError; it is a located FhirError."""
    record = copy.deepcopy(RICH)
    for entry in record["entry"]:
        if entry["resource"].get("contained"):
            entry["resource"]["contained"][0]["resourceType"] = kind
            break
    else:  # pragma: no cover - RICH has a contained resource
        raise AssertionError("RICH has no contained resource")
    with pytest.raises(FhirError) as caught:
        profile_from_fhir(record, kb=_cached_kb(), validate="all", as_of="2024-01-01")
    _problems_are_located(caught.value)
