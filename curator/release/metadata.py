"""Metadata for the ecosystem: a Frictionless Data Package, Croissant 1.1, DataCite and Zenodo JSON.

Everything here is computed from the dataset card, the registry rows and the files as they are on disk, and
written deterministically: fixed key order, no timestamp except the card's release date, UTF-8 with ``\\n``.

- ``datapackage.json``: Data Package v2; the registry CSV is a tabular resource with a Table Schema
  (``study_id`` unique integer key, ``category`` enum, path patterns), every other file a resource with
  ``bytes`` and ``hash``, so ``frictionless validate datapackage.json`` also checks the bytes.
- ``croissant.json``: Croissant 1.1 JSON-LD (``mlcroissant validate --jsonld croissant.json``): every file a
  FileObject with its sha256, FileSets for studies and masks, a RecordSet over the registry, RAI fields.
- ``datacite.json``: the ``attributes`` of a DataCite REST API ``dois`` request (Metadata Schema 4.x).
- ``zenodo.json``: a Zenodo deposition ``metadata`` object (also usable as ``.zenodo.json``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curator.models.card import DatasetCard, localise
from curator.models.profile import Profile
from curator.models.registry import REGISTRY_COLUMNS, RegistryRow
from curator.release.croissant import croissant
from curator.release.metadata_fields import (
    CROISSANT,
    DATACITE,
    DATAPACKAGE,
    DATAPACKAGE_V2,
    METADATA_FILES,
    REGISTRY_CSV,
    REGISTRY_XLSX,
    ZENODO,
    _affiliations,
    _counts,
    _display_name,
    _dump,
    _licence,
    _orcid_url,
    _registry_patterns,
    _split_name,
    _text_language,
    file_format,
    hash_files,
    licence_terms,
)
from curator.wording import plural

__all__ = [
    "METADATA_FILES",
    "SlicesSummary",
    "croissant",
    "datacite",
    "datapackage",
    "file_format",
    "hash_files",
    "write_metadata",
    "zenodo",
]


# --------------------------------------------------------------------------------------- datapackage.json


def datapackage(card: DatasetCard, rows: list[RegistryRow], files: list[str],
                digests: Mapping[str, Mapping[str, str]], profile: Profile | None = None) -> dict[str, Any]:
    """A Data Package v2 descriptor of the release (``rows`` decide nothing here but are kept for symmetry)."""
    lang = _text_language(card)
    licence = _licence(card)
    patterns = _registry_patterns(card, profile)
    contributors = []
    for person in card.contributors:
        name = localise(person.name, lang)
        given, family = _split_name(name)
        entry: dict[str, Any] = {"title": _display_name(name), "givenName": given, "familyName": family}
        if person.email:
            entry["email"] = person.email
        if person.orcid:
            entry["path"] = _orcid_url(person.orcid)
        entry["roles"] = ["creator"]
        entry["organization"] = "; ".join(n for n, _ in _affiliations(card, person, lang))
        contributors.append(entry)
    contributors.append({"title": localise(card.copyright_holder, lang), "roles": ["rightsHolder"]})

    resources: list[dict[str, Any]] = []
    for rel in sorted(files):
        fmt, mediatype, _ = file_format(rel)
        digest = digests[rel]
        resource: dict[str, Any] = {
            "name": rel.lower(),
            "path": rel,
            "format": fmt,
            "mediatype": mediatype,
            "bytes": int(digest["bytes"]),
            "hash": f"sha256:{digest['sha256']}",
        }
        if rel == REGISTRY_CSV:
            resource["name"] = "dataset_registry"
            resource["type"] = "table"
            resource["title"] = "Study registry"
            resource["description"] = ("One row per study: its id, category, and the paths of the study and its "
                                       "lesion mask relative to the release root (empty when there is none).")
            resource["encoding"] = "utf-8"   # the file starts with a byte-order mark, which readers skip
            resource["dialect"] = {"delimiter": ",", "lineTerminator": "\r\n", "header": True}
            resource["schema"] = _table_schema(card, patterns)
        elif rel == REGISTRY_XLSX:
            # the same table as a workbook; without a schema frictionless would guess the types from a sample
            resource["name"] = "dataset_registry_xlsx"
            resource["type"] = "table"
            resource["title"] = "Study registry (Excel workbook)"
            resource["schema"] = _table_schema(card, patterns)
        elif rel.endswith((".md", ".csv", ".tsv", ".txt", ".yaml", ".json", ".sh", ".ps1")) or "." not in rel:
            resource["encoding"] = "utf-8"
        resources.append(resource)

    return {
        "$schema": DATAPACKAGE_V2,
        "name": re.sub(r"[^a-z0-9._-]+", "-", card.code.lower()),
        "id": card.permanent_link,
        "title": localise(card.title, lang),
        "description": localise(card.description, lang) + "\n\n" + " ".join(licence_terms(card, lang)),
        "homepage": card.permanent_link,
        "version": card.version,
        "created": f"{card.release_date.isoformat()}T00:00:00Z",
        "keywords": card.keywords_in(lang),
        "licenses": [{"name": licence["id"], "path": licence["url"], "title": licence["name"]}],
        "contributors": contributors,
        "resources": resources,
    }


def _table_schema(card: DatasetCard, patterns: dict[str, str]) -> dict[str, Any]:
    lang = _text_language(card)
    categories = "; ".join(f"{c.id}: {localise(c.label, lang)}" for c in card.categories)
    fields = [
        {"name": "study_id", "type": "integer", "title": "Study id",
         "description": "Number of the study, unique in the release; also in its file names.",
         "constraints": {"required": True, "unique": True, "minimum": 1}},
        {"name": "category", "type": "string", "title": "Category",
         "description": f"Category of the study ({categories}).",
         "constraints": {"required": True, "enum": [c.id for c in card.categories]}},
        {"name": "study_file", "type": "string", "title": "Study file",
         "description": "Path of the study from the release root, starting with '/'.",
         "constraints": {"required": True, "pattern": patterns["study_file"]}},
        {"name": "mask_file", "type": "string", "title": "Mask file",
         "description": "Path of the study's lesion mask from the release root; empty when there is none.",
         "constraints": {"pattern": patterns["mask_file"]}},
    ]
    assert [f["name"] for f in fields] == list(REGISTRY_COLUMNS)
    return {"fields": fields, "missingValues": [""], "primaryKey": ["study_id"]}



# ----------------------------------------------------------------------------------- DataCite and Zenodo


@dataclass(frozen=True)
class SlicesSummary:
    """A slices release's counts (curator.release.slices_release), told instead of studies and categories."""

    cases: int
    slices: int
    lesion_slices: int


def datacite(card: DatasetCard, rows: list[RegistryRow], files: list[str],
             digests: Mapping[str, Mapping[str, str]], slices: SlicesSummary | None = None) -> dict[str, Any]:
    """The ``attributes`` of a DataCite REST API request (Metadata Schema 4.x) without ``doi``/``prefix``;
    ``slices`` describes a slices release (which has no study registry) by its own counts."""
    lang = _text_language(card)
    licence = _licence(card)
    per_category, masks = _counts(card, rows)
    creators = []
    for person in card.contributors:
        name = localise(person.name, lang)
        given, family = _split_name(name)
        creator: dict[str, Any] = {"name": name, "nameType": "Personal", "givenName": given, "familyName": family}
        creator["affiliation"] = [
            {"name": n, "affiliationIdentifier": ror, "affiliationIdentifierScheme": "ROR",
             "schemeUri": "https://ror.org"} if ror else {"name": n}
            for n, ror in _affiliations(card, person, lang)]
        creator["nameIdentifiers"] = ([{"nameIdentifier": _orcid_url(person.orcid), "nameIdentifierScheme": "ORCID",
                                        "schemeUri": "https://orcid.org"}] if person.orcid else [])
        creators.append(creator)
    titles = []
    for code in card.languages:
        title: dict[str, Any] = {"title": localise(card.title, code), "lang": code}
        if code != lang:
            title["titleType"] = "TranslatedTitle"
        titles.append(title)
    titles.sort(key=lambda t: t["lang"] != lang)
    descriptions = [{"description": localise(card.description, code), "descriptionType": "Abstract", "lang": code}
                    for code in sorted(card.languages, key=lambda c: c != lang)]
    descriptions.append({"description": " ".join(licence_terms(card, "en")), "descriptionType": "Other",
                         "lang": "en"})
    subjects = [{"subject": word, "lang": code} for code in card.languages for word in card.keywords_in(code)]
    total = sum(int(digests[rel]["bytes"]) for rel in files)
    formats = sorted({file_format(rel)[1] for rel in files})
    return {
        "types": {"resourceTypeGeneral": "Dataset",
                  "resourceType": "Chest CT slices (PNG/JPEG)" if slices else "Chest CT studies (NIfTI-1)"},
        "titles": titles,
        "creators": creators,
        "publisher": {"name": localise(card.copyright_holder, lang), "lang": lang},
        "publicationYear": str(card.release_date.year),
        "subjects": subjects,
        "contributors": [{"name": localise(card.copyright_holder, lang), "nameType": "Organizational",
                          "contributorType": "RightsHolder"}],
        "dates": [{"date": card.release_date.isoformat(), "dateType": "Issued"}],
        "language": lang,
        "alternateIdentifiers": [{"alternateIdentifier": card.code,
                                  "alternateIdentifierType": "Local accession number"}],
        "sizes": ([plural(slices.cases, "case"), plural(slices.slices, "slice"),
                   f"{plural(slices.lesion_slices, 'slice')} with lesions", plural(len(files), "file"),
                   f"{total} bytes"] if slices else
                  [plural(len(rows), "study", "studies"), plural(masks, "mask"), plural(len(files), "file"),
                   f"{total} bytes"] + [f"{k}: {plural(v, 'study', 'studies')}" for k, v in per_category.items()]),
        "formats": formats,
        "version": card.version,
        "rightsList": [{"rights": licence["name"], "rightsUri": licence["url"], "rightsIdentifier": licence["id"],
                        "rightsIdentifierScheme": "SPDX", "schemeUri": "https://spdx.org/licenses/", "lang": "en"}],
        "descriptions": descriptions,
        "url": card.permanent_link,
        "schemaVersion": "http://datacite.org/schema/kernel-4",
    }


def zenodo(card: DatasetCard, rows: list[RegistryRow], slices: SlicesSummary | None = None) -> dict[str, Any]:
    """A Zenodo deposition ``metadata`` object (the body of ``{"metadata": ...}``, or ``.zenodo.json``)."""
    lang = _text_language(card)
    per_category, masks = _counts(card, rows)
    creators = []
    for person in card.contributors:
        creator: dict[str, Any] = {"name": localise(person.name, lang),
                                   "affiliation": "; ".join(n for n, _ in _affiliations(card, person, lang))}
        if person.orcid:
            creator["orcid"] = person.orcid
        creators.append(creator)
    paragraphs = [f"<p>{html.escape(localise(card.description, lang))}</p>"]
    paragraphs += [f'<p lang="{code}">{html.escape(localise(card.description, code))}</p>'
                   for code in card.languages if code != lang]
    counts = ", ".join(f"{html.escape(k)}: {v}" for k, v in per_category.items())
    if slices:
        paragraphs.append(f"<p>{plural(slices.cases, 'case')}, {plural(slices.slices, 'slice')} with label masks; "
                          f"{slices.lesion_slices} with lesions.</p>")
    else:
        paragraphs.append(f"<p>{plural(len(rows), 'study', 'studies')} ({counts}); {masks} with lesion masks.</p>")
    paragraphs.append("<p>" + html.escape(" ".join(licence_terms(card, "en"))) + "</p>")
    return {
        "upload_type": "dataset",
        "title": localise(card.title, lang),
        "creators": creators,
        "description": "\n".join(paragraphs),
        "access_right": "open",
        "license": card.licence.lower(),
        "keywords": list(dict.fromkeys(word for code in card.languages for word in card.keywords_in(code))),
        "version": card.version,
        "publication_date": card.release_date.isoformat(),
        "contributors": [{"name": localise(card.copyright_holder, lang), "type": "RightsHolder"}],
        "notes": f"Funding: {localise(card.funding, lang)}. Internal code: {card.code}.",
    }


# ----------------------------------------------------------------------------------------------- writer


def write_metadata(stage: Path, card: DatasetCard, rows: list[RegistryRow], files: list[str], *,
                   digests: Mapping[str, Mapping[str, str]] | None = None, jobs: int | None = None,
                   profile: Profile | None = None, slices: SlicesSummary | None = None) -> list[str]:
    """Write ``croissant.json``, ``datacite.json``, ``datapackage.json`` and ``zenodo.json`` into ``stage``.

    ``files`` are the release files to describe (POSIX, relative to ``stage``); the metadata files themselves
    are left out if listed. ``digests`` (``{path: {"sha256": hex, "bytes": "size", ...}}``, as
    :func:`hash_files` returns) saves hashing those files again; the others are hashed here.
    Returns the names written, sorted.
    """
    described = sorted(rel for rel in set(files) if rel not in METADATA_FILES)
    known = dict(digests or {})
    missing = [rel for rel in described if not {"sha256", "bytes"} <= set(known.get(rel, {}))]
    known.update(hash_files(stage, missing, jobs))
    digests = known
    outputs = {
        DATAPACKAGE: datapackage(card, rows, described, digests, profile),
        CROISSANT: croissant(card, rows, described, digests),
        DATACITE: datacite(card, rows, described, digests, slices),
        ZENODO: zenodo(card, rows, slices),
    }
    for name, data in outputs.items():
        (stage / name).write_text(_dump(data), encoding="utf-8", newline="\n")
    return sorted(outputs)
