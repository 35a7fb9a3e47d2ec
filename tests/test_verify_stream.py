"""verify compares one sum file with the disk as streams in path order (issue 15: a million entries in bounded
memory). What it answers must be what reading the listing whole answers, whatever the jobs, the cache, the blocks
the sum file is read in, or the order of the folders' names."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from curator.cli.verify import run
from curator.io import checksum_listings
from curator.io.inventory import walk, walk_file_names, walk_files
from curator.io.manifest import LINE_LIMIT, ManifestEntry, parse_manifest_bytes, stream_entries
from curator.root_and_hashes import stream_listed
from curator.verify import read_release
from tests.factories import flip_byte, small_files_release
from tests.hostile import run_bounded, snapshot
from tests.memory import traced


def _report(root: Path, out: Path, *args: str, exit_code: int) -> dict[str, Any]:
    assert run([str(root), "--format", "json", "--output", str(out), *args]) == exit_code
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    report["stats"].pop("seconds")
    return report


def _damaged_release(root: Path) -> list[str]:
    """A small-files release with every kind of problem the comparison finds, spread over the path order."""
    paths = small_files_release(root, 1200, per_folder=300)
    flip_byte(root / paths[0])
    flip_byte(root / paths[611])                      # in the middle of a batch and of a folder
    (root / paths[900]).unlink()                      # listed, missing
    (root / paths[1199]).unlink()
    (root / paths[1199]).symlink_to(paths[1198].rpartition("/")[2])   # listed, a link: missing too
    (root / "slices" / "0001" / "extra.png").write_bytes(b"x")        # unlisted, between listed files
    (root / "slices-notes.txt").write_text("unlisted, sorts between slices and slices/", encoding="utf-8")
    (root / ".DS_Store").write_bytes(b"junk")        # unlisted but accounted for
    lines = (root / "SHA256SUMS").read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(300, "not a line\n")                                  # malformed
    lines.insert(700, lines[699])                                      # the same path again, the line after
    (root / "SHA256SUMS").write_text("".join(lines), encoding="utf-8")
    return paths


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stream") / "release"
    _damaged_release(root)
    return root


def _whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make verify read the listing whole (the reference the streamed comparison must equal)."""
    monkeypatch.setattr("curator.verify.sum_file_unread", lambda root, against: None)


@pytest.mark.parametrize("args", [("--jobs", "1", "--no-cache"), ("--jobs", "2", "--no-cache"),
                                  ("--only", "slices/0002/*", "--no-cache")])
def test_the_streamed_report_is_the_whole_readings_report(damaged: Path, tmp_path: Path, args: tuple[str, ...],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    streamed = _report(damaged, tmp_path / "streamed.json", *args, exit_code=1)
    _whole(monkeypatch)
    whole = _report(damaged, tmp_path / "whole.json", *args, exit_code=1)
    assert streamed == whole
    assert streamed["findings"]   # the comparison is of something


@pytest.mark.parametrize("size", [1, 7, 1000])
def test_the_report_does_not_depend_on_the_batches(damaged: Path, tmp_path: Path, size: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    reference = _report(damaged, tmp_path / "reference.json", "--jobs", "2", "--no-cache", exit_code=1)
    monkeypatch.setattr("curator.root_and_hashes._batch_size", lambda count, jobs: size)
    assert _report(damaged, tmp_path / "batched.json", "--jobs", "2", "--no-cache", exit_code=1) == reference


def test_the_streamed_comparison_finds_each_problem_by_name(damaged: Path, tmp_path: Path) -> None:
    report = _report(damaged, tmp_path / "r.json", "--no-cache", exit_code=1)
    found = [(f["code"], f["path"], f["context"].get("line")) for f in report["findings"]]
    assert found == [
        ("CHECKSUM_MISMATCH", "slices/0000/slice_000000.png", None),
        ("CHECKSUM_MISMATCH", "slices/0002/slice_000611.png", None),
        ("FILE_MISSING", "slices/0003/slice_000900.png", 903),
        ("FILE_MISSING", "slices/0003/slice_001199.png", 1202),
        ("MANIFEST_MALFORMED", "SHA256SUMS", 301),
        ("MANIFEST_MALFORMED", "SHA256SUMS", 701),
        ("FILE_UNLISTED", "slices-notes.txt", None),
        ("FILE_UNLISTED", "slices/0001/extra.png", None),
    ]
    assert report["stats"]["files"] == 1200 + 2   # the link is no regular file; the sum file and .DS_Store are
    assert report["stats"]["listed"] == 1200


def test_the_cache_changes_only_its_counts(damaged: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    plain = _report(damaged, tmp_path / "plain.json", "--no-cache", exit_code=1)
    filling = _report(damaged, tmp_path / "fill.json", "--cache-dir", str(cache), exit_code=1)
    cached = _report(damaged, tmp_path / "cached.json", "--cache-dir", str(cache), exit_code=1)
    assert filling["stats"].pop("cache") == {"hits": 0, "misses": 1198}
    assert cached["stats"].pop("cache") == {"hits": 1198, "misses": 0}
    assert plain == filling == cached
    with sqlite3.connect(next(cache.glob("cache-v*.sqlite"))) as db:
        values = [value for (value,) in db.execute("SELECT value FROM entries WHERE kind = 'digests'")]
    # worded as json.dumps words them: the rerun's fast comparison of the text, not a decode per file, finds them
    assert len(values) == 1198 and all(value == json.dumps(json.loads(value)) for value in values)
    assert sum(value.startswith('{"sha256": "') for value in values) == 1198


def test_a_sum_file_out_of_path_order_is_read_whole_with_the_same_findings(tmp_path: Path) -> None:
    root = tmp_path / "release"
    paths = small_files_release(root, 600, per_folder=200)
    flip_byte(root / paths[250])
    (root / paths[520]).unlink()
    sorted_report = _report(root, tmp_path / "sorted.json", "--no-cache", exit_code=1)
    lines = (root / "SHA256SUMS").read_text(encoding="utf-8").splitlines(keepends=True)
    (root / "SHA256SUMS").write_text("".join(reversed(lines)), encoding="utf-8")
    reversed_report = _report(root, tmp_path / "reversed.json", "--no-cache", exit_code=1)
    assert [(f["code"], f["path"]) for f in reversed_report["findings"]] == \
        [(f["code"], f["path"]) for f in sorted_report["findings"]] == \
        [("CHECKSUM_MISMATCH", paths[250]), ("FILE_MISSING", paths[520])]
    assert reversed_report["findings"][1]["context"]["line"] == 600 - 520


def test_walk_files_gives_the_regular_files_of_walk_in_its_order(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    for rel in ("a-b", "a/c/x", "a/c-d/e", "a/c/f", "a0", "a.txt", "b/.git/config", "b/x", "B", "é/z", "a/c/g.h"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        if not (root / rel).exists():
            (root / rel).write_bytes(rel.encode())
    (root / "a" / "link").symlink_to("c")
    (root / "pipe").parent.mkdir(exist_ok=True)
    os.mkfifo(root / "pipe")
    streamed = [(rel, info.st_size) for rel, info in walk_files(root)]
    assert streamed == [(e.path, e.size) for e in walk(root) if e.kind == "file"]
    assert [rel for rel, _ in streamed] == sorted(rel for rel, _ in streamed)
    assert "b/.git/config" not in dict(streamed)
    (root / "a" / "file-link").symlink_to("../a.txt")
    # by name only (verify --no-cache): the same paths, no link, pipe or repository file
    assert [rel for rel, _ in walk_file_names(root)] == [rel for rel, _ in streamed]


MANIFEST = ("# a comment\n"
            f"{'A' * 64}  ./upper/case.png\n"
            f"{'b' * 64} *binary.png\n"
            "\n"
            f"SHA256 (tagged.png) = {'c' * 64}\n"
            f"{'d' * 64}  crlf.png\r\n"
            f"{'e' * 63}  short.png\n"
            f"{'f' * 64}  ../outside.png\n"
            "\\escaped\n").encode() + b"\xff\xfe not utf-8\n" + f"{'0' * 64}  last-without-newline.png".encode()


@pytest.mark.parametrize("block", [7, 64, 1 << 20])
def test_streamed_entries_are_the_whole_parses_entries(tmp_path: Path, block: int) -> None:
    path = tmp_path / "SHA256SUMS"
    path.write_bytes(MANIFEST)
    whole = parse_manifest_bytes(MANIFEST, path, "sha256")
    items = [item for chunk in stream_entries(path, "sha256", block=block) for item in chunk]
    assert [i for i in items if isinstance(i, ManifestEntry)] == whole.entries
    assert [i for i in items if not isinstance(i, ManifestEntry)] == whole.problems
    assert len(whole.entries) == 5 and len(whole.problems) == 4


def test_a_plain_block_is_parsed_in_bulk_with_the_same_entries(tmp_path: Path) -> None:
    data = "".join(f"{hashlib.sha256(str(i).encode()).hexdigest().upper()}  d/{i:05d}.png\n" for i in range(3000))
    data += f"{'a' * 64}  ./dot/slash.png\n"
    path = tmp_path / "SHA256SUMS"
    path.write_text(data, encoding="utf-8")
    items = [item for chunk in stream_entries(path, "sha256", block=4096) for item in chunk]
    assert items == parse_manifest_bytes(data.encode(), path, "sha256").entries
    assert items[-1] == ManifestEntry("dot/slash.png", "a" * 64, "sha256", 3001)


def test_a_line_longer_than_any_manifest_line_is_one_malformed_line(tmp_path: Path) -> None:
    root = tmp_path / "release"
    root.mkdir()
    (root / "a.png").write_bytes(b"a")
    long_line = b"0" * 64 + b"  " + b"x" * (12 * LINE_LIMIT)
    (root / "SHA256SUMS").write_bytes(long_line + b"\n" + hashlib.sha256(b"a").hexdigest().encode() + b"  a.png\n")
    before = snapshot(root)
    done = run_bounded(["verify", str(root), "--no-cache", "--format", "json"], cwd=tmp_path, timeout=60)
    # measured: 1.7 s and 38 MB at load 14 on 2 cores; joining each block to a growing line would be quadratic
    done.assert_bounded(exit_code=1, seconds=20, megabytes=150)
    assert [(f["code"], f["context"]["line"]) for f in done.report()["findings"]] == [("MANIFEST_MALFORMED", 1)]
    assert snapshot(root) == before


@pytest.fixture(scope="module")
def sizes(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two intact releases, of 24,000 and 96,000 files (both over the first look of MANY_FILES, several blocks of
    the sum file and the batches held at once: two of STREAM_BATCH files in process)."""
    roots = []
    for count in (24000, 96000):
        root = tmp_path_factory.mktemp("size") / f"r{count}"
        small_files_release(root, count)
        roots.append(root)
    return roots


def test_memory_does_not_grow_with_the_files_compared(sizes: list[Path]) -> None:
    """The streamed comparison holds the problems, not the files: its peak (traced) memory at 96,000 files is that
    at 24,000 files, where a reading held whole grows by hundreds of bytes a file (the test below)."""
    peaks = []
    for root in sizes:
        listing = checksum_listings.sum_file_unread(root)
        assert listing is not None
        with traced() as memory:
            found = stream_listed(root, listing, 1)
        peaks.append(memory.peak)
        assert found.problems == []
    # measured: 7.1 and 7.7 MB (the block of the sum file, a folder's names, the first files' look, two batches of
    # 4,096 files; 5.4 MB at 12,000 files, before the second batch is full)
    assert peaks[1] < peaks[0] * 1.5, peaks


def test_whole_reading_grows_with_the_files(sizes: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference for the bound above: the same measure grows with the files when the listing is read whole."""
    _whole(monkeypatch)
    peaks = []
    for root in sizes:
        with traced() as memory:
            reading = read_release(root, jobs=1)
        peaks.append(memory.peak)
        assert reading.problems is None
    # measured: 5.7 and 22.4 MB
    assert peaks[1] > peaks[0] * 2.5, peaks


@pytest.mark.parametrize("algorithms", [("sha256",), ("sha256", "md5")])
def test_hashing_refuses_a_fifo_put_in_a_listed_file_s_place_without_waiting(tmp_path: Path,
                                                                              algorithms: tuple[str, ...]) -> None:
    """The walk leaves FIFOs out, but a name can be swapped for one before a worker opens it: the hashing (one
    algorithm: hash_one; several: hash_file) must refuse it as not a regular file, not wait for a writer."""
    import contextlib
    import threading

    from curator.io.hashing import hash_file
    from curator.io.regular import NotRegularFile

    fifo = tmp_path / "slice_0001.png"
    os.mkfifo(fifo)
    outcome: list[object] = []

    def read() -> None:
        try:
            outcome.append(hash_file(fifo, algorithms))
        except OSError as error:
            outcome.append(error)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(10)
    waited = worker.is_alive()
    with contextlib.suppress(OSError):   # a reader blocked in open() is let go, so that a failing run ends
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert not waited
    assert len(outcome) == 1 and isinstance(outcome[0], NotRegularFile)
    assert "FIFO" in str(outcome[0])


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_streamed_comparison_tells_its_progress_every_256_files(tmp_path: Path, jobs: int) -> None:
    """The progress callback hears (files hashed, files met so far) every 256 files hashed, in files, or with bytes
    when it asks for them (``wants_bytes``), whether the files are hashed here or on processes."""
    small_files_release(tmp_path, 600, per_folder=100)
    listing = checksum_listings.sum_file_unread(tmp_path)
    assert listing is not None
    heard: list[tuple[int, int]] = []
    stream_listed(tmp_path, listing, jobs, progress=lambda done, total: heard.append((done, total)))
    assert [done for done, _ in heard] == [256, 512]
    assert all(done <= total <= 601 for done, total in heard)   # (files met: the 600 and SHA256SUMS)

    class WithBytes:
        wants_bytes = True

        def __init__(self) -> None:
            self.heard: list[tuple[int, int, int, int]] = []

        def __call__(self, done: int, total: int) -> None:
            raise AssertionError("a callback that wants bytes is told with_bytes")

        def with_bytes(self, done: int, total: int, done_bytes: int, total_bytes: int) -> None:
            self.heard.append((done, total, done_bytes, total_bytes))

    told = WithBytes()
    stream_listed(tmp_path, listing, jobs, progress=told)
    assert [row[0] for row in told.heard] == [256, 512]
