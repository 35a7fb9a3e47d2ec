"""checks/payload.py (the deep tier's judgement on voxel payloads) called directly on what validate's gatherer read
with --deep."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from curator.checks import payload
from tests.check_facts import MASK, STUDY, gather_facts, rows
from tests.factories import ct_volume, gzip_member, gzip_with_bad_block, lesion_mask, nifti_bytes, write_nifti


def test_a_built_release_has_no_payload_finding(built_release: Path) -> None:
    assert rows(payload.check(gather_facts(built_release, deep=True))) == []


def test_streams_that_hide_carry_or_lose_bytes(release: Path) -> None:
    affine = {n: nib.load(release / path).affine for n, path in STUDY.items()}
    write_nifti(release / STUDY[1], ct_volume(), affine[1], trailing=b"x" * 100)
    (release / STUDY[2]).write_bytes(gzip_member(nifti_bytes(ct_volume(), affine[2]))
                                     + gzip_member(b"", name=b"Ivanov_Ivan.nii"))   # a name no gzip tool lists
    whole = gzip_member(nifti_bytes(ct_volume(), affine[5]))
    (release / STUDY[5]).write_bytes(whole[: len(whole) // 2])
    (release / STUDY[6]).write_bytes(gzip_with_bad_block(nifti_bytes(ct_volume((64, 64, 20)), affine[6]))[0])
    findings = list(payload.check(gather_facts(release, deep=True)))
    assert rows(findings[:3]) == [
        ("IMAGE_TRAILING_DATA", STUDY[1], {"extra_bytes": 100, "expected_bytes": 864, "actual_bytes": 964,
                                           "found": "the decompressed stream holds 964 bytes", "after_stream": 0,
                                           "members": 1}),
        ("PHI_GZIP_HEADER", STUDY[2], {"where": "FNAME of gzip member 2"}),
        ("IMAGE_TRUNCATED", STUDY[5], {"expected_bytes": 864, "actual_bytes": 502, "reason": (
            "the file ends inside gzip member 1, after 502 bytes of data and before the member's end marker: "
            "the file is truncated")})]
    assert findings[1].severity.value == "error"
    (corrupt,) = findings[3:]    # where the inflater stops depends on its chunking: the reason's start is fixed
    assert (corrupt.code, corrupt.path, corrupt.context["expected_bytes"]) == ("IMAGE_UNREADABLE", STUDY[6], 164192)
    assert corrupt.context["reason"].startswith("the deflate data of gzip member 1 cannot be decoded")
    assert corrupt.context["decompressed_bytes"] < 164192
    assert [f.study_id for f in findings] == [1, 2, 5, 6]


def test_voxel_values_of_studies_and_masks(release: Path) -> None:
    affine = {n: nib.load(release / path).affine for n, path in STUDY.items()}
    hot = ct_volume()
    hot[0, 0, 0] = 5000
    write_nifti(release / STUDY[7], hot, affine[7])
    write_nifti(release / STUDY[8], (ct_volume() + 1100).astype(np.int16), affine[8])   # raw values, no -1024
    labels = lesion_mask()
    labels[0, 0, 0] = 2
    write_nifti(release / MASK[3], labels, affine[3])
    write_nifti(release / MASK[4], np.zeros((8, 8, 4), np.int16), affine[4])
    assert rows(payload.check(gather_facts(release, deep=True))) == [
        ("MASK_VALUES_UNEXPECTED", MASK[3], {"values": [2], "allowed": [0, 1], "voxels": {2: 1}, "non_finite": 0}),
        ("MASK_EMPTY", MASK[4], {}),
        ("IMAGE_INTENSITY_IMPLAUSIBLE", STUDY[7], {"minimum": -1000, "maximum": 5000, "non_finite": 0,
                                                   "low": -2048, "high": 4095, "below": 0, "above": 1}),
        ("IMAGE_HU_OFFSET_MISSING", STUDY[8], {"minimum": 100, "maximum": 1496})]


def test_a_lesion_that_is_not_lung_tissue(release: Path) -> None:
    write_nifti(release / STUDY[3], np.full((8, 8, 4), 300, np.int16), nib.load(release / STUDY[3]).affine)
    assert rows(payload.check(gather_facts(release, deep=True))) == [
        ("MASK_IMPLAUSIBLE", MASK[3], {"study": STUDY[3], "mean_hu": 300.0, "air_percent": 0.0, "low": -700,
                                       "high": -130, "voxels": 18})]
