"""FHIR references: versioned, absolute, ``urn:uuid:`` and contained references name the right
resource; a subject that is not the patient being read is never used, in one record (a Bundle or
a list of resources, as the service passes them) and in a Bulk Data export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import immunorules as ir

from .conftest import require

require("fhir.resources", reason="needs the fhir extra: pip install 'immunorules[fhir]'")

from immunorules.fhir import profile_from_fhir, profiles_from_bulk  # noqa: E402 - after the skip

SCT = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
RA = "69896004"
HEART_FAILURE = "84114007"
METHOTREXATE = "6851"


@pytest.fixture(scope="module")
def kb() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


# -- one parser, a table of cases -----------------------------------------------------------


def _ref(*parts: Any) -> tuple[Any, ...]:
    """A :class:`Reference` as the tuple it equals (kind, base or urn, type, id, version)."""
    return parts


CASES: list[tuple[Any, tuple[Any, ...] | None]] = [
    ("Patient/alice", _ref("relative", None, "Patient", "alice", None)),
    ("Patient/alice/_history/2", _ref("relative", None, "Patient", "alice", "2")),
    ("Group/2", _ref("relative", None, "Group", "2", None)),
    (
        "https://server/fhir/Patient/alice",
        _ref("absolute", "https://server/fhir", "Patient", "alice", None),
    ),
    (
        "https://server/fhir/Patient/alice/_history/7",
        _ref("absolute", "https://server/fhir", "Patient", "alice", "7"),
    ),
    (
        "HTTPS://Server.Example/fhir/R4/Patient/a.b-1",
        _ref("absolute", "https://server.example/fhir/R4", "Patient", "a.b-1", None),
    ),
    ("http://host:8080/Patient/1", _ref("absolute", "http://host:8080", "Patient", "1", None)),
    (
        "urn:uuid:6b1f3a42-0c1e-4c1e-9a42-1d0f1b2c3d4e",
        _ref("urn", "urn:uuid:6b1f3a42-0c1e-4c1e-9a42-1d0f1b2c3d4e", None, None, None),
    ),
    ("urn:oid:1.2.3.4", _ref("urn", "urn:oid:1.2.3.4", None, None, None)),
    ("#med1", _ref("contained", None, None, "med1", None)),
    ("#", _ref("contained", None, None, "", None)),
    # Not references a reader can resolve: never attributed to anyone.
    ("alice", None),
    ("2", None),
    ("Patient/", None),
    ("Patient", None),
    ("patient/alice", None),
    ("Patient/al ice", None),
    ("Patient/alice/extra", None),
    ("Patient/alice/_history", None),
    ("Patient/alice/_history/", None),
    ("Patient?identifier=http://x|1", None),
    ("Patient/" + "a" * 65, None),
    ("urn:uuid:", None),
    ("urn:isbn:123", None),
    ("https://server", None),
    ("https:///Patient/a", None),
    ("#a b", None),
    ("Patient/a\x00", None),
    ("", None),
    (None, None),
    (5, None),
    ({"reference": "Patient/a"}, None),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[repr(c[0])[:40] for c in CASES])
def test_parse_reference(text: Any, expected: tuple[Any, ...] | None) -> None:
    from immunorules.fhir._references import parse_reference

    assert parse_reference(text) == expected


# -- one record ---------------------------------------------------------------------------------


def patient(pid: str = "alice") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "birthDate": "1980-01-01"}


def condition(cid: str, code: str, subject: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": cid,
        "code": {"coding": [{"system": SCT, "code": code}]},
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "onsetDateTime": "2020-01-01",
    }
    if subject is not None:
        resource["subject"] = {"reference": subject} if isinstance(subject, str) else subject
    return resource


def order(oid: str, subject: str, medication: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": oid,
        "status": "active",
        "intent": "order",
        "subject": {"reference": subject},
        "medicationReference": {"reference": medication},
        "authoredOn": "2021-01-01",
        **extra,
    }


def medication(mid: str, code: str) -> dict[str, Any]:
    return {
        "resourceType": "Medication",
        "id": mid,
        "code": {"coding": [{"system": RXNORM, "code": code}]},
    }


def bundle(*entries: tuple[str | None, dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": r} if url is None else {"fullUrl": url, "resource": r}
            for url, r in entries
        ],
    }


@pytest.mark.parametrize(
    "subject",
    [
        "Patient/alice",
        "Patient/alice/_history/2",
        "https://server/fhir/Patient/alice",
        "https://server/fhir/Patient/alice/_history/3",
        "urn:uuid:0d8c2c52-8f3e-4a8e-9a53-3c0d3f0b1a11",
    ],
)
def test_every_form_of_a_reference_to_the_patient_is_the_patient(
    kb: ir.KnowledgeBase, subject: str
) -> None:
    record = bundle(
        ("urn:uuid:0d8c2c52-8f3e-4a8e-9a53-3c0d3f0b1a11", patient()),
        ("urn:uuid:c1", condition("ra", RA, subject)),
    )
    found = profile_from_fhir(record, kb=kb, as_of="2024-01-01")
    assert found.profile is not None and found.profile.condition == "rheumatoid_arthritis"


@pytest.mark.parametrize(
    "subject",
    [
        "Group/2",
        "Patient/bob",
        "Patient/bob/_history/2",
        "https://server/fhir/Patient/bob",
        "urn:uuid:ffffffff-8f3e-4a8e-9a53-3c0d3f0b1a11",
        "#alice",
        "alice",
        {"identifier": {"system": "urn:mrn", "value": "alice"}},
        {"reference": "Patient/alice", "type": "Group"},
    ],
)
def test_a_subject_that_is_not_the_patient_is_never_used(
    kb: ir.KnowledgeBase, subject: Any
) -> None:
    """Before: only the last segment of a reference was kept, and a record's resources were
    used whoever they were about."""
    own = condition("own", HEART_FAILURE, "Patient/alice")
    other = condition("other", RA, subject)
    for record in (
        bundle(("urn:uuid:p", patient()), ("urn:uuid:o", own), ("urn:uuid:x", other)),
        [patient(), own, other],  # as the service passes a prefetched or fetched record
    ):
        found = profile_from_fhir(record, kb=kb, as_of="2024-01-01")
        assert found.profile is None, found.profile
        assert [e.resource for e in found.provenance["heart_failure"]] == ["Condition/own"]
        assert any("not this patient" in w for w in found.warnings), found.warnings
        assert not any("bob" in w or "Group/2" in w for w in found.warnings)


def test_relative_references_resolve_against_the_entrys_server(kb: ir.KnowledgeBase) -> None:
    """In a Bundle whose entries have RESTful fullUrls, ``Patient/alice`` from an entry of
    another server is that server's Alice, not this one."""
    here = "https://here.example/fhir"
    elsewhere = "https://elsewhere.example/fhir"
    same = condition("ra", RA, "Patient/alice")
    record = bundle((f"{here}/Patient/alice", patient()), (f"{here}/Condition/ra", same))
    found = profile_from_fhir(record, kb=kb, as_of="2024-01-01")
    assert found.profile is not None and found.profile.condition == "rheumatoid_arthritis"
    for url, subject in (
        (f"{elsewhere}/Condition/ra", "Patient/alice"),
        ("urn:uuid:c", f"{elsewhere}/Patient/alice"),
    ):
        away = bundle((f"{here}/Patient/alice", patient()), (url, condition("ra", RA, subject)))
        assert profile_from_fhir(away, kb=kb, as_of="2024-01-01").profile is None


@pytest.mark.parametrize(
    ("reference", "entry_url"),
    [
        ("Medication/m1", None),
        ("Medication/m1/_history/4", None),
        ("https://server/fhir/Medication/m1", "https://server/fhir/Medication/m1"),
        (
            "urn:uuid:5f9c3b0e-1111-4a8e-9a53-3c0d3f0b1a11",
            "urn:uuid:5f9c3b0e-1111-4a8e-9a53-3c0d3f0b1a11",
        ),
    ],
)
def test_medication_references_resolve(
    kb: ir.KnowledgeBase, reference: str, entry_url: str | None
) -> None:
    record = bundle(
        (None, patient()),
        (None, condition("ra", RA, "Patient/alice")),
        (None, order("o1", "Patient/alice", reference)),
        (entry_url, medication("m1", METHOTREXATE)),
    )
    found = profile_from_fhir(record, kb=kb, as_of="2024-01-01")
    assert set(found.therapy_classes) == {"conventional_dmards"}


def test_contained_references_are_local_to_their_resource(kb: ir.KnowledgeBase) -> None:
    """``#m`` names the resource's own contained Medication: two orders each containing a
    ``#m`` are two medications (before: the last one read won for both)."""
    etanercept = "214555"
    first = order("o1", "Patient/alice", "#m", contained=[medication("m", METHOTREXATE)])
    second = order("o2", "Patient/alice", "#m", contained=[medication("m", etanercept)])
    found = profile_from_fhir(
        [patient(), condition("ra", RA, "Patient/alice"), first, second],
        kb=kb,
        as_of="2024-01-01",
    )
    refs = {name: {e.resource for e in ev} for name, ev in found.therapy_classes.items()}
    assert refs.get("conventional_dmards") == {"MedicationRequest/o1"}, refs
    assert "MedicationRequest/o1" not in set().union(
        *(v for k, v in refs.items() if k != "conventional_dmards")
    )
    # A reference of the wrong type names no medication.
    wrong = order("o3", "Patient/alice", "Patient/m1")
    none = profile_from_fhir(
        [patient(), condition("ra", RA, "Patient/alice"), wrong, medication("m1", METHOTREXATE)],
        kb=kb,
        as_of="2024-01-01",
    )
    assert not none.therapy_classes


# -- Bulk Data ----------------------------------------------------------------------------------


def _export(tmp_path: Path, conditions: list[dict[str, Any]]) -> Path:
    (tmp_path / "Patient.000.ndjson").write_text(
        "".join(json.dumps(patient(p)) + "\n" for p in ("alice", "2"))
    )
    (tmp_path / "Condition.000.ndjson").write_text(
        "".join(json.dumps(c) + "\n" for c in conditions)
    )
    return tmp_path


def test_bulk_versioned_and_group_subjects(tmp_path: Path, kb: ir.KnowledgeBase) -> None:
    """Before: ``Patient/alice/_history/2`` went to patient "2", and ``Group/2`` to patient
    "2"."""
    folder = _export(
        tmp_path,
        [
            condition("a", RA, "Patient/alice/_history/2"),
            condition("g", RA, "Group/2"),
            condition("x", RA, "Observation/2"),
        ],
    )
    found = dict(profiles_from_bulk(folder, kb=kb, as_of="2024-01-01"))
    assert found["alice"].profile is not None
    assert found["alice"].profile.condition == "rheumatoid_arthritis"
    assert found["2"].profile is None


def test_bulk_absolute_and_urn_subjects(tmp_path: Path, kb: ir.KnowledgeBase) -> None:
    folder = _export(
        tmp_path,
        [
            condition("a", RA, "https://server/fhir/Patient/alice"),
            condition("b", RA, "urn:uuid:2"),  # Synthea writes a Patient's id as its urn:uuid
        ],
    )
    found = dict(profiles_from_bulk(folder, kb=kb, as_of="2024-01-01"))
    assert found["alice"].profile is not None and found["2"].profile is not None


def test_a_patient_without_an_id_is_named_by_its_full_url(kb: ir.KnowledgeBase) -> None:
    url = "urn:uuid:0d8c2c52-8f3e-4a8e-9a53-3c0d3f0b1a11"
    anonymous = {"resourceType": "Patient", "birthDate": "1980-01-01"}
    record = bundle((url, anonymous), ("urn:uuid:c", condition("ra", RA, url)))
    found = profile_from_fhir(record, kb=kb, as_of="2024-01-01")
    assert found.profile is not None and found.profile.condition == "rheumatoid_arthritis"


def test_an_oid_never_names_a_patient_by_its_id(kb: ir.KnowledgeBase) -> None:
    record = [patient("1.2.3"), condition("ra", RA, "urn:oid:1.2.3")]
    assert profile_from_fhir(record, kb=kb, as_of="2024-01-01").profile is None
