"""Real servers on loopback for the object-storage, fetch and publish tests.

- :class:`S3Server`: moto's S3 implementation (``moto[server]``, the same WSGI app ``moto_server`` runs) in a
  separate process, behind a middleware that counts requests and response bytes. ``counters()`` reads them
  (``GET /_curator/counters``), ``reset()`` zeroes them. moto was chosen over MinIO because it installs from PyPI
  (MinIO is a Go binary not in the package registries here) and it implements ChecksumSHA256, multipart uploads,
  ranged GETs and single-part MD5 ETags, which is what curator reads and writes.
- :class:`RangeServer`: a threaded HTTP server over one folder with ``Range`` support (RFC 9110 section 14: one
  range per request, 206 with Content-Range, 416 when unsatisfiable), byte counters per path, and an optional
  connection drop after N body bytes of a path (once), to test resumed downloads.

Both are used as context managers; the pytest fixtures ``s3_server`` and ``range_server`` (tests/conftest.py) wrap
them. Credentials are dummies set in the environment, as a user's would be (AWS_ACCESS_KEY_ID, ...).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

S3_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "curator-test-key",
    "AWS_SECRET_ACCESS_KEY": "curator-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class S3Server:
    """``with S3Server() as s3:`` a moto S3 server on ``s3.endpoint`` (http://127.0.0.1:PORT)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def environment(self) -> dict[str, str]:
        """What a user sets to point curator (botocore, s3fs) at this endpoint."""
        return {**S3_ENVIRONMENT, "AWS_ENDPOINT_URL": self.endpoint, "AWS_ENDPOINT_URL_S3": self.endpoint}

    def __enter__(self) -> S3Server:
        self._process = subprocess.Popen([sys.executable, "-m", "tests.servers", "s3", str(self.port)],
                                         cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.counters()
                return self
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the moto S3 server did not start") from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)

    def counters(self) -> dict[str, Any]:
        """{"requests": {METHOD: n}, "bytes_out": response body bytes, "bytes_in": request body bytes,
        "by_key": {"/bucket/key": bytes_out}}."""
        with urllib.request.urlopen(f"{self.endpoint}/_curator/counters", timeout=10) as response:
            return dict(json.load(response))

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.endpoint}/_curator/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def client(self) -> Any:
        """A boto3 S3 client on this server (for tests that set up buckets or flip bytes behind curator)."""
        import boto3

        env = self.environment()
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=env["AWS_DEFAULT_REGION"],
                            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


class _Counting:
    """WSGI middleware: counts requests by method and body bytes in and out; answers /_curator/*."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.requests: Counter[str] = Counter()
        self.by_key: Counter[str] = Counter()
        self.bytes_out = 0
        self.bytes_in = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/_curator/counters":
            with self.lock:
                body = json.dumps({"requests": dict(self.requests), "bytes_out": self.bytes_out,
                                   "bytes_in": self.bytes_in, "by_key": dict(self.by_key)}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if path == "/_curator/reset":
            with self.lock:
                self.reset()
            start_response("200 OK", [("Content-Length", "0")])
            return [b""]
        with self.lock:
            self.requests[environ.get("REQUEST_METHOD", "?")] += 1
            self.bytes_in += int(environ.get("CONTENT_LENGTH") or 0)
        return self._counted(path, self.app(environ, start_response))

    def _counted(self, path: str, body: Iterable[bytes]) -> Iterable[bytes]:
        # counted before each chunk is handed to the server: a client that has the bytes finds them counted (added
        # up when the body ended, a counters request right after a GET could come first and read 0)
        with self.lock:
            self.by_key[path] += 0
        for chunk in body:
            with self.lock:
                self.bytes_out += len(chunk)
                self.by_key[path] += len(chunk)
            yield chunk


def _serve_s3(port: int) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    app = _Counting(DomainDispatcherApplication(create_backend_app))
    make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler).serve_forever()


_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


def byte_range(wanted: str | None, size: int) -> tuple[int, int, int] | None:
    """(start, end, status) answering a ``Range`` header over ``size`` bytes (RFC 9110 section 14, one range):
    the whole body with 200 when there is none, 206 for a satisfiable range; None for a bad or unsatisfiable one
    (416)."""
    if not wanted:
        return 0, size - 1, 200
    match = _RANGE.match(wanted.strip())
    if not match or (not match[1] and not match[2]):
        return None
    if match[1]:
        start, end = int(match[1]), min(int(match[2]), size - 1) if match[2] else size - 1
    else:
        start, end = max(0, size - int(match[2])), size - 1
    return None if start >= size or start > end else (start, end, 206)


def send_range_head(handler: BaseHTTPRequestHandler, start: int, end: int, size: int, status: int) -> None:
    """The status line and headers of a (possibly partial) answer of bytes ``start..end`` of ``size``."""
    handler.send_response(status)
    handler.send_header("Content-Length", str(end - start + 1))
    handler.send_header("Accept-Ranges", "bytes")
    handler.send_header("Content-Type", "application/octet-stream")
    if status == 206:
        handler.send_header("Content-Range", f"bytes {start}-{end}/{size}")
    handler.end_headers()


def send_ranged(handler: BaseHTTPRequestHandler, data: bytes, count: Callable[[int], None]) -> None:
    """Answer ``handler``'s GET with ``data``, honouring one ``Range: bytes=N-M`` (206 with Content-Range, 416 when
    unsatisfiable), for the platform stand-ins' download routes. ``count`` is given the body's length before it is
    written (a client that has the bytes finds them counted)."""
    answer = byte_range(handler.headers.get("Range"), len(data))
    if answer is None:
        handler.send_response(416)
        handler.send_header("Content-Range", f"bytes */{len(data)}")
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return
    start, end, status = answer
    send_range_head(handler, start, end, len(data), status)
    count(end - start + 1)
    handler.wfile.write(data[start:end + 1])


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-answer (a reader that took the bytes it needed) is no server error to print."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class RangeServer:
    """``with RangeServer(folder) as http:`` serves ``folder`` on ``http.url`` (http://127.0.0.1:PORT/).

    ``http.sent[rel]``: body bytes sent per path; ``http.requests``: every (method, path, Range header);
    ``http.drop_after[rel] = n``: the next GET of ``rel`` closes the connection after n body bytes (once).
    ``http.throttle[rel] = s``: sleep s seconds after each 64 KB chunk of ``rel`` (to kill a client mid-file).
    ``http.misbehave[rel]``: ``"refuse-ranges"`` answers 416 to every Range request; ``"overlong"`` sends 1 MB more
    than its Content-Length; ``"endless"`` sends zeros without a Content-Length until the client hangs up.
    ``http.documents[path] = body``: a GET of that path (with its query, else without) answers this JSON body: an
    API's answer, for the platform stand-ins. ``http.aliases[path] = rel``: a request path served as file ``rel``.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.sent: Counter[str] = Counter()
        self.requests: list[tuple[str, str, str | None]] = []
        self.drop_after: dict[str, int] = {}
        self.throttle: dict[str, float] = {}
        self.misbehave: dict[str, str] = {}
        self.documents: dict[str, bytes] = {}
        self.aliases: dict[str, str] = {}
        self.lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"

    def __enter__(self) -> RangeServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self.lock:
            self.sent.clear()
            self.requests.clear()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                rel = urllib.request.url2pathname(self.path.split("?", 1)[0]).lstrip("/")
                with server.lock:
                    server.requests.append((self.command, rel, self.headers.get("Range")))
                document = server.documents.get(self.path, server.documents.get(self.path.split("?", 1)[0]))
                if document is not None:
                    self._plain(200, document, extra=[("Content-Type", "application/json")])
                    return
                rel = server.aliases.get("/" + rel, rel)
                target = (server.folder / rel).resolve()
                if not target.is_relative_to(server.folder) or not target.is_file():
                    self._plain(404, b"not found")
                    return
                size = target.stat().st_size
                wanted = self.headers.get("Range")
                misbehave = server.misbehave.get(rel)
                if misbehave == "endless" and body:
                    self._endless(rel)
                    return
                answer = None if wanted and misbehave == "refuse-ranges" else byte_range(wanted, size)
                if answer is None:
                    self._plain(416, b"unsatisfiable", extra=[("Content-Range", f"bytes */{size}")])
                    return
                start, end, status = answer
                send_range_head(self, start, end, size, status)
                if not body:
                    return
                with server.lock:
                    drop = server.drop_after.pop(rel, None)
                remaining = end - start + 1
                with target.open("rb") as handle:
                    handle.seek(start)
                    while remaining > 0:
                        chunk = handle.read(min(remaining, 1 << 16))
                        if not chunk:
                            break
                        if drop is not None and drop < len(chunk):
                            chunk = chunk[:drop]
                        with server.lock:   # counted first: a client that has the bytes finds them counted
                            server.sent[rel] += len(chunk)
                        self.wfile.write(chunk)
                        remaining -= len(chunk)
                        if rel in server.throttle:
                            time.sleep(server.throttle[rel])
                        if drop is not None:
                            drop -= len(chunk)
                            if drop <= 0:
                                self.wfile.flush()
                                self.close_connection = True
                                self.connection.shutdown(socket.SHUT_RDWR)
                                return
                if misbehave == "overlong":
                    self.wfile.write(b"\0" * (1 << 20))
                    with server.lock:
                        server.sent[rel] += 1 << 20
                    self.close_connection = True

            def _endless(self, rel: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                chunk = b"\0" * (1 << 16)
                try:
                    while True:
                        self.wfile.write(chunk)
                        with server.lock:
                            server.sent[rel] += len(chunk)
                except OSError:   # the client hung up
                    return

            def _plain(self, status: int, text: bytes, extra: list[tuple[str, str]] = ()) -> None:  # type: ignore[assignment]
                self.send_response(status)
                for name, value in extra:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(text)

        return Handler


def upload_folder(client: Any, bucket: str, folder: Path, prefix: str = "") -> list[str]:
    """Put every file under ``folder`` into ``bucket`` (made if missing) under ``prefix``, as a publisher would:
    each object with a SHA-256 checksum (``ChecksumAlgorithm="SHA256"``), eight uploads at once. Returns the keys."""
    from concurrent.futures import ThreadPoolExecutor

    if bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=bucket)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    keys = [prefix + p.relative_to(folder).as_posix() for p in files]

    def put(pair: tuple[Path, str]) -> None:
        client.put_object(Bucket=bucket, Key=pair[1], Body=pair[0].read_bytes(), ChecksumAlgorithm="SHA256")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, zip(files, keys, strict=True)))
    return keys


class HangingServer:
    """``with HangingServer() as hang:`` a TCP listener on ``hang.url`` that accepts connections and never answers
    (a server that hangs): clients must give up on their own timeouts."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/"
        self._held: list[socket.socket] = []
        self._stop = threading.Event()

    def __enter__(self) -> HangingServer:
        def accept() -> None:
            self._socket.settimeout(0.2)
            while not self._stop.is_set():
                try:
                    self._held.append(self._socket.accept()[0])
                except OSError:
                    continue

        threading.Thread(target=accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for held in self._held:
            held.close()
        self._socket.close()


if __name__ == "__main__":  # python -m tests.servers s3 PORT
    if len(sys.argv) == 3 and sys.argv[1] == "s3":
        os.environ.update(S3_ENVIRONMENT)
        _serve_s3(int(sys.argv[2]))
    else:
        raise SystemExit("usage: python -m tests.servers s3 PORT")
