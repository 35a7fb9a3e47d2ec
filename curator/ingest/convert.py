"""One DICOM CT series -> one NIfTI volume of int16 Hounsfield units (the conversion step of ``curator ingest``).

``convert_series(datasets)`` takes the already selected and anonymised pydicom datasets of ONE series (single-frame
images, or enhanced multi-frame objects whose geometry sits in the functional group sequences; possibly only every
Nth image) and returns a ``Volume``; ``write_volume(path, volume)`` writes it as a deterministic ``.nii.gz``.
Anything wrong with the data raises ``ConversionError`` whose message says what was expected, what was found and
what to do; nothing else escapes for bad data.

Conventions (checked against dcm2niix v1.0.20260724 on real series, see tests/test_convert_dcm2niix.py):

- Voxel order: i = DICOM columns (along the row direction cosine), j = DICOM rows (along the column direction
  cosine), k = slices in increasing position along the slice normal n = row x column cosines, whatever the file order
  or InstanceNumber. dcm2niix writes the same voxels with j reversed (it flips rows) and the affine to match; after
  reorientation to the closest canonical frame the two agree voxel for voxel.
- Affine: RAS+ (NIfTI), from ImagePositionPatient, ImageOrientationPatient and PixelSpacing (LPS, x and y negated).
  Column k is the step between slice positions, so every slice sits at its own ImagePositionPatient.
  ``Volume.spacing`` is (column spacing, row spacing, slice spacing), the last measured along the slice normal from
  the positions (every 10th image of a 0.8 mm series gives 8 mm), never taken from SliceThickness.
- Values: HU = stored x RescaleSlope + RescaleIntercept, each image with its own slope and intercept, stored as
  int16. CT numbers are whole numbers in [-32768, 32767] on every scanner; a series whose rescale gives fractions or
  larger values is not plain CT (perfusion maps, derived floats) and is refused rather than rounded or written as
  float32, so every release volume has the same data type and values exactly equal to the scanner's.
- Missing slices: a step that is a whole multiple (>= 2) of the series' step while every other step is regular is
  refused, naming the positions on both sides. Two images at one position are refused.
- Uneven spacing (steps that vary without being multiples, e.g. a head CT at 4 mm then 7 mm): ``uneven="refuse"``
  (default), ``"keep"`` (slices as they are; column k is the mean step, so inner slices may sit off their position;
  the note says by how much) or ``"resample"`` (linear interpolation along the normal to the step nearest the
  series' nominal step, or ``resample_step_mm``, that divides the stack evenly, so the first and last slices are
  kept; dcm2niix's ``_Eq`` output interpolates the same way at its own step).
- Gantry tilt (slice positions step along a line that is not the slice normal): ``tilt="keep"`` (default) writes a
  sheared sform that places every slice exactly; a qform cannot hold a shear, so it gets the un-sheared frame
  (in-plane axes and the normal, scaled by the true slice spacing) and readers that use the qform see the tilt as
  a shear. ``tilt="resample"`` shifts each slice in-plane to its place in an orthogonal grid (linear interpolation,
  the grid grows so nothing is cut, new pixels get PixelPaddingValue or else the darkest value of the series, and
  pixels next to padding are taken nearest-neighbour), exactly as dcm2niix's ``_Tilt`` output. Interpolated
  values are rounded half away from zero after each pass, as dcm2niix does.
- The output array is allocated once and filled slice by slice; pixel data are decoded one image at a time through
  pydicom's decoders (pylibjpeg for JPEG lossless and JPEG 2000); a missing decoder names the package to install.
- Nothing is allocated from a header before it is checked against the data. Rows x Columns x NumberOfFrames is
  capped per file (``MAX_DECODED_BYTES``); before the volume is allocated, every compressed frame's own header (JPEG
  and JPEG-LS SOFn/LSE/DNL, JPEG 2000 SIZ, the RLE segment table) must state Rows x Columns, one sample and at
  most BitsAllocated bits, and the frame must be large enough for its pixels at the coding's largest expansion:
  RLE 64 times (a 2-byte run gives at most 128 bytes), Huffman JPEG one bit per pixel (lossless) or two bits per
  8 x 8 block (sequential DCT; one for progressive). JPEG-LS, JPEG 2000 and arithmetic JPEG can describe any
  image in a few bytes: their frames are capped at ``MAX_FRAME_PIXELS`` (4096 x 4096, beyond any CT slice), and a
  JPEG 2000 tiling may not have more tiles than the codestream has room for tile-parts (14 bytes each).

The NIfTI file: NIfTI-1, little endian, int16, scl_slope 1 / scl_inter 0, qform_code = sform_code = 1 (scanner
anatomical: the coordinates are the scanner's patient coordinates from the DICOM headers, not aligned to another
image or template, which is what code 2 would claim), xyzt_units mm + s, descrip and the other text fields empty,
no extensions, vox_offset 352; gzip with mtime 0 and no file name (ISA-L level 2 where installed, else zlib level 6),
written to a temporary file in the target folder and moved into place: the same volume gives the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.uid import UID, JPEG2000TransferSyntaxes, JPEGLSTransferSyntaxes, JPEGTransferSyntaxes, RLELossless

from curator.io.codestreams import (
    J2K_SIZ,
    JPEG_DHP,
    JPEG_DNL,
    JPEG_EXP,
    JPEG_FRAMES,
    JPEG_HUFFMAN_FRAMES,
    JPEG_LSE,
    JPEG_SOS,
    CodestreamError,
    Segment,
    j2k_segments,
    jp2_codestream_start,
    jpeg_segments,
    rle_segments,
)
from curator.io.dicom import MAX_DECODED_BYTES, finite_numbers, missing_decoder
from curator.io.nifti_writer import write_nifti
from curator.io.slice_steps import classify_steps, mm, nominal_step, step_runs

__all__ = ["ConversionError", "Volume", "convert_series", "write_volume"]

Uneven = Literal["refuse", "keep", "resample"]
Tilt = Literal["keep", "resample"]
FloatArray = npt.NDArray[np.float64]

ORIENTATION_TOLERANCE = 1e-3       # direction cosines that differ by less are the same orientation
PIXEL_SPACING_TOLERANCE = 1e-4     # mm
PERPENDICULAR_TOLERANCE = 1e-2     # |row . column| above this: the direction cosines are not perpendicular
SHIFT_PIXELS = 0.01                # tilt="resample" moves slices only when one would move by more than this
MAX_VOLUME_BYTES = 4 << 30         # never allocate a larger output volume
MAX_FRAME_PIXELS = 4096 * 4096     # a compressed frame whose coding bounds no expansion (JPEG-LS, JPEG 2000)
RLE_EXPANSION = 64                 # an RLE segment: 2 bytes (replicate run) decode to at most 128
J2K_TILE_PART_BYTES = 14           # the smallest tile-part (SOT segment + SOD marker); every tile has one


class ConversionError(Exception):
    """The series cannot be converted as it is; the message says what was expected, found, and what to do."""


@dataclass(frozen=True, eq=False)  # eq=False: arrays do not compare to one truth value
class Volume:
    """A converted series. ``data`` is read-only int16 HU with shape (columns, rows, slices) = NIfTI (i, j, k)."""

    data: npt.NDArray[np.int16]
    affine: FloatArray                    # 4x4 voxel -> RAS+ mm
    spacing: tuple[float, float, float]   # (column mm, row mm, slice mm along the normal)
    tilt_degrees: float                   # gantry tilt seen in the positions (0 when none)
    notes: tuple[str, ...]                # facts for the provenance record


@dataclass(frozen=True)
class _Image:
    """One image (a single-frame dataset or one frame of a multi-frame one) with its geometry."""

    label: str
    dataset: Dataset
    frame: int | None                     # index into a multi-frame object, None for a single-frame one
    rows: int
    columns: int
    orientation: tuple[float, ...]        # 6 direction cosines
    position: tuple[float, float, float]
    pixel_spacing: tuple[float, float]    # (row spacing, column spacing) as in DICOM
    slope: float
    intercept: float
    rescaled: bool                        # RescaleSlope/Intercept present (else stored values taken as HU)
    syntax: str
    padding: float | None                 # PixelPaddingValue (stored units)


@dataclass
class _Plan:
    images: list[_Image]                  # in order along the normal
    relative: FloatArray                  # distance of each from the first along the normal (mm)
    shifts: FloatArray | None             # (n, 2) in-plane shift of each slice in pixels (i, j), when resampled
    low: tuple[int, int]                  # pixels added before column 0 / row 0 by the shift
    shape: tuple[int, int]                # output (columns, rows)
    targets: FloatArray | None            # output slice positions (relative mm) when resampled along the normal
    step: float                           # output slice spacing along the normal
    affine: FloatArray
    tilt: float
    notes: list[str]


# --- reading the headers -------------------------------------------------------------------------------------------

def _text(value: object) -> str:
    return " ".join(str(value).split())


def _instance_label(ds: Dataset, index: int) -> str:
    try:
        number = ds.get("InstanceNumber")
        if number is not None and str(number).strip() != "":
            return f"instance {int(float(number))}"
    except Exception:  # an unreadable InstanceNumber only changes how the image is named
        pass
    return f"image {index + 1} (no InstanceNumber)"


def _lookup(ds: Dataset, groups: list[Dataset], sequence: str, keyword: str) -> object:
    """``keyword`` from the first functional group that has ``sequence`` (per-frame, then shared), else top level."""
    for group in groups:
        seq = group.get(sequence)
        if seq:
            value = seq[0].get(keyword)
            if value is not None and value != "":
                return value
    value = ds.get(keyword)
    return None if value == "" else value


def _numbers(value: object, count: int, keyword: str, label: str) -> tuple[float, ...]:
    if value is None:
        raise ConversionError(f"{label} has no {keyword}: a volume needs it on every image to place the slices. "
                              "Convert a series whose images all carry it.")
    numbers = finite_numbers(value, count)
    if isinstance(numbers, str):
        raise ConversionError(f"{label}: {keyword} {numbers}.")
    return numbers


def _integer(ds: Dataset, keyword: str, label: str, default: int | None = None) -> int:
    value = ds.get(keyword)
    if value is None or value == "":
        if default is not None:
            return default
        raise ConversionError(f"{label} has no {keyword}; an image needs it to be decoded.")
    try:
        number = int(value)
    except (TypeError, ValueError) as error:
        raise ConversionError(f"{label}: {keyword} {_text(value)!r} is not a whole number.") from error
    return number


def _images(datasets: Sequence[Dataset]) -> list[_Image]:
    images: list[_Image] = []
    for index, ds in enumerate(datasets):
        if not isinstance(ds, Dataset):
            raise ConversionError(f"item {index + 1} of the series is a {type(ds).__name__}, not a pydicom Dataset.")
        try:
            images.extend(_frames(ds, index))
        except ConversionError:
            raise
        except Exception as error:  # a malformed element pydicom only notices when it is read
            raise ConversionError(f"{_instance_label(ds, index)}: the DICOM header cannot be read ({_text(error)})."
                                  " Check the file with `curator validate`.") from error
    return images


def _frames(ds: Dataset, index: int) -> Iterator[_Image]:
    label = _instance_label(ds, index)
    meta = getattr(ds, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID") or "") if meta is not None else ""
    if not syntax:
        raise ConversionError(f"{label} has no transfer syntax (file meta information missing), so its pixel data "
                              "cannot be interpreted. Read the files with pydicom.dcmread so file_meta is kept.")
    if "PixelData" not in ds:
        what = "float pixel data, not CT numbers" if ("FloatPixelData" in ds or "DoubleFloatPixelData" in ds) \
            else "no pixel data"
        raise ConversionError(f"{label} has {what}; a CT volume needs stored integers with a rescale to HU.")
    rows = _integer(ds, "Rows", label)
    columns = _integer(ds, "Columns", label)
    samples = _integer(ds, "SamplesPerPixel", label, default=1)
    bits = _integer(ds, "BitsAllocated", label)
    frames = _integer(ds, "NumberOfFrames", label, default=1)
    if rows <= 0 or columns <= 0 or frames <= 0 or bits not in (8, 16, 32):
        raise ConversionError(f"{label}: Rows {rows}, Columns {columns}, NumberOfFrames {frames}, BitsAllocated "
                              f"{bits} do not describe a greyscale image.")
    if samples != 1:
        raise ConversionError(f"{label} is a colour image (SamplesPerPixel {samples}); a CT volume holds one value "
                              "per pixel. Choose the series of original CT images.")
    implied = rows * columns * frames * bits // 8
    if implied > MAX_DECODED_BYTES:
        raise ConversionError(f"{label}: Rows {rows} x Columns {columns} x NumberOfFrames {frames} x {bits // 8} "
                              f"bytes is {implied} bytes of pixels, more than the {MAX_DECODED_BYTES >> 30} GiB "
                              "allowed per file; the header is damaged or forged (an absurd NumberOfFrames?).")
    if _encapsulated(syntax):
        _check_encoded(ds, label, syntax, rows, columns, bits, frames)
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    shared = [shared_seq[0]] if shared_seq else []
    multi = frames > 1 or per_frame is not None
    if multi and (per_frame is None or len(per_frame) != frames):
        found = "no PerFrameFunctionalGroupsSequence" if per_frame is None else f"{len(per_frame)} items"
        raise ConversionError(f"{label} has {frames} frames but {found}: the position of each frame is unknown. "
                              "Only enhanced multi-frame objects (one Plane Position per frame) can be converted.")
    padding_value = ds.get("PixelPaddingValue")
    padding: float | None = None
    if padding_value is not None and padding_value != "":
        try:
            padding = float(padding_value)
        except (TypeError, ValueError):
            padding = None
        if padding is not None and ds.get("PixelRepresentation") == 1 and padding > 32767:
            padding -= 65536  # a signed value read through an unsigned VR
    for frame in range(frames):
        groups = ([per_frame[frame]] if multi and per_frame is not None else []) + shared
        name = f"frame {frame + 1} of {label}" if multi else label
        orientation = _numbers(_lookup(ds, groups, "PlaneOrientationSequence", "ImageOrientationPatient"), 6,
                               "ImageOrientationPatient", name)
        position = _numbers(_lookup(ds, groups, "PlanePositionSequence", "ImagePositionPatient"), 3,
                            "ImagePositionPatient", name)
        spacing = _numbers(_lookup(ds, groups, "PixelMeasuresSequence", "PixelSpacing"), 2, "PixelSpacing", name)
        if min(spacing) <= 0:
            raise ConversionError(f"{name}: PixelSpacing {spacing} is not positive.")
        raw_slope = _lookup(ds, groups, "PixelValueTransformationSequence", "RescaleSlope")
        raw_intercept = _lookup(ds, groups, "PixelValueTransformationSequence", "RescaleIntercept")
        slope = _numbers(raw_slope, 1, "RescaleSlope", name)[0] if raw_slope is not None else 1.0
        intercept = _numbers(raw_intercept, 1, "RescaleIntercept", name)[0] if raw_intercept is not None else 0.0
        if slope == 0:
            raise ConversionError(f"{name}: RescaleSlope is 0, which maps every pixel to one value.")
        yield _Image(label=name, dataset=ds, frame=frame if multi else None, rows=rows, columns=columns,
                     orientation=orientation, position=(position[0], position[1], position[2]),
                     pixel_spacing=(spacing[0], spacing[1]), slope=slope, intercept=intercept,
                     rescaled=raw_slope is not None or raw_intercept is not None, syntax=syntax, padding=padding)


def _same_geometry(images: list[_Image]) -> None:
    first = images[0]
    for image in images[1:]:
        if (image.rows, image.columns) != (first.rows, first.columns):
            raise ConversionError(
                f"{image.label} is {image.rows} rows x {image.columns} columns where {first.label} is {first.rows} x "
                f"{first.columns}: a volume needs one image size. Remove the odd image(s) or choose another series.")
        if max(abs(a - b) for a, b in zip(image.orientation, first.orientation, strict=True)) > ORIENTATION_TOLERANCE:
            raise ConversionError(
                f"{image.label} has ImageOrientationPatient {_vector(image.orientation)} where {first.label} has "
                f"{_vector(first.orientation)}: a volume needs one orientation (localizer or reformat mixed in?). "
                "Remove the odd image(s) or choose another series.")
        if max(abs(a - b) for a, b in zip(image.pixel_spacing, first.pixel_spacing, strict=True)) \
                > PIXEL_SPACING_TOLERANCE:
            raise ConversionError(
                f"{image.label} has PixelSpacing {_vector(image.pixel_spacing)} mm where {first.label} has "
                f"{_vector(first.pixel_spacing)} mm: a volume needs one pixel size. Choose another series.")


def _vector(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"


# --- planning the grid ---------------------------------------------------------------------------------------------

def _axes(image: _Image) -> tuple[FloatArray, FloatArray, FloatArray]:
    row = np.array(image.orientation[:3], dtype=np.float64)
    col = np.array(image.orientation[3:], dtype=np.float64)
    row_length, col_length = float(np.linalg.norm(row)), float(np.linalg.norm(col))
    if row_length < 0.5 or col_length < 0.5:
        raise ConversionError(f"{image.label}: ImageOrientationPatient {_vector(image.orientation)} does not hold "
                              "two unit direction vectors.")
    row, col = row / row_length, col / col_length
    if abs(float(row @ col)) > PERPENDICULAR_TOLERANCE:
        raise ConversionError(f"{image.label}: the row and column directions of ImageOrientationPatient "
                              f"{_vector(image.orientation)} are not perpendicular.")
    normal = np.cross(row, col)
    return row, col, normal / float(np.linalg.norm(normal))


@dataclass
class _Stack:
    """The images in order along the slice normal, with what the planning steps need of them."""

    images: list[_Image]
    positions: FloatArray            # (n, 3) LPS
    relative: FloatArray             # distance of each from the first along the normal (mm)
    row: FloatArray                  # unit row direction (increasing column index)
    col: FloatArray                  # unit column direction (increasing row index)
    normal: FloatArray               # row x col
    axis: int                        # the patient axis nearest the normal, for messages

    def coordinate(self, index: int) -> str:
        """The position of image ``index`` on the patient axis nearest the normal (DICOM patient mm)."""
        return mm(float(self.positions[index][self.axis]))

    def at(self, index: int) -> str:
        return f"{'xyz'[self.axis]} = {self.coordinate(index)}"


def _stack(images: list[_Image], tolerance_mm: float) -> _Stack:
    """Order the images along the normal; refuse one position held twice (or by all)."""
    row, col, normal = _axes(images[0])
    positions = np.array([image.position for image in images], dtype=np.float64)
    distances = positions @ normal
    order = np.argsort(distances, kind="stable")
    stack = _Stack(images=[images[i] for i in order], positions=positions[order],
                   relative=distances[order] - distances[order][0], row=row, col=col, normal=normal,
                   axis=int(np.argmax(np.abs(normal))))
    steps = np.diff(stack.relative)
    count = len(images)
    if float(steps.max()) <= tolerance_mm:
        names = ", ".join(image.label for image in stack.images[:6]) + (", ..." if count > 6 else "")
        raise ConversionError(
            f"all {count} images lie at one position ({stack.at(0)} mm, within {tolerance_mm:g} mm along the slice "
            f"normal): this is not a volume but repeated images of one slice ({names}). Choose the series that "
            "holds the volume.")
    for index, step in enumerate(steps.tolist()):
        if step <= tolerance_mm:
            a, b = stack.images[index], stack.images[index + 1]
            raise ConversionError(
                f"{a.label} and {b.label} both lie at {stack.at(index)} mm (closer than {tolerance_mm:g} mm along the "
                "slice normal): a volume holds each position once. Remove the duplicate, or split the series if it "
                "holds several acquisitions.")
    return stack


def _spacing(stack: _Stack, uneven: Uneven, tolerance_mm: float, resample_step_mm: float | None,
             notes: list[str]) -> tuple[FloatArray | None, float]:
    """(output slice positions when resampled along the normal else None, output slice spacing)."""
    steps = np.diff(stack.relative)
    count, extent = len(stack.images), float(stack.relative[-1])
    nominal = nominal_step(steps.tolist(), tolerance_mm)
    gaps, irregular = classify_steps(steps.tolist(), nominal, tolerance_mm)
    if gaps and not irregular:
        index, missing = gaps[0]
        before, after = stack.images[index], stack.images[index + 1]
        more = f" ({len(gaps)} gaps in all)" if len(gaps) > 1 else ""
        raise ConversionError(
            f"missing slice between {stack.at(index)} and {stack.coordinate(index + 1)} mm (gap "
            f"{mm(float(steps[index]))} mm where the series steps by {mm(nominal)} mm: {missing} "
            f"image{'s' if missing > 1 else ''} missing between {before.label} and {after.label}){more}. Find the "
            "missing image(s) and convert the complete series, or choose another series; interpolating over a gap "
            "would invent anatomy.")
    step_out = extent / (count - 1)
    if not irregular:
        return None, step_out
    first = irregular[0]
    described = (f"steps {step_runs(steps.tolist(), tolerance_mm)} mm along the slice normal (first change between "
                 f"{stack.at(first)} and {stack.coordinate(first + 1)} mm, {stack.images[first].label} -> "
                 f"{stack.images[first + 1].label})")
    if uneven == "refuse":
        raise ConversionError(
            f"the slices are unevenly spaced: {described}; a NIfTI volume has one slice spacing. Convert with "
            "uneven 'keep' (slices as they are, the affine uses the mean step) or 'resample' (linear "
            "interpolation to an even step; `curator ingest --uneven keep|resample`), or choose another series")
    if uneven == "keep":
        off = float(np.max(np.abs(stack.relative - np.arange(count) * step_out)))
        notes.append(f"uneven slice spacing kept: {described}; the affine uses the mean step {step_out:.4f} mm, "
                     f"so a slice may lie up to {off:.2f} mm from the position the affine gives it")
        return None, step_out
    wanted = resample_step_mm if resample_step_mm is not None else nominal
    if not (wanted > 0 and math.isfinite(wanted)):
        raise ValueError(f"resample_step_mm must be a positive number, not {resample_step_mm!r}")
    intervals = max(1, round(extent / wanted))
    step_out = extent / intervals
    targets = np.arange(intervals + 1, dtype=np.float64) * step_out
    targets[-1] = extent
    notes.append(f"uneven slice spacing resampled: {described}; {count} slices interpolated linearly along the "
                 f"normal to {intervals + 1} slices {step_out:.4f} mm apart (the first and last kept)")
    return targets, step_out


def _plan(images: list[_Image], uneven: Uneven, tilt: Tilt, tolerance_mm: float,
          resample_step_mm: float | None) -> _Plan:
    stack = _stack(images, tolerance_mm)
    notes: list[str] = []
    targets, step_out = _spacing(stack, uneven, tolerance_mm, resample_step_mm, notes)
    images, positions, relative = stack.images, stack.positions, stack.relative
    row, col, normal = stack.row, stack.col, stack.normal
    dy, dx = images[0].pixel_spacing  # DICOM: (row spacing = along the column direction, column spacing)
    extent = float(relative[-1])

    # in-plane offsets of each slice from the line along the normal through the first: gantry tilt
    offsets = (positions - positions[0]) - np.outer(relative, normal)
    in_row, in_col = offsets @ row, offsets @ col
    tilt_degrees = math.degrees(math.atan2(float(np.hypot(in_row[-1], in_col[-1])), extent))
    if tilt_degrees < 1e-3:
        tilt_degrees = 0.0
    tag = _gantry_tag(images[0].dataset)
    tag_text = f" (GantryDetectorTilt {tag:g} deg)" if tag is not None and tag != 0 else ""
    shifts_px = np.stack([in_row / dx, in_col / dy], axis=1)
    shifting = tilt == "resample" and float(np.max(np.abs(shifts_px))) > SHIFT_PIXELS
    low = (0, 0)
    shape = (images[0].columns, images[0].rows)
    if shifting:
        low_i = math.ceil(max(0.0, -float(shifts_px[:, 0].min())) - 1e-4)
        high_i = math.ceil(max(0.0, float(shifts_px[:, 0].max())) - 1e-4)
        low_j = math.ceil(max(0.0, -float(shifts_px[:, 1].min())) - 1e-4)
        high_j = math.ceil(max(0.0, float(shifts_px[:, 1].max())) - 1e-4)
        low = (low_i, low_j)
        shape = (shape[0] + low_i + high_i, shape[1] + low_j + high_j)
        largest = float(np.max(np.hypot(shifts_px[:, 0], shifts_px[:, 1])))
        grown = [f"{a + b} {what}" for a, b, what in ((low_i, high_i, "columns"), (low_j, high_j, "rows")) if a + b]
        notes.append(f"gantry tilt {tilt_degrees:.2f} deg{tag_text} corrected: each slice shifted in-plane onto an "
                     f"orthogonal grid (up to {largest:.2f} pixels, linear interpolation, as dcm2niix's _Tilt "
                     f"output), the grid extended by {' and '.join(grown) or 'nothing'}")
        direction = normal
    else:
        # the slices stack along the line joining the first and the last; they must lie on it
        misses = np.linalg.norm(offsets - np.outer(relative / extent, offsets[-1]), axis=1)
        if float(misses.max()) > tolerance_mm + 0.05 * min(dx, dy):
            worst = int(np.argmax(misses))
            raise ConversionError(
                f"the slice positions do not lie on one line: {images[worst].label} lies {float(misses.max()):.2f} mm "
                "off the line joining the first and last slice (in-plane). Convert with tilt 'resample' "
                "(`curator ingest --tilt resample`), which moves each slice to its place, or choose another series")
        direction = (positions[-1] - positions[0]) / extent
        if tilt_degrees > 0:
            off = float(np.max(np.linalg.norm(offsets, axis=1)))
            notes.append(f"gantry tilt {tilt_degrees:.2f} deg{tag_text} kept: the sform is sheared so that every "
                         "slice sits at its DICOM position; the qform, which cannot hold a shear, is the un-sheared "
                         f"frame and places a slice up to {off:.2f} mm from its position")
    if tilt_degrees == 0 and tag:
        notes.append(f"GantryDetectorTilt says {tag:g} deg but the slice positions show no tilt; the positions "
                     "were used")

    origin = positions[0] - low[0] * dx * row - low[1] * dy * col
    lps = np.eye(4)
    lps[:3, 0], lps[:3, 1], lps[:3, 2], lps[:3, 3] = row * dx, col * dy, direction * step_out, origin
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps
    return _Plan(images=images, relative=relative, shifts=shifts_px if shifting else None, low=low, shape=shape,
                 targets=targets, step=step_out, affine=affine, tilt=round(tilt_degrees, 4), notes=notes)


def _gantry_tag(ds: Dataset) -> float | None:
    try:
        value = ds.get("GantryDetectorTilt")
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


# --- pixels --------------------------------------------------------------------------------------------------------

def _check_decoders(images: list[_Image]) -> list[str]:
    """Notes naming the transfer syntaxes; ConversionError when one cannot be decoded here."""
    notes = []
    for syntax in sorted({image.syntax for image in images}):
        name = UID(syntax).name
        try:
            missing = missing_decoder(syntax)
        except NotImplementedError as error:
            raise ConversionError(f"the pixel data use transfer syntax {name} ({syntax}), which pydicom cannot "
                                  "decode at all. Convert the files to an uncompressed syntax first.") from error
        except Exception as error:
            raise ConversionError(f"transfer syntax {syntax!r} is not a known DICOM transfer syntax ({error}).") \
                from error
        if missing:
            raise ConversionError(f"the pixel data use transfer syntax {name} ({syntax}) and no installed decoder "
                                  f"can read it. Install: {'; '.join(missing)} (for example `pip install pylibjpeg "
                                  "pylibjpeg-libjpeg pylibjpeg-openjpeg`).")
        if UID(syntax).is_compressed:
            notes.append(f"pixel data in {name} ({syntax}) decoded with pydicom")
    return notes


def _encapsulated(syntax: str) -> bool:
    try:
        return bool(UID(syntax).is_encapsulated)
    except ValueError:  # not a transfer syntax: _check_decoders says so
        return False


def _check_encoded(ds: Dataset, label: str, syntax: str, rows: int, columns: int, bits: int, frames: int) -> None:
    """Refuse compressed frames whose own header disagrees with Rows/Columns/BitsAllocated, or whose payload is too
    small for Rows x Columns, before a decoder allocates anything from either.

    Decoders allocate their output from the codestream's header (and pydicom from Rows x Columns) before reading
    the compressed data; a kilobyte that claims 30000 x 30000 pixels would take gigabytes. Each frame is taken from
    the pixel data exactly as pydicom's decoder takes it (``get_frame`` with the same offsets), so the bytes checked
    are the bytes decoded.
    """
    from pydicom.encaps import get_frame
    from pydicom.pixels.utils import as_pixel_options

    options = as_pixel_options(ds)
    for frame in range(frames):
        name = f"frame {frame + 1} of {label}" if frames > 1 else label
        try:
            data = get_frame(ds.PixelData, frame, number_of_frames=options["number_of_frames"],
                             extended_offsets=options.get("extended_offsets"))
        except Exception as error:
            raise ConversionError(f"{name}: the compressed pixel data cannot be split into its {frames} frame(s) "
                                  f"({_text(error) or type(error).__name__}). The file may be truncated or corrupt; "
                                  "check it with `curator validate --deep`.") from error
        if syntax == RLELossless:
            problem = _rle_problem(data, rows, columns, bits)
        elif syntax in JPEG2000TransferSyntaxes:
            problem = _j2k_problem(data, rows, columns, bits)
        elif syntax in JPEGTransferSyntaxes or syntax in JPEGLSTransferSyntaxes:
            problem = _jpeg_problem(data, rows, columns, bits)
        else:  # a compressed syntax without a parser here: only the per-frame cap
            problem = _capped(rows, columns, f"transfer syntax {UID(syntax).name}")
        if problem:
            raise ConversionError(f"{name}: {problem}. Refused before decoding: the header does not match the "
                                  "compressed data (a damaged or forged file); check it with `curator validate "
                                  "--deep`.")


def _capped(rows: int, columns: int, coding: str) -> str | None:
    """Why a frame whose coding gives no bound on its expansion is too large to decode, or None."""
    if rows * columns > MAX_FRAME_PIXELS:
        return (f"Rows x Columns is {rows} x {columns}; {coding} can describe any number of pixels in a few bytes, "
                f"so frames are decoded up to {MAX_FRAME_PIXELS} pixels ({math.isqrt(MAX_FRAME_PIXELS)} x "
                f"{math.isqrt(MAX_FRAME_PIXELS)}) only")
    return None


def _rle_problem(data: bytes, rows: int, columns: int, bits: int) -> str | None:
    """RLE (PS3.5 G): a 64-byte header of segment count and offsets, then one PackBits segment per byte plane of
    Rows x Columns bytes. A segment's byte pair decodes to at most 128 bytes, so a segment of n bytes holds at most
    64 n: one shorter than Rows x Columns / 64 cannot be this image."""
    try:
        segments = rle_segments(data)
    except CodestreamError as error:
        return str(error)
    expected = bits // 8
    if len(segments) != expected:
        return f"the RLE header gives {len(segments)} segments where BitsAllocated {bits} needs {expected}"
    plane = rows * columns
    for segment in segments:
        if segment.length * RLE_EXPANSION < plane:
            return (f"RLE segment {segment.marker} is {segment.length} bytes, which decode to at most "
                    f"{segment.length * RLE_EXPANSION} bytes ({RLE_EXPANSION} per byte), but Rows x Columns is "
                    f"{rows} x {columns} = {plane}")
    return None


# JPEG (ISO 10918-1) and JPEG-LS (ISO 14495-1) frames: pydicom's JPEG decoder (libjpeg) reads both


@dataclass
class _JpegFrame:
    """What the segments of one JPEG frame state, against what the DICOM header says."""

    rows: int
    columns: int
    bits: int
    size: int                          # bytes of the codestream
    sof: int | None = None             # the frame header's marker
    stated: list[int] = field(default_factory=lambda: [0, 0])   # height and width as the segments state them


def _jpeg_problem(data: bytes, rows: int, columns: int, bits: int) -> str | None:
    """Walk every marker segment of a JPEG or JPEG-LS codestream (``curator.io.codestreams``, skipping the
    entropy-coded data); a frame is one whole codestream, SOI to EOI, so one cut short is refused rather than
    decoded into made-up pixels. The frame header (SOFn; a zero height or width there is stated by a DNL or
    JPEG-LS LSE 4 segment, which are checked too) must state Rows x Columns, one component and at most
    BitsAllocated bits; at the first scan the size of the codestream must allow Rows x Columns pixels."""
    frame = _JpegFrame(rows, columns, bits, len(data))
    try:
        for segment in jpeg_segments(data, strict=True):
            problem = _jpeg_segment_problem(frame, segment)
            if problem:
                return problem
    except CodestreamError as error:
        return str(error)
    if frame.sof is None:
        return "the JPEG codestream ends before its frame header"
    if frame.stated != [rows, columns]:
        return (f"the JPEG codestream states {frame.stated[0]} x {frame.stated[1]} pixels where Rows x Columns is "
                f"{rows} x {columns}")
    return None


def _jpeg_segment_problem(frame: _JpegFrame, segment: Segment) -> str | None:
    marker, payload = segment.marker, segment.payload
    if marker in (JPEG_DHP, JPEG_EXP):
        return "the JPEG codestream is hierarchical (DHP/EXP marker), which no DICOM CT transfer syntax uses"
    if marker in JPEG_FRAMES:
        return _frame_header_problem(frame, marker, payload)
    if marker == JPEG_LSE and payload[:1].tobytes() == b"\x04":  # JPEG-LS oversize image dimension
        size = payload[1] if len(payload) > 1 else 0
        if not 2 <= size <= 4 or len(payload) < 2 + 2 * size:
            return "the JPEG-LS oversize-dimension segment (LSE 4) is malformed"
        height = int.from_bytes(payload[2:2 + size], "big")
        width = int.from_bytes(payload[2 + size:2 + 2 * size], "big")
        if (height, width) != (frame.rows, frame.columns):
            return (f"the JPEG-LS oversize-dimension segment says {height} x {width} pixels where Rows x Columns is "
                    f"{frame.rows} x {frame.columns}")
        frame.stated = [height, width]
    elif marker == JPEG_DNL:
        lines = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else -1
        if lines != frame.rows:
            return f"the JPEG DNL segment says {lines} lines where Rows is {frame.rows}"
        frame.stated[0] = lines
    elif marker == JPEG_SOS:
        if frame.sof is None:
            return "the JPEG codestream has a scan before any frame header"
        return _jpeg_bound(frame.sof, frame.size, frame.rows, frame.columns)
    return None


def _frame_header_problem(frame: _JpegFrame, marker: int, payload: memoryview) -> str | None:
    if frame.sof is not None:
        return "the JPEG codestream holds more than one frame header"
    if len(payload) < 6:
        return f"the JPEG frame header (FF{marker:02X}) is {len(payload)} bytes, too short"
    precision, components = payload[0], payload[5]
    frame.stated = [int.from_bytes(payload[1:3], "big"), int.from_bytes(payload[3:5], "big")]
    if frame.stated[0] not in (0, frame.rows) or frame.stated[1] not in (0, frame.columns):
        return (f"the JPEG frame header says {frame.stated[0]} x {frame.stated[1]} pixels where Rows x Columns is "
                f"{frame.rows} x {frame.columns}")
    if components != 1:
        return f"the JPEG frame header gives {components} components where SamplesPerPixel is 1"
    if not 2 <= precision <= frame.bits:
        return f"the JPEG frame header gives {precision}-bit samples where BitsAllocated is {frame.bits}"
    frame.sof = marker
    return None


def _jpeg_bound(frame: int, size: int, rows: int, columns: int) -> str | None:
    """Huffman coding spends at least one bit per pixel (lossless: every sample codes its difference category),
    two bits per 8 x 8 block (sequential DCT: a DC code and an AC end-of-block) or one bit per block (progressive:
    each block's DC in the first scan); arithmetic coding and JPEG-LS have no such floor, so their frames are
    capped instead."""
    blocks = math.ceil(rows / 8) * math.ceil(columns / 8)
    huffman = JPEG_HUFFMAN_FRAMES.get(frame)
    if huffman == "lossless":
        needed, what = rows * columns, "one bit per pixel (lossless Huffman coding)"
    elif huffman == "sequential":
        needed, what = 2 * blocks, "two bits per 8 x 8 block (sequential Huffman DCT)"
    elif huffman == "progressive":
        needed, what = blocks, "one bit per 8 x 8 block (progressive Huffman DCT)"
    else:
        return _capped(rows, columns, f"{JPEG_FRAMES[frame]} coding")
    if size * 8 < needed:
        return (f"the JPEG codestream is {size} bytes, but Rows x Columns {rows} x {columns} needs at least "
                f"{math.ceil(needed / 8)} bytes at {what}")
    return None


def _j2k_problem(data: bytes, rows: int, columns: int, bits: int) -> str | None:
    """JPEG 2000 (ISO 15444-1 A.5.1; HTJ2K alike): SOC, then SIZ with the reference grid, the tiling and one
    entry per component. The image must be Rows x Columns, one component of at most BitsAllocated bits; every tile
    has at least one tile-part (14 bytes), so the tiling cannot have more tiles than the codestream has room for
    (a decoder sets up every tile from SIZ alone). Pixels: capped (the coding has no floor per pixel)."""
    try:
        header = j2k_segments(data, jp2_codestream_start(data))
        next(header)                                   # SOC
        siz = next(header, None)
    except CodestreamError as error:
        return str(error)
    if siz is None or siz.marker != J2K_SIZ:
        return "the JPEG 2000 codestream does not start with SOC and SIZ markers (FF4F FF51)"
    payload = siz.payload                              # Rsiz, Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz, XTOsiz, ...
    if len(payload) < 36:
        return "the JPEG 2000 SIZ segment is cut short"
    (x, y, x0, y0, tile_x, tile_y, tile_x0, tile_y0) = (int.from_bytes(payload[i:i + 4], "big")
                                                        for i in range(2, 34, 4))
    components = int.from_bytes(payload[34:36], "big")
    if not (x0 < x and y0 < y and tile_x > 0 and tile_y > 0 and tile_x0 <= x0 and tile_y0 <= y0
            and tile_x + tile_x0 > x0 and tile_y + tile_y0 > y0):
        return f"the JPEG 2000 SIZ segment's grid is inconsistent (image {x0}..{x} x {y0}..{y}, tiles {tile_x} x " \
               f"{tile_y} from {tile_x0}, {tile_y0})"
    height, width = y - y0, x - x0
    if (height, width) != (rows, columns):
        return f"the JPEG 2000 SIZ segment says {height} x {width} pixels where Rows x Columns is {rows} x {columns}"
    if components != 1:
        return f"the JPEG 2000 SIZ segment gives {components} components where SamplesPerPixel is 1"
    if len(payload) < 37:
        return "the JPEG 2000 SIZ segment is cut short"
    precision = (payload[36] & 0x7F) + 1
    if precision > bits:
        return f"the JPEG 2000 SIZ segment gives {precision}-bit samples where BitsAllocated is {bits}"
    tiles = math.ceil((x - tile_x0) / tile_x) * math.ceil((y - tile_y0) / tile_y)
    if tiles * J2K_TILE_PART_BYTES > len(data):
        return (f"the JPEG 2000 SIZ segment divides the image into {tiles} tiles, but the {len(data)}-byte "
                f"codestream has room for at most {len(data) // J2K_TILE_PART_BYTES} (each needs a tile-part of at "
                f"least {J2K_TILE_PART_BYTES} bytes)")
    return _capped(rows, columns, "JPEG 2000 coding")


def _stored(image: _Image) -> npt.NDArray[np.generic]:
    from pydicom.pixels.decoders.base import get_decoder

    try:
        array, _ = get_decoder(image.syntax).as_array(image.dataset, index=image.frame)
    except Exception as error:
        reason = _text(error) or type(error).__name__
        raise ConversionError(f"{image.label}: the pixel data cannot be decoded ({reason}). The file may be "
                              "truncated or corrupt; check it with `curator validate --deep`.") from error
    if array.shape != (image.rows, image.columns):
        raise ConversionError(f"{image.label}: decoded {array.shape} pixels where the header says {image.rows} x "
                              f"{image.columns}.")
    return array


def _hu(image: _Image) -> npt.NDArray[np.int32]:
    """The image in whole HU (int32), range-checked for int16."""
    stored = _stored(image)
    if image.slope == 1.0 and float(image.intercept).is_integer():
        low, high = int(stored.min()), int(stored.max())
        intercept = int(image.intercept)
        if low + intercept < -32768 or high + intercept > 32767:
            raise _range_error(image, low + intercept, high + intercept)
        return stored.astype(np.int32) + np.int32(intercept)
    values = stored.astype(np.float64) * image.slope + image.intercept
    rounded = np.rint(values)
    if not np.array_equal(values, rounded):
        example = float(values[values != rounded].flat[0])
        raise ConversionError(
            f"{image.label}: RescaleSlope {image.slope:g} and RescaleIntercept {image.intercept:g} give values that "
            f"are not whole HU (e.g. {example:g}); curator writes CT volumes as int16 HU, which would change them. "
            "This is not a plain CT series (a derived or parametric map?): choose the original CT series.")
    smallest, largest = float(rounded.min()), float(rounded.max())
    if smallest < -32768 or largest > 32767:
        raise _range_error(image, smallest, largest)
    return rounded.astype(np.int32)


def _range_error(image: _Image, low: float, high: float) -> ConversionError:
    return ConversionError(f"{image.label}: HU values {low:g}..{high:g} do not fit int16 (-32768..32767) after "
                           f"RescaleSlope {image.slope:g} and RescaleIntercept {image.intercept:g}; the rescale "
                           "attributes look wrong. Check them against the scanner's export.")


def _round(values: FloatArray) -> FloatArray:
    """Round half away from zero, as C's round() in dcm2niix."""
    return np.trunc(values + np.copysign(0.5, values))


def _shift_axis(source: FloatArray, shift: float, low: int, size: int, pad: float, nearest_pad: bool) -> FloatArray:
    """Move ``source`` along axis 0 by ``shift`` pixels into ``size`` rows starting ``low`` rows before it.

    Output row r samples input row y = r - low - shift by linear interpolation between floor(y) and floor(y)+1;
    rows with y outside [0, rows - 1] are padding. With a PixelPaddingValue, a pixel next to padding is taken from
    the nearer input pixel instead of being blended with padding (dcm2niix issue 262).
    """
    rows = source.shape[0]
    out = np.full((size, *source.shape[1:]), pad, dtype=np.float64)
    y0 = -low - shift                       # input coordinate of output row 0
    base = math.floor(y0 + 1e-6)            # a move within a millionth of a pixel of a whole one is that one
    frac = max(0.0, y0 - base)
    first = max(0, -base)                   # first output row whose floor(y) >= 0
    if frac < 1e-6:                         # whole-pixel move: copy
        last = min(size, rows - base)
        if last > first:
            out[first:last] = source[first + base:last + base]
        return out
    last = min(size, rows - 1 - base)       # output rows whose floor(y) + 1 <= rows - 1
    if last <= first:
        return out
    lo = source[first + base:last + base]
    hi = source[first + base + 1:last + base + 1]
    blended = lo * (1.0 - frac) + hi * frac
    if nearest_pad:
        touching = (lo == pad) | (hi == pad)
        blended = np.where(touching, hi if frac >= 0.5 else lo, blended)
    out[first:last] = blended
    return out


def _shifted(hu: npt.NDArray[np.int32], shift: npt.NDArray[np.float64], low: tuple[int, int],
             shape: tuple[int, int], pad: float, nearest_pad: bool) -> FloatArray:
    """One slice (rows, columns) moved in-plane by ``shift`` = (i, j) pixels into the (rows, columns) grid."""
    values = hu.astype(np.float64)
    if abs(float(shift[1])) > 0 or low[1] or shape[1] != hu.shape[0]:
        values = _shift_axis(values, float(shift[1]), low[1], shape[1], pad, nearest_pad)
    if abs(float(shift[0])) > 0 or low[0] or shape[0] != hu.shape[1]:
        values = _shift_axis(values.T, float(shift[0]), low[0], shape[0], pad, nearest_pad).T
    return _round(values)


def _padding(plan: _Plan) -> tuple[float, bool]:
    """The value for pixels the tilt correction adds (HU), and whether PixelPaddingValue gave it (a padding value
    that is no int16 HU is ignored: the darkest value of the series is used, as when there is none)."""
    first = plan.images[0]
    if first.padding is not None:
        value = first.padding * first.slope + first.intercept
        if -32768 <= value <= 32767 and float(value).is_integer():
            return value, True
    return float(min(int(_hu(image).min()) for image in plan.images)), False


def _fill(plan: _Plan, out: npt.NDArray[np.int16]) -> None:
    """Fill ``out`` (slices, rows, columns) slice by slice."""
    pad, nearest_pad = _padding(plan) if plan.shifts is not None else (0.0, False)
    cache: dict[int, npt.NDArray[np.generic]] = {}

    def prepared(index: int) -> npt.NDArray[np.generic]:
        if index not in cache:
            hu = _hu(plan.images[index])
            value: npt.NDArray[np.generic] = hu if plan.shifts is None else \
                _shifted(hu, plan.shifts[index], plan.low, plan.shape, pad, nearest_pad)
            for old in [key for key in cache if key < index - 1]:
                del cache[old]
            cache[index] = value
        return cache[index]

    if plan.targets is None:
        for index in range(len(plan.images)):
            out[index] = prepared(index)
            cache.clear()
        return
    relative = plan.relative
    for s, target in enumerate(plan.targets.tolist()):
        high = min(int(np.searchsorted(relative, target, "left")), len(relative) - 1)
        low = max(high - 1, 0)
        if relative[high] == relative[low] or target >= relative[high]:
            out[s] = prepared(high)
            continue
        weight = (target - relative[low]) / (relative[high] - relative[low])
        below = prepared(low).astype(np.float64)
        above = prepared(high).astype(np.float64)
        out[s] = _round(below * (1.0 - weight) + above * weight)


# --- the public functions ------------------------------------------------------------------------------------------

def convert_series(datasets: Sequence[Dataset], *, uneven: Uneven = "refuse", tilt: Tilt = "keep",
                   tolerance_mm: float = 0.01, resample_step_mm: float | None = None) -> Volume:
    """Convert the datasets of one CT series (with pixel data) into a ``Volume`` of int16 HU.

    ``tolerance_mm`` (plus 2 % of the step) is how far a slice step may differ from the series' step and still be
    regular; slices closer than ``tolerance_mm`` along the normal are duplicates. ``resample_step_mm`` sets the step
    that ``uneven="resample"`` aims at (default: the series' nominal step, the one most slices are apart).
    Raises ConversionError for anything in the data that prevents a correct volume (see the module docstring).
    """
    if uneven not in ("refuse", "keep", "resample"):
        raise ValueError(f"uneven must be 'refuse', 'keep' or 'resample', not {uneven!r}")
    if tilt not in ("keep", "resample"):
        raise ValueError(f"tilt must be 'keep' or 'resample', not {tilt!r}")
    if not (tolerance_mm >= 0 and math.isfinite(tolerance_mm)):
        raise ValueError(f"tolerance_mm must be a non-negative number, not {tolerance_mm!r}")
    images = _images(list(datasets))
    if len(images) < 2:
        found = "no image" if not images else f"one image ({images[0].label})"
        raise ConversionError(f"the series holds {found}; a volume needs at least two slices to know their spacing. "
                              "Choose a series with the whole volume.")
    _same_geometry(images)
    plan = _plan(images, uneven, tilt, tolerance_mm, resample_step_mm)
    notes = _check_decoders(images)
    columns, rows = plan.shape
    slices = len(plan.images) if plan.targets is None else len(plan.targets)
    if columns * rows * slices * 2 > MAX_VOLUME_BYTES:
        raise ConversionError(f"the volume would be {columns} x {rows} x {slices} voxels, more than "
                              f"{MAX_VOLUME_BYTES >> 30} GiB; check the geometry (or resample_step_mm).")
    buffer = np.empty((slices, rows, columns), dtype=np.int16)
    _fill(plan, buffer)
    data = buffer.transpose(2, 1, 0)  # (columns, rows, slices), Fortran-ordered: NIfTI's voxel order on disk
    data.flags.writeable = False

    first = plan.images[0]
    facts = [f"{len(plan.images)} images ({_span(plan.images)}) converted to {columns} x {rows} x {slices} voxels of "
             f"{first.pixel_spacing[1]:g} x {first.pixel_spacing[0]:g} x {plan.step:.4f} mm, slices ordered by "
             "position along the slice normal"]
    if any(image.frame is not None for image in plan.images):
        objects = len({id(image.dataset) for image in plan.images})
        facts.append(f"enhanced multi-frame: {len(plan.images)} frames of {objects} object(s), geometry from the "
                     "functional group sequences")
    facts.extend(_rescale_notes(plan.images))
    return Volume(data=data, affine=plan.affine, spacing=(first.pixel_spacing[1], first.pixel_spacing[0], plan.step),
                  tilt_degrees=plan.tilt, notes=tuple(facts + notes + plan.notes))


def _span(images: list[_Image]) -> str:
    return images[0].label if len(images) == 1 else f"{images[0].label} .. {images[-1].label}"


def _rescale_notes(images: list[_Image]) -> list[str]:
    if not any(image.rescaled for image in images):
        return ["no RescaleSlope/RescaleIntercept: stored values taken as HU"]
    pairs = sorted({(image.slope, image.intercept) for image in images})
    if len(pairs) == 1:
        slope, intercept = pairs[0]
        return [f"HU = stored x {slope:g} + {intercept:g}"]
    intercepts = [intercept for _, intercept in pairs]
    slopes = [slope for slope, _ in pairs]
    return [f"rescale differs between slices (slope {min(slopes):g}..{max(slopes):g}, intercept "
            f"{min(intercepts):g}..{max(intercepts):g}); each slice's own was applied"]


def write_volume(path: Path, volume: Volume) -> None:
    """Write ``volume`` to ``path`` (``.nii.gz``) with the one NIfTI writer (:mod:`curator.io.nifti_writer`)."""
    target = Path(path)
    if not target.name.endswith(".nii.gz"):
        raise ValueError(f"a volume is written as .nii.gz, not {target.name}")
    data = np.asarray(volume.data)
    affine = np.asarray(volume.affine, dtype=np.float64)
    if data.dtype != np.int16 or data.ndim != 3 or 0 in data.shape:
        raise ValueError(f"volume data must be a non-empty 3-D int16 array, not {data.dtype} {data.shape}")
    if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
        raise ValueError("volume affine must be a finite 4x4 matrix")

    write_nifti(target, data, affine)
