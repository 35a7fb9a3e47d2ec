"""Our own reader of a DICOM Part 10 header from its first bytes, for the common case: the file meta group, then a
little-endian data set (explicit VR, including the encapsulated JPEG/JPEG-LS/JPEG 2000/RLE syntaxes, or implicit VR)
up to the (7FE0,0010) pixel data element, with sequences of defined and undefined length. It builds what
``pydicom.dcmread(stop_before_pixels=True)`` builds from the same bytes (a ``FileDataset`` of ``RawDataElement`` s
with the same tag, VR, length, value, value_tell and encoding flags; undefined-length sequences as pydicom's
``DataElement`` of a ``Sequence`` of item ``Dataset`` s), so everything that reads pydicom's result reads ours
unchanged; it only skips pydicom's per-element Python generator, its file position calls and its hooks
(issue 15's profile: the parse cost ~1.3 ms a file of the ~2.5 ms of worker CPU).

Anything it does not handle exactly as pydicom would (big endian, deflated, a private syntax, a length past the
bytes at hand, an undefined length anywhere but a sequence, an odd or unknown VR, an implicit/explicit switch, a
command set group, a header longer than the bytes read, pydicom's settings changed from their defaults, nesting
deeper than MAX_DEPTH) is declined: :func:`read` returns None and the caller takes pydicom's own road. Reading only.
"""

from __future__ import annotations

from functools import cache
from struct import Struct
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydicom.dataset import FileDataset

__all__ = ["MAX_DEPTH", "read"]

MAX_DEPTH = 32   # sequences nested deeper than this are declined (pydicom's road bounds them its own way)
_EXPLICIT = Struct("<HH2sH")
_IMPLICIT = Struct("<HHL")
_LONG = Struct("<L")
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_PIXEL_DATA = 0x7FE00010
_STOPS = frozenset({0x7FE00010, 0x7FE00009, 0x7FE00008})   # pydicom's stop_before_pixels
_CHARSET = 0x00080005
_ITEM_TAG_BYTES = b"\xfe\xff\x00\xe0"
_IMPLICIT_SYNTAX = "1.2.840.10008.1.2"


class _DeclinedError(Exception):
    """The bytes are not the common case this reader mirrors exactly."""


@cache
def _pydicom() -> Any:
    """pydicom's pieces, imported when the first file is read (a namespace object, looked up once)."""
    import pydicom.uid
    from pydicom import config
    from pydicom.charset import convert_encodings, default_encoding
    from pydicom.datadict import _dictionary_vr_fast
    from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element, empty_value_for_VR
    from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
    from pydicom.filereader import ENCODED_VR
    from pydicom.sequence import Sequence
    from pydicom.tag import BaseTag
    from pydicom.valuerep import EXPLICIT_VR_LENGTH_32
    from pydicom.values import convert_string

    class Parts:
        pass

    parts = Parts()
    vars(parts).update(
        config=config, convert_encodings=convert_encodings, default_encoding=default_encoding,
        dictionary_vr=_dictionary_vr_fast, DataElement=DataElement, Raw=RawDataElement,
        convert_raw=convert_raw_data_element, empty=empty_value_for_VR, Dataset=Dataset, FileDataset=FileDataset,
        FileMetaDataset=FileMetaDataset, Sequence=Sequence, BaseTag=BaseTag, convert_string=convert_string,
        # 2-byte VR codes: str, and whether a 4-byte length follows
        vrs={code: (code.decode(), code.decode() in EXPLICIT_VR_LENGTH_32) for code in ENCODED_VR if len(code) == 2},
        refused=frozenset({pydicom.uid.ExplicitVRBigEndian, pydicom.uid.DeflatedExplicitVRLittleEndian,
                           *pydicom.uid.PrivateTransferSyntaxes}),
        empty_values={},
        blank=dict(vars(Dataset())),   # the attributes of a new data set, copied into each item's
    )
    return parts


def _defaults(p: Any) -> bool:
    """Whether pydicom's reading settings are those this reader mirrors."""
    config = p.config
    return (not config.debugging and config.assume_implicit_vr_switch and config.settings.infer_sq_for_un_vr
            and not config.use_none_as_empty_text_VR_value and not getattr(config, "_use_future", False))


def read(head: bytes, whole: bool) -> tuple[FileDataset, int] | None:
    """``(dcmread(stop_before_pixels=True) of the file, the offset of its (7FE0,0010) element or its size)`` from
    ``head``, the file's first bytes (``whole``: all of it), or None to take pydicom's road."""
    p = _pydicom()
    if not _defaults(p):
        return None
    try:
        return _read(p, head, whole)
    except (_DeclinedError, RecursionError, ValueError, LookupError, TypeError, UnicodeError, OverflowError) as _:
        return None
    except Exception:   # anything surprising: pydicom's road words it
        return None


def _read(p: Any, head: bytes, whole: bool) -> tuple[FileDataset, int]:
    import io

    if head[128:132] != b"DICM" or head[132:134] != b"\x02\x00":
        raise _DeclinedError
    reader = _Reader(p, head, whole)
    meta_raw, position = reader.elements(132, False, p.default_encoding, meta=True)
    if not meta_raw:
        raise _DeclinedError
    # pydicom wraps each dict in a Dataset first, then in the FileMetaDataset or FileDataset, which keep only its
    # dict (Dataset.__init__): the dicts are given to them directly, the same objects without two data sets a file
    file_meta = p.FileMetaDataset(meta_raw)
    file_meta.set_original_encoding(is_implicit_vr=False, is_little_endian=True,
                                    character_encoding=p.default_encoding)
    file_meta[next(iter(file_meta._dict))]   # what pydicom's reader does: converts (and stores) the first element
    if "FileMetaInformationGroupLength" in file_meta:
        file_meta.FileMetaInformationGroupLength   # noqa: B018 (pydicom converts it here too)
    raw_syntax = file_meta._dict.get(0x00020010)
    if raw_syntax is None or raw_syntax.VR != "UI":
        raise _DeclinedError
    syntax = file_meta.get("TransferSyntaxUID")
    if not isinstance(syntax, str) or syntax in p.refused:
        raise _DeclinedError
    if position + 8 > len(head) or int.from_bytes(head[position:position + 2], "little") == 0:
        raise _DeclinedError   # no data set in the bytes at hand, or a command set group (0000)
    implicit = syntax == _IMPLICIT_SYNTAX
    if _looks_implicit(head, position) != implicit:
        raise _DeclinedError   # pydicom warns and switches
    raw, end = reader.elements(position, implicit, p.default_encoding, top=True)
    ds = p.FileDataset(io.BytesIO(head), raw, head[:128], file_meta, implicit, True)
    ds.set_original_encoding(implicit, True, ds._character_set)   # (converts and stores (0008,0005), as pydicom)
    return ds, end


def _looks_implicit(head: bytes, position: int) -> bool:
    """pydicom's test of an element's encoding: its bytes 4 and 5 are not two capital letters."""
    return not (0x40 < head[position + 4] < 0x5B and 0x40 < head[position + 5] < 0x5B)


class _Reader:
    """The elements of one head, as pydicom's ``data_element_generator`` and ``read_sequence`` read them."""

    def __init__(self, p: Any, head: bytes, whole: bool) -> None:
        self.p, self.head, self.whole, self.size = p, head, whole, len(head)
        self.depth = 0

    def elements(self, pos: int, implicit: bool, encoding: Any, *, meta: bool = False, top: bool = False,
                 end: int | None = None) -> tuple[dict[Any, Any], int]:
        """The elements from ``pos``: of the file meta group (``meta``), of the data set up to the pixel data
        (``top``), of an item of defined length up to ``end``, else of an item up to its delimiter."""
        p, head, size = self.p, self.head, self.size
        raw_type, base_tag, vrs, empty = p.Raw, p.BaseTag, p.vrs, self._empty
        unpack_explicit, unpack_implicit, unpack_long = _EXPLICIT.unpack_from, _IMPLICIT.unpack_from, _LONG.unpack_from
        found: dict[Any, Any] = {}
        bounded = end is not None
        limit = size if end is None else end
        make = tuple.__new__   # RawDataElement(...) without its namedtuple constructor's extra call
        while True:
            if bounded and pos >= limit:
                if pos != limit:
                    raise _DeclinedError
                return found, pos
            if pos + 8 > size:
                if top and pos == size and self.whole:
                    return found, pos   # the file ends before any pixel data
                raise _DeclinedError
            start = pos
            if implicit:
                group, number, length = unpack_implicit(head, pos)
                vr = None
                pos += 8
            else:
                group, number, code, length = unpack_explicit(head, pos)
                known = vrs.get(code)
                if known is None:   # pydicom reads it as implicit VR (or an unknown VR): only a stop or an end here
                    group, number, length = unpack_implicit(head, pos)
                    vr, long = None, False
                else:
                    vr, long = known
                pos += 8
                if long:
                    if pos + 4 > size:
                        raise _DeclinedError
                    length = unpack_long(head, pos)[0]
                    pos += 4
            tag = group << 16 | number
            if group == 0xFFFE:   # an item's end, where one is due; any other item tag is out of place here
                if tag == _ITEM_END and not (bounded or meta or top or length):
                    return found, pos
                raise _DeclinedError
            if meta:
                if group != 2:
                    return found, start
            elif top and tag in _STOPS:
                if tag != _PIXEL_DATA:
                    raise _DeclinedError
                return found, start
            if vr is None and not implicit:
                raise _DeclinedError   # a switch to implicit VR, an unknown VR
            if length == 0xFFFFFFFF:
                found[base_tag(tag)] = self.sequence(tag, vr, pos, implicit, encoding)
                pos = self.after
                continue
            stop = pos + length
            if stop > limit:
                raise _DeclinedError   # past the bytes at hand (or the item): pydicom's road
            value = head[pos:stop] if length else empty(vr)
            if tag == _CHARSET:
                encoding = p.convert_encodings(p.convert_string(value or b"", True))
            key = base_tag(tag)
            found[key] = make(raw_type, (key, vr, length, value, pos, implicit, True, True, False))
            pos = stop

    def _empty(self, vr: str | None) -> Any:
        values = self.p.empty_values
        if vr not in values:
            values[vr] = self.p.empty(vr, raw=True)
        return values[vr]

    def sequence(self, tag: int, vr: str | None, pos: int, implicit: bool, encoding: Any) -> Any:
        """An undefined-length element at ``pos`` (its value): a sequence as pydicom reads it, or declined.
        Sets ``self.after`` to the offset after its delimiter."""
        p, head = self.p, self.head
        if vr is None:
            try:
                vr = p.dictionary_vr(tag)
            except KeyError:
                vr = "SQ" if head[pos:pos + 4] == _ITEM_TAG_BYTES else None
        if vr != "SQ":
            raise _DeclinedError   # an undefined-length value that is no sequence (or an explicit UN)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _DeclinedError
        value_tell = pos
        items = []
        while True:
            if pos + 8 > self.size:
                raise _DeclinedError
            group, number, length = _IMPLICIT.unpack_from(head, pos)
            item_tag = group << 16 | number
            if item_tag == _SEQUENCE_END:
                pos += 8
                break
            if item_tag != _ITEM:
                raise _DeclinedError
            items.append(self.item(pos, length, implicit, encoding))
            pos = self.after
        self.depth -= 1
        sequence = p.Sequence(items)
        sequence.is_undefined_length = True
        self.after = pos
        return p.DataElement(p.BaseTag(tag), vr, sequence, value_tell, is_undefined_length=True)

    def item(self, pos: int, length: int, implicit: bool, encoding: Any) -> Any:
        """The item at ``pos`` (its tag), as pydicom's ``read_sequence_item`` reads it."""
        p, head = self.p, self.head
        start = pos + 8
        if not implicit:   # an item of an explicit sequence may be implicit VR (pydicom's test)
            if start + 6 > self.size:
                raise _DeclinedError
            implicit = _looks_implicit(head, start)
        if length == 0xFFFFFFFF:
            raw, self.after = self.elements(start, implicit, encoding)
        else:
            if start + length > self.size:
                raise _DeclinedError
            raw, self.after = self.elements(start, implicit, encoding, end=start + length)
        ds = p.Dataset.__new__(p.Dataset)   # what Dataset(raw, parent_encoding=encoding) sets, without its hooks
        attributes = ds.__dict__
        for name, default in p.blank.items():
            attributes[name] = default.copy() if isinstance(default, dict | list | set) else default
        own = p.convert_encodings(p.convert_raw(raw[_CHARSET]).value) if _CHARSET in raw else encoding
        attributes.update(_dict=raw, _parent_encoding=encoding, _read_implicit=implicit, _read_little=True,
                          _read_charset=own, is_undefined_length_sequence_item=length == 0xFFFFFFFF,
                          seq_item_tell=pos, file_tell=pos)
        return ds

    after = 0
