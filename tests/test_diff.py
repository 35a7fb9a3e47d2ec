"""`curator diff`: repackaging vs changed data, mask Dice, registry rows, SemVer advice."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
from click.testing import CliRunner

from curator.cli.main import main
from curator.diff import diff_releases
from tests.factories import write_nifti


def copy(built_release: Path, tmp_path: Path) -> Path:
    new = tmp_path / "new"
    shutil.copytree(built_release, new)
    return new


def test_identical_releases(built_release: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["diff", str(built_release), str(copy(built_release, tmp_path))])
    assert result.exit_code == 0 and "semver: NONE" in result.output


def test_regzipped_release_is_repackaging(built_release: Path, tmp_path: Path) -> None:
    new = copy(built_release, tmp_path)
    path = new / "studies/CT-0/study_0001.nii.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()), compresslevel=1, mtime=12345))
    diff = diff_releases(built_release, new)
    assert [(c.path, c.kind) for c in diff.changed] == [("studies/CT-0/study_0001.nii.gz", "repackaged")]
    assert diff.bump == "PATCH"


def test_changed_mask_reports_dice_and_is_major(built_release: Path, tmp_path: Path) -> None:
    new = copy(built_release, tmp_path)
    path = new / "masks/study_0003_mask.nii.gz"
    image = nib.load(path)
    data = np.asarray(image.dataobj).copy()
    data[2:5, 2:5, 1] = 0                 # 9 of the 18 lesion voxels removed
    write_nifti(path, data, image.affine)
    result = CliRunner().invoke(main, ["diff", str(built_release), str(new), "--format", "json"])
    report = json.loads(result.output)
    (change,) = [c for c in report["changed"] if c["path"] == "masks/study_0003_mask.nii.gz"]
    assert change["kind"] == "mask changed" and change["old_voxels"] == 18 and change["new_voxels"] == 9
    assert change["dice"] == round(2 * 9 / 27, 4) and report["semver"] == "MAJOR"


def test_added_study_is_minor_and_markdown_changelog(built_release: Path, tmp_path: Path) -> None:
    new = copy(built_release, tmp_path)
    shutil.copyfile(new / "studies/CT-0/study_0001.nii.gz", new / "studies/CT-0/study_0009.nii.gz")
    with (new / "dataset_registry.csv").open("a", encoding="utf-8", newline="") as handle:
        handle.write("9,CT-0,/studies/CT-0/study_0009.nii.gz,\r\n")
    (new / "dataset_registry.xlsx").unlink()
    (built := tmp_path / "old").mkdir()
    shutil.copytree(built_release, built, dirs_exist_ok=True)
    (built / "dataset_registry.xlsx").unlink()
    diff = diff_releases(built, new)
    assert diff.registry == {"added": [9]} and diff.bump == "MINOR"
    text = CliRunner().invoke(main, ["diff", str(built), str(new), "--format", "markdown"]).output
    assert "Suggested version bump: **MINOR**" in text and "- studies/CT-0/study_0009.nii.gz\n" in text
    assert "- 1 row added (study_id 9)" in text
    plain = CliRunner().invoke(main, ["diff", str(built), str(new)]).output
    assert "  registry: 1 row added (study_id 9)\n" in plain     # was "registry rows added: 9", read as nine rows
