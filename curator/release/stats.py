"""The numbers a README states, computed from the studies (never typed by hand)."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from curator.models.records import SourceStudy


def percentages(counts: dict[str, int], keys: list[str]) -> dict[str, int]:
    """Whole percentages that sum to 100 (largest remainder), as MosMed's '42/ 56/ 2'."""
    total = sum(counts.get(k, 0) for k in keys)
    if total == 0:
        return dict.fromkeys(keys, 0)
    exact = {k: counts.get(k, 0) * 100 / total for k in keys}
    result = {k: int(v) for k, v in exact.items()}
    for key in sorted(keys, key=lambda k: (-(exact[k] - result[k]), keys.index(k)))[: 100 - sum(result.values())]:
        result[key] += 1
    return result


def release_stats(studies: list[SourceStudy], categories: list[str]) -> dict[str, Any]:
    sexes = Counter(s.sex for s in studies if s.sex)
    ages = sorted(s.age for s in studies if s.age is not None)
    median: float | None = statistics.median(ages) if ages else None
    if median is not None and float(median).is_integer():
        median = int(median)
    patients = {s.patient or f"\x00study-{i}" for i, s in enumerate(studies)}
    per_category = Counter(s.category for s in studies)
    return {
        "studies": len(studies),
        "patients": len(patients),
        "masks": sum(1 for s in studies if s.mask),
        "sex": {"known": sum(sexes.values()), **percentages({str(k): v for k, v in sexes.items()}, ["M", "F", "O"])},
        "age": {"known": len(ages), "min": ages[0] if ages else None, "median": median,
                "max": ages[-1] if ages else None},
        "per_category": {c: per_category.get(c, 0) for c in categories},
    }
