"""The privacy audit's reading of PNG and JPEG files: the metadata chunks and segments of the one table
(``curator.io.image_metadata``) and bytes after the image's end, never the pixels (part of
``curator.io.privacy_files``)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from curator.io.codestreams import JPEG_EOI, PNG_IEND, CodestreamError, jpeg_segments, last_eoi_end, png_chunks
from curator.io.image_metadata import JPEG_APP_MARKERS, JPEG_COM, PNG_METADATA_CHUNKS, jpeg_metadata_segment
from curator.io.privacy_files_records import (
    MAX_ITEM,
    MAX_TEXT,
    FileAudit,
    Opener,
    Search,
    TextItem,
    open_file,
    printable,
)

MAX_PNG_CHUNKS = 100000
MAX_JPEG_READ = 16 << 20       # bytes of a JPEG walked for its segments (a CT slice is well under 1 MiB)


def _png_text(kind: bytes, data: bytes) -> tuple[str, str]:
    """(keyword, text) of a tEXt, zTXt or iTXt chunk; compressed text inflated to at most MAX_ITEM bytes."""
    keyword, _, rest = data.partition(b"\x00")
    name = keyword.decode("latin-1", errors="replace")[:80]
    if kind == b"tEXt":
        return name, rest.decode("latin-1")[:MAX_TEXT]
    if kind == b"zTXt":
        return name, _inflate(rest[1:]).decode("latin-1")[:MAX_TEXT]
    if len(rest) < 2:  # iTXt: compression flag, method, language\0, translated keyword\0, text (UTF-8)
        return name, ""
    flag, body = rest[0], rest[2:]
    _, _, body = body.partition(b"\x00")
    translated, _, body = body.partition(b"\x00")
    text = _inflate(body) if flag else body
    return name, (translated.decode("utf-8", "replace") + " " + text.decode("utf-8", "replace")).strip()[:MAX_TEXT]


def _inflate(data: bytes) -> bytes:
    try:
        return zlib.decompressobj().decompress(data, MAX_ITEM)
    except zlib.error:
        return b""


def _png_item(kind: bytes, data: bytes) -> TextItem:
    """What a metadata chunk of the one table says: its time, EXIF strings or keyword and text."""
    if kind == b"tIME":
        if len(data) < 7:
            return TextItem("tIME", "")
        year, month, day, hour, minute, second = struct.unpack(">HBBBBB", data[:7])
        return TextItem("tIME", f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}")
    if kind == b"eXIf":
        return TextItem("eXIf", printable(data))
    keyword, text = _png_text(kind, data)
    return TextItem(f"{kind.decode()} {keyword}", text)


def audit_png(path: Path, size: int, search: Search, opener: Opener | None = None) -> FileAudit:
    items: list[TextItem] = []
    trailing = 0
    stopped: tuple[str, ...] = ()
    with open_file(path, opener) as handle:
        try:
            for count, chunk in enumerate(png_chunks(handle, size, strict=False)):
                if count == MAX_PNG_CHUNKS:   # what follows may hold metadata: say it was not read
                    stopped = (f"the chunks after the first {MAX_PNG_CHUNKS} (from byte {chunk.offset}) were not "
                               "read",)
                    break
                if chunk.kind in PNG_METADATA_CHUNKS:
                    handle.seek(chunk.data_offset)
                    item = _png_item(chunk.kind, handle.read(min(chunk.length, MAX_ITEM)))
                    if chunk.kind != b"tIME" or item.text:
                        items.append(item)
                if chunk.kind == PNG_IEND:
                    trailing = max(0, size - chunk.end)
        except CodestreamError as error:   # not strict: only a missing signature
            return FileAudit("png", error=f"not a PNG file ({error})")
        if trailing and search:
            handle.seek(size - trailing)
            search.text("after IEND", handle.read(MAX_ITEM).decode("latin-1"))
    for item in items:
        search.text(f"PNG {item.where}", item.text)
    return FileAudit("png", image_items=tuple(items), trailing_bytes=trailing, incomplete=stopped)


def _jpeg_segment(marker: int, data: bytes) -> TextItem | None:
    """The metadata segments a released slice should not carry; None for the technical ones (JFIF, ICC, Adobe)."""
    name = jpeg_metadata_segment(marker, data)   # the one table, shared with ingest-slices' stripper
    if name is None:
        return None
    if name == "COM":
        return TextItem(name, _decode_any(data))
    if name == "APP1 Exif":
        return TextItem(name, printable(data[6:]))
    if name == "APP1 XMP":
        return TextItem(name, data.partition(b"\x00")[2].decode("utf-8", "replace")[:MAX_TEXT])
    return TextItem(name, printable(data))


def _decode_any(data: bytes) -> str:
    try:
        return data.decode("utf-8").strip("\x00 ")[:MAX_TEXT]
    except UnicodeDecodeError:
        return data.decode("cp1251", errors="replace").strip("\x00 ")[:MAX_TEXT]


@dataclass(frozen=True)
class _JpegWalk:
    segments: tuple[tuple[int, bytes], ...]   # (marker, first MAX_ITEM bytes of the payload) of each APPn and COM
    eoi_end: int | None                       # where the end-of-image marker ends, when the walk reached it
    stopped: str | None                       # why the walk stopped before the end of the file (not a truncation)


def _walk_jpeg(head: bytes, size: int) -> _JpegWalk | None:
    """The metadata segments of the JPEG whose first bytes are ``head``, in every place a decoder reads them
    (before the first scan and between scans: the one codestream walker, as ingest-slices' stripper walks);
    None when it does not start like a JPEG. Bytes that are no marker are skipped, as decoders skip them."""
    found: list[tuple[int, bytes]] = []
    started = False
    try:
        for segment in jpeg_segments(head, strict=False):
            started = True
            if segment.marker == JPEG_COM or segment.marker in JPEG_APP_MARKERS:
                found.append((segment.marker, segment.payload[:MAX_ITEM].tobytes()))
            if segment.marker == JPEG_EOI:
                return _JpegWalk(tuple(found), segment.end, None)
    except CodestreamError as error:
        if not started:
            return None
        partial = error.partial   # a segment cut by the end of what was read: its bytes are still there
        if partial is not None and (partial.marker == JPEG_COM or partial.marker in JPEG_APP_MARKERS):
            found.append((partial.marker, partial.payload[:MAX_ITEM].tobytes()))
        if not error.at_end:      # a length that cannot be, too many segments: what follows was not read
            return _JpegWalk(tuple(found), None, f"the segments after byte {error.offset} were not read: {error}")
    stopped = f"only the segments in the first {len(head)} bytes were read" if size > len(head) else None
    return _JpegWalk(tuple(found), None, stopped)


def audit_jpeg(path: Path, size: int, search: Search, opener: Opener | None = None) -> FileAudit:
    trailing = 0
    with open_file(path, opener) as handle:
        walk = _walk_jpeg(handle.read(MAX_JPEG_READ), size)
        if walk is None:
            return FileAudit("jpeg", error="not a JPEG file (no start-of-image marker)")
        items = [item for marker, payload in walk.segments if (item := _jpeg_segment(marker, payload)) is not None]
        # bytes after the end-of-image marker (found from the tail alone in a file too large to walk)
        start = max(0, size - MAX_ITEM) if walk.eoi_end is None else walk.eoi_end
        handle.seek(start)
        tail = handle.read(MAX_ITEM)
        end = last_eoi_end(tail) if walk.eoi_end is None else 0
        if end is not None and tail[end:].strip(b"\x00"):
            trailing = size - start - end
            search.text("after EOI", tail[end:].decode("latin-1"))
    for item in items:
        search.text(f"JPEG {item.where}", item.text)
    return FileAudit("jpeg", image_items=tuple(items), trailing_bytes=trailing,
                     incomplete=(walk.stopped,) if walk.stopped else ())
