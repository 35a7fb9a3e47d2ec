"""checks/registry.py called directly on what validate's gatherer read from a release: the rows against their
schema and the profile, the registry against the disk, and the xlsx against its CSV twin."""

from __future__ import annotations

import shutil
from pathlib import Path

from curator.checks import registry
from tests.check_facts import gather_facts, rows
from tests.factories import edit_registry

XLSX = "dataset_registry.xlsx"
CSV = "dataset_registry.csv"


def test_a_built_release_has_no_registry_finding(built_release: Path) -> None:
    assert rows(registry.check(gather_facts(built_release))) == []


def test_rows_that_fail_their_schema_repeat_an_id_or_contradict_their_folder(release: Path) -> None:
    (release / CSV).unlink()                                 # the twin is compared in its own test

    def change(sheet: object) -> None:
        sheet.cell(row=2, column=2, value="CT-3")            # study 1 lies in studies/CT-0
        sheet.cell(row=3, column=1, value="abc")             # study 2: no integer id
        sheet.cell(row=5, column=1, value=3)                 # study 4's row now says 3: a duplicate
        sheet["F2"] = "=1+1"
    edit_registry(release, change)
    findings = list(registry.check(gather_facts(release)))
    assert rows(findings) == [
        ("REGISTRY_FORMULA", XLSX, {"cell": "F2", "formula": "=1+1"}),
        ("REGISTRY_CATEGORY_MISMATCH", XLSX, {"row": 2, "category": "CT-3", "folder": "CT-0"}),
        ("REGISTRY_ROW_INVALID", XLSX, {"row": 3, "field": "study_id", "reason": (
            "Input should be a valid integer, unable to parse string as an integer (found 'abc')")}),
        ("REGISTRY_ROW_INVALID", XLSX, {"row": 5, "field": "study_file", "reason": (
            "'/studies/CT-1/study_0004.nii.gz' names study 4, the row's study_id is 3")}),
        ("REGISTRY_ROW_INVALID", XLSX, {"row": 5, "field": "mask_file", "reason": (
            "'/masks/study_0004_mask.nii.gz' belongs to study 4, the row's study_id is 3")}),
        ("REGISTRY_DUPLICATE_ID", XLSX, {"rows": [4, 5]}),
        # study 2's row is invalid, so its file is not listed by any valid row
        ("FILE_UNLISTED", "studies/CT-0/study_0002.nii.gz", {"expected_in": XLSX})]
    assert [f.study_id for f in findings] == [None, 1, None, 3, 3, 3, 2]


def test_the_registry_against_the_disk(release: Path) -> None:
    (release / CSV).unlink()
    edit_registry(release, lambda sheet: sheet.cell(row=2, column=4, value="/masks/study_0001_mask.nii.gz"))
    shutil.copyfile(release / "masks/study_0003_mask.nii.gz", release / "masks/study_0001_mask.nii.gz")
    shutil.copyfile(release / "masks/study_0003_mask.nii.gz", release / "masks/study_0010_mask.nii.gz")
    (release / "studies/CT-2/study_0006.nii.gz").rename(release / "studies/CT-2/study_0009.nii.gz")
    findings = list(registry.check(gather_facts(release)))
    assert rows(findings) == [
        ("MASK_CATEGORY_UNEXPECTED", "masks/study_0001_mask.nii.gz", {"category": "CT-0"}),   # CT-0: no lesions
        ("FILE_MISSING", "studies/CT-2/study_0006.nii.gz", {"listed_in": XLSX, "row": 7}),
        ("MASK_STUDY_MISSING", "masks/study_0010_mask.nii.gz", {"study": "study_id 10"}),
        ("FILE_UNLISTED", "studies/CT-2/study_0009.nii.gz", {"expected_in": XLSX})]
    assert [f.study_id for f in findings] == [1, 6, 10, 9]


def test_the_csv_twin_must_say_what_the_xlsx_says(release: Path) -> None:
    edit_registry(release, lambda sheet: sheet.cell(row=2, column=2, value="CT-1"))
    twin = release / CSV
    twin.write_text(twin.read_text(encoding="utf-8-sig").replace("8,CT-4,/studies/CT-4/study_0008.nii.gz,\n", ""),
                    encoding="utf-8")
    assert rows(registry.check(gather_facts(release))) == [
        ("REGISTRY_CATEGORY_MISMATCH", XLSX, {"row": 2, "category": "CT-1", "folder": "CT-0"}),
        ("REGISTRY_COPIES_DISAGREE", CSV, {"other": XLSX, "row": 2, "reason": "category: 'CT-1' vs 'CT-0'"}),
        ("REGISTRY_COPIES_DISAGREE", CSV, {"other": XLSX, "row": 9,
                                           "reason": f"{XLSX} has 8 rows, {CSV} has 7"})]


def test_an_unreadable_registry_or_twin(release: Path) -> None:
    (release / CSV).write_bytes(b"\x00\xff\xfegarbage\n1,2\n")
    assert rows(registry.check(gather_facts(release))) == [
        ("REGISTRY_UNREADABLE", CSV, {"reason": "not UTF-8 text (invalid start byte at byte 1)"})]
    (release / XLSX).write_bytes(b"not a spreadsheet")
    assert rows(registry.check(gather_facts(release))) == [     # nothing to compare the twin with
        ("REGISTRY_UNREADABLE", XLSX, {"reason": "not a readable xlsx workbook (BadZipFile: File is not a zip file)"})]

