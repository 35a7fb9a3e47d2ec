"""`curator anonymise` keeps DICOM conformance and data (issue 12, "Trust"): X/Z/D chosen by the attribute's Type
in the file's IOD, checked with dciodvfy (dicom3tools); pixel data never lost silently; key files and key changes;
exit codes of missing or empty inputs."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pydicom
import pytest
from click.testing import CliRunner
from pydicom.dataset import Dataset

from curator.anonymise import mirrored
from curator.anonymise.integrity import payload_lost, pixel_payload
from curator.cli.main import main
from curator.io.iod_types import choose_action, iod_types
from tests.dicom_factories import ct_slice
from tests.dicom_privacy_factories import DEVICE_SERIAL, ENHANCED_CT, with_overlong_element, write_conformance_corpus
from tests.hostile import run_bounded, snapshot, written_outside
from tests.ingest_factories import PATIENTS, write_study

KEY = "0123456789abcdef0123456789abcdef"
OTHER_KEY = "fedcba9876543210fedcba9876543210"
CT = "1.2.840.10008.5.1.4.1.1.2"
DEVICE_SERIAL_TAG = 0x00181000
REFERENCED_STUDY = 0x00081110
ACCESSION = 0x00080050


# --- dciodvfy ------------------------------------------------------------------------------------------------------

def dciodvfy() -> str:
    """dciodvfy's path; missing, the test skips, except in CI (CURATOR_CI=1), where it fails."""
    found = shutil.which("dciodvfy")
    if found is None:
        if os.environ.get("CURATOR_CI") == "1":
            pytest.fail("dciodvfy (Debian package dicom3tools) is required in CI: apt-get install -y dicom3tools")
        pytest.skip("dciodvfy not installed (apt-get install -y dicom3tools)")
    return found


_NAMES = re.compile(r"(?:Element=|Module=|attribute )<[^>]*>")


def normalised(line: str) -> str:
    """An error line of dciodvfy without the values it quotes (UIDs, dates and names change in a copy by design),
    keeping the attribute and module names."""
    kept: list[str] = []

    def keep(match: re.Match[str]) -> str:
        kept.append(match.group())
        return f"\0{len(kept) - 1}\0"

    line = _NAMES.sub(keep, line.strip())
    line = re.sub(r"<[^>]*>", "<>", line)
    line = re.sub(r"\[\d+\]", "[]", line)
    line = re.sub(r"= '.'", "= ''", line)
    return re.sub(r"\0(\d+)\0", lambda m: kept[int(m.group(1))], line)


def errors(program: str, path: Path) -> set[str]:
    done = subprocess.run([program, str(path)], capture_output=True, text=True, errors="replace", timeout=120)
    return {normalised(line) for line in (done.stdout + done.stderr).splitlines() if line.startswith("Error")}


def new_errors(source: Path, out: Path, key: str) -> dict[str, set[str]]:
    """Per copied file: the dciodvfy errors its copy has and its original has not."""
    program = dciodvfy()
    pairs = []
    for original in sorted(p for p in source.rglob("*") if p.is_file()):
        rel = original.relative_to(source).as_posix()
        copy = out / _copy_path(rel, out, key)
        if copy.is_file():
            pairs.append((rel, original, copy))
    assert pairs, f"no copies in {out}"

    def compare(pair: tuple[str, Path, Path]) -> tuple[str, set[str]]:
        rel, original, copy = pair
        return rel, errors(program, copy) - errors(program, original)

    with ThreadPoolExecutor(8) as pool:
        return {rel: added for rel, added in pool.map(compare, pairs) if added}


def _copy_path(rel: str, out: Path, key: str) -> str:
    """Where anonymise put SRC's ``rel``: components named after the patient are renamed (their new names are in
    the name map beside OUT), UIDs in the other names remapped."""
    names = out.parent / f"{out.name}.namemap.csv"
    renamed = {}
    if names.is_file():
        with names.open(encoding="utf-8", newline="") as handle:
            renamed = {row["original"]: row["renamed"] for row in csv.DictReader(handle)}
    parts = rel.split("/")
    for index in range(len(parts), 0, -1):
        prefix = "/".join(parts[:index])
        if prefix in renamed:
            return "/".join([renamed[prefix], *(mirrored(p, key.encode()) for p in parts[index:])])
    return mirrored(rel, key.encode())


def anonymise(*args: str | Path, key: str = KEY) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["anonymise", *map(str, args)], env={"CURATOR_ANON_KEY": key})
    return result.exit_code, result.output


# --- the policy ----------------------------------------------------------------------------------------------------

def test_compound_actions_follow_the_type_in_the_iod() -> None:
    # DeviceSerialNumber (X/Z/D): Type 1 in Enhanced General Equipment, Type 3 in a CT Image's General Equipment
    assert choose_action("X/Z/D", ENHANCED_CT, [DEVICE_SERIAL_TAG]) == "D"
    assert choose_action("X/Z/D", CT, [DEVICE_SERIAL_TAG]) == "X"
    # AccessionNumber (Z): Type 2 -> empty; ReferencedStudySequence (X/Z): Type 3 -> removed, not left empty
    assert choose_action("Z", CT, [ACCESSION]) == "Z"
    assert choose_action("X/Z", CT, [REFERENCED_STUDY], sequence=True) == "X"
    # an attribute the IOD does not list at that position is removed where X is allowed
    assert choose_action("X/Z/D", CT, [0x00400275, DEVICE_SERIAL_TAG]) == "X"
    # actions without a choice are kept as they are
    assert choose_action("U", CT, [0x00080018]) == "U"
    assert choose_action("X", ENHANCED_CT, [0x00104000]) == "X"


def test_an_unknown_sop_class_takes_the_strictest_type_any_iod_gives() -> None:
    table = iod_types()
    assert not table.covers("1.2.3.4.5")
    assert table.type_of("1.2.3.4.5", [DEVICE_SERIAL_TAG]) == "1"
    assert choose_action("X/Z/D", "1.2.3.4.5", [DEVICE_SERIAL_TAG]) == "D"


def test_the_table_covers_the_classes_the_brief_names() -> None:
    table = iod_types()
    for uid in (CT, ENHANCED_CT, "1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.5.1.4.1.1.7",
                "1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.5.1.4.1.1.1.1"):
        assert table.covers(uid), uid
    assert "dicom3tools" in table.source


def test_the_planted_corpus_gets_dummy_type_1_and_loses_type_3(tmp_path: Path) -> None:
    files = write_conformance_corpus(tmp_path / "src")
    code, output = anonymise(tmp_path / "src", tmp_path / "out")
    assert code == 0, output
    enhanced = pydicom.dcmread(tmp_path / "out" / "enhanced" / "IM0001.dcm")
    plain = pydicom.dcmread(tmp_path / "out" / "ct" / "IM0001.dcm")
    assert enhanced.DeviceSerialNumber == "ANONYMIZED"           # Type 1: a dummy, not empty
    assert "DeviceSerialNumber" not in plain                     # Type 3: removed
    assert "ReferencedStudySequence" not in plain                # Type 3 sequence: removed, not left with no items
    assert "ReferencedStudySequence" not in enhanced
    assert plain.AccessionNumber == ""                           # Type 2: present and empty
    assert DEVICE_SERIAL not in output and files


def test_the_planted_corpus_gains_no_dciodvfy_error(tmp_path: Path) -> None:
    write_conformance_corpus(tmp_path / "src")
    source = snapshot(tmp_path / "src")
    run = run_bounded(["anonymise", str(tmp_path / "src"), str(tmp_path / "out")], cwd=tmp_path, timeout=60,
                      env={"CURATOR_ANON_KEY": KEY})
    run.assert_bounded(exit_code=0, seconds=30, megabytes=300)
    assert snapshot(tmp_path / "src") == source
    assert new_errors(tmp_path / "src", tmp_path / "out", KEY) == {}


REAL_SETS = ["pydicom_ct_files", "covid_ct_md_dicom", "dcm_qa_ct_ge_head", "totalsegmentator_examples"]


@pytest.mark.realdata
@pytest.mark.parametrize("name", REAL_SETS)
def test_real_copies_gain_no_dciodvfy_error(realdata: Path, tmp_path: Path, name: str) -> None:
    """pydicom's files include the enhanced multi-frame CT (eCT_Supplemental.dcm) whose Type 1 DeviceSerialNumber
    used to be emptied; every error line of a copy must be one its original has too."""
    dciodvfy()
    source = realdata / name
    code, output = anonymise(source, tmp_path / "out", "--skip-failed")
    assert (tmp_path / "out").is_dir(), output
    assert new_errors(source, tmp_path / "out", KEY) == {}
    summary_exit = 1 if "FAILED" in output or "the audit still finds" in output else 0
    assert code == summary_exit, output


# --- pixel data ----------------------------------------------------------------------------------------------------

def _one_slice(folder: Path) -> Path:
    ds = ct_slice(study_uid="1.2.826.0.1.3680043.8.498.1", series_uid="1.2.826.0.1.3680043.8.498.2", instance=1,
                  position=(0.0, 0.0, 0.0), rows=32, columns=32)
    path = folder / "IM0001.dcm"
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def test_an_overlong_element_before_the_pixels_fails_the_file_instead_of_dropping_them(tmp_path: Path) -> None:
    path = _one_slice(tmp_path / "src")
    size = with_overlong_element(path)
    assert pydicom.dcmread(path).get("PixelData") is None     # the parser reads the pixels as the OB's value
    before = snapshot(tmp_path)
    run = run_bounded(["anonymise", str(tmp_path / "src"), str(tmp_path / "out")], cwd=tmp_path, timeout=60,
                      env={"CURATOR_ANON_KEY": KEY})
    run.assert_bounded(exit_code=1, seconds=20, megabytes=300)
    assert "(0029,1010) declares 4,294,967,280 bytes" in run.stderr and "IM0001.dcm" in run.stderr
    assert not (tmp_path / "out").exists()                    # nothing half-written
    assert written_outside(before, snapshot(tmp_path), "out") == []
    assert path.stat().st_size == size


def test_skip_failed_leaves_the_damaged_file_out_and_says_so(tmp_path: Path) -> None:
    path = _one_slice(tmp_path / "src" / "a")
    _one_slice(tmp_path / "src" / "b")
    with_overlong_element(path)
    code, output = anonymise(tmp_path / "src", tmp_path / "out", "--skip-failed", "--format", "json")
    assert code == 1
    summary = json.loads(output)
    assert list(summary["failed"]) == ["a/IM0001.dcm"] and "declares" in summary["failed"]["a/IM0001.dcm"]
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.dcm")) == \
        ["b/IM0001.dcm"]


def test_a_copy_is_compared_with_the_pixels_read(tmp_path: Path) -> None:
    path = _one_slice(tmp_path)
    ds = pydicom.dcmread(path)
    expected = pixel_payload(ds)
    assert payload_lost(path, expected) is None
    changed = bytearray(expected["PixelData"])
    changed[0] ^= 0xFF
    assert "differs" in (payload_lost(path, {"PixelData": bytes(changed)}) or "")
    del ds.PixelData
    ds.save_as(tmp_path / "nopixels.dcm", enforce_file_format=True)
    assert "lost PixelData" in (payload_lost(tmp_path / "nopixels.dcm", expected) or "")


# --- exit codes ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "reason"), [("nowhere", "does not exist"), ("a-file.dcm", "is not a folder")])
def test_a_missing_source_could_not_run(tmp_path: Path, name: str, reason: str) -> None:
    (tmp_path / "a-file.dcm").write_bytes(b"\0" * 256)
    before = snapshot(tmp_path)
    run = run_bounded(["anonymise", str(tmp_path / name), str(tmp_path / "out")], cwd=tmp_path, timeout=60,
                      env={"CURATOR_ANON_KEY": KEY})
    run.assert_bounded(exit_code=3, seconds=20, megabytes=300)
    assert reason in run.stderr and "internal error" not in run.stderr
    assert snapshot(tmp_path) == before


def test_a_folder_without_dicom_fails_and_leaves_no_out(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "notes.txt").write_text("no images here\n")
    (tmp_path / "src" / "scan.dcm").write_bytes(b"\0" * 4096)
    before = snapshot(tmp_path / "src")
    run = run_bounded(["anonymise", str(tmp_path / "src"), str(tmp_path / "out")], cwd=tmp_path, timeout=60,
                      env={"CURATOR_ANON_KEY": KEY})
    run.assert_bounded(exit_code=1, seconds=20, megabytes=300)
    assert "holds no DICOM file" in run.stderr
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
    assert snapshot(tmp_path / "src") == before


def test_skip_failed_with_every_file_failing_leaves_no_empty_out(tmp_path: Path) -> None:
    with_overlong_element(_one_slice(tmp_path / "src"))
    code, output = anonymise(tmp_path / "src", tmp_path / "out", "--skip-failed")
    assert code == 1
    assert "no DICOM file of SRC could be anonymised" in output and "declares" in output
    assert not (tmp_path / "out").exists()


def _ingest(*args: str | Path, key: str = KEY) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["ingest", *map(str, args)], env={"CURATOR_ANON_KEY": key})
    return result.exit_code, result.output


def test_a_missing_ingest_input_could_not_run(tmp_path: Path) -> None:
    run = run_bounded(["ingest", str(tmp_path / "nowhere"), str(tmp_path / "out"), "--category", "CT-1"],
                      cwd=tmp_path, timeout=60, env={"CURATOR_ANON_KEY": KEY})
    run.assert_bounded(exit_code=3, seconds=30, megabytes=400)
    assert "does not exist" in run.stderr + run.stdout
    assert not (tmp_path / "out").exists()


# --- keys ----------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("study") / "case01"
    write_study(root, PATIENTS[0], images=12, accession="ACC1")
    return root


def test_an_ingest_killed_before_provenance_refuses_another_key(study: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _ingest(study, out, "--category", "CT-1")[0] == 0
    (out / "provenance.json").unlink()                        # as if killed before provenance.json was written
    before, source = snapshot(out), snapshot(study)
    run = run_bounded(["ingest", str(study), str(out), "--category", "CT-1"], cwd=tmp_path, timeout=60,
                      env={"CURATOR_ANON_KEY": OTHER_KEY})
    run.assert_bounded(exit_code=2, seconds=30, megabytes=400)
    assert "another key" in run.stderr + run.stdout
    assert snapshot(out) == before and snapshot(study) == source   # nothing of the other key's run was written
    assert OTHER_KEY not in (out / ".ingest" / "key-check").read_text()


def test_the_key_fingerprint_is_written_before_the_first_output(study: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    broken = tmp_path / "in" / "case02"
    broken.mkdir(parents=True)
    (broken / "x.dcm").write_bytes(b"\0" * 200)               # an input with no series: nothing converted
    _ingest(broken, out, "--category", "CT-1")
    check = (out / ".ingest" / "key-check").read_text()
    assert re.fullmatch(r"[0-9a-f]{16}", check) and KEY not in check
    code, output = _ingest(broken, out, "--category", "CT-1", key=OTHER_KEY)
    assert code == 2 and "another key" in output


def test_a_key_file_others_can_read_is_warned_about(tmp_path: Path) -> None:
    _one_slice(tmp_path / "src")
    key_file = tmp_path / "anon.key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o644)
    result = CliRunner().invoke(main, ["anonymise", str(tmp_path / "src"), str(tmp_path / "out"), "--key-file",
                                       str(key_file), "--format", "json"], env={"CURATOR_ANON_KEY": ""})
    assert result.exit_code == 0, result.output
    warnings = json.loads(result.output)["warnings"]
    assert len(warnings) == 1 and "readable by its group and every user" in warnings[0] and "chmod 600" in warnings[0]
    key_file.chmod(0o600)
    result = CliRunner().invoke(main, ["anonymise", str(tmp_path / "src"), str(tmp_path / "out2"), "--key-file",
                                       str(key_file)], env={"CURATOR_ANON_KEY": ""})
    assert result.exit_code == 0 and "warning" not in result.output


def test_ingest_reports_a_readable_key_file(study: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "anon.key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o640)
    result = CliRunner().invoke(main, ["ingest", str(study), str(tmp_path / "out"), "--category", "CT-1",
                                       "--key-file", str(key_file), "--format", "json"], env={"CURATOR_ANON_KEY": ""})
    report = json.loads(result.output)
    found = [f for f in report["findings"] if f["code"] == "INGEST_KEY_FILE_READABLE"]
    assert len(found) == 1 and found[0]["severity"] == "warning" and "its group" in found[0]["message"]
    assert result.exit_code == 0


def test_the_dataset_policy_is_the_one_anonymise_applies(tmp_path: Path) -> None:
    """anonymise_dataset consults choose_action: the same file as Enhanced CT and as CT differs only there."""
    from curator.anonymise.dicom import FilePlan, anonymise_dataset

    results = {}
    for sop_class in (CT, ENHANCED_CT):
        ds = Dataset()
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.3"
        ds.DeviceSerialNumber = DEVICE_SERIAL
        anonymise_dataset(ds, FilePlan(source=tmp_path, target=tmp_path, key=KEY.encode(), pseudonym="ANON-1",
                                       offset_days=-400))
        results[sop_class] = ds.get("DeviceSerialNumber")
    assert results == {CT: None, ENHANCED_CT: "ANONYMIZED"}
