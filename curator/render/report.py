"""A report as JSON (the contract of DESIGN.md) or as text grouped by code with a one-line summary."""

from __future__ import annotations

from functools import partial

from curator.catalogue import catalogue, localise_finding
from curator.escaping import display, json_text
from curator.io.checksum_listings import listing_words
from curator.models.findings import Finding, Report
from curator.wording import GROUP_LIMIT, Line, group_lines, human_bytes, plural, plural_ru, summary_line

__all__ = ["GROUP_LIMIT", "human_bytes", "summary", "to_json", "to_text"]


def to_json(report: Report) -> str:
    """The report contract as JSON; names are written as :func:`curator.escaping.json_text` says."""
    return json_text(report.model_dump(mode="json")) + "\n"


def summary(report: Report, command: str = "validate", lang: str = "en") -> str:
    counts = report.counts
    extra = report.stats.model_extra or {}
    russian = lang == "ru"
    where = (f"{'профиль' if russian else 'profile'} {report.profile}" if report.profile
             else listing_words(extra.get("form"), extra.get("listings") or [extra.get("manifest", "")], russian))
    if command == "ingest":
        where = "источник для curator build" if russian else "a source for curator build"
    return summary_line(command, report.root, report.valid, counts.error, counts.warning, counts.info,
                        report.stats.files, report.stats.bytes, report.stats.seconds, where, lang=lang)


def _line(finding: Finding, lang: str) -> Line:
    return Line(finding.code, finding.severity.value, finding.path, localise_finding(finding, lang).message)


def to_text(report: Report, *, command: str = "validate", lang: str = "en", limit: int | None = GROUP_LIMIT,
            colour: bool = False) -> str:
    """Findings grouped by code (errors first), each group capped at ``limit`` lines, then the summary."""
    rules = catalogue()
    titles = {code: rule.title_in(lang) for code, rule in rules.items()}
    lines = group_lines(report.findings, titles, limit=limit, colour=colour, lang=lang,
                        word=partial(_line, lang=lang))   # only the lines shown are worded
    extra = report.stats.model_extra or {}
    if "categories" in extra:
        per = ", ".join(f"{display(k)} {v}" for k, v in extra["categories"].items())
        rows = int(extra.get("registry_rows", 0))
        lines.append(f"реестр: {plural_ru(rows, 'строка', 'строки', 'строк')} ({per})" if lang == "ru"
                     else f"registry: {plural(rows, 'row')} ({per})")
    lines.append(summary(report, command, lang))
    return "\n".join(lines) + "\n"
