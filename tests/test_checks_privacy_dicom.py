"""checks/privacy_dicom.py called directly on what validate's DICOM audit read (most of its codes are asserted
through validate in test_privacy_dicom.py and test_phi_text.py; here what they do not reach)."""

from __future__ import annotations

from pathlib import Path

from curator.checks import privacy_dicom
from tests.check_facts import gather_facts, rows
from tests.dicom_privacy_factories import clean_slice, write_undecodable


def test_a_de_identified_slice_has_no_finding(tmp_path: Path) -> None:
    (tmp_path / "P001").mkdir()
    clean_slice().save_as(tmp_path / "P001" / "IM1.dcm", enforce_file_format=True)
    assert rows(privacy_dicom.check(gather_facts(tmp_path, "dicom"))) == []


def test_an_element_that_cannot_be_decoded_leaves_the_audit_incomplete(tmp_path: Path) -> None:
    write_undecodable(tmp_path / "P001" / "IM1.dcm", clean_slice())
    findings = list(privacy_dicom.check(gather_facts(tmp_path, "dicom")))
    assert rows(findings) == [("PHI_DICOM_AUDIT_INCOMPLETE", "P001/IM1.dcm", {
        "reason": "(0018,9087) cannot be decoded (BytesLengthException)"})]
    assert findings[0].severity.value == "warning"
