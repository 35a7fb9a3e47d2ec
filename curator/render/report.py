"""A report as JSON (the contract of DESIGN.md) or as text grouped by code with a one-line summary."""

from __future__ import annotations

import json
from itertools import groupby

from curator.catalogue import catalogue, localise_finding
from curator.models.findings import Report
from curator.render.summary import human_bytes, summary_line

__all__ = ["GROUP_LIMIT", "human_bytes", "summary", "to_json", "to_text"]

GROUP_LIMIT = 2  # examples per code before "N more"; --verbose shows every one
_COLOURS = {"ERROR": "\x1b[1;31m", "WARNING": "\x1b[33m", "INFO": "\x1b[36m"}


def to_json(report: Report) -> str:
    return json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def summary(report: Report, command: str = "validate") -> str:
    counts = report.counts
    extra = report.stats.model_extra or {}
    where = f"profile {report.profile}" if report.profile else f"manifest {extra.get('manifest', '')}"
    if command == "ingest":
        where = "a source for curator build"
    return summary_line(command, report.root, report.valid, counts.error, counts.warning, counts.info,
                        report.stats.files, report.stats.bytes, report.stats.seconds, where)


def to_text(report: Report, *, command: str = "validate", lang: str = "en", limit: int | None = GROUP_LIMIT,
            colour: bool = False) -> str:
    """Findings grouped by code (errors first), each group capped at ``limit`` lines, then the summary."""
    rules = catalogue()
    lines: list[str] = []
    for code, group in groupby(report.findings, key=lambda f: f.code):
        items = list(group)
        rule = rules.get(code)
        title = rule.title if rule else code
        level = items[0].severity.value.upper()
        shown = f"{_COLOURS[level]}{level}\x1b[0m" if colour else level
        lines.append(f"{shown} {code} ({len(items)}): {title}")
        for finding in items[:limit]:
            message = localise_finding(finding, lang).message
            prefix = "" if finding.path and finding.path in message else f"{finding.path or '.'}: "
            lines.append(f"  {prefix}{message}")
        if limit is not None and len(items) > limit:
            lines.append(f"  ... and {len(items) - limit} more (--verbose or --format json lists them all)")
    extra = report.stats.model_extra or {}
    if "categories" in extra:
        per = ", ".join(f"{k} {v}" for k, v in extra["categories"].items())
        lines.append(f"registry: {extra.get('registry_rows', 0)} rows ({per})")
    lines.append(summary(report, command))
    return "\n".join(lines) + "\n"
