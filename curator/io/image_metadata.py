"""The one PNG/JPEG metadata table: which chunks and segments carry metadata a released slice must not keep.

The privacy audit (``curator.io.privacy_files``) flags exactly these and ingest-slices' stripper
(``curator.ingest.slices``) strips exactly these, so what is stripped is what is flagged (tests/test_policy_tables.py
holds the two to each other). Technical segments stay: JFIF (APP0), the ICC profile (APP2 ``ICC_PROFILE``), the
Adobe colour transform (APP14), tables and scan data.
"""

from __future__ import annotations

PNG_METADATA_CHUNKS: tuple[bytes, ...] = (b"tEXt", b"zTXt", b"iTXt", b"tIME", b"eXIf")

# JPEG markers of segments that may carry metadata; jpeg_metadata_segment decides by their payload
JPEG_COM = 0xFE
JPEG_APP_MARKERS = tuple(range(0xE0, 0xF0))


def jpeg_metadata_segment(marker: int, payload: bytes) -> str | None:
    """The name of a metadata segment ("COM", "APP1 Exif", "APP2", ...); None for one that is kept.

    ``payload`` is the segment after its length field (its first bytes are enough).
    """
    if marker == JPEG_COM:
        return "COM"
    if marker == 0xE1:
        if payload.startswith(b"Exif\x00"):
            return "APP1 Exif"
        if payload.startswith(b"http://ns.adobe.com/"):
            return "APP1 XMP"
        return "APP1"
    if marker == 0xE2:
        return None if payload.startswith(b"ICC_PROFILE\x00") else "APP2"
    if marker == 0xED:
        return "APP13 IPTC" if payload.startswith(b"Photoshop 3.0\x00") else "APP13"
    if 0xE3 <= marker <= 0xEF and marker != 0xEE:   # APP3..APP15 except APP14 (Adobe colour transform)
        return f"APP{marker - 0xE0}"
    return None
