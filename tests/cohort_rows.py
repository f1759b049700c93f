"""A small cohort with valid and invalid rows, for the Dask and Spark tests."""

from __future__ import annotations

import random
from typing import Any

from .bundled import CONDITION_AREA, FIELD_DOMAINS


def cohort(count: int, seed: int = 7) -> dict[str, list[Any]]:
    """Columns of ``count`` random profiles with a ``patient_id``; about one in twenty invalid."""
    rng = random.Random(seed)
    names = [n for n in FIELD_DOMAINS if n not in ("disease_area", "condition")]
    columns: dict[str, list[Any]] = {"patient_id": [], "condition": [], **{n: [] for n in names}}
    conditions = list(CONDITION_AREA)
    for index in range(count):
        columns["patient_id"].append(f"p{index:06d}")
        columns["condition"].append(rng.choice(conditions))
        for name in names:
            columns[name].append(rng.choice(FIELD_DOMAINS[name]))
        if rng.random() < 0.05:
            columns["severity"][-1] = "sever"
    return columns
