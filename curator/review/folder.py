"""``curator review``: validate a release and write a static review page for a human reviewer.

The page (``index.html``) and its thumbnails (``thumbs/*.png``) go to a folder of their own, never into the
release: the validation summary, the findings table with filters, and for each study a strip of axial slices in
the lung window with its mask overlaid. Nothing needs a server; the page works from ``file://``.

:func:`write_review` runs the steps: check OUT, validate, find the studies and the findings that belong to each
(:mod:`curator.review.studies`), choose the ones to draw, draw them in worker processes
(:mod:`curator.review.thumbnails`), and write the page (:mod:`curator.review.page`) into a staging folder that is
renamed into place (:mod:`curator.outputs`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from curator.errors import OptionsError
from curator.executor import default_jobs, run_tasks
from curator.io import ReadError
from curator.io.card import load_card
from curator.label_schemes import LabelSchemeError, load_scheme
from curator.models.findings import Report
from curator.models.labels import LabelScheme
from curator.models.profile import Profile
from curator.outputs import contains, lock, staged
from curator.profiles import get_profile
from curator.review.page import StudyCard, review_html
from curator.review.strips import label_style
from curator.review.studies import ReviewStudy, find_studies, finding_counts, folder_search, layout
from curator.review.thumbnails import Drawn, Job, Refused, draw
from curator.root_and_hashes import check_root
from curator.validate import ValidateOptions, validate
from curator.wording import plural

__all__ = ["INDEX", "LARGE", "THUMBS", "check_out", "label_scheme", "write_review"]

#: Above this many studies without --max-studies, the caller is warned that drawing them all takes a while.
LARGE = 500
THUMBS = "thumbs"
INDEX = "index.html"
CARD = "dataset.yaml"


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


def label_scheme(root: Path, profile: Profile) -> tuple[LabelScheme | None, list[str]]:
    """The label scheme the release's own dataset.yaml declares (``label_scheme``), else its profile's default
    (``slices``: cncb, ``mosmed``: binary-lesion); and notes for the page when the card's cannot be used."""
    default = profile.label_scheme
    instead = f"; labels are drawn as the {profile.name} profile's scheme, {default}" if default else ""
    declared: str | None = None
    notes: list[str] = []
    card = root / CARD
    if card.is_file() and not card.is_symlink():
        try:
            declared = load_card(card).label_scheme
        except ReadError:   # validate reports the card; the page says what it drew instead
            notes.append(f"{CARD} cannot be read, so the label scheme it declares is unknown{instead}")
    if declared is not None and declared != default:
        try:
            return load_scheme(declared), notes
        except LabelSchemeError as error:
            notes.append(f"{CARD}: {error}{instead}")
    return (load_scheme(default) if default else None), notes


@dataclass(frozen=True)
class _Plan:
    """What the page will show: the studies, each one's finding counts, the ones drawn (indices into
    ``studies``, in order), the notes for the summary, and the label scheme the masks are drawn in."""

    profile: Profile | None
    studies: list[ReviewStudy]
    counts: list[dict[str, int]]
    chosen: list[int]
    notes: list[str]
    scheme: LabelScheme | None = None


def _plan(root: Path, report: Report, max_studies: int | None, warn: Callable[[str], object] | None) -> _Plan:
    """Find the studies and choose the ones to draw: all of them, or with ``max_studies`` those with findings
    first (then in release order)."""
    profile = get_profile(report.profile) if report.profile else None
    studies = find_studies(root, profile) if profile else []
    counts = finding_counts(report, studies)
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
    scheme, scheme_notes = label_scheme(root, profile) if profile is not None else (None, [])
    return _Plan(profile, studies, counts, chosen, notes + scheme_notes, scheme)


def _anchors(studies: Sequence[ReviewStudy], chosen: Sequence[int]) -> dict[int, str]:
    """Each chosen study's element id: its own anchor, or ``study-n<k>`` when it has none or repeats one."""
    anchors: dict[int, str] = {}
    used: set[str] = set()
    for index in chosen:
        anchor = studies[index].anchor
        if not anchor or anchor in used:
            anchor = f"study-n{index + 1}"
        anchors[index] = anchor
        used.add(anchor)
    return anchors


def _draw_all(root: Path, plan: _Plan, anchors: dict[int, str], thumbs: Path, workers: int,
              options: ValidateOptions) -> tuple[dict[int, Drawn | Refused], list[str]]:
    """Draw every chosen study whose files are there into ``thumbs``; what each gave, and a note on the time."""
    studies = plan.studies
    drawable = [i for i in plan.chosen if studies[i].study_present]
    style = label_style(plan.scheme)
    jobs = [Job(root, studies[i].kind, studies[i].study_path, studies[i].mask_path if studies[i].mask_present else None,
                thumbs / f"{anchors[i]}.png", studies[i].files, studies[i].masks, style) for i in drawable]
    progress = options.progress
    started = time.perf_counter()
    results = run_tasks(draw, jobs, workers, processes=True,
                        progress=(lambda done, total: progress("thumbnails", done, total)) if progress else None)
    seconds = time.perf_counter() - started
    if not drawable:
        return {}, []
    note = (f"{plural(len(drawable), 'study', 'studies')} drawn in {seconds:.1f} s "
            f"({seconds / len(drawable) * 1000:.0f} ms a study, {min(workers, len(drawable))} worker(s)).")
    return dict(zip(drawable, results, strict=True)), [note]


def _card(study: ReviewStudy, anchor: str, counts: dict[str, int], result: Drawn | Refused | None) -> StudyCard:
    """The page's card of one chosen study, with what its worker drew (``result`` None: it was not drawn)."""
    drawn = result if isinstance(result, Drawn) else None
    notes = [*study.notes, *(result.notes if result is not None else ())]
    if study.mask_path and not study.mask_present:
        notes.append("the mask file is missing: nothing overlaid")
    return StudyCard(
        anchor=anchor, label=study.label, study_id=study.study_id, study_path=study.study_path,
        mask_path=study.mask_path, category=study.category,
        thumbnail=f"{THUMBS}/{anchor}.png" if drawn else None, size=drawn.size if drawn else None,
        slices=drawn.slices if drawn else (), notes=tuple(notes),
        problem=result.problem if isinstance(result, Refused) else study.problem, counts=counts, kind=study.kind,
        folders=study.folders, facts=result.facts if result is not None else (), search=folder_search(study))


def write_review(root: Path | str, out: Path | str, *, options: ValidateOptions | None = None,
                 jobs: int | None = None, force: bool = False, max_studies: int | None = None,
                 report: Report | None = None, warn: Callable[[str], object] | None = None) -> Path:
    """Validate ``root`` (or take ``report``, its validation) and write the review page into ``out``.

    ``out`` must be empty or new unless ``force`` (then its index.html and thumbs/ are replaced, anything else
    is left), and neither inside the release nor around it. ``max_studies`` caps the thumbnail strips drawn
    (studies with findings first); ``warn`` hears about slow runs. Returns the path of ``index.html``.
    Raises RunError when the release cannot be read, OptionsError for a bad ``out``.
    """
    root, out = Path(root), Path(out)
    options = options or ValidateOptions()
    check_root(root)
    check_out(root, out, force)
    if max_studies is not None and max_studies < 0:
        raise OptionsError(f"--max-studies must be 0 or more, got {max_studies}")
    if report is None:
        report = validate(root, options)
    plan = _plan(root, report, max_studies, warn)

    with lock(out), staged(out, merge=(INDEX, THUMBS)) as stage:   # with --force: only our two entries replaced
        check_out(root, out, force)   # again, under the lock: another run may have written OUT meanwhile
        (stage.root / THUMBS).mkdir()
        anchors = _anchors(plan.studies, plan.chosen)
        drawn, study_notes = _draw_all(root, plan, anchors, stage.root / THUMBS,
                                       jobs or options.jobs or default_jobs(), options)
        cards = [_card(plan.studies[i], anchors[i], plan.counts[i], drawn.get(i)) for i in plan.chosen]
        page = review_html(report, cards, title=f"curator review: {root.absolute().name}", notes=plan.notes,
                           study_notes=study_notes, layout=layout(plan.profile) if plan.profile else "nifti",
                           scheme=plan.scheme)
        (stage.root / INDEX).write_text(page, encoding="utf-8")
    return out / INDEX
