"""DICOM privacy: the PS3.15 Basic Profile audit in `curator validate` and `curator anonymise`."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydicom import dcmread

from curator.catalogue import catalogue
from curator.checks import dicom_series, privacy_dicom
from curator.checks.phi_text import mask, text_kinds
from curator.checks.privacy_dicom import CODES
from curator.cli.main import main
from curator.io.deid_table import DEID_EDITION, deid_table
from curator.io.dicom_audit import DicomAudit
from curator.profiles import get_profile
from curator.validate import ValidateOptions, gather
from tests.dicom_privacy_factories import (
    BIRTH_DATE,
    EMAIL,
    GE_STUDY,
    SECRETS,
    clean_slice,
    declared,
    planted_slice,
    with_trailing_private,
    write_planted,
)
from tests.reports import validate_report

KEY = "k" * 8 + "0123456789abcdef"
OTHER_KEY = "z" * 8 + "0123456789abcdef"
COVID_CT_MD = "covid_ct_md_dicom/Sample data/COVID-19 subjects"
Row = tuple[str, str]


def audit(root: Path, *args: str, exit_code: int) -> dict:
    """The privacy findings of `curator validate` (profile dicom), as JSON."""
    return validate_report(root, "--profile", "dicom", "--select", "privacy", *args, exit_code=exit_code)


def phi(report: dict, severity: str | None = None) -> set[Row]:
    return {(f["code"], f["path"]) for f in report["findings"]
            if f["code"] in CODES and (severity is None or f["severity"] == severity)}


def find(report: dict, code: str, keyword: str | None = None) -> list[dict]:
    return [f for f in report["findings"] if f["code"] == code
            and (keyword is None or f["context"].get("keyword") == keyword)]


def anonymise(src: Path, out: Path, *args: str, key: str = KEY) -> dict:
    result = CliRunner().invoke(main, ["anonymise", str(src), str(out), "--format", "json", *args],
                                env={"CURATOR_ANON_KEY": key})
    assert result.exit_code == 0, result.output
    summary: dict = json.loads(result.output)
    return summary


def digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def no_secrets(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret


# --- the rule table ------------------------------------------------------------------------------------------


def test_the_basic_profile_table_is_read_with_its_patterns_and_options() -> None:
    table = deid_table()
    assert table.edition == DEID_EDITION == "2024b"
    counts = table.counts()
    assert sum(counts.values()) == 621
    assert counts == {"X": 384, "D": 92, "U": 54, "Z": 42, "X/D": 22, "X/Z": 11, "X/Z/D": 8, "Z/D": 6, "X/Z/U*": 2}
    assert table.lookup(0x00100010).keyword == "PatientName"              # type: ignore[union-attr]
    assert table.lookup(0x60023000).name == "Overlay Data"                # type: ignore[union-attr]
    assert table.lookup(0x601E4000).name == "Overlay Comments"            # type: ignore[union-attr]
    assert table.lookup(0x50140030).name == "Curve Data"                  # type: ignore[union-attr]
    assert table.lookup(0x00291010).name == "Private Attributes"          # type: ignore[union-attr]
    assert table.lookup(0x00280010) is None                               # Rows: not an identifier
    study_date = table.lookup(0x00080020)
    assert study_date is not None and study_date.options == {"113106": "K", "113107": "C"}
    assert study_date.option({"113100", "113107"}) == "C" and study_date.option({"113100"}) is None


def test_masking_and_text_patterns() -> None:
    assert mask("Ivanov^Petr") == "Iv*** P***"
    assert "ivan" not in mask(EMAIL)
    assert text_kinds(f"contact {EMAIL}") == ["e-mail address"]
    assert text_kinds("born 12.03.1945, tel +7 (495) 123-45-67") == ["date", "phone number"]
    assert text_kinds("Ivanov I.I. reviewed") == ["name"]
    assert text_kinds("MRN: 1234567") == ["ID number"]
    assert text_kinds("Private^DM_Thor_SIN__DM (Adult)") == [] and text_kinds("ThorRoutine  2.0  D40s") == []


# --- the audit -----------------------------------------------------------------------------------------------


def test_every_planted_identifier_is_found_with_its_code_and_masked(tmp_path: Path) -> None:
    write_planted(tmp_path / "P001", count=1)
    report = audit(tmp_path, exit_code=1)
    path = "P001/IM0001.dcm"
    assert report["stats"]["deid_edition"] == DEID_EDITION
    name = find(report, "PHI_DICOM_ELEMENT", "PatientName")[0]
    assert name["path"] == path and name["context"]["value"] == "Iv*** P***" and name["context"]["direct_identifier"]
    assert "Z (empty" in name["context"]["action"]
    nested = find(report, "PHI_DICOM_ELEMENT", "SourceImageSequence[0].PatientName")
    assert nested and nested[0]["context"]["value"] == "Si*** A***"
    birth = find(report, "PHI_DICOM_ELEMENT", "PatientBirthDate")[0]
    assert birth["context"]["value"] == "19***" and birth["context"]["tag"] == "(0010,0030)"
    for keyword in ("PatientID", "InstitutionName", "StationName", "StudyDate", "AcquisitionDate"):
        assert find(report, "PHI_DICOM_ELEMENT", keyword), keyword
    comments = find(report, "PHI_DICOM_ELEMENT", "ImageComments")[0]
    assert comments["context"]["looks_like"] == ["e-mail address"] and "X (remove)" in comments["message"]
    age = find(report, "PHI_DICOM_AGE_NINETY_PLUS")[0]
    assert age["context"]["keyword"] == "PatientAge" and age["severity"] == "error" and "092Y" not in age["message"]
    private = find(report, "PHI_DICOM_PRIVATE")[0]
    assert private["context"]["groups"] == "0009" and private["context"]["creators"] == ["ACME_IDENT"]
    assert private["context"]["count"] == 2  # the element and its creator; the safe GE Table Speed is not counted
    uid = find(report, "PHI_DICOM_UID_ROOT")[0]
    assert uid["context"]["organisation"] == "GE Healthcare" and uid["context"]["root"] == "1.2.840.113619"
    expected = {"StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "MediaStorageSOPInstanceUID",
                "FrameOfReferenceUID", "SourceImageSequence[0].ReferencedSOPInstanceUID"}
    assert expected <= set(uid["context"]["attributes"])
    assert find(report, "PHI_DICOM_NOT_DEIDENTIFIED")[0]["context"]["reason"].startswith("(0012,0062)")
    no_secrets(json.dumps(report, ensure_ascii=False))
    text = CliRunner().invoke(main, ["validate", str(tmp_path), "--profile", "dicom", "--lang", "ru"]).output
    assert "скрыто" in text
    no_secrets(text)


def test_a_declared_clean_file_passes(tmp_path: Path) -> None:
    (tmp_path / "P001").mkdir()
    for instance in (1, 2, 3):
        clean_slice(instance).save_as(tmp_path / "P001" / f"IM{instance}.dcm", enforce_file_format=True)
    report = audit(tmp_path, exit_code=0)
    assert phi(report) == set() and report["stats"]["deid_edition"] == DEID_EDITION


def _one(tmp_path: Path, ds: object, name: str = "IM1.dcm", *, exit_code: int) -> dict:
    folder = tmp_path / "P001"
    folder.mkdir(exist_ok=True)
    ds.save_as(folder / name, enforce_file_format=True)  # type: ignore[attr-defined]
    return audit(tmp_path, exit_code=exit_code)


def test_dummies_and_pseudonyms(tmp_path: Path) -> None:
    ds = clean_slice()
    ds.PatientName = "ANONYMOUS"
    ds.PatientBirthDate = "19000101"       # a placeholder date
    ds.ReferringPhysicianName = "Doe^John"  # not a dummy
    assert {(f["code"], f["context"].get("keyword")) for f in _one(tmp_path, ds, exit_code=1)["findings"]} == {
        ("PHI_DICOM_ELEMENT", "ReferringPhysicianName")}


def test_a_name_shaped_pseudonym_is_not_accepted_even_when_declared(tmp_path: Path) -> None:
    ds = clean_slice()
    ds.PatientName = "Doe^Archibald"
    assert [f["context"]["keyword"] for f in _one(tmp_path, ds, exit_code=1)["findings"]] == ["PatientName"]


def test_undeclared_pseudonyms_are_not_accepted(tmp_path: Path) -> None:
    ds = clean_slice()
    del ds.PatientIdentityRemoved
    codes = {(f["code"], f["context"].get("keyword")) for f in _one(tmp_path, ds, exit_code=1)["findings"]}
    assert codes == {("PHI_DICOM_NOT_DEIDENTIFIED", None), ("PHI_DICOM_ELEMENT", "PatientName"),
                     ("PHI_DICOM_ELEMENT", "PatientID")}


def test_options_claimed_change_what_is_allowed(tmp_path: Path) -> None:
    ds = declared(clean_slice(), "113100", "113107", "113105", "113108", temporal="MODIFIED")
    ds.StudyDate = "20120919"          # shifted dates may stay under 113107
    ds.PatientSex = "F"                # 113108 keeps patient characteristics
    ds.PatientAge = "045Y"
    ds.SeriesDescription = "Chest 2.5"  # 113105 keeps cleaned descriptions ...
    ds.ImageComments = f"ask {EMAIL}"   # ... which are still scanned: a warning
    report = _one(tmp_path, ds, exit_code=0)
    assert [(f["code"], f["severity"], f["context"]["keyword"]) for f in report["findings"]] == [
        ("PHI_DICOM_TEXT", "warning", "ImageComments")]
    assert report["findings"][0]["context"]["kinds"] == "e-mail address"
    ds.PatientAge = "091Y"              # kept characteristics still must not single out the oldest
    report = _one(tmp_path, ds, exit_code=1)
    assert {f["code"] for f in report["findings"]} == {"PHI_DICOM_TEXT", "PHI_DICOM_AGE_NINETY_PLUS"}


def test_claims_the_content_contradicts(tmp_path: Path) -> None:
    ds = declared(clean_slice(), "113100", "113107")          # modified dates claimed, (0028,0303) missing
    ds.BurnedInAnnotation = "YES"
    block = ds.private_block(0x0019, "GEMS_ACQU_01", create=True)
    block.add_new(0x23, "DS", "41.0")                         # safe private kept without claiming 113111
    report = _one(tmp_path, ds, exit_code=1)
    contradicted = {f["context"]["option"].split()[0]: f["context"]["reason"]
                    for f in find(report, "PHI_DICOM_CLAIM_CONTRADICTED")}
    assert set(contradicted) == {"113107", "113100"}
    assert "not MODIFIED" in contradicted["113107"] and "113111" in contradicted["113100"]
    assert find(report, "PHI_DICOM_BURNED_IN")[0]["context"]["keyword"].startswith("BurnedInAnnotation")
    assert not find(report, "PHI_DICOM_PRIVATE")
    declared(ds, "113100", "113106", "113101", "113111", temporal="MODIFIED")
    report = _one(tmp_path, ds, exit_code=1)
    contradicted = {f["context"]["option"].split()[0] for f in find(report, "PHI_DICOM_CLAIM_CONTRADICTED")}
    assert contradicted == {"113106", "113101"}


def test_private_attributes_after_the_pixel_data_are_read(tmp_path: Path) -> None:
    for index, encapsulated in enumerate((False, True)):
        ds = with_trailing_private(clean_slice(index + 1), encapsulated=encapsulated)
        folder = tmp_path / "P001"
        folder.mkdir(exist_ok=True)
        ds.save_as(folder / f"IM{index}.dcm", enforce_file_format=True)
    report = audit(tmp_path, exit_code=1)
    found = {(f["path"], f["context"]["groups"]) for f in find(report, "PHI_DICOM_PRIVATE")}
    assert found == {("P001/IM0.dcm", "7FE1"), ("P001/IM1.dcm", "7FE1")}


def test_dicom_is_audited_in_any_profile_and_a_nifti_release_stays_silent(release: Path) -> None:
    report = validate_report(release, exit_code=0)
    assert phi(report) == set() and "deid_edition" not in report["stats"]
    planted_slice(1).save_as(release / "notes.bin", enforce_file_format=True)  # found by its DICM marker
    report = validate_report(release, exit_code=1)
    assert ("PHI_DICOM_ELEMENT", "notes.bin") in phi(report, "error")
    assert report["stats"]["deid_edition"] == DEID_EDITION


def test_an_unreadable_dicom_file_is_not_taken_as_clean(tmp_path: Path) -> None:
    (tmp_path / "P001").mkdir()
    data = bytearray(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\xff\xff")
    (tmp_path / "P001" / "broken.dcm").write_bytes(bytes(data))
    report = audit(tmp_path, exit_code=1)
    found = find(report, "PHI_DICOM_NOT_DEIDENTIFIED")
    assert found and found[0]["context"]["reason"].startswith("the file cannot be read")


# --- the anonymiser -------------------------------------------------------------------------------------------


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    write_planted(src / "P001" / "CT1", count=3)
    write_planted(src / "P002", count=2, patient_id="MRN-9001", study_date="20190101", acquisition_date="20190102")
    return src


def test_anonymise_removes_every_planted_identifier(planted: Path, tmp_path: Path) -> None:
    before = digests(planted)
    summary = anonymise(planted, tmp_path / "out")
    assert digests(planted) == before                          # the input is never modified
    assert summary["files"] == 5 and summary["patients"] == 2 and summary["failed"] == {}
    assert summary["options"] == ["113100", "113107"] and summary["deid_edition"] == DEID_EDITION
    assert {"X", "Z", "U", "dates shifted", "pseudonymised", "private removed"} <= set(summary["actions"])
    report = audit(tmp_path / "out", exit_code=0)
    assert phi(report, "error") == set() and phi(report) == set()
    for path in (tmp_path / "out").rglob("*.dcm"):
        no_secrets(path.read_bytes().decode("latin-1"))
        assert KEY not in path.read_bytes().decode("latin-1")
        original = dcmread(planted / path.relative_to(tmp_path / "out"))
        copy = dcmread(path)
        assert copy.PixelData == original.PixelData              # pixels byte for byte
        assert copy.PatientIdentityRemoved == "YES" and copy.LongitudinalTemporalInformationModified == "MODIFIED"
        assert [item.CodeValue for item in copy.DeidentificationMethodCodeSequence] == ["113100", "113107"]
        assert copy.PatientID == copy.PatientName == summary_pseudonym(copy.PatientID)
        assert copy.StudyInstanceUID.startswith("2.25.") and copy.file_meta.MediaStorageSOPInstanceUID == \
            copy.SOPInstanceUID
        assert copy.SourceImageSequence[0].ReferencedSOPInstanceUID.startswith("2.25.")
        assert copy.SourceImageSequence[0].PatientName == copy.PatientName
        assert "PatientBirthDate" not in copy or not copy.PatientBirthDate
        assert "PatientAge" not in copy and "ImageComments" not in copy
        assert not any(element.tag.is_private for element in copy)


def summary_pseudonym(value: str) -> str:
    assert value.startswith("ANON-") and len(value) == 15
    return value


def _uids(root: Path) -> dict[str, tuple[str, str, str]]:
    return {str(p.relative_to(root)): (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
            for p in sorted(root.rglob("*.dcm")) for ds in [dcmread(p, stop_before_pixels=True)]}


def _days(value: str) -> int:
    return (dt.datetime.strptime(value, "%Y%m%d").date() - dt.date(1900, 1, 1)).days


def test_uids_follow_the_key_and_dates_keep_their_intervals(planted: Path, tmp_path: Path) -> None:
    anonymise(planted, tmp_path / "a")
    anonymise(planted, tmp_path / "b")
    anonymise(planted, tmp_path / "c", key=OTHER_KEY)
    a, b, c = _uids(tmp_path / "a"), _uids(tmp_path / "b"), _uids(tmp_path / "c")
    assert a == b                                              # same key: same UIDs, in every run
    assert all(not set(a[p]) & set(c[p]) for p in a)          # another key: unrelated UIDs
    studies = {uids[0] for uids in a.values()}
    assert len(studies) == 1                                   # one study across files and patients stays one
    first = dcmread(tmp_path / "a" / "P001" / "CT1" / "IM0001.dcm", stop_before_pixels=True)
    other = dcmread(tmp_path / "a" / "P002" / "IM0001.dcm", stop_before_pixels=True)
    assert first.StudyDate != "20200305"
    assert _days(first.AcquisitionDate) - _days(first.StudyDate) == 5                # interval kept
    assert _days(other.AcquisitionDate) - _days(other.StudyDate) == 1
    assert first.PatientID != other.PatientID
    shift = _days(first.StudyDate) - _days("20200305")
    assert -3652 <= shift <= -365 and shift != _days(other.StudyDate) - _days("20190101")  # one offset per patient


def test_options_safe_private_patient_characteristics_and_a_map(planted: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "map.csv"
    mapping.write_text("patient_id,pseudonym\nMRN-4471,CASE-0001\nMRN-9001,CASE-0002\n", encoding="utf-8")
    summary = anonymise(planted, tmp_path / "out", "--keep-safe-private", "--retain-patient-characteristics",
                        "--map", str(mapping))
    assert summary["options"] == ["113100", "113107", "113108", "113111"]
    copy = dcmread(tmp_path / "out" / "P001" / "CT1" / "IM0001.dcm")
    assert copy.PatientID == copy.PatientName == "CASE-0001"
    assert copy.PatientAge == "090Y" and copy.PatientSex == "M"
    assert copy.private_block(0x0019, "GEMS_ACQU_01")[0x23].value == "41.0"
    assert 0x00091001 not in copy and 0x00090010 not in copy
    assert phi(audit(tmp_path / "out", exit_code=0)) == set()


def test_anonymise_refuses_without_a_key_and_a_map_must_cover_every_patient(planted: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["anonymise", str(planted), str(tmp_path / "out")], env={"CURATOR_ANON_KEY": ""})
    assert result.exit_code == 2 and "CURATOR_ANON_KEY" in result.output
    key_file = tmp_path / "key"
    key_file.write_text("short\n", encoding="utf-8")
    result = runner.invoke(main, ["anonymise", str(planted), str(tmp_path / "out"), "--key-file", str(key_file)])
    assert result.exit_code == 2 and "at least 16" in result.output
    mapping = tmp_path / "map.csv"
    mapping.write_text("MRN-4471,CASE-0001\n", encoding="utf-8")
    result = runner.invoke(main, ["anonymise", str(planted), str(tmp_path / "out"), "--map", str(mapping)],
                           env={"CURATOR_ANON_KEY": KEY})
    assert result.exit_code == 1 and "1 of the 2" in result.output and "MRN-9001" not in result.output
    assert not (tmp_path / "out").exists()                     # nothing half-written
    result = runner.invoke(main, ["anonymise", str(planted), str(planted / "inside")], env={"CURATOR_ANON_KEY": KEY})
    assert result.exit_code == 2


# --- real data ------------------------------------------------------------------------------------------------


def _pixels(root: Path) -> dict[str, bytes]:
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            try:
                ds = dcmread(path)
            except Exception:
                continue
            if "PixelData" in ds:
                found[str(path.relative_to(root))] = ds.PixelData
    return found


def _original_paths(out: Path) -> Callable[[str], str]:
    """A path of the copy -> its path in SRC, through the name map anonymise keeps beside OUT (folders and files
    named after the patient are renamed)."""
    names = out.parent / f"{out.name}.namemap.csv"
    with names.open(encoding="utf-8", newline="") as handle:
        back = {row["renamed"]: row["original"] for row in csv.DictReader(handle)}

    def original(path: str) -> str:
        parts = path.split("/")
        for index in range(len(parts), 0, -1):
            prefix = "/".join(parts[:index])
            if prefix in back:
                return "/".join([back[prefix], *parts[index:]])
        return path

    return original


@pytest.mark.realdata
def test_pydicom_ct_files_names_dates_and_vendor_uids_then_clean(realdata: Path, tmp_path: Path) -> None:
    root = realdata / "pydicom_ct_files"
    report = audit(root, exit_code=1)
    small = "pydicom_3.0.2_test_files/CT_small.dcm"
    name = next(f for f in find(report, "PHI_DICOM_ELEMENT", "PatientName") if f["path"] == small)
    assert name["context"]["value"] == "Co*** C***"            # CompressedSamples^CT1, masked
    assert {f["context"]["keyword"] for f in find(report, "PHI_DICOM_ELEMENT") if f["path"] == small} >= {
        "PatientID", "StudyDate", "InstitutionName", "StationName", "SourceApplicationEntityTitle",
        "OtherPatientIDsSequence", "OtherPatientIDsSequence[0].PatientID"}
    assert ("PHI_DICOM_PRIVATE", small) in phi(report)
    assert {f["context"]["organisation"] for f in find(report, "PHI_DICOM_UID_ROOT")} >= {"Siemens Healthineers"}
    names = [f for f in find(report, "PHI_DICOM_ELEMENT", "PatientName") if "dicomdirtests/98892001" in f["path"]]
    assert names and names[0]["context"]["value"] == "D*** P***"   # declared YES, yet Doe^Peter
    assert "Archibald" not in json.dumps(report) and "CompressedSamples" not in json.dumps(report)

    out = tmp_path / "out"
    summary = anonymise(root, out)
    assert summary["failed"] == {} and summary["files"] >= 80
    assert phi(audit(out, exit_code=0), "error") == set()
    before, after = _pixels(root), _pixels(out)
    original = _original_paths(out)                            # dicomdirtests/77654033 is named after its PatientID
    assert not (out / "pydicom_3.0.2_test_files" / "dicomdirtests" / "77654033").exists()
    assert after and all(after[path] == before[original(path)] for path in after)


def _dicom_facts(root: Path) -> tuple[DicomAudit, set[Row], set[tuple[str, str, str]], list[object]]:
    """(audit, privacy findings, series findings, the series) of ``root``, read once."""
    facts = gather(root, get_profile("dicom"), ValidateOptions(profile="dicom", checksums=False))
    privacy = {(f.code, f.path) for f in privacy_dicom.check(facts)}
    series = {(f.code, f.path, f.severity.value) for f in dicom_series.check(facts)}
    assert facts.dicom_audit is not None and facts.dicom is not None
    return facts.dicom_audit, privacy, series, list(facts.dicom.series)


@pytest.mark.realdata
def test_covid_ct_md_p001_audited_anonymised_and_clean_with_the_same_geometry(realdata: Path, tmp_path: Path) -> None:
    root = realdata / COVID_CT_MD
    found, privacy, series_rows, series = _dicom_facts(root)
    assert len(found.files) == 148 and not found.unreadable
    print(f"\nDICOM audit of COVID-CT-MD P001: {len(found.files)} files, {found.bytes / 1e6:.1f} MB in "
          f"{found.seconds:.2f} s: {len(found.files) / found.seconds:.0f} files/s, "
          f"{found.bytes / 1e6 / found.seconds:.0f} MB/s")
    assert {code for code, _ in privacy} >= {"PHI_DICOM_UID_ROOT", "PHI_DICOM_ELEMENT", "PHI_DICOM_PRIVATE",
                                             "PHI_DICOM_NOT_DEIDENTIFIED"}
    assert len({path for code, path in privacy if code == "PHI_DICOM_UID_ROOT"}) == 148

    out = tmp_path / "P001-anon"
    summary = anonymise(root, out)
    assert summary["files"] == 148 and summary["patients"] == 1
    found_out, privacy_out, series_rows_out, series_out = _dicom_facts(out)
    assert len(found_out.files) == 148 and privacy_out == set()
    assert series_rows_out == series_rows == set()           # no new SERIES_* or DICOM_* finding
    assert len(series_out) == len(series) == 1
    original = _original_paths(out)                            # 98C14734-ASSH_<n>.dcm: named after the PatientID
    assert all("98C14734" not in f.path and original(f.path).startswith("P001/98C14734-ASSH_")
               for f in series_out[0].files)  # type: ignore[attr-defined]
    geometry = [[(original(f.path), f.position, f.orientation, f.pixel_spacing, f.rows, f.columns)  # type: ignore[attr-defined]
                 for f in one.files] for one in (series[0], series_out[0])]  # type: ignore[attr-defined]
    geometry[0].sort()
    geometry[1].sort()
    assert geometry[0] == geometry[1]


@pytest.mark.realdata
def test_dicom2nifti_series_audited_anonymised_and_clean(realdata: Path, tmp_path: Path) -> None:
    root = realdata / "dicom2nifti_ct_series"
    report = audit(root, exit_code=1)
    philips = [f for f in find(report, "PHI_DICOM_UID_ROOT") if f["context"]["root"] == "1.2.840.113704"]
    assert philips and philips[0]["context"]["attributes"] == ["MediaStorageSOPInstanceUID"]
    out = tmp_path / "out"
    anonymise(root, out)
    assert phi(audit(out, exit_code=0)) == set()

    def rows(where: Path, exit_code: int) -> set[tuple[str, str, str]]:
        return {(f["code"], f["path"], f["severity"]) for f in validate_report(where, "--profile", "dicom",
                                                                                exit_code=exit_code)["findings"]
                if f["code"].startswith("SERIES_")}

    assert rows(out, exit_code=1) == rows(root, exit_code=1) and rows(root, exit_code=1)   # SERIES_* errors stay


def test_every_code_of_this_module_is_in_the_catalogue_with_both_languages() -> None:
    rules = catalogue()
    for code in CODES:
        assert rules[code].status == "active" and {"privacy", "dicom"} <= set(rules[code].tags)
        assert set(rules[code].message) >= {"en", "ru"}


def test_copy_other_and_left_out_files(planted: Path, tmp_path: Path) -> None:
    (planted / "notes.txt").write_text("not dicom", encoding="utf-8")
    shutil.copyfile(planted / "P002" / "IM0001.dcm", planted / "P002" / "copy-without-suffix")
    shutil.copyfile(planted / "P002" / "IM0001.dcm", planted / "P002" / f"CT.{GE_STUDY}.3")
    summary = anonymise(planted, tmp_path / "out")
    assert "notes.txt" in summary["left_out"] and summary["files"] == 7
    renamed = [p.name for p in (tmp_path / "out" / "P002").iterdir() if p.name.startswith("CT.")]
    assert len(renamed) == 1 and renamed[0].startswith("CT.2.25.") and GE_STUDY not in renamed[0]
    summary = anonymise(planted, tmp_path / "out", "--copy-other", "--force")
    assert summary["copied"] == ["notes.txt"] and (tmp_path / "out" / "notes.txt").read_text() == "not dicom"
    assert GE_STUDY not in (tmp_path / "out" / "P002" / "copy-without-suffix").read_bytes().decode("latin-1")
    assert BIRTH_DATE not in (tmp_path / "out" / "P002" / "copy-without-suffix").read_bytes().decode("latin-1")


def test_the_copy_is_audited_and_what_anonymisation_cannot_fix_is_reported(tmp_path: Path) -> None:
    src = tmp_path / "src" / "P001"
    src.mkdir(parents=True)
    ds = planted_slice(1)
    ds.BurnedInAnnotation = "YES"   # text in the pixels: header de-identification cannot remove it
    ds.save_as(src / "IM1.dcm", enforce_file_format=True)
    result = CliRunner().invoke(main, ["anonymise", str(tmp_path / "src"), str(tmp_path / "out"), "--format", "json"],
                                env={"CURATOR_ANON_KEY": KEY})
    assert result.exit_code == 1
    assert json.loads(result.output)["remaining"] == {"PHI_DICOM_BURNED_IN": 1}
    assert phi(audit(tmp_path / "out", exit_code=1)) == {("PHI_DICOM_BURNED_IN", "P001/IM1.dcm")}
