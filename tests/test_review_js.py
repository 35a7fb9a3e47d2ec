"""The review page's filter logic (templates/review/filters.js), tested under node: ``node --test tests/js/``.

The browser tests (tests/test_review.py) show the page behaves in chromium; these test the filter functions on
their own, case by case, without a browser.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JS_TESTS = ROOT / "tests" / "js"


@pytest.mark.needs_tool("node")
def test_node_runs_the_filter_tests_and_all_pass() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("the JavaScript tests need node (apt-get install nodejs)")
    declared = sum(len(re.findall(r"^test\(", path.read_text(encoding="utf-8"), re.M))
                   for path in JS_TESTS.glob("*.test.js"))
    result = subprocess.run([node, "--test", "tests/js/"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = dict(re.findall(r"^# (pass|fail|skipped|todo|cancelled) (\d+)$", result.stdout, re.M))
    assert declared >= 15
    assert summary == {"pass": str(declared), "fail": "0", "skipped": "0", "todo": "0", "cancelled": "0"}
