"""``curator anonymise --nifti SRC OUT``: NIfTI files without the header text, extensions and gzip header that
can identify a patient, with the voxels and the affine untouched.

For each ``.nii``/``.nii.gz`` file:

- ``descrip``, ``aux_file``, ``intent_name`` and (NIfTI-1) ``db_name`` and ``data_type`` are zero-filled;
- header extensions are dropped (the extension flag is zeroed), and so is any padding between the header and
  the voxels: ``vox_offset`` becomes 352 (NIfTI-1) or 544 (NIfTI-2) when it was larger; nothing is parsed, so
  nothing is ever unpickled;
- bytes after the last voxel (vox_offset + voxels x bytes per voxel; IMAGE_TRAILING_DATA) are dropped and
  counted;
- a compressed file is written again as one gzip member without FNAME, FCOMMENT or FEXTRA, MTIME 0, by ISA-L at
  level 2 (zlib level 6 where ISA-L is missing): the same input gives the same bytes on every run with the same
  library. An uncompressed file stays uncompressed.

Every other header byte is copied as it is, so the affine (qform, sform, pixdim, qfac), data type and scaling
are bit-identical, and the voxel bytes are streamed through unchanged; each written file is read back and its
voxel bytes compared with the source's (XXH3-128) before it is accepted.

``anonymise_nifti_tree`` copies a whole folder (a release) the same way: NIfTI files are anonymised, other gzip
files get a bare gzip header (payload copied byte for byte), every other regular file is copied unchanged (the
audit, ``curator validate``, reports what they still hold), and checksum manifests at the top (SHA256SUMS,
MD5SUMS, ...) get the new digests of the files that changed. The copy is written beside OUT and renamed into
place only when every file succeeded; SRC is only ever read. ``scrub_nifti_header`` is the in-place form the
builder uses on the files it writes.
"""

from __future__ import annotations

import gzip
import re
import shutil
import struct
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

import xxhash

from curator.anonymise.gzip_copy import copy_gzip_anonymous
from curator.errors import OptionsError
from curator.executor import Progress, run_tasks
from curator.io.formats import GZIP_MAGIC
from curator.io.gzip_header import GzipFieldTooLongError, GzipHeaderError, read_gzip_header_from
from curator.io.hashing import hash_file
from curator.io.inventory import walk
from curator.io.junk import is_junk_path
from curator.io.manifest import MANIFEST_ALGORITHMS, ManifestReadError, parse_manifest
from curator.io.privacy_files import NIFTI_TEXT_FIELDS, read_nifti_metadata
from curator.outputs import atomic_path, lock, output_error, overlap, staged

__all__ = ["NiftiAnonymiseError", "NiftiAnonymiseSummary", "NiftiScrub", "anonymise_nifti", "anonymise_nifti_tree",
           "needs_scrub", "scrub_nifti_header", "summary_text"]

COMPRESS_LEVEL = 2   # ISA-L's scale (0..3)
CHUNK = 1 << 20


class NiftiAnonymiseError(ValueError):
    """A file that cannot be anonymised (not NIfTI, corrupt stream, voxels that would not survive); the message
    says why."""


@dataclass(frozen=True)
class NiftiScrub:
    """What was removed from one file."""

    cleared: tuple[str, ...] = ()        # header text fields that held text
    extensions: int = 0                  # header extensions dropped
    extension_bytes: int = 0             # bytes between the header and the voxels dropped (extensions, padding)
    gzip_header: bool = False            # a gzip FNAME, FCOMMENT, FEXTRA or MTIME was dropped
    trailing_bytes: int = 0              # decompressed bytes after the last voxel dropped (IMAGE_TRAILING_DATA)

    @property
    def changed(self) -> bool:
        return bool(self.cleared or self.extensions or self.extension_bytes or self.gzip_header
                    or self.trailing_bytes)


@dataclass
class NiftiAnonymiseSummary:
    source: str
    out: str
    files: int = 0                                            # NIfTI files written
    changed: int = 0                                          # ... of which something was removed
    bytes: int = 0                                            # their size in SRC
    cleared: Counter[str] = field(default_factory=Counter)    # header field -> files it was cleared in
    extensions: int = 0                                       # header extensions dropped
    gzip_headers: int = 0                                     # gzip headers with a name, comment or time
    trailing: dict[str, int] = field(default_factory=dict)    # path -> bytes after the last voxel dropped
    other_gzip: list[str] = field(default_factory=list)       # other .gz files whose gzip header was cleaned
    copied: list[str] = field(default_factory=list)           # other files copied unchanged
    manifests: list[str] = field(default_factory=list)        # manifests whose entries were updated
    left_out: dict[str, str] = field(default_factory=dict)    # path -> why it is not in OUT
    failed: dict[str, str] = field(default_factory=dict)      # path -> why it could not be anonymised
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {"source": self.source, "out": self.out, "files": self.files, "changed": self.changed,
                "bytes": self.bytes, "cleared": dict(sorted(self.cleared.items())), "extensions": self.extensions,
                "gzip_headers": self.gzip_headers, "trailing": self.trailing, "other_gzip": self.other_gzip,
                "copied": self.copied,
                "manifests": self.manifests, "left_out": self.left_out, "failed": self.failed,
                "seconds": self.seconds}


def summary_text(summary: NiftiAnonymiseSummary) -> str:
    lines = [f"anonymised {summary.files} NIfTI files ({summary.bytes:,} bytes; {summary.changed} changed) from "
             f"{summary.source} into {summary.out} in {summary.seconds:.1f} s"]
    for name, count in sorted(summary.cleared.items()):
        lines.append(f"  {name} cleared: {count} files")
    if summary.extensions:
        lines.append(f"  header extensions dropped: {summary.extensions}")
    if summary.gzip_headers:
        lines.append(f"  gzip headers without name and time: {summary.gzip_headers} files")
    if summary.trailing:
        lines.append(f"  bytes after the last voxel dropped: {len(summary.trailing)} files, "
                     f"{sum(summary.trailing.values()):,} bytes")
    if summary.other_gzip:
        lines.append(f"  other gzip files with a bare header: {len(summary.other_gzip)}")
    if summary.copied:
        lines.append(f"  copied unchanged (not NIfTI; run `curator validate` to audit them): {len(summary.copied)} "
                     "files")
    if summary.manifests:
        lines.append(f"  checksum manifests updated: {', '.join(summary.manifests)}")
    for title, items in (("left out", summary.left_out), ("FAILED", summary.failed)):
        if items:
            lines.append(f"  {title}: {len(items)} files")
            lines.extend(f"    {path}: {why}" for path, why in list(items.items())[:20])
    return "\n".join(lines) + "\n"


# --- one file ----------------------------------------------------------------------------------------------

def _open_stream(handle: IO[bytes]) -> tuple[IO[bytes], bool]:
    """The decompressed stream of ``handle`` (itself when it is not gzip), and whether it was compressed."""
    compressed = handle.read(2) == GZIP_MAGIC
    handle.seek(0)
    if not compressed:
        return handle, False
    try:
        from isal import igzip  # ~2x faster inflate; the stdlib is the fallback

        return cast("IO[bytes]", igzip.IGzipFile(fileobj=handle, mode="rb")), True  # type: ignore[no-untyped-call]
    except ImportError:  # pragma: no cover - isal is a dependency, but a platform may lack a wheel
        return cast("IO[bytes]", gzip.GzipFile(fileobj=handle, mode="rb")), True


def _compressor(handle: IO[bytes]) -> IO[bytes]:
    """A gzip writer without name or time: ISA-L level 2 (about 30x faster than zlib level 6 on CT volumes, and
    as small; masks come out ~1.3x larger, a few KiB), else zlib level 6."""
    try:
        from isal import igzip

        return cast("IO[bytes]", igzip.IGzipFile(filename="", mode="wb", fileobj=handle, mtime=0,  # type: ignore[no-untyped-call]
                                                 compresslevel=COMPRESS_LEVEL))
    except ImportError:  # pragma: no cover - isal is a dependency, but a platform may lack a wheel
        return cast("IO[bytes]", gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0, compresslevel=6))


def _read_exactly(stream: IO[bytes], size: int, what: str) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise NiftiAnonymiseError(f"the file ends inside the {what} ({len(data)} of {size} bytes)")
    return data


def _clean_header(raw: bytes) -> tuple[bytes, int, int, tuple[str, ...], bool]:
    """(cleaned header + empty extension flag, header size, old vox_offset, fields cleared, had extensions)."""
    little = struct.unpack("<i", raw[:4])[0] in NIFTI_TEXT_FIELDS
    endian = "<" if little else ">"
    size = struct.unpack(endian + "i", raw[:4])[0]
    header = bytearray(raw[:size])
    cleared = []
    for name, offset, length in NIFTI_TEXT_FIELDS[size]:
        if any(header[offset : offset + length]):
            cleared.append(name)
            header[offset : offset + length] = bytes(length)
    if size == 348:
        number = struct.unpack(endian + "f", raw[108:112])[0]
        if not (number == number and 0 <= number < 2**40):
            raise NiftiAnonymiseError(f"vox_offset {number} is not a byte offset")
        vox_offset = int(number)
        if vox_offset != number:
            raise NiftiAnonymiseError(f"vox_offset {number} is not a whole byte offset")
    else:
        vox_offset = struct.unpack(endian + "q", raw[168:176])[0]
        if vox_offset < 0:
            raise NiftiAnonymiseError(f"vox_offset {vox_offset} is negative")
    extended = raw[size] != 0
    start = size + 4
    if extended and vox_offset < start:
        raise NiftiAnonymiseError(f"the header announces extensions but vox_offset {vox_offset} leaves no room for "
                                  "them, so the start of the voxels is unknown")
    if vox_offset > start:  # extensions or padding go; the voxels follow the header directly
        if size == 348:
            header[108:112] = struct.pack(endian + "f", float(start))
        else:
            header[168:176] = struct.pack(endian + "q", start)
    return bytes(header) + b"\x00\x00\x00\x00", size, vox_offset, tuple(cleared), extended


def _gzip_header_dirty(path: Path) -> bool:
    """Does the gzip header of ``path`` hold more than a bare header (name, comment, extra field, CRC, time)?"""
    with path.open("rb") as handle:
        if handle.read(2) != GZIP_MAGIC:
            return False
        handle.seek(0)
        try:
            return not read_gzip_header_from(handle).bare
        except GzipHeaderError:
            return True


def anonymise_nifti(source: Path, target: Path, *, verify: bool = True) -> NiftiScrub:
    """Write ``source`` to ``target`` without identifying header text, extensions and gzip header.

    ``target`` is written compressed when ``source`` is. Raises NiftiAnonymiseError (and OSError); ``target``
    may then be incomplete, so write to a temporary name (``scrub_nifti_header`` and ``anonymise_nifti_tree``
    do).
    """
    with source.open("rb") as raw_handle:
        stream, compressed = _open_stream(raw_handle)
        try:
            first = _read_exactly(stream, 4, "header")
            size = struct.unpack("<i", first)[0] if struct.unpack("<i", first)[0] in NIFTI_TEXT_FIELDS \
                else struct.unpack(">i", first)[0]
            if size not in NIFTI_TEXT_FIELDS:
                raise NiftiAnonymiseError("not a NIfTI-1 or NIfTI-2 file (sizeof_hdr is neither 348 nor 540)")
            raw = first + _read_exactly(stream, size, "header")
            header, size, vox_offset, cleared, extended = _clean_header(raw)
            voxel_bytes = _voxel_bytes(raw)
            # skip extensions and padding up to the voxels; a vox_offset of 0 (the real MosMed masks) means
            # "right after the header"
            gap = max(0, vox_offset - (size + 4))
            skipped = 0
            while skipped < gap:
                piece = stream.read(min(CHUNK, gap - skipped))
                if not piece:
                    raise NiftiAnonymiseError(f"vox_offset {vox_offset} lies beyond the end of the data")
                skipped += len(piece)
            voxels = xxhash.xxh3_128()
            left, trailing = voxel_bytes, 0   # only the voxels are copied; what follows them is counted
            with target.open("wb") as out_raw:
                out = _compressor(out_raw) if compressed else out_raw
                try:
                    out.write(header)
                    while piece := stream.read(CHUNK):
                        if len(piece) > left:
                            trailing += len(piece) - left
                            piece = piece[:left]
                        left -= len(piece)
                        if piece:
                            voxels.update(piece)
                            out.write(piece)
                finally:
                    if compressed:
                        out.close()
        except NiftiAnonymiseError:
            raise
        except OSError as error:
            if error.errno is not None:  # a real I/O failure, not gzip.BadGzipFile
                raise
            raise NiftiAnonymiseError(f"the compressed stream is damaged ({error})") from error
        except Exception as error:  # EOFError, zlib.error, isal's IsalError: all mean a damaged stream
            raise NiftiAnonymiseError(f"the compressed stream is damaged ({error})") from error
        finally:
            if stream is not raw_handle:
                stream.close()
    scrub = NiftiScrub(cleared=cleared, extensions=_count_extensions(source) if extended else 0,
                       extension_bytes=gap, gzip_header=compressed and _gzip_header_dirty(source),
                       trailing_bytes=trailing)
    if verify:
        _verify(target, size, voxels.hexdigest())
    return scrub


def _voxel_bytes(raw: bytes) -> int:
    """Bytes of voxels the header ``raw`` announces (voxels x bytes per voxel)."""
    from curator.io.nifti import NiftiReadError, parse_header

    try:
        parsed = parse_header(raw, compressed=False, file_size=0, isize=None)
    except NiftiReadError as error:
        raise NiftiAnonymiseError(f"the header does not say how many voxels follow it ({error})") from error
    if parsed.problems:
        raise NiftiAnonymiseError(f"the header does not say how many voxels follow it ({parsed.problems[0]})")
    return parsed.data_bytes - int(parsed.vox_offset)


def _count_extensions(path: Path) -> int:
    try:
        return max(1, len(read_nifti_metadata(path).extensions))
    except OSError:
        return 1


def _verify(target: Path, size: int, expected: str) -> None:
    """Read ``target`` back: clean header, and the same voxel bytes as the source (XXH3-128)."""
    with target.open("rb") as raw_handle:
        stream, _ = _open_stream(raw_handle)
        try:
            raw = _read_exactly(stream, size + 4, "header")
            _, _, _, cleared, extended = _clean_header(raw)
            if cleared or extended:
                raise NiftiAnonymiseError(f"the written header still holds {', '.join(cleared) or 'extensions'}")
            digest = xxhash.xxh3_128()
            while piece := stream.read(CHUNK):
                digest.update(piece)
        finally:
            if stream is not raw_handle:
                stream.close()
    if digest.hexdigest() != expected:
        raise NiftiAnonymiseError("the voxel bytes read back differ from the source's; nothing was kept")


def needs_scrub(path: Path) -> bool:
    """Does ``path`` carry header text, extensions, padding or a gzip name/comment/time? (reads the header only)"""
    meta = read_nifti_metadata(path)
    if meta.error:
        raise NiftiAnonymiseError(meta.error)
    if meta.fields or meta.extensions or meta.incomplete:
        return True
    gz = meta.gzip
    if gz is not None and (gz.name is not None or gz.comment is not None or gz.mtime):
        return True
    return _has_padding(path)


def _has_padding(path: Path) -> bool:
    with path.open("rb") as raw_handle:
        stream, _ = _open_stream(raw_handle)
        try:
            raw = stream.read(544)
        finally:
            if stream is not raw_handle:
                stream.close()
    little = struct.unpack("<i", raw[:4])[0] in NIFTI_TEXT_FIELDS
    endian = "<" if little else ">"
    size = struct.unpack(endian + "i", raw[:4])[0]
    if size == 348:
        return float(struct.unpack(endian + "f", raw[108:112])[0]) > 352
    return int(struct.unpack(endian + "q", raw[168:176])[0]) > 544


def scrub_nifti_header(path: Path) -> NiftiScrub:
    """Anonymise ``path`` in place (see the module's docstring); a file with nothing to remove is not touched.

    Contract for the builder: call it on every ``.nii``/``.nii.gz`` it has written into the stage. It reads
    the header (~0.2 ms) and returns ``NiftiScrub()`` when there is nothing to remove; otherwise it writes the
    clean file beside ``path`` (``.<name>.scrub-*``), checks its voxel bytes against the original's, and
    renames it over ``path``. The result is deterministic (gzip MTIME 0, no name, ISA-L level 2), so a rebuild
    stays byte-identical. Raises NiftiAnonymiseError for a file it cannot rewrite, OSError for I/O failures;
    ``path`` is then left as it was.
    """
    if not needs_scrub(path):
        return NiftiScrub()
    with atomic_path(path) as target:
        scrub = anonymise_nifti(path, target)
    return scrub


# --- a tree ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Job:
    source: Path
    target: Path
    kind: str      # "nifti", "gzip", "copy"


def _run(job: _Job) -> NiftiScrub | bool | str:
    """One file: NiftiScrub for NIfTI, True for a gzip header cleaned, False for a plain copy; the reason when it
    failed (the boundary: a hostile file becomes a reason, never a traceback)."""
    try:
        job.target.parent.mkdir(parents=True, exist_ok=True)
        if job.kind == "nifti":
            return anonymise_nifti(job.source, job.target)
        if job.kind == "gzip":
            try:
                dirty = _gzip_header_dirty(job.source)
                copy_gzip_anonymous(job.source, job.target)
                return dirty
            except GzipFieldTooLongError as error:  # gzip, with a name or comment beyond the reader's bound
                return str(error)
            except GzipHeaderError:  # not really gzip: copy it as it is
                shutil.copyfile(job.source, job.target)
                return False
        shutil.copyfile(job.source, job.target)
        return False
    except NiftiAnonymiseError as error:
        return str(error)
    except OSError as error:
        found = output_error(error, [job.target])
        if found is not None:   # a full or read-only output is not the file's fault: the run stops (exit 3)
            raise found from error
        return f"cannot read or write the file ({error.strerror or error})"
    except Exception as error:  # a decoder error of an unexpected type on hostile input
        return " ".join(str(error).split()) or type(error).__name__


def _check_places(source: Path, out: Path, force: bool) -> None:
    if not source.exists():
        raise OptionsError(f"{source} does not exist")
    if overlap(out, [source]) is not None:
        raise OptionsError(f"OUT ({out}) must be outside SRC ({source}) and must not contain it")
    if out.is_symlink():
        raise OptionsError(f"{out} is a symbolic link; pass the folder it points to")
    if out.exists() and not force:
        raise OptionsError(f"{out} exists; pass --force to replace it (only once the new copy is complete)")
    if source.is_dir() and out.exists() and not out.is_dir():
        raise OptionsError(f"{out} exists and is not a folder")


def _is_nifti(rel: str) -> bool:
    return rel.lower().endswith((".nii", ".nii.gz"))


def anonymise_nifti_tree(source: Path | str, out: Path | str, *, force: bool = False, jobs: int | None = None,
                         progress: Progress | None = None,
                         echo: Callable[[str], None] | None = None) -> NiftiAnonymiseSummary:
    """Write the anonymised copy of ``source`` (a folder, or one NIfTI file) to ``out``.

    Raises OptionsError (exit 2) when the places make no sense (SRC missing, OUT inside SRC or around it, OUT
    exists without ``force``) and NiftiAnonymiseError (exit 1) with the reasons when a file cannot be
    anonymised; nothing is written then. Links, devices and OS litter are
    left out and listed in the summary.
    """
    started = time.perf_counter()
    source, out = Path(source), Path(out)
    _check_places(source, out, force)
    summary = NiftiAnonymiseSummary(source=str(source), out=str(out))
    if source.is_file():
        if not _is_nifti(source.name):
            raise OptionsError(f"{source} is not a NIfTI file (.nii or .nii.gz)")
        entries = [("", source.stat().st_size)]
        root = source
    elif source.is_dir():
        entries = []
        for entry in walk(source):
            if entry.kind == "file" and not is_junk_path(entry.path):
                entries.append((entry.path, entry.size))
            elif entry.kind not in ("dir",):
                summary.left_out[entry.path] = (f"a {entry.kind}, not a regular file" if entry.kind != "file"
                                                else "operating-system litter")
        root = source
    else:
        raise OptionsError(f"{source} is neither a file nor a folder")

    with lock(out):
        _check_places(source, out, force)   # again: another run may have made OUT meanwhile
        with staged(out, replace=force) as stage:
            temporary = stage.root
            jobs_list = []
            for rel, _ in entries:
                src = root / rel if rel else root
                name = rel or source.name
                kind = "nifti" if _is_nifti(name) else ("gzip" if name.lower().endswith((".gz", ".tgz")) else "copy")
                jobs_list.append(_Job(src, temporary / (rel or "file"), kind))
            results = run_tasks(_run, jobs_list, jobs, progress=progress)
            changed: list[str] = []
            for (rel, size), job, result in zip(entries, jobs_list, results, strict=True):
                if isinstance(result, str):
                    summary.failed[rel or source.name] = result
                elif isinstance(result, NiftiScrub):
                    summary.files += 1
                    summary.bytes += size
                    summary.changed += result.changed
                    summary.cleared.update(result.cleared)
                    summary.extensions += result.extensions
                    summary.gzip_headers += result.gzip_header
                    if result.trailing_bytes:
                        summary.trailing[rel or source.name] = result.trailing_bytes
                    changed.append(rel)
                elif job.kind == "gzip":
                    summary.other_gzip.append(rel)
                    changed.append(rel)
                else:
                    summary.copied.append(rel)
            if summary.failed:
                raise NiftiAnonymiseError(f"{len(summary.failed)} file(s) could not be anonymised, so nothing was "
                                          "written: " + "; ".join(f"{p}: {why}" for p, why in
                                                                  list(summary.failed.items())[:5]))
            if source.is_dir():
                summary.manifests = _refresh_manifests(temporary, changed)
                summary.copied = [p for p in summary.copied if p not in summary.manifests]
            else:
                stage.payload = temporary / "file"
    summary.seconds = round(time.perf_counter() - started, 3)
    if echo is not None:
        echo(summary_text(summary))
    return summary


def _refresh_manifests(root: Path, changed: list[str]) -> list[str]:
    """Give the checksum manifests at the top of ``root`` the new digests of the ``changed`` files; every other
    line is kept byte for byte. Returns the manifests that were rewritten."""
    wanted = set(changed)
    updated = []
    for name, algorithm in sorted(MANIFEST_ALGORITHMS.items()):
        path = root / name
        if not path.is_file() or path.is_symlink():
            continue
        try:
            manifest = parse_manifest(path, algorithm)
        except ManifestReadError:
            continue
        stale = {e.line: e for e in manifest.entries if e.path in wanted and (root / e.path).is_file()}
        if not stale:
            continue
        lines = path.read_bytes().split(b"\n")
        for number, entry in stale.items():
            digest = hash_file(root / entry.path, [entry.algorithm])[entry.algorithm]
            lines[number - 1] = re.sub(re.escape(entry.digest).encode(), digest.encode(), lines[number - 1],
                                       count=1, flags=re.IGNORECASE)
        path.write_bytes(b"\n".join(lines))
        updated.append(name)
    return updated

