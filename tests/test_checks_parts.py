"""checks/parts.py called directly on the listings ``curator.io.archive_members.list_archive`` reads from a folder
of archive parts (what ``curator verify`` does before anyone extracts them)."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from curator.checks.parts import check_parts
from curator.io import archive_members
from curator.io.archive_members import MAX_RATIO, MAX_TOTAL_BYTES, ArchiveListing, list_archive
from curator.models.findings import Severity
from tests.archive_factories import make_zip, zip_bomb, zip_with_mode
from tests.check_facts import rows

A, B = b"alpha\n", b"beta\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def listings(folder: Path, *names: str) -> dict[str, ArchiveListing]:
    return {name: list_archive(folder / name, capture=("SHA256SUMS",)) for name in names}


@pytest.fixture
def parts(tmp_path: Path) -> Path:
    """p1.zip holds a.txt and the release's SHA256SUMS (a.txt, b.txt); p2.zip holds b.txt."""
    make_zip(tmp_path / "p1.zip", {"a.txt": A, "SHA256SUMS": f"{sha(A)}  a.txt\n{sha(B)}  b.txt\n".encode()})
    make_zip(tmp_path / "p2.zip", {"b.txt": B})
    return tmp_path


def test_intact_parts(parts: Path) -> None:
    result = check_parts(listings(parts, "p1.zip", "p2.zip"))
    assert (result.findings, result.refetch_parts) == ([], set())


def test_members_against_the_manifest_inside_the_parts(parts: Path) -> None:
    manifest = f"{sha(A)}  a.txt\n{sha(b'x')}  b.txt\n{sha(B)}  c.txt\nnot a line\n".encode()
    make_zip(parts / "p3.zip", {"a.txt": A, "d.txt": b"d", "../evil.txt": b"x", "SHA256SUMS": manifest})
    zip_with_mode(parts / "p4.zip", "link", stat.S_IFLNK | 0o777)      # and a plain member ok.dcm
    result = check_parts(listings(parts, "p3.zip", "p2.zip", "p4.zip"))
    inside = "SHA256SUMS (in p3.zip)"
    assert rows(result.findings) == [
        ("ARCHIVE_UNSAFE_MEMBER", "p3.zip", {"member": "../evil.txt", "reason": "'..' in the path"}),
        ("ARCHIVE_UNSAFE_MEMBER", "p4.zip", {"member": "link", "reason": "a symbolic link"}),
        ("MANIFEST_MALFORMED", inside, {"line": 4, "reason": (
            "expected '<hex digest>  <path>' or 'ALGO (<path>) = <hex digest>'")}),
        ("CHECKSUM_MISMATCH", "b.txt", {"manifest": inside, "algorithm": "sha256", "part": "p2.zip"}),
        ("FILE_MISSING", "c.txt", {"listed_in": inside}),
        ("FILE_UNLISTED", "d.txt", {"expected_in": inside, "part": "p3.zip"}),
        ("FILE_UNLISTED", "ok.dcm", {"expected_in": inside, "part": "p4.zip"})]
    assert result.refetch_parts == {"p2.zip"}                           # the part holding the changed member


def test_what_is_not_found_is_said_to_be_in_the_parts_to_fetch_again(parts: Path) -> None:
    (parts / "p5.zip").write_bytes(b"not a zip")
    result = check_parts(listings(parts, "p2.zip", "p5.zip"), missing=["p6.zip"])
    assert rows(result.findings) == [
        ("ARCHIVE_CORRUPT", "p5.zip", {"reason": "BadZipFile: File is not a zip file"}),
        ("MANIFEST_MISSING", "", {"variant": "in_parts", "parts": "p5.zip, p6.zip"})]
    assert result.findings[1].severity == Severity.error and result.refetch_parts == {"p5.zip", "p6.zip"}
    result = check_parts(listings(parts, "p1.zip"), missing=["p2.zip"])
    assert rows(result.findings) == [
        ("FILE_MISSING", "b.txt", {"listed_in": "SHA256SUMS (in p1.zip)", "variant": "in_parts", "parts": "p2.zip"})]


def test_parts_without_a_manifest_are_a_warning(parts: Path) -> None:
    result = check_parts(listings(parts, "p2.zip"))
    assert rows(result.findings) == [("MANIFEST_MISSING", "", {})]
    assert result.findings[0].severity == Severity.warning


def test_a_part_that_expands_past_the_ratio_limit(parts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the reader counts a bomb only past 1 GiB expanded; the check judges the listing the same for any size, so
    # the reader's floor is lowered to 1 MiB here rather than inflating a GiB in a unit test
    monkeypatch.setattr(archive_members, "MIN_BOMB_BYTES", 1 << 20)
    bomb = zip_bomb(parts / "bomb.zip", 16 << 20)                        # 16 MiB of zeros in ~16 KB
    result = check_parts(listings(parts, "bomb.zip"))
    ratio = round((16 << 20) / bomb.stat().st_size, 1)
    assert ratio > MAX_RATIO
    assert rows(result.findings) == [
        ("ARCHIVE_BOMB", "bomb.zip", {"total_bytes": 16 << 20, "ratio": ratio, "max_bytes": MAX_TOTAL_BYTES,
                                      "max_ratio": MAX_RATIO}),
        ("MANIFEST_MISSING", "", {})]
