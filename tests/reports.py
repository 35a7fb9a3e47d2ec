"""The one home for "run `curator validate --format json` and read its report" in the tests.

Every caller states the exit code it expects (0 clean, 1 findings at the fail-on level, 2 usage error, 3 run
error; see DESIGN.md); the helper asserts it with the command's output shown on failure and returns the parsed
report (``validate_output`` returns the printed text of any other format). A run in a subprocess, with its time
and memory bounded, is ``tests.hostile.run_bounded`` then ``Run.report()``. ``flatten`` turns findings into rows,
like frictionless's ``flatten(report, ["code", "path"])``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema
from click.testing import CliRunner

from curator.cli.main import main

# the SARIF 2.1.0 schema beside the checkout (DESIGN.md: ../shared/schemas), as the real data is
SARIF_SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "sarif-schema-2.1.0.json"


def validate_output(root: Path | str, *args: str, exit_code: int) -> str:
    """Run ``curator validate ROOT *ARGS`` in process, assert its exit code and return what it printed.

    For the formats other than JSON (sarif, junit, github, text) and for runs that write their reports to files.
    """
    result = CliRunner().invoke(main, ["validate", str(root), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (   # raised, not a clean exit
        f"curator validate raised {result.exception!r}:\n{result.output}")
    assert result.exit_code == exit_code, (
        f"curator validate exited {result.exit_code}, expected {exit_code}:\n{result.output}")
    assert "Traceback" not in result.output, result.output
    return result.output


def validate_report(root: Path | str, *args: str, exit_code: int) -> dict[str, Any]:
    """Run ``curator validate ROOT --format json *ARGS``, assert its exit code and return the JSON report."""
    report: dict[str, Any] = json.loads(validate_output(root, "--format", "json", *args, exit_code=exit_code))
    return report


def assert_sarif_valid(sarif: dict[str, Any]) -> None:
    """SARIF must validate against the SARIF 2.1.0 schema; a missing schema fails the test, never skips the check."""
    assert SARIF_SCHEMA.is_file(), f"the SARIF 2.1.0 schema is not at {SARIF_SCHEMA}"
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validators.validator_for(schema)(schema).validate(sarif)


def flatten(report: dict[str, Any], keys: Sequence[str]) -> list[list[Any]]:
    """The findings of REPORT as rows of the named fields, in report order (missing fields read as None)."""
    return [[finding.get(key) for key in keys] for finding in report["findings"]]


REPORT_SCHEMA = Path(__file__).resolve().parents[1] / "schema" / "records" / "report.schema.json"


def assert_report_valid(report: dict[str, Any]) -> None:
    """A JSON report must validate against schema/records/report.schema.json (the report contract's record)."""
    schema = json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validators.validator_for(schema)(schema).validate(report)


def build_report(source: Path, out: Path, *args: str, exit_code: int) -> dict[str, Any]:
    """Run ``curator build SOURCE OUT --format json *ARGS`` in process, assert its exit code and return the JSON
    report it printed on standard output (validated against the report schema)."""
    result = CliRunner().invoke(main, ["build", str(source), str(out), "--format", "json", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"curator build raised {result.exception!r}:\n{result.output}")
    assert result.exit_code == exit_code, f"curator build exited {result.exit_code}, expected {exit_code}:\n" \
                                          f"{result.output}"
    assert "Traceback" not in result.output, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    assert_report_valid(report)
    return report
