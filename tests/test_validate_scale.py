"""What validate's compact bookkeeping (issue 15) must not change: the report with one job and with two, a damaged
file among healthy ones named exactly, and a registry whose rows the quick path and the model judge together."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from curator import validate as validate_module
from curator.io.cache import Cache
from curator.validate import ValidateOptions
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


class _CountingCache(Cache):
    """A cache that notes how many keys each lookup and each write carries."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.asked: list[int] = []
        self.written: list[int] = []

    def get_many(self, kind: str, keys: Iterable[str]) -> dict[str, Any]:
        wanted = list(keys)
        self.asked.append(len(wanted))
        return super().get_many(kind, wanted)

    def put_many(self, kind: str, items: dict[str, Any]) -> None:
        self.written.append(len(items))
        super().put_many(kind, items)


def test_headers_are_cached_a_chunk_at_a_time_and_come_back_the_same(release: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached rerun on 100,000 files peaked at 782 MB holding every file's key and cached JSON at once: the cache
    is asked and written HEADER_CHUNK files at a time, and the headers are those read without a cache, in order."""
    monkeypatch.setattr(validate_module, "HEADER_CHUNK", 2, raising=False)   # main had no chunks
    paths = sorted(p.relative_to(release).as_posix() for p in release.rglob("*.nii.gz"))
    assert len(paths) >= 5
    options = ValidateOptions(jobs=1)
    plain = validate_module._read_headers(release, paths, options, None)
    first = _CountingCache(tmp_path / "cache")
    filled = validate_module._read_headers(release, paths, options, first)
    first.close()
    again = _CountingCache(tmp_path / "cache")
    cached = validate_module._read_headers(release, paths, options, again)
    again.close()
    assert list(plain) == list(filled) == list(cached) == paths
    assert plain == filled == cached
    assert first.asked == first.written == [2] * (len(paths) // 2) + ([1] if len(paths) % 2 else [])
    assert again.hits == len(paths) and again.misses == 0
    assert max(again.asked) == 2
