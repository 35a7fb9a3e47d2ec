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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.uid import UID

from curator.io.dicom import MAX_DECODED_BYTES, finite_numbers, missing_decoder

__all__ = ["SEGMENTATION_STORAGE", "SegError", "SegMask", "is_segmentation", "mask_from_seg",
           "referenced_instances", "referenced_series"]

Merge = Literal["binary", "labels"]
Outside = Literal["refuse", "drop"]
FloatArray = npt.NDArray[np.float64]

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
OTHER_SEG_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.66.5": "Surface Segmentation Storage (meshes, not frames of pixels)",
    "1.2.840.10008.5.1.4.1.1.66.7": "Label Map Segmentation Storage (one label value per pixel)",
}
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
DEFAULT_TOLERANCE_MM = 0.05


class SegError(Exception):
    """The SEG cannot become a mask on this volume; the message says what was expected, found, and what to do."""


@dataclass(frozen=True, eq=False)  # eq=False: arrays do not compare to one truth value
class SegMask:
    """A SEG on a volume's grid. ``data`` is read-only uint8 with the volume's shape (columns, rows, slices)."""

    data: npt.NDArray[np.uint8]
    notes: tuple[str, ...]                # facts for the provenance record
    segments: tuple[str, ...]             # labels of the segments with foreground in ``data``, by segment number


@dataclass(frozen=True)
class _Segment:
    number: int
    label: str

    def __str__(self) -> str:
        return f"segment {self.number} ({self.label!r})"


@dataclass
class _Frames:
    """What the frames say of themselves, before any pixel is read."""

    segments: list[int]                   # ReferencedSegmentNumber per frame
    origin: FloatArray                    # (n, 3) ImagePositionPatient, LPS mm
    row: FloatArray                       # (n, 3) unit row direction (increasing column index)
    col: FloatArray                       # (n, 3) unit column direction (increasing row index)
    spacing: FloatArray                   # (n, 2) PixelSpacing: (between rows, between columns) mm


@dataclass
class _Tally:
    """Per segment: foreground pixels in the SEG, on the volume's slices, between them, outside."""

    total: dict[int, int] = field(default_factory=dict)
    kept: dict[int, int] = field(default_factory=dict)
    between: dict[int, int] = field(default_factory=dict)
    outside: dict[int, int] = field(default_factory=dict)
    between_frames: int = 0
    outside_frames: list[int] = field(default_factory=list)
    repeated: int = 0

    def add(self, bucket: dict[int, int], segment: int, count: int) -> None:
        bucket[segment] = bucket.get(segment, 0) + count


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

def _text(value: object) -> str:
    return " ".join(str(value).split())


def _vector(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"


def _integer(ds: Dataset, keyword: str, what: str = "the SEG") -> int:
    value = ds.get(keyword)
    if value is None or value == "":
        raise SegError(f"{what} has no {keyword}. A Segmentation object must carry it; re-export the SEG with a "
                       "conforming writer (e.g. highdicom, dcmqi).")
    try:
        return int(value)
    except (TypeError, ValueError) as error:
        raise SegError(f"{what}: {keyword} {_text(value)!r} is not a whole number.") from error


def _numbers(value: object, count: int, keyword: str, where: str) -> tuple[float, ...]:
    if value is None or value == "":
        raise SegError(f"{where} has no {keyword} (looked in the per-frame and the shared functional groups): the "
                       "frame cannot be placed on the volume. A SEG must give every frame's geometry; re-export it "
                       "with a conforming writer.")
    numbers = finite_numbers(value, count)
    if isinstance(numbers, str):
        raise SegError(f"{where}: {keyword} {numbers}.")
    return numbers


def _lookup(groups: list[Dataset], sequence: str, keyword: str) -> object:
    """``keyword`` from the first functional group (per-frame, then shared) whose ``sequence`` has it."""
    for group in groups:
        items = group.get(sequence)
        if items:
            value = items[0].get(keyword)
            if value is not None and value != "":
                return value
    return None


def _kind(ds: Dataset) -> tuple[str, int | None, list[str]]:
    """(SegmentationType, MaximumFractionalValue or None, notes) after checking the pixel description."""
    sop_class = str(ds.get("SOPClassUID") or "").strip()
    if sop_class in OTHER_SEG_CLASSES:
        raise SegError(f"the object is a {OTHER_SEG_CLASSES[sop_class]}; curator reads Segmentation Storage "
                       f"({SEGMENTATION_STORAGE}) objects of type BINARY or FRACTIONAL. Export the segmentation as "
                       "such a SEG, or as a NIfTI mask on the volume.")
    if not is_segmentation(ds):
        raise SegError(f"the object is not a DICOM Segmentation (SOPClassUID {sop_class or 'missing'}, Modality "
                       f"{_text(ds.get('Modality') or 'missing')}); expected SOP class {SEGMENTATION_STORAGE}. "
                       "Pass the SEG file that holds the lesion masks.")
    kind = _text(ds.get("SegmentationType") or "").upper()
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
        fractional = _text(ds.get("SegmentationFractionalType") or "unspecified")
        threshold = (maximum + 1) // 2
        return kind, maximum, [f"FRACTIONAL ({fractional}) segmentation thresholded at 50 % of "
                               f"MaximumFractionalValue {maximum} (foreground where value >= {threshold})"]
    if kind == "LABELMAP":
        raise SegError("the SEG is of SegmentationType LABELMAP (one label value per pixel), which curator does not "
                       "read yet; expected BINARY or FRACTIONAL. Export the segmentation as a BINARY SEG.")
    raise SegError(f"the SEG's SegmentationType is {kind or 'missing'!r}; expected BINARY or FRACTIONAL. The file is "
                   "malformed or of an unknown kind: re-export it.")


def _segments(ds: Dataset) -> dict[int, _Segment]:
    items = ds.get("SegmentSequence")
    if not items:
        raise SegError("the SEG has no SegmentSequence, so its frames' segments are undefined. A Segmentation object "
                       "must describe each segment; re-export it with a conforming writer.")
    segments: dict[int, _Segment] = {}
    for index, item in enumerate(items):
        number = _integer(item, "SegmentNumber", f"item {index + 1} of the SegmentSequence")
        if number < 1:
            raise SegError(f"item {index + 1} of the SegmentSequence has SegmentNumber {number}; numbers start at 1.")
        if number in segments:
            raise SegError(f"SegmentNumber {number} is described twice in the SegmentSequence; each segment is "
                           "described once. The file is malformed: re-export it.")
        label = _text(item.get("SegmentLabel") or "") or f"segment {number}"
        segments[number] = _Segment(number, label)
    return segments


def _frames(ds: Dataset, count: int, segments: dict[int, _Segment]) -> _Frames:
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
        number_value = _lookup(groups, "SegmentIdentificationSequence", "ReferencedSegmentNumber")
        number = int(_numbers(number_value, 1, "ReferencedSegmentNumber", where)[0])
        if number not in segments:
            raise SegError(f"{where} belongs to segment {number}, which the SegmentSequence does not describe (it "
                           f"describes {', '.join(str(n) for n in sorted(segments))}). The file is malformed: "
                           "re-export it.")
        numbers.append(number)
        origin.append(_numbers(_lookup(groups, "PlanePositionSequence", "ImagePositionPatient"), 3,
                               "ImagePositionPatient", where))
        cosines = _numbers(_lookup(groups, "PlaneOrientationSequence", "ImageOrientationPatient"), 6,
                           "ImageOrientationPatient", where)
        row, col = np.array(cosines[:3]), np.array(cosines[3:])
        row_length, col_length = float(np.linalg.norm(row)), float(np.linalg.norm(col))
        if row_length < 0.5 or col_length < 0.5 or abs(float(row @ col)) > 1e-2 * row_length * col_length:
            raise SegError(f"{where}: ImageOrientationPatient {_vector(cosines)} does not hold two perpendicular unit "
                           "direction vectors.")
        rows.append(row / row_length)
        cols.append(col / col_length)
        pixel_spacing = _numbers(_lookup(groups, "PixelMeasuresSequence", "PixelSpacing"), 2, "PixelSpacing", where)
        if min(pixel_spacing) <= 0:
            raise SegError(f"{where}: PixelSpacing {_vector(pixel_spacing)} is not positive.")
        spacing.append(pixel_spacing)
    return _Frames(segments=numbers, origin=np.array(origin, dtype=np.float64), row=np.array(rows, dtype=np.float64),
                   col=np.array(cols, dtype=np.float64), spacing=np.array(spacing, dtype=np.float64))


# --- placing the frames --------------------------------------------------------------------------------------------

def _angle(a: FloatArray, b: FloatArray) -> float:
    cosine = float(a @ b) / (float(np.linalg.norm(a)) * float(np.linalg.norm(b)))
    return math.degrees(math.acos(max(-1.0, min(1.0, cosine))))


def _frame_positions(frames: _Frames, affine: FloatArray, shape: tuple[int, int, int], tolerance_mm: float,
           segments: dict[int, _Segment]) -> tuple[FloatArray, FloatArray]:
    """(k of each frame as a float, distance of each frame from its nearest slice position along the normal, mm).

    Raises SegError for the first frame whose pixel grid does not coincide with the volume's in-plane grid.
    """
    columns, rows = shape[0], shape[1]
    to_voxel = np.linalg.inv(affine) @ LPS_TO_RAS
    m3, t = to_voxel[:3, :3], to_voxel[:3, 3]
    a3 = affine[:3, :3]
    normal = np.cross(a3[:, 0], a3[:, 1])
    normal /= float(np.linalg.norm(normal))
    step_normal = abs(float(a3[:, 2] @ normal))                        # slice spacing along the normal (mm)

    u = frames.row * frames.spacing[:, 1:2]                            # one column further (LPS mm)
    w = frames.col * frames.spacing[:, 0:1]                            # one row further
    v0 = frames.origin @ m3.T + t                                      # voxel coordinates of pixel (0, 0)
    du, dw = u @ m3.T, w @ m3.T                                        # voxel steps per column / per row
    corners = [(0, 0), (columns - 1, 0), (0, rows - 1), (columns - 1, rows - 1)]
    inplane = np.zeros(len(v0))
    slant = np.zeros(len(v0))
    for c, r in corners:
        at = v0 + c * du + r * dw
        error = at[:, :2] - np.array([c, r], dtype=np.float64)
        inplane = np.maximum(inplane, np.linalg.norm(error @ a3[:, :2].T, axis=1))
        slant = np.maximum(slant, np.abs(at[:, 2] - v0[:, 2]) * step_normal)
    bad = np.flatnonzero((inplane > tolerance_mm) | (slant > tolerance_mm))
    if bad.size:
        frame = int(bad[0])
        raise SegError(_grid_message(frame, frames, affine, v0[frame], float(inplane[frame]), float(slant[frame]),
                                     tolerance_mm, segments[frames.segments[frame]]))
    k = v0[:, 2]
    off = np.abs(k - np.round(k)) * step_normal
    return k, off


def _grid_message(frame: int, frames: _Frames, affine: FloatArray, v0: FloatArray, inplane: float, slant: float,
                  tolerance_mm: float, segment: _Segment) -> str:
    axis_i = (LPS_TO_RAS[:3, :3] @ affine[:3, 0])                    # RAS -> LPS is its own inverse
    axis_j = (LPS_TO_RAS[:3, :3] @ affine[:3, 1])
    row, col = frames.row[frame], frames.col[frame]
    dy, dx = (float(v) for v in frames.spacing[frame])
    vx, vy = float(np.linalg.norm(axis_i)), float(np.linalg.norm(axis_j))
    found: list[str] = []
    if _angle(row, axis_j) < 1.0 and _angle(col, axis_i) < 1.0:
        found.append("its rows and columns are swapped with respect to the volume's (the frame's rows run along the "
                     "volume's j axis): a transposed grid")
    else:
        row_angle, col_angle = _angle(row, axis_i), _angle(col, axis_j)
        if max(row_angle, col_angle) > 1e-3:
            found.append(f"its orientation differs: rows {row_angle:.3g} deg and columns {col_angle:.3g} deg from "
                         "the volume's i and j axes (ImageOrientationPatient "
                         f"{_vector([round(float(v), 6) for v in (*row, *col)])})")
    if abs(dx - vx) > 1e-4 or abs(dy - vy) > 1e-4:
        found.append(f"its PixelSpacing is {dy:g} x {dx:g} mm (rows x columns) where the volume's is {vy:g} x "
                     f"{vx:g} mm")
    shift_i, shift_j = float(v0[0]), float(v0[1])
    shift_mm = float(np.linalg.norm(shift_i * affine[:3, 0] + shift_j * affine[:3, 1]))
    if shift_mm > tolerance_mm:
        found.append(f"its first pixel lies {shift_mm:.3g} mm from the volume's voxel (0, 0) in-plane "
                     f"({shift_i:+.3g} columns, {shift_j:+.3g} rows)")
    if slant > tolerance_mm:
        found.append(f"its plane is not parallel to the volume's slices (its corners lie up to {slant:.3g} mm apart "
                     "along the slice normal)")
    detail = "; ".join(found) or "its corners miss the volume's voxels"
    return (f"frame {frame + 1} of the SEG ({segment}) does not lie on the volume's pixel grid: {detail}. Its pixels "
            f"would land up to {max(inplane, slant):.3g} mm from the volume's voxels (tolerance {tolerance_mm:g} mm). "
            "Expected a SEG drawn on the converted series itself (same rows and columns, orientation, pixel spacing "
            "and in-plane origin). Check that the SEG references this series; if it does and the volume was "
            "resampled in-plane (tilt='resample'), convert with tilt='keep', or resample the segmentation onto the "
            "volume with a registration tool.")


# --- pixels --------------------------------------------------------------------------------------------------------

class _Pixels:
    """Frames of the SEG one at a time: native data read here (pydicom 3.0.2 cannot decode one 1-bit frame whose
    bits do not start on a byte boundary, e.g. frame 2 of 5 x 7 pixels), compressed data through pydicom's
    decoders."""

    def __init__(self, ds: Dataset, count: int, rows: int, columns: int, bits: int) -> None:
        self.ds, self.count, self.rows, self.columns, self.bits = ds, count, rows, columns, bits
        meta = getattr(ds, "file_meta", None)
        self.syntax = str(meta.get("TransferSyntaxUID") or "").strip() if meta is not None else ""
        if not self.syntax:
            raise SegError("the SEG has no transfer syntax (file meta information missing), so its pixel data cannot "
                           "be interpreted. Read the file with pydicom.dcmread so file_meta is kept.")
        if "PixelData" not in ds:
            raise SegError("the SEG has no PixelData: there are no frames to read. Re-export the segmentation.")
        implied = rows * columns * count
        if implied > MAX_DECODED_BYTES:
            raise SegError(f"the SEG's header implies {implied} pixels, more than the {MAX_DECODED_BYTES} allowed "
                           "per file.")
        try:
            uid = UID(self.syntax)
            self.native = not uid.is_compressed and uid.is_little_endian
            missing = missing_decoder(self.syntax)
        except NotImplementedError as error:
            raise SegError(f"the SEG's pixel data use transfer syntax {self.syntax}, which pydicom cannot decode. "
                           "Re-export it uncompressed.") from error
        except Exception as error:
            raise SegError(f"transfer syntax {self.syntax!r} is not a known DICOM transfer syntax "
                           f"({_text(error)}).") from error
        if missing and not self.native:
            raise SegError(f"the SEG's pixel data use transfer syntax {uid.name} ({self.syntax}) and no installed "
                           f"decoder can read it. Install: {'; '.join(missing)}.")
        if self.native:
            self.data = bytes(ds.PixelData)
            needed = (implied * bits + 7) // 8
            if len(self.data) < needed:
                raise SegError(f"the SEG's PixelData holds {len(self.data)} bytes where {count} frames of {rows} x "
                               f"{columns} pixels at {bits} bit need {needed}: the file is truncated. Copy it again "
                               "from its source.")

    def frame(self, index: int) -> npt.NDArray[np.uint8]:
        pixels = self.rows * self.columns
        if self.native:
            if self.bits == 1:
                start = index * pixels
                first, last = start // 8, (start + pixels + 7) // 8
                packed = np.frombuffer(self.data, dtype=np.uint8, count=last - first, offset=first)
                bits = np.unpackbits(packed, bitorder="little")
                return bits[start % 8:start % 8 + pixels].reshape(self.rows, self.columns)
            flat = np.frombuffer(self.data, dtype=np.uint8, count=pixels, offset=index * pixels)
            return flat.reshape(self.rows, self.columns)
        from pydicom.pixels.decoders.base import get_decoder

        try:
            array, _ = get_decoder(self.syntax).as_array(self.ds, index=index)
        except Exception as error:
            raise SegError(f"frame {index + 1} of the SEG cannot be decoded ({_text(error) or type(error).__name__}); "
                           "the file may be truncated or corrupt. Copy it again from its source.") from error
        if array.shape != (self.rows, self.columns):
            raise SegError(f"frame {index + 1} of the SEG decodes to {array.shape} pixels where the header says "
                           f"{self.rows} x {self.columns}.")
        return np.asarray(array).astype(np.uint8, copy=False)


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
        raise SegError(f"the SEG cannot be read ({_text(error) or type(error).__name__}). Check the file with "
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
    k, off = _frame_positions(frames, affine, shape, tolerance_mm, segments)
    pixels = _Pixels(ds, count, rows, columns, 1 if kind == "BINARY" else 8)
    threshold = 1 if maximum is None else (maximum + 1) // 2

    out = np.zeros((slices, rows, columns), dtype=np.uint8)      # filled per slice; returned as (i, j, k)
    seen: set[tuple[int, int]] = set()
    tally = _Tally()
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


def _outside_message(tally: _Tally, k: FloatArray, segments: dict[int, _Segment], slices: int,
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


def _notes(tally: _Tally, segments: dict[int, _Segment], present: tuple[int, ...], merge: Merge) -> list[str]:
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
