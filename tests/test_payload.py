"""Hidden payloads in NIfTI and gzip (issue 12, "Trust", section 2 and 4): bytes after the last voxel, large gzip
headers, corrupt gzip members, and a build that runs the deep checks on what it wrote."""

from __future__ import annotations

import gzip
import json
import re
import struct
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner

from curator.cli.main import main
from curator.io.gzip_header import MAX_FIELD, parse_gzip_header, read_gzip_header_from
from curator.io.nifti import read_header
from curator.io.payload import scan_nifti, trailing_bytes
from tests.factories import (
    ct_volume,
    gzip_member,
    gzip_with_bad_block,
    lesion_mask,
    make_source,
    nifti_bytes,
    write_hidden_zeros,
    write_nifti,
)
from tests.hostile import run_bounded, snapshot
from tests.reports import validate_report

PHI = b"PatientName=Ivanov^Ivan;" * 1000
STUDY = "studies/CT-0/study_0001.nii.gz"
MASK = "masks/study_0003_mask.nii.gz"


def deep(root: Path, *args: str, exit_code: int) -> list[dict]:
    findings: list[dict] = validate_report(root, "--deep", *args, exit_code=exit_code)["findings"]
    return findings


def affine_of(path: Path) -> np.ndarray:
    return nib.load(path).affine


def of(findings: list[dict], code: str) -> list[dict]:
    return [f for f in findings if f["code"] == code]


# --- the gzip header reader ---------------------------------------------------------------------------------

def test_name_after_a_64_kib_extra_field_is_read() -> None:
    member = gzip_member(b"data", extra=b"x" * 65535, name=b"Ivanov_Ivan_1965.nii", comment=b"ward 3")
    header = parse_gzip_header(member)
    assert header is not None
    assert (header.name, header.comment, header.extra) == ("Ivanov_Ivan_1965.nii", "ward 3", 65535)
    assert header.size == 10 + 2 + 65535 + len(b"Ivanov_Ivan_1965.nii") + 1 + len(b"ward 3") + 1
    assert zlib.decompress(member[header.size:-8], -15) == b"data"


def test_a_name_beyond_the_bound_is_reported_not_read_on(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(gzip_member(b"data", name=b"A" * (MAX_FIELD + 10)))
    with path.open("rb") as handle:
        header = read_gzip_header_from(handle)
        assert handle.tell() <= 10 + 2 * (MAX_FIELD + 1) + 2 + 0xFFFF + 2
    assert header.overlong == ("FNAME",) and header.size == 0 and header.name == "A" * 4096


def test_a_name_just_within_the_bound_is_read_to_its_end(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(gzip_member(b"data", name=b"A" * MAX_FIELD))
    with path.open("rb") as handle:
        header = read_gzip_header_from(handle)
    assert header.overlong == () and header.size == 10 + MAX_FIELD + 1


def test_fast_header_read_after_a_large_extra_field(tmp_path: Path) -> None:
    path = tmp_path / "x.nii.gz"
    path.write_bytes(gzip_member(nifti_bytes(ct_volume()), extra=b"\x00" * 65535, name=b"x" * 70000))
    assert read_header(path).shape == (8, 8, 4)


def test_validate_sees_a_name_hidden_behind_a_64_kib_extra_field(release: Path) -> None:
    path = release / STUDY
    path.write_bytes(gzip_member(nifti_bytes(ct_volume((8, 8, 4), seed=2), affine_of(path)), extra=b"\x00" * 65535,
                                 name=b"Ivanov Ivan 1965-01-01.nii"))
    findings = deep(release, "--select", "PHI_GZIP_HEADER", exit_code=1)
    (finding,) = of(findings, "PHI_GZIP_HEADER")
    assert finding["path"] == STUDY and finding["severity"] == "error" and finding["context"]["where"] == "FNAME"


def test_build_copies_a_file_with_a_64_kib_extra_field_with_a_bare_header(tmp_path: Path) -> None:
    source = make_source(tmp_path / "source")
    path = source / "raw/case01.nii.gz"
    path.write_bytes(gzip_member(nifti_bytes(ct_volume((8, 8, 4), seed=1)), extra=b"\x00" * 65535,
                                 name=b"Ivanov_Ivan.nii"))
    result = CliRunner().invoke(main, ["build", str(source), str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "validated (--deep) with 0 errors" in result.output
    for study in (tmp_path / "out/studies").rglob("*.nii.gz"):
        with study.open("rb") as handle:
            assert read_gzip_header_from(handle).bare


# --- bytes after the last voxel -------------------------------------------------------------------------------

def test_text_appended_after_the_voxels_is_trailing_data(release: Path) -> None:
    path = release / STUDY
    write_nifti(path, ct_volume(), affine_of(path), trailing=PHI)
    findings = deep(release, "--select", "image", exit_code=1)
    (finding,) = findings
    assert (finding["code"], finding["path"], finding["severity"]) == ("IMAGE_TRAILING_DATA", STUDY, "error")
    assert finding["context"]["extra_bytes"] == len(PHI) == 24000
    assert finding["context"]["expected_bytes"] == 352 + 8 * 8 * 4 * 2


def test_bytes_after_the_gzip_stream_are_trailing_data(release: Path) -> None:
    path = release / MASK
    write_nifti(path, lesion_mask(), affine_of(path), after_gzip=PHI)
    findings = deep(release, "--select", "image,mask", exit_code=1)
    assert [(f["code"], f["path"], f["context"]["extra_bytes"], f["context"]["after_stream"]) for f in findings] == [
        ("IMAGE_TRAILING_DATA", MASK, len(PHI), len(PHI))]


def test_a_second_gzip_member_after_the_voxels_is_trailing_data(release: Path) -> None:
    path = release / MASK
    write_nifti(path, lesion_mask(), affine_of(path))
    with path.open("ab") as handle:
        handle.write(gzip.compress(PHI, mtime=0))
    findings = deep(release, "--select", "image,mask", exit_code=1)
    assert [(f["code"], f["context"]["extra_bytes"], f["context"]["members"]) for f in findings] == [
        ("IMAGE_TRAILING_DATA", len(PHI), 2)]


def test_voxels_split_over_gzip_members_are_legal(release: Path) -> None:
    path = release / STUDY
    stream = nifti_bytes(ct_volume(), affine_of(path))
    path.write_bytes(b"".join(gzip_member(stream[i : i + 200]) for i in range(0, len(stream), 200)))
    assert deep(release, "--select", "image", exit_code=0) == []


def test_a_name_in_a_later_gzip_member_is_found(release: Path) -> None:
    path = release / STUDY
    stream = nifti_bytes(ct_volume(), affine_of(path))
    path.write_bytes(gzip_member(stream) + gzip_member(b"", name=b"Ivanov_Ivan.nii", comment=b"MRN 123456"))
    findings = deep(release, "--select", "image,PHI_GZIP_HEADER", exit_code=1)
    assert [(f["code"], f["severity"], f["context"]["where"]) for f in findings] == [
        ("PHI_GZIP_HEADER", "error", "FNAME of gzip member 2, FCOMMENT of gzip member 2")]


def test_trailing_bytes_of_an_uncompressed_file(tmp_path: Path) -> None:
    path = write_nifti(tmp_path / "x.nii", ct_volume(), gz=False, trailing=b"secret")
    payload = scan_nifti(path, ["sha256"])
    assert not isinstance(payload.header, str)
    assert trailing_bytes(payload, payload.header) == 6 and payload.stream_error is None


def test_diff_does_not_call_appended_bytes_repackaging(built_release: Path, release: Path) -> None:
    path = release / STUDY
    stream = nifti_bytes(ct_volume(seed=2), affine_of(path))  # make_source's study 1 is case02 (CT-0 first)
    path.write_bytes(gzip.compress(stream, compresslevel=1, mtime=0))
    plain = CliRunner().invoke(main, ["diff", str(built_release), str(release), "--format", "json"])
    assert [c["kind"] for c in json.loads(plain.output)["changed"]] == ["repackaged"]
    path.write_bytes(gzip.compress(stream + PHI, compresslevel=1, mtime=0))
    hidden = CliRunner().invoke(main, ["diff", str(built_release), str(release), "--format", "json"])
    (change,) = json.loads(hidden.output)["changed"]
    assert change["kind"] == "data changed" and change["new_trailing_bytes"] == len(PHI)
    assert json.loads(hidden.output)["semver"] == "MAJOR"


def test_anonymise_nifti_drops_trailing_bytes(release: Path, tmp_path: Path) -> None:
    path = release / STUDY
    write_nifti(path, ct_volume(), affine_of(path), trailing=PHI)
    before = snapshot(release)
    result = CliRunner().invoke(main, ["anonymise", "--nifti", str(release), str(tmp_path / "clean"),
                                       "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["trailing"] == {STUDY: len(PHI)}
    assert gzip.decompress((tmp_path / "clean" / STUDY).read_bytes())[352:] == ct_volume().tobytes(order="F")
    assert snapshot(release) == before
    assert deep(tmp_path / "clean", "--select", "image", exit_code=0) == []


@pytest.mark.parametrize("which", ["raw/case01.nii.gz", "raw/case01_seg.nii.gz"])
def test_build_refuses_trailing_data_and_names_the_source(tmp_path: Path, which: str) -> None:
    # case01 has a gzip name (rewritten by the scrub), its mask none (copied as it is, caught by the deep check)
    source = make_source(tmp_path / "source")
    data = lesion_mask() if which.endswith("_seg.nii.gz") else ct_volume(seed=1)
    write_nifti(source / which, data, trailing=PHI, gzip_name="case01.nii" if "seg" not in which else "")
    before = snapshot(source)
    result = CliRunner().invoke(main, ["build", str(source), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "IMAGE_TRAILING_DATA" in result.output and which in result.output
    assert not (tmp_path / "out").exists() and [p.name for p in tmp_path.iterdir()] == ["source"]
    assert snapshot(source) == before


def test_four_gib_of_zeros_with_an_agreeing_trailer_is_found(release: Path, tmp_path: Path) -> None:
    # 2**32 zero bytes: the trailer's ISIZE (size mod 2**32) agrees with the header, only counting finds them
    path = release / STUDY
    write_hidden_zeros(path, ct_volume(), 1 << 32, affine_of(path))
    assert struct.unpack("<I", path.read_bytes()[-4:])[0] == 352 + 8 * 8 * 4 * 2
    before = snapshot(release)
    run = run_bounded(["validate", str(release), "--deep", "--format", "json", "--select", "image", "--jobs", "1",
                       "--no-cache"], cwd=tmp_path, timeout=120)
    run.assert_bounded(exit_code=1, seconds=40, megabytes=300)
    (finding,) = run.report()["findings"]
    assert (finding["code"], finding["context"]["extra_bytes"]) == ("IMAGE_TRAILING_DATA", 1 << 32)
    assert snapshot(release) == before


# --- corrupt gzip -------------------------------------------------------------------------------------------

def _member_of(path: Path) -> tuple[bytes, int, int]:
    data = path.read_bytes()
    crc, size = struct.unpack("<II", data[-8:])
    return data, crc, size


def test_a_crc_mismatch_reports_the_trailer_and_the_data(release: Path) -> None:
    path = release / STUDY
    write_nifti(path, ct_volume((64, 64, 20)), affine_of(path))
    data, crc, size = _member_of(path)
    path.write_bytes(data[:-8] + struct.pack("<II", crc ^ 0xFFFFFFFF, size))
    findings = deep(release, "--select", "image", exit_code=1)
    (finding,) = findings
    assert finding["code"] == "IMAGE_TRUNCATED"
    reason = finding["context"]["reason"]
    assert f"records CRC-32 {crc ^ 0xFFFFFFFF:08x} and {size:,} bytes" in reason
    assert f"the data has CRC-32 {crc:08x} and {size:,} bytes" in reason
    assert reason in finding["message"] and "trailer records" not in finding["message"].split(":")[0]


def test_a_size_mismatch_reports_both_sizes(release: Path) -> None:
    path = release / STUDY
    write_nifti(path, ct_volume(), affine_of(path))
    data, crc, size = _member_of(path)
    path.write_bytes(data[:-8] + struct.pack("<II", crc, size + 5))
    findings = deep(release, "--select", "image", exit_code=1)
    (finding,) = findings
    assert finding["code"] == "IMAGE_TRUNCATED"
    assert "the size in the trailer" in finding["context"]["reason"]
    assert f"{size + 5:,} bytes (mod 2**32), the data has CRC-32 {crc:08x} and {size:,} bytes" \
        in finding["context"]["reason"]


def test_corrupt_deflate_data_is_unreadable_not_truncated(release: Path) -> None:
    path = release / STUDY
    stream = nifti_bytes(ct_volume((64, 64, 20)), affine_of(path))
    damaged, bad_block = gzip_with_bad_block(stream)
    path.write_bytes(damaged)
    findings = deep(release, "--select", "image", exit_code=1)
    (finding,) = findings
    assert finding["code"] == "IMAGE_UNREADABLE" and finding["path"] == STUDY
    assert "deflate data of gzip member 1 cannot be decoded" in finding["context"]["reason"]
    offset = re.search(r"at or after file offset ([\d,]+)", finding["context"]["reason"])
    assert offset is not None and int(offset.group(1).replace(",", "")) <= bad_block


def test_a_truncated_stream_says_how_much_was_read(release: Path) -> None:
    path = release / STUDY
    write_nifti(path, ct_volume((64, 64, 20)), affine_of(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    findings = deep(release, "--select", "image", exit_code=1)
    (finding,) = findings
    assert finding["code"] == "IMAGE_TRUNCATED"
    assert "before the member's end marker" in finding["context"]["reason"]
    assert finding["context"]["actual_bytes"] < finding["context"]["expected_bytes"] == 352 + 64 * 64 * 20 * 2


# --- build runs the deep tier -------------------------------------------------------------------------------

def test_build_refuses_a_multilabel_mask(tmp_path: Path) -> None:
    source = make_source(tmp_path / "source")
    labels = (np.arange(8 * 8 * 4) % 118).reshape((8, 8, 4)).astype(np.int16)
    write_nifti(source / "raw/case01_seg.nii.gz", labels)
    result = CliRunner().invoke(main, ["build", str(source), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "MASK_VALUES_UNEXPECTED" in result.output and "raw/case01_seg.nii.gz" in result.output
    assert not (tmp_path / "out").exists()


# --- hostile gzip headers -----------------------------------------------------------------------------------

def test_hostile_overlong_gzip_name(tmp_path: Path) -> None:
    source = make_source(tmp_path / "source")
    name = b"Ivanov^Ivan " * (3 * MAX_FIELD // 12)   # 3 MiB of name: beyond the 1 MiB bound
    (source / "raw/case01.nii.gz").write_bytes(gzip_member(nifti_bytes(ct_volume((8, 8, 4), seed=1)), name=name))
    before = snapshot(tmp_path)
    run = run_bounded(["build", str(source), "out"], cwd=tmp_path, timeout=60)
    run.assert_bounded(exit_code=1, seconds=15, megabytes=250)
    assert "longer than 1,048,576 bytes" in run.stderr + run.stdout
    assert snapshot(tmp_path) == before


def test_hostile_overlong_gzip_name_in_a_release(release: Path, tmp_path: Path) -> None:
    path = release / STUDY
    path.write_bytes(gzip_member(nifti_bytes(ct_volume(), affine_of(path)), name=b"Ivanov^Ivan " * (MAX_FIELD // 4)))
    before = snapshot(release)
    run = run_bounded(["validate", str(release), "--deep", "--format", "json", "--no-cache"], cwd=tmp_path,
                      timeout=60)
    run.assert_bounded(exit_code=1, seconds=20, megabytes=300)
    found = {(f["code"], f["path"], f["severity"]) for f in run.report()["findings"]}
    assert {("PHI_GZIP_HEADER", STUDY, "error"), ("IMAGE_UNREADABLE", STUDY, "error")} <= found
    assert snapshot(release) == before


def test_anonymise_nifti_takes_no_dicom_options(release: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["anonymise", "--nifti", "--copy-other", str(release), str(tmp_path / "o")])
    assert result.exit_code == 2 and "--copy-other apply to DICOM" in result.output
    assert not (tmp_path / "o").exists()


def test_hostile_build_of_four_gib_of_hidden_zeros(tmp_path: Path) -> None:
    # the mask has no gzip name, so the builder copies its compressed bytes as they are; the deep check refuses it
    source = make_source(tmp_path / "source")
    write_hidden_zeros(source / "raw/case01_seg.nii.gz", lesion_mask(), 1 << 32)
    before = snapshot(tmp_path)
    run = run_bounded(["build", str(source), "out", "--jobs", "1"], cwd=tmp_path, timeout=180)
    run.assert_bounded(exit_code=1, seconds=90, megabytes=300)
    assert "IMAGE_TRAILING_DATA" in run.stdout and "raw/case01_seg.nii.gz holds 4294967296 bytes" in run.stdout
    assert snapshot(tmp_path) == before
