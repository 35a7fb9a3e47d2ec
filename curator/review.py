"""``curator review``: validate a release and write a static review page for a human reviewer.

The page (``index.html``) and its thumbnails (``thumbs/*.png``) go to a folder of their own, never into the
release: the validation summary, the findings table with filters, and for each study a strip of axial slices in
the lung window with its mask overlaid. Nothing needs a server; the page works from ``file://``.

Studies come from the registry (its rows, in order) plus any study file on disk the registry does not list, or
from the file names when there is no readable registry. A path is drawn only when it is a regular file of the
release's inventory (links are never followed, a registry path cannot lead outside the root). Each study and its
mask are read once, in a worker process of their own, so memory is one study per worker.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from curator.checks import registry as registry_check
from curator.checks.facts import Facts
from curator.errors import OptionsError
from curator.executor import default_jobs, run_tasks
from curator.io import ReadError
from curator.io.inventory import walk
from curator.io.registry import read_registry
from curator.models.findings import Report
from curator.models.profile import Profile
from curator.profiles import get_profile
from curator.runs import check_root
from curator.validate import ValidateOptions, validate

__all__ = ["LARGE", "ReviewStudy", "check_out", "find_studies", "write_review"]

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

    @property
    def anchor(self) -> str:
        return f"study-{self.study_id:04d}" if self.study_id is not None else ""


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


def find_studies(root: Path, profile: Profile) -> list[ReviewStudy]:
    """Every study of the release: the registry's rows in order, then study files it does not list."""
    facts = _registry_facts(root, profile)
    files = facts.files
    on_disk: dict[str, tuple[int | None, str | None]] = {}   # study path -> (id, category) from its name
    masks_by_id: dict[int, str] = {}
    for path in files:
        kind = facts.data_kind(path)
        if kind is None:
            continue
        groups = kind[1]
        number = int(groups["study_id"]) if groups.get("study_id", "").isdigit() else None
        if kind[0] == "study":
            on_disk[path] = (number, groups.get("category"))
        elif kind[0] == "mask" and number is not None:
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
    slices: tuple[int, ...]
    notes: tuple[str, ...]


def _draw(job: tuple[Path, str, str | None, Path]) -> _Drawn | str:
    """One worker task (picklable): read a study and its mask once each, write the strip's PNG."""
    root, study, mask, target = job
    from curator.render.review import axial_planes, strip_png

    try:
        planes = axial_planes(root / study, root / mask if mask else None)
        png, size = strip_png(planes)
    except Exception as error:  # hostile or damaged data: a note on the page, never a traceback
        reason = str(error).replace(str(root) + os.sep, "") or type(error).__name__
        return f"cannot draw this study: {reason}"
    target.write_bytes(png)
    return _Drawn(size, tuple(planes.indices), tuple(planes.notes))


def check_out(root: Path, out: Path, force: bool) -> None:
    """Refuse an ``out`` inside the release or around it, a file, or a non-empty folder without ``force``."""
    release, target = root.resolve(), out.resolve()
    if target == release or target.is_relative_to(release):
        raise OptionsError(f"--out {out} is inside the release {root}; write the review to a folder outside it")
    if release.is_relative_to(target):
        raise OptionsError(f"the release {root} is inside --out {out}; write the review to a folder of its own")
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise OptionsError(f"--out {out} exists and is not a folder; choose another --out")
        if any(out.iterdir()) and not force:
            raise OptionsError(f"--out {out} is not empty; pass --force to replace the review in it, "
                               "or choose another folder")


def _place(tmp: Path, out: Path) -> None:
    """Move the finished review into ``out``: a rename when ``out`` is new or empty; else replace our own
    index.html and thumbs/ and leave anything else in ``out`` alone."""
    if out.is_dir() and not out.is_symlink() and not any(out.iterdir()):
        out.rmdir()
    if not out.exists():
        tmp.rename(out)
        return
    old = out / THUMBS
    if old.is_symlink() or old.is_file():
        old.unlink()
    elif old.is_dir():
        shutil.rmtree(old)
    (tmp / THUMBS).rename(old)
    (tmp / INDEX).replace(out / INDEX)
    tmp.rmdir()


def _counts(report: Report, studies: Sequence[ReviewStudy]) -> list[dict[str, int]]:
    """Each study's findings (about its file, its mask or its id) by severity. The findings are indexed once:
    50,000 findings times thousands of studies must not be a product (seconds per thousand studies)."""
    by_path: dict[str, list[int]] = {}
    by_id: dict[int, list[int]] = {}
    for index, finding in enumerate(report.findings):
        by_path.setdefault(finding.path, []).append(index)
        if finding.study_id is not None:
            by_id.setdefault(finding.study_id, []).append(index)
    result = []
    for study in studies:
        hits = set(by_path.get(study.study_path, ()))   # a set: a finding both about the file and the id counts once
        hits.update(by_path.get(study.mask_path, ()) if study.mask_path else ())
        hits.update(by_id.get(study.study_id, ()) if study.study_id is not None else ())
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

    studies = find_studies(root, get_profile(report.profile)) if report.profile else []
    counts = _counts(report, studies)
    order = sorted(range(len(studies)), key=lambda i: (not counts[i], i))   # studies with findings first
    chosen = sorted(order if max_studies is None else order[:max_studies])
    notes: list[str] = []
    if not report.profile:
        notes.append("No layout profile matched, so no studies are shown.")
    elif not studies:
        notes.append(f"The {report.profile} profile has no NIfTI study volumes to draw.")
    if max_studies is not None and len(chosen) < len(studies):
        notes.append(f"Showing {len(chosen)} of {len(studies)} studies (--max-studies {max_studies}); "
                     "studies with findings come first.")
    elif max_studies is None and len(studies) > LARGE and warn is not None:
        warn(f"drawing thumbnails of all {len(studies)} studies; pass --max-studies N to draw fewer")

    out.absolute().parent.mkdir(parents=True, exist_ok=True)
    tmp = out.absolute().parent / f".{out.name}.{secrets.token_hex(6)}.tmp"
    tmp.mkdir()
    try:
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
        jobs_list = [(root, studies[i].study_path, studies[i].mask_path if studies[i].mask_present else None,
                      tmp / THUMBS / f"{anchors[i]}.png") for i in drawable]
        workers = jobs or options.jobs or default_jobs()
        progress = options.progress
        started = time.perf_counter()
        drawn = dict(zip(drawable, run_tasks(
            _draw, jobs_list, workers, processes=True,
            progress=(lambda done, total: progress("thumbnails", done, total)) if progress else None), strict=True))
        seconds = time.perf_counter() - started
        if drawable:
            notes_for_studies = [f"{len(drawable)} studies drawn in {seconds:.1f} s "
                                 f"({seconds / len(drawable) * 1000:.0f} ms a study, {min(workers, len(drawable))} "
                                 "worker(s))."]
        else:
            notes_for_studies = []
        cards = []
        for index in chosen:
            study = studies[index]
            result = drawn.get(index)
            problem = result if isinstance(result, str) else study.problem
            card_notes = list(result.notes) if isinstance(result, _Drawn) else []
            if study.mask_path and not study.mask_present:
                card_notes.append("the mask file is missing: nothing overlaid")
            cards.append(StudyCard(
                anchor=anchors[index], label=Path(study.study_path).name.split(".", 1)[0], study_id=study.study_id,
                study_path=study.study_path, mask_path=study.mask_path, category=study.category,
                thumbnail=f"{THUMBS}/{anchors[index]}.png" if isinstance(result, _Drawn) else None,
                size=result.size if isinstance(result, _Drawn) else None,
                slices=result.slices if isinstance(result, _Drawn) else (), notes=tuple(card_notes),
                problem=problem, counts=counts[index]))
        page = review_html(report, cards, title=f"curator review: {root.absolute().name}", notes=notes,
                           study_notes=notes_for_studies)
        (tmp / INDEX).write_text(page, encoding="utf-8")
        _place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out / INDEX
