"""io/nifti1_header reads the common NIfTI-1 headers as nibabel does: the same NiftiHeader, float for float, on
headers nibabel writes and on thousands of damaged ones; the deep tier's validate imports no nibabel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from nibabel.nifti1 import Nifti1Header

from curator.io import nifti
from curator.io.nifti1_header import Nifti1Fields
from tests.factories import ct_volume, nifti_bytes, write_nifti


def parsed(raw: bytes, klass: type) -> str:
    """repr of what io.nifti makes of ``raw`` with header class ``klass`` (repr: a NaN equals itself)."""
    try:
        return repr(nifti._parse(raw, klass, compressed=True, file_size=1000, isize=None))
    except nifti.NiftiReadError as error:
        return f"NiftiReadError: {error}"


def variants() -> list[bytes]:
    rng = np.random.default_rng(7)
    angle = np.deg2rad(17.0)
    rotated = np.array([[np.cos(angle), -np.sin(angle), 0, 10], [np.sin(angle), np.cos(angle), 0, -20],
                        [0, 0, 1, 30], [0, 0, 0, 1]]) @ np.diag([0.7, 0.7, 8.0, 1.0])
    out = []
    for dtype in (np.uint8, np.int16, np.int32, np.float32, np.float64, np.int8, np.uint16, np.uint32):
        for qform_code, sform_code in ((1, 1), (1, 0), (0, 1), (2, 4)):
            for affine in (np.diag([0.7, 0.8, 5.0, 1.0]), rotated, np.diag([-1.0, 1.0, 1.0, 1.0])):
                out.append(nifti_bytes(ct_volume((4, 5, 3)).astype(dtype), affine, qform_code=qform_code,
                                       sform_code=sform_code)[:348])
    base = out[5]
    for _ in range(2000):   # damaged headers: random bytes in random fields, sizeof_hdr and magic kept
        raw = bytearray(base)
        for _ in range(int(rng.integers(1, 4))):
            at = int(rng.integers(4, 344))
            raw[at : at + 4] = rng.integers(0, 256, size=4, dtype=np.uint8).tobytes()
        out.append(bytes(raw))
    for field, value in (("scl_slope", np.nan), ("scl_slope", 0.0), ("scl_slope", np.inf), ("scl_inter", np.inf),
                         ("quatern_b", 0.9), ("quatern_b", 1.0), ("quatern_b", 0.99999994), ("pixdim", -1.0),
                         ("pixdim", 0.0), ("pixdim", 2.0), ("vox_offset", np.nan), ("vox_offset", -5.0)):
        header = Nifti1Header.from_fileobj(__import__("io").BytesIO(base), check=False)
        if field == "pixdim":
            header["pixdim"][0 if value != -1.0 else 2] = value
        else:
            header[field] = value
        out.append(header.binaryblock)
    return out


def test_the_common_headers_read_as_nibabel_reads_them() -> None:
    raws = variants()
    common = [raw for raw in raws if Nifti1Fields.common(raw)]
    assert len(common) > 1200  # most damaged headers stay common: the comparison covers them
    for raw in common:
        assert parsed(raw, Nifti1Fields) == parsed(raw, Nifti1Header), raw.hex()


def test_other_headers_go_to_nibabel() -> None:
    raw = nifti_bytes(ct_volume(), qform_code=0, sform_code=0)
    big_endian = Nifti1Header.from_fileobj(__import__("io").BytesIO(raw[:348]), check=False).as_byteswapped(">")
    complex_data = nifti_bytes(ct_volume().astype(np.complex64))
    assert not any(Nifti1Fields.common(r[:348]) for r in (raw, big_endian.binaryblock, complex_data))


@pytest.mark.parametrize("dtype", [np.int16, np.uint8, np.float32])
def test_read_header_agrees_with_nibabel(tmp_path: Path, dtype: type) -> None:
    path = write_nifti(tmp_path / "x.nii.gz", ct_volume().astype(dtype), scaling=(0.5, -1024.0))
    header = nifti.read_header(path)
    import nibabel as nib

    image = nib.load(path)
    assert header.affine == tuple(tuple(float(v) for v in row) for row in image.affine)
    assert (header.dtype_str, header.scl_slope, header.scl_inter) == (image.get_data_dtype().str, 0.5, -1024.0)


def test_validate_deep_imports_no_nibabel(release: Path) -> None:
    code = ("import sys; from click.testing import CliRunner; from curator.cli.main import main; "
            f"r = CliRunner().invoke(main, ['validate', {str(release)!r}, '--deep', '--jobs', '1', '--no-cache']); "
            "print(r.exit_code, 'nibabel' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "False"]
