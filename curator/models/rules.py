"""A rule of the finding catalogue (``schema/rules/*.yaml``)."""

from __future__ import annotations

import string
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from curator.models.findings import Severity


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
        """The message in ``lang`` (English when that language is missing) with placeholders filled in.

        A placeholder without a value stays visible as ``{name}`` rather than failing: a message must
        never turn a finding into a crash.
        """
        template = self.message.get(lang) or self.message["en"]
        return string.Formatter().vformat(template, (), _Lenient(values))


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
