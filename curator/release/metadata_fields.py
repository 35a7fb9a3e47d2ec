"""Shared pieces of the release metadata writers: file formats, licence sentences, card helpers, hashing.

Used by :mod:`curator.release.metadata` (datapackage, DataCite, Zenodo, the writer) and
:mod:`curator.release.croissant`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from curator.executor import run_tasks
from curator.io.hashing import hash_file
from curator.models.card import Contributor, DatasetCard, Localised, localise
from curator.models.profile import Profile
from curator.models.registry import RegistryRow
from curator.release.licence_facts import licence_facts

DATAPACKAGE, CROISSANT, DATACITE, ZENODO = "datapackage.json", "croissant.json", "datacite.json", "zenodo.json"
METADATA_FILES = (CROISSANT, DATACITE, DATAPACKAGE, ZENODO)
REGISTRY_CSV, REGISTRY_XLSX = "dataset_registry.csv", "dataset_registry.xlsx"

NIFTI_FORMAT = "https://nifti.nimh.nih.gov/nifti-1/"   # Croissant: a niche format is named by its definition's URL
CROISSANT_1_1 = "http://mlcommons.org/croissant/1.1"
DATAPACKAGE_V2 = "https://datapackage.org/profiles/2.0/datapackage.json"

# suffix -> (Frictionless format, IANA media type, Croissant encodingFormat); longest suffix first
_FORMATS: tuple[tuple[str, str, str, str], ...] = (
    (".nii.gz", "nii.gz", "application/gzip", NIFTI_FORMAT),
    (".nii", "nii", "application/octet-stream", NIFTI_FORMAT),
    (".csv", "csv", "text/csv", "text/csv"),
    (".tsv", "tsv", "text/tab-separated-values", "text/tab-separated-values"),
    (".xlsx", "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (".md", "md", "text/markdown", "text/markdown"),
    (".pdf", "pdf", "application/pdf", "application/pdf"),
    (".json", "json", "application/json", "application/json"),
    (".yaml", "yaml", "application/yaml", "application/yaml"),
    (".png", "png", "image/png", "image/png"),
    (".svg", "svg", "image/svg+xml", "image/svg+xml"),
    (".jpg", "jpg", "image/jpeg", "image/jpeg"),
    (".sh", "sh", "text/x-shellscript", "text/x-shellscript"),
    (".ps1", "ps1", "text/plain", "text/plain"),
    (".txt", "txt", "text/plain", "text/plain"),
    (".zip", "zip", "application/zip", "application/zip"),
)


# sentences about the licence, per language (a language without them gets none)
_RESTRICTIONS = {
    "en": {
        "licence": "Licence: {name} ({short}), {url}.",
        "commercial": "Non-commercial use only: the licence does not permit commercial use.",
        "derivatives": "No derivatives: modified versions of the data may not be distributed.",
        "share_alike": "Share-alike: adapted material must be distributed under the same licence.",
        "attribution": "Attribution: users must credit the authors and cite the dataset.",
    },
    "ru": {
        "licence": "Лицензия: {name} ({short}), {url}.",
        "commercial": "Только некоммерческое использование: лицензия не разрешает коммерческое использование.",
        "derivatives": "Без производных произведений: изменённые версии данных распространять нельзя.",
        "share_alike": "На тех же условиях: переработанные материалы распространяются под той же лицензией.",
        "attribution": "Атрибуция: пользователи должны указывать авторов и ссылаться на набор данных.",
    },
}


# ---------------------------------------------------------------------------------------------- helpers


def file_format(path: str) -> tuple[str, str, str]:
    """(Frictionless format, media type, Croissant encodingFormat) of a release file, by its name."""
    lower = path.lower()
    for suffix, fmt, mediatype, encoding in _FORMATS:
        if lower.endswith(suffix):
            return fmt, mediatype, encoding
    return "txt", "text/plain", "text/plain"   # LICENSE, SHA256SUMS, MD5SUMS and other plain text


def hash_files(root: Path, files: list[str], jobs: int | None = None,
               algorithms: tuple[str, ...] = ("sha256", "md5")) -> dict[str, dict[str, str]]:
    """``{path: {algorithm: hex, "bytes": size}}`` for each file, one read per file."""
    def one(rel: str) -> dict[str, str]:
        digests = hash_file(root / rel, algorithms)
        digests["bytes"] = str((root / rel).stat().st_size)
        return digests

    return dict(zip(files, run_tasks(one, files, jobs), strict=True))


def _text_language(card: DatasetCard) -> str:
    """The language single-language fields are written in: English when the card has it, else its first."""
    return "en" if "en" in card.languages else card.languages[0]


def _localised_map(card: DatasetCard, value: Localised) -> dict[str, str]:
    return {lang: localise(value, lang) for lang in card.languages}


def _split_name(name: str) -> tuple[str, str]:
    """'Family, Given' -> (given, family); a name without a comma is all family name."""
    family, _, given = name.partition(",")
    return given.strip(), family.strip()


def _display_name(name: str) -> str:
    given, family = _split_name(name)
    return f"{given} {family}".strip()


def _orcid_url(orcid: str | None) -> str | None:
    return f"https://orcid.org/{orcid}" if orcid else None


def _affiliations(card: DatasetCard, person: Contributor, lang: str) -> list[tuple[str, str | None]]:
    """(name, ROR URL or None) of each affiliation of ``person``."""
    by_id = {a.id: a for a in card.affiliations}
    return [(localise(by_id[i].name, lang), by_id[i].ror) for i in person.affiliations]


def _licence(card: DatasetCard) -> dict[str, Any]:
    return licence_facts(card)


def licence_terms(card: DatasetCard, lang: str) -> list[str]:
    """The licence and its restrictions as sentences in ``lang`` (empty for a language without them)."""
    words = _RESTRICTIONS.get(lang)
    if words is None:
        return []
    info = licence_facts(card, lang)
    terms = [words["licence"].format(**info)]
    if not info["commercial"]:
        terms.append(words["commercial"])
    if not info["derivatives"]:
        terms.append(words["derivatives"])
    if info["share_alike"]:
        terms.append(words["share_alike"])
    if info["attribution"]:
        terms.append(words["attribution"])
    return terms


def _citation(card: DatasetCard) -> str:
    if card.citation:
        return card.citation.strip()
    lang = _text_language(card)
    authors = "; ".join(localise(c.name, lang) for c in card.contributors)
    return (f"{authors} ({card.release_date.year}). {localise(card.title, lang)} ({card.code}), "
            f"version {card.version}. {card.permanent_link}")


def _counts(card: DatasetCard, rows: list[RegistryRow]) -> tuple[dict[str, int], int]:
    per = Counter(row.category for row in rows)
    return {c.id: per.get(c.id, 0) for c in card.categories}, sum(1 for row in rows if row.mask_file)


def _registry_patterns(card: DatasetCard, profile: Profile | None) -> dict[str, str]:
    """Table Schema ``pattern`` constraints (XML Schema regex, matched whole) of the registry's path columns."""
    from curator.profiles import get_profile

    profile = profile or get_profile("mosmed")
    if profile.registry is None:   # a slices release: its registry is slices_registry.csv, not described here
        return {}
    # ids are [A-Za-z0-9_-]: literal as they stand in both Python and XML Schema regexes, so no escaping
    categories = "(" + "|".join(c.id for c in card.categories) + ")"
    patterns = {}
    for column, kind in (("study_file", "study"), ("mask_file", "mask")):
        pattern = profile.pattern_for(kind).pattern.removeprefix("^").removesuffix("$")
        pattern = re.sub(r"\(\?P<category>[^)]*\)", lambda _: categories, pattern)
        pattern = re.sub(r"\(\?P<\w+>", "(", pattern)
        patterns[column] = "/" + pattern
    return patterns


def _dump(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"

