"""The persistent cache: a rerun over an unchanged release reads nothing again; any change is noticed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from curator.cli.main import main
from curator.io import hashing, nifti
from curator.io.cache import Cache
from curator.validate import ValidateOptions, validate
from curator.verify import verify
from tests.factories import damage_cache, flip_byte
from tests.hostile import Run, run_bounded, snapshot


def test_second_validate_reads_no_file(release: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    first = validate(release, ValidateOptions(cache_dir=cache, jobs=1))
    assert first.valid and first.stats.model_extra["cache"]["hits"] == 0
    reads: list[str] = []
    real_hash, real_header = hashing.hash_file, nifti.read_header
    monkeypatch.setattr("curator.root_and_hashes.hash_file", lambda p, a: reads.append(str(p)) or real_hash(p, a))
    monkeypatch.setattr("curator.validate.read_header", lambda p: reads.append(str(p)) or real_header(p))
    second = validate(release, ValidateOptions(cache_dir=cache, jobs=1))
    assert second.valid and reads == [] and second.stats.model_extra["cache"]["misses"] == 0
    flip_byte(release / "studies/CT-0/study_0001.nii.gz")
    third = validate(release, ValidateOptions(cache_dir=cache, jobs=1))
    assert {(f.code, f.path) for f in third.findings} == {("CHECKSUM_MISMATCH", "studies/CT-0/study_0001.nii.gz")}
    assert sorted(set(reads)) == [str(release / "studies/CT-0/study_0001.nii.gz")]


def test_verify_only_refetch_and_cache_clear(release: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    flip_byte(release / "masks/study_0003_mask.nii.gz")
    (release / "studies/CT-2/study_0006.nii.gz").unlink()
    report = verify(release, cache_dir=cache)
    assert report.stats.model_extra["refetch"] == ["masks/study_0003_mask.nii.gz", "studies/CT-2/study_0006.nii.gz"]
    masks_only = verify(release, cache_dir=cache, only=("masks/*",))
    assert masks_only.stats.model_extra["listed"] == 2
    assert masks_only.stats.model_extra["refetch"] == ["masks/study_0003_mask.nii.gz"]
    assert masks_only.stats.model_extra["cache"]["misses"] == 0
    result = CliRunner().invoke(main, ["verify", str(release), "--cache-dir", str(cache)])
    assert result.exit_code == 1 and result.output.strip().splitlines()[-1] == (
        "fetch again (2): masks/study_0003_mask.nii.gz studies/CT-2/study_0006.nii.gz")
    cleared = CliRunner().invoke(main, ["cache", "clear", "--cache-dir", str(cache)])
    assert cleared.exit_code == 0 and not list(cache.glob("*.sqlite"))
    json_report = json.loads(CliRunner().invoke(main, ["verify", str(release), "--no-cache", "--format",
                                                       "json"]).output)
    assert "cache" not in json_report["stats"]


# --- a cache that cannot be used never changes the answer (issue 12, "A damaged cache") ---

def _answer(run: Run) -> tuple[object, ...]:
    report = run.report()
    return report["valid"], report["counts"], report["findings"]


def _warnings(run: Run) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith("curator: warning:")]


@pytest.fixture(scope="module")
def damaged_release(built_release: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A release with a finding, so "the same report" says something (shared: the tests here only read it)."""
    release = tmp_path_factory.mktemp("damaged") / "release"
    shutil.copytree(built_release, release, symlinks=True)
    flip_byte(release / "masks/study_0003_mask.nii.gz")
    return release


def _args(command: str, release: Path) -> list[str]:
    return [command, str(release), "--format", "json", "--jobs", "1"]


@pytest.fixture(scope="module")
def without_cache(damaged_release: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[object, ...]]:
    """Each command's answer with --no-cache."""
    work = tmp_path_factory.mktemp("no-cache")
    answers = {}
    for command in ("validate", "verify"):
        run = run_bounded([*_args(command, damaged_release), "--no-cache"], cwd=work)
        run.assert_bounded(exit_code=1, seconds=60, megabytes=200)
        answers[command] = _answer(run)
    return answers


@pytest.fixture(scope="module")
def filled_cache(damaged_release: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache filled by a run of each command (tests copy it before spoiling it)."""
    folder = tmp_path_factory.mktemp("filled") / "cache"
    for command in ("validate", "verify"):
        run_bounded([*_args(command, damaged_release), "--cache-dir", str(folder)], cwd=folder.parent
                    ).assert_bounded(exit_code=1, seconds=60, megabytes=200)
    return folder


@pytest.mark.parametrize("command", ["validate", "verify"])
@pytest.mark.parametrize("how", ["garbage", "header", "truncated", "schema"])
def test_damaged_database_is_set_aside_and_rebuilt(damaged_release: Path, without_cache: dict[str, object],
                                                   filled_cache: Path, tmp_path: Path, command: str,
                                                   how: str) -> None:
    """Regression: a damaged cache-v1.sqlite crashed verify and validate (exit 3, traceback)."""
    cache = tmp_path / "cache"
    shutil.copytree(filled_cache, cache)
    damage_cache(cache, how)
    args = [*_args(command, damaged_release), "--cache-dir", str(cache)]
    damaged = run_bounded(args, cwd=tmp_path)
    damaged.assert_bounded(exit_code=1, seconds=60, megabytes=200)
    assert _answer(damaged) == without_cache[command]
    assert len(_warnings(damaged)) == 1 and "was damaged" in _warnings(damaged)[0]
    assert len(list(cache.glob("cache-v1.sqlite.damaged-*"))) == 1
    rebuilt = run_bounded(args, cwd=tmp_path)
    rebuilt.assert_bounded(exit_code=1, seconds=60, megabytes=200)
    assert _answer(rebuilt) == without_cache[command] and _warnings(rebuilt) == []
    assert rebuilt.report()["stats"]["cache"]["hits"] > 0


def test_damage_found_while_reading_is_set_aside(tmp_path: Path) -> None:
    """A database that opens but fails a lookup (pages lost after the schema) is set aside then, not raised."""
    folder = tmp_path / "cache"
    cache = Cache(folder)
    cache.put_many("digests", {f"/{i:06d}": {"sha256": "ab" * 32} for i in range(20000)})
    cache.close()
    data = (folder / "cache-v1.sqlite").read_bytes()
    (folder / "cache-v1.sqlite").write_bytes(data[: len(data) // 2])
    reopened = Cache(folder)
    found = reopened.get_many("digests", [f"/{i:06d}" for i in range(20000)])
    reopened.put_many("digests", {"/new": {"sha256": "cd"}})
    assert reopened.warning is not None and "was damaged" in reopened.warning
    assert len(found) < 20000 and reopened.get_many("digests", ["/new"]) == {"/new": {"sha256": "cd"}}
    reopened.close()


@pytest.mark.parametrize("command", ["validate", "verify"])
def test_cache_dir_naming_a_file(damaged_release: Path, without_cache: dict[str, object], tmp_path: Path,
                                 command: str) -> None:
    """Regression: ``--cache-dir FILE`` crashed verify (exit 3: mkdir of a file); validate refused it (exit 2)."""
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("mine\n")
    run = run_bounded([*_args(command, damaged_release), "--cache-dir", str(not_a_folder)], cwd=tmp_path)
    run.assert_bounded(exit_code=1, seconds=60, megabytes=200)
    assert _answer(run) == without_cache[command] and not_a_folder.read_text() == "mine\n"
    assert len(_warnings(run)) == 1 and "cannot use the cache" in _warnings(run)[0]


def _read_only(folder: Path, args: list[str]) -> list[str]:
    """ARGS run with FOLDER read-only: by its mode for a normal user; for root (whom modes do not stop) in a
    mount namespace where FOLDER is bind-mounted read-only, skipped where namespaces are not allowed."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return args
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("root without mount namespaces: a read-only folder cannot be made")
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'
    return [unshare, "-m", "sh", "-c", script, str(folder), sys.executable, "-m", "curator", *args]


@pytest.mark.parametrize("command", ["validate", "verify"])
def test_read_only_cache(release: Path, filled_cache: Path, tmp_path: Path, command: str) -> None:
    """A read-only cache folder: its entries are used, new ones cannot be written; one warning, same report."""
    cache = tmp_path / "cache"
    shutil.copytree(filled_cache, cache)
    args = _args(command, release)
    (release / "LICENSE").write_text("changed\n")   # a finding, and a digest the cache lacks: to be written
    without = run_bounded([*args, "--no-cache"], cwd=tmp_path)
    before = snapshot(cache)
    run = run_bounded(_read_only(cache, [*args, "--cache-dir", str(cache)]), cwd=tmp_path)
    cache.chmod(0o755)
    run.assert_bounded(exit_code=1, seconds=60, megabytes=200)
    assert _answer(run) == _answer(without) and snapshot(cache) == before
    assert len(_warnings(run)) == 1 and "cannot write to the cache" in _warnings(run)[0]


@pytest.mark.parametrize("command", ["validate", "verify"])
def test_read_only_folder_without_a_cache(damaged_release: Path, without_cache: dict[str, object], tmp_path: Path,
                                          command: str) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    run = run_bounded(_read_only(folder, [*_args(command, damaged_release), "--cache-dir", str(folder)]),
                      cwd=tmp_path)
    folder.chmod(0o755)
    run.assert_bounded(exit_code=1, seconds=60, megabytes=200)
    assert _answer(run) == without_cache[command] and list(folder.iterdir()) == []
    assert len(_warnings(run)) == 1 and "cannot use the cache" in _warnings(run)[0]
