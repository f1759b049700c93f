"""The CDS Hooks service as real clients call it, over real HTTP (uvicorn on loopback, httpx as
the client): requests shaped as the public CDS Hooks sandbox sends them (captured from it, see
tests/data/cds/sandbox/README.md), the spec's own example requests (tests/data/cds/spec), the
order-select cards for a patient with rheumatoid arthritis and heart failure, patient-view cards
about the patient's problem, the feedback rules of the spec, and prefetch about someone else."""

from __future__ import annotations

import copy
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import immunorules as ir
from tests.conftest import require

require("starlette", reason="needs the service extra: pip install 'immunorules[service]'")
require("fhir.resources", reason="needs the fhir extra")

import httpx  # noqa: E402

from immunorules.fhir import profile_from_fhir  # noqa: E402
from immunorules.service import MAX_SOURCE_LABEL, cards_from_result, create_app  # noqa: E402
from tests.service_support import (  # noqa: E402 - after the skips
    FHIR_TOKEN,
    HEART_FAILURE,
    HERSHEL,
    LOCAL_BUNDLE,
    ORDER_SELECT,
    PATIENT_VIEW,
    RHEUMATOID_ARTHRITIS,
    ROOT,
    RXNORM,
    SNOMED,
    FhirServer,
    Records,
    Signer,
    active_condition,
    fhir_authorization,
    loopback,
    post_json,
    serving,
)

SANDBOX = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
DATA = ROOT / "tests" / "data" / "cds"
#: RxNorm codes the bundled mapping knows (ingredients, and the Synthea methotrexate tablet).
FINGOLIMOD, TOFACITINIB, METHOTREXATE = "1012892", "1357536", "105586"
SPEC_PATIENT = "1288992"
SPEC_TOKEN = "some-opaque-fhir-access-token"


@dataclass
class Client:
    base: str
    signer: Signer
    fhir: FhirServer
    records: Records
    feedback: Path
    http: httpx.Client
    kb: ir.KnowledgeBase

    def post(self, path: str, body: Any, **headers: str) -> httpx.Response:
        token = self.signer.token(
            self.base + path, headers={"jku": SANDBOX_JKU, "typ": "JWT"}, lifetime=300
        )
        return post_json(self.http, self.base + path, body, token=token, **headers)


def _heart_failure(patient: str = HERSHEL) -> dict[str, Any]:
    return active_condition("hf-1", HEART_FAILURE, patient)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    kb = ir.load_rules(engine="native")
    records = Records()
    records.add_bundle(LOCAL_BUNDLE)
    records.by_type[(HERSHEL, "Condition")].append(_heart_failure())
    # The patient of the spec's examples, given rheumatoid arthritis here.
    records.patients[SPEC_PATIENT] = {
        "resourceType": "Patient",
        "id": SPEC_PATIENT,
        "gender": "male",
        "birthDate": "1925-12-23",
    }
    ra = active_condition("ra-1", RHEUMATOID_ARTHRITIS, SPEC_PATIENT)
    records.by_type[(SPEC_PATIENT, "Condition")] = [ra]
    folder = tmp_path_factory.mktemp("clients")
    signer = Signer(SANDBOX)
    jwks = signer.write_jwks(folder / "sandbox-jwks.json")
    sock, base = loopback()
    with FhirServer(records, page_size=50) as fhir:
        app = create_app(
            kb,
            issuers={SANDBOX: jwks},
            audience=base,
            feedback_log=folder / "feedback.jsonl",
            fhir_timeout=8.0,
        )
        with serving(app, sock) as url, httpx.Client(timeout=30) as http:
            assert url == base
            yield Client(base, signer, fhir, records, folder / "feedback.jsonl", http, kb)


# -- requests as the sandbox sends them ----------------------------------------------------------


def sandbox_order(rid: str, code: str, display: str, patient: str = HERSHEL) -> dict[str, Any]:
    """A draft order as the sandbox's rx-view screen builds it: ``category`` as one object (not
    a list), a dosage and a dispense request, the condition treated as ``reasonCode``."""
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient}"},
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": 1,
                            "system": "http://unitsofmeasure.org",
                            "code": "{pill}",
                        }
                    }
                ],
            }
        ],
        "dispenseRequest": {
            "expectedSupplyDuration": {
                "value": 30,
                "unit": "days",
                "system": "http://unitsofmeasure.org",
                "code": "d",
            }
        },
        "category": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                    "code": "community",
                }
            ]
        },
        "reasonCode": [{"coding": [{"system": SNOMED, "code": "69896004"}]}],
        "medicationCodeableConcept": {
            "text": display,
            "coding": [{"display": display, "system": RXNORM, "code": code}],
        },
    }


def order_select(
    client: Client, *orders: dict[str, Any], prefetch: bool = True, selections: Any = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hookInstance": str(uuid.uuid4()),
        "hook": "order-select",
        "fhirServer": client.fhir.url + "/fhir",
        "fhirAuthorization": fhir_authorization(),
        "context": {
            "userId": "Practitioner/example",
            "patientId": HERSHEL,
            "selections": selections
            if selections is not None
            else [f"MedicationRequest/{o['id']}" for o in orders],
            "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": o} for o in orders]},
        },
    }
    if prefetch:
        body["prefetch"] = client.records.prefetch(HERSHEL)
    return body


def _cards(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    cards: list[dict[str, Any]] = response.json()["cards"]
    for card in cards:
        assert len(card["summary"]) < 140
        assert 0 < len(card["source"]["label"]) <= MAX_SOURCE_LABEL
        assert card["indicator"] in ("info", "warning", "critical")
    return cards


def test_fingolimod_for_ra_with_heart_failure_is_a_critical_card(client: Client) -> None:
    order = sandbox_order("fingo", FINGOLIMOD, "fingolimod 0.5 MG Oral Capsule")
    cards = _cards(client.post(ORDER_SELECT, order_select(client, order)))
    assert cards, "not 'All clear'"
    critical = [c for c in cards if c["indicator"] == "critical"]
    assert len(critical) == 1
    card = critical[0]
    assert "S1P receptor modulators" in card["summary"]  # the class
    assert "`SAFETY-S1P-HEART-FAILURE`" in card["detail"]  # the rule and its reason
    assert "heart failure" in card["summary"].lower()
    assert "**Sources:**" in card["detail"] and card["links"]  # the evidence, cited in full
    assert "MedicationRequest/fingo" in card["detail"]
    (suggestion,) = card["suggestions"]
    assert suggestion["actions"] == [
        {
            "type": "delete",
            "description": "Remove the selected order MedicationRequest/fingo",
            "resourceId": "MedicationRequest/fingo",
        }
    ]
    assert {r["code"] for r in card["overrideReasons"]} >= {"benefit-outweighs-risk"}
    assert cards[0] is card


def test_tofacitinib_before_any_tnf_inhibitor_says_what_is_suggested_instead(
    client: Client,
) -> None:
    order = sandbox_order("tofa", TOFACITINIB, "tofacitinib 5 MG Oral Tablet")
    cards = _cards(client.post(ORDER_SELECT, order_select(client, order)))
    assert not any(c["indicator"] == "critical" for c in cards)
    (instead,) = [c for c in cards if "not suggested" in c["summary"]]
    assert instead["indicator"] == "info"
    assert instead["summary"].startswith("JAK inhibitors (selected) is not suggested")
    assert "Antifolate csDMARDs" in instead["summary"]
    assert "Suggested instead" in instead["detail"]
    assert "`RA-FIRST-LINE-CSDMARD`" in instead["detail"]  # why
    # its safety depends on facts the record does not state
    checks = [c for c in cards if c["summary"].startswith("Check before ordering JAK inhibitors")]
    assert len(checks) == 1 and checks[0]["indicator"] == "warning"
    assert "cardiovascular" in checks[0]["detail"]


def test_methotrexate_matches_the_first_line_suggestion(client: Client) -> None:
    order = sandbox_order("mtx", METHOTREXATE, "methotrexate 2.5 MG Oral Tablet")
    cards = _cards(client.post(ORDER_SELECT, order_select(client, order)))
    assert not any(c["indicator"] == "critical" for c in cards)
    assert any(
        c["summary"].startswith("Selected order (") and "first line" in c["summary"] for c in cards
    )
    assert any(c["summary"].startswith("Check before ordering") for c in cards)


def test_non_conformant_fields_the_service_does_not_read_never_refuse_the_call(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="immunorules.service")
    order = sandbox_order("fingo", FINGOLIMOD, "fingolimod 0.5 MG Oral Capsule")
    order["dosageInstruction"] = "once a day"
    order["dispenseRequest"] = 5
    order["note"] = {"text": "x"}
    order["reasonCode"] = "rheumatoid arthritis"
    cards = _cards(client.post(ORDER_SELECT, order_select(client, order)))
    assert any(c["indicator"] == "critical" for c in cards)
    assert "not an array as FHIR R4 says, not read by the service" in caplog.text
    assert "category" in caplog.text and HERSHEL not in caplog.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("medicationCodeableConcept", [{"coding": []}]),
        ("medicationCodeableConcept", {"coding": 7}),
        ("status", 3),
        ("subject", "Patient/x"),
        ("medicationReference", "Medication/x"),
    ],
)
def test_a_wrong_shape_in_an_element_the_service_reads_is_400(
    client: Client, field: str, value: Any
) -> None:
    order = sandbox_order("fingo", FINGOLIMOD, "fingolimod 0.5 MG Oral Capsule")
    order[field] = value
    response = client.post(ORDER_SELECT, order_select(client, order))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_draft_orders"


def test_a_draft_order_about_another_patient_is_not_read(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="immunorules.service")
    order = sandbox_order("fingo", FINGOLIMOD, "fingolimod 0.5 MG Oral Capsule", "someone-else")
    cards = _cards(client.post(ORDER_SELECT, order_select(client, order)))
    assert cards == []
    assert "left out 1 resource" in caplog.text and "someone-else" not in caplog.text


def test_a_draft_order_without_a_subject_is_for_the_patient_in_context(client: Client) -> None:
    order = sandbox_order("fingo", FINGOLIMOD, "fingolimod 0.5 MG Oral Capsule")
    del order["subject"]
    cards = _cards(client.post(ORDER_SELECT, order_select(client, order)))
    assert cards[0]["indicator"] == "critical"


def test_unselected_and_cancelled_orders_are_not_read(client: Client) -> None:
    fingo = sandbox_order("fingo", FINGOLIMOD, "fingolimod 0.5 MG Oral Capsule")
    mtx = sandbox_order("mtx", METHOTREXATE, "methotrexate 2.5 MG Oral Tablet")
    cards = _cards(
        client.post(
            ORDER_SELECT, order_select(client, fingo, mtx, selections=["MedicationRequest/mtx"])
        )
    )
    assert not any(c["indicator"] == "critical" for c in cards)
    fingo["status"] = "cancelled"
    cards = _cards(client.post(ORDER_SELECT, order_select(client, fingo)))
    assert cards == []


def test_a_medication_reference_to_a_contained_medication_is_read(client: Client) -> None:
    order = sandbox_order("fingo", FINGOLIMOD, "fingolimod 0.5 MG Oral Capsule")
    concept = order.pop("medicationCodeableConcept")
    order["contained"] = [
        {"resourceType": "Medication", "id": "med", "code": concept, "form": "capsule"}
    ]
    order["medicationReference"] = {"reference": "#med"}
    cards = _cards(client.post(ORDER_SELECT, order_select(client, order)))
    assert any(c["indicator"] == "critical" for c in cards)


# -- patient-view: about the patient's problem ----------------------------------------------------


def test_patient_view_has_no_card_for_classes_never_suggested_for_the_problem(
    client: Client,
) -> None:
    body = {
        "hookInstance": str(uuid.uuid4()),
        "hook": "patient-view",
        "context": {"userId": "Practitioner/example", "patientId": HERSHEL},
        "prefetch": client.records.prefetch(HERSHEL),
    }
    cards = _cards(client.post(PATIENT_VIEW, body))
    summaries = " ".join(c["summary"] for c in cards)
    for never in ("S1P", "Interleukins", "Tumour-infiltrating"):  # never suggested for RA
        assert never not in summaries
    # TNF inhibitors are suggested for RA at escalation (prior lines not stated here): the
    # knowledge base's heart-failure caution about them may stand, but no avoid card
    assert not any("TNF" in c["summary"] and c["indicator"] == "critical" for c in cards)
    assert all(c["summary"].startswith("Caution") for c in cards if "TNF" in c["summary"])
    assert any(c["summary"].startswith("Consider Immunosuppressants") for c in cards)
    assert len(cards) < 13
    for card in cards:
        assert "fingerprint" in card["detail"] and client.kb.info.fingerprint in card["detail"]
        assert client.kb.info.name in card["detail"] and client.kb.info.version in card["detail"]


def test_a_parent_class_and_its_finer_classes_share_one_card() -> None:
    kb = ir.load_rules(engine="native")
    result = kb.evaluate(
        {
            "immune_activity": "overactive",
            "condition": "rheumatoid_arthritis",
            "heart_failure": True,
            "prior_lines_of_therapy": 1,
        }
    )
    assert {a.subcategory for a in result.avoided} >= {
        "tnf_inhibitors",
        "anti_tnf_antibodies",
        "tnf_receptor_fusion_proteins",
    }
    cards = cards_from_result(result, kb=kb)
    avoid = [c for c in cards if c["indicator"] == "critical"]
    assert [c["summary"].split(":")[0] for c in avoid] == [
        "Avoid TNF inhibitors (Biologic therapies)"
    ]
    assert "Anti-TNF monoclonal antibodies" in avoid[0]["detail"]
    assert "TNF receptor fusion proteins" in avoid[0]["detail"]
    assert avoid[0]["detail"].count("`SAFETY-TNFI-HEART-FAILURE` ") == 1
    # without the knowledge base (no focus), still one card for the three
    plain = [c for c in cards_from_result(result) if "TNF" in c["summary"].split(":")[0]]
    assert len(plain) == 1
    for card in cards:
        assert len(card["source"]["label"]) <= MAX_SOURCE_LABEL


def test_source_labels_are_short_and_the_detail_cites_in_full() -> None:
    kb = ir.load_rules(engine="native")
    result = kb.evaluate({"immune_activity": "overactive", "condition": "rheumatoid_arthritis"})
    for card in cards_from_result(result, kb=kb):
        assert len(card["source"]["label"]) <= MAX_SOURCE_LABEL
        if "links" in card:
            label = card["source"]["label"].rstrip("\u2026")
            detail = card["detail"].replace("\\", "")  # Markdown escapes, e.g. \(
            assert label in detail  # the full citation, under Sources


# -- prefetch about another patient ---------------------------------------------------------------


def _patient_view(client: Client, prefetch: dict[str, Any], server: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hookInstance": str(uuid.uuid4()),
        "hook": "patient-view",
        "context": {"userId": "Practitioner/example", "patientId": HERSHEL},
        "prefetch": prefetch,
    }
    if server:
        body["fhirServer"] = client.fhir.url + "/fhir"
        body["fhirAuthorization"] = {"access_token": FHIR_TOKEN, "token_type": "Bearer"}
    return body


def test_prefetched_conditions_all_about_another_patient_are_fetched_again(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="immunorules.service")
    prefetch = client.records.prefetch(HERSHEL)
    other = copy.deepcopy(prefetch["conditions"])
    for entry in other["entry"]:
        entry["resource"]["subject"] = {"reference": "Patient/someone-else/_history/3"}
    prefetch["conditions"] = other
    response = client.post(PATIENT_VIEW, _patient_view(client, prefetch, server=False))
    assert response.status_code == 412, response.text
    before = client.fhir.hits["/fhir/Condition"]
    cards = _cards(client.post(PATIENT_VIEW, _patient_view(client, prefetch, server=True)))
    assert client.fhir.hits["/fhir/Condition"] == before + 1
    assert any(c["summary"].startswith("Consider Immunosuppressants") for c in cards)
    assert "about another patient or a group dropped" in caplog.text
    assert "someone-else" not in caplog.text


def test_a_prefetched_patient_who_is_someone_else_is_fetched_again(client: Client) -> None:
    prefetch = client.records.prefetch(HERSHEL)
    prefetch["patient"] = {**prefetch["patient"], "id": "someone-else"}
    response = client.post(PATIENT_VIEW, _patient_view(client, prefetch, server=False))
    assert response.status_code == 412
    before = client.fhir.hits[f"/fhir/Patient/{HERSHEL}"]
    _cards(client.post(PATIENT_VIEW, _patient_view(client, prefetch, server=True)))
    assert client.fhir.hits[f"/fhir/Patient/{HERSHEL}"] == before + 1


def test_some_resources_about_another_patient_are_dropped_and_the_rest_used(
    client: Client,
) -> None:
    prefetch = client.records.prefetch(HERSHEL)
    prefetch["conditions"]["entry"].append(
        {"resource": {**_heart_failure("someone-else"), "id": "hf-other"}}
    )
    # Hershel's own heart failure is in the record: drop it to see the other one is not used
    prefetch["conditions"]["entry"] = [
        e for e in prefetch["conditions"]["entry"] if e["resource"]["id"] != "hf-1"
    ]
    before = client.fhir.hits["/fhir/Condition"]
    body = order_select(
        client, sandbox_order("fingo", FINGOLIMOD, "fingolimod 0.5 MG Oral Capsule"), prefetch=False
    )
    body["prefetch"] = prefetch
    cards = _cards(client.post(ORDER_SELECT, body))
    assert client.fhir.hits["/fhir/Condition"] == before  # something usable was left
    assert not any(c["indicator"] == "critical" for c in cards)  # no heart failure here


# -- feedback -------------------------------------------------------------------------------------


def _critical_card(client: Client) -> dict[str, Any]:
    order = sandbox_order("fingo", FINGOLIMOD, "fingolimod 0.5 MG Oral Capsule")
    cards = _cards(client.post(ORDER_SELECT, order_select(client, order)))
    return next(c for c in cards if c["indicator"] == "critical")


def _feedback(client: Client, path: str, **item: Any) -> httpx.Response:
    item.setdefault("outcomeTimestamp", "2026-12-07T10:00:00Z")
    return client.post(path + "/feedback", {"feedback": [item]})


def test_feedback_follows_the_spec_and_what_the_card_offered(client: Client) -> None:
    card = _critical_card(client)
    offered = card["suggestions"][0]["uuid"]
    reason = card["overrideReasons"][0]
    ok = [
        {"card": card["uuid"], "outcome": "accepted", "acceptedSuggestions": [{"id": offered}]},
        {"card": card["uuid"], "outcome": "overridden"},
        {
            "card": card["uuid"],
            "outcome": "overridden",
            "overrideReason": {"reason": {"code": reason["code"], "system": reason["system"]}},
        },
        {  # a reason of the client's own (the spec lets clients add reasons)
            "card": card["uuid"],
            "outcome": "overridden",
            "overrideReason": {
                "reason": {"code": "x1", "system": "https://ehr.example.org/reasons"},
                "userComment": "the patient's own words",
            },
        },
        {"card": str(uuid.uuid4()), "outcome": "overridden"},  # not remembered: general rules only
    ]
    before = client.feedback.read_text() if client.feedback.exists() else ""
    for item in ok:
        response = _feedback(client, ORDER_SELECT, **item)
        assert response.status_code == 200, (item, response.text)
    lines = [json.loads(line) for line in client.feedback.read_text()[len(before) :].splitlines()]
    assert len(lines) == len(ok)
    info = client.kb.info
    for line in lines:
        assert line["knowledgeBase"] == {
            "name": info.name,
            "version": info.version,
            "fingerprint": info.fingerprint,
        }
        assert line["issuer"] == SANDBOX
    assert [line["cardKnown"] for line in lines] == [True, True, True, True, False]
    assert lines[0]["acceptedSuggestions"] == [offered]
    assert lines[2]["overrideReasonOffered"] is True and lines[3]["overrideReasonOffered"] is False
    assert "the patient's own words" not in client.feedback.read_text()

    bad = [
        {"card": card["uuid"], "outcome": "accepted"},  # accepted needs its suggestions
        {"card": card["uuid"], "outcome": "accepted", "acceptedSuggestions": []},
        {
            "card": card["uuid"],
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": str(uuid.uuid4())}],  # not offered
        },
        {
            "card": card["uuid"],
            "outcome": "overridden",
            "acceptedSuggestions": [{"id": offered}],  # only with accepted
        },
        {
            "card": card["uuid"],
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": offered}],
            "overrideReason": {"reason": {"code": reason["code"]}},  # only with overridden
        },
        {
            "card": card["uuid"],
            "outcome": "overridden",
            "overrideReason": {"reason": {"code": "made-up", "system": reason["system"]}},
        },
        {"card": card["uuid"], "outcome": "overridden", "overrideReason": {"reason": "x"}},
        {"card": card["uuid"], "outcome": "overridden", "overrideReason": {"userComment": 5}},
    ]
    for item in bad:
        response = _feedback(client, ORDER_SELECT, **item)
        assert response.status_code == 400, item
        assert response.json()["error"] == "bad_feedback"
    # a card of the order-select service is not the patient-view service's
    response = _feedback(client, PATIENT_VIEW, card=card["uuid"], outcome="overridden")
    assert response.status_code == 400
    # an info card offers no override reason
    order = sandbox_order("mtx", METHOTREXATE, "methotrexate 2.5 MG Oral Tablet")
    info_card = next(
        c
        for c in _cards(client.post(ORDER_SELECT, order_select(client, order)))
        if c["indicator"] == "info"
    )
    assert "overrideReasons" not in info_card
    response = _feedback(
        client,
        ORDER_SELECT,
        card=info_card["uuid"],
        outcome="overridden",
        overrideReason={"reason": {"code": reason["code"], "system": reason["system"]}},
    )
    assert response.status_code == 400


# -- the spec's example requests ------------------------------------------------------------------


def _fixtures(folder: str) -> list[Path]:
    return sorted((DATA / folder).glob("*.json"))


@pytest.mark.parametrize("path", _fixtures("spec"), ids=lambda p: p.stem)
def test_the_spec_example_requests(client: Client, path: Path) -> None:
    fixture = json.loads(path.read_text())
    text = json.dumps(fixture["body"]).replace("{{fhirServer}}", client.fhir.url + "/fhir")
    client.fhir.required_token = SPEC_TOKEN
    try:
        response = client.post(fixture["path"], json.loads(text))
    finally:
        client.fhir.required_token = FHIR_TOKEN
    assert response.status_code == fixture["expect"]["status"], response.text
    if response.status_code != 200:
        assert response.json()["error"] == "missing_context"
    elif fixture["body"]["hook"] == "patient-view":  # read from the FHIR server
        cards = _cards(response)
        assert any(c["summary"].startswith("Consider Immunosuppressants") for c in cards)
    else:  # amoxicillin/clavulanate and a diet: nothing the rules know about
        assert response.json() == {"cards": []}


def test_there_are_spec_fixtures() -> None:
    assert len(_fixtures("spec")) >= 3


# -- requests captured from the CDS Hooks sandbox --------------------------------------------------

SANDBOX_DATA = DATA / "sandbox"


def _sandbox_fixtures() -> list[dict[str, Any]]:
    found = []
    for path in sorted(SANDBOX_DATA.glob("[0-9][0-9]-*.json")):
        fixture = json.loads(path.read_text())
        fixture["name"] = path.stem
        body = fixture["body"]
        if isinstance(body.get("prefetch"), str):  # stored once beside the fixtures
            name = body["prefetch"].strip("{}")
            body["prefetch"] = json.loads((SANDBOX_DATA / name).read_text())
        found.append(fixture)
    return found


def _ordered_classes(kb: ir.KnowledgeBase, body: dict[str, Any]) -> dict[str, list[str]]:
    """The drug classes of the selected orders, as this mapping reads them."""
    from immunorules.service._orders import read_draft_orders

    orders = read_draft_orders(body["context"], body["context"]["patientId"])
    if not orders.selected:
        return {}
    found = profile_from_fhir(orders.bundle, kb=kb, validate="used")
    return {
        sub: [e.resource or "" for e in evidence] for sub, evidence in found.therapy_classes.items()
    }


def _expected_cards(kb: ir.KnowledgeBase, body: dict[str, Any]) -> list[tuple[str, str]]:
    """The cards the library gives for a captured request (the service must give the same)."""
    from immunorules.service import order_cards

    prefetch = body["prefetch"]
    resources = [prefetch["patient"]] + [
        entry["resource"]
        for key in ("conditions", "medications", "observations", "procedures")
        for entry in (prefetch.get(key) or {}).get("entry", ())
    ]
    found = profile_from_fhir(resources, kb=kb, validate="used")
    assert found.profile is not None
    result = kb.evaluate(found.profile)
    if body["hook"] == "patient-view":
        cards = cards_from_result(result, fhir=found, kb=kb)
    else:
        ordered = _ordered_classes(kb, body)
        cards = order_cards(result, ordered, fhir=found, kb=kb) if ordered else []
    return [(c["indicator"], c["summary"]) for c in cards]


def test_there_are_sandbox_fixtures() -> None:
    fixtures = _sandbox_fixtures()
    kinds = [f["path"].rsplit("/", 1)[-1] for f in fixtures]
    assert "immunorules-patient-view" in kinds and "immunorules-order-select" in kinds
    assert "feedback" in kinds
    drugs = {
        coding.get("display")
        for f in fixtures
        if f["body"].get("hook") == "order-select"
        for entry in f["body"]["context"]["draftOrders"]["entry"]
        for coding in entry["resource"].get("medicationCodeableConcept", {}).get("coding", ())
    }
    assert {"fingolimod 0.5 MG Oral Capsule", "tofacitinib 5 MG Oral Tablet"} <= drugs


def test_the_sandbox_requests_replayed(client: Client) -> None:
    """Every captured request, in the order the sandbox sent it, with a fresh token of the
    sandbox's shape: the same status as captured, the cards the library gives for the same
    request, and the feedback matched to the replayed cards it names (so it is checked against
    what they offered, and recorded as known)."""
    replayed: dict[str, dict[str, Any]] = {}  # captured card uuid -> the replayed card
    before = client.feedback.read_text() if client.feedback.exists() else ""
    known: list[bool] = []
    for fixture in _sandbox_fixtures():
        token = fixture["token"]
        assert token["header"]["alg"] == "ES384" and token["header"]["jku"] == SANDBOX_JKU
        assert token["payload"]["iss"] == SANDBOX
        assert token["payload"]["aud"] == "{{service}}" + fixture["path"]
        assert set(token["payload"]) == {"iss", "aud", "exp", "iat", "jti"}
        body = json.loads(
            json.dumps(fixture["body"]).replace("{{fhirServer}}", client.fhir.url + "/fhir")
        )
        if fixture["path"].endswith("/feedback"):
            for item in body["feedback"]:
                card = replayed.get(item["card"])
                known.append(card is not None)
                if card is None:  # this mapping answered other cards: sent as captured
                    continue
                item["card"] = card["uuid"]
                for accepted in item.get("acceptedSuggestions", ()):
                    accepted["id"] = card["suggestions"][0]["uuid"]
            response = client.post(fixture["path"], body)
            assert response.status_code == fixture["status"] == 200, response.text
            continue
        response = client.post(fixture["path"], body)
        assert response.status_code == fixture["status"], (fixture["name"], response.text)
        cards = _cards(response)
        got = [(c["indicator"], c["summary"]) for c in cards]
        assert got == _expected_cards(client.kb, body), fixture["name"]
        captured = fixture["answer"]
        if [(c["indicator"], c["summary"]) for c in captured] == got:
            replayed.update((old["uuid"], new) for old, new in zip(captured, cards, strict=True))
    lines = client.feedback.read_text()[len(before) :].splitlines()
    assert [json.loads(line)["cardKnown"] for line in lines] == known
    assert len(known) >= 3


def test_the_sandbox_orders_map_to_their_classes(client: Client) -> None:
    """With the SCD codes mapped, the sandbox's orders give the cards of the original report's
    scenario: fingolimod a critical card, tofacitinib none, never 'All clear'."""
    classes = {}
    answers = {}
    for fixture in _sandbox_fixtures():
        body = fixture["body"]
        if body.get("hook") != "order-select":
            continue
        for entry in body["context"]["draftOrders"]["entry"]:
            concept = entry["resource"].get("medicationCodeableConcept")
            if concept:
                drug = concept["text"].lower()
                classes[drug] = set(_ordered_classes(client.kb, body))
                replay = json.dumps(body).replace("{{fhirServer}}", client.fhir.url + "/fhir")
                answers[drug] = _cards(client.post(fixture["path"], json.loads(replay)))
    fingolimod = answers["fingolimod 0.5 mg oral capsule"]
    assert fingolimod[0]["indicator"] == "critical" and "S1P" in fingolimod[0]["summary"]
    tofacitinib = answers["tofacitinib 5 mg oral tablet"]
    assert tofacitinib and not any(c["indicator"] == "critical" for c in tofacitinib)
    assert classes["fingolimod 0.5 mg oral capsule"] == {"s1p_receptor_modulators"}
    assert classes["tofacitinib 5 mg oral tablet"] == {"jak_inhibitors"}
    assert classes["methotrexate 2.5 mg oral tablet"]


def test_an_order_in_a_flagged_category_is_a_warning_naming_class_and_reason() -> None:
    from immunorules.service import order_cards

    kb = ir.load_rules(engine="native")
    result = kb.evaluate({"condition": "melanoma", "pregnant": True})
    (flagged,) = [s for s in result.suggestions if s.tier == "flagged"]
    cards = order_cards(result, {flagged.subcategories[0]: ["MedicationRequest/x"]}, kb=kb)
    card = cards[0]
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Flagged for specialist review: Immune checkpoint inhibitors")
    assert "Pregnancy" in card["summary"]
    assert "`SAFETY-PREGNANCY-CANCER-IMMUNOTHERAPY`" in card["detail"]
    assert card["overrideReasons"] and "suggestions" not in card
