"""The Hugging Face dataset card of a release: ``README.md`` with YAML front matter, then the release README's text.

Everything comes from the dataset card and the release's file list (no second place). The front matter keys are
those of the Hub's dataset card metadata (https://huggingface.co/docs/hub/datasets-cards, the ``DatasetCardData``
of huggingface_hub): ``license`` (the Hub's licence identifiers, https://huggingface.co/docs/hub/repositories-licenses;
a licence the Hub does not list is ``other`` with ``license_name`` and ``license_link``), ``language``,
``size_categories`` (the Hub's buckets, from the number of data files), ``task_categories``, ``pretty_name``,
``tags`` and ``configs`` (https://huggingface.co/docs/hub/datasets-manual-configuration: ``config_name`` and
``data_files`` with ``split`` and ``path`` patterns, one config per part of the layout).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from curator.models.card import DatasetCard, localise
from curator.release.licence_facts import licence_facts
from curator.release.metadata_fields import REGISTRY_CSV, _text_language

__all__ = ["CARD_FILE", "HUB_LICENCES", "SIZE_CATEGORIES", "card_metadata", "hub_card", "size_category"]

CARD_FILE = "README.md"

# SPDX id -> the Hub's licence identifier, for the licences curator ships (templates/licences/licences.yaml)
HUB_LICENCES = {
    "CC-BY-3.0": "cc-by-3.0", "CC-BY-4.0": "cc-by-4.0", "CC-BY-NC-3.0": "cc-by-nc-3.0",
    "CC-BY-NC-4.0": "cc-by-nc-4.0", "CC-BY-NC-ND-3.0": "cc-by-nc-nd-3.0", "CC-BY-NC-ND-4.0": "cc-by-nc-nd-4.0",
    "CC-BY-NC-SA-3.0": "cc-by-nc-sa-3.0", "CC-BY-NC-SA-4.0": "cc-by-nc-sa-4.0", "CC-BY-SA-3.0": "cc-by-sa-3.0",
    "CC-BY-SA-4.0": "cc-by-sa-4.0", "CC-BY-ND-4.0": "cc-by-nd-4.0", "CC0-1.0": "cc0-1.0",
    "CDLA-Permissive-1.0": "cdla-permissive-1.0", "CDLA-Permissive-2.0": "cdla-permissive-2.0",
    "CDLA-Sharing-1.0": "cdla-sharing-1.0", "ODbL-1.0": "odbl", "PDDL-1.0": "pddl",
}

# the Hub's size buckets (DatasetCardData's documentation), upper bounds exclusive
SIZE_CATEGORIES = (
    (1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"),
)

# folders of a release that document it rather than hold its data
_DOCUMENT_FOLDERS = {"figures"}


def size_category(count: int) -> str:
    """The Hub's size bucket for ``count`` examples."""
    for bound, name in SIZE_CATEGORIES:
        if count < bound:
            return name
    return "n>1B"


def _data_files(files: Sequence[str]) -> list[str]:
    """The release's data: files in a folder other than the documentation's, and top-level archives (a packed
    release's parts)."""
    data = []
    for rel in files:
        top, slash, _ = rel.partition("/")
        if (slash and top not in _DOCUMENT_FOLDERS) or (not slash and rel.endswith((".zip", ".tar.gz", ".tar"))):
            data.append(rel)
    return data


def _configs(files: Sequence[str]) -> list[dict[str, Any]]:
    """One config per part of the layout: the registry (the default when there is one), then each top-level data
    folder (``<folder>/**``), then top-level archives (a packed release)."""
    configs: list[dict[str, Any]] = []
    if REGISTRY_CSV in files:
        configs.append({"config_name": "registry", "data_files": [{"split": "train", "path": REGISTRY_CSV}],
                        "default": True})
    data = _data_files(files)
    for folder in sorted({rel.split("/", 1)[0] for rel in data if "/" in rel}):
        configs.append({"config_name": folder, "data_files": [{"split": "train", "path": f"{folder}/**"}]})
    archives = sorted(rel for rel in data if "/" not in rel)
    if archives:
        configs.append({"config_name": "parts", "data_files": [{"split": "train", "path": archives}]})
    if configs and not any(c.get("default") for c in configs):
        configs[0]["default"] = True
    return configs


def _tasks(card: DatasetCard, files: Sequence[str]) -> list[str]:
    tasks = []
    if len(card.categories) > 1:
        tasks.append("image-classification")
    if card.label_scheme or card.annotation_classes or any(rel.split("/", 1)[0] in {"masks", "mask"}
                                                           for rel in files):
        tasks.append("image-segmentation")
    return tasks


def card_metadata(card: DatasetCard, files: Sequence[str]) -> dict[str, Any]:
    """The YAML front matter of the Hub card for a release holding ``files`` (POSIX paths from its root)."""
    lang = _text_language(card)
    licence = licence_facts(card)
    data: dict[str, Any] = {}
    hub = HUB_LICENCES.get(card.licence)
    if hub:
        data["license"] = hub
    else:
        data.update({"license": "other", "license_name": card.licence.lower(), "license_link": licence["url"]})
    data["language"] = list(card.languages)
    data["pretty_name"] = localise(card.title, lang)
    data["size_categories"] = [size_category(len(_data_files(files)))]
    tasks = _tasks(card, files)
    if tasks:
        data["task_categories"] = tasks
    tags = ["medical", "ct", *card.keywords_in(lang)]
    data["tags"] = list(dict.fromkeys(tag.lower() for tag in tags))
    configs = _configs(files)
    if configs:
        data["configs"] = configs
    return data


def hub_card(card: DatasetCard, files: Sequence[str], readme: str) -> str:
    """``README.md`` for the Hub: the front matter of :func:`card_metadata`, then ``readme`` (the release README
    in the card's primary language) as it stands."""
    front = yaml.safe_dump(card_metadata(card, files), allow_unicode=True, sort_keys=False, width=1000)
    return f"---\n{front}---\n\n{readme.lstrip()}"
