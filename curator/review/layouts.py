"""Pictures for the review page of the two layouts without NIfTI studies (``curator review``).

* :func:`dicom_picture`: one patient folder of the ``dicom`` profile. Its files' headers are read and grouped into
  series exactly as ``curator validate`` does (:func:`curator.io.dicom.read_task`, :func:`~curator.io.dicom.
  group_series`); the largest CT series (most images) is read with its pixels and converted into an HU volume by
  ``curator ingest``'s converter (:func:`curator.ingest.convert.convert_series`), which refuses a series that is
  not one regular volume (a missing slice, mixed geometry, pixels that cannot be decoded). A refused series is
  named with the converter's reason and the next largest is tried, so the card still shows the patient when
  another series is whole. One series is in memory at a time.
* :func:`case_picture`: one case of the ``slices`` profile (CNCB): 2D JPG/PNG slices with PNG label masks of the
  same name. The masks are decoded to find the slices with lesion labels (2 ground-glass, 3 consolidation); a few
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
from typing import Any, Final

import numpy as np

from curator.review.strips import SLICES, Grey, Labels, Planes, volume_planes

__all__ = ["MAX_SCANNED", "MAX_TRIES", "CasePicture", "SeriesPicture", "case_picture", "dicom_picture"]

#: Series of one patient tried, largest first, before the card gives up.
MAX_TRIES: Final = 3
#: Masks of one case decoded to look for lesion labels; a longer case is sampled evenly.
MAX_SCANNED: Final = 400
#: pydicom reads elements larger than this only when they are used: a series refused for its geometry costs
#: its headers, not its pixels.
DEFER_BYTES: Final = 64 * 1024
LESION_LABELS: Final = (2, 3)
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


def dicom_picture(root: Path, files: Sequence[str], count: int = SLICES) -> SeriesPicture:
    """Read the headers of ``files`` (release paths of one patient folder), pick its largest CT series and
    convert it; the axial planes of the first series that converts."""
    from curator.io.dicom import MEDIA_STORAGE_DIRECTORY, DicomFile, group_series, read_task

    headers: list[DicomFile] = []
    unreadable = 0
    for path in files:
        header, _ = read_task((root, path, False))
        if isinstance(header, str):
            unreadable += 1
        elif header is not None and header.sop_class_uid != MEDIA_STORAGE_DIRECTORY:
            headers.append(header)
    picture = SeriesPicture(planes=None)
    if unreadable:
        picture.notes.append(f"{unreadable} file{'s' if unreadable != 1 else ''} in the folder "
                             f"{'are' if unreadable != 1 else 'is'} not readable DICOM (the findings name them)")
    series = group_series(headers)
    candidates = []
    others = []
    for one in series:
        images = [f for f in one.files if f.is_image and not f.is_localizer and f.sop_class_uid != _SEGMENTATION_SOP]
        if images and one.files[0].modality in ("CT", ""):
            candidates.append((one, images))
        else:
            others.append(_describe(one.label, len(one.files)) + (f" {one.files[0].modality}"
                                                                  if one.files[0].modality else ""))
    # most images first; between equally large series a lung reconstruction (what this page is for), then the
    # lower series number
    candidates.sort(key=lambda c: (-sum(f.frames for f in c[1]), "LUNG" not in c[0].files[0].series_description.upper(),
                                   c[0].series_number or 0, c[0].label))
    if not candidates:
        found = f"{len(headers)} DICOM file{'s' if len(headers) != 1 else ''}" if headers else "no DICOM file"
        picture.problem = f"no CT image series to draw in this folder ({found})"
        picture.facts += [f"other series: {', '.join(others)}"] if others else []
        return picture

    refused: list[str] = []
    tried = 0
    for one, images in candidates[:MAX_TRIES]:
        tried += 1
        frames = sum(f.frames for f in images)
        name = _describe(one.label, frames)
        left_out = len(one.files) - len(images)
        try:
            planes, volume_facts = _convert(root, [f.path for f in images], count)
        except Exception as error:  # ConversionError, or whatever a hostile file makes the reader raise
            reason = _one_line(str(error) or type(error).__name__, root)
            refused.append(f"{name} cannot be converted: {reason}")
            continue
        picture.planes = planes
        picture.facts.append(f"drawn: {name}, {volume_facts[0]}")
        if left_out:
            picture.notes.append(f"{left_out} file{'s' if left_out != 1 else ''} of the series left out "
                                 "(localizer or not an image)")
        picture.notes += volume_facts[1:] + planes.notes
        break
    rest = [_describe(one.label, sum(f.frames for f in images)) for one, images in candidates[tried:]] + others
    if rest:
        shown = rest[:LISTED_SERIES]
        more = f" and {len(rest) - len(shown)} more" if len(rest) > len(shown) else ""
        picture.facts.append(f"other series: {', '.join(shown)}{more}")
    if picture.planes is None and len(refused) == 1:
        picture.problem = refused[0]
    elif picture.planes is None:
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


def case_picture(root: Path, images: Sequence[str], masks: Sequence[str | None], count: int = SLICES) -> CasePicture:
    """``count`` slices of a case: ``images`` are its slices in order (release paths), ``masks`` each one's mask
    (None: none on disk)."""
    picture = CasePicture(slices=[], names=[])
    total = len(images)
    if not total:
        picture.problem = "the case has no image slices"
        return picture
    scanned = _spread(range(total), MAX_SCANNED) if total > MAX_SCANNED else list(range(total))
    lesion: list[int] = []
    mismatched: list[str] = []
    unusable: dict[int, str] = {}
    for index in scanned:
        mask = masks[index]
        if mask is None:
            continue
        label_map, size, why = _labels(root / mask)
        if why is not None:
            unusable[index] = why
            continue
        image_size = _size(root / images[index])
        if size is not None and image_size is not None and size != image_size:
            mismatched.append(f"{Path(mask).name} is {size[0]}x{size[1]}, its image {image_size[0]}x{image_size[1]}")
            unusable[index] = "of another size than its image"
            continue
        if label_map is not None and np.isin(label_map, LESION_LABELS).any():
            lesion.append(index)
    chosen = _spread(lesion, count)
    if len(chosen) < count:   # fewer lesion slices than tiles: the rest evenly from the other slices
        taken = set(chosen)
        chosen = sorted(chosen + _spread([i for i in range(total) if i not in taken], count - len(chosen)))

    missing = sum(1 for mask in masks if mask is None)
    sampled = f" (looked for in {len(scanned)} of {total} evenly spaced)" if total > MAX_SCANNED else ""
    picture.facts.append(f"{total} slice{'s' if total != 1 else ''}, {total - missing} with a mask; {len(lesion)} "
                         f"mask{'s' if len(lesion) != 1 else ''} with lesion labels {'/'.join(map(str, LESION_LABELS))}"
                         f"{sampled}")
    if missing:
        picture.notes.append(f"{missing} slice{'s have' if missing != 1 else ' has'} no mask: nothing overlaid")
    if mismatched:
        examples = "; ".join(mismatched[:2]) + (f"; {len(mismatched) - 2} more" if len(mismatched) > 2 else "")
        picture.notes.append(f"{len(mismatched)} mask{'s differ' if len(mismatched) != 1 else ' differs'} in size from "
                             f"{'their images' if len(mismatched) != 1 else 'its image'} ({examples}): not overlaid")
    odd = set(unusable.values()) - {"of another size than its image"}
    if odd:
        picture.notes.append(f"{sum(1 for why in unusable.values() if why in odd)} mask(s) not overlaid: "
                             f"{'; '.join(sorted(odd)[:2])}")

    for index in chosen:
        name = Path(images[index]).name
        try:
            grey, note = _grey(root / images[index])
        except Exception as error:  # a damaged slice: say so, draw the others
            picture.notes.append(f"{name} cannot be read ({_one_line(str(error) or type(error).__name__, root)})")
            continue
        if note and note not in picture.notes:
            picture.notes.append(note)
        labels: Labels | None = None
        mask = masks[index]
        if mask is not None and index not in unusable:
            labels, _, why = _labels(root / mask)   # scanned above unless the case is longer than MAX_SCANNED
            if why is not None:
                picture.notes.append(f"{Path(mask).name} {why}: not overlaid")
            elif labels is not None and labels.shape != grey.shape:
                labels = None
                picture.notes.append(f"{Path(mask).name} differs in size from its image: not overlaid")
        picture.slices.append((grey, labels))
        picture.names.append(name)
    if not picture.slices:
        picture.problem = "no slice of the case could be read"
    return picture
