"""`curator verify` on a folder of archive parts: the parts, then every member inside them, before extraction."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from curator.cli.main import main
from curator.release.archives import pack_release
from curator.release.manifests import write_manifests


@pytest.fixture
def parts(built_release: Path, tmp_path: Path) -> Path:
    out = tmp_path / "parts"
    pack_release(built_release, out, fmt="zip", max_bytes=None, max_files=9, when=dt.date(2026, 1, 15))
    return out


def verify_json(folder: Path, *, exit_code: int) -> dict:
    result = CliRunner().invoke(main, ["verify", str(folder), "--format", "json", "--no-cache"])
    assert result.exit_code == exit_code, result.output
    report: dict = json.loads(result.output)
    return report


def rewrite_parts_manifests(folder: Path) -> None:
    for name in ("SHA256SUMS", "MD5SUMS"):
        (folder / name).unlink()
    write_manifests(folder)   # as a careless uploader would: the parts' own checksums now match again


def test_intact_parts(parts: Path) -> None:
    report = verify_json(parts, exit_code=0)
    assert report["findings"] == [] and report["stats"]["parts"] >= 3


def test_a_changed_member_inside_a_consistent_part_is_found(parts: Path) -> None:
    part = next(p for p in sorted(parts.glob("*.zip")) if "studies/CT-1/study_0003.nii.gz"
                in zipfile.ZipFile(p).namelist())
    with zipfile.ZipFile(part) as archive:
        members = {info: archive.read(info) for info in archive.infolist()}
    with zipfile.ZipFile(part, "w") as archive:
        for info, data in members.items():
            if info.filename == "studies/CT-1/study_0003.nii.gz":
                data = data[:-9] + bytes([data[-9] ^ 0xFF]) + data[-8:]
            archive.writestr(info, data)
    rewrite_parts_manifests(parts)
    report = verify_json(parts, exit_code=1)
    (finding,) = report["findings"]
    assert (finding["code"], finding["path"], finding["context"]["part"]) == (
        "CHECKSUM_MISMATCH", "studies/CT-1/study_0003.nii.gz", part.name)
    assert report["stats"]["refetch"] == [part.name]


def test_a_missing_part_names_the_part_to_fetch(parts: Path) -> None:
    last = sorted(parts.glob("*.zip"))[-1]
    last.unlink()
    report = verify_json(parts, exit_code=1)
    assert last.name in report["stats"]["refetch"]
    missing = {f["path"] for f in report["findings"] if f["code"] == "FILE_MISSING"}
    assert last.name in missing and any(p.startswith(("studies/", "masks/")) for p in missing)


def test_unsafe_members_are_named_and_never_extracted(parts: Path, tmp_path: Path) -> None:
    evil = parts / sorted(p.name for p in parts.glob("*.zip"))[0]
    with zipfile.ZipFile(evil, "a") as archive:
        archive.writestr("../outside.txt", "x")
        link = zipfile.ZipInfo("studies/link.nii.gz")
        link.external_attr = (0o120777 << 16)
        archive.writestr(link, "/etc/passwd")
    rewrite_parts_manifests(parts)
    report = verify_json(parts, exit_code=1)
    unsafe = {(f["path"], f["context"]["member"]) for f in report["findings"] if f["code"] == "ARCHIVE_UNSAFE_MEMBER"}
    assert unsafe == {(evil.name, "../outside.txt"), (evil.name, "studies/link.nii.gz")}
    assert not (parts.parent / "outside.txt").exists()


def test_a_corrupt_part(parts: Path) -> None:
    part = sorted(parts.glob("*.zip"))[1]
    part.write_bytes(part.read_bytes()[:200])
    rewrite_parts_manifests(parts)
    report = verify_json(parts, exit_code=1)
    assert ("ARCHIVE_CORRUPT", part.name) in {(f["code"], f["path"]) for f in report["findings"]}


def test_members_of_a_corrupt_part_are_said_to_be_in_it_not_missing_from_disk(parts: Path) -> None:
    part = sorted(parts.glob("*.zip"))[-1]
    members = zipfile.ZipFile(part).namelist()
    part.write_bytes(part.read_bytes()[:200])
    rewrite_parts_manifests(parts)
    report = verify_json(parts, exit_code=1)
    missing = [f for f in report["findings"] if f["code"] == "FILE_MISSING"]
    assert sorted(f["path"] for f in missing) == sorted(members)
    assert all(f["context"]["parts"] == part.name and "not on disk" not in f["message"] for f in missing)
    assert f"it is in one of {part.name} (missing or unreadable): fetch those again" in missing[0]["message"]


def test_a_missing_first_part_is_named_as_the_home_of_the_manifest(parts: Path) -> None:
    first = sorted(parts.glob("*.zip"))[0]
    assert "SHA256SUMS" in zipfile.ZipFile(first).namelist()
    first.unlink()
    report = verify_json(parts, exit_code=1)
    (manifest,) = [f for f in report["findings"] if f["code"] == "MANIFEST_MISSING"]
    assert manifest["severity"] == "error" and manifest["context"]["parts"] == first.name
    assert "has no checksum manifest" not in manifest["message"] and first.name in manifest["message"]
    assert first.name in report["stats"]["refetch"]
