"""One home for "run validate and read its JSON": tests/reports.py. A second copy in tests/ fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.reports import flatten, validate_report

TESTS = Path(__file__).resolve().parent
# an invoke of `validate` (CliRunner or a subprocess) and a json.loads of its output within a few lines
INVOKE_VALIDATE = re.compile(
    r"""(invoke\(\s*main\s*,\s*\[\s*"validate"|run_bounded\(\s*\[\s*"validate"|"-m",\s*"curator",\s*"validate")""")
WINDOW = 6

# copies that predate the helper and are still to be moved onto it (shrink this list, never grow it)
KNOWN: dict[str, int] = {
    "test_config.py": 1, "test_formats.py": 5, "test_geometry.py": 2, "test_ingest_realdata.py": 1,
    "test_names_in_outputs.py": 1, "test_phi_paths.py": 5, "test_privacy_dicom.py": 1, "test_privacy_files.py": 1,
    "test_realdata.py": 2, "test_slices.py": 1,
    # written in parallel with the helper (issue 12's hostile inputs, payload and free-text tests)
    "test_hostile_inputs.py": 2, "test_payload.py": 3, "test_phi_text.py": 1,
}


def _copies(text: str) -> int:
    lines = text.splitlines()
    found = 0
    for number, line in enumerate(lines):
        if INVOKE_VALIDATE.search(line):
            window = "\n".join(lines[number:number + WINDOW])
            found += "json.loads(" in window
    return found


def test_the_copy_detector_sees_a_copy() -> None:
    copy = ('result = CliRunner().invoke(main, ["validate", str(root), "--format", "json"])\n'
            'report = json.loads(result.output)\n')
    assert _copies(copy) == 1
    assert _copies('report = validate_report(root, exit_code=0)\n') == 0


def test_no_second_copy_of_the_validate_json_helper() -> None:
    found = {path.name: n for path in sorted(TESTS.glob("*.py"))
             if path.name not in ("reports.py", "test_reports_helper.py")
             and (n := _copies(path.read_text(encoding="utf-8")))}
    assert found == KNOWN, "run validate and parse its JSON through tests.reports.validate_report"


def test_the_helper_pins_the_exit_code(built_release: Path) -> None:
    report = validate_report(built_release, exit_code=0)
    assert report["findings"] == []
    with pytest.raises(AssertionError, match="exited 0, expected 1"):
        validate_report(built_release, exit_code=1)


def test_flatten_gives_rows_of_the_named_fields() -> None:
    report = {"findings": [{"code": "A", "path": "x", "severity": "error"}, {"code": "B", "severity": "info"}]}
    assert flatten(report, ["code", "path"]) == [["A", "x"], ["B", None]]
