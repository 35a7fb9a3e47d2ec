"""curator.toml / [tool.curator]: select/ignore, severity overrides, tolerances, labels and waivers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from curator.validate import ValidateOptions, validate
from tests.reports import validate_output, validate_report


def test_severity_override_and_fail_on_from_the_file(release: Path) -> None:
    (release / ".DS_Store").write_bytes(b"x")
    (release / "curator.toml").write_text('fail-on = "warning"\n[severity]\nFILE_JUNK = "info"\n')
    report = validate_report(release, "--ignore", "FILE_UNLISTED", exit_code=0)   # curator.toml is not in SHA256SUMS
    assert [(f["code"], f["severity"]) for f in report["findings"]] == [("FILE_JUNK", "info")]
    validate_report(release, "--ignore", "FILE_UNLISTED", "--fail-on", "info", exit_code=1)   # the command line wins


def test_waivers_hide_findings_until_they_expire(release: Path) -> None:
    (release / "masks/study_0003_mask.nii.gz").unlink()
    (release / "curator.toml").write_text(
        'ignore = ["FILE_UNLISTED"]\n'
        '[[waivers]]\ncode = "FILE_MISSING"\npath = "masks/study_0003_*"\nreason = "re-exported next week"\n'
        'expires = 2030-01-01\n'
        '[[waivers]]\ncode = "MASK_EMPTY"\npath = "masks/*"\nreason = "old problem"\nexpires = 2030-01-01\n')
    report = validate_report(release, exit_code=0)
    assert report["stats"]["waived"] == 3      # registry, SHA256SUMS, MD5SUMS
    assert [(f["code"], f["path"], f["context"]["waived"]) for f in report["findings"]] == [
        ("WAIVER_UNUSED", "curator.toml", "MASK_EMPTY")]
    later = validate(release, ValidateOptions(today=dt.date(2030, 1, 2)))
    assert {f.code for f in later.findings} == {"FILE_MISSING", "WAIVER_EXPIRED"} and not later.valid


def test_pyproject_tool_section_and_unknown_keys(release: Path) -> None:
    (release / ".DS_Store").write_bytes(b"x")
    (release / "pyproject.toml").write_text('[tool.curator]\nignore = ["FILE_JUNK", "FILE_UNLISTED"]\n')
    assert validate_report(release, exit_code=0)["findings"] == []
    (release / "pyproject.toml").write_text('[tool.curator]\nignroe = ["FILE_JUNK"]\n')
    assert "ignroe" in validate_output(release, "--format", "json", exit_code=2)
    validate_report(release, "--no-config", exit_code=1)


def test_labels_and_tolerance_from_the_file(release: Path) -> None:
    (release / "curator.toml").write_text('ignore = ["FILE_UNLISTED"]\nlabels = [0]\n')
    report = validate_report(release, "--deep", exit_code=1)
    assert {f["code"] for f in report["findings"]} == {"MASK_VALUES_UNEXPECTED"}
