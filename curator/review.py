"""``curator review``: validate a release and write a static review page for a human reviewer.

The page (``index.html``) and its thumbnails (``thumbs/*.png``) go to a folder of their own, never into the
release: the validation summary, the findings table with filters, and for each study a strip of axial slices in
the lung window with its mask overlaid. Nothing needs a server; the page works from ``file://``.

Studies come from the registry (its rows, in order) plus any study file on disk the registry does not list, or
from the file names when there is no readable registry. A path is drawn only when it is a regular file of the
release's inventory (links are never followed, a registry path cannot lead outside the root). Each study and its
mask are read once, in a worker process of their own, so memory is one study per worker.

The two layouts without NIfTI studies get cards too (the reading is :mod:`curator.render.review_layouts`):

* ``dicom``: one card per patient folder (the profile's study unit: Harvard's COVID19-CT-dataset has one folder
  per patient), drawn from its largest CT series converted as ``curator ingest`` converts it; the folder's other
  series are listed on the card, and a series the converter refuses is named with its reason. One card per
  series would repeat near-identical pictures of one chest for every reconstruction (lung and soft-tissue
  kernels, thin and thick slices) and bury the patients among them.
* ``slices``: one card per case folder (``image/<case>``), a few slices with their label masks.

A finding links to (and counts for) the card whose patient or case folder holds its path.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from curator.checks import registry as registry_check
from curator.checks.names import is_junk
from curator.errors import OptionsError
from curator.executor import default_jobs, run_tasks
from curator.io import ReadError
from curator.io.facts import Facts
from curator.io.inventory import walk
from curator.io.registry import read_registry
from curator.models.findings import Report
from curator.models.profile import Profile
from curator.outputs import contains, lock, staged
from curator.profiles import get_profile
from curator.root_and_hashes import check_root
from curator.validate import ValidateOptions, validate
from curator.wording import plural

__all__ = ["LARGE", "ReviewStudy", "check_out", "find_studies", "layout", "write_review"]

#: Above this many studies without --max-studies, the caller is warned that drawing them all takes a while.
LARGE = 500
THUMBS = "thumbs"
INDEX = "index.html"


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
    """The inventory and the registry rows that pass their schema (the reading validate's gather does)."""
    facts = Facts(root=root, profile=profile, languages=[], entries=walk(root))
    spec = profile.registry
    if spec is None:
        return facts
    files = facts.files
    main = spec.path if spec.path in files else (spec.csv if spec.csv and spec.csv in files else None)
    if main is not None:
        try:
            facts.registry = read_registry(root / main, spec.columns, spec.sheet)
        except ReadError:
            return facts
        facts.rows, _ = registry_check.parse_rows(facts)
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


def _folder_search(study: ReviewStudy) -> str | None:
    """The path filter of a patient or case card's "show its findings": its folder as a whole path component
    (the page matches against "/" + path + "/"), so patient P2 never shows P20's or XP2's findings."""
    return f"/{study.name}/" if study.name is not None else None


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that puts case 2 before case 10."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part)


def _has_marker(path: Path) -> bool:
    """The DICOM Part 10 marker at byte 128 (how validate tells a DICOM file whatever its name)."""
    try:
        with path.open("rb") as handle:
            return handle.read(132)[128:132] == b"DICM"
    except OSError:
        return False


def _dicom_studies(facts: Facts) -> list[ReviewStudy]:
    """One study per top-level folder holding DICOM files: a file the profile names as DICOM, or else (scanners
    write IM00001, I1000000 ...) a file with the DICOM marker; the first such file settles it, so a folder of
    other files costs a read of each. Every regular file in the folder goes to the worker, except macOS litter."""
    folders: dict[str, list[str]] = {}
    named: set[str] = set()
    for entry in facts.entries:
        path = entry.path
        if entry.kind != "file" or "/" not in path or is_junk(path):
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


def find_studies(root: Path, profile: Profile) -> list[ReviewStudy]:
    """Every study of the release: the registry's rows in order, then study files it does not list; for the
    ``dicom`` layout every patient folder, for ``slices`` every case."""
    facts = _registry_facts(root, profile)
    what = layout(profile)
    if what == "dicom":
        return _dicom_studies(facts)
    if what == "slices":
        return _slice_studies(facts)
    files = facts.files
    on_disk: dict[str, tuple[int | None, str | None]] = {}   # study path -> (id, category) from its name
    masks_by_id: dict[int, str] = {}
    for path in files:
        kind = facts.data_kind(path)
        if kind is None:
            continue
        groups = kind.groups
        number = int(groups["study_id"]) if groups.get("study_id", "").isdigit() else None
        if kind.kind == "study":
            on_disk[path] = (number, groups.get("category"))
        elif kind.kind == "mask" and number is not None:
            masks_by_id.setdefault(number, path)

    kinds = {entry.path: entry.kind for entry in facts.entries}

    def present(path: str | None) -> bool:
        return path is not None and path in files and _is_nifti(path)

    def problem(path: str) -> str | None:
        if path not in kinds:
            return "the study file is missing"
        if kinds[path] != "file":
            return f"the study path is a {kinds[path]}, not a regular file: not read"
        return None if _is_nifti(path) else "the study is not a NIfTI volume"

    studies: list[ReviewStudy] = []
    seen_paths: set[str] = set()
    seen_ids: set[int] = set()
    for _, row in facts.rows:
        study = row.study_file.lstrip("/")
        mask = (row.mask_file or "").lstrip("/") or None
        if study in seen_paths or row.study_id in seen_ids:
            continue   # a duplicated row: REGISTRY_DUPLICATE_ID says so; one card is enough
        seen_paths.add(study)
        seen_ids.add(row.study_id)
        studies.append(ReviewStudy(row.study_id, study, mask, row.category, present(study), present(mask),
                                   problem(study)))
    for path, (number, category) in on_disk.items():
        if path in seen_paths or (number is not None and number in seen_ids):
            continue
        mask = masks_by_id.get(number) if number is not None else None
        studies.append(ReviewStudy(number, path, mask, category, present(path), present(mask), problem(path)))
        seen_paths.add(path)
        if number is not None:
            seen_ids.add(number)
    return studies


@dataclass(frozen=True)
class _Drawn:
    size: tuple[int, int]
    slices: tuple[int | str, ...]
    notes: tuple[str, ...]
    facts: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Job:
    """One study for a worker (picklable: plain data)."""

    root: Path
    kind: str
    study: str
    mask: str | None
    target: Path
    files: tuple[str, ...] = ()
    masks: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class _Refused:
    """A study the worker read but could not draw: why, and what it learnt on the way."""

    problem: str
    notes: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()


def _draw(job: _Job) -> _Drawn | _Refused:
    """One worker task: read a study once (a NIfTI study and its mask, a patient's largest DICOM series, a
    case's slices and masks), write the strip's PNG."""
    from curator.render.review_strips import axial_planes, label_strip_png, strip_png

    root = job.root
    try:
        if job.kind == "dicom":
            from curator.render.review_layouts import dicom_picture

            series = dicom_picture(root, job.files)
            if series.planes is None:
                return _Refused(series.problem or "nothing to draw", tuple(series.notes), tuple(series.facts))
            png, size = strip_png(series.planes)
            drawn = _Drawn(size, tuple(series.planes.indices), tuple(series.notes), tuple(series.facts))
        elif job.kind == "slices":
            from curator.render.review_layouts import case_picture

            case = case_picture(root, job.files, job.masks)
            if not case.slices:
                return _Refused(case.problem or "nothing to draw", tuple(case.notes), tuple(case.facts))
            png, size = label_strip_png(case.slices)
            drawn = _Drawn(size, tuple(case.names), tuple(case.notes), tuple(case.facts))
        else:
            planes = axial_planes(root / job.study, root / job.mask if job.mask else None)
            png, size = strip_png(planes)
            drawn = _Drawn(size, tuple(planes.indices), tuple(planes.notes))
    except Exception as error:  # hostile or damaged data: a note on the page, never a traceback
        reason = str(error).replace(str(root) + os.sep, "") or type(error).__name__
        return _Refused(f"cannot draw this study: {reason}")
    job.target.write_bytes(png)
    return drawn


def check_out(root: Path, out: Path, force: bool) -> None:
    """Refuse an ``out`` inside the release or around it, a file, or a non-empty folder without ``force``."""
    if contains(root, out):
        raise OptionsError(f"--out {out} is inside the release {root}; write the review to a folder outside it")
    if contains(out, root):
        raise OptionsError(f"the release {root} is inside --out {out}; write the review to a folder of its own")
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise OptionsError(f"--out {out} exists and is not a folder; choose another --out")
        if any(out.iterdir()) and not force:
            raise OptionsError(f"--out {out} is not empty; pass --force to replace the review in it, "
                               "or choose another folder")


def _counts(report: Report, studies: Sequence[ReviewStudy]) -> list[dict[str, int]]:
    """Each study's findings (about its file, its mask, its id, or a file in its patient or case folder) by
    severity. The findings are indexed once: 50,000 findings times thousands of studies must not be a product
    (seconds per thousand studies)."""
    from curator.render.review import within

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


def write_review(root: Path | str, out: Path | str, *, options: ValidateOptions | None = None,
                 jobs: int | None = None, force: bool = False, max_studies: int | None = None,
                 report: Report | None = None, warn: Callable[[str], object] | None = None) -> Path:
    """Validate ``root`` (or take ``report``, its validation) and write the review page into ``out``.

    ``out`` must be empty or new unless ``force`` (then its index.html and thumbs/ are replaced, anything else
    is left), and neither inside the release nor around it. ``max_studies`` caps the thumbnail strips drawn
    (studies with findings first); ``warn`` hears about slow runs. Returns the path of ``index.html``.
    Raises RunError when the release cannot be read, OptionsError for a bad ``out``.
    """
    from curator.render.review import StudyCard, review_html

    root, out = Path(root), Path(out)
    options = options or ValidateOptions()
    check_root(root)
    check_out(root, out, force)
    if max_studies is not None and max_studies < 0:
        raise OptionsError(f"--max-studies must be 0 or more, got {max_studies}")
    if report is None:
        report = validate(root, options)

    profile = get_profile(report.profile) if report.profile else None
    studies = find_studies(root, profile) if profile else []
    counts = _counts(report, studies)
    order = sorted(range(len(studies)), key=lambda i: (not counts[i], i))   # studies with findings first
    chosen = sorted(order if max_studies is None else order[:max_studies])
    notes: list[str] = []
    if profile is None:
        notes.append("No layout profile matched, so no studies are shown.")
    elif not studies:
        notes.append({"dicom": "No patient folder holds DICOM files, so no studies are shown.",
                      "slices": "No case folder holds image slices or masks, so no studies are shown."}.get(
            layout(profile), f"The {report.profile} profile has no NIfTI study volumes to draw."))
    if max_studies is not None and len(chosen) < len(studies):
        notes.append(f"Showing {len(chosen)} of {len(studies)} studies (--max-studies {max_studies}); "
                     "studies with findings come first.")
    elif max_studies is None and len(studies) > LARGE and warn is not None:
        warn(f"drawing thumbnails of all {len(studies)} studies; pass --max-studies N to draw fewer")

    with lock(out), staged(out, merge=(INDEX, THUMBS)) as stage:   # with --force: only our two entries replaced
        check_out(root, out, force)   # again, under the lock: another run may have written OUT meanwhile
        tmp = stage.root
        (tmp / THUMBS).mkdir()
        anchors: dict[int, str] = {}
        used: set[str] = set()
        for index in chosen:
            anchor = studies[index].anchor
            if not anchor or anchor in used:
                anchor = f"study-n{index + 1}"
            anchors[index] = anchor
            used.add(anchor)
        drawable = [i for i in chosen if studies[i].study_present]
        jobs_list = [_Job(root, studies[i].kind, studies[i].study_path,
                          studies[i].mask_path if studies[i].mask_present else None,
                          tmp / THUMBS / f"{anchors[i]}.png", studies[i].files, studies[i].masks) for i in drawable]
        workers = jobs or options.jobs or default_jobs()
        progress = options.progress
        started = time.perf_counter()
        drawn = dict(zip(drawable, run_tasks(
            _draw, jobs_list, workers, processes=True,
            progress=(lambda done, total: progress("thumbnails", done, total)) if progress else None), strict=True))
        seconds = time.perf_counter() - started
        if drawable:
            notes_for_studies = [f"{plural(len(drawable), 'study', 'studies')} drawn in {seconds:.1f} s "
                                 f"({seconds / len(drawable) * 1000:.0f} ms a study, {min(workers, len(drawable))} "
                                 "worker(s))."]
        else:
            notes_for_studies = []
        cards = []
        for index in chosen:
            study = studies[index]
            result = drawn.get(index)
            problem = result.problem if isinstance(result, _Refused) else study.problem
            card_notes = [*study.notes, *(result.notes if result is not None else ())]
            if study.mask_path and not study.mask_present:
                card_notes.append("the mask file is missing: nothing overlaid")
            cards.append(StudyCard(
                anchor=anchors[index], label=study.label, study_id=study.study_id,
                study_path=study.study_path, mask_path=study.mask_path, category=study.category,
                thumbnail=f"{THUMBS}/{anchors[index]}.png" if isinstance(result, _Drawn) else None,
                size=result.size if isinstance(result, _Drawn) else None,
                slices=result.slices if isinstance(result, _Drawn) else (), notes=tuple(card_notes),
                problem=problem, counts=counts[index], kind=study.kind, folders=study.folders,
                facts=result.facts if result is not None else (), search=_folder_search(study)))
        page = review_html(report, cards, title=f"curator review: {root.absolute().name}", notes=notes,
                           study_notes=notes_for_studies, layout=layout(profile) if profile else "nifti")
        (tmp / INDEX).write_text(page, encoding="utf-8")
    return out / INDEX
