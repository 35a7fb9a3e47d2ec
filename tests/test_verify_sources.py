"""`curator verify` against the checksum listings publishers actually ship (issue 14, item 4).

Each form is tested in the shape its publisher (or the standard's own writer) produces; the source of each shape is
named in the test. A downloader holding a folder of parts and whatever listing came with them gets the same answer
as with SHA256SUMS: the damaged and missing files named exactly, extra files warned about, "fetch again: <files>".
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from curator.cli.main import main
from tests.factories import flip_byte
from tests.hostile import run_bounded, snapshot
from tests.listing_factories import (
    cncb_download,
    dataverse_dataset,
    write_json,
    write_parts,
    zenodo_deposition_files,
    zenodo_record,
)


def verify_json(*args: str, exit_code: int) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["verify", *args, "--format", "json", "--no-cache"])
    assert result.exit_code == exit_code, result.output
    report: dict[str, Any] = json.loads(result.output)
    return report


def verify_text(*args: str, exit_code: int) -> str:
    result = CliRunner().invoke(main, ["verify", *args, "--no-cache"])
    assert result.exit_code == exit_code, result.output
    return result.output


def found(report: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(f["code"], f["path"], f["severity"]) for f in report["findings"]}


# ------------------------------------------------------------------------------------------------ CNCB md5 maps


def test_cncb_md5_maps_of_every_class_are_found_and_all_parts_checked(tmp_path: Path) -> None:
    # Shape: CNCB ships one flat md5 JSON per class, {"COVID19-1.zip": "<md5>", ...}: filemd5.json (NCP), CP.json,
    # Normal.json (seed 004: the CNCB dataset page's download table; issue 14).
    parts = cncb_download(tmp_path)
    report = verify_json(str(tmp_path), exit_code=0)
    assert report["findings"] == []
    assert report["stats"]["form"] == "md5 JSON map"
    assert sorted(report["stats"]["listings"]) == ["CP.json", "Normal.json", "filemd5.json"]
    assert report["stats"]["listed"] == len(parts) == 6
    text = verify_text(str(tmp_path), exit_code=0)
    assert "INTACT" in text and "(md5 JSON map CP.json, Normal.json, filemd5.json)" in text


def test_a_damaged_a_missing_and_an_extra_part_are_named_exactly(tmp_path: Path) -> None:
    cncb_download(tmp_path)
    flip_byte(tmp_path / "COVID19-2.zip", 100)
    (tmp_path / "CP-1.zip").unlink()
    (tmp_path / "Normal-9.zip").write_bytes(b"not from CNCB")
    report = verify_json(str(tmp_path), exit_code=1)
    assert found(report) == {("CHECKSUM_MISMATCH", "COVID19-2.zip", "error"), ("FILE_MISSING", "CP-1.zip", "error"),
                             ("FILE_UNLISTED", "Normal-9.zip", "warning")}
    assert report["stats"]["refetch"] == ["COVID19-2.zip", "CP-1.zip"]
    text = verify_text(str(tmp_path), exit_code=1)
    assert "fetch again (2): COVID19-2.zip CP-1.zip" in text


def test_an_independent_md5sum_over_the_maps_entries_agrees(tmp_path: Path) -> None:
    cncb_download(tmp_path)
    flip_byte(tmp_path / "Normal-1.zip", 7)
    independent = sorted(name for listing in ("filemd5.json", "CP.json", "Normal.json")
                         for name, md5 in json.loads((tmp_path / listing).read_text()).items()
                         if hashlib.md5((tmp_path / name).read_bytes()).hexdigest() != md5)
    assert independent == ["Normal-1.zip"]
    assert verify_json(str(tmp_path), exit_code=1)["stats"]["refetch"] == independent


def test_a_class_map_in_its_own_folder_names_files_in_that_folder(tmp_path: Path) -> None:
    # CNCB's page links ./NCP/filemd5.json, ./CP/CP.json: a map lists the names beside it
    cncb_download(tmp_path, subfolders=True)
    flip_byte(tmp_path / "CP" / "CP-2.zip", 3)
    report = verify_json(str(tmp_path), exit_code=1)
    assert found(report) == {("CHECKSUM_MISMATCH", "CP/CP-2.zip", "error")}
    only_cp = verify_json(str(tmp_path), "--against", "CP/CP.json", exit_code=1)
    assert [(f["code"], f["path"]) for f in only_cp["findings"] if f["severity"] == "error"] == [
        ("CHECKSUM_MISMATCH", "CP/CP-2.zip")]
    assert only_cp["stats"]["listed"] == 2 and "listings" not in only_cp["stats"]


def test_zenodo_gets_md5sums_txt_is_read_as_md5_and_not_called_unlisted(tmp_path: Path) -> None:
    # zenodo_get -m writes md5sums.txt ("<md5>  <name>", the md5sum format) beside the files it downloaded
    parts = write_parts(tmp_path, ["a.zip", "b.zip"])
    (tmp_path / "md5sums.txt").write_text("".join(f"{hashlib.md5(d).hexdigest()}  {n}\n" for n, d in parts.items()),
                                          encoding="utf-8")
    intact = verify_json(str(tmp_path), exit_code=0)
    assert intact["findings"] == [] and intact["stats"]["manifest"] == "md5sums.txt"
    flip_byte(tmp_path / "b.zip", 2)
    report = verify_json(str(tmp_path), exit_code=1)
    assert {(f["code"], f["path"], f["context"]["algorithm"]) for f in report["findings"]} == {
        ("CHECKSUM_MISMATCH", "b.zip", "md5")}


# ------------------------------------------------------------------------------------------------ Dataverse


@pytest.mark.parametrize("shape", ["native API answer", "dataset object", "version object", "version files"])
def test_a_dataverse_dataset_json_checks_every_file_by_its_checksum_type(tmp_path: Path, shape: str) -> None:
    # Shape: GET /api/datasets/:persistentId/?persistentId=doi:10.7910/DVN/6ACUZI (Dataverse native API guide,
    # "Get JSON Representation of a Dataset"); each file as IQSS/dataverse JsonPrinter.json(FileMetadata) and
    # json(DataFile) write it: label, directoryLabel, dataFile {filename, md5, checksum {type, value}, filesize}.
    # The versions endpoints answer with the version object, and /versions/{v}/files with the file list alone.
    download = tmp_path / "download"
    download.mkdir()
    parts = write_parts(download, ["patients/P001.rar", "patients/P002.rar", "patients/P003.rar", "README.txt"])
    answer = dataverse_dataset(parts, kinds={"patients/P002.rar": "SHA-1", "README.txt": "SHA-256"},
                               md5_only=("patients/P003.rar",))
    document = {"native API answer": answer, "dataset object": answer["data"],
                "version object": {"status": "OK", "data": answer["data"]["latestVersion"]},
                "version files": {"status": "OK", "data": answer["data"]["latestVersion"]["files"]}}[shape]
    listing = write_json(tmp_path / "dataset.json", document)   # saved beside the download, not in it
    intact = verify_json(str(download), "--against", str(listing), exit_code=0)
    assert intact["findings"] == [] and intact["stats"]["form"] == "Dataverse dataset JSON"
    flip_byte(download / "patients" / "P002.rar", 10)
    flip_byte(download / "README.txt", 10)
    (download / "patients" / "P003.rar").unlink()
    report = verify_json(str(download), "--against", str(listing), exit_code=1)
    assert {(f["code"], f["path"], (f["context"] or {}).get("algorithm")) for f in report["findings"]} == {
        ("CHECKSUM_MISMATCH", "patients/P002.rar", "sha1"), ("CHECKSUM_MISMATCH", "README.txt", "sha256"),
        ("FILE_MISSING", "patients/P003.rar", None)}
    assert report["stats"]["refetch"] == ["README.txt", "patients/P002.rar", "patients/P003.rar"]


def test_a_plain_python_reader_of_the_dataverse_listing_agrees(tmp_path: Path) -> None:
    parts = write_parts(tmp_path, [f"P{n:03d}.rar" for n in range(1, 6)])
    listing = write_json(tmp_path / "dataverse.json", dataverse_dataset(parts))
    flip_byte(tmp_path / "P004.rar", 1)
    files = json.loads(listing.read_text())["data"]["latestVersion"]["files"]
    independent = sorted(f["label"] for f in files
                         if hashlib.md5((tmp_path / f["label"]).read_bytes()).hexdigest() != f["dataFile"]["md5"])
    report = verify_json(str(tmp_path), "--against", "dataverse.json", exit_code=1)
    assert report["stats"]["refetch"] == independent == ["P004.rar"]
    # found by itself too: a Dataverse JSON among the files of the folder
    assert verify_json(str(tmp_path), exit_code=1)["stats"]["refetch"] == ["P004.rar"]


def test_an_ingested_dataverse_table_is_checked_as_the_original_upload(tmp_path: Path) -> None:
    # Dataverse lists an ingested table as "<name>.tab" with originalFileName; its checksum is of the file as
    # uploaded (IQSS/dataverse issue 9501: the .tab served by default does not match it)
    parts = write_parts(tmp_path, ["registry.csv"])
    answer = dataverse_dataset(parts)
    entry = answer["data"]["latestVersion"]["files"][0]
    entry["label"] = entry["dataFile"]["filename"] = "registry.tab"
    entry["dataFile"].update(originalFileName="registry.csv", originalFileFormat="text/csv", tabularData=True)
    listing = write_json(tmp_path.parent / f"{tmp_path.name}.json", answer)
    assert verify_json(str(tmp_path), "--against", str(listing), exit_code=0)["stats"]["listed"] == 1


# ------------------------------------------------------------------------------------------------ Zenodo


@pytest.mark.parametrize("shape", ["record", "InvenioRDM entries", "files endpoint", "legacy deposition files"])
def test_a_zenodo_record_json(tmp_path: Path, shape: str) -> None:
    # Shape: GET https://zenodo.org/api/records/{id}: files [{key, size, checksum "md5:<hex>", links}]
    # (developers.zenodo.org, Records; the real sandbox record 430905: bucket, checksum "md5:...", key, links,
    # size, type); InvenioRDM's files {enabled, entries}; /records/{id}/files: {entries: [...]}; the legacy
    # deposition files answer [{id, filename, filesize, checksum "<md5 hex>"}] (developers.zenodo.org).
    download = tmp_path / "download"
    download.mkdir()
    parts = write_parts(download, ["ct_part1.zip", "ct_part2.zip", "masks.zip"])
    record = zenodo_record(parts)
    document = {"record": record,
                "InvenioRDM entries": {**record, "files": {"enabled": True,
                                                           "entries": {f["key"]: f for f in record["files"]}}},
                "files endpoint": {"enabled": True, "entries": record["files"]},
                "legacy deposition files": zenodo_deposition_files(parts)}[shape]
    listing = write_json(tmp_path / "record.json", document)
    assert verify_json(str(download), "--against", str(listing), exit_code=0)["stats"]["form"] == "Zenodo record JSON"
    flip_byte(download / "masks.zip", 0)
    report = verify_json(str(download), "--against", str(listing), exit_code=1)
    assert found(report) == {("CHECKSUM_MISMATCH", "masks.zip", "error")}


# ------------------------------------------------------------------------------------------------ BagIt


def test_a_bag_made_by_bagit_python_verifies_payload_and_tag_manifests(tmp_path: Path) -> None:
    # Shape: RFC 8493 section 2.1.3 / 2.2.1, written by the Library of Congress's own bagit-python (make_bag with
    # md5 and sha256: manifest-md5.txt, manifest-sha256.txt over data/, tagmanifest-*.txt over the tag files).
    bagit = pytest.importorskip("bagit")
    bag = tmp_path / "bag"
    bag.mkdir()
    write_parts(bag, ["studies/CT-0/study_0001.bin", "README_EN.md"])
    bagit.make_bag(str(bag), {"Source-Organization": "curator tests"}, checksums=["md5", "sha256"])
    intact = verify_json(str(bag), exit_code=0)
    assert intact["stats"]["form"] == "BagIt bag" and intact["stats"]["manifest"] == "manifest-sha256.txt"
    assert set(intact["stats"]["listings"]) == {"manifest-sha256.txt", "manifest-md5.txt", "tagmanifest-sha256.txt",
                                                "tagmanifest-md5.txt"}
    flip_byte(bag / "data" / "studies" / "CT-0" / "study_0001.bin", 5)
    with (bag / "bag-info.txt").open("a", encoding="utf-8") as handle:
        handle.write("Contact-Name: somebody else\n")
    (bag / "data" / "README_EN.md").unlink()
    report = verify_json(str(bag), exit_code=1)
    assert {(f["code"], f["path"], (f["context"] or {}).get("algorithm")) for f in report["findings"]} == {
        ("CHECKSUM_MISMATCH", "data/studies/CT-0/study_0001.bin", "sha256"),
        ("CHECKSUM_MISMATCH", "data/studies/CT-0/study_0001.bin", "md5"),
        ("CHECKSUM_MISMATCH", "bag-info.txt", "sha256"), ("CHECKSUM_MISMATCH", "bag-info.txt", "md5"),
        ("FILE_MISSING", "data/README_EN.md", None)}
    assert report["stats"]["refetch"] == ["bag-info.txt", "data/README_EN.md", "data/studies/CT-0/study_0001.bin"]
    assert not bagit.Bag(str(bag)).is_valid()   # the reference validator agrees the bag is damaged


def test_a_bag_in_a_folder_of_root_named_by_its_bagit_txt(tmp_path: Path) -> None:
    bagit = pytest.importorskip("bagit")
    bag = tmp_path / "transfer"
    bag.mkdir()
    write_parts(bag, ["P001.rar", "P002.rar"])
    bagit.make_bag(str(bag), checksums=["sha512"])
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    flip_byte(bag / "data" / "P002.rar", 1)
    report = verify_json(str(tmp_path), "--against", "transfer/bagit.txt", exit_code=1)
    assert found(report) == {("CHECKSUM_MISMATCH", "transfer/data/P002.rar", "error"),
                             ("FILE_UNLISTED", "notes.txt", "warning")}
    assert report["stats"]["manifest"] == "manifest-sha512.txt"
    assert verify_json(str(tmp_path), "--against", str(bag), exit_code=1)["stats"]["refetch"] == [
        "transfer/data/P002.rar"]   # the bag's folder names it as well


def test_a_bag_manifest_line_with_a_path_outside_data_is_malformed(tmp_path: Path) -> None:
    write_parts(tmp_path, ["data/a.bin"])
    (tmp_path / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", encoding="utf-8")
    digest = hashlib.sha256((tmp_path / "data/a.bin").read_bytes()).hexdigest()
    (tmp_path / "manifest-sha256.txt").write_text(f"{digest} data/a.bin\n{digest}  ../etc/passwd\n{digest}  a.bin\n",
                                                  encoding="utf-8")   # one space is allowed (RFC 8493 2.1.3)
    report = verify_json(str(tmp_path), exit_code=1)
    assert sorted((f["code"], f["path"], f["context"]["line"], f["context"]["reason"]) for f in report["findings"]) == [
        ("MANIFEST_MALFORMED", "manifest-sha256.txt", 2, "path '../etc/passwd' points outside the release"),
        ("MANIFEST_MALFORMED", "manifest-sha256.txt", 3, "a payload manifest lists only files under data/")]


# ------------------------------------------------------------------------------------------------ datapackage


def test_a_datapackage_written_by_frictionless(tmp_path: Path) -> None:
    # Shape: Frictionless Data Package, resource "hash" "<algorithm>:<hex>" (plain hex is md5), "path" relative
    # to the descriptor (datapackage.org, Data Resource); written here by frictionless-py's own describe().
    frictionless = pytest.importorskip("frictionless")
    write_parts(tmp_path, ["registry.csv", "study_0001.bin"])
    (tmp_path / "registry.csv").write_text("study_id,category\n1,CT-0\n", encoding="utf-8")
    package = frictionless.describe("*", type="package", stats=True, basepath=str(tmp_path))
    descriptor = package.to_descriptor()
    descriptor["resources"].append({"name": "old", "path": "old.bin", "hash": hashlib.md5(b"v1").hexdigest()})
    (tmp_path / "old.bin").write_bytes(b"v1")
    write_json(tmp_path / "datapackage.json", descriptor)
    intact = verify_json(str(tmp_path), exit_code=0)
    assert intact["stats"]["form"] == "datapackage.json" and intact["stats"]["listed"] == 3
    flip_byte(tmp_path / "study_0001.bin", 1)
    (tmp_path / "old.bin").write_bytes(b"v2")
    report = verify_json(str(tmp_path), exit_code=1)
    assert {(f["code"], f["path"], f["context"]["algorithm"]) for f in report["findings"]} == {
        ("CHECKSUM_MISMATCH", "study_0001.bin", "sha256"), ("CHECKSUM_MISMATCH", "old.bin", "md5")}


def test_a_built_releases_own_datapackage_and_croissant_verify_it(release: Path) -> None:
    # curator build writes datapackage.json ("hash": "sha256:<hex>") and croissant.json (FileObject sha256)
    for listing, form in (("datapackage.json", "datapackage.json"), ("croissant.json", "Croissant metadata")):
        intact = verify_json(str(release), "--against", listing, exit_code=0)
        assert intact["stats"]["form"] == form and intact["stats"]["listed"] > 10
    victim = sorted(release.glob("studies/CT-*/*.nii.gz"))[0]
    flip_byte(victim)
    for listing in ("datapackage.json", "croissant.json"):
        report = verify_json(str(release), "--against", listing, exit_code=1)
        assert report["stats"]["refetch"] == [victim.relative_to(release).as_posix()]


# ------------------------------------------------------------------------------------------------ Croissant


def test_croissant_file_objects_written_by_mlcroissant(tmp_path: Path) -> None:
    # Shape: Croissant 1.0 "distribution" of cr:FileObject with "md5" or "sha256" and "contentUrl"
    # (docs.mlcommons.org/croissant, FileObject: cr:md5, sc:sha256); written here by mlcroissant itself. A URL's
    # last segment is the name the file downloads as; a FileObject containedIn an archive is inside it.
    mlc = pytest.importorskip("mlcroissant")
    parts = write_parts(tmp_path, ["COVID19-1.zip", "README.md"])
    metadata = mlc.Metadata(name="cncb", url="https://example.org/cncb", distribution=[
        mlc.FileObject(id="part-1", name="COVID19-1.zip", content_url="https://example.org/download/COVID19-1.zip",
                       encoding_formats=["application/zip"], md5=hashlib.md5(parts["COVID19-1.zip"]).hexdigest()),
        mlc.FileObject(id="readme", name="README.md", content_url="README.md", encoding_formats=["text/markdown"],
                       sha256=hashlib.sha256(parts["README.md"]).hexdigest()),
        mlc.FileObject(id="inside", name="image/0/1.jpg", content_url="image/0/1.jpg", contained_in=["part-1"],
                       encoding_formats=["image/jpeg"], sha256="0" * 64)])
    write_json(tmp_path / "croissant.json", metadata.to_json())
    assert verify_json(str(tmp_path), exit_code=0)["stats"]["form"] == "Croissant metadata"
    flip_byte(tmp_path / "COVID19-1.zip", 4)
    report = verify_json(str(tmp_path), exit_code=1)
    assert found(report) == {("CHECKSUM_MISMATCH", "COVID19-1.zip", "error")}


# ------------------------------------------------------------------------------------------------ hostile listings


def test_a_200_mb_json_listing_is_refused_unread(tmp_path: Path) -> None:
    download = tmp_path / "download"
    download.mkdir()
    cncb_download(download)
    huge = tmp_path / "filemd5.json"
    with huge.open("wb") as handle:
        handle.write(b'{"COVID19-1.zip": "')
        handle.truncate(200 << 20)   # sparse: 200 MB on paper, nothing to read in practice
    before = snapshot(tmp_path)
    run = run_bounded(["verify", str(download), "--against", str(huge), "--no-cache"], cwd=tmp_path, timeout=60)
    run.assert_bounded(exit_code=3, seconds=10, megabytes=150)
    assert "expected at most 33,554,432 bytes; the file has 209,715,200" in run.stderr
    # among the files of ROOT, the same file is passed over while the listing is detected
    (download / "huge.json").symlink_to(huge)
    (download / "big.json").write_bytes(b" " * (17 << 20))
    found_itself = run_bounded(["verify", str(download), "--no-cache"], cwd=tmp_path, timeout=60)
    found_itself.assert_bounded(exit_code=0, seconds=10, megabytes=150)
    assert "(md5 JSON map CP.json, Normal.json, filemd5.json)" in found_itself.stdout
    (download / "huge.json").unlink()
    (download / "big.json").unlink()
    assert snapshot(tmp_path) == before


def test_deeply_nested_json_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    write_parts(tmp_path, ["a.zip"])
    deep = tmp_path.parent / f"{tmp_path.name}-deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")
    run = run_bounded(["verify", str(tmp_path), "--against", str(deep), "--no-cache", "--format", "json"],
                      timeout=60)
    run.assert_bounded(exit_code=1, seconds=10, megabytes=150)
    report = json.loads(run.stdout)
    assert [(f["code"], f["context"]["form"]) for f in report["findings"] if f["severity"] == "error"] == [
        ("CHECKSUM_LISTING_INVALID", "JSON checksum listing")]
    assert "nested deeper than" in report["findings"][0]["message"]


def test_paths_outside_the_folder_duplicates_bad_digests_and_unknown_algorithms_are_named(tmp_path: Path) -> None:
    download = tmp_path / "download"
    parts = write_parts(download, ["a.zip", "b.zip"])
    secret = tmp_path / "secret.zip"
    secret.write_bytes(b"outside")
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in parts.items()}
    listing = tmp_path / "filemd5.json"   # written by hand: JSON keeps only the last of repeated keys
    outside = hashlib.md5(b"outside").hexdigest()
    listing.write_text(f'{{"a.zip": "{md5["a.zip"]}", "../secret.zip": "{outside}", "/etc/passwd": "{md5["a.zip"]}", '
                       f'"b.zip": "not-hex", "a.zip": "{md5["a.zip"]}", "c.zip": "{"A" * 31}"}}', encoding="utf-8")
    before = snapshot(tmp_path)
    report = verify_json(str(download), "--against", str(listing), exit_code=1)
    reasons = sorted(f["context"]["reason"] for f in report["findings"] if f["code"] == "CHECKSUM_LISTING_INVALID")
    assert reasons == sorted([
        "entry '../secret.zip': path '../secret.zip' points outside the release",
        "entry '/etc/passwd': path '/etc/passwd' points outside the release",
        "entry 'b.zip': 'not-hex' is not a md5 digest (32 hex digits)",
        f"entry 'c.zip': '{'A' * 31}' is not a md5 digest (32 hex digits)",
        "'a.zip' is listed more than once; JSON keeps only the last digest"])
    assert found(report) - {("CHECKSUM_LISTING_INVALID", str(listing), "error")} == {
        ("FILE_UNLISTED", "b.zip", "warning")}
    assert snapshot(tmp_path) == before

    dataverse = dataverse_dataset(parts, kinds={"b.zip": "SHA-1"})
    dataverse["data"]["latestVersion"]["files"][1]["dataFile"]["checksum"]["type"] = "SHA3-256"
    dataverse["data"]["latestVersion"]["files"].append(dataverse["data"]["latestVersion"]["files"][0])
    path = write_json(tmp_path / "dataset.json", dataverse)
    report = verify_json(str(download), "--against", str(path), exit_code=1)
    assert sorted(f["context"]["reason"] for f in report["findings"] if f["code"] == "CHECKSUM_LISTING_INVALID") == [
        "file 2 ('b.zip'): unknown checksum algorithm 'SHA3-256' (curator checks MD5, SHA-1, SHA-256 and SHA-512)",
        "file 3 ('a.zip'): a.zip is listed again (first as entry 1)"]

    package = {"resources": [{"name": "a", "path": "a.zip", "hash": f"crc32:{'0' * 8}"},
                             {"name": "b", "path": ["b.zip", "a.zip"], "hash": md5["b.zip"]},
                             {"name": "web", "path": "https://example.org/b.zip", "hash": md5["b.zip"]}]}
    report = verify_json(str(download), "--against", str(write_json(tmp_path / "datapackage.json", package)),
                         exit_code=1)
    assert sorted(f["context"]["reason"] for f in report["findings"] if f["code"] == "CHECKSUM_LISTING_INVALID") == [
        "resource 1 ('a'): unknown checksum algorithm 'crc32' (curator checks MD5, SHA-1, SHA-256 and SHA-512)",
        "resource 2 ('b'): one hash for 2 files joined together cannot be checked file by file",
        "resource 3 ('web'): 'https://example.org/b.zip' is a URL, not a file in the folder"]


def test_json_of_no_listing_shape_named_by_against_is_a_usage_error(tmp_path: Path) -> None:
    write_parts(tmp_path, ["a.zip"])
    other = write_json(tmp_path / "config.json", {"name": "x", "threads": 4, "paths": ["a", "b"]})
    run = run_bounded(["verify", str(tmp_path), "--against", str(other)], timeout=60)
    run.assert_bounded(exit_code=2, seconds=10, megabytes=150)
    assert "config.json is JSON, but not a checksum listing curator reads" in run.stderr
    missing = run_bounded(["verify", str(tmp_path), "--against", "nowhere.json"], timeout=60)
    missing.assert_bounded(exit_code=3, seconds=10, megabytes=150)
    assert "nowhere.json does not exist" in missing.stderr
    fifo = tmp_path.parent / f"{tmp_path.name}-fifo.json"
    os.mkfifo(fifo)    # would block a reader that opened it plainly
    blocked = run_bounded(["verify", str(tmp_path), "--against", str(fifo)], timeout=60)
    blocked.assert_bounded(exit_code=3, seconds=10, megabytes=150)
    assert "expected a regular file; found a FIFO" in blocked.stderr
    (tmp_path / "parts").mkdir()
    folder = run_bounded(["verify", str(tmp_path), "--against", "parts"], timeout=60)
    folder.assert_bounded(exit_code=3, seconds=10, megabytes=150)
    assert "is a folder without bagit.txt" in folder.stderr
    # among the files of ROOT such a JSON is no listing at all: nothing to verify against
    nothing = run_bounded(["verify", str(tmp_path)], timeout=60)
    nothing.assert_bounded(exit_code=3, seconds=10, megabytes=150)
    assert "no checksum manifest or listing" in nothing.stderr


def test_a_json_listing_keeps_verify_import_light(tmp_path: Path) -> None:
    # the fast path (text answer, cache) reads a JSON listing with json alone: no pydantic, yaml or click
    download = tmp_path / "download"
    download.mkdir()
    cncb_download(download)
    flip_byte(download / "CP-2.zip", 9)
    code = (
        "import sys\n"
        "from curator.cli.entry import main\n"
        "try:\n"
        f"    main(['verify', {str(download)!r}, '--cache-dir', {str(tmp_path / 'cache')!r}])\n"
        "except SystemExit as done:\n"
        "    print('EXIT', done.code)\n"
        "heavy = ('pydantic', 'yaml', 'click', 'curator.models.findings')\n"
        "print('HEAVY', sorted(m for m in heavy if m in sys.modules))\n"
    )
    for _ in ("first", "rerun"):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        assert "HEAVY []" in done.stdout and "EXIT 1" in done.stdout, done.stdout + done.stderr
        assert "fetch again (1): CP-2.zip" in done.stdout


def test_every_class_map_of_a_parts_folder_has_its_parts_looked_inside(built_release: Path, tmp_path: Path) -> None:
    # a folder of parts (PARTS.tsv) shipped with md5 maps per class, as the cncb form ships it: every map's parts
    # are opened, not only the first map's
    import datetime as dt
    import zipfile

    from curator.release.archives import pack_release

    out = tmp_path / "parts"
    pack_release(built_release, out, fmt="zip", max_bytes=None, max_files=9, when=dt.date(2026, 1, 15))
    names = sorted(p.name for p in out.glob("*.zip"))
    victim = next(p for p in sorted(out.glob("*.zip")) if "studies/CT-1/study_0003.nii.gz"
                  in zipfile.ZipFile(p).namelist())
    with zipfile.ZipFile(victim) as archive:
        members = {info: archive.read(info) for info in archive.infolist()}
    with zipfile.ZipFile(victim, "w") as archive:   # a changed member inside a part whose md5 is then updated
        for info, data in members.items():
            archive.writestr(info, data[:-9] + bytes([data[-9] ^ 0xFF]) + data[-8:]
                             if info.filename == "studies/CT-1/study_0003.nii.gz" else data)
    (out / "SHA256SUMS").unlink()
    (out / "MD5SUMS").unlink()
    first = [n for n in names if n != victim.name][:1]
    for listing, group in (("a.json", first), ("b.json", [n for n in names if n not in first])):
        write_json(out / listing, {n: hashlib.md5((out / n).read_bytes()).hexdigest() for n in group})
    report = verify_json(str(out), exit_code=1)
    assert report["stats"]["listings"] == ["a.json", "b.json"] and report["stats"]["parts"] == len(names)
    assert [(f["code"], f["path"], f["context"].get("part")) for f in report["findings"]] == [
        ("CHECKSUM_MISMATCH", "studies/CT-1/study_0003.nii.gz", victim.name)]
    assert report["stats"]["refetch"] == [victim.name]
