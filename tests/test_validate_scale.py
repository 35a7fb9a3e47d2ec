"""What validate's compact bookkeeping (issue 15) must not change: the report with one job and with two, a damaged
file among healthy ones named exactly, and a registry whose rows the quick path and the model judge together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.check_facts import STUDY
from tests.factories import flip_byte
from tests.reports import validate_report


def _findings(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(f["code"], f["path"], repr(sorted(f.get("context", {}).items()))) for f in report["findings"]]


def test_deep_report_is_the_same_with_one_job_and_two_and_names_the_damaged_study(release: Path) -> None:
    damaged = STUDY[5]                                      # in the middle of the studies
    flip_byte(release / damaged, -200)                      # inside the deflate data, before the trailer
    one = validate_report(release, "--deep", "--jobs", "1", exit_code=1)
    two = validate_report(release, "--deep", "--jobs", "2", exit_code=1)
    assert _findings(one) == _findings(two)
    assert one["counts"] == two["counts"]
    named = sorted({f["path"] for f in one["findings"] if f["severity"] == "error"})
    assert named == [damaged]


def test_fast_report_is_the_same_with_one_job_and_two(release: Path) -> None:
    (release / STUDY[2]).write_bytes(b"not a nifti")        # IMAGE_UNREADABLE and CHECKSUM_MISMATCH
    one = validate_report(release, "--jobs", "1", exit_code=1)
    two = validate_report(release, "--jobs", "2", exit_code=1)
    assert _findings(one) == _findings(two)
    assert sorted({f["path"] for f in one["findings"] if f["severity"] == "error"}) == [STUDY[2]]
