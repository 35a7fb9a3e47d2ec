"""``curator fetch s3://bucket/prefix`` against the moto S3 server of tests/servers.py (issue 17, part 2): every
object fetched with its ChecksumSHA256 compared while it streams, a .part resumed with a ranged GET of the
remainder only, a damaged object named, DEST verified."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from curator.cli.main import main
from curator.cli.verify import run as verify_run
from curator.fetch.remote_sources import s3_plan
from tests.factories import large_file_release
from tests.release_extras import finish_release
from tests.servers import S3Server

STUDY = "studies/CT-1/study_0004.nii.gz"


def _upload(s3: S3Server, bucket: str, root: Path, prefix: str, *, checksum: bool = True) -> None:
    client = s3.client()
    client.create_bucket(Bucket=bucket)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        extra = {"ChecksumAlgorithm": "SHA256"} if checksum else {}
        client.put_object(Bucket=bucket, Key=f"{prefix}/{path.relative_to(root).as_posix()}", Body=path.read_bytes(),
                          **extra)
    s3.reset()


def _fetch(*args: str, exit_code: int) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["fetch", *args, "--no-cache", "--format", "json"])
    assert result.exit_code == exit_code, result.output
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


def test_a_release_in_s3_is_fetched_with_its_sha256_checksums_compared(
        s3_environment: S3Server, built_release: Path, tmp_path: Path) -> None:
    _upload(s3_environment, "fetch-whole", built_release, "releases/v1")
    dest = tmp_path / "dest"
    document = _fetch("s3://fetch-whole/releases/v1", str(dest), exit_code=0)
    files = {f["path"]: f for f in document["files"]}
    on_disk = sorted(p.relative_to(built_release).as_posix() for p in built_release.rglob("*") if p.is_file())
    assert sorted(files) == on_disk
    study = (built_release / STUDY).read_bytes()
    assert files[STUDY]["digests"]["sha256"] == hashlib.sha256(study).hexdigest()
    assert {f["status"] for f in files.values()} == {"fetched"}
    assert s3_environment.counters()["by_key"][f"/fetch-whole/releases/v1/{STUDY}"] == len(study)
    assert document["verify"]["valid"] is True
    assert verify_run([str(dest), "--no-cache"]) == 0
    # the checksum compared while streaming is the store's own ChecksumSHA256
    item = next(i for i in s3_plan("s3://fetch-whole/releases/v1").items if i.rel == STUDY)
    assert (item.digests, item.where, item.size) == ({"sha256": hashlib.sha256(study).hexdigest(),
                                                      "md5": hashlib.md5(study).hexdigest()},
                                                     "S3 ChecksumSHA256", len(study))


def test_an_s3_part_is_resumed_with_a_ranged_get_of_the_remainder(s3_environment: S3Server, tmp_path: Path) -> None:
    source = tmp_path / "source"
    rel = large_file_release(source, 1 << 20)
    _upload(s3_environment, "fetch-resume", source, "r")
    dest = tmp_path / "dest"
    (dest / "data").mkdir(parents=True)
    data = (source / rel).read_bytes()
    (dest / (rel + ".part")).write_bytes(data[:300_000])
    document = _fetch("s3://fetch-resume/r", str(dest), exit_code=0)
    resumed = next(f for f in document["files"] if f["path"] == rel)
    assert (resumed["status"], resumed["received"]) == ("resumed", len(data) - 300_000)
    assert s3_environment.counters()["by_key"][f"/fetch-resume/r/{rel}"] == len(data) - 300_000
    assert (dest / rel).read_bytes() == data


def test_an_object_damaged_in_s3_is_named_and_exit_1(s3_environment: S3Server, tmp_path: Path) -> None:
    """The object was replaced by a damaged copy (its store checksums are of the damaged bytes): the release's own
    SHA256SUMS names it when DEST is verified."""
    source = tmp_path / "source"
    rel = large_file_release(source, 50_000)
    data = bytearray((source / rel).read_bytes())
    data[100] ^= 0xFF
    _upload(s3_environment, "fetch-damaged", source, "r")
    s3_environment.client().put_object(Bucket="fetch-damaged", Key=f"r/{rel}", Body=bytes(data))
    result = CliRunner().invoke(main, ["fetch", "s3://fetch-damaged/r", str(tmp_path / "dest"), "--no-cache"])
    assert result.exit_code == 1, result.output
    assert "CHECKSUM_MISMATCH" in result.output and f"fetch again (1): {rel}" in result.output


def test_a_missing_bucket_cannot_run(s3_environment: S3Server, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["fetch", "s3://no-such-bucket-here/r", str(tmp_path / "dest")])
    assert result.exit_code == 3, result.output
    assert "no-such-bucket-here" in result.output and "Traceback" not in result.output


def test_publish_then_an_interrupted_fetch_resumes_and_dest_is_intact(s3_environment: S3Server,
                                                                       release: Path, tmp_path: Path) -> None:
    """The issue's round trip on the local S3 server: ``curator publish`` puts the release there (a multipart
    object among its files), a fetch is interrupted mid-file, the rerun takes only the remainder, DEST verifies."""
    large = "supplement/large.bin"
    (release / "supplement").mkdir()
    (release / large).write_bytes(hashlib.shake_256(b"round trip").digest(6 * (1 << 20) + 4321))
    finish_release(release)
    s3_environment.client().create_bucket(Bucket="round-trip")
    published = CliRunner().invoke(main, ["publish", str(release), "--to", "s3://round-trip/covid/v1"])
    assert published.exit_code == 0, published.output
    dest = tmp_path / "dest"
    data = (release / large).read_bytes()
    (dest / "supplement").mkdir(parents=True)
    (dest / (large + ".part")).write_bytes(data[:2_000_000])   # what an interrupted fetch left
    s3_environment.reset()
    document = _fetch("s3://round-trip/covid/v1", str(dest), exit_code=0)
    resumed = next(f for f in document["files"] if f["path"] == large)
    assert (resumed["status"], resumed["received"]) == ("resumed", len(data) - 2_000_000)
    assert s3_environment.counters()["by_key"][f"/round-trip/covid/v1/{large}"] == len(data) - 2_000_000
    assert document["verify"]["valid"] is True
    assert verify_run([str(dest), "--no-cache"]) == 0
