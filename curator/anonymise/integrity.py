"""What an anonymised copy must not lose: the checks ``anonymise_file`` runs on the file it read and on the copy
it wrote. A copy never loses data silently; a file that fails these fails (and is not left in OUT).

- ``short_elements``: elements whose declared length runs past the end of the file. pydicom reads such a value
  short without complaint, and everything after it (the pixel data among it) becomes part of that value: an OB
  element of length 0xFFFFFFF0 before (7FE0,0010) turned a 3114-byte file into a 1276-byte copy without pixels.
- ``pixel_payload`` / ``payload_lost``: the bytes of PixelData, FloatPixelData and DoubleFloatPixelData, compared
  between the file read and the copy read back from disk.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

__all__ = ["PIXEL_KEYWORDS", "payload_lost", "pixel_payload", "short_elements"]

PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
UNDEFINED_LENGTH = 0xFFFFFFFF


def short_elements(ds: Dataset) -> list[str]:
    """The top-level elements of a freshly read ``ds`` whose value is shorter than their declared length, as
    "(GGGG,EEEE) declares N bytes, the file holds M" (empty for a sound file). Call before any value is used."""
    found = []
    for tag, raw in ds._dict.items():  # raw elements: read but not yet converted
        if isinstance(raw, RawDataElement) and raw.length != UNDEFINED_LENGTH and raw.value is not None \
                and len(raw.value) < raw.length:
            found.append(f"{tag} declares {raw.length:,} bytes, the file holds {len(raw.value):,}")
    return found


def pixel_payload(ds: Dataset) -> dict[str, bytes]:
    """The pixel data elements of ``ds`` and their bytes as stored (encapsulated data with its fragments)."""
    return {keyword: bytes(ds[keyword].value or b"") for keyword in PIXEL_KEYWORDS if keyword in ds}


def payload_lost(target: Path, expected: dict[str, bytes]) -> str | None:
    """Why the copy at ``target`` does not hold ``expected`` byte for byte, read back from disk; None when it does."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            written = pixel_payload(dcmread(target))
        except Exception as error:
            return f"the copy cannot be read back: {' '.join(str(error).split()) or type(error).__name__}"
    for keyword, data in expected.items():
        if keyword not in written:
            return f"the copy lost {keyword} ({len(data):,} bytes)"
        if written[keyword] != data:
            return (f"the copy's {keyword} differs from the original's ({len(written[keyword]):,} bytes written, "
                    f"{len(data):,} read)")
    extra = sorted(set(written) - set(expected))
    return f"the copy has {', '.join(extra)} that the original has not" if extra else None
