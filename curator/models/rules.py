"""A rule of the finding catalogue (``schema/rules/*.yaml``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from curator.models.findings import Severity
from curator.rule_texts import render_template


class RuleVariant(BaseModel):
    """Another wording of one rule for one kind of the same problem (e.g. a mask in another voxel order rather
    than a shifted one), chosen by the finding's ``variant`` context key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message: dict[str, str]
    placeholders: list[str]


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
    variants: dict[str, RuleVariant] = Field(default_factory=dict)
    titles: dict[str, str] = Field(default_factory=dict)   # the title in other languages than English

    def title_in(self, lang: str) -> str:
        """The title in ``lang``, English when the rule has none in it."""
        return self.titles.get(lang) or self.title

    def render(self, lang: str, values: dict[str, Any]) -> str:
        """The message in ``lang`` (English when missing), placeholders filled; a missing value stays ``{name}``.

        A finding whose context names a ``variant`` of the rule is worded by that variant's message.
        """
        return render_template(self.messages(values), lang, values)

    def messages(self, values: dict[str, Any]) -> dict[str, str]:
        """The message templates by language that word a finding with these ``values``: its variant's, when the
        context names one, else the rule's."""
        variant = self.variants.get(str(values.get("variant") or ""))
        return variant.message if variant else self.message
