"""The catalogue's titles, levels and messages without its models: ``schema/rules/catalogue.json``.

That file is generated from the rule YAML (``curator rules --format json > schema/rules/catalogue.json``; a test
fails when it is stale). Reading it needs only ``json``, so ``curator verify`` can word its findings without
loading yaml and pydantic, which take longer than a cached verify of a whole release.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

from curator.resources import schema_dir

COMPILED = "catalogue.json"


def render_template(templates: Mapping[str, str], lang: str, values: Mapping[str, Any]) -> str:
    """The message in ``lang`` (English when that language is missing) with placeholders filled in.

    A placeholder without a value stays visible as ``{name}`` rather than failing: a message must never turn a
    finding into a crash.
    """
    template = templates.get(lang) or templates["en"]
    # str.format_map is string.Formatter().vformat's C twin (the same fields, conversions and specs; a missing key
    # goes to __missing__): 74k findings of a DICOM release spent most of their wording in the Python one (issue 15)
    return template.format_map(_Lenient(values))


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@cache
def rule_texts() -> dict[str, dict[str, Any]]:
    """Every rule as ``curator rules --format json`` prints it, by code."""
    rules = json.loads((schema_dir() / "rules" / COMPILED).read_text(encoding="utf-8"))
    return {rule["code"]: rule for rule in rules}


def message(code: str, path: str, lang: str = "en", **context: Any) -> str:
    """What :func:`curator.catalogue.make_finding` would word for the same code, path and context."""
    rule = rule_texts()[code]
    variant = (rule.get("variants") or {}).get(str(context.get("variant") or ""))
    return render_template((variant or rule)["message"], lang, {"path": path, "study_id": None, **context})
