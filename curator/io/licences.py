"""Licence texts shipped with curator (templates/licences/<SPDX>.txt) and their metadata (licences.yaml):
read for the LICENSE a build writes, the README and metadata it renders, and fingerprinting."""

from __future__ import annotations

import re
from dataclasses import dataclass
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


@dataclass(frozen=True)
class LicenceText:
    """One known licence's text found in a file: ``coverage`` is the share of that licence's text present."""

    spdx: str
    coverage: float


MIN_SHINGLES = 40     # a licence counts as present with at least this many of its word 5-grams ...
MIN_SHARE = 0.15      # ... making up this share of what it has beyond the licences already found


def licence_texts(text: str) -> list[LicenceText]:
    """Every known licence whose text is in ``text``, the most of it first.

    The CC licences share most of their wording, so one full text resembles its siblings: each further licence
    is counted only by the 5-grams that no licence found before it explains (the MosMed LICENSE: all of
    CC BY-NC-ND 3.0, then the 64% of CC BY 4.0 in front of it, and no third).
    """
    found = fingerprint(text)
    known = known_fingerprints()
    explained: frozenset[int] = frozenset()
    texts: list[LicenceText] = []
    while len(texts) < len(known):
        fresh = {spdx: len((found & shingles) - explained) for spdx, shingles in known.items()
                 if spdx not in {t.spdx for t in texts}}
        spdx = max(sorted(fresh), key=lambda s: fresh[s])
        own = known[spdx] - explained
        if fresh[spdx] < MIN_SHINGLES or not own or fresh[spdx] / len(own) < MIN_SHARE:
            break
        texts.append(LicenceText(spdx=spdx, coverage=similarity(found, known[spdx])))
        explained |= found & known[spdx]
    return texts


_CC_URL = re.compile(r"creativecommons\.org/(?:licenses|publicdomain)/([a-z-]+)/(\d\.\d)", re.I)
_CC_SHORT = re.compile(r"\bCC[ -](BY(?:[ -](?:NC|ND|SA))*)[ -](\d\.\d)\b|\bCC0[ -]?(1\.0)\b", re.I)


def licences_named(text: str) -> dict[str, str]:
    """The known licences a document links or names (Creative Commons deed URLs, short names such as
    "CC BY-NC-ND 3.0" or "CC-BY-4.0", full names, other licences' URLs): SPDX id -> the first words naming it."""
    table = licence_table()
    by_url = {str(info.get("url", "")).split("://", 1)[-1].rstrip("/").casefold(): spdx
              for spdx, info in table.items() if info.get("url")}
    named: dict[str, tuple[int, str]] = {}

    def note(spdx: str, start: int, words: str) -> None:
        if spdx in table and (spdx not in named or start < named[spdx][0]):
            named[spdx] = (start, words)

    for match in _CC_URL.finditer(text):
        kind, version = match.group(1).lower(), match.group(2)
        spdx = "CC0-1.0" if kind == "zero" else f"CC-{kind.upper()}-{version}"
        note(spdx, match.start(), match.group(0))
    for match in _CC_SHORT.finditer(text):
        if match.group(3):
            note("CC0-1.0", match.start(), match.group(0))
        else:
            parts = re.split(r"[ -]", match.group(1).upper())
            note(f"CC-{'-'.join(parts)}-{match.group(2)}", match.start(), match.group(0))
    folded = text.casefold()
    for url, spdx in by_url.items():
        if not url.startswith("creativecommons.org") and (start := folded.find(url)) >= 0:
            note(spdx, start, url)
    for spdx, info in table.items():
        name = str(info.get("name", ""))
        if name and (start := folded.find(name.casefold())) >= 0:
            note(spdx, start, name)
    return {spdx: words for spdx, (_, words) in sorted(named.items(), key=lambda item: item[1][0])}
