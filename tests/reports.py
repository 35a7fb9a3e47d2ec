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

from click.testing import CliRunner

from curator.cli.main import main


def validate_output(root: Path, *args: str, exit_code: int) -> str:
    """Run ``curator validate ROOT *ARGS`` in process, assert its exit code and return what it printed.

    For the formats other than JSON (sarif, junit, github, text) and for runs that write their reports to files.
    """
    result = CliRunner().invoke(main, ["validate", str(root), *args])
    assert result.exit_code == exit_code, (
        f"curator validate exited {result.exit_code}, expected {exit_code}:\n{result.output}")
    assert "Traceback" not in result.output, result.output
    return result.output


def validate_report(root: Path, *args: str, exit_code: int) -> dict[str, Any]:
    """Run ``curator validate ROOT --format json *ARGS``, assert its exit code and return the JSON report."""
    report: dict[str, Any] = json.loads(validate_output(root, "--format", "json", *args, exit_code=exit_code))
    return report


def flatten(report: dict[str, Any], keys: Sequence[str]) -> list[list[Any]]:
    """The findings of REPORT as rows of the named fields, in report order (missing fields read as None)."""
    return [[finding.get(key) for key in keys] for finding in report["findings"]]
