"""What the CDS Hooks service tests (test_service.py, test_service_clients.py,
test_serve_reload.py and benchmarks/service_bench.py) need around the service: the service
paths and codes they use, a signing key with its JWK Set, signed tokens, FHIR resources and
searchsets, a tiny FHIR server serving the shared Synthea records, uvicorn on a free loopback
port in a background thread, ``immunorules serve`` in its own process, and JSON posted with a
bearer token."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "fhir"
LOCAL_BUNDLE = ROOT / "tests" / "data" / "fhir" / "hershel_marvin_ra.json"
SEARCH_TYPES = ("Condition", "MedicationRequest", "Observation", "Procedure")
FHIR_TOKEN = "fhir-access-token-for-tests"
PATIENT_VIEW = "/cds-services/immunorules-patient-view"
ORDER_SELECT = "/cds-services/immunorules-order-select"
#: The patient of the local bundle (rheumatoid arthritis, methotrexate).
HERSHEL = "4e122e91-c63f-4112-a778-6ccf5abfd6f2"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
#: SNOMED CT codes of the conditions the tests add to records.
RHEUMATOID_ARTHRITIS, HEART_FAILURE = "69896004", "84114007"


@dataclass
class Signer:
    """A CDS client's signing key (EC P-384, ES384 as the spec's example) and its JWK Set."""

    issuer: str
    kid: str = field(default_factory=lambda: uuid.uuid4().hex)
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1())
    )

    def jwks(self) -> dict[str, Any]:
        public = json.loads(ECAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "ES384"}]}

    def token(
        self,
        audience: str | list[str],
        *,
        lifetime: float = 300,
        headers: Mapping[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": audience,
            "iat": now,
            "exp": now + int(lifetime),
            "jti": uuid.uuid4().hex,
            **claims,
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        header = {"kid": self.kid, "typ": "JWT", **(headers or {})}
        return jwt.encode(payload, self.key, algorithm="ES384", headers=header)

    def write_jwks(self, path: Path) -> Path:
        """Write the JWK Set to ``path`` (an issuer's key file); returns ``path``."""
        path.write_text(json.dumps(self.jwks()))
        return path


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def loopback() -> tuple[socket.socket, str]:
    """A bound loopback socket for :func:`serving` and the base URL it will serve (known before
    the app is made, as its audience)."""
    sock = free_socket()
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


def closed_port() -> int:
    """A loopback port nothing listens on now: a FHIR server that is down, or a port for
    ``immunorules serve`` to start on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def post_json(
    http: httpx.Client, url: str, body: Any, *, token: str | None, **headers: str
) -> httpx.Response:
    """POST ``body`` (JSON, or bytes as they are) with the bearer ``token`` (None: without
    one); ``headers`` add to or replace the JSON content type."""
    if token is not None:
        headers = {"Authorization": f"Bearer {token}", **headers}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http.post(url, content=content, headers={"Content-Type": "application/json", **headers})


def fhir_authorization(token: str = FHIR_TOKEN) -> dict[str, Any]:
    """A hook request's ``fhirAuthorization``, as a CDS client sends it."""
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/*.read",
        "subject": "immunorules",
    }


def active_condition(
    rid: str, code: str, patient: str = HERSHEL, *, subject: str | None = None
) -> dict[str, Any]:
    """An active Condition coded in SNOMED CT about ``patient`` (or the reference
    ``subject``)."""
    return {
        "resourceType": "Condition",
        "id": rid,
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {"coding": [{"system": SNOMED, "code": code}]},
        "subject": {"reference": subject or f"Patient/{patient}"},
    }


def searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A searchset Bundle of ``resources``, as a FHIR server or a prefetch gives them."""
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r} for r in resources],
    }


class Records:
    """The shared Synthea records by patient id and resource type."""

    def __init__(self) -> None:
        self.patients: dict[str, dict[str, Any]] = {}
        self.by_type: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def add_bundle(self, path: Path) -> str:
        bundle = json.loads(path.read_text())
        resources = [entry["resource"] for entry in bundle["entry"]]
        patient = next(r for r in resources if r["resourceType"] == "Patient")
        self.patients[patient["id"]] = patient
        for resource in resources:
            if resource["resourceType"] in SEARCH_TYPES:
                self.by_type.setdefault((patient["id"], resource["resourceType"]), []).append(
                    resource
                )
        return str(patient["id"])

    def add_bulk(self, folder: Path) -> None:
        for path in sorted(folder.glob("*.ndjson")):
            kind = path.name.split(".")[0]
            if kind != "Patient" and kind not in SEARCH_TYPES:
                continue
            for line in path.open():
                resource = json.loads(line)
                if kind == "Patient":
                    self.patients[resource["id"]] = resource
                    continue
                subject = resource.get("subject") or resource.get("patient") or {}
                pid = str(subject.get("reference", "")).split("/")[-1]
                self.by_type.setdefault((pid, kind), []).append(resource)

    def prefetch(self, patient_id: str) -> dict[str, Any]:
        """What a CDS client would prefetch for the service's templates."""

        def found(kind: str) -> dict[str, Any]:
            return searchset(self.by_type.get((patient_id, kind), []))

        return {
            "patient": self.patients[patient_id],
            "conditions": found("Condition"),
            "medications": found("MedicationRequest"),
            "observations": found("Observation"),
            "procedures": found("Procedure"),
        }


class FhirServer:
    """A tiny FHIR server in a thread: ``GET /fhir/Patient/{id}``, ``GET /fhir/{Type}?patient=
    {id}`` (searchset Bundles of ``page_size`` entries, with ``next`` links), ``/slow/...`` (the
    same, after ``delay`` seconds), and ``/jwks/{name}`` (JWK Sets). It counts requests by path
    and keeps the Authorization headers it saw."""

    def __init__(self, records: Records, *, page_size: int = 5, delay: float = 3.0) -> None:
        self.records = records
        self.page_size = page_size
        self.delay = delay
        self.jwks: dict[str, dict[str, Any]] = {}
        self.required_token: str | None = FHIR_TOKEN
        self.hits: Counter[str] = Counter()
        self.authorizations: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server._get(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FhirServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _send(self, handler: BaseHTTPRequestHandler, status: int, data: Any) -> None:
        body = json.dumps(data).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/fhir+json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the service gave up waiting
            pass

    def _get(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        path = parts.path
        self.hits[path] += 1
        if path.startswith("/jwks/"):
            name = path.removeprefix("/jwks/")
            if name in self.jwks:
                self._send(handler, 200, self.jwks[name])
            else:
                self._send(handler, 404, {"resourceType": "OperationOutcome"})
            return
        self.authorizations.append(handler.headers.get("Authorization"))
        if path.startswith("/slow/"):
            time.sleep(self.delay)
            path = "/fhir/" + path.removeprefix("/slow/")
        if self.required_token and handler.headers.get("Authorization") != (
            f"Bearer {self.required_token}"
        ):
            self._send(handler, 401, {"resourceType": "OperationOutcome"})
            return
        if not path.startswith("/fhir/"):
            self._send(handler, 404, {"resourceType": "OperationOutcome"})
            return
        kind, _, rid = path.removeprefix("/fhir/").partition("/")
        if kind == "Patient" and rid:
            patient = self.records.patients.get(rid)
            self._send(
                handler, 200 if patient else 404, patient or {"resourceType": "OperationOutcome"}
            )
            return
        query = parse_qs(parts.query)
        pid = query.get("patient", [""])[0]
        page = int(query.get("_page", ["1"])[0])
        found = self.records.by_type.get((pid, kind), [])
        start = (page - 1) * self.page_size
        bundle = {**searchset(found[start : start + self.page_size]), "total": len(found)}
        if start + self.page_size < len(found):
            nxt = f"{parts.path}?patient={pid}&_page={page + 1}"
            bundle["link"] = [{"relation": "next", "url": self.url + nxt}]
        self._send(handler, 200, bundle)


@contextmanager
def serving(app: Any, sock: socket.socket, **limits: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on ``sock`` in a background thread, with the options
    ``immunorules serve`` uses (``limits`` changes them); yields the base URL."""
    from immunorules.service import uvicorn_options

    config = uvicorn.Config(app, log_level="warning", lifespan="on", **uvicorn_options(**limits))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    host, port = sock.getsockname()[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class ServeProcess:
    """``immunorules serve`` running in its own process, its standard error in ``log``."""

    port: int
    log: Path
    proc: subprocess.Popen[bytes]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logged(self) -> str:
        """What the process has written to standard error so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def answers(self) -> bool:
        """Whether discovery answers with success."""
        try:
            return httpx.get(self.base + "/cds-services", timeout=5).is_success
        except httpx.TransportError:
            return False

    def wait_for(self, check: Callable[[], bool], what: str, seconds: float = 30) -> None:
        """Wait until ``check()``; fails with the log if the process ends or time runs out."""
        deadline = time.monotonic() + seconds
        while not check():
            assert self.proc.poll() is None, self.logged()
            assert time.monotonic() < deadline, f"{what} did not happen:\n{self.logged()}"
            time.sleep(0.1)


#: Runs the command line with at most ``argv[1]`` open files and the rest as its arguments.
_LIMITED = (
    "import resource, sys\n"
    "limit = int(sys.argv.pop(1))\n"
    "resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))\n"
    "from immunorules._cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


@contextmanager
def serve_process(
    folder: Path, *options: str, file_limit: int | None = None
) -> Iterator[ServeProcess]:
    """``immunorules serve --allow-unauthenticated`` on a free loopback port with ``options``,
    its feedback log and standard error (``serve.log``) in ``folder``, the checkout's ``src``
    first on the path, and with at most ``file_limit`` open files if given; yields once
    discovery answers (within 60 s) and stops the process at the end."""
    port = closed_port()
    log = folder / "serve.log"
    arguments = [
        "serve",
        "--allow-unauthenticated",
        "--port",
        str(port),
        *options,
        "--feedback-log",
        str(folder / "feedback.jsonl"),
    ]
    if file_limit is None:
        command = [sys.executable, "-m", "immunorules", *arguments]
    else:
        command = [sys.executable, "-c", _LIMITED, str(file_limit), *arguments]
    path = os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}
    with (
        log.open("wb") as err,
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=env) as proc,
    ):
        server = ServeProcess(port, log, proc)
        try:
            server.wait_for(server.answers, "starting", seconds=60)
            yield server
        finally:
            proc.terminate()
            proc.wait(timeout=20)
