"""NIfTI checks beyond the grid: header oddities, orientation, mask types and categories, HU plausibility."""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.factories import ct_volume, lesion_mask, write_nifti
from tests.reports import validate_report


def findings(root: Path, *args: str, exit_code: int) -> list[dict]:
    return validate_report(root, *args, exit_code=exit_code)["findings"]


def rows(found: list[dict]) -> set[tuple[str, str, str]]:
    return {(f["code"], f["path"], f["severity"]) for f in found}


def affine_of(path: Path) -> np.ndarray:
    return nib.load(path).affine


def test_qform_and_sform_that_disagree(release: Path) -> None:
    path = release / "studies/CT-0/study_0001.nii.gz"
    image = nib.load(path)
    header = image.header.copy()
    shifted = image.affine.copy()
    shifted[2, 3] += 4.0
    header.set_sform(shifted, code=1)
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj), None, header), path)
    found = findings(release, "--select", "IMAGE_XFORM_INCONSISTENT", exit_code=0)
    assert [(f["code"], f["context"]["shift_mm"]) for f in found] == [("IMAGE_XFORM_INCONSISTENT", 4.0)]


def test_units_other_than_mm_are_suspect(release: Path) -> None:
    path = release / "studies/CT-0/study_0002.nii.gz"
    image = nib.load(path)
    image.header.set_xyzt_units("meter", "sec")
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj), image.affine, image.header), path)
    (finding,) = findings(release, "--select", "IMAGE_HEADER_SUSPECT", exit_code=0)
    assert finding["path"] == "studies/CT-0/study_0002.nii.gz" and "metres" in finding["message"]


def test_odd_orientation_is_named(release: Path) -> None:
    path = release / "studies/CT-3/study_0007.nii.gz"
    flipped = affine_of(path) @ np.diag([-1.0, 1, 1, 1])   # x axis stored the other way round: RAS, not LAS
    write_nifti(path, ct_volume(), flipped)
    (finding,) = findings(release, "--select", "ORIENTATION_INCONSISTENT", exit_code=0)
    assert finding["path"] == "studies/CT-3/study_0007.nii.gz" and finding["severity"] == "warning"
    assert finding["context"]["orientation"] == "RAS" and finding["context"]["majority"] == "LAS"


def test_float_and_scaled_masks_are_not_label_maps(release: Path) -> None:
    path = release / "masks/study_0003_mask.nii.gz"
    write_nifti(path, lesion_mask().astype(np.float64), affine_of(path))
    (finding,) = findings(release, "--select", "MASK_DTYPE_INVALID", exit_code=1)
    assert finding["path"] == "masks/study_0003_mask.nii.gz" and finding["context"]["datatype"] == "float64"
    assert finding["severity"] == "error"


def test_mask_for_a_category_without_lesions(release: Path, tmp_path: Path) -> None:
    from tests.factories import make_source

    source = make_source(tmp_path / "src", studies=[("CT-0", "F", 40, True), ("CT-1", "M", 50, True)])
    from curator.release import build

    build(source, tmp_path / "out")
    (finding,) = findings(tmp_path / "out", "--select", "MASK_CATEGORY_UNEXPECTED", exit_code=0)
    assert (finding["path"], finding["study_id"], finding["context"]["category"]) == (
        "masks/study_0001_mask.nii.gz", 1, "CT-0")


def test_a_mask_on_air_is_implausible_and_a_mask_on_lesion_density_is_not(release: Path) -> None:
    study = release / "studies/CT-1/study_0003.nii.gz"
    volume = np.full((8, 8, 4), -1000, dtype=np.int16)        # air everywhere the mask marks
    write_nifti(study, volume, affine_of(study))
    found = findings(release, "--deep", "--select", "MASK_IMPLAUSIBLE", exit_code=0)
    (finding,) = found
    assert finding["path"] == "masks/study_0003_mask.nii.gz" and finding["context"]["air_percent"] == 100.0
    assert finding["context"]["study"] == "studies/CT-1/study_0003.nii.gz"
    volume[:] = -450                                            # ground-glass density
    write_nifti(study, volume, affine_of(study))
    assert findings(release, "--deep", "--select", "MASK_IMPLAUSIBLE", exit_code=0) == []


def test_study_stored_without_the_hu_offset(release: Path) -> None:
    study = release / "studies/CT-2/study_0006.nii.gz"
    write_nifti(study, (ct_volume() + 1024).astype(np.int16), affine_of(study))
    (finding,) = findings(release, "--deep", "--select", "IMAGE_HU_OFFSET_MISSING", exit_code=0)
    assert finding["context"]["minimum"] >= 0 and finding["severity"] == "warning"


def test_scaled_study_is_read_in_hu(release: Path) -> None:
    """scl_slope/scl_inter apply before the HU checks: stored 0..1400 with intercept -1024 is fine."""
    study = release / "studies/CT-2/study_0006.nii.gz"
    write_nifti(study, (ct_volume() + 1024).astype(np.int16), affine_of(study), scaling=(1.0, -1024.0))
    assert nib.load(study).get_fdata().min() < 0
    assert findings(release, "--deep", "--select", "image", exit_code=0) == []


@pytest.mark.realdata
def test_totalsegmentator_pairs(realdata: Path, tmp_path: Path) -> None:
    """Real CTs with masks: on the grid (passes), on another grid (heart), stored as float64 (flagged)."""
    ts = realdata / "totalsegmentator_examples"
    root = tmp_path / "release"
    pairs = [
        (ts / "pulmonary_report_models/ct_cropped.nii.gz", ts / "pulmonary_report_models/pulmonary_artery.nii.gz"),
        (ts / "pulmonary_report_models/ct_cropped.nii.gz", ts / "pulmonary_report_models/heart.nii.gz"),
        (ts / "example_ct.nii.gz", ts / "example_seg_v1_commit5de6e4d/lung_upper_lobe_left.nii.gz"),
    ]
    lines = ["study_id,category,study_file,mask_file"]
    for number, (study, mask) in enumerate(pairs, start=1):
        for source, target in ((study, f"studies/CT-1/study_{number:04d}.nii.gz"),
                               (mask, f"masks/study_{number:04d}_mask.nii.gz")):
            (root / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, root / target)
        lines.append(f"{number},CT-1,/studies/CT-1/study_{number:04d}.nii.gz,/masks/study_{number:04d}_mask.nii.gz")
    (root / "dataset_registry.csv").write_text("\n".join(lines) + "\n")
    found = findings(root, "--deep", "--select", "mask,geometry,IMAGE_UNREADABLE,IMAGE_TRUNCATED", exit_code=1)
    errors = {(f["code"], f["path"]) for f in found if f["severity"] == "error"}
    assert errors == {
        ("MASK_SHAPE_MISMATCH", "masks/study_0002_mask.nii.gz"),
        ("MASK_DTYPE_INVALID", "masks/study_0003_mask.nii.gz"),
    }
    shape = next(f for f in found if f["code"] == "MASK_SHAPE_MISMATCH")
    assert shape["context"]["mask_shape"] == [233, 167, 191] and shape["context"]["study_shape"] == [122, 102, 112]
    # a contrast-filled pulmonary artery is no lung lesion: the plausibility check says so (a warning)
    implausible = {f["path"] for f in found if f["code"] == "MASK_IMPLAUSIBLE"}
    assert "masks/study_0001_mask.nii.gz" in implausible
    assert not any(f["path"] == "masks/study_0001_mask.nii.gz" and f["severity"] == "error" for f in found)
