"""``curator publish``: the gate, the plan, resumable uploads and the server-side checksum comparison, on a real
S3-compatible server (moto, tests/servers.py) and on a stand-in of Zenodo's documented deposit API
(tests/zenodo_standin.py, which cites https://developers.zenodo.org/)."""

from __future__ import annotations

import hashlib
import json
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from curator.cli.main import main
from curator.publish.run import PublishOptions, publish
from curator.publish.s3 import S3Target
from curator.publish.target import PlannedFile, Progress
from tests.factories import flip_byte
from tests.hostile import CURATOR, run_bounded, snapshot
from tests.release_extras import finish_release
from tests.servers import S3Server
from tests.zenodo_standin import ZenodoStandin

TOKEN = "zen-TOKEN-1f2e3d4c5b6a-secret"
MiB = 2**20
PART = 5 * MiB


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["publish", *args])


def bucket(s3: S3Server, name: str) -> str:
    """A new bucket of this module's own (the session's S3 server is shared: test_remote has a "damaged" too)."""
    name = f"publish-{name}"
    s3.client().create_bucket(Bucket=name)
    return name


def with_large_file(release: Path, size: int = 12 * MiB + 12345) -> Path:
    """The release with a file large enough for a multipart upload of 5 MiB parts, in its manifests."""
    (release / "supplement").mkdir()
    (release / "supplement" / "large.bin").write_bytes(hashlib.shake_256(b"large").digest(size))
    return finish_release(release)


def release_bytes(release: Path) -> int:
    return sum(p.stat().st_size for p in release.rglob("*") if p.is_file())


@pytest.fixture
def zenodo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ZenodoStandin]:
    monkeypatch.setenv("CURATOR_ZENODO_TOKEN", TOKEN)
    monkeypatch.setenv("CURATOR_CREDENTIALS", str(tmp_path / "no-credentials.toml"))
    with ZenodoStandin(TOKEN) as standin:
        yield standin


# ------------------------------------------------------------------------------------------------- S3


def test_s3_dry_run_prints_the_plan_and_sends_nothing(release: Path, s3_environment: S3Server) -> None:
    result = run(str(release), "--to", "s3://nothing-here/rel", "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    files = {f["path"]: f for f in report["files"]}
    sums = dict(line.split("  ")[::-1] for line in (release / "SHA256SUMS").read_text().splitlines())
    assert files["studies/CT-1/study_0003.nii.gz"]["sha256"] == sums["studies/CT-1/study_0003.nii.gz"]
    assert report["bytes"] == release_bytes(release)
    assert report["metadata"]["object_metadata"]["curator-version"] == "1.0.0"
    assert report["uploaded"] == []
    assert s3_environment.counters()["requests"] == {}


def test_s3_publish_then_rerun_skips_everything(release: Path, s3_environment: S3Server) -> None:
    name = bucket(s3_environment, "skip")
    first = run(str(release), "--to", f"s3://{name}/covid/v1")
    assert first.exit_code == 0, first.output
    keys = {o["Key"] for o in s3_environment.client().list_objects_v2(Bucket=name)["Contents"]}
    assert "covid/v1/studies/CT-1/study_0003.nii.gz" in keys and "covid/v1/SHA256SUMS" in keys
    head = s3_environment.client().head_object(Bucket=name, Key="covid/v1/LICENSE", ChecksumMode="ENABLED")
    assert head["Metadata"]["curator-code"] == "TEST_0008"
    s3_environment.reset()
    again = run(str(release), "--to", f"s3://{name}/covid/v1")
    assert again.exit_code == 0, again.output
    assert "0 file(s) uploaded" in again.stdout
    assert s3_environment.counters()["requests"].get("PUT", 0) == 0


def test_s3_interrupted_multipart_upload_resumes_with_only_the_remainder(release: Path,
                                                                         s3_environment: S3Server) -> None:
    release = with_large_file(release)
    name = bucket(s3_environment, "resume")
    large = release / "supplement" / "large.bin"
    sha = hashlib.sha256(large.read_bytes()).hexdigest()
    md5 = hashlib.md5(large.read_bytes()).hexdigest()
    target = S3Target(f"s3://{name}/v1", PART)
    target.open({"object_metadata": {}})

    class RunInterruptedError(Exception):
        pass

    def stop_after_first_part(count: int) -> None:
        raise RunInterruptedError                     # the run dies once the first part is on the server

    with pytest.raises(RunInterruptedError):
        target.upload(PlannedFile("supplement/large.bin", large, large.stat().st_size, sha, md5),
                      stop_after_first_part)
    open_uploads = s3_environment.client().list_multipart_uploads(Bucket=name)["Uploads"]
    assert [u["Key"] for u in open_uploads] == ["v1/supplement/large.bin"]
    s3_environment.reset()
    result = run(str(release), "--to", f"s3://{name}/v1", "--part-size", "5MiB")
    assert result.exit_code == 0, result.output
    remainder = release_bytes(release) - PART
    assert remainder <= s3_environment.counters()["bytes_in"] <= remainder + 64 * 1024
    body = s3_environment.client().get_object(Bucket=name, Key="v1/supplement/large.bin")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == sha


def test_s3_publish_killed_mid_upload_resumes_with_only_the_remainder(release: Path,
                                                                      s3_environment: S3Server) -> None:
    """A real kill -9 of ``curator publish`` while a multipart upload is under way, then a rerun."""
    release = with_large_file(release, 40 * MiB + 777)
    name = bucket(s3_environment, "killed")
    key = "v1/supplement/large.bin"
    s3 = s3_environment.client()
    child = subprocess.Popen([*CURATOR, "publish", str(release), "--to", f"s3://{name}/v1", "--part-size", "5MiB",
                              "--waive-validation"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts: list[dict[str, object]] = []
    deadline = time.monotonic() + 60
    while not parts and time.monotonic() < deadline and child.poll() is None:
        uploads = s3.list_multipart_uploads(Bucket=name).get("Uploads", [])
        if uploads:
            parts = s3.list_parts(Bucket=name, Key=key, UploadId=uploads[0]["UploadId"]).get("Parts", [])
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, "the upload finished before it could be killed"
    time.sleep(0.5)                  # a part whose body arrived whole before the kill is stored before counting
    uploads = s3.list_multipart_uploads(Bucket=name)["Uploads"]
    done = len(s3.list_parts(Bucket=name, Key=key, UploadId=uploads[0]["UploadId"])["Parts"])
    present = {o["Key"] for o in s3.list_objects_v2(Bucket=name).get("Contents", [])}
    assert 1 <= done < 9 and key not in present
    files = [p for p in release.rglob("*") if p.is_file()]
    remainder = sum(p.stat().st_size for p in files if f"v1/{p.relative_to(release).as_posix()}" not in present)
    remainder -= done * PART
    s3_environment.reset()
    result = run(str(release), "--to", f"s3://{name}/v1", "--part-size", "5MiB", "--waive-validation")
    assert result.exit_code == 0, result.output
    assert remainder <= s3_environment.counters()["bytes_in"] <= remainder + 64 * 1024
    assert s3.list_multipart_uploads(Bucket=name).get("Uploads", []) == []
    body = s3.get_object(Bucket=name, Key=key)["Body"].read()
    assert body == (release / "supplement" / "large.bin").read_bytes()


def test_s3_upload_memory_is_bounded_by_the_part_size(release: Path, s3_environment: S3Server) -> None:
    release = with_large_file(release, 120 * MiB)
    name = bucket(s3_environment, "memory")
    before = snapshot(release)
    outcome = run_bounded(["publish", str(release), "--to", f"s3://{name}/v1", "--part-size", "8MiB",
                           "--waive-validation"], timeout=300)
    # measured: 85 MB, 9.5 s for the 120 MiB file in 8 MiB parts (64 MiB parts: 183 MB); the interpreter ~80 MB
    outcome.assert_bounded(exit_code=0, seconds=120, megabytes=160)
    assert snapshot(release) == before


def test_s3_local_file_that_differs_from_its_manifest_is_refused_by_name(release: Path,
                                                                         s3_environment: S3Server) -> None:
    flip_byte(release / "studies" / "CT-1" / "study_0003.nii.gz")
    name = bucket(s3_environment, "damaged")
    result = run(str(release), "--to", f"s3://{name}/v1", "--waive-validation")
    assert result.exit_code == 1
    assert "studies/CT-1/study_0003.nii.gz differs from its SHA-256 in the release's manifest" in result.output
    present = {o["Key"] for o in s3_environment.client().list_objects_v2(Bucket=name).get("Contents", [])}
    assert "v1/studies/CT-1/study_0003.nii.gz" not in present


def test_s3_missing_bucket_and_unknown_target_are_usage_errors(release: Path, s3_environment: S3Server) -> None:
    missing = run(str(release), "--to", "s3://no-such-bucket/v1", "--waive-validation")
    assert missing.exit_code == 2
    assert "S3 refused access to the bucket no-such-bucket: 404 (Not Found)" in missing.output
    unknown = run(str(release), "--to", "figshare", "--dry-run")
    assert unknown.exit_code == 2
    assert "unknown target 'figshare'" in unknown.output


def test_s3_byte_flipped_on_the_server_is_named(release: Path, s3_environment: S3Server) -> None:
    name = bucket(s3_environment, "flip")
    s3 = s3_environment.client()

    class FlippedBehindCurator(S3Target):
        """The real target; after it sends the registry, the object is replaced with one byte flipped."""

        def upload(self, file: PlannedFile, progress: Progress) -> None:
            super().upload(file, progress)
            if file.rel == "dataset_registry.csv":
                data = bytearray(file.path.read_bytes())
                data[5] ^= 0x01
                s3.put_object(Bucket=name, Key=f"v1/{file.rel}", Body=bytes(data), ChecksumAlgorithm="SHA256")

    outcome = publish(release, FlippedBehindCurator(f"s3://{name}/v1"), PublishOptions(), lambda line: None)
    assert [m.split(":")[0] for m in outcome.mismatches] == ["dataset_registry.csv"]
    assert outcome.location is None


def test_publish_means_nothing_for_s3(release: Path, s3_environment: S3Server) -> None:
    result = run(str(release), "--to", "s3://any/v1", "--publish")
    assert result.exit_code == 2
    assert "--publish does not apply to S3" in result.output
    assert s3_environment.counters()["requests"] == {}


# ----------------------------------------------------------------------------------------------- gate


def test_gate_refuses_an_invalid_release_and_waiving_it_warns(release: Path, s3_environment: S3Server) -> None:
    (release / "README_RU.md").unlink()
    name = bucket(s3_environment, "gate")
    refused = run(str(release), "--to", f"s3://{name}/v1")
    assert refused.exit_code == 1
    assert "does not pass curator validate --deep" in refused.output
    assert "REQUIRED_FILE_MISSING" in refused.output
    assert s3_environment.client().list_objects_v2(Bucket=name).get("KeyCount") == 0
    waived = run(str(release), "--to", f"s3://{name}/v1", "--waive-validation")
    assert waived.exit_code == 0, waived.output
    assert "warning: validation waived" in waived.stderr


def test_gate_catches_a_damaged_file(release: Path) -> None:
    flip_byte(release / "studies" / "CT-1" / "study_0003.nii.gz")
    result = run(str(release), "--to", "s3://any/v1", "--dry-run")
    assert result.exit_code == 1
    assert "CHECKSUM_MISMATCH studies/CT-1/study_0003.nii.gz" in result.output


# --------------------------------------------------------------------------------------------- Zenodo


def test_zenodo_dry_run_packs_and_shows_the_deposit_metadata(release: Path, zenodo: ZenodoStandin) -> None:
    result = run(str(release), "--to", "zenodo", "--api", zenodo.api, "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["packed_with"] == "zenodo"                 # the release has folders; Zenodo keeps none
    assert all("/" not in f["path"] for f in report["files"])
    metadata = report["metadata"]
    assert metadata["upload_type"] == "dataset"
    assert metadata["creators"][0]["affiliation"]
    assert metadata["license"] == "cc-by-nc-nd-3.0"
    assert metadata["related_identifiers"][0]["relation"] == "isIdenticalTo"
    assert zenodo.requests == []


def test_zenodo_publish_leaves_a_draft_with_every_md5_matching(release: Path, zenodo: ZenodoStandin) -> None:
    result = run(str(release), "--to", "zenodo", "--api", zenodo.api)
    assert result.exit_code == 0, result.output
    [deposition] = zenodo.depositions.values()
    assert deposition["submitted"] is False and deposition["metadata"]["title"]
    stored = zenodo.listing(deposition["id"])
    assert {f["filename"] for f in stored} >= {"MD5SUMS", "SHA256SUMS", "PARTS.tsv"}
    assert all(f["checksum"] == hashlib.md5(zenodo.files[deposition["id"]][f["filename"]]).hexdigest()
               for f in stored)


def test_zenodo_dropped_upload_resumes_in_the_same_draft(release: Path, zenodo: ZenodoStandin) -> None:
    dry = json.loads(run(str(release), "--to", "zenodo", "--api", zenodo.api, "--dry-run", "--format",
                         "json").stdout)
    names = [f["path"] for f in dry["files"]]
    dropped = names[1]
    zenodo.drop_after[dropped] = 100
    first = run(str(release), "--to", "zenodo", "--api", zenodo.api)
    assert first.exit_code == 3
    [number] = zenodo.depositions
    assert f"rerun with --draft {number}" in first.output
    assert dropped not in zenodo.files[number]
    before = dict(zenodo.received)
    again = run(str(release), "--to", "zenodo", "--api", zenodo.api, "--draft", str(number))
    assert again.exit_code == 0, again.output
    sent_again = {key for key, count in zenodo.received.items() if count != before.get(key, 0)}
    assert names[0] not in sent_again                        # uploaded before the drop: skipped
    assert dropped in sent_again and set(names[2:]) <= sent_again


def test_zenodo_byte_flipped_on_the_server_is_named(release: Path, zenodo: ZenodoStandin) -> None:
    zenodo.corrupt.add("SHA256SUMS")
    result = run(str(release), "--to", "zenodo", "--api", zenodo.api)
    assert result.exit_code == 1
    assert "SHA256SUMS: the server's md5 is" in result.stderr
    [deposition] = zenodo.depositions.values()
    assert deposition["metadata"] == {}                     # not finished


def test_zenodo_new_version_lists_the_changes(release: Path, tmp_path: Path, zenodo: ZenodoStandin) -> None:
    first = run(str(release), "--to", "zenodo", "--api", zenodo.api, "--publish")
    assert first.exit_code == 0, first.output
    [number] = zenodo.depositions
    assert zenodo.depositions[number]["submitted"] is True
    import shutil

    previous = shutil.copytree(release, tmp_path / "previous")
    (release / "README_EN.md").write_text((release / "README_EN.md").read_text() + "\nErratum.\n")
    finish_release(release)
    second = run(str(release), "--to", "zenodo", "--api", zenodo.api, "--record", str(number), "--previous",
                 str(previous))
    assert second.exit_code == 0, second.output
    draft = max(zenodo.depositions)
    assert zenodo.depositions[draft]["conceptrecid"] == str(number)
    assert zenodo.depositions[draft]["submitted"] is False
    assert "Changes since the previous version" in zenodo.depositions[draft]["metadata"]["notes"]
    assert "README_EN.md" in zenodo.depositions[draft]["metadata"]["notes"]
    # the draft started with the first version's files; those the new version changed were replaced
    old, new = zenodo.files[number], zenodo.files[draft]
    assert set(new) == set(old)
    changed = {name for name in new if new[name] != old[name]}
    assert "TEST_0008-v1.0.0_part01.zip" in changed            # the part holding README_EN.md
    deleted = [path for method, path in zenodo.requests if method == "DELETE"]
    sent = {path.rsplit("/", 1)[-1] for method, path in zenodo.requests
            if method == "PUT" and f"/files/bucket-{draft}/" in path}
    assert len(deleted) == len(changed) and sent == changed


# ---------------------------------------------------------------------------------------------- tokens


def test_token_never_appears_in_any_output(release: Path, zenodo: ZenodoStandin) -> None:
    outputs = [run(str(release), "--to", "zenodo", "--api", zenodo.api, *extra)
               for extra in ([], ["--format", "json"], ["--dry-run"], ["--record", "999999"])]
    assert [r.exit_code for r in outputs] == [0, 0, 0, 2]
    for result in outputs:
        assert TOKEN not in result.output
    stored = json.dumps([zenodo.depositions, {k: list(v) for k, v in zenodo.files.items()}])
    assert TOKEN not in stored


def test_wrong_token_is_refused_without_showing_it(release: Path, zenodo: ZenodoStandin,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURATOR_ZENODO_TOKEN", "wrong-" + TOKEN)
    result = run(str(release), "--to", "zenodo", "--api", zenodo.api, "--waive-validation")
    assert result.exit_code == 2
    assert "HTTP 401" in result.output and TOKEN not in result.output


def _credentials(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "credentials.toml"
    path.write_text(f'[zenodo]\ntoken = "{TOKEN}"\n', encoding="utf-8")
    path.chmod(mode)
    return path


def test_credentials_file_readable_by_others_is_refused(release: Path, tmp_path: Path, zenodo: ZenodoStandin,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CURATOR_ZENODO_TOKEN")
    monkeypatch.delenv("ZENODO_TOKEN", raising=False)
    monkeypatch.setenv("CURATOR_CREDENTIALS", str(_credentials(tmp_path, 0o644)))
    result = run(str(release), "--to", "zenodo", "--api", zenodo.api, "--waive-validation")
    assert result.exit_code == 2
    assert "readable by others (mode 0644)" in result.output and TOKEN not in result.output
    assert zenodo.requests == []


def test_private_credentials_file_is_used(release: Path, tmp_path: Path, zenodo: ZenodoStandin,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CURATOR_ZENODO_TOKEN")
    monkeypatch.delenv("ZENODO_TOKEN", raising=False)
    path = _credentials(tmp_path, 0o600)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    monkeypatch.setenv("CURATOR_CREDENTIALS", str(path))
    result = run(str(release), "--to", "zenodo", "--api", zenodo.api, "--waive-validation", "--format", "json")
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output
    assert len(zenodo.depositions) == 1



def test_malformed_credentials_file_is_refused_without_quoting_it(release: Path, tmp_path: Path,
                                                                  zenodo: ZenodoStandin,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CURATOR_ZENODO_TOKEN")
    monkeypatch.delenv("ZENODO_TOKEN", raising=False)
    path = tmp_path / "credentials.toml"
    path.write_text(f"[zenodo]\ntoken = {TOKEN}\n", encoding="utf-8")     # unquoted: not TOML
    path.chmod(0o600)
    monkeypatch.setenv("CURATOR_CREDENTIALS", str(path))
    result = run(str(release), "--to", "zenodo", "--api", zenodo.api, "--waive-validation")
    assert result.exit_code == 2
    assert "is not valid TOML" in result.output and TOKEN not in result.output


def test_s3_text_dry_run_lists_files_and_parts(release: Path, s3_environment: S3Server) -> None:
    release = with_large_file(release)
    result = run(str(release), "--to", "s3://plan/v1", "--dry-run", "--part-size", "5MiB")
    assert result.exit_code == 0, result.output
    files = sum(1 for p in release.rglob("*") if p.is_file())
    # every file is one request but the large one, which is 3 parts of 5 MiB
    assert f"plan: {files} file(s), {release_bytes(release):,} bytes, {files + 2} upload request(s) to s3://plan/v1/" \
        in result.stdout
    assert "  supplement/large.bin  12,595,257 bytes  sha256:" in result.stdout
    assert "dry run: nothing was sent" in result.stdout
    assert s3_environment.counters()["requests"] == {}


def test_missing_token_is_said_before_the_validation_gate(release: Path, zenodo: ZenodoStandin,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CURATOR_ZENODO_TOKEN")
    monkeypatch.delenv("ZENODO_TOKEN", raising=False)
    result = run(str(release), "--to", "zenodo", "--api", zenodo.api)
    assert result.exit_code == 2
    assert "no zenodo token: set CURATOR_ZENODO_TOKEN or ZENODO_TOKEN" in result.output
    assert "validating" not in result.output


def test_missing_aws_credentials_are_a_usage_error(release: Path, s3_environment: S3Server,
                                                   monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = run(str(release), "--to", "s3://any/v1")
    assert result.exit_code == 2
    assert "no AWS credentials" in result.output and "validating" not in result.output
    assert s3_environment.counters()["requests"] == {}


def test_sandbox_uses_its_own_token(release: Path, zenodo: ZenodoStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CURATOR_ZENODO_TOKEN", "the-production-token")
    monkeypatch.setenv("CURATOR_ZENODO_SANDBOX_TOKEN", TOKEN)
    result = run(str(release), "--to", "zenodo", "--sandbox", "--api", zenodo.api, "--waive-validation")
    assert result.exit_code == 0, result.output
    assert len(zenodo.depositions) == 1
