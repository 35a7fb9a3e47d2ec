"""`curator demo`: the embedded example, end to end, through the command line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from click.testing import CliRunner

from curator.cli.main import main
from tests.reports import validate_report


def test_demo_builds_a_release_that_validates_and_verifies(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "12 studies (CT-0 3, CT-1 4, CT-2 2, CT-3 2, CT-4 1), 3 masks" in result.output
    assert "INTACT" in result.output and ": VALID: 0 errors" in result.output
    release = out / "release"
    report = validate_report(release, exit_code=0)
    assert report["valid"] and report["counts"] == {"error": 0, "warning": 0, "info": 0}
    if shutil.which("sha256sum"):
        subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=release, check=True)
    # the source it made can be rebuilt by hand to the same bytes
    again = CliRunner().invoke(main, ["build", str(out / "source"), str(tmp_path / "again")])
    assert again.exit_code == 0, again.output
    assert (tmp_path / "again/SHA256SUMS").read_bytes() == (release / "SHA256SUMS").read_bytes()
    # a second demo into the same folder needs --force
    assert CliRunner().invoke(main, ["demo", "--out", str(out)]).exit_code == 2
    assert CliRunner().invoke(main, ["demo", "--out", str(out), "--force"]).exit_code == 0
