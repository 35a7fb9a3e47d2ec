"""The one NIfTI writer: an array and its affine -> a deterministic ``.nii.gz``, written atomically.

Used by ingest (study volumes and masks), the demo's phantoms and anything else that makes NIfTI from voxels
(the anonymiser rewrites existing files and keeps their voxel bytes; it does not serialise arrays).

The file: NIfTI-1, little-endian, 352-byte header (no extensions), sform = the affine (code 1, scanner),
qform = its un-sheared part (code 1; a qform cannot hold shear), units mm + s, ``scl_slope`` 1 and
``scl_inter`` 0 (no scaling), empty ``descrip`` unless given, the on-disk dtype that of the data (booleans as
uint8). The gzip stream has no name and time 0 (ISA-L where installed, else zlib), so the same input always
gives the same bytes. It is written through :func:`curator.outputs.atomic_file`: a temporary file in the
target folder, fsynced and renamed into place, with curator's one mode policy (0644).
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
import numpy.typing as npt

from curator.outputs import atomic_file

__all__ = ["NIFTI_HEADER_BYTES", "write_nifti"]

ISAL_LEVEL = 2                     # ISA-L's scale (0..3); as small as zlib 6 on CT and much faster
ZLIB_LEVEL = 6
NIFTI_HEADER_BYTES = 352           # 348-byte header + 4-byte empty extension flag
CHUNK_BYTES = 16 << 20             # voxel bytes handed to the compressor at a time
MAX_DESCRIP = 80


def unsheared(affine: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The un-sheared part of ``affine``: the in-plane axes and their normal, scaled by the spacing along it."""
    axis_i, axis_j, axis_k = affine[:3, 0], affine[:3, 1], affine[:3, 2]
    unit_i = axis_i / np.linalg.norm(axis_i)
    unit_j = axis_j - (axis_j @ unit_i) * unit_i
    unit_j = unit_j / np.linalg.norm(unit_j)
    normal = np.cross(unit_i, unit_j)
    qform = affine.copy()
    qform[:3, 1] = unit_j * np.linalg.norm(axis_j)
    qform[:3, 2] = normal * float(axis_k @ normal)
    return qform


def _compressor(handle: IO[bytes]) -> IO[bytes]:
    """A gzip writer without name or time: ISA-L where installed, else zlib."""
    try:
        from isal import igzip

        return cast("IO[bytes]", igzip.IGzipFile(filename="", mode="wb", fileobj=handle, mtime=0,  # type: ignore[no-untyped-call]
                                                 compresslevel=ISAL_LEVEL))
    except ImportError:  # pragma: no cover - isal is a dependency, but a platform may lack a wheel
        return cast("IO[bytes]", gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0,
                                               compresslevel=ZLIB_LEVEL))


def write_nifti(path: Path | str, data: npt.ArrayLike, affine: npt.ArrayLike, *, descrip: str = "") -> None:
    """Write ``data`` (2-D or more, non-empty) with ``affine`` (finite 4x4) to ``path`` (``.nii.gz``).

    Raises ValueError for arguments that make no NIfTI file, OSError when the file cannot be written (the
    target is then left as it was)."""
    from nibabel.nifti1 import Nifti1Header  # imported here: nibabel costs ~0.3 s to import

    target = Path(path)
    if not target.name.endswith(".nii.gz"):
        raise ValueError(f"NIfTI output must end with .nii.gz: {target}")
    array = np.asarray(data)
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    if array.ndim < 2 or array.size == 0:
        raise ValueError(f"data must be a non-empty array with at least 2 dimensions, got shape {array.shape}")
    matrix = np.asarray(affine, dtype=np.float64)
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
        raise ValueError("affine must be a finite 4x4 matrix")
    try:
        text = descrip.encode("ascii")
    except UnicodeEncodeError as error:
        raise ValueError("descrip must be ASCII") from error
    if len(text) > MAX_DESCRIP:
        raise ValueError(f"descrip is limited to {MAX_DESCRIP} bytes")
    array = array.astype(array.dtype.newbyteorder("<"), copy=False)

    header: Any = Nifti1Header(endianness="<")  # type: ignore[no-untyped-call]
    header.set_data_dtype(array.dtype)
    header.set_data_shape(array.shape)
    header.set_qform(unsheared(matrix), code=1)
    header.set_sform(matrix, code=1)
    header.set_xyzt_units("mm", "sec")
    header["descrip"] = text
    header["vox_offset"] = NIFTI_HEADER_BYTES
    header["scl_slope"], header["scl_inter"] = 1.0, 0.0
    block = header.binaryblock + b"\x00\x00\x00\x00"  # extension flag: none
    assert len(block) == NIFTI_HEADER_BYTES

    # NIfTI stores voxels in Fortran order: the last axis varies slowest, so slabs along it follow file order
    slabs = array.reshape((*array.shape[:2], -1), order="F")
    slab_bytes = max(1, slabs[:, :, 0].nbytes)
    per_chunk = max(1, CHUNK_BYTES // slab_bytes)
    with atomic_file(target) as raw, _compressor(raw) as stream:
        stream.write(block)
        for start in range(0, slabs.shape[2], per_chunk):
            stream.write(np.asfortranarray(slabs[:, :, start:start + per_chunk]).tobytes(order="F"))
