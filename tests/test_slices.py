"""Profile ``slices`` (CNCB): image/mask pairs, sizes, mask modes and labels, case folders, metadata CSVs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from curator.io.slices import read_lesions, read_scans, read_slice
from curator.profiles import load_profiles
from tests.reports import validate_output, validate_report
from tests.slices_factories import (
    SIZE,
    label_map,
    make_cncb,
    make_slices,
    write_csv,
    write_extras,
    write_image,
    write_mask,
)


def run_json(root: Path, *args: str, exit_code: int) -> dict:
    return validate_report(root, "--profile", "slices", "-j", "2", *args, exit_code=exit_code)


def found(report: dict, code: str) -> list[dict]:
    return [f for f in report["findings"] if f["code"] == code]


def codes(report: dict) -> set[tuple[str, str, str]]:
    return {(f["code"], f["path"], f["severity"]) for f in report["findings"]}


def errors(report: dict) -> set[tuple[str, str]]:
    return {(f["code"], f["path"]) for f in report["findings"] if f["severity"] == "error"}


# --- clean sets ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("tier", ["--fast", "--deep"])
def test_a_clean_slice_set_is_valid_and_detected(tmp_path: Path, tier: str) -> None:
    root = make_slices(tmp_path / "release", lesions=[("0", 1)])
    report = validate_report(root, tier, exit_code=0)  # profile detected
    assert report["profile"] == "slices" and report["valid"] is True
    assert {f["code"] for f in report["findings"]} == {"MANIFEST_MISSING"}


def test_a_clean_cncb_set_with_bom_crlf_csvs_is_valid(tmp_path: Path) -> None:
    root = make_cncb(tmp_path / "release", newline="\r\n", bom=True)
    report = run_json(root, "--deep", exit_code=0)
    assert {f["code"] for f in report["findings"]} == {"MANIFEST_MISSING"}


def test_png_images_and_palette_1bit_greyscale_masks_are_all_fine(tmp_path: Path) -> None:
    root = make_slices(tmp_path / "release", {"0": 3}, suffix=".png")
    write_mask(root / "mask/0/0.png", label_map(), mode="P")         # indices 0,1,2, colours red/green/...
    write_mask(root / "mask/0/1.png", label_map(lesion=None), mode="1")
    report = run_json(root, "--deep", exit_code=0)
    assert not found(report, "MASK_VALUES_UNEXPECTED") and not found(report, "MASK_MODE_INVALID")
    header = read_slice(root / "mask/0/0.png", decode=True, count=True)
    assert not isinstance(header, str)
    assert header.palette and header.mode == "P" and header.bit_depth == 8
    assert header.values == {0: int((label_map() == 0).sum()), 1: int((label_map() == 1).sum()), 2: 9}
    binary = read_slice(root / "mask/0/1.png", decode=True, count=True)
    assert not isinstance(binary, str) and binary.mode == "1" and binary.bit_depth == 1
    assert binary.values == {0: int((label_map() == 0).sum()), 1: int((label_map() > 0).sum())}


# --- pairs, cases, sizes -------------------------------------------------------------------------------------

def test_image_without_mask_and_mask_without_image(tmp_path: Path) -> None:
    root = make_slices(tmp_path / "release")
    (root / "mask/0/2.png").unlink()
    (root / "image/1/1.jpg").unlink()
    report = run_json(root, exit_code=1)
    pairs = {(f["path"], f["context"]["counterpart"], f["severity"]) for f in found(report, "SLICE_PAIR_MISSING")}
    assert pairs == {("image/0/2.jpg", "mask/0/2.png", "error"), ("mask/1/1.png", "image/1/1.jpg", "error")}


def test_a_case_folder_on_one_side_only_is_reported_once(tmp_path: Path) -> None:
    root = make_slices(tmp_path / "release")
    shutil.rmtree(root / "mask/1")
    write_mask(root / "mask/9/0.png")
    report = run_json(root, exit_code=1)
    unpaired = {(f["path"], f["context"]["counterpart"], f["context"]["slices"])
                for f in found(report, "SLICE_CASE_UNPAIRED")}
    assert unpaired == {("image/1", "mask/1", 2), ("mask/9", "image/9", 1)}
    assert not found(report, "SLICE_PAIR_MISSING")


def test_an_empty_case_folder_is_a_warning(tmp_path: Path) -> None:
    root = make_slices(tmp_path / "release")
    (root / "image/5/inner").mkdir(parents=True)
    (root / "mask/5").mkdir()
    report = run_json(root, exit_code=0)
    assert {(f["path"], f["severity"]) for f in found(report, "SLICE_CASE_EMPTY")} == {
        ("image/5", "warning"), ("mask/5", "warning")}


def test_mask_of_another_size(tmp_path: Path) -> None:
    root = make_slices(tmp_path / "release")
    write_mask(root / "mask/0/1.png", label_map((SIZE[1], SIZE[0])))  # transposed
    report = run_json(root, exit_code=1)
    [finding] = found(report, "SLICE_SIZE_MISMATCH")
    assert finding["path"] == "mask/0/1.png" and finding["severity"] == "error"
    assert finding["context"]["image"] == "image/0/1.jpg"
    assert (finding["context"]["mask_size"], finding["context"]["image_size"]) == ("12x16", "16x12")


def test_a_slice_of_another_size_in_a_case_is_a_warning(tmp_path: Path) -> None:
    root = make_slices(tmp_path / "release", {"0": 4})
    write_image(root / "image/0/3.jpg", (32, 32))
    write_mask(root / "mask/0/3.png", label_map((32, 32)))
    report = run_json(root, exit_code=0)
    [finding] = found(report, "SLICE_SIZE_INCONSISTENT")
    assert finding["path"] == "image/0/3.jpg" and finding["severity"] == "warning"
    assert finding["context"] == {"case": "0", "size": "32x32", "majority": "16x12", "count": 3}


def test_the_same_slice_as_jpg_and_png(tmp_path: Path) -> None:
    root = make_slices(tmp_path / "release")
    write_image(root / "image/0/1.png")
    report = run_json(root, exit_code=1)
    assert ("SLICE_DUPLICATE", "image/0/1.png") in errors(report)
    assert found(report, "SLICE_DUPLICATE")[0]["context"]["other"] == "image/0/1.jpg"


def test_misnamed_and_misplaced_slices(tmp_path: Path) -> None:
    root = make_slices(tmp_path / "release")
    write_image(root / "image/3.jpg")                     # no case folder
    write_mask(root / "mask/0/0.jpg", fmt="JPEG")         # masks are PNG
    report = run_json(root, exit_code=1)
    invalid = {f["path"] for f in found(report, "FILE_NAME_INVALID")}
    assert {"image/3.jpg", "mask/0/0.jpg"} <= invalid


# --- masks -----------------------------------------------------------------------------------------------------

def test_rgb_and_jpeg_masks_are_not_label_maps(tmp_path: Path) -> None:
    root = make_slices(tmp_path / "release")
    write_mask(root / "mask/0/0.png", mode="RGB")
    write_mask(root / "mask/0/1.png", fmt="JPEG")  # a JPEG stream under a .png name
    report = run_json(root, "--deep", exit_code=1)
    modes = {(f["path"], f["context"]["format"], f["context"]["mode"], f["severity"])
             for f in found(report, "MASK_MODE_INVALID")}
    assert modes == {("mask/0/0.png", "PNG", "RGB", "error"), ("mask/0/1.png", "JPEG", "L", "error")}
    assert not found(report, "MASK_VALUES_UNEXPECTED")  # the mode finding says it all


def test_mask_values_outside_the_label_set_only_in_deep(tmp_path: Path) -> None:
    root = make_slices(tmp_path / "release", scheme=None)   # no scheme declared: the profile's label set
    labels = label_map()
    labels[0, 0:3] = 7
    write_mask(root / "mask/1/0.png", labels)
    palette = label_map()
    palette[1, 1] = 200
    write_mask(root / "mask/1/1.png", palette, mode="P")
    assert not found(run_json(root, exit_code=0), "MASK_VALUES_UNEXPECTED")
    report = run_json(root, "--deep", exit_code=1)
    by_path = {f["path"]: f for f in found(report, "MASK_VALUES_UNEXPECTED")}
    assert set(by_path) == {"mask/1/0.png", "mask/1/1.png"}
    assert by_path["mask/1/0.png"]["context"] == {"values": [7], "allowed": [0, 1, 2, 3], "voxels": {"7": 3}}
    assert by_path["mask/1/1.png"]["context"]["values"] == [200]  # the palette INDEX, not its colour
    assert all(f["severity"] == "error" for f in by_path.values())


def test_an_empty_mask_is_a_warning_in_deep(tmp_path: Path) -> None:
    root = make_slices(tmp_path / "release")
    write_mask(root / "mask/0/2.png", np.zeros((SIZE[1], SIZE[0]), dtype=np.uint8))
    report = run_json(root, "--deep", exit_code=0)
    assert [(f["path"], f["severity"]) for f in found(report, "MASK_EMPTY")] == [("mask/0/2.png", "warning")]


def test_unreadable_and_truncated_files_are_findings(tmp_path: Path) -> None:
    root = make_slices(tmp_path / "release", {"0": 4}, size=(64, 64))
    (root / "image/0/0.jpg").write_bytes(b"not an image at all")
    (root / "mask/0/1.png").write_bytes(b"")
    mask = root / "mask/0/2.png"
    write_mask(mask, np.random.default_rng(1).integers(0, 4, size=(64, 64), dtype=np.uint8))
    mask.write_bytes(mask.read_bytes()[: mask.stat().st_size // 2])
    image = root / "image/0/3.jpg"
    image.write_bytes(image.read_bytes()[:-600])  # the header survives, the scan data does not
    fast = run_json(root, exit_code=1)
    assert {p for _, p in errors(fast) if _ == "IMAGE_UNREADABLE"} == {"image/0/0.jpg", "mask/0/1.png"}
    deep = run_json(root, "--deep", exit_code=1)
    unreadable = {f["path"]: f["context"]["reason"] for f in found(deep, "IMAGE_UNREADABLE")}
    assert set(unreadable) == {"image/0/0.jpg", "mask/0/1.png", "mask/0/2.png", "image/0/3.jpg"}
    assert "PNG or JPEG" in unreadable["image/0/0.jpg"]
    assert "decoded" in unreadable["mask/0/2.png"]


# --- metadata CSVs ---------------------------------------------------------------------------------------------

def test_scan_list_against_the_disk(tmp_path: Path) -> None:
    root = make_cncb(tmp_path / "release")
    (root / "image/CP/7/70/0002.jpg").unlink()
    (root / "mask/CP/7/70/0002.png").unlink()
    shutil.rmtree(root / "image/NCP/8/80")
    shutil.rmtree(root / "mask/NCP/8/80")
    write_image(root / "image/NCP/9/90/0000.jpg")
    write_mask(root / "mask/NCP/9/90/0000.png")
    report = run_json(root, exit_code=1)
    [count] = found(report, "METADATA_COUNT_MISMATCH")
    assert count["path"] == "unzip_filenames.csv"
    assert count["context"] == {"row": 2, "case": "CP/7/70", "listed": 3, "found": 2, "folder": "image/CP/7/70"}
    missing = {(f["path"], f["context"]["listed_in"]) for f in found(report, "FILE_MISSING")}
    # the lesion slice NCP/8/80/0000 is not reported again: its whole case is missing
    assert missing == {("image/NCP/8/80", "unzip_filenames.csv"), ("image/CP/7/70/0002.png", "lesions_slices.csv")}
    unlisted = found(report, "FILE_UNLISTED")
    assert [(f["path"], f["context"]["expected_in"]) for f in unlisted] == [("image/NCP/9/90", "unzip_filenames.csv")]


def test_lesion_list_against_the_scan_list_and_the_masks(tmp_path: Path) -> None:
    root = make_cncb(tmp_path / "release")
    write_csv(root / "lesions_slices.csv", "imgpath",
              ["CP/7/70/0001.png", "CP/7/70/0000.png", "CP/7/70/0009.png", "NCP/5/50/0001.png", "NCP/5/50/0002.png"])
    fast = run_json(root, exit_code=1)
    assert not found(fast, "SLICE_LESION_UNMARKED")
    report = run_json(root, "--deep", exit_code=1)
    [unmarked] = found(report, "SLICE_LESION_UNMARKED")  # 0000 has only the lung field
    assert (unmarked["path"], unmarked["severity"]) == ("mask/CP/7/70/0000.png", "warning")
    assert unmarked["context"] == {"listed_in": "lesions_slices.csv", "row": 3, "values": [0, 1],
                                   "lesion_labels": [2, 3]}
    inconsistent = {(f["context"]["row"], f["path"]) for f in found(report, "METADATA_INCONSISTENT")}
    assert inconsistent == {(4, "lesions_slices.csv"), (5, "lesions_slices.csv")}  # beyond n_slice; unknown scan
    missing = {(f["path"], f["context"]["listed_in"]) for f in found(report, "FILE_MISSING")}
    assert missing == {("image/CP/7/70/0009.png", "lesions_slices.csv"), ("image/NCP/5/50", "lesions_slices.csv")}


def test_bad_rows_and_unreadable_csvs(tmp_path: Path) -> None:
    root = make_cncb(tmp_path / "release")
    write_csv(root / "unzip_filenames.csv", "zip_file;label;patient_id;scan_id;n_slice;extra",  # ; tolerated
              ["CP-1.zip;CP;7;70;3;x", "NCP-1.zip;NCP;8;80;two;x", "CP-1.zip;CP;../x;71;1;x", "CP-1.zip;CP;7;70;3;x"])
    (root / "lesions_slices.csv").write_bytes(b"path\nCP/7/70/0001.png\n")
    report = run_json(root, exit_code=1)
    rows = {(f["context"]["row"], f["context"]["field"]) for f in found(report, "METADATA_ROW_INVALID")}
    assert rows == {(3, "n_slice"), (4, "patient_id"), (5, "scan_id")}
    [unreadable] = found(report, "METADATA_UNREADABLE")
    assert unreadable["path"] == "lesions_slices.csv" and "imgpath" in unreadable["context"]["reason"]
    (root / "lesions_slices.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    assert "UTF-8" in found(run_json(root, exit_code=1), "METADATA_UNREADABLE")[0]["context"]["reason"]


def test_messages_in_russian(tmp_path: Path) -> None:
    root = make_slices(tmp_path / "release")
    (root / "mask/0/2.png").unlink()
    russian = validate_output(root, "--profile", "slices", "--lang", "ru", exit_code=1)
    assert "нет пары" in russian and "{" not in russian


# --- real data ---------------------------------------------------------------------------------------------------

INFNET = "infnet_covid_semiseg_png/MultiClassInfection-Test"


def infnet_release(realdata: Path, root: Path) -> Path:
    """The 48 Inf-Net slices (JPG) with their palette masks {0,1,2} as one case (copied into tmp, read-only), no
    label scheme declared (so the profile's label set judges the values)."""
    write_extras(root, scheme=None)
    for folder, side, suffix in (("Imgs", "image", ".jpg"), ("GT", "mask", ".png")):
        target = root / side / "infnet"
        target.mkdir(parents=True)
        for path in (realdata / INFNET / folder).glob(f"*{suffix}"):
            shutil.copyfile(path, target / path.name)
    return root


@pytest.mark.realdata
def test_infnet_palette_masks_pass_the_slices_labels_and_fail_a_binary_set(
        realdata: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = infnet_release(realdata, tmp_path / "release")
    report = run_json(root, "--deep", exit_code=0)
    assert report["stats"]["files"] == 96 + 3
    assert not found(report, "MASK_VALUES_UNEXPECTED") and not found(report, "MASK_MODE_INVALID")

    profiles = load_profiles()
    monkeypatch.setitem(profiles, "slices", profiles["slices"].model_copy(update={"labels": [0, 1]}))
    report = run_json(root, "--deep", exit_code=1)
    bad = found(report, "MASK_VALUES_UNEXPECTED")
    # exactly the masks that carry consolidation (2): 38 of the 48, per the inventory FILES.txt
    listed = (realdata / "infnet_covid_semiseg_png/FILES.txt").read_text(encoding="utf-8").splitlines()
    with_two = {f"mask/infnet/{line.split()[0].rsplit('/', 1)[1]}" for line in listed
                if line.startswith("MultiClassInfection-Test/GT/") and line.endswith("values=[0, 1, 2]")}
    assert {f["path"] for f in bad} == with_two and len(with_two) == 38
    assert all(f["context"]["values"] == [2] and f["context"]["allowed"] == [0, 1] for f in bad)
    assert all(f["context"]["voxels"]["2"] > 0 for f in bad)


@pytest.mark.realdata
def test_cncb_csvs_parse_and_their_internal_counts_agree(realdata: Path, tmp_path: Path) -> None:
    source = realdata / "cncb_metadata_csv"
    scans, scan_problems = read_scans(source / "unzip_filenames.csv")
    lesions, lesion_problems = read_lesions(source / "lesions_slices.csv")
    assert (len(scans), scan_problems) == (4178, [])
    assert (len(lesions), lesion_problems) == (58766, [])
    labels = {label: sum(1 for s in scans if s.label == label) for label in ("CP", "NCP", "Normal")}
    assert labels == {"CP": 1556, "NCP": 1544, "Normal": 1078}

    # a release that holds one real scan of the list (n_slice slices, lesions where the list says) and both CSVs
    by_case = {s.case: s for s in scans}
    marked: dict[str, set[int]] = {}
    for lesion in lesions:
        marked.setdefault(lesion.case, set()).add(int(lesion.slice))
    case = min((c for c in marked if c in by_case), key=lambda c: (by_case[c].n_slice, c))
    scan = by_case[case]
    root = tmp_path / "release"
    write_extras(root)
    for name in ("unzip_filenames.csv", "lesions_slices.csv"):
        shutil.copyfile(source / name, root / name)
    names = {int(lesion.slice): lesion.slice for lesion in lesions if lesion.case == case}
    for n in range(scan.n_slice):
        name = names.get(n, f"{n:04d}")
        write_image(root / "image" / case / f"{name}.jpg", (8, 8), seed=n)
        write_mask(root / "mask" / case / f"{name}.png", label_map((8, 8), 3 if n in marked[case] else None))

    report = run_json(root, "--deep", exit_code=1)  # the other 4,177 scans are not here
    assert not found(report, "METADATA_ROW_INVALID") and not found(report, "METADATA_INCONSISTENT")
    assert not found(report, "METADATA_UNREADABLE") and not found(report, "METADATA_COUNT_MISMATCH")
    assert not found(report, "SLICE_LESION_UNMARKED") and not found(report, "FILE_UNLISTED")
    missing = found(report, "FILE_MISSING")
    assert len(missing) == 4177 and {f["context"]["listed_in"] for f in missing} == {"unzip_filenames.csv"}
    assert f"image/{case}" not in {f["path"] for f in missing}
    assert {f["code"] for f in report["findings"]} == {"FILE_MISSING", "MANIFEST_MISSING"}
