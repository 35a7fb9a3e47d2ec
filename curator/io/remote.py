"""Release roots in object storage: ``s3://bucket/prefix`` and ``http(s)://`` bases, read through fsspec (s3fs for
S3, fsspec's HTTPFileSystem for HTTP). Reading only, no judgement (layer io).

API (the ``remote`` extra, ``pip install 'ct-curator[remote]'``, provides fsspec, s3fs and aiohttp; they are
imported only here, only when a URL is opened):

- :func:`is_url` ``(text) -> bool``: whether a command-line root is a URL this module opens.
- :func:`open_store` ``(url) -> Store``; raises :class:`RemoteExtraMissingError` (an OptionsError: exit 2, naming the
  extra) when fsspec/s3fs are not installed, :class:`RemoteError` (a RunError: exit 3, one line) when the store
  cannot be reached (no such bucket, access denied, connection refused, timeout).
- :class:`Store`: ``.url`` (never with credentials), ``.listable`` (S3: True; HTTP has no listing, the release's
  own manifest names the files), ``.files() -> list[RemoteFile]`` (S3 listing, sorted; HTTP raises RemoteError),
  ``.files_named(rels) -> dict[rel, RemoteFile]`` (a HEAD of each; absent names are left out),
  ``.checksums(files) -> dict[rel, dict[algo, hex]]`` (S3 HEAD with ChecksumMode=ENABLED: ``sha256`` from
  ChecksumSHA256, ``crc32``/``crc32c``/``sha1`` where present, ``md5`` from a single-part ETag; HTTP: none),
  ``.read_range(rel, start, length) -> bytes``, ``.read_tail(rel, size, length)``,
  ``.stream(rel, chunk) -> Iterator[bytes]``, ``.read_small(rel, limit) -> bytes`` (raises :class:`TooLargeError`).
- :class:`RemoteFile` ``(rel, size, checksums)``: one object; ``checksums`` by algorithm, hex.
- :func:`unsafe_key` ``(rel) -> str | None``: why an object key cannot be a release path (``..``, ``a//b``,
  absolute, backslashes, NUL), or None.
- :func:`hash_remote_batch` ``(url, batch) -> list[dict[str, str] | str]``: picklable bulk step (a root URL and
  relative paths): each object streamed once into every hasher it needs; workers read the objects themselves.

Credentials and the endpoint come only from the usual places: the environment (AWS_ACCESS_KEY_ID, AWS_PROFILE,
...; AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 for S3-compatible servers, honoured by botocore) and ~/.aws files;
never a command-line option, and :attr:`Store.url` carries none (a URL with ``user:password@`` is refused).
Every request has a timeout (``CURATOR_REMOTE_TIMEOUT`` seconds, default 30) and few retries, so an unreachable
or hanging server ends the run in bounded time.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from curator.errors import OptionsError, RunError

SCHEMES = ("s3://", "http://", "https://")
EXTRA = "ct-curator[remote]"
CHUNK = 8 << 20            # bytes a stream asks for at once
HEAD_CONCURRENCY = 32       # HEAD requests in flight at once


class RemoteExtraMissingError(OptionsError):
    """fsspec/s3fs are not installed (exit 2)."""


class RemoteError(RunError):
    """The store cannot be read (exit 3): no such bucket, access denied, connection refused, timeout."""


class TooLargeError(Exception):
    """A document larger than the limit its reader sets."""


class RemoteFile(NamedTuple):
    rel: str                      # POSIX, relative to the store's root URL
    size: int
    checksums: dict[str, str]     # algorithm -> hex digest the store keeps (may be empty)


def is_url(text: object) -> bool:
    return isinstance(text, str) and text.lower().startswith(SCHEMES)


def unsafe_key(rel: str) -> str | None:
    """Why an object key (relative to the root) cannot be a file of the release, or None when it can."""
    if not rel:
        return "an empty key"
    if rel.startswith("/"):
        return "an absolute key"
    if "\\" in rel or "\x00" in rel:
        return "a key with a backslash or NUL"
    parts = rel.split("/")
    if "" in parts:
        return "a key with an empty path component (//)"
    if any(part in (".", "..") for part in parts):
        return "a key with a '.' or '..' component"
    return None


def timeout() -> float:
    try:
        return max(0.1, float(os.environ.get("CURATOR_REMOTE_TIMEOUT", "30")))
    except ValueError:
        return 30.0


def _import_fsspec(scheme: str) -> Any:
    try:
        import fsspec

        if scheme == "s3":
            import s3fs  # noqa: F401
        else:
            import aiohttp  # noqa: F401
    except ImportError as error:
        raise RemoteExtraMissingError(f"reading a release at a {scheme}:// URL needs the remote extra: "
                                 f"pip install '{EXTRA}' ({error.name or error} is missing)") from error
    return fsspec


@lru_cache(maxsize=8)
def _filesystem(scheme: str, endpoint: str | None, limit: float, pid: int) -> Any:
    """One filesystem per process (``pid`` in the key: a forked worker makes its own, never its parent's loop)."""
    fsspec = _import_fsspec(scheme)
    if scheme == "s3":
        fs = fsspec.filesystem("s3", skip_instance_cache=True, endpoint_url=endpoint,
                                 config_kwargs={"connect_timeout": limit, "read_timeout": limit,
                                                "retries": {"max_attempts": 2, "mode": "standard"}})
        fs.retries = 2   # s3fs's own retries (with back-off) on throttling and transient errors; 5 by default
        return fs
    import aiohttp

    return fsspec.filesystem("http", skip_instance_cache=True,
                             client_kwargs={"timeout": aiohttp.ClientTimeout(total=None, connect=limit,
                                                                             sock_connect=limit,
                                                                             sock_read=limit)})


def _endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:300]


def _hex(value: str) -> str | None:
    try:
        return base64.b64decode(value, validate=True).hex()
    except ValueError:
        return None


CHECKSUM_FIELDS = {"ChecksumSHA256": "sha256", "ChecksumSHA1": "sha1", "ChecksumCRC32": "crc32",
                   "ChecksumCRC32C": "crc32c"}


def etag_md5(etag: object) -> str | None:
    """The MD5 a single-part upload's ETag is (a multipart ETag, ``...-N``, is not an MD5)."""
    if not isinstance(etag, str):
        return None
    value = etag.strip('"').lower()
    return value if len(value) == 32 and all(c in "0123456789abcdef" for c in value) else None


class Store:
    """A release root in object storage. Made by :func:`open_store`; cheap to make again from its URL (workers do)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.username or parts.password:
            raise OptionsError("a URL with a user name or password is refused (it would end up in logs and reports); "
                               "give credentials through the environment or the usual configuration files")
        self.scheme = parts.scheme.lower()
        self.url = url.rstrip("/")
        self.listable = self.scheme == "s3"
        self.fs = _filesystem(self.scheme, _endpoint() if self.scheme == "s3" else None, timeout(), os.getpid())
        self._base = self.url[len("s3://"):] if self.scheme == "s3" else self.url

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def _path(self, rel: str) -> str:
        return f"{self._base}/{rel}"

    def _fail(self, error: BaseException, what: str) -> RemoteError:
        if isinstance(error, RemoteError):
            return error
        if isinstance(error, PermissionError):
            return RemoteError(f"cannot read {what}: access denied ({_one_line(error)}); check the credentials in "
                               "the environment or ~/.aws")
        return RemoteError(f"cannot read {what}: {_one_line(error)}")

    def check(self) -> None:
        """Raise RemoteError when the root cannot be reached (a missing bucket, refused connection, ...)."""
        if self.scheme != "s3":
            return
        try:
            self.fs.ls(self._base, refresh=True)
        except FileNotFoundError as error:
            raise RemoteError(f"{self.url} does not exist ({_one_line(error)})") from error
        except Exception as error:
            raise self._fail(error, self.url) from error

    def files(self) -> list[RemoteFile]:
        """Every object under the root, sorted by relative key; md5 from single-part ETags. S3 only."""
        if not self.listable:
            raise RemoteError(f"{self.url} cannot be listed (HTTP has no listing); the release's manifest names "
                              "its files")
        try:
            found = self.fs.find(self._base, detail=True, refresh=True)
        except FileNotFoundError as error:
            raise RemoteError(f"{self.url} does not exist ({_one_line(error)})") from error
        except Exception as error:
            raise self._fail(error, self.url) from error
        if not found:
            self.check()
        prefix = self._base + "/"
        files = []
        for name, info in found.items():
            key = info.get("Key", name)
            if not key.startswith(prefix) or info.get("type") != "file":
                continue
            md5 = etag_md5(info.get("ETag"))
            files.append(RemoteFile(key[len(prefix):], int(info.get("size") or 0), {"md5": md5} if md5 else {}))
        files.sort(key=lambda f: f.rel)
        return files

    def files_named(self, rels: Iterable[str]) -> dict[str, RemoteFile]:
        """The named objects that exist (a HEAD each, concurrently), with their sizes."""
        wanted = [rel for rel in rels if unsafe_key(rel) is None]
        infos = self._heads(wanted)
        return {rel: RemoteFile(rel, int(info.get("size") or 0), {}) for rel, info in infos.items()}

    def _heads(self, rels: list[str]) -> dict[str, dict[str, Any]]:
        from fsspec.asyn import sync

        async def one(rel: str) -> tuple[str, dict[str, Any] | None]:
            try:
                if self.scheme == "s3":
                    bucket, key = self._path(rel).split("/", 1)
                    head = await self.fs._call_s3("head_object", Bucket=bucket, Key=key, ChecksumMode="ENABLED")
                    return rel, {**head, "size": head.get("ContentLength", 0)}
                return rel, await self._http_head(rel)
            except FileNotFoundError:
                return rel, None

        async def every() -> list[tuple[str, dict[str, Any] | None]]:
            import asyncio

            gate = asyncio.Semaphore(HEAD_CONCURRENCY)

            async def gated(rel: str) -> tuple[str, dict[str, Any] | None]:
                async with gate:
                    return await one(rel)

            return list(await asyncio.gather(*(gated(rel) for rel in rels)))

        try:
            answers = sync(self.fs.loop, every)
        except Exception as error:
            raise self._fail(error, self.url) from error
        return {rel: info for rel, info in answers if info is not None}

    async def _http_head(self, rel: str) -> dict[str, Any] | None:
        """A HEAD of one file under an HTTP base: its size, or None when the server says it is not there. A server
        that does not answer within the timeout, or answers with an error other than not-found, stops the run."""
        url = self._path(rel)
        session = await self.fs.set_session()
        async with session.head(self.fs.encode_url(url), allow_redirects=True) as response:
            status = response.status
            length = response.headers.get("Content-Length")
        if status in (404, 410):
            return None
        if status == 405:   # no HEAD on this server: fsspec asks with a GET and reads only the headers
            return dict(await self.fs._info(url))
        if status in (401, 403):
            raise PermissionError(f"HTTP {status} for {rel}")
        if status >= 400:
            raise RemoteError(f"cannot read {rel}: the server answered HTTP {status}")
        return {"size": int(length) if length and length.isdigit() else 0}

    def checksums(self, rels: Iterable[str]) -> dict[str, dict[str, str]]:
        """The checksums the store keeps of each named object (S3: a HEAD with ChecksumMode=ENABLED each)."""
        if self.scheme != "s3":
            return {}
        found: dict[str, dict[str, str]] = {}
        for rel, head in self._heads([r for r in rels if unsafe_key(r) is None]).items():
            # a multipart upload's checksum is of its parts' checksums (ChecksumType COMPOSITE): not the object's
            whole = head.get("ChecksumType", "FULL_OBJECT") != "COMPOSITE"
            sums = {algo: hexed for field, algo in CHECKSUM_FIELDS.items()
                    if whole and isinstance(head.get(field), str) and (hexed := _hex(head[field])) is not None}
            md5 = etag_md5(head.get("ETag"))
            if md5:
                sums["md5"] = md5
            found[rel] = sums
        return found

    def read_range(self, rel: str, start: int, length: int) -> bytes:
        """Bytes ``start .. start + length`` of an object (fewer at its end); FileNotFoundError when absent."""
        if length <= 0:
            return b""
        try:
            if self.scheme == "s3":
                return bytes(self.fs.cat_file(self._path(rel), start=start, end=start + length))
            with self.fs.open(self._path(rel), "rb", block_size=length, cache_type="none") as handle:
                handle.seek(start)
                return bytes(handle.read(length))
        except FileNotFoundError:
            raise
        except Exception as error:
            raise self._fail(error, rel) from error

    def read_tail(self, rel: str, size: int, length: int) -> bytes:
        """The last ``length`` bytes of an object of ``size`` bytes."""
        start = max(0, size - length)
        return self.read_range(rel, start, size - start)

    def stream(self, rel: str, chunk: int = CHUNK) -> Iterator[bytes]:
        """The object's bytes, ``chunk`` at a time, read once from start to end."""
        try:
            with self.fs.open(self._path(rel), "rb", block_size=chunk, cache_type="none") as handle:
                while data := handle.read(chunk):
                    yield bytes(data)
        except FileNotFoundError:
            raise
        except Exception as error:
            raise self._fail(error, rel) from error

    def read_small(self, rel: str, limit: int, size: int | None = None) -> bytes:
        """A whole document of at most ``limit`` bytes (:class:`TooLargeError` beyond it, never read)."""
        if size is None:
            named = self.files_named([rel])
            if rel not in named:
                raise FileNotFoundError(rel)
            size = named[rel].size
        if size > limit:
            raise TooLargeError(f"{rel} is {size} bytes, more than the {limit} read for it")
        data = self.read_range(rel, 0, size) if size else b""
        if len(data) > limit:
            raise TooLargeError(f"{rel} is more than the {limit} bytes read for it")
        return data


@lru_cache(maxsize=8)
def _store(url: str, endpoint: str | None, limit: float, pid: int) -> Store:
    return Store(url)


def open_store(url: str) -> Store:
    """The store at ``url`` (s3://bucket/prefix or an http(s):// base); see the module's docstring for errors."""
    if not is_url(url):
        raise OptionsError(f"{url} is not an s3:// or http(s):// URL")
    scheme = url.split(":", 1)[0].lower()
    _import_fsspec(scheme)
    return _store(url.rstrip("/"), _endpoint(), timeout(), os.getpid())


def hash_remote_batch(url: str, batch: list[tuple[str, tuple[str, ...]]]) -> list[dict[str, str] | str]:
    """The digests of each (relative path, algorithms) under ``url``, each object streamed once; or why it could
    not be read. A module-level function of plain data, for any executor."""
    from curator.io.hashing import hash_chunks

    store = open_store(url)
    results: list[dict[str, str] | str] = []
    for rel, algorithms in batch:
        try:
            results.append(hash_chunks(store.stream(rel), algorithms))
        except FileNotFoundError:
            results.append("the object is gone from the store")
        except RemoteError as error:
            results.append(f"cannot read the object ({error})")
    return results


class RangeFile(io.RawIOBase):
    """A read-only, seekable view of one object whose reads are ranged GETs of at most :data:`BLOCK` bytes (a read
    asking for more returns less, as a raw stream may): a reader that needs a header reads only its first blocks,
    and ``seek(-4, SEEK_END)`` fetches 4 bytes. What was fetched is kept, so a re-read costs nothing.

    ``greedy``: a read asking for more than a block fetches all it asks for (at most :data:`CHUNK` a GET), for
    readers that use what they ask for (a JPEG walked whole, a PDF's first and last 256 KiB); give it to them behind
    an ``io.BufferedReader``, which reads exactly what is asked, as a local file does. ``segments``: bytes already
    fetched (shared by several views of one object, or the start of a stream read by the deep tier)."""

    BLOCK = 512

    def __init__(self, store: Store, rel: str, size: int, *, greedy: bool = False,
                 segments: dict[int, bytes] | None = None) -> None:
        super().__init__()
        self.store, self.rel, self.size, self.position, self.greedy = store, rel, size, 0, greedy
        self.name = rel   # as a file's: readers (pydicom) name what they read by it
        self.segments: dict[int, bytes] = {} if segments is None else segments   # start -> bytes fetched from there

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def _cached(self, at: int) -> bytes | memoryview:
        for start, data in self.segments.items():
            if start <= at < start + len(data):
                return memoryview(data)[at - start:]   # no copy of a large kept prefix at each read
        return b""

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self.size - self.position)
        if want <= 0:
            return 0
        out = bytearray()
        while len(out) < want:
            at = self.position + len(out)
            piece = self._cached(at)
            if not piece:
                if self.greedy:
                    length = min(max(self.BLOCK, want - len(out)), CHUNK, self.size - at)
                else:
                    length = min(max(self.BLOCK, want - len(out)) if want <= self.BLOCK else self.BLOCK,
                                 self.size - at)
                piece = self.store.read_range(self.rel, at, length)
                if not piece:
                    break
                self.segments[at] = piece
            out += piece[:want - len(out)]
            if want > self.BLOCK and not self.greedy:
                break   # a short read: the caller asks again, and only the bytes it uses are fetched
        buffer[:len(out)] = out
        self.position += len(out)
        return len(out)

    def readall(self) -> bytes:
        """The rest of the object (greedy: in GETs of up to :data:`CHUNK`, not of a default buffer's 8 KiB)."""
        out = bytearray()
        while data := self.read(max(self.BLOCK, self.size - self.position)):
            out += data
        return bytes(out)


class StreamFile(io.RawIOBase):
    """A read-only, forward-only view of :meth:`Store.stream`: the object is read once from start to end, as a
    local file is by the deep tier. A store's error on the way is an OSError naming it (as a local read's).
    ``keep``: how many of the first bytes to keep in :attr:`prefix` (what other readers of the object take from this
    one read: the privacy audit's NIfTI header and extensions)."""

    def __init__(self, chunks: Iterator[bytes], keep: int = 0) -> None:
        super().__init__()
        self.chunks = chunks
        self.left = memoryview(b"")
        self.keep = keep
        self.prefix = bytearray()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self.left:
            try:
                self.left = memoryview(next(self.chunks, b""))
            except RemoteError as error:
                raise OSError(str(error)) from error
        taken = min(len(buffer), len(self.left))
        buffer[:taken] = self.left[:taken]
        if len(self.prefix) < self.keep:
            self.prefix += self.left[:min(taken, self.keep - len(self.prefix))]
        self.left = self.left[taken:]
        return taken
