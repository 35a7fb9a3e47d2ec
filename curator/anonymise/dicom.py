"""``curator anonymise SRC OUT`` for DICOM: the PS3.15 Basic Application Level Confidentiality Profile, applied
to every element of every file, recursively through sequences, with the file meta information rebuilt.

What happens to each attribute (Table E.1-1, edition ``DEID_EDITION``):

- X: removed. Compound actions (Z, X/Z, X/D, Z/D, X/Z/D) are chosen by the attribute's Type in the file's IOD
  (``curator.io.iod_types.choose_action``), so the copy stays conformant: a dummy value for Type 1, empty for
  Type 2, removed for Type 3 and for attributes the IOD does not list. A sequence is emptied (Type 2), removed
  (Type 3: never left with zero items) or, Type 1, kept with its items de-identified; X/Z/U* sequences
  (references to other images) are kept with their UIDs replaced.
- Z: emptied. D: a dummy value ("ANONYMIZED", 0, 19000101, ...).
- U: a new UID, ``2.25.`` + the decimal of the first 128 bits of HMAC-SHA256(key, UID) (made a version 4
  UUID): the same UID gives the same new UID in every file and every run with the same key, and nothing
  without the key links the two. DICOM's own well-known UIDs (1.2.840.10008.*) are kept.
- Dates and date-times the Retain Longitudinal Temporal Information Modified Dates Option (113107) covers
  are shifted by one offset per patient (1 to 10 years back, from HMAC(key, PatientID)), so intervals within
  a patient are preserved; times of day are kept. Birth dates are removed all the same.
- PatientID and PatientName become the patient's pseudonym: from the caller's mapping (original PatientID ->
  pseudonym), else ``ANON-`` + ten digits of HMAC(key, PatientID).
- Private attributes are removed, except the known safe ones with ``keep_safe_private`` (113111).
- Overlay planes (groups 6000-601E) and curves (5000-501E) are removed whole.
- Text the table does not name (descriptions, and every string inside an untabled sequence, such as
  ProcedureCodeSequence[0].CodeMeaning) is replaced by "ANONYMIZED" when ``untabled_text_kinds`` (the audit's own
  decision) finds a name, date, phone number, e-mail address or record number in it; values with nothing
  identifying stay, so codes and their meanings keep the file useful ("CT chest" stays, "CT chest requested by
  Wisniewski" goes).
- With ``retain_patient_characteristics`` (113108) sex, age, size and weight are kept; ages of 90 and over
  become 090Y.

Then (0012,0062) Patient Identity Removed = YES, (0012,0063) says what was done, (0012,0064) lists the CID 7050
codes actually applied (113100, plus 113107 when dates were shifted, 113108, 113111), and (0028,0303)
Longitudinal Temporal Information Modified = MODIFIED when dates were shifted. The pixel data element is
written back byte for byte and checked on the copy read back (``curator.anonymise.integrity``); the preamble
is zeroed. Nothing of the key is written anywhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pydicom import dcmread
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID

from curator import __version__
from curator.anonymise.integrity import payload_lost, pixel_payload, short_elements
from curator.checks.phi_text import untabled_text_kinds
from curator.io.deid_table import BASIC_PROFILE, DEID_EDITION, OPTION_NAMES, DeidRule, deid_table, safe_private
from curator.io.dicom_raw import charset_key
from curator.io.iod_types import choose_action
from curator.memo import MAX_REMEMBERED, BoundedMemo

__all__ = ["FilePlan", "SeriesMemo", "anonymise_dataset", "anonymise_file", "date_offset", "pseudonym", "remap_uid"]

WELL_KNOWN_UID = "1.2.840.10008."
MODIFIED_DATES = "113107"
PATIENT_CHARACTERISTICS = "113108"
SAFE_PRIVATE = "113111"
DUMMY_TEXT = "ANONYMIZED"
TEXT_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UT"})
NUMBER_VRS = frozenset({"IS", "DS"})
BINARY_NUMBER_VRS = frozenset({"US", "SS", "UL", "SL", "UV", "SV", "FL", "FD", "AT"})
OFFSET_MIN_DAYS, OFFSET_SPAN_DAYS = 365, 3287   # 1 to 10 years back
META_KEPT = frozenset({0x00020001, 0x00020002, 0x00020010})


def _digest(key: bytes, purpose: str, value: str) -> bytes:
    return hmac.new(key, f"{purpose}\0{value}".encode(), hashlib.sha256).digest()


def remap_uid(key: bytes, value: str) -> str:
    """The replacement for UID ``value``: ``2.25.<decimal of a UUID made from HMAC-SHA256(key, value)>``."""
    value = value.strip().strip("\x00")
    if not value or value.startswith(WELL_KNOWN_UID):
        return value
    return f"2.25.{uuid.UUID(bytes=_digest(key, 'uid', value)[:16], version=4).int}"


def date_offset(key: bytes, patient_id: str) -> int:
    """Days to add to every date of one patient: negative, 1 to 10 years, the same for every file of them."""
    number = int.from_bytes(_digest(key, "date-offset", patient_id)[:8], "big")
    return -(OFFSET_MIN_DAYS + number % OFFSET_SPAN_DAYS)


def pseudonym(key: bytes, patient_id: str) -> str:
    """The generated pseudonym of a patient: ``ANON-`` and ten digits."""
    number = int.from_bytes(_digest(key, "pseudonym", patient_id)[:8], "big")
    return f"ANON-{number % 10**10:010d}"


@dataclass(frozen=True)
class FilePlan:
    """Everything one worker needs for one file (plain data: it crosses process boundaries)."""

    source: Path
    target: Path
    key: bytes
    pseudonym: str
    offset_days: int
    name: str = ""                                # the file's path relative to SRC (names a missing instance UID)
    force: bool = False                           # the file has no DICM marker but parses as DICOM
    keep_safe_private: bool = False
    retain_patient_characteristics: bool = False


# Explicit VRs whose raw bytes alone (with the byte order and the file's character set) decide the element pydicom
# converts them to: not SQ (items are data sets), not UN (pydicom looks its VR up), never an ambiguous "US or SS"
# (a file with explicit VRs states them). SeriesMemo remembers what the scrub did to such elements.
REMEMBERED_VRS = frozenset({"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB", "OD", "OF",
                            "OL", "OV", "OW", "PN", "SH", "SL", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UR", "US",
                            "UT", "UV"})
_KEPT, _DELETED, _SET = range(3)


@dataclass(frozen=True)
class _Done:
    """What the scrub did to one top-level element: kept its value as read, deleted it, or set it to ``vr`` and
    ``value``; and what it added to the counts."""

    kind: int
    counts: tuple[tuple[str, int], ...]
    vr: str = ""
    value: object = None

    @classmethod
    def of(cls, ds: Dataset, tag: int, counted: Counter[str], changed: bool) -> _Done:
        counts = tuple(counted.items())
        if tag not in ds:
            return cls(_DELETED, counts)
        if not changed:   # kept with the value it was read with: a later file keeps its element as read
            return cls(_KEPT, counts)
        element = ds[tag]
        value = element.value
        return cls(_SET, counts, str(element.VR), list(value) if isinstance(value, MultiValue) else value)

    def apply(self, ds: Dataset, tag: int, counts: Counter[str]) -> None:
        if self.kind == _DELETED:
            del ds[tag]
        elif self.kind == _SET:   # a new element (and list) per file: files of a series share no mutable value
            ds[tag] = DataElement(tag, self.vr, list(self.value) if isinstance(self.value, list) else self.value)
        for name, count in self.counts:
            counts[name] += count


MAX_DONE = 1 << 14   # elements a SeriesMemo remembers (each value at most MAX_REMEMBERED bytes), then forgets at once


class SeriesMemo:
    """What the profile did to the top-level elements of the files already anonymised with one plan (for
    ``curator ingest``: the images of one series, whose headers are mostly the same bytes), so that a later file's
    element gets the same result without pydicom converting and the audit judging it again.

    An element is looked up by its raw form: tag, explicit VR (:data:`REMEMBERED_VRS`), byte order and value bytes.
    With the file's character set, SOP class and the plan (key, pseudonym, date offset, options) equal, which
    :meth:`begin` checks for each file (forgetting everything when they differ), these decide all the scrub does to
    the element (its rule, its converted value, the audit's judgement of its text, the dummy or remapped value).
    Private elements, sequences, UN, implicit VRs, deferred, undefined-length or long values (pixel data) and
    anything converted before the scrub are always done afresh; at most :data:`MAX_DONE` are remembered. The
    anonymised data set is the same, element for element and byte for byte when written, as without the memo
    (tests/test_ingest_speed.py).
    """

    def __init__(self) -> None:
        self.done: BoundedMemo[tuple[object, ...], _Done] = BoundedMemo(MAX_DONE)
        self._context: tuple[object, ...] | None = None

    def begin(self, ds: Dataset, plan: FilePlan, sop_class: str) -> None:
        context = (plan.key, plan.pseudonym, plan.offset_days, plan.keep_safe_private,
                   plan.retain_patient_characteristics, sop_class, charset_key(ds.original_character_set),
                   getattr(ds.get_item(0x00080005), "value", None))
        if context != self._context:
            self.done.clear()
            self._context = context

    @staticmethod
    def key_of(raw: object) -> tuple[object, ...] | None:
        """The raw form of a top-level element as read, or None when it must be done afresh."""
        if not isinstance(raw, RawDataElement) or raw.is_implicit_VR or raw.VR not in REMEMBERED_VRS \
                or raw.value is None or raw.length == 0xFFFFFFFF or raw.tag == 0x00080005 \
                or len(raw.value) > MAX_REMEMBERED:   # (pixel data and other blobs: unique to a file)
            return None
        return raw.tag, raw.VR, raw.is_little_endian, raw.value


class _Scrubber:
    def __init__(self, plan: FilePlan, memo: SeriesMemo | None = None) -> None:
        self.plan = plan
        self.memo = memo                    # what earlier files of the series had done to their top-level elements
        self.table = deid_table()
        self.safe = safe_private() if plan.keep_safe_private else {}
        self.counts: Counter[str] = Counter()
        self.options = {MODIFIED_DATES} | ({PATIENT_CHARACTERISTICS} if plan.retain_patient_characteristics else set())
        self.sop_class = ""                 # the file's SOP Class UID: its IOD decides compound actions
        self.path: list[int] = []           # tags of the sequences enclosing the dataset being scrubbed

    # --- values ---------------------------------------------------------------------------------------------

    def _shift_date(self, text: str) -> str | None:
        try:
            day = dt.datetime.strptime(text[:8], "%Y%m%d").date()
        except ValueError:
            return None
        return (day + dt.timedelta(days=self.plan.offset_days)).strftime("%Y%m%d")

    def _shift(self, element: DataElement) -> bool:
        """Shift a DA or DT element; False when a value is no date (the caller then applies the basic action)."""
        values = element.value if isinstance(element.value, MultiValue | list) else [element.value]
        shifted: list[str] = []
        for raw in values:
            text = str(raw).strip() if raw is not None else ""
            if not text:
                shifted.append("")
                continue
            if element.VR == "DA" and "-" in text:   # a range, in query-like data
                parts = [self._shift_date(p) if p else "" for p in text.split("-")]
                if any(p is None for p in parts):
                    return False
                shifted.append("-".join(p or "" for p in parts))
                continue
            if len(text) < 8:
                return False
            new = self._shift_date(text)
            if new is None:
                return False
            shifted.append(new + text[8:])
        element.value = shifted if len(shifted) != 1 else shifted[0]
        return True

    def _dummy(self, element: DataElement) -> None:
        vr = str(element.VR)
        if vr == "UI":
            self._remap(element)
            return
        if vr in TEXT_VRS:
            element.value = DUMMY_TEXT
        elif vr == "DA":
            element.value = "19000101"
        elif vr == "DT":
            element.value = "19000101000000"
        elif vr == "TM":
            element.value = "000000"
        elif vr == "AS":
            element.value = "000Y"
        elif vr in NUMBER_VRS:
            element.value = "0"
        elif vr in BINARY_NUMBER_VRS:
            element.value = 0
        else:
            element.value = element.empty_value
            self.counts["Z"] += 1
            return
        self.counts["D"] += 1

    def _remap(self, element: DataElement) -> None:
        value = element.value
        if isinstance(value, MultiValue | list):
            element.value = [remap_uid(self.plan.key, str(v)) for v in value]
        elif value:
            element.value = remap_uid(self.plan.key, str(value))
        self.counts["U"] += 1

    # --- elements -------------------------------------------------------------------------------------------

    def _private(self, ds: Dataset) -> None:
        """Remove private elements (the safe ones stay with keep_safe_private), and creators left with nothing."""
        private = [int(t) for t in list(ds.keys()) if int(t) >> 16 & 1]
        if not private:
            return
        kept_blocks: set[tuple[int, int]] = set()
        for tag in private:
            element = tag & 0xFFFF
            if element <= 0xFF:
                continue  # group length or a private creator: decided below
            creator_tag = (tag & 0xFFFF0000) | (element >> 8)
            creator = ds.get(BaseTag(creator_tag))
            name = str(creator.value).strip().upper() if creator is not None and creator.value else ""
            if (name, tag >> 16, element & 0xFF) in self.safe:
                kept_blocks.add((tag >> 16, element >> 8))
                self.counts["private kept"] += 1
                continue
            del ds[tag]
            self.counts["private removed"] += 1
        for tag in private:
            element = tag & 0xFFFF
            if element <= 0xFF and (tag >> 16, element) not in kept_blocks and BaseTag(tag) in ds:
                del ds[tag]
                self.counts["private removed"] += 1

    def _untabled_text(self, element: DataElement, nested: bool) -> bool:
        """Replace a text value the table does not name when the audit's decision finds it identifying; whether it
        was replaced."""
        value = element.value
        if value is None or isinstance(value, bytes) or value == "":
            return False
        values = value if isinstance(value, MultiValue | list) else [value]
        text = "\\".join(str(v).strip().strip("\x00").strip() for v in values)
        if untabled_text_kinds(element.keyword, str(element.VR), text.strip(), nested=nested):
            element.value = DUMMY_TEXT
            self.counts["text cleaned"] += 1
            return True
        return False

    def scrub(self, ds: Dataset, nested: bool = False) -> None:
        self._private(ds)
        memo = None if nested else self.memo
        for key in list(ds.keys()):
            tag = int(key)
            if tag >> 16 & 1:
                continue  # the safe private elements that stayed
            group = tag >> 16
            if 0x6000 <= group <= 0x601E and not group & 1:   # overlay planes: removed whole
                del ds[tag]
                self.counts["X"] += 1
                continue
            seen = memo.key_of(ds.get_item(tag)) if memo is not None else None
            if seen is None:
                self._element(ds, tag, nested)
                continue
            assert memo is not None
            done = memo.done.get(seen)
            if done is not None:
                done.apply(ds, tag, self.counts)
                continue
            before = self.counts.copy()
            changed = self._element(ds, tag, nested)
            memo.done.remember(seen, _Done.of(ds, tag, self.counts - before, changed))

    def _element(self, ds: Dataset, tag: int, nested: bool) -> bool:
        """Apply the profile to the element ``tag`` of ``ds`` (neither private nor an overlay); whether its value was
        changed or it was removed (False: kept with the value it was read with)."""
        rule = self.table.lookup(tag)
        if rule is None and _unjudged(ds.get_item(tag)):
            return False  # untabled, and not text the audit judges (untabled_text_kinds): kept, its value unconverted
        element = ds[tag]
        keyword = element.keyword
        if keyword in ("PatientID", "PatientName"):
            element.value = self.plan.pseudonym
            self.counts["pseudonymised"] += 1
            return True
        if rule is None:
            if element.VR == "SQ":
                self._items(element)
                return True
            return self._untabled_text(element, nested)
        return self._apply(ds, tag, element, rule)

    def _items(self, element: DataElement) -> None:
        self.path.append(int(element.tag))
        try:
            for item in element.value or []:
                self.scrub(item, nested=True)
        finally:
            self.path.pop()

    def _apply(self, ds: Dataset, tag: int, element: DataElement, rule: DeidRule) -> bool:
        """Apply ``rule``; False when the element keeps the value it was read with (a retain option)."""
        vr = str(element.VR)
        option = rule.option(self.options)
        if option == "K":
            if element.keyword == "PatientAge" and _age_years(str(element.value or "")) >= 90:
                element.value = "090Y"
                self.counts["D"] += 1
                return True
            self.counts["kept (option)"] += 1
            if vr == "SQ":
                self._items(element)
                return True
            return False
        if option == "C" and rule.options.get(MODIFIED_DATES) == "C" and vr in ("DA", "DT", "TM"):
            if vr == "TM" or element.value in (None, ""):
                self.counts["kept (option)"] += 1
                return False
            if self._shift(element):
                self.counts["dates shifted"] += 1
                return True
        action = choose_action(rule.action, self.sop_class, (*self.path, tag), sequence=vr == "SQ")
        if vr == "SQ":
            if action == "X/Z/U*":
                self._items(element)  # references to other images: kept, their instance UIDs replaced
            elif action == "D":
                self._items(element)  # a Type 1 sequence: kept, its items de-identified
                self.counts["D"] += 1
            elif action == "Z":
                element.value = Sequence()
                self.counts["Z"] += 1
            else:
                del ds[tag]
                self.counts["X"] += 1
            return True
        if action == "X":
            del ds[tag]
            self.counts["X"] += 1
        elif action == "U" or (vr == "UI" and "D" in action.split("/")):
            self._remap(element)
        elif action == "D":
            self._dummy(element)
        else:  # Z, or X/Z/U* outside a sequence
            element.value = element.empty_value
            self.counts["Z"] += 1
        return True


# VRs (as read, before pydicom converts the value) whose untabled elements untabled_text_kinds never judges and whose
# conversion cannot fail: no text, no UN (pydicom may turn an UN into a text VR), no ambiguous "US or SS", no IS/DS
# (a hostile "1e400" fails their conversion, and with it the file, as it always did)
UNJUDGED_VRS = frozenset({"CS", "DA", "TM", "DT", "AS", "AE", "UI", "AT", "OB", "OW", "OF", "OD", "OL", "OV"})
BINARY_NUMBER_SIZES = {"US": 2, "SS": 2, "UL": 4, "SL": 4, "FL": 4, "FD": 8, "UV": 8, "SV": 8}


def _unjudged(element: object) -> bool:
    """Whether an untabled element, as read, can be kept without converting its value: one of UNJUDGED_VRS, or
    binary numbers whose length pydicom's conversion accepts (a whole number of values; it raises otherwise)."""
    vr = getattr(element, "VR", None)
    if vr in UNJUDGED_VRS:
        return True
    size = BINARY_NUMBER_SIZES.get(str(vr))
    value = getattr(element, "value", None)
    return size is not None and isinstance(value, bytes) and len(value) % size == 0


def _age_years(value: str) -> float:
    text = value.strip().upper()
    if len(text) < 2 or not text[:-1].isdigit():
        return 0.0
    number, unit = int(text[:-1]), text[-1]
    return number / {"D": 365.25, "W": 52.18, "M": 12.0, "Y": 1.0}.get(unit, 1.0)


def _file_meta(ds: Dataset, key: bytes, name: str, counts: Counter[str]) -> None:
    """Keep only the meta elements that describe the encoding; replace the instance UID; drop AE titles."""
    old = getattr(ds, "file_meta", None) or FileMetaDataset()
    meta = FileMetaDataset()
    for meta_tag in list(old.keys()):
        if int(meta_tag) in META_KEPT:
            meta[meta_tag] = old[meta_tag]
        elif int(meta_tag) not in (0x00020000, 0x00020003, 0x00020012, 0x00020013):
            counts["X"] += 1
    instance = str(ds.get("SOPInstanceUID") or "").strip()  # already remapped by the scrub
    if not instance:  # an instance without its UID (some exports empty them): the remapped meta one, or a new one
        former = str(old.get("MediaStorageSOPInstanceUID") or "").strip()
        instance = remap_uid(key, former) if former else remap_uid(key, f"file\0{name}")
        ds.SOPInstanceUID = instance
        counts["U"] += 1
    meta.MediaStorageSOPInstanceUID = UID(instance)
    if "MediaStorageSOPClassUID" not in meta and "SOPClassUID" in ds:
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"CURATOR_{__version__}"[:16]
    ds.file_meta = meta


def _mark(ds: Dataset, applied: list[str], shifted: bool) -> None:
    ds.PatientIdentityRemoved = "YES"
    notes = [f"curator {__version__} anonymise", f"DICOM PS3.15 {DEID_EDITION} Basic Profile",
             "UIDs remapped: HMAC-SHA256 to 2.25"]
    if shifted:
        notes.append("dates shifted per patient, intervals kept")
    ds.DeidentificationMethod = notes
    items = []
    for code in applied:
        item = Dataset()
        item.CodeValue = code
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = OPTION_NAMES[code]
        items.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(items)
    if shifted:
        ds.LongitudinalTemporalInformationModified = "MODIFIED"
    elif "LongitudinalTemporalInformationModified" in ds:
        del ds.LongitudinalTemporalInformationModified


def anonymise_dataset(ds: Dataset, plan: FilePlan, memo: SeriesMemo | None = None) -> dict[str, int]:
    """De-identify ``ds`` in place (``plan.source``/``plan.target`` are not used); the counts of what was done.

    ``curator ingest`` calls this on the datasets of each series it converts, with one ``memo`` per series (the
    same result, less work: :class:`SeriesMemo`); ``anonymise_file`` wraps it for files.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for marker in ("PatientIdentityRemoved", "DeidentificationMethod", "DeidentificationMethodCodeSequence",
                       "LongitudinalTemporalInformationModified"):
            if marker in ds:
                del ds[marker]  # a former de-identification's claims are replaced by what is done here
        scrubber = _Scrubber(plan, memo)
        meta = getattr(ds, "file_meta", None)
        scrubber.sop_class = str(ds.get("SOPClassUID") or (meta.get("MediaStorageSOPClassUID", "") if meta else ""))
        if memo is not None:
            memo.begin(ds, plan, scrubber.sop_class)
        scrubber.scrub(ds)
        _file_meta(ds, plan.key, plan.name, scrubber.counts)
        shifted = scrubber.counts["dates shifted"] > 0
        applied = [BASIC_PROFILE]
        if shifted:
            applied.append(MODIFIED_DATES)
        if plan.retain_patient_characteristics:
            applied.append(PATIENT_CHARACTERISTICS)
        if plan.keep_safe_private:
            applied.append(SAFE_PRIVATE)
        _mark(ds, applied, shifted)
        ds.preamble = b"\0" * 128
    return dict(scrubber.counts)


def anonymise_file(plan: FilePlan) -> dict[str, int]:
    """Write the anonymised copy of ``plan.source`` to ``plan.target``; the counts of what was done."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = dcmread(plan.source, force=plan.force)
        short = short_elements(ds)
        if short:
            raise ValueError(f"the file is malformed: {'; '.join(short[:3])}; what follows (the pixel data among it) "
                             "would be lost, so it is not copied")
        pixels = pixel_payload(ds)
        counts = anonymise_dataset(ds, plan)
        plan.target.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(plan.target, enforce_file_format=True)
    lost = payload_lost(plan.target, pixels)
    if lost:
        plan.target.unlink(missing_ok=True)
        raise ValueError(f"{lost}; the copy was removed")
    return counts
