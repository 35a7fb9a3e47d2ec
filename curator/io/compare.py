"""Read two NIfTI files in lockstep and say whether their decoded data differ (for ``curator diff``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from curator.io.nifti import NiftiHeader
from curator.io.payload import NiftiStream, trailing_bytes


@dataclass(frozen=True)
class VolumeComparison:
    readable: bool
    same_grid: bool            # shape and affine (to 1e-4 mm) agree
    same_voxels: bool          # decoded values identical (scaling applied)
    old_foreground: int = 0    # non-zero voxels, for masks
    new_foreground: int = 0
    overlap: int = 0           # voxels non-zero in both
    old_trailing: int = 0      # bytes after the last voxel (in the stream or after the gzip stream)
    new_trailing: int = 0
    old_stream_error: str | None = None   # a damaged, corrupt or truncated stream
    new_stream_error: str | None = None

    @property
    def dice(self) -> float | None:
        total = self.old_foreground + self.new_foreground
        return 2 * self.overlap / total if total else None


def _same_affine(a: NiftiHeader, b: NiftiHeader) -> bool:
    if a.affine is None or b.affine is None:
        return a.affine == b.affine
    return all(abs(x - y) <= 1e-4 for ra, rb in zip(a.affine, b.affine, strict=True)
               for x, y in zip(ra, rb, strict=True))


def compare_volumes(old: Path, new: Path) -> VolumeComparison:
    """Stream both files once; memory stays at one block per file."""
    import numpy as np

    first, second = NiftiStream(old, []), NiftiStream(new, [])
    try:
        a, b = first.header, second.header
        if not (isinstance(a, NiftiHeader) and isinstance(b, NiftiHeader)
                and first.readable_voxels and second.readable_voxels):
            return VolumeComparison(readable=False, same_grid=False, same_voxels=False)
        same_grid = a.shape == b.shape and _same_affine(a, b)
        if a.shape != b.shape:
            return VolumeComparison(readable=True, same_grid=False, same_voxels=False)
        same = True
        old_fg = new_fg = overlap = 0
        for block_a, block_b in zip(first.voxel_blocks(), second.voxel_blocks(), strict=False):
            if block_a.shape != block_b.shape or not np.array_equal(block_a, block_b):
                same = False
            fa, fb = block_a != 0, block_b != 0
            old_fg += int(fa.sum())
            new_fg += int(fb.sum())
            if fa.shape == fb.shape:
                overlap += int((fa & fb).sum())
        # read both to the end: bytes after the voxels, or a damaged trailer, are not "the same voxels repackaged"
        end_a, end_b = first.finish(), second.finish()
        return VolumeComparison(readable=True, same_grid=same_grid, same_voxels=same, old_foreground=old_fg,
                                new_foreground=new_fg, overlap=overlap,
                                old_trailing=trailing_bytes(end_a, a), new_trailing=trailing_bytes(end_b, b),
                                old_stream_error=end_a.stream_error, new_stream_error=end_b.stream_error)
    finally:
        first.close()
        second.close()
