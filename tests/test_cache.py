"""The persistent cache: a rerun over an unchanged release reads nothing again; any change is noticed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from curator.cli.main import main
from curator.io import hashing, nifti
from curator.validate import ValidateOptions, validate
from curator.verify import verify
from tests.factories import flip_byte


def test_second_validate_reads_no_file(release: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    first = validate(release, ValidateOptions(cache_dir=cache, jobs=1))
    assert first.valid and first.stats.model_extra["cache"]["hits"] == 0
    reads: list[str] = []
    real_hash, real_header = hashing.hash_file, nifti.read_header
    monkeypatch.setattr("curator.digests.hash_file", lambda p, a: reads.append(str(p)) or real_hash(p, a))
    monkeypatch.setattr("curator.validate.read_header", lambda p: reads.append(str(p)) or real_header(p))
    second = validate(release, ValidateOptions(cache_dir=cache, jobs=1))
    assert second.valid and reads == [] and second.stats.model_extra["cache"]["misses"] == 0
    flip_byte(release / "studies/CT-0/study_0001.nii.gz")
    third = validate(release, ValidateOptions(cache_dir=cache, jobs=1))
    assert {(f.code, f.path) for f in third.findings} == {("CHECKSUM_MISMATCH", "studies/CT-0/study_0001.nii.gz")}
    assert sorted(set(reads)) == [str(release / "studies/CT-0/study_0001.nii.gz")]


def test_verify_only_refetch_and_cache_clear(release: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    flip_byte(release / "masks/study_0003_mask.nii.gz")
    (release / "studies/CT-2/study_0006.nii.gz").unlink()
    report = verify(release, cache_dir=cache)
    assert report.stats.model_extra["refetch"] == ["masks/study_0003_mask.nii.gz", "studies/CT-2/study_0006.nii.gz"]
    masks_only = verify(release, cache_dir=cache, only=("masks/*",))
    assert masks_only.stats.model_extra["listed"] == 2
    assert masks_only.stats.model_extra["refetch"] == ["masks/study_0003_mask.nii.gz"]
    assert masks_only.stats.model_extra["cache"]["misses"] == 0
    result = CliRunner().invoke(main, ["verify", str(release), "--cache-dir", str(cache)])
    assert result.exit_code == 1 and result.output.strip().splitlines()[-1] == (
        "fetch again (2): masks/study_0003_mask.nii.gz studies/CT-2/study_0006.nii.gz")
    cleared = CliRunner().invoke(main, ["cache", "clear", "--cache-dir", str(cache)])
    assert cleared.exit_code == 0 and not list(cache.glob("*.sqlite"))
    json_report = json.loads(CliRunner().invoke(main, ["verify", str(release), "--no-cache", "--format",
                                                       "json"]).output)
    assert "cache" not in json_report["stats"]
