"""The privacy audit's walk of one parsed DICOM data set (``curator.io.dicom_audit``): every element a privacy rule
looks at, recursively through sequences, as :class:`AuditElement` s. Raw elements of the common kinds are converted
straight from their bytes (exactly what pydicom's conversion gives) and their outcomes remembered per process; every
other element goes through pydicom's own conversion. Reading only; no judgement.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableSequence
from functools import cache
from typing import TYPE_CHECKING, NamedTuple, cast

from curator.io import dicom_raw
from curator.io.deid_table import deid_table
from curator.io.dicom_raw import RAW_STRING_VRS, RAW_TEXT_VRS, RAW_VALUE_VRS, raw_string, raw_text
from curator.memo import MAX_REMEMBERED, BoundedMemo

if TYPE_CHECKING:   # pydicom is imported where a file is read
    from pydicom.dataelem import DataElement, RawDataElement
    from pydicom.dataset import Dataset

__all__ = ["BINARY_VRS", "MAX_VALUE", "TEXT_VRS", "AuditElement", "value_text", "walk"]

TEXT_VRS = frozenset({"AE", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
MAX_VALUE = 1024          # characters of a value kept for the checks (a longer text is cut)


class AuditElement(NamedTuple):
    """One data element with a value, as the audit sees it. A tuple, not an object: tens of them per file are
    made in the worker processes and pickled back (issue 15)."""

    location: str        # "PatientName", "OtherPatientIDsSequence[0].PatientID", "(0009,1001)"
    tag: int             # group << 16 | element
    vr: str
    value: str           # text form, several values joined with "\\"; "" for binary values and sequences
    size: int            # bytes of a value, items of a sequence
    creator: str = ""    # the private creator reserving a private element's block
    meta: bool = False   # part of the file meta information (group 0002)

    @property
    def is_private(self) -> bool:
        return bool((self.tag >> 16) & 1)

    @property
    def is_private_creator(self) -> bool:
        return self.is_private and 0x0010 <= (self.tag & 0xFFFF) <= 0x00FF

    @property
    def values(self) -> list[str]:
        return [part.strip() for part in self.value.split("\\")] if self.value else []

    @property
    def keyword(self) -> str:
        """The element's own name: the last part of the location."""
        return self.location.rsplit(".", 1)[-1]


def value_text(value: object) -> str:
    if value is None:
        return ""
    if type(value) is str:
        return value.strip().strip("\x00").strip()
    if isinstance(value, bytes):
        return ""
    from pydicom.multival import MultiValue

    if isinstance(value, list | tuple | MultiValue):
        return "\\".join(value_text(v) for v in value)
    return str(value).strip().strip("\x00").strip()


def _plain(data: bytes) -> str:
    """``data`` as text when it is short printable ASCII (padding stripped), else ""."""
    if len(data) > MAX_VALUE:
        return ""
    text = data.rstrip(b"\x00 ").decode("ascii", errors="replace")
    return text.strip() if text.isprintable() and "\ufffd" not in text else ""


def _tag_text(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _creator(ds: Dataset, tag: int) -> str:
    from pydicom.tag import BaseTag

    block = (tag & 0xFFFF) >> 8
    if not 0x10 <= block <= 0xFF:
        return ""
    creator_tag = (tag & 0xFFFF0000) | block
    try:
        element = ds.get(BaseTag(creator_tag))
        return value_text(element.value) if element is not None else ""
    except Exception:
        return ""


_WALKED_VRS = TEXT_VRS | {"SQ", "", "UN"}


def _raw_vr(ds: Dataset, tag: int) -> str:
    """The element's VR without decoding its value ("" when neither the file nor the dictionary says)."""
    from pydicom.datadict import dictionary_VR
    from pydicom.tag import BaseTag

    try:
        raw = ds.get_item(BaseTag(tag))
        if raw is not None and raw.VR:
            return str(raw.VR)
        return str(dictionary_VR(tag))
    except Exception:
        return ""


def _element(ds: Dataset, tag: int) -> DataElement:
    """``ds[tag]``, without storing the converted element back into ``ds``: on headers of a few hundred elements
    pydicom's store and lookups around it cost more than the conversion itself (issue 15's profile). Sequences and
    ambiguous VRs (US or SS, OB or OW), which pydicom corrects from the data set, go through ``ds[tag]``."""
    from pydicom.charset import default_encoding
    from pydicom.tag import BaseTag
    from pydicom.valuerep import AMBIGUOUS_VR

    RawDataElement, convert_raw_data_element, _, _ = dicom_raw.pydicom_elements()   # noqa: N806
    raw = ds.get_item(BaseTag(tag))
    if not isinstance(raw, RawDataElement) or (raw.value is None and raw.length):   # converted, or deferred
        return ds[tag]
    encoding = default_encoding if tag == 0x00080005 else _encoding(ds)
    element = convert_raw_data_element(raw, encoding=encoding, ds=ds)
    if element.VR == "SQ" or element.VR in AMBIGUOUS_VR:
        return ds[tag]
    return element


def walk(ds: Dataset, prefix: str, meta: bool, notes: list[str]) -> Iterator[AuditElement]:
    """Every element of ``ds`` a privacy rule looks at, recursively. Raw elements of the common kinds (explicit
    text, then other explicit VRs) are converted straight from their bytes (:func:`_raw_outcome`): exactly what
    pydicom's conversion gives, without its element objects and hooks (issue 15's profile); every other element goes
    through pydicom's own conversion (:func:`_walk_element`). A short raw value's outcome is remembered per process
    (:data:`_OUTCOMES`): a series repeats most of its elements, value for value, in every slice."""
    RawDataElement = dicom_raw.pydicom_elements()[0]   # noqa: N806

    encoding: str | MutableSequence[str] | None = None   # the character sets, looked up when a value needs them
    encoding_key: object = None
    creators: dict[int, str] = {}
    own = dicom_raw.own_reading()
    outcomes = _OUTCOMES if own else BoundedMemo[tuple[object, ...], object](MAX_OUTCOMES)
    sequence_type = dicom_raw.pydicom_elements()[2]
    for key, raw in list(ds.items()):
        tag = int(key)
        private = bool((tag >> 16) & 1)
        if isinstance(raw, RawDataElement) and raw.VR is not None and raw.length != 0xFFFFFFFF \
                and raw.value is not None:
            vr = str(raw.VR)
            if not (meta or private or vr in _WALKED_VRS or _tabled(tag)):
                continue  # nothing a privacy rule looks at (geometry, pixel description, codes): not even decoded
            if encoding is None:
                encoding = _encoding(ds)
                encoding_key = dicom_raw.charset_key(encoding)
            value = raw.value
            memo = (tag, vr, value, raw.is_little_endian, raw.is_implicit_VR, prefix, meta, encoding_key) \
                if len(value) <= MAX_REMEMBERED else None
            found = _UNKNOWN if memo is None else outcomes.get(memo, _UNKNOWN)
            if found is _UNKNOWN:
                found = _raw_outcome(raw, tag, vr, prefix, meta, private, encoding)
                if memo is not None:
                    outcomes.remember(memo, found)
            if found is not _PYDICOM:
                if found is not None:
                    element = cast(AuditElement, found)
                    if private:   # (not element._replace: a Python call of namedtuple's)
                        element = _new_tuple(AuditElement, (*element[:5], _creator_of(ds, tag, creators, encoding),
                                                            element[6]))
                    yield element
                continue
        elif own and type(raw) is sequence_type:
            if raw.VR == "SQ":   # a sequence of undefined length, as read
                keyword = raw.keyword or (_keyword(tag) if not private else "") or _tag_text(tag)
                yield from _sequence(ds, tag, raw, prefix + keyword, meta, notes)
                continue
            value = raw.value
            plain, ambiguous = _converted_kinds()
            if not private and type(value) in plain and raw.VR not in ambiguous \
                    and (type(value) is int or len(value) <= MAX_REMEMBERED):
                # converted already (the file meta's, the character set): its outcome depends on these alone
                converted = (_ALREADY_CONVERTED, tag, raw.VR, type(value), value, prefix, meta)
                known = cast("tuple[AuditElement, ...] | None", outcomes.get(converted))
                if known is None:
                    before = len(notes)
                    known = tuple(_walk_element(ds, tag, prefix, meta, notes))
                    if len(notes) == before:
                        outcomes.remember(converted, known)
                yield from known
                continue
        yield from _walk_element(ds, tag, prefix, meta, notes)


_UNKNOWN, _PYDICOM, _ALREADY_CONVERTED = object(), object(), object()
_new_tuple = tuple.__new__


@cache
def _converted_kinds() -> tuple[frozenset[type], frozenset[str]]:
    """The types of converted values whose equality is their outcome's (not floats: 0.0 equals -0.0), and pydicom's
    ambiguous VRs (corrected from the data set: never remembered)."""
    from pydicom.uid import UID
    from pydicom.valuerep import AMBIGUOUS_VR

    return frozenset({str, bytes, int, UID}), frozenset(AMBIGUOUS_VR)
MAX_OUTCOMES = 1 << 14     # outcomes remembered per process, then forgotten at once (<= ~16 MB)
_OUTCOMES: BoundedMemo[tuple[object, ...], object] = BoundedMemo(MAX_OUTCOMES)


def _raw_outcome(raw: RawDataElement, tag: int, vr: str, prefix: str, meta: bool, private: bool,
                 encoding: str | MutableSequence[str]) -> object:
    """The audit's element for a raw explicit element (its creator not yet set), None when it yields none, or
    _PYDICOM when it takes pydicom's road (:func:`_walk_element`)."""
    from pydicom.charset import default_encoding
    from pydicom.tag import _LUT_DESCRIPTOR_TAGS
    from pydicom.values import convert_value

    value = raw.value or b""
    kept = meta or private or _tabled(tag)
    if vr in RAW_TEXT_VRS:
        text = raw_text(vr, value, encoding)
        if text is not None:
            return AuditElement(prefix + _keyword(tag), tag, vr, text[:MAX_VALUE], len(text), "", meta) \
                if text else None
    elif not kept and vr not in _WALKED_VRS:
        return None  # nothing a privacy rule looks at (geometry, pixel description, codes): not even decoded
    elif vr in RAW_STRING_VRS and (text := raw_string(value)) is not None:
        return AuditElement(prefix + _keyword(tag), tag, vr, text[:MAX_VALUE], len(text), "", meta) \
            if text else None
    elif vr in RAW_VALUE_VRS and tag not in _LUT_DESCRIPTOR_TAGS:
        try:
            converted = convert_value(vr, raw, default_encoding if tag == 0x00080005 else encoding)
        except Exception:  # pydicom's own road words (or repairs) it
            return _PYDICOM
        return _valued(prefix + _keyword(tag), tag, vr, converted, private, meta, kept)
    return _PYDICOM


def _walk_element(ds: Dataset, tag: int, prefix: str, meta: bool, notes: list[str]) -> Iterator[AuditElement]:
    """One element of ``ds`` through pydicom's conversion (sequences recursively)."""
    table = deid_table()
    private = bool((tag >> 16) & 1)
    if not (meta or private) and table.lookup(tag) is None and _raw_vr(ds, tag) not in _WALKED_VRS:
        return  # nothing a privacy rule looks at (geometry, pixel description, codes): not even decoded
    try:
        element = _element(ds, tag)
    except Exception as error:  # the message may quote the value: only its kind is kept
        notes.append(f"{prefix}{_tag_text(tag)} cannot be decoded ({type(error).__name__})")
        return
    keyword = element.keyword or (_keyword(tag) if not private else "") or _tag_text(tag)  # 60xx too
    location = f"{prefix}{keyword}"
    vr = str(element.VR)
    if vr == "SQ":
        yield from _sequence(ds, tag, element, location, meta, notes)
        return
    try:
        value = element.value
    except Exception as error:
        notes.append(f"{location} cannot be decoded ({type(error).__name__})")
        return
    found = _valued(location, tag, vr, value, private, meta, meta or private or table.lookup(tag) is not None)
    if found is not None:
        yield found._replace(creator=_creator(ds, tag)) if private else found


def _sequence(ds: Dataset, tag: int, element: DataElement, location: str, meta: bool,
              notes: list[str]) -> Iterator[AuditElement]:
    """A sequence element of ``ds`` (converted) and its items, recursively."""
    items = element.value or []
    if not items:
        return
    private = bool((tag >> 16) & 1)
    if meta or private or _tabled(tag):
        yield AuditElement(location, tag, "SQ", "", len(items), _creator_of(ds, tag, {}) if private else "", meta)
    for index, item in enumerate(items):
        yield from walk(item, f"{location}[{index}].", meta, notes)


def _valued(location: str, tag: int, vr: str, value: object, private: bool, meta: bool,
            kept: bool) -> AuditElement | None:
    """The audit's element for a converted value (no creator yet), or None when it has no value or no rule looks
    at it."""
    if vr in BINARY_VRS or isinstance(value, bytes):
        size = len(value) if isinstance(value, bytes) else (0 if value is None else 1)
        if not size:
            return None
        # a private value of unknown VR (implicit VR files) that is plain text, e.g. a date: kept as text so
        # the identifier search sees it
        text = _plain(value) if private and vr == "UN" and isinstance(value, bytes) else ""
    else:
        text = value_text(value)
        if not text:
            return None
        size = len(text)
    if not (kept or vr in TEXT_VRS):
        return None  # nothing a privacy rule looks at: geometry, pixel description, codes
    return AuditElement(location, tag, vr, text[:MAX_VALUE], size, "", meta)


def _encoding(ds: Dataset) -> str | MutableSequence[str]:   # the character sets, as :func:`_element` passes them
    return ds.original_character_set or ds._character_set


_TABLED: dict[int, bool] = {}
_KEYWORDS: dict[int, str] = {}


def _tabled(tag: int) -> bool:
    """Whether Table E.1-1 lists ``tag`` (remembered per process: a release repeats its tags in every file)."""
    known = _TABLED.get(tag)
    if known is None:
        known = _TABLED[tag] = deid_table().lookup(tag) is not None
    return known


def _keyword(tag: int) -> str:
    """The element's name as :func:`_walk_element` words it: its keyword (60xx repeaters too), else its tag."""
    known = _KEYWORDS.get(tag)
    if known is None:
        from pydicom.datadict import keyword_for_tag

        known = _KEYWORDS[tag] = ((keyword_for_tag(tag) if not (tag >> 16) & 1 else "") or _tag_text(tag))
    return known


def _creator_of(ds: Dataset, tag: int, creators: dict[int, str],
                encoding: str | MutableSequence[str] | None = None) -> str:
    """:func:`_creator`, remembered per data set walk (a private block has many elements); ``encoding``: the data
    set's character sets when the caller has them."""
    block = (tag & 0xFFFF0000) | ((tag & 0xFFFF) >> 8)
    known = creators.get(block)
    if known is None:
        RawDataElement = dicom_raw.pydicom_elements()[0]   # noqa: N806
        # ds.get_item's element where it is raw with its value at hand (get_item reads a deferred one)
        raw = cast("dict[int, object]", ds._dict).get(block) if 0x10 <= block & 0xFFFF <= 0xFF else None
        text = None
        if isinstance(raw, RawDataElement) and raw.VR == "LO" and raw.value is not None \
                and raw.length != 0xFFFFFFFF:   # a creator is an LO: its text without pydicom's element around it
            text = raw_text("LO", raw.value, _encoding(ds) if encoding is None else encoding)
        known = creators[block] = _creator(ds, tag) if text is None else text
    return known
