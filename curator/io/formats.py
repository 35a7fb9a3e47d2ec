"""Magic bytes of the file formats curator reads and writes: one definition each."""

from __future__ import annotations

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GZIP_MAGIC = b"\x1f\x8b"
JPEG_SIGNATURE = b"\xff\xd8\xff"   # SOI and the FF of the next marker: how a JPEG file starts (walk it: io/codestreams)
