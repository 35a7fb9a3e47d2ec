"""A rule of the finding catalogue (``schema/rules/*.yaml``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from curator.models.findings import Severity
from curator.rule_texts import render_template


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]+$")
    level: Severity
    status: Literal["active", "planned"]
    tags: list[str] = Field(min_length=1)
    title: str
    message: dict[str, str]
    placeholders: list[str]
    rationale: str
    deprecated: bool = False

    def render(self, lang: str, values: dict[str, Any]) -> str:
        """The message in ``lang`` (English when missing), placeholders filled; a missing value stays ``{name}``."""
        return render_template(self.message, lang, values)
