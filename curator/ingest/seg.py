"""DICOM Segmentation (SEG) objects -> a label mask on the grid of a converted CT volume (``curator ingest``).

Lesion masks may come with the studies as DICOM SEG objects drawn on the full original series, while the volume
holds only the images ``curator ingest`` kept (every 10th in the MosMed pipeline). ``mask_from_seg(ds, affine,
shape)`` places each frame of the SEG onto the volume's grid and returns a ``SegMask`` whose ``data`` has exactly
the volume's shape; anything in the SEG that prevents a correct mask raises ``SegError``, whose message says what
was expected, what was found and what to do. Nothing else escapes for bad data.

Conventions (those of ``curator.ingest.convert``):

- The mask is uint8 with shape (columns, rows, slices) = NIfTI (i, j, k): i runs along the frame's row direction
  cosine (DICOM columns), j along its column direction cosine (DICOM rows). Pixel (row r, column c) of a frame that
  lies on slice k becomes voxel (i=c, j=r, k). ``affine`` maps voxels to RAS+ mm; DICOM positions are LPS, so x and
  y are negated before ``inv(affine)`` maps them to voxel coordinates.
- A frame maps onto the volume only when its pixel grid coincides with the volume's: same rows and columns, and
  every corner of the frame within ``tolerance_mm`` (in-plane) of the voxel of the same index. That single test
  covers orientation, pixel spacing and in-plane origin; the error names which of them differ and by how much.
  A frame that is not parallel to the volume's slices is refused the same way.
- Along the slice normal, a frame within ``tolerance_mm`` of slice k is on that slice. A frame between two slices
  of the volume (or less than one slice step beyond its first or last slice) belongs to an image the conversion
  left out: it is dropped, and the notes say how many frames and foreground pixels that were. A frame at a slice
  position outside the volume means the SEG covers more of the patient than the volume does (another series, or
  images left out at the ends): with foreground it is refused (``outside="refuse"``, the default, since the mask
  would silently lose lesion) or dropped with a note (``outside="drop"``). Empty frames never matter.
- ``tolerance_mm`` is absolute, 0.05 mm by default, not relative to the volume's spacing: the frames to be told
  apart from the kept slices are one step of the *source* series away (>= 0.5 mm on any chest CT), whatever the
  volume's own (subsampled) spacing; positions written by scanners and SEG writers agree to about 1e-3 mm; and
  0.05 mm is under a tenth of a CT pixel, so a grid that passes is placed to well within a voxel.
- BINARY frames are 1 bit per pixel, packed across frame boundaries; FRACTIONAL frames are 8 bit, foreground where
  value >= 50 % of MaximumFractionalValue. ``merge="binary"`` writes 1 for any segment; ``merge="labels"`` writes
  the segment number (at most 255) and refuses voxels claimed by two segments, which one label cannot hold. Two
  frames of one segment on one slice are combined (union).

Beside this module: ``seg_records`` (SegError, SegMask and the records of segments and frames), ``seg_grid``
(placing the frames on the volume's grid), ``seg_pixels`` (reading the frames' pixels).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from curator.ingest.convert_headers import one_line, vector
from curator.ingest.seg_grid import frame_positions
from curator.ingest.seg_pixels import Pixels
from curator.ingest.seg_records import FloatArray, Frames, SegError, SegMask, Segment, Tally
from curator.io.dicom import element_value, finite_numbers, group_value, whole_number

__all__ = ["SEGMENTATION_STORAGE", "SegError", "SegMask", "is_segmentation", "mask_from_seg",
           "referenced_instances", "referenced_series"]

Merge = Literal["binary", "labels"]
Outside = Literal["refuse", "drop"]

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
OTHER_SEG_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.66.5": "Surface Segmentation Storage (meshes, not frames of pixels)",
    "1.2.840.10008.5.1.4.1.1.66.7": "Label Map Segmentation Storage (one label value per pixel)",
}
DEFAULT_TOLERANCE_MM = 0.05


# --- recognising and referencing -----------------------------------------------------------------------------------

def is_segmentation(ds: Dataset) -> bool:
    """True for a Segmentation Storage object (SOP class 1.2.840.10008.5.1.4.1.1.66.4) or any Modality SEG."""
    try:
        sop_class = str(ds.get("SOPClassUID") or "").strip()
        if not sop_class:
            meta = getattr(ds, "file_meta", None)
            sop_class = str(meta.get("MediaStorageSOPClassUID") or "").strip() if meta is not None else ""
        return sop_class == SEGMENTATION_STORAGE or str(ds.get("Modality") or "").strip().upper() == "SEG"
    except Exception:  # a malformed element: not something to route as a segmentation
        return False


def _items(ds: Dataset, keyword: str) -> list[Dataset]:
    try:
        value = ds.get(keyword)
        return [item for item in value if isinstance(item, Dataset)] if value else []
    except Exception:  # a malformed sequence holds no usable reference
        return []


def _uids(items: Sequence[Dataset], keyword: str) -> set[str]:
    found: set[str] = set()
    for item in items:
        try:
            value = str(item.get(keyword) or "").strip()
        except Exception:  # an unreadable UID is no reference
            continue
        if value:
            found.add(value)
    return found


def _series_items(ds: Dataset) -> list[Dataset]:
    """ReferencedSeriesSequence items, also those under StudiesContainingOtherReferencedInstancesSequence."""
    items = _items(ds, "ReferencedSeriesSequence")
    for study in _items(ds, "StudiesContainingOtherReferencedInstancesSequence"):
        items.extend(_items(study, "ReferencedSeriesSequence"))
    return items


def _source_items(ds: Dataset) -> list[Dataset]:
    """Per-frame (and shared) DerivationImageSequence > SourceImageSequence items, and a top-level
    SourceImageSequence."""
    groups = _items(ds, "PerFrameFunctionalGroupsSequence") + _items(ds, "SharedFunctionalGroupsSequence")
    items = _items(ds, "SourceImageSequence")
    for group in groups:
        for derivation in _items(group, "DerivationImageSequence"):
            items.extend(_items(derivation, "SourceImageSequence"))
    return items


def referenced_series(ds: Dataset) -> set[str]:
    """The SeriesInstanceUIDs the SEG references: ReferencedSeriesSequence (also inside
    StudiesContainingOtherReferencedInstancesSequence), plus any SeriesInstanceUID a per-frame
    DerivationImageSequence/SourceImageSequence item carries. The standard's source image items name SOP instances,
    not series: match those against the series' SOPInstanceUIDs with ``referenced_instances``."""
    return _uids(_series_items(ds), "SeriesInstanceUID") | _uids(_source_items(ds), "SeriesInstanceUID")


def referenced_instances(ds: Dataset) -> set[str]:
    """The SOPInstanceUIDs of the images the SEG references (ReferencedSeriesSequence > ReferencedInstanceSequence,
    and the per-frame DerivationImageSequence > SourceImageSequence items)."""
    instances: list[Dataset] = []
    for series in _series_items(ds):
        instances.extend(_items(series, "ReferencedInstanceSequence"))
    return _uids(instances, "ReferencedSOPInstanceUID") | _uids(_source_items(ds), "ReferencedSOPInstanceUID")


# --- reading the header --------------------------------------------------------------------------------------------

def _integer(ds: Dataset, keyword: str, what: str = "the SEG") -> int:
    value = element_value(ds, keyword)
    if value is None:
        raise SegError(f"{what} has no {keyword}. A Segmentation object must carry it; re-export the SEG with a "
                       "conforming writer (e.g. highdicom, dcmqi).")
    number = whole_number(value)
    if isinstance(number, str):
        raise SegError(f"{what}: {keyword} {number}.")
    return number


def _numbers(value: object, count: int, keyword: str, where: str) -> tuple[float, ...]:
    if value is None:   # group_value: absent or empty
        raise SegError(f"{where} has no {keyword} (looked in the per-frame and the shared functional groups): the "
                       "frame cannot be placed on the volume. A SEG must give every frame's geometry; re-export it "
                       "with a conforming writer.")
    numbers = finite_numbers(value, count)
    if isinstance(numbers, str):
        raise SegError(f"{where}: {keyword} {numbers}.")
    return numbers


def _kind(ds: Dataset) -> tuple[str, int | None, list[str]]:
    """(SegmentationType, MaximumFractionalValue or None, notes) after checking the pixel description."""
    sop_class = str(ds.get("SOPClassUID") or "").strip()
    if sop_class in OTHER_SEG_CLASSES:
        raise SegError(f"the object is a {OTHER_SEG_CLASSES[sop_class]}; curator reads Segmentation Storage "
                       f"({SEGMENTATION_STORAGE}) objects of type BINARY or FRACTIONAL. Export the segmentation as "
                       "such a SEG, or as a NIfTI mask on the volume.")
    if not is_segmentation(ds):
        raise SegError(f"the object is not a DICOM Segmentation (SOPClassUID {sop_class or 'missing'}, Modality "
                       f"{one_line(ds.get('Modality') or 'missing')}); expected SOP class {SEGMENTATION_STORAGE}. "
                       "Pass the SEG file that holds the lesion masks.")
    kind = one_line(ds.get("SegmentationType") or "").upper()
    bits = _integer(ds, "BitsAllocated")
    samples = int(ds.get("SamplesPerPixel") or 1)
    if samples != 1:
        raise SegError(f"the SEG has SamplesPerPixel {samples}; a segmentation frame holds one value per pixel.")
    if kind == "BINARY":
        if bits != 1:
            raise SegError(f"the SEG is BINARY but BitsAllocated is {bits}; a BINARY segmentation stores 1 bit per "
                           "pixel. The file is malformed: re-export it.")
        return kind, None, []
    if kind == "FRACTIONAL":
        if bits != 8:
            raise SegError(f"the SEG is FRACTIONAL but BitsAllocated is {bits}; a FRACTIONAL segmentation stores "
                           "8 bits per pixel. The file is malformed: re-export it.")
        maximum = _integer(ds, "MaximumFractionalValue", "the FRACTIONAL SEG")
        if not 1 <= maximum <= 255:
            raise SegError(f"the SEG's MaximumFractionalValue is {maximum}; it must lie in 1..255.")
        fractional = one_line(ds.get("SegmentationFractionalType") or "unspecified")
        threshold = (maximum + 1) // 2
        return kind, maximum, [f"FRACTIONAL ({fractional}) segmentation thresholded at 50 % of "
                               f"MaximumFractionalValue {maximum} (foreground where value >= {threshold})"]
    if kind == "LABELMAP":
        raise SegError("the SEG is of SegmentationType LABELMAP (one label value per pixel), which curator does not "
                       "read yet; expected BINARY or FRACTIONAL. Export the segmentation as a BINARY SEG.")
    raise SegError(f"the SEG's SegmentationType is {kind or 'missing'!r}; expected BINARY or FRACTIONAL. The file is "
                   "malformed or of an unknown kind: re-export it.")


def _segments(ds: Dataset) -> dict[int, Segment]:
    items = ds.get("SegmentSequence")
    if not items:
        raise SegError("the SEG has no SegmentSequence, so its frames' segments are undefined. A Segmentation object "
                       "must describe each segment; re-export it with a conforming writer.")
    segments: dict[int, Segment] = {}
    for index, item in enumerate(items):
        number = _integer(item, "SegmentNumber", f"item {index + 1} of the SegmentSequence")
        if number < 1:
            raise SegError(f"item {index + 1} of the SegmentSequence has SegmentNumber {number}; numbers start at 1.")
        if number in segments:
            raise SegError(f"SegmentNumber {number} is described twice in the SegmentSequence; each segment is "
                           "described once. The file is malformed: re-export it.")
        label = one_line(item.get("SegmentLabel") or "") or f"segment {number}"
        segments[number] = Segment(number, label)
    return segments


def _frames(ds: Dataset, count: int, segments: dict[int, Segment]) -> Frames:
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared_items = ds.get("SharedFunctionalGroupsSequence")
    if per_frame is None or len(per_frame) != count:
        found = "no PerFrameFunctionalGroupsSequence" if per_frame is None else f"{len(per_frame)} items in it"
        raise SegError(f"the SEG has {count} frames but {found}: the position and segment of each frame are unknown. "
                       "A Segmentation object carries one per-frame functional group per frame; re-export it.")
    shared = [shared_items[0]] if shared_items else []
    numbers: list[int] = []
    origin, rows, cols, spacing = [], [], [], []
    for frame in range(count):
        groups = [per_frame[frame], *shared]
        where = f"frame {frame + 1} of the SEG"
        number_value = group_value(groups, "SegmentIdentificationSequence", "ReferencedSegmentNumber")
        number = int(_numbers(number_value, 1, "ReferencedSegmentNumber", where)[0])
        if number not in segments:
            raise SegError(f"{where} belongs to segment {number}, which the SegmentSequence does not describe (it "
                           f"describes {', '.join(str(n) for n in sorted(segments))}). The file is malformed: "
                           "re-export it.")
        numbers.append(number)
        origin.append(_numbers(group_value(groups, "PlanePositionSequence", "ImagePositionPatient"), 3,
                               "ImagePositionPatient", where))
        cosines = _numbers(group_value(groups, "PlaneOrientationSequence", "ImageOrientationPatient"), 6,
                           "ImageOrientationPatient", where)
        row, col = np.array(cosines[:3]), np.array(cosines[3:])
        row_length, col_length = float(np.linalg.norm(row)), float(np.linalg.norm(col))
        if row_length < 0.5 or col_length < 0.5 or abs(float(row @ col)) > 1e-2 * row_length * col_length:
            raise SegError(f"{where}: ImageOrientationPatient {vector(cosines)} does not hold two perpendicular unit "
                           "direction vectors.")
        rows.append(row / row_length)
        cols.append(col / col_length)
        pixel_spacing = _numbers(group_value(groups, "PixelMeasuresSequence", "PixelSpacing"), 2, "PixelSpacing", where)
        if min(pixel_spacing) <= 0:
            raise SegError(f"{where}: PixelSpacing {vector(pixel_spacing)} is not positive.")
        spacing.append(pixel_spacing)
    return Frames(segments=numbers, origin=np.array(origin, dtype=np.float64), row=np.array(rows, dtype=np.float64),
                   col=np.array(cols, dtype=np.float64), spacing=np.array(spacing, dtype=np.float64))


# --- the public function -------------------------------------------------------------------------------------------

def mask_from_seg(ds: Dataset, affine: npt.ArrayLike, shape: tuple[int, int, int], *, merge: Merge = "binary",
                  tolerance_mm: float = DEFAULT_TOLERANCE_MM, outside: Outside = "refuse") -> SegMask:
    """The SEG ``ds`` as a uint8 mask on the volume with ``affine`` (4x4, voxel -> RAS+ mm) and ``shape``
    (columns, rows, slices), e.g. ``mask_from_seg(seg, volume.affine, volume.data.shape)``.

    ``merge="binary"`` writes 1 wherever any segment is; ``merge="labels"`` writes each segment's number.
    ``tolerance_mm`` is how far a frame may lie from the volume's grid (in-plane) and from a slice (along the normal)
    and still be on it. ``outside`` says what a frame with foreground at a slice position outside the volume does:
    "refuse" (SegError) or "drop" (noted). Raises SegError for anything in the SEG that prevents a correct mask
    (see the module docstring), ValueError for arguments that are not a volume's geometry.
    """
    if merge not in ("binary", "labels"):
        raise ValueError(f"merge must be 'binary' or 'labels', not {merge!r}")
    if outside not in ("refuse", "drop"):
        raise ValueError(f"outside must be 'refuse' or 'drop', not {outside!r}")
    matrix = np.asarray(affine, dtype=np.float64)
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)) or abs(float(np.linalg.det(matrix[:3, :3]))) < 1e-12:
        raise ValueError("affine must be a finite, invertible 4x4 matrix (a volume's voxel -> RAS+ mm)")
    if len(shape) != 3 or not all(isinstance(n, int | np.integer) and n > 0 for n in shape):
        raise ValueError(f"shape must be three positive whole numbers (columns, rows, slices), not {shape!r}")
    size = (int(shape[0]), int(shape[1]), int(shape[2]))
    smallest = min(float(np.linalg.norm(matrix[:3, 0])), float(np.linalg.norm(matrix[:3, 1])),
                   abs(float(np.linalg.det(matrix[:3, :3]))) / float(np.linalg.norm(np.cross(matrix[:3, 0],
                                                                                              matrix[:3, 1]))))
    if not (math.isfinite(tolerance_mm) and 0 <= tolerance_mm < smallest / 2):
        raise ValueError(f"tolerance_mm must be at least 0 and less than half the smallest voxel spacing "
                         f"({smallest / 2:g} mm), not {tolerance_mm!r}")
    if not isinstance(ds, Dataset):
        raise SegError(f"expected a pydicom Dataset holding a DICOM SEG, found a {type(ds).__name__}.")
    try:
        return _mask(ds, matrix, size, merge, tolerance_mm, outside)
    except SegError:
        raise
    except Exception as error:  # a malformed element pydicom only notices when it is read: the boundary
        raise SegError(f"the SEG cannot be read ({one_line(error) or type(error).__name__}). Check the file with "
                       "`curator validate`, or re-export the segmentation.") from error


def _mask(ds: Dataset, affine: FloatArray, shape: tuple[int, int, int], merge: Merge, tolerance_mm: float,
          outside: Outside) -> SegMask:
    kind, maximum, notes = _kind(ds)
    columns, rows, slices = shape
    seg_rows, seg_columns = _integer(ds, "Rows"), _integer(ds, "Columns")
    if (seg_rows, seg_columns) != (rows, columns):
        raise SegError(f"the SEG's frames are {seg_rows} rows x {seg_columns} columns where the volume's slices are "
                       f"{rows} rows x {columns} columns (volume shape {shape} = columns, rows, slices). A SEG maps "
                       "onto the series it was drawn on, converted without in-plane resampling: check that it "
                       "references this series.")
    count = _integer(ds, "NumberOfFrames")
    if count < 1:
        raise SegError(f"the SEG's NumberOfFrames is {count}; a segmentation holds at least one frame.")
    segments = _segments(ds)
    frames = _frames(ds, count, segments)
    k, off = frame_positions(frames, affine, shape, tolerance_mm, segments)
    pixels = Pixels(ds, count, rows, columns, 1 if kind == "BINARY" else 8)
    threshold = 1 if maximum is None else (maximum + 1) // 2

    out = np.zeros((slices, rows, columns), dtype=np.uint8)      # filled per slice; returned as (i, j, k)
    seen: set[tuple[int, int]] = set()
    tally = Tally()
    on_slices = between_count = outside_count = 0
    overlap = 0
    for index in range(count):
        frame = pixels.frame(index)
        if maximum is not None and int(frame.max()) > maximum:
            raise SegError(f"frame {index + 1} of the SEG holds value {int(frame.max())}, above its "
                           f"MaximumFractionalValue {maximum}. The file is malformed: re-export it.")
        foreground = frame >= threshold
        found = int(np.count_nonzero(foreground))
        number = frames.segments[index]
        tally.add(tally.total, number, found)
        nearest = round(float(k[index]))
        on_grid = float(off[index]) <= tolerance_mm
        if on_grid and 0 <= nearest < slices:
            on_slices += 1
            if not found:
                continue
            if (number, nearest) in seen:
                tally.repeated += 1
            seen.add((number, nearest))
            tally.add(tally.kept, number, found)
            plane = out[nearest]
            value = 1 if merge == "binary" else number
            if merge == "labels":
                if number > 255:
                    raise SegError(f"{segments[number]} has foreground, and merge='labels' writes segment numbers "
                                   "as uint8 values (1..255). Use merge='binary', or renumber the segments.")
                before = plane[foreground]
                overlap += int(np.count_nonzero((before != 0) & (before != value)))
            plane[foreground] = value
        elif not on_grid and -1 < float(k[index]) < slices:
            between_count += 1
            if found:
                tally.between_frames += 1
                tally.add(tally.between, number, found)
        else:
            outside_count += 1
            if found:
                tally.outside_frames.append(index)
                tally.add(tally.outside, number, found)
    if overlap:
        raise SegError(f"{overlap} voxels belong to two segments at once; merge='labels' writes one segment number "
                       "per voxel and would lose one of them. Use merge='binary' (any segment -> 1), or split the "
                       "segments into separate masks.")
    if tally.outside_frames and outside == "refuse":
        raise SegError(_outside_message(tally, k, segments, slices, affine))

    data = out.transpose(2, 1, 0)                                # (columns, rows, slices): NIfTI's order on disk
    data.flags.writeable = False
    present = tuple(n for n in sorted(segments) if tally.kept.get(n, 0) > 0)
    notes.insert(0, f"{kind} SEG of {len(segments)} segment(s), {count} frames: {on_slices} on the volume's "
                    f"{slices} slices, {between_count} between them, {outside_count} outside")
    notes.extend(_notes(tally, segments, present, merge))
    if not np.any(out):
        notes.append("the mask is empty: no foreground of the SEG lies on the volume's slices")
    return SegMask(data=data, notes=tuple(notes), segments=tuple(segments[n].label for n in present))


def _outside_message(tally: Tally, k: FloatArray, segments: dict[int, Segment], slices: int,
                     affine: FloatArray) -> str:
    where = k[tally.outside_frames]
    step = abs(float(affine[:3, 2] @ np.cross(affine[:3, 0], affine[:3, 1]))
               / float(np.linalg.norm(np.cross(affine[:3, 0], affine[:3, 1]))))
    before = float(-where.min()) * step if float(where.min()) < 0 else 0.0
    after = float(where.max() - (slices - 1)) * step if float(where.max()) > slices - 1 else 0.0
    reach = " and ".join(part for part in (f"{before:.4g} mm before its first slice" if before else "",
                                           f"{after:.4g} mm beyond its last slice" if after else "") if part)
    names = ", ".join(str(segments[n]) for n in sorted(tally.outside))
    return (f"{len(tally.outside_frames)} frames of the SEG with foreground ({names}: {sum(tally.outside.values())} "
            f"pixels) lie outside the volume, up to {reach}. Expected the SEG's frames within the volume's "
            "extent: the SEG was drawn on a series that covers more than the converted volume (another series, or "
            "images left out at the ends). Convert the series the SEG references in full, or pass outside='drop' "
            "to keep only the part inside the volume.")


def _notes(tally: Tally, segments: dict[int, Segment], present: tuple[int, ...], merge: Merge) -> list[str]:
    notes: list[str] = []
    total = sum(tally.total.values())
    if tally.between_frames:
        lost = sum(tally.between.values())
        notes.append(f"{tally.between_frames} frames with foreground lie between the volume's slices (images the "
                     f"conversion left out) and were dropped: {lost} of the SEG's {total} foreground pixels are "
                     "not in the mask")
    if tally.outside_frames:
        lost = sum(tally.outside.values())
        notes.append(f"{len(tally.outside_frames)} frames with foreground lie outside the volume and were dropped "
                     f"(outside='drop'): {lost} of the SEG's {total} foreground pixels are not in the mask")
    if tally.repeated:
        notes.append(f"{tally.repeated} frames repeat a segment on a slice that another frame already gave; "
                     "combined (union)")
    for number in sorted(segments):
        if tally.total.get(number, 0) and not tally.kept.get(number, 0):
            notes.append(f"{segments[number]} has foreground only off the volume's slices: the mask does not "
                         "hold it")
    if merge == "binary" and len(present) > 1:
        names = ", ".join(segments[n].label for n in present)
        notes.append(f"{len(present)} segments merged into label 1 ({names})")
    if merge == "labels" and present:
        notes.append("label values are segment numbers: " + ", ".join(f"{n} = {segments[n].label}" for n in present))
    return notes
