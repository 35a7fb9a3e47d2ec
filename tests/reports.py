"""The one home for "run `curator validate --format json` and read its report" in the tests.

Every caller states the exit code it expects (0 clean, 1 findings at the fail-on level, 2 usage error, 3 run
error; see DESIGN.md); the helper asserts it with the command's output shown on failure and returns the parsed
report. ``flatten`` turns findings into rows, like frictionless's ``flatten(report, ["code", "path"])``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from curator.cli.main import main


def validate_report(root: Path, *args: str, exit_code: int) -> dict[str, Any]:
    """Run ``curator validate ROOT --format json *ARGS``, assert its exit code and return the JSON report."""
    result = CliRunner().invoke(main, ["validate", str(root), "--format", "json", *args])
    assert result.exit_code == exit_code, (
        f"curator validate exited {result.exit_code}, expected {exit_code}:\n{result.output}")
    assert "Traceback" not in result.output, result.output
    report: dict[str, Any] = json.loads(result.output)
    return report


def flatten(report: dict[str, Any], keys: Sequence[str]) -> list[list[Any]]:
    """The findings of REPORT as rows of the named fields, in report order (missing fields read as None)."""
    return [[finding.get(key) for key in keys] for finding in report["findings"]]
