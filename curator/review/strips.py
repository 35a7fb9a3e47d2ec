"""The review page's thumbnails (``curator review``), pure presentation.

:func:`axial_planes` reads a study (and its mask) once each and returns a few axial slices in display
orientation, the mask placed in the study's space by the two files' affines (nearest neighbour), so a mask that
is shifted, mirrored or transposed against its study *looks* shifted, mirrored or transposed. :func:`strip_png`
draws them side by side in the lung window (the windowing and the translucent red overlay are
:mod:`curator.release.figures`'), one ``TILE`` x ``TILE`` pixel tile per slice, with Pillow: small, fast and
byte-identical for the same input. :func:`label_strip_png` does the same for 2D label maps.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from curator.io.volume import read_volume
from curator.models.labels import LabelScheme
from curator.release.figures import MASK_ALPHA, MASK_COLOUR, _display, lung_window_rgb, mask_colour

__all__ = ["BACKGROUND", "LABEL_ALPHA", "SLICES", "TILE", "Grey", "LabelStyle", "Labels", "Planes", "axial_planes",
           "label_strip_png", "label_style", "strip_png", "volume_planes"]

#: Axial slices per study and the edge of one slice's square tile, in pixels.
SLICES: Final = 5
TILE: Final = 128

HU = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]
Grey = npt.NDArray[np.uint8]      # a 2D slice as stored: 8-bit grey, already windowed
Labels = npt.NDArray[np.integer[Any]]   # a 2D label map, its values as the release's label scheme says
#: The key of the label that is not drawn (schema/labels: the same word in every scheme).
BACKGROUND: Final = "background"

LABEL_ALPHA: Final = MASK_ALPHA   # as the NIfTI mask: the opacity under a lesion stays visible
OUTLINE_ALPHA: Final = 0.55       # a label that is not a lesion (the lung field): a thin half-transparent outline
RGB = tuple[float, float, float]


@dataclass(frozen=True)
class LabelStyle:
    """How a study's labels are drawn, from its label scheme (picklable: it travels to the workers).

    ``fills``: each lesion label, a translucent fill with a solid outline in its colour; ``outlines``: each other
    label but the background (CNCB's lung field, MedSeg's effusion), a thin half-transparent outline around it
    together with the lesions (which lie inside the lung field); ``mask``: the colour of a lesion / no-lesion
    mask (NIfTI studies)."""

    fills: tuple[tuple[int, RGB], ...] = ()
    outlines: tuple[tuple[int, RGB], ...] = ()
    mask: RGB = MASK_COLOUR

    @property
    def lesion_values(self) -> tuple[int, ...]:
        return tuple(value for value, _ in self.fills)


def label_style(scheme: LabelScheme | None) -> LabelStyle:
    """The drawing style of ``scheme``'s labels (None: a lesion / no-lesion mask in :data:`MASK_COLOUR`)."""
    if scheme is None:
        return LabelStyle()
    fills = tuple((label.value, label.rgb) for label in scheme.labels if label.lesion)
    outlines = tuple((label.value, label.rgb) for label in scheme.labels
                     if not label.lesion and label.key != BACKGROUND)
    return LabelStyle(fills, outlines, mask_colour(scheme))



# ----------------------------------------------------------------------------------------------------------
# Reading the slices


@dataclass
class Planes:
    """Axial slices of one study in display orientation (rows anterior..posterior, columns patient right..left)."""

    slices: list[tuple[HU, Mask | None]]
    indices: list[int]                   # the slices' voxel indices along the study's axial axis
    pixel_mm: tuple[float, float]        # (row, column) spacing of the display planes
    notes: list[str] = field(default_factory=list)


def _pick(depth: int, count: int, extent: tuple[int, int] | None) -> list[int]:
    """``count`` distinct slice indices: spread over ``extent`` (widened to ``count`` slices where the volume
    allows) when given, else over the whole volume."""
    n = max(1, min(count, depth))
    if extent is None:
        return sorted({min(depth - 1, int((i + 0.5) * depth / n)) for i in range(n)})
    lo, hi = max(0, extent[0]), min(depth - 1, extent[1])
    while hi - lo + 1 < n:
        if lo > 0:
            lo -= 1
        if hi - lo + 1 < n and hi < depth - 1:
            hi += 1
    if n == 1:
        return [(lo + hi) // 2]
    return sorted({int(np.floor(lo + (hi - lo) * i / (n - 1) + 0.5)) for i in range(n)})


def axial_planes(study: Path, mask: Path | None = None, count: int = SLICES) -> Planes:
    """Read ``study`` (and ``mask``) once each and return ``count`` axial slices with the mask's slices.

    With a mask that has any foreground, the slices are spread over the axial extent of the foreground as the
    mask's affine places it in the study (widened to ``count`` slices), else evenly over the volume. The mask
    is resampled into the study's grid through both affines (nearest neighbour): what is drawn is where the
    mask's own header says it lies. Raises OSError or VolumeError when a file cannot be read.
    """
    volume = read_volume(study)
    mask_grid: tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]] | None = None
    if mask is not None:
        mask_read = read_volume(mask)
        mask_grid = (np.asarray(mask_read.data != 0), mask_read.affine)
        del mask_read   # only the boolean mask is kept
    return volume_planes(volume.data, volume.affine, volume.zooms, mask_grid, count)


def _place_mask(mask_grid: tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]] | None,
                affine: npt.NDArray[np.float64], shape: tuple[int, ...], axial: int, notes: list[str],
                ) -> tuple[npt.NDArray[np.bool_] | None, npt.NDArray[np.float64] | None, tuple[int, int] | None]:
    """Where a mask lies in the study: the mask (None: not drawn), study voxel -> mask voxel (None: the same
    grid), and the axial extent of its foreground in the study's slices (None: no foreground, or outside the
    volume). What a reviewer should know goes into ``notes``."""
    if mask_grid is None:
        return None, None, None
    mask_volume: npt.NDArray[np.bool_] | None = mask_grid[0]
    to_mask = _study_to_mask(mask_grid[1], affine)
    if to_mask is None:
        if mask_grid[0].shape != shape:
            notes.append("the mask's affine cannot be inverted and its grid differs: not drawn")
            return None, None, None
        notes.append("the mask's affine cannot be inverted: drawn on the study's voxel grid")
    elif mask_grid[0].shape == shape and np.allclose(to_mask, np.eye(4), atol=1e-3):
        to_mask = None
    else:
        notes.append("mask placed in the study by its own affine (it is not on the study's grid)")
    if mask_volume is None or not mask_volume.any():
        return mask_volume, to_mask, None
    if to_mask is None:
        along = np.flatnonzero(mask_volume.any(axis=tuple(a for a in range(3) if a != axial)))
        return mask_volume, None, (int(along[0]), int(along[-1]))
    where = [np.flatnonzero(mask_volume.any(axis=tuple(a for a in range(3) if a != d))) for d in range(3)]
    corners = np.array([[x, y, z, 1.0] for x in (where[0][0], where[0][-1])
                        for y in (where[1][0], where[1][-1]) for z in (where[2][0], where[2][-1])])
    in_study = (np.linalg.inv(to_mask) @ corners.T)[axial]
    lo, hi = int(np.floor(in_study.min())), int(np.ceil(in_study.max()))
    if hi < 0 or lo > shape[axial] - 1:
        notes.append("the mask lies entirely outside the study's volume")
        return mask_volume, to_mask, None
    return mask_volume, to_mask, (lo, hi)


def _study_to_mask(mask_affine: npt.NDArray[np.float64], affine: npt.NDArray[np.float64],
                   ) -> npt.NDArray[np.float64] | None:
    """The study-voxel to mask-voxel transform, None when the mask's affine cannot be inverted."""
    try:
        to_mask: npt.NDArray[np.float64] = np.linalg.inv(mask_affine) @ affine
    except np.linalg.LinAlgError:
        return None
    return to_mask if np.isfinite(to_mask).all() else None


def volume_planes(raw: npt.NDArray[Any], affine: npt.NDArray[np.float64], zooms: Sequence[float],
                  mask_grid: tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]] | None = None,
                  count: int = SLICES) -> Planes:
    """:func:`axial_planes` of a volume already in memory: ``raw`` in voxel order with its ``affine`` and voxel
    sizes ``zooms``, and optionally a boolean mask with its own affine (a DICOM series converted by
    :func:`curator.ingest.convert.convert_series` comes this way)."""
    import nibabel.orientations

    orientations: Any = nibabel.orientations   # nibabel is only partly annotated
    ornt: npt.NDArray[np.float64] = orientations.io_orientation(affine)
    notes: list[str] = []
    if np.isnan(ornt).any() or sorted(int(o) for o in ornt[:3, 0]) != [0, 1, 2]:
        ornt = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
        notes.append("the study's affine is degenerate: voxel axes drawn as they are")
    axial = int(np.flatnonzero(ornt[:3, 0] == 2)[0])
    first, second = (a for a in range(3) if a != axial)
    shape = raw.shape[:3]

    mask_volume, to_mask, extent = _place_mask(mask_grid, affine, shape, axial, notes)
    indices = _pick(int(shape[axial]), count, extent)

    slices: list[tuple[HU, Mask | None]] = []
    for index in indices:
        selector: list[Any] = [slice(None)] * 3
        selector[axial] = index
        plane = np.asarray(raw[tuple(selector)], dtype=np.float32)
        mask_plane: Mask | None = None
        if mask_volume is not None:
            mask_plane = (mask_volume[tuple(selector)] if to_mask is None
                          else _resample_plane(mask_volume, to_mask, shape, axial, index))
        hu = np.ascontiguousarray(_display(plane, (first, second), ornt), dtype=np.float32)
        shown = None if mask_plane is None else np.ascontiguousarray(_display(mask_plane, (first, second), ornt))
        slices.append((hu, shown))

    row_axis = first if int(ornt[first, 0]) == 1 else second   # after _display rows follow the A axis
    column_axis = second if row_axis == first else first
    pixel_mm = (zooms[row_axis] or 1.0, zooms[column_axis] or 1.0)
    return Planes(slices=slices, indices=indices, pixel_mm=pixel_mm, notes=notes)


def _resample_plane(mask: npt.NDArray[np.bool_], to_mask: npt.NDArray[np.float64], shape: tuple[int, ...],
                    axial: int, index: int) -> Mask:
    """The mask on one axial plane of the study's grid: each study voxel takes the nearest mask voxel."""
    first, second = (a for a in range(3) if a != axial)
    rows, columns = np.meshgrid(np.arange(shape[first]), np.arange(shape[second]), indexing="ij")
    points = np.empty((3, rows.size), dtype=np.float64)
    points[first], points[second], points[axial] = rows.ravel(), columns.ravel(), index
    voxels = np.floor(to_mask[:3, :3] @ points + to_mask[:3, 3:4] + 0.5).astype(np.int64)
    inside = np.ones(rows.size, dtype=bool)
    for axis in range(3):
        inside &= (voxels[axis] >= 0) & (voxels[axis] < mask.shape[axis])
    values = np.zeros(rows.size, dtype=bool)
    values[inside] = mask[voxels[0][inside], voxels[1][inside], voxels[2][inside]]
    return values.reshape(rows.shape)


# ----------------------------------------------------------------------------------------------------------
# Drawing the strip


def _edge(mask: Mask) -> Mask:
    """The mask's boundary pixels (4-neighbourhood)."""
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return mask & ~inner


def _fit(shape: tuple[int, ...], pixel_mm: tuple[float, float], size: int) -> tuple[int, int, bool]:
    """(height, width) of a slice of ``shape`` fitted into a ``size`` tile with square millimetre pixels, and
    whether it is enlarged three times or more (then its pixels are shown as blocks, not blurred)."""
    rows, columns = shape[:2]
    height_mm, width_mm = rows * pixel_mm[0], columns * pixel_mm[1]
    scale = size / max(height_mm, width_mm)
    out_h = min(size, max(1, round(height_mm * scale)))
    out_w = min(size, max(1, round(width_mm * scale)))
    return out_h, out_w, out_h >= 3 * rows or out_w >= 3 * columns


def _fit_mask(mask: Mask, out_h: int, out_w: int, upscale: bool) -> Mask:
    """A boolean mask resized to the tile; a thin structure stays visible when it is made smaller."""
    from PIL import Image

    weights = Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8) * 255, mode="L")
    mask_filter = Image.Resampling.NEAREST if upscale else Image.Resampling.BILINEAR
    return np.asarray(weights.resize((out_w, out_h), mask_filter)) > 63   # keep small lesions visible


def _centre_on_tile(rgb: npt.NDArray[np.float32], size: int) -> npt.NDArray[np.uint8]:
    """An RGB image (0..1) centred on a black ``size`` x ``size`` tile."""
    out_h, out_w = rgb.shape[:2]
    tile = np.zeros((size, size, 3), dtype=np.uint8)
    top, left = (size - out_h) // 2, (size - out_w) // 2
    tile[top:top + out_h, left:left + out_w] = np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    return tile


def _tile(hu: HU, mask: Mask | None, pixel_mm: tuple[float, float], size: int, colour: RGB) -> npt.NDArray[np.uint8]:
    """One slice fitted into a ``size`` x ``size`` black tile, square pixels in millimetres, the mask in
    ``colour``."""
    from PIL import Image

    out_h, out_w, upscale = _fit(hu.shape, pixel_mm, size)
    grey_filter = Image.Resampling.NEAREST if upscale else Image.Resampling.LANCZOS
    hu_small = np.asarray(Image.fromarray(np.ascontiguousarray(hu, dtype=np.float32), mode="F")
                          .resize((out_w, out_h), grey_filter), dtype=np.float32)
    mask_small = None if mask is None else _fit_mask(mask, out_h, out_w, upscale)
    rgb = lung_window_rgb(hu_small, mask_small, colour)
    if mask_small is not None and mask_small.any():
        rgb[_edge(mask_small)] = np.asarray(colour, dtype=np.float32)
    return _centre_on_tile(rgb, size)


def _strip(tiles: Sequence[npt.NDArray[np.uint8]], size: int) -> tuple[bytes, tuple[int, int]]:
    from PIL import Image

    strip = np.concatenate(tiles, axis=1) if tiles else np.zeros((size, size, 3), dtype=np.uint8)
    for k in range(1, len(tiles)):
        strip[:, k * size] = 64   # a thin grey line between slices
    buffer = io.BytesIO()
    Image.fromarray(strip, mode="RGB").save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue(), (strip.shape[1], strip.shape[0])


def strip_png(planes: Planes, size: int = TILE, colour: RGB = MASK_COLOUR) -> tuple[bytes, tuple[int, int]]:
    """The slices side by side, ``size`` pixels a slice, masks in ``colour``, as PNG bytes, and the image's
    (width, height)."""
    return _strip([_tile(hu, mask, planes.pixel_mm, size, colour) for hu, mask in planes.slices], size)


def _blend(rgb: npt.NDArray[np.float32], where: Mask, colour: RGB, alpha: float) -> None:
    rgb[where] = (1 - alpha) * rgb[where] + alpha * np.asarray(colour, dtype=np.float32)


def _label_tile(grey: Grey, labels: Labels | None, size: int, style: LabelStyle) -> npt.NDArray[np.uint8]:
    """One 8-bit slice as it is (no windowing), fitted into a tile, its label map drawn over it as ``style``
    says: each label that is not a lesion (the lung field) as a thin half-transparent outline around it and the
    lesions inside it, then each lesion label a translucent fill with a solid outline in its own colour."""
    from PIL import Image

    out_h, out_w, upscale = _fit(grey.shape, (1.0, 1.0), size)
    grey_filter = Image.Resampling.NEAREST if upscale else Image.Resampling.LANCZOS
    small = np.asarray(Image.fromarray(np.ascontiguousarray(grey, dtype=np.uint8), mode="L")
                       .resize((out_w, out_h), grey_filter), dtype=np.float32) / np.float32(255)
    rgb = np.repeat(small[..., None], 3, axis=2)
    if labels is not None:
        for value, colour in style.outlines:
            if (labels == value).any():
                field = _fit_mask(np.isin(labels, (value, *style.lesion_values)), out_h, out_w, upscale)
                _blend(rgb, _edge(field), colour, OUTLINE_ALPHA)
        for value, colour in style.fills:
            found = labels == value
            if not found.any():
                continue
            region = _fit_mask(found, out_h, out_w, upscale)
            _blend(rgb, region, colour, LABEL_ALPHA)
            rgb[_edge(region)] = np.asarray(colour, dtype=np.float32)
    return _centre_on_tile(rgb, size)


def label_strip_png(slices: Sequence[tuple[Grey, Labels | None]], style: LabelStyle,
                    size: int = TILE) -> tuple[bytes, tuple[int, int]]:
    """2D slices (8-bit grey as stored) with their label maps drawn as ``style`` says, side by side, as PNG
    bytes and (width, height)."""
    return _strip([_label_tile(grey, labels, size, style) for grey, labels in slices], size)
