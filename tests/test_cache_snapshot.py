"""A cached verify rerun answered from one record of the whole release (the sum file's identity, every folder's
state, the outcome): it must answer exactly what a full run answers, and never when anything it cannot see by the
files' names changed (a file rewritten with its size and mtime put back, a file swapped, an entry added or removed,
the sum file edited)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from curator import root_and_hashes
from curator.cli.verify import run
from curator.io.cache import Cache, folder_state
from curator.io.manifest import Manifest
from curator.root_and_hashes import SNAPSHOT, Streamed, _Snapshot
from tests.factories import flip_byte, small_files_release

COUNT = 300


@pytest.fixture
def release(tmp_path: Path) -> tuple[Path, list[str]]:
    root = tmp_path / "release"
    return root, small_files_release(root, COUNT, per_folder=50)


def _report(root: Path, out: Path, cache: Path | None, *, exit_code: int) -> dict[str, Any]:
    where = ["--cache-dir", str(cache)] if cache is not None else ["--no-cache"]
    assert run([str(root), "--format", "json", "--output", str(out), *where]) == exit_code
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    report["stats"].pop("seconds")
    return report


def _findings(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f["code"], f["path"]) for f in report["findings"]]


def _no_listing_read(*args: object, **kwargs: object) -> object:
    """stream_entries replaced: a run that reads the sum file fails, so a run that passes was answered by the
    record (the per-file cache alone reads every line)."""
    raise AssertionError("the sum file was read")


def test_an_unchanged_release_is_answered_by_the_record_alone(release: tuple[Path, list[str]], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = release
    cache = tmp_path / "cache"
    first = _report(root, tmp_path / "first.json", cache, exit_code=0)
    monkeypatch.setattr(root_and_hashes, "stream_entries", _no_listing_read)
    again = _report(root, tmp_path / "again.json", cache, exit_code=0)
    assert first["stats"].pop("cache") == {"hits": 0, "misses": COUNT}
    assert again["stats"].pop("cache") == {"hits": COUNT, "misses": 0}
    assert again == first


def test_a_damaged_release_is_answered_as_a_full_run_answers(release: tuple[Path, list[str]],
                                                             tmp_path: Path) -> None:
    root, paths = release
    flip_byte(root / paths[7])
    (root / paths[60]).unlink()
    (root / "slices" / "0003" / "extra.png").write_bytes(b"x" * 10)
    manifest = root / "SHA256SUMS"
    manifest.write_text(manifest.read_text(encoding="utf-8") + "not a line\n", encoding="utf-8")
    cache = tmp_path / "cache"
    plain = _report(root, tmp_path / "plain.json", None, exit_code=1)
    first = _report(root, tmp_path / "first.json", cache, exit_code=1)
    again = _report(root, tmp_path / "again.json", cache, exit_code=1)
    assert sorted(_findings(plain)) == sorted([("CHECKSUM_MISMATCH", paths[7]), ("FILE_MISSING", paths[60]),
                                               ("FILE_UNLISTED", "slices/0003/extra.png"),
                                               ("MANIFEST_MALFORMED", "SHA256SUMS")])
    plain["stats"].pop("cache", None)
    first["stats"].pop("cache")
    assert again["stats"].pop("cache") == {"hits": COUNT - 1, "misses": 0}
    assert plain == first == again


def test_a_file_rewritten_with_its_size_and_mtime_put_back_is_read_again(release: tuple[Path, list[str]],
                                                                         tmp_path: Path) -> None:
    root, paths = release
    cache = tmp_path / "cache"
    _report(root, tmp_path / "first.json", cache, exit_code=0)
    target = root / paths[123]
    before = target.stat()
    flip_byte(target)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (target.stat().st_size, target.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    again = _report(root, tmp_path / "again.json", cache, exit_code=1)
    assert _findings(again) == [("CHECKSUM_MISMATCH", paths[123])]


def test_a_file_swapped_for_another_by_rename_is_read_again(release: tuple[Path, list[str]], tmp_path: Path) -> None:
    root, paths = release
    cache = tmp_path / "cache"
    _report(root, tmp_path / "first.json", cache, exit_code=0)
    target, twin = root / paths[10], root / "slices" / "0000" / "twin.tmp"
    before, parent = target.stat(), target.parent.stat()
    twin.write_bytes(bytes([target.read_bytes()[0] ^ 1]) + target.read_bytes()[1:])
    os.utime(twin, ns=(before.st_atime_ns, before.st_mtime_ns))
    twin.rename(target)
    os.utime(target.parent, ns=(parent.st_atime_ns, parent.st_mtime_ns))   # the folder's mtime too: ctime remains
    assert (target.parent.stat().st_mtime_ns, target.stat().st_mtime_ns) == (parent.st_mtime_ns,
                                                                            before.st_mtime_ns)
    again = _report(root, tmp_path / "again.json", cache, exit_code=1)
    assert _findings(again) == [("CHECKSUM_MISMATCH", paths[10])]


@pytest.mark.parametrize("change", ["added", "removed", "new folder", "folder removed"])
def test_an_entry_added_or_removed_is_seen(release: tuple[Path, list[str]], tmp_path: Path, change: str) -> None:
    root, paths = release
    cache = tmp_path / "cache"
    _report(root, tmp_path / "first.json", cache, exit_code=0)
    expected: list[tuple[str, str]]
    if change == "added":
        (root / "slices" / "0002" / "late.png").write_bytes(b"late")
        expected, code = [("FILE_UNLISTED", "slices/0002/late.png")], 0
    elif change == "removed":
        (root / paths[260]).unlink()
        expected, code = [("FILE_MISSING", paths[260])], 1
    elif change == "new folder":
        (root / "slices" / "0001" / "deeper").mkdir()
        (root / "slices" / "0001" / "deeper" / "late.png").write_bytes(b"late")
        expected, code = [("FILE_UNLISTED", "slices/0001/deeper/late.png")], 0
    else:
        shutil.rmtree(root / "slices" / "0005")
        expected, code = [("FILE_MISSING", rel) for rel in paths[250:]], 1
    again = _report(root, tmp_path / "again.json", cache, exit_code=code)
    assert _findings(again) == expected


def test_a_sum_file_edited_in_place_is_read_again(release: tuple[Path, list[str]], tmp_path: Path) -> None:
    root, paths = release
    cache = tmp_path / "cache"
    _report(root, tmp_path / "first.json", cache, exit_code=0)
    manifest = root / "SHA256SUMS"
    before = manifest.stat()
    text = manifest.read_text(encoding="utf-8")
    digit = "1" if text[0] == "0" else "0"
    manifest.write_text(digit + text[1:], encoding="utf-8")   # the first file's digest, same size
    os.utime(manifest, ns=(before.st_atime_ns, before.st_mtime_ns))
    again = _report(root, tmp_path / "again.json", cache, exit_code=1)
    assert _findings(again) == [("CHECKSUM_MISMATCH", paths[0])]


def test_a_repository_folder_changing_does_not_spoil_the_record(release: tuple[Path, list[str]], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """verify never walks .git: a commit there must not cost the rerun its record."""
    root, _ = release
    (root / ".git").mkdir()
    cache = tmp_path / "cache"
    _report(root, tmp_path / "first.json", cache, exit_code=0)
    (root / ".git" / "index.lock").write_bytes(b"x")
    monkeypatch.setattr(root_and_hashes, "stream_entries", _no_listing_read)
    again = _report(root, tmp_path / "again.json", cache, exit_code=0)
    assert again["stats"]["cache"] == {"hits": COUNT, "misses": 0}


@pytest.mark.parametrize("how", ["null value", "two values"])
def test_a_damaged_record_sets_the_cache_aside(release: tuple[Path, list[str]], tmp_path: Path, how: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = release
    cache = tmp_path / "cache"
    _report(root, tmp_path / "first.json", cache, exit_code=0)
    with sqlite3.connect(cache / "cache-v1.sqlite") as db:
        db.execute("UPDATE entries SET value = ? WHERE kind = ?",
                   (None if how == "null value" else "1, 2", SNAPSHOT))
    db.close()
    capsys.readouterr()
    again = _report(root, tmp_path / "again.json", cache, exit_code=0)
    assert again["findings"] == []
    assert "was damaged" in capsys.readouterr().err
    assert (again["stats"]["cache"]["hits"], again["stats"]["cache"]["misses"]) == (0, COUNT)


def test_an_outcome_with_a_file_that_could_not_be_read_is_not_recorded(tmp_path: Path) -> None:
    """A read that failed is tried again next time (the per-file cache keeps no failure either)."""
    root = tmp_path / "release"
    small_files_release(root, 3)
    cache = Cache(tmp_path / "cache")
    listing = Manifest(root / "SHA256SUMS", "sha256")
    snapshot = _Snapshot(root, listing, 1, cache)
    found = Streamed()
    found.problems.append(root_and_hashes.Problem("CHECKSUM_MISMATCH", "a", {"reason": "cannot read the file"}))
    snapshot.record(found)
    assert cache.recall(SNAPSHOT, snapshot.key) is None
    snapshot.record(Streamed())
    assert cache.recall(SNAPSHOT, snapshot.key)["counts"] == [0, 0, 0, 0]
    cache.close()


def test_a_folder_state_changes_with_each_change_a_file_can_suffer(tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    for name in ("a", "b"):
        (folder / name).write_bytes(b"0123456789")
    (folder / "sub").mkdir()
    base = str(tmp_path)
    first = folder_state(base, "f")
    assert first is not None
    assert first[1:] == (3, ["f/sub"])
    assert folder_state(base, "f") == first
    states = {first[0]}
    _tick()
    info = (folder / "a").stat()
    (folder / "a").write_bytes(b"0123456780")   # same size, mtime put back: the ctime moves
    os.utime(folder / "a", ns=(info.st_atime_ns, info.st_mtime_ns))
    states.add(_digest(base))
    _tick()
    (folder / "c").write_bytes(b"")
    states.add(_digest(base))
    _tick()
    (folder / "c").unlink()
    states.add(_digest(base))
    _tick()
    (folder / "b").chmod(0o600)
    states.add(_digest(base))
    _tick()
    (folder / "sub" / "x").write_bytes(b"")   # a subfolder's own listing: its entry in the parent changes too
    states.add(_digest(base))
    _tick()
    assert len(states) == 6
    (folder / ".git").mkdir()
    with_repository = _digest(base)
    (folder / ".git" / "HEAD").write_bytes(b"")   # not walked: not part of the state
    assert _digest(base) == with_repository
    assert folder_state(base, "gone") is None


def _tick() -> None:
    """A file system's clock moves by ticks of a few milliseconds: two changes within one tick share their times
    (the per-file cache has the same limit), so the changes of this test are a tick apart."""
    time.sleep(0.03)


def _digest(base: str) -> str:
    state = folder_state(base, "f")
    assert state is not None
    return state[0]


def test_a_record_made_by_other_code_is_not_the_answer(release: tuple[Path, list[str]], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The record holds judgements, not only digests: after curator's judging modules change (an edited checkout, a
    reinstall under the same version), the sum file is read again."""
    root, _ = release
    cache = tmp_path / "cache"
    _report(root, tmp_path / "first.json", cache, exit_code=0)
    read: list[object] = []
    real = root_and_hashes.stream_entries

    def counted(*args: Any, **kwargs: Any) -> Any:
        read.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(root_and_hashes, "stream_entries", counted)
    monkeypatch.setattr(root_and_hashes, "_code", lambda: ["0.1.0", "another build"])
    again = _report(root, tmp_path / "again.json", cache, exit_code=0)
    assert read
    assert again["stats"]["cache"] == {"hits": COUNT, "misses": 0}   # the per-file digests still serve


def test_the_code_identity_follows_the_judging_modules_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = tmp_path / "judge.py"
    module.write_text("X = 1\n", encoding="utf-8")
    fake = type(os)("curator_test_judge")
    fake.__file__ = str(module)
    monkeypatch.setitem(__import__("sys").modules, "curator_test_judge", fake)
    monkeypatch.setattr(root_and_hashes, "_JUDGES", ("curator_test_judge",))
    before = root_and_hashes._code()
    module.write_text("X = 22\n", encoding="utf-8")
    assert root_and_hashes._code() != before
    assert before[1] is not None
