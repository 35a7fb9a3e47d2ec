"""What validate's compact bookkeeping (issue 15) must not change: the report with one job and with two, a damaged
file among healthy ones named exactly, and a registry whose rows the quick path and the model judge together."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from curator import validate as validate_module
from curator.io.cache import Cache
from curator.io.manifest import parse_manifest, read_manifest
from curator.validate import ValidateOptions
from tests.check_facts import STUDY
from tests.factories import flip_byte
from tests.memory import traced
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
    plain = dict(validate_module._read_headers(release, paths, options, None))
    first = _CountingCache(tmp_path / "cache")
    filled = dict(validate_module._read_headers(release, paths, options, first))
    first.close()
    again = _CountingCache(tmp_path / "cache")
    cached = dict(validate_module._read_headers(release, paths, options, again))
    again.close()
    assert list(plain) == list(filled) == list(cached) == paths
    assert plain == filled == cached
    assert first.asked == first.written == [2] * (len(paths) // 2) + ([1] if len(paths) % 2 else [])
    assert again.hits == len(paths) and again.misses == 0
    assert max(again.asked) == 2


def test_validate_reads_a_manifest_a_block_at_a_time_with_the_whole_file_parse_s_entries(tmp_path: Path) -> None:
    """read_manifest (validate's) gives parse_manifest's entries and problems, in order, for a damaged sum file,
    without ever holding the file's bytes, text and lines whole (a 1M-line SHA256SUMS was ~300 MB of them)."""
    good = "a" * 64
    damaged = tmp_path / "SHA256SUMS"
    damaged.write_bytes(
        f"{good}  studies/a.nii.gz\n{good.upper()} *studies/b.nii.gz\r\n# a comment\n\nnot a line\n"
        f"SHA256 (studies/c.nii.gz) = {good}\n{good}  studies/a.nii.gz\n{good}  ../outside\n"
        f"{good}  ./studies/d.nii.gz\n{'b' * 40}  studies/e.nii.gz\n".encode() + b"\xff\xfe  bad\n"
        + f"{good}  studies/f.nii.gz".encode())
    whole, streamed = parse_manifest(damaged), read_manifest(damaged)
    assert streamed.entries == whole.entries
    assert streamed.problems == whole.problems
    assert [e.path for e in streamed.entries] == ["studies/a.nii.gz", "studies/b.nii.gz", "studies/c.nii.gz",
                                                  "studies/d.nii.gz", "studies/f.nii.gz"]
    assert [number for number, _ in streamed.problems] == [5, 7, 8, 10, 11]

    big = tmp_path / "big" / "SHA256SUMS"
    big.parent.mkdir()
    with big.open("w", encoding="utf-8") as out:
        for number in range(200_000):
            out.write(f"{number:064x}  studies/CT-1/a-rather-long-study-folder-name/study_{number:07d}.nii.gz\n")
    size = big.stat().st_size
    with traced() as memory:
        manifest = read_manifest(big)
    held, peak = memory.held, memory.peak
    assert len(manifest.entries) == 200_000 and not manifest.problems
    # beyond the entries kept: the duplicate index and one block (measured 7.9 MB of a 25 MB file; parse_manifest 94 MB)
    assert peak - held < size // 2, (peak - held, size)
