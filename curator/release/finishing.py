"""What every release kind shares once its own files are planned, one home for both builds (MosMed studies in
release/__init__.py, slices trees in release/slices_release.py):

- the checks on OUT (a link, inside the source, holding the source) and the staged write under OUT's lock, whose
  output-side errors name the place (exit 3), validated with ``--deep`` before it replaces OUT;
- the closing files, in the order their hashes depend on: the README PDFs, LICENSE, the card, the verify kit, the
  metadata (which lists every other file's hash), XXH128SUMS on request, and the manifests last.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import yaml

from curator.errors import BuildError, ExitCode
from curator.io.licences import licence_text_path
from curator.models.card import DatasetCard, localise
from curator.models.findings import Report
from curator.models.profile import Profile
from curator.models.registry import RegistryRow
from curator.outputs import contains, lock, output_error, staged
from curator.release.figures_and_pdfs import write_pdfs
from curator.release.manifests import release_files, write_manifests
from curator.release.metadata import SlicesSummary, hash_files, write_metadata
from curator.release.source_problems import CARD_NAME
from curator.release.verifykit import write_verify_kit, write_xxh128sums
from curator.validate import ValidateOptions, validate

__all__ = ["check_out", "finish_release", "write_validated"]


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


def check_out(source: Path, out: Path) -> Path:
    """OUT as an absolute path, refused (exit 2) when it is a link, lies inside the source or holds it."""
    out = out.absolute()
    if out.is_symlink():
        raise BuildError(f"{out} is a symbolic link; pass the folder it points to", ExitCode.USAGE)
    if contains(source, out):
        raise BuildError(f"the release folder {out} must not be inside the source {source}", ExitCode.USAGE)
    if contains(out, source):
        raise BuildError(f"the source {source} lies inside the release folder {out}; replacing that folder "
                         "would delete the source", ExitCode.USAGE)
    return out


def write_validated(out: Path, write: Callable[[Path], None], *, force: bool, profile: str, jobs: int | None,
                    refuse: Callable[[Report], Exception]) -> Report:
    """``write`` the release into a staging folder under OUT's lock, validate it as ``validate --deep`` does (every
    payload read: labels, HU, streams, trailing bytes) and let it replace OUT only when valid; else raise
    ``refuse(report)`` and nothing is written. An OSError is the output's (exit 3, naming the place) or the
    source's (exit 1)."""
    with lock(out):
        if out.exists() and not force and (not out.is_dir() or any(out.iterdir())):
            raise BuildError(f"{out} already exists and is not empty; choose another folder or pass --force",
                             ExitCode.USAGE)
        with staged(out, replace=force) as stage:
            try:
                write(stage.root)
            except OSError as error:
                found = output_error(error, [out])
                if found is not None:
                    raise found from error
                raise BuildError(f"writing the release failed: {error}", ExitCode.INVALID) from error
            report = validate(stage.root, ValidateOptions(profile=profile, jobs=jobs, deep=True))
            if not report.valid:
                raise refuse(report)
    return report.model_copy(update={"root": str(out)})
