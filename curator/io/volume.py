"""A NIfTI volume read whole, once, through the project's streaming reader (ISA-L inflate, multi-member gzip).

For pictures of a study (``curator review``): the first 3D volume as an array in voxel order, its affine and
voxel sizes. The size the header claims is checked against a limit before anything is allocated, and a stream
that ends early, fails its CRC or has an unusable header is a :class:`VolumeError`, never a partial picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from curator.io import ReadError
from curator.io.nifti import NiftiHeader
from curator.io.payload import NiftiStream

__all__ = ["MAX_VOLUME_BYTES", "Volume", "VolumeError", "read_volume"]

#: The largest first volume read (bytes in memory); a thin-slice 512 x 512 x 1000 int16 CT is 500 MB.
MAX_VOLUME_BYTES = 1 << 30


class VolumeError(ReadError):
    pass


@dataclass
class Volume:
    data: npt.NDArray[Any]                 # 3D, voxel axes as stored (Fortran order in the file), scaled if scaled
    affine: npt.NDArray[np.float64]        # the affine nibabel would use; voxel sizes on the diagonal if none
    zooms: tuple[float, float, float]


def read_volume(path: Path, max_bytes: int = MAX_VOLUME_BYTES) -> Volume:
    """The first 3D volume of the NIfTI file at ``path`` (intensity scaling applied, as float32 when scaled).

    Raises VolumeError (unreadable header, header problems, too large, damaged or short stream) or OSError.
    """
    stream = NiftiStream(path, [])
    try:
        header = stream.header
        if isinstance(header, str):
            raise VolumeError(header)
        if header.problems:
            raise VolumeError("; ".join(header.problems))
        shape = tuple(header.shape[:3]) + (1,) * (3 - len(header.shape[:3]))
        if len(shape) != 3 or any(n < 1 for n in shape) or not stream.readable_voxels:
            raise VolumeError(f"not a readable 3D volume (shape {header.shape}, data type {header.datatype})")
        count = math.prod(shape)
        scaled = (header.scl_slope, header.scl_inter) != (1.0, 0.0)
        dtype = np.dtype(np.float32) if scaled else np.dtype(header.dtype_str).newbyteorder("=")
        if count * dtype.itemsize > max_bytes:
            raise VolumeError(f"the volume is too large to read whole ({'x'.join(map(str, shape))} voxels)")
        flat = np.empty(count, dtype=dtype)
        filled = 0
        for block in stream.voxel_blocks():
            take = min(block.size, count - filled)
            flat[filled:filled + take] = block[:take]
            filled += take
            if filled == count:
                break
        if filled == count and math.prod(header.shape[3:]) == 1:
            stream.finish()   # a single volume: read its gzip trailer too, so a CRC mismatch is caught
        if stream.stream_error:
            raise VolumeError(stream.stream_error)
        if filled < count:
            raise VolumeError(f"the data ends after {filled} of {count} voxels: the file is truncated")
        return Volume(flat.reshape(shape, order="F"), _affine(header), _zooms(header))
    finally:
        stream.close()


def _zooms(header: NiftiHeader) -> tuple[float, float, float]:
    sizes = [abs(v) if math.isfinite(v) and v != 0 else 1.0 for v in header.pixdim_raw[1:4]]
    return sizes[0], sizes[1], sizes[2]


def _affine(header: NiftiHeader) -> npt.NDArray[np.float64]:
    if header.affine is not None:
        matrix = np.asarray(header.affine, dtype=np.float64)
        if matrix.shape == (4, 4) and np.isfinite(matrix).all():
            return matrix
    return np.diag([*_zooms(header), 1.0])
