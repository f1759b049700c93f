"""A bounded load test of the CDS Hooks service over loopback: ``immunorules serve`` (real
uvicorn, in its own process, with token checks on) answers N patient-view calls, C at a time,
each with its own signed token and the prefetch of a Synthea record (rheumatoid arthritis, about
50 KB). Prints errors, throughput and latency percentiles, and as references from the same run
the per-call time of ``kb.evaluate`` and of the FHIR mapping (``profile_from_fhir``) in this
process. Not part of the test suite.

    PYTHONPATH=src python benchmarks/service_bench.py [--requests 2000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import immunorules as ir  # noqa: E402
from immunorules.fhir import profile_from_fhir  # noqa: E402
from tests.service_support import LOCAL_BUNDLE, Records, Signer, free_socket  # noqa: E402

PATH = "/cds-services/immunorules-patient-view"
ISSUER = "https://ehr.example.org"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def references(body: dict[str, object], runs: int) -> tuple[float, float]:
    """Median seconds per call of the mapping and of evaluate, in this process."""
    kb = ir.load_rules()
    prefetch = body["prefetch"]
    assert isinstance(prefetch, dict)
    resources = [prefetch["patient"]] + [
        entry["resource"]
        for key, value in prefetch.items()
        if key != "patient"
        for entry in value["entry"]
    ]
    found = profile_from_fhir(resources, kb=kb, validate="used")
    assert found.profile is not None
    mapping, evaluate = [], []
    for _ in range(runs):
        started = time.perf_counter()
        profile_from_fhir(resources, kb=kb, validate="used")
        mapping.append(time.perf_counter() - started)
    kb.evaluate(found.profile)
    for _ in range(runs * 100):
        started = time.perf_counter()
        kb.evaluate(found.profile)
        evaluate.append(time.perf_counter() - started)
    return statistics.median(mapping), statistics.median(evaluate)


async def load(
    base: str, body: bytes, tokens: list[str], concurrency: int
) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    queue = list(reversed(tokens))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def worker() -> None:
            while queue:
                token = queue.pop()
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                started = time.perf_counter()
                try:
                    response = await client.post(PATH, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    errors.append(type(exc).__name__)
                    continue
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200 or not response.json()["cards"]:
                    errors.append(f"HTTP {response.status_code}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, errors, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warm-up", type=int, default=50)
    args = parser.parse_args()

    records = Records()
    patient = records.add_bundle(LOCAL_BUNDLE)
    call = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/example", "patientId": patient},
        "prefetch": records.prefetch(patient),
    }
    body = json.dumps(call).encode()
    signer = Signer(ISSUER)
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        jwks = Path(folder) / "jwks.json"
        jwks.write_text(json.dumps(signer.jwks()))
        command = [
            sys.executable, "-m", "immunorules", "serve", "--port", str(port),
            "--issuer", f"{ISSUER}={jwks}", "--audience", base,
            "--feedback-log", str(Path(folder) / "feedback.jsonl"),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        with (
            (Path(folder) / "server.log").open("w") as log,
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, env=env) as server,
        ):
            try:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        httpx.get(base + "/cds-services", timeout=2)
                        break
                    except httpx.TransportError:
                        if server.poll() is not None or time.monotonic() > deadline:
                            raise SystemExit("the service did not start") from None
                        time.sleep(0.1)
                warm = [signer.token(base + PATH) for _ in range(args.warm_up)]
                asyncio.run(load(base, body, warm, args.concurrency))
                tokens = [signer.token(base + PATH) for _ in range(args.requests)]
                latencies, errors, took = asyncio.run(load(base, body, tokens, args.concurrency))
            finally:
                server.terminate()
                server.wait(timeout=30)
                served = [
                    float(m)
                    for m in re.findall(
                        r"-> 200 in ([\d.]+) ms", (Path(folder) / "server.log").read_text()
                    )
                ]
    mapping, evaluate = references(call, runs=50)
    print(
        f"{args.requests:,} patient-view calls, {args.concurrency} concurrent, loopback, "
        f"prefetch {len(body) / 1024:.0f} KB, tokens checked (ES384)"
    )
    print(f"errors: {len(errors)}" + (f" ({sorted(set(errors))})" if errors else ""))
    print(f"throughput: {len(latencies) / took:,.0f} calls/s ({took:.1f} s)")
    for name, share in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        print(f"latency {name}: {percentile(latencies, share) * 1000:.1f} ms")
    print(f"latency max: {max(latencies) * 1000:.1f} ms")
    print(f"in the service (its log), median: {statistics.median(served):.1f} ms")
    print(f"reference, same run: profile_from_fhir {mapping * 1000:.2f} ms per call")
    print(f"reference, same run: kb.evaluate {evaluate * 1e6:.1f} us per call")


if __name__ == "__main__":
    main()
