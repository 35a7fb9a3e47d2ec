"""Findings and the report: the contract every output format is rendered from (see DESIGN.md)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from curator.models.severity import rank as severity_rank


class Severity(StrEnum):
    error = "error"
    warning = "warning"
    info = "info"

    @property
    def rank(self) -> int:
        return severity_rank(self.value)


class Finding(BaseModel):
    """One problem (or observation) about one file of a release."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]+$")
    severity: Severity
    path: str = Field(description="POSIX path relative to the release root, no leading slash; '' for the root")
    study_id: int | None = None
    message: str
    context: dict[str, Any] = Field(default_factory=dict)


class Counts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error: int = 0
    warning: int = 0
    info: int = 0


class Stats(BaseModel):
    model_config = ConfigDict(extra="allow")

    files: int = 0
    bytes: int = 0
    seconds: float = 0.0


class Report(BaseModel):
    """The result of ``curator validate`` or ``curator verify``."""

    model_config = ConfigDict(extra="forbid")

    tool: str = "curator"
    version: str
    root: str
    profile: str | None
    valid: bool
    counts: Counts
    stats: Stats
    findings: list[Finding]

    def flatten(self, keys: list[str]) -> list[list[Any]]:
        """Findings as rows of the given keys, for compact assertions (as frictionless does)."""
        rows = []
        for finding in self.findings:
            data = finding.model_dump()
            rows.append([data.get(key, data["context"].get(key)) for key in keys])
        return rows

    def codes(self) -> set[str]:
        return {finding.code for finding in self.findings}
