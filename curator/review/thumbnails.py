"""The thumbnails of the review page: one worker task per study, which reads it once and writes its strip.

A NIfTI study is read with its mask; a ``dicom`` patient folder's largest CT series is converted as ``curator
ingest`` converts it (:mod:`curator.review.layouts`); a ``slices`` case's slices are read with their label masks.
Each task runs in a worker process of its own, so memory is one study per worker; a task returns what it drew
(:class:`Drawn`) or why it could not (:class:`Refused`), never a traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from curator.review.layouts import case_picture, dicom_picture
from curator.review.strips import LabelStyle, axial_planes, label_strip_png, strip_png

__all__ = ["Drawn", "Job", "Refused", "draw"]


@dataclass(frozen=True)
class Drawn:
    size: tuple[int, int]
    slices: tuple[int | str, ...]
    notes: tuple[str, ...]
    facts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Job:
    """One study for a worker (picklable: plain data)."""

    root: Path
    kind: str
    study: str
    mask: str | None
    target: Path
    files: tuple[str, ...] = ()
    masks: tuple[str | None, ...] = ()
    style: LabelStyle = field(default_factory=LabelStyle)   # the colours and lesions of the label scheme


@dataclass(frozen=True)
class Refused:
    """A study the worker read but could not draw: why, and what it learnt on the way."""

    problem: str
    notes: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()


def draw(job: Job) -> Drawn | Refused:
    """One worker task: read a study once (a NIfTI study and its mask, a patient's largest DICOM series, a
    case's slices and masks), write the strip's PNG."""
    root = job.root
    try:
        if job.kind == "dicom":
            series = dicom_picture(root, job.files)
            if series.planes is None:
                return Refused(series.problem or "nothing to draw", tuple(series.notes), tuple(series.facts))
            png, size = strip_png(series.planes)
            drawn = Drawn(size, tuple(series.planes.indices), tuple(series.notes), tuple(series.facts))
        elif job.kind == "slices":
            case = case_picture(root, job.files, job.masks, lesion_values=job.style.lesion_values)
            if not case.slices:
                return Refused(case.problem or "nothing to draw", tuple(case.notes), tuple(case.facts))
            png, size = label_strip_png(case.slices, job.style)
            drawn = Drawn(size, tuple(case.names), tuple(case.notes), tuple(case.facts))
        else:
            planes = axial_planes(root / job.study, root / job.mask if job.mask else None)
            png, size = strip_png(planes, colour=job.style.mask)
            drawn = Drawn(size, tuple(planes.indices), tuple(planes.notes))
    except Exception as error:  # hostile or damaged data: a note on the page, never a traceback
        reason = str(error).replace(str(root) + os.sep, "") or type(error).__name__
        return Refused(f"cannot draw this study: {reason}")
    job.target.write_bytes(png)
    return drawn

