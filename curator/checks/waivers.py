"""Severity overrides and waivers from the release's configuration, applied to the findings of a run."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from curator.catalogue import make_finding
from curator.models.config import ValidationConfig, Waiver
from curator.models.findings import Finding

CODES = frozenset({"WAIVER_EXPIRED", "WAIVER_UNUSED"})


@dataclass
class Outcome:
    findings: list[Finding]
    waived: list[Finding] = field(default_factory=list)


def _matches(waiver: Waiver, finding: Finding) -> bool:
    return waiver.code == finding.code and fnmatchcase(finding.path, waiver.path)


def apply_config(findings: list[Finding], config: ValidationConfig, where: str, today: dt.date) -> Outcome:
    """Override severities, then drop findings covered by a live waiver; report expired and unused waivers."""
    live = [w for w in config.waivers if w.expires >= today]
    used: set[int] = set()
    if not config.severity and not live:   # nothing to override or waive: the findings as they are (issue 15: 74k)
        outcome = Outcome(findings=list(findings))
    else:
        outcome = Outcome(findings=[])
        for finding in findings:
            if finding.code in config.severity:
                finding = finding.model_copy(update={"severity": config.severity[finding.code]})
            index = next((i for i, waiver in enumerate(live) if _matches(waiver, finding)), None)
            if index is None:
                outcome.findings.append(finding)
            else:
                used.add(index)
                outcome.waived.append(finding)
    for waiver in config.waivers:
        if waiver.expires < today:
            outcome.findings.append(make_finding("WAIVER_EXPIRED", where, waived=waiver.code, pattern=waiver.path,
                                                 expires=waiver.expires.isoformat(), reason=waiver.reason))
    for index, waiver in enumerate(live):
        if index not in used:
            outcome.findings.append(make_finding("WAIVER_UNUSED", where, waived=waiver.code, pattern=waiver.path,
                                                 reason=waiver.reason))
    return outcome
