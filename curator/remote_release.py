"""A release in object storage, read for verify, validate and diff: its inventory, its sum files, and every listed
object's digests, from the store's own checksums where it keeps them, else by streaming the object once.

The store and its objects are never local files: nothing here touches the hash cache (io/cache.py keys files by
inode and times, which objects do not have). Bulk reading goes through :func:`curator.executor.run_batches` with
:func:`curator.io.remote.hash_remote_batch`, a function of (root URL, relative paths): workers read the objects
themselves, bytes never pass through the caller.
"""

from __future__ import annotations

import io
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import BinaryIO, cast

from curator.errors import OptionsError, RunError
from curator.executor import Progress, run_batches
from curator.io import ReadError, dicom_audit
from curator.io import dicom as dicom_files
from curator.io.card import card_from_text
from curator.io.checksum_listings import SUM_FILES, sum_algorithm
from curator.io.dicom import HEAD_BYTES
from curator.io.dicom_audit import AuditedFile, AuditElement, Together, audit_task
from curator.io.dicom_raw import HEAD_CHUNK
from curator.io.facts import Facts, Readme
from curator.io.hashing import CHUNK
from curator.io.identifiers import IdentifierList
from curator.io.inventory import Entry
from curator.io.manifest import Manifest, ManifestReadError, parse_manifest_bytes
from curator.io.nifti import NiftiHeader, read_header
from curator.io.payload import NiftiStream, Payload, StreamSource, scan_unit
from curator.io.privacy_files import FileAudit, audit_file
from curator.io.privacy_files_nifti import MAX_EXTENSIONS
from curator.io.remote import (
    RangeFile,
    RemoteError,
    RemoteFile,
    Store,
    StreamFile,
    TooLargeError,
    hash_remote_batch,
    open_store,
    unsafe_key,
)
from curator.io.slices import SliceHeader, read_slice
from curator.models.card import DatasetCard
from curator.models.profile import Profile

Digests = dict[str, str] | str
MANIFEST_LIMIT = 512 << 20     # a sum file larger than this is not read (a million lines are about 100 MB)
BATCH_BYTES = 64 << 20         # bytes one task streams at most (one large object is a task of its own)
BATCH_FILES = 256
STORE = "store checksum"       # how a manifest's digests were checked, as the report says per manifest
READ = "read in full"


def local_root(store: Store) -> Path:
    """The Path the readers and checks name the release by (manifest labels are relative to it). Never opened."""
    return Path(store.url)


def inventory(store: Store, names: Iterable[str] = ()) -> tuple[list[Entry], dict[str, RemoteFile]]:
    """The release's entries and its objects by path. S3: the listing (keys that cannot be release paths are
    entries of their own kind, named by why, for FILE_UNSAFE). HTTP has no listing: the ``names`` that exist."""
    if store.listable:
        listed = store.files()
    else:
        listed = sorted(store.files_named(names).values(), key=lambda f: f.rel)
    entries: list[Entry] = []
    files: dict[str, RemoteFile] = {}
    folders: set[str] = set()
    for item in listed:
        why = unsafe_key(item.rel)
        if why is not None:
            entries.append(Entry(item.rel, why, 0))
            continue
        files[item.rel] = item
        entries.append(Entry(item.rel, "file", item.size))
        parts = item.rel.split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
    entries += [Entry(folder, "dir", 0) for folder in folders - files.keys()]
    entries.sort(key=lambda e: e.path)
    return entries, files


def sum_file_names(store: Store, against: str | None) -> list[str]:
    """The sum file to verify against: ``against`` (a name inside the root), else the first of SUM_FILES there."""
    if against:
        if unsafe_key(against) is not None or against.endswith((".json", ".jsonld", "bagit.txt")):
            raise OptionsError(f"--against {against}: on a URL, name a sum file inside the root (SHA256SUMS, "
                               "MD5SUMS, manifest-sha256.txt, ...); bags and JSON listings are read locally only")
        return [against]
    return list(SUM_FILES)


def read_sum_file(store: Store, root: Path, name: str, size: int, kept: dict[str, bytes] | None = None) -> Manifest:
    """One sum file of the store, parsed (its algorithm from its name, as locally); its bytes put in ``kept`` when
    they are no more than :data:`TEXT_LIMIT` (the privacy audit reads them from there)."""
    try:
        data = store.read_small(name, MANIFEST_LIMIT, size)
    except TooLargeError as error:
        raise ManifestReadError(str(error)) from error
    except FileNotFoundError as error:
        raise ManifestReadError(f"{name} is gone from the store") from error
    if kept is not None and len(data) <= TEXT_LIMIT:
        kept[name] = data
    manifest = parse_manifest_bytes(data, root / name, sum_algorithm(name))
    manifest.accounts_for = frozenset({name})
    return manifest


def find_sum_file(store: Store, against: str | None) -> tuple[list[Manifest], list[Entry], dict[str, RemoteFile]]:
    """The listing verify checks against, the release's entries and its objects (HTTP: the listed ones)."""
    root = local_root(store)
    candidates = sum_file_names(store, against)
    if store.listable:
        entries, files = inventory(store)
        present = [n for n in candidates if n in files]
    else:
        found = store.files_named(candidates)
        present = [n for n in candidates if n in found]
        files = dict(found)
    if not present:
        what = against or "a checksum listing (" + ", ".join(SUM_FILES) + ")"
        raise RunError(f"{store.url} has no {what}; name one with --against")
    try:
        manifest = read_sum_file(store, root, present[0], files[present[0]].size)
    except ManifestReadError as error:
        raise RunError(f"cannot read {error}") from error
    if not store.listable:
        entries, files = inventory(store, [present[0], *(e.path for e in manifest.entries)])
    return [manifest], entries, files


def digests(store: Store, manifests: list[Manifest], files: Mapping[str, RemoteFile], jobs: int | None, *,
            progress: Progress | None = None) -> tuple[dict[str, Digests], dict[str, dict[str, int]]]:
    """The digests of every listed object, and per manifest how they were had: how many of the objects it lists
    (that exist) were checked by the store's checksum (:data:`STORE`), how many read in full (:data:`READ`).

    An object whose every needed algorithm the store keeps is not read; the others are streamed once each.
    """
    wanted: dict[str, set[str]] = {}
    expected: dict[str, dict[str, str]] = {}
    for manifest in manifests:
        for entry in manifest.entries:
            if entry.path in files:
                wanted.setdefault(entry.path, set()).add(entry.algorithm)
                expected.setdefault(entry.path, {})[entry.algorithm] = entry.digest.lower()
    results, read = object_digests(store, wanted, files, jobs, progress=progress, expected=expected)
    how = {}
    for manifest in manifests:
        present = {e.path for e in manifest.entries if e.path in files}
        how[manifest.path.name] = {STORE: len(present - read), READ: len(present & read)}
    return results, how


def object_digests(store: Store, wanted: Mapping[str, set[str]], files: Mapping[str, RemoteFile],
                   jobs: int | None, *, progress: Progress | None = None,
                   expected: Mapping[str, dict[str, str]] | None = None) -> tuple[dict[str, Digests], set[str]]:
    """Each object's digests for the algorithms ``wanted`` names, and the objects that had to be read for them:
    the store's own checksums (single-part ETag from the listing, else a HEAD) where it keeps every one needed,
    else the object streamed once.

    An ETag is an MD5 only for a single-part upload without SSE-KMS/SSE-C encryption, which the listing does not
    tell: an ETag that disagrees with the ``expected`` md5 is confirmed by reading the object."""
    known = {rel: dict(files[rel].checksums) for rel in wanted}
    expected = expected or {}
    lacking = [rel for rel, algos in wanted.items() if not algos <= known[rel].keys()]
    if store.listable and lacking:
        for rel, sums in store.checksums(lacking).items():
            known[rel].update(sums)
    results: dict[str, Digests] = {}
    to_read: list[tuple[str, tuple[str, ...]]] = []
    for rel in sorted(wanted):
        algos = wanted[rel]
        md5 = expected.get(rel, {}).get("md5")
        suspect = "md5" in algos and md5 is not None and known[rel].get("md5") != md5
        if algos <= known[rel].keys() and not suspect:
            results[rel] = {a: known[rel][a] for a in sorted(algos)}
        else:
            to_read.append((rel, tuple(sorted(algos))))
    fresh = run_batches(partial(hash_remote_batch, store.url), iter(to_read), jobs or READ_JOBS,
                        weigh=lambda item: files[item[0]].size, batch_bytes=BATCH_BYTES, batch_size=BATCH_FILES,
                        total=len(to_read), progress=progress)
    for (rel, _), result in zip(to_read, fresh, strict=True):
        results[rel] = result
    return results, {rel for rel, _ in to_read}


READ_JOBS = 8   # objects streamed at once (waiting on the network more than hashing)


TEXT_LIMIT = 4 << 20    # a README, LICENSE or card larger than this is not read (as locally: validate.MAX_TEXT)


def _blocks(store: Store, rel: str, size: int, segments: dict[int, bytes] | None = None) -> Callable[[], BinaryIO]:
    """Opens views of one object read by blocks of ranged GETs, sharing what any of them fetched (``segments``)."""
    shared = {} if segments is None else segments
    return lambda: cast("BinaryIO", RangeFile(store, rel, size, segments=shared))


def remote_header(url: str, rel: str, size: int, segments: dict[int, bytes] | None = None) -> NiftiHeader | str:
    """A NIfTI object's header from ranged reads of its first bytes and its last four (the gzip ISIZE), by the same
    reader as a local file's; or why it cannot be read. A function of plain data: any worker can run it.
    ``segments``: where the blocks fetched are kept (for the privacy audit's reading of the same bytes)."""
    store = open_store(url)
    try:
        return read_header(local_root(store) / rel, opener=_blocks(store, rel, size, segments))
    except ReadError as error:
        return str(error)


def remote_headers(url: str, batch: list[tuple[str, int]]) -> list[NiftiHeader | str]:
    """:func:`remote_header` of each (path, size): one executor task per batch."""
    return [remote_header(url, rel, size) for rel, size in batch]


def _audit(store: Store, rel: str, size: int, identifiers: IdentifierList | None = None,
           segments: dict[int, bytes] | None = None) -> FileAudit:
    """The privacy audit's reading of one object (:func:`curator.io.privacy_files.audit_file`, the local reader):
    a NIfTI object by blocks of ranged GETs, as its header is read (``segments``: bytes already fetched, shared
    with the header's read or kept from the deep tier's stream); any other object through a buffer that reads what
    the reader asks for, as a local file does."""
    opener = _blocks(store, rel, size, segments) if rel.lower().endswith((".nii", ".nii.gz")) else (
        lambda: io.BufferedReader(RangeFile(store, rel, size, greedy=True, segments=segments)))   # as _buffered
    try:
        return audit_file(local_root(store), rel, size, identifiers, opener)
    except RemoteError as error:   # a store's error other than a missing object: the file's, as locally
        return FileAudit("nifti" if rel.lower().endswith((".nii", ".nii.gz")) else "other",
                         error=f"cannot read the file ({error})")


def remote_audit_batch(url: str, identifiers: IdentifierList | None,
                       batch: list[tuple[str, int]]) -> list[FileAudit]:
    """The privacy audit of each (path, size) under ``url``, read by the worker itself. A function of plain data."""
    store = open_store(url)
    return [_audit(store, rel, size, identifiers) for rel, size in batch]


def _dicom_opener(store: Store, rel: str, size: int, kept: bytes | None = None) -> Callable[[], BinaryIO]:
    segments = None if kept is None else {0: kept}
    return lambda: io.BufferedReader(RangeFile(store, rel, size, greedy=True, segments=segments), HEAD_BYTES)


def remote_dicom_batch(url: str, batch: list[tuple[str, int]]) -> list[AuditedFile | str | None]:
    """The DICOM privacy audit's reading (:func:`curator.io.dicom_audit.audit_task`, the local reader) of each
    (path, size) under ``url``: the first :data:`~curator.io.dicom.HEAD_BYTES` say whether it is DICOM, a DICOM
    object is read up to its pixel data and after it, by ranged GETs. A function of plain data."""
    store = open_store(url)
    root = local_root(store)
    return [audit_task((root, rel), _dicom_opener(store, rel, size), size) for rel, size in batch]


def _dicom_object(store: Store, root: Path, rel: str, size: int, audit: bool) -> Together:
    """:func:`curator.io.dicom_audit.together_batch`'s reading of one object, by ranged GETs: its first
    :data:`~curator.io.dicom_raw.HEAD_CHUNK` bytes parsed once for the header and the audit (more only when the
    header is longer; after the pixel data only what follows it); the readers one by one when it takes another road.
    Every view of the object shares what any of them fetched."""
    segments: dict[int, bytes] = {}

    def opener() -> BinaryIO:
        return io.BufferedReader(RangeFile(store, rel, size, greedy=True, segments=segments), HEAD_BYTES)

    try:
        both = dicom_audit.parse_together(root, rel, audit, opener)
    except Exception:
        both = None
    if both is not None:
        return both
    try:   # as curator.io.dicom.read_task: whatever a hostile object does becomes a reason
        header = dicom_files.read_file(root, rel, False, opener)[0]
    except Exception as error:
        header = " ".join(str(error).split()) or type(error).__name__
    return header, audit_task((root, rel), opener, size) if audit else None


def remote_together_batch(url: str, batch: list[tuple[str, int, bool]]) -> list[Together]:
    """Profile dicom's fast tier of each (path, size, audit it too) under ``url``, read by the worker itself
    (:func:`_dicom_object`); equal audit elements of the batch are one object, pickled once. A function of plain
    data: any executor (a Dask worker) can run it."""
    store = open_store(url)
    root = local_root(store)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = [_dicom_object(store, root, rel, size, audit) for rel, size, audit in batch]
    shared: dict[AuditElement, AuditElement] = {}
    return [(header, replace(result, elements=tuple(shared.setdefault(e, e) for e in result.elements))
             if isinstance(result, AuditedFile) else result) for header, result in results]


def remote_dicom_deep_batch(url: str, batch: list[tuple[str, int]]) -> list[tuple[dicom_files.DicomFile | str | None,
                                                                                   dicom_files.Decoding | None]]:
    """Profile dicom's deep tier (:func:`curator.io.dicom.read_task` with its pixels decoded) of each (path, size)
    under ``url``: the object read whole by the worker, in GETs of up to a chunk. A function of plain data."""
    store = open_store(url)
    root = local_root(store)
    results: list[tuple[dicom_files.DicomFile | str | None, dicom_files.Decoding | None]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rel, size in batch:
            try:
                results.append(dicom_files.read_file(root, rel, True, _buffered(store, rel, size)))
            except Exception as error:
                results.append((" ".join(str(error).split()) or type(error).__name__, None))
    return results


def _buffered(store: Store, rel: str, size: int) -> Callable[[], BinaryIO]:
    """Opens an object through a buffer that reads what the reader asks for, as a local file does."""
    return lambda: io.BufferedReader(RangeFile(store, rel, size, greedy=True))


def remote_slices_batch(url: str, deep: bool, batch: list[tuple[str, bool, int]]) -> list[SliceHeader | str]:
    """Profile slices: :func:`curator.io.slices.read_slice` (the local reader) of each (path, count its values,
    size) under ``url``: the header's first bytes by ranged GETs; with ``deep``, the object read whole to decode it,
    as locally. A function of plain data."""
    store = open_store(url)
    root = local_root(store)
    return [read_slice(root / rel, decode=deep, count=count, opener=_buffered(store, rel, size))
            for rel, count, size in batch]


def remote_nifti_batch(url: str, audit: bool, batch: list[tuple[str, int]]) -> list[tuple[NiftiHeader | str,
                                                                                           FileAudit | None]]:
    """The fast tier's reading of each NIfTI (path, size): its header (:func:`remote_header`) and, with ``audit``,
    the privacy audit's reading of the same first bytes, each block fetched once for both."""
    store = open_store(url)
    results: list[tuple[NiftiHeader | str, FileAudit | None]] = []
    for rel, size in batch:
        segments: dict[int, bytes] = {}
        header = remote_header(url, rel, size, segments)
        results.append((header, _audit(store, rel, size, segments=segments) if audit else None))
    return results


Unit = tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]   # a deep-tier unit: its paths, each one's algorithms


KEEP = MAX_EXTENSIONS + (64 << 10)   # bytes of each stream's start kept for the privacy audit (header, extensions)


def _stream(store: Store, sizes: Mapping[str, int], kept: dict[str, StreamFile] | None, path: Path,
            algorithms: list[str]) -> NiftiStream:
    """A NIfTI object opened for the deep tier: streamed once from the store, its last four bytes fetched apart
    (``kept``: where its stream is put, its first :data:`KEEP` bytes kept for the privacy audit)."""
    rel = path.relative_to(local_root(store)).as_posix()
    size = sizes[rel]

    def last_four() -> bytes:
        try:
            return store.read_tail(rel, size, 4)
        except RemoteError as error:
            raise OSError(str(error)) from error

    raw = StreamFile(store.stream(rel), KEEP if kept is not None else 0)
    if kept is not None:
        kept[rel] = raw
    return NiftiStream(path, algorithms, StreamSource(io.BufferedReader(raw, CHUNK), size, last_four))


Scanned = tuple[list[Payload | str], list[FileAudit | None]]   # a unit's payloads, and its privacy audits


def remote_scan_batch(url: str, batch: list[tuple[Unit, tuple[int, ...]]], audit: bool = False) -> list[Scanned]:
    """The deep tier's :func:`curator.io.payload.scan_unit` of each (unit, sizes) under ``url``, each object
    streamed once by the worker itself, and with ``audit`` the privacy audit's reading of each object, from the
    first bytes of that stream (a GET only for what lies beyond them). A function of plain data: any executor (a
    Dask worker) can run it."""
    store = open_store(url)
    root = local_root(store)
    results: list[Scanned] = []
    for (unit, algorithms), sizes in batch:
        kept: dict[str, StreamFile] | None = {} if audit else None
        opener = partial(_stream, store, dict(zip(unit, sizes, strict=True)), kept)
        payloads = scan_unit((root, unit, algorithms), opener)
        audits: list[FileAudit | None] = [None] * len(unit)
        if kept is not None:
            audits = [_audit(store, rel, size, segments={0: bytes(kept[rel].prefix)} if rel in kept else None)
                      for rel, size in zip(unit, sizes, strict=True)]
        results.append((payloads, audits))
    return results


class RemoteRelease:
    """A release in object storage, as validate reads it: the entries (S3: the listing; HTTP: the documents and
    the files its sum files name, a HEAD each), documents read whole within limits, headers by ranged reads."""

    def __init__(self, store: Store, entries: list[Entry], objects: dict[str, RemoteFile]) -> None:
        self.store, self.entries, self.objects = store, entries, objects
        self.root = local_root(store)
        self.audited: dict[str, FileAudit] = {}   # NIfTI objects the privacy audit read with their header or stream
        self.kept: dict[str, bytes] = {}   # documents read whole (README, LICENSE, card, registry): audited from these

    @classmethod
    def open(cls, store: Store) -> RemoteRelease:
        if store.listable:
            return cls(store, *inventory(store))
        return cls(store, *inventory(store, _http_names(store)))

    def kinds(self) -> dict[str, str]:
        return {e.path: e.kind for e in self.entries}

    def read(self, rel: str, limit: int) -> bytes:
        """A whole object of at most ``limit`` bytes: OSError when absent, TooLargeError beyond the limit."""
        found = self.objects.get(rel)
        if found is None:
            raise FileNotFoundError(rel)
        data = self.store.read_small(rel, limit, found.size)
        if len(data) <= TEXT_LIMIT:
            self.kept[rel] = data
        return data

    def read_document(self, path: Path, limit: int) -> bytes:
        """:meth:`read` of a file named by its path under :attr:`root` (as the registry reader names it)."""
        try:
            return self.read(path.relative_to(self.root).as_posix(), limit)
        except TooLargeError as error:
            raise OSError(str(error)) from error

    def text(self, rel: str) -> str | None:
        try:
            return self.read(rel, TEXT_LIMIT).decode("utf-8", errors="replace")
        except (OSError, TooLargeError):
            return None

    def card(self) -> DatasetCard | None:
        text = self.text("dataset.yaml")
        if text is None:
            return None
        try:
            return card_from_text(text, self.root / "dataset.yaml")
        except ReadError:
            return None

    def facts(self, profile: Profile, *, deep: bool, jobs: int | None, progress: Progress | None = None,
              audit: bool = False) -> Facts:
        """Everything but the registry (validate.read_registries reads it through :meth:`read_document`) and the
        digests (:meth:`digests`); with ``audit``, the privacy audit of each NIfTI object read with its header (the
        fast tier; the deep tier's :meth:`scan` reads it from the stream), kept for :meth:`audit`."""
        card = self.card()
        facts = Facts(root=self.root, profile=profile, languages=list(card.languages if card else profile.languages),
                      entries=self.entries, deep=deep, jobs=jobs)
        facts.card = card
        facts.licence_text = self.text("LICENSE")
        for lang in facts.languages:
            name = f"README_{lang.upper()}.md"
            text = self.text(name)
            if text is not None:
                facts.readmes[lang] = Readme(name, text)
        for name in profile.manifests:
            if name in self.objects:
                try:
                    facts.manifests.append(read_sum_file(self.store, self.root, name, self.objects[name].size,
                                                         self.kept))
                except ManifestReadError as error:
                    facts.manifest_errors[name] = str(error)
        paths = [p for p in facts.files if p.endswith((".nii", ".nii.gz"))]
        if deep:
            return facts   # the deep tier reads the headers in its one pass (:meth:`scan`)
        items = [(p, self.objects[p].size) for p in paths]
        read = run_batches(partial(remote_nifti_batch, self.store.url, audit), iter(items), jobs or HEADER_JOBS,
                           batch_size=HEADER_BATCH, total=len(items), progress=progress)
        for path, (header, audited) in zip(paths, read, strict=True):
            facts.headers[path] = header
            if audited is not None:
                self.audited[path] = audited
        return facts

    def audit(self, items: list[tuple[str, int]], identifiers: IdentifierList | None, jobs: int | None,
              progress: Progress | None = None) -> list[FileAudit]:
        """The privacy audit of each (path, size), as :func:`curator.io.privacy_files.gather` runs it: the NIfTI
        objects read with their headers or streams already, the others read now, by the workers, in batches."""
        # the NIfTI objects audited with their headers or streams searched no --identifiers list: with one, they
        # are read again by the audit (ranged GETs of what the local audit reads), so the list reaches them too
        audited = dict(self.audited) if identifiers is None else {}
        for rel, size in items:   # the documents this process read whole already: from their bytes, no GET
            if rel in self.kept and rel not in audited:
                audited[rel] = _audit(self.store, rel, size, identifiers, {0: self.kept[rel]})
        rest = [item for item in items if item[0] not in audited]
        read = iter(run_batches(partial(remote_audit_batch, self.store.url, identifiers), iter(rest),
                                jobs or HEADER_JOBS, weigh=lambda item: min(item[1], AUDIT_WEIGHT),
                                batch_bytes=BATCH_BYTES, batch_size=HEADER_BATCH, total=len(rest), progress=progress))
        return [audited[rel] if rel in audited else next(read) for rel, _ in items]

    def slices(self, items: list[tuple[str, bool]], deep: bool, jobs: int | None,
               progress: Progress | None = None) -> Iterable[SliceHeader | str]:
        """Profile slices: each (path, count its values) read as :func:`curator.io.slices.gather` reads it, by the
        workers (:func:`remote_slices_batch`)."""
        sized = [(p, count, self.objects[p].size) for p, count in items]
        return run_batches(partial(remote_slices_batch, self.store.url, deep), iter(sized), jobs or HEADER_JOBS,
                           weigh=lambda item: item[2] if deep else min(item[2], AUDIT_WEIGHT),
                           batch_bytes=BATCH_BYTES, batch_size=BATCH_FILES, total=len(sized), progress=progress)

    def opener(self, rel: str) -> Callable[[], BinaryIO]:
        """Opens the object ``rel`` (a metadata file of profile slices) through a buffer of ranged GETs."""
        return _buffered(self.store, rel, self.objects[rel].size)

    def dicom_audit(self, paths: Sequence[str], jobs: int | None,
                    progress: Progress | None = None) -> Iterable[AuditedFile | str | None]:
        """The DICOM privacy audit of each path, as :func:`curator.io.dicom_audit.gather` runs it: by the workers
        (the documents this process read whole already: from their bytes)."""
        root = self.root
        kept = {p: audit_task((root, p), _dicom_opener(self.store, p, len(self.kept[p]), self.kept[p]),
                              len(self.kept[p])) for p in paths if p in self.kept}
        items = [(p, self.objects[p].size) for p in paths if p not in kept]
        read = iter(run_batches(partial(remote_dicom_batch, self.store.url), iter(items), jobs or HEADER_JOBS,
                                weigh=lambda item: min(item[1], AUDIT_WEIGHT), batch_bytes=BATCH_BYTES,
                                batch_size=HEADER_BATCH, total=len(items), progress=progress))
        return [kept[p] if p in kept else next(read) for p in paths]

    def dicom(self, facts: Facts, jobs: int | None, progress: Progress | None = None) -> None:
        """Profile dicom (:func:`curator.io.dicom.gather`) of the objects, by the workers: the fast tier parses each
        object's head once for ``facts.dicom`` and the privacy audit together (as
        :func:`curator.io.dicom_audit.read_together`); the deep tier reads each object whole to decode it."""
        started = time.perf_counter()
        paths = dicom_files.candidates(facts)
        if facts.deep:
            sized = [(p, self.objects[p].size) for p in paths]
            facts.dicom = dicom_files.assemble(paths, run_batches(
                partial(remote_dicom_deep_batch, self.store.url), iter(sized), jobs or READ_JOBS,
                weigh=lambda item: item[1], batch_bytes=BATCH_BYTES, batch_size=BATCH_FILES, total=len(sized),
                progress=progress))
            return
        audited, skipped = dicom_audit.candidates(facts)
        wanted = set(audited)
        items = [(p, self.objects[p].size, p in wanted) for p in paths]
        headers: list[dicom_files.DicomFile | str | None] = []
        audits: list[AuditedFile | str | None] = []
        read = run_batches(partial(remote_together_batch, self.store.url), iter(items), jobs or HEADER_JOBS,
                           weigh=lambda item: min(item[1], HEAD_CHUNK), batch_bytes=BATCH_BYTES,
                           batch_size=HEADER_BATCH, total=len(items), progress=progress)
        for (_, _, audit), (header, result) in zip(items, read, strict=True):
            headers.append(header)
            if audit:
                audits.append(result)
        facts.dicom = dicom_files.assemble(paths, ((header, None) for header in headers))
        facts.dicom.audit = dicom_audit._collect(facts, audited, skipped, audits, started)

    def digests(self, manifests: list[Manifest], jobs: int | None, progress: Progress | None = None,
                have: Iterable[str] = ()) -> tuple[dict[str, Digests], dict[str, dict[str, int]]]:
        """The listed objects' digests, but those of ``have`` (hashed by the deep tier's read)."""
        skip = set(have)
        objects = {p: f for p, f in self.objects.items() if p not in skip}
        return digests(self.store, manifests, objects, jobs, progress=progress)

    def scan(self, units: list[Unit], jobs: int | None, progress: Progress | None = None,
             audit: bool = False) -> list[list[Payload | str]]:
        """The deep tier of each unit (as validate's local scan), in batches of :data:`BATCH_BYTES`; with
        ``audit``, each object's privacy audit read from its stream, kept for :meth:`audit`."""
        items = [(unit, tuple(self.objects[p].size for p in unit[0])) for unit in units]
        scanned = run_batches(partial(remote_scan_batch, self.store.url, audit=audit), iter(items),
                              jobs or READ_JOBS, weigh=lambda item: sum(item[1]), batch_bytes=BATCH_BYTES,
                              batch_size=BATCH_FILES, total=len(items), progress=progress)
        results = []
        for (unit, _), (payloads, audits) in zip(units, scanned, strict=True):
            self.audited.update({rel: a for rel, a in zip(unit, audits, strict=True) if a is not None})
            results.append(payloads)
        return results


HEADER_JOBS = 16   # header tasks at once (each header a ranged GET or two: waiting on the network, not the CPU)
HEADER_BATCH = 8   # headers a task reads
AUDIT_WEIGHT = 512 << 10   # what the privacy audit reads of one object at most, about (a PDF's two 256 KiB ends)


def _http_names(store: Store) -> list[str]:
    """What an HTTP base (no listing) is asked for: the documents every profile names, the READMEs of the card's
    languages, the sum files, and every file the sum files name."""
    from curator.profiles import load_profiles

    names = {"dataset.yaml", "LICENSE", *SUM_FILES}
    for profile in load_profiles().values():
        names.update(profile.manifests)
        if profile.registry is not None:
            names.update(n for n in (profile.registry.path, profile.registry.csv) if n)
    found = store.files_named(sorted(names))
    release = RemoteRelease(store, [], found)
    card = release.card()
    languages = card.languages if card else ["en", "ru"]
    found.update(store.files_named([f"README_{lang.upper()}.md" for lang in languages]))
    for name in [n for n in SUM_FILES if n in found]:
        try:
            manifest = read_sum_file(store, local_root(store), name, found[name].size)
        except ManifestReadError:
            continue
        names.update(e.path for e in manifest.entries)
    return sorted(names | found.keys())
