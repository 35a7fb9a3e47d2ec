"""Croissant 1.1 JSON-LD (``croissant.json``) for a release; see :mod:`curator.release.metadata`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from curator.models.card import DatasetCard, Localised, localise
from curator.models.registry import RegistryRow
from curator.release.metadata_fields import (
    CROISSANT_1_1,
    NIFTI_FORMAT,
    REGISTRY_CSV,
    _affiliations,
    _citation,
    _counts,
    _display_name,
    _licence,
    _localised_map,
    _orcid_url,
    _split_name,
    _text_language,
    file_format,
    licence_terms,
)
from curator.wording import plural

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

