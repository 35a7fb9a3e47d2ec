"""checks/headers.py (the fast tier's NIfTI headers) called directly on what validate's gatherer read."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np

from curator.checks import headers
from tests.check_facts import MASK, STUDY, gather_facts, rows
from tests.factories import ct_volume, in_voxel_order, lesion_mask, nifti_bytes, write_nifti


def affine(release: Path, n: int) -> np.ndarray:
    return nib.load(release / STUDY[n]).affine


def test_a_built_release_has_no_header_finding(built_release: Path) -> None:
    assert rows(headers.check(gather_facts(built_release))) == []


def test_headers_that_cannot_describe_a_volume_or_are_odd(release: Path) -> None:
    (release / STUDY[1]).write_bytes(b"not gzip at all")
    write_nifti(release / STUDY[2], ct_volume(), affine(release, 2), qform_code=0, sform_code=0)
    short = nifti_bytes(ct_volume(), affine(release, 5))[:-100]         # 100 bytes of voxels missing
    with gzip.open(release / STUDY[5], "wb") as stream:
        stream.write(short)
    write_nifti(release / STUDY[6], ct_volume(), affine(release, 6), space_unit="meter")
    qform = affine(release, 7).copy()
    qform[0, 3] += 5.0                                                  # the qform 5 mm off the sform
    write_nifti(release / STUDY[7], ct_volume(), affine(release, 7), qform=qform)
    findings = list(headers.check(gather_facts(release)))
    assert rows(findings) == [
        ("IMAGE_UNREADABLE", STUDY[1], {"reason": "only 15 bytes, a NIfTI header needs 348"}),
        ("IMAGE_HEADER_INVALID", STUDY[2], {
            "reason": "qform_code and sform_code are both 0: the image has no position in scanner space"}),
        ("IMAGE_TRUNCATED", STUDY[5], {"expected_bytes": 864, "actual_bytes": 764, "reason": (
            "the header implies 864 bytes of uncompressed data, the gzip stream decompresses to 764")}),
        ("IMAGE_HEADER_SUSPECT", STUDY[6], {
            "reason": "spatial units are metres, not millimetres (xyzt_units 9); readers will assume mm"}),
        ("IMAGE_XFORM_INCONSISTENT", STUDY[7], {"shift_mm": 5.0, "rotation_deg": 0.0})]
    assert [f.study_id for f in findings] == [1, 2, 5, 6, 7]


def test_masks_of_the_wrong_type_or_grid(release: Path) -> None:
    write_nifti(release / MASK[3], lesion_mask().astype(np.float32), affine(release, 3))
    write_nifti(release / MASK[4], lesion_mask((8, 8, 3)), affine(release, 4), scaling=(2.0, 0.0))
    assert rows(headers.check(gather_facts(release))) == [
        ("MASK_DTYPE_INVALID", MASK[3], {"datatype": "float32", "reason": "a floating-point or unknown type"}),
        ("MASK_DTYPE_INVALID", MASK[4], {"datatype": "int16",
                                         "reason": "intensity scaling scl_slope=2.0, scl_inter=0.0"}),
        ("MASK_SHAPE_MISMATCH", MASK[4], {"mask_shape": [8, 8, 3], "study": STUDY[4], "study_shape": [8, 8, 4]})]


def test_a_shifted_mask_and_a_study_in_another_orientation(release: Path) -> None:
    shifted = affine(release, 3).copy()
    shifted[1, 3] += 1.6                                                # two 0.8 mm voxels along y
    write_nifti(release / MASK[3], lesion_mask(), shifted)
    data, turned = in_voxel_order(ct_volume(), affine(release, 8), "LPS")
    write_nifti(release / STUDY[8], data, turned)
    assert rows(headers.check(gather_facts(release))) == [
        ("MASK_GEOMETRY_MISMATCH", MASK[3], {
            "study": STUDY[3], "shift_mm": 1.6, "shift_voxels": 2.0, "axis": "y (anterior-posterior)",
            "rotation_deg": 0.0, "spacing_ratio": [1.0, 1.0, 1.0], "mirrored": False,
            "tolerance": {"voxel_fraction": 0.05, "degrees": 0.05}}),
        ("ORIENTATION_INCONSISTENT", STUDY[8], {"orientation": "LPS", "majority": "LAS", "count": 9})]
