"""checks/privacy_dicom.py called directly on what validate's DICOM audit read (most of its codes are asserted
through validate in test_privacy_dicom.py and test_phi_text.py; here what they do not reach)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from curator.catalogue import Relocation, finding_at, make_finding, relocated
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


def test_a_shared_element_is_judged_per_file_and_declaration(tmp_path: Path) -> None:
    """The verdict on one element is remembered across files (issue 15): each file still gets its own path, a
    declared file may keep a pseudonym an undeclared one may not, and no two findings share a context list."""
    from curator.io.dicom_audit import AuditedFile, AuditElement

    name = AuditElement("PatientName", 0x00100010, "PN", "PAT0001", 7)
    comments = AuditElement("ImageComments", 0x00204000, "LT", "call 555-123-4567", 17)

    def audited(path: str, declared: bool) -> AuditedFile:
        return AuditedFile(path=path, elements=(name, comments), identity_removed="YES" if declared else None,
                           method=("curator",) if declared else (), method_codes=(), temporal=None, burned_in=None,
                           visual_features=None)

    first, second, third = audited("A/1.dcm", True), audited("B/1.dcm", False), audited("A/2.dcm", True)
    judged = {one.path: [(f.code, f.context.get("keyword")) for f in privacy_dicom.judge_file(one)]
              for one in (first, second, third)}
    assert judged == {
        "A/1.dcm": [("PHI_DICOM_ELEMENT", "ImageComments")],
        "B/1.dcm": [("PHI_DICOM_NOT_DEIDENTIFIED", None), ("PHI_DICOM_ELEMENT", "PatientName"),
                    ("PHI_DICOM_ELEMENT", "ImageComments")],
        "A/2.dcm": [("PHI_DICOM_ELEMENT", "ImageComments")]}
    once, again = (next(f for f in privacy_dicom.judge_file(one) if f.context.get("keyword") == "ImageComments")
                   for one in (first, third))
    assert once.context["looks_like"] == again.context["looks_like"] == ["phone number"]
    assert once.context["looks_like"] is not again.context["looks_like"]


def test_a_remembered_verdict_relocated_is_the_finding_made_for_the_file() -> None:
    """privacy_dicom judges an element once and copies its findings to every file (issue 15): the copy is what
    make_finding gives for that file (message worded with its path), and owns its context."""
    context: dict[str, Any] = {"keyword": "PatientName", "tag": "(0010,0010)", "action": "Z", "value": "I****",
                               "kinds": ["name"]}
    template = make_finding("PHI_DICOM_ELEMENT", "", **context)
    moved = relocated(template, "P001/series/IM1.dcm")
    assert moved == make_finding("PHI_DICOM_ELEMENT", "P001/series/IM1.dcm", **context)
    assert "P001/series/IM1.dcm" in moved.message and moved.context["kinds"] is not template.context["kinds"]

    made = make_finding("PHI_DICOM_ELEMENT", "P001/series/IM1.dcm", **context)
    assert moved.model_fields_set == made.model_fields_set   # built without model_copy: the same pydantic state
    assert moved.model_dump(exclude_unset=True) == made.model_dump(exclude_unset=True)
    assert moved.model_dump_json() == made.model_dump_json()


def _same(one: Any, other: Any) -> None:
    assert one == other
    assert one.model_fields_set == other.model_fields_set
    assert one.model_dump_json() == other.model_dump_json()


def test_a_relocation_words_each_path_as_make_finding_does() -> None:
    """catalogue.Relocation (issue 15): a finding's message worded once with the path left out, joined with each
    path; a path twice in the message, a variant's wording, and a path or value that looks like a placeholder."""
    paired = make_finding("SLICE_PAIR_MISSING", "", counterpart="mask/1/2.png")   # {path} twice
    assert paired.message.count("{path}") == 0
    for path in ("image/1/2.jpg", "", "a/{path}/b.jpg", "x\ue000path\ue001y.jpg"):
        _same(Relocation(paired).at(path), make_finding("SLICE_PAIR_MISSING", path, counterpart="mask/1/2.png"))
    context: dict[str, Any] = {"counterpart": "\ue000path\ue001"}   # the sentinel itself in a value: worded in full
    _same(Relocation(make_finding("SLICE_PAIR_MISSING", "", **context)).at("a.jpg"),
          make_finding("SLICE_PAIR_MISSING", "a.jpg", **context))
    variant = make_finding("REQUIRED_FILE_MISSING", "", variant="in_source")
    assert "build source" in Relocation(variant).at("studies.csv").message
    _same(Relocation(variant).at("studies.csv"), make_finding("REQUIRED_FILE_MISSING", "studies.csv",
                                                              variant="in_source"))


def test_finding_at_is_make_finding_remembered_per_context() -> None:
    """finding_at remembers a finding per code and context (issue 15) and never mixes up contexts that Python
    calls equal but JSON does not (True and 1), and gives each copy its own lists."""
    one = finding_at("PHI_DICOM_PRIVATE", "A/1.dcm", count=1, groups="0009", creators=["X"], claims_safe_private=False)
    _same(one, make_finding("PHI_DICOM_PRIVATE", "A/1.dcm", count=1, groups="0009", creators=["X"],
                            claims_safe_private=False))
    again = finding_at("PHI_DICOM_PRIVATE", "B/1.dcm", count=True, groups="0009", creators=["X"],
                       claims_safe_private=0)
    assert again.context["count"] is True and again.context["claims_safe_private"] == 0
    assert '"count":true' in again.model_dump_json() and '"claims_safe_private":0' in again.model_dump_json()
    assert again.context["creators"] is not one.context["creators"]
    nested = {"values": {"a": 1}}   # a value that cannot be remembered: made afresh, equal all the same
    _same(finding_at("PHI_DICOM_PRIVATE", "C/1.dcm", count=2, groups="0009", creators=[], claims_safe_private=True,
                     **nested),
          make_finding("PHI_DICOM_PRIVATE", "C/1.dcm", count=2, groups="0009", creators=[], claims_safe_private=True,
                       **nested))
    russian = finding_at("PHI_DICOM_NOT_DEIDENTIFIED", "C/1.dcm", reason="x", lang="ru")
    _same(russian, make_finding("PHI_DICOM_NOT_DEIDENTIFIED", "C/1.dcm", reason="x", lang="ru"))
    assert russian.message != finding_at("PHI_DICOM_NOT_DEIDENTIFIED", "C/1.dcm", reason="x").message


def test_the_uids_of_slices_of_a_series_are_judged_per_file() -> None:
    """What each element's UIDs are is remembered (issue 15: a series repeats its study and series UIDs in every
    slice); a slice whose instance UID differs from the previous slice's gets its own findings: here one under a
    vendor root (Siemens) after one under no known root, then the first slice again."""
    from curator.io.dicom_audit import AuditedFile, AuditElement

    study = AuditElement("StudyInstanceUID", 0x0020000D, "UI", "1.2.826.0.1.3680043.2.1125.7", 28)

    def audited(path: str, instance: str) -> AuditedFile:
        sop = AuditElement("SOPInstanceUID", 0x00080018, "UI", instance, len(instance))
        return AuditedFile(path=path, elements=(sop, study), identity_removed="YES", method=("curator",),
                           method_codes=(), temporal=None, burned_in=None, visual_features=None)

    def uid_rows(found: AuditedFile) -> list[tuple[str, dict[str, Any]]]:
        return [(f.code, {k: f.context[k] for k in ("count", "attributes", "root")})
                for f in privacy_dicom.judge_file(found) if f.code.startswith("PHI_DICOM_UID")]

    first = audited("P001/IM1.dcm", "1.2.826.0.1.3680043.2.1125.8")
    second = audited("P001/IM2.dcm", "1.3.12.2.1107.5.1.4.93005.3000002003050733337320001")
    assert uid_rows(first) == [("PHI_DICOM_UID_NOT_REMAPPED", {
        "count": 2, "attributes": ["SOPInstanceUID", "StudyInstanceUID"], "root": "1.2.826.0.1.3680043.2.1125"})]
    assert uid_rows(second) == [
        ("PHI_DICOM_UID_ROOT", {"count": 1, "attributes": ["SOPInstanceUID"], "root": "1.3.12.2.1107.5"}),
        ("PHI_DICOM_UID_NOT_REMAPPED", {"count": 1, "attributes": ["StudyInstanceUID"],
                                        "root": "1.2.826.0.1.3680043.2.1125"})]
    assert uid_rows(first) == uid_rows(audited("P001/IM3.dcm", "1.2.826.0.1.3680043.2.1125.8"))
