"""A local stand-in for the part of the Dataverse native API that ``curator publish --to dataverse`` uses.

No maintained local Dataverse stand-in exists on PyPI (pyDataverse 0.3.5 is a client only, pinned to
httpx<0.30, and reads nothing a test server could reuse; a real Dataverse is a Payara + PostgreSQL + Solr stack),
so this implements exactly the documented subset, with the documented JSON shapes
(https://guides.dataverse.org/en/latest/api/native-api.html; every answer is ``{"status": "OK", "data": ...}`` or
``{"status": "ERROR", "message": ...}``, "API Tokens and Authentication": the ``X-Dataverse-key`` header):

- ``POST /api/dataverses/{alias}/datasets`` ("Create a Dataset in a Dataverse Collection"): 201 with
  ``{"id", "persistentId"}``; the body must hold ``datasetVersion.metadataBlocks.citation.fields`` with the
  citation block's required fields (title, author, datasetContact, dsDescription, subject);
- ``PUT /api/datasets/:persistentId/versions/:draft?persistentId=`` ("Update Metadata For a Dataset");
- ``POST /api/datasets/:persistentId/add?persistentId=`` ("Add a File to a Dataset"): multipart with ``file`` and
  ``jsonData`` (``directoryLabel``); the md5 is computed from the bytes received;
- ``GET /api/datasets/:persistentId/versions/:draft/files?persistentId=`` ("List Files in a Dataset"):
  FileMetadata objects ``{"label", "directoryLabel", "restricted", "dataFile": {"id", "persistentId",
  "filename", "contentType", "filesize", "storageIdentifier", "md5", "checksum": {"type": "MD5", "value"}}}``
  (field names as JsonPrinter prints them in IQSS/dataverse);
- ``DELETE /api/files/{id}`` ("Delete a File");
- ``POST /api/datasets/:persistentId/actions/:publish?persistentId=&type=major`` ("Publish a Dataset");
- for ``curator fetch``: ``GET /api/datasets/:persistentId/?persistentId=`` ("Get JSON Representation of a
  Dataset": ``data.latestVersion.files`` as above) and ``GET /api/access/datafile/{id}`` (the data access API,
  https://guides.dataverse.org/en/latest/api/dataaccess.html: the file's bytes, with Range support);
  ``standin.sent`` counts the bytes sent per path.

``standin.flip_byte(pid, rel)`` changes one stored byte (the listing's md5 is of the stored bytes, as on a server
whose copy went bad); ``standin.corrupt.add(rel)`` does so to the next copy of ``rel`` that arrives;
``standin.fail_after_adds = n`` answers 500 to every add after n more successful ones (an interrupted upload);
``standin.added`` counts adds per path, ``standin.bytes_in`` the file bytes received.
"""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.parse
from collections import Counter
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.hub_standin import read_body
from tests.servers import send_ranged

REQUIRED_CITATION = ("title", "author", "datasetContact", "dsDescription", "subject")


class DataverseStandin:
    """``with DataverseStandin(token) as dv:``; ``dv.url``; ``dv.datasets[pid]`` = {"alias", "metadata",
    "files": {id: {...}}, "published"}."""

    def __init__(self, token: str, alias: str = "radiology") -> None:
        self.token, self.alias = token, alias
        self.datasets: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.added: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.bytes_in = 0
        self.fail_after_adds: int | None = None
        self.corrupt: set[str] = set()     # paths whose next stored copy gets one byte changed on arrival
        self.lock = threading.Lock()
        self._next_id = 100
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> DataverseStandin:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def files(self, pid: str) -> dict[str, dict[str, Any]]:
        """``{directoryLabel/label: stored file}`` of the dataset's draft."""
        return {_rel(f): f for f in self.datasets[pid]["files"].values()}

    def flip_byte(self, pid: str, rel: str) -> None:
        stored = self.files(pid)[rel]
        content = bytearray(stored["content"])
        content[len(content) // 2] ^= 0xFF
        stored["content"] = bytes(content)

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # -------------------------------------------------------------------------------------- handlers

    def _create(self, alias: str, body: dict[str, Any]) -> tuple[int, Any]:
        if alias != self.alias:
            return 404, f"Can't find dataverse with identifier='{alias}'"
        problem = _citation_problem(body.get("datasetVersion"))
        if problem:
            return 400, problem
        number = self._new_id()
        pid = f"doi:10.5072/FK2/STANDIN{number}"
        self.datasets[pid] = {"alias": alias, "metadata": body["datasetVersion"], "files": {}, "published": False,
                              "id": number}
        return 201, {"id": number, "persistentId": pid}

    def _update(self, pid: str, body: dict[str, Any]) -> tuple[int, Any]:
        problem = _citation_problem(body)
        if problem:
            return 400, problem
        self.datasets[pid]["metadata"] = body
        self.datasets[pid]["published"] = False   # the next version is a draft
        return 200, {"id": self.datasets[pid]["id"], "versionState": "DRAFT"}

    def _add(self, pid: str, content_type: str, raw: bytes) -> tuple[int, Any]:
        if self.fail_after_adds is not None:
            if self.fail_after_adds <= 0:
                return 500, "Internal Server Error (stand-in: interrupted upload)"
            self.fail_after_adds -= 1
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
        parts = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
        if "file" not in parts:
            return 400, "No file was uploaded"
        info = json.loads(parts["jsonData"].get_content()) if "jsonData" in parts else {}
        content = parts["file"].get_payload(decode=True)
        name = parts["file"].get_filename()
        number = self._new_id()
        stored = {"id": number, "label": name, "directoryLabel": info.get("directoryLabel"), "content": content,
                  "tabIngest": info.get("tabIngest")}
        self.datasets[pid]["files"][number] = stored
        self.added[_rel(stored)] += 1
        self.bytes_in += len(content)
        if _rel(stored) in self.corrupt:
            self.corrupt.discard(_rel(stored))
            self.flip_byte(pid, _rel(stored))
        return 200, {"files": [_file_metadata(stored)]}

    def _route(self, method: str, path: str, query: dict[str, str], headers: Any, raw: bytes) -> tuple[int, Any]:
        if headers.get("X-Dataverse-key") != self.token:
            return 401, "Bad API key"
        body = json.loads(raw) if raw and headers.get("Content-Type", "").startswith("application/json") else {}
        parts = path.strip("/").split("/")
        if method == "POST" and len(parts) == 4 and parts[:2] == ["api", "dataverses"] and parts[3] == "datasets":
            return self._create(parts[2], body)
        if method == "DELETE" and len(parts) == 3 and parts[:2] == ["api", "files"]:
            for dataset in self.datasets.values():
                if dataset["files"].pop(int(parts[2]), None) is not None:
                    return 200, {"message": "File deleted"}
            return 404, f"File with ID {parts[2]} not found"
        pid = query.get("persistentId", "")
        if parts[:3] != ["api", "datasets", ":persistentId"]:
            return 404, f"API endpoint does not exist on this server: {path}"
        if pid not in self.datasets:
            return 404, f"Dataset with Persistent ID {pid} not found."
        tail = parts[3:]
        if method == "PUT" and tail == ["versions", ":draft"]:
            return self._update(pid, body)
        if method == "POST" and tail == ["add"]:
            return self._add(pid, headers.get("Content-Type", ""), raw)
        if method == "GET" and tail == []:
            files = [_file_metadata(f) for f in self.datasets[pid]["files"].values()]
            return 200, {"id": self.datasets[pid]["id"], "protocol": "doi", "persistentUrl": f"https://doi.org/{pid[4:]}",
                         "latestVersion": {"versionState": "RELEASED" if self.datasets[pid]["published"] else "DRAFT",
                                           "files": files}}
        if method == "GET" and tail == ["versions", ":draft", "files"]:
            return 200, [_file_metadata(f) for f in self.datasets[pid]["files"].values()]
        if method == "POST" and tail == ["actions", ":publish"]:
            if query.get("type") not in ("major", "minor", "updatecurrent"):
                return 400, ("Illegal 'type' parameter value. It needs to be either 'major', 'minor', or "
                             "'updatecurrent'.")
            self.datasets[pid]["published"] = True
            return 200, {"id": self.datasets[pid]["id"], "persistentId": pid, "versionState": "RELEASED"}
        return 404, f"API endpoint does not exist on this server: {path}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _serve(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                raw = read_body(self)
                if self.command == "GET" and url.path.startswith("/api/access/datafile/"):
                    self._datafile(url.path.rsplit("/", 1)[1])
                    return
                with standin.lock:
                    standin.requests.append((self.command, url.path))
                    status, data = standin._route(self.command, url.path, query, self.headers, raw)
                answer = ({"status": "OK", "data": data} if status < 400 else {"status": "ERROR", "message": data})
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _datafile(self, number: str) -> None:
                stored = next((f for d in standin.datasets.values() for f in d["files"].values()
                               if str(f["id"]) == number), None)
                if stored is None or self.headers.get("X-Dataverse-key") != standin.token:
                    payload = b'{"status": "ERROR", "message": "File not found"}'
                    self.send_response(404 if stored is None else 401)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                send_ranged(self, stored["content"], lambda n: standin.sent.update({_rel(stored): n}))

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def do_PUT(self) -> None:
                self._serve()

            def do_DELETE(self) -> None:
                self._serve()

        return Handler


def _rel(stored: dict[str, Any]) -> str:
    return f"{stored['directoryLabel']}/{stored['label']}" if stored["directoryLabel"] else str(stored["label"])


def _file_metadata(stored: dict[str, Any]) -> dict[str, Any]:
    md5 = hashlib.md5(stored["content"]).hexdigest()
    entry: dict[str, Any] = {"label": stored["label"], "restricted": False, "version": 1,
                             "datasetVersionId": 1,
                             "dataFile": {"id": stored["id"], "persistentId": "", "filename": stored["label"],
                                          "contentType": "application/octet-stream",
                                          "filesize": len(stored["content"]),
                                          "storageIdentifier": f"local://{stored['id']:x}", "rootDataFileId": -1,
                                          "md5": md5, "checksum": {"type": "MD5", "value": md5}}}
    if stored["directoryLabel"]:
        entry["directoryLabel"] = stored["directoryLabel"]
    return entry


def _citation_problem(version: Any) -> str | None:
    """The Dataverse answer to a dataset version without the citation block's required fields, else None."""
    try:
        fields = version["metadataBlocks"]["citation"]["fields"]
        names = {field["typeName"] for field in fields}
    except (KeyError, TypeError):
        return "Error parsing Json: the dataset version has no metadataBlocks.citation.fields"
    missing = [name for name in REQUIRED_CITATION if name not in names]
    return f"Validation Failed: missing required fields {missing}" if missing else None
