"""Copy imaging files into a release: gzip streams normalised, payloads untouched."""

from __future__ import annotations

import gzip
import shutil
import struct
from pathlib import Path

from curator.io.nifti import GZIP_MAGIC

_FTEXT, _FHCRC, _FEXTRA, _FNAME, _FCOMMENT = 1, 2, 4, 8, 16


class GzipHeaderError(ValueError):
    pass


def gzip_payload_offset(head: bytes) -> int:
    """Length of the gzip member header at the start of ``head`` (raises on a malformed header)."""
    if len(head) < 10 or head[:2] != GZIP_MAGIC or head[2] != 8:
        raise GzipHeaderError("not a deflate gzip stream")
    flags = head[3]
    offset = 10
    if flags & _FEXTRA:
        (xlen,) = struct.unpack("<H", head[offset : offset + 2])
        offset += 2 + xlen
    for flag in (_FNAME, _FCOMMENT):
        if flags & flag:
            end = head.find(b"\x00", offset)
            if end < 0:
                raise GzipHeaderError("unterminated name or comment in the gzip header")
            offset = end + 1
    if flags & _FHCRC:
        offset += 2
    if offset > len(head):
        raise GzipHeaderError("gzip header longer than the file")
    return offset


def copy_gzip_anonymous(source: Path, target: Path) -> None:
    """Copy a gzip file with a bare header: no file name, comment or extra field, mtime 0.

    The compressed payload and the CRC/size trailer are copied byte for byte, so the decompressed data is
    identical; only what the header said about the source (its original name, its time) is dropped.
    """
    with source.open("rb") as src:
        head = src.read(64 * 1024)
        offset = gzip_payload_offset(head)
        xfl, os_byte = head[8], head[9]
        with target.open("wb") as dst:
            dst.write(GZIP_MAGIC + bytes([8, 0]) + b"\x00\x00\x00\x00" + bytes([xfl, os_byte]))
            dst.write(head[offset:])
            shutil.copyfileobj(src, dst, 1 << 20)


def gzip_deterministic(source: Path, target: Path) -> None:
    """Compress an uncompressed file like ``gzip -n``: no name, mtime 0."""
    with source.open("rb") as src, target.open("wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


def place_nifti(source: Path, target: Path) -> None:
    """Put a ``.nii`` or ``.nii.gz`` source at ``target`` (always ``.nii.gz``)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as handle:
        compressed = handle.read(2) == GZIP_MAGIC
    if compressed:
        copy_gzip_anonymous(source, target)
    else:
        gzip_deterministic(source, target)
