"""The finding catalogue: ``schema/rules/*.yaml``, checked against ``schema/rules/rules.schema.json``."""

from __future__ import annotations

import json
from functools import cache, lru_cache
from pathlib import Path
from string import Formatter
from typing import Any

import yaml
from pydantic import BaseModel

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
    in every slice (issue 15: 74k findings). Copying one finding to many paths: :class:`Relocation`."""
    return Relocation(finding).at(path)


_SENTINEL = "\ue000path\ue001"   # private-use characters: in no message's own text, escaped by !r


class Relocation:
    """A finding made once (by :func:`make_finding`, about any path) and copied to each path it is about: the
    message worded once with the path left out (its parts joined with each path), the context copied (a list in
    it too: each copy owns its context), the fields not validated again. Each copy equals what ``make_finding``
    gives for that path with the same context and severity (issue 15: a DICOM release repeats one element's
    findings in every slice, 74k of them)."""

    __slots__ = ("_fields", "_lists", "_parts", "_rule", "finding")

    def __init__(self, finding: Finding) -> None:
        self.finding = finding
        self._rule = catalogue()[finding.code]
        self._fields = finding.__pydantic_fields_set__ | _RELOCATED
        self._lists = tuple(k for k, v in finding.context.items() if isinstance(v, list))
        self._parts: list[str] | None = None
        values = {"path": _SENTINEL, "study_id": finding.study_id, **finding.context}
        template = self._rule.messages(values)["en"]   # the template render words in English
        try:
            fields = [(name, spec, conversion) for _, name, spec, conversion in Formatter().parse(template)
                      if name is not None]
        except ValueError:
            return   # a malformed template: each copy worded in full (render keeps it visible)
        paths = [field for field in fields if field[0] == "path"]
        message = self._rule.render("en", values)
        if all(spec == "" and conversion is None for _, spec, conversion in paths) and \
                message.count(_SENTINEL) == len(paths):
            self._parts = message.split(_SENTINEL)

    def at(self, path: str) -> Finding:
        """The finding about ``path``."""
        finding = self.finding
        context = finding.context.copy()
        for key in self._lists:
            context[key] = list(context[key])
        if self._parts is not None:
            message = path.join(self._parts)
        else:
            message = self._rule.render("en", {"path": path, "study_id": finding.study_id, **context})
        # what finding.model_copy(update=...) makes, without its generic copying: BaseModel's slots set through
        # their descriptors (half the cost of object.__setattr__; 68k copies for P001 x20)
        fields = finding.__dict__.copy()
        fields["path"], fields["message"], fields["context"] = path, message, context
        copied = _new(Finding)   # (BaseModel has no __new__ of its own)
        _set_dict(copied, fields)
        _set_extra(copied, None)
        _set_fields(copied, self._fields)
        _set_private(copied, None)
        return copied


def finding_at(code: str, path: str, **context: Any) -> Finding:
    """``make_finding(code, path, **context)``, remembered for its code and context and copied to each path
    (:class:`Relocation`): for a check that words the same finding for many files. A context of text, whole
    numbers, booleans, None and lists of text is remembered (bounded); any other, or another language, is made
    afresh."""
    key = context_key(context)
    if key is None or "lang" in context:   # (a copy is worded in English)
        return make_finding(code, path, **context)
    return _relocation(code, key).at(path)


_KEYED = (str, int, bool, type(None))   # values whose equality is their identity in JSON once typed (not 0.0/-0.0)


def context_key(context: dict[str, Any]) -> tuple[tuple[str, type, Any], ...] | None:
    """A finding's context as the key :func:`finding_at` remembers it by (each value typed: no float, whose 0.0 and
    -0.0 are equal but differ in JSON); None for a context it does not remember."""
    items = []
    for name, value in context.items():
        kind = type(value)
        if kind is list:
            if not all(type(item) is str for item in value):
                return None
            value = tuple(value)
        elif kind not in _KEYED:
            return None
        items.append((name, kind, value))
    return tuple(items)


@lru_cache(maxsize=1 << 12)
def _relocation(code: str, key: tuple[tuple[str, type, Any], ...]) -> Relocation:
    context: dict[str, Any] = {name: list(value) if kind is list else value for name, kind, value in key}
    return Relocation(make_finding(code, "", **context))


_new = object.__new__
_set_dict, _set_extra, _set_fields, _set_private = (
    BaseModel.__dict__[name].__set__
    for name in ("__dict__", "__pydantic_extra__", "__pydantic_fields_set__", "__pydantic_private__"))
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
