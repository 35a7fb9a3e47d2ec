"""The Dataverse citation block of a release, from its dataset card and no second place.

The shape is the native API's "create a dataset in a Dataverse collection" body
(https://guides.dataverse.org/en/latest/api/native-api.html#create-a-dataset-in-a-dataverse-collection and its
example ``dataset-finch1.json``): ``{"datasetVersion": {"license": {...}, "metadataBlocks": {"citation":
{"fields": [...]}}}}``, each field ``{"typeName", "multiple", "typeClass", "value"}``; a compound field's value is a
list of ``{child typeName: field}`` mappings. The licence is the Dataverse 5.10+ ``license`` object (name and URI,
as the installation lists it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from curator.models.card import DatasetCard, localise
from curator.release.licence_facts import licence_facts
from curator.release.metadata_fields import _affiliations, _orcid_url, _text_language, licence_terms

__all__ = ["SUBJECT", "citation_block", "dataset_version", "missing_for_dataverse"]

# the citation block's controlled vocabulary for subject: CT imaging is this one
SUBJECT = "Medicine, Health and Life Sciences"

# ISO 639-1 -> the citation block's ``language`` vocabulary (the languages cards declare so far)
_LANGUAGES = {"en": "English", "ru": "Russian", "zh": "Chinese", "de": "German", "fr": "French", "es": "Spanish"}


def _primitive(type_name: str, value: Any, multiple: bool = False) -> dict[str, Any]:
    return {"typeName": type_name, "multiple": multiple, "typeClass": "primitive", "value": value}


def _compound(type_name: str, values: list[dict[str, Any]]) -> dict[str, Any]:
    return {"typeName": type_name, "multiple": True, "typeClass": "compound", "value": values}


def _vocabulary(type_name: str, values: list[str]) -> dict[str, Any]:
    return {"typeName": type_name, "multiple": True, "typeClass": "controlledVocabulary", "value": values}


def _entry(**children: Any) -> dict[str, Any]:
    """One value of a compound field: each child a primitive named by its key (``None`` children left out)."""
    return {name: _primitive(name, value) for name, value in children.items() if value is not None}


def missing_for_dataverse(card: DatasetCard) -> list[str]:
    """What Dataverse requires that the card does not give (each as a sentence); empty when the card suffices."""
    if not any(person.email for person in card.contributors):
        return ["Dataverse requires a dataset contact email: give at least one contributor an email in the card"]
    return []


def citation_block(card: DatasetCard, changes: Sequence[str] = ()) -> dict[str, Any]:
    """The ``citation`` metadata block: title, authors with affiliations (and ORCID), contacts, a description per
    card language, subject, keywords, languages, distribution date and the release's own code. ``changes`` (what
    ``curator diff`` says changed since the previous version) becomes one more description: the citation block
    has no field of its own for it."""
    lang = _text_language(card)
    authors = []
    for person in card.contributors:
        affiliation = "; ".join(name for name, _ in _affiliations(card, person, lang))
        authors.append(_entry(authorName=localise(person.name, lang), authorAffiliation=affiliation,
                              authorIdentifierScheme="ORCID" if person.orcid else None,
                              authorIdentifier=_orcid_url(person.orcid)))
    contacts = [_entry(datasetContactName=localise(person.name, lang),
                       datasetContactAffiliation="; ".join(n for n, _ in _affiliations(card, person, lang)),
                       datasetContactEmail=person.email)
                for person in card.contributors if person.email]
    descriptions = [_entry(dsDescriptionValue=localise(card.description, code))
                    for code in sorted(card.languages, key=lambda c: c != lang)]
    terms = " ".join(licence_terms(card, lang))
    if terms:
        descriptions.append(_entry(dsDescriptionValue=terms))
    if changes:
        descriptions.append(_entry(dsDescriptionValue="Changes since the previous version: " + " ".join(changes)))
    keywords = list(dict.fromkeys(word for code in card.languages for word in card.keywords_in(code)))
    fields = [
        _primitive("title", localise(card.title, lang)),
        _compound("author", authors),
        _compound("datasetContact", contacts),
        _compound("dsDescription", descriptions),
        _vocabulary("subject", [SUBJECT]),
        _compound("keyword", [_entry(keywordValue=word) for word in keywords]),
    ]
    languages = [_LANGUAGES[code] for code in card.languages if code in _LANGUAGES]
    if languages:
        fields.append(_vocabulary("language", languages))
    fields += [
        _compound("otherId", [_entry(otherIdAgency=localise(card.copyright_holder, lang), otherIdValue=card.code)]),
        _compound("producer", [_entry(producerName=localise(card.copyright_holder, lang))]),
        _primitive("distributionDate", card.release_date.isoformat()),
        _compound("grantNumber", [_entry(grantNumberAgency=localise(card.funding, lang))]),
    ]
    return {"displayName": "Citation Metadata", "fields": fields}


def dataset_version(card: DatasetCard, changes: Sequence[str] = ()) -> dict[str, Any]:
    """The body of a create-dataset request (``{"datasetVersion": ...}``), also the body of a draft's
    ``PUT .../versions/:draft`` without the outer key."""
    licence = licence_facts(card)
    return {"datasetVersion": {
        "license": {"name": licence["short"], "uri": licence["url"]},
        "metadataBlocks": {"citation": citation_block(card, changes)},
    }}
