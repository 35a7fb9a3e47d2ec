"""``curator fetch`` over HTTP (issue 17, part 2): a built release served by the Range server of tests/servers.py,
fetched by its base URL + SHA256SUMS or by a URL list; a dropped connection resumed with only the remainder sent, a
flipped byte named at fetch time, DEST verified at the end (RFC 9110 section 14 for Range, 206, 416)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from curator.cli.main import main
from curator.cli.verify import run as verify_run
from curator.fetch.transport import Restart, _range_start
from curator.render.fetch import FetchProgress
from tests.factories import flip_byte, large_file_release
from tests.servers import RangeServer

STUDY = "studies/CT-1/study_0004.nii.gz"


def _serve(built_release: Path, server: RangeServer) -> Path:
    served = server.folder / "rel"
    shutil.copytree(built_release, served)
    return served


def _fetch(*args: str, exit_code: int) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["fetch", *args, "--format", "json"])
    assert result.exit_code == exit_code, result.output
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


def _listed(root: Path) -> dict[str, str]:
    lines = (root / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    return {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in lines}


def test_a_release_fetched_by_its_base_url_is_intact_and_each_file_was_sent_once(
        built_release: Path, range_server: RangeServer, tmp_path: Path) -> None:
    served = _serve(built_release, range_server)
    dest = tmp_path / "dest"
    document = _fetch(f"{range_server.url}rel/", str(dest), "--cache-dir", str(tmp_path / "cache"), exit_code=0)
    listed = _listed(served)
    assert {f["path"] for f in document["files"]} == set(listed)
    assert {f["status"] for f in document["files"]} == {"fetched"}
    for rel, digest in listed.items():
        assert hashlib.sha256((dest / rel).read_bytes()).hexdigest() == digest
        assert range_server.sent[f"rel/{rel}"] == (served / rel).stat().st_size
    assert not list(dest.rglob("*.part"))
    # verify read nothing: the digests computed while streaming were put in its cache
    assert document["verify"]["valid"] is True
    assert document["verify"]["stats"]["cache"] == {"hits": len(listed), "misses": 0}
    assert verify_run([str(dest), "--no-cache"]) == 0


def test_a_rerun_skips_files_that_already_hash_right(built_release: Path, range_server: RangeServer,
                                                     tmp_path: Path) -> None:
    _serve(built_release, range_server)
    dest = tmp_path / "dest"
    _fetch(f"{range_server.url}rel/", str(dest), "--no-cache", exit_code=0)
    range_server.reset()
    document = _fetch(f"{range_server.url}rel/", str(dest), "--no-cache", exit_code=0)
    assert {f["status"] for f in document["files"]} == {"present"}
    assert [rel for rel, count in range_server.sent.items() if count and rel != "rel/SHA256SUMS"] == []


def test_a_url_list_takes_its_checksums_from_the_sha256sums_among_the_urls(
        built_release: Path, range_server: RangeServer, tmp_path: Path) -> None:
    served = _serve(built_release, range_server)
    wanted = ["SHA256SUMS", "LICENSE", STUDY, "masks/study_0004_mask.nii.gz"]
    urls = tmp_path / "urls.txt"
    urls.write_text("# the masks and one study\n" + "".join(f"{range_server.url}rel/{rel}\n" for rel in wanted),
                    encoding="utf-8")
    dest = tmp_path / "dest"
    document = _fetch("--urls", str(urls), str(dest), "--no-cache", exit_code=0)
    files = {f["path"]: f for f in document["files"]}
    assert sorted(files) == sorted(wanted)
    assert files[STUDY]["digests"]["sha256"] == _listed(served)[STUDY]
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == sorted(wanted)
    # only the fetched files are verified: the rest of the release was not asked for
    assert document["verify"]["valid"] is True and document["verify"]["counts"]["error"] == 0


def test_a_dropped_connection_leaves_the_part_and_the_rerun_fetches_only_the_remainder(
        built_release: Path, range_server: RangeServer, tmp_path: Path) -> None:
    served = _serve(built_release, range_server)
    size = (served / STUDY).stat().st_size
    range_server.drop_after[f"rel/{STUDY}"] = size // 2
    dest = tmp_path / "dest"
    first = CliRunner().invoke(main, ["fetch", f"{range_server.url}rel/", str(dest), "--no-cache"])
    assert first.exit_code == 1, first.output
    assert f"INCOMPLETE {STUDY}: the connection ended after {size // 2} of the {size} bytes sent" in first.output
    assert f"fetch again (1): {STUDY}" in first.output
    part = dest / (STUDY + ".part")
    assert part.stat().st_size == size // 2 and not (dest / STUDY).exists()
    document = _fetch(f"{range_server.url}rel/", str(dest), "--no-cache", exit_code=0)
    assert range_server.sent[f"rel/{STUDY}"] == size   # over both runs: the first half once, the rest once
    assert ("GET", f"rel/{STUDY}", f"bytes={size // 2}-") in range_server.requests
    resumed = next(f for f in document["files"] if f["path"] == STUDY)
    assert (resumed["status"], resumed["received"]) == ("resumed", size - size // 2)
    assert (dest / STUDY).read_bytes() == (served / STUDY).read_bytes() and not part.exists()
    assert verify_run([str(dest), "--no-cache"]) == 0


def test_a_byte_flipped_on_the_server_is_named_at_fetch_time(built_release: Path, range_server: RangeServer,
                                                             tmp_path: Path) -> None:
    served = _serve(built_release, range_server)
    listed = _listed(served)
    flip_byte(served / STUDY)
    got = hashlib.sha256((served / STUDY).read_bytes()).hexdigest()
    dest = tmp_path / "dest"
    result = CliRunner().invoke(main, ["fetch", f"{range_server.url}rel/", str(dest), "--no-cache"])
    assert result.exit_code == 1, result.output
    assert (f"DAMAGED {STUDY}: sha256 is {got}, SHA256SUMS lists {listed[STUDY]}; the download was removed"
            in result.output)
    assert f"fetch again (1): {STUDY}" in result.output
    assert not (dest / STUDY).exists() and not (dest / (STUDY + ".part")).exists()
    # repaired on the server, the rerun fetches that file alone and DEST ends intact
    shutil.copy2(built_release / STUDY, served / STUDY)
    range_server.reset()
    document = _fetch(f"{range_server.url}rel/", str(dest), "--no-cache", exit_code=0)
    assert [f["path"] for f in document["files"] if f["status"] == "fetched"] == [STUDY]
    assert verify_run([str(dest), "--no-cache"]) == 0


def test_a_server_that_ignores_range_is_fetched_again_from_the_start(tmp_path: Path,
                                                                     range_server: RangeServer) -> None:
    rel = large_file_release(range_server.folder, 300_000)
    dest = tmp_path / "dest"
    (dest / "data").mkdir(parents=True)
    (dest / (rel + ".part")).write_bytes((range_server.folder / rel).read_bytes()[:1000])
    range_server.misbehave[rel] = "refuse-ranges"
    document = _fetch(range_server.url, str(dest), "--no-cache", exit_code=0)
    fetched = next(f for f in document["files"] if f["path"] == rel)
    assert fetched["status"] == "fetched" and "416" in fetched["reason"]
    assert range_server.sent[rel] == 300_000
    assert (dest / rel).read_bytes() == (range_server.folder / rel).read_bytes()


def test_a_part_longer_than_a_wrong_one_does_not_survive_a_flip_inside_it(tmp_path: Path,
                                                                          range_server: RangeServer) -> None:
    """A .part whose bytes are wrong (a disk error, a server that changed the file) fails the checksum after the
    resume; the download is removed and named, and the next run fetches the whole file."""
    rel = large_file_release(range_server.folder, 200_000)
    dest = tmp_path / "dest"
    (dest / "data").mkdir(parents=True)
    wrong = bytearray((range_server.folder / rel).read_bytes()[:5000])
    wrong[10] ^= 0xFF
    (dest / (rel + ".part")).write_bytes(bytes(wrong))
    result = CliRunner().invoke(main, ["fetch", range_server.url, str(dest), "--no-cache"])
    assert result.exit_code == 1 and f"DAMAGED {rel}: sha256 is" in result.output, result.output
    assert range_server.sent[rel] == 195_000
    assert not (dest / (rel + ".part")).exists()
    _fetch(range_server.url, str(dest), "--no-cache", exit_code=0)
    assert range_server.sent[rel] == 395_000


def test_kill_9_mid_download_then_the_rerun_continues_the_part(tmp_path: Path, range_server: RangeServer) -> None:
    size = 4 << 20
    rel = large_file_release(range_server.folder, size)
    range_server.throttle[rel] = 0.02    # 64 chunks of 64 KB: about 1.3 s for the file
    dest = tmp_path / "dest"
    part = dest / (rel + ".part")
    process = subprocess.Popen([sys.executable, "-m", "curator", "fetch", range_server.url, str(dest), "--no-cache"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not (part.exists() and part.stat().st_size >= size // 4) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    kept = part.stat().st_size
    assert size // 4 <= kept < size
    del range_server.throttle[rel]
    settled = -1   # the server's thread for the killed client sends until its writes fail: wait until it stops
    while settled != range_server.sent[rel] and time.monotonic() < deadline:
        settled = range_server.sent[rel]
        time.sleep(0.3)
    range_server.reset()
    document = _fetch(range_server.url, str(dest), "--no-cache", exit_code=0)
    assert ("GET", rel, f"bytes={kept}-") in range_server.requests
    assert range_server.sent[rel] == size - kept
    assert next(f for f in document["files"] if f["path"] == rel)["status"] == "resumed"
    assert (dest / rel).read_bytes() == (range_server.folder / rel).read_bytes()
    assert verify_run([str(dest), "--no-cache"]) == 0


def test_an_existing_different_file_is_not_overwritten_without_force(tmp_path: Path,
                                                                     range_server: RangeServer) -> None:
    rel = large_file_release(range_server.folder, 10_000)
    dest = tmp_path / "dest"
    (dest / "data").mkdir(parents=True)
    (dest / rel).write_bytes(b"mine")
    result = CliRunner().invoke(main, ["fetch", range_server.url, str(dest), "--no-cache"])
    assert result.exit_code == 1, result.output
    assert f"REFUSED {rel}: DEST has a different file there" in result.output
    assert (dest / rel).read_bytes() == b"mine"
    _fetch(range_server.url, str(dest), "--no-cache", "--force", exit_code=0)
    assert (dest / rel).read_bytes() == (range_server.folder / rel).read_bytes()


def test_a_source_curator_does_not_read_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["fetch", "ftp://example.org/x", str(tmp_path / "dest")])
    assert result.exit_code == 2, result.output
    assert "'ftp://example.org/x' is not a source curator fetches" in result.output
    assert not (tmp_path / "dest").exists()


def test_a_base_url_without_a_listing_cannot_run(tmp_path: Path, range_server: RangeServer) -> None:
    result = CliRunner().invoke(main, ["fetch", range_server.url, str(tmp_path / "dest")])
    assert result.exit_code == 3, result.output
    assert "no checksum listing found at the base URL" in result.output


def test_progress_shows_bytes_rate_and_time_left() -> None:
    stream = io.StringIO()
    progress = FetchProgress(stream)
    progress.started -= 10        # ten seconds into the fetch
    progress(1, 2, 500_000, 1_000_000)
    assert stream.getvalue() == "\rfetch: 1/2 files, 500.0 KB/1.0 MB, 50.0 KB/s, 10 s left\x1b[K"


def test_progress_goes_to_stderr_with_the_option(built_release: Path, range_server: RangeServer,
                                                 tmp_path: Path) -> None:
    _serve(built_release, range_server)
    result = CliRunner().invoke(main, ["fetch", f"{range_server.url}rel/", str(tmp_path / "dest"), "--no-cache",
                                       "--progress"])
    assert result.exit_code == 0, result.output
    assert "fetch: 30/30 files, 544.1 KB, " in result.stderr and "/s" in result.stderr
    assert "fetch: " not in result.stdout.replace("fetch http", "")


def test_a_206_that_starts_elsewhere_than_asked_restarts_the_file() -> None:
    assert _range_start("bytes 1000-1999/2000", 1000, 2000) == (1000, 2000)
    for header, why in (("bytes 0-1999/2000", "asked for bytes from 1000, the server sent them from 0"),
                        ("bytes 1000-2999/3000", "the server says the file has 3000 bytes, the source lists 2000"),
                        ("bytes */2000", "the server answered 206 with Content-Range 'bytes */2000'")):
        with pytest.raises(Restart, match=re.escape(why)):
            _range_start(header, 1000, 2000)


def test_a_cncb_md5_json_among_the_urls_checks_the_others(range_server: RangeServer, tmp_path: Path) -> None:
    """CNCB ships an md5 JSON map beside its zip parts (``{"<name>": "<md5>"}``, io/checksum_listings.py)."""
    parts = {"CP-1.zip": b"first part" * 1000, "CP-2.zip": b"second part" * 1000}
    for name, data in parts.items():
        (range_server.folder / name).write_bytes(data)
    (range_server.folder / "filemd5.json").write_text(
        json.dumps({name: hashlib.md5(data).hexdigest() for name, data in parts.items()}), encoding="utf-8")
    urls = [f"{range_server.url}{name}" for name in ("filemd5.json", *parts)]
    document = _fetch(*urls, str(tmp_path / "dest"), "--checksums", "filemd5.json", "--no-cache", exit_code=0)
    files = {f["path"]: f for f in document["files"]}
    assert files["CP-2.zip"]["digests"]["md5"] == hashlib.md5(parts["CP-2.zip"]).hexdigest()
    assert document["verify"]["stats"]["form"] == "md5 JSON map"
    flip_byte(range_server.folder / "CP-2.zip")
    result = CliRunner().invoke(main, ["fetch", *urls, str(tmp_path / "again"), "--checksums", "filemd5.json",
                                       "--no-cache"])
    assert result.exit_code == 1, result.output
    assert "DAMAGED CP-2.zip: md5 is " in result.output and "filemd5.json lists" in result.output
