"""Pictures for the review page of the two layouts without NIfTI studies (``curator review``).

* :func:`dicom_picture`: one patient folder of the ``dicom`` profile. Its files' headers are read and grouped into
  series exactly as ``curator validate`` does (:func:`curator.io.dicom.read_task`, :func:`~curator.io.dicom.
  group_series`); the largest CT series (most images) is read with its pixels and converted into an HU volume by
  ``curator ingest``'s converter (:func:`curator.ingest.convert.convert_series`), which refuses a series that is
  not one regular volume (a missing slice, mixed geometry, pixels that cannot be decoded). A refused series is
  named with the converter's reason and the next largest is tried, so the card still shows the patient when
  another series is whole. One series is in memory at a time.
* :func:`case_picture`: one case of the ``slices`` profile (CNCB): 2D JPG/PNG slices with PNG label masks of the
  same name. The masks are decoded to find the slices with lesion labels (the label scheme's: CNCB's 2 and 3); a few
  evenly spaced ones are drawn (lesion slices first), each image as stored (8-bit, already windowed) with its
  label map. A missing mask, a mask of another size or a mask that is no label map is a note, never an error.

Both return a picture with notes; bad data never raises (the caller still guards against the unexpected).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from curator.review.strips import SLICES, Grey, Labels, Planes, volume_planes
from curator.wording import plural

if TYPE_CHECKING:
    from curator.io.dicom import DicomFile, DicomSeries

__all__ = ["MAX_SCANNED", "MAX_TRIES", "CasePicture", "SeriesPicture", "case_picture", "dicom_picture"]

#: Series of one patient tried, largest first, before the card gives up.
MAX_TRIES: Final = 3
#: Masks of one case decoded to look for lesion labels; a longer case is sampled evenly.
MAX_SCANNED: Final = 400
#: pydicom reads elements larger than this only when they are used: a series refused for its geometry costs
#: its headers, not its pixels.
DEFER_BYTES: Final = 64 * 1024
LISTED_SERIES: Final = 4          # other series named on a card; the rest are counted
MAX_REASON: Final = 600           # characters of a converter's reason kept in a note
_SEGMENTATION_SOP: Final = "1.2.840.10008.5.1.4.1.1.66.4"   # Segmentation Storage: a mask, not an image series


@dataclass
class SeriesPicture:
    """A patient folder's drawn series (``planes`` None when none could be drawn, ``problem`` says why)."""

    planes: Planes | None
    facts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problem: str | None = None


@dataclass
class CasePicture:
    """A case's drawn slices (8-bit grey, label map or None), their file names, and what to tell the reviewer."""

    slices: list[tuple[Grey, Labels | None]]
    names: list[str]
    facts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problem: str | None = None


def _one_line(text: str, root: Path, limit: int = MAX_REASON) -> str:
    text = " ".join(text.replace(str(root) + "/", "").split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _spread(items: Sequence[int], count: int) -> list[int]:
    """Up to ``count`` of ``items`` evenly spaced, each from the middle of its share (so a CT's first and last
    slices, usually outside the lungs, are not the ones drawn)."""
    if len(items) <= count:
        return list(items)
    return sorted({items[min(len(items) - 1, int((k + 0.5) * len(items) / count))] for k in range(count)})


# ----------------------------------------------------------------------------------------------------------
# DICOM: a patient folder


def _describe(label: str, images: int) -> str:
    return f"series {label} ({images} image{'s' if images != 1 else ''})"


def _headers(root: Path, files: Sequence[str], picture: SeriesPicture) -> list[DicomFile]:
    """The DICOM headers of ``files`` (the DICOMDIR left out); a note on ``picture`` counts the unreadable."""
    from curator.io.dicom import MEDIA_STORAGE_DIRECTORY, read_task

    headers: list[DicomFile] = []
    unreadable = 0
    for path in files:
        header, _ = read_task((root, path, False))
        if isinstance(header, str):
            unreadable += 1
        elif header is not None and header.sop_class_uid != MEDIA_STORAGE_DIRECTORY:
            headers.append(header)
    if unreadable:
        picture.notes.append(f"{plural(unreadable, 'file')} in the folder {'are' if unreadable != 1 else 'is'} "
                             "not readable DICOM (the findings name them)")
    return headers


def _candidates(headers: list[DicomFile]) -> tuple[list[tuple[DicomSeries, list[DicomFile]]], list[str]]:
    """The CT image series to try, best first (most images; between equally large series a lung reconstruction,
    what this page is for, then the lower series number), each with its images; and the other series named."""
    from curator.io.dicom import group_series

    candidates = []
    others = []
    for one in group_series(headers):
        images = [f for f in one.files if f.is_image and not f.is_localizer and f.sop_class_uid != _SEGMENTATION_SOP]
        modality = one.files[0].modality
        if images and modality in ("CT", ""):
            candidates.append((one, images))
        else:
            others.append(_describe(one.label, len(one.files)) + (f" {modality}" if modality else ""))
    candidates.sort(key=lambda c: (-sum(f.frames for f in c[1]), "LUNG" not in c[0].files[0].series_description.upper(),
                                   c[0].series_number or 0, c[0].label))
    return candidates, others


def _draw_first(root: Path, candidates: Sequence[tuple[DicomSeries, list[DicomFile]]], count: int,
                picture: SeriesPicture) -> tuple[int, list[str]]:
    """Convert the candidates in order until one converts (at most :data:`MAX_TRIES`); its planes and facts go
    on ``picture``. How many were tried, and why each refused one was refused."""
    refused: list[str] = []
    tried = 0
    for one, images in candidates[:MAX_TRIES]:
        tried += 1
        name = _describe(one.label, sum(f.frames for f in images))
        try:
            planes, volume_facts = _convert(root, [f.path for f in images], count)
        except Exception as error:  # ConversionError, or whatever a hostile file makes the reader raise
            refused.append(f"{name} cannot be converted: {_one_line(str(error) or type(error).__name__, root)}")
            continue
        picture.planes = planes
        picture.facts.append(f"drawn: {name}, {volume_facts[0]}")
        left_out = len(one.files) - len(images)
        if left_out:
            picture.notes.append(f"{plural(left_out, 'file')} of the series left out (localizer or not an image)")
        picture.notes += volume_facts[1:] + planes.notes
        break
    return tried, refused


def dicom_picture(root: Path, files: Sequence[str], count: int = SLICES) -> SeriesPicture:
    """Read the headers of ``files`` (release paths of one patient folder), pick its largest CT series and
    convert it; the axial planes of the first series that converts."""
    picture = SeriesPicture(planes=None)
    headers = _headers(root, files, picture)
    candidates, others = _candidates(headers)
    if not candidates:
        found = plural(len(headers), "DICOM file") if headers else "no DICOM file"
        picture.problem = f"no CT image series to draw in this folder ({found})"
        picture.facts += [f"other series: {', '.join(others)}"] if others else []
        return picture
    tried, refused = _draw_first(root, candidates, count, picture)
    rest = [_describe(one.label, sum(f.frames for f in images)) for one, images in candidates[tried:]] + others
    if rest:
        shown = rest[:LISTED_SERIES]
        more = f" and {len(rest) - len(shown)} more" if len(rest) > len(shown) else ""
        picture.facts.append(f"other series: {', '.join(shown)}{more}")
    if picture.planes is None:
        if len(refused) == 1:
            picture.problem = refused[0]
        else:
            picture.problem = f"none of the {len(refused)} CT series tried could be converted"
            picture.notes[:0] = refused
    else:
        picture.notes[:0] = refused   # the larger series that were refused before this one was drawn
    return picture


def _convert(root: Path, paths: Sequence[str], count: int) -> tuple[Planes, list[str]]:
    """Read one series' files with pixel data and convert them as ``curator ingest`` does; its planes and
    (first) what the volume is, then the converter's notes worth a reviewer's eye (uneven spacing, tilt)."""
    from pydicom import dcmread

    from curator.ingest.convert import convert_series

    with warnings.catch_warnings():   # pydicom warns about every odd value; validate reports what matters
        warnings.simplefilter("ignore")
        datasets = [dcmread(root / path, defer_size=DEFER_BYTES, force=False) for path in paths]
        # uneven spacing is kept (and noted) rather than refused: the reviewer should see the series; a missing
        # slice, duplicate positions or mixed geometry are refused whatever the options
        volume = convert_series(datasets, uneven="keep", tilt="keep")
    del datasets
    columns, rows, slices = volume.data.shape
    spacing = " x ".join(f"{v:.3g}" for v in volume.spacing)
    facts = [f"{columns} x {rows} x {slices} voxels of {spacing} mm"]
    facts += [note for note in volume.notes if re.match(r"(uneven|gantry tilt|GantryDetectorTilt)", note)]
    planes = volume_planes(volume.data, volume.affine, volume.spacing, None, count)
    return planes, facts


# ----------------------------------------------------------------------------------------------------------
# 2D slices: a case


def _open(path: Path) -> Any:
    from PIL import Image

    from curator.io.slices import FORMATS, MAX_DECODE_PIXELS

    image = Image.open(path, formats=FORMATS)
    if image.width * image.height > MAX_DECODE_PIXELS:
        image.close()
        raise ValueError(f"{image.width} x {image.height} pixels is more than a CT slice has; not decoded")
    return image


def _labels(path: Path) -> tuple[Labels | None, tuple[int, int] | None, str | None]:
    """A mask's label map (palette indices for a palette image), its (width, height), and why it cannot be
    overlaid (then the map is None)."""
    try:
        with _open(path) as image:
            size = image.size
            if image.mode not in ("1", "L", "P", "I", "I;16", "I;16B", "I;16L", "I;16N"):
                return None, size, f"mode {image.mode} is not a label map"
            image.load()
            if image.mode == "1":
                return (np.asarray(image.convert("L")) > 0).astype(np.uint8), size, None
            return np.asarray(image), size, None
    except Exception as error:  # Pillow raises many types for damaged data; all mean "cannot read"
        return None, None, f"cannot be read ({' '.join(str(error).split()) or type(error).__name__})"


def _grey(path: Path) -> tuple[Grey, str | None]:
    """An image slice as 8-bit grey, as stored; a 16-bit slice is stretched to its own range (and says so)."""
    with _open(path) as image:
        image.load()
        if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
            values = np.asarray(image, dtype=np.float64)
            low, high = float(values.min()), float(values.max())
            scaled = (values - low) / (high - low) * 255 if high > low else np.zeros_like(values)
            return np.round(scaled).astype(np.uint8), f"{image.mode} slice stretched to its own range"
        if image.mode != "L":
            image = image.convert("L")
        return np.asarray(image, dtype=np.uint8), None


def _size(path: Path) -> tuple[int, int] | None:
    try:
        with _open(path) as image:
            size: tuple[int, int] = image.size
            return size
    except Exception:
        return None


@dataclass
class _Scan:
    """What the masks of a case say before any slice is drawn: the slices whose masks were decoded, those with
    lesion labels, masks of another size than their image, and each mask that cannot be overlaid (and why)."""

    scanned: list[int]
    lesion: list[int] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    unusable: dict[int, str] = field(default_factory=dict)


_OTHER_SIZE: Final = "of another size than its image"


def _scan(root: Path, images: Sequence[str], masks: Sequence[str | None], lesion_values: Sequence[int]) -> _Scan:
    """Decode the masks (:data:`MAX_SCANNED` of them, evenly spaced, for a longer case) to find the lesion slices."""
    total = len(images)
    scan = _Scan(scanned=_spread(range(total), MAX_SCANNED) if total > MAX_SCANNED else list(range(total)))
    for index in scan.scanned:
        mask = masks[index]
        if mask is None:
            continue
        label_map, size, why = _labels(root / mask)
        if why is not None:
            scan.unusable[index] = why
            continue
        image_size = _size(root / images[index])
        if size is not None and image_size is not None and size != image_size:
            width, height = image_size
            scan.mismatched.append(f"{Path(mask).name} is {size[0]}x{size[1]}, its image {width}x{height}")
            scan.unusable[index] = _OTHER_SIZE
            continue
        if label_map is not None and np.isin(label_map, lesion_values).any():
            scan.lesion.append(index)
    return scan


def _chosen(lesion: Sequence[int], total: int, count: int) -> list[int]:
    """``count`` slices: the lesion slices evenly spaced, then (if fewer) evenly from the other slices."""
    chosen = _spread(lesion, count)
    if len(chosen) < count:
        taken = set(chosen)
        chosen = sorted(chosen + _spread([i for i in range(total) if i not in taken], count - len(chosen)))
    return chosen


def _case_notes(picture: CasePicture, scan: _Scan, masks: Sequence[str | None], lesion_values: Sequence[int]) -> None:
    """The case's facts line and the notes about its masks (missing, of another size, unreadable)."""
    total = len(masks)
    missing = sum(1 for mask in masks if mask is None)
    sampled = f" (looked for in {len(scan.scanned)} of {total} evenly spaced)" if total > MAX_SCANNED else ""
    labels = "/".join(map(str, lesion_values)) or "(none in the scheme)"
    picture.facts.append(f"{plural(total, 'slice')}, {total - missing} with a mask; {plural(len(scan.lesion), 'mask')} "
                         f"with lesion labels {labels}{sampled}")
    if missing:
        picture.notes.append(f"{missing} slice{'s have' if missing != 1 else ' has'} no mask: nothing overlaid")
    mismatched = scan.mismatched
    if mismatched:
        examples = "; ".join(mismatched[:2]) + (f"; {len(mismatched) - 2} more" if len(mismatched) > 2 else "")
        picture.notes.append(f"{len(mismatched)} mask{'s differ' if len(mismatched) != 1 else ' differs'} in size from "
                             f"{'their images' if len(mismatched) != 1 else 'its image'} ({examples}): not overlaid")
    odd = set(scan.unusable.values()) - {_OTHER_SIZE}
    if odd:
        picture.notes.append(f"{sum(1 for why in scan.unusable.values() if why in odd)} mask(s) not overlaid: "
                             f"{'; '.join(sorted(odd)[:2])}")


def _draw_slice(root: Path, image: str, mask: str | None, picture: CasePicture) -> None:
    """One chosen slice (and its mask, unless None) onto ``picture``; what goes wrong is a note."""
    name = Path(image).name
    try:
        grey, note = _grey(root / image)
    except Exception as error:  # a damaged slice: say so, draw the others
        picture.notes.append(f"{name} cannot be read ({_one_line(str(error) or type(error).__name__, root)})")
        return
    if note and note not in picture.notes:
        picture.notes.append(note)
    labels: Labels | None = None
    if mask is not None:
        labels, _, why = _labels(root / mask)   # scanned already unless the case is longer than MAX_SCANNED
        if why is not None:
            picture.notes.append(f"{Path(mask).name} {why}: not overlaid")
        elif labels is not None and labels.shape != grey.shape:
            labels = None
            picture.notes.append(f"{Path(mask).name} differs in size from its image: not overlaid")
    picture.slices.append((grey, labels))
    picture.names.append(name)


def case_picture(root: Path, images: Sequence[str], masks: Sequence[str | None], count: int = SLICES, *,
                 lesion_values: Sequence[int]) -> CasePicture:
    """``count`` slices of a case: ``images`` are its slices in order (release paths), ``masks`` each one's mask
    (None: none on disk); slices whose masks hold one of ``lesion_values`` (the label scheme's lesions) first."""
    picture = CasePicture(slices=[], names=[])
    if not images:
        picture.problem = "the case has no image slices"
        return picture
    scan = _scan(root, images, masks, lesion_values)
    _case_notes(picture, scan, masks, lesion_values)
    for index in _chosen(scan.lesion, len(images), count):
        _draw_slice(root, images[index], masks[index] if index not in scan.unusable else None, picture)
    if not picture.slices:
        picture.problem = "no slice of the case could be read"
    return picture
