"""Free text the PS3.15 table does not name, the de-identified marking as a claim, the identifier list's dates and
e-mails, smaller audit gaps (trailing padding, overlay labels, X/Z/D sequences), placeholders and fresh UIDs."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ImplicitVRLittleEndian

from curator.checks.phi_text import is_placeholder, text_kinds, untabled_text_kinds
from curator.checks.privacy_dicom import CODES, _common_root, fresh_uid
from curator.cli.main import main
from curator.io.identifiers import IdentifierList
from tests.dicom_privacy_factories import (
    CLEAN_MEANING,
    CORPUS_IDENTIFIERS,
    REQUESTED_BY,
    UNTABLED_LOCATIONS,
    Plant,
    PlantedCorpus,
    clean_slice,
    code_item,
    plant_corpus,
    with_untabled_text,
)
from tests.hostile import Run, run_bounded, snapshot
from tests.reports import validate_report

KEY = "k" * 8 + "0123456789abcdef"


def validate(root: Path, *args: str, exit_code: int) -> dict:
    """The privacy audit of ROOT as a DICOM tree (PHI_DICOM_TEXT is a warning: free text alone leaves it valid)."""
    return validate_report(root, "--profile", "dicom", "--select", "privacy", *args, exit_code=exit_code)


def anonymise(src: Path, out: Path) -> dict:
    result = CliRunner().invoke(main, ["anonymise", str(src), str(out), "--format", "json"],
                                env={"CURATOR_ANON_KEY": KEY})
    assert result.exit_code == 0, result.output
    summary: dict = json.loads(result.output)
    return summary


def rows(report: dict) -> set[tuple[str, str]]:
    """(code, keyword) of the DICOM privacy findings."""
    return {(f["code"], f["context"].get("keyword", "")) for f in report["findings"] if f["code"] in CODES}


def save(folder: Path, ds: Dataset, name: str = "IM1.dcm") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_as(folder / name, enforce_file_format=True)
    return folder / name


# --- free text in untabled sequences ----------------------------------------------------------------------------


def test_the_detector_finds_surnames_in_words_but_not_in_clinical_text() -> None:
    assert text_kinds(REQUESTED_BY) == ["name"]
    assert text_kinds("КТ по направлению Кузнецовой А.В.") == ["name"]
    for clean in (CLEAN_MEANING, "Routine chest", "Thorax 1.0 B70f", "CHEST W/O CONTRAST", "Lung window",
                  "Bone marrow", "Follow-up, narrow window"):
        assert text_kinds(clean) == [], clean
    # inside a sequence every string is judged, at the top level only free text; codes never
    assert untabled_text_kinds("CodeMeaning", "LO", REQUESTED_BY, nested=True) == ["name"]
    assert untabled_text_kinds("CodeMeaning", "LO", REQUESTED_BY, nested=False) == []
    assert untabled_text_kinds("CodeValue", "SH", "19450312", nested=True) == []
    assert untabled_text_kinds("ObserverName", "PN", "Smith", nested=True) == ["name"]   # a PN names someone
    assert untabled_text_kinds("ObserverName", "PN", "ANONYMIZED", nested=True) == []


def test_free_text_in_untabled_sequences_is_flagged_by_path_and_anonymise_cleans_only_it(tmp_path: Path) -> None:
    save(tmp_path / "src" / "P001", with_untabled_text(clean_slice()))
    report = validate(tmp_path / "src", exit_code=0)
    text = {f["context"]["keyword"]: f for f in report["findings"] if f["code"] == "PHI_DICOM_TEXT"}
    assert set(text) == set(UNTABLED_LOCATIONS)
    assert text["ProcedureCodeSequence[0].CodeMeaning"]["context"]["kinds"] == "name"
    assert text["ProcedureCodeSequence[0].ExtendedCodeMeaning"]["context"]["kinds"] == "phone number"
    assert "Wisniewski" not in json.dumps(report)

    summary = anonymise(tmp_path / "src", tmp_path / "out")
    assert summary["actions"]["text cleaned"] == len(UNTABLED_LOCATIONS)
    copy = dcmread(tmp_path / "out" / "P001" / "IM1.dcm")
    requested, clean = copy.ProcedureCodeSequence
    assert requested.CodeMeaning == "ANONYMIZED" and requested.CodeValue == "CTCH01"   # the code stays
    assert clean.CodeMeaning == CLEAN_MEANING                                         # nothing to clean: kept
    assert copy.PerformedProtocolCodeSequence[0].CodeMeaning == "Routine chest"
    assert rows(validate(tmp_path / "out", exit_code=0)) == set()


VALUES = [REQUESTED_BY, CLEAN_MEANING, "Dr Nowak", "IVANOV^PETR", "tel 8 (916) 123-45-67", "born 1945-03-12",
          "MRN: 7734521", "a.b@c.org", "Lung 1.0", "ANONYMOUS", "Smith", "SUBJ-001", "Иванов И.И.", "Пётр"]


@pytest.mark.parametrize("vr", ["LO", "LT", "ST", "UT", "SH", "PN", "UC"])
def test_what_validate_flags_anonymise_cleans_and_the_output_is_clean(tmp_path: Path, vr: str) -> None:
    """The audit and the fixer share one decision: for each value, flagged by validate <=> changed by anonymise."""
    ds = clean_slice()
    ds.SpecificCharacterSet = "ISO_IR 192"
    items = []
    for value in VALUES:
        item = Dataset()
        item.add_new(0x00189901 if vr == "UT" else 0x00080104, vr, value[:16] if vr == "SH" else value)
        items.append(item)
    ds.ProcedureCodeSequence = Sequence(items)
    save(tmp_path / "src" / "P001", ds)
    flagged = {f["context"]["keyword"] for f in validate(tmp_path / "src", exit_code=0)["findings"]
               if f["code"] == "PHI_DICOM_TEXT"}
    anonymise(tmp_path / "src", tmp_path / "out")
    copy = dcmread(tmp_path / "out" / "P001" / "IM1.dcm")
    changed = {f"ProcedureCodeSequence[{index}].{element.keyword}"
               for index, item in enumerate(copy.ProcedureCodeSequence) for element in item
               if str(element.value) != str(ds.ProcedureCodeSequence[index][element.tag].value)}
    assert flagged == changed
    assert len(flagged) >= 5   # the identifying values above, whatever the VR
    assert rows(validate(tmp_path / "out", exit_code=0)) == set()


# --- the marking is a claim ------------------------------------------------------------------------------------


def test_a_record_number_in_patient_id_is_an_error_even_in_a_file_marked_de_identified(tmp_path: Path) -> None:
    ds = clean_slice()
    ds.PatientID = "MRN-7734521"
    report = validate(save(tmp_path / "P001", ds).parent.parent, exit_code=1)
    found = [f for f in report["findings"] if f["code"] == "PHI_DICOM_ELEMENT"]
    assert [(f["context"]["keyword"], f["severity"]) for f in found] == [("PatientID", "error")]
    assert found[0]["context"]["looks_like"] == ["ID number"]
    for pseudonym in ("ANON-0123456789", "SUBJ000123"):   # the anonymiser's own pseudonym, a study's code
        ds.PatientID = pseudonym
        assert rows(validate(save(tmp_path / "P001", ds).parent.parent, exit_code=0)) == set(), pseudonym
    ds.PatientID = "ID 7734521"
    assert rows(validate(save(tmp_path / "P001", ds).parent.parent, exit_code=1)) == {
        ("PHI_DICOM_ELEMENT", "PatientID")}


# --- placeholders -----------------------------------------------------------------------------------------------


def test_placeholders_count_as_emptied_where_the_profile_empties_but_not_where_it_removes(tmp_path: Path) -> None:
    for value in ("REMOVED", "ANONYMOUS", "^", "XXXX", "REMOVED^REMOVED", "***", "Anonymized"):
        assert is_placeholder(value), value
    for value in ("REMOVED^Petr", "Smith", "X1", "ANON-0123456789"):
        assert not is_placeholder(value), value
    ds = clean_slice()
    ds.PatientName = "REMOVED"            # Z: a placeholder is an emptied value
    ds.ReferringPhysicianName = "^"        # Z
    ds.OperatorsName = "XXXX"              # X/Z/D
    assert rows(validate(save(tmp_path / "P001", ds).parent.parent, exit_code=0)) == set()
    ds.PatientAddress = "REMOVED"          # X: must be removed, a placeholder is still a finding
    assert rows(validate(save(tmp_path / "P001", ds).parent.parent, exit_code=1)) == {
        ("PHI_DICOM_ELEMENT", "PatientAddress")}


# --- smaller gaps: padding, overlay text, X/Z/D sequences ---------------------------------------------------------


def test_trailing_padding_overlay_label_and_performed_procedure_step_are_flagged_then_removed(tmp_path: Path) -> None:
    ds = clean_slice()
    ds.add_new(0x60001500, "LO", "Kowalski overlay")     # Overlay Label
    ds.add_new(0x60000022, "LO", "ROI by Dr Nowak")      # Overlay Description
    step = Dataset()
    step.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.3"
    step.ReferencedSOPInstanceUID = "2.25.77"
    ds.ReferencedPerformedProcedureStepSequence = Sequence([step])
    ds.add_new(0xFFFCFFFC, "OB", b"\0" * 64)             # Data Set Trailing Padding, after the pixel data
    save(tmp_path / "src" / "P001", ds)
    assert rows(validate(tmp_path / "src", exit_code=1)) == {
        ("PHI_DICOM_ELEMENT", "OverlayLabel"), ("PHI_DICOM_ELEMENT", "OverlayDescription"),
        ("PHI_DICOM_ELEMENT", "ReferencedPerformedProcedureStepSequence"),
        ("PHI_DICOM_ELEMENT", "DataSetTrailingPadding")}
    anonymise(tmp_path / "src", tmp_path / "out")
    assert rows(validate(tmp_path / "out", exit_code=0)) == set()
    copy = dcmread(tmp_path / "out" / "P001" / "IM1.dcm")
    assert 0x60001500 not in copy and 0xFFFCFFFC not in copy and not copy.get(
        "ReferencedPerformedProcedureStepSequence")


# --- fresh UIDs -----------------------------------------------------------------------------------------------


def test_fresh_uids_are_not_reported_and_a_root_is_never_a_whole_uid(tmp_path: Path) -> None:
    dicognito = "2.20240101120000.1234567890123456789012345678901234567890123456"
    assert fresh_uid("2.25.329800735698586629295641978511506172918") and fresh_uid(dicognito)
    assert not fresh_uid("2.16.840.1.113669.632.20.1") and not fresh_uid("1.2.826.0.1.3680043.8.498.1")
    ds = clean_slice()
    ds.StudyInstanceUID = dicognito
    ds.FrameOfReferenceUID = "2.25.1234567890123"
    assert rows(validate(save(tmp_path / "P001", ds).parent.parent, exit_code=0)) == set()
    ds.FrameOfReferenceUID = "1.2.3.4.5"   # not fresh, no known vendor: reported with its root, not itself
    report = validate(save(tmp_path / "P001", ds).parent.parent, exit_code=0)
    found = [f for f in report["findings"] if f["code"] == "PHI_DICOM_UID_NOT_REMAPPED"]
    assert [f["context"]["root"] for f in found] == ["1.2.3.4"]
    ds.FrameOfReferenceUID = "1.2.840.113619"   # a UID that is only GE's root: still never shown whole
    report = validate(save(tmp_path / "P001", ds).parent.parent, exit_code=0)
    shown = [f["context"]["root"] for f in report["findings"] if f["code"].startswith("PHI_DICOM_UID")]
    assert shown == ["1.2.840"]
    assert _common_root(["1.2.3.4.5.6.7.8.9.10"]) == "1.2.3.4.5.6.7.8"
    assert _common_root(["1.2.3", "1.2.3"]) == "1.2"
    assert _common_root(["dccc9599087131742838"]) == ""


# --- --identifiers: dates and e-mails ---------------------------------------------------------------------------


def test_a_listed_e_mail_matches_only_the_whole_address() -> None:
    listed = IdentifierList.from_lines(["t.kowalczyk@example-mail.pl"])
    assert listed.search("kuznetsova.anna@example-mail.ru") == []
    assert listed.search("example mail pl t kowalczyk") == []
    assert listed.search("xt.kowalczyk@example-mail.pl") == []
    assert [(m.start, m.end) for m in listed.search("to T.Kowalczyk@Example-Mail.PL.")] == [(3, 30)]
    assert len(listed.search("x" * 5000 + "\nt.kowalczyk@example-mail.pl\n")) == 1   # the long-text path too


def test_a_listed_date_matches_any_written_form_of_the_day() -> None:
    listed = IdentifierList.from_lines(["1945-03-12"])
    for text in ("19450312", "born 12.03.1945", "1945/03/12", "12-3-1945"):
        assert len(listed.search(text)) == 1, text
    for text in ("19450313", "1945031", "20450312", "12.03.1946"):
        assert listed.search(text) == [], text
    number = IdentifierList.from_lines(["1945031"])      # seven digits: an ID, not 1945-03-01
    assert number.entries[0].forms == () and number.search("19450301") == []


@pytest.mark.parametrize("implicit", [False, True])
def test_a_listed_date_is_found_in_a_private_da_element(tmp_path: Path, implicit: bool) -> None:
    ds = clean_slice()
    block = ds.private_block(0x0011, "ACME_DATES", create=True)
    block.add_new(0x12, "DA", "19450312")                # (0011,1012)
    ds.AcquisitionDateTime = "19450312101500"            # a DT holds the day too
    if implicit:  # the private element's VR is then unknown (UN) to a reader
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    save(tmp_path / "root" / "P001", ds)
    listed = tmp_path / "ids.txt"
    listed.write_text("12.03.1945\n", encoding="utf-8")
    report = validate(tmp_path / "root", "--identifiers", str(listed), exit_code=1)
    found = [f for f in report["findings"] if f["code"] == "PHI_IDENTIFIER_FOUND"]
    assert len(found) == 1 and found[0]["context"]["count"] == 2
    assert sorted(found[0]["context"]["places"]) == ["DICOM (0011,1012)", "DICOM AcquisitionDateTime"]


def test_no_code_item_gets_lost(tmp_path: Path) -> None:
    """A code sequence whose meanings are all clean comes out of anonymise unchanged."""
    ds = clean_slice()
    ds.ProcedureCodeSequence = Sequence([code_item("CTCH02", CLEAN_MEANING), code_item("113691", "IEC Head")])
    save(tmp_path / "src" / "P001", ds)
    anonymise(tmp_path / "src", tmp_path / "out")
    copy = dcmread(tmp_path / "out" / "P001" / "IM1.dcm")
    assert [(i.CodeValue, i.CodeMeaning) for i in copy.ProcedureCodeSequence] == [
        ("CTCH02", CLEAN_MEANING), ("113691", "IEC Head")]


# --- the planted corpus (real files) ---------------------------------------------------------------------------


def _text_values(ds: Dataset) -> list[str]:
    """Every decoded string value of ``ds``, through sequences, private elements included."""
    found: list[str] = []
    for element in ds:
        if element.VR == "SQ":
            for item in element.value or []:
                found += _text_values(item)
        elif isinstance(element.value, bytes):
            found.append(element.value.decode("latin-1"))
        elif element.value is not None:
            found.append(str(element.value))
    return found


def _residual(corpus: PlantedCorpus, out: Path) -> list[Plant]:
    """The plants still present in the anonymised copy: as a decoded value, or as bytes anywhere in the file."""
    left = []
    for plant in corpus.plants:
        data = (out / plant.path).read_bytes()
        values = _text_values(dcmread(out / plant.path))
        if plant.encoded in data or plant.value.encode("utf-8") in data or any(plant.value in v for v in values):
            left.append(plant)
    return left


@pytest.mark.realdata
def test_the_planted_corpus_is_found_before_and_nothing_planted_survives_anonymise(realdata: Path,
                                                                                   tmp_path: Path) -> None:
    corpus = plant_corpus(realdata, tmp_path / "src", tmp_path / "ids.txt")
    report = validate(corpus.root, "--identifiers", str(corpus.identifiers), exit_code=1)
    by_file: dict[str, set[tuple[str, str]]] = {}
    for f in report["findings"]:
        by_file.setdefault(f["path"], set()).add((f["code"], f["context"].get("keyword", "")))
    missed = []
    for plant in corpus.plants:
        seen = by_file.get(plant.path, set())
        if plant.location:
            hit = any(keyword == plant.location for code, keyword in seen
                      if code in ("PHI_DICOM_ELEMENT", "PHI_DICOM_TEXT"))
        else:  # a private element: reported as private, and found by the identifier list
            hit = ("PHI_DICOM_PRIVATE", "") in seen and ("PHI_IDENTIFIER_FOUND", "") in seen
        if not hit:
            missed.append(plant)
    listed = [f for f in report["findings"] if f["code"] == "PHI_IDENTIFIER_FOUND"]
    found_entries = {f["context"]["entry_number"] for f in listed}
    kinds = sorted({p.kind for p in corpus.plants})
    print(f"\nplanted corpus: {len(corpus.plants)} values in {len({p.path for p in corpus.plants})} real files, "
          f"classes: {', '.join(kinds)}")
    print(f"before anonymise: {len(corpus.plants) - len(missed)} of {len(corpus.plants)} planted values reported; "
          f"{len(found_entries)} of {len(CORPUS_IDENTIFIERS)} listed identifiers found")
    assert missed == []
    assert found_entries == set(range(1, len(CORPUS_IDENTIFIERS) + 1))

    out = tmp_path / "out"
    summary = anonymise(corpus.root, out)
    assert summary["files"] == 5 and summary["failed"] == {}
    after = validate(out, "--identifiers", str(corpus.identifiers), exit_code=0)
    violations = [f for f in after["findings"] if f["code"] == "PHI_DICOM_ELEMENT"]
    errors = [f for f in after["findings"] if f["severity"] == "error"]
    residual = _residual(corpus, out)
    print(f"after anonymise: residual planted values {len(residual)} (decoded values and byte search), "
          f"PS3.15 table violations {len(violations)}, listed identifiers found "
          f"{sum(f['code'] == 'PHI_IDENTIFIER_FOUND' for f in after['findings'])}, errors {len(errors)}")
    assert residual == []
    assert violations == [] and errors == []
    assert rows(after) == set()
    # the byte search can see a planted value at all: each is in its source copy, in its own character set
    assert all(plant.encoded in (corpus.root / plant.path).read_bytes() for plant in corpus.plants)
    assert _residual(corpus, corpus.root) == corpus.plants


@pytest.mark.realdata
def test_real_trailing_padding_and_performed_procedure_step_references_are_flagged(realdata: Path,
                                                                                   tmp_path: Path) -> None:
    small = realdata / "pydicom_ct_files/pydicom_3.0.2_test_files/CT_small.dcm"
    series = sorted((realdata / "totalsegmentator_examples/example_ct_dicom").glob("CT.*"))[:2]
    for source in [small, *series]:
        (tmp_path / "src" / "P001").mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / "P001" / source.name).write_bytes(source.read_bytes())
    found = {(f["path"].rsplit("/", 1)[-1], f["context"]["keyword"])
             for f in validate(tmp_path / "src", exit_code=1)["findings"] if f["code"] == "PHI_DICOM_ELEMENT"}
    assert ("CT_small.dcm", "DataSetTrailingPadding") in found
    assert {(s.name, "ReferencedPerformedProcedureStepSequence") for s in series} <= found
    anonymise(tmp_path / "src", tmp_path / "out")
    after = {f["context"].get("keyword") for f in validate(tmp_path / "out", exit_code=0)["findings"]}
    assert not after & {"DataSetTrailingPadding", "ReferencedPerformedProcedureStepSequence"}


# --- hostile: long free text ------------------------------------------------------------------------------------

# tests.hostile measures the child's peak RSS with wait4, but a child spawned (vfork/exec) by a large pytest process
# inherits the parent's high-water mark: late in the full suite that is ~700 MB whatever the child does. This
# launcher, a fresh small interpreter, forks the command itself and records the command's own peak (KiB) in a file.
_LAUNCHER = """
import ctypes, os, sys
pid = os.fork()
if pid == 0:
    ctypes.CDLL(None).prctl(1, 9)   # PR_SET_PDEATHSIG, SIGKILL: dies with the launcher (a timeout kills that)
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as handle:
    handle.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(args: list[str], where: Path, **kwargs: object) -> Run:
    """``run_bounded`` with the command's own peak RSS (see ``_LAUNCHER``)."""
    record = where / "peak-kib.txt"
    run = run_bounded([sys.executable, "-c", _LAUNCHER, str(record), sys.executable, "-m", "curator", *args],
                      **kwargs)  # type: ignore[arg-type]
    peak = int(record.read_text()) / 1024 if record.exists() else run.peak_mb
    return dataclasses.replace(run, peak_mb=peak)


def test_a_huge_untabled_text_is_judged_in_bounded_time_and_memory(tmp_path: Path) -> None:
    """Every regular expression of the detector is linear (no restart inside a run of digits or letters), and of
    a long value only the first JUDGED_CHARS characters are judged: 8 MB of digits and of a@a@... take no longer
    than a small file."""
    ds = clean_slice()
    item = code_item("X-1", "Long")
    item.add_new(0x00189901, "UT", "1" * (8 << 20))          # ReferenceLocationDescription
    other = code_item("X-2", "Long too")
    other.add_new(0x00189901, "UT", "a@" * (4 << 20))
    ds.ProcedureCodeSequence = Sequence([item, other])
    ds.ImageComments = "1." * 30000                           # the audit cuts its values at 1024 characters
    save(tmp_path / "src" / "P001", ds)
    before = snapshot(tmp_path / "src")
    fixed = run_measured(["anonymise", str(tmp_path / "src"), str(tmp_path / "out"), "--format", "json"], tmp_path,
                         env={"CURATOR_ANON_KEY": KEY}, timeout=120)
    fixed.assert_bounded(exit_code=0, seconds=20, megabytes=250)
    assert snapshot(tmp_path / "src") == before
    audited = run_measured(["validate", str(tmp_path / "src"), "--profile", "dicom", "--select", "privacy",
                            "--format", "json"], tmp_path, timeout=120)
    audited.assert_bounded(exit_code=1, seconds=20, megabytes=200)
    print(f"\nhuge untabled text (16 MB of values): anonymise {fixed.seconds:.1f} s, {fixed.peak_mb:.0f} MB; "
          f"validate {audited.seconds:.1f} s, {audited.peak_mb:.0f} MB")


# Paths of the planted corpus: folders and files named after each file's own patient (issue 12, "Done means": paths
# with names, IDs and birth dates). Each value is the file's own header value, so PHI_PATH must find it unasked.
CORPUS_PATHS = {"case01": "CompressedSamples_CT1", "case02": "Kuznetsova_Anna_19450312",
                "case03": "Смирнов_Игорь", "case04": "MRN-7734521"}
CORPUS_FILE_NAMES = {"Kuznetsova_Anna_19450312/slice1.dcm": "98C14734-ASSH_1.dcm",   # as COVID-CT-MD names files
                     "Смирнов_Игорь/IM-0001.dcm": "IM_25.07.2016.dcm",                  # its birth date, D.M.Y
                     "CompressedSamples_CT1/CT_small.dcm": "1CT1_CT_small.dcm"}
CORPUS_PATH_VALUES = ("CompressedSamples", "1CT1", "Kuznetsova", "19450312", "98C14734", "ASSH", "Смирнов", "Игорь",
                      "25.07.2016", "MRN-7734521", "7734521")


@pytest.mark.realdata
def test_the_planted_corpus_with_paths_named_after_its_patients(realdata: Path, tmp_path: Path) -> None:
    corpus = plant_corpus(realdata, tmp_path / "src", tmp_path / "ids.txt", folders=CORPUS_PATHS)
    for old, name in CORPUS_FILE_NAMES.items():
        (corpus.root / old).rename((corpus.root / old).with_name(name))
    named = {p.relative_to(corpus.root).as_posix() for p in corpus.root.rglob("*")}
    report = validate(corpus.root, exit_code=1)
    flagged = {f["path"] for f in report["findings"] if f["code"] == "PHI_PATH"}
    carrying = {path for path in named if any(v.casefold() in path.rsplit("/", 1)[-1].casefold()
                                              for v in CORPUS_PATH_VALUES)}
    assert len(carrying) == len(CORPUS_PATHS) + len(CORPUS_FILE_NAMES)
    # every named component is reported, once (a folder's finding stands for the files under it)
    assert {path.split("/")[0] for path in flagged} == set(CORPUS_PATHS.values()), flagged
    assert {p for p in carrying if "/" in p} <= flagged, sorted(carrying - flagged)

    out = tmp_path / "out"
    summary = anonymise(corpus.root, out)
    assert summary["files"] == 5 and summary["failed"] == {} and summary["renamed"] == len(carrying)
    copies = [p.relative_to(out).as_posix() for p in out.rglob("*")]
    residual = sorted({value for value in CORPUS_PATH_VALUES for path in copies
                       if value.casefold() in path.casefold()})
    after = validate(out, exit_code=0)
    violations = [f for f in after["findings"] if f["code"] == "PHI_DICOM_ELEMENT"]
    print(f"\nplanted corpus paths: {len(carrying)} names carrying {len(CORPUS_PATH_VALUES)} planted values; "
          f"{len(flagged)} PHI_PATH findings before anonymise; after: residual values in paths {len(residual)}, "
          f"PHI_PATH {sum(f['code'] == 'PHI_PATH' for f in after['findings'])}, table violations {len(violations)}")
    assert residual == []
    assert [f for f in after["findings"] if f["code"] == "PHI_PATH"] == [] and violations == []
    names = out.parent / f"{out.name}.namemap.csv"
    assert {row.split(",")[0] for row in names.read_text(encoding="utf-8").splitlines()[1:]} == carrying
