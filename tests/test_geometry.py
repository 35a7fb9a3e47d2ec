"""Mask vs study geometry in physical terms: millimetres, voxels, degrees."""

from __future__ import annotations

import json
import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner

from curator.checks.geometry import misalignment, rotation_degrees
from curator.cli.main import main
from tests.factories import DEFAULT_AFFINE, lesion_mask, write_nifti


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


def _mask_findings(release: Path) -> list[dict]:
    result = CliRunner().invoke(main, ["validate", str(release), "--format", "json", "--select", "geometry,mask"])
    return [f for f in json.loads(result.output)["findings"] if f["code"].startswith("MASK_")]


def test_a_shifted_mask_is_an_error_with_physical_context(release: Path) -> None:
    mask = release / "masks/study_0003_mask.nii.gz"
    affine = nib.load(release / "studies/CT-1/study_0003.nii.gz").affine.copy()
    affine[1, 3] += 1.6                     # two voxels along y
    write_nifti(mask, lesion_mask(), affine)
    (finding,) = _mask_findings(release)
    assert finding["code"] == "MASK_GEOMETRY_MISMATCH" and finding["severity"] == "error"
    assert finding["path"] == "masks/study_0003_mask.nii.gz" and finding["study_id"] == 3
    assert finding["context"]["shift_mm"] == pytest.approx(1.6, abs=1e-3)
    assert finding["context"]["shift_voxels"] == pytest.approx(2.0, abs=1e-3)
    assert finding["context"]["study"] == "studies/CT-1/study_0003.nii.gz"
    assert "1.6 mm" in finding["message"] and "along y (anterior-posterior)" in finding["message"]
    # a looser tolerance, given on the command line, lets it pass
    result = CliRunner().invoke(main, ["validate", str(release), "--format", "json", "--select", "geometry",
                                       "--tolerance-voxels", "2.5"])
    assert json.loads(result.output)["findings"] == []


def test_a_mirrored_mask_is_caught_and_float_noise_is_not(release: Path) -> None:
    study_affine = nib.load(release / "studies/CT-1/study_0004.nii.gz").affine
    noisy = study_affine.copy()
    noisy[:3, 3] += 1e-4                    # float32 rounding in a rewritten header
    write_nifti(release / "masks/study_0004_mask.nii.gz", lesion_mask(), noisy)
    assert _mask_findings(release) == []
    mirrored = study_affine.copy()
    mirrored[0, 0] *= -1
    write_nifti(release / "masks/study_0004_mask.nii.gz", lesion_mask(), mirrored)
    (finding,) = _mask_findings(release)
    assert finding["context"]["rotation_deg"] == pytest.approx(180.0) and finding["context"]["mirrored"] is True
