"""checks/slices.py (2D slice sets, profile ``slices``) called directly on what validate's gatherer read with
--deep: pairs and sizes, mask modes and labels, case folders, and the CNCB metadata CSVs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from curator.checks import slices
from tests.check_facts import gather_facts, rows
from tests.slices_factories import label_map, make_cncb, make_slices, write_csv, write_image, write_mask

SCANS, LESIONS = "unzip_filenames.csv", "lesions_slices.csv"


def findings(root: Path) -> list[tuple[str, str, dict[str, object]]]:
    return rows(slices.check(gather_facts(root, "slices", deep=True)))


def test_clean_slice_sets_have_no_finding(tmp_path: Path) -> None:
    assert findings(make_slices(tmp_path / "plain", lesions=[("0", 1)])) == []
    assert findings(make_cncb(tmp_path / "cncb")) == []


def test_pairs_sizes_and_masks(tmp_path: Path) -> None:
    root = make_slices(tmp_path / "release", {"0": 3, "1": 2, "2": 1, "3": 3}, scheme=None)   # the profile judges
    (root / "image/0/0.jpg").write_bytes(b"garbage")
    shutil.rmtree(root / "mask/2")
    (root / "image/9").mkdir()
    (root / "mask/0/2.png").unlink()
    write_image(root / "image/1/0.png")                                   # slice 0 of case 1 twice
    write_mask(root / "mask/1/1.png", label_map((20, 12), None))          # on another grid than its image
    write_image(root / "image/3/2.jpg", (20, 12), seed=5)                 # one slice of case 3 wider, with its mask
    write_mask(root / "mask/3/2.png", label_map((20, 12), None))
    write_mask(root / "mask/3/0.png", mode="RGB")
    labels = label_map()
    labels[0, 0] = 7
    write_mask(root / "mask/3/1.png", labels)
    write_mask(root / "mask/0/1.png", np.zeros((12, 16), np.uint8))
    assert findings(root) == [
        ("IMAGE_UNREADABLE", "image/0/0.jpg", {
            "reason": "not a readable PNG or JPEG image (its header parses as neither format)"}),
        ("SLICE_CASE_UNPAIRED", "image/2", {"case": "2", "counterpart": "mask/2", "slices": 1, "side": "image"}),
        ("SLICE_CASE_EMPTY", "image/9", {}),
        ("SLICE_DUPLICATE", "image/1/0.png", {"other": "image/1/0.jpg", "case": "1", "slice": "0"}),
        ("SLICE_PAIR_MISSING", "image/0/2.jpg", {"side": "image", "counterpart": "mask/0/2.png", "case": "0",
                                                 "slice": "2"}),
        ("SLICE_SIZE_MISMATCH", "mask/1/1.png", {"image": "image/1/1.jpg", "mask_size": "20x12",
                                                 "image_size": "16x12", "case": "1", "slice": "1"}),
        ("SLICE_SIZE_INCONSISTENT", "image/3/2.jpg", {"case": "3", "size": "20x12", "majority": "16x12",
                                                      "count": 2}),
        ("MASK_EMPTY", "mask/0/1.png", {}),
        ("MASK_MODE_INVALID", "mask/3/0.png", {"format": "PNG", "mode": "RGB", "allowed": list(slices.MASK_MODES)}),
        ("MASK_VALUES_UNEXPECTED", "mask/3/1.png", {"values": [7], "allowed": [0, 1, 2, 3], "voxels": {7: 1}})]


def test_the_metadata_csvs_against_each_other_and_the_disk(tmp_path: Path) -> None:
    root = make_cncb(tmp_path / "release")         # CP/7/70: 3 slices, NCP/8/80: 2; lesions CP/7/70 1, 2, NCP/8/80 0
    write_image(root / "image/CP/7/71/0000.jpg")
    write_mask(root / "mask/CP/7/71/0000.png")
    write_csv(root / SCANS, "zip_file,label,patient_id,scan_id,n_slice", [
        "CP-1.zip,CP,7,70,4", "NCP-1.zip,NCP,8,80,2", "NCP-1.zip,NCP,8,80,2", "NCP-1.zip,NCP,9,90,5",
        "NCP-1.zip,NCP,8,81,x"])
    write_csv(root / LESIONS, "imgpath", ["CP/7/70/0001.png", "CP/7/70/0001.png", "CP/7/70/0009.png",
                                          "NCP/8/80/0001.png", "CP/5/50/0000.png", "NCP/8/80/0000.png"])
    assert findings(root) == [
        ("METADATA_ROW_INVALID", SCANS, {"row": 6, "field": "n_slice",
                                         "reason": "'x' is not a whole number of slices above 0"}),
        ("METADATA_ROW_INVALID", SCANS, {"row": 4, "field": "scan_id",
                                         "reason": "case NCP/8/80 is listed again (first at row 3)"}),
        ("METADATA_COUNT_MISMATCH", SCANS, {"row": 2, "case": "CP/7/70", "listed": 4, "found": 3,
                                            "folder": "image/CP/7/70"}),
        ("FILE_MISSING", "image/NCP/9/90", {"listed_in": SCANS, "row": 5, "case": "NCP/9/90", "slices": 5}),
        ("FILE_UNLISTED", "image/CP/7/71", {"expected_in": SCANS, "case": "CP/7/71", "slices": 1}),
        ("METADATA_ROW_INVALID", LESIONS, {"row": 3, "field": "imgpath",
                                           "reason": "slice CP/7/70/0001.png is listed again (first at row 2)"}),
        ("METADATA_INCONSISTENT", LESIONS, {"row": 4, "other": SCANS, "reason": (
            f"slice 0009.png of case CP/7/70 is beyond the 4 slices (numbered from 0) that {SCANS} row 2 gives")}),
        ("FILE_MISSING", "image/CP/7/70/0009.png", {"listed_in": LESIONS, "row": 4, "case": "CP/7/70"}),
        ("SLICE_LESION_UNMARKED", "mask/NCP/8/80/0001.png", {"listed_in": LESIONS, "row": 5, "values": [0, 1],
                                                             "lesion_labels": [2, 3]}),
        ("METADATA_INCONSISTENT", LESIONS, {"row": 6, "other": SCANS, "reason": (
            f"case CP/5/50 is not in {SCANS}, yet slices of it are listed here (in all: 1)")}),
        ("FILE_MISSING", "image/CP/5/50", {"listed_in": LESIONS, "row": 6, "case": "CP/5/50", "slices": 1})]


def test_a_metadata_csv_that_is_not_text(tmp_path: Path) -> None:
    root = make_cncb(tmp_path / "release")
    (root / LESIONS).write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    assert findings(root) == [
        ("METADATA_UNREADABLE", LESIONS, {"reason": "not UTF-8 text (byte 0); save it as UTF-8 CSV"})]
