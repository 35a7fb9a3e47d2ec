"""The header of a DICOM file parsed from its first bytes (:func:`read_head`), and the audit's text of a raw DICOM
value straight from its bytes, where that is exactly what pydicom's converter for
the value's VR followed by the audit's text rule (``curator.io.dicom_audit._text``) would give; None where pydicom would
take any other road (an escape sequence, bytes outside ASCII in a character set other than Latin-1), so the caller
converts that value with pydicom. Reading only.

Issue 15's profile of ``validate --profile dicom``: converting each text element through pydicom's element objects,
hooks and value validation cost more than parsing the file.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Sequence
from functools import cache
from types import ModuleType
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["HEAD_CHUNK", "RAW_STRING_VRS", "RAW_TEXT_VRS", "RAW_VALUE_VRS", "clean", "raw_string", "raw_text",
           "read_head"]

# explicit VRs whose raw bytes :func:`raw_text` turns into the audit's text the way pydicom's converter for the VR
# and the audit's text rule would: split into values at backslashes (LO, SH, UC, AE) or not (LT, ST, UT, UR)
RAW_TEXT_VRS = frozenset({"LO", "SH", "UC", "LT", "ST", "UT", "AE", "UR"})
# explicit VRs pydicom decodes in its default repertoire whatever the character set, splits at backslashes and strips
# "\0 " at the right of the whole value (convert_string, convert_UI; dates and times while
# pydicom.config.datetime_conversion is off, its default): :func:`raw_string`
RAW_STRING_VRS = frozenset({"AS", "CS", "DA", "DT", "TM", "UI"})
# explicit VRs converted by pydicom's value converter directly, without the element object around it
RAW_VALUE_VRS = frozenset({"AT", "DS", "FD", "FL", "IS", "OB", "OD", "OF", "OL", "OV", "OW",
                           "PN", "SL", "SS", "SV", "UL", "US", "UV"})
_LATIN1 = frozenset({"iso8859-1", "latin-1"})   # every byte decodes, so pydicom never takes another road
_ESC = 0x1B


def raw_text(vr: str, data: bytes, encodings: str | Sequence[str]) -> str | None:
    """The audit's text of a raw text value, or None when pydicom's decoding would be anything but a plain decode
    (an escape sequence, bytes outside ASCII in a character set other than Latin-1): that value takes pydicom's
    road."""
    if _ESC in data:
        return None
    if not data.isascii():
        from pydicom.charset import default_encoding

        first = encodings if isinstance(encodings, str) else (encodings[0] if encodings else default_encoding)
        if vr in ("AE", "UR") or _codec(first) not in _LATIN1:   # AE and UR are decoded as the default repertoire
            return None
    decoded = data.decode("latin-1")
    if vr in ("LO", "SH", "UC"):   # convert_text: each value without "\\0 " at its right
        return "\\".join(clean(part.rstrip("\0 ")) for part in decoded.split("\\"))
    if vr == "AE":                 # convert_AE_string: each value without spaces at either end
        return "\\".join(clean(part.strip()) for part in decoded.split("\\"))
    if vr == "UR":                 # convert_UR_string: one value without spaces at its right
        return clean(decoded.rstrip())
    return clean(decoded.rstrip("\0 "))   # LT, ST, UT (convert_single_string): one value


def raw_string(data: bytes) -> str | None:
    """The audit's text of a raw value of one of RAW_STRING_VRS; None while pydicom converts dates and times to
    objects (``pydicom.config.datetime_conversion``)."""
    if _config().datetime_conversion:
        return None
    return "\\".join(clean(part) for part in data.decode("latin-1").rstrip("\0 ").split("\\"))


@cache
def _config() -> ModuleType:
    """pydicom's configuration module, imported when a value is first read (not when curator is)."""
    from pydicom import config

    return config


def clean(text: str) -> str:
    """What ``curator.io.dicom_audit._text`` makes of one converted value."""
    return text.strip().strip("\x00").strip()


_CODECS: dict[str, str] = {}


def _codec(name: str) -> str:
    known = _CODECS.get(name)
    if known is None:
        try:
            known = codecs.lookup(name).name
        except LookupError:
            known = ""
        _CODECS[name] = known
    return known


PIXEL_DATA_TAG = b"\xe0\x7f\x10\x00"   # (7FE0,0010) little endian
HEAD_CHUNK = 64 << 10   # bytes read at once for the header: most files' elements before the pixel data fit


def read_head(handle: IO[bytes], head: bytes) -> Dataset:
    """``dcmread(handle, stop_before_pixels=True)``, the handle left at the pixel data element as pydicom leaves it.
    Parsed from ``head`` (the file's first HEAD_CHUNK bytes, already read) when the elements end inside it: at a
    little-endian (7FE0,0010) or at the end of a file shorter than the chunk. Otherwise (a longer header, another
    stop) the file is parsed again from its start. pydicom asks a file for its position at every element, a system
    call each; a buffer answers from memory (issue 15's profile: 6% of the fast tier's worker time)."""
    from pydicom import dcmread

    buffer = io.BytesIO(head)
    try:
        ds = dcmread(buffer, stop_before_pixels=True, force=False)
    except Exception:
        ds = None
    position = buffer.tell()
    if ds is not None and (len(head) < HEAD_CHUNK or head[position:position + 4] == PIXEL_DATA_TAG):
        handle.seek(position)
        return ds
    handle.seek(0)
    return dcmread(handle, stop_before_pixels=True, force=False)
