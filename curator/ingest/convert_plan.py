"""Planning the converter's voxel grid (``curator.ingest.convert``): the images in order along the slice normal,
duplicates, missing slices and uneven steps refused or handled, gantry tilt kept (a sheared sform) or resampled,
and the affine."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from curator.ingest.convert_headers import ConversionError, SeriesImage, vector
from curator.io.slice_steps import classify_steps, mm, nominal_step, step_runs

Uneven = Literal["refuse", "keep", "resample"]
Tilt = Literal["keep", "resample"]
FloatArray = npt.NDArray[np.float64]

PERPENDICULAR_TOLERANCE = 1e-2     # |row . column| above this: the direction cosines are not perpendicular
SHIFT_PIXELS = 0.01                # tilt="resample" moves slices only when one would move by more than this


@dataclass
class Plan:
    images: list[SeriesImage]                  # in order along the normal
    relative: FloatArray                  # distance of each from the first along the normal (mm)
    shifts: FloatArray | None             # (n, 2) in-plane shift of each slice in pixels (i, j), when resampled
    low: tuple[int, int]                  # pixels added before column 0 / row 0 by the shift
    shape: tuple[int, int]                # output (columns, rows)
    targets: FloatArray | None            # output slice positions (relative mm) when resampled along the normal
    step: float                           # output slice spacing along the normal
    affine: FloatArray
    tilt: float
    notes: list[str]


# --- planning the grid ---------------------------------------------------------------------------------------------

def _axes(image: SeriesImage) -> tuple[FloatArray, FloatArray, FloatArray]:
    row = np.array(image.orientation[:3], dtype=np.float64)
    col = np.array(image.orientation[3:], dtype=np.float64)
    row_length, col_length = float(np.linalg.norm(row)), float(np.linalg.norm(col))
    if row_length < 0.5 or col_length < 0.5:
        raise ConversionError(f"{image.label}: ImageOrientationPatient {vector(image.orientation)} does not hold "
                              "two unit direction vectors.")
    row, col = row / row_length, col / col_length
    if abs(float(row @ col)) > PERPENDICULAR_TOLERANCE:
        raise ConversionError(f"{image.label}: the row and column directions of ImageOrientationPatient "
                              f"{vector(image.orientation)} are not perpendicular.")
    normal = np.cross(row, col)
    return row, col, normal / float(np.linalg.norm(normal))


@dataclass
class _Stack:
    """The images in order along the slice normal, with what the planning steps need of them."""

    images: list[SeriesImage]
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


def _stack(images: list[SeriesImage], tolerance_mm: float) -> _Stack:
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


def plan_grid(images: list[SeriesImage], uneven: Uneven, tilt: Tilt, tolerance_mm: float,
          resample_step_mm: float | None) -> Plan:
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
    return Plan(images=images, relative=relative, shifts=shifts_px if shifting else None, low=low, shape=shape,
                 targets=targets, step=step_out, affine=affine, tilt=round(tilt_degrees, 4), notes=notes)


def _gantry_tag(ds: Dataset) -> float | None:
    try:
        value = ds.get("GantryDetectorTilt")
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None
