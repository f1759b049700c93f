"""The CDS Hooks service over real HTTP: uvicorn on a free loopback port, httpx as the EHR, a
tiny FHIR server in a thread serving the shared Synthea records (and the EHR's JWK Set), tokens
signed with a test EC key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import immunorules as ir
from tests.conftest import MakeKB, require, rule

require("starlette", reason="needs the service extra: pip install 'immunorules[service]'")
require("fhir.resources", reason="needs the fhir extra")

import httpx  # noqa: E402
import jwt  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

from immunorules.fhir import profile_from_fhir  # noqa: E402
from immunorules.service import (  # noqa: E402
    MAX_SUMMARY,
    PREFETCH,
    SERVICES,
    cards_from_result,
    create_app,
)
from tests.service_support import (  # noqa: E402 - after the skips
    FHIR_TOKEN,
    HEART_FAILURE,
    HERSHEL,
    LOCAL_BUNDLE,
    ORDER_SELECT,
    PATIENT_VIEW,
    ROOT,
    RXNORM,
    SEARCH_TYPES,
    SHARED,
    SNOMED,
    FhirServer,
    Records,
    Signer,
    active_condition,
    closed_port,
    fhir_authorization,
    free_socket,
    loopback,
    post_json,
    serve_process,
    serving,
)

EHR = "https://ehr.example.org"
OTHER_EHR = "https://other-ehr.example.org"
# Long enough for a 2 MB record to be fetched and read on a loaded 2-core machine (1.5 s was
# not), short enough for the tests that wait for it to run out.
FHIR_TIMEOUT = 4.0
SANDBOX_ORIGIN = "https://sandbox.cds-hooks.org"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"the shared FHIR test data is not beside the clone ({SHARED})"
)


@dataclass
class Running:
    base: str
    fhir: FhirServer
    records: Records
    signer: Signer
    file_signer: Signer
    feedback: Path
    client: httpx.Client
    kb: ir.KnowledgeBase

    def token(self, path: str, signer: Signer | None = None, **options: Any) -> str:
        return (signer or self.signer).token(self.base + path, **options)

    def post(
        self, path: str, body: Any, *, token: str | None = "sign", **headers: str
    ) -> httpx.Response:
        if token == "sign":
            token = self.token(path)
        return post_json(self.client, self.base + path, body, token=token, **headers)

    def hook(
        self,
        patient_id: str,
        *,
        prefetch: dict[str, Any] | None = None,
        fhir_server: str | None = "default",
        fhir_token: str | None = FHIR_TOKEN,
        path: str = PATIENT_VIEW,
        context: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "hook": "order-select" if path == ORDER_SELECT else "patient-view",
            "hookInstance": str(uuid.uuid4()),
            "context": {
                "userId": "Practitioner/example",
                "patientId": patient_id,
                **(context or {}),
            },
        }
        if fhir_server is not None:
            body["fhirServer"] = (
                self.fhir.url + "/fhir" if fhir_server == "default" else fhir_server
            )
            if fhir_token is not None:
                body["fhirAuthorization"] = fhir_authorization(fhir_token)
        if prefetch is not None:
            body["prefetch"] = prefetch
        return body


@pytest.fixture(scope="module")
def kb() -> ir.KnowledgeBase:
    return ir.load_rules(engine="native")


@pytest.fixture(scope="module")
def records() -> Records:
    found = Records()
    found.add_bundle(LOCAL_BUNDLE)
    if SHARED.is_dir():
        for path in sorted(SHARED.glob("*/*.json")):
            found.add_bundle(path)
        found.add_bulk(SHARED / "smart-bulk-10-patients-ndjson")
    return found


@pytest.fixture(scope="module")
def running(
    kb: ir.KnowledgeBase, records: Records, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp("service")
    signer, file_signer = Signer(EHR), Signer(OTHER_EHR)
    jwks_file = file_signer.write_jwks(folder / "other-ehr-jwks.json")
    sock, base = loopback()
    with FhirServer(records, page_size=50, delay=FHIR_TIMEOUT + 2) as fhir:
        fhir.jwks["ehr"] = signer.jwks()
        app = create_app(
            kb,
            issuers={EHR: f"{fhir.url}/jwks/ehr", OTHER_EHR: jwks_file},
            audience=base,
            feedback_log=folder / "feedback" / "feedback.jsonl",
            allow_origins=(SANDBOX_ORIGIN,),
            fhir_timeout=FHIR_TIMEOUT,
            max_request_bytes=1024 * 1024,
        )
        with serving(app, sock) as url, httpx.Client(timeout=30) as client:
            assert url == base
            yield Running(
                base,
                fhir,
                records,
                signer,
                file_signer,
                folder / "feedback" / "feedback.jsonl",
                client,
                kb,
            )


def expected_cards(kb: ir.KnowledgeBase, resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = profile_from_fhir(resources, kb=kb)
    if found.profile is None:
        return []
    return cards_from_result(kb.evaluate(found.profile), fhir=found, kb=kb)


def record_of(records: Records, patient_id: str) -> list[dict[str, Any]]:
    return [records.patients[patient_id]] + [
        r for kind in SEARCH_TYPES for r in records.by_type.get((patient_id, kind), [])
    ]


def comparable(cards: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """Cards without their fresh uuids."""
    return [(c["indicator"], c["summary"], c["detail"]) for c in cards]


def check_card(card: dict[str, Any]) -> None:
    assert set(card) <= {
        "uuid",
        "summary",
        "detail",
        "indicator",
        "source",
        "links",
        "overrideReasons",
        "suggestions",
        "selectionBehavior",
    }
    for reason in card.get("overrideReasons", ()):  # the spec: a display for each
        assert reason["display"] and reason["code"] and reason["system"]
    assert card["indicator"] != "info" or "overrideReasons" not in card
    if "suggestions" in card:
        assert card["selectionBehavior"] in ("any", "at-most-one")
        for suggestion in card["suggestions"]:
            uuid.UUID(suggestion["uuid"])
            assert suggestion["label"] and suggestion["actions"]
    assert "Knowledge base " in card["detail"] and "fingerprint" in card["detail"]
    uuid.UUID(card["uuid"])
    assert 0 < len(card["summary"]) <= MAX_SUMMARY < 140
    assert card["indicator"] in ("info", "warning", "critical")
    assert "NOT FOR CLINICAL USE" in card["detail"]
    if card["summary"].startswith(("Check before ordering", "Check the profile")):
        # what the answer depends on: the facts to check, not the rules behind a line
        assert card["indicator"] == "warning" and "not stated" in card["summary"] + card["detail"]
    else:
        assert re.search(r"`[A-Z0-9]+(-[A-Z0-9]+)+`", card["detail"]), "a rule id"
        assert "**Why:**" in card["detail"]
    assert 0 < len(card["source"]["label"]) <= 60
    for link in card.get("links", ()):
        assert link["type"] == "absolute" and link["url"].startswith(("https://", "http://"))
        assert link["label"]
    for value in card.values():  # the spec forbids empty and null values
        assert value not in (None, "", [], {})


# -- discovery -----------------------------------------------------------------------------------


def test_discovery_lists_both_hooks_with_prefetch_templates(running: Running) -> None:
    response = running.client.get(
        running.base + "/cds-services",
        headers={"Authorization": f"Bearer {running.token('/cds-services')}"},
    )
    assert response.status_code == 200
    services = response.json()["services"]
    assert {s["hook"] for s in services} == {"patient-view", "order-select"}
    for service in services:
        assert set(service) >= {"hook", "id", "title", "description", "prefetch"}
        assert service["id"] in SERVICES
        assert "UNAUTHENTICATED" not in service["description"]
        templates = service["prefetch"]
        assert templates == PREFETCH
        assert templates["patient"] == "Patient/{{context.patientId}}"
        for kind in SEARCH_TYPES:
            assert f"{kind}?patient={{{{context.patientId}}}}" in templates.values()


# -- cards ---------------------------------------------------------------------------------------


def test_patient_view_with_prefetch_gives_traceable_cards(running: Running) -> None:
    prefetch = running.records.prefetch(HERSHEL)
    response = running.post(
        PATIENT_VIEW, running.hook(HERSHEL, prefetch=prefetch, fhir_server=None)
    )
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert cards
    for card in cards:
        check_card(card)
    assert len({card["uuid"] for card in cards}) == len(cards)
    expected = expected_cards(running.kb, record_of(running.records, HERSHEL))
    assert comparable(cards) == comparable(expected)
    suggestion = next(c for c in cards if c["summary"].startswith("Consider Immunosuppressants"))
    assert "`RA-FIRST-LINE-CSDMARD`" in suggestion["detail"]
    assert "Matched: `condition=rheumatoid_arthritis`" in suggestion["detail"]
    assert "Condition/" in suggestion["detail"] and "69896004" in suggestion["detail"]
    assert "`prior_lines_of_therapy`: not determined by the record" in suggestion["detail"]
    assert suggestion["source"]["url"].startswith("https://")
    assert suggestion["links"]
    assert running.fhir.hits["/fhir/Condition"] == 0


def test_the_readme_example_request(running: Running) -> None:
    body = json.loads((ROOT / "examples" / "cds_hooks" / "patient-view.json").read_text())
    response = running.post(PATIENT_VIEW, body)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    for card in cards:
        check_card(card)
    # DMARD-naive RA: no rule suggests a TNF inhibitor (or an S1P modulator) now, so their
    # avoids for heart failure are not patient-view cards (order-select shows them). TNF
    # inhibitors are suggested for RA at escalation and the number of prior lines is not
    # stated, so the knowledge base's heart-failure caution about them may stand (as advice,
    # never an avoid card); S1P modulators are never suggested for RA: nothing names them.
    assert not any(card["indicator"] == "critical" for card in cards)
    assert not any("S1P" in card["summary"] for card in cards)
    assert not any("TNF" in c["summary"] and not c["summary"].startswith("Caution") for c in cards)
    assert any(card["summary"].startswith("Consider Immunosuppressants") for card in cards)


@needs_shared
@pytest.mark.parametrize(
    "patient",
    [
        "c79b748f-a792-4aea-bca5-c7c9c5b188cd",  # rheumatoid arthritis and atopic dermatitis
        "79a66c97-6131-3213-f3c9-4606946ab056",  # kidney transplant, tacrolimus (bulk export)
        "a5cb8ce9-cec6-6b23-0990-cbaf753578a4",  # sepsis (bulk export)
        "d5582579-7193-4866-5560-a01e723b6552",  # the negative control: no card
    ],
)
def test_patient_view_fetches_from_the_fhir_server(running: Running, patient: str) -> None:
    seen = len(running.fhir.authorizations)
    response = running.post(PATIENT_VIEW, running.hook(patient))
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    expected = expected_cards(running.kb, record_of(running.records, patient))
    assert comparable(cards) == comparable(expected)
    for card in cards:
        check_card(card)
    asked = running.fhir.authorizations[seen:]
    assert asked and set(asked) == {f"Bearer {FHIR_TOKEN}"}


@needs_shared
def test_search_pages_are_followed(running: Running) -> None:
    patient = "79a66c97-6131-3213-f3c9-4606946ab056"
    assert len(running.records.by_type[(patient, "Condition")]) > running.fhir.page_size
    response = running.post(PATIENT_VIEW, running.hook(patient))
    cards = response.json()["cards"]
    assert any("transplant" in card["detail"].lower() for card in cards)
    assert comparable(cards) == comparable(
        expected_cards(running.kb, record_of(running.records, patient))
    )


def test_missing_prefetch_keys_and_operation_outcomes_are_fetched(running: Running) -> None:
    prefetch = running.records.prefetch(HERSHEL)
    del prefetch["medications"]
    prefetch["conditions"] = {"resourceType": "OperationOutcome", "issue": []}
    before = running.fhir.hits["/fhir/Condition"], running.fhir.hits["/fhir/Observation"]
    response = running.post(PATIENT_VIEW, running.hook(HERSHEL, prefetch=prefetch))
    assert response.status_code == 200
    assert running.fhir.hits["/fhir/Condition"] > before[0]
    assert running.fhir.hits["/fhir/Observation"] == before[1]
    assert comparable(response.json()["cards"]) == comparable(
        expected_cards(running.kb, record_of(running.records, HERSHEL))
    )


def test_null_prefetch_means_no_data(running: Running) -> None:
    prefetch = running.records.prefetch(HERSHEL)
    prefetch["conditions"] = None
    body = running.hook(HERSHEL, prefetch=prefetch, fhir_server=None)
    response = running.post(PATIENT_VIEW, body)
    assert response.status_code == 200
    assert response.json() == {"cards": []}  # no condition the rules treat


def test_missing_prefetch_without_a_fhir_server_is_412(running: Running) -> None:
    prefetch = running.records.prefetch(HERSHEL)
    del prefetch["conditions"]
    response = running.post(
        PATIENT_VIEW, running.hook(HERSHEL, prefetch=prefetch, fhir_server=None)
    )
    assert response.status_code == 412
    assert response.json()["error"] == "precondition_failed"


def test_order_select_cards_for_the_selected_orders(running: Running) -> None:
    prefetch = running.records.prefetch(HERSHEL)
    heart_failure = active_condition("hf-1", HEART_FAILURE)
    prefetch["conditions"]["entry"].append({"resource": heart_failure})

    def order(rid: str, code: str) -> dict[str, Any]:
        return {
            "resourceType": "MedicationRequest",
            "id": rid,
            "status": "draft",
            "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code}]},
            "subject": {"reference": f"Patient/{HERSHEL}"},
        }

    context = {
        "selections": ["MedicationRequest/tnf", "MedicationRequest/mtx"],
        "draftOrders": {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {"resource": order("tnf", "327361")},
                {"resource": order("mtx", "105586")},
                {"resource": order("unselected", "327361")},
            ],
        },
    }
    body = running.hook(
        HERSHEL, prefetch=prefetch, fhir_server=None, path=ORDER_SELECT, context=context
    )
    response = running.post(ORDER_SELECT, body)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    for card in cards:
        check_card(card)
    critical = [c for c in cards if c["indicator"] == "critical"]
    assert len(critical) == 1
    assert "TNF inhibitors" in critical[0]["summary"]
    assert "MedicationRequest/tnf" in critical[0]["detail"]
    assert "MedicationRequest/unselected" not in critical[0]["detail"]
    assert "`SAFETY-TNFI-HEART-FAILURE`" in critical[0]["detail"]
    # methotrexate's code names the coarser conventional csDMARDs; a finer class is suggested
    matching = [c for c in cards if c["summary"].startswith("Selected order (")]
    assert len(matching) == 1 and "MedicationRequest/mtx" in matching[0]["detail"]
    assert (
        matching[0]["indicator"] == "info" and " includes a first line " in matching[0]["summary"]
    )
    assert cards[0]["indicator"] == "critical"

    context["selections"] = ["ServiceRequest/x"]  # nothing the rules know about: no card
    response = running.post(
        ORDER_SELECT,
        running.hook(
            HERSHEL, prefetch=prefetch, fhir_server=None, path=ORDER_SELECT, context=context
        ),
    )
    assert response.json() == {"cards": []}


# -- a FHIR server that is down or slow ----------------------------------------------------------


def test_a_down_fhir_server_gives_no_cards(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="immunorules.service")
    body = running.hook(HERSHEL, fhir_server=f"http://127.0.0.1:{closed_port()}/fhir")
    started = time.monotonic()
    response = running.post(PATIENT_VIEW, body)
    assert time.monotonic() - started < FHIR_TIMEOUT + 1
    assert response.status_code == 200
    assert response.json() == {"cards": []}
    assert "unreachable" in caplog.text


def test_a_slow_fhir_server_gives_no_cards_within_the_timeout(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="immunorules.service")
    body = running.hook(HERSHEL, fhir_server=running.fhir.url + "/slow")
    started = time.monotonic()
    response = running.post(PATIENT_VIEW, body)
    took = time.monotonic() - started
    assert response.status_code == 200
    assert response.json() == {"cards": []}
    assert FHIR_TIMEOUT - 0.1 < took < FHIR_TIMEOUT + 1
    assert "timed out" in caplog.text or "took over" in caplog.text


def test_a_fhir_server_refusing_the_token_gives_no_cards(running: Running) -> None:
    response = running.post(PATIENT_VIEW, running.hook(HERSHEL, fhir_token="not-the-token"))
    assert response.json() == {"cards": []}


# -- security ------------------------------------------------------------------------------------


def refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Traceback" not in response.text


def test_tokens_from_both_kinds_of_key_source_are_accepted(running: Running) -> None:
    body = running.hook(HERSHEL, prefetch=running.records.prefetch(HERSHEL), fhir_server=None)
    for signer in (running.signer, running.file_signer):
        token = running.token(PATIENT_VIEW, signer)
        assert running.post(PATIENT_VIEW, body, token=token).status_code == 200
    # the audience may be a list
    token = running.signer.token([running.base + PATIENT_VIEW, "https://elsewhere.example.org"])
    assert running.post(PATIENT_VIEW, body, token=token).status_code == 200


def test_the_jwks_url_is_fetched_once_and_cached(running: Running) -> None:
    body = running.hook(HERSHEL, prefetch=running.records.prefetch(HERSHEL), fhir_server=None)
    for _ in range(3):
        assert running.post(PATIENT_VIEW, body).status_code == 200
    assert running.fhir.hits["/jwks/ehr"] == 1


#: Each bad token, and why the service refuses it (in its log, never in the answer).
BAD_TOKENS = {
    "missing": "no bearer token",
    "not bearer": "no bearer token",
    "garbage": "malformed token",
    "expired": "expired token",
    "wrong audience": "wrong audience",
    "audience of another endpoint": "wrong audience",
    "unknown issuer": "issuer not on the allow-list",
    "bad signature": "bad signature",
    "unsigned": "algorithm not allowed",
    "hmac with the public key": "algorithm not allowed",
    "no kid": "no kid",
    "unknown kid": "unknown kid",
    "no jti": "a required claim is missing",
    "issued in the future": "token not valid yet",
    "lives too long": "token lives longer",
    "foreign jku": "jku is not the JWK Set URL",
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_bad_tokens_are_refused(
    running: Running, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="immunorules.service")
    path = PATIENT_VIEW
    audience = running.base + path
    signer = running.signer
    body = running.hook(HERSHEL, prefetch=running.records.prefetch(HERSHEL), fhir_server=None)
    now = int(time.time())
    token: str | None
    if case == "missing":
        refused(running.post(path, body, token=None))
    elif case == "not bearer":
        refused(running.post(path, body, token=None, Authorization="Basic dXNlcjpwYXNz"))
    tokens: dict[str, Callable[[], str]] = {
        "garbage": lambda: "not.a.token",
        "expired": lambda: signer.token(audience, iat=now - 600, exp=now - 300),
        "wrong audience": lambda: signer.token("https://cds.example.org" + path),
        "audience of another endpoint": lambda: signer.token(running.base + "/cds-services"),
        "unknown issuer": lambda: Signer(
            "https://intruder.example.org", kid=signer.kid, key=signer.key
        ).token(audience),
        "bad signature": lambda: Signer(EHR, kid=signer.kid).token(audience),
        "unsigned": lambda: _raw_token(
            {"alg": "none", "typ": "JWT", "kid": signer.kid}, _claims(audience), None
        ),
        "hmac with the public key": lambda: _hmac_token(signer, audience),
        "no kid": lambda: jwt.encode(
            {"iss": EHR, "aud": audience, "exp": now + 300, "iat": now, "jti": uuid.uuid4().hex},
            signer.key,
            algorithm="ES384",
        ),
        "unknown kid": lambda: Signer(EHR, key=signer.key).token(audience),
        "no jti": lambda: signer.token(audience, jti=None),
        "issued in the future": lambda: signer.token(audience, iat=now + 600, exp=now + 900),
        "lives too long": lambda: signer.token(audience, lifetime=24 * 3600),
        "foreign jku": lambda: signer.token(
            audience, headers={"jku": "https://intruder.example.org/jwks.json"}
        ),
    }
    if case in tokens:
        token = tokens[case]()
        refused(running.post(path, body, token=token))
        assert token not in caplog.text
    assert f"token refused: {BAD_TOKENS[case]}" in caplog.text


def _claims(audience: str) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": EHR, "aud": audience, "exp": now + 300, "iat": now, "jti": uuid.uuid4().hex}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_token(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """A token built by hand: unsigned (``secret`` None) or signed with HMAC-SHA256."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if secret is None:
        return signing_input + "."
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _hmac_token(signer: Signer, audience: str) -> str:
    """HS256 with the public key as the shared secret: the classic algorithm confusion."""
    pem = signer.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return _raw_token({"alg": "HS256", "typ": "JWT", "kid": signer.kid}, _claims(audience), pem)


def test_a_replayed_token_is_refused(running: Running) -> None:
    body = running.hook(HERSHEL, prefetch=running.records.prefetch(HERSHEL), fhir_server=None)
    token = running.token(PATIENT_VIEW)
    assert running.post(PATIENT_VIEW, body, token=token).status_code == 200
    refused(running.post(PATIENT_VIEW, body, token=token))


def test_discovery_and_feedback_need_a_token_too(running: Running) -> None:
    refused(running.client.get(running.base + "/cds-services"))
    refused(running.post(PATIENT_VIEW + "/feedback", {"feedback": []}, token=None))


# -- bad requests --------------------------------------------------------------------------------


def test_bad_requests_get_json_4xx(running: Running) -> None:
    good = running.hook(HERSHEL, prefetch=running.records.prefetch(HERSHEL), fhir_server=None)
    cases: list[tuple[int, str, httpx.Response]] = [
        (400, "bad_json", running.post(PATIENT_VIEW, b"{not json")),
        (400, "bad_request", running.post(PATIENT_VIEW, [1, 2])),
        (404, "unknown_service", running.post("/cds-services/no-such-service", good)),
        (400, "wrong_hook", running.post(PATIENT_VIEW, {**good, "hook": "order-sign"})),
        (400, "missing_context", running.post(PATIENT_VIEW, {**good, "context": None})),
        (400, "missing_context", running.post(PATIENT_VIEW, {**good, "context": {}})),
        (
            400,
            "missing_context",
            running.post(PATIENT_VIEW, {**good, "context": {"patientId": "../../etc"}}),
        ),
        (400, "missing_context", running.post(ORDER_SELECT, {**good, "hook": "order-select"})),
        (400, "bad_request", running.post(PATIENT_VIEW, {**good, "hookInstance": 7})),
        (400, "bad_request", running.post(PATIENT_VIEW, {**good, "fhirServer": "file:///etc"})),
        (400, "bad_prefetch", running.post(PATIENT_VIEW, {**good, "prefetch": {"patient": "x"}})),
        (  # another patient's record is dropped: without a FHIR server to ask, 412
            412,
            "precondition_failed",
            running.post(
                PATIENT_VIEW,
                {
                    **good,
                    "prefetch": {
                        **good["prefetch"],
                        "patient": {"resourceType": "Patient", "id": "someone-else"},
                    },
                },
            ),
        ),
        (
            400,
            "invalid_fhir",
            running.post(
                PATIENT_VIEW,
                {
                    **good,
                    "prefetch": {
                        **good["prefetch"],
                        "patient": {**good["prefetch"]["patient"], "birthDate": "yesterday"},
                    },
                },
            ),
        ),
        (404, "not_found", running.client.get(running.base + "/nowhere")),
        (
            405,
            "method_not_allowed",
            running.client.get(
                running.base + PATIENT_VIEW,
                headers={"Authorization": f"Bearer {running.token(PATIENT_VIEW)}"},
            ),
        ),
    ]
    for status, error, response in cases:
        assert response.status_code == status, (error, response.text)
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["error"] == error, response.text
        assert "Traceback" not in response.text


def test_requests_over_the_size_limit_get_413(running: Running) -> None:
    big = running.hook(HERSHEL, prefetch=running.records.prefetch(HERSHEL), fhir_server=None)
    big["extension"] = {"org.example.padding": "x" * (1024 * 1024)}
    response = running.post(PATIENT_VIEW, big)
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        yield json.dumps(big).encode()

    response = running.client.post(
        running.base + PATIENT_VIEW,
        content=chunks(),
        headers={"Authorization": f"Bearer {running.token(PATIENT_VIEW)}"},
    )
    assert response.status_code == 413


@needs_shared
def test_a_large_record_as_prefetch_is_over_the_default_limit(running: Running) -> None:
    patient = "79a66c97-6131-3213-f3c9-4606946ab056"  # about 2 MB of resources
    body = running.hook(patient, prefetch=running.records.prefetch(patient), fhir_server=None)
    assert running.post(PATIENT_VIEW, body).status_code == 413


def test_an_internal_error_is_a_generic_500_and_logged_without_detail(
    make_kb: MakeKB, caplog: pytest.LogCaptureFixture
) -> None:
    class Failing:
        """A knowledge base whose evaluation fails with patient data in the message."""

        def __init__(self, kb: ir.KnowledgeBase) -> None:
            self._kb = kb

        def __getattr__(self, name: str) -> Any:
            return getattr(self._kb, name)

        def evaluate(self, profile: Any) -> Any:
            raise RuntimeError(f"secret detail {HERSHEL}")

    caplog.set_level(logging.INFO, logger="immunorules.service")
    records = Records()
    records.add_bundle(LOCAL_BUNDLE)
    app = create_app(Failing(ir.load_rules(engine="native")), allow_unauthenticated=True)  # type: ignore[arg-type]
    with serving(app, free_socket()) as base, httpx.Client(timeout=30) as client:
        body = {
            "hook": "patient-view",
            "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/1", "patientId": HERSHEL},
            "prefetch": records.prefetch(HERSHEL),
        }
        response = client.post(base + PATIENT_VIEW, json=body)
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "message": "the service failed to answer"}
    assert "secret" not in caplog.text and HERSHEL not in caplog.text
    assert "internal error (RuntimeError)" in caplog.text


# -- CORS ----------------------------------------------------------------------------------------


def test_cors_preflight_and_responses(running: Running) -> None:
    response = running.client.options(
        running.base + PATIENT_VIEW,
        headers={
            "Origin": SANDBOX_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SANDBOX_ORIGIN
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "POST" in response.headers["access-control-allow-methods"]
    response = running.client.get(
        running.base + "/cds-services",
        headers={
            "Origin": SANDBOX_ORIGIN,
            "Authorization": f"Bearer {running.token('/cds-services')}",
        },
    )
    assert response.headers["access-control-allow-origin"] == SANDBOX_ORIGIN
    refused_origin = running.client.get(
        running.base + "/cds-services", headers={"Origin": "https://evil.example.org"}
    )
    assert "access-control-allow-origin" not in refused_origin.headers


# -- feedback ------------------------------------------------------------------------------------


def test_feedback_is_appended_without_free_text(running: Running) -> None:
    path = PATIENT_VIEW + "/feedback"
    card = str(uuid.uuid4())
    body = {
        "feedback": [
            {
                "card": card,
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": "s-1"}],
                "outcomeTimestamp": "2026-11-30T10:05:31Z",
            },
            {
                "card": card,
                "outcome": "overridden",
                "outcomeTimestamp": "2026-11-30T10:06:00Z",
                "overrideReason": {
                    "reason": {
                        "system": "https://example.org/r",
                        "code": "r1",
                        "display": "Patient refused",
                    },
                    "userComment": f"patient {HERSHEL} said no",
                },
            },
        ]
    }
    response = running.post(path, body)
    assert response.status_code == 200
    assert response.json() == {"recorded": 2}
    lines = [json.loads(line) for line in running.feedback.read_text().splitlines()]
    assert [line["outcome"] for line in lines[-2:]] == ["accepted", "overridden"]
    assert lines[-2]["acceptedSuggestions"] == ["s-1"] and lines[-2]["issuer"] == EHR
    assert lines[-1]["overrideReason"]["code"] == "r1" and lines[-1]["userCommentGiven"] is True
    assert HERSHEL not in running.feedback.read_text()
    assert running.post(path, body).status_code == 200  # append-only: the lines stay
    assert len(running.feedback.read_text().splitlines()) == len(lines) + 2
    bad: dict[str, Any]
    for bad in (
        {},
        {"feedback": []},
        {"feedback": [{"card": card}]},
        {"feedback": [{"card": card, "outcome": "maybe", "outcomeTimestamp": "x"}]},
    ):
        response = running.post(path, bad)
        assert response.status_code == 400 and response.json()["error"] == "bad_feedback"
    assert running.post("/cds-services/nope/feedback", body).status_code == 404


# -- logs ----------------------------------------------------------------------------------------


def test_logs_hold_no_patient_data_at_the_default_level(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    patient = running.records.patients[HERSHEL]
    token = running.token(PATIENT_VIEW)
    prefetch = running.records.prefetch(HERSHEL)
    del prefetch["conditions"]  # one part fetched from the FHIR server
    response = running.post(PATIENT_VIEW, running.hook(HERSHEL, prefetch=prefetch), token=token)
    assert response.status_code == 200 and response.json()["cards"]
    running.post(PATIENT_VIEW, running.hook(HERSHEL, prefetch=prefetch), token=token)  # replayed
    request_id = response.headers["x-request-id"]
    text = caplog.text
    assert f"request {request_id} POST service immunorules-patient-view -> 200" in text
    assert "hook=patient-view" in text and "cards=" in text
    assert "replayed token" in text
    names = [part for name in patient["name"] for part in (*name.get("given", ()), name["family"])]
    secrets = [
        HERSHEL,
        *names,
        patient["birthDate"],
        "69896004",
        "rheumatoid",
        FHIR_TOKEN,
        token,
        token.split(".")[2],
    ]
    for secret in secrets:
        assert secret not in text, secret


# -- the cards themselves -------------------------------------------------------------------------


def test_indicators_follow_the_kind_of_line(make_kb: MakeKB) -> None:
    long_title = "A rule whose title goes on " + "and on " * 40
    kb = make_kb(
        [
            {
                **rule(
                    "R-SUPPRESS",
                    {"suggest": [{"category": "immunosuppressants", "tier": "first_line"}]},
                ),
                "title": long_title,
            },
            rule(
                "R-STIMULATE", {"suggest": [{"category": "immunostimulants", "tier": "first_line"}]}
            ),
            rule(
                "R-FLAG",
                {
                    "flag": ["cellular_therapies"],
                    "suggest": [{"category": "cellular_therapies", "tier": "escalation"}],
                },
            ),
            rule(
                "R-AVOID", {"avoid": [{"subcategory": "tnf_inhibitors"}], "advise": ["hbv_screen"]}
            ),
        ]
    )
    result = kb.evaluate({"immune_activity": "overactive", "condition": "rheumatoid_arthritis"})
    cards = cards_from_result(result)
    by_kind = {card["indicator"]: card for card in reversed(cards)}
    assert [card["indicator"] for card in cards] == sorted(
        (card["indicator"] for card in cards), key=["critical", "warning", "info"].index
    )
    assert by_kind["critical"]["summary"].startswith("Avoid TNF inhibitors")
    warnings = [card["summary"] for card in cards if card["indicator"] == "warning"]
    assert any(s.startswith("Conflict") for s in warnings)
    assert any("flagged for specialist review" in s for s in warnings)
    for card in cards:
        check_card(card)
        assert len(card["summary"]) <= MAX_SUMMARY
    assert any(card["summary"].endswith("\u2026") for card in cards)
    advisories = cards_from_result(result, parts=("advisories",))
    assert [card["summary"].split(":")[0] for card in advisories] == ["Caution"]
    with pytest.raises(ValueError, match="unknown parts"):
        cards_from_result(result, parts=("avoids",))


def test_create_app_needs_issuers_or_the_development_switch(kb: ir.KnowledgeBase) -> None:
    with pytest.raises(ValueError, match="trusted issuers"):
        create_app(kb)
    with pytest.raises(ValueError, match="audience"):
        create_app(kb, issuers={EHR: "https://ehr.example.org/jwks.json"})
    with pytest.raises(ValueError, match="JWK Set"):
        create_app(kb, issuers={EHR: {"keys": []}}, audience="https://cds.example.org")


# -- the command line ----------------------------------------------------------------------------


def test_serve_refuses_unsafe_or_incomplete_options() -> None:
    from immunorules._cli.main import main

    assert main(["serve"]) == 2
    assert main(["serve", "--allow-unauthenticated", "--host", "0.0.0.0"]) == 2
    assert main(["serve", "--issuer", "no-equals-sign"]) == 2


def test_serve_command_answers_over_http(tmp_path: Path) -> None:
    with serve_process(tmp_path, "--engine", "native") as server:
        response = httpx.get(server.base + "/cds-services", timeout=5)
        assert response.status_code == 200
        assert "UNAUTHENTICATED" in response.json()["services"][0]["description"]
    err = server.logged()  # the process has ended: all of it
    assert "UNAUTHENTICATED DEVELOPMENT MODE" in err
    assert "GET discovery -> 200" in err


# -- fixes from use, round 2 (issue 23) -----------------------------------------------------------


def test_the_replay_cache_size_is_honoured(kb: ir.KnowledgeBase) -> None:
    """A small replay cache is full after that many tokens (503), not silently the default."""
    signer = Signer(EHR)
    sock, base = loopback()
    app = create_app(kb, issuers={EHR: signer.jwks()}, audience=base, replay_cache_size=2)
    with serving(app, sock) as url, httpx.Client(timeout=30) as client:
        statuses = [
            client.get(
                url + "/cds-services",
                headers={"Authorization": f"Bearer {signer.token(base + '/cds-services')}"},
            ).status_code
            for _ in range(3)
        ]
    assert statuses == [200, 200, 503]


def test_duplicate_json_keys_are_refused_naming_the_key(running: Running) -> None:
    good = running.hook(HERSHEL, prefetch=running.records.prefetch(HERSHEL), fhir_server=None)
    text = json.dumps(good)
    doubled = text.replace('"hook": ', '"hook": "order-sign", "hook": ', 1).encode()
    response = running.post(PATIENT_VIEW, doubled)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_json"
    assert "'hook' appears twice" in response.json()["message"]
    nested = text.replace('"resourceType": "Patient"', '"id": "x", "resourceType": "Patient"', 1)
    response = running.post(PATIENT_VIEW, nested.encode())
    assert response.status_code == 400 and "'id' appears twice" in response.json()["message"]
    feedback = b'{"feedback": [], "feedback": [{"card": "c"}]}'
    response = running.post(PATIENT_VIEW + "/feedback", feedback)
    assert response.status_code == 400 and response.json()["error"] == "bad_json"
    response = running.post(PATIENT_VIEW, text.replace('"context"', '"n": NaN, "context"').encode())
    assert response.status_code == 400 and response.json()["error"] == "bad_json"


def test_hostile_requests_get_json_4xx_never_500(running: Running) -> None:
    prefetch = running.records.prefetch(HERSHEL)
    good = running.hook(HERSHEL, prefetch=prefetch, fhir_server=None)
    condition = prefetch["conditions"]["entry"][0]["resource"]
    without_conditions = {k: v for k, v in prefetch.items() if k != "conditions"}
    bodies: list[tuple[str, dict[str, Any]]] = [
        (
            "bad_prefetch",
            {
                **good,
                "prefetch": {**prefetch, "conditions": {"resourceType": "Bundle", "entry": 5}},
            },
        ),
        (
            "bad_prefetch",
            {
                **good,
                "prefetch": {
                    **prefetch,
                    "conditions": {"resourceType": "Bundle", "entry": {"resource": condition}},
                },
            },
        ),
        (
            "bad_prefetch",
            {
                **good,
                "prefetch": {
                    **prefetch,
                    "conditions": {"resourceType": "Bundle", "entry": [], "link": 5},
                },
            },
        ),
        (
            "bad_prefetch",
            {
                **good,
                "prefetch": {
                    **prefetch,
                    "conditions": {
                        "resourceType": "Bundle",
                        "entry": [{"resource": {**condition, "contained": 5}}],
                    },
                },
            },
        ),
        (
            "bad_prefetch",
            {**good, "prefetch": {**prefetch, "conditions": {**condition, "contained": {"a": 1}}}},
        ),
    ]
    for server in (
        "http://[",
        "http://[::1",
        "http://a.example:99999",
        "http://a.example:x",
        "http://a\x00b.example",
        "http://xn--.example",
        "http://a b.example",
        "http://\u2603\u2603..example",
        "http://a.example\r\nX: y",
        7,
    ):
        bodies.append(
            ("bad_request", {**good, "prefetch": without_conditions, "fhirServer": server})
        )
    for token in ("\u00e9t\u00e9", "a\r\nX-Injected: 1", "", 5):
        bodies.append(
            (
                "bad_request",
                {
                    **good,
                    "prefetch": without_conditions,
                    "fhirServer": running.fhir.url + "/fhir",
                    "fhirAuthorization": {"access_token": token},
                },
            )
        )
    for error, body in bodies:
        response = running.post(PATIENT_VIEW, body)
        assert response.status_code == 400, (error, response.text, body.get("fhirServer"))
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["error"] == error, response.text
    huge = running.signer.token(running.base + "/cds-services", exp=10**400)
    refused(
        running.client.get(
            running.base + "/cds-services", headers={"Authorization": f"Bearer {huge}"}
        )
    )
    surrogate = (
        b'{"feedback": [{"card": "\\ud800", "outcome": "accepted", "outcomeTimestamp": "t"}]}'
    )
    response = running.post(PATIENT_VIEW + "/feedback", surrogate)
    assert response.status_code == 400 and response.json()["error"] == "bad_json", response.text
    assert "surrogate" in response.json()["message"]


def test_a_client_leaving_mid_body_is_no_error(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="immunorules.service")
    host, port = running.base.removeprefix("http://").split(":")
    token = running.token(PATIENT_VIEW)
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            f"POST {PATIENT_VIEW} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            'Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"hook": '.encode()
        )
        time.sleep(0.3)
    deadline = time.monotonic() + 5
    while "disconnected" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "the client disconnected" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert "internal error" not in caplog.text


def test_cors_preflight_answers_are_not_text(running: Running) -> None:
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    response = running.client.options(
        running.base + PATIENT_VIEW, headers={"Origin": SANDBOX_ORIGIN, **asked}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SANDBOX_ORIGIN
    assert response.content == b"" and "content-type" not in response.headers
    response = running.client.options(
        running.base + PATIENT_VIEW, headers={"Origin": "https://evil.example.org", **asked}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == "cors_refused"
    assert "access-control-allow-origin" not in response.headers


def test_the_token_is_checked_before_the_service_id(running: Running) -> None:
    for path in (
        "/cds-services/no-such-service",
        "/cds-services/no-such-service/feedback",
        "/cds-services/a/b/c",
        "/cds-services/",
    ):
        refused(running.post(path, {}, token=None))
        refused(running.client.get(running.base + path))
    refused(running.client.get(running.base + PATIENT_VIEW))
    unknown = running.post("/cds-services/no-such-service", {})
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_service"
    deeper = running.post("/cds-services/a/b/c", {})
    assert deeper.status_code == 404 and deeper.json()["error"] == "not_found"


def test_feedback_lines_survive_splitlines(running: Running) -> None:
    card = "card\u2028two\u2029three\x85four"
    body = {"feedback": [{"card": card, "outcome": "overridden", "outcomeTimestamp": "t\u2028"}]}
    before = running.feedback.read_text(encoding="utf-8") if running.feedback.exists() else ""
    assert running.post(PATIENT_VIEW + "/feedback", body).status_code == 200
    added = running.feedback.read_text(encoding="utf-8")[len(before) :]
    assert len(added.splitlines()) == 1
    assert json.loads(added)["card"] == card


def test_a_failed_feedback_write_leaves_no_partial_line(tmp_path: Path) -> None:
    """A write that fails part-way (the file size limit stands in for a full disk) leaves the
    log as it was: whole lines only."""
    import resource
    import signal

    from immunorules.service._feedback import FeedbackLog

    log = FeedbackLog(tmp_path / "feedback.jsonl")
    log.append([{"card": "first"}])
    size = log.path.stat().st_size
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 40, hard))
    try:
        with pytest.raises(OSError, match=r"written|too large"):
            log.append([{"card": "second " + "x" * 200}])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert log.path.read_text().splitlines() == ['{"card": "first"}']
    log.append([{"card": "third"}])
    assert [json.loads(line)["card"] for line in log.path.read_text().splitlines()] == [
        "first",
        "third",
    ]


def test_an_unknown_resource_type_in_prefetch_is_400(running: Running) -> None:
    prefetch = running.records.prefetch(HERSHEL)
    good = running.hook(HERSHEL, prefetch=prefetch, fhir_server=None)
    for value in (
        {"resourceType": "Foo"},
        {"resourceType": "Element"},
        {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Conditoin"}}]},
    ):
        response = running.post(
            PATIENT_VIEW, {**good, "prefetch": {**prefetch, "conditions": value}}
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "bad_prefetch"


def test_a_prefetched_patient_bundle_about_someone_else_is_not_used(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="immunorules.service")
    prefetch = running.records.prefetch(HERSHEL)
    other = {**prefetch["patient"], "id": "someone-else", "birthDate": "1901-02-03"}
    prefetch["patient"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": other}],
    }
    response = running.post(
        PATIENT_VIEW, running.hook(HERSHEL, prefetch=prefetch, fhir_server=None)
    )
    assert response.status_code == 412, response.text
    before = running.fhir.hits[f"/fhir/Patient/{HERSHEL}"]
    response = running.post(PATIENT_VIEW, running.hook(HERSHEL, prefetch=prefetch))
    assert response.status_code == 200
    assert running.fhir.hits[f"/fhir/Patient/{HERSHEL}"] == before + 1
    expected = expected_cards(running.kb, record_of(running.records, HERSHEL))
    assert comparable(response.json()["cards"]) == comparable(expected)
    assert "another patient" in caplog.text
    assert "someone-else" not in caplog.text and "1901-02-03" not in caplog.text


def test_prefetched_resources_about_someone_else_are_not_used(running: Running) -> None:
    """A Condition about another patient (or a group) in a prefetch Bundle is left out by the
    FHIR reader, as it is from a FHIR server's answer: the cards are those of the patient's own
    record (before: another patient's heart failure gave an "Avoid TNF inhibitors" card)."""
    prefetch = running.records.prefetch(HERSHEL)
    for subject in ("Patient/someone-else", f"Patient/someone-else/_history/{HERSHEL}", "Group/1"):
        rid = f"hf-{len(prefetch['conditions']['entry'])}"
        heart_failure = active_condition(rid, HEART_FAILURE, subject=subject)
        prefetch["conditions"]["entry"].append({"resource": heart_failure})
    response = running.post(
        PATIENT_VIEW, running.hook(HERSHEL, prefetch=prefetch, fhir_server=None)
    )
    assert response.status_code == 200, response.text
    expected = expected_cards(running.kb, record_of(running.records, HERSHEL))
    assert comparable(response.json()["cards"]) == comparable(expected)


def test_a_jwks_file_is_read_only_up_to_its_size_limit(tmp_path: Path) -> None:
    """``--issuer a=/dev/zero`` must not read forever: a pipe that never ends stands in for it."""
    import threading

    from immunorules.service._auth import MAX_JWKS_BYTES, issuer_keys

    fifo = tmp_path / "endless"
    os.mkfifo(fifo)
    written = 0

    def endless() -> None:
        nonlocal written
        chunk = b" " * 65536
        try:
            with open(fifo, "wb") as pipe:
                while written < 64 * MAX_JWKS_BYTES:
                    pipe.write(chunk)
                    written += len(chunk)
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=endless, daemon=True)
    writer.start()
    with pytest.raises(ValueError, match="larger than"):
        issuer_keys(fifo, ttl=60)
    writer.join(timeout=10)
    assert written < 8 * MAX_JWKS_BYTES


def test_a_trickling_jwks_url_has_an_overall_deadline() -> None:
    """A JWK Set URL that sends a byte at a time keeps the token check waiting no longer than the
    deadline: the token is refused (no key), and the service stays up."""
    import asyncio
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from immunorules.service._auth import issuer_keys

    class Trickle(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                for _ in range(60):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    keys = issuer_keys(f"http://127.0.0.1:{httpd.server_address[1]}/jwks", ttl=60, deadline=0.5)

    async def fetch() -> Any:
        async with httpx.AsyncClient(timeout=5) as client:
            return await keys.key("some-kid", client)

    started = time.monotonic()
    try:
        assert asyncio.run(fetch()) is None
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert time.monotonic() - started < 2.5


def _connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _answer(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection (b"" if it only closed it)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def test_request_heads_over_the_size_limit_are_refused(running: Running) -> None:
    with _connect(running.base) as sock:  # just over the limit: a 431 with a JSON body
        sock.sendall(
            b"GET /cds-services HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"a" * (70 * 1024)
        )
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"] == "too_large"
    sent = 0
    with _connect(running.base) as sock:  # a huge header: the server stops reading it early
        sock.sendall(b"GET /cds-services HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")
        try:
            while sent < 8 * 1024 * 1024:
                sock.sendall(b"a" * 65536)
                sent += 65536
                time.sleep(0.005)
        except OSError:  # reset or broken pipe: the server closed the connection
            pass
    assert sent < 2 * 1024 * 1024
    token = "a" * (32 * 1024)  # large but under the limit: an ordinary refused token
    refused(
        running.client.get(
            running.base + "/cds-services", headers={"Authorization": f"Bearer {token}"}
        )
    )


def _trickle(sock: socket.socket, chunk: bytes) -> None:
    """Send ``chunk`` every 0.1 s for up to 4 s, until the server closes the connection."""
    try:
        for _ in range(40):
            sock.sendall(chunk)
            time.sleep(0.1)
    except OSError:
        pass


def test_slow_clients_are_cut_off(kb: ir.KnowledgeBase) -> None:
    """A request head or body that trickles in is cut off (408) after its deadline, and a
    connection that sends nothing is closed: slow clients cannot hold connections open."""
    app = create_app(kb, allow_unauthenticated=True, read_timeout=0.5)
    with serving(app, free_socket(), header_timeout=0.5) as base:
        started = time.monotonic()
        with _connect(base) as sock:
            sock.sendall(b"GET /cds-services HTTP/1.1\r\nHost: x\r\n")
            _trickle(sock, b"X-Slow: 1\r\n")
            answer = _answer(sock)
        assert time.monotonic() - started < 3
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]
        started = time.monotonic()
        with _connect(base) as sock:  # connects and says nothing
            assert _answer(sock).startswith(b"HTTP/1.1 408 ")
        assert time.monotonic() - started < 3
        started = time.monotonic()
        with _connect(base) as sock:
            sock.sendall(
                f"POST {PATIENT_VIEW} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Content-Length: 1000\r\n\r\n{".encode()
            )
            _trickle(sock, b" ")
            answer = _answer(sock)
        assert time.monotonic() - started < 3
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"] == "timeout"
        assert httpx.get(base + "/cds-services", timeout=10).status_code == 200


def test_a_heavy_prefetch_is_read_off_the_event_loop_within_its_deadline(
    kb: ir.KnowledgeBase, records: Records
) -> None:
    """A prefetch with 108,000 codings takes seconds to read: other calls are answered in the
    meantime, and the call itself ends at its deadline (no cards, logged)."""
    import threading

    prefetch = records.prefetch(HERSHEL)
    condition = prefetch["conditions"]["entry"][0]["resource"]
    for number in range(6):
        coding = [{"system": SNOMED, "code": str(100000 + i)} for i in range(18000)]
        heavy = {**condition, "id": f"heavy-{number}", "code": {"coding": coding}}
        prefetch["conditions"]["entry"].append({"resource": heavy})
    body = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/1", "patientId": HERSHEL},
        "prefetch": prefetch,
    }
    content = json.dumps(body).encode()
    # What reading this record costs on this machine now (shared machines swing 3-20x): a call
    # waiting behind a blocked event loop would wait about that long.
    started = time.monotonic()
    resources = [e["resource"] for e in prefetch["conditions"]["entry"]]
    profile_from_fhir([prefetch["patient"], *resources], kb=kb, validate="used")
    reading = time.monotonic() - started
    app = create_app(
        kb, allow_unauthenticated=True, max_request_bytes=16 * 1024 * 1024, answer_timeout=0.1
    )
    with serving(app, free_socket()) as base, httpx.Client(timeout=30) as client:
        assert client.get(base + "/cds-services").status_code == 200
        done: list[tuple[float, httpx.Response]] = []

        def heavy_call() -> None:
            started = time.monotonic()
            response = client.post(base + PATIENT_VIEW, content=content)
            done.append((time.monotonic() - started, response))

        caller = threading.Thread(target=heavy_call)
        caller.start()
        slowest = 0.0
        while caller.is_alive():
            started = time.monotonic()
            assert client.get(base + "/cds-services").status_code == 200
            slowest = max(slowest, time.monotonic() - started)
            time.sleep(0.02)
        caller.join()
    took, response = done[0]
    assert response.status_code == 200
    if took > 1:  # reading it outlasted the deadline: the call ends there, with no cards
        assert response.json() == {"cards": []}
    assert took < max(6, 3 * reading), (took, reading)
    # never waiting for the reading: well under what it costs (and under 0.75 s when it is fast)
    assert slowest < max(0.75, reading / 2), (slowest, reading)


def test_a_flood_of_idle_connections_meets_a_json_503_not_a_dead_server(
    kb: ir.KnowledgeBase,
) -> None:
    """Connections over the limit are answered at once with a JSON 503 and closed, so a flood
    of slow clients holds at most the limit's file descriptors; when they leave, calls are
    served again."""
    app = create_app(kb, allow_unauthenticated=True)
    with serving(app, free_socket(), max_connections=8, header_timeout=30) as base:
        idle = [_connect(base) for _ in range(8)]  # connect and say nothing
        try:
            time.sleep(0.3)
            flood = [_connect(base) for _ in range(40)]
            answers = [_answer(sock) for sock in flood]
            for sock in flood:
                sock.close()
            assert all(a.startswith(b"HTTP/1.1 503 ") for a in answers), answers[0][:200]
            head, body = answers[0].split(b"\r\n\r\n", 1)
            assert b"content-type: application/json" in head.lower()
            assert json.loads(body)["error"] == "unavailable"
            response = httpx.get(base + "/cds-services", timeout=10)
            assert response.status_code == 503
            assert response.headers["content-type"] == "application/json"
            assert response.json()["error"] == "unavailable"
        finally:
            for sock in idle:
                sock.close()
        time.sleep(0.3)
        assert httpx.get(base + "/cds-services", timeout=10).status_code == 200


def test_the_connection_limit_stays_below_the_open_file_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import resource

    from immunorules.service import _server

    monkeypatch.setattr(resource, "getrlimit", lambda which: (256, 4096))
    assert _server.connection_limit(200) == 256 - _server.FD_RESERVE
    assert _server.uvicorn_options()["limit_concurrency"] == 256 - _server.FD_RESERVE
    monkeypatch.setattr(resource, "getrlimit", lambda which: (100_000, 100_000))
    assert _server.connection_limit(200) == 200


def test_a_flood_of_slow_clients_at_a_low_file_limit_leaves_the_service_answering(
    tmp_path: Path,
) -> None:
    """The service in its own process with 256 open files at most (as in the report: 300 slow
    clients at fd limit 256 refused every normal call): 300 connections that send nothing, then
    a normal call gets an answer (a JSON 503 while they hold on, 200 once they are gone)."""
    with serve_process(tmp_path, "--log-level", "error", file_limit=256) as server:
        base = server.base
        flood = []
        for _ in range(300):
            try:
                flood.append(_connect(base))
            except OSError:
                break
        try:
            response = httpx.get(base + "/cds-services", timeout=10)
            assert response.status_code in (200, 503)
            assert response.headers["content-type"] == "application/json"
        finally:
            for sock in flood:
                sock.close()
        time.sleep(0.5)
        assert httpx.get(base + "/cds-services", timeout=10).status_code == 200
        assert server.proc.poll() is None
