"""checks/manifest.py (with checks/listing.py) called directly on what validate's gatherer read and hashed."""

from __future__ import annotations

import hashlib
from pathlib import Path

from curator.checks import manifest
from tests.check_facts import gather_facts, rows
from tests.factories import flip_byte

STUDY = "studies/CT-1/study_0003.nii.gz"
MALFORMED = "expected '<hex digest>  <path>' or 'ALGO (<path>) = <hex digest>'"


def _digest_of(manifest_file: Path, path: str) -> str:
    """The digest MANIFEST_FILE (GNU format) lists for PATH."""
    for line in manifest_file.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        if name == path:
            return digest
    raise AssertionError(f"{path} is not listed in {manifest_file.name}")


def test_a_built_release_has_no_manifest_finding(built_release: Path) -> None:
    assert rows(manifest.check(gather_facts(built_release))) == []


def test_every_manifest_against_the_disk(release: Path) -> None:
    with (release / "MD5SUMS").open("a", encoding="utf-8") as handle:
        handle.write("garbage line\n")
    (release / "studies/CT-0/study_0002.nii.gz").unlink()
    (release / "notes.txt").write_text("x")
    listed = {name: _digest_of(release / name, STUDY) for name in ("SHA256SUMS", "MD5SUMS")}
    flip_byte(release / STUDY)
    now = {name: getattr(hashlib, algorithm)((release / STUDY).read_bytes()).hexdigest()
           for name, algorithm in (("SHA256SUMS", "sha256"), ("MD5SUMS", "md5"))}
    findings = list(manifest.check(gather_facts(release)))
    assert rows(findings) == [
        ("FILE_MISSING", "studies/CT-0/study_0002.nii.gz", {"listed_in": "SHA256SUMS", "line": 21}),
        ("CHECKSUM_MISMATCH", STUDY, {"manifest": "SHA256SUMS", "algorithm": "sha256",
                                      "expected": listed["SHA256SUMS"], "actual": now["SHA256SUMS"]}),
        ("MANIFEST_MALFORMED", "MD5SUMS", {"line": 31, "reason": MALFORMED}),
        ("FILE_MISSING", "studies/CT-0/study_0002.nii.gz", {"listed_in": "MD5SUMS", "line": 21}),
        ("CHECKSUM_MISMATCH", STUDY, {"manifest": "MD5SUMS", "algorithm": "md5",
                                      "expected": listed["MD5SUMS"], "actual": now["MD5SUMS"]}),
        ("FILE_UNLISTED", "notes.txt", {"expected_in": "SHA256SUMS"})]       # the first manifest decides
    assert [f.study_id for f in findings] == [2, 3, None, 2, 3, None]


def test_no_manifest_or_an_empty_one(release: Path) -> None:
    (release / "MD5SUMS").unlink()
    (release / "SHA256SUMS").write_bytes(b"")
    findings = rows(manifest.check(gather_facts(release)))
    assert findings[0] == ("MANIFEST_MALFORMED", "SHA256SUMS", {"line": 0, "reason": "the manifest lists no files"})
    on_disk = sorted(p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file())
    assert findings[1:] == [("FILE_UNLISTED", path, {"expected_in": "SHA256SUMS"}) for path in on_disk
                            if path != "SHA256SUMS"]
    (release / "SHA256SUMS").unlink()
    assert rows(manifest.check(gather_facts(release))) == [("MANIFEST_MISSING", "", {})]
