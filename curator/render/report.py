"""A report as JSON (the contract of DESIGN.md) or as text grouped by code with a one-line summary."""

from __future__ import annotations

from functools import partial
from typing import Any

from curator.catalogue import catalogue, localise_finding
from curator.escaping import display, json_bytes, json_text, plain
from curator.io.checksum_listings import listing_words
from curator.models.findings import Finding, Report
from curator.wording import GROUP_LIMIT, Line, group_lines, human_bytes, plural, plural_ru, summary_line

__all__ = ["GROUP_LIMIT", "human_bytes", "json_report", "summary", "to_json", "to_text"]


def to_json(report: Report) -> str:
    """The report contract as JSON; names are written as :func:`curator.escaping.json_text` says."""
    return json_report(report).decode()


def json_report(report: Report) -> bytes:
    """:func:`to_json` as UTF-8 bytes, what a report file or a pipe is given: ``json_text(report.model_dump(
    mode="json")) + "\\n"``, byte for byte, without the dump when every finding's fields are its ``__dict__``
    (:func:`_document`) and the document is one :func:`curator.escaping.json_bytes` writes fast."""
    document = _document(report)
    if document is None:
        return (json_text(report.model_dump(mode="json")) + "\n").encode()
    return json_bytes(document, checked=True, newline=True)


def _document(report: Report) -> dict[str, Any] | None:
    """The report as ``model_dump(mode="json")`` gives it, but each finding as its own field dict (pydantic keeps a
    model's field values in ``__dict__``, in the order of its fields), not copied: issue 15's 74,000 findings took
    0.7 s to dump. A severity stays a :class:`Severity` (a str, written as its value). None unless every finding is
    exactly a :class:`Finding` holding only its fields and every context (the one field of any type) and the rest of
    the report are :func:`curator.escaping.plain`: the dump's conversions (a path, a set) are then not needed."""
    fields = tuple(Finding.model_fields)
    findings = []
    contexts = []
    for finding in report.findings:
        values = finding.__dict__
        if type(finding) is not Finding or tuple(values) != fields:
            return None
        findings.append(values)
        contexts.append(finding.context)
    document = report.model_dump(mode="json", exclude={"findings"})
    if not (plain(contexts) and plain(document)):
        return None
    return {name: findings if name == "findings" else document[name] for name in Report.model_fields}


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
