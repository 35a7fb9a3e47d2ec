"""verify hashes many small files in batches (on processes when there are thousands): what it answers must not
depend on the batches, the jobs, or the cache."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from curator.cli.verify import run
from curator.root_and_hashes import MANY_FILES, hash_batch
from tests.factories import damage_cache, flip_byte, small_files_release

COUNT = MANY_FILES + 300   # enough files for the process pool and several batches a job


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("small") / "release"
    paths = small_files_release(root, COUNT)
    return root, paths


def _report(root: Path, out: Path, *args: str, exit_code: int) -> dict[str, Any]:
    assert run([str(root), "--format", "json", "--output", str(out), *args]) == exit_code
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    report["stats"].pop("seconds")
    return report


def test_damaged_files_inside_batches_are_named_exactly_whatever_the_jobs(release: tuple[Path, list[str]],
                                                                          tmp_path: Path) -> None:
    root, paths = release
    # the first and last file, and files in the middle of what would be a batch, one missing
    damaged = [paths[0], paths[1234], paths[1235], paths[COUNT // 2], paths[-1]]
    missing = paths[2000]
    for rel in damaged:
        flip_byte(root / rel)
    (root / missing).rename(tmp_path / "aside")
    try:
        one = _report(root, tmp_path / "one.json", "--jobs", "1", "--no-cache", exit_code=1)
        two = _report(root, tmp_path / "two.json", "--jobs", "2", "--no-cache", exit_code=1)
        cache = tmp_path / "cache"
        filling = _report(root, tmp_path / "fill.json", "--jobs", "2", "--cache-dir", str(cache), exit_code=1)
        cached = _report(root, tmp_path / "cached.json", "--jobs", "2", "--cache-dir", str(cache), exit_code=1)
    finally:
        (tmp_path / "aside").rename(root / missing)
        for rel in damaged:
            flip_byte(root / rel)
    assert one == two
    findings = [(f["code"], f["path"]) for f in one["findings"]]
    assert findings == [("CHECKSUM_MISMATCH", rel) for rel in damaged] + [("FILE_MISSING", missing)]
    assert one["stats"]["refetch"] == sorted([*damaged, missing])
    # the cache changes nothing but its own counts: a damaged file's digest is remembered, and still does not match
    assert filling.pop("stats")["cache"] == {"hits": 0, "misses": COUNT - 1}
    assert cached.pop("stats")["cache"] == {"hits": COUNT - 1, "misses": 0}
    assert {k: v for k, v in one.items() if k != "stats"} == filling == cached


def test_files_past_the_first_thousands_are_counted_by_the_bytes_read(release: tuple[Path, list[str]],
                                                                       tmp_path: Path) -> None:
    """Without a cache, files after the first MANY_FILES are not lstat'ed: their sizes are what their tasks read.
    The counts must be those of the cached runs, which lstat every file, and of the disk."""
    root, paths = release
    grown, extra = root / paths[MANY_FILES + 100], root / paths[MANY_FILES + 200].replace(".png", "-extra.png")
    kept = grown.read_bytes()
    grown.write_bytes(kept * 100)   # 100 KB where 1 KB is listed: a mismatch whose bytes count too
    extra.write_bytes(b"x" * 5000)  # unlisted, among the files not lstat'ed
    try:
        on_disk = [p.stat().st_size for p in root.rglob("*") if p.is_file()]
        plain = _report(root, tmp_path / "plain.json", "--jobs", "2", "--no-cache", exit_code=1)
        cache = tmp_path / "cache"
        filling = _report(root, tmp_path / "fill.json", "--jobs", "2", "--cache-dir", str(cache), exit_code=1)
    finally:
        grown.write_bytes(kept)
        extra.unlink()
    assert [(f["code"], f["path"]) for f in plain["findings"]] == [
        ("CHECKSUM_MISMATCH", paths[MANY_FILES + 100]), ("FILE_UNLISTED", extra.relative_to(root).as_posix())]
    assert (plain["stats"]["files"], plain["stats"]["bytes"]) == (len(on_disk), sum(on_disk))
    filling["stats"].pop("cache")
    assert plain == filling


def test_a_file_rewritten_with_its_size_and_mtime_kept_is_read_again(release: tuple[Path, list[str]],
                                                                      tmp_path: Path) -> None:
    """The cache's guarantee, for a file this process keys (among the first MANY_FILES) and for one a task keys
    (after them): a write that keeps the size and puts the mtime back still changes the ctime, so the rerun reads
    the file again and finds the damage."""
    root, paths = release
    cache = tmp_path / "cache"
    _report(root, tmp_path / "fill.json", "--jobs", "2", "--cache-dir", str(cache), exit_code=0)
    changed = [paths[10], paths[MANY_FILES + 150]]
    kept = {rel: ((root / rel).read_bytes(), (root / rel).stat()) for rel in changed}
    try:
        for rel, (data, info) in kept.items():
            (root / rel).write_bytes(bytes([data[0] ^ 1]) + data[1:])
            os.utime(root / rel, ns=(info.st_atime_ns, info.st_mtime_ns))
            assert (root / rel).stat().st_mtime_ns == info.st_mtime_ns
        again = _report(root, tmp_path / "again.json", "--jobs", "2", "--cache-dir", str(cache), exit_code=1)
    finally:
        for rel, (data, _) in kept.items():
            (root / rel).write_bytes(data)
    assert [(f["code"], f["path"]) for f in again["findings"]] == [("CHECKSUM_MISMATCH", rel) for rel in changed]
    assert again["stats"]["cache"] == {"hits": COUNT - 2, "misses": 2}


def test_a_file_that_cannot_be_read_is_named_in_place_within_its_batch(tmp_path: Path) -> None:
    for name in ("a", "c"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "b").mkdir()   # listed, but not a file that can be read
    results = hash_batch(str(tmp_path), [("a", ("sha256",)), ("b", ("sha256",)), ("gone", ("md5",)),
                                         ("c", ("md5", "sha256"))])
    assert results[3] == {"md5": "9dd4e461268c8034f5c8564e155c67a6",
                          "sha256": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"}
    assert results[0] == {"sha256": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"}
    assert results[1] == "cannot read the file (Is a directory)"
    assert results[2] == "cannot read the file (No such file or directory)"


@pytest.mark.parametrize("how", ["null value", "two values"])
def test_a_cached_value_that_is_not_one_json_value_sets_the_cache_aside(release: tuple[Path, list[str]],
                                                                       tmp_path: Path, how: str,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = release
    cache = tmp_path / "cache"
    assert run([str(root), "--cache-dir", str(cache)]) == 0
    damage_cache(cache, how)
    # the manifest touched: the run's record of the whole release no longer answers, the files' values are read
    os.utime(root / "SHA256SUMS")
    capsys.readouterr()
    report = _report(root, tmp_path / "again.json", "--cache-dir", str(cache), exit_code=0)
    assert report["findings"] == []
    assert "was damaged" in capsys.readouterr().err
    assert report["stats"]["cache"]["misses"] == COUNT
