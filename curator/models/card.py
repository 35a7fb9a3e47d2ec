"""The dataset card (``dataset.yaml``): everything a release says about itself that is not computed from data.

Text a reader sees is *localised*: either one string for every language, or a mapping ``{lang: text}``
that must cover every language the card declares.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
# one text for every language, or {language code: text}; the card checks every declared language is there
Localised = str | Annotated[dict[LanguageCode, str], Field(min_length=1)]

_SEMVER = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)(\.(0|[1-9]\d*))?(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"


def localise(value: Localised, lang: str) -> str:
    """The text of ``value`` in ``lang`` (a plain string is the same in every language)."""
    if isinstance(value, str):
        return value
    return value[lang]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Affiliation(_Strict):
    id: int = Field(ge=1, description="number used by contributors' `affiliations`")
    name: Localised
    ror: str | None = Field(default=None, description="ROR identifier URL, if the organisation has one")


class Contributor(_Strict):
    name: Localised = Field(description="'Family, Given' as in the MosMed README")
    affiliations: list[int] = Field(min_length=1)
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    orcid: str | None = Field(default=None, pattern=r"^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$")


class Category(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", description="folder name, e.g. CT-1")
    label: Localised
    description: Localised


class PreprocessingStep(_Strict):
    text: Localised
    code: str | None = Field(default=None, description="a selection rule shown as code, e.g. InstanceNumber % 10 = 0")


class DatasetCard(_Strict):
    """``dataset.yaml``: the curator's description of a dataset release."""

    title: Localised
    short_name: str = Field(min_length=1, max_length=24, description="e.g. MosMedData; names the registry sheet")
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="internal code, e.g. COVID19_1110")
    version: str = Field(pattern=_SEMVER)
    release_date: dt.date
    licence: str = Field(pattern=r"^[A-Za-z0-9.+-]+$", description="SPDX licence identifier, e.g. CC-BY-NC-ND-3.0")
    languages: list[str] = Field(min_length=1, description="README languages, ISO 639-1 codes, first is primary")
    description: Localised
    copyright_holder: Localised
    copyright_year: int = Field(ge=1900, le=2200)
    permanent_link: str = Field(pattern=r"^https?://\S+$")
    contributors: list[Contributor] = Field(min_length=1)
    affiliations: list[Affiliation] = Field(min_length=1)
    keywords: Annotated[dict[LanguageCode, list[str]], Field(min_length=1)] | list[str]
    funding: Localised
    annotation_classes: list[str] = Field(default_factory=list)
    label_scheme: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]*$", description=(
        "what the mask values mean: a scheme of schema/labels/ (cncb, infnet, binary-lesion, medseg)"))
    categories: list[Category] = Field(min_length=1)
    preprocessing: list[PreprocessingStep] = Field(default_factory=list)
    annotation_principles: Localised | None = None
    intended_use: list[Localised] = Field(default_factory=list)
    citation: str | None = None

    @model_validator(mode="after")
    def _check_consistency(self) -> DatasetCard:
        problems = consistency_problems(self.model_dump())
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def text(self, value: Localised, lang: str) -> str:
        return localise(value, lang)

    def keywords_in(self, lang: str) -> list[str]:
        return self.keywords if isinstance(self.keywords, list) else self.keywords[lang]


def consistency_problems(data: Any) -> list[str]:
    """Every rule across fields of a card (languages, translations, affiliation references, category ids), each
    as a sentence. Works on the raw mapping too, so a card whose fields also fail is told all of it in one run."""
    if not isinstance(data, dict):
        return []
    problems: list[str] = []
    languages = [lang for lang in data.get("languages") or [] if isinstance(lang, str)] \
        if isinstance(data.get("languages"), list) else []
    for lang in languages:
        if not (len(lang) == 2 and lang.isascii() and lang.islower()):
            problems.append(f"language {lang!r} is not a two-letter ISO 639-1 code")
    if len(set(languages)) != len(languages):
        problems.append("languages repeat")
    missing = sorted(_untranslated(data, set(languages)))
    if missing:
        problems.append("text missing for a declared language: " + "; ".join(missing))
    affiliations = data.get("affiliations")
    known = ({a.get("id") for a in affiliations if isinstance(a, dict) and isinstance(a.get("id"), int | str)}
             if isinstance(affiliations, list) else set())
    contributors = data.get("contributors")
    for person in contributors if isinstance(contributors, list) else []:
        refs = person.get("affiliations") if isinstance(person, dict) else None
        unknown = sorted({r for r in refs if isinstance(r, int)} - known) if isinstance(refs, list) else []
        if unknown:
            name = person.get("name")
            if isinstance(name, dict):
                name = name.get(languages[0]) if languages and languages[0] in name else next(iter(name.values()), "")
            problems.append(f"contributor {name!r} refers to unknown affiliations {unknown}")
    categories = data.get("categories")
    ids = ([c.get("id") for c in categories if isinstance(c, dict) and isinstance(c.get("id"), str)]
           if isinstance(categories, list) else [])
    if len(set(ids)) != len(ids):
        problems.append(f"category ids repeat: {ids}")
    return problems


def _untranslated(data: Any, languages: set[str], where: str = "") -> list[str]:
    """Paths of localised mappings that lack one of ``languages``."""
    problems: list[str] = []
    if isinstance(data, dict):
        keys = set(data)
        if keys and all(isinstance(k, str) and len(k) == 2 and k.islower() for k in keys) and all(
            isinstance(v, (str, list)) for v in data.values()
        ):
            for lang in sorted(languages - keys):
                problems.append(f"{where or 'card'} has no {lang!r}")
            return problems
        for key, value in data.items():
            problems += _untranslated(value, languages, f"{where}.{key}" if where else str(key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            problems += _untranslated(value, languages, f"{where}[{i}]")
    return problems
