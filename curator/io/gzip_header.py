"""The one reader of gzip member headers (RFC 1952), used by validate, build and anonymise.

A member header is 10 fixed bytes, then optional fields: FEXTRA (a 2-byte length and up to 65,535 bytes), FNAME
and FCOMMENT (zero-terminated, of any length), FHCRC (2 bytes). The variable fields are read to their real end,
however far that is, up to a stated bound: ``MAX_FIELD`` bytes for FNAME and for FCOMMENT each (FEXTRA is bounded
by its own 16-bit length). A field longer than that is reported (``overlong``) instead of being read on; the
start of the compressed data is then unknown. No judgement here: the privacy check and the builder decide what a
name, a comment or an overlong field means.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import IO

from curator.io.formats import GZIP_MAGIC as GZIP_MAGIC

__all__ = ["GZIP_MAGIC", "MAX_FIELD", "MAX_HEADER", "GzipFieldTooLongError", "GzipHeader", "GzipHeaderError",
           "parse_gzip_header", "read_gzip_header_from"]

MAX_FIELD = 1 << 20     # bytes of FNAME, and of FCOMMENT, read before the field is called overlong
MAX_TEXT = 4096         # characters kept of a name or comment
FTEXT, FHCRC, FEXTRA, FNAME, FCOMMENT = 1, 2, 4, 8, 16
MAX_HEADER = 10 + 2 + 0xFFFF + 2 * (MAX_FIELD + 1) + 2   # the most a bounded header can take
_FIRST_READ = 64 << 10


class GzipHeaderError(ValueError):
    """Not a deflate gzip member header (wrong magic or method, or the data ends inside the header)."""


class GzipFieldTooLongError(GzipHeaderError):
    """A gzip member whose FNAME or FCOMMENT is longer than MAX_FIELD: gzip, but not to be copied as it is."""


@dataclass(frozen=True)
class GzipHeader:
    name: str | None            # FNAME, the name of the file that was compressed (MAX_TEXT characters kept)
    comment: str | None         # FCOMMENT
    mtime: int                  # MTIME, seconds since 1970 (0: not stored)
    flags: int = 0              # FLG as stored
    extra: int = 0              # bytes of FEXTRA data (0: none)
    size: int = 0               # bytes of the whole member header: where the compressed data starts (0: unknown)
    overlong: tuple[str, ...] = ()   # "FNAME"/"FCOMMENT" longer than MAX_FIELD: not read to their end

    @property
    def bare(self) -> bool:
        """Nothing but the 10 fixed bytes, MTIME 0: what ``gzip -n`` and curator's writers produce."""
        return self.flags & (FHCRC | FEXTRA | FNAME | FCOMMENT) == 0 and self.mtime == 0


def _text(raw: bytes) -> str:
    # ISO 8859-1 by RFC 1952; UTF-8 from today's tools
    try:
        return raw[: MAX_TEXT * 4].decode("utf-8", errors="strict")[:MAX_TEXT]
    except UnicodeDecodeError:
        return raw[:MAX_TEXT].decode("latin-1")


def parse_gzip_header(data: bytes, *, at_end: bool = False) -> GzipHeader | None:
    """The member header at the start of ``data``; None when ``data`` stops inside it (read more and call again).

    ``at_end``: ``data`` is all there is, so a header cut short raises GzipHeaderError instead of returning None.
    Raises GzipHeaderError when ``data`` does not start a deflate gzip member. A name or comment longer than
    MAX_FIELD gives a header with ``overlong`` set and ``size`` 0, without looking further.
    """
    def short() -> GzipHeader | None:
        if at_end:
            raise GzipHeaderError(f"the data ends inside the gzip header ({len(data)} bytes)")
        return None

    if len(data) < 10:
        if data[: min(2, len(data))] != GZIP_MAGIC[: min(2, len(data))]:
            raise GzipHeaderError("not a gzip stream (no 1f 8b magic)")
        return short()
    if data[:2] != GZIP_MAGIC:
        raise GzipHeaderError("not a gzip stream (no 1f 8b magic)")
    if data[2] != 8:
        raise GzipHeaderError(f"gzip compression method {data[2]} is not deflate (8)")
    flags = data[3]
    (mtime,) = struct.unpack("<I", data[4:8])
    offset, extra = 10, 0
    if flags & FEXTRA:
        if len(data) < 12:
            return short()
        (extra,) = struct.unpack("<H", data[10:12])
        offset += 2 + extra
    texts: list[str | None] = []
    for flag, label in ((FNAME, "FNAME"), (FCOMMENT, "FCOMMENT")):
        if not flags & flag:
            texts.append(None)
            continue
        if offset > len(data):
            return short()
        end = data.find(b"\x00", offset, offset + MAX_FIELD + 1)
        if end < 0:
            if len(data) >= offset + MAX_FIELD + 1:
                known = _text(data[offset : offset + MAX_FIELD])
                return GzipHeader(known if flag == FNAME else (texts[0] if texts else None),
                                  known if flag == FCOMMENT else None, mtime, flags, extra, 0, (label,))
            return short()
        texts.append(_text(data[offset:end]))
        offset = end + 1
    if flags & FHCRC:
        offset += 2
    if offset > len(data):
        return short()
    return GzipHeader(texts[0], texts[1], mtime, flags, extra, offset)


def read_gzip_header_from(handle: IO[bytes]) -> GzipHeader:
    """The header of the gzip member at the current position of ``handle``, read to its real end (at most
    MAX_HEADER bytes); the handle is left just after the bytes read. Raises GzipHeaderError (not gzip, or
    the file ends inside the header) and OSError."""
    data = handle.read(_FIRST_READ)
    header = parse_gzip_header(data, at_end=not data)
    while header is None:   # a read may return less than asked before the end (an object read by ranges)
        more = handle.read(MAX_HEADER - len(data))
        data += more
        header = parse_gzip_header(data, at_end=not more or len(data) >= MAX_HEADER)
    return header
