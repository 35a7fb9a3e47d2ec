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

The steps live beside this module: ``convert_headers`` (reading each image's header, ``ConversionError``),
``convert_frames`` (compressed frames against the header), ``convert_plan`` (the grid and affine) and
``convert_pixels`` (decoding, HU, tilt and spacing resampling into the output array).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from curator.ingest.convert_headers import ConversionError, SeriesImage, check_same_geometry, read_images
from curator.ingest.convert_pixels import check_decoders, fill_volume
from curator.ingest.convert_plan import FloatArray, Tilt, Uneven, plan_grid
from curator.io.nifti_writer import write_nifti

__all__ = ["ConversionError", "Volume", "convert_series", "write_volume"]

MAX_VOLUME_BYTES = 4 << 30         # never allocate a larger output volume


@dataclass(frozen=True, eq=False)  # eq=False: arrays do not compare to one truth value
class Volume:
    """A converted series. ``data`` is read-only int16 HU with shape (columns, rows, slices) = NIfTI (i, j, k)."""

    data: npt.NDArray[np.int16]
    affine: FloatArray                    # 4x4 voxel -> RAS+ mm
    spacing: tuple[float, float, float]   # (column mm, row mm, slice mm along the normal)
    tilt_degrees: float                   # gantry tilt seen in the positions (0 when none)
    notes: tuple[str, ...]                # facts for the provenance record


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
    images = read_images(list(datasets))
    if len(images) < 2:
        found = "no image" if not images else f"one image ({images[0].label})"
        raise ConversionError(f"the series holds {found}; a volume needs at least two slices to know their spacing. "
                              "Choose a series with the whole volume.")
    check_same_geometry(images)
    plan = plan_grid(images, uneven, tilt, tolerance_mm, resample_step_mm)
    notes = check_decoders(images)
    columns, rows = plan.shape
    slices = len(plan.images) if plan.targets is None else len(plan.targets)
    if columns * rows * slices * 2 > MAX_VOLUME_BYTES:
        raise ConversionError(f"the volume would be {columns} x {rows} x {slices} voxels, more than "
                              f"{MAX_VOLUME_BYTES >> 30} GiB; check the geometry (or resample_step_mm).")
    buffer = np.empty((slices, rows, columns), dtype=np.int16)
    fill_volume(plan, buffer)
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


def _span(images: list[SeriesImage]) -> str:
    return images[0].label if len(images) == 1 else f"{images[0].label} .. {images[-1].label}"


def _rescale_notes(images: list[SeriesImage]) -> list[str]:
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
