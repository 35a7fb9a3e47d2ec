"""`curator ingest` (and `ingest-slices`) against hostile or careless input: one regression test per defect found
in review. Tests marked xfail(strict=True) describe a defect that is still there; remove the marker with the fix.

Everything goes through the CLI (or the public ``convert_series``), so the tests hold across refactors of
``curator/ingest/units.py`` and ``pipeline.py``.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import os
import shutil
import stat
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
import pytest
from click.testing import CliRunner
from pydicom.uid import generate_uid

from curator.cli.main import main
from tests.ingest_factories import PATIENTS, UID_ROOT, ct_image, write_study
from tests.memory import traced

KEY = "k" * 32
OTHER_KEY = "z" * 32


# --- helpers -------------------------------------------------------------------------------------------------------

def run(*args: str | Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["ingest", *map(str, args)], env={"CURATOR_ANON_KEY": KEY, **(env or {})})
    return result.exit_code, result.output


def report(output: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(output)
    return document




def rows(out: Path) -> list[dict[str, str]]:
    with (out / "studies.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def key_rows(out: Path) -> list[dict[str, str]]:
    with (out.parent / f"{out.name}.keymap.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def no_crash(code: int, output: str) -> None:
    assert "internal error" not in output and "Traceback" not in output, output[-2000:]
    assert code != 3 or "cannot run" in output, output[-2000:]


def write_series(folder: Path, patient: dict[str, str], *, z0: float, images: int = 12, offset: int = 0,
                 study_uid: str | None = None, size: int = 32, names: str = "SE2/IM{i:05d}") -> str:
    """One BODY series (as write_study names it: SE2/IM00001 ...) starting at ``z0``; ``offset`` is added to the
    stored values, so two patients' volumes tell apart by position and by pixels."""
    study_uid = study_uid if study_uid is not None else generate_uid(UID_ROOT)
    series_uid = generate_uid(UID_ROOT)
    for i in range(1, images + 1):
        ds = ct_image(patient=patient, study_uid=study_uid, series_uid=series_uid, series_number=2,
                      description="BODY 0.8 B31f", kernel="B31f", instance=i, z=z0 + (i - 1) * 0.8, size=size)
        if offset:
            ds.PixelData = (np.frombuffer(ds.PixelData, dtype=np.uint16) + offset).astype(np.uint16).tobytes()
        target = folder / names.format(i=i)
        target.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(target, enforce_file_format=True)
    return study_uid


def set_text_element(data: bytes, tag: bytes, value: bytes, vr: bytes | None = None) -> bytes:
    """``data`` (explicit VR little endian) with the short-VR element ``tag`` given a new value (and VR)."""
    at = data.index(tag)
    length = struct.unpack("<H", data[at + 6:at + 8])[0]
    element = tag + (vr or data[at + 4:at + 6]) + struct.pack("<H", len(value)) + value
    return data[:at] + element + data[at + 8 + length:]


def outside(tmp_path: Path, *allowed: Path) -> set[str]:
    """Files under tmp_path that lie in none of ``allowed``."""
    return {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")
            if p.is_file() and not any(p.is_relative_to(a) for a in allowed)}


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One patient's study (BODY series 2 + LUNG series 3, 12 images each), copied by the tests that need it."""
    root = tmp_path_factory.mktemp("study") / "case01"
    write_study(root, PATIENTS[0], images=12, accession="ACC1")
    return root


def copy(study: Path, target: Path) -> Path:
    shutil.copytree(study, target)
    return target


BODY = ("--series-description", "BODY*")


# --- 1. folder inputs with the same name are merged into one unit --------------------------------------------------

def test_two_folders_with_the_same_name_never_mix_their_patients(tmp_path: Path) -> None:
    first, second = tmp_path / "export1" / "case01", tmp_path / "export2" / "case01"
    write_series(first, PATIENTS[0], z0=-200.0)
    write_series(second, PATIENTS[1], z0=300.0, offset=100)
    out = tmp_path / "out"
    code, output = run(first, second, out, "--category", "CT-1")
    no_crash(code, output)
    if code == 2:    # refused like two archives of one name: fine
        return
    origin = {"MSK-000123": -200.0, "MSK-000456": 300.0}
    for row in key_rows(out):
        image = nib.load(out / row["volume"])
        assert image.affine[2, 3] == pytest.approx(origin[row["patient_id"]]), row["patient_id"]


def test_the_same_folder_given_twice_is_a_usage_error_not_a_duplicate_image(study: Path, tmp_path: Path) -> None:
    case = copy(study, tmp_path / "in" / "case01")
    code, output = run(case, case, tmp_path / "out", "--category", "CT-1", *BODY)
    no_crash(code, output)
    assert code == 2 and "give each study's input once" in output, output
    assert not (tmp_path / "out" / "studies.csv").exists()


# --- 2. one study reached through two inputs -----------------------------------------------------------------------

def test_one_study_in_two_inputs_is_listed_once_and_survives_dropping_one(study: Path, tmp_path: Path) -> None:
    one = copy(study, tmp_path / "in" / "case01")
    two = copy(study, tmp_path / "in2" / "case01_copy")
    out = tmp_path / "out"
    code, output = run(one, two, out, "--category", "CT-1", *BODY)
    no_crash(code, output)
    assert code == 0 and len(rows(out)) == 1, output   # one study, listed once; the second input is a duplicate
    assert "INGEST_STUDY_DUPLICATE" in output
    code, output = run(one, out, "--category", "CT-1", *BODY)
    assert code == 0, output
    assert rows(out) and all((out / row["study"]).is_file() for row in rows(out))


def test_nested_inputs_do_not_list_a_study_twice(study: Path, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    copy(study, raw / "case01")
    out = tmp_path / "out"
    code, output = run(raw, raw / "case01", out, "--category", "CT-1", *BODY)
    no_crash(code, output)
    assert code == 2 and "lies inside the input" in output, output
    assert not (out / "studies.csv").exists()


# --- 3. a rerun forgets what the former run left out ---------------------------------------------------------------

def test_a_rerun_reports_again_what_is_still_left_out(tmp_path: Path) -> None:
    gap = tmp_path / "in" / "gap"
    write_study(gap, PATIENTS[0], images=30, skip=15)
    args = (gap, tmp_path / "out", "--category", "CT-1", *BODY, "--format", "json")
    code, first = run(*args)
    assert code == 1 and "INGEST_SERIES_REFUSED" in first
    code, second = run(*args)
    assert code == 1, second
    assert [f["code"] for f in report(second)["findings"]] == [f["code"] for f in report(first)["findings"]]


def test_an_archive_refused_for_a_limit_is_read_again_once_the_limit_is_raised(study: Path, tmp_path: Path) -> None:
    archive = tmp_path / "in" / "case01.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        for path in sorted(study.rglob("IM*")):
            handle.write(path, f"case01/{path.relative_to(study).as_posix()}")
        handle.writestr("case01/filler.bin", os.urandom(1_500_000))
    out = tmp_path / "out"
    code, output = run(archive, out, "--category", "CT-1", "--max-expanded-gb", "0.001", "--format", "json")
    assert code == 1 and [f["code"] for f in report(output)["findings"]] == ["ARCHIVE_BOMB"]
    code, output = run(archive, out, "--category", "CT-1", "--format", "json")
    assert code == 0 and report(output)["stats"]["volumes"] == 1, output


# --- 4. pseudonyms from --map become paths unchecked ---------------------------------------------------------------

@pytest.mark.parametrize("alias", ["../../escaped", "..", "Ivanov Ivan"])
def test_a_pseudonym_from_the_map_cannot_leave_out_or_break_portable_names(
        study: Path, tmp_path: Path, alias: str) -> None:
    case = copy(study, tmp_path / "in" / "case01")
    mapping = tmp_path / "map.csv"
    mapping.write_text(f"MSK-000123,{alias}\n", encoding="utf-8")
    out = tmp_path / "work" / "deep" / "out"
    code, output = run(case, out, "--category", "CT-1", *BODY, "--map", mapping)
    no_crash(code, output)
    assert outside(tmp_path, tmp_path / "in", out, mapping, out.parent / "out.keymap.csv") == set()
    for path in out.rglob("*.nii.gz"):
        rel = path.relative_to(out).as_posix()
        assert rel.startswith("volumes/") and all(c.isascii() and (c.isalnum() or c in "._-/") for c in rel), rel


# --- 5. the key map may overwrite the secret key, the inputs or the category map ----------------------------------

def test_the_key_map_cannot_overwrite_the_secret_key(study: Path, tmp_path: Path) -> None:
    case = copy(study, tmp_path / "in" / "case01")
    secret = tmp_path / "anon.key"
    secret.write_text("s" * 40, encoding="utf-8")
    code, output = run(case, tmp_path / "out", "--category", "CT-1", "--key-file", secret, "--key-map", secret)
    no_crash(code, output)
    assert secret.read_text(encoding="utf-8") == "s" * 40
    assert code == 2


def test_the_key_map_cannot_overwrite_the_category_map(study: Path, tmp_path: Path) -> None:
    case = copy(study, tmp_path / "in" / "case01")
    categories = tmp_path / "categories.csv"
    categories.write_text("input,category\ncase01,CT-2\n", encoding="utf-8")
    code, output = run(case, tmp_path / "out", "--categories", categories, "--key-map", categories)
    no_crash(code, output)
    assert categories.read_text(encoding="utf-8") == "input,category\ncase01,CT-2\n"
    assert code == 2


def test_the_key_map_cannot_be_written_into_an_input(study: Path, tmp_path: Path) -> None:
    case = copy(study, tmp_path / "in" / "case01")
    before = sorted(p.relative_to(case).as_posix() for p in case.rglob("*"))
    code, output = run(case, tmp_path / "out", "--category", "CT-1", "--key-map", case / "keys.csv")
    no_crash(code, output)
    assert sorted(p.relative_to(case).as_posix() for p in case.rglob("*")) == before
    assert code == 2


def test_the_secret_key_file_cannot_lie_inside_out(study: Path, tmp_path: Path) -> None:
    case = copy(study, tmp_path / "in" / "case01")
    out = tmp_path / "out"
    assert run(case, out, "--category", "CT-1")[0] == 0
    secret = out / "anon.key"
    secret.write_text("q" * 40, encoding="utf-8")
    code, output = run(case, out, "--category", "CT-1", "--key-file", secret)
    no_crash(code, output)
    assert code == 2


# --- 6/7. reruns with another pseudonym map or another key ---------------------------------------------------------

def test_a_rerun_with_another_pseudonym_map_applies_it(study: Path, tmp_path: Path) -> None:
    case = copy(study, tmp_path / "in" / "case01")
    out = tmp_path / "out"
    mapping = tmp_path / "map.csv"
    mapping.write_text("MSK-000123,P001\n", encoding="utf-8")
    assert run(case, out, "--category", "CT-1", "--map", mapping)[0] == 0
    mapping.write_text("MSK-000123,P002\n", encoding="utf-8")
    code, output = run(case, out, "--category", "CT-1", "--map", mapping)
    assert code == 0, output
    assert [row["patient"] for row in rows(out)] == ["P002"]


def test_a_rerun_with_a_different_key_is_refused(study: Path, tmp_path: Path) -> None:
    case = copy(study, tmp_path / "in" / "case01")
    out = tmp_path / "out"
    assert run(case, out, "--category", "CT-1")[0] == 0
    before = [row["study"] for row in rows(out)]
    code, output = run(case, out, "--category", "CT-1", env={"CURATOR_ANON_KEY": OTHER_KEY})
    no_crash(code, output)
    assert code == 2 and "key" in output
    assert [row["study"] for row in rows(out)] == before and all((out / s).is_file() for s in before)


# --- 8. hostile DICOM headers end the whole run --------------------------------------------------------------------

def _unknown_vr(data: bytes) -> bytes:
    return data.replace(b"\x20\x00\x11\x00IS", b"\x20\x00\x11\x00Ig", 1)            # SeriesNumber, VR 'Ig'


def _cut_long_element(data: bytes) -> bytes:
    at = data.index(b"\xe0\x7f\x10\x00")                                             # before PixelData: an OB
    return data[:at] + b"\x09\x00\x10\x00OB\x00\x00\x10"                             # header cut in its length


def _instance_overflow(data: bytes) -> bytes:
    return set_text_element(data, b"\x20\x00\x13\x00", b"1e400 ")                    # InstanceNumber 1e400


def _series_infinite(data: bytes) -> bytes:
    return set_text_element(data, b"\x20\x00\x11\x00", b"inf ")                      # SeriesNumber inf


@pytest.mark.parametrize("damage", [_unknown_vr, _cut_long_element, _instance_overflow, _series_infinite],
                         ids=["unknown-vr", "cut-element-header", "instance-1e400", "series-inf"])
def test_one_hostile_dicom_header_is_a_finding_not_an_internal_error(study: Path, tmp_path: Path,
                                                                    damage: Callable[[bytes], bytes]) -> None:
    bad = copy(study, tmp_path / "in" / "bad")
    good = tmp_path / "in" / "good"
    write_series(good, PATIENTS[1], z0=0.0)
    victim = bad / "SE2" / "IM00004"
    victim.write_bytes(damage(victim.read_bytes()))
    out = tmp_path / "out"
    code, output = run(bad, good, out, "--category", "CT-1", *BODY, "--format", "json")
    no_crash(code, output)
    assert code == 1, output   # the damaged image is no image: its series has a gap and is refused, with the reason
    assert ("INGEST_SERIES_REFUSED", "bad") in {(f["code"], f["path"]) for f in report(output)["findings"]}
    assert any(row["patient"] == key["pseudonym"] for row in rows(out) for key in key_rows(out)
               if key["patient_id"] == "MSK-000456")


# --- 9. decoders allocate from sizes nobody checked ----------------------------------------------------------------

def _peak_while_converting(datasets: list[pydicom.Dataset]) -> int:
    from curator.ingest.convert import ConversionError, convert_series

    with traced() as memory, contextlib.suppress(ConversionError):
        convert_series(datasets)
    return memory.peak


def _reread(ds: pydicom.Dataset) -> pydicom.Dataset:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return pydicom.dcmread(io.BytesIO(buffer.getvalue()))


def test_a_jpeg_ls_codestream_larger_than_its_header_is_refused_before_decoding() -> None:
    pytest.importorskip("jpeg_ls")
    from pydicom.encaps import encapsulate, generate_frames
    from pydicom.uid import JPEGLSLossless

    datasets = []
    for instance in (1, 2):
        ds = ct_image(patient=PATIENTS[0], study_uid="1.2.3", series_uid="1.2.3.4", series_number=2,
                      description="BODY", kernel="B", instance=instance, z=float(instance))
        ds.compress(JPEGLSLossless, encoding_plugin="pyjpegls")
        frame = bytearray(next(generate_frames(ds.PixelData, number_of_frames=1)))
        at = frame.index(b"\xff\xf7")                                  # SOF55: P, Y, X
        frame[at + 5:at + 9] = struct.pack(">HH", 2048, 2048)
        ds.PixelData = encapsulate([bytes(frame)])
        datasets.append(_reread(ds))
    assert len(datasets[0].PixelData) < 2000
    assert _peak_while_converting(datasets) < 4 * 2**20


def test_an_rle_image_whose_header_outgrows_its_payload_is_refused_before_allocating() -> None:
    from pydicom.encaps import encapsulate
    from pydicom.uid import RLELossless

    datasets = []
    for instance in (1, 2):
        ds = ct_image(patient=PATIENTS[0], study_uid="1.2.3", series_uid="1.2.3.4", series_number=2,
                      description="BODY", kernel="B", instance=instance, z=float(instance))
        ds.Rows = ds.Columns = 4096
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        ds.file_meta.TransferSyntaxUID = RLELossless
        header = struct.pack("<II", 1, 64) + bytes(56)                 # one segment at offset 64
        ds.PixelData = encapsulate([header + b"\x81\x00" * 4])
        ds["PixelData"].VR = "OB"
        datasets.append(_reread(ds))
    assert _peak_while_converting(datasets) < 4 * 2**20


# --- 10/11. masks given alongside ----------------------------------------------------------------------------------

Converted = tuple[Path, Path, Any]   # the input folder, OUT, the converted volume (a nibabel image)


@pytest.fixture()
def converted(study: Path, tmp_path: Path) -> Converted:
    case = copy(study, tmp_path / "in" / "case01")
    out = tmp_path / "out"
    assert run(case, out, "--category", "CT-1", *BODY)[0] == 0
    (row,) = rows(out)
    return case, out, nib.load(out / row["study"])


def _with_mask(tmp_path: Path, case: Path, out: Path, mask: str) -> tuple[int, str]:
    mapping = tmp_path / "categories.csv"
    mapping.write_text(f"input,category,mask\ncase01,CT-1,{mask}\n", encoding="utf-8")
    return run(case, out, "--categories", mapping, *BODY, "--format", "json")


def _mask(volume: Any) -> np.ndarray:
    data = np.zeros(volume.shape, dtype=np.uint8)
    data[5:10, 5:10, 2:5] = 1
    return data


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_a_truncated_mask_is_a_finding(converted: Converted, tmp_path: Path, suffix: str) -> None:
    case, out, volume = converted
    nib.save(nib.Nifti1Image(_mask(volume), volume.affine), tmp_path / f"whole{suffix}")
    data = (tmp_path / f"whole{suffix}").read_bytes()
    (tmp_path / f"cut{suffix}").write_bytes(data[:len(data) // 2] if suffix == ".nii" else data[:200])
    code, output = _with_mask(tmp_path, case, out, f"cut{suffix}")
    no_crash(code, output)
    assert code == 1 and "INGEST_MASK_INVALID" in output


def test_a_scaled_mask_is_not_silently_emptied(converted: Converted, tmp_path: Path) -> None:
    case, out, volume = converted
    from tests.factories import write_nifti

    write_nifti(tmp_path / "scaled.nii.gz", _mask(volume), volume.affine, scaling=(0.5, 0.0))  # really stored
    assert nib.load(tmp_path / "scaled.nii.gz").dataobj.slope == 0.5
    code, output = _with_mask(tmp_path, case, out, "scaled.nii.gz")
    no_crash(code, output)
    (row,) = rows(out)
    (invalid,) = [f for f in report(output)["findings"] if f["code"] == "INGEST_MASK_INVALID"]
    assert code == 1 and row["mask"] == "" and "scl_slope 0.5" in invalid["message"]


def test_a_mask_with_a_nan_affine_is_refused(converted: Converted, tmp_path: Path) -> None:
    case, out, volume = converted
    nib.save(nib.Nifti1Image(_mask(volume), volume.affine), tmp_path / "nan.nii")
    data = bytearray((tmp_path / "nan.nii").read_bytes())
    data[280:284] = struct.pack("<f", float("nan"))                   # srow_x[0]
    (tmp_path / "nan.nii").write_bytes(bytes(data))
    code, output = _with_mask(tmp_path, case, out, "nan.nii")
    no_crash(code, output)
    assert code == 1 and "INGEST_MASK_INVALID" in output and rows(out)[0]["mask"] == ""


# --- 12. category map with a trailing comma ------------------------------------------------------------------------

def test_a_trailing_comma_in_the_category_map_is_not_an_internal_error(study: Path, tmp_path: Path) -> None:
    case = copy(study, tmp_path / "in" / "case01")
    mapping = tmp_path / "categories.csv"
    mapping.write_text("input,category\ncase01,CT-1,\n", encoding="utf-8")
    code, output = run(case, tmp_path / "out", "--categories", mapping)
    no_crash(code, output)
    assert code in (0, 2)


# --- 13. empty StudyInstanceUID --------------------------------------------------------------------------------------

def test_two_patients_with_empty_study_uids_are_not_one_study(tmp_path: Path) -> None:
    flat = tmp_path / "in" / "flat"
    write_series(flat, PATIENTS[0], z0=-200.0, study_uid="", names="a_{i:03d}.dcm")
    write_series(flat, PATIENTS[1], z0=-200.0, study_uid="", names="b_{i:03d}.dcm")
    out = tmp_path / "out"
    code, output = run(flat, out, "--category", "CT-1")
    no_crash(code, output)
    assert code == 0 and len(rows(out)) == 2, output


# --- 14. memory grows with the size of an input ----------------------------------------------------------------------

def test_memory_does_not_grow_with_the_number_of_studies_in_one_input(tmp_path: Path) -> None:
    def flat(count: int, name: str) -> Path:
        folder = tmp_path / name
        for k in range(count):
            write_series(folder, {**PATIENTS[0], "id": f"P{k}"}, z0=0.0, size=256, names=f"{k}_{{i:03d}}.dcm")
        return folder

    one, many = flat(1, "one"), flat(6, "many")
    assert run(one, tmp_path / "warm", "--category", "CT-1", "--jobs", "1")[0] == 0
    peaks = []
    for folder in (one, many):
        with traced() as memory:
            code, output = run(folder, tmp_path / f"out-{folder.name}", "--category", "CT-1", "--jobs", "1")
        peaks.append(memory.peak)
        assert code == 0, output
    assert peaks[1] < 1.6 * peaks[0], [p / 2**20 for p in peaks]


# --- 15. symbolic links skipped without a word ---------------------------------------------------------------------

def test_a_symlinked_patient_folder_is_reported(study: Path, tmp_path: Path) -> None:
    export = tmp_path / "export"
    copy(study, export / "case01")
    write_series(tmp_path / "elsewhere" / "case02", PATIENTS[1], z0=0.0)
    (export / "case02").symlink_to(tmp_path / "elsewhere" / "case02")
    code, output = run(export, tmp_path / "out", "--category", "CT-1", "--format", "json")
    no_crash(code, output)
    assert code == 1, output
    assert ("FILE_UNSAFE", "export/case02", "error") in {(f["code"], f["path"], f["severity"])
                                                         for f in report(output)["findings"]}


# --- 16/17/18. environment problems reported as internal errors ----------------------------------------------------

def test_an_out_that_cannot_be_made_is_a_clear_error(study: Path, tmp_path: Path) -> None:
    case = copy(study, tmp_path / "in" / "case01")
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    code, output = run(case, blocker / "out", "--category", "CT-1")
    no_crash(code, output)
    # a file where OUT's folder should be is a wrong argument (curator.outputs): usage, exit 2, with what to do
    assert code == 2 and "is not a folder" in output and "choose another output folder" in output, output


def test_a_key_map_that_cannot_be_written_is_found_before_converting(study: Path, tmp_path: Path) -> None:
    case = copy(study, tmp_path / "in" / "case01")
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    out = tmp_path / "out"
    code, output = run(case, out, "--category", "CT-1", "--key-map", blocker / "keys.csv")
    no_crash(code, output)
    assert code == 3 and "cannot write the key map" in output, output
    assert not list(out.rglob("*.nii.gz"))


def test_a_folder_name_that_is_not_utf8_is_not_an_internal_error(study: Path, tmp_path: Path) -> None:
    case = copy(study, tmp_path / "in" / os.fsdecode(b"case\xff"))
    code, output = run(case, tmp_path / "out", "--category", "CT-1")
    no_crash(code, output)


@pytest.mark.parametrize("studies", ["x", [1], [{"sha256": "0"}], [{"volume": 5, "sha256": "0"}]])
def test_a_damaged_state_record_only_means_the_unit_is_done_again(study: Path, tmp_path: Path,
                                                                  studies: object) -> None:
    case = copy(study, tmp_path / "in" / "case01")
    out = tmp_path / "out"
    assert run(case, out, "--category", "CT-1")[0] == 0
    (state,) = (out / ".ingest").glob("*.json")
    state.write_text(json.dumps({**json.loads(state.read_text(encoding="utf-8")), "studies": studies}),
                     encoding="utf-8")
    code, output = run(case, out, "--category", "CT-1")
    no_crash(code, output)
    assert code == 0 and len(rows(out)) == 1


# --- 19. exit codes for inputs that give nothing ---------------------------------------------------------------------

def test_an_input_without_a_usable_series_exits_1(study: Path, tmp_path: Path) -> None:
    mr = copy(study, tmp_path / "in" / "mr")
    for path in mr.rglob("IM*"):
        ds = pydicom.dcmread(path)
        ds.Modality = "MR"
        ds.save_as(path)
    code, output = run(mr, tmp_path / "out", "--category", "CT-1", "--format", "json")
    no_crash(code, output)
    assert "INGEST_NO_SERIES" in output and code == 1


def test_the_summary_does_not_call_a_refused_input_converted(study: Path, tmp_path: Path) -> None:
    mr = copy(study, tmp_path / "in" / "mr")
    for path in mr.rglob("IM*"):
        ds = pydicom.dcmread(path)
        ds.Modality = "MR"
        ds.save_as(path)
    code, output = run(mr, tmp_path / "out", "--category", "CT-1")
    assert code == 1
    assert f"0 volumes in {tmp_path / 'out'} (0 of 1 input read converted, 1 without a volume, 0 unchanged" in output
    assert "studies.csv lists 0 studies;" in output
    assert "(1 images)" not in output and "(2 images)" not in output


def test_an_empty_input_folder_is_reported(study: Path, tmp_path: Path) -> None:
    case = copy(study, tmp_path / "in" / "case01")
    empty = tmp_path / "in" / "case02"
    empty.mkdir()
    code, output = run(case, empty, tmp_path / "out", "--category", "CT-1", "--format", "json")
    no_crash(code, output)
    assert code == 1, output
    assert ("INGEST_NO_SERIES", "case02", "error") in {(f["code"], f["path"], f["severity"])
                                                       for f in report(output)["findings"]}


# --- 20. stat-only fingerprint ---------------------------------------------------------------------------------------

def test_a_changed_input_with_the_same_size_and_mtime_is_converted_again(study: Path, tmp_path: Path) -> None:
    case = copy(study, tmp_path / "in" / "case01")
    out = tmp_path / "out"
    assert run(case, out, "--category", "CT-1", *BODY)[0] == 0
    assert rows(out)[0]["sex"] == "M"
    for path in sorted(case.rglob("IM*")):
        info = path.stat()
        path.write_bytes(set_text_element(path.read_bytes(), b"\x10\x00\x40\x00", b"F "))   # PatientSex
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
        assert path.stat().st_size == info.st_size
    code, output = run(case, out, "--category", "CT-1", *BODY)
    assert code == 0 and rows(out)[0]["sex"] == "F", output


# --- 21. the key map's temporary file ------------------------------------------------------------------------------

def test_a_run_stopped_while_writing_the_key_map_leaves_no_readable_identifiers(
        study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = copy(study, tmp_path / "in" / "case01")
    out = tmp_path / "work" / "out"
    original = Path.chmod

    def stopped(self: Path, mode: int, **kwargs: Any) -> None:
        if ".keymap.csv" in self.name:
            raise KeyboardInterrupt
        original(self, mode, **kwargs)

    monkeypatch.setattr(Path, "chmod", stopped)
    result = CliRunner().invoke(main, ["ingest", str(case), str(out), "--category", "CT-1", "--jobs", "1"],
                                env={"CURATOR_ANON_KEY": KEY})
    assert result.exit_code == 1 and "Aborted!" in result.output, result.output   # the stop did happen
    readable = [path.relative_to(tmp_path).as_posix() for path in (tmp_path / "work").rglob("*")
                if path.is_file() and b"MSK-000123" in path.read_bytes()
                and stat.S_IMODE(path.stat().st_mode) & 0o077]
    assert readable == []


# --- 22. ingest-slices: the input's own name in OUT ----------------------------------------------------------------

def test_ingest_slices_does_not_publish_the_input_folder_name(tmp_path: Path) -> None:
    from curator.cli.ingest_slices import ingest_slices as command
    from tests.ingest_slices_factories import make_inputs

    images, masks = make_inputs(tmp_path / "base")
    named = tmp_path / "Ivanov_Ivan_CT"
    shutil.copytree(images, named)
    out = tmp_path / "out"
    result = CliRunner().invoke(command, ["--images", str(named), "--masks", str(masks), str(out)])
    assert result.exit_code == 0, result.output
    for path in out.rglob("*"):
        if path.is_file():
            data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
            assert b"Ivanov" not in data, path.relative_to(out).as_posix()


# --- checked and fine: kept as regression tests --------------------------------------------------------------------

def test_nothing_identifying_reaches_out_and_reruns_are_byte_identical(tmp_path: Path) -> None:
    raw = tmp_path / "Ivanov_Ivan_1958"
    uids = {write_study(raw / "case01", PATIENTS[0], images=25, accession="ACC123"),
            write_study(raw / "case02", PATIENTS[1], images=25, accession="ACC456")}
    for path in raw.rglob("IM*"):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        uids |= {ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.FrameOfReferenceUID}
    before = {p: p.read_bytes() for p in raw.rglob("*") if p.is_file()}
    first, second = tmp_path / "a", tmp_path / "b"
    assert run(raw, first, "--category", "CT-1", "--preset", "mosmed", "--jobs", "1")[0] == 0
    assert run(raw, second, "--category", "CT-1", "--preset", "mosmed", "--jobs", "2")[0] == 0
    needles = [b"Ivanov", b"Smirnova", b"MSK-000", b"ACC123", b"ACC456", b"20200417", b"19580312", b"City Hospital",
               b"Petrov", b"101500", b"case01", str(tmp_path).encode(), *(uid.encode() for uid in uids)]
    trees = []
    for out in (first, second):
        tree = {}
        for path in sorted(out.rglob("*")):
            if path.is_file():
                data = path.read_bytes()
                plain = gzip.decompress(data) if path.name.endswith(".gz") else data
                assert not [n for n in needles if n in plain], path
                if not path.relative_to(out).as_posix().startswith(".ingest"):
                    tree[path.relative_to(out).as_posix()] = data
        trees.append(tree)
    assert trees[0] == trees[1] and len([p for p in trees[0] if p.endswith(".nii.gz")]) == 2
    assert {p: p.read_bytes() for p in raw.rglob("*") if p.is_file()} == before


def test_overlapping_places_and_same_named_archives_are_usage_errors(study: Path, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    copy(study, raw / "case01")
    assert run(raw, raw / "out", "--category", "CT-1")[0] == 2 and not (raw / "out").exists()
    assert run(raw, raw, "--category", "CT-1")[0] == 2
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        with zipfile.ZipFile(tmp_path / name / "case01.zip", "w") as handle:
            for path in sorted(study.rglob("IM*")):
                handle.write(path, f"case01/{path.relative_to(study).as_posix()}")
    code, output = run(tmp_path / "a" / "case01.zip", tmp_path / "b" / "case01.zip", tmp_path / "out",
                       "--category", "CT-1")
    assert code == 2 and "several inputs" in output


@pytest.mark.parametrize("damage", ["half", "header", "empty", "rows-zero", "frames-huge"])
def test_truncated_or_absurd_images_refuse_their_series_only(study: Path, tmp_path: Path, damage: str) -> None:
    bad = copy(study, tmp_path / "in" / "bad")
    good = tmp_path / "in" / "good"
    write_series(good, PATIENTS[1], z0=0.0)
    for victim in sorted((bad / "SE2").iterdir())[3:5] if damage.startswith(("rows", "frames")) else \
            [bad / "SE2" / "IM00004"]:
        data = victim.read_bytes()
        if damage == "half":
            data = data[:len(data) // 2]
        elif damage == "header":
            data = data[:700]
        elif damage == "empty":
            data = b""
        elif damage == "rows-zero":
            data = data.replace(b"\x28\x00\x10\x00US\x02\x00\x20\x00", b"\x28\x00\x10\x00US\x02\x00\x00\x00", 1)
        else:
            ds = pydicom.dcmread(io.BytesIO(data))
            ds.NumberOfFrames = 1_000_000_000
            buffer = io.BytesIO()
            ds.save_as(buffer, enforce_file_format=True)
            data = buffer.getvalue()
        victim.write_bytes(data)
    out = tmp_path / "out"
    code, output = run(bad, good, out, "--category", "CT-1", *BODY, "--format", "json")
    no_crash(code, output)
    assert code == 1 and "INGEST_SERIES_REFUSED" in output
    assert len(rows(out)) == 1
