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
import os
from collections.abc import Callable, Iterator, MutableSequence, Sequence
from contextlib import contextmanager
from functools import cache
from types import ModuleType
from typing import IO, TYPE_CHECKING, Literal

from curator.io import dicom_elements
from curator.memo import MAX_REMEMBERED, BoundedMemo

if TYPE_CHECKING:
    from pydicom.dataelem import DataElement, RawDataElement
    from pydicom.dataset import Dataset
    from pydicom.tag import BaseTag

__all__ = ["HEAD_CHUNK", "RAW_STRING_VRS", "RAW_TEXT_VRS", "RAW_VALUE_VRS", "HeaderValues", "clean", "load_pydicom",
           "own_reading", "pydicom_elements", "pydicom_only", "raw_string", "raw_text", "read_head", "read_tail",
           "skip_pixel_data", "unvalidated"]

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
    call each; a buffer answers from memory (issue 15's profile: 6% of the fast tier's worker time).
    The common case (the meta group and a little-endian data set up to the pixel data, all in ``head``) is read by
    ``curator.io.dicom_elements`` into the same objects without pydicom's parser; anything else by pydicom."""
    if _OWN_READER[0]:
        own = dicom_elements.read(head, len(head) < HEAD_CHUNK)   # our reader of the common case, else pydicom's
        if own is not None:
            handle.seek(own[1])
            return own[0]
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


_OWN_READER = [True]   # False inside :func:`pydicom_only`


def own_reading() -> bool:
    """Whether the fast tier reads with its own reader and remembers outcomes (not inside :func:`pydicom_only`)."""
    return _OWN_READER[0]


@contextmanager
def pydicom_only() -> Iterator[None]:
    """The fast tier's reading as it was before its own reader, while inside: :func:`read_head` by pydicom alone,
    every value converted afresh (``dicom_audit._walk`` remembers no outcome): the reference the own reading is
    compared with."""
    before = _OWN_READER[0]
    _OWN_READER[0] = False
    try:
        yield
    finally:
        _OWN_READER[0] = before


MAX_TAIL = 16 << 20       # bytes after the pixel data read for trailing elements
MAX_FRAGMENTS = 1 << 20   # encapsulated pixel data items skipped before giving up
PIXEL_DATA = 0x7FE00010
ITEM, SEQUENCE_END = 0xFFFEE000, 0xFFFEE0DD


def skip_pixel_data(handle: IO[bytes], syntax: str) -> str:
    """Move past the (7FE0,0010) element at the handle; "" when done, else why not."""
    start = handle.tell()
    little = syntax != "1.2.840.10008.1.2.2"
    order: Literal["little", "big"] = "little" if little else "big"
    head = handle.read(8)
    if len(head) < 8:
        return ""  # the file ends at the pixel data element: nothing after it
    if int.from_bytes(head[0:2], order) << 16 | int.from_bytes(head[2:4], order) != PIXEL_DATA:
        handle.seek(start)
        return ""
    if syntax == "1.2.840.10008.1.2":  # implicit VR: tag, length
        length = int.from_bytes(head[4:8], "little")
    else:  # explicit VR: tag, VR, 2 reserved bytes, 4-byte length (OB/OW)
        more = handle.read(4)
        if len(more) < 4:
            return "the pixel data element is cut short"
        length = int.from_bytes(more, order)
    if length != 0xFFFFFFFF:
        handle.seek(length, os.SEEK_CUR)
        return ""
    for _ in range(MAX_FRAGMENTS):  # encapsulated: items up to the sequence delimiter
        item = handle.read(8)
        if len(item) < 8:
            return "the encapsulated pixel data has no sequence delimiter"
        tag = int.from_bytes(item[0:2], order) << 16 | int.from_bytes(item[2:4], order)
        size = int.from_bytes(item[4:8], order)
        if tag == SEQUENCE_END:
            return ""
        if tag != ITEM:
            return f"unexpected tag ({tag >> 16:04X},{tag & 0xFFFF:04X}) inside the encapsulated pixel data"
        handle.seek(size, os.SEEK_CUR)
    return "too many pixel data fragments to skip"


def read_tail(handle: IO[bytes], ds: Dataset, syntax: str, notes: list[str]) -> Dataset | None:
    """The elements stored after the pixel data, when there are any."""
    why = skip_pixel_data(handle, syntax)
    if why:
        notes.append(f"elements after the pixel data were not read: {why}")
        return None
    position = handle.tell()   # the size by seeking, not fstat: an object in a store (read by ranges) has no descriptor
    rest = handle.seek(0, io.SEEK_END) - handle.seek(position)
    if rest <= 0:
        return None
    if rest > MAX_TAIL:
        notes.append(f"elements after the pixel data were not read: {rest} bytes follow it")
        return None
    data = handle.read(rest)
    from pydicom.filereader import read_dataset

    try:
        tail = read_dataset(io.BytesIO(data), syntax == "1.2.840.10008.1.2", syntax != "1.2.840.10008.1.2.2",
                            parent_encoding=ds._character_set)
    except Exception as error:
        notes.append(f"elements after the pixel data cannot be parsed: {' '.join(str(error).split())}")
        return None
    return tail


@contextmanager
def unvalidated() -> Iterator[None]:
    """pydicom's value validation on reading off (``settings.reading_validation_mode = IGNORE``) while a batch is
    read, then as it was. Its default (WARN) only warns, and the warnings are ignored here: the values are the same,
    without a regular expression per value (issue 15's profile: ~5% of the fast tier's worker time)."""
    from pydicom import config

    before = config.settings._reading_validation_mode   # None: pydicom's default, whatever it is then
    config.settings.reading_validation_mode = config.IGNORE
    try:
        yield
    finally:
        config.settings._reading_validation_mode = before


# VRs whose raw explicit values :class:`HeaderValues` converts straight through pydicom's converter
_DIRECT_VRS = frozenset({"AE", "CS", "DS", "IS", "LO", "SH", "UI", "UL", "US"})
_HEADER_TAGS: dict[str, BaseTag] = {}


def _tag(keyword: str) -> BaseTag | None:
    """The tag of a dictionary keyword (remembered), None for any other name."""
    tag = _HEADER_TAGS.get(keyword)
    if tag is None:
        from pydicom.datadict import tag_for_keyword
        from pydicom.tag import BaseTag

        number = tag_for_keyword(keyword)
        if number is None:
            return None
        tag = _HEADER_TAGS[keyword] = BaseTag(number)
    return tag


def load_pydicom(*loaders: Callable[[], object]) -> None:
    """Import the parts of pydicom the reader uses, and run ``loaders`` (tables the readers or their judges use), in
    this process: called before worker processes are forked, they inherit them instead of each importing pydicom
    again (~0.45 s of CPU a worker; issue 15). Only where DICOM files are read: a release without them never loads
    pydicom."""
    pydicom_elements()
    from pydicom import filereader  # noqa: F401  (read_head's fallback and read_tail)

    for load in loaders:
        load()


@cache
def pydicom_elements() -> tuple[type[RawDataElement], Callable[..., DataElement], type[DataElement],
                                Callable[..., object]]:
    """pydicom's RawDataElement, convert_raw_data_element, DataElement and convert_value, imported once per process:
    ``pydicom.dataelem`` has a module ``__getattr__``, so an import from it inside a function raises and catches an
    AttributeError (for ``__path__``) at every call, tens of microseconds (issue 15's profile of the audit walk)."""
    from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
    from pydicom.values import convert_value

    return RawDataElement, convert_raw_data_element, DataElement, convert_value


_UNKNOWN = object()
MAX_CONVERTED = 1 << 14   # values remembered per process (then forgotten at once)
# (VR, raw bytes of at most MAX_REMEMBERED, little endian, character sets) -> value
_CONVERTED: BoundedMemo[tuple[object, ...], object] = BoundedMemo(MAX_CONVERTED)


def charset_key(encoding: str | Sequence[str]) -> object:
    """A data set's character set(s) (as pydicom gives them: a str or a list) as a memo's key part."""
    return encoding if isinstance(encoding, str) else ("", *encoding)


class HeaderValues:
    """``ds`` as :func:`_header` reads it (``get``, ``in``, ``file_meta``), each raw explicit element of a plain VR
    converted straight by pydicom's value converter (``convert_value``, what ``ds.get(keyword)`` runs for it, with
    the same character sets) and not stored back: issue 15's profile of the fast tier had ``ds.get`` (element
    objects, hooks, the store) cost more than parsing the file. Anything else (an empty, deferred, sequence or
    implicit element, another VR, a value the converter refuses) is ``ds.get`` itself. A short value's conversion
    is remembered per process (values are only read here, never changed: the header keeps its own copies)."""

    def __init__(self, ds: Dataset) -> None:
        self._raw_type, _, _, self._convert = pydicom_elements()
        self._ds = ds
        self._encoding: str | MutableSequence[str] | None = None
        self._key: object = None
        # converted values remembered per process (a series repeats most of them), not on the reference path
        self._memo = _CONVERTED if own_reading() else None
        self.file_meta = getattr(ds, "file_meta", None)

    def __contains__(self, name: str) -> bool:
        tag = _tag(name)
        return name in self._ds if tag is None else tag in self._ds._dict

    def get(self, key: str, default: object = None) -> object:
        ds = self._ds
        tag = _tag(key)
        if tag is None or key == "SpecificCharacterSet":   # (the keyword of 0x00080005: BaseTag's == is Python's)
            return ds.get(key, default)
        raw = ds._dict.get(tag)
        if isinstance(raw, self._raw_type) and raw.VR in _DIRECT_VRS and raw.length and raw.value is not None \
                and raw.length != 0xFFFFFFFF and not raw.is_implicit_VR:
            if self._encoding is None:
                self._encoding = ds.original_character_set or ds._character_set
                self._key = charset_key(self._encoding)
            memo = (raw.VR, raw.value, raw.is_little_endian, self._key) if self._memo is not None \
                and raw.length <= MAX_REMEMBERED else None
            value = _UNKNOWN if memo is None else self._memo.get(memo, _UNKNOWN)   # type: ignore[union-attr]
            if value is _UNKNOWN:
                try:
                    value = self._convert(raw.VR, raw, self._encoding)
                except Exception:  # pydicom's own road words (or repairs) it
                    return ds.get(key, default)
                if memo is not None:
                    _CONVERTED.remember(memo, value)
            if not isinstance(value, list) or len(value) != 1:   # one value: the element holds it bare (pydicom)
                return value
        return ds.get(key, default)

    def __getattr__(self, name: str) -> object:
        return getattr(self._ds, name)
