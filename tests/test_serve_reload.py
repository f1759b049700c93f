"""``immunorules serve --reload``: the real command under uvicorn on loopback re-reads its rule
folder when the files change or on SIGHUP; a rule set that does not load leaves the old one
serving and its problems in the log. Also the reloader on its own, without a server."""

from __future__ import annotations

import logging
import signal
import time
import uuid
from collections.abc import Iterator
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
from tests.service_support import (  # noqa: E402 - after the skips
    PATIENT_VIEW,
    RHEUMATOID_ARTHRITIS,
    ServeProcess,
    active_condition,
    searchset,
    serve_process,
)

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


def _rules(folder: Path, category: str, version: str = "1") -> None:
    (folder / "ra.yaml").write_text(RULE.replace("CATEGORY", category), encoding="utf-8")
    (folder / "knowledge-base.yaml").write_text(f"name: ra-test\nversion: '{version}'\n")


def _card(server: ServeProcess) -> dict[str, Any]:
    """The one card the server gives a patient with rheumatoid arthritis."""
    body = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/x", "patientId": "p1"},
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": "p1"},
            "conditions": searchset([active_condition("c1", RHEUMATOID_ARTHRITIS, "p1")]),
            "medications": searchset([]),
            "observations": searchset([]),
            "procedures": searchset([]),
        },
    }
    response = httpx.post(server.base + PATIENT_VIEW, json=body, timeout=30)
    assert response.status_code == 200, response.text
    (card,) = response.json()["cards"]
    return dict(card)


@contextmanager
def _serving(tmp_path: Path, category: str, *options: str) -> Iterator[tuple[Path, ServeProcess]]:
    """A rule folder suggesting ``category`` for rheumatoid arthritis, served with
    ``--reload`` and ``options``."""
    folder = tmp_path / "rules"
    folder.mkdir()
    _rules(folder, category)
    reload = ("--engine", "native", "--rules", str(folder), "--reload", *options)
    with serve_process(tmp_path, *reload) as server:
        yield folder, server


def test_rule_changes_are_served_and_a_broken_set_keeps_the_old_one(tmp_path: Path) -> None:
    with _serving(tmp_path, "biologic_therapies", "--reload-interval", "0.2") as (folder, server):
        assert _card(server)["summary"] == "Consider Biologic therapies (first line)"
        assert "Knowledge base ra-test 1, fingerprint" in _card(server)["detail"]

        _rules(folder, "immunosuppressants")
        server.wait_for(
            lambda: _card(server)["summary"] == "Consider Immunosuppressants (first line)",
            "the changed rule being served",
        )
        assert "rules reloaded (rule files changed): now serving ra-test 1" in server.logged()

        (folder / "broken.yaml").write_text("rules: [\n", encoding="utf-8")
        server.wait_for(lambda: "rules not reloaded" in server.logged(), "the broken set logged")
        logged = server.logged()
        assert "broken.yaml:2 $: YAML syntax error" in logged
        assert "still serving ra-test 1" in logged
        assert _card(server)["summary"] == "Consider Immunosuppressants (first line)"

        (folder / "broken.yaml").unlink()
        _rules(folder, "immunosuppressants", version="2")
        server.wait_for(
            lambda: "Knowledge base ra-test 2," in _card(server)["detail"], "the new version"
        )


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_sighup_reloads_at_once(tmp_path: Path) -> None:
    with _serving(tmp_path, "biologic_therapies", "--reload-interval", "3600") as (folder, server):
        assert _card(server)["summary"] == "Consider Biologic therapies (first line)"
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for(lambda: "rules re-read (SIGHUP): unchanged" in server.logged(), "re-read")
        _rules(folder, "immunosuppressants")
        time.sleep(0.5)  # files are looked at once an hour here: nothing changes by itself
        assert _card(server)["summary"] == "Consider Biologic therapies (first line)"
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for(
            lambda: _card(server)["summary"] == "Consider Immunosuppressants (first line)",
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
