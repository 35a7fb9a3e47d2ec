"""Gzip files written without what their header says about their source (name, comment, time): the fix for
PHI_GZIP_HEADER, used by anonymise and by build when it copies volumes."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

from curator.io.gzip_header import GZIP_MAGIC, MAX_FIELD, GzipFieldTooLongError, GzipHeaderError, read_gzip_header_from

__all__ = ["GzipHeaderError", "copy_gzip_anonymous", "gzip_deterministic", "place_nifti"]


def copy_gzip_anonymous(source: Path, target: Path) -> None:
    """Copy a gzip file with a bare header: no file name, comment or extra field, mtime 0.

    The compressed payload and the CRC/size trailer are copied byte for byte, so the decompressed data is
    identical; only what the header said about the source (its original name, its time) is dropped. The header
    is read to its real end (``curator.io.gzip_header``); a name or comment beyond its bound raises
    GzipFieldTooLongError (a GzipHeaderError).
    """
    with source.open("rb") as src:
        header = read_gzip_header_from(src)
        if header.overlong:
            raise GzipFieldTooLongError(f"{source.name}: the gzip header's {' and '.join(header.overlong)} is "
                                        f"longer than {MAX_FIELD:,} bytes; compress the file again without it "
                                        "(gzip -n)")
        src.seek(0)
        fixed = src.read(10)
        src.seek(header.size)
        with target.open("wb") as dst:
            dst.write(GZIP_MAGIC + bytes([8, 0]) + b"\x00\x00\x00\x00" + bytes([fixed[8], fixed[9]]))
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
