"""GitHub Actions: workflow-command annotations, and a Markdown summary for the job page."""

from __future__ import annotations

from curator.escaping import display
from curator.models.findings import Report, Severity
from curator.render.markdown import to_markdown

_COMMAND = {Severity.error: "error", Severity.warning: "warning", Severity.info: "notice"}


def _data(text: str) -> str:
    """Workflow-command escaping, after control characters are made visible (curator.escaping.display)."""
    return display(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def to_github(report: Report, command: str = "validate") -> str:
    """One ``::error file=...,title=CODE::message`` line per finding."""
    lines = []
    for finding in report.findings:
        where = f"file={_property(finding.path)}," if finding.path else ""
        lines.append(f"::{_COMMAND[finding.severity]} {where}title={_property(finding.code)}::{_data(finding.message)}")
    return "\n".join(lines) + ("\n" if lines else "")


def job_summary(report: Report, command: str = "validate") -> str:
    return to_markdown(report, command)
