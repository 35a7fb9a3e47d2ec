"""Reading every DICOM file of a release for the privacy audit: every element, recursively through sequences,
and the file meta information. No judgement here (that is ``curator.checks.privacy_dicom``).

``gather(facts)`` runs for every profile (``curator.validate.GATHERERS``) and stores a ``DicomAudit`` in
``facts.dicom_audit``. A file is read when it carries the ``DICM`` marker at byte 128, or has a DICOM suffix and
parses as a DICOM data set without one; files known to be something else (NIfTI, PNG, spreadsheets, ...) are skipped
unopened. Reads stop at the pixel data; elements after it (trailing private attributes, padding) are read past it.

Only what a privacy rule can judge is kept, so memory stays small on clean releases: file meta elements,
elements Table E.1-1 lists, private elements, and text (person names, descriptions, comments) anywhere; each
with a non-empty value. Identical elements are shared between files (a series repeats most of them).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Iterator, MutableSequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO, NamedTuple, cast

from curator.executor import default_jobs, run_batches, run_tasks
from curator.io import dicom as dicom_files
from curator.io import dicom_raw
from curator.io.deid_table import deid_table
from curator.io.dicom import DICOM_SUFFIXES, MEDIA_STORAGE_DIRECTORY, _named_dicom, _skipped
from curator.io.dicom_raw import RAW_STRING_VRS, RAW_TEXT_VRS, RAW_VALUE_VRS, raw_string, raw_text
from curator.io.dicom_raw import read_tail as _tail
from curator.io.dicom_raw import unvalidated as _unvalidated
from curator.io.regular import open_regular

if TYPE_CHECKING:   # pydicom is imported where a file is read: validate without DICOM files never loads it
    from pydicom.dataelem import DataElement, RawDataElement
    from pydicom.dataset import Dataset

    from curator.io.facts import Facts

__all__ = ["TEXT_VRS", "AuditElement", "AuditedFile", "DicomAudit", "audit_file", "audit_task", "gather",
           "parse_together", "text_values"]

TEXT_VRS = frozenset({"AE", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
# files that are certainly not DICOM: skipped without opening them
NOT_DICOM_SUFFIXES = (".nii", ".nii.gz", ".mgz", ".nrrd", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp",
                      ".gif", ".xlsx", ".xls", ".csv", ".tsv", ".md", ".pdf", ".json", ".jsonld", ".yaml", ".yml",
                      ".txt", ".html", ".zip", ".tar", ".gz", ".tgz", ".xz", ".bz2", ".zst", ".7z", ".npy", ".npz",
                      ".py", ".sha256", ".md5")
MAX_VALUE = 1024          # characters of a value kept for the checks (a longer text is cut)
DEFLATED = "1.2.840.10008.1.2.1.99"
META_GROUP = 0x0002


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


@dataclass(frozen=True)
class AuditedFile:
    path: str
    elements: tuple[AuditElement, ...]
    identity_removed: str | None       # (0012,0062) Patient Identity Removed, upper-cased; None when absent
    method: tuple[str, ...]            # (0012,0063) De-identification Method
    method_codes: tuple[str, ...]      # CodeValue of each item of (0012,0064) De-identification Method Code Sequence
    temporal: str | None               # (0028,0303) Longitudinal Temporal Information Modified
    burned_in: str | None              # (0028,0301) Burned In Annotation
    visual_features: str | None        # (0028,0302) Recognizable Visual Features
    directory: bool = False            # a DICOMDIR (Media Storage Directory), not an instance
    notes: tuple[str, ...] = ()        # what could not be read (a malformed element, the part after the pixels)


@dataclass(eq=False)   # one run's reading, compared by identity: checks derive from it once (weakly keyed)
class DicomAudit:
    files: dict[str, AuditedFile] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)   # DICOM files that could not be parsed: path -> why
    looked_at: int = 0        # files opened to look for the DICM marker
    skipped: int = 0          # files skipped by name (certainly not DICOM)
    bytes: int = 0            # size of the DICOM files audited
    seconds: float = 0.0


def _text(value: object) -> str:
    if value is None:
        return ""
    if type(value) is str:
        return value.strip().strip("\x00").strip()
    if isinstance(value, bytes):
        return ""
    from pydicom.multival import MultiValue

    if isinstance(value, list | tuple | MultiValue):
        return "\\".join(_text(v) for v in value)
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
        return _text(element.value) if element is not None else ""
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


def _walk(ds: Dataset, prefix: str, meta: bool, notes: list[str]) -> Iterator[AuditElement]:
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
    outcomes = _OUTCOMES if own else {}
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
                encoding_key = encoding if isinstance(encoding, str) else ("", *encoding)
            value = raw.value
            memo = (tag, vr, value, raw.is_little_endian, raw.is_implicit_VR, prefix, meta, encoding_key) \
                if len(value) <= MAX_REMEMBERED else None
            found = _UNKNOWN if memo is None else outcomes.get(memo, _UNKNOWN)
            if found is _UNKNOWN:
                found = _raw_outcome(raw, tag, vr, prefix, meta, private, encoding)
                if memo is not None:
                    if len(outcomes) >= MAX_OUTCOMES:
                        outcomes.clear()
                    outcomes[memo] = found
            if found is not _PYDICOM:
                if found is not None:
                    element = cast(AuditElement, found)
                    yield _new_tuple(AuditElement, (*element[:5], _creator_of(ds, tag, creators), element[6])) \
                        if private else element   # (element._replace: a Python call of namedtuple's)
                continue
        elif own and type(raw) is sequence_type and raw.VR == "SQ":   # a sequence of undefined length, as read
            keyword = raw.keyword or (_keyword(tag) if not private else "") or _tag_text(tag)
            yield from _sequence(ds, tag, raw, prefix + keyword, meta, notes)
            continue
        yield from _walk_element(ds, tag, prefix, meta, notes)


_UNKNOWN, _PYDICOM = object(), object()
_new_tuple = tuple.__new__
MAX_REMEMBERED = 256       # bytes of a raw value whose outcome is remembered
MAX_OUTCOMES = 1 << 14     # outcomes remembered per process, then forgotten at once (<= ~16 MB)
_OUTCOMES: dict[tuple[object, ...], object] = {}


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
        yield from _walk(item, f"{location}[{index}].", meta, notes)


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
        text = _text(value)
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


def _creator_of(ds: Dataset, tag: int, creators: dict[int, str]) -> str:
    """:func:`_creator`, remembered per data set walk (a private block has many elements)."""
    block = (tag & 0xFFFF0000) | ((tag & 0xFFFF) >> 8)
    known = creators.get(block)
    if known is None:
        from pydicom.tag import BaseTag

        RawDataElement = dicom_raw.pydicom_elements()[0]   # noqa: N806
        raw = ds.get_item(BaseTag(block)) if 0x10 <= block & 0xFFFF <= 0xFF else None
        text = None
        if isinstance(raw, RawDataElement) and raw.VR == "LO" and raw.value is not None \
                and raw.length != 0xFFFFFFFF:   # a creator is an LO: its text without pydicom's element around it
            text = raw_text("LO", raw.value, _encoding(ds))
        known = creators[block] = _creator(ds, tag) if text is None else text
    return known


def _code_values(ds: Dataset) -> tuple[str, ...]:
    try:
        items = ds.get("DeidentificationMethodCodeSequence")
        return tuple(_text(item.get("CodeValue")) for item in (items or []) if _text(item.get("CodeValue")))
    except Exception:
        return ()


def _single(ds: Dataset, keyword: str) -> str | None:
    try:
        if keyword not in ds:
            return None
        return _text(ds.get(keyword)).upper()
    except Exception:
        return ""


def _parse(path: Path, marked: bool, opener: Callable[[], BinaryIO] | None = None) -> tuple[Dataset, list[str]]:
    from pydicom import dcmread

    notes: list[str] = []
    with (opener() if opener is not None else path.open("rb")) as handle:
        ds = dcmread(handle, stop_before_pixels=True, force=not marked)
        meta = getattr(ds, "file_meta", None)
        syntax = _text(meta.get("TransferSyntaxUID")) if meta is not None else ""
        if syntax == DEFLATED:  # the stream position means nothing in a deflated data set: read it all
            handle.seek(0)
            ds = dcmread(handle, force=not marked)
            if "PixelData" in ds:
                del ds.PixelData
            return ds, notes
        tail = _tail(handle, ds, syntax or "1.2.840.10008.1.2.1", notes) if marked else None
    if tail is not None:
        for element in tail:   # Data Set Trailing Padding too: the profile removes it (X), as anonymise does
            ds[element.tag] = element
    return ds, notes


def audit_file(root: Path, rel: str, opener: Callable[[], BinaryIO] | None = None,
               size: int | None = None) -> AuditedFile | str | None:
    """The audit's view of one file: None when it is not DICOM, a reason when it cannot be read (or an object's)."""
    path = root / rel
    kind = dicom_files.dicom_kind(path, opener)   # from the first bytes only: a large file of zeros is never parsed
    if kind == dicom_files.NO_META:
        return dicom_files.NO_META_REASON
    marked = None if kind is False else kind == dicom_files.PART10
    if marked is None:
        return "the file cannot be opened" if _named_dicom(path) else None
    if not marked and not path.name.lower().endswith(DICOM_SUFFIXES):
        return None
    if not marked and kind != dicom_files.BARE:
        return None if (path.stat().st_size if size is None else size) < 132 else (
            "it has no 'DICM' marker at byte 128 and does not parse as a DICOM data set")
    try:
        ds, notes = _parse(path, marked, opener)
    except Exception as error:
        if not marked:
            return None if (path.stat().st_size if size is None else size) < 132 or not _named_dicom(path) else (
                "it has no 'DICM' marker at byte 128 and does not parse as a DICOM data set")
        return " ".join(str(error).split()) or type(error).__name__
    if not marked and not any((int(tag) >> 16) in (0x0008, 0x0010, 0x0020) for tag in list(ds.keys())):
        return "it has no 'DICM' marker at byte 128 and does not parse as a DICOM data set"
    if not len(ds):
        return "no data elements follow the file meta information: the file is truncated or holds no data set"
    return _audited(rel, ds, notes)


def _audited(rel: str, ds: Dataset, notes: list[str]) -> AuditedFile:
    """The audit's view of a parsed data set with elements (trailing elements merged in)."""
    elements: list[AuditElement] = []
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        elements.extend(_walk(meta, "", True, notes))
    elements.extend(_walk(ds, "", False, notes))
    values = cast("Dataset", dicom_raw.HeaderValues(ds))   # ds.get's values, plain ones converted straight
    sop_class = _text(values.get("SOPClassUID")) or (_text(meta.get("MediaStorageSOPClassUID")) if meta else "")
    method = values.get("DeidentificationMethod")
    return AuditedFile(
        path=rel, elements=tuple(elements), identity_removed=_single(values, "PatientIdentityRemoved"),
        method=tuple(v for v in _text(method).split("\\") if v) if method is not None else (),
        method_codes=_code_values(ds), temporal=_single(values, "LongitudinalTemporalInformationModified"),
        burned_in=_single(values, "BurnedInAnnotation"), visual_features=_single(values, "RecognizableVisualFeatures"),
        directory=sop_class == MEDIA_STORAGE_DIRECTORY, notes=tuple(notes))


def audit_task(job: tuple[Path, str], opener: Callable[[], BinaryIO] | None = None,
               size: int | None = None) -> AuditedFile | str | None:
    """One file, the boundary: whatever a hostile file does becomes a reason, never an exception."""
    root, rel = job
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = audit_file(root, rel, opener, size)
        except Exception as error:
            result = " ".join(str(error).split()) or type(error).__name__
        return result[:300] if isinstance(result, str) else result


def candidates(facts: Facts) -> tuple[list[str], int]:
    """The files worth opening, and how many were skipped by name or because another reader knows them."""
    files = facts.files
    wanted = [p for p in sorted(files) if not _skipped(p) and p not in facts.headers and facts.in_scope(p)
              and not p.lower().endswith(NOT_DICOM_SUFFIXES)]
    return wanted, len(files) - len(wanted)


def gather(facts: Facts, run: Callable[[list[str]], Iterable[AuditedFile | str | None]] | None = None) -> None:
    """Audit-read every DICOM file of the release into ``facts.dicom_audit`` (taken from the profile dicom's
    reader when it already read the audit in the same parse: :func:`read_together`; ``run``: objects in a store)."""
    if facts.dicom is not None and facts.dicom.audit is not None:
        facts.dicom_audit, facts.dicom.audit = facts.dicom.audit, None
        return
    started = time.perf_counter()
    paths, skipped = candidates(facts)
    results = run(paths) if run else run_tasks(audit_task, [(facts.root, rel) for rel in paths], facts.jobs)
    facts.dicom_audit = _collect(facts, paths, skipped, results, started)


def _collect(facts: Facts, paths: list[str], skipped: int, results: Iterable[AuditedFile | str | None],
             started: float, judge: Callable[[AuditedFile], object] | None = None) -> DicomAudit:
    audit = DicomAudit(looked_at=len(paths), skipped=skipped)
    shared: dict[AuditElement, AuditElement] = {}
    files = facts.files
    for rel, result in zip(paths, results, strict=True):
        if result is None:
            continue
        if isinstance(result, str):
            audit.unreadable[rel] = result
            continue
        elements = tuple(shared.setdefault(e, e) for e in result.elements)
        audited = audit.files[rel] = replace(result, elements=elements)
        audit.bytes += files[rel].size
        if judge is not None:
            judge(audited)
    audit.seconds = round(time.perf_counter() - started, 3)
    return audit


Together = tuple[dicom_files.DicomFile | str | None, AuditedFile | str | None]   # (header, audit) of one file


def read_together(facts: Facts, judge: Callable[[AuditedFile], object] | None = None) -> None:
    """The fast tier of profile dicom: each file parsed once for both readers, ``facts.dicom`` (headers and series)
    and the privacy audit (in ``facts.dicom.audit`` until :func:`gather` takes it; each file given to ``judge``).

    Parsing holds the GIL: batches of ``BATCH_FILES`` on processes, streamed back in order (``run_batches``), each
    file read exactly as the two readers one after the other read it (``dicom.read_task``, :func:`audit_task`)."""
    started = time.perf_counter()
    paths = dicom_files.candidates(facts)
    audited, skipped = candidates(facts)
    wanted = set(audited)
    headers: list[dicom_files.DicomFile | str | None] = []
    items = [(facts.root, rel, rel in wanted) for rel in paths]
    if len(items) > BATCH_FILES and (facts.jobs or default_jobs()) > 1 and dicom_files.part10_among(facts.root, paths):
        dicom_raw.load_pydicom(deid_table)   # before the workers fork, so that they inherit it
    results = run_batches(together_batch, items, facts.jobs, batch_size=BATCH_FILES, processes=True)
    def audits() -> Iterator[AuditedFile | str | None]:   # each as its batch returns; run to its end (strict zip)
        for (_, _, audit), (header, result) in zip(items, results, strict=True):
            headers.append(header)
            if audit:
                yield result
    audit = _collect(facts, audited, skipped, audits(), started, judge)
    facts.dicom = dicom_files.assemble(paths, ((header, None) for header in headers))
    facts.dicom.audit = audit


BATCH_FILES = 48   # files per task of read_together: a few hundred tasks for a large series, little pickling each


def together_batch(batch: list[tuple[Path, str, bool]]) -> list[Together]:
    """A task of :func:`read_together` (picklable): ``(root, path, audit it too)`` -> (header, audit) per file.
    Equal elements of the batch's files are one object, pickled once (a series repeats them in every slice)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = [_together(root, rel, audit) for root, rel, audit in batch]
    shared: dict[AuditElement, AuditElement] = {}
    return [(header, replace(result, elements=tuple(shared.setdefault(e, e) for e in result.elements))
             if isinstance(result, AuditedFile) else result) for header, result in results]


def _together(root: Path, rel: str, audit: bool) -> Together:
    try:
        both = parse_together(root, rel, audit)
    except Exception:
        both = None
    if both is None:  # not a plainly readable Part 10 file: each reader on its own, with its own wording
        return dicom_files.read_task((root, rel, False))[0], audit_task((root, rel)) if audit else None
    return both


def parse_together(root: Path, rel: str, audit: bool, opener: Callable[[], BinaryIO] | None = None) -> Together | None:
    """One parse for both readers, or None when the file takes another road in either (not Part 10, a parse
    error, a deflated data set, no elements)."""
    with opener() if opener is not None else open_regular(root / rel, "rb") as handle:   # opener: an object's
        head = handle.read(dicom_raw.HEAD_CHUNK)
        if dicom_files.dicom_head(head[:dicom_files.HEAD_BYTES]) != dicom_files.PART10:
            return None
        with _unvalidated():   # a Part 10 file, read by pydicom: without its value validation (dicom_raw)
            return _read_both(handle, head, rel, audit)


def _read_both(handle: IO[bytes], head: bytes, rel: str, audit: bool) -> Together | None:
    ds = dicom_raw.read_head(handle, head)
    meta = getattr(ds, "file_meta", None)
    syntax = _text(meta.get("TransferSyntaxUID")) if meta is not None else ""
    if syntax == DEFLATED or not len(ds):
        return None
    position = handle.tell()
    header = dicom_files.interpret(rel, ds, dicom_files.pixel_extent(handle, ds))
    if not audit:
        return header, None
    handle.seek(position)
    notes: list[str] = []
    tail = _tail(handle, ds, syntax or "1.2.840.10008.1.2.1", notes)
    if tail is not None:
        for element in tail:
            ds[element.tag] = element
    return header, _audited(rel, ds, notes)


def text_values(audit: DicomAudit) -> Iterator[tuple[str, str, str]]:
    """(path, location, text) of every text value the audit read, for the known-identifier search. Dates (DA,
    and the date part of DT) are included, so a listed birth date is found wherever it is kept."""
    for path, audited in sorted(audit.files.items()):
        for element in audited.elements:
            if not element.value or element.vr in ("UI", "TM", "SQ"):
                continue
            if element.vr == "DT":
                yield path, element.location, " ".join(value[:8] for value in element.values)
            else:
                yield path, element.location, element.value
