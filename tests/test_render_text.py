"""render.report.to_text: findings grouped by code, each group capped at its limit (issue 15: only the lines shown
are worded)."""

from __future__ import annotations

import pytest

from curator.catalogue import catalogue, localise_finding, make_finding
from curator.models.findings import Counts, Finding, Report, Severity, Stats
from curator.render.report import to_text
from curator.report_closing import ordered
from curator.wording import Line, group_lines


def _report() -> Report:
    findings: list[Finding] = []
    for number in range(5):
        findings.append(make_finding("PHI_DICOM_NOT_DEIDENTIFIED", f"P{number}/IM1.dcm", reason="missing"))
    for number in range(3):
        findings.append(make_finding("FILE_JUNK", f"d{number}/.DS_Store"))
    # one code at two levels: two runs of the same code, apart in the report's order
    findings.append(make_finding("FILE_JUNK", "z/Thumbs.db", severity=Severity.error))
    findings.append(make_finding("REQUIRED_FILE_MISSING", "LICENSE"))
    return Report(version="0", root="r", profile="dicom", valid=False, counts=Counts(error=7, warning=3),
                  stats=Stats(files=10, bytes=1), findings=ordered(findings))


def _every_line_worded(report: Report, lang: str, limit: int | None, colour: bool) -> list[str]:
    """What to_text wrote before issue 15's change: a worded line for every finding, grouped."""
    items = [Line(f.code, f.severity.value, f.path, localise_finding(f, lang).message) for f in report.findings]
    return group_lines(items, {code: rule.title_in(lang) for code, rule in catalogue().items()}, limit=limit,
                       colour=colour, lang=lang)


@pytest.mark.parametrize("limit", [0, 1, 2, 4, None])
@pytest.mark.parametrize(("lang", "colour"), [("en", False), ("ru", True)])
def test_text_report_words_only_the_lines_it_shows_and_says_the_same(limit: int | None, lang: str,
                                                                     colour: bool) -> None:
    report = _report()
    text = to_text(report, lang=lang, limit=limit, colour=colour)
    expected = _every_line_worded(report, lang, limit, colour)
    assert text.splitlines()[: len(expected)] == expected
    assert len(text.splitlines()) == len(expected) + 1   # and the summary line
    headings = [line for line in expected if not line.startswith(" ")]
    assert sum(line.split(" ", 2)[1] == "FILE_JUNK" for line in headings) == 2   # two runs of one code


def test_text_report_counts_the_findings_past_the_limit() -> None:
    lines = to_text(_report(), limit=1).splitlines()
    assert lines[2:5] == [
        "ERROR PHI_DICOM_NOT_DEIDENTIFIED (5): DICOM file not marked as de-identified",
        lines[3], "  ... and 4 more (--verbose or --format json lists them all)"]
    assert lines[3].startswith("  P0/IM1.dcm does not declare de-identification (missing)")
