"""A report as JSON (the contract of DESIGN.md) or as text grouped by code with a one-line summary."""

from __future__ import annotations

from collections.abc import Iterator

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


def _lines(findings: list[Finding], lang: str, limit: int | None) -> Iterator[Line]:
    """A line per finding for :func:`curator.wording.group_lines`; worded only for the first ``limit`` of each run
    of one code (and the first, whose level heads the group), which are the ones shown; the rest are only counted
    (issue 15: 74k findings of a DICOM release)."""
    code, run, counted = None, 0, Line("", "", "", "")
    for finding in findings:
        if finding.code != code:
            code, run, counted = finding.code, 0, Line(finding.code, "", "", "")
        run += 1
        if run == 1 or limit is None or run <= limit:
            yield Line(code, finding.severity.value, finding.path, localise_finding(finding, lang).message)
        else:
            yield counted   # past the group's limit: counted in "N more", never shown


def to_text(report: Report, *, command: str = "validate", lang: str = "en", limit: int | None = GROUP_LIMIT,
            colour: bool = False) -> str:
    """Findings grouped by code (errors first), each group capped at ``limit`` lines, then the summary."""
    rules = catalogue()
    titles = {code: rule.title_in(lang) for code, rule in rules.items()}
    lines = group_lines(_lines(report.findings, lang, limit), titles, limit=limit, colour=colour, lang=lang)
    extra = report.stats.model_extra or {}
    if "categories" in extra:
        per = ", ".join(f"{display(k)} {v}" for k, v in extra["categories"].items())
        rows = int(extra.get("registry_rows", 0))
        lines.append(f"реестр: {plural_ru(rows, 'строка', 'строки', 'строк')} ({per})" if lang == "ru"
                     else f"registry: {plural(rows, 'row')} ({per})")
    lines.append(summary(report, command, lang))
    return "\n".join(lines) + "\n"
