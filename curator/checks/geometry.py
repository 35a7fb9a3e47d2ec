"""Where a mask sits in space compared with its study, in physical terms (mm, voxels, degrees).

nnU-Net compares raw affines with numpy's default tolerances, which are meaningless in mm; here the test is
the largest displacement of any corner voxel of the study grid, in mm and as a fraction of the smallest voxel
size, and the rotation angle between the two direction matrices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product

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
