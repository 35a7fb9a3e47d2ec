"""Licence texts shipped with curator (templates/licences/<SPDX>.txt) and their metadata (licences.yaml):
read for the LICENSE a build writes, the README and metadata it renders, and fingerprinting."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from curator.resources import templates_dir

_WORD = re.compile(r"[a-z0-9]+")
SHINGLE = 5  # words per shingle: long enough to tell NC-ND from NC-SA, short enough to survive reflowing


def fingerprint(text: str) -> frozenset[int]:
    """Hashes of the overlapping word 5-grams of a text, case, punctuation and layout ignored."""
    words = _WORD.findall(text.lower())
    return frozenset(hash(tuple(words[i : i + SHINGLE])) for i in range(max(len(words) - SHINGLE + 1, 1)))


@cache
def licence_table() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = yaml.safe_load(
        (templates_dir() / "licences" / "licences.yaml").read_text(encoding="utf-8"))
    return data


def licence_text_path(spdx: str) -> Path:
    return templates_dir() / "licences" / f"{spdx}.txt"


def known_licences() -> list[str]:
    return sorted(p.stem for p in (templates_dir() / "licences").glob("*.txt") if p.stem != "PROVENANCE")


@cache
def known_fingerprints() -> dict[str, frozenset[int]]:
    folder = templates_dir() / "licences"
    return {path.stem: fingerprint(path.read_text(encoding="utf-8"))
            for path in sorted(folder.glob("*.txt")) if path.stem != "PROVENANCE"}


def similarity(a: frozenset[int], b: frozenset[int]) -> float:
    """Share of ``b``'s shingles found in ``a`` (how much of licence ``b`` the text ``a`` contains)."""
    return len(a & b) / len(b) if b else 0.0
