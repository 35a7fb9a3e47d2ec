"""Image metadata stripping for released slices: PNG and JPEG without the chunks and segments that the one
metadata table (``curator.io.image_metadata``) lists, and without bytes after the image's end, copied chunk by
chunk / segment by segment (no re-encoding). ``curator ingest-slices`` calls it; the privacy audit flags the same
table, so what is stripped is exactly what is flagged.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from curator.io.codestreams import CodestreamError, jpeg_segments
from curator.io.formats import JPEG_SIGNATURE, PNG_SIGNATURE
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


def strip_jpeg(data: bytes) -> Stripped:
    """The JPEG without EXIF/XMP/IPTC/comment segments and without bytes after EOI, segment by segment (no
    re-encoding; the one codestream walker, ``curator.io.codestreams``); raises SliceFormatError."""
    out = bytearray()
    removed: list[str] = []
    end = 0
    try:
        for segment in jpeg_segments(data, strict=True):
            name = jpeg_metadata_segment(segment.marker, segment.payload.tobytes())
            if name is None:
                out += data[segment.offset:segment.end]   # with a scan header: its entropy-coded data too
            else:
                removed.append(name)
            end = segment.end
    except CodestreamError as error:
        raise SliceFormatError(str(error)) from error
    return Stripped("JPEG", bytes(out), tuple(removed), len(data) - end)


def strip_metadata(data: bytes) -> Stripped:
    """``strip_png`` or ``strip_jpeg`` by the file's signature; raises SliceFormatError for anything else."""
    if data.startswith(PNG_SIGNATURE):
        return strip_png(data)
    if data.startswith(JPEG_SIGNATURE):
        return strip_jpeg(data)
    raise SliceFormatError("neither a PNG nor a JPEG file (no PNG signature or JPEG start-of-image marker)")
