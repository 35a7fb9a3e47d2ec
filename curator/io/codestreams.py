"""The one walker of compressed image codestreams: JPEG (and JPEG-LS), the JPEG 2000 main header, the RLE header,
and of PNG files' chunks (``png_chunks``: the metadata stripper and the privacy audit walk PNGs here too).

Three readers walk codestreams, and each needs the same bytes found the same way: ingest's converter checks every
compressed DICOM frame against Rows and Columns before a decoder allocates anything (``curator.ingest.convert``),
ingest-slices strips metadata segments from JPEG slices (``curator.anonymise.images``) and the privacy audit lists
the metadata segments a file carries (``curator.io.privacy_files_images``). They all walk here, so what the audit
flags is found where the stripper finds it and where a decoder would.

Every walk yields :class:`Segment` records (marker, offset, length, a view of the payload, where the walk goes on)
and is bounded: it never reads past the buffer, every step moves forward (a length field below 2 is an error, not
a loop), searches over fill bytes and entropy-coded data run in C (``re``, ``bytes.find``: linear, never quadratic),
and a stream of more than ``MAX_SEGMENTS`` segments is refused. A stream that breaks raises
:class:`CodestreamError`, whose message says where and how; nothing else escapes for bad bytes.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple

from curator.io import ReadError
from curator.io.formats import PNG_SIGNATURE

__all__ = [
    "J2K_EOC",
    "J2K_SIZ",
    "J2K_SOC",
    "J2K_SOT",
    "JPEG_DHP",
    "JPEG_DNL",
    "JPEG_EOI",
    "JPEG_EXP",
    "JPEG_FRAMES",
    "JPEG_HUFFMAN_FRAMES",
    "JPEG_LSE",
    "JPEG_SOI",
    "JPEG_SOS",
    "MAX_SEGMENTS",
    "PNG_IEND",
    "PNG_IHDR",
    "RLE_HEADER_BYTES",
    "CodestreamError",
    "PngChunk",
    "Segment",
    "j2k_segments",
    "jp2_codestream_start",
    "jpeg_segments",
    "last_eoi_end",
    "png_bit_depth",
    "png_chunks",
    "rle_segments",
]

MAX_SEGMENTS = 10000        # marker segments (or JP2 boxes) walked in one stream; a real image has a few dozen
RLE_HEADER_BYTES = 64       # PS3.5 G.4: the segment count and 15 offsets, little-endian 32-bit
RLE_MAX_SEGMENTS = 15

# JPEG (ISO 10918-1 B.1.1.3, ISO 14495-1 for JPEG-LS): the byte after FF
JPEG_SOI, JPEG_EOI, JPEG_SOS = 0xD8, 0xD9, 0xDA
JPEG_DNL, JPEG_DHP, JPEG_EXP, JPEG_LSE = 0xDC, 0xDE, 0xDF, 0xF8
JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})     # TEM, RST0..7: markers without a length field
# the frame headers (SOFn) and their codings; JPEG-LS (SOF55, SOF57) stuffs markers in its scans differently
JPEG_FRAMES = {0xC0: "baseline DCT", 0xC1: "extended DCT", 0xC2: "progressive DCT", 0xC3: "lossless",
               0xC5: "differential DCT", 0xC6: "differential progressive DCT", 0xC7: "differential lossless",
               0xC9: "arithmetic extended DCT", 0xCA: "arithmetic progressive DCT", 0xCB: "arithmetic lossless",
               0xCD: "arithmetic differential DCT", 0xCE: "arithmetic differential progressive DCT",
               0xCF: "arithmetic differential lossless", 0xF7: "JPEG-LS", 0xF9: "JPEG-LS extended"}
JPEG_LS_FRAMES = frozenset({0xF7, 0xF9})
JPEG_HUFFMAN_FRAMES = {0xC0: "sequential", 0xC1: "sequential", 0xC2: "progressive", 0xC3: "lossless"}
# JPEG 2000 (ISO 15444-1 A.2): the byte after FF
J2K_SOC, J2K_SIZ, J2K_SOT, J2K_EOC = 0x4F, 0x51, 0x90, 0xD9
JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"           # the JP2 signature box (ISO 15444-1 I.5.1)

_NOT_FILL = re.compile(rb"[^\xff]")
_MARKER = re.compile(rb"\xff[^\x00\xff]")                    # a marker after any fill bytes (libjpeg's next_marker)
_SCAN_END = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")         # JPEG: FF 00 is a stuffed byte, FF D0..D7 a restart
_SCAN_END_LS = re.compile(rb"\xff[\x80-\xcf\xd8-\xff]")      # JPEG-LS: FF then a byte below 80 is stuffing


class CodestreamError(ReadError, ValueError):
    """The bytes are not a well-formed codestream of the kind walked; the message says where they break.

    ``offset`` is where the walk stopped; ``at_end`` is True when the bytes ran out (a truncated stream, or a buffer
    that holds only the start of one); ``partial`` is the segment that runs past the end, cut to the bytes there.
    """

    def __init__(self, message: str, offset: int, *, at_end: bool = False, partial: Segment | None = None):
        super().__init__(message)
        self.offset = offset
        self.at_end = at_end
        self.partial = partial


@dataclass(frozen=True)
class Segment:
    """One marker segment of a JPEG or JPEG 2000 codestream, or one segment of an RLE frame."""

    marker: int             # JPEG, JPEG 2000: the byte after FF (0xE1 for APP1); RLE: the segment's number, from 1
    offset: int             # JPEG, JPEG 2000: where its FF is; RLE: its first byte
    length: int             # JPEG, JPEG 2000: the length field, which counts itself (0: a marker without one)
    payload: memoryview     # the bytes after the length field (RLE: the segment's bytes)
    end: int                # where the walk goes on: after the segment and, after a JPEG SOS, after its scan data


def _segment_length(data: bytes, view: memoryview, kind: str, marker: int, offset: int) -> int:
    """The length field of the ``kind`` (JPEG, JPEG 2000) marker segment whose FF is at ``offset``, checked to be
    whole in ``data``: CodestreamError when the field is cut off, below its own 2 bytes, or runs past the end (with
    the part there is as ``partial``)."""
    size = len(data)
    if offset + 4 > size:
        raise CodestreamError(f"the {kind} codestream ends inside the FF{marker:02X} segment at byte {offset} "
                              "(truncated)", offset, at_end=True)
    length = int.from_bytes(data[offset + 2:offset + 4], "big")
    if length < 2:
        raise CodestreamError(f"the {kind} FF{marker:02X} segment at byte {offset} gives its length as {length}, "
                              "less than the 2 bytes of the length field itself", offset)
    if offset + 2 + length > size:
        raise CodestreamError(f"the {kind} FF{marker:02X} segment at byte {offset} gives {length} bytes, which run "
                              f"past the end of the codestream at byte {size} (truncated)", offset, at_end=True,
                              partial=Segment(marker, offset, length, view[offset + 4:size], size))
    return length


def _marker_at(data: bytes, at: int, strict: bool) -> int | None:
    """Where the next marker's FF is (after any fill bytes); None at the end of a lenient walk."""
    if not strict:
        found = _MARKER.search(data, at)
        return None if found is None else found.start()
    if at >= len(data):
        raise CodestreamError(f"the JPEG codestream ends at byte {len(data)} before its end-of-image marker "
                              "(truncated)", at, at_end=True)
    if data[at] != 0xFF:
        raise CodestreamError(f"byte {at} of the JPEG codestream is not a marker (FF)", at)
    fill_end = _NOT_FILL.search(data, at)
    if fill_end is None:
        raise CodestreamError(f"the JPEG codestream ends at byte {len(data)} before its end-of-image marker "
                              "(truncated)", len(data), at_end=True)
    if data[fill_end.start()] == 0x00:
        raise CodestreamError(f"byte {fill_end.start() - 1} of the JPEG codestream holds FF00, which is no marker",
                              fill_end.start() - 1)
    return fill_end.start() - 1


def _scan_end(data: bytes, at: int, ls: bool, strict: bool) -> int:
    """Where the entropy-coded data starting at ``at`` ends: the FF of the first marker that is no restart."""
    found = (_SCAN_END_LS if ls else _SCAN_END).search(data, at)
    if found is not None:
        return found.start()
    if strict:
        raise CodestreamError(f"the JPEG scan data from byte {at} runs to the end of the codestream without an "
                              "end-of-image marker (truncated)", len(data), at_end=True)
    return len(data)


def jpeg_segments(data: bytes, *, strict: bool = True, scans: bool = True,
                  limit: int = MAX_SEGMENTS) -> Iterator[Segment]:
    """Every marker segment of a JPEG or JPEG-LS codestream, SOI first, in file order; raises CodestreamError.

    A scan header's (SOS) ``end`` lies after the entropy-coded data that follows it, so ``data[s.offset:s.end]``
    over the segments is the stream without its fill bytes. ``strict`` (a file to copy): every segment must start
    where the last ended (fill bytes aside) and the stream must end with EOI. Not ``strict`` (a frame to decode):
    bytes that are no marker are skipped and the walk may end without EOI, as libjpeg reads. ``scans=False``: the
    walk ends at the first SOS (yielded, with ``end`` after its header), for readers of the header segments only,
    which may hold the start of a file alone. A second SOI or more than ``limit`` segments is an error.
    """
    if data[:2] != b"\xff\xd8":
        raise CodestreamError("the JPEG codestream does not start with a start-of-image marker (FFD8)", 0)
    view = memoryview(data)
    yield Segment(JPEG_SOI, 0, 0, view[2:2], 2)
    at, count, ls = 2, 1, False
    while True:
        offset = _marker_at(data, at, strict)
        if offset is None:
            return
        marker = data[offset + 1]
        count += 1
        if count > limit:
            raise CodestreamError(f"the JPEG codestream holds more than {limit} marker segments", offset)
        if marker in JPEG_STANDALONE or marker == JPEG_EOI:
            yield Segment(marker, offset, 0, view[offset + 2:offset + 2], offset + 2)
            if marker == JPEG_EOI:
                return
            at = offset + 2
            continue
        if marker == JPEG_SOI:
            raise CodestreamError(f"byte {offset} of the JPEG codestream holds a second start-of-image marker", offset)
        length = _segment_length(data, view, "JPEG", marker, offset)
        end = offset + 2 + length
        if marker in JPEG_FRAMES:
            ls = marker in JPEG_LS_FRAMES
        if marker == JPEG_SOS and not scans:
            yield Segment(marker, offset, length, view[offset + 4:end], end)
            return
        resume = _scan_end(data, end, ls, strict) if marker == JPEG_SOS else end
        yield Segment(marker, offset, length, view[offset + 4:end], resume)
        at = resume


def last_eoi_end(tail: bytes) -> int | None:
    """Where the last end-of-image marker (FF D9) in ``tail``, the end of a JPEG file, ends; None without one.
    For reading what follows the image without walking its scans: FF D9 cannot occur inside entropy-coded data."""
    found = tail.rfind(b"\xff\xd9")
    return None if found < 0 else found + 2


def jp2_codestream_start(data: bytes, limit: int = MAX_SEGMENTS) -> int:
    """Where the JPEG 2000 codestream in ``data`` starts: 0 for a bare codestream, after the header of the
    contiguous codestream box (jp2c) for a JP2 file (ISO 15444-1 I.4). Raises CodestreamError."""
    if data[:8] != JP2_SIGNATURE[:8]:
        return 0
    at = 12
    for _ in range(limit):
        if at + 8 > len(data):
            break
        length, kind = int.from_bytes(data[at:at + 4], "big"), data[at + 4:at + 8]
        header = 8
        if length == 1 and at + 16 <= len(data):
            length, header = int.from_bytes(data[at + 8:at + 16], "big"), 16
        if kind == b"jp2c":
            return at + header
        if length < header:
            break
        at += length
    raise CodestreamError("the JP2 file holds no codestream box (jp2c)", at, at_end=at + 8 > len(data))


def j2k_segments(data: bytes, start: int = 0, limit: int = MAX_SEGMENTS) -> Iterator[Segment]:
    """The main header of the JPEG 2000 codestream at ``start``: SOC, SIZ and the marker segments up to and with
    the first tile-part's SOT (or EOC); raises CodestreamError."""
    if data[start:start + 2] != b"\xff\x4f":
        raise CodestreamError("the JPEG 2000 codestream does not start with an SOC marker (FF4F)", start)
    view = memoryview(data)
    size = len(data)
    yield Segment(J2K_SOC, start, 0, view[start + 2:start + 2], start + 2)
    at = start + 2
    for _ in range(limit):
        if at + 2 > size:
            raise CodestreamError(f"the JPEG 2000 codestream ends at byte {size} inside its main header (truncated)",
                                  at, at_end=True)
        if data[at] != 0xFF:
            raise CodestreamError(f"byte {at} of the JPEG 2000 main header is not a marker (FF)", at)
        marker = data[at + 1]
        if marker == J2K_EOC:
            yield Segment(marker, at, 0, view[at + 2:at + 2], at + 2)
            return
        length = _segment_length(data, view, "JPEG 2000", marker, at)
        end = at + 2 + length
        yield Segment(marker, at, length, view[at + 4:end], end)
        if marker == J2K_SOT:
            return
        at = end
    raise CodestreamError(f"the JPEG 2000 main header holds more than {limit} marker segments", at)


def rle_segments(data: bytes) -> tuple[Segment, ...]:
    """The segments an RLE frame's 64-byte header lists (PS3.5 G.5), each from its offset to the next one's (the
    last to the end of the frame); raises CodestreamError."""
    size = len(data)
    if size < RLE_HEADER_BYTES:
        raise CodestreamError(f"the RLE frame is {size} bytes, shorter than its {RLE_HEADER_BYTES}-byte header", 0,
                              at_end=True)
    count = int.from_bytes(data[:4], "little")
    if not 1 <= count <= RLE_MAX_SEGMENTS:
        raise CodestreamError(f"the RLE header gives {count} segments (1 to {RLE_MAX_SEGMENTS} allowed)", 0)
    starts = [int.from_bytes(data[4 * i:4 * i + 4], "little") for i in range(1, count + 1)]
    ends = [*starts[1:], size]
    view = memoryview(data)
    segments = []
    for number, (start, end) in enumerate(zip(starts, ends, strict=True), start=1):
        if not RLE_HEADER_BYTES <= start <= end <= size:
            raise CodestreamError(f"RLE segment {number} lies at bytes {start}..{end} of a {size}-byte frame (the "
                                  f"offsets must increase after the {RLE_HEADER_BYTES}-byte header)", 4 * number)
        segments.append(Segment(number, start, end - start, view[start:end], end))
    return tuple(segments)


# --- PNG: chunks, not a codestream, but walked here for the same reason (one reading for stripper and audit) -----

PNG_IHDR = b"IHDR"
PNG_IEND = b"IEND"
PNG_MAX_LENGTH = 0x7FFFFFFF   # PNG 5.3: a chunk's length is at most 2^31 - 1
_PNG_HEAD = struct.Struct(">I4s")


class PngChunk(NamedTuple):
    """One chunk of a PNG file: its type, where its length field is, its data's length, where the next starts."""

    kind: bytes     # b"IHDR", b"tEXt", ...
    offset: int
    length: int
    end: int        # after its CRC

    @property
    def data_offset(self) -> int:
        return self.offset + 8


def png_bit_depth(head: bytes) -> int | None:
    """The bit depth IHDR gives, from the first 25 bytes of a PNG file; None when they do not start one."""
    if head.startswith(PNG_SIGNATURE) and len(head) >= 25 and head[12:16] == PNG_IHDR:
        return head[24]
    return None


def _reader(source: bytes | BinaryIO) -> Callable[[int, int], bytes]:
    """read(offset, count) -> at most ``count`` bytes of ``source`` from ``offset`` (bytes: sliced; a file: by seeking,
    so the caller may move it between reads)."""
    if isinstance(source, bytes):
        return lambda offset, count: source[offset:offset + count]

    def read(offset: int, count: int) -> bytes:
        source.seek(offset)
        return source.read(count)

    return read


def png_chunks(source: bytes | BinaryIO, size: int, *, strict: bool = True) -> Iterator[PngChunk]:
    """The chunks of a PNG file, ``size`` bytes in memory or open in a file, up to and with IEND. A file is read by
    seeking: a reader takes only the data it wants and may move the file between chunks. Every step moves forward
    by at least 12 bytes, so a walk is linear in the file's size.

    ``strict`` (the metadata stripper): a type that is not four ASCII letters, a chunk that runs past the end, a
    failed CRC or a file without IEND raise CodestreamError. Otherwise (the privacy audit) the walk stops quietly
    where the file ends, after yielding a last chunk that may run past it. A missing signature always raises.
    """
    read = _reader(source)
    if read(0, len(PNG_SIGNATURE)) != PNG_SIGNATURE:
        raise CodestreamError("no PNG signature", 0)
    position = len(PNG_SIGNATURE)
    while True:
        head = read(position, 8) if position + 12 <= size else b""
        if len(head) < 8:
            if strict:
                raise CodestreamError(f"the file ends at byte {size} before its IEND chunk (truncated)", position,
                                      at_end=True)
            return
        length, kind = _PNG_HEAD.unpack(head)
        end = position + 12 + length
        if strict:   # inline, not a call: a hostile file may hold millions of empty chunks
            if not kind.isalpha() or not kind.isascii():
                raise CodestreamError(f"byte {position} does not start a PNG chunk (type {kind!r})", position)
            if length > PNG_MAX_LENGTH or end > size:
                raise CodestreamError(f"chunk {kind.decode()} at byte {position} runs past the end of the file "
                                      f"({length} bytes announced; truncated)", position, at_end=True)
            rest = read(position + 8, length + 4)   # its data and its CRC, which covers type and data
            if zlib.crc32(rest[:length], zlib.crc32(kind)) != int.from_bytes(rest[length:], "big"):
                raise CodestreamError(f"chunk {kind.decode()} at byte {position} fails its CRC (damaged)", position)
        yield PngChunk(kind, position, length, end)
        if kind == PNG_IEND or end > size:
            return
        position = end
