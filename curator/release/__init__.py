"""``curator build SOURCE OUT``: a source folder (dataset card + studies table + NIfTI files) -> a release.

Everything is written into a temporary folder beside OUT, validated, and only then renamed into place, so a
failed build leaves nothing half-written. The source is only ever read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from curator.anonymise.gzip_copy import GzipHeaderError
from curator.anonymise.nifti import NiftiAnonymiseError
from curator.checks.names import name_problems
from curator.errors import BuildError, ExitCode
from curator.models.card import DatasetCard
from curator.models.findings import Report
from curator.models.profile import Profile
from curator.models.records import SourceStudy
from curator.profiles import get_profile
from curator.release.bagit import write_bag
from curator.release.figures_and_pdfs import pdf_names, write_figures
from curator.release.finishing import check_out, finish_release, write_validated
from curator.release.plan import PlannedStudy, plan_release
from curator.release.readme import (
    TemplateMissingError,
    readme_name,
    render_readme,
)
from curator.release.registry import sheet_name, write_registry
from curator.release.slices_release import build_slices, is_slices_source
from curator.release.source_problems import (
    CARD_NAME,
    STUDIES_NAME,
    SourceProblemsError,
    place_volumes,
    read_source,
    stage_problems,
)
from curator.release.stats import release_stats

__all__ = ["BuildError", "BuildResult", "SourceProblemsError", "build"]


@dataclass
class BuildResult:
    out: Path
    studies: int
    masks: int
    files: int
    bytes: int
    report: Report
    per_category: dict[str, int] = field(default_factory=dict)


METADATA_FILES = ["datapackage.json", "croissant.json", "datacite.json", "zenodo.json"]
VERIFY_KIT = ["verify.sh", "verify.ps1"]


def _write_release(stage: Path, source: Path, card: DatasetCard, profile: Profile,
                   planned: list[PlannedStudy], studies: list[SourceStudy], jobs: int | None,
                   xxh128: bool) -> None:
    place_volumes(stage, source, planned, profile.name)   # every volume it refuses, at once (SourceProblemsError)
    spec = profile.registry
    assert spec is not None, "the builder writes registry-based profiles only"
    write_registry(stage, spec.path, spec.csv, [p.registry_row() for p in planned],
                   sheet_name(card.short_name, card.code), card.release_date)
    stats = release_stats(studies, [c.id for c in card.categories])
    figure_names = write_figures(stage, [(p.source.category, p.study_path, p.mask_path) for p in planned],
                                 studies, stats, card.languages)
    files = {
        "registry": spec.path,
        "registry_csv": spec.csv,
        "licence": "LICENSE",
        "readmes": [readme_name(lang) for lang in card.languages],
        "pdfs": pdf_names(card.languages),
        "figures": figure_names,
        "manifests": ["SHA256SUMS", "MD5SUMS", *(["XXH128SUMS"] if xxh128 else [])],
        "studies_dir": "studies",
        "masks_dir": "masks",
        "study_name": "study_BBBB.nii.gz",
        "mask_name": "study_BBBB_mask.nii.gz",
        "extra": [CARD_NAME, *METADATA_FILES, *VERIFY_KIT],
    }
    for lang in card.languages:
        (stage / readme_name(lang)).write_text(render_readme(card, lang, stats, files), encoding="utf-8",
                                               newline="\n")
    finish_release(stage, card, [p.registry_row() for p in planned], profile=profile, jobs=jobs, xxh128=xxh128)


def _build_slices(source: Path, out: Path, *, force: bool, jobs: int | None, xxh128: bool,
                  bag: Path | str | None) -> BuildResult:
    built, slices, report = build_slices(source, Path(out), force=force, jobs=jobs, xxh128=xxh128)
    if bag is not None:
        write_bag(built, Path(bag))
    return BuildResult(out=built, studies=slices, masks=slices, files=report.stats.files, bytes=report.stats.bytes,
                       report=report)


def build(source: Path | str, out: Path | str, *, force: bool = False, jobs: int | None = None,
          profile_name: str = "mosmed", xxh128: bool = False, bag: Path | str | None = None) -> BuildResult:
    """Build the release; ``xxh128`` adds a tagged XXH128SUMS, ``bag`` also writes a BagIt bag of it there.
    A slices tree (image/ + mask/, no studies.csv, or profile ``slices``) is built by release.slices_release."""
    if Path(source).is_dir() and is_slices_source(Path(source), profile_name):   # the one place they part
        return _build_slices(Path(source), Path(out), force=force, jobs=jobs, xxh128=xxh128, bag=bag)
    return _build_studies(Path(source), Path(out), force=force, jobs=jobs, profile_name=profile_name, xxh128=xxh128,
                          bag=bag)


def _build_studies(source: Path | str, out: Path | str, *, force: bool = False, jobs: int | None = None,
                   profile_name: str = "mosmed", xxh128: bool = False,
                   bag: Path | str | None = None) -> BuildResult:
    """The MosMed build: dataset.yaml + studies.csv + NIfTI files."""
    source, out = Path(source), Path(out)
    if not source.is_dir():
        raise BuildError(f"source {source} is not a folder (it should hold {CARD_NAME} and {STUDIES_NAME})",
                         ExitCode.USAGE)
    # every problem of the card (configuration, exit 2), studies.csv and the files it lists (data, exit 1) is told
    # in one run, as findings (SourceProblemsError)
    profile = get_profile(profile_name)
    card, table = read_source(source, profile)
    studies = [study for _, study in table]
    planned = plan_release(card, profile, studies)
    bad_names = [f"{p}: {r}" for item in planned for p in filter(None, (item.study_path, item.mask_path))
                 for r in name_problems(p)]
    if bad_names:
        raise BuildError("release names break the portable-name policy", ExitCode.USAGE, bad_names)

    out = check_out(source, out)

    def write(stage: Path) -> None:
        try:
            _write_release(stage, source, card, profile, planned, studies, jobs, xxh128)
        except (TemplateMissingError, GzipHeaderError, NiftiAnonymiseError) as error:
            raise BuildError(f"writing the release failed: {error}", ExitCode.INVALID) from error

    report = write_validated(out, write, force=force, profile=profile.name, jobs=jobs,
                             refuse=lambda report: stage_problems(source, report, planned))
    if bag is not None:
        write_bag(out, Path(bag))
    return BuildResult(out=out, studies=len(planned), masks=sum(1 for p in planned if p.mask_path),
                       files=report.stats.files, bytes=report.stats.bytes, report=report,
                       per_category=release_stats(studies, [c.id for c in card.categories])["per_category"])

