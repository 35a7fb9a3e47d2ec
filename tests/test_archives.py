"""Deterministic archive parts of a release, checked with unzip, zipinfo, tar and the coreutils checksums."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import re
import tarfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from curator.cli.pack import pack
from curator.io.manifest import parse_manifest
from curator.release.archives import PRESETS, PackError, _check_preset, pack_release, plan_parts, study_units
from tests.factories import flip_byte
from tests.release_extras import archive_members, copy_release, finish_release, run, tree_files

WHEN = dt.date(2026, 1, 15)
STEM = "TEST_0008-v1.0.0"


@pytest.fixture(scope="module")
def full_release(built_release: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return finish_release(copy_release(built_release, tmp_path_factory.mktemp("archives") / "release"))


@pytest.fixture(autouse=True)
def _no_source_date_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)




def _parts(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.name.startswith(STEM))


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_two_packs_are_byte_identical(full_release: Path, tmp_path: Path, fmt: str) -> None:
    first = pack_release(full_release, tmp_path / "a", fmt=fmt, max_bytes=200_000, max_files=None, when=WHEN, jobs=2)
    for path in full_release.rglob("*"):       # other times on disk must not leak into the archives
        os.utime(path, (1_800_000_000, 1_800_000_000))
    second = pack_release(full_release, tmp_path / "b", fmt=fmt, max_bytes=200_000, max_files=None, when=WHEN,
                          jobs=1)
    assert [p.name for p in first] == [p.name for p in second]
    assert len(first) > 4                        # several parts + PARTS.tsv, MD5SUMS, SHA256SUMS
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_zip_members_sorted_fixed_times_no_owners(full_release: Path, tmp_path: Path) -> None:
    out = tmp_path / "zip"
    pack_release(full_release, out, fmt="zip", max_bytes=None, max_files=9, when=WHEN)
    for part in _parts(out):
        tested = run("unzip", "-t", str(part))
        assert tested.returncode == 0 and "No errors detected" in tested.stdout, tested.stdout
        listing = run("zipinfo", "-l", str(part)).stdout.splitlines()
        rows = [line.split() for line in listing if line.startswith("-")]
        names = [row[-1] for row in rows]
        assert names == sorted(names) and names == archive_members(part)
        assert {(row[-3], row[-2]) for row in rows} == {("26-Jan-15", "00:00")}
        assert {row[0] for row in rows} <= {"-rw-r--r--", "-rwxr-xr-x"}
        with zipfile.ZipFile(part) as archive:
            for info in archive.infolist():
                assert info.extra == b"" and info.create_system == 3   # no UT/ux fields: no times, no uid/gid
                stored = info.filename.endswith((".gz", ".xlsx", ".png", ".pdf"))
                assert info.compress_type == (zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(next(p for p in _parts(out) if "verify.sh" in archive_members(p))) as archive:
        assert (archive.getinfo("verify.sh").external_attr >> 16) & 0o777 == 0o755


def test_tar_gz_members_sorted_fixed_times_no_owners(full_release: Path, tmp_path: Path) -> None:
    out = tmp_path / "tgz"
    pack_release(full_release, out, fmt="tar.gz", max_bytes=None, max_files=9, when=WHEN)
    for part in _parts(out):
        header = part.read_bytes()[:10]
        assert header[:3] == b"\x1f\x8b\x08"
        assert header[3] & 0x08 == 0 and header[3] & 0x10 == 0   # no FNAME, no FCOMMENT
        assert header[4:8] == b"\x00\x00\x00\x00"                # MTIME 0
        listed = run("tar", "tzf", str(part))
        assert listed.returncode == 0
        names = listed.stdout.splitlines()
        assert names == sorted(names)
        verbose = run("tar", "tvzf", str(part), env={**os.environ, "TZ": "UTC"}).stdout.splitlines()
        for line in verbose:
            mode, owner, _size, day, clock, _name = line.split()
            assert owner == "0/0" and (day, clock) == ("2026-01-15", "00:00")
            assert mode in {"-rw-r--r--", "-rwxr-xr-x"}
        with tarfile.open(part) as archive:
            for info in archive.getmembers():
                assert (info.uname, info.gname, info.uid, info.gid, info.mtime) == ("", "", 0, 0, 1_768_435_200)
                assert info.isfile()
        with gzip.open(part) as stream:
            assert len(stream.read()) % tarfile.RECORDSIZE == 0


def test_source_date_epoch_sets_the_member_times(full_release: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    written = pack_release(full_release, tmp_path / "t", fmt="tar.gz", max_bytes=None, max_files=None, when=WHEN)
    with tarfile.open(written[0]) as archive:
        assert {m.mtime for m in archive.getmembers()} == {1_700_000_000}
    written = pack_release(full_release, tmp_path / "z", fmt="zip", max_bytes=None, max_files=None, when=WHEN)
    with zipfile.ZipFile(written[0]) as archive:
        assert {i.date_time for i in archive.infolist()} == {(2023, 11, 14, 22, 13, 20)}


@pytest.mark.parametrize(("fmt", "max_bytes", "max_files"), [("zip", 200_000, None), ("tar.gz", None, 5),
                                                              ("zip", 300_000, 7)])
def test_parts_respect_limits_and_keep_studies_with_masks(full_release: Path, tmp_path: Path, fmt: str,
                                                          max_bytes: int | None, max_files: int | None) -> None:
    out = tmp_path / "parts"
    written = pack_release(full_release, out, fmt=fmt, max_bytes=max_bytes, max_files=max_files, when=WHEN)
    parts = _parts(out)
    assert written == [*parts, out / "PARTS.tsv", out / "MD5SUMS", out / "SHA256SUMS"]
    assert len(parts) > 1
    where: dict[str, str] = {}
    for part in parts:
        members = archive_members(part)
        assert max_bytes is None or part.stat().st_size <= max_bytes
        assert max_files is None or len(members) <= max_files
        for member in members:
            assert member not in where
            where[member] = part.name
    assert sorted(where) == tree_files(full_release)
    for member, part in where.items():
        match = re.fullmatch(r"masks/study_(\d+)_mask\.nii\.gz", member)
        if match:
            study = next(m for m in where if re.fullmatch(rf"studies/[^/]+/study_{match.group(1)}\.nii\.gz", m))
            assert where[study] == part, (member, study)
    # every part extracts on its own; together they are the release, intact
    extracted = tmp_path / "extracted"
    extracted.mkdir()
    for part in parts:
        command = ("unzip", "-q", str(part), "-d", str(extracted)) if fmt == "zip" else (
            "tar", "xzf", str(part), "-C", str(extracted))
        assert run(*command).returncode == 0
    assert run("sha256sum", "-c", "--strict", "SHA256SUMS", cwd=extracted).returncode == 0
    assert run("bash", "verify.sh", cwd=extracted).returncode == 0


def test_parts_list_and_checksums_match_the_files(full_release: Path, tmp_path: Path) -> None:
    out = tmp_path / "parts"
    pack_release(full_release, out, fmt="zip", max_bytes=200_000, max_files=None, when=WHEN)
    rows = [line.split("\t") for line in (out / "PARTS.tsv").read_text(encoding="utf-8").splitlines()]
    assert rows[0] == ["part", "bytes", "files", "md5", "sha256"]
    assert [row[0] for row in rows[1:]] == [p.name for p in _parts(out)]
    md5 = {e.path: e.digest for e in parse_manifest(out / "MD5SUMS").entries}
    sha = {e.path: e.digest for e in parse_manifest(out / "SHA256SUMS").entries}
    for name, size, files, row_md5, row_sha in rows[1:]:
        assert int(size) == (out / name).stat().st_size
        assert int(files) == len(archive_members(out / name))
        assert (md5[name], sha[name]) == (row_md5, row_sha)
    assert run("md5sum", "-c", "--strict", "MD5SUMS", cwd=out).returncode == 0
    assert run("sha256sum", "-c", "--strict", "SHA256SUMS", cwd=out).returncode == 0


def test_planner_units_and_impossible_limits() -> None:
    sizes = {"README_EN.md": 10, "masks/study_0002_mask.nii.gz": 5, "studies/CT-1/study_0002.nii.gz": 50,
             "studies/CT-0/study_0001.nii.gz": 40, "SHA256SUMS": 3}
    assert study_units(list(sizes)) == [("README_EN.md",), ("SHA256SUMS",), ("studies/CT-0/study_0001.nii.gz",),
                                        ("studies/CT-1/study_0002.nii.gz", "masks/study_0002_mask.nii.gz")]
    assert plan_parts(sizes, fmt="zip", max_files=2) == [
        ["README_EN.md", "SHA256SUMS"], ["studies/CT-0/study_0001.nii.gz"],
        ["studies/CT-1/study_0002.nii.gz", "masks/study_0002_mask.nii.gz"]]
    with pytest.raises(PackError, match="must stay together"):
        plan_parts(sizes, fmt="zip", max_files=1)
    with pytest.raises(PackError, match="alone needs up to"):
        plan_parts({"studies/CT-0/study_0001.nii.gz": 10_000}, fmt="tar.gz", max_bytes=5_000)
    big = {f"studies/CT-1/study_{i:04d}.nii.gz": 15 * 10**9 for i in range(1, 4)}
    hf = PRESETS["huggingface"]
    assert len(plan_parts(big, fmt="tar.gz", max_bytes=hf.max_part_bytes)) == 3
    with pytest.raises(PackError, match="more than zenodo takes"):
        _check_preset(PRESETS["zenodo"], 98, 1, "as planned")
    with pytest.raises(PackError, match="several records"):
        _check_preset(PRESETS["zenodo"], 2, 50 * 10**9 + 1, "as planned")


def test_pack_refuses_a_damaged_release(full_release: Path, tmp_path: Path) -> None:
    release = copy_release(full_release, tmp_path / "release")
    flip_byte(release / "studies/CT-1/study_0003.nii.gz")
    with pytest.raises(PackError) as caught:
        pack_release(release, tmp_path / "out", fmt="zip", max_bytes=None, max_files=None, when=WHEN)
    assert caught.value.exit_code == 1
    assert any("studies/CT-1/study_0003.nii.gz" in p for p in caught.value.problems)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
    (release / "extra.txt").write_text("x", encoding="utf-8")
    with pytest.raises(PackError, match="does not match its SHA256SUMS"):
        pack_release(release, tmp_path / "out", fmt="zip", max_bytes=None, max_files=None, when=WHEN)


def test_cli_pack(full_release: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(pack, [str(full_release), str(tmp_path / "out"), "--format", "tar.gz", "--preset",
                                  "zenodo", "--max-part-bytes", "0.3MB"])
    assert result.exit_code == 0, result.output
    assert "part(s)" in result.output
    assert (tmp_path / "out" / "PARTS.tsv").is_file()
    again = runner.invoke(pack, [str(full_release), str(tmp_path / "out")])
    assert again.exit_code == 2 and "not empty" in again.output
    bad = runner.invoke(pack, [str(full_release), str(tmp_path / "o2"), "--max-part-bytes", "lots"])
    assert bad.exit_code == 2 and "not a size" in bad.output
    missing = runner.invoke(pack, [str(tmp_path / "nowhere"), str(tmp_path / "o3")])
    assert missing.exit_code == 2


def test_zipinfo_shows_no_extra_fields(full_release: Path, tmp_path: Path) -> None:
    """No extra fields at all: no UT timestamps, no ux/Ux owner ids; the DOS time is the fixed one."""
    written = pack_release(full_release, tmp_path / "z", fmt="zip", max_bytes=None, max_files=None, when=WHEN)
    verbose = run("zipinfo", "-v", str(written[0])).stdout
    members = len(archive_members(written[0]))
    assert verbose.count("length of extra field:                          0 bytes") == members
    assert verbose.count("file last modified on (DOS date/time):          2026 Jan 15 00:00:00") == members
    assert "UID" not in verbose and "universal time" not in verbose.lower()
