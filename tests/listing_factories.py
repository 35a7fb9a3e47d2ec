"""Folders of downloaded parts and the checksum listings publishers ship with them, in each publisher's own shape.

Where each shape comes from (the tests that use them say it again):

- CNCB md5 JSON map: one flat JSON object ``{"<file name>": "<md5 hex>"}`` per class, named ``filemd5.json`` (NCP),
  ``CP.json`` and ``Normal.json`` beside the class's zip parts (seed 004, the CNCB dataset page's table
  "NCP.json (./NCP/filemd5.json), CP.json (./CP/CP.json), Normal.json (./Normal/Normal.json)"; issue 14).
- Dataverse dataset JSON: ``GET /api/datasets/:persistentId/?persistentId=...`` (Dataverse native API guide,
  "Get JSON Representation of a Dataset"); the fields of each file are those IQSS/dataverse writes in
  ``JsonPrinter.json(FileMetadata)`` (description, label, restricted, directoryLabel, version, datasetVersionId,
  dataFile) and ``JsonPrinter.json(DataFile)`` (id, persistentId, filename, contentType, filesize,
  storageIdentifier, md5 when MD5, checksum {type, value} with type MD5 / SHA-1 / SHA-256 / SHA-512); real answers
  add friendlyType, rootDataFileId, tabularData, creationDate (e.g. Harvard's doi:10.7910/DVN/18ERYS README.txt
  entry, demo.dataverse.org doi:10.70122/FK2/YAAX1R; SURF's installation answers with SHA-1). An ingested table is
  listed as ``<name>.tab`` with ``originalFileName``, and its checksum is of the original upload (IQSS/dataverse
  issue 9501).
- Zenodo record JSON: ``GET https://zenodo.org/api/records/{id}`` ``files: [{"id", "key", "size", "checksum":
  "md5:<hex>", "links"}]`` (developers.zenodo.org, Records; a real sandbox record 430905 had ``bucket, checksum
  "md5:...", key, links, size, type``); legacy deposition files ``GET /api/deposit/depositions/{id}/files``:
  ``[{"id", "filename", "filesize", "checksum": "<md5 hex>", "links"}]`` (developers.zenodo.org, Deposition files).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

CNCB_CLASSES = {"COVID19": "filemd5.json", "CP": "CP.json", "Normal": "Normal.json"}


def part_bytes(name: str, size: int = 3000) -> bytes:
    """Deterministic bytes of a downloaded part, different for every name."""
    seed = hashlib.sha256(name.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def write_parts(folder: Path, names: list[str]) -> dict[str, bytes]:
    """The parts (relative paths) with their bytes, written under ``folder``."""
    parts = {name: part_bytes(name) for name in names}
    for name, data in parts.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return parts


def cncb_download(folder: Path, parts_per_class: int = 2, *, subfolders: bool = False) -> dict[str, bytes]:
    """CNCB's classification set as a downloader holds it: ``<CLASS>-<n>.zip`` parts and each class's md5 map
    (in the class's own folder with ``subfolders``: ``COVID19/filemd5.json``, ``CP/CP.json``, ...)."""
    written: dict[str, bytes] = {}
    for cls, listing in CNCB_CLASSES.items():
        home = f"{cls}/" if subfolders else ""
        names = [f"{home}{cls}-{n}.zip" for n in range(1, parts_per_class + 1)]
        parts = write_parts(folder, names)
        written.update(parts)
        digests = {name.rpartition("/")[2]: hashlib.md5(data).hexdigest() for name, data in parts.items()}
        (folder / home / listing).write_text(json.dumps(digests, indent=4), encoding="utf-8")
    return written


def _checksum(data: bytes, kind: str) -> dict[str, str]:
    algorithm = kind.lower().replace("-", "")
    return {"type": kind, "value": hashlib.new(algorithm, data).hexdigest()}


def dataverse_dataset(files: dict[str, bytes], *, kinds: dict[str, str] | None = None,
                      md5_only: tuple[str, ...] = ()) -> dict[str, Any]:
    """The native API's answer for a dataset holding ``files`` (``folder/name`` -> bytes); ``kinds`` gives a file
    another checksum type than MD5, ``md5_only`` files carry only the older ``md5`` field."""
    entries = []
    for number, (path, data) in enumerate(sorted(files.items()), start=1):
        folder, _, label = path.rpartition("/")
        kind = (kinds or {}).get(path, "MD5")
        data_file: dict[str, Any] = {
            "id": 4000 + number, "persistentId": "", "filename": label, "contentType": "application/x-rar-compressed",
            "friendlyType": "RAR Archive", "filesize": len(data), "storageIdentifier": f"s3://dvn-cloud:17{number:04d}",
            "rootDataFileId": -1, "tabularData": False, "creationDate": "2021-03-12"}
        if kind == "MD5":
            data_file["md5"] = hashlib.md5(data).hexdigest()
        if path not in md5_only:
            data_file["checksum"] = _checksum(data, kind)
        entry: dict[str, Any] = {"description": "", "label": label, "restricted": False, "version": 1,
                                 "datasetVersionId": 250001, "dataFile": data_file}
        if folder:
            entry["directoryLabel"] = folder
        entries.append(entry)
    version = {"id": 250001, "datasetId": 4000, "datasetPersistentId": "doi:10.7910/DVN/6ACUZI",
               "storageIdentifier": "s3://10.7910/DVN/6ACUZI", "versionNumber": 1, "versionMinorNumber": 0,
               "versionState": "RELEASED", "files": entries}
    return {"status": "OK", "data": {"id": 4000, "identifier": "DVN/6ACUZI", "persistentUrl":
                                     "https://doi.org/10.7910/DVN/6ACUZI", "protocol": "doi",
                                     "authority": "10.7910", "publisher": "Harvard Dataverse",
                                     "latestVersion": version}}


def zenodo_record(files: dict[str, bytes]) -> dict[str, Any]:
    """A Zenodo record's REST answer for ``files``."""
    return {"id": 430905, "doi": "10.5072/zenodo.430905", "metadata": {"title": "CT parts"},
            "files": [{"id": f"f{number}", "key": name, "size": len(data),
                       "checksum": f"md5:{hashlib.md5(data).hexdigest()}",
                       "links": {"self": f"https://zenodo.org/api/records/430905/files/{name}/content"}}
                      for number, (name, data) in enumerate(sorted(files.items()), start=1)]}


def zenodo_deposition_files(files: dict[str, bytes]) -> list[dict[str, Any]]:
    """The legacy deposition files answer: ``filename``, ``filesize`` and the bare md5 as ``checksum``."""
    return [{"id": f"9a{number}", "filename": name, "filesize": len(data), "checksum": hashlib.md5(data).hexdigest(),
             "links": {"self": f"https://zenodo.org/api/deposit/depositions/1/files/9a{number}"}}
            for number, (name, data) in enumerate(sorted(files.items()), start=1)]


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path
