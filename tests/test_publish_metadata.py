"""Platform metadata from the dataset card: the Dataverse citation block and the Hugging Face dataset card.

Shapes as the platforms document them: the Dataverse native API's create-dataset body
(https://guides.dataverse.org/en/latest/api/native-api.html#create-a-dataset-in-a-dataverse-collection,
dataset-finch1.json) and the Hub's dataset card metadata (https://huggingface.co/docs/hub/datasets-cards,
huggingface_hub's DatasetCard / DatasetCardData, which is the validation that runs offline).
"""

from __future__ import annotations

from typing import Any

import pytest
from huggingface_hub import DatasetCard as HubDatasetCard
from huggingface_hub import DatasetCardData

from curator.models.card import DatasetCard
from curator.publish.dataverse_metadata import SUBJECT, dataset_version, missing_for_dataverse
from curator.publish.hub_card import card_metadata, hub_card, size_category
from tests.factories import card_data, with_chinese

RELEASE_FILES = ["LICENSE", "README_EN.md", "README_RU.md", "SHA256SUMS", "dataset.yaml", "dataset_registry.csv",
                 "figures/categories_EN.png", "masks/study_0003_mask.nii.gz", "studies/CT-0/study_0001.nii.gz",
                 "studies/CT-1/study_0003.nii.gz"]


def _card(**overrides: Any) -> DatasetCard:
    return DatasetCard.model_validate(card_data(**overrides))


def _fields(version: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["typeName"]: f for f in version["datasetVersion"]["metadataBlocks"]["citation"]["fields"]}


def _values(field: dict[str, Any], child: str) -> list[str]:
    return [entry[child]["value"] for entry in field["value"]]


def test_dataverse_citation_block_has_the_documented_fields_from_the_card() -> None:
    card = _card(contributors=[
        {"name": {"en": "Doe, Jane", "ru": "Доу, Джейн"}, "affiliations": [1], "email": "jane@example.org",
         "orcid": "0000-0002-1825-0097"},
        {"name": {"en": "Roe, Richard", "ru": "Роу, Ричард"}, "affiliations": [1]}])
    fields = _fields(dataset_version(card))

    assert fields["title"] == {"typeName": "title", "multiple": False, "typeClass": "primitive",
                               "value": "Test chest CT"}
    assert fields["author"]["typeClass"] == "compound"
    assert _values(fields["author"], "authorName") == ["Doe, Jane", "Roe, Richard"]
    assert _values(fields["author"], "authorAffiliation") == ["Test Centre", "Test Centre"]
    assert fields["author"]["value"][0]["authorIdentifierScheme"]["value"] == "ORCID"
    assert fields["author"]["value"][0]["authorIdentifier"]["value"] == "https://orcid.org/0000-0002-1825-0097"
    assert "authorIdentifier" not in fields["author"]["value"][1]
    # only contributors with an email are contacts
    assert _values(fields["datasetContact"], "datasetContactEmail") == ["jane@example.org"]
    # a description per card language (primary first), then the licence's terms
    descriptions = _values(fields["dsDescription"], "dsDescriptionValue")
    assert descriptions[:2] == ["Test studies.", "Тестовые исследования."]
    assert "Non-commercial use only" in descriptions[2]
    assert fields["subject"] == {"typeName": "subject", "multiple": True, "typeClass": "controlledVocabulary",
                                 "value": [SUBJECT]}
    assert _values(fields["keyword"], "keywordValue") == ["CT", "КТ"]
    assert fields["language"]["value"] == ["English", "Russian"]
    assert fields["distributionDate"]["value"] == "2026-01-15"
    assert _values(fields["otherId"], "otherIdValue") == ["TEST_0008"]


def test_dataverse_draft_of_a_new_version_says_what_changed() -> None:
    changes = ["Version change: minor.", "Added: studies/CT-1/study_0009.nii.gz."]
    descriptions = _values(_fields(dataset_version(_card(), changes))["dsDescription"], "dsDescriptionValue")
    assert descriptions[-1] == ("Changes since the previous version: Version change: minor. "
                                "Added: studies/CT-1/study_0009.nii.gz.")
    assert len(descriptions) == len(_values(_fields(dataset_version(_card()))["dsDescription"],
                                            "dsDescriptionValue")) + 1


def test_dataverse_licence_is_the_cards_licence_by_name_and_uri() -> None:
    version = dataset_version(_card(licence="CC-BY-4.0"))["datasetVersion"]
    assert version["license"] == {"name": "CC BY 4.0", "uri": "https://creativecommons.org/licenses/by/4.0/"}


def test_dataverse_needs_a_contact_email() -> None:
    card = _card(contributors=[{"name": {"en": "Doe, Jane", "ru": "Доу, Джейн"}, "affiliations": [1]}])
    assert missing_for_dataverse(card) == [
        "Dataverse requires a dataset contact email: give at least one contributor an email in the card"]
    assert missing_for_dataverse(_card()) == []


def test_hub_card_passes_huggingface_hubs_own_card_validation_offline() -> None:
    card = _card()
    readme = "# Test chest CT\n\nTest studies.\n"
    text = hub_card(card, RELEASE_FILES, readme)

    parsed = HubDatasetCard(text, ignore_metadata_errors=False)   # raises on a front matter it does not accept
    front = card_metadata(card, RELEASE_FILES)
    assert parsed.data.to_dict() == front
    assert DatasetCardData(**front).to_dict() == front
    assert parsed.text.strip() == readme.strip()
    assert front["license"] == "cc-by-nc-nd-3.0"
    assert front["language"] == ["en", "ru"]
    assert front["pretty_name"] == "Test chest CT"
    assert front["size_categories"] == ["n<1K"]
    assert front["task_categories"] == ["image-classification", "image-segmentation"]


def test_hub_card_configs_follow_the_layout() -> None:
    configs = card_metadata(_card(), RELEASE_FILES)["configs"]
    assert configs == [
        {"config_name": "registry", "data_files": [{"split": "train", "path": "dataset_registry.csv"}],
         "default": True},
        {"config_name": "masks", "data_files": [{"split": "train", "path": "masks/**"}]},
        {"config_name": "studies", "data_files": [{"split": "train", "path": "studies/**"}]},
    ]


def test_hub_card_of_a_packed_release_lists_its_parts() -> None:
    files = ["LICENSE", "PARTS.tsv", "README_EN.md", "release-1.tar.gz", "release-2.tar.gz"]
    assert card_metadata(_card(), files)["configs"] == [
        {"config_name": "parts", "data_files": [{"split": "train", "path": ["release-1.tar.gz", "release-2.tar.gz"]}],
         "default": True}]


@pytest.mark.parametrize(("spdx", "hub"), [("CC-BY-NC-ND-4.0", "cc-by-nc-nd-4.0"), ("CC0-1.0", "cc0-1.0"),
                                           ("ODbL-1.0", "odbl"), ("CDLA-Permissive-2.0", "cdla-permissive-2.0")])
def test_hub_licence_is_the_hubs_identifier(spdx: str, hub: str) -> None:
    assert card_metadata(_card(licence=spdx), RELEASE_FILES)["license"] == hub


def test_a_licence_the_hub_does_not_list_is_other_with_name_and_link() -> None:
    front = card_metadata(_card(licence="LicenseRef-Centre-1.0"), RELEASE_FILES)
    assert (front["license"], front["license_name"]) == ("other", "licenseref-centre-1.0")
    assert front["license_link"] == "https://spdx.org/licenses/LicenseRef-Centre-1.0.html"


@pytest.mark.parametrize(("count", "bucket"), [(0, "n<1K"), (999, "n<1K"), (1_000, "1K<n<10K"),
                                               (99_999, "10K<n<100K"), (1_000_000, "1M<n<10M")])
def test_size_category_buckets(count: int, bucket: str) -> None:
    assert size_category(count) == bucket


def test_hub_card_of_a_trilingual_card_lists_every_language() -> None:
    card = DatasetCard.model_validate(with_chinese(card_data()))
    assert card_metadata(card, RELEASE_FILES)["language"] == ["en", "ru", "zh"]
    assert _fields(dataset_version(card))["language"]["value"] == ["English", "Russian", "Chinese"]
