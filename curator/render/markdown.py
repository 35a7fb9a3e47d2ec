"""A Markdown report, for a pull-request comment or a job summary."""

from __future__ import annotations

from itertools import groupby

from curator.catalogue import catalogue
from curator.escaping import markdown_text
from curator.models.findings import Report
from curator.render.report import summary

ROWS_PER_CODE = 10


def _cell(text: str) -> str:
    """Text from the data as a table cell: no HTML, link, image or cell break (curator.escaping.markdown_text)."""
    return markdown_text(text)


def to_markdown(report: Report, command: str = "validate") -> str:
    icon = "✅" if report.valid else "❌"
    lines = [f"### {icon} curator {command}", "", _cell(summary(report, command)), ""]
    if not report.findings:
        return "\n".join(lines) + "\n"
    rules = catalogue()
    lines += ["| severity | code | file | message |", "| --- | --- | --- | --- |"]
    for code, group in groupby(report.findings, key=lambda f: f.code):
        items = list(group)
        for finding in items[:ROWS_PER_CODE]:
            lines.append(f"| {finding.severity.value} | `{code}` | {_cell(finding.path or '.')} | "
                         f"{_cell(finding.message)} |")
        if len(items) > ROWS_PER_CODE:
            lines.append(f"| | `{code}` | | … and {len(items) - ROWS_PER_CODE} more ({_cell(rules[code].title)}) |")
    return "\n".join(lines) + "\n"
