"""`curator verify`: the downloader's check, against SHA256SUMS else MD5SUMS."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from curator.cli.main import main
from curator.verify import verify
from tests.factories import flip_byte


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["verify", *args])
    return result.exit_code, result.output


def test_intact_release(built_release: Path) -> None:
    code, output = invoke(str(built_release))
    assert code == 0
    assert output.strip().splitlines()[-1].startswith(f"verify {built_release}: INTACT: 0 errors")
    report = verify(built_release)
    assert report.valid and report.stats.model_extra["manifest"] == "SHA256SUMS"


def test_missing_corrupt_and_unexpected_files(release: Path) -> None:
    (release / "masks/study_0003_mask.nii.gz").unlink()
    flip_byte(release / "README_EN.md", 5)
    (release / "notes.txt").write_text("mine")
    code, output = invoke(str(release), "--format", "json")
    assert code == 1
    report = json.loads(output)
    assert {(f["code"], f["path"], f["severity"]) for f in report["findings"]} == {
        ("FILE_MISSING", "masks/study_0003_mask.nii.gz", "error"),
        ("CHECKSUM_MISMATCH", "README_EN.md", "error"),
        ("FILE_UNLISTED", "notes.txt", "warning"),
    }


def test_extra_files_alone_keep_a_copy_intact(release: Path) -> None:
    (release / "my-notes.txt").write_text("mine")
    assert invoke(str(release))[0] == 0


def test_falls_back_to_md5sums(release: Path) -> None:
    (release / "SHA256SUMS").unlink()
    flip_byte(release / "LICENSE", 3)
    code, output = invoke(str(release), "--format", "json")
    report = json.loads(output)
    assert code == 1 and report["stats"]["manifest"] == "MD5SUMS"
    assert [(f["code"], f["context"]["algorithm"]) for f in report["findings"]] == [("CHECKSUM_MISMATCH", "md5")]


def test_no_manifest_cannot_run(tmp_path: Path) -> None:
    code, output = invoke(str(tmp_path))
    assert code == 3 and "no checksum manifest" in output
    assert invoke(str(tmp_path / "absent"))[0] == 3
