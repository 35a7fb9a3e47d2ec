"""The finding catalogue: ``schema/rules/*.yaml``, checked against ``schema/rules/rules.schema.json``."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from curator.models.findings import Finding, Severity
from curator.models.rules import Rule
from curator.resources import schema_dir

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: ~10x faster


class CatalogueError(Exception):
    """The shipped catalogue is broken: a packaging or development error, not a data problem."""


def load_catalogue(folder: Path | None = None, *, check: bool = True) -> dict[str, Rule]:
    """Read every rule file; codes must be unique across files.

    ``check`` validates each file against the metaschema (tests and custom catalogues); the shipped catalogue is
    checked by the test suite, so commands skip it and start faster.
    """
    folder = folder or schema_dir() / "rules"
    validator = None
    if check:
        import jsonschema

        metaschema = json.loads((folder / "rules.schema.json").read_text(encoding="utf-8"))
        validator = jsonschema.Draft202012Validator(metaschema)
    rules: dict[str, Rule] = {}
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)) if validator else []
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path)
            raise CatalogueError(f"{path.name}: {where}: {errors[0].message}")
        for code, body in data.items():
            if code in rules:
                raise CatalogueError(f"{path.name}: code {code} is defined twice")
            rules[code] = Rule(code=code, **body)
    if not rules:
        raise CatalogueError(f"no rule files in {folder}")
    return rules


@cache
def catalogue() -> dict[str, Rule]:
    """The shipped catalogue, read once per process (its metaschema is checked by the tests)."""
    return load_catalogue(check=False)


def make_finding(code: str, path: str, *, study_id: int | None = None, lang: str = "en",
                 severity: Severity | None = None, **context: Any) -> Finding:
    """A finding for ``code`` with its message rendered from the catalogue.

    ``context`` holds the message's placeholders and any further machine-readable detail.
    """
    rule = catalogue()[code]
    return Finding(
        code=code,
        severity=severity or rule.level,
        path=path,
        study_id=study_id,
        message=rule.render(lang, {"path": path, "study_id": study_id, **context}),
        context=context,
    )


def relocated(finding: Finding, path: str) -> Finding:
    """``finding`` (made by :func:`make_finding`) about the file at ``path``: worded again, its context copied, and
    not validated again (its fields were when it was made). What ``make_finding(finding.code, path, ...)`` gives
    with the same context and severity, at a fraction of the cost: a DICOM release repeats one element's findings
    in every slice (issue 15: 74k findings)."""
    rule = catalogue()[finding.code]
    context = {k: list(v) if isinstance(v, list) else v for k, v in finding.context.items()}
    message = rule.render("en", {"path": path, "study_id": finding.study_id, **context})
    # what finding.model_copy(update=...) makes, without its generic copying (~40% of this function's time)
    copied = Finding.__new__(Finding)
    _set(copied, "__dict__", {**finding.__dict__, "path": path, "message": message, "context": context})
    _set(copied, "__pydantic_extra__", None)
    _set(copied, "__pydantic_fields_set__", finding.__pydantic_fields_set__ | _RELOCATED)
    _set(copied, "__pydantic_private__", None)
    return copied


_set = object.__setattr__
_RELOCATED = frozenset({"path", "message", "context"})


def localise_finding(finding: Finding, lang: str) -> Finding:
    """The same finding with its message in ``lang``."""
    if lang == "en":
        return finding
    rule = catalogue()[finding.code]
    message = rule.render(lang, {"path": finding.path, "study_id": finding.study_id, **finding.context})
    return finding.model_copy(update={"message": message})


def rules_for_selector(selector: str) -> set[str]:
    """Codes named by a ``--select``/``--ignore`` item: a code, or a tag."""
    rules = catalogue()
    if selector in rules:
        return {selector}
    return {code for code, rule in rules.items() if selector in rule.tags}


def as_json(rules: dict[str, Rule]) -> list[dict[str, Any]]:
    return [rule.model_dump(mode="json", exclude={name for name in ("variants", "titles") if not getattr(rule, name)})
            for rule in sorted(rules.values(), key=lambda r: r.code)]
