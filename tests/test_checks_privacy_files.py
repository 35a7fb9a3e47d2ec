"""checks/privacy_files.py (privacy of everything that is not DICOM) called directly on what validate's gatherers
read from a release with identifying metadata planted in it."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np

from curator.checks import privacy_files
from curator.io import privacy_files as io_privacy_files
from tests.check_facts import gather_facts
from tests.privacy_files_factories import (
    dicom_payload,
    jpeg_with_comment,
    minimal_pdf,
    planted_nifti,
    png_with_chunks,
    write_gz,
    xlsx_with_creator,
)

STUDY, MASK = "studies/CT-1/study_0003.nii.gz", "masks/study_0003_mask.nii.gz"
LISTED = {"entry": "#1 Iv*** Iv***", "entry_number": 1, "list_line": 1}


def rows(root: Path, identifiers: Path | None = None) -> list[tuple[str, str, str, dict[str, object]]]:
    """(code, path, severity, context): the severity of these codes depends on what the value looks like."""
    return [(f.code, f.path, f.severity.value, f.context)
            for f in privacy_files.check(gather_facts(root, identifiers=identifiers))]


def test_a_built_release_has_no_privacy_finding(built_release: Path, tmp_path: Path) -> None:
    identifiers = tmp_path / "ids.txt"
    identifiers.write_text("Ivanov Ivan\n", encoding="utf-8")
    assert rows(built_release, identifiers) == []


def test_identifying_metadata_in_images_documents_tables_and_names(release: Path, tmp_path: Path) -> None:
    data = np.asarray(nib.load(release / STUDY).dataobj)
    extension = dicom_payload(PatientName="Ivanov^Ivan", PatientBirthDate="19560314")
    write_gz(release / STUDY, planted_nifti(data, descrip="Ivanov Ivan", extensions=((2, extension),)))
    write_gz(release / MASK, gzip.decompress((release / MASK).read_bytes()), name="ivanov_ivan_20200428.nii",
             mtime=1588116141)
    png_with_chunks(release / "figures/scan.png", {"Comment": "scan of Petrov P."})
    xlsx_with_creator(release / "notes.xlsx", "Nikolay Pavlov", "Michael Fry")
    (release / "Ivanov_scan.txt").write_text("x")
    (release / "patients.csv").write_text("case,birth_date,weight\n1,1956-03-14,70\n2,1961-11-02,80\n",
                                          encoding="utf-8")
    (release / "broken.xlsx").write_bytes(b"not a zip")
    identifiers = tmp_path / "ids.txt"
    identifiers.write_text("Ivanov Ivan\n", encoding="utf-8")
    assert rows(release, identifiers) == [
        ("PHI_AUDIT_INCOMPLETE", "broken.xlsx", "warning", {
            "reason": "not a readable zip package (File is not a zip file)"}),
        ("PHI_IMAGE_METADATA", "figures/scan.png", "error", {
            "where": "tIME, tEXt Comment", "looks_like": ["name"], "trailing_bytes": 0}),
        ("PHI_GZIP_HEADER", MASK, "error", {"where": "FNAME", "looks_like": ["date", "name"],
                                            "fname": "iv*** iv*** 20*** n***", "mtime": "2020-04-28"}),
        ("PHI_IDENTIFIER_FOUND", MASK, "error", {**LISTED, "where": "gzip FNAME", "places": ["gzip FNAME"],
                                                 "count": 1, "found_as": ["iv*** iv***"]}),
        ("PHI_DOCUMENT_METADATA", "notes.xlsx", "info", {
            "where": "creator, lastModifiedBy", "values": {"creator": "Ni*** Pa***", "lastModifiedBy": "Mi*** F***"}}),
        ("PHI_TABLE_VALUE", "patients.csv", "warning", {"field": "birth_date", "kinds": "date", "count": 2,
                                                        "first_line": 2, "rows_checked": 2}),
        ("PHI_NIFTI_TEXT", STUDY, "error", {"where": "descrip", "looks_like": ["name"], "masked": "Iv*** Iv***",
                                            "length": 11}),
        ("PHI_NIFTI_EXTENSION", STUDY, "error", {
            "codes": "2 (DICOM: PatientName, PatientBirthDate)",
            "extensions": [{"code": 2, "name": "DICOM", "size": 48, "elements": 2, "parsed": True,
                            "identifying_elements": ["PatientName", "PatientBirthDate"]}]}),
        ("PHI_IDENTIFIER_FOUND", STUDY, "error", {**LISTED, "where": "descrip and 1 more place",
                                                  "places": ["descrip", "NIfTI extension 2"], "count": 2,
                                                  "found_as": ["Iv*** Iv***"]}),
        ("PHI_FILE_NAME", "Ivanov_scan.txt", "warning", {"kinds": "name", "part": "Iv*** sc***",
                                                         "looks_like": ["name"], "folder": False})]


def test_a_gzip_name_equal_to_the_file_is_only_noted(release: Path) -> None:
    data = gzip.decompress((release / MASK).read_bytes())
    write_gz(release / MASK, data, name="study_0003_mask.nii")
    assert rows(release) == [("PHI_GZIP_HEADER", MASK, "info", {
        "where": "FNAME (this file's own name)", "looks_like": [], "fname": "st*** 00*** ma*** n***"})]


def test_validate_keeps_only_the_audits_the_check_judges_and_says_the_same(release: Path, tmp_path: Path) -> None:
    """The decision which audits are kept lives in the check (``judge``): validate keeps exactly the files with a
    finding, and the findings are those of every audit kept, for every per-file code of the check. The records
    that said nothing (a clean PNG, JPEG, PDF, workbook, table, JSON; an unreadable NIfTI, which has its own
    IMAGE_UNREADABLE) are dropped as they are read (io kept them before)."""
    data = np.asarray(nib.load(release / STUDY).dataobj)
    extension = dicom_payload(PatientName="Ivanov^Ivan", PatientBirthDate="19560314")
    write_gz(release / STUDY, planted_nifti(data, descrip="Ivanov Ivan", extensions=((2, extension),)))
    write_gz(release / MASK, gzip.decompress((release / MASK).read_bytes()), name="ivanov_ivan_20200428.nii")
    png_with_chunks(release / "figures/scan.png", {"Comment": "scan of Petrov P."})
    png_with_chunks(release / "figures/clean.png", {}, time_chunk=False)
    jpeg_with_comment(release / "figures/photo.jpg", "Sidorov S. S.")
    jpeg_with_comment(release / "figures/clean.jpg", "")
    xlsx_with_creator(release / "notes.xlsx", "Nikolay Pavlov", "Michael Fry")
    xlsx_with_creator(release / "clean.xlsx", "", "")
    minimal_pdf(release / "paper.pdf", "Petrov Petr")
    (release / "patients.csv").write_text("case,birth_date\n1,1956-03-14\n", encoding="utf-8")
    (release / "clean.csv").write_text("case,weight\n1,70\n", encoding="utf-8")
    (release / "subject.json").write_text('{"PatientBirthDate": "19560314"}', encoding="utf-8")
    (release / "clean.json").write_text('{"weight": 70}', encoding="utf-8")
    (release / "broken.xlsx").write_bytes(b"not a zip")
    (release / "studies/CT-1/study_0004.nii.gz").write_bytes(b"not a nifti")
    (release / "Ivanov_scan.txt").write_text("x")
    identifiers = tmp_path / "ids.txt"
    identifiers.write_text("Ivanov Ivan\n", encoding="utf-8")
    facts = gather_facts(release, identifiers=identifiers)
    kept = facts.privacy_files
    assert kept is not None
    findings = [(f.code, f.path, f.context) for f in privacy_files.check(facts)]
    io_privacy_files.gather(facts)   # every audit stored, none judged on the way
    assert facts.privacy_files is not None and len(facts.privacy_files.files) > len(kept.files)
    assert [(f.code, f.path, f.context) for f in privacy_files.check(facts)] == findings
    judged = {path for code, path, _ in findings if code != "PHI_FILE_NAME"}   # names: from the entries
    assert sorted(kept.files) == sorted(judged)
    assert {code for code, _, _ in findings} == privacy_files.CODES
