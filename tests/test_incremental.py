"""--changed-since: a pull request's CI reads the files it changed and the dataset-level files, nothing else."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from curator.cli.main import main
from curator.io import hashing, nifti
from tests.factories import flip_byte
from tests.reports import assert_sarif_valid


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(built_release: Path, tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    repo = tmp_path / "dataset"
    shutil.copytree(built_release, repo / "release")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "-c", "user.email=ci@example.org", "-c", "user.name=CI", "add", ".")
    git(repo, "-c", "user.email=ci@example.org", "-c", "user.name=CI", "commit", "-qm", "release 1.0.0")
    git(repo, "checkout", "-q", "-b", "change")
    return repo


def test_only_the_changed_study_and_the_dataset_files_are_read(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = repo / "release"
    flip_byte(release / "studies/CT-0/study_0001.nii.gz")
    reads: list[str] = []
    real_hash, real_header = hashing.hash_file, nifti.read_header
    monkeypatch.setattr("curator.root_and_hashes.hash_file",
                        lambda p, a: reads.append(Path(p).relative_to(release).as_posix()) or real_hash(p, a))
    monkeypatch.setattr("curator.validate.read_header",
                        lambda p: reads.append(Path(p).relative_to(release).as_posix()) or real_header(p))
    result = CliRunner().invoke(main, ["validate", str(release), "--changed-since", "main", "--format", "sarif",
                                       "--no-cache"])
    assert result.exit_code == 1, result.output
    dataset_level = {p.name for p in release.iterdir() if p.is_file() and p.name not in ("SHA256SUMS", "MD5SUMS")}
    assert {"README_EN.md", "dataset_registry.xlsx", "LICENSE"} <= dataset_level
    assert set(reads) == {"studies/CT-0/study_0001.nii.gz", *dataset_level}
    sarif = json.loads(result.output)
    assert_sarif_valid(sarif)
    results = sarif["runs"][0]["results"]
    assert {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]) for r in results} == {
        ("CHECKSUM_MISMATCH", "studies/CT-0/study_0001.nii.gz")}
    github = CliRunner().invoke(main, ["validate", str(release), "--changed-since", "main", "--format", "github"])
    assert len(github.output.strip().splitlines()) == len(results)


def test_unknown_ref_or_no_repository_is_a_usage_error(repo: Path, built_release: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(repo / "release"), "--changed-since", "no-such-branch"])
    assert result.exit_code == 2
    outside = CliRunner().invoke(main, ["validate", str(built_release), "--changed-since", "main"])
    assert outside.exit_code == 2 and "git" in outside.output
