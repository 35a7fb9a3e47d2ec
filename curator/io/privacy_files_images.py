"""The privacy audit's reading of PNG and JPEG files: the metadata chunks and segments of the one table
(``curator.io.image_metadata``) and bytes after the image's end, never the pixels (part of
``curator.io.privacy_files``)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from curator.io.formats import PNG_SIGNATURE
from curator.io.image_metadata import JPEG_APP_MARKERS, JPEG_COM, PNG_METADATA_CHUNKS, jpeg_metadata_segment
from curator.io.privacy_files_records import MAX_ITEM, MAX_TEXT, FileAudit, Search, TextItem, printable

MAX_PNG_CHUNKS = 100000


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


def audit_png(path: Path, size: int, search: Search) -> FileAudit:
    items: list[TextItem] = []
    trailing = 0
    with path.open("rb") as handle:
        if handle.read(8) != PNG_SIGNATURE:
            return FileAudit("png", error="not a PNG file (no PNG signature)")
        position, count = 8, 0
        while position + 12 <= size and count < MAX_PNG_CHUNKS:
            handle.seek(position)
            head = handle.read(8)
            if len(head) < 8:
                break
            length, kind = struct.unpack(">I4s", head)
            count += 1
            if kind in PNG_METADATA_CHUNKS:
                data = handle.read(min(length, MAX_ITEM))
                if kind == b"tIME" and len(data) >= 7:
                    year, month, day, hour, minute, second = struct.unpack(">HBBBBB", data[:7])
                    items.append(TextItem("tIME", f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:"
                                                  f"{second:02d}"))
                elif kind == b"eXIf":
                    items.append(TextItem("eXIf", printable(data)))
                elif kind != b"tIME":
                    keyword, text = _png_text(kind, data)
                    items.append(TextItem(f"{kind.decode()} {keyword}", text))
            position += 12 + length
            if kind == b"IEND":
                trailing = max(0, size - position)
                break
        if trailing and search:
            handle.seek(position)
            search.text("after IEND", handle.read(MAX_ITEM).decode("latin-1"))
    for item in items:
        search.text(f"PNG {item.where}", item.text)
    return FileAudit("png", image_items=tuple(items), trailing_bytes=trailing)


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


def audit_jpeg(path: Path, size: int, search: Search) -> FileAudit:
    items: list[TextItem] = []
    trailing = 0
    with path.open("rb") as handle:
        if handle.read(2) != b"\xff\xd8":
            return FileAudit("jpeg", error="not a JPEG file (no start-of-image marker)")
        position = 2
        while position + 4 <= size:
            handle.seek(position)
            head = handle.read(4)
            if len(head) < 2 or head[0] != 0xFF:
                break
            marker = head[1]
            if marker == 0xFF:          # fill byte
                position += 1
                continue
            if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:   # markers without a length
                position += 2
                continue
            if marker in (0xDA, 0xD9) or len(head) < 4:   # start of scan / end of image: the metadata is behind us
                break
            length = struct.unpack(">H", head[2:4])[0]
            if marker == JPEG_COM or marker in JPEG_APP_MARKERS:
                item = _jpeg_segment(marker, handle.read(min(max(length - 2, 0), MAX_ITEM)))
                if item is not None:
                    items.append(item)
            position += 2 + length
        # bytes after the end-of-image marker, from the tail alone (the scan data is never read)
        start = max(0, size - MAX_ITEM)
        handle.seek(start)
        tail = handle.read()
        end = tail.rfind(b"\xff\xd9")
        if end >= 0 and tail[end + 2 :].strip(b"\x00"):
            trailing = len(tail) - end - 2
            search.text("after EOI", tail[end + 2 :].decode("latin-1"))
    for item in items:
        search.text(f"JPEG {item.where}", item.text)
    return FileAudit("jpeg", image_items=tuple(items), trailing_bytes=trailing)
