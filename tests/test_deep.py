"""`curator validate --deep`: one read per NIfTI payload finds what headers cannot show."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from curator.io.payload import scan_nifti
from tests.factories import ct_volume, flip_byte, lesion_mask, write_nifti
from tests.reports import validate_report


def deep(root: Path, *args: str, exit_code: int) -> dict:
    return validate_report(root, "--deep", *args, exit_code=exit_code)


def affine_of(path: Path) -> np.ndarray:
    return nib.load(path).affine


def test_a_built_release_passes_the_deep_tier(built_release: Path) -> None:
    report = deep(built_release, exit_code=0)
    assert report["findings"] == []


def test_mask_values_outside_the_label_set(release: Path) -> None:
    mask = release / "masks/study_0003_mask.nii.gz"
    data = lesion_mask()
    data[0, 0, 0] = 2
    data[1, 0, 0] = 2
    data[0, 1, 0] = -1
    write_nifti(mask, data, affine_of(mask))
    assert "MASK_VALUES_UNEXPECTED" not in {f["code"] for f in deep(release, "--fast", exit_code=1)["findings"]}
    report = deep(release, "--select", "mask", exit_code=1)
    (finding,) = report["findings"]
    assert finding["code"] == "MASK_VALUES_UNEXPECTED" and finding["path"] == "masks/study_0003_mask.nii.gz"
    assert finding["context"]["values"] == [-1, 2] and finding["context"]["allowed"] == [0, 1]
    assert finding["context"]["voxels"] == {"-1": 1, "2": 2}


def test_empty_mask_is_a_warning(release: Path) -> None:
    mask = release / "masks/study_0004_mask.nii.gz"
    write_nifti(mask, np.zeros((8, 8, 4), dtype=np.uint8), affine_of(mask))
    report = deep(release, "--select", "mask", exit_code=0)
    assert [(f["code"], f["severity"], f["study_id"]) for f in report["findings"]] == [("MASK_EMPTY", "warning", 4)]


def test_implausible_intensities(release: Path) -> None:
    study = release / "studies/CT-2/study_0006.nii.gz"
    volume = ct_volume()
    volume[0, 0, 0] = 9000
    write_nifti(study, volume, affine_of(study))
    report = deep(release, "--select", "image", exit_code=0)
    (finding,) = report["findings"]
    assert finding["code"] == "IMAGE_INTENSITY_IMPLAUSIBLE" and finding["context"]["maximum"] == 9000
    assert finding["context"]["above"] == 1 and finding["severity"] == "warning"


def test_nan_in_a_float_study(release: Path) -> None:
    study = release / "studies/CT-2/study_0006.nii.gz"
    volume = ct_volume().astype(np.float32)
    volume[1, 1, 1] = np.nan
    write_nifti(study, volume, affine_of(study))
    report = deep(release, "--select", "image", exit_code=0)
    assert [(f["code"], f["context"]["non_finite"]) for f in report["findings"]] == [("IMAGE_INTENSITY_IMPLAUSIBLE", 1)]


def test_crc_damage_is_truncation_in_the_deep_tier_only(release: Path) -> None:
    path = release / "studies/CT-0/study_0001.nii.gz"
    write_nifti(path, ct_volume((128, 128, 40)), affine_of(path))
    path = release / "masks/study_0003_mask.nii.gz"
    write_nifti(path, lesion_mask(), affine_of(path))  # tiny: the trailer arrives with the header
    flip_byte(path, -6)
    path = release / "studies/CT-0/study_0001.nii.gz"
    flip_byte(path, -6)     # inside the gzip trailer's CRC-32: headers and sizes still look fine
    fast = deep(release, "--fast", "--select", "image,geometry", exit_code=0)
    assert fast["findings"] == []
    report = deep(release, "--select", "image", exit_code=1)
    assert [(f["code"], f["path"]) for f in report["findings"]] == [
        ("IMAGE_TRUNCATED", "masks/study_0003_mask.nii.gz"), ("IMAGE_TRUNCATED", "studies/CT-0/study_0001.nii.gz")]
    assert "CRC" in report["findings"][0]["context"]["reason"]


def test_scan_reads_once_for_every_hasher(tmp_path: Path) -> None:
    path = write_nifti(tmp_path / "x.nii.gz", lesion_mask())
    payload = scan_nifti(path, ["sha256", "md5"])
    import hashlib

    assert payload.digests["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert payload.digests["md5"] == hashlib.md5(path.read_bytes()).hexdigest()
    assert payload.voxels is not None and dict(payload.voxels.values or {}) == {0: 238, 1: 18}
    assert payload.stream_error is None


@pytest.mark.realdata
def test_real_masks_are_binary_and_intact(realdata: Path) -> None:
    for path in sorted((realdata / "mosmed_michaelwfry/masks").glob("*.nii.gz"))[:10]:
        payload = scan_nifti(path, ["md5"])
        assert payload.stream_error is None and payload.voxels is not None
        assert set(payload.voxels.values or {}) == {0, 1}
