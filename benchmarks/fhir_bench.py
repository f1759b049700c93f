"""FHIR Bulk Data throughput: the 13-patient sample export replicated with new ids to N patients,
read with profiles_from_bulk (mapping) and evaluated (evaluation); prints patients per second and
each stage's share. Not part of the test suite.

    PYTHONPATH=src python benchmarks/fhir_bench.py [--patients 10000] [--validate used|all]
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

import immunorules as ir
from immunorules.fhir import profiles_from_bulk

SOURCE = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "fhir"
    / "smart-bulk-10-patients-ndjson"
)


def replicate(target: Path, patients: int) -> int:
    """Copy the export, renaming every patient and resource id per copy; returns patients."""
    lines = {
        p.name: p.read_text().splitlines() for p in SOURCE.glob("*.ndjson") if "log" not in p.name
    }
    per_copy = len(lines["Patient.000.ndjson"])
    copies = -(-patients // per_copy)
    for name, rows in lines.items():
        with (target / name).open("w") as out:
            for copy in range(copies):
                for row in rows:
                    renamed = re.sub(r'("id": ?")', rf"\g<1>{copy}-", row)
                    renamed = renamed.replace("Patient/", f"Patient/{copy}-")
                    out.write(renamed + "\n")
    return copies * per_copy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--validate", choices=("used", "all"), default="used")
    args = parser.parse_args()
    kb = ir.load_rules(engine="native")
    with tempfile.TemporaryDirectory() as folder:
        total = replicate(Path(folder), args.patients)
        size = sum(p.stat().st_size for p in Path(folder).iterdir())
        start = time.perf_counter()
        found = list(profiles_from_bulk(folder, kb=kb, as_of="2024-08-06", validate=args.validate))
        mapped = time.perf_counter() - start
        start = time.perf_counter()
        profiles = [p.profile for _, p in found if p.profile is not None]
        kb.evaluate_many(profiles)
        for profile in profiles:
            kb.evaluate(profile)
        evaluated = (time.perf_counter() - start) / 2
    whole = mapped + evaluated
    print(
        json.dumps(
            {
                "patients": total,
                "export_mb": round(size / 1e6, 1),
                "validate": args.validate,
                "with_profile": len(profiles),
                "patients_per_s": round(total / whole),
                "mapping_s": round(mapped, 2),
                "evaluation_s": round(evaluated, 3),
                "mapping_share": round(mapped / whole, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
