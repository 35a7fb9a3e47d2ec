"""The steps between a series' slices: its nominal step, gaps that are whole multiples of it (missing slices), and
steps that fit neither (uneven spacing). Shared by the DICOM series check and the converter, so that what
``curator validate`` calls a missing slice is exactly what ``curator ingest`` refuses as one."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

RELATIVE = 0.02       # a step may differ from the series' step by 2 % ...
ABSOLUTE_MM = 0.01    # ... plus 0.01 mm (positions are written with limited decimals)


def mm(value: float) -> str:
    """A length for a message: two decimals, trailing zeros dropped but one kept (5.0, 0.75, -120.0)."""
    text = f"{value:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def tolerance(expected: float, absolute_mm: float = ABSOLUTE_MM) -> float:
    return expected * RELATIVE + absolute_mm


def nominal_step(steps: Sequence[float], absolute_mm: float = ABSOLUTE_MM) -> float:
    """The step most slices are apart (the smaller one on a tie), averaged over the steps that agree with it."""
    ordered = sorted(steps)
    best, best_count = ordered[0], 0
    for candidate in ordered:
        limit = tolerance(candidate, absolute_mm)
        count = bisect_right(ordered, candidate + limit) - bisect_left(ordered, candidate - limit)
        if count > best_count:
            best, best_count = candidate, count
    limit = tolerance(best, absolute_mm)
    cluster = ordered[bisect_left(ordered, best - limit):bisect_right(ordered, best + limit)]
    return sum(cluster) / len(cluster)


def classify_steps(steps: Sequence[float], nominal: float,
                   absolute_mm: float = ABSOLUTE_MM) -> tuple[list[tuple[int, int]], list[int]]:
    """(gaps as (index of the step, slices missing), indices of the irregular steps)."""
    gaps: list[tuple[int, int]] = []
    irregular: list[int] = []
    for index, step in enumerate(steps):
        if abs(step - nominal) <= tolerance(nominal, absolute_mm):
            continue
        multiple = round(step / nominal)
        if multiple >= 2 and abs(step - multiple * nominal) <= tolerance(multiple * nominal, absolute_mm):
            gaps.append((index, multiple - 1))
        else:
            irregular.append(index)
    return gaps, irregular


def step_runs(steps: Sequence[float], absolute_mm: float = ABSOLUTE_MM) -> str:
    """Steps in slice order, run-length encoded: '13 x 4.0, 1 x 1.08, 13 x 7.0' (mm)."""
    runs: list[list[float]] = []
    for step in steps:
        if runs and abs(step - runs[-1][0]) <= tolerance(runs[-1][0], absolute_mm):
            runs[-1].append(step)
        else:
            runs.append([step])
    text = [f"{len(run)} x {mm(sum(run) / len(run))}" for run in runs[:8]]
    return ", ".join(text) + (", ..." if len(runs) > 8 else "")
