"""The files every release kind ends with, in the order their hashes depend on: the README PDFs, LICENSE, the card,
the verify kit, the metadata (which lists every other file's hash), XXH128SUMS on request, and the manifests last.
One home for both builds (MosMed studies in release/__init__.py, slices trees in release/slices_release.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from curator.io.licences import licence_text_path
from curator.models.card import DatasetCard, localise
from curator.models.profile import Profile
from curator.models.registry import RegistryRow
from curator.release.figures_and_pdfs import write_pdfs
from curator.release.manifests import release_files, write_manifests
from curator.release.metadata import SlicesSummary, hash_files, write_metadata
from curator.release.source_problems import CARD_NAME
from curator.release.verifykit import write_verify_kit, write_xxh128sums

__all__ = ["finish_release"]


def finish_release(stage: Path, card: DatasetCard, rows: list[RegistryRow], *, profile: Profile, jobs: int | None,
                   xxh128: bool, slices: SlicesSummary | None = None) -> None:
    """Write the closing files into ``stage``, whose READMEs (Markdown), data and registry are already there."""
    write_pdfs(stage, card.languages, card.release_date, {lang: localise(card.title, lang) for lang in card.languages})
    shutil.copyfile(licence_text_path(card.licence), stage / "LICENSE")
    card_data = card.model_dump(mode="json", exclude_none=True)
    (stage / CARD_NAME).write_text(yaml.safe_dump(card_data, allow_unicode=True, sort_keys=False),
                                   encoding="utf-8", newline="\n")
    # the verify kit and the metadata are listed in the manifests; the metadata lists every other file's hash
    write_verify_kit(stage)
    digests = hash_files(stage, release_files(stage), jobs, ("sha256", "md5", "xxh128"))
    write_metadata(stage, card, rows, release_files(stage), digests=digests, jobs=jobs, profile=profile,
                   slices=slices)
    if xxh128:
        write_xxh128sums(stage, release_files(stage), digests={p: d["xxh128"] for p, d in digests.items()},
                         jobs=jobs)
    write_manifests(stage, jobs, known=digests)  # only the metadata files written since are read again
