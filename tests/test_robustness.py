"""Hostile and malformed input: a finding or a clear message with the right exit code, never a traceback,
and never a lost or modified file (found in review; each case once crashed or misjudged)."""

from __future__ import annotations

import gzip
import json
import shutil
import struct
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import yaml
from click.testing import CliRunner

from curator.cli.main import main
from curator.release.manifests import write_manifests
from tests.factories import card_data, ct_volume, make_source, nifti_bytes
from tests.reports import flatten, validate_report


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    return result.exit_code, result.output


def codes(root: Path, *args: str, exit_code: int) -> set[tuple[str, str]]:
    report = validate_report(root, *args, exit_code=exit_code)
    return {(code, path) for code, path in flatten(report, ["code", "path"])}


def test_force_never_deletes_a_source_inside_the_output(tmp_path: Path) -> None:
    project = tmp_path / "project"
    source = make_source(project / "src")
    (project / "notes.txt").write_text("precious")
    code, output = invoke("build", str(source), str(project), "--force")
    assert code == 2 and "would delete the source" in output
    assert (project / "notes.txt").read_text() == "precious" and (source / "studies.csv").is_file()


def test_output_beside_a_file_or_a_link_is_a_usage_error(tmp_path: Path) -> None:
    source = make_source(tmp_path / "src")
    (tmp_path / "afile").write_text("x")
    assert invoke("build", str(source), str(tmp_path / "afile" / "out"))[0] == 2
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert invoke("build", str(source), str(tmp_path / "link"), "--force")[0] == 2


def test_hostile_source_tables_and_cards(tmp_path: Path) -> None:
    source = make_source(tmp_path / "src")
    table = source / "studies.csv"
    good = table.read_text()
    table.write_text(good + "x" * 200_000 + ",CT-1\n")
    assert invoke("build", str(source), str(tmp_path / "o"))[0] == 1    # bad source data (README: exit 1)
    table.write_text(good.replace("raw/case01.nii.gz", "raw/case\x0001.nii.gz"))
    code, output = invoke("build", str(source), str(tmp_path / "o"))
    assert code == 1 and "line 2" in output
    table.write_text(good.replace("study,category", "study,study"))
    assert invoke("build", str(source), str(tmp_path / "o"))[0] == 1
    table.write_text(good.replace("\n", "\n\n", 2))      # blank lines keep true line numbers
    (source / "raw/case02.nii.gz").unlink()
    code, output = invoke("build", str(source), str(tmp_path / "o"))
    assert code == 1 and "studies.csv line 5" in output
    for bad in ({"title": {"EN": "x", "RU": "y"}}, {"funding": {}}, {"languages": ["en", "de"],
                                                                      "title": {"en": "x", "de": "y"}}):
        table.write_text(good)
        data = {**card_data(), **bad}
        (source / "dataset.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
        assert invoke("build", str(source), str(tmp_path / "o"))[0] == 2, bad
    assert not (tmp_path / "o").exists()


def test_far_away_cell_does_not_exhaust_memory(release: Path) -> None:
    book = openpyxl.load_workbook(release / "dataset_registry.xlsx")
    book.worksheets[0]["XFD1048576"] = "x"
    book.save(release / "dataset_registry.xlsx")
    found = codes(release, exit_code=1)
    assert not any(code.startswith("REGISTRY_") and code != "REGISTRY_COPIES_DISAGREE" for code, _ in found)


def test_corrupt_worksheet_xml_is_unreadable_not_a_crash(release: Path) -> None:
    path = release / "dataset_registry.xlsx"
    with zipfile.ZipFile(path) as book:
        members = {name: book.read(name) for name in book.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    members[sheet] = members[sheet][: len(members[sheet]) // 2]
    with zipfile.ZipFile(path, "w") as book:
        for name, data in members.items():
            book.writestr(name, data)
    assert ("REGISTRY_UNREADABLE", "dataset_registry.xlsx") in codes(release, exit_code=1)


def test_registry_with_repeated_columns_and_boolean_ids(release: Path) -> None:
    book = openpyxl.load_workbook(release / "dataset_registry.xlsx")
    sheet = book.worksheets[0]
    sheet.cell(row=2, column=1, value=True)
    book.save(release / "dataset_registry.xlsx")
    found = codes(release, exit_code=1)
    assert ("REGISTRY_ROW_INVALID", "dataset_registry.xlsx") in found
    sheet.cell(row=1, column=4, value="study_id")
    book.save(release / "dataset_registry.xlsx")
    assert ("REGISTRY_UNREADABLE", "dataset_registry.xlsx") in codes(release, exit_code=1)


def test_duplicate_ids_in_a_csv_registry(release: Path) -> None:
    (release / "dataset_registry.xlsx").unlink()
    csv_path = release / "dataset_registry.csv"
    lines = csv_path.read_text(encoding="utf-8-sig").splitlines()
    lines[2] = "1" + lines[2][1:]
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert ("REGISTRY_DUPLICATE_ID", "dataset_registry.csv") in codes(release, exit_code=1)


def _patch_header(path: Path, offset: int, fmt: str, *values: float) -> None:
    raw = bytearray(gzip.decompress(path.read_bytes()))
    struct.pack_into(fmt, raw, offset, *values)
    path.write_bytes(gzip.compress(bytes(raw), mtime=0))


def test_absurd_header_values_are_invalid_headers(release: Path) -> None:
    _patch_header(release / "studies/CT-0/study_0001.nii.gz", 112, "<ff", 1.0, float("inf"))  # scl_slope, _inter
    _patch_header(release / "studies/CT-0/study_0002.nii.gz", 108, "<f", float("nan"))   # vox_offset
    for tier in ("--fast", "--deep"):
        found = codes(release, tier, exit_code=1)
        assert ("IMAGE_HEADER_INVALID", "studies/CT-0/study_0001.nii.gz") in found
        assert ("IMAGE_HEADER_INVALID", "studies/CT-0/study_0002.nii.gz") in found


def test_multi_member_gzip_is_not_truncation(release: Path) -> None:
    """bgzip and pigz -i write many gzip members; the last trailer alone does not give the size."""
    path = release / "studies/CT-0/study_0001.nii.gz"
    payload = nifti_bytes(ct_volume((32, 32, 8)))
    path.write_bytes(b"".join(gzip.compress(payload[i:i + 4096], mtime=0) for i in range(0, len(payload), 4096)))
    for name in ("SHA256SUMS", "MD5SUMS"):
        (release / name).unlink()
    write_manifests(release)
    assert codes(release, exit_code=0) == set() and codes(release, "--deep", exit_code=0) == set()
    path.write_bytes(path.read_bytes()[:-3000])        # now really truncated
    found = codes(release, "--ignore", "CHECKSUM_MISMATCH", exit_code=1)
    assert ("IMAGE_TRUNCATED", "studies/CT-0/study_0001.nii.gz") in found


def test_links_named_like_litter_are_still_unsafe(release: Path) -> None:
    (release / ".DS_Store").symlink_to("/etc/passwd")
    (release / "studies" / "__MACOSX").symlink_to("/")
    found = codes(release, exit_code=1)
    assert ("FILE_UNSAFE", ".DS_Store") in found and ("FILE_UNSAFE", "studies/__MACOSX") in found


def test_verify_manifests_that_are_links_empty_foreign_or_not_text(release: Path, tmp_path: Path) -> None:
    outside = tmp_path / "sums"
    shutil.copyfile(release / "SHA256SUMS", outside)
    assert invoke("verify", str(release), "--manifest", str(outside))[0] == 0
    (release / "SHA256SUMS").unlink()
    (release / "SHA256SUMS").symlink_to(outside)
    code, output = invoke("verify", str(release))
    assert code == 1 and "FILE_UNSAFE" in output
    (release / "SHA256SUMS").unlink()
    (release / "SHA256SUMS").write_bytes(b"")
    code, output = invoke("verify", str(release))
    assert code == 1 and "lists no files" in output
    (release / "SHA256SUMS").write_bytes(outside.read_bytes() + b"\xff\xfe junk\n")
    code, output = invoke("verify", str(release), "--format", "json")
    assert code == 1
    assert [f["code"] for f in json.loads(output)["findings"]] == ["MANIFEST_MALFORMED"]


def test_report_to_a_missing_folder_is_a_usage_error(built_release: Path, tmp_path: Path) -> None:
    code, output = invoke("validate", str(built_release), "-o", str(tmp_path / "no" / "such" / "r.json"))
    assert code == 2 and "cannot write the report" in output


def test_manifest_findings_carry_the_study_id(release: Path) -> None:
    (release / "studies/CT-1/study_0004.nii.gz").write_bytes(np.zeros(4).tobytes())
    _, output = invoke("validate", str(release), "--format", "json", "--select", "CHECKSUM_MISMATCH")
    assert {f["study_id"] for f in json.loads(output)["findings"]} == {4}
