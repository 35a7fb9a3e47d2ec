"""A local stand-in for the Hugging Face Hub endpoints that ``huggingface_hub`` 2.4 calls for ``create_repo``,
``preupload_lfs_files`` (LFS protocol), ``create_commit``, ``list_repo_tree``, ``dataset_info`` and
``update_repo_settings``, read from the client's own source (hf_api.py, _commit_api.py, lfs.py) and the Hub's
documentation (https://huggingface.co/docs/hub/api, the git-lfs batch API
https://github.com/git-lfs/git-lfs/blob/main/docs/api/batch.md). No maintained local Hub stand-in is on PyPI.

The client uploads through Xet storage whenever ``hf_xet`` is installed (``is_xet_available()`` is decided on the
client alone); Xet's content-addressed protocol is not stood in for here, so clients of this server run with
``HF_HUB_DISABLE_XET=1`` and take the LFS path the Hub also documents.

- ``POST /api/repos/create`` ``{name, organization, type, visibility}`` -> ``{"url"}``; 409 when it exists;
- ``POST /api/validate-yaml`` ``{content, repoType}``: the card's front matter parsed by huggingface_hub's own
  ``DatasetCard`` (offline), ``{"errors": [...], "warnings": [...]}``, 400 when it does not parse;
- ``POST /api/datasets/{repo}/preupload/{rev}`` -> per file ``uploadMode`` ("regular" for a text file under 10 MB,
  as the Hub keeps small text in git; "lfs" otherwise) and the git ``oid`` of the file already there;
- ``POST /datasets/{repo}.git/info/lfs/objects/batch`` -> ``basic`` transfer; ``actions.upload`` + ``verify``
  only for objects the store does not hold yet (the resume);
- ``PUT /lfs/{oid}`` (the upload href): stores the bytes; ``POST /lfs/{oid}/verify`` checks their sha256;
- ``POST /api/datasets/{repo}/commit/{rev}`` (ndjson: header, file, lfsFile, deletedFile) -> ``commitOid``;
- ``GET /api/datasets/{repo}/tree/{rev}`` -> ``[{"type": "file", "path", "size", "oid", "lfs": {"oid", "size",
  "pointerSize"}}, {"type": "directory", "path", "oid"}]``; ``lfs.oid`` is the sha256 of the stored object;
- ``GET /api/datasets/{repo}`` and ``.../revision/{rev}`` -> ``{"id", "sha", "private"}``;
- ``PUT /api/datasets/{repo}/settings`` ``{"visibility"}``;
- for ``curator fetch``: ``GET /datasets/{repo}/resolve/{rev}/{path}`` (``hf_hub_url``): the file's bytes (the
  damaged copy after ``flip_byte``), with Range support; ``hub.sent`` counts the bytes sent per path.

``hub.flip_byte(repo, path)`` changes one stored byte; ``hub.corrupt.add(path)`` does so when ``path`` is next
committed; ``hub.fail_uploads_after = n`` refuses (400, which the
client does not retry) every LFS upload after n more; ``hub.lfs_bytes_in`` counts LFS bytes received.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.servers import send_ranged

REGULAR_LIMIT = 10 * 1024 * 1024


def git_oid(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


def _pointer(oid: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n".encode()


class HubStandin:
    """``with HubStandin(token) as hub:``; ``hub.url``; ``hub.repos[repo]`` = {"private", "files": {path: {"lfs":
    sha256 or None, "content": bytes (regular files)}}, "commits": [...]}; ``hub.lfs[sha256]`` = bytes."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.repos: dict[str, dict[str, Any]] = {}
        self.lfs: dict[str, bytes] = {}
        self.lfs_bytes_in = 0
        self.fail_uploads_after: int | None = None
        self.corrupt: set[str] = set()     # paths whose stored copy gets one byte changed when next committed
        self.requests: list[tuple[str, str]] = []
        self.sent: Counter[str] = Counter()
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> HubStandin:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def content(self, repo: str, path: str) -> bytes:
        entry = self.repos[repo]["files"][path]
        return self.lfs[entry["lfs"]] if entry["lfs"] else bytes(entry["content"])

    def flip_byte(self, repo: str, path: str) -> None:
        """One byte of the stored copy changed, as on a server whose copy went bad (its listing then says so)."""
        entry = self.repos[repo]["files"][path]
        data = bytearray(self.content(repo, path))
        data[len(data) // 2] ^= 0xFF
        if entry["lfs"]:
            entry["bad_copy"] = bytes(data)
        else:
            entry["content"] = bytes(data)

    # ------------------------------------------------------------------------------------------ API

    def _entry(self, path: str, stored: dict[str, Any]) -> dict[str, Any]:
        if stored["lfs"]:
            data = stored.get("bad_copy") or self.lfs[stored["lfs"]]
            sha = hashlib.sha256(data).hexdigest()
            pointer = _pointer(stored["lfs"], len(data))
            return {"type": "file", "path": path, "size": len(data), "oid": git_oid(pointer),
                    "lfs": {"oid": sha, "size": len(data), "pointerSize": len(pointer)}}
        return {"type": "file", "path": path, "size": len(stored["content"]), "oid": git_oid(stored["content"])}

    def _tree(self, repo: dict[str, Any]) -> list[dict[str, Any]]:
        files = repo["files"]
        folders = sorted({"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)})
        entries = [{"type": "directory", "path": f, "oid": hashlib.sha1(f.encode()).hexdigest()} for f in folders]
        return entries + [self._entry(p, files[p]) for p in sorted(files)]

    def _commit(self, repo: dict[str, Any], name: str, raw: bytes) -> tuple[int, Any]:
        lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
        changes: dict[str, dict[str, Any] | None] = {}
        for line in lines:
            value = line["value"]
            if line["key"] == "file":
                changes[value["path"]] = {"lfs": None, "content": base64.b64decode(value["content"])}
            elif line["key"] == "lfsFile":
                if value["oid"] not in self.lfs:
                    return 400, {"error": f"LFS object {value['oid']} of {value['path']} was never uploaded"}
                changes[value["path"]] = {"lfs": value["oid"]}
            elif line["key"] == "deletedFile":
                if value["path"] not in repo["files"]:
                    return 404, {"error": f"{value['path']} does not exist"}
                changes[value["path"]] = None
        for path, stored in changes.items():
            if stored is None:
                repo["files"].pop(path, None)
            else:
                repo["files"][path] = stored
                if path in self.corrupt:
                    self.corrupt.discard(path)
                    self.flip_byte(name, path)
        oid = hashlib.sha1(raw + str(len(repo["commits"])).encode()).hexdigest()
        repo["commits"].append({"oid": oid, "header": lines[0]["value"] if lines else {}, "paths": sorted(changes)})
        return 200, {"success": True, "commitOid": oid, "commitUrl": f"{self.url}/datasets/{name}/commit/{oid}",
                     "pullRequestUrl": None}

    def _lfs_batch(self, body: dict[str, Any]) -> tuple[int, Any]:
        objects = []
        for item in body.get("objects", []):
            answer: dict[str, Any] = {"oid": item["oid"], "size": item["size"], "authenticated": True}
            if item["oid"] not in self.lfs:
                answer["actions"] = {"upload": {"href": f"{self.url}/lfs/{item['oid']}"},
                                     "verify": {"href": f"{self.url}/lfs/{item['oid']}/verify"}}
            objects.append(answer)
        return 200, {"transfer": "basic", "objects": objects}

    def _lfs_put(self, oid: str, raw: bytes) -> tuple[int, Any]:
        if self.fail_uploads_after is not None:
            if self.fail_uploads_after <= 0:
                return 400, {"error": "stand-in: upload interrupted"}
            self.fail_uploads_after -= 1
        self.lfs_bytes_in += len(raw)
        if hashlib.sha256(raw).hexdigest() == oid:   # the store keeps only what matches its address
            self.lfs[oid] = raw
        return 200, {}

    def _validate_yaml(self, body: dict[str, Any]) -> tuple[int, Any]:
        from huggingface_hub import DatasetCard

        try:
            DatasetCard(body.get("content", ""))
        except Exception as error:   # any parse failure is the Hub's 400
            return 400, {"errors": [{"message": str(error)}], "warnings": []}
        return 200, {"errors": [], "warnings": []}

    def _repo_route(self, method: str, name: str, rest: list[str], raw: bytes) -> tuple[int, Any]:
        repo = self.repos.get(name)
        if repo is None:
            return 404, {"error": "Repository not found"}
        body = json.loads(raw) if raw and rest[:1] != ["commit"] else {}
        if method == "POST" and rest[:1] == ["preupload"]:
            files = []
            for item in body["files"]:
                sample = base64.b64decode(item["sample"])
                regular = item["size"] < REGULAR_LIMIT and b"\0" not in sample and _utf8(sample)
                existing = repo["files"].get(item["path"])
                oid = self._entry(item["path"], existing)["oid"] if existing else None
                files.append({"path": item["path"], "uploadMode": "regular" if regular else "lfs",
                              "shouldIgnore": False, "oid": oid})
            return 200, {"files": files}
        if method == "POST" and rest[:1] == ["commit"]:
            return self._commit(repo, name, raw)
        if method == "GET" and rest[:1] == ["tree"]:
            return 200, self._tree(repo)
        if method == "GET" and (not rest or rest[:1] == ["revision"]):
            head = repo["commits"][-1]["oid"] if repo["commits"] else "0" * 40
            return 200, {"id": name, "sha": head, "private": repo["private"], "siblings": []}
        if method == "PUT" and rest == ["settings"]:
            if "visibility" in body:
                repo["private"] = body["visibility"] != "public"
            if "private" in body:
                repo["private"] = bool(body["private"])
            return 200, {}
        return 404, {"error": f"not stood in: {method} {rest}"}

    def _route(self, method: str, path: str, headers: Any, raw: bytes) -> tuple[int, Any]:
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        if parts[0] == "lfs" and method == "PUT":
            return self._lfs_put(parts[1], raw)
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"error": "Invalid credentials in Authorization header"}
        if parts[0] == "lfs" and parts[-1] == "verify":
            body = json.loads(raw)
            ok = body["oid"] in self.lfs and len(self.lfs[body["oid"]]) == body["size"]
            return (200, {}) if ok else (422, {"error": "object does not match its oid"})
        if parts == ["api", "validate-yaml"]:
            return self._validate_yaml(json.loads(raw))
        if parts == ["api", "repos", "create"]:
            body = json.loads(raw)
            name = f"{body['organization']}/{body['name']}"
            if name in self.repos:
                return 409, {"error": "You already created this dataset repo", "url": f"{self.url}/datasets/{name}"}
            self.repos[name] = {"private": body.get("visibility", "private") != "public", "files": {}, "commits": [],
                                "type": body.get("type")}
            return 200, {"url": f"{self.url}/datasets/{name}", "name": name}
        if len(parts) >= 6 and parts[0] == "datasets" and parts[2].endswith(".git") and parts[3:] == [
                "info", "lfs", "objects", "batch"][: len(parts) - 3]:
            return self._lfs_batch(json.loads(raw))
        if len(parts) >= 4 and parts[:2] == ["api", "datasets"]:
            return self._repo_route(method, f"{parts[2]}/{parts[3]}", parts[4:], raw)
        return 404, {"error": f"not stood in: {method} {path}"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _serve(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                raw = read_body(self)
                parts = [urllib.parse.unquote(p) for p in url.path.strip("/").split("/")]
                if self.command == "GET" and len(parts) >= 6 and parts[0] == "datasets" and parts[3] == "resolve":
                    self._resolve(f"{parts[1]}/{parts[2]}", "/".join(parts[5:]))
                    return
                with standin.lock:
                    standin.requests.append((self.command, url.path))
                    status, data = standin._route(self.command, url.path, self.headers, raw)
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _resolve(self, repo: str, path: str) -> None:
                stored = standin.repos.get(repo, {}).get("files", {}).get(path)
                if stored is None or self.headers.get("Authorization") != f"Bearer {standin.token}":
                    self.send_response(404 if stored is None else 401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = stored.get("bad_copy") or standin.content(repo, path)
                send_ranged(self, data, lambda n: standin.sent.update({path: n}))

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def do_PUT(self) -> None:
                self._serve()

            def do_DELETE(self) -> None:
                self._serve()

        return Handler


def read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """A request's body, sent with Content-Length or chunked (the client streams a file object chunked)."""
    if handler.headers.get("Transfer-Encoding", "").lower() != "chunked":
        return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
    chunks = []
    while True:
        size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            handler.rfile.readline()
            return b"".join(chunks)
        chunks.append(handler.rfile.read(size))
        handler.rfile.readline()


def _utf8(sample: bytes) -> bool:
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start >= len(sample) - 3   # a character cut at the end of the 512-byte sample
    return True
