"""``curator fetch`` from Zenodo, Dataverse and the Hugging Face Hub, against the local stand-ins of their
documented APIs (tests/zenodo_standin.py, tests/dataverse_standin.py, tests/hub_standin.py):

- Zenodo REST API, https://developers.zenodo.org/ ("Records": ``GET /api/records/{id}``, ``files[].key``,
  ``.size``, ``.checksum`` "md5:<hex>", ``.links.self``);
- Dataverse native API, https://guides.dataverse.org/en/latest/api/native-api.html ("Get JSON Representation of a
  Dataset": ``data.latestVersion.files[].dataFile`` {id, filename, filesize, md5, checksum}) and the data access
  API, https://guides.dataverse.org/en/latest/api/dataaccess.html (``/api/access/datafile/{id}``);
- the Hub through ``huggingface_hub`` (``HfApi(endpoint=).list_repo_tree``: LFS sha256, git blob ids;
  ``hf_hub_url``), https://huggingface.co/docs/hub/api.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from curator.cli.main import main
from curator.cli.verify import run as verify_run
from curator.fetch.plan import Item
from curator.fetch.platforms import _dataverse_item
from tests.dataverse_standin import DataverseStandin
from tests.factories import large_file_release
from tests.hub_standin import HubStandin, git_oid
from tests.zenodo_standin import ZenodoStandin

TOKEN = "fetch-test-token-4f1c"


@pytest.fixture
def zenodo() -> Iterator[ZenodoStandin]:
    with ZenodoStandin(TOKEN) as standin:
        yield standin


def _flat_release(tmp_path: Path, size: int = 200_000) -> dict[str, bytes]:
    """A release of files without folders (a Zenodo record has none): README, one volume and its manifests."""
    root = tmp_path / "flat"
    large_file_release(root, size, rel="volume.bin")
    return {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}


def _fetch(*args: str, exit_code: int) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["fetch", *args, "--no-cache", "--format", "json"])
    assert result.exit_code == exit_code, result.output
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


@pytest.mark.parametrize("form", ["zenodo:{id}", "https://zenodo.org/records/{id}", "10.5281/zenodo.{id}",
                                  "https://doi.org/10.5281/zenodo.{id}"])
def test_a_zenodo_record_is_fetched_with_its_md5s_compared(zenodo: ZenodoStandin, tmp_path: Path, form: str) -> None:
    files = _flat_release(tmp_path)
    record = zenodo.record(files)
    dest = tmp_path / "dest"
    document = _fetch(form.format(id=record), str(dest), "--api", zenodo.url, exit_code=0)
    fetched = {f["path"]: f for f in document["files"]}
    assert sorted(fetched) == sorted(files)
    assert fetched["volume.bin"]["digests"]["md5"] == hashlib.md5(files["volume.bin"]).hexdigest()
    assert {name: (dest / name).read_bytes() for name in files} == files
    assert zenodo.sent["volume.bin"] == len(files["volume.bin"])
    assert document["verify"]["valid"] is True and document["source"] == f"zenodo:{record}"


def test_a_byte_flipped_in_a_zenodo_record_is_named_with_both_md5s(zenodo: ZenodoStandin, tmp_path: Path) -> None:
    files = _flat_release(tmp_path)
    record = zenodo.record(files)
    zenodo.flip_byte(record, "volume.bin")
    got = hashlib.md5(zenodo.files[record]["volume.bin"]).hexdigest()
    listed = hashlib.md5(files["volume.bin"]).hexdigest()
    result = CliRunner().invoke(main, ["fetch", f"zenodo:{record}", str(tmp_path / "dest"), "--api", zenodo.url,
                                       "--no-cache"])
    assert result.exit_code == 1, result.output
    assert (f"DAMAGED volume.bin: md5 is {got}, Zenodo record {record} lists {listed}; the download was removed"
            in result.output)
    assert "fetch again (1): volume.bin" in result.output


def test_an_unknown_zenodo_record_cannot_run(zenodo: ZenodoStandin, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["fetch", "zenodo:999999", str(tmp_path / "dest"), "--api", zenodo.url])
    assert result.exit_code == 3, result.output
    assert "/api/records/999999: the server answered 404" in result.output


def _dataverse_dataset(standin: DataverseStandin, root: Path) -> str:
    """The files under ``root`` as a published dataset of the stand-in (folders as directoryLabel); its DOI."""
    with standin.lock:
        number = standin._new_id()
        pid = f"doi:10.5072/FK2/FETCH{number}"
        stored = {}
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root).as_posix()
            file_id = standin._new_id()
            stored[file_id] = {"id": file_id, "label": path.name, "directoryLabel": rel.rpartition("/")[0] or None,
                               "content": path.read_bytes(), "tabIngest": False}
        standin.datasets[pid] = {"alias": standin.alias, "metadata": {}, "files": stored, "published": True,
                                 "id": number}
    return pid


def test_a_dataverse_dataset_is_fetched_into_its_folders_and_verified(
        built_release: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAVERSE_API_TOKEN", TOKEN)
    with DataverseStandin(TOKEN) as standin:
        pid = _dataverse_dataset(standin, built_release)
        dest = tmp_path / "dest"
        document = _fetch(pid, str(dest), "--server", standin.url, exit_code=0)
        study = "studies/CT-1/study_0004.nii.gz"
        assert (dest / study).read_bytes() == (built_release / study).read_bytes()
        assert standin.sent[study] == (built_release / study).stat().st_size
        entry = next(f for f in document["files"] if f["path"] == study)
        assert entry["digests"]["md5"] == hashlib.md5((built_release / study).read_bytes()).hexdigest()
        assert document["verify"]["valid"] is True
        assert verify_run([str(dest), "--no-cache"]) == 0
        assert TOKEN not in json.dumps(document)   # the API token is sent, never shown


def test_a_dataverse_doi_without_server_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["fetch", "doi:10.7910/DVN/6ACUZJ", str(tmp_path / "dest")])
    assert result.exit_code == 2, result.output
    assert "--server URL" in result.output


def test_a_hub_dataset_is_fetched_with_lfs_sha256_and_git_blob_ids(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    files = _flat_release(tmp_path, 300_000)
    with HubStandin(TOKEN) as hub:
        hub.repos["radiology/ct-release"] = {
            "private": False, "commits": [], "type": "dataset",
            "files": {**{n: {"lfs": None, "content": d} for n, d in files.items() if n != "volume.bin"},
                      "data/volume.bin": {"lfs": hashlib.sha256(files["volume.bin"]).hexdigest()}}}
        hub.lfs[hashlib.sha256(files["volume.bin"]).hexdigest()] = files["volume.bin"]
        for name in ("SHA256SUMS", "MD5SUMS"):   # the listings name the volume under data/
            hub.repos["radiology/ct-release"]["files"][name]["content"] = files[name].replace(b"volume.bin",
                                                                                              b"data/volume.bin")
        dest = tmp_path / "dest"
        document = _fetch("hf:radiology/ct-release", str(dest), "--api", hub.url, exit_code=0)
        fetched = {f["path"]: f for f in document["files"]}
        assert fetched["data/volume.bin"]["digests"]["sha256"] == hashlib.sha256(files["volume.bin"]).hexdigest()
        assert (dest / "data/volume.bin").read_bytes() == files["volume.bin"]
        assert hub.sent["data/volume.bin"] == len(files["volume.bin"])
        assert document["verify"]["valid"] is True
        # a file kept in git is checked by its git blob id: a copy damaged at rest is named
        flipped = bytearray(files["README.md"])
        flipped[5] ^= 0xFF
        hub.repos["radiology/ct-release"]["files"]["README.md"]["bad_copy"] = bytes(flipped)
        listed = git_oid(files["README.md"])
        result = CliRunner().invoke(main, ["fetch", "hf:radiology/ct-release", str(tmp_path / "again"), "--api",
                                           hub.url, "--no-cache"])
        assert result.exit_code == 1, result.output
        assert (f"DAMAGED README.md: git-blob-sha1 is {git_oid(bytes(flipped))}, Hub dataset "
                f"radiology/ct-release lists {listed}" in result.output)


def test_a_hub_source_that_is_not_owner_and_name_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["fetch", "hf:just-a-name", str(tmp_path / "dest")])
    assert result.exit_code == 2, result.output
    assert "hf:just-a-name is not hf:OWNER/NAME" in result.output


def test_the_hub_without_its_client_is_a_usage_error_naming_the_extra(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)   # as if the publish extra were not installed
    result = CliRunner().invoke(main, ["fetch", "hf:radiology/ct-release", str(tmp_path / "dest")])
    assert result.exit_code == 2, result.output
    assert "needs huggingface_hub: pip install 'ct-curator[publish]'" in result.output
    assert not (tmp_path / "dest").exists()


def test_a_table_dataverse_ingested_is_fetched_as_uploaded() -> None:
    """An ingested table is listed as ``.tab``; its checksum is of the file as uploaded, which the access API sends
    with ``?format=original`` (https://guides.dataverse.org/en/latest/api/dataaccess.html, "Basic File Access")."""
    entry = {"label": "metadata.tab", "directoryLabel": "tables",
             "dataFile": {"id": 41, "filename": "metadata.tab", "filesize": 900, "originalFileFormat": "text/csv",
                          "originalFileName": "metadata.csv", "originalFileSize": 1234,
                          "checksum": {"type": "SHA-256", "value": "ab" * 32}}}
    item = _dataverse_item(entry, "https://dv.example.org", "Dataverse dataset doi:10.5072/X", ())
    assert isinstance(item, Item)
    assert (item.rel, item.url, item.size, item.digests) == (
        "tables/metadata.csv", "https://dv.example.org/api/access/datafile/41?format=original", 1234,
        {"sha256": "ab" * 32})
