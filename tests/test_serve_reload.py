"""``immunorules serve --reload``: the real command under uvicorn on loopback re-reads its rule
folder when the files change or on SIGHUP; a rule set that does not load leaves the old one
serving and its problems in the log. Also the reloader on its own, without a server."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import immunorules as ir
from tests.conftest import require

require("starlette", reason="needs the service extra: pip install 'immunorules[service]'")
require("fhir.resources", reason="needs the fhir extra")

import httpx  # noqa: E402

from immunorules._cli.reloading import RuleReloader  # noqa: E402

RULE = """\
evidence:
  E1: {citation: "A source", url: "https://example.org/source"}
rules:
  - id: RA-ONE
    title: One rheumatoid arthritis rule
    when: {condition: rheumatoid_arthritis}
    then:
      suggest: [{category: CATEGORY, tier: first_line}]
    because: An example.
    evidence: [E1]
"""
_EMPTY = {"resourceType": "Bundle", "type": "searchset", "entry": []}
RA_CONDITION = {
    "resourceType": "Condition",
    "id": "c1",
    "subject": {"reference": "Patient/p1"},
    "clinicalStatus": {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                "code": "active",
            }
        ]
    },
    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "69896004"}]},
}


def _rules(folder: Path, category: str, version: str = "1") -> None:
    (folder / "ra.yaml").write_text(RULE.replace("CATEGORY", category), encoding="utf-8")
    (folder / "knowledge-base.yaml").write_text(f"name: ra-test\nversion: '{version}'\n")


def _port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Server:
    def __init__(self, port: int, log: Path, proc: subprocess.Popen[bytes]) -> None:
        self.port, self.log, self.proc = port, log, proc

    def card(self) -> dict[str, Any]:
        body = {
            "hook": "patient-view",
            "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/x", "patientId": "p1"},
            "prefetch": {
                "patient": {"resourceType": "Patient", "id": "p1"},
                "conditions": {**_EMPTY, "entry": [{"resource": RA_CONDITION}]},
                "medications": _EMPTY,
                "observations": _EMPTY,
                "procedures": _EMPTY,
            },
        }
        url = f"http://127.0.0.1:{self.port}/cds-services/immunorules-patient-view"
        response = httpx.post(url, json=body, timeout=30)
        assert response.status_code == 200, response.text
        (card,) = response.json()["cards"]
        return dict(card)

    def logged(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, check: Callable[[], bool], what: str, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while not check():
            assert self.proc.poll() is None, self.logged()
            assert time.monotonic() < deadline, f"{what} did not happen:\n{self.logged()}"
            time.sleep(0.1)


@contextmanager
def _serving(folder: Path, tmp_path: Path, *options: str) -> Iterator[_Server]:
    port = _port()
    log = tmp_path / "serve.log"
    command = [
        sys.executable,
        "-m",
        "immunorules",
        "serve",
        "--allow-unauthenticated",
        "--port",
        str(port),
        "--engine",
        "native",
        "--rules",
        str(folder),
        "--reload",
        *options,
        "--feedback-log",
        str(tmp_path / "feedback.jsonl"),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with (
        log.open("wb") as err,
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=env) as proc,
    ):
        server = _Server(port, log, proc)
        try:

            def up() -> bool:
                try:
                    return httpx.get(f"http://127.0.0.1:{port}/cds-services", timeout=5).is_success
                except httpx.TransportError:
                    return False

            server.wait_for(up, "starting", seconds=60)
            yield server
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def test_rule_changes_are_served_and_a_broken_set_keeps_the_old_one(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    _rules(folder, "biologic_therapies")
    with _serving(folder, tmp_path, "--reload-interval", "0.2") as server:
        assert server.card()["summary"] == "Consider Biologic therapies (first line)"
        assert "Knowledge base ra-test 1, fingerprint" in server.card()["detail"]

        _rules(folder, "immunosuppressants")
        server.wait_for(
            lambda: server.card()["summary"] == "Consider Immunosuppressants (first line)",
            "the changed rule being served",
        )
        assert "rules reloaded (rule files changed): now serving ra-test 1" in server.logged()

        (folder / "broken.yaml").write_text("rules: [\n", encoding="utf-8")
        server.wait_for(lambda: "rules not reloaded" in server.logged(), "the broken set logged")
        logged = server.logged()
        assert "broken.yaml:2 $: YAML syntax error" in logged
        assert "still serving ra-test 1" in logged
        assert server.card()["summary"] == "Consider Immunosuppressants (first line)"

        (folder / "broken.yaml").unlink()
        _rules(folder, "immunosuppressants", version="2")
        server.wait_for(
            lambda: "Knowledge base ra-test 2," in server.card()["detail"], "the new version"
        )


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_sighup_reloads_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    _rules(folder, "biologic_therapies")
    with _serving(folder, tmp_path, "--reload-interval", "3600") as server:
        assert server.card()["summary"] == "Consider Biologic therapies (first line)"
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for(lambda: "rules re-read (SIGHUP): unchanged" in server.logged(), "re-read")
        _rules(folder, "immunosuppressants")
        time.sleep(0.5)  # files are looked at once an hour here: nothing changes by itself
        assert server.card()["summary"] == "Consider Biologic therapies (first line)"
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for(
            lambda: server.card()["summary"] == "Consider Immunosuppressants (first line)",
            "the SIGHUP reload",
        )
        assert "rules reloaded (SIGHUP): now serving ra-test 1" in server.logged()


def test_a_bad_reload_interval_is_refused() -> None:
    from immunorules._cli.main import main

    assert main(["serve", "--allow-unauthenticated", "--reload", "--reload-interval", "0"]) == 2


def test_the_reloader_swaps_only_rules_that_load_and_differ(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _rules(tmp_path, "biologic_therapies")
    kb = ir.load_rules(tmp_path, engine="native")
    served: list[ir.KnowledgeBase] = []
    log = logging.getLogger("tests.reload")
    reloader = RuleReloader(
        [tmp_path],
        kb=kb,
        load=lambda: ir.load_rules(tmp_path, engine="native"),
        use=served.append,
        log=log,
    )
    before = reloader.stamp()
    with caplog.at_level(logging.INFO, logger="tests.reload"):
        assert not reloader.reload("test") and served == []  # unchanged
        _rules(tmp_path, "immunosuppressants")
        assert reloader.stamp() != before
        assert reloader.reload("test") and served[-1].rules[0].then.suggest[0].category == (
            "immunosuppressants"
        )
        (tmp_path / "ra.yaml").write_text("rules: {}\n")
        assert not reloader.reload("test") and len(served) == 1
        assert reloader.kb is served[0]
    assert "rules not reloaded (test): 1 problem(s); still serving ra-test 1" in caplog.text
    assert "'rules' must be a list" in caplog.text
