"""Masks given alongside the DICOM studies (NIfTI, made on the converted volume): checked, then written clean.

A mask is taken only when it sits on its volume's grid (same shape; voxel corners within 0.05 voxel) and holds
integer labels from {0, 1}, MosMed's lesion masks. A mask on the same world grid in another voxel order (LAS as
dcm2niix and TotalSegmentator write it, against the volume's LPS; or with its axes permuted) is no shift: its
voxels are put in the volume's order by exact flips and transposes (no resampling), and the staging says which.
It is written with the volume's affine, as uint8, without header text or extensions, gzip without name or time:
the same bytes on every run.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from curator.checks.geometry import to_study_order, voxel_order
from curator.io.nifti_writer import write_nifti

LABELS = frozenset({0, 1})
TOLERANCE_VOXELS = 0.05


def _corner_shift(shape: tuple[int, ...], a: np.ndarray, b: np.ndarray) -> float:
    corners = np.array([[*c, 1.0] for c in itertools.product(*[(0, n - 1) for n in shape[:3]])]).T
    return float(np.max(np.linalg.norm((a @ corners - b @ corners)[:3], axis=0)))


def _rows(matrix: np.ndarray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(v) for v in row) for row in matrix)


@dataclass(frozen=True)
class StagedMask:
    """What staging a mask did: ``problem`` says why it cannot be used (nothing written), else ``reordered`` says
    how its voxels were put in the volume's order ("" when they already were)."""

    problem: str | None = None
    reordered: str = ""


def stage_mask(source: Path, volume: Path, target: Path) -> StagedMask:
    """Write the checked mask to ``target``, in the volume's voxel order."""
    problem, reordered = _stage(source, volume, target)
    return StagedMask(problem=problem, reordered=reordered)


def _stage(source: Path, volume: Path, target: Path) -> tuple[str | None, str]:
    try:
        mask_image: Any = nib.load(source)      # a NIfTI image (nibabel types load() as any image)
        volume_image: Any = nib.load(volume)
    except FileNotFoundError:
        return "the file does not exist", ""
    except Exception as error:  # nibabel raises many kinds for a broken file
        return f"not a readable NIfTI file ({' '.join(str(error).split())[:200]})", ""
    mask_shape = tuple(int(n) for n in mask_image.shape)
    shape = tuple(int(n) for n in volume_image.shape)
    affine = np.asarray(mask_image.affine, dtype=np.float64)
    if not np.all(np.isfinite(affine)):
        return "its affine holds values that are not finite numbers (NaN or infinity)", ""
    volume_affine = np.asarray(volume_image.affine, dtype=np.float64)
    order = (voxel_order(_rows(volume_affine), _rows(affine), shape, mask_shape, TOLERANCE_VOXELS)
             if len(mask_shape) == 3 and len(shape) == 3 else None)
    if order is None:
        if mask_shape != shape:
            return f"its shape {mask_shape} differs from the volume's {shape}", ""
        spacing = float(min(volume_image.header.get_zooms()[:3]))
        shift = _corner_shift(shape, affine, volume_affine)
        if shift > TOLERANCE_VOXELS * spacing:
            return f"its grid is shifted {shift:.3f} mm from the volume's (tolerance {TOLERANCE_VOXELS} voxel)", ""
    dtype = mask_image.get_data_dtype()
    if not np.issubdtype(dtype, np.integer) and dtype != np.bool_:
        return f"it stores {dtype} voxels; a label mask needs an integer type", ""
    # a loaded image's header has its scaling reset (nibabel keeps it on the data proxy): read it there
    slope, intercept = (float(getattr(mask_image.dataobj, name, value)) for name, value in (("slope", 1.0),
                                                                                          ("inter", 0.0)))
    if slope != 1.0 or intercept != 0.0:
        return (f"its header scales the stored labels (scl_slope {slope}, scl_inter {intercept}); a label mask is "
                "stored unscaled: write it with slope 1 and intercept 0"), ""
    try:
        data = np.asarray(mask_image.dataobj.get_unscaled())
    except Exception as error:  # a truncated file is found only when its voxels are read
        return f"its voxels cannot be read ({' '.join(str(error).split())[:200]})", ""
    values = {int(v) for v in np.unique(data)}
    stray = sorted(values - LABELS)
    if stray:
        return f"it holds values {stray[:10]} outside {sorted(LABELS)}", ""
    reordered = ""
    if order is not None and not order.identity:
        data = to_study_order(data, order)
        reordered = f"{order.describe()}; voxels reordered onto the volume's order by flips and transposes, " \
                    "no resampling"
    write_nifti(target, data.astype(np.uint8), volume_affine)
    return None, reordered
