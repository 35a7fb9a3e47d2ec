"""Reading what the privacy audit of non-DICOM files judges: metadata and text, never payloads. No judgement here.

``gather(facts)`` runs for every profile (``curator.validate.GATHERERS``) and stores a ``PrivacyFacts`` in
``facts.privacy_files``. Every read is bounded, whatever the file's size:

- NIfTI: the header and its extensions only (at most ``MAX_EXTENSIONS`` bytes of the decompressed stream);
- gzip: the member header (FNAME, FCOMMENT, MTIME), read to its end (``curator.io.gzip_header``, bounded);
- PNG: the chunk list, walked by seeking past the image data; text, ``eXIf`` and ``tIME`` chunks are read;
- JPEG: every marker segment, before and between the scans (the one codestream walker, ``curator.io.codestreams``,
  over the first 16 MiB; the scan data is skipped, never decoded), and the bytes after the end-of-image marker;
- xlsx/docx/pptx: ``docProps`` and a few named parts, each read through a size limit (zip bombs stay closed);
- PDF: the document information dictionary and XMP packet, found by a scan of the first and last 256 KiB (see
  ``privacy_files_documents._read_pdf`` for why not a PDF library);
- CSV/TSV: the first ``MAX_TABLE_ROWS`` rows; JSON/YAML: the scalar values of files up to 8 MiB.

With the secret identifier list (``--identifiers``) the texts above are searched while they are read, and so are
the contents of text files (streamed line by line) and the xlsx cells. Only the matches are kept, so memory
stays bounded by the files in flight. DICOM files are not read here: ``curator.io.dicom_audit`` reads every
element, and the check searches the text values it kept (``dicom_audit.text_values``).

The readers live beside this module, one per family of formats: ``privacy_files_nifti`` (NIfTI, gzip),
``privacy_files_images`` (PNG, JPEG), ``privacy_files_documents`` (office, PDF, tables, JSON/YAML, text); their
records are in ``privacy_files_records``. This module picks the reader for each file and gathers the results.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from curator.errors import OptionsError
from curator.executor import run_batches
from curator.io.gzip_header import GzipHeader
from curator.io.identifiers import IdentifierList, IdentifierListError, mask, read_identifiers
from curator.io.privacy_files_documents import audit_ooxml, audit_pdf, audit_text
from curator.io.privacy_files_images import audit_jpeg, audit_png
from curator.io.privacy_files_nifti import (
    EXTENSION_NAMES,
    NIFTI_TEXT_FIELDS,
    NiftiMetadata,
    audit_nifti,
    gzip_header_of,
    read_gzip_header,
    read_nifti_metadata,
    search_gzip,
)
from curator.io.privacy_files_records import FileAudit, Hit, NiftiExtension, Opener, Search, Table, TextItem, open_file

if TYPE_CHECKING:
    from curator.io.facts import Facts

__all__ = [
    "EXTENSION_NAMES",
    "NIFTI_TEXT_FIELDS",
    "FileAudit",
    "GzipHeader",
    "Hit",
    "NiftiExtension",
    "NiftiMetadata",
    "PrivacyFacts",
    "Table",
    "TextItem",
    "audit_file",
    "gather",
    "read_gzip_header",
    "read_nifti_metadata",
]

NIFTI_SUFFIXES = (".nii", ".nii.gz")
GZIP_SUFFIXES = (".gz", ".tgz", ".gzip")
JPEG_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif")
OOXML_SUFFIXES = (".xlsx", ".xlsm", ".docx", ".pptx")
TABLE_SUFFIXES = (".csv", ".tsv")
STRUCTURED_SUFFIXES = (".json", ".yaml", ".yml")
TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".rst", ".xml", ".html", ".htm", ".sh", ".ps1", ".bib", ".cff",
                 ".tex", ".ris", ".sha256", ".md5", ".log", ".ini", ".cfg", ".toml")
DICOM_SUFFIXES = (".dcm", ".dicom", ".dic", ".ima")


@dataclass
class PrivacyFacts:
    files: dict[str, FileAudit] = field(default_factory=dict)
    name_hits: dict[str, tuple[Hit, ...]] = field(default_factory=dict)   # file or folder -> hits in its own name
    identifiers: IdentifierList | None = None
    seconds: float = 0.0


# --- dispatch ----------------------------------------------------------------------------------------------

def _kind(rel: str) -> str:
    lower = rel.lower()
    name = lower.rsplit("/", 1)[-1]
    for suffixes, kind in ((NIFTI_SUFFIXES, "nifti"), (GZIP_SUFFIXES, "gzip"), ((".png",), "png"),
                           (JPEG_SUFFIXES, "jpeg"), (OOXML_SUFFIXES, "ooxml"), ((".pdf",), "pdf"),
                           (TABLE_SUFFIXES, "table"), ((".json",), "json"), ((".yaml", ".yml"), "yaml"),
                           (TEXT_SUFFIXES, "text"), (DICOM_SUFFIXES, "dicom")):
        if name.endswith(suffixes):
            return kind
    return "other" if "." in name.strip(".") else "bare"


def _sniff(path: Path, opener: Opener | None = None) -> str:
    """A file without a known suffix: DICOM (marker at 128), text (no NUL in its first 8 KiB), or other."""
    with open_file(path, opener) as handle:
        head = handle.read(8192)
    if head[128:132] == b"DICM":
        return "dicom"
    return "text" if b"\x00" not in head else "other"


def audit_file(root: Path, rel: str, size: int, identifiers: IdentifierList | None,
               opener: Opener | None = None) -> FileAudit:
    """Everything the privacy checks need of one file; reading problems are recorded, never raised. ``opener``:
    how the file is opened when it is not local (an object in a store, read by ranges: remote_release)."""
    path = root / rel
    search = Search(identifiers)
    kind = _kind(rel)
    try:
        if kind in ("other", "bare") and identifiers is not None:
            kind = _sniff(path, opener)
        readers: dict[str, Callable[[], FileAudit]] = {
            "nifti": lambda: audit_nifti(path, search, opener),
            "gzip": lambda: _audit_gzip(path, search, opener),
            "png": lambda: audit_png(path, size, search, opener),
            "jpeg": lambda: audit_jpeg(path, size, search, opener),
            "ooxml": lambda: audit_ooxml(path, search, opener),
            "pdf": lambda: audit_pdf(path, size, search, opener),
        }
        if kind in readers:
            audit = readers[kind]()
        elif kind in ("table", "json", "yaml") or (kind == "text" and identifiers is not None):
            audit = audit_text(path, kind, size, search, opener)
        else:
            return FileAudit(kind)
    except OSError as error:
        return FileAudit(kind, error=f"cannot read the file ({error.strerror or error})")
    return replace(audit, hits=tuple(search.hits)) if search.hits else audit


def _audit_gzip(path: Path, search: Search, opener: Opener | None = None) -> FileAudit:
    with open_file(path, opener) as handle:
        gz = gzip_header_of(handle)
    search_gzip(gz, search)
    return FileAudit("gzip", gzip=gz)


def _name_hits(identifiers: IdentifierList, paths: Iterator[tuple[str, str]]) -> dict[str, tuple[Hit, ...]]:
    found: dict[str, tuple[Hit, ...]] = {}
    for rel, kind in paths:
        name = rel.rsplit("/", 1)[-1]
        where = "folder name" if kind == "dir" else "file name"
        hits = tuple(Hit(m.identifier.number, m.identifier.label, m.identifier.line, where,
                         mask(name[m.start : m.end])) for m in identifiers.search(name))
        if hits:
            found[rel] = hits
    return found


def _audit_batch(root: Path, identifiers: IdentifierList | None, items: list[tuple[str, int]]) -> list[FileAudit]:
    return [audit_file(root, rel, size, identifiers) for rel, size in items]


AuditRunner = Callable[[list[tuple[str, int]], "IdentifierList | None"], Iterable[FileAudit]]
Keep = Callable[[str, FileAudit], bool]   # (path, audit) -> whether the audit is kept for the check


def gather(facts: Facts, run: AuditRunner | None = None, keep: Keep | None = None) -> None:
    """Audit every regular file of the release (in parallel, threads) into ``facts.privacy_files``. ``run``: how
    the (path, size) items are audited when the files are not local (a release in object storage). ``keep``: which
    audits are stored, decided as each returns (validate passes the check's own judgement,
    ``curator.checks.privacy_files.says_something``: a release of a million clean files stores none); without it,
    every audit is stored."""
    started = time.perf_counter()
    identifiers = None
    list_path = facts.identifiers
    if list_path is not None:
        try:
            identifiers = read_identifiers(Path(list_path))
        except IdentifierListError as error:
            raise OptionsError(f"--identifiers: {error}") from error
    files = facts.files
    # --changed-since: only the files in scope are read; the walk's paths are held as its positions (issue 15)
    paths = facts.file_paths(facts.in_scope)
    items = ((p, files[p].size) for p in paths)
    audits: Iterable[FileAudit]
    if run is None:
        # a task is a module-level function of a batch of (path, size): on a Dask cluster it carries no map of
        # every file; the items are taken as the batches run, never listed. A batch, not a task a file: 20,000
        # clean studies, 2 threads, in-process best of 5: 2.1 CPU s against 3.0 (256 a batch; 64: 2.6)
        audits = run_batches(partial(_audit_batch, facts.root, identifiers), items, facts.jobs)
    else:
        audits = run(list(items), identifiers)
    result = PrivacyFacts(identifiers=identifiers)
    pairs = zip(paths, audits, strict=True)
    result.files = {p: a for p, a in pairs if keep(p, a)} if keep is not None else dict(pairs)
    if identifiers is not None:
        result.name_hits = _name_hits(identifiers, ((e.path, e.kind) for e in facts.entries))
    result.seconds = time.perf_counter() - started
    facts.privacy_files = result
