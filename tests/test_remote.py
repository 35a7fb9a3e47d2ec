"""Releases in object storage (issue 16 part 2): validate, verify and diff of s3:// and http(s):// roots.

Against real servers on loopback: moto's S3 in its own process (``s3_environment``) and an HTTP server with Range
support (``range_server``), both from tests/servers.py. A release built by ``curator build`` is uploaded as a
publisher would (each object with ChecksumAlgorithm=SHA256), then read by URL.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from curator.io.remote import RemoteError, open_store, unsafe_key
from tests.dicom_privacy_factories import write_planted
from tests.factories import damage_three_ways, flip_byte
from tests.hostile import run_bounded
from tests.privacy_files_factories import name_in_nifti
from tests.reports import validate_report
from tests.servers import S3_ENVIRONMENT, HangingServer, S3Server, upload_folder

STUDY = "studies/CT-1/study_0003.nii.gz"


def normalised(report: dict[str, Any]) -> dict[str, Any]:
    """The report without what differs by where the release is: its root (the URL as typed, or the folder), and the
    stats that describe the run: the time, the hash cache (local), how the manifests' digests were had (URL)."""
    copy = json.loads(json.dumps(report))
    copy["root"] = None
    for key in ("seconds", "checked_by", "cache"):
        copy["stats"].pop(key, None)
    return copy


def codes(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f["code"], f["path"]) for f in report["findings"]]


def verify_json(root: str, env: dict[str, str] | None = None, *, exit_code: int) -> dict[str, Any]:
    run = run_bounded(["verify", root, "--format", "json", "--no-cache"], env=env, timeout=180)
    run.assert_bounded(exit_code=exit_code, seconds=120, megabytes=400)
    return run.report()


def test_deep_on_a_url_gives_the_local_deep_report_reading_each_object_once(release: Path,
                                                                             s3_environment: S3Server) -> None:
    """validate --deep by URL: the same deep tier as locally, each NIfTI object streamed once, its digests taken
    during that read (no second read for the manifests)."""
    damage_three_ways(release)
    upload_folder(s3_environment.client(), "deep", release, "release/")
    local = validate_report(release, "--deep", "--no-cache", exit_code=1)
    s3_environment.reset()
    remote = validate_report("s3://deep/release", "--deep", exit_code=1)
    assert {("IMAGE_TRUNCATED", "studies/CT-2/study_0006.nii.gz"), ("CHECKSUM_MISMATCH", "LICENSE"),
            ("MASK_VALUES_UNEXPECTED", "masks/study_0004_mask.nii.gz")} <= set(codes(remote))
    assert normalised(remote) == normalised(local)
    sizes = {p.relative_to(release).as_posix(): p.stat().st_size for p in release.rglob("*") if p.is_file()}
    counters = s3_environment.counters()
    fetched = {key.removeprefix("/deep/release/"): n for key, n in counters["by_key"].items()}
    nifti = sorted(p for p in sizes if p.endswith(".nii.gz"))
    assert len(nifti) == 10
    # each object once, plus the 4 bytes of its gzip ISIZE
    assert {p: fetched.get(p, 0) - sizes[p] for p in nifti} == {p: 4 for p in nifti}
    # and no object, document or sum file, more than once: 61 KB fetched for a 548 KB release (PDFs, figures unread)
    assert {k: n for k, n in fetched.items() if k in sizes and n > sizes[k] + 4} == {}
    assert counters["bytes_out"] == sum(fetched.values()) <= sum(sizes.values())


def test_a_release_in_s3_gives_the_local_report(built_release: Path, s3_environment: S3Server,
                                                tmp_path: Path) -> None:
    upload_folder(s3_environment.client(), "same", built_release, "release/")
    local = validate_report(built_release, "--no-cache", exit_code=0)
    cache = tmp_path / "cache"
    remote = validate_report("s3://same/release", "--cache-dir", str(cache), exit_code=0)
    assert not cache.exists() and "cache" not in remote["stats"]   # objects are no local files to cache
    assert remote["root"] == "s3://same/release"
    listed = len((built_release / "SHA256SUMS").read_text(encoding="utf-8").splitlines())
    assert remote["stats"]["checked_by"] == {name: {"store checksum": listed, "read in full": 0}
                                             for name in ("SHA256SUMS", "MD5SUMS")}
    assert normalised(remote) == normalised(local)
    assert remote["stats"]["files"] == local["stats"]["files"] > 20


PLANTED = "studies/CT-1/study_0003.nii.gz"   # a patient's name in its descrip and a DICOM header extension
STRAY = "extra/IM0001"   # a DICOM slice that keeps its patient's identity (no suffix: the release stays MosMed-style)


def damaged_with_names(release: Path) -> Path:
    """The damaged release (three kinds of damage) with privacy defects that only the privacy audit finds: a name
    in a NIfTI header, and a stray identifying DICOM file (listed in SHA256SUMS, so an HTTP base shows it too)."""
    import hashlib

    damage_three_ways(release)
    name_in_nifti(release / PLANTED)
    [written] = write_planted(release / "extra", count=1)
    stray = written.rename(release / STRAY)
    with (release / "SHA256SUMS").open("a", encoding="utf-8", newline="\n") as sums:
        sums.write(f"{hashlib.sha256(stray.read_bytes()).hexdigest()}  {STRAY}\n")
    return release


def test_the_privacy_audit_runs_on_a_url_as_locally(release: Path, s3_environment: S3Server,
                                                    range_server: Any) -> None:
    """Issue 16: the same damaged release gives the same JSON report locally and by URL, fast and --deep, the privacy
    audit included; only the root and the run's stats differ. The fast tier still reads a small part of each NIfTI
    object (its header and extensions, for both readers at once), the deep tier each object once."""
    damaged_with_names(release)
    upload_folder(s3_environment.client(), "audited", release, "release/")
    shutil.copytree(release, range_server.folder, dirs_exist_ok=True)
    sizes = {p.relative_to(release).as_posix(): p.stat().st_size for p in release.rglob("*") if p.is_file()}
    nifti = sorted(p for p in sizes if p.endswith(".nii.gz"))

    def fetched(*args: str) -> tuple[dict[str, Any], dict[str, int]]:
        s3_environment.reset()
        report = validate_report("s3://audited/release", *args, exit_code=1)
        by_key = s3_environment.counters()["by_key"]
        return report, {p: by_key.get(f"/audited/release/{p}", 0) for p in nifti}

    _, unaudited = fetched("--ignore", "privacy")
    for deep in ((), ("--deep",)):
        local = validate_report(release, *deep, "--no-cache", exit_code=1)
        assert {("PHI_NIFTI_TEXT", PLANTED), ("PHI_NIFTI_EXTENSION", PLANTED), ("PHI_DICOM_ELEMENT", STRAY),
                ("IMAGE_TRUNCATED", "studies/CT-2/study_0006.nii.gz"), ("CHECKSUM_MISMATCH", "LICENSE")} <= set(
            codes(local))
        remote, read = fetched(*deep)
        assert remote["root"] == "s3://audited/release"
        assert normalised(remote) == normalised(local)
        if deep:   # each object once, plus the 4 bytes of its gzip ISIZE: the audit read the stream's first bytes
            assert {p: read[p] - sizes[p] for p in nifti} == {p: 4 for p in nifti}
        else:      # the audit reads the header's blocks, which the header reader fetched: no more bytes
            assert read == unaudited
        http = validate_report(range_server.url, *deep, exit_code=1)
        assert http["root"] == range_server.url
        assert normalised(http) == normalised(local)


def test_a_damaged_object_is_named_as_locally(release: Path, s3_environment: S3Server) -> None:
    client = s3_environment.client()
    upload_folder(client, "damaged", release)
    flip_byte(release / STUDY)   # the same damage on both sides: a publisher's copy re-uploaded with other bytes
    client.put_object(Bucket="damaged", Key=STUDY, Body=(release / STUDY).read_bytes(), ChecksumAlgorithm="SHA256")
    local = validate_report(release, "--no-cache", exit_code=1)
    remote = validate_report("s3://damaged", exit_code=1)
    assert ("CHECKSUM_MISMATCH", STUDY) in codes(remote)
    assert normalised(remote) == normalised(local)
    env = s3_environment.environment()
    local_verify = verify_json(str(release), exit_code=1)
    remote_verify = verify_json("s3://damaged", env, exit_code=1)
    assert remote_verify["stats"]["refetch"] == [STUDY]
    listed = remote_verify["stats"]["listed"]
    assert remote_verify["stats"]["checked_by"] == {"SHA256SUMS": {"store checksum": listed, "read in full": 0}}
    assert normalised(remote_verify) == normalised(local_verify)


def test_no_credential_reaches_any_output(built_release: Path, s3_server: S3Server, tmp_path: Path) -> None:
    upload_folder(s3_server.client(), "secrets", built_release)
    copy = tmp_path / "study.nii.gz"
    shutil.copy(built_release / STUDY, copy)
    flip_byte(copy)
    s3_server.client().put_object(Bucket="secrets", Key=STUDY, Body=copy.read_bytes())   # no stored SHA-256: read
    env = s3_server.environment()
    for command in (["validate", "s3://secrets", "--format", "json"], ["verify", "s3://secrets", "--format", "json"],
                    ["validate", "s3://secrets"], ["validate", "s3://no-such-bucket-here"]):
        run = run_bounded(command, env=env, timeout=180)
        output = run.stdout + run.stderr
        for secret in (S3_ENVIRONMENT["AWS_ACCESS_KEY_ID"], S3_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"]):
            assert secret not in output, (command, output[-2000:])
    assert "CHECKSUM_MISMATCH" in run_bounded(["verify", "s3://secrets"], env=env, timeout=180).stdout


def test_an_http_base_is_read_through_its_manifest(built_release: Path, range_server: Any) -> None:
    shutil.copytree(built_release, range_server.folder, dirs_exist_ok=True)
    local = validate_report(built_release, "--no-cache", exit_code=0)
    remote = validate_report(range_server.url, exit_code=0)
    listed = len((built_release / "SHA256SUMS").read_text(encoding="utf-8").splitlines())
    assert remote["stats"]["checked_by"] == {name: {"store checksum": 0, "read in full": listed}
                                             for name in ("SHA256SUMS", "MD5SUMS")}
    assert normalised(remote) == normalised(local)
    deep = validate_report(range_server.url, "--deep", exit_code=0)   # objects streamed once over HTTP too
    assert normalised(deep) == normalised(validate_report(built_release, "--deep", "--no-cache", exit_code=0))
    flip_byte(range_server.folder / STUDY)
    (range_server.folder / "README_RU.md").unlink()    # listed, and a 404 now
    remote_verify = verify_json(range_server.url, exit_code=1)
    assert codes(remote_verify) == [("CHECKSUM_MISMATCH", STUDY), ("FILE_MISSING", "README_RU.md")]
    assert remote_verify["stats"]["refetch"] == ["README_RU.md", STUDY]


def test_keys_that_are_no_release_path_are_unsafe(built_release: Path, s3_environment: S3Server) -> None:
    client = s3_environment.client()
    upload_folder(client, "hostile", built_release, "r/")
    for key in ("r/../x", "r/a//b", "r//abs", "r/d/./e"):
        client.put_object(Bucket="hostile", Key=key, Body=b"payload")
    run = run_bounded(["validate", "s3://hostile/r", "--format", "json"], timeout=180)
    run.assert_bounded(exit_code=1, seconds=60, megabytes=300)
    unsafe = {path for code, path in codes(run.report()) if code == "FILE_UNSAFE"}
    assert unsafe == {"../x", "a//b", "/abs", "d/./e"}
    assert [unsafe_key(k) is None for k in ("a/b.txt", "../x", "a//b", "/abs", "a\\b")] == [True] + [False] * 4


def test_a_huge_object_is_never_read_whole(built_release: Path, range_server: Any) -> None:
    shutil.copytree(built_release, range_server.folder, dirs_exist_ok=True)
    study = range_server.folder / STUDY
    start = study.read_bytes()[:4096]
    with study.open("r+b") as handle:   # 10 GB claimed by size (sparse): the real stream's start, then zeros
        handle.truncate(10 << 30)
        handle.write(start)
    run = run_bounded(["validate", range_server.url, "--format", "json", "--select", "image"], timeout=120)
    run.assert_bounded(exit_code=1, seconds=60, megabytes=300)
    assert ("IMAGE_TRUNCATED", STUDY) in codes(run.report())
    assert range_server.sent[STUDY] < 64 << 10


def test_a_server_that_hangs_ends_the_run_in_bounded_time(tmp_path: Path) -> None:
    with HangingServer() as hang:
        run = run_bounded(["validate", hang.url], env={"CURATOR_REMOTE_TIMEOUT": "2"}, timeout=120)
        run.assert_bounded(exit_code=3, seconds=30, megabytes=300)
        assert run.stderr.count("\n") == 1 and "cannot run" in run.stderr
        run = run_bounded(["verify", hang.url], env={"CURATOR_REMOTE_TIMEOUT": "2"}, timeout=120)
        run.assert_bounded(exit_code=3, seconds=30, megabytes=300)


def test_unreachable_or_missing_stores_are_exit_3(s3_server: S3Server) -> None:
    env = s3_server.environment()
    run = run_bounded(["validate", "s3://no-such-bucket-here/x"], env=env, timeout=120)
    run.assert_bounded(exit_code=3, seconds=60, megabytes=300)
    assert "does not exist" in run.stderr and run.stderr.count("\n") == 1
    closed = {**env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9",
              "CURATOR_REMOTE_TIMEOUT": "2"}
    run = run_bounded(["verify", "s3://bucket/x"], env=closed, timeout=120)
    run.assert_bounded(exit_code=3, seconds=60, megabytes=300)
    assert "Could not connect" in run.stderr


def test_identifiers_are_looked_for_on_a_url_as_locally(release: Path, s3_environment: S3Server,
                                                        range_server: Any, tmp_path: Path) -> None:
    """--identifiers on a URL: the curator's list reaches every reader it reaches locally (a document read whole,
    a NIfTI object's descrip and DICOM extension, a stray DICOM file, file names), fast and --deep, over S3 and
    HTTP; the report equals the local one and never prints a listed identifier."""
    damaged_with_names(release)
    readme = release / "README_EN.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nWith thanks to Иванов Иван Иванович.\n",
                      encoding="utf-8")
    listed = tmp_path / "ids.txt"
    listed.write_text("Ivanov Ivan Ivanovich\nIvanov Petr\n", encoding="utf-8")
    upload_folder(s3_environment.client(), "listed", release, "release/")
    shutil.copytree(release, range_server.folder, dirs_exist_ok=True)
    for deep in ((), ("--deep",)):
        local = validate_report(release, *deep, "--identifiers", str(listed), "--no-cache", exit_code=1)
        found = sorted(f["path"] for f in local["findings"] if f["code"] == "PHI_IDENTIFIER_FOUND")
        assert "README_EN.md" in found and PLANTED in found
        for url in ("s3://listed/release", range_server.url):
            remote = validate_report(url, *deep, "--identifiers", str(listed), exit_code=1)
            assert normalised(remote) == normalised(local)
            dump = json.dumps(remote, ensure_ascii=False)
            assert "Иванов" not in dump and "Ivanov" not in dump and "IVANOV" not in dump


def test_usage_errors_on_urls_are_exit_2(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "fsspec.py").write_text("raise ImportError('blocked for the test', name='fsspec')\n", encoding="utf-8")
    root = Path(__file__).resolve().parents[1]
    run = run_bounded(["validate", "s3://bucket/x"], env={"PYTHONPATH": f"{blocked}:{root}"}, timeout=120)
    run.assert_bounded(exit_code=2, seconds=30, megabytes=300)
    assert "ct-curator[remote]" in run.stderr
    run = run_bounded(["validate", "https://user:password@example.invalid/x"], timeout=120)
    run.assert_bounded(exit_code=2, seconds=30, megabytes=300)
    assert "password" not in run.stdout and "user name or password" in run.stderr
    run = run_bounded(["validate", "http://127.0.0.1:9/x", "--changed-since", "HEAD"], timeout=120)
    run.assert_bounded(exit_code=2, seconds=30, megabytes=300)
    assert "needs a local copy" in run.stderr


def test_an_object_gone_mid_run_is_a_finding_not_a_crash(built_release: Path, s3_environment: S3Server) -> None:
    from curator.io.remote import hash_remote_batch
    from curator.remote_release import (
        RemoteRelease,
        remote_audit_batch,
        remote_dicom_batch,
        remote_header,
        remote_scan_batch,
    )

    client = s3_environment.client()
    upload_folder(client, "vanishing", built_release)
    release = RemoteRelease.open(open_store("s3://vanishing"))
    size = release.objects[STUDY].size
    client.delete_object(Bucket="vanishing", Key=STUDY)      # listed, then gone (a 404 on the next GET)
    assert "cannot open the file" in str(remote_header("s3://vanishing", STUDY, size))
    assert hash_remote_batch("s3://vanishing", [(STUDY, ("sha256",))]) == ["the object is gone from the store"]
    [([deep], [audit])] = remote_scan_batch("s3://vanishing", [(((STUDY,), (("sha256",),)), (size,))], audit=True)
    assert isinstance(deep, str) and deep.startswith("cannot read the file")
    assert audit is not None and audit.kind == "nifti" and audit.error is not None   # as locally: IMAGE_UNREADABLE's
    [other] = remote_audit_batch("s3://vanishing", None, [("dataset.yaml", 10)])
    [dicom] = remote_dicom_batch("s3://vanishing", [("LICENSE", 10)])
    client.delete_object(Bucket="vanishing", Key="dataset.yaml")
    client.delete_object(Bucket="vanishing", Key="LICENSE")
    assert other.kind == "yaml" and other.error is None   # read before it went
    assert dicom is None                                   # not DICOM
    [gone] = remote_audit_batch("s3://vanishing", None, [("dataset.yaml", 10)])
    assert gone.kind == "yaml" and gone.error is not None and gone.error.startswith("cannot read the file")
    assert remote_dicom_batch("s3://vanishing", [("LICENSE", 10)]) == [None]   # unopenable, not named DICOM: as locally


def test_diff_compares_a_bucket_with_a_folder(release: Path, s3_environment: S3Server) -> None:
    from curator.diff import diff_releases

    upload_folder(s3_environment.client(), "diffed", release)
    assert diff_releases(release, "s3://diffed").bump == "NONE"
    flip_byte(release / STUDY)
    (release / "README_EN.md").write_text("changed\n", encoding="utf-8")
    result = diff_releases("s3://diffed", release)
    assert {c.path: c.kind for c in result.changed} == {STUDY: "data changed", "README_EN.md": "changed"}
    assert result.old == "s3://diffed" and result.bump == "MAJOR"
    assert result.readmes["README_EN.md"]["lines_added"] == 1


def test_open_store_refuses_what_it_cannot_read(s3_environment: S3Server) -> None:
    with pytest.raises(RemoteError, match="does not exist"):
        open_store("s3://no-such-bucket-here").files()


def test_the_fast_tier_fetches_under_2_percent_of_a_1110_study_release(tmp_path: Path,
                                                                        s3_environment: S3Server) -> None:
    from tests.remote_scale import CORRUPTED, fast_tier_in_s3

    measured = fast_tier_in_s3(tmp_path, s3_environment)
    report = measured["report"]
    assert measured["studies"] == 1110
    # SHA256SUMS and MD5SUMS name the corrupted object; the privacy audit (which ran) finds nothing
    assert sorted((f.code, f.path) for f in report.findings) == [
        ("CHECKSUM_MISMATCH", CORRUPTED), ("CHECKSUM_MISMATCH", CORRUPTED)]
    assert measured["fetched"]["README_EN.pdf"] > 0     # the audit read the PDFs' properties (nothing else reads them)
    data_files = measured["studies"] + 50   # the studies and the masks; the documents are listed besides
    by_store = {name: counts["store checksum"] for name, counts in report.stats.model_extra["checked_by"].items()}
    assert by_store["SHA256SUMS"] > data_files and by_store["MD5SUMS"] > data_files
    # the corrupted object alone was read: its ETag disagrees with MD5SUMS, which a read confirms
    assert {name: counts["read in full"] for name, counts in report.stats.model_extra["checked_by"].items()} == {
        "SHA256SUMS": 1, "MD5SUMS": 1}
    assert measured["fraction"] < 0.02, measured     # measured: 0.69-0.78 % (1.2-1.4 MB of 174 MB)


def test_an_etag_that_is_no_md5_is_confirmed_by_reading(s3_environment: S3Server) -> None:
    import hashlib

    from curator.io.remote import RemoteFile
    from curator.remote_release import object_digests

    client = s3_environment.client()
    client.create_bucket(Bucket="etags")
    client.put_object(Bucket="etags", Key="a.bin", Body=b"payload")
    truth = hashlib.md5(b"payload").hexdigest()
    # an SSE-KMS or SSE-C object's ETag looks like an MD5 and is not one: the listing cannot tell
    files = {"a.bin": RemoteFile("a.bin", 7, {"md5": "0" * 32})}
    found, read = object_digests(open_store("s3://etags"), {"a.bin": {"md5"}}, files, 1,
                                 expected={"a.bin": {"md5": truth}})
    assert (found, read) == ({"a.bin": {"md5": truth}}, {"a.bin"})
    files = {"a.bin": RemoteFile("a.bin", 7, {"md5": truth})}
    found, read = object_digests(open_store("s3://etags"), {"a.bin": {"md5"}}, files, 1,
                                 expected={"a.bin": {"md5": truth}})
    assert (found, read) == ({"a.bin": {"md5": truth}}, set())


def test_a_slices_release_by_url_gives_the_local_report(tmp_path: Path, s3_environment: S3Server) -> None:
    """Profile slices on a URL (CNCB-style PNG/JPEG slices): the same reader of each slice's header (--deep: its
    pixels) and of the metadata CSVs, by ranged GETs; a damaged slice, a mask value outside the labels and a PNG
    text chunk with a name give the local report, fast and --deep."""
    from tests.privacy_files_factories import png_with_chunks
    from tests.slices_factories import label_map, make_cncb, write_mask

    root = make_cncb(tmp_path / "cncb")
    broken = root / "image/CP/7/70/0001.jpg"
    broken.write_bytes(broken.read_bytes()[:200])                   # cut inside the scan data
    labels = label_map()
    labels[0, 0] = 9
    write_mask(root / "mask/CP/7/70/0002.png", labels)               # a value outside 0..3
    png_with_chunks(root / "figures/overview.png", {"Author": "Ivanov Petr"})
    upload_folder(s3_environment.client(), "cncb", root, "release/")
    for deep in ((), ("--deep",)):
        local = validate_report(root, *deep, "--no-cache", exit_code=1)
        expected = [("IMAGE_UNREADABLE", "image/CP/7/70/0001.jpg"), ("PHI_IMAGE_METADATA", "figures/overview.png"),
                    ("MANIFEST_MISSING", "")]
        if deep:   # the mask's pixels are decoded by --deep only
            expected.insert(1, ("LABELS_SCHEME_MISMATCH", "mask/CP/7/70/0002.png"))
        assert local["profile"] == "slices" and codes(local) == expected
        remote = validate_report("s3://cncb/release", *deep, exit_code=1)
        assert normalised(remote) == normalised(local)


def test_a_long_gzip_name_is_read_whole_on_a_url(release: Path, s3_environment: S3Server) -> None:
    """A NIfTI object whose gzip FNAME (a patient's name) runs past the first 512-byte ranged read: the header and
    the audit read it to its end as locally (the gzip header reader took a short read for the end of the file)."""
    import nibabel as nib

    from tests.privacy_files_factories import planted_nifti, write_gz

    image = nib.load(release / STUDY)
    write_gz(release / STUDY, planted_nifti(np.asanyarray(image.dataobj), image.affine),
             name="IVANOV^PETR " + "x" * 1500 + ".nii")
    upload_folder(s3_environment.client(), "longname", release, "release/")
    local = validate_report(release, "--no-cache", exit_code=1)
    assert ("PHI_GZIP_HEADER", STUDY) in codes(local)
    assert normalised(validate_report("s3://longname/release", exit_code=1)) == normalised(local)


def test_a_dicom_release_by_url_gives_the_local_report_reading_only_heads(tmp_path: Path, s3_environment: S3Server,
                                                                          range_server: Any) -> None:
    """Profile dicom on a URL (issue 16's DICOM archive in object storage): each object's head parsed once for the
    series and the privacy audit by ranged GETs, as the local fast tier parses it; a series with a missing slice
    and slices that keep their patient's name give the local report on S3 and over HTTP; S3 sends well under half
    the release's bytes (of each 512x512 slice's 512 KB only the first 64 KiB, its header, is fetched). --deep
    reads every object whole and gives the local --deep report."""
    from tests.dicom_factories import write_dicom_release

    root = write_dicom_release(tmp_path / "dicom")
    upload_folder(s3_environment.client(), "dicom", root, "release/")
    local = validate_report(root, "--profile", "dicom", "--no-cache", exit_code=1)
    found = set(codes(local))
    assert {("SERIES_SLICE_MISSING", "P1/series"), ("PHI_DICOM_NOT_DEIDENTIFIED", "P2/series/IM0001.dcm")} <= found
    s3_environment.reset()
    remote = validate_report("s3://dicom/release", "--profile", "dicom", exit_code=1)
    assert normalised(remote) == normalised(local)
    sizes = {p.relative_to(root).as_posix(): p.stat().st_size for p in root.rglob("*") if p.is_file()}
    fetched = {key.removeprefix("/dicom/release/"): n for key, n in s3_environment.counters()["by_key"].items()}
    slices = sorted(p for p in sizes if p.startswith("P1/"))
    assert len(slices) == 6 and all(sizes[p] > 512 << 10 for p in slices)
    assert all(fetched[p] <= 64 << 10 for p in slices)   # each slice's first 64 KiB: its header
    assert sum(fetched.values()) < sum(sizes.values()) / 2
    shutil.copytree(root, range_server.folder, dirs_exist_ok=True)   # HTTP: the objects named by SHA256SUMS
    over_http = validate_report(range_server.url, "--profile", "dicom", exit_code=1)
    assert normalised(over_http) == normalised(local)
    deep = validate_report("s3://dicom/release", "--profile", "dicom", "--deep", exit_code=1)
    assert normalised(deep) == normalised(validate_report(root, "--profile", "dicom", "--deep", "--no-cache",
                                                          exit_code=1))


def test_a_dicom_object_claiming_a_huge_element_is_bounded_on_a_url(tmp_path: Path,
                                                                    s3_environment: S3Server) -> None:
    """A slice whose private element before the pixel data claims 4 GB: the run ends with the local finding, in
    bounded time and memory, without fetching more than the object."""
    from tests.dicom_factories import write_dicom_release
    from tests.dicom_privacy_factories import with_overlong_element

    root = write_dicom_release(tmp_path / "dicom")
    hostile = "P1/series/IM0002.dcm"
    size = with_overlong_element(root / hostile)
    upload_folder(s3_environment.client(), "overlong", root, "release/")
    local = validate_report(root, "--profile", "dicom", "--no-cache", exit_code=1)
    s3_environment.reset()
    run = run_bounded(["validate", "s3://overlong/release", "--profile", "dicom", "--format", "json"], timeout=120)
    run.assert_bounded(exit_code=1, seconds=60, megabytes=300)
    assert normalised(run.report()) == normalised(local)
    assert ("DICOM_TRUNCATED", hostile) in codes(local)   # the claimed value runs past the end, as locally
    assert s3_environment.counters()["by_key"]["/overlong/release/" + hostile] <= size
