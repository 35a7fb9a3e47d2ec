"""curator.toml / [tool.curator]: select/ignore, severity overrides, tolerances, labels and waivers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner

from curator.cli.main import main
from curator.validate import ValidateOptions, validate


def run(root: Path, *args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["validate", str(root), "--format", "json", *args])
    assert result.exit_code in (0, 1, 2), result.output
    return result.exit_code, json.loads(result.output) if result.exit_code != 2 else {"error": result.output}


def test_severity_override_and_fail_on_from_the_file(release: Path) -> None:
    (release / ".DS_Store").write_bytes(b"x")
    (release / "curator.toml").write_text('fail-on = "warning"\n[severity]\nFILE_JUNK = "info"\n')
    code, report = run(release, "--ignore", "FILE_UNLISTED")       # curator.toml itself is not in SHA256SUMS
    assert code == 0 and [(f["code"], f["severity"]) for f in report["findings"]] == [("FILE_JUNK", "info")]
    code, _ = run(release, "--ignore", "FILE_UNLISTED", "--fail-on", "info")   # the command line wins
    assert code == 1


def test_waivers_hide_findings_until_they_expire(release: Path) -> None:
    (release / "masks/study_0003_mask.nii.gz").unlink()
    (release / "curator.toml").write_text(
        'ignore = ["FILE_UNLISTED"]\n'
        '[[waivers]]\ncode = "FILE_MISSING"\npath = "masks/study_0003_*"\nreason = "re-exported next week"\n'
        'expires = 2030-01-01\n'
        '[[waivers]]\ncode = "MASK_EMPTY"\npath = "masks/*"\nreason = "old problem"\nexpires = 2030-01-01\n')
    code, report = run(release)
    assert code == 0 and report["stats"]["waived"] == 3      # registry, SHA256SUMS, MD5SUMS
    assert [(f["code"], f["path"], f["context"]["waived"]) for f in report["findings"]] == [
        ("WAIVER_UNUSED", "curator.toml", "MASK_EMPTY")]
    later = validate(release, ValidateOptions(today=dt.date(2030, 1, 2)))
    assert {f.code for f in later.findings} == {"FILE_MISSING", "WAIVER_EXPIRED"} and not later.valid


def test_pyproject_tool_section_and_unknown_keys(release: Path) -> None:
    (release / ".DS_Store").write_bytes(b"x")
    (release / "pyproject.toml").write_text('[tool.curator]\nignore = ["FILE_JUNK", "FILE_UNLISTED"]\n')
    assert run(release)[1]["findings"] == []
    (release / "pyproject.toml").write_text('[tool.curator]\nignroe = ["FILE_JUNK"]\n')
    code, result = run(release)
    assert code == 2 and "ignroe" in result["error"]
    assert run(release, "--no-config")[0] == 1


def test_labels_and_tolerance_from_the_file(release: Path) -> None:
    (release / "curator.toml").write_text('ignore = ["FILE_UNLISTED"]\nlabels = [0]\n')
    code, report = run(release, "--deep")
    assert code == 1 and {f["code"] for f in report["findings"]} == {"MASK_VALUES_UNEXPECTED"}
