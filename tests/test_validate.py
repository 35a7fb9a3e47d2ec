"""`curator validate`: each kind of damage gives its code, on the right path, with the right exit code."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from curator.cli.main import main
from curator.models.findings import Severity
from curator.validate import OptionsError, RunError, ValidateOptions, validate
from tests.factories import ct_volume, edit_registry, flip_byte, write_nifti
from tests.reports import validate_report


def errors(report: dict) -> set[tuple[str, str]]:
    return {(f["code"], f["path"]) for f in report["findings"] if f["severity"] == "error"}


def test_a_built_release_is_valid(built_release: Path) -> None:
    report = validate_report(built_release, exit_code=0)
    assert report["valid"] is True and report["counts"]["error"] == 0
    assert report["profile"] == "mosmed"
    assert report["stats"]["files"] > 10 and report["stats"]["bytes"] > 0
    assert report["stats"]["categories"] == {"CT-0": 2, "CT-1": 3, "CT-2": 1, "CT-3": 1, "CT-4": 1}


def test_deleted_study(release: Path) -> None:
    (release / "studies/CT-0/study_0001.nii.gz").unlink()
    report = validate_report(release, exit_code=1)
    assert report["valid"] is False
    found = [f for f in report["findings"] if f["code"] == "FILE_MISSING"]
    assert {f["context"]["listed_in"] for f in found} == {"dataset_registry.xlsx", "SHA256SUMS", "MD5SUMS"}
    assert {f["path"] for f in found} == {"studies/CT-0/study_0001.nii.gz"}
    registry_finding = next(f for f in found if f["context"]["listed_in"] == "dataset_registry.xlsx")
    assert registry_finding["study_id"] == 1 and registry_finding["context"]["row"] == 2


def test_flipped_byte(release: Path) -> None:
    flip_byte(release / "studies/CT-2/study_0006.nii.gz")
    report = validate_report(release, exit_code=1)
    assert ("CHECKSUM_MISMATCH", "studies/CT-2/study_0006.nii.gz") in errors(report)


def test_extra_file(release: Path) -> None:
    shutil.copyfile(release / "studies/CT-0/study_0001.nii.gz", release / "studies/CT-0/study_0099.nii.gz")
    report = validate_report(release, exit_code=1)
    unlisted = [f for f in report["findings"] if f["code"] == "FILE_UNLISTED"]
    assert {f["path"] for f in unlisted} == {"studies/CT-0/study_0099.nii.gz"}
    assert {f["context"]["expected_in"] for f in unlisted} == {"dataset_registry.xlsx", "SHA256SUMS"}
    assert all(f["severity"] == "error" for f in unlisted)


def test_duplicated_registry_id(release: Path) -> None:
    edit_registry(release, lambda sheet: sheet.cell(row=3, column=1, value=1))
    report = validate_report(release, exit_code=1)
    assert ("REGISTRY_DUPLICATE_ID", "dataset_registry.xlsx") in errors(report)
    duplicate = next(f for f in report["findings"] if f["code"] == "REGISTRY_DUPLICATE_ID")
    assert duplicate["study_id"] == 1 and duplicate["context"]["rows"] == [2, 3]
    # the xlsx changed after the manifest was written and no longer agrees with its CSV twin
    assert ("CHECKSUM_MISMATCH", "dataset_registry.xlsx") in errors(report)
    assert ("REGISTRY_COPIES_DISAGREE", "dataset_registry.csv") in errors(report)


def test_category_outside_the_profile(release: Path) -> None:
    edit_registry(release, lambda sheet: sheet.cell(row=2, column=2, value="CT-7"))
    report = validate_report(release, exit_code=1)
    invalid = [f for f in report["findings"] if f["code"] == "REGISTRY_ROW_INVALID"]
    assert [(f["path"], f["context"]["row"], f["context"]["field"]) for f in invalid] == [
        ("dataset_registry.xlsx", 2, "category")]
    assert "CT-7" in invalid[0]["message"]
    assert ("REGISTRY_CATEGORY_MISMATCH", "dataset_registry.xlsx") in errors(report)


def test_category_that_disagrees_with_the_folder(release: Path) -> None:
    edit_registry(release, lambda sheet: sheet.cell(row=2, column=2, value="CT-3"))
    report = validate_report(release, exit_code=1)
    mismatch = next(f for f in report["findings"] if f["code"] == "REGISTRY_CATEGORY_MISMATCH")
    assert mismatch["context"] == {"row": 2, "category": "CT-3", "folder": "CT-0"}


def test_mask_with_another_shape(release: Path) -> None:
    mask = next(release.glob("masks/*.nii.gz"))
    write_nifti(mask, np.zeros((8, 8, 5), dtype=np.int16))
    report = validate_report(release, exit_code=1)
    rel = mask.relative_to(release).as_posix()
    assert ("MASK_SHAPE_MISMATCH", rel) in errors(report)
    finding = next(f for f in report["findings"] if f["code"] == "MASK_SHAPE_MISMATCH")
    assert finding["context"]["mask_shape"] == [8, 8, 5] and finding["context"]["study_shape"] == [8, 8, 4]


def test_unreadable_and_truncated_and_invalid_headers(release: Path) -> None:
    (release / "studies/CT-0/study_0001.nii.gz").write_bytes(b"this is not a NIfTI file at all")
    truncated = write_nifti(release / "studies/CT-0/study_0002.nii.gz", ct_volume((64, 64, 16)))
    truncated.write_bytes(truncated.read_bytes()[:-5000])
    write_nifti(release / "studies/CT-2/study_0006.nii.gz", ct_volume(), qform_code=0, sform_code=0)
    report = validate_report(release, exit_code=1)
    found = errors(report)
    assert ("IMAGE_UNREADABLE", "studies/CT-0/study_0001.nii.gz") in found
    assert ("IMAGE_TRUNCATED", "studies/CT-0/study_0002.nii.gz") in found
    assert ("IMAGE_HEADER_INVALID", "studies/CT-2/study_0006.nii.gz") in found


def test_required_files_junk_unsafe_and_bad_names(release: Path) -> None:
    (release / "README_RU.md").unlink()
    (release / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (release / "__MACOSX").mkdir()
    (release / "__MACOSX" / "._x").write_bytes(b"x")
    (release / "studies" / "CT-0" / "escape.nii.gz").symlink_to("/etc/passwd")
    shutil.copyfile(release / "LICENSE", release / "studies" / "CT-1" / "notes on study.txt")
    report = validate_report(release, exit_code=1)
    found = {(f["code"], f["path"], f["severity"]) for f in report["findings"]}
    assert ("REQUIRED_FILE_MISSING", "README_RU.md", "error") in found
    assert ("FILE_JUNK", ".DS_Store", "warning") in found
    assert ("FILE_JUNK", "__MACOSX", "warning") in found
    assert not any(code == "FILE_JUNK" and path.startswith("__MACOSX/") for code, path, _ in found)
    assert ("FILE_UNSAFE", "studies/CT-0/escape.nii.gz", "error") in found
    assert ("FILE_NAME_INVALID", "studies/CT-1/notes on study.txt", "error") in found


def test_a_space_in_one_folder_is_one_finding_not_one_per_file_under_it(release: Path) -> None:
    for name in ("a.txt", "b.txt", "deeper/c.txt", "deeper/d e.txt"):
        (release / "extra notes" / name).parent.mkdir(parents=True, exist_ok=True)
        (release / "extra notes" / name).write_text("x", encoding="utf-8")
    report = validate_report(release, "--select", "FILE_NAME_INVALID", exit_code=1)
    assert sorted(f["path"] for f in report["findings"]) == ["extra notes", "extra notes/deeper/d e.txt"]


def test_a_stray_image_under_the_dicom_profile_is_told_its_pattern_not_an_empty_list(tmp_path: Path) -> None:
    from tests.dicom_factories import write_series

    write_series(tmp_path / "P1" / "s1")
    write_nifti(tmp_path / "stray.nii.gz", ct_volume())
    report = validate_report(tmp_path, "--profile", "dicom", "--select", "FILE_NAME_INVALID", exit_code=1)
    (finding,) = report["findings"]
    assert finding["path"] == "stray.nii.gz"
    assert finding["context"]["reason"] == ("imaging files must be named like <patient>/<series folder>/<image>.dcm "
                                            "or <patient>/<series folder>/CT.<SOP Instance UID>")


def test_case_collision_is_a_bad_name(release: Path) -> None:
    shutil.copyfile(release / "LICENSE", release / "license")
    report = validate_report(release, exit_code=1)
    assert ("FILE_NAME_INVALID", "license") in errors(report)


def test_manifest_problems(release: Path) -> None:
    sums = release / "SHA256SUMS"
    sums.write_text(sums.read_text() + "not a checksum line\n", encoding="utf-8")
    (release / "MD5SUMS").unlink()
    report = validate_report(release, exit_code=1)
    malformed = next(f for f in report["findings"] if f["code"] == "MANIFEST_MALFORMED")
    assert malformed["path"] == "SHA256SUMS" and malformed["context"]["line"] > 1
    (release / "SHA256SUMS").unlink()
    report = validate_report(release, exit_code=0)
    assert [(f["code"], f["severity"], f["path"]) for f in report["findings"]] == [("MANIFEST_MISSING", "warning", "")]


def test_fail_on_select_and_ignore(release: Path) -> None:
    (release / ".DS_Store").write_bytes(b"x")
    validate_report(release, exit_code=0)                               # a warning does not fail by default
    validate_report(release, "--fail-on", "warning", exit_code=1)
    report = validate_report(release, "--fail-on", "warning", "--ignore", "FILE_JUNK", exit_code=0)
    assert report["findings"] == []
    (release / "studies/CT-0/study_0001.nii.gz").unlink()
    report = validate_report(release, "--select", "integrity", exit_code=1)     # a tag
    assert {f["code"] for f in report["findings"]} == {"FILE_MISSING"}
    report = validate_report(release, "--select", "FILE_JUNK,MANIFEST_MISSING", exit_code=0)
    assert [f["code"] for f in report["findings"]] == ["FILE_JUNK"]


def test_unknown_selector_is_a_usage_error(built_release: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(built_release), "--select", "NO_SUCH_CODE"])
    assert result.exit_code == 2 and "NO_SUCH_CODE" in result.output
    with pytest.raises(OptionsError):
        validate(built_release, ValidateOptions(ignore=("nonsense",)))


def test_missing_root_cannot_run(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "nowhere")])
    assert result.exit_code == 3 and "does not exist" in result.output
    with pytest.raises(RunError):
        validate(tmp_path / "nowhere")


def test_unknown_profile_is_a_usage_error(built_release: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(built_release), "--profile", "nope"])
    assert result.exit_code == 2 and "known profiles" in result.output


def test_unrecognised_layout(tmp_path: Path) -> None:
    (tmp_path / "something.txt").write_text("x")
    report = validate_report(tmp_path, exit_code=1)
    assert [f["code"] for f in report["findings"]] == ["LAYOUT_UNRECOGNISED"]
    # the profile can be forced
    report = validate_report(tmp_path, "--profile", "mosmed", exit_code=1)
    assert "REQUIRED_FILE_MISSING" in {f["code"] for f in report["findings"]}


def test_text_output_groups_by_code_and_ends_with_a_summary(release: Path) -> None:
    for path in list(release.glob("studies/CT-0/*.nii.gz")):
        path.unlink()
    result = CliRunner().invoke(main, ["validate", str(release)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("ERROR FILE_MISSING (6)")
    assert lines[-1].startswith(f"validate {release}: INVALID: 6 errors, 0 warnings")
    russian = CliRunner().invoke(main, ["validate", str(release), "--lang", "ru"])
    assert "study_0001.nii.gz" in russian.output and "указан" in russian.output.lower()


def test_jobs_do_not_change_the_result(release: Path) -> None:
    flip_byte(release / "studies/CT-1/study_0003.nii.gz")
    serial = validate(release, ValidateOptions(jobs=1))
    parallel = validate(release, ValidateOptions(jobs=4))
    assert serial.flatten(["code", "path"]) == parallel.flatten(["code", "path"])
    assert serial.counts.error == 2 and {f.code for f in serial.findings} == {"CHECKSUM_MISMATCH"}
    assert serial.findings[0].severity == Severity.error


def test_lang_ru_words_the_headings_and_the_summary_in_russian(release: Path) -> None:
    for name in ("studies/CT-0/study_0001.nii.gz", "studies/CT-0/study_0002.nii.gz", "studies/CT-1/study_0004.nii.gz"):
        (release / name).unlink()
    result = CliRunner().invoke(main, ["validate", str(release), "--lang", "ru", "--select", "FILE_MISSING"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    # each missing file is named by the registry, SHA256SUMS and MD5SUMS: 9 findings, 2 shown
    assert lines[0] == "ERROR FILE_MISSING (9): Указанный файл отсутствует"
    assert "  ... и ещё 7 (все перечисляют --verbose и --format json)" in lines
    assert lines[-1].startswith(f"validate {release}: НЕКОРРЕКТЕН: 9 ошибок, 0 предупреждений, 0 инф.; ")
    assert lines[-1].endswith("(профиль mosmed)") and "реестр: 8 строк" in result.output


def test_every_rule_title_has_a_russian_one_while_the_catalogue_has_russian_messages() -> None:
    from curator.catalogue import catalogue

    untitled = sorted(code for code, rule in catalogue().items() if "ru" in rule.message and "ru" not in rule.titles)
    assert untitled == [], untitled
