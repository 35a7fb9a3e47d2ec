"""Hostile sources and DEST folders for ``curator fetch`` (issue 17, part 2; the contract of issue 12): each run in
a subprocess (tests/hostile.py) with its exit code, no traceback, a wall-time and a peak-memory bound, and nothing
written outside DEST. Bounds: fetch imports little (no pydantic or numpy before its verify) and streams in 1 MB
chunks per thread; measured 34-41 MB peak and 1.0-1.9 s per run here, so 100 MB and 20 s leave honest headroom and
still catch an endless body held in memory or a hang."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path

from tests.factories import large_file_release
from tests.hostile import run_bounded, snapshot, written_outside
from tests.servers import RangeServer

MEGABYTES = 100
SECONDS = 20


def _record(server: RangeServer, number: int, entries: list[dict[str, object]]) -> None:
    """A Zenodo record as the records API documents it (https://developers.zenodo.org/, "Records"), answered by
    the Range server, its files served by it too."""
    server.documents[f"/api/records/{number}"] = json.dumps({"id": number, "files": entries}).encode()


def test_an_endless_body_stops_at_the_size_the_source_publishes(range_server: RangeServer, tmp_path: Path) -> None:
    (range_server.folder / "volume.bin").write_bytes(b"\0" * 1000)
    range_server.misbehave["volume.bin"] = "endless"
    _record(range_server, 7, [{"key": "volume.bin", "size": 1000, "checksum": "md5:" + "0" * 32,
                               "links": {"self": f"{range_server.url}volume.bin"}}])
    run = run_bounded(["fetch", "zenodo:7", "dest", "--api", range_server.url, "--no-cache"], cwd=tmp_path,
                      timeout=60)
    run.assert_bounded(exit_code=1, seconds=SECONDS, megabytes=MEGABYTES)
    assert ("DAMAGED volume.bin: the server sent more than the 1000 bytes the source lists; the file was removed"
            in run.stdout)
    assert not (tmp_path / "dest" / "volume.bin").exists() and not (tmp_path / "dest" / "volume.bin.part").exists()


def test_an_endless_body_of_a_file_without_a_published_size_stops_at_max_size(range_server: RangeServer,
                                                                              tmp_path: Path) -> None:
    (range_server.folder / "endless.bin").write_bytes(b"x")
    range_server.misbehave["endless.bin"] = "endless"
    run = run_bounded(["fetch", f"{range_server.url}endless.bin", "dest", "--max-size", "5000000", "--no-cache"],
                      cwd=tmp_path, timeout=60)
    run.assert_bounded(exit_code=1, seconds=SECONDS, megabytes=MEGABYTES)
    assert "DAMAGED endless.bin: the server sent more than the 5000000 bytes --max-size allows" in run.stdout


def test_bytes_beyond_the_content_length_are_not_taken(range_server: RangeServer, tmp_path: Path) -> None:
    rel = large_file_release(range_server.folder, 100_000)
    range_server.misbehave[rel] = "overlong"
    run = run_bounded(["fetch", range_server.url, "dest", "--no-cache"], cwd=tmp_path, timeout=60)
    run.assert_bounded(exit_code=0, seconds=SECONDS, megabytes=MEGABYTES)
    assert (tmp_path / "dest" / rel).read_bytes() == (range_server.folder / rel).read_bytes()


def test_a_listing_naming_paths_outside_dest_writes_nothing_there(range_server: RangeServer, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (range_server.folder / "x").write_bytes(b"owned")
    digest = hashlib.sha256(b"owned").hexdigest()
    (range_server.folder / "SHA256SUMS").write_text(
        f"{digest}  ../../etc/x\n{digest}  /etc/x\n{digest}  x\n", encoding="utf-8")
    _record(range_server, 8, [{"key": "../escape", "size": 5, "checksum": "md5:" + hashlib.md5(b"owned").hexdigest(),
                               "links": {"self": f"{range_server.url}x"}}])
    before = snapshot(work)
    run = run_bounded(["fetch", range_server.url, "dest", "--no-cache"], cwd=work, timeout=60)
    run.assert_bounded(exit_code=1, seconds=SECONDS, megabytes=MEGABYTES)
    assert "NOT FETCHED SHA256SUMS (entry 1): path '../../etc/x' points outside the release" in run.stdout
    assert "NOT FETCHED SHA256SUMS (entry 2): path '/etc/x' points outside the release" in run.stdout
    assert (work / "dest" / "x").read_bytes() == b"owned"
    zenodo = run_bounded(["fetch", "zenodo:8", "dest2", "--api", range_server.url, "--no-cache"], cwd=work,
                         timeout=60)
    zenodo.assert_bounded(exit_code=1, seconds=SECONDS, megabytes=MEGABYTES)
    assert "NOT FETCHED ../escape: path '../escape' points outside the release" in zenodo.stdout
    assert written_outside(before, snapshot(work), "dest") == ["dest2"]
    assert list((work / "dest2").iterdir()) == []


def test_a_fifo_or_a_link_in_dest_is_refused_without_hanging_or_following(range_server: RangeServer,
                                                                          tmp_path: Path) -> None:
    source = range_server.folder / "rel"
    large_file_release(source, 20_000, rel="data/volume.bin")
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    os.mkfifo(dest / "README.md")
    (dest / "data").symlink_to(outside, target_is_directory=True)
    before = snapshot(outside)
    run = run_bounded(["fetch", f"{range_server.url}rel/", str(dest), "--no-cache"], cwd=tmp_path, timeout=60)
    run.assert_bounded(exit_code=1, seconds=SECONDS, megabytes=MEGABYTES)
    assert f"REFUSED README.md: {dest}/README.md is not a regular file (a link, folder or FIFO)" in run.stdout
    assert f"REFUSED data/volume.bin: {dest}/data is a link or not a folder; nothing was written" in run.stdout
    assert snapshot(outside) == before
    fifo_part = tmp_path / "dest2" / "README.md.part"
    fifo_part.parent.mkdir()
    os.mkfifo(fifo_part)
    run = run_bounded(["fetch", f"{range_server.url}rel/", str(tmp_path / "dest2"), "--no-cache"], cwd=tmp_path,
                      timeout=60)
    run.assert_bounded(exit_code=1, seconds=SECONDS, megabytes=MEGABYTES)
    assert f"REFUSED README.md: {fifo_part} is not a regular file" in run.stdout


def test_a_dest_that_is_a_link_is_a_usage_error(range_server: RangeServer, tmp_path: Path) -> None:
    large_file_release(range_server.folder, 1000)
    (tmp_path / "real").mkdir()
    (tmp_path / "dest").symlink_to(tmp_path / "real", target_is_directory=True)
    run = run_bounded(["fetch", range_server.url, "dest", "--no-cache"], cwd=tmp_path, timeout=60)
    run.assert_bounded(exit_code=2, seconds=SECONDS, megabytes=MEGABYTES)
    assert "DEST dest is a link or not a folder" in run.stderr
    assert list((tmp_path / "real").iterdir()) == []


def test_a_server_that_never_answers_ends_at_the_timeout(tmp_path: Path) -> None:
    with socket.socket() as silent:   # accepts connections (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/data/volume.bin"
        run = run_bounded(["fetch", url, "dest", "--timeout", "1", "--no-cache"], cwd=tmp_path, timeout=60)
    run.assert_bounded(exit_code=1, seconds=SECONDS, megabytes=MEGABYTES)
    assert "INCOMPLETE volume.bin: cannot connect: timed out" in run.stdout
    assert "fetch again (1): volume.bin" in run.stdout
