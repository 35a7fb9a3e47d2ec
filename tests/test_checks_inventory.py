"""checks/inventory.py called directly on what validate's gatherer read from a release tree."""

from __future__ import annotations

from pathlib import Path

from curator.checks import inventory
from tests.check_facts import gather_facts, rows


def test_a_built_release_has_no_inventory_finding(built_release: Path) -> None:
    assert rows(inventory.check(gather_facts(built_release))) == []


def test_required_files_litter_and_unsafe_entries(release: Path) -> None:
    (release / "README_RU.md").unlink()                      # the card's second language
    (release / "__MACOSX" / "studies").mkdir(parents=True)
    (release / "__MACOSX" / "studies" / "._study_0001.nii.gz").write_bytes(b"x")
    (release / "__MACOSX" / "b").write_bytes(b"x")
    (release / "studies" / ".DS_Store").write_bytes(b"x")
    (release / "notes.txt").symlink_to("/etc/passwd")
    assert rows(inventory.check(gather_facts(release))) == [
        ("REQUIRED_FILE_MISSING", "README_RU.md", {}),
        ("FILE_JUNK", "__MACOSX", {}),                      # the folder once, not each file in it
        ("FILE_UNSAFE", "notes.txt", {"kind": "symbolic link"}),
        ("FILE_JUNK", "studies/.DS_Store", {})]


def test_names_that_break_the_policy_or_the_profile(release: Path) -> None:
    (release / "bad dir").mkdir()
    for name in ("a.txt", "b.txt"):
        (release / "bad dir" / name).write_text("x")
    (release / "Extra.txt").write_text("x")
    (release / "extra.txt").write_text("x")
    (release / "studies" / "CT-0" / "scan.nii.gz").write_bytes(b"x")
    (release / "loose.nii.gz").write_bytes(b"x")
    templates = "studies/{category}/study_{study_id:04d}.nii.gz or masks/study_{study_id:04d}_mask.nii.gz"
    assert rows(inventory.check(gather_facts(release))) == [
        ("FILE_NAME_INVALID", "bad dir", {"reason": "characters outside ASCII letters, digits and ._-: ' '"}),
        ("FILE_NAME_INVALID", "extra.txt", {"reason": "differs only in letter case from Extra.txt"}),
        ("FILE_NAME_INVALID", "loose.nii.gz", {"reason": "imaging files belong under masks/, studies/"}),
        ("FILE_NAME_INVALID", "studies/CT-0/scan.nii.gz", {"reason": f"a file here must be named like {templates}"})]

