"""The rule catalogue as text or JSON (``curator rules``)."""

from __future__ import annotations

import json

from curator.catalogue import as_json
from curator.models.rules import Rule


def rules_json(rules: dict[str, Rule]) -> str:
    return json.dumps(as_json(rules), indent=2, ensure_ascii=False) + "\n"


def rules_text(rules: dict[str, Rule], lang: str = "en") -> str:
    lines = []
    width = max(len(code) for code in rules)
    for rule in sorted(rules.values(), key=lambda r: (r.tags[0], r.code)):
        status = "" if rule.status == "active" else "  [planned]"
        lines.append(f"{rule.code:<{width}}  {rule.level.value:<7}  {','.join(rule.tags):<22} {rule.title}{status}")
    active = sum(1 for r in rules.values() if r.status == "active")
    lines.append(f"{len(rules)} rules: {active} active, {len(rules) - active} planned")
    return "\n".join(lines) + "\n"
