"""Reading DICOM files: headers (and, with ``--deep``, pixel data), grouped into series. No judgement here.

``gather(facts)`` is the ``dicom`` profile's gatherer: it stores a ``DicomFacts`` in ``facts.dicom``.
A file is a DICOM candidate when it carries the ``DICM`` marker at byte 128 or has a DICOM file suffix;
other files are skipped. A candidate that pydicom cannot parse (``force=False``) is recorded with the reason.
"""

from __future__ import annotations

import itertools
import os
import posixpath
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO, cast

from curator.executor import run_tasks
from curator.io.dicom_raw import HeaderValues
from curator.io.dicom_values import _integer, _number, _vector, element_value, finite_numbers, group_value, whole_number
from curator.io.junk import is_junk_path
from curator.io.regular import open_regular

if TYPE_CHECKING:   # pydicom is imported where a file is read: validate without DICOM files never loads it
    from pydicom.dataset import Dataset

    from curator.io.dicom_audit import AuditedFile, DicomAudit, Together
    from curator.io.facts import Facts

__all__ = [
    "DICOM_SUFFIXES",
    "Decoding",
    "DicomFacts",
    "DicomFile",
    "DicomSeries",
    "dicom_head",
    "dicom_kind",
    "element_value",
    "finite_numbers",
    "gather",
    "group_value",
    "read_file",
    "whole_number",
]


DICOM_SUFFIXES = (".dcm", ".dicom", ".dic", ".ima")
MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"  # DICOMDIR: an index of the files, not an image
MAX_DECODED_BYTES = 1 << 30  # never let a header make the decoder allocate more than this per file
IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
PIXEL_DATA_TAG = b"\xe0\x7f\x10\x00"  # (7FE0,0010) little endian


@dataclass(frozen=True)
class DicomFile:
    """The header of one DICOM file, reduced to what the series checks need."""

    path: str
    sop_class_uid: str
    sop_instance_uid: str
    study_uid: str
    series_uid: str
    patient_id: str
    modality: str
    series_number: int | None
    series_description: str
    instance_number: int | None
    transfer_syntax: str
    rows: int | None
    columns: int | None
    frames: int
    pixel_spacing: tuple[float, float] | None
    orientation: tuple[float, float, float, float, float, float] | None
    position: tuple[float, float, float] | None
    gantry_tilt: float | None
    image_type: tuple[str, ...]
    invalid: tuple[str, ...] = ()  # "Keyword: why" for attributes present with values that do not parse
    pixel_expected: int | None = None  # uncompressed syntaxes: bytes of pixel data the header implies
    pixel_present: int | None = None   # ... and the bytes the file actually holds for it

    @property
    def is_image(self) -> bool:
        return self.rows is not None and self.columns is not None

    @property
    def is_localizer(self) -> bool:
        return "LOCALIZER" in self.image_type

    @property
    def syntax_name(self) -> str:
        return _syntax_name(self.transfer_syntax)


@dataclass(frozen=True)
class Decoding:
    """What happened when the pixel data of one file was decoded (``--deep``)."""

    syntax: str                     # transfer syntax name
    error: str = ""                 # the decoder's reason when decoding failed
    missing: tuple[str, ...] = ()   # no decoder installed: pydicom's plugin requirements ("pylibjpeg - requires ...")

    @property
    def ok(self) -> bool:
        return not self.error and not self.missing


@dataclass
class DicomSeries:
    """The files of one series in one patient folder."""

    patient: str        # top-level folder ('' when the files lie in the root)
    folder: str         # the deepest folder holding all the files ('' = root)
    study_uid: str
    series_uid: str
    series_number: int | None
    files: list[DicomFile]

    label: str = ""     # how a radiographer names it: number and description (+ UID when those collide)


def _label(series: DicomSeries) -> str:
    first = series.files[0]
    parts = []
    if series.series_number is not None:
        parts.append(f"#{series.series_number}")
    if first.series_description:
        parts.append(f'"{first.series_description}"')
    if not parts and series.series_uid:
        parts.append(series.series_uid)
    return " ".join(parts) or "?"


@dataclass
class DicomFacts:
    files: dict[str, DicomFile] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)     # path -> reason
    series: list[DicomSeries] = field(default_factory=list)
    decoded: dict[str, Decoding] = field(default_factory=dict)   # --deep: path -> outcome
    directories: list[str] = field(default_factory=list)         # DICOMDIR files (not images)
    looked_at: int = 0                                           # files considered
    # the fast tier's privacy audit, read in the same parse of each file; io.dicom_audit.gather takes it from here
    audit: DicomAudit | None = None


def _syntax_name(uid: str) -> str:
    if not uid:
        return "unknown transfer syntax"
    from pydicom.uid import UID

    name = UID(uid).name
    return f"{name} ({uid})" if name != uid else uid


HEAD_BYTES = 1024  # what :func:`dicom_head` looks at: the preamble, the marker and the first elements
_VRS = frozenset(b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US "
                 b"UT UV".split())
_LONG_VRS = frozenset(b"OB OD OF OL OV OW SQ UC UN UR UT UV".split())   # 2 reserved bytes, then a 4-byte length
PART10, BARE, NO_META = "part10", "bare", "no-meta"
NO_META_REASON = ("the 'DICM' marker at byte 128 is not followed by the file meta information (group 0002), as DICOM "
                  "Part 10 requires: the file is damaged or not DICOM")


def dicom_head(head: bytes) -> str | None:
    """Whether the first bytes of a file (up to HEAD_BYTES) are DICOM, judged from them alone, in O(1).

    ``"part10"``: the ``DICM`` marker at byte 128 (DICOM Part 10), followed by a group 0002 tag; ``"no-meta"``: the
    marker followed by anything else (damaged: pydicom would parse whatever follows, e.g. gigabytes of zeros, as
    empty elements, so such a file is never parsed). ``"bare"``: no preamble, but a data set that
    pydicom's ``force=True`` reads, recognised by a stated heuristic: the first element is a little-endian tag of
    group 0002 (file meta) or 0008 (every image's first group: SOP Class, dates, modality) with an element number
    below 0x1000, followed by an explicit VR or an implicit 4-byte length under 64 KiB; and when the next element
    starts within the head, its tag comes after the first in the same or a later group. None: not DICOM (a file of
    zeros, text, an image of another format), however it is named. Data sets that start with another group are not
    recognised without a preamble.
    """
    if len(head) >= 132 and head[128:132] == b"DICM":
        return PART10 if head[132:134] == b"\x02\x00" else NO_META
    if len(head) < 8:
        return None
    group, element = int.from_bytes(head[0:2], "little"), int.from_bytes(head[2:4], "little")
    if group not in (0x0002, 0x0008) or element >= 0x1000:
        return None
    vr = head[4:6]
    if vr in _VRS:
        if vr in _LONG_VRS:
            if head[6:8] != b"\0\0" or len(head) < 12:
                return None
            length, start = int.from_bytes(head[8:12], "little"), 12
        else:
            length, start = int.from_bytes(head[6:8], "little"), 8
    else:
        length, start = int.from_bytes(head[4:8], "little"), 8
    if length == 0xFFFFFFFF:   # an undefined length (a sequence): accepted on the first tag alone
        return BARE
    if length >= 0x10000:
        return None
    following = start + length
    if following + 4 <= len(head):
        next_group = int.from_bytes(head[following:following + 2], "little")
        next_element = int.from_bytes(head[following + 2:following + 4], "little")
        if (next_group, next_element) <= (group, element):
            return None
    return BARE


def head_of(path: Path, size: int = HEAD_BYTES, opener: Callable[[], BinaryIO] | None = None) -> bytes:
    """The first ``size`` bytes of a regular file, opened without blocking (see :mod:`curator.io.regular`); or of
    what ``opener`` opens (an object in a store, read by ranges)."""
    with opener() if opener is not None else open_regular(path, "rb") as handle:
        head: bytes = handle.read(size)
        return head


def dicom_kind(path: Path, opener: Callable[[], BinaryIO] | None = None) -> str | bool | None:
    """:func:`dicom_head` of the file at ``path`` (reading HEAD_BYTES only, never the whole file); False when it
    cannot be opened or is no regular file."""
    try:
        return dicom_head(head_of(path, opener=opener))
    except OSError:
        return False


def part10_among(root: Path, paths: Iterable[str], count: int = 16) -> bool:
    """Whether one of the first ``count`` of ``paths`` (names of other kinds left out) is a Part 10 file: a hint, from
    their first bytes, that the release's reading will need pydicom."""
    from curator.io.dicom_audit import NOT_DICOM_SUFFIXES

    named = (rel for rel in paths if not rel.lower().endswith(NOT_DICOM_SUFFIXES))
    return any(dicom_kind(root / rel) == PART10 for rel in itertools.islice(named, count))


def _marker(path: Path) -> bool | None:
    """True when the file has the DICOM Part 10 marker, False when not, None when it cannot be opened."""
    kind = dicom_kind(path)
    return None if kind is False else kind == PART10


def _named_dicom(path: Path) -> bool:
    return path.name.lower().endswith(DICOM_SUFFIXES) or path.name.upper() == "DICOMDIR"


def _text(ds: Dataset, keyword: str) -> str:
    try:
        value = ds.get(keyword)
    except Exception:  # a malformed element; the caller cannot use it either way
        return ""
    if value is None:
        return ""
    return str(value).strip().strip("\x00").strip()


def _image_type(ds: Dataset) -> tuple[str, ...]:
    try:
        value = ds.get("ImageType")
    except Exception:
        return ()
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip().upper() for part in value.split("\\"))
    try:
        return tuple(str(part).strip().upper() for part in value)
    except TypeError:
        return ()


def _expected_pixel_bytes(ds: Dataset, syntax: str, rows: int | None, columns: int | None, frames: int,
                          invalid: list[str]) -> int | None:
    """Bytes of native pixel data the header implies; None for compressed or unknown syntaxes."""
    if syntax not in (IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN) or not rows or not columns:
        return None
    bits = _integer(ds, "BitsAllocated", invalid)
    samples = _integer(ds, "SamplesPerPixel", invalid) or 1
    if not bits or bits <= 0 or samples <= 0:
        return None
    return (rows * columns * frames * samples * bits + 7) // 8


def _header(rel: str, ds: Dataset, pixel_present: int | None = None) -> DicomFile:
    invalid: list[str] = []
    meta = getattr(ds, "file_meta", None)
    syntax = _text(meta, "TransferSyntaxUID") if meta is not None else ""
    sop_class = _text(ds, "SOPClassUID") or (_text(meta, "MediaStorageSOPClassUID") if meta is not None else "")
    spacing = _vector(ds, "PixelSpacing", 2, invalid)
    orientation = _vector(ds, "ImageOrientationPatient", 6, invalid)
    position = _vector(ds, "ImagePositionPatient", 3, invalid)
    frames = _integer(ds, "NumberOfFrames", invalid) or 1
    frames = max(frames, 1)
    rows = _integer(ds, "Rows", invalid)
    columns = _integer(ds, "Columns", invalid)
    expected = _expected_pixel_bytes(ds, syntax, rows, columns, frames, invalid)
    if pixel_present is None and expected is not None and "PixelData" in ds:
        try:
            pixel_present = len(ds.PixelData)
        except Exception:
            pixel_present = None
    return DicomFile(
        path=rel,
        sop_class_uid=sop_class,
        sop_instance_uid=_text(ds, "SOPInstanceUID"),
        study_uid=_text(ds, "StudyInstanceUID"),
        series_uid=_text(ds, "SeriesInstanceUID"),
        patient_id=_text(ds, "PatientID"),
        modality=_text(ds, "Modality").upper(),
        series_number=_integer(ds, "SeriesNumber", invalid),
        series_description=_text(ds, "SeriesDescription"),
        instance_number=_integer(ds, "InstanceNumber", invalid),
        transfer_syntax=syntax,
        rows=rows,
        columns=columns,
        frames=frames,
        pixel_spacing=(spacing[0], spacing[1]) if spacing else None,
        orientation=(orientation[0], orientation[1], orientation[2], orientation[3], orientation[4],
                     orientation[5]) if orientation else None,
        position=(position[0], position[1], position[2]) if position else None,
        gantry_tilt=_number(ds, "GantryDetectorTilt", invalid),
        image_type=_image_type(ds),
        invalid=tuple(invalid),
        pixel_expected=expected,
        pixel_present=pixel_present if expected is not None else None,
    )


def missing_decoder(syntax: str) -> tuple[str, ...]:
    """pydicom's requirements for decoding ``syntax`` when no installed plugin can; () when one can.

    Raises NotImplementedError for a transfer syntax pydicom has no decoder for at all.
    """
    from pydicom.pixels.decoders.base import get_decoder

    decoder = get_decoder(syntax)
    if decoder.is_available:
        return ()
    return tuple(decoder.missing_dependencies) or ("no decoder plugin is available",)


def _decode(ds: Dataset, header: DicomFile) -> Decoding:
    name = header.syntax_name
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        return Decoding(name, error="the file has image attributes but no pixel data element")
    try:
        missing = missing_decoder(header.transfer_syntax)
    except NotImplementedError:
        return Decoding(name, error="pydicom has no decoder for this transfer syntax")
    except Exception as error:
        return Decoding(name, error=f"cannot choose a decoder: {error}")
    if missing:
        return Decoding(name, missing=missing)
    try:
        bits = int(ds.get("BitsAllocated") or 16)
        samples = int(ds.get("SamplesPerPixel") or 1)
    except Exception as error:
        return Decoding(name, error=f"invalid BitsAllocated or SamplesPerPixel: {error}")
    implied = (header.rows or 0) * (header.columns or 0) * header.frames * samples * max(bits, 8) // 8
    if implied > MAX_DECODED_BYTES:
        return Decoding(name, error=f"the header implies {implied} bytes of pixels, more than the "
                                    f"{MAX_DECODED_BYTES} bytes allowed per file")
    try:
        array = ds.pixel_array
    except Exception as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        return Decoding(name, error=reason)
    expected = (header.rows, header.columns)
    if tuple(array.shape[-3 if samples > 1 else -2:][:2]) != expected:
        return Decoding(name, error=f"decoded {array.shape} pixels, the header says {header.rows}x{header.columns}")
    return Decoding(name)


def pixel_extent(handle: IO[bytes], ds: Dataset) -> int | None:
    """Bytes of a native (7FE0,0010) element present in the file, from its element header at the handle."""
    meta = getattr(ds, "file_meta", None)
    syntax = _text(meta, "TransferSyntaxUID") if meta is not None else ""
    if syntax not in (IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN):
        return None
    start = handle.tell()
    element = handle.read(12)
    if element[:4] != PIXEL_DATA_TAG:
        return 0 if not element else None  # the file ends where the pixel data should begin
    if syntax == EXPLICIT_VR_LITTLE_ENDIAN:
        header_size, length = 12, int.from_bytes(element[8:12], "little")
    else:
        header_size, length = 8, int.from_bytes(element[4:8], "little")
    if length == 0xFFFFFFFF:
        return None
    size = handle.seek(0, os.SEEK_END)   # the file's size, also of an object read by ranges (no fileno)
    return max(0, min(length, size - start - header_size))


def read_file(root: Path, rel: str, deep: bool, opener: Callable[[], BinaryIO] | None = None
              ) -> tuple[DicomFile | str | None, Decoding | None]:
    """(header, decoding) of one file; the header is None for a non-DICOM file and a reason when unreadable. The
    file is opened once: its first bytes classify it (:func:`dicom_head`), and the same handle is parsed.
    ``opener``: opens an object in a store instead (read by ranges)."""
    path = root / rel
    try:
        handle: IO[bytes] | None = opener() if opener is not None else open_regular(path, "rb")
    except OSError:
        handle = None
    try:
        return _read_opened(rel, path, handle, deep)
    finally:
        if handle is not None:
            handle.close()


def _read_opened(rel: str, path: Path, handle: IO[bytes] | None, deep: bool
                 ) -> tuple[DicomFile | str | None, Decoding | None]:
    kind = False if handle is None else dicom_head(handle.read(HEAD_BYTES))
    if kind == NO_META:
        return NO_META_REASON, None
    marked = None if kind is False else kind == PART10
    if not marked or handle is None:
        if not _named_dicom(path):
            return None, None  # not DICOM, and not pretending to be
        if marked is None:
            return "the file cannot be opened", None
        size = handle.seek(0, os.SEEK_END) if handle is not None else 0
        return ("it has no 'DICM' marker at byte 128, so it is not a DICOM (Part 10) file" if size >= 132
                else f"it is only {size} bytes long, too short for a DICOM file"), None
    present = None
    try:
        from pydicom import dcmread

        handle.seek(0)
        ds = dcmread(handle, stop_before_pixels=not deep, force=False)
        if not deep:  # pydicom stopped at the pixel data element: measure it without reading it
            present = pixel_extent(handle, ds)
    except Exception as error:
        return " ".join(str(error).split()) or type(error).__name__, None
    if not len(ds):
        return "no data elements follow the file meta information: the file is truncated or holds no image", None
    header = interpret(rel, ds, present)
    if isinstance(header, str):
        return header, None
    decoding = _decode(ds, header) if deep and header.is_image else None
    return header, decoding


def interpret(rel: str, ds: Dataset, present: int | None) -> DicomFile | str:
    """The header of a parsed Part 10 data set with elements, or why it is none (``present``: the bytes of native
    pixel data the file holds, :func:`pixel_extent`). Shared with the audit, which parses each file once for
    both (``curator.io.dicom_audit.read_together``)."""
    try:
        header = _header(rel, cast("Dataset", HeaderValues(ds)), present)
    except Exception as error:
        return f"the DICOM header cannot be interpreted: {error}"
    if not header.sop_class_uid and not header.sop_instance_uid:
        return "it has neither a SOP Class UID nor a SOP Instance UID, so it is no DICOM object"
    return header


def _patient(path: str) -> str:
    return path.split("/", 1)[0] if "/" in path else ""


def _series_key(item: DicomFile) -> tuple[object, ...]:
    patient = _patient(item.path)
    if item.series_uid:
        return (patient, item.study_uid, item.series_uid)
    # anonymisation sometimes empties the UIDs: the folder, series number and orientation still tell series apart
    orientation = tuple(round(v, 2) for v in item.orientation) if item.orientation else None
    return (patient, item.study_uid, "", posixpath.dirname(item.path), item.series_number, orientation)


def group_series(files: list[DicomFile]) -> list[DicomSeries]:
    groups: dict[tuple[object, ...], list[DicomFile]] = {}
    for item in sorted(files, key=lambda f: f.path):
        groups.setdefault(_series_key(item), []).append(item)
    series = []
    for members in groups.values():
        first = members[0]
        folders = {posixpath.dirname(m.path) for m in members}
        folder = posixpath.commonpath(sorted(folders)) if len(folders) > 1 else folders.pop()
        series.append(DicomSeries(patient=_patient(first.path), folder=folder, study_uid=first.study_uid,
                                  series_uid=first.series_uid, series_number=first.series_number, files=members))
    series.sort(key=lambda s: (s.folder, s.series_number if s.series_number is not None else -1, s.series_uid,
                               s.files[0].path))
    names = Counter((one.folder, _label(one)) for one in series)
    for one in series:
        one.label = _label(one)
        if names[(one.folder, one.label)] > 1:  # several series in one folder with one number and description
            one.label += f" ({one.series_uid or one.files[0].path.rsplit('/', 1)[-1]})"
    return series


def _skipped(path: str) -> bool:
    """OS litter (``__MACOSX``, ``._name``, ``Thumbs.db``, ...) is not data; the inventory check reports it."""
    return is_junk_path(path)


def read_task(job: tuple[Path, str, bool]) -> tuple[DicomFile | str | None, Decoding | None]:
    """One file, picklable for a process pool: ``(root, relative path, decode the pixels too)``."""
    root, rel, deep = job
    with warnings.catch_warnings():  # pydicom warns about every odd value; the checks report what matters
        warnings.simplefilter("ignore")
        try:
            return read_file(root, rel, deep)
        except Exception as error:  # the boundary: whatever a hostile file does becomes a reason
            return " ".join(str(error).split()) or type(error).__name__, None


def gather(facts: Facts, judge: Callable[[AuditedFile], object] | None = None,
           task: Callable[[list[tuple[Path, str, bool]]], list[Together]] | None = None) -> None:
    """Read every DICOM file of the release (in parallel) into ``facts.dicom``.

    Decoding pixels (--deep) is CPU work that holds the GIL in places, so it runs on processes. The fast tier
    parses each file once for the headers and the privacy audit together, in batches on processes (parsing holds
    the GIL): :func:`curator.io.dicom_audit.read_together`, which gives ``judge`` each audited file as it arrives
    (``task``: the batch function, e.g. one judging each file in the worker).
    """
    if not facts.deep:  # the fast tier: one parse of each file for the headers and the privacy audit together
        from curator.io.dicom_audit import read_together  # it imports this module

        read_together(facts, judge, task)
        return
    paths = candidates(facts)
    jobs = [(facts.root, rel, facts.deep) for rel in paths]
    facts.dicom = assemble(paths, run_tasks(read_task, jobs, facts.jobs, processes=facts.deep))


def candidates(facts: Facts) -> list[str]:
    """The files :func:`gather` opens: every file but OS litter."""
    return sorted(p for p in facts.files if not _skipped(p))


def assemble(paths: list[str], results: Iterable[tuple[DicomFile | str | None, Decoding | None]]) -> DicomFacts:
    """The DicomFacts of the results of :func:`read_task` for ``paths`` (in that order)."""
    found = DicomFacts(looked_at=len(paths))
    for rel, (header, decoding) in zip(paths, results, strict=True):
        if header is None:
            continue
        if isinstance(header, str):
            found.unreadable[rel] = header
            continue
        if header.sop_class_uid == MEDIA_STORAGE_DIRECTORY:
            found.directories.append(rel)
            continue
        found.files[rel] = header
        if decoding is not None:
            found.decoded[rel] = decoding
    found.series = group_series(list(found.files.values()))
    return found
