"""One home for "run validate and read its JSON": tests/reports.py. A second copy in tests/ fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.hostile import Run
from tests.reports import flatten, validate_output, validate_report

TESTS = Path(__file__).resolve().parent
# an invoke of `validate` (CliRunner or a subprocess) and a json.loads of its output within a few lines
INVOKE_VALIDATE = re.compile(
    r"""(invoke\(\s*main\s*,\s*\[\s*"validate"|run_bounded\(\s*\[\s*"validate"|"-m",\s*"curator",\s*"validate")""")
WINDOW = 6


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
    assert found == {}, ("run validate and parse its JSON through tests.reports.validate_report (in a subprocess: "
                         "tests.hostile.run_bounded, Run.assert_bounded, Run.report)")


def test_no_test_accepts_two_exit_codes() -> None:
    """An exit code is the contract (DESIGN.md): a test names the one it expects, never a set of them."""
    either = re.compile(r"exit_code\s+in\s*[(\[{]|exit_code == \(0 if")
    found = sorted(path.name for path in TESTS.glob("*.py")
                   if path.name != "test_reports_helper.py" and either.search(path.read_text(encoding="utf-8")))
    assert found == []


def test_the_helper_pins_the_exit_code(built_release: Path) -> None:
    report = validate_report(built_release, exit_code=0)
    assert report["findings"] == []
    with pytest.raises(AssertionError, match="exited 0, expected 1"):
        validate_report(built_release, exit_code=1)


def test_the_text_helper_pins_the_exit_code_too(built_release: Path) -> None:
    assert "VALID" in validate_output(built_release, exit_code=0).splitlines()[-1]
    with pytest.raises(AssertionError, match="exited 0, expected 2"):
        validate_output(built_release, exit_code=2)


def test_a_subprocess_report_that_is_not_json_fails_with_what_was_printed() -> None:
    printed = Run(args=["validate"], exit_code=1, stdout="ERROR FILE_MISSING (1)\n", stderr="", seconds=0.1,
                  peak_mb=90.0)
    with pytest.raises(AssertionError, match="no JSON report on stdout"):
        printed.report()
    assert Run(args=["validate"], exit_code=0, stdout='{"findings": []}', stderr="", seconds=0.1,
               peak_mb=90.0).report() == {"findings": []}


def test_flatten_gives_rows_of_the_named_fields() -> None:
    report = {"findings": [{"code": "A", "path": "x", "severity": "error"}, {"code": "B", "severity": "info"}]}
    assert flatten(report, ["code", "path"]) == [["A", "x"], ["B", None]]
