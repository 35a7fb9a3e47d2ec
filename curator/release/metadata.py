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
import json
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from curator.executor import run_tasks
from curator.io.hashing import hash_file
from curator.io.licences import licence_table
from curator.models.card import Contributor, DatasetCard, Localised, localise
from curator.models.profile import Profile
from curator.models.registry import REGISTRY_COLUMNS, RegistryRow
from curator.release.licence_facts import licence_facts
from curator.wording import plural

__all__ = [
    "METADATA_FILES",
    "croissant",
    "datacite",
    "datapackage",
    "file_format",
    "hash_files",
    "write_metadata",
    "zenodo",
]

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

# the Croissant 1.1 @context (as the spec's examples and mlcroissant write it); "@language" is set per card
_CROISSANT_CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "description": {"@container": "@language"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "name": {"@container": "@language"},
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

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
    info = _licence(card)
    name = licence_table().get(card.licence, {}).get(f"name_{lang}", info["name"])
    terms = [words["licence"].format(**{**info, "name": name})]
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


# ---------------------------------------------------------------------------------------- croissant.json


def croissant(card: DatasetCard, rows: list[RegistryRow], files: list[str],
              digests: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """Croissant 1.1 JSON-LD of the release."""
    lang = _text_language(card)
    licence = _licence(card)
    per_category, masks = _counts(card, rows)
    context = dict(_CROISSANT_CONTEXT, **{"@language": lang})

    def in_all_languages(value: Localised, extra: dict[str, list[str]] | None = None) -> str | dict[str, str]:
        texts = _localised_map(card, value)
        for code, sentences in (extra or {}).items():
            if code in texts and sentences:
                texts[code] = texts[code] + "\n\n" + " ".join(sentences)
        return texts[lang] if len(texts) == 1 else texts

    creators = []
    for person in card.contributors:
        name = localise(person.name, lang)
        given, family = _split_name(name)
        creator: dict[str, Any] = {"@type": "sc:Person", "name": _display_name(name), "givenName": given,
                                   "familyName": family}
        if person.email:
            creator["email"] = person.email
        if person.orcid:
            creator["url"] = _orcid_url(person.orcid)
            creator["identifier"] = _orcid_url(person.orcid)
        creator["affiliation"] = [_organisation(name_, ror) for name_, ror in _affiliations(card, person, lang)]
        creators.append(creator)

    distribution: list[dict[str, Any]] = []
    for rel in sorted(files):
        _, _, encoding = file_format(rel)
        distribution.append({
            "@type": "cr:FileObject",
            "@id": rel,
            "name": rel,
            "contentUrl": rel,
            "contentSize": f"{digests[rel]['bytes']} B",
            "encodingFormat": encoding,
            "sha256": digests[rel]["sha256"],
        })
    if any(rel.startswith("studies/") for rel in files):
        distribution.append({"@type": "cr:FileSet", "@id": "studies", "name": "studies",
                             "description": "The CT studies, one gzip-compressed NIfTI-1 volume each, in a "
                                            "folder per category.",
                             "encodingFormat": NIFTI_FORMAT, "includes": "studies/*/*.nii.gz"})
    if any(rel.startswith("masks/") for rel in files):
        distribution.append({"@type": "cr:FileSet", "@id": "masks", "name": "masks",
                             "description": "Binary lesion masks (gzip-compressed NIfTI-1) on their studies' grids.",
                             "encodingFormat": NIFTI_FORMAT, "includes": "masks/*.nii.gz"})

    record_sets = [_category_record_set(card, lang)]
    if REGISTRY_CSV in files:
        record_sets.append(_registry_record_set())

    categories = "; ".join(f"{c.id} ({localise(c.label, lang)}): {localise(c.description, lang).rstrip('.')}"
                           for c in card.categories)
    counts = ", ".join(f"{k} {v}" for k, v in per_category.items())
    collection = (f"{plural(len(rows), 'chest CT study', 'chest CT studies')} ({counts}), {masks} of them with a "
                  "lesion mask, released by "
                  f"{localise(card.copyright_holder, lang)}. Categories: {categories}.")
    preprocessing = [localise(step.text, lang) + (f" {step.code}" if step.code else "")
                     for step in card.preprocessing]
    annotation = localise(card.annotation_principles, lang) if card.annotation_principles else None
    limitations = [*licence_terms(card, "en" if lang == "en" else lang),
                   f"Studies per category: {counts}; lesion masks exist for {masks} of "
                   f"{plural(len(rows), 'study', 'studies')}."]

    data: dict[str, Any] = {
        "@context": context,
        "@type": "sc:Dataset",
        "conformsTo": CROISSANT_1_1,
        "name": in_all_languages(card.title),
        "alternateName": [card.code, card.short_name],
        "description": in_all_languages(card.description, {code: licence_terms(card, code)
                                                           for code in card.languages}),
        "url": card.permanent_link,
        "version": card.version,
        "datePublished": card.release_date.isoformat(),
        "license": licence["url"],
        "creator": creators,
        "publisher": _organisation(localise(card.copyright_holder, lang), None),
        "copyrightHolder": _organisation(localise(card.copyright_holder, lang), None),
        "copyrightYear": card.copyright_year,
        "citeAs": _citation(card),
        "keywords": card.keywords_in(lang),
        "inLanguage": list(card.languages),
        "isAccessibleForFree": True,
        "rai:dataCollection": collection,
        "rai:dataPreprocessingProtocol": preprocessing,
        "rai:dataAnnotationProtocol": annotation,
        "rai:personalSensitiveInformation": (
            "The studies are anonymised (de-identified) chest CT volumes stored as NIfTI-1, a format without the "
            "DICOM patient and study modules. Files are named by study id only, and the gzip headers carry no "
            "original file names or times. The registry lists study ids, categories and file paths; it holds no "
            "names, dates of birth, dates of examination or other direct identifiers. Sex and age appear only as "
            "aggregate statistics in the README. Health data: use it under the licence and your institution's "
            "rules for research on anonymised medical images."),
        "rai:dataUseCases": [localise(item, lang) for item in card.intended_use],
        "rai:dataLimitations": limitations,
        "rai:dataReleaseMaintenancePlan": (
            f"Released as version {card.version} on {card.release_date.isoformat()}; versions follow Semantic "
            "Versioning and every release ships SHA256SUMS and MD5SUMS of its files."),
        "distribution": distribution,
        "recordSet": record_sets,
    }
    return {key: value for key, value in data.items() if value not in (None, [], "")}


def _organisation(name: str, ror: str | None) -> dict[str, Any]:
    organisation: dict[str, Any] = {"@type": "sc:Organization", "name": name}
    if ror:
        organisation["identifier"] = ror
    return organisation


def _category_record_set(card: DatasetCard, lang: str) -> dict[str, Any]:
    fields = [("id", "Category id, the folder name under studies/"), ("label", "Short name of the category"),
              ("description", "What the category means")]
    return {
        "@type": "cr:RecordSet",
        "@id": "categories",
        "name": "categories",
        "description": "The study categories.",
        "dataType": "sc:Enumeration",
        "key": {"@id": "categories/id"},
        "field": [{"@type": "cr:Field", "@id": f"categories/{name}", "name": name, "description": text,
                   "dataType": "sc:Text"} for name, text in fields],
        "data": [{"categories/id": c.id, "categories/label": localise(c.label, lang),
                  "categories/description": localise(c.description, lang)} for c in card.categories],
    }


def _registry_record_set() -> dict[str, Any]:
    columns = [
        ("study_id", "sc:Integer", "Number of the study, unique in the release."),
        ("category", "sc:Text", "Category of the study (see the categories record set)."),
        ("study_file", "sc:Text", "Path of the study from the release root, starting with '/'."),
        ("mask_file", "sc:Text", "Path of the lesion mask from the release root; empty when there is none."),
    ]
    fields = []
    for name, data_type, text in columns:
        field: dict[str, Any] = {
            "@type": "cr:Field",
            "@id": f"registry/{name}",
            "name": name,
            "description": text,
            "dataType": data_type,
            "source": {"fileObject": {"@id": REGISTRY_CSV}, "extract": {"column": name}},
        }
        if name == "category":
            field["references"] = {"field": {"@id": "categories/id"}}
        fields.append(field)
    return {
        "@type": "cr:RecordSet",
        "@id": "registry",
        "name": "registry",
        "description": "The study registry (dataset_registry.csv): one record per study.",
        "key": {"@id": "registry/study_id"},
        "field": fields,
    }


# ----------------------------------------------------------------------------------- DataCite and Zenodo


def datacite(card: DatasetCard, rows: list[RegistryRow], files: list[str],
             digests: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """The ``attributes`` of a DataCite REST API request (Metadata Schema 4.x) without ``doi``/``prefix``."""
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
        "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Chest CT studies (NIfTI-1)"},
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
        "sizes": [plural(len(rows), "study", "studies"), plural(masks, "mask"), plural(len(files), "file"),
                  f"{total} bytes"] + [f"{k}: {plural(v, 'study', 'studies')}" for k, v in per_category.items()],
        "formats": formats,
        "version": card.version,
        "rightsList": [{"rights": licence["name"], "rightsUri": licence["url"], "rightsIdentifier": licence["id"],
                        "rightsIdentifierScheme": "SPDX", "schemeUri": "https://spdx.org/licenses/", "lang": "en"}],
        "descriptions": descriptions,
        "url": card.permanent_link,
        "schemaVersion": "http://datacite.org/schema/kernel-4",
    }


def zenodo(card: DatasetCard, rows: list[RegistryRow]) -> dict[str, Any]:
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
                   profile: Profile | None = None) -> list[str]:
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
        DATACITE: datacite(card, rows, described, digests),
        ZENODO: zenodo(card, rows),
    }
    for name, data in outputs.items():
        (stage / name).write_text(_dump(data), encoding="utf-8", newline="\n")
    return sorted(outputs)
