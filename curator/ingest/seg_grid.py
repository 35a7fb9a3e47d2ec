"""Placing a SEG's frames on a converted volume's grid (``curator.ingest.seg``): each frame's pixel grid must
coincide with the volume's in-plane grid; the refusal names what differs (orientation, spacing, origin, slant)."""

from __future__ import annotations

import math

import numpy as np

from curator.ingest.convert_headers import vector
from curator.ingest.seg_records import LPS_TO_RAS, FloatArray, Frames, SegError, Segment

# --- placing the frames --------------------------------------------------------------------------------------------

def _angle(a: FloatArray, b: FloatArray) -> float:
    cosine = float(a @ b) / (float(np.linalg.norm(a)) * float(np.linalg.norm(b)))
    return math.degrees(math.acos(max(-1.0, min(1.0, cosine))))


def frame_positions(frames: Frames, affine: FloatArray, shape: tuple[int, int, int], tolerance_mm: float,
           segments: dict[int, Segment]) -> tuple[FloatArray, FloatArray]:
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


def _grid_message(frame: int, frames: Frames, affine: FloatArray, v0: FloatArray, inplane: float, slant: float,
                  tolerance_mm: float, segment: Segment) -> str:
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
                         f"{vector([round(float(v), 6) for v in (*row, *col)])})")
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
