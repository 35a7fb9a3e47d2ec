"""Mask vs study geometry in physical terms: millimetres, voxels, degrees."""

from __future__ import annotations

import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from curator.checks.geometry import misalignment, rotation_degrees
from tests.factories import DEFAULT_AFFINE, lesion_mask, write_nifti
from tests.reports import validate_output, validate_report


def as_tuple(matrix: np.ndarray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(v) for v in row) for row in matrix)


def rotation_z(degrees: float) -> np.ndarray:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    matrix = np.eye(4)
    matrix[:2, :2] = [[c, -s], [s, c]]
    return matrix


def test_identical_grids_are_aligned() -> None:
    off = misalignment(as_tuple(DEFAULT_AFFINE), as_tuple(DEFAULT_AFFINE), (8, 8, 4))
    assert off.shift_mm == 0 and off.rotation_deg == pytest.approx(0, abs=1e-6)
    assert off.spacing_ratio == (1.0, 1.0, 1.0)


def test_translation_is_reported_in_mm_and_voxels() -> None:
    moved = DEFAULT_AFFINE.copy()
    moved[0, 3] += 2.0
    off = misalignment(as_tuple(DEFAULT_AFFINE), as_tuple(moved), (8, 8, 4))
    assert off.shift_mm == pytest.approx(2.0) and off.shift_voxels == pytest.approx(2.5)   # 0.8 mm voxels


def test_rotation_and_flip_angles() -> None:
    turned = rotation_z(1.0) @ DEFAULT_AFFINE
    assert rotation_degrees(as_tuple(DEFAULT_AFFINE), as_tuple(turned)) == pytest.approx(1.0, abs=1e-6)
    flipped = DEFAULT_AFFINE.copy()
    flipped[0, 0] *= -1                     # a mask mirrored left to right
    assert rotation_degrees(as_tuple(DEFAULT_AFFINE), as_tuple(flipped)) == pytest.approx(180.0)


def _mask_findings(release: Path, exit_code: int) -> list[dict]:
    report = validate_report(release, "--select", "geometry,mask", exit_code=exit_code)
    return [f for f in report["findings"] if f["code"].startswith("MASK_")]


def test_a_shifted_mask_is_an_error_with_physical_context(release: Path) -> None:
    mask = release / "masks/study_0003_mask.nii.gz"
    affine = nib.load(release / "studies/CT-1/study_0003.nii.gz").affine.copy()
    affine[1, 3] += 1.6                     # two voxels along y
    write_nifti(mask, lesion_mask(), affine)
    (finding,) = _mask_findings(release, exit_code=1)
    assert finding["code"] == "MASK_GEOMETRY_MISMATCH" and finding["severity"] == "error"
    assert finding["path"] == "masks/study_0003_mask.nii.gz" and finding["study_id"] == 3
    assert finding["context"]["shift_mm"] == pytest.approx(1.6, abs=1e-3)
    assert finding["context"]["shift_voxels"] == pytest.approx(2.0, abs=1e-3)
    assert finding["context"]["study"] == "studies/CT-1/study_0003.nii.gz"
    assert "1.6 mm" in finding["message"] and "along y (anterior-posterior)" in finding["message"]
    # a looser tolerance, given on the command line, lets it pass
    report = validate_report(release, "--select", "geometry", "--tolerance-voxels", "2.5", exit_code=0)
    assert report["findings"] == []


def test_a_mirrored_mask_is_caught_and_float_noise_is_not(release: Path) -> None:
    study_affine = nib.load(release / "studies/CT-1/study_0004.nii.gz").affine
    noisy = study_affine.copy()
    noisy[:3, 3] += 1e-4                    # float32 rounding in a rewritten header
    write_nifti(release / "masks/study_0004_mask.nii.gz", lesion_mask(), noisy)
    assert _mask_findings(release, exit_code=0) == []
    mirrored = study_affine.copy()
    mirrored[0, 0] *= -1
    write_nifti(release / "masks/study_0004_mask.nii.gz", lesion_mask(), mirrored)
    (finding,) = _mask_findings(release, exit_code=1)
    assert finding["context"]["rotation_deg"] == pytest.approx(180.0) and finding["context"]["mirrored"] is True


def test_a_flip_or_permutation_of_the_voxel_grid_is_found_exactly_and_a_shift_is_not() -> None:
    from curator.checks.geometry import to_study_order, voxel_order
    from tests.factories import in_voxel_order

    study = DEFAULT_AFFINE.copy()
    study[:3, 3] = [10.0, -20.0, 30.0]
    data = lesion_mask()
    data[0, 0, 0] = 1                           # no symmetry that would hide a wrong flip
    for codes, flipped, axes in (("LPS", "1", "0, 1, 2"), ("RAS", "0", "0, 1, 2"), ("SLA", "none", "1, 2, 0"),
                                 ("PIR", "0, 1, 2", "2, 0, 1")):
        mask, affine = in_voxel_order(data, study, codes)
        order = voxel_order(as_tuple(study), as_tuple(affine), data.shape, mask.shape, 0.05)
        assert order is not None and (order.flipped_axes, order.axis_order) == (flipped, axes), codes
        assert (order.mask_order, order.study_order) == (codes, "LAS")
        assert np.array_equal(to_study_order(mask, order), data), codes
    mask, affine = in_voxel_order(data, study, "LPS")
    affine[1, 3] += 0.8                         # flipped, and one voxel off: not the same grid
    assert voxel_order(as_tuple(study), as_tuple(affine), data.shape, mask.shape, 0.05) is None
    mirrored = study.copy()
    mirrored[0, 0] *= -1                        # the same array drawn mirrored in space: not the same grid
    assert voxel_order(as_tuple(study), as_tuple(mirrored), data.shape, data.shape, 0.05) is None


def test_a_mask_in_another_voxel_order_is_named_as_flips_not_as_a_shift(release: Path) -> None:
    from tests.factories import in_voxel_order

    study = nib.load(release / "studies/CT-1/study_0003.nii.gz")
    mask, affine = in_voxel_order(lesion_mask(), study.affine, "LPS")      # the study is LAS
    write_nifti(release / "masks/study_0003_mask.nii.gz", mask, affine)
    (finding,) = _mask_findings(release, exit_code=1)
    assert finding["code"] == "MASK_GEOMETRY_MISMATCH" and finding["path"] == "masks/study_0003_mask.nii.gz"
    assert finding["context"]["variant"] == "voxel_order"
    assert (finding["context"]["flipped"], finding["context"]["axis_order"]) == ("1", "0, 1, 2")
    assert "mask voxel order LPS, study's LAS; flipped axes: 1" in finding["message"]
    assert "shifted" not in finding["message"].replace("not shifted", "")
    russian = validate_output(release, "--select", "MASK_GEOMETRY_MISMATCH", "--lang", "ru", exit_code=1)
    assert "в другом порядке вокселей" in russian and "порядок вокселей маски LPS" in russian
    permuted, affine = in_voxel_order(lesion_mask(), study.affine, "SAL")   # axes 2, 1, 0: another shape too
    write_nifti(release / "masks/study_0003_mask.nii.gz", permuted, affine)
    (finding,) = _mask_findings(release, exit_code=1)
    assert finding["code"] == "MASK_GEOMETRY_MISMATCH" and finding["context"]["axis_order"] == "2, 1, 0"
