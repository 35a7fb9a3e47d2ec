"""The declared licence as the release's texts use it: one dict for the READMEs and the metadata files, so that
a README and a metadata record cannot name the same licence with different names, links or terms."""

from __future__ import annotations

from typing import Any

from curator.io.licences import licence_table
from curator.models.card import DatasetCard

__all__ = ["licence_facts"]


def licence_facts(card: DatasetCard, lang: str = "en") -> dict[str, Any]:
    """id, name (in ``lang`` where licences.yaml has a ``name_<lang>``, else the English one), short, url (for a
    licence outside licences.yaml: its SPDX page) and the four permissions of the card's licence."""
    info = licence_table().get(card.licence, {})
    name = info.get("name", card.licence)
    return {
        "id": card.licence,
        "name": info.get(f"name_{lang}", name),
        "short": info.get("short", card.licence),
        "url": info.get("url", f"https://spdx.org/licenses/{card.licence}.html"),
        "commercial": bool(info.get("commercial", False)),
        "derivatives": bool(info.get("derivatives", False)),
        "share_alike": bool(info.get("share_alike", False)),
        "attribution": bool(info.get("attribution", True)),
    }
