"""A stand-in for the subset of Zenodo's REST deposit API that ``curator publish --to zenodo`` uses, on loopback.

Requests, responses and checksums as https://developers.zenodo.org/ documents them ("Deposit" resource:
Depositions create/retrieve/update, Deposition files list/delete, Deposition actions publish/newversion; and the
"new files API": ``PUT {links.bucket}/{filename}``):

- every request needs ``Authorization: Bearer <token>`` (else 401 ``{"status": 401, "message": ...}``);
- ``POST /api/deposit/depositions`` -> 201, a deposition: ``{"id", "conceptrecid", "state": "unsubmitted",
  "submitted": false, "metadata": {...}, "files": [...], "links": {"self", "html", "bucket", "files",
  "publish", "newversion"}}``; ``GET``/``PUT /api/deposit/depositions/{id}`` -> 200 (PUT takes
  ``{"metadata": ...}`` and answers 400 ``{"status": 400, "message": "Validation error.", "errors": [{"field",
  "message"}]}`` when upload_type, title, creators or description is missing);
- ``GET /api/deposit/depositions/{id}/files`` -> 200, ``[{"id", "filename", "filesize", "checksum": md5 hex}]``;
  ``DELETE /api/deposit/depositions/{id}/files/{file_id}`` -> 204;
- ``PUT /api/files/{bucket}/{key}`` -> 201 ``{"key", "size", "mimetype", "checksum": "md5:<hex>", "links"}``
  with the MD5 of the bytes received;
- ``POST .../actions/publish`` -> 202, the deposition with ``"submitted": true, "state": "done", "doi"``;
  ``POST .../actions/newversion`` -> 201, the published deposition with ``links.latest_draft``, a new draft
  holding the published version's files and the same ``conceptrecid``.

The maintained stand-in on PyPI, ``zenodo-mock`` 0.1.1 (ICHEC, AGPL-3.0, alpha, stdlib only), was evaluated
first and not used: its file entries carry no checksum (no MD5 to compare), it has no files listing endpoint, no
token check, no way to drop a connection mid-upload, answers 200 where Zenodo answers 201/202, and writes the
uploaded file name from the URL path into its storage folder unsanitised.

For ``curator fetch``, the records API (https://developers.zenodo.org/, "Records"), open without a token:
``GET /api/records/{id}`` -> 200, a published record ``{"id", "conceptrecid", "doi", "metadata", "files": [{"id",
"key", "size", "checksum": "md5:<hex>", "links": {"self"}}], "links"}`` (404 for a draft), and ``GET
/api/records/{id}/files/{key}/content`` -> the file's bytes, with Range support. A record lists the MD5 Zenodo
computed when the file was uploaded, so a byte flipped at rest (``corrupt``, or ``flip_byte``) is a file whose
bytes no longer match its record. ``record(files)`` publishes a record of ``{key: bytes}`` directly;
``sent[key]`` counts file bytes sent.

Test controls: ``drop_after[key] = n`` closes the connection after n bytes of the next PUT of ``key`` (once),
storing nothing; ``corrupt.add(key)`` stores the next PUT of ``key`` with one byte flipped after computing the
MD5 of what was received (damage at rest, which only the files listing shows); ``received[key]`` counts body
bytes received per key; ``requests`` lists (method, path).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.servers import send_ranged


class ZenodoStandin:
    """``with ZenodoStandin(token) as zenodo:`` the API at ``zenodo.api`` (http://127.0.0.1:PORT/api)."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.lock = threading.Lock()
        self.depositions: dict[int, dict[str, Any]] = {}
        self.files: dict[int, dict[str, bytes]] = {}          # deposition id -> name -> bytes stored
        self.ids: dict[int, dict[str, str]] = {}              # deposition id -> name -> file id
        self.received: Counter[str] = Counter()
        self.requests: list[tuple[str, str]] = []
        self.drop_after: dict[str, int] = {}
        self.corrupt: set[str] = set()
        self.uploaded_md5: dict[tuple[int, str], str] = {}   # (deposition, key) -> the MD5 of the bytes received
        self.sent: Counter[str] = Counter()
        self._next = 100
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"standin": self}))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.api = f"{self.url}/api"

    def __enter__(self) -> ZenodoStandin:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --------------------------------------------------------------------------------------------- state

    def _new(self, concept: int | None = None) -> dict[str, Any]:
        self._next += 1
        number = self._next
        links = {"self": f"{self.api}/deposit/depositions/{number}", "html": f"{self.url}/deposit/{number}",
                 "bucket": f"{self.api}/files/bucket-{number}",
                 "files": f"{self.api}/deposit/depositions/{number}/files",
                 "publish": f"{self.api}/deposit/depositions/{number}/actions/publish",
                 "newversion": f"{self.api}/deposit/depositions/{number}/actions/newversion"}
        deposition = {"id": number, "conceptrecid": str(concept or number), "state": "unsubmitted",
                      "submitted": False, "metadata": {}, "links": links}
        self.depositions[number] = deposition
        self.files[number] = {}
        self.ids[number] = {}
        return deposition

    def listing(self, number: int) -> list[dict[str, Any]]:
        return [{"id": self.ids[number][name], "filename": name, "filesize": len(data),
                 "checksum": hashlib.md5(data).hexdigest()} for name, data in sorted(self.files[number].items())]

    def record(self, files: dict[str, bytes]) -> int:
        """A published record holding ``files`` (as if uploaded and published); its id."""
        with self.lock:
            number = self._new()["id"]
            for index, (key, data) in enumerate(sorted(files.items()), start=1):
                self.files[number][key] = data
                self.ids[number][key] = f"file-{number}-{index}"
                self.uploaded_md5[(number, key)] = hashlib.md5(data).hexdigest()
            self.depositions[number].update(submitted=True, state="done", doi=f"10.5072/zenodo.{number}",
                                            metadata={"title": "A stand-in record", "version": "1.0.0"})
        return number

    def flip_byte(self, number: int, key: str) -> None:
        data = bytearray(self.files[number][key])
        data[len(data) // 2] ^= 0x01
        self.files[number][key] = bytes(data)

    def _record(self, number: int) -> dict[str, Any]:
        deposition = self.depositions[number]
        files = [{"id": self.ids[number][key], "key": key, "size": len(data),
                  "checksum": "md5:" + self.uploaded_md5.get((number, key), hashlib.md5(data).hexdigest()),
                  "links": {"self": f"{self.api}/records/{number}/files/{urllib.parse.quote(key)}/content"}}
                 for key, data in sorted(self.files[number].items())]
        return {"id": number, "recid": str(number), "conceptrecid": deposition["conceptrecid"],
                "doi": deposition.get("doi"), "metadata": deposition["metadata"], "files": files,
                "links": {"self": f"{self.api}/records/{number}"}}

    def _shown(self, number: int) -> dict[str, Any]:
        return {**self.depositions[number], "files": self.listing(number)}


class _Handler(BaseHTTPRequestHandler):
    standin: ZenodoStandin
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, body: Any = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, errors: list[dict[str, str]] | None = None) -> None:
        self._json(status, {"status": status, "message": message, **({"errors": errors} if errors else {})})

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") != f"Bearer {self.standin.token}":
            self._discard()
            self._error(401, "The server could not verify that you are authorized to access the URL.")
            return False
        return True

    def _discard(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        while length > 0:
            length -= len(self.rfile.read(min(length, 1 << 16)) or b"x" * length)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def _route(self) -> str:
        path = urllib.parse.urlsplit(self.path).path
        with self.standin.lock:
            self.standin.requests.append((self.command, path))
        return path

    def do_POST(self) -> None:
        path = self._route()
        if not self._authorised():
            return
        self._body()
        with self.standin.lock:
            if path == "/api/deposit/depositions":
                self._json(201, self.standin._shown(self.standin._new()["id"]))
                return
            match = re.fullmatch(r"/api/deposit/depositions/(\d+)/actions/(publish|newversion)", path)
            number = int(match[1]) if match else -1
            if number not in self.standin.depositions:
                self._error(404, "PID does not exist.")
                return
            deposition = self.standin.depositions[number]
            if match and match[2] == "publish":
                deposition.update(submitted=True, state="done", doi=f"10.5072/zenodo.{number}",
                                  conceptdoi=f"10.5072/zenodo.{deposition['conceptrecid']}")
                self._json(202, self.standin._shown(number))
                return
            if not deposition["submitted"]:
                self._error(400, "Validation error.", [{"field": "id", "message": "not published"}])
                return
            draft = self.standin._new(int(deposition["conceptrecid"]))
            self.standin.files[draft["id"]] = dict(self.standin.files[number])
            self.standin.ids[draft["id"]] = dict(self.standin.ids[number])
            draft["metadata"] = dict(deposition["metadata"])
            shown = self.standin._shown(number)
            shown["links"] = {**shown["links"], "latest_draft": draft["links"]["self"]}
            self._json(201, shown)

    def do_GET(self) -> None:
        path = self._route()
        record = re.fullmatch(r"/api/records/(\d+)(?:/files/([^/]+)/content)?", path)
        if record:
            self._published(int(record[1]), urllib.parse.unquote(record[2]) if record[2] else None)
            return
        if not self._authorised():
            return
        with self.standin.lock:
            match = re.fullmatch(r"/api/deposit/depositions/(\d+)(/files)?", path)
            if not match or int(match[1]) not in self.standin.depositions:
                self._error(404, "PID does not exist.")
                return
            number = int(match[1])
            self._json(200, self.standin.listing(number) if match[2] else self.standin._shown(number))

    def _published(self, number: int, key: str | None) -> None:
        with self.standin.lock:
            deposition = self.standin.depositions.get(number)
            if deposition is None or not deposition["submitted"]:
                self._error(404, "PID does not exist.")
                return
            if key is None:
                self._json(200, self.standin._record(number))
                return
            data = self.standin.files[number].get(key)
        if data is None:
            self._error(404, "File does not exist.")
            return
        send_ranged(self, data, lambda n: self.standin.sent.update({key: n}))

    def do_DELETE(self) -> None:
        path = self._route()
        if not self._authorised():
            return
        with self.standin.lock:
            match = re.fullmatch(r"/api/deposit/depositions/(\d+)/files/([^/]+)", path)
            number = int(match[1]) if match else -1
            names = {v: k for k, v in self.standin.ids.get(number, {}).items()}
            if not match or urllib.parse.unquote(match[2]) not in names:
                self._error(404, "File does not exist.")
                return
            name = names[urllib.parse.unquote(match[2])]
            del self.standin.files[number][name], self.standin.ids[number][name]
            self._json(204)

    def do_PUT(self) -> None:
        path = self._route()
        if not self._authorised():
            return
        match = re.fullmatch(r"/api/deposit/depositions/(\d+)", path)
        if match:
            self._metadata(int(match[1]))
            return
        bucket = re.fullmatch(r"/api/files/bucket-(\d+)/([^/]+)", path)
        if not bucket or int(bucket[1]) not in self.standin.depositions:
            self._discard()
            self._error(404, "Bucket does not exist.")
            return
        self._upload(int(bucket[1]), urllib.parse.unquote(bucket[2]))

    def _metadata(self, number: int) -> None:
        body = self._body()
        with self.standin.lock:
            if number not in self.standin.depositions:
                self._error(404, "PID does not exist.")
                return
            metadata = body.get("metadata") if isinstance(body, dict) else None
            required = ("upload_type", "title", "creators", "description")
            missing = [name for name in required if not isinstance(metadata, dict) or not metadata.get(name)]
            if missing:
                self._error(400, "Validation error.", [{"field": f"metadata.{name}",
                                                        "message": "Field may not be null."}
                                                       for name in missing])
                return
            self.standin.depositions[number]["metadata"] = metadata
            self._json(200, self.standin._shown(number))

    def _upload(self, number: int, key: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        with self.standin.lock:
            drop = self.standin.drop_after.pop(key, None)
        digest, chunks, left = hashlib.md5(), [], length
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 16))
            if not chunk:
                return
            if drop is not None and drop < len(chunk):
                chunk = chunk[:drop]
            digest.update(chunk)
            chunks.append(chunk)
            left -= len(chunk)
            with self.standin.lock:
                self.standin.received[key] += len(chunk)
            if drop is not None:
                drop -= len(chunk)
                if drop <= 0:                 # the connection drops mid-upload: nothing is stored
                    self.close_connection = True
                    self.connection.close()
                    return
        data = bytearray(b"".join(chunks))
        with self.standin.lock:
            if key in self.standin.corrupt and data:
                self.standin.corrupt.discard(key)
                data[len(data) // 2] ^= 0x01
            self.standin.files[number][key] = bytes(data)
            self.standin.uploaded_md5[(number, key)] = digest.hexdigest()
            self.standin.ids[number].setdefault(key, f"file-{number}-{len(self.standin.ids[number]) + 1}")
        self._json(201, {"key": key, "size": length, "mimetype": "application/octet-stream",
                         "checksum": f"md5:{digest.hexdigest()}",
                         "links": {"self": f"{self.standin.api}/files/bucket-{number}/{key}"}})

