"""Image metadata stripping for released slices: PNG and JPEG without the chunks and segments that the one
metadata table (``curator.io.image_metadata``) lists, and without bytes after the image's end, copied chunk by
chunk / segment by segment (no re-encoding). ``curator ingest-slices`` calls it; the privacy audit flags the same
table, so what is stripped is exactly what is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

from curator.io.codestreams import CodestreamError, jpeg_segments, png_chunks
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
    """The PNG without its text, time and EXIF chunks and without bytes after IEND, chunk by chunk (the one walker,
    ``curator.io.codestreams.png_chunks``); raises SliceFormatError."""
    out = bytearray(PNG_SIGNATURE)
    removed: list[str] = []
    end = len(PNG_SIGNATURE)
    try:
        for chunk in png_chunks(data, len(data), strict=True):
            if chunk.kind in PNG_STRIPPED_CHUNKS:
                removed.append(chunk.kind.decode())
            else:
                out += data[chunk.offset:chunk.end]
            end = chunk.end
    except CodestreamError as error:
        raise SliceFormatError(str(error)) from error
    return Stripped("PNG", bytes(out), tuple(removed), len(data) - end)


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
