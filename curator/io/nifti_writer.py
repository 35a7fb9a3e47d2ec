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

from curator.io.nifti1_header import HEADER_DTYPE, NUMERIC_TYPES
from curator.outputs import atomic_file

__all__ = ["NIFTI_HEADER_BYTES", "header_block", "write_nifti"]

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


# NIfTI-1 datatype code and bits of the plain numbers (the reader's table); any other type goes through nibabel
_DATATYPES = {np.dtype(name): (code, np.dtype(name).itemsize * 8) for code, name in NUMERIC_TYPES.items()}
MM_AND_SECONDS = 2 + 8             # xyzt_units: NIFTI_UNITS_MM + NIFTI_UNITS_SEC


def header_block(array: npt.NDArray[Any], matrix: npt.NDArray[np.float64], descrip: bytes) -> bytes:
    """The 352 bytes before the voxels: the header nibabel's ``Nifti1Header`` makes with ``set_data_dtype``,
    ``set_data_shape``, ``set_qform(unsheared(matrix), code=1)``, ``set_sform(matrix, code=1)``, units mm and s,
    ``descrip``, ``vox_offset`` 352 and scaling 1/0, byte for byte, then the empty extension flag. Made here with
    nibabel's own arithmetic (the same numpy operations in the same order) because importing nibabel costs the
    ingest command more than writing the header (issue 15); an array nibabel would judge otherwise (another type,
    more than 7 dimensions, a dimension beyond int16) is given to nibabel itself. tests/test_ingest_speed.py
    compares the two."""
    coded = _DATATYPES.get(array.dtype)
    if coded is None or array.ndim > 7 or max(array.shape) > 32767:
        return _nibabel_block(array, matrix, descrip)
    fields = np.zeros((), dtype=HEADER_DTYPE)   # (the reader's fields; the rest of the 348 bytes zero)
    fields["sizeof_hdr"], fields["magic"] = 348, b"n+1"
    fields["datatype"], fields["bitpix"] = coded
    fields["dim"] = [array.ndim, *array.shape, *[1] * (7 - array.ndim)]
    fields["pixdim"] = 1.0
    # nibabel's set_qform: zooms, the sign of the determinant (qfac), the closest rotation (polar decomposition)
    qform = unsheared(matrix)
    rzs = qform[:3, :3]
    zooms = np.sqrt(np.sum(rzs * rzs, axis=0))
    if not (np.all(np.isfinite(qform)) and np.all(zooms > 0) and np.linalg.det(rzs) != 0):
        raise ValueError("affine is singular: no orientation (qform) can be made of it")   # (nibabel: HeaderDataError)
    rotation = rzs / zooms
    qfac = 1 if np.linalg.det(rotation) > 0 else -1
    if qfac < 0:
        rotation[:, -1] *= -1
    p, _, qs = np.linalg.svd(rotation)
    fields["qoffset_x"], fields["qoffset_y"], fields["qoffset_z"] = qform[:3, 3]
    fields["pixdim"][0] = qfac
    fields["pixdim"][1:4] = zooms
    fields["quatern_b"], fields["quatern_c"], fields["quatern_d"] = _quaternion(np.dot(p, qs))[1:]
    fields["srow_x"], fields["srow_y"], fields["srow_z"] = matrix[:3, :]
    fields["qform_code"] = fields["sform_code"] = 1
    fields["xyzt_units"] = MM_AND_SECONDS
    fields["descrip"] = descrip
    fields["vox_offset"] = NIFTI_HEADER_BYTES
    fields["scl_slope"], fields["scl_inter"] = 1.0, 0.0
    return fields.tobytes() + b"\x00\x00\x00\x00"  # extension flag: none


def _quaternion(rotation: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """nibabel.quaternions.mat2quat: the quaternion (w, x, y, z) of a rotation matrix, w positive."""
    qxx, qyx, qzx, qxy, qyy, qzy, qxz, qyz, qzz = rotation.flat
    k = np.array([[qxx - qyy - qzz, 0, 0, 0], [qyx + qxy, qyy - qxx - qzz, 0, 0],
                  [qzx + qxz, qzy + qyz, qzz - qxx - qyy, 0], [qyz - qzy, qzx - qxz, qxy - qyx, qxx + qyy + qzz]]) / 3.0
    values, vectors = np.linalg.eigh(k)
    q: npt.NDArray[np.float64] = vectors[[3, 0, 1, 2], np.argmax(values)]
    if q[0] < 0:
        q *= -1
    return q


def _nibabel_block(array: npt.NDArray[Any], matrix: npt.NDArray[np.float64], descrip: bytes) -> bytes:
    from nibabel.nifti1 import Nifti1Header  # imported here: nibabel costs ~0.1-0.4 s to import

    header: Any = Nifti1Header(endianness="<")  # type: ignore[no-untyped-call]
    header.set_data_dtype(array.dtype)
    header.set_data_shape(array.shape)
    header.set_qform(unsheared(matrix), code=1)
    header.set_sform(matrix, code=1)
    header.set_xyzt_units("mm", "sec")
    header["descrip"] = descrip
    header["vox_offset"] = NIFTI_HEADER_BYTES
    header["scl_slope"], header["scl_inter"] = 1.0, 0.0
    block: bytes = header.binaryblock + b"\x00\x00\x00\x00"  # extension flag: none
    assert len(block) == NIFTI_HEADER_BYTES
    return block


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

    block = header_block(array, matrix, text)

    # NIfTI stores voxels in Fortran order: the last axis varies slowest, so slabs along it follow file order
    slabs = array.reshape((*array.shape[:2], -1), order="F")
    slab_bytes = max(1, slabs[:, :, 0].nbytes)
    per_chunk = max(1, CHUNK_BYTES // slab_bytes)
    with atomic_file(target) as raw, _compressor(raw) as stream:
        stream.write(block)
        for start in range(0, slabs.shape[2], per_chunk):
            stream.write(np.asfortranarray(slabs[:, :, start:start + per_chunk]).tobytes(order="F"))
