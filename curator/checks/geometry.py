"""Where a mask sits in space compared with its study, in physical terms (mm, voxels, degrees).

nnU-Net compares raw affines with numpy's default tolerances, which are meaningless in mm; here the test is
the largest displacement of any corner voxel of the study grid, in mm and as a fraction of the smallest voxel
size, and the rotation angle between the two direction matrices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product

import numpy as np

Matrix = tuple[tuple[float, ...], ...]
_AXES = ("x (left-right)", "y (anterior-posterior)", "z (head-feet)")


@dataclass(frozen=True)
class Misalignment:
    shift_mm: float          # largest corner displacement
    shift_voxels: float      # the same as a fraction of the study's smallest voxel size
    rotation_deg: float      # angle of the rotation taking the study's axes onto the mask's
    spacing_ratio: tuple[float, float, float]   # mask voxel size / study voxel size per axis
    mirrored: bool           # the mask's grid is a mirror image of the study's (e.g. left-right flipped)
    axis: str = ""           # world axis along which the largest shift mostly lies


def _apply(affine: Matrix, point: tuple[float, float, float]) -> tuple[float, float, float]:
    x, y, z = point
    return (
        affine[0][0] * x + affine[0][1] * y + affine[0][2] * z + affine[0][3],
        affine[1][0] * x + affine[1][1] * y + affine[1][2] * z + affine[1][3],
        affine[2][0] * x + affine[2][1] * y + affine[2][2] * z + affine[2][3],
    )


def _zooms(affine: Matrix) -> tuple[float, float, float]:
    return tuple(math.sqrt(sum(affine[r][c] ** 2 for r in range(3))) for c in range(3))  # type: ignore[return-value]


def _directions(affine: Matrix) -> list[list[float]]:
    zooms = _zooms(affine)
    return [[affine[r][c] / zooms[c] if zooms[c] else 0.0 for c in range(3)] for r in range(3)]


def _det(m: list[list[float]]) -> float:
    return (m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]))


def is_mirrored(study: Matrix, mask: Matrix) -> bool:
    """True when one grid is the other's mirror image (their handedness differs)."""
    return _det(_directions(study)) * _det(_directions(mask)) < 0


def rotation_degrees(study: Matrix, mask: Matrix) -> float:
    """Angle of R = D_mask · D_studyᵀ. A mirror image is no rotation at all: it is reported as 180."""
    if is_mirrored(study, mask):
        return 180.0
    a, b = _directions(study), _directions(mask)
    trace = sum(sum(b[i][k] * a[i][k] for k in range(3)) for i in range(3))
    cosine = max(-1.0, min(1.0, (trace - 1.0) / 2.0))
    return math.degrees(math.acos(cosine))


def misalignment(study: Matrix, mask: Matrix, shape: tuple[int, ...]) -> Misalignment:
    """How far the mask's grid is from the study's, over the corners of the study's grid."""
    if study == mask:  # the common case, a mask written with its study's affine: nothing to measure
        zooms = _zooms(study)
        return Misalignment(shift_mm=0.0, shift_voxels=0.0, rotation_deg=0.0,
                            spacing_ratio=tuple(1.0 if z else math.inf for z in zooms),  # type: ignore[arg-type]
                            mirrored=False, axis="")
    extent = [max(int(n) - 1, 0) for n in shape[:3]] + [0] * (3 - len(shape[:3]))
    shift, axis = 0.0, ""
    for corner in product(*((0, n) for n in extent)):
        p = _apply(study, corner)  # type: ignore[arg-type]
        q = _apply(mask, corner)  # type: ignore[arg-type]
        distance = math.dist(p, q)
        if distance > shift:
            delta = [b - a for a, b in zip(p, q, strict=True)]
            axis = _AXES[max(range(3), key=lambda i: abs(delta[i]))]
            shift = distance
    study_zooms, mask_zooms = _zooms(study), _zooms(mask)
    smallest = min(z for z in study_zooms if z > 0) if any(z > 0 for z in study_zooms) else 1.0
    ratio = tuple(m / s if s else math.inf for m, s in zip(mask_zooms, study_zooms, strict=True))
    return Misalignment(shift_mm=shift, shift_voxels=shift / smallest, rotation_deg=rotation_degrees(study, mask),
                        spacing_ratio=ratio, mirrored=is_mirrored(study, mask), axis=axis)  # type: ignore[arg-type]


def axcodes(affine: Matrix) -> str:
    """Orientation letters of the voxel axes, as nibabel's aff2axcodes: 'LAS' for the real MosMed files."""
    letters = (("L", "R"), ("P", "A"), ("I", "S"))
    directions = _directions(affine)
    codes = []
    for column in range(3):
        axis = max(range(3), key=lambda row: abs(directions[row][column]))
        codes.append(letters[axis][1] if directions[axis][column] > 0 else letters[axis][0])
    return "".join(codes)


@dataclass(frozen=True)
class VoxelOrder:
    """How a mask's voxel array maps onto its study's when both lie on one world grid in different voxel orders.

    Study axis ``i`` is the mask's axis ``axes[i]``, reversed when ``flipped[i]``: ``numpy.transpose`` by ``axes``
    then ``numpy.flip`` on the flipped axes puts the mask's voxels in the study's order, without resampling.
    """

    axes: tuple[int, int, int]
    flipped: tuple[bool, bool, bool]
    mask_order: str          # orientation letters of the mask's voxel axes (e.g. LAS)
    study_order: str         # and of the study's (e.g. LPS)

    @property
    def identity(self) -> bool:
        return self.axes == (0, 1, 2) and not any(self.flipped)

    @property
    def flipped_axes(self) -> str:
        """The study axes the mask runs backwards along, e.g. "1" or "0, 2"; "none"."""
        return ", ".join(str(i) for i, f in enumerate(self.flipped) if f) or "none"

    @property
    def axis_order(self) -> str:
        """The mask axis behind each study axis, e.g. "0, 1, 2" (no permutation) or "2, 1, 0"."""
        return ", ".join(str(a) for a in self.axes)

    def describe(self) -> str:
        """In words, for provenance and ingest messages: "mask voxel order LAS, study's LPS: axis 1 flipped"."""
        parts = []
        if self.axes != (0, 1, 2):
            parts.append(f"axes permuted (study axes 0, 1, 2 are the mask's axes {self.axis_order})")
        if any(self.flipped):
            flips = [str(i) for i, f in enumerate(self.flipped) if f]
            parts.append(f"{'axis' if len(flips) == 1 else 'axes'} {', '.join(flips)} flipped")
        return f"mask voxel order {self.mask_order}, study's {self.study_order}: {'; '.join(parts) or 'the same'}"


def voxel_order(study: Matrix, mask: Matrix, study_shape: tuple[int, ...], mask_shape: tuple[int, ...],
                tolerance_voxels: float) -> VoxelOrder | None:
    """The exact axis flips and permutation that take the mask's voxel grid onto the study's, when the two grids
    are the same set of points in space (every voxel centre within ``tolerance_voxels`` of the study's smallest
    voxel size); None when they are not (a shift, a rotation, another spacing or extent)."""
    if len(study_shape) < 3 or len(mask_shape) < 3:
        return None
    try:
        to_study = np.linalg.inv(np.asarray(study, dtype=np.float64)) @ np.asarray(mask, dtype=np.float64)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(to_study)):
        return None
    rotation = np.rint(to_study[:3, :3])
    axes: list[int] = []
    flipped: list[bool] = []
    translation = np.zeros(3)
    for i in range(3):
        nonzero = [c for c in range(3) if rotation[i, c] != 0]
        if len(nonzero) != 1 or abs(rotation[i, nonzero[0]]) != 1:
            return None
        column = nonzero[0]
        if int(mask_shape[column]) != int(study_shape[i]):
            return None
        axes.append(column)
        flipped.append(bool(rotation[i, column] < 0))
        translation[i] = int(study_shape[i]) - 1 if flipped[-1] else 0
    if sorted(axes) != [0, 1, 2]:
        return None
    exact = np.eye(4)
    exact[:3, :3] = rotation
    exact[:3, 3] = translation
    corners = np.array([[*c, 1.0] for c in product(*[(0, int(n) - 1) for n in mask_shape[:3]])]).T
    error = np.linalg.norm((np.asarray(mask) @ corners - np.asarray(study) @ exact @ corners)[:3], axis=0)
    zooms = [z for z in _zooms(study) if z > 0] or [1.0]
    if float(np.max(error)) > tolerance_voxels * min(zooms):
        return None
    return VoxelOrder(axes=(axes[0], axes[1], axes[2]), flipped=(flipped[0], flipped[1], flipped[2]),
                      mask_order=axcodes(mask), study_order=axcodes(study))


def to_study_order(data: np.ndarray, order: VoxelOrder) -> np.ndarray:
    """The mask's voxels in the study's voxel order: a transpose and flips, no resampling (a copy)."""
    moved = np.transpose(data, (*order.axes, *range(3, data.ndim)))
    flips = tuple(i for i, f in enumerate(order.flipped) if f)
    return np.ascontiguousarray(np.flip(moved, axis=flips) if flips else moved)
