"""NIfTI-1 headers of the common kind read without nibabel, which costs ~0.4 s CPU to import (it imports pydicom,
scipy and every image format), more than `validate --deep` spends on a small release's voxels.

``Nifti1Fields`` answers the part of nibabel's ``Nifti1Header`` interface that ``io.nifti`` reads, with
nibabel's own arithmetic (the same numpy operations in the same order, so every float is the same), for headers of
the common kind only (``common``): little-endian, dim[0] 1..7, a numeric datatype, a qform or an sform; nibabel
reads any other. tests/test_nifti1_header.py compares the two on many headers.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

# (name, numpy type, offset) of the fields io.nifti reads and io.nifti_writer writes; nibabel's header_dtd gives
# the same types
_FIELDS = [("sizeof_hdr", "<i4", 0), ("dim", ("<i2", (8,)), 40), ("datatype", "<i2", 70), ("bitpix", "<i2", 72),
           ("pixdim", ("<f4", (8,)), 76), ("vox_offset", "<f4", 108), ("scl_slope", "<f4", 112),
           ("scl_inter", "<f4", 116), ("xyzt_units", "u1", 123), ("qform_code", "<i2", 252),
           ("sform_code", "<i2", 254), ("quatern_b", "<f4", 256), ("quatern_c", "<f4", 260),
           ("quatern_d", "<f4", 264), ("qoffset_x", "<f4", 268), ("qoffset_y", "<f4", 272),
           ("qoffset_z", "<f4", 276), ("srow_x", ("<f4", (4,)), 280), ("srow_y", ("<f4", (4,)), 296),
           ("srow_z", ("<f4", (4,)), 312), ("descrip", "S80", 148), ("magic", "S4", 344)]
HEADER_DTYPE = np.dtype({"names": [f[0] for f in _FIELDS], "formats": [f[1] for f in _FIELDS],
                         "offsets": [f[2] for f in _FIELDS], "itemsize": 348})
# NIfTI-1 datatype codes of plain numbers (nibabel's table; RGB, complex, float128 and the rest go to nibabel)
NUMERIC_TYPES = {2: "u1", 4: "<i2", 8: "<i4", 16: "<f4", 64: "<f8", 256: "i1", 512: "<u2", 768: "<u4",
                 1024: "<i8", 1280: "<u8"}
_QUATERNION_THRESHOLD = np.finfo(np.float32).eps * 3   # nibabel's Nifti1Header.quaternion_threshold
_FLOAT_EPS = np.finfo(float).eps


class HeaderValueError(ValueError):
    """A transform or scaling nibabel would refuse (io.nifti treats any exception from these getters alike)."""


class Nifti1Fields:
    """What io.nifti reads of a NIfTI-1 header: ``header[name]`` and nibabel's getters, nibabel's results."""

    def __init__(self, fields: Any) -> None:
        self._fields = fields

    @staticmethod
    def common(raw: bytes) -> bool:
        """Whether the NIfTI-1 header ``raw`` is of the kind read here (else nibabel reads it)."""
        if len(raw) < 348:
            return False
        fields = np.frombuffer(raw, dtype=HEADER_DTYPE, count=1)[0]
        return (int(fields["sizeof_hdr"]) == 348 and 1 <= int(fields["dim"][0]) <= 7
                and int(fields["datatype"]) in NUMERIC_TYPES
                and (int(fields["qform_code"]) != 0 or int(fields["sform_code"]) != 0))

    @classmethod
    def from_fileobj(cls, handle: io.BytesIO, check: bool = False) -> Nifti1Fields:
        """The header in ``handle``, whose 348 bytes ``common`` accepted."""
        return cls(np.frombuffer(handle.read(348), dtype=HEADER_DTYPE, count=1)[0])

    def __getitem__(self, name: str) -> Any:
        return self._fields[name]

    def get_data_dtype(self) -> np.dtype[Any]:
        return np.dtype(NUMERIC_TYPES[int(self._fields["datatype"])])

    def get_slope_inter(self) -> tuple[float | None, float | None]:
        slope = float(self._fields["scl_slope"])
        inter = float(self._fields["scl_inter"])
        if slope == 0 or not np.isfinite(slope):
            return None, None
        if not np.isfinite(inter):
            raise HeaderValueError(f"Valid slope but invalid intercept {inter}")
        return slope, inter

    def get_best_affine(self) -> np.ndarray[Any, Any]:
        # from_fileobj keeps only headers with a qform or an sform: nibabel's base affine is never needed
        return self.get_sform() if self._fields["sform_code"] != 0 else self.get_qform()

    def get_sform(self) -> np.ndarray[Any, Any]:
        out = np.eye(4)
        out[0, :] = self._fields["srow_x"][:]
        out[1, :] = self._fields["srow_y"][:]
        out[2, :] = self._fields["srow_z"][:]
        return out

    def get_qform(self) -> np.ndarray[Any, Any]:
        fields = self._fields
        rotation = _quat2mat(_fillpositive([fields["quatern_b"], fields["quatern_c"], fields["quatern_d"]]))
        vox = fields["pixdim"][1:4].copy()
        if np.any(vox < 0):
            raise HeaderValueError("pixdims[1,2,3] should be positive")
        qfac = fields["pixdim"][0]
        if qfac not in (-1, 1):
            raise HeaderValueError("qfac (pixdim[0]) should be 1 or -1")
        vox[-1] *= qfac
        out = np.eye(4)
        out[0:3, 0:3] = np.dot(rotation, np.diag(vox))
        out[0:3, 3] = [fields["qoffset_x"], fields["qoffset_y"], fields["qoffset_z"]]
        return out


def _fillpositive(xyz: list[Any]) -> np.ndarray[Any, Any]:
    """nibabel.quaternions.fillpositive with the header's threshold."""
    bcd = np.asarray(xyz, dtype=np.longdouble)
    w2 = 1.0 - bcd @ bcd
    if np.abs(w2) < np.abs(_QUATERNION_THRESHOLD):
        w: Any = 0
    elif w2 < 0:
        raise HeaderValueError(f"w2 should be positive, but is {w2:e}")
    else:
        w = np.sqrt(w2)
    quaternion: np.ndarray[Any, Any] = np.r_[w, bcd]
    return quaternion


def _quat2mat(q: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """nibabel.quaternions.quat2mat."""
    w, x, y, z = q
    nq = w * w + x * x + y * y + z * z
    if nq < _FLOAT_EPS:
        return np.eye(3)
    s = 2.0 / nq
    big_x, big_y, big_z = x * s, y * s, z * s
    w_x, w_y, w_z = w * big_x, w * big_y, w * big_z
    x_x, x_y, x_z = x * big_x, x * big_y, x * big_z
    y_y, y_z, z_z = y * big_y, y * big_z, z * big_z
    return np.array([[1.0 - (y_y + z_z), x_y - w_z, x_z + w_y],
                     [x_y + w_z, 1.0 - (x_x + z_z), y_z - w_x],
                     [x_z - w_y, y_z + w_x, 1.0 - (x_x + y_y)]])
