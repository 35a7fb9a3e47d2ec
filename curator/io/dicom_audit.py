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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO, cast

from curator.executor import run_batches, run_tasks, where_batches_run
from curator.io import dicom as dicom_files
from curator.io import dicom_raw
from curator.io.deid_table import deid_table
from curator.io.dicom import DICOM_SUFFIXES, MEDIA_STORAGE_DIRECTORY, _named_dicom, _skipped
from curator.io.dicom_raw import read_tail as _tail
from curator.io.dicom_raw import unvalidated as _unvalidated
from curator.io.dicom_walk import TEXT_VRS, AuditElement
from curator.io.dicom_walk import value_text as _text
from curator.io.dicom_walk import walk as _walk
from curator.io.regular import open_regular

if TYPE_CHECKING:   # pydicom is imported where a file is read: validate without DICOM files never loads it
    from pydicom.dataset import Dataset

    from curator.io.facts import Facts

__all__ = ["TEXT_VRS", "AuditElement", "AuditedFile", "DicomAudit", "audit_file", "audit_task", "gather",
           "parse_together", "text_values"]

# files that are certainly not DICOM: skipped without opening them
NOT_DICOM_SUFFIXES = (".nii", ".nii.gz", ".mgz", ".nrrd", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp",
                      ".gif", ".xlsx", ".xls", ".csv", ".tsv", ".md", ".pdf", ".json", ".jsonld", ".yaml", ".yml",
                      ".txt", ".html", ".zip", ".tar", ".gz", ".tgz", ".xz", ".bz2", ".zst", ".7z", ".npy", ".npz",
                      ".py", ".sha256", ".md5")
DEFLATED = "1.2.840.10008.1.2.1.99"
META_GROUP = 0x0002


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


def _code_values(ds: Dataset) -> tuple[str, ...]:
    try:
        if "DeidentificationMethodCodeSequence" not in ds:   # (absent in most files: not looked up by keyword)
            return ()
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
        method_codes=_code_values(values), temporal=_single(values, "LongitudinalTemporalInformationModified"),
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


def candidates(facts: Facts) -> tuple[Sequence[str], int]:
    """The files worth opening, in path order, and how many were skipped by name or because another reader knows
    them (a walk's paths held as its positions: no string a file at 1M files, issue 15)."""
    def wanted(path: str) -> bool:
        return not _skipped(path) and path not in facts.headers and facts.in_scope(path) \
            and not path.lower().endswith(NOT_DICOM_SUFFIXES)

    paths = facts.file_paths(wanted)
    return paths, len(facts.files) - len(paths)


def gather(facts: Facts, run: Callable[[Sequence[str]], Iterable[AuditedFile | str | None]] | None = None) -> None:
    """Audit-read every DICOM file of the release into ``facts.dicom_audit`` (taken from the profile dicom's
    reader when it already read the audit in the same parse: :func:`read_together`; ``run``: objects in a store)."""
    if facts.dicom is not None and facts.dicom.audit is not None:
        facts.dicom_audit, facts.dicom.audit = facts.dicom.audit, None
        return
    started = time.perf_counter()
    paths, skipped = candidates(facts)
    results = run(paths) if run else run_tasks(audit_task, [(facts.root, rel) for rel in paths], facts.jobs)
    facts.dicom_audit = _collect(facts, paths, skipped, results, started)


def _collect(facts: Facts, paths: Sequence[str], skipped: int, results: Iterable[AuditedFile | str | None],
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


def read_together(facts: Facts, judge: Callable[[AuditedFile], object] | None = None,
                  task: Callable[[list[tuple[Path, str, bool]]], list[Together]] | None = None) -> None:
    """The fast tier of profile dicom: each file parsed once for both readers, ``facts.dicom`` (headers and series)
    and the privacy audit (in ``facts.dicom.audit`` until :func:`gather` takes it; each file given to ``judge``).

    Batches of ``BATCH_FILES`` on processes (parsing holds the GIL), streamed back in order, each file read as the
    two readers read it: by ``task`` (e.g. judging in the workers) on other processes, else :func:`together_batch`."""
    started, paths, (audited, skipped) = time.perf_counter(), dicom_files.candidates(facts), candidates(facts)
    wanted, headers = set(audited), cast(list[dicom_files.DicomFile | str | None], [])
    items = [(facts.root, rel, rel in wanted) for rel in paths]
    where = where_batches_run(len(items), BATCH_FILES, facts.jobs)
    if where == "pool" and dicom_files.part10_among(facts.root, paths):
        dicom_raw.load_pydicom(deid_table)   # before the workers fork, so that they inherit it
    batch = task if task is not None and where != "here" else together_batch
    results = run_batches(batch, items, facts.jobs, batch_size=BATCH_FILES, processes=True)
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
