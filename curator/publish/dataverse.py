"""``curator publish RELEASE --to dataverse --server URL``: the Dataverse native API.

The subset used, as the Dataverse guides document it (https://guides.dataverse.org/en/latest/api/native-api.html):

- create a dataset in a collection: ``POST /api/dataverses/{alias}/datasets`` with ``{"datasetVersion": ...}``
  ("Create a Dataset in a Dataverse Collection"), answered ``{"status": "OK", "data": {"id", "persistentId"}}``;
- a new draft of an existing dataset: ``PUT /api/datasets/:persistentId/versions/:draft?persistentId=PID`` with the
  version's ``metadataBlocks`` and ``license`` ("Update Metadata For a Dataset": makes the draft if there is none);
- add a file: ``POST /api/datasets/:persistentId/add?persistentId=PID``, multipart/form-data with ``file`` and
  ``jsonData`` (``directoryLabel``, ``tabIngest: false`` so a CSV or workbook is kept byte for byte)
  ("Add a File to a Dataset");
- list the draft's files: ``GET /api/datasets/:persistentId/versions/:draft/files?persistentId=PID``, each
  ``{"label", "directoryLabel", "dataFile": {"id", "filesize", "md5", "checksum": {"type", "value"}}}``
  ("List Files in a Dataset"; the server computes the checksum of what it received);
- delete a file from the draft: ``DELETE /api/files/{id}`` ("Delete a File");
- publish, only with ``--publish``: ``POST /api/datasets/:persistentId/actions/:publish?persistentId=PID&type=major``
  ("Publish a Dataset").

Every request carries the API token in the ``X-Dataverse-key`` header ("API Tokens and Authentication"); it
comes from :func:`curator.publish.credentials.token` and is never put in a message.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, BinaryIO

from curator.publish.credentials import redact, token
from curator.publish.dataverse_metadata import dataset_version, missing_for_dataverse
from curator.publish.target import Limits, PlannedFile, Progress, PublishError, ReleaseInfo, RemoteChecksum

__all__ = ["TOKEN_VARIABLES", "DataverseTarget", "from_options"]

TOKEN_VARIABLES = ("CURATOR_DATAVERSE_TOKEN", "DATAVERSE_TOKEN")
_CHECKSUM_TYPES = {"MD5": "md5", "SHA-256": "sha256"}   # Dataverse's :FileFixityChecksumAlgorithm names
_TIMEOUT = 60.0
_CHUNK = 1 << 20


class _MultipartBody:
    """A multipart/form-data body (``jsonData`` then ``file``) read in chunks, with its length known up front,
    so that a large file is streamed rather than held in memory."""

    def __init__(self, path: Path, name: str, json_data: dict[str, Any], progress: Progress) -> None:
        self.boundary = uuid.uuid4().hex
        head = (f"--{self.boundary}\r\nContent-Disposition: form-data; name=\"jsonData\"\r\n\r\n"
                f"{json.dumps(json_data)}\r\n--{self.boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
        self._head, self._tail = head, f"\r\n--{self.boundary}--\r\n".encode()
        self._size = path.stat().st_size
        self._path, self._progress = path, progress
        self._stage = 0
        self._file: BinaryIO | None = None

    def __len__(self) -> int:
        return len(self._head) + self._size + len(self._tail)

    def read(self, size: int = -1) -> bytes:
        if self._stage == 0:
            self._stage = 1
            self._file = self._path.open("rb")
            return self._head
        if self._stage == 1:
            assert self._file is not None
            chunk = self._file.read(_CHUNK if size is None or size < 0 else max(size, 1))
            if chunk:
                self._progress(len(chunk))
                return chunk
            self._file.close()
            self._stage = 2
            return self._tail
        return b""

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class DataverseTarget:
    """A Dataverse installation's native API: a new dataset in collection ``alias``, or a new draft of ``dataset``
    (a persistent id such as ``doi:10.5072/FK2/ABCDEF``)."""

    limits = Limits(preset="dataverse")   # an installation's own :MaxFileUploadSizeInBytes is not published
    prunes = True                         # a new draft starts with the previous version's files

    def __init__(self, server: str, alias: str | None, dataset: str | None) -> None:
        if not server.startswith(("https://", "http://")):
            raise PublishError(f"--server must be the installation's URL (https://...), found {server!r}", 2)
        if not alias and not dataset:
            raise PublishError("--to dataverse needs --dataverse ALIAS (a new dataset in that collection) or "
                               "--dataset PID (a new draft version of that dataset)", 2)
        self.server = server.rstrip("/")
        self.alias, self.pid = alias, dataset
        self.describe = f"Dataverse {self.server} " + (f"dataset {dataset}" if dataset else f"collection {alias}")
        self._token: str | None = None
        self._ids: dict[str, int] = {}

    # -------------------------------------------------------------------------------------- protocol

    def _request(self, method: str, path: str, what: str, content_type: str | None = None, **kwargs: Any) -> Any:
        """One API call; the ``data`` of its ``{"status": "OK", "data": ...}`` answer. An error answer or a failed
        connection is a PublishError naming ``what`` was being done (exit 2 for a refused token or a collection or
        dataset that does not exist, else 3)."""
        import requests

        if self._token is None:
            self._token = token("dataverse", TOKEN_VARIABLES)
        headers = {"X-Dataverse-key": self._token or ""}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            response = requests.request(method, f"{self.server}{path}", headers=headers, timeout=_TIMEOUT, **kwargs)
        except requests.RequestException as error:
            raise PublishError(redact(f"{self.describe}: {what} failed: {error}{self._resume()}")) from None
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code >= 400 or (isinstance(answer, dict) and answer.get("status") == "ERROR"):
            message = answer.get("message") if isinstance(answer, dict) else None
            # a wrong token, a collection or dataset that is not there: the user's to fix
            code = 2 if response.status_code in (401, 403, 404) else 3
            text = redact(f"{self.describe}: {what} failed (HTTP {response.status_code}"
                          f"{': ' + str(message)[:300] if message else ''}){self._resume() if code == 3 else ''}")
            raise PublishError(text, code)
        return answer.get("data") if isinstance(answer, dict) else None

    def _resume(self) -> str:
        """The hint that continues this draft, once there is one."""
        return f"; to continue this draft, rerun with --dataset {self.pid}" if self.pid else ""

    def _pid_query(self) -> dict[str, str]:
        return {"persistentId": self.pid or ""}

    # -------------------------------------------------------------------------------------- Target

    def check_publish(self, publish: bool) -> None:
        """Publishing a Dataverse dataset is meaningful: nothing to refuse."""

    def parts(self, file: PlannedFile) -> int:
        return 1

    def metadata(self, release: ReleaseInfo) -> dict[str, Any]:
        missing = missing_for_dataverse(release.card)
        if missing:
            raise PublishError("the dataset card lacks what Dataverse requires", 2, missing)
        zips = [f.rel for f in release.files if f.rel.lower().endswith(".zip")]
        if zips:   # user/dataset-management.rst: "Compressed Files": a .zip is unpacked into its files on upload
            raise PublishError("Dataverse unpacks an uploaded .zip into the files it holds, so the release's zip "
                               "files would not be on the server as they are: pack with curator pack --preset "
                               "dataverse --format tar.gz", 2, zips)
        return dataset_version(release.card, release.changes)

    def open(self, metadata: dict[str, Any]) -> None:
        if self.pid:
            self._request("PUT", "/api/datasets/:persistentId/versions/:draft", "updating the draft's metadata",
                          params=self._pid_query(), json=metadata["datasetVersion"])
            return
        data = self._request("POST", f"/api/dataverses/{self.alias}/datasets", "creating the dataset",
                             json=metadata)
        pid = data.get("persistentId") if isinstance(data, dict) else None
        if not isinstance(pid, str):
            raise PublishError(f"{self.describe}: creating the dataset gave no persistentId")
        self.pid = pid
        self.describe = f"Dataverse {self.server} dataset {pid}"

    def remote_files(self) -> dict[str, RemoteChecksum]:
        data = self._request("GET", "/api/datasets/:persistentId/versions/:draft/files", "listing the draft's files",
                             params=self._pid_query())
        found: dict[str, RemoteChecksum] = {}
        self._ids = {}
        for entry in data if isinstance(data, list) else []:
            datafile = entry.get("dataFile") or {}
            folder = entry.get("directoryLabel") or ""
            rel = f"{folder}/{entry.get('label')}" if folder else str(entry.get("label"))
            checksum = datafile.get("checksum") or {}
            algorithm = _CHECKSUM_TYPES.get(str(checksum.get("type")), "")
            value = checksum.get("value") if algorithm else datafile.get("md5")
            found[rel] = RemoteChecksum(algorithm or "md5", str(value or "").lower(), datafile.get("filesize"))
            if isinstance(datafile.get("id"), int):
                self._ids[rel] = datafile["id"]
        return found

    def delete(self, rel: str) -> None:
        if rel not in self._ids:
            raise PublishError(f"{self.describe}: {rel} is not in the draft's file list")
        self._request("DELETE", f"/api/files/{self._ids.pop(rel)}", f"deleting {rel} from the draft")

    def upload(self, file: PlannedFile, progress: Progress) -> None:
        if file.rel in self._ids:   # on the server with the wrong checksum: replaced, not added beside it
            self.delete(file.rel)
        folder, _, name = file.rel.rpartition("/")
        json_data: dict[str, Any] = {"tabIngest": False, "restrict": False}
        if folder:
            json_data["directoryLabel"] = folder
        body = _MultipartBody(file.path, name, json_data, progress)
        try:
            self._request("POST", "/api/datasets/:persistentId/add", f"uploading {file.rel}", params=self._pid_query(),
                          data=body, content_type=f"multipart/form-data; boundary={body.boundary}")
        finally:
            body.close()

    def local_checksum(self, file: PlannedFile, remote: RemoteChecksum) -> str | None:
        return None   # Dataverse lists MD5 or SHA-256 (remote_files maps its names), which the driver compares

    def finish(self, publish: bool) -> str:
        if publish:
            self._request("POST", "/api/datasets/:persistentId/actions/:publish", "publishing the dataset",
                          params={**self._pid_query(), "type": "major"})
        return f"{self.server}/dataset.xhtml?persistentId={self.pid}" + ("" if publish else "&version=DRAFT")


def from_options(to: str, options: dict[str, Any]) -> DataverseTarget:
    """``--to dataverse --server URL`` with ``--dataverse ALIAS`` (a new dataset) or ``--dataset PID`` (a new draft
    of that dataset, also how an interrupted run is resumed)."""
    return DataverseTarget(options.get("server") or "", options.get("dataverse"), options.get("dataset"))
