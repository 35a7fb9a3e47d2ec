"""Under CI a skipped test that needs a tool fails the run (tests/tool_skips.py); locally it only skips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SAMPLE = '''
import pytest

@pytest.mark.needs_tool("no-such-tool")
def test_needs_a_tool():
    pytest.skip("no-such-tool is not installed")

@pytest.mark.needs_tool("no-such-tool")
@pytest.mark.skipif(True, reason="no-such-tool is not on PATH")
def test_skipped_by_a_mark():
    pass

def test_an_optional_extra():
    pytest.skip("an optional check, not a tool CI installs")
'''


def _pytest(folder: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CURATOR_CI"}
    if ci is not None:
        env["CURATOR_CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.tool_skips", "-p", "no:cacheprovider",
                           "-rA", str(folder / "test_sample.py")], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[1], check=False)


def test_a_skip_of_a_test_needing_a_tool_fails_only_under_ci(tmp_path: Path) -> None:
    (tmp_path / "test_sample.py").write_text(SAMPLE, encoding="utf-8")
    local = _pytest(tmp_path, None)
    assert local.returncode == 0 and "3 skipped" in local.stdout, local.stdout
    ci = _pytest(tmp_path, "1")
    assert ci.returncode == 1 and "1 failed, 1 skipped, 1 error" in ci.stdout, ci.stdout   # a skip mark: at setup
    assert "needs no-such-tool, which CI must install" in ci.stdout and "no-such-tool is not installed" in ci.stdout
