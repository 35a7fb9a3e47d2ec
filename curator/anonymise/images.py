"""Image metadata stripping for released slices: PNG and JPEG without the chunks and segments that the one
metadata table (``curator.io.image_metadata``) lists, and without bytes after the image's end, copied chunk by
chunk / segment by segment (no re-encoding). ``curator ingest-slices`` calls it; the privacy audit flags the same
table, so what is stripped is exactly what is flagged.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from curator.io.formats import PNG_SIGNATURE
from curator.io.image_metadata import PNG_METADATA_CHUNKS, jpeg_metadata_segment

__all__ = ["PNG_STRIPPED_CHUNKS", "SliceFormatError", "Stripped", "strip_jpeg", "strip_metadata", "strip_png"]

PNG_STRIPPED_CHUNKS = PNG_METADATA_CHUNKS


class SliceFormatError(ValueError):
    """The bytes are not a well-formed PNG or JPEG; the message says where they break."""


@dataclass(frozen=True)
class Stripped:
    """A PNG or JPEG without its metadata: the bytes, what was left out and the bytes after the image's end."""

    format: str                   # "PNG" or "JPEG"
    data: bytes
    removed: tuple[str, ...]      # "tIME", "tEXt", "APP1 Exif", "APP1 XMP", "COM", ... in file order
    trailing: int = 0             # bytes after IEND / EOI that were left out



def strip_png(data: bytes) -> Stripped:
    """The PNG without its text, time and EXIF chunks and without bytes after IEND; raises SliceFormatError."""
    if not data.startswith(PNG_SIGNATURE):
        raise SliceFormatError("no PNG signature")
    out = bytearray(PNG_SIGNATURE)
    removed: list[str] = []
    position, size = len(PNG_SIGNATURE), len(data)
    while True:
        if position + 12 > size:
            raise SliceFormatError(f"the file ends at byte {size} before its IEND chunk (truncated)")
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        if not kind.isalpha() or not kind.isascii():
            raise SliceFormatError(f"byte {position} does not start a PNG chunk (type {kind!r})")
        end = position + 12 + length
        if length > 0x7FFFFFFF or end > size:
            raise SliceFormatError(f"chunk {kind.decode()} at byte {position} runs past the end of the file "
                                   f"({length} bytes announced; truncated)")
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(data[position + 4 : end - 4]) != crc:
            raise SliceFormatError(f"chunk {kind.decode()} at byte {position} fails its CRC (damaged)")
        if kind in PNG_STRIPPED_CHUNKS:
            removed.append(kind.decode())
        else:
            out += data[position:end]
        position = end
        if kind == b"IEND":
            break
    return Stripped("PNG", bytes(out), tuple(removed), size - position)


def _scan_end(data: bytes, position: int) -> int:
    """Where the entropy-coded data starting at ``position`` ends: the next marker that is not a stuffed byte
    (FF 00) or a restart marker (FF D0..D7)."""
    while True:
        found = data.find(b"\xff", position)
        if found < 0 or found + 1 >= len(data):
            raise SliceFormatError("the scan data runs to the end of the file without an EOI marker (truncated)")
        following = data[found + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            position = found + 2
        elif following == 0xFF:   # fill byte before a marker
            position = found + 1
        else:
            return found


def strip_jpeg(data: bytes) -> Stripped:
    """The JPEG without EXIF/XMP/IPTC/comment segments and without bytes after EOI, segment by segment (no
    re-encoding); raises SliceFormatError."""
    if not data.startswith(b"\xff\xd8"):
        raise SliceFormatError("no JPEG start-of-image marker")
    out = bytearray(b"\xff\xd8")
    removed: list[str] = []
    position, size = 2, len(data)
    while True:
        if position + 2 > size:
            raise SliceFormatError(f"the file ends at byte {size} before its EOI marker (truncated)")
        if data[position] != 0xFF:
            raise SliceFormatError(f"byte {position} is not a JPEG marker")
        if data[position + 1] == 0xFF:   # fill byte
            position += 1
            continue
        marker = data[position + 1]
        if marker == 0xD9:
            out += b"\xff\xd9"
            position += 2
            break
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            out += data[position : position + 2]
            position += 2
            continue
        if marker in (0x00, 0xD8):
            raise SliceFormatError(f"unexpected marker FF{marker:02X} at byte {position}")
        if position + 4 > size:
            raise SliceFormatError(f"the file ends inside the segment at byte {position} (truncated)")
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        end = position + 2 + length
        if length < 2 or end > size:
            raise SliceFormatError(f"segment FF{marker:02X} at byte {position} runs past the end of the file "
                                   "(truncated)")
        name = jpeg_metadata_segment(marker, data[position + 4 : end])
        if name is None:
            out += data[position:end]
        else:
            removed.append(name)
        position = end
        if marker == 0xDA:   # start of scan: the entropy-coded data follows, up to the next marker
            scan_end = _scan_end(data, position)
            out += data[position:scan_end]
            position = scan_end
    return Stripped("JPEG", bytes(out), tuple(removed), size - position)


def strip_metadata(data: bytes) -> Stripped:
    """``strip_png`` or ``strip_jpeg`` by the file's signature; raises SliceFormatError for anything else."""
    if data.startswith(PNG_SIGNATURE):
        return strip_png(data)
    if data.startswith(b"\xff\xd8\xff"):
        return strip_jpeg(data)
    raise SliceFormatError("neither a PNG nor a JPEG file (no PNG signature or JPEG start-of-image marker)")
