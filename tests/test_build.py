"""`curator build`: a MosMed-faithful release, reproducible, checkable without curator, never half-written."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import openpyxl
import pytest
import yaml
from click.testing import CliRunner

from curator.cli.main import main
from curator.errors import BuildError, ExitCode
from curator.release import build
from tests.factories import card_data, make_source, write_nifti


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_follows_mosmed(built_release: Path) -> None:
    names = set(tree_digest(built_release))
    assert {"README_EN.md", "README_RU.md", "LICENSE", "dataset_registry.xlsx", "dataset_registry.csv",
            "SHA256SUMS", "MD5SUMS", "dataset.yaml"} <= names
    studies = sorted(n for n in names if n.startswith("studies/"))
    assert studies == [
        "studies/CT-0/study_0001.nii.gz", "studies/CT-0/study_0002.nii.gz",
        "studies/CT-1/study_0003.nii.gz", "studies/CT-1/study_0004.nii.gz", "studies/CT-1/study_0005.nii.gz",
        "studies/CT-2/study_0006.nii.gz", "studies/CT-3/study_0007.nii.gz", "studies/CT-4/study_0008.nii.gz",
    ]
    assert sorted(n for n in names if n.startswith("masks/")) == [
        "masks/study_0003_mask.nii.gz", "masks/study_0004_mask.nii.gz"]


def test_registry_is_faithful_to_the_real_one(built_release: Path) -> None:
    book = openpyxl.load_workbook(built_release / "dataset_registry.xlsx")
    assert book.sheetnames == ["TestData TEST_0008"]
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[0] == ("study_id", "category", "study_file", "mask_file")
    assert rows[1] == (1, "CT-0", "/studies/CT-0/study_0001.nii.gz", None)
    assert rows[3] == (3, "CT-1", "/studies/CT-1/study_0003.nii.gz", "/masks/study_0003_mask.nii.gz")
    assert book.properties.creator == "curator" and book.properties.lastModifiedBy is None
    raw = (built_release / "dataset_registry.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfstudy_id,category,study_file,mask_file\r\n")
    assert b"\r\n1,CT-0,/studies/CT-0/study_0001.nii.gz,\r\n" in raw
    assert list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))[1:] == [
        [str(c) if c is not None else "" for c in row] for row in rows[1:]]


def test_studies_keep_their_voxels_and_lose_their_gzip_names(built_release: Path, tmp_path: Path) -> None:
    source = make_source(tmp_path / "src")
    original = nib.load(source / "raw/case01.nii.gz")      # CT-1, with mask: becomes study 3
    copied = nib.load(built_release / "studies/CT-1/study_0003.nii.gz")
    assert np.array_equal(np.asarray(original.dataobj), np.asarray(copied.dataobj))
    assert np.allclose(original.affine, copied.affine)
    head = (built_release / "studies/CT-1/study_0003.nii.gz").read_bytes()[:10]
    assert head[3] == 0 and head[4:8] == b"\x00\x00\x00\x00"   # no FNAME/FCOMMENT flag, mtime 0
    with gzip.open(source / "raw/case01.nii.gz") as a, gzip.open(built_release / "studies/CT-1/study_0003.nii.gz") as b:
        assert a.read() == b.read()


def test_manifests_pass_coreutils(built_release: Path) -> None:
    if shutil.which("sha256sum") is None:
        pytest.skip("coreutils sha256sum not installed")
    for tool, manifest in (("sha256sum", "SHA256SUMS"), ("md5sum", "MD5SUMS")):
        result = subprocess.run([tool, "-c", "--strict", manifest], cwd=built_release, capture_output=True,
                                text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.count(": OK") == len(tree_digest(built_release)) - 2
    listed = [line.split("  ", 1)[1] for line in (built_release / "SHA256SUMS").read_text().splitlines()]
    assert listed == sorted(listed) and "SHA256SUMS" not in listed and "MD5SUMS" not in listed


def test_readmes_state_numbers_computed_from_the_data(built_release: Path) -> None:
    english = (built_release / "README_EN.md").read_text(encoding="utf-8")
    russian = (built_release / "README_RU.md").read_text(encoding="utf-8")
    for text in (english, russian):
        assert "2/ 3/ 1/ 1/ 1" in text          # studies per category CT-0..CT-4
        assert "25/ 51/ 88" in text             # age min/median/max: median of 8 ages is (47 + 55) / 2
        assert "38/ 50/ 12" in text             # sex M/F/O %: 3 M, 4 F, 1 O -> 37.5/50/12.5 rounded to 100
        assert "Doe, Jane" in text or "Доу, Джейн" in text
    assert "Test chest CT" in english and "Тестовые КТ грудной клетки" in russian
    licence = (built_release / "LICENSE").read_text(encoding="utf-8")
    assert "Attribution-NonCommercial-NoDerivs 3.0 Unported" in licence


def test_build_is_reproducible(built_release: Path, tmp_path: Path) -> None:
    source = make_source(tmp_path / "src")
    again = tmp_path / "again"
    build(source, again, jobs=2)
    assert tree_digest(again) == tree_digest(built_release)
    with zipfile.ZipFile(again / "dataset_registry.xlsx") as book:
        assert {info.date_time for info in book.infolist()} == {(2026, 1, 15, 0, 0, 0)}


def test_source_is_never_modified(tmp_path: Path) -> None:
    source = make_source(tmp_path / "src")
    before = tree_digest(source)
    build(source, tmp_path / "out")
    assert tree_digest(source) == before


def test_bad_sources_give_clear_errors_and_write_nothing(tmp_path: Path) -> None:
    runner = CliRunner()
    source = make_source(tmp_path / "src")
    out = tmp_path / "out"
    # a mask on another grid: source data problem, exit 1
    write_nifti(source / "raw/case01_seg.nii.gz", np.zeros((8, 8, 3), dtype=np.int16))
    result = runner.invoke(main, ["build", str(source), str(out)])
    assert result.exit_code == 1, result.output
    assert "case01_seg.nii.gz has grid [8, 8, 3]" in result.output and "Traceback" not in result.output
    assert not out.exists() and not list(tmp_path.glob(".out.partial-*"))
    # a study file that is missing, and one pointing outside the source
    source = make_source(tmp_path / "src2")
    (source / "raw/case02.nii.gz").unlink()
    table = (source / "studies.csv").read_text().replace("raw/case03.nii.gz", "../outside.nii.gz")
    (source / "studies.csv").write_text(table)
    result = runner.invoke(main, ["build", str(source), str(out)])
    assert result.exit_code == 1
    assert "raw/case02.nii.gz is listed in studies.csv line 3 but is not in the build source" in result.output
    assert "points outside the source folder" in result.output
    # configuration problems: exit 2
    source = make_source(tmp_path / "src3", card=card_data(licence="Proprietary-1.0"))
    result = runner.invoke(main, ["build", str(source), str(out)])
    assert result.exit_code == 2 and "known SPDX ids" in result.output
    (source / "dataset.yaml").write_text(yaml.safe_dump(card_data()), encoding="utf-8")
    (source / "studies.csv").write_text("study,category\nraw/case01.nii.gz,CT-9\n")
    result = runner.invoke(main, ["build", str(source), str(out)])
    assert result.exit_code == 1 and "the category CT-9 is not declared" in result.output
    result = runner.invoke(main, ["build", str(tmp_path / "missing"), str(out)])
    assert result.exit_code == 2 and "is not a folder" in result.output
    assert not out.exists()


def test_build_errors_name_the_contract_exit_code(tmp_path: Path) -> None:
    """Issue 13 item 6: a build error says by name which exit code of the contract it maps to."""
    assert [(code.name, int(code)) for code in ExitCode] == [("VALID", 0), ("INVALID", 1), ("USAGE", 2),
                                                             ("CANNOT_RUN", 3)]
    configuration = make_source(tmp_path / "card", card=card_data(licence="Proprietary-1.0"))
    with pytest.raises(BuildError, match="dataset card has 1 problem") as caught:
        build(configuration, tmp_path / "out")
    assert caught.value.exit_code is ExitCode.USAGE
    data = make_source(tmp_path / "data")
    (data / "raw/case02.nii.gz").unlink()
    with pytest.raises(BuildError, match="the source has 1 problem") as caught:
        build(data, tmp_path / "out")
    assert caught.value.exit_code is ExitCode.INVALID
    assert not (tmp_path / "out").exists()


def test_every_card_problem_is_told_in_one_run_with_exit_2(tmp_path: Path) -> None:
    """Field errors, cross-field rules (checked by pydantic only once the fields pass), a language without a
    README template and a licence without a text: all at once, not one per run."""
    card = card_data(version="not-semver", languages=["en", "ru", "de"], licence="CC-BY-9.9")
    card["contributors"][0]["affiliations"] = [7]
    source = make_source(tmp_path / "src", card=card)
    result = CliRunner().invoke(main, ["build", str(source), str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "the dataset card has 5 problem(s)" in result.output
    for words in ("dataset.yaml cannot be used: version: String should match pattern", "title has no 'de'",
                  "refers to unknown affiliations [7]", "no README template for language 'de'",
                  "declares the licence CC-BY-9.9, which has no legal text"):
        assert words in result.output, words
    assert not (tmp_path / "out").exists()


def test_a_card_with_odd_value_types_is_told_not_a_crash(tmp_path: Path) -> None:
    card = card_data(languages=["en", 7, ["ru"]])
    card["affiliations"][0]["id"] = [1]            # unhashable where an id belongs
    card["categories"][0]["id"] = {"x": 1}
    card["contributors"][0]["affiliations"] = ["one", 2]
    source = make_source(tmp_path / "src", card=card)
    result = CliRunner().invoke(main, ["build", str(source), str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "affiliations.0.id" in result.output
    assert "refers to unknown affiliations [2]" in result.output


def test_a_bad_studies_table_is_bad_source_data_exit_1(tmp_path: Path) -> None:
    source = make_source(tmp_path / "src")
    (source / "studies.csv").write_text("study,kategorie\nraw/case01.nii.gz,CT-1\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["build", str(source), str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert "columns must be" in result.output and "Traceback" not in result.output


def test_existing_output_needs_force(tmp_path: Path, built_release: Path) -> None:
    source = make_source(tmp_path / "src")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = CliRunner().invoke(main, ["build", str(source), str(out)])
    assert result.exit_code == 2 and "--force" in result.output
    assert (out / "keep.txt").read_text() == "mine"
    result = CliRunner().invoke(main, ["build", str(source), str(out), "--force"])
    assert result.exit_code == 0, result.output
    assert "8 studies" in result.output and tree_digest(out) == tree_digest(built_release)


def test_a_small_release_is_described_as_it_is(tmp_path: Path) -> None:
    """Two studies, both CT-1, one of unknown sex: '2 studies, 1 mask', a tree with only the CT-1 folder, and the
    sex shares say they are of the one study whose sex is known (not a bare '100/ 0/ 0')."""
    source = make_source(tmp_path / "src", studies=[("CT-1", "F", 40, True), ("CT-1", "", 50, False)])
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", str(source), str(out)])
    assert result.exit_code == 0, result.output
    assert "2 studies (CT-0 0, CT-1 2, CT-2 0, CT-3 0, CT-4 0), 1 mask," in result.output
    english = (out / "README_EN.md").read_text(encoding="utf-8")
    russian = (out / "README_RU.md").read_text(encoding="utf-8")
    tree = english.split("## Data Structure", 1)[1] if "## Data Structure" in english else english
    assert "|-- CT-0" not in tree and "CT-2" not in tree.split("```")[1] and "`-- CT-1" in tree
    assert "directory contains a directory named `CT-1` (for more" in english
    assert "| 0/ 100/ 0 |" in english
    assert "Sex is known for 1 of 2 studies; the shares by sex are of those." in english
    assert "Пол известен для 1 из 2 исследований; доли по полу указаны от них." in russian
