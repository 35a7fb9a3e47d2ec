"""Tests that need an installed tool (chromium, pdftoppm, dcm2niix, unar) are marked ``needs_tool("name")``.

Locally such a test skips when the tool is missing. Under CI (``CURATOR_CI=1``, set by ``.ci/run``) that skip is a
failure: a CI run whose browser tests all skipped would otherwise pass without having tested the review page.
``tests/conftest.py`` imports the hooks below; ``-p tests.tool_skips`` loads them into any other pytest run.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

CI_VARIABLE = "CURATOR_CI"
MARKER = "needs_tool(name, ...): the test needs these installed tools; under CURATOR_CI=1 a skip of it fails the run"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    marker = item.get_closest_marker("needs_tool")
    if marker is None or not report.skipped or os.environ.get(CI_VARIABLE) != "1":
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (f"{item.nodeid} needs {', '.join(map(str, marker.args))}, which CI must install "
                       f"({CI_VARIABLE}=1 turns this skip into a failure): {reason}")
