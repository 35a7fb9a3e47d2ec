"""Profile `dicom`: DICOM series read from their headers, each defect reported in millimetres."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydicom import dcmread
from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import JPEG2000Lossless, RLELossless

from curator.checks.dicom_series import CODES
from curator.cli.main import main
from curator.io.dicom import DicomFacts
from curator.profiles import detect_profile, get_profile
from curator.validate import ValidateOptions, gather
from tests.dicom_factories import CORONAL, write_series
from tests.reports import validate_report

COVID_CT_MD = "covid_ct_md_dicom/Sample data/COVID-19 subjects"
Row = tuple[str, str, str]  # (code, path, severity)


def run(root: Path, *args: str, exit_code: int) -> dict:
    # the privacy audit of the same files is tested in test_privacy_dicom.py
    return validate_report(root, "--profile", "dicom", "--ignore", "privacy", *args, exit_code=exit_code)


def rows(report: dict) -> set[Row]:
    """The DICOM findings, flattened."""
    return {(f["code"], f["path"], f["severity"]) for f in report["findings"] if f["code"] in CODES}


def errors(report: dict) -> set[tuple[str, str]]:
    return {(f["code"], f["path"]) for f in report["findings"] if f["severity"] == "error"}


def only(report: dict, code: str) -> dict:
    found = [f for f in report["findings"] if f["code"] == code]
    assert len(found) == 1, (code, report["findings"])
    return found[0]


def series_of(root: Path, deep: bool = False) -> DicomFacts:
    facts = gather(root, get_profile("dicom"), ValidateOptions(profile="dicom", deep=deep, checksums=False))
    assert facts.dicom is not None
    return facts.dicom


# --- factory-made series -----------------------------------------------------------------------------------


def test_a_clean_series_passes_and_the_layout_is_detected(tmp_path: Path) -> None:
    write_series(tmp_path / "P001" / "CT1", count=6, step=2.5)
    assert detect_profile(tmp_path) == get_profile("dicom")
    report = run(tmp_path, exit_code=0)
    assert rows(report) == set() and errors(report) == set()
    assert report["profile"] == "dicom"
    found = series_of(tmp_path)
    assert len(found.series) == 1 and len(found.series[0].files) == 6


def test_clean_series_pass_in_deep_mode(tmp_path: Path) -> None:
    write_series(tmp_path / "P001" / "CT1", count=4)
    write_series(tmp_path / "P002", count=4, step=1.25)
    report = run(tmp_path, "--deep", exit_code=0)
    assert rows(report) == set() and errors(report) == set()


def test_missing_slice_names_the_gap_in_millimetres(tmp_path: Path) -> None:
    write_series(tmp_path / "P001" / "CT1", [-130.0, -125.0, -120.0, -110.0, -105.0],
                 per_slice={3: {"instance": 5}, 4: {"instance": 6}})
    report = run(tmp_path, exit_code=1)
    assert ("SERIES_SLICE_MISSING", "P001/CT1", "error") in rows(report)
    finding = only(report, "SERIES_SLICE_MISSING")
    assert "slice missing between z = -120.0 and -110.0 mm" in finding["message"]
    assert "steps by 5.0 mm" in finding["message"]
    assert finding["context"]["before_instance"] == "3" and finding["context"]["after_instance"] == "5"
    assert finding["context"]["missing"] == 1
    assert not any(code == "SERIES_SPACING_UNEVEN" for code, _, _ in rows(report))


def test_two_missing_slices_in_one_gap(tmp_path: Path) -> None:
    write_series(tmp_path / "P001", [0.0, 2.0, 4.0, 10.0, 12.0])
    finding = only(run(tmp_path, exit_code=1), "SERIES_SLICE_MISSING")
    assert finding["context"]["missing"] == 2 and finding["path"] == "P001"


def test_uneven_spacing_is_a_warning_with_the_steps(tmp_path: Path) -> None:
    write_series(tmp_path / "P001" / "CT1", [0.0, 2.5, 5.0, 6.0, 8.5, 11.0])
    report = run(tmp_path, exit_code=0)
    assert rows(report) == {("SERIES_SPACING_UNEVEN", "P001/CT1", "warning")}
    finding = only(report, "SERIES_SPACING_UNEVEN")
    assert finding["context"]["min_mm"] == "1.0" and finding["context"]["max_mm"] == "2.5"
    assert finding["context"]["steps"] == "2 x 2.5, 1 x 1.0, 2 x 2.5"
    assert errors(report) == set()  # warnings only


def test_duplicate_position(tmp_path: Path) -> None:
    write_series(tmp_path / "P001" / "CT1", [0.0, 2.5, 2.5, 5.0, 7.5])
    report = run(tmp_path, exit_code=1)
    assert rows(report) == {("SERIES_DUPLICATE_POSITION", "P001/CT1", "error")}
    finding = only(report, "SERIES_DUPLICATE_POSITION")
    assert finding["context"]["instances"] == "2, 3" and "z = 2.5 mm" in finding["message"]


def test_a_copied_file_is_one_duplicate_instance_not_a_geometry_error(tmp_path: Path) -> None:
    files = write_series(tmp_path / "P001" / "CT1", count=4)
    shutil.copyfile(files[1], files[1].with_name("copy.dcm"))
    report = run(tmp_path, exit_code=1)
    assert rows(report) == {("DICOM_INSTANCE_DUPLICATE", "P001/CT1/copy.dcm", "error")}
    assert only(report, "DICOM_INSTANCE_DUPLICATE")["context"]["other"] == "P001/CT1/IM0002.dcm"


def test_gantry_tilt_from_the_tag_and_from_the_geometry(tmp_path: Path) -> None:
    tilted = (1.0, 0.0, 0.0, 0.0, 0.9659258, -0.2588190)  # 15 degrees about x
    write_series(tmp_path / "P001" / "tag", count=4, orientation=tilted, direction=(0.0, 0.0, 1.0), tilt=15.0)
    write_series(tmp_path / "P002" / "geometry", count=4, orientation=tilted, direction=(0.0, 0.0, 1.0))
    write_series(tmp_path / "P003" / "oblique", count=4, orientation=tilted)  # stacked along its normal: no tilt
    report = run(tmp_path, exit_code=0)
    assert rows(report) == {("SERIES_GANTRY_TILT", "P001/tag", "warning"),
                            ("SERIES_GANTRY_TILT", "P002/geometry", "warning")}
    for finding in (f for f in report["findings"] if f["code"] == "SERIES_GANTRY_TILT"):
        assert finding["context"]["tilt_deg"] == "15.0"
        assert "gantry tilt of 15.0°" in finding["message"]


def test_tilted_series_spacing_is_measured_along_the_normal(tmp_path: Path) -> None:
    tilted = (1.0, 0.0, 0.0, 0.0, 0.9659258, -0.2588190)
    write_series(tmp_path / "P001", [0.0, 5.0, 10.0, 20.0], orientation=tilted, direction=(0.0, 0.0, 1.0))
    finding = only(run(tmp_path, exit_code=1), "SERIES_SLICE_MISSING")
    assert finding["context"]["step_mm"] == "4.83" and finding["context"]["gap_mm"] == "9.66"
    assert finding["context"]["before_mm"] == "10.0" and finding["context"]["after_mm"] == "20.0"


def test_all_slices_at_one_position_are_not_a_volume(tmp_path: Path) -> None:
    write_series(tmp_path / "P001" / "CT1", [61.5, 61.5, 61.5, 61.5])
    report = run(tmp_path, exit_code=1)
    assert rows(report) == {("SERIES_NOT_A_VOLUME", "P001/CT1", "error")}
    context = only(report, "SERIES_NOT_A_VOLUME")["context"]
    assert (context["slices"], context["positions"], context["orientations"]) == (4, 1, 1)


def test_a_localizer_mixed_into_the_series(tmp_path: Path) -> None:
    write_series(tmp_path / "P001" / "CT1", count=5, per_slice={
        0: {"orientation": CORONAL, "image_type": ("ORIGINAL", "PRIMARY", "LOCALIZER")}})
    report = run(tmp_path, exit_code=1)
    assert rows(report) == {("SERIES_NOT_A_VOLUME", "P001/CT1", "error")}
    context = only(report, "SERIES_NOT_A_VOLUME")["context"]
    assert context["localizers"] == 1 and context["orientations"] == 2
    assert context["localizer_files"] == ["P001/CT1/IM0001.dcm"]


def test_mixed_orientations_without_localizer_flag(tmp_path: Path) -> None:
    write_series(tmp_path / "P001", count=4, per_slice={2: {"orientation": CORONAL}})
    context = only(run(tmp_path, exit_code=1), "SERIES_NOT_A_VOLUME")["context"]
    assert context["orientations"] == 2 and context["localizers"] == 0


def test_a_separate_scout_series_is_not_judged_as_a_volume(tmp_path: Path) -> None:
    study = "1.2.826.0.1.3680043.8.498.1"
    write_series(tmp_path / "P001" / "CT1", count=4, study_uid=study)
    write_series(tmp_path / "P001" / "scout", count=1, orientation=CORONAL, series_number=1, study_uid=study,
                 image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"))
    assert rows(run(tmp_path, exit_code=0)) == set()


def test_inconsistent_matrix_and_pixel_spacing(tmp_path: Path) -> None:
    write_series(tmp_path / "P001", count=4, per_slice={1: {"rows": 10}, 2: {"spacing": (0.8, 0.8)}})
    report = run(tmp_path, exit_code=1)
    found = [f for f in report["findings"] if f["code"] == "SERIES_INCONSISTENT"]
    assert {f["context"]["attribute"] for f in found} == {"Rows", "PixelSpacing"}
    rows_finding = next(f for f in found if f["context"]["attribute"] == "Rows")
    assert rows_finding["context"]["values"] == "8 (3), 10 (1)" and rows_finding["path"] == "P001"
    assert rows_finding["context"]["files"] == ["P001/IM0002.dcm"]


def test_mixed_studies_in_a_patient_folder(tmp_path: Path) -> None:
    write_series(tmp_path / "P001" / "a", count=3)
    write_series(tmp_path / "P001" / "b", count=3)
    write_series(tmp_path / "P002" / "a", count=3, patient_id="P002")
    write_series(tmp_path / "P002" / "b", count=3, patient_id="OTHER")
    report = run(tmp_path, exit_code=1)
    assert rows(report) == {("SERIES_MIXED_STUDIES", "P001", "warning"), ("SERIES_MIXED_STUDIES", "P002", "error")}
    assert "Patient folder P002 holds 2 different studies (StudyInstanceUID) of 2 patient(s)" in next(
        f["message"] for f in report["findings"] if f["path"] == "P002")


def test_one_study_with_several_series_is_fine(tmp_path: Path) -> None:
    study = "1.2.826.0.1.3680043.8.498.1"
    write_series(tmp_path / "P001" / "lung", count=3, study_uid=study, series_number=2)
    write_series(tmp_path / "P001" / "soft", count=3, study_uid=study, series_number=3)
    assert rows(run(tmp_path, exit_code=0)) == set()


def test_small_series_and_modality(tmp_path: Path) -> None:
    write_series(tmp_path / "P001" / "two", count=2)
    write_series(tmp_path / "P002" / "mr", count=3, modality="MR")
    write_series(tmp_path / "P003" / "none", count=3, modality=None)
    report = run(tmp_path, exit_code=0)
    assert rows(report) == {("SERIES_TOO_SMALL", "P001/two", "warning"),
                            ("SERIES_MODALITY_UNEXPECTED", "P002/mr", "warning"),
                            ("SERIES_MODALITY_MISSING", "P003/none", "info")}
    assert errors(report) == set()  # warnings only


def test_empty_uids_group_by_folder_series_number_and_orientation(tmp_path: Path) -> None:
    write_series(tmp_path / "P001" / "a", count=4, study_uid="", series_uid="", names="CT.{index}")
    write_series(tmp_path / "P001" / "b", count=3, study_uid="", series_uid="", names="CT.{index}")
    found = series_of(tmp_path)
    assert sorted(len(s.files) for s in found.series) == [3, 4]
    assert rows(run(tmp_path, exit_code=0)) == set()


def test_unreadable_and_non_dicom_files(tmp_path: Path) -> None:
    write_series(tmp_path / "P001", count=3)
    (tmp_path / "P001" / "broken.dcm").write_bytes(b"\x00" * 128 + b"DICM" + b"\xff" * 40)
    (tmp_path / "P001" / "notes.txt").write_text("not an image\n", encoding="utf-8")
    (tmp_path / "P001" / "empty.dcm").write_bytes(b"")
    (tmp_path / "README_EN.md").write_text("# data\n", encoding="utf-8")
    report = run(tmp_path, exit_code=1)
    assert rows(report) == {("DICOM_UNREADABLE", "P001/broken.dcm", "error"),
                            ("DICOM_UNREADABLE", "P001/empty.dcm", "error")}


def test_a_header_value_that_does_not_parse(tmp_path: Path) -> None:
    files = write_series(tmp_path / "P001", count=4)
    ds = dcmread(files[2])
    ds.ImagePositionPatient = [1.0, 2.0]
    ds.save_as(files[2], enforce_file_format=True)
    report = run(tmp_path, exit_code=1)
    assert rows(report) == {("DICOM_HEADER_INVALID", "P001/IM0003.dcm", "error"),
                            ("SERIES_GEOMETRY_MISSING", "P001", "error")}
    message = only(report, "DICOM_HEADER_INVALID")["message"]
    assert "ImagePositionPatient: should hold 3 finite numbers, found '[1.0, 2.0]'" in message


@pytest.mark.parametrize("deep", [False, True])
def test_a_truncated_file(tmp_path: Path, deep: bool) -> None:
    files = write_series(tmp_path / "P001", count=4)
    files[1].write_bytes(files[1].read_bytes()[:-40])
    report = run(tmp_path, *(["--deep"] if deep else []), exit_code=1)
    assert rows(report) == {("DICOM_TRUNCATED", "P001/IM0002.dcm", "error")}
    context = only(report, "DICOM_TRUNCATED")["context"]
    assert context == {"expected_bytes": 128, "actual_bytes": 88}


def _compress(files: list[Path], syntax: str) -> None:
    for path in files:
        ds = dcmread(path)
        ds.compress(syntax)
        ds.save_as(path, enforce_file_format=True)


def test_corrupt_compressed_pixels_fail_to_decode_in_deep_mode_only(tmp_path: Path) -> None:
    files = write_series(tmp_path / "P001", count=3)
    _compress(files, RLELossless)
    data = bytearray(files[0].read_bytes())
    header = data.rfind(b"\xfe\xff\x00\xe0")  # the last item: the RLE fragment, whose header counts segments
    data[header + 8: header + 12] = (99).to_bytes(4, "little")
    files[0].write_bytes(bytes(data))
    assert rows(run(tmp_path, exit_code=0)) == set()
    report = run(tmp_path, "--deep", exit_code=1)
    assert rows(report) == {("DICOM_DECODE_FAILED", "P001/IM0001.dcm", "error")}
    assert "RLE Lossless" in only(report, "DICOM_DECODE_FAILED")["message"]


def test_a_missing_decoder_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = write_series(tmp_path / "P001" / "CT1", count=3, rows=64, columns=64)  # J2K needs 32+ pixels
    _compress(files, JPEG2000Lossless)
    decoder = get_decoder(JPEG2000Lossless)
    monkeypatch.setattr(decoder, "_available", {})
    monkeypatch.setattr(decoder, "_unavailable", {"gdcm": ("gdcm>=3.0.10",),
                                                  "pylibjpeg": ("pylibjpeg>=2.0", "pylibjpeg-openjpeg>=2.0")})
    report = run(tmp_path, "--deep", exit_code=0)
    assert rows(report) == {("DICOM_DECODER_MISSING", "P001/CT1", "warning")}
    finding = only(report, "DICOM_DECODER_MISSING")
    assert finding["context"]["files"] == 3
    assert "pip install 'pylibjpeg>=2.0' 'pylibjpeg-openjpeg>=2.0'" in finding["message"]
    assert "JPEG 2000 Image Compression (Lossless Only)" in finding["message"]


def test_absurd_dimensions_are_refused_before_decoding(tmp_path: Path) -> None:
    files = write_series(tmp_path / "P001", count=3)
    _compress(files, RLELossless)
    ds = dcmread(files[0])
    ds.Rows, ds.Columns, ds.NumberOfFrames = 65535, 65535, 1
    ds.save_as(files[0], enforce_file_format=True)
    report = run(tmp_path, "--deep", exit_code=1)
    assert ("DICOM_DECODE_FAILED", "P001/IM0001.dcm", "error") in rows(report)


def test_no_dicom_at_all(tmp_path: Path) -> None:
    (tmp_path / "P001").mkdir()
    (tmp_path / "P001" / "scan.txt").write_text("nothing\n", encoding="utf-8")
    report = run(tmp_path, exit_code=1)
    assert rows(report) == {("DICOM_NOT_FOUND", "", "error")}


def test_messages_are_translated(tmp_path: Path) -> None:
    write_series(tmp_path / "P001", [0.0, 5.0, 10.0, 20.0])
    result = CliRunner().invoke(main, ["validate", str(tmp_path), "--profile", "dicom", "--lang", "ru"])
    assert "пропущен срез между z = 10.0 и 20.0 мм" in result.output


# --- real data ------------------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_covid_ct_md_p001_passes(realdata: Path) -> None:
    root = realdata / COVID_CT_MD
    report = run(root, exit_code=0)
    assert errors(report) == set() and rows(report) == set()
    found = series_of(root)
    assert len(found.series) == 1 and len(found.series[0].files) == 148
    assert found.series[0].files[0].syntax_name.startswith("JPEG Lossless")


@pytest.mark.realdata
def test_covid_ct_md_p001_decodes_in_deep_mode(realdata: Path) -> None:
    report = run(realdata / COVID_CT_MD, "--deep", exit_code=0)
    assert errors(report) == set() and rows(report) == set()


@pytest.mark.realdata
def test_dicom2nifti_series(realdata: Path) -> None:
    report = run(realdata / "dicom2nifti_ct_series", exit_code=1)
    assert rows(report) == {
        ("SERIES_NOT_A_VOLUME", "notavolume/001", "error"),
        ("SERIES_SLICE_MISSING", "sliceincrement/001", "error"),
        ("SERIES_SLICE_MISSING", "sliceincrement/002", "error"),
        ("SERIES_GANTRY_TILT", "gantrytilting/001", "warning"),
        ("SERIES_GANTRY_TILT", "sliceincrement/002", "warning"),
        ("SERIES_MIXED_STUDIES", "sliceincrement", "warning"),  # a GE and a Siemens study share the folder
    }
    by_path = {f["path"]: f for f in report["findings"] if f["code"] == "SERIES_SLICE_MISSING"}
    assert "between z = 28.11 and 38.11 mm" in by_path["sliceincrement/001"]["message"]
    assert (by_path["sliceincrement/001"]["context"]["gap_mm"], by_path["sliceincrement/001"]["context"]["step_mm"]) \
        == ("10.0", "5.0")
    assert by_path["sliceincrement/002"]["context"]["before_instance"] == "3"
    assert by_path["sliceincrement/002"]["context"]["after_instance"] == "5"
    tilt = next(f for f in report["findings"] if f["path"] == "gantrytilting/001")
    assert tilt["context"]["tilt_deg"] == "14.0"


@pytest.mark.realdata
def test_ge_head_tilt_and_uneven_spacing(realdata: Path) -> None:
    report = run(realdata / "dcm_qa_ct_ge_head" / "In", exit_code=0)
    assert rows(report) == {("SERIES_GANTRY_TILT", "GE", "warning"), ("SERIES_SPACING_UNEVEN", "GE", "warning")}
    assert only(report, "SERIES_GANTRY_TILT")["context"]["tilt_deg"] == "18.5"
    uneven = only(report, "SERIES_SPACING_UNEVEN")["context"]
    assert uneven["steps"] == "13 x 4.0, 1 x 1.08, 13 x 7.0"
    assert (uneven["min_mm"], uneven["max_mm"]) == ("1.08", "7.0")


@pytest.mark.realdata
def test_totalsegmentator_jpeg2000_series_with_empty_uids_is_one_series(realdata: Path) -> None:
    root = realdata / "totalsegmentator_examples" / "example_ct_dicom"
    found = series_of(root, deep=True)
    assert len(found.series) == 1 and len(found.series[0].files) == 20
    assert found.series[0].series_uid == "" and found.series[0].study_uid == ""
    assert all(outcome.ok for outcome in found.decoded.values()) and len(found.decoded) == 20
    report = run(root, "--deep", exit_code=0)
    assert rows(report) == set() and errors(report) == set()


@pytest.mark.realdata
def test_lungmask_minimal_headers(realdata: Path) -> None:
    report = run(realdata / "lungmask_testdata", exit_code=0)
    assert rows(report) == {("SERIES_TOO_SMALL", "testdata", "warning"),
                            ("SERIES_MODALITY_MISSING", "testdata", "info")}


@pytest.mark.realdata
def test_pydicom_single_images_and_dicomdir_never_crash(realdata: Path) -> None:
    report = run(realdata / "pydicom_ct_files", "--deep", exit_code=1)
    codes = {code for code, _, _ in rows(report)}
    assert "DICOM_NOT_FOUND" not in codes
    assert report["stats"]["files"] > 10


def test_chest_radiographs_are_not_asked_for_slice_geometry(tmp_path: Path) -> None:
    """CR and DX images are projections: their IODs have no ImagePositionPatient/ImageOrientationPatient."""
    from tests.dicom_factories import write_radiographs

    write_radiographs(tmp_path / "P1" / "cr")
    write_radiographs(tmp_path / "P2" / "dx", modality="DX")
    report = run(tmp_path, exit_code=0)
    assert {(f["code"], f["path"]) for f in report["findings"] if f["code"].startswith("SERIES_")} == {
        ("SERIES_MODALITY_UNEXPECTED", "P1/cr"), ("SERIES_MODALITY_UNEXPECTED", "P2/dx")}


def _imports_pydicom(root: Path, *args: str) -> list[str]:
    """[exit code, whether pydicom was imported] of ``curator validate ROOT ARGS`` in a fresh interpreter."""
    import subprocess
    import sys

    code = ("import sys; from click.testing import CliRunner; from curator.cli.main import main; "
            f"r = CliRunner().invoke(main, ['validate', {str(root)!r}, *{list(args)!r}, '--jobs', '1', '--no-cache']); "
            "print(r.exit_code, 'pydicom' in sys.modules)")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


@pytest.mark.parametrize("deep", [False, True])
def test_validate_without_dicom_files_imports_no_pydicom(release: Path, deep: bool) -> None:
    """Issue 15: pydicom (~0.4 s of imports) is loaded where a DICOM file is read, never for a NIfTI release."""
    assert _imports_pydicom(release, *(["--deep"] if deep else [])) == ["0", "False"]


def test_validate_with_dicom_files_imports_pydicom(tmp_path: Path) -> None:
    """The other side of the test above: the probe sees pydicom when a DICOM file is read."""
    write_series(tmp_path / "P1" / "series", count=3)
    assert _imports_pydicom(tmp_path, "--profile", "dicom")[1] == "True"


def test_a_dcm_file_that_is_no_dicom_is_refused_without_importing_pydicom(tmp_path: Path) -> None:
    """Nothing is parsed, so nothing loads pydicom (~0.4-0.8 s, counted in stats.seconds: the 3 GiB sparse .dcm of
    test_hostile_inputs.py went from 0.09 s to 0.8 s when the fast tier's reading setting imported it up front)."""
    (tmp_path / "P1").mkdir()
    (tmp_path / "P1" / "IM0001.dcm").write_bytes(bytes(4096))
    assert _imports_pydicom(tmp_path, "--profile", "dicom") == ["1", "False"]
