"""`curator build` tells every problem of its source as findings with catalogue codes (issue 13, item 6), in the
formats `curator validate` has, with the contract's exit codes, and writes nothing."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from curator.checks.build_codes import CODES
from curator.cli.main import main
from curator.release import SourceProblemsError, build
from tests.factories import card_data, ct_volume, gzip_member, make_source, nifti_bytes, write_nifti
from tests.hostile import snapshot
from tests.reports import assert_report_valid, assert_sarif_valid, build_report, flatten

SOURCE_PROBLEMS = Path(__file__).resolve().parents[1] / "curator" / "release" / "source_problems.py"


def _table(source: Path, change: Callable[[str], str]) -> None:
    table = source / "studies.csv"
    table.write_text(change(table.read_text(encoding="utf-8")), encoding="utf-8")


def _card(source: Path, **fields: object) -> None:
    (source / "dataset.yaml").write_text(yaml.safe_dump(card_data(**fields), allow_unicode=True), encoding="utf-8")


# each code, the source change that makes it, the exit code, and the finding's path and row (None: no row)
CASES: dict[str, tuple[Callable[[Path], object], int, str, int | None]] = {
    "REQUIRED_FILE_MISSING card": (lambda s: (s / "dataset.yaml").unlink(), 2, "dataset.yaml", None),
    "REQUIRED_FILE_MISSING table": (lambda s: (s / "studies.csv").unlink(), 1, "studies.csv", None),
    "BUILD_CARD_INVALID": (lambda s: _card(s, version="not-semver"), 2, "dataset.yaml", None),
    "BUILD_LICENCE_UNKNOWN": (lambda s: _card(s, licence="Proprietary-1.0"), 2, "dataset.yaml", None),
    "BUILD_STUDIES_UNREADABLE": (lambda s: _table(s, lambda t: t.replace("category", "kategorie", 1)), 1,
                                 "studies.csv", None),
    "BUILD_ROW_INVALID": (lambda s: _table(s, lambda t: t.replace(",M,30,", ",M,300,")), 1, "studies.csv", 3),
    "BUILD_CATEGORY_UNDECLARED": (lambda s: _table(s, lambda t: t.replace("case02.nii.gz,CT-0", "case02.nii.gz,CT-9")),
                                  1, "studies.csv", 3),
    "BUILD_STUDY_DUPLICATE": (lambda s: _table(s, lambda t: t + "raw/case02.nii.gz,CT-0,M,30,\n"), 1, "studies.csv",
                              10),
    "FILE_MISSING": (lambda s: (s / "raw/case02.nii.gz").unlink(), 1, "raw/case02.nii.gz", 3),
    "IMAGE_UNREADABLE": (lambda s: (s / "raw/case02.nii.gz").write_bytes(b"not a NIfTI volume at all"), 1,
                         "raw/case02.nii.gz", 3),
    "MASK_SHAPE_MISMATCH": (lambda s: write_nifti(s / "raw/case01_seg.nii.gz", np.zeros((8, 8, 3), np.int16)), 1,
                            "raw/case01_seg.nii.gz", 2),
    # found while the volumes are copied (the scrub rewrites a gzip with a name, and refuses what it would strip)
    "IMAGE_TRAILING_DATA": (lambda s: write_nifti(s / "raw/case02.nii.gz", ct_volume(seed=2), trailing=b"Ivanov " * 9,
                                                  gzip_name="case02.nii"), 1, "raw/case02.nii.gz", None),
}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.replace(" ", "-"))
def test_each_source_problem_is_a_finding_with_its_exit_code_and_nothing_is_written(tmp_path: Path,
                                                                                      case: str) -> None:
    change, exit_code, path, row = CASES[case]
    source = make_source(tmp_path / "src")
    change(source)
    before = snapshot(source)
    report = build_report(source, tmp_path / "out", exit_code=exit_code)
    code = case.split()[0]
    assert flatten(report, ["code", "path", "severity"]) == [[code, path, "error"]]
    assert report["findings"][0]["context"].get("row") == row
    assert (report["root"], report["profile"], report["valid"], report["counts"]["error"]) == (str(source), "mosmed",
                                                                                               False, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]   # no OUT, no staging folder, no lock left
    assert snapshot(source) == before


def test_every_build_code_is_emitted_by_the_source_checks_and_tested_here() -> None:
    used = set(re.findall(r'make_finding\(\s*"([A-Z_]+)"', SOURCE_PROBLEMS.read_text(encoding="utf-8")))
    assert used == set(CODES)
    assert {case.split()[0] for case in CASES} == set(CODES)


def test_problems_of_the_card_and_of_the_data_are_told_in_one_run_with_exit_2(tmp_path: Path) -> None:
    """A card that cannot be used does not hide the data's problems: both in one report; the card makes it exit 2."""
    source = make_source(tmp_path / "src")
    _card(source, licence="Proprietary-1.0", version="1")
    (source / "raw/case02.nii.gz").unlink()
    write_nifti(source / "raw/case03_seg.nii.gz", np.zeros((8, 8, 5), np.int16))
    report = build_report(source, tmp_path / "out", exit_code=2)
    assert sorted(flatten(report, ["code", "path"])) == [
        ["BUILD_CARD_INVALID", "dataset.yaml"], ["BUILD_LICENCE_UNKNOWN", "dataset.yaml"],
        ["FILE_MISSING", "raw/case02.nii.gz"], ["MASK_SHAPE_MISMATCH", "raw/case03_seg.nii.gz"]]
    assert report["counts"] == {"error": 4, "warning": 0, "info": 0}
    assert not (tmp_path / "out").exists()


def test_an_unknown_licence_does_not_hide_a_row_of_an_undeclared_category(tmp_path: Path) -> None:
    source = make_source(tmp_path / "src")
    _card(source, licence="Proprietary-1.0")
    _table(source, lambda t: t.replace("case04.nii.gz,CT-2", "case04.nii.gz,CT-8"))
    report = build_report(source, tmp_path / "out", exit_code=2)
    assert flatten(report, ["code", "path"]) == [["BUILD_CATEGORY_UNDECLARED", "studies.csv"],
                                                 ["BUILD_LICENCE_UNKNOWN", "dataset.yaml"]]


def test_bad_rows_do_not_hide_the_problems_of_the_good_rows(tmp_path: Path) -> None:
    """Regression: an invalid row used to make the whole table one error, so a missing file on another row was
    told only in the next run."""
    source = make_source(tmp_path / "src")
    _table(source, lambda t: t.replace(",M,30,", ",X,30,").replace("CT-2,F,61", "CT-2,F,-4"))
    (source / "raw/case06.nii.gz").unlink()
    report = build_report(source, tmp_path / "out", exit_code=1)
    assert flatten(report, ["code", "path", "row"]) == [["BUILD_ROW_INVALID", "studies.csv", None]] * 2 + [
        ["FILE_MISSING", "raw/case06.nii.gz", None]]
    assert [f["context"]["row"] for f in report["findings"]] == [3, 5, 7]
    assert "sex: Input should be 'M', 'F' or 'O'" in report["findings"][0]["message"]


def test_a_failed_deep_validation_names_the_source_file(tmp_path: Path) -> None:
    """The stage's findings are about the source file the volume was made from; the release name is kept in the
    context (it was a string naming both)."""
    source = make_source(tmp_path / "src")
    write_nifti(source / "raw/case03_seg.nii.gz", (np.arange(8 * 8 * 4) % 5).reshape((8, 8, 4)).astype(np.int16))
    report = build_report(source, tmp_path / "out", exit_code=1)
    (finding,) = [f for f in report["findings"] if f["code"] == "MASK_VALUES_UNEXPECTED"]
    assert finding["path"] == "raw/case03_seg.nii.gz"
    assert re.fullmatch(r"masks/study_\d{4}_mask\.nii\.gz", finding["context"]["release_path"])
    assert "raw/case03_seg.nii.gz" in finding["message"] and "masks/" not in finding["message"]
    assert not (tmp_path / "out").exists()


def test_text_lists_every_problem_with_its_code_and_stderr_says_nothing_was_written(tmp_path: Path) -> None:
    source = make_source(tmp_path / "src")
    for name in ("case02", "case04", "case05"):
        (source / f"raw/{name}.nii.gz").unlink()
    result = CliRunner().invoke(main, ["build", str(source), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "ERROR FILE_MISSING (3): Listed file is missing" in result.stdout
    for line, name in ((3, "case02"), (5, "case04"), (6, "case05")):   # all three, no "... and 1 more"
        assert f"raw/{name}.nii.gz is listed in studies.csv line {line} but is not in the build source" in result.stdout
    assert "more (--verbose" not in result.stdout
    assert f"build {source}: NOT BUILT: 3 errors" in result.stdout
    assert result.stderr == "curator build: the source has 3 problem(s); nothing was written\n"


def test_sarif_junit_and_github_go_to_their_outputs(tmp_path: Path) -> None:
    source = make_source(tmp_path / "src")
    (source / "raw/case02.nii.gz").unlink()
    _table(source, lambda t: t.replace("case04.nii.gz,CT-2", "case04.nii.gz,CT-7"))
    reports = tmp_path / "reports"
    reports.mkdir()
    result = CliRunner().invoke(main, ["build", str(source), str(tmp_path / "out"), "--format", "sarif", "-o",
                                       str(reports / "build.sarif"), "--format", "junit", "-o",
                                       str(reports / "build.xml"), "--format", "github"])
    assert result.exit_code == 1, result.output
    sarif = json.loads((reports / "build.sarif").read_text(encoding="utf-8"))
    assert_sarif_valid(sarif)
    assert sorted(r["ruleId"] for r in sarif["runs"][0]["results"]) == ["BUILD_CATEGORY_UNDECLARED", "FILE_MISSING"]
    suite = ET.parse(reports / "build.xml").getroot()
    assert suite.get("failures") == "2"
    assert re.search(r"^::error file=[^\n]*raw/case02\.nii\.gz[^\n]*::", result.stdout, re.M)
    assert not (tmp_path / "out").exists()


def test_a_built_release_is_reported_when_a_format_is_asked(tmp_path: Path) -> None:
    source = make_source(tmp_path / "src")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", str(source), str(out), "--format", "json", "-o",
                                       str(tmp_path / "build.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "build.json").read_text(encoding="utf-8"))
    assert_report_valid(report)
    assert (report["root"], report["valid"], report["counts"]["error"]) == (str(out.absolute()), True, 0)
    assert report["stats"]["files"] == len([p for p in out.rglob("*") if p.is_file()])
    assert result.stdout.startswith(f"built {out.absolute()}: 8 studies")


@pytest.mark.parametrize("where", ["out/report.json", "src/report.json"])
def test_a_report_into_the_release_or_the_source_is_refused_before_building(tmp_path: Path, where: str) -> None:
    source = make_source(tmp_path / "src")
    before = snapshot(source)
    result = CliRunner().invoke(main, ["build", str(source), str(tmp_path / "out"), "--format", "json", "-o",
                                       str(tmp_path / where)])
    assert result.exit_code == 2, result.output
    assert "write it elsewhere" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"] and snapshot(source) == before


def test_outputs_that_do_not_pair_with_formats_are_refused_before_building(tmp_path: Path) -> None:
    source = make_source(tmp_path / "src")
    result = CliRunner().invoke(main, ["build", str(source), str(tmp_path / "out"), "--format", "json", "-o",
                                       str(tmp_path / "a.json"), "-o", str(tmp_path / "b.json")])
    assert result.exit_code == 2 and "pair each output with a format" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_the_api_raises_one_error_carrying_the_report(tmp_path: Path) -> None:
    source = make_source(tmp_path / "src")
    (source / "raw/case02.nii.gz").unlink()
    (source / "raw/case03.nii.gz").write_bytes(gzip_member(nifti_bytes(ct_volume(seed=3)), name=b"x" * (2 << 20)))
    with pytest.raises(SourceProblemsError, match=r"the source has 2 problem\(s\); nothing was written") as caught:
        build(source, tmp_path / "out")
    assert int(caught.value.exit_code) == 1
    assert sorted(caught.value.report.flatten(["code", "path"])) == [["FILE_MISSING", "raw/case02.nii.gz"],
                                                                     ["IMAGE_UNREADABLE", "raw/case03.nii.gz"]]
    assert caught.value.problems[0].startswith("FILE_MISSING: raw/case02.nii.gz is listed in studies.csv line 3")


def test_a_table_of_ten_thousand_missing_files_is_reported_within_bounds(tmp_path: Path) -> None:
    """Every row is a finding (no cap), yet time and memory stay bounded: measured 2.7 s and 136 MB."""
    from tests.hostile import run_bounded

    source = make_source(tmp_path / "src")
    rows = "".join(f"raw/none{i:06d}.nii.gz,CT-1,F,40,\n" for i in range(10_000))
    (source / "studies.csv").write_text("study,category,sex,age,mask\n" + rows, encoding="utf-8")
    before = snapshot(tmp_path)
    run = run_bounded(["build", "src", "out", "--format", "json"], cwd=tmp_path, timeout=120)
    run.assert_bounded(exit_code=1, seconds=30, megabytes=250)
    report = run.report()
    assert report["counts"]["error"] == 10_000 and {f["code"] for f in report["findings"]} == {"FILE_MISSING"}
    assert snapshot(tmp_path) == before
