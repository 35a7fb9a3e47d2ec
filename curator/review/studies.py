"""What the review page shows a card for: the release's studies, and the findings that belong to each.

Studies come from the registry (its rows, in order) plus any study file on disk the registry does not list, or
from the file names when there is no readable registry. A path is drawn only when it is a regular file of the
release's inventory (links are never followed, a registry path cannot lead outside the root).

The two layouts without NIfTI studies get cards too:

* ``dicom``: one card per patient folder (the profile's study unit: Harvard's COVID19-CT-dataset has one folder
  per patient), drawn from its largest CT series; one card per series would repeat near-identical pictures of one
  chest for every reconstruction (lung and soft-tissue kernels, thin and thick slices) and bury the patients.
* ``slices``: one card per case folder (``image/<case>``), a few slices with their label masks.

A finding links to (and counts for) the card whose patient or case folder holds its path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from curator.io.facts import Facts
from curator.io.inventory import walk
from curator.io.junk import is_junk_path
from curator.models.findings import Report
from curator.models.profile import Profile
from curator.validate import read_registries

__all__ = ["ReviewStudy", "find_studies", "finding_counts", "folder_search", "layout", "within"]

T = TypeVar("T")


def within(path: str, folders: Mapping[str, T]) -> T | None:
    """The value of the deepest of ``folders`` that is ``path`` or holds it, else None."""
    while path:
        if path in folders:
            return folders[path]
        path = path.rpartition("/")[0]
    return None


@dataclass(frozen=True)
class ReviewStudy:
    """A study as the registry (or the file names) give it, and whether its files are there to draw."""

    study_id: int | None
    study_path: str
    mask_path: str | None
    category: str | None
    study_present: bool
    mask_present: bool
    problem: str | None = None    # why the study cannot be drawn
    kind: str = "nifti"           # "nifti" study volume, "dicom" patient folder, "slices" 2D case
    name: str | None = None       # dicom: the patient folder; slices: the case (<n> or <label>/<patient>/<scan>)
    files: tuple[str, ...] = ()   # dicom: every file of the patient folder; slices: the case's images in order
    masks: tuple[str | None, ...] = ()   # slices: each image's mask (None: it has none)
    folders: tuple[str, ...] = ()        # folders whose files' findings belong to this study
    notes: tuple[str, ...] = ()          # what the file listing already says (masks without an image ...)

    @property
    def anchor(self) -> str:
        if self.study_id is not None:
            return f"study-{self.study_id:04d}"
        slug = re.sub(r"[^A-Za-z0-9]+", "-", self.name or "").strip("-")[:60]
        if not slug:
            return ""
        return f"{'patient' if self.kind == 'dicom' else 'case'}-{slug}"

    @property
    def label(self) -> str:
        return self.name if self.name is not None else Path(self.study_path).name.split(".", 1)[0]


def _is_nifti(path: str) -> bool:
    return path.endswith((".nii", ".nii.gz"))


def _registry_facts(root: Path, profile: Profile) -> Facts:
    """The inventory and the registry rows that pass their schema, read as validate reads them."""
    facts = Facts(root=root, profile=profile, languages=[], entries=walk(root))
    read_registries(facts, copy=False)
    return facts


def layout(profile: Profile) -> str:
    """What a study is in ``profile``: "dicom" (series files in patient folders), "slices" (2D images with
    masks) or "nifti" (study volumes, the default)."""
    kinds = {pattern.kind for pattern in profile.data_files}
    if "series" in kinds:
        return "dicom"
    if {"image", "mask"} <= kinds:
        return "slices"
    return "nifti"


def folder_search(study: ReviewStudy) -> str | None:
    """The path filter of a patient or case card's "show its findings": its folder as a whole path component
    (the page matches against "/" + path + "/"), so patient P2 never shows P20's or XP2's findings."""
    return f"/{study.name}/" if study.name is not None else None


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that puts case 2 before case 10."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part)


def _has_marker(path: Path) -> bool:
    """The DICOM Part 10 marker at byte 128 (how validate tells a DICOM file whatever its name), read by
    :func:`curator.io.dicom.dicom_kind` (the first bytes only, a regular file only)."""
    from curator.io.dicom import NO_META, PART10, dicom_kind  # pydicom only for a dicom layout

    return dicom_kind(path) in (PART10, NO_META)


def _dicom_studies(facts: Facts) -> list[ReviewStudy]:
    """One study per top-level folder holding DICOM files: a file the profile names as DICOM, or else (scanners
    write IM00001, I1000000 ...) a file with the DICOM marker; the first such file settles it, so a folder of
    other files costs a read of each. Every regular file in the folder goes to the worker, except macOS litter."""
    folders: dict[str, list[str]] = {}
    named: set[str] = set()
    for entry in facts.entries:
        path = entry.path
        if entry.kind != "file" or "/" not in path or is_junk_path(path):
            continue
        patient = path.split("/", 1)[0]
        folders.setdefault(patient, []).append(path)
        kind = facts.data_kind(path)
        if kind is not None and kind.kind == "series":
            named.add(patient)
    studies = []
    for patient, files in sorted(folders.items(), key=lambda item: _natural(item[0])):
        if patient in named or any(_has_marker(facts.root / path) for path in files):
            studies.append(ReviewStudy(None, patient, None, None, True, False, kind="dicom", name=patient,
                                       files=tuple(files), folders=(patient,)))
    return studies


def _slice_studies(facts: Facts) -> list[ReviewStudy]:
    """One study per case: its images in slice order, each with the mask of the same name."""
    sides: dict[str, dict[str, dict[str, str]]] = {"image": {}, "mask": {}}   # side -> case -> slice -> path
    for path in sorted(facts.files):
        kind = facts.data_kind(path)
        if kind is None or kind.kind not in sides:
            continue
        case, number = kind.groups.get("case", ""), kind.groups.get("slice", "")
        sides[kind.kind].setdefault(case, {}).setdefault(number, path)   # a duplicate: SLICE_DUPLICATE says so
    images, masks = sides["image"], sides["mask"]
    studies = []
    for case in sorted(images.keys() | masks.keys(), key=_natural):
        slices, labels = images.get(case, {}), masks.get(case, {})
        order = sorted(slices, key=lambda n: (int(n), n) if n.isdigit() else (-1, n))
        image_folder = next(iter(slices.values())).rsplit("/", 1)[0] if slices else None
        mask_folder = next(iter(labels.values())).rsplit("/", 1)[0] if labels else None
        orphans = len(labels.keys() - slices.keys())
        notes = (f"{orphans} mask{'s have' if orphans != 1 else ' has'} no image",) if orphans else ()
        study_path = image_folder or f"image/{case}"
        studies.append(ReviewStudy(
            None, study_path, mask_folder, None, bool(slices), bool(labels),
            None if slices else "the case has masks but no images", kind="slices", name=case,
            files=tuple(slices[n] for n in order), masks=tuple(labels.get(n) for n in order),
            folders=tuple(f for f in (image_folder, mask_folder) if f), notes=notes))
    return studies


def _named_on_disk(facts: Facts) -> tuple[dict[str, tuple[int | None, str | None]], dict[int, str]]:
    """Study files by the profile's pattern (path -> id and category from the name), and masks by study id."""
    on_disk: dict[str, tuple[int | None, str | None]] = {}
    masks_by_id: dict[int, str] = {}
    for path in facts.files:
        kind = facts.data_kind(path)
        if kind is None:
            continue
        groups = kind.groups
        number = int(groups["study_id"]) if groups.get("study_id", "").isdigit() else None
        if kind.kind == "study":
            on_disk[path] = (number, groups.get("category"))
        elif kind.kind == "mask" and number is not None:
            masks_by_id.setdefault(number, path)
    return on_disk, masks_by_id


class _NiftiCards:
    """The NIfTI studies found so far, each path and id once, and what the inventory says about a path."""

    def __init__(self, facts: Facts) -> None:
        self.files = facts.files
        self.kinds = {entry.path: entry.kind for entry in facts.entries}
        self.studies: list[ReviewStudy] = []
        self.paths: set[str] = set()
        self.ids: set[int] = set()

    def present(self, path: str | None) -> bool:
        return path is not None and path in self.files and _is_nifti(path)

    def problem(self, path: str) -> str | None:
        if path not in self.kinds:
            return "the study file is missing"
        if self.kinds[path] != "file":
            return f"the study path is a {self.kinds[path]}, not a regular file: not read"
        return None if _is_nifti(path) else "the study is not a NIfTI volume"

    def add(self, number: int | None, study: str, mask: str | None, category: str | None) -> None:
        """A card for ``study`` unless its path or id has one already (a duplicated registry row:
        REGISTRY_DUPLICATE_ID says so; one card is enough)."""
        if study in self.paths or (number is not None and number in self.ids):
            return
        self.studies.append(ReviewStudy(number, study, mask, category, self.present(study), self.present(mask),
                                        self.problem(study)))
        self.paths.add(study)
        if number is not None:
            self.ids.add(number)


def find_studies(root: Path, profile: Profile) -> list[ReviewStudy]:
    """Every study of the release: the registry's rows in order, then study files it does not list; for the
    ``dicom`` layout every patient folder, for ``slices`` every case."""
    facts = _registry_facts(root, profile)
    what = layout(profile)
    if what == "dicom":
        return _dicom_studies(facts)
    if what == "slices":
        return _slice_studies(facts)
    cards = _NiftiCards(facts)
    for _, row in facts.rows:
        cards.add(row.study_id, row.study_file.lstrip("/"), (row.mask_file or "").lstrip("/") or None, row.category)
    on_disk, masks_by_id = _named_on_disk(facts)
    for path, (number, category) in on_disk.items():
        cards.add(number, path, masks_by_id.get(number) if number is not None else None, category)
    return cards.studies


def finding_counts(report: Report, studies: Sequence[ReviewStudy]) -> list[dict[str, int]]:
    """Each study's findings (about its file, its mask, its id, or a file in its patient or case folder) by
    severity. The findings are indexed once: 50,000 findings times thousands of studies must not be a product
    (seconds per thousand studies)."""
    folders: dict[str, int] = {}
    for number, study in enumerate(studies):
        for folder in study.folders:
            folders.setdefault(folder, number)   # as the page's links: the first card with the folder
    by_path: dict[str, list[int]] = {}
    by_id: dict[int, list[int]] = {}
    by_folder: dict[int, list[int]] = {}
    for index, finding in enumerate(report.findings):
        by_path.setdefault(finding.path, []).append(index)
        if finding.study_id is not None:
            by_id.setdefault(finding.study_id, []).append(index)
        owner = within(finding.path, folders) if folders else None
        if owner is not None:
            by_folder.setdefault(owner, []).append(index)
    result = []
    for number, study in enumerate(studies):
        hits = set(by_path.get(study.study_path, ()))   # a set: a finding both about the file and the id counts once
        hits.update(by_path.get(study.mask_path, ()) if study.mask_path else ())
        hits.update(by_id.get(study.study_id, ()) if study.study_id is not None else ())
        hits.update(by_folder.get(number, ()))
        counts: dict[str, int] = {}
        for index in hits:
            severity = report.findings[index].severity.value
            counts[severity] = counts.get(severity, 0) + 1
        result.append(counts)
    return result

