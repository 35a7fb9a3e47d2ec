"""Opening a file's bytes from byte N on: HTTP(S) with ``Range`` (RFC 9110, section 14), and S3 ranged GETs.

A transport answers :func:`open_at` with an :class:`Opened` body that says where it really starts: a server that
ignores ``Range`` answers 200 and the body starts at 0 (the caller starts the file again). A 416, or a 206 whose
``Content-Range`` starts elsewhere than asked, raises :class:`Restart`. Anything else that stops the transfer
raises :class:`TransferError` with what the server said. HTTP uses the standard library only (urllib follows
redirects and honours the proxy settings of the environment); S3 uses boto3 (the ``remote`` extra).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from curator import __version__
from curator.fetch.plan import Item

CHUNK = 1 << 20
USER_AGENT = f"curator/{__version__} (+https://github.com/; curator fetch)"
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$")


class TransferError(Exception):
    """The transfer failed: what the server or the network did, in words."""


class Restart(TransferError):  # noqa: N818 - a TransferError: what to do next, not what went wrong
    """The server cannot continue at the offset asked: fetch the file from its first byte."""


@dataclass
class Opened:
    """A body from byte ``start`` on, of ``length`` bytes (None: not said), of a file of ``total`` bytes."""

    start: int
    length: int | None
    total: int | None
    chunks: Iterator[bytes]
    close: Callable[[], None]


def open_at(item: Item, start: int, timeout: float) -> Opened:
    """The body of ``item`` from byte ``start`` (the whole file for 0)."""
    if item.url.startswith("s3://"):
        return _open_s3(item, start)
    return open_http(item.url, start, timeout, item.headers, item.size)


def _range_start(header: str | None, start: int, total: int | None) -> tuple[int, int | None]:
    match = _CONTENT_RANGE.match(header or "")
    if match is None:
        raise Restart(f"the server answered 206 with Content-Range {header!r}, not 'bytes {start}-.../...'")
    first, whole = int(match[1]), (None if match[3] == "*" else int(match[3]))
    if first != start:
        raise Restart(f"asked for bytes from {start}, the server sent them from {first}")
    if total is not None and whole is not None and whole != total:
        raise Restart(f"the server says the file has {whole} bytes, the source lists {total}")
    return first, whole


# --- HTTP ------------------------------------------------------------------------------------------------------

def open_http(url: str, start: int, timeout: float, headers: tuple[tuple[str, str], ...] = (),
              total: int | None = None) -> Opened:
    import http.client
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
    for name, value in headers:   # credentials: not repeated to whatever host a redirect names
        request.add_unredirected_header(name, value)
    if start:
        request.add_header("Range", f"bytes={start}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code == 416 and start:
            raise Restart(f"the server refused the range from byte {start} (416)") from None
        raise TransferError(f"the server answered {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        raise TransferError(f"cannot connect: {reason}") from None
    try:
        length_header = response.headers.get("Content-Length")
        length = int(length_header) if length_header and length_header.isdigit() else None
        if response.status == 206:
            first, whole = _range_start(response.headers.get("Content-Range"), start, total)
        elif response.status == 200:
            first, whole = 0, length
        else:
            raise TransferError(f"the server answered {response.status} {response.reason}")
    except BaseException:
        response.close()
        raise
    return Opened(first, length, whole, _http_chunks(response), response.close)


def _http_chunks(response: Any) -> Iterator[bytes]:
    import http.client

    while True:
        try:
            chunk = response.read(CHUNK)
        except (OSError, http.client.HTTPException) as error:
            raise TransferError(f"the connection broke ({type(error).__name__}: {error})") from None
        if not chunk:
            return
        yield chunk


def get_bytes(url: str, limit: int, timeout: float, headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    """A small document (an API answer, a checksum listing) in full; more than ``limit`` bytes is an error."""
    opened = open_http(url, 0, timeout, headers)
    try:
        if opened.length is not None and opened.length > limit:
            raise TransferError(f"{url} is {opened.length} bytes, more than the {limit} curator reads of it")
        parts, size = [], 0
        for chunk in opened.chunks:
            parts.append(chunk)
            size += len(chunk)
            if size > limit:
                raise TransferError(f"{url} is longer than the {limit} bytes curator reads of it")
        if opened.length is not None and size < opened.length:
            raise TransferError(f"{url}: the connection ended after {size} of {opened.length} bytes")
        return b"".join(parts)
    finally:
        opened.close()


# --- S3 ---------------------------------------------------------------------------------------------------------

def s3_client() -> Any:
    """A boto3 S3 client configured from the environment (AWS_ENDPOINT_URL, credentials, region)."""
    from curator.errors import OptionsError

    try:
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]
    except ImportError:
        raise OptionsError("fetching from s3:// needs boto3: pip install 'ct-curator[remote]'") from None
    return boto3.client("s3", config=Config(retries={"max_attempts": 3, "mode": "standard"}))


def split_s3(url: str) -> tuple[str, str]:
    bucket, _, key = url[len("s3://"):].partition("/")
    return bucket, key


_CLIENTS: dict[str, Any] = {}


def _open_s3(item: Item, start: int) -> Opened:
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

    client = _CLIENTS.get("s3") or _CLIENTS.setdefault("s3", s3_client())
    bucket, key = split_s3(item.url)
    try:
        answer = client.get_object(Bucket=bucket, Key=key, **({"Range": f"bytes={start}-"} if start else {}))
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "InvalidRange" and start:
            raise Restart(f"the server refused the range from byte {start} (InvalidRange)") from None
        raise TransferError(f"S3 answered {code or error}") from None
    except BotoCoreError as error:
        raise TransferError(f"cannot reach S3: {error}") from None
    body = answer["Body"]
    if answer.get("ContentRange"):
        first, whole = _range_start(answer["ContentRange"], start, item.size)
    else:
        first, whole = 0, answer.get("ContentLength")
    return Opened(first, answer.get("ContentLength"), whole, _s3_chunks(body), body.close)


def _s3_chunks(body: Any) -> Iterator[bytes]:
    from botocore.exceptions import BotoCoreError

    try:
        yield from body.iter_chunks(CHUNK)
    except (OSError, BotoCoreError) as error:
        raise TransferError(f"the connection broke ({type(error).__name__}: {error})") from None
