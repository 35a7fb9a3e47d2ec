"""Read the regular files of an input archive (zip, tar, 7z, RAR), one member at a time, streamed, safely.

Memory per member is a stated constant, whatever the member's size: it is read in chunks of 1 MiB (``_CHUNK``), the
caller's ``take`` sees its first HEAD_BYTES and decides whether its content is kept at all, and a kept member is held
in memory up to SPILL_BYTES (8 MiB) and beyond that written to a temporary file (see :func:`iter_members`). A zip
member that is not taken is not expanded past its head; a tar member that is not taken is read through (the stream
must be) and only counted.

``curator ingest`` receives studies as folders or as archives; this module is how it reads the archives.
Every archive is hostile until read to its end:

- member names are never joined to a path on disk; a name that is absolute, carries a drive letter, a ``..``
  component or a NUL, and any member that is a link or a device, stops the reading (ARCHIVE_UNSAFE_MEMBER).
  Backslashes count as folder separators (Windows tools write them), so ``..\\x`` is judged as ``../x``;
- expanded bytes are counted as they come out of the decompressor, never taken from the headers; passing a
  :class:`Limits` stops the reading at once (ARCHIVE_BOMB), so a bomb is never held in memory;
- whatever the readers raise on damaged input becomes ARCHIVE_CORRUPT with the reason, never a traceback.

**Contract for callers**: :func:`iter_members` may raise :class:`ArchiveProblem` after it has yielded members
(a tar is judged while it streams, a CRC is known only once a member is read). Callers keep what they derive
from the members apart and commit it only after the iteration completed without an exception.

Nothing is written to disk by this module except the spill files of kept members larger than SPILL_BYTES (in a
private ``mkdtemp`` folder, or the caller's ``spill`` folder). For RAR, rarfile may also write: a compressed member
is decompressed by an external tool (unrar, unar, 7z or bsdtar) that writes to a pipe; for a member of a
non-solid, single-volume, unencrypted archive whose unpacked size is at most ``rarfile.HACK_SIZE_LIMIT``
(20 MiB), rarfile first copies that member's header and compressed bytes into a temporary ``.rar`` made with
``mkstemp`` in
``rarfile.HACK_TMP_DIR`` (None: the system temporary folder) and deletes it when the member's stream is
closed. Stored (uncompressed) RAR members are read directly, without a tool.

How each format is read:

- zip: the central directory is judged in full before the first member is read; members are then read in
  chunks (bzip2 members through a decompressor with an output bound, since zipfile's has none);
- tar (plain, gzip, bzip2, xz): decompressed by the gzip/bz2/lzma readers (which check the compressed
  stream's CRC and length, unlike tarfile's own ``r|gz``) and read by tarfile in streaming mode ``r|``, so
  the archive is decompressed once; members are judged as they are met, and the archive must end with its
  end-of-archive block (a missing or damaged one means a truncated or garbled archive);
- 7z: py7zr (an optional dependency) lists every member, which is judged before anything is decompressed;
  py7zr then decompresses in a worker thread into a counting writer (``extractall(factory=...)``, py7zr 1.x
  has no ``read()``), handing members over one at a time in its decompression order (the archive's, except
  that with several solid blocks the empty files come first). py7zr produces data in blocks of
  ``get_memory_limit()`` bytes (128 MB by default); curator sets that to 1 MiB (see ``_bound_py7zr_blocks``).
  py7zr checks each name against the current folder as if it were to extract there (it writes nothing).
  Leaving the iteration early stops the worker thread;
- RAR: rarfile (an optional dependency) lists every member first; see above for the tools and temporary files.
  A solid RAR is read member by member, so the tool decompresses the archive from its start for each one.
  rarfile 4.5 builds a broken bsdtar command line ("-f --"); when bsdtar is the tool found, its cached tool
  setup is replaced by one with the archive right after ``-f``.
"""

from __future__ import annotations

import bz2
import copy
import dataclasses
import gzip
import io
import lzma
import os
import queue
import re
import shutil
import stat
import tarfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import IO, Any, Protocol

from curator.io.formats import GZIP_MAGIC
from curator.io.junk import is_junk_path
from curator.io.regular import open_regular
from curator.outputs import scratch_folder

__all__ = ["ARCHIVE_KINDS", "HEAD_BYTES", "SPILL_BYTES", "ArchiveProblem", "ArchiveToolMissing", "Limits", "Member",
           "archive_kind", "iter_members", "rar_tool_help"]

ARCHIVE_KINDS = ("zip", "tar", "7z", "rar")

UNSAFE = "ARCHIVE_UNSAFE_MEMBER"
BOMB = "ARCHIVE_BOMB"
CORRUPT = "ARCHIVE_CORRUPT"

_CHUNK = 1 << 20
_BLOCK = tarfile.BLOCKSIZE
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Limits:
    """How far an archive may expand before it is judged a bomb (all counts are of bytes actually expanded)."""

    max_total_bytes: int = 64 * 2**30      # everything expanded, skipped members included where they are decoded
    max_member_bytes: int = 8 * 2**30      # one member (and one tar header block run)
    max_members: int = 1_000_000           # entries of any kind, folders and OS litter included
    max_ratio: float = 200.0               # expanded / compressed archive size ...
    ratio_floor: int = 32 * 2**20          # ... judged only once this much has been expanded


HEAD_BYTES = 4096          # the first bytes of a member that ``take`` sees before its content is kept
SPILL_BYTES = 8 << 20      # a kept member's content is held in memory up to this size, beyond it in a temporary file


@dataclass(frozen=True)
class Member:
    """One regular file of the archive.

    Its content is in ``data`` when it is at most SPILL_BYTES long, else in the temporary file ``spilled`` (``data``
    is then empty); use :meth:`read_bytes` or :meth:`open` for either. ``head`` is its first bytes (up to
    HEAD_BYTES); ``kept`` is False when the caller's ``take`` refused the content after seeing them.
    """

    name: str      # POSIX path inside the archive, normalised: "/" separators, no leading "./", no empty parts
    size: int
    data: bytes = b""
    spilled: Path | None = None
    head: bytes = b""
    kept: bool = True

    def read_bytes(self) -> bytes:
        """The whole content (callers check ``size`` first: a spilled member may be large)."""
        if self.spilled is not None:
            return self.spilled.read_bytes()
        return self.data

    def open(self) -> IO[bytes]:
        """The content as a binary file object."""
        if self.spilled is not None:
            return self.spilled.open("rb")
        return io.BytesIO(self.data)


class ArchiveProblem(Exception):  # noqa: N818 - the name callers use
    """The archive cannot be used: ``code`` is a finding code, ``member`` the member ("" for the archive)."""

    def __init__(self, code: str, member: str, message: str, context: dict[str, str] | None = None) -> None:
        super().__init__(code, member, message, context)
        self.code = code
        self.member = member
        self.message = message
        self.context = context or {}   # ARCHIVE_BOMB: total_bytes, ratio, max_bytes, max_ratio (the catalogue's)

    def __str__(self) -> str:
        where = f" {self.member!r}" if self.member else ""
        return f"{self.code}{where}: {self.message}"


class ArchiveToolMissing(Exception):  # noqa: N818 - the name callers use
    """Reading the archive needs a program or package that is not installed; the message says which."""


def unsafe_name(name: str) -> str | None:
    """Why a member name could write outside the extraction folder, or None."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "'..' in the path"
    if "\x00" in name:
        return "NUL character in the name"
    return None


def rar_tool_help() -> str:
    """What to install when a compressed RAR member cannot be decompressed."""
    return ("a compressed RAR member needs an external program to decompress it and none was found on PATH "
            "(rarfile looks for unrar, unar, 7z, 7zz and bsdtar). Install one: 'apt install unar' (free, all RAR "
            "versions), 'apt install libarchive-tools' (bsdtar; no solid or encrypted archives) or the non-free "
            "unrar ('apt install unrar' from Debian's non-free component, or RARLAB's build)")


# ----------------------------------------------------------------------------------------------- sniffing

_GZIP, _BZIP2, _XZ = "gzip", "bzip2", "xz"
_SUFFIXES = {_GZIP: "gz", _BZIP2: "bz2", _XZ: "xz"}
_LABELS = {"zip": "zip", "tar": "tar", "7z": "7z", "rar": "RAR"}


def _sniff(handle: IO[bytes]) -> tuple[str | None, str | None]:
    """(kind, compression of a tar) from the first bytes; the handle is left at its start."""
    head = handle.read(_BLOCK)
    handle.seek(0)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip", None
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z", None
    if head.startswith((b"Rar!\x1a\x07\x00", b"Rar!\x1a\x07\x01\x00")):
        return "rar", None
    compression = (_GZIP if head.startswith(GZIP_MAGIC) else _BZIP2 if head.startswith(b"BZh")
                   else _XZ if head.startswith(b"\xfd7zXZ\x00") else None)
    if compression is None:
        return ("tar", None) if _tar_block(head) else (None, None)
    try:
        with _decompressed(handle, compression) as stream:
            first = stream.read(_BLOCK)
    except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error):
        # compressed data that cannot even start to decompress: a damaged archive, reported as one when read
        return "tar", compression
    finally:
        handle.seek(0)
    return ("tar", compression) if _tar_block(first) else (None, None)


def _tar_block(block: bytes) -> bool:
    if len(block) < _BLOCK:
        return False
    if block[257:262] == b"ustar":
        return True
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def _decompressed(handle: IO[bytes], compression: str) -> io.BufferedIOBase:
    if compression == _GZIP:
        return gzip.GzipFile(fileobj=handle, mode="rb")
    if compression == _BZIP2:
        return bz2.BZ2File(handle, mode="rb")
    return lzma.LZMAFile(handle, mode="rb")


def archive_kind(path: Path) -> str | None:
    """One of :data:`ARCHIVE_KINDS`, judged from the first bytes (never from the name); None for anything else.

    A gzip, bzip2 or xz file counts as a tar only when its first decompressed block is a tar header (so a
    ``.nii.gz`` is not an archive); one that cannot be decompressed at all is reported as a tar, so that reading
    it reports the damage instead of the file being taken for something else. An unreadable path gives None.
    """
    try:
        with open_regular(path, "rb") as handle:
            return _sniff(handle)[0]
    except OSError:
        return None


# ----------------------------------------------------------------------------------------------- judging

class _Meter:
    """Counts entries and expanded bytes against the limits; raises ARCHIVE_BOMB the moment one is passed."""

    def __init__(self, limits: Limits, compressed: int) -> None:
        self.limits = limits
        self.compressed = max(compressed, 1)
        self.total = 0
        self.members = 0
        self.current = ""          # the member being read, for the messages

    def _numbers(self, total: int, limit: int) -> dict[str, str]:
        return {"total_bytes": f"more than {total:,}", "ratio": f"{total / self.compressed:,.0f}",
                "max_bytes": f"{limit:,}", "max_ratio": f"{self.limits.max_ratio:,.0f}"}

    def entry(self, name: str) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise ArchiveProblem(BOMB, name, f"expected at most {self.limits.max_members:,} members "
                                             f"(Limits.max_members); the archive holds more. If it is genuine, "
                                             "split it or raise the limit",
                                 self._numbers(self.total, self.limits.max_total_bytes))

    def expand(self, count: int) -> None:
        self.total += count
        limits = self.limits
        if self.total > limits.max_total_bytes:
            raise ArchiveProblem(BOMB, self.current, f"expected at most {limits.max_total_bytes:,} bytes expanded "
                                                     f"in all (Limits.max_total_bytes); stopped after "
                                                     f"{self.total:,}. If the archive is genuine, raise the limit",
                                 self._numbers(self.total, limits.max_total_bytes))
        ratio = self.total / self.compressed
        if self.total > limits.ratio_floor and ratio > limits.max_ratio:
            raise ArchiveProblem(BOMB, self.current, f"{self.compressed:,} bytes on disk expanded to more than "
                                                     f"{self.total:,} (ratio {ratio:,.0f}, above Limits.max_ratio "
                                                     f"{limits.max_ratio:,.0f}): a decompression bomb, CT data "
                                                     "compresses far less. If the data is genuine, raise max_ratio",
                                 self._numbers(self.total, limits.max_total_bytes))

    def member_size(self, name: str, size: int) -> None:
        if size > self.limits.max_member_bytes:
            raise ArchiveProblem(BOMB, name, f"expected members of at most {self.limits.max_member_bytes:,} bytes "
                                             f"(Limits.max_member_bytes); this one expands to more than {size:,}. "
                                             "If it is genuine, raise the limit",
                                 self._numbers(size, self.limits.max_member_bytes))


_LINKS = ("symbolic link", "hard link", "file copy (a link)", "junction (a Windows link)")
_LINK_ADVICE = "replace the link by the file it points to (tar --dereference, zip without --symlinks) and repack"
_WHY = {"absolute path": "an absolute path", "NUL character in the name": "a NUL character in the name"}


def _normalised(raw: str) -> str:
    return "/".join(part for part in raw.replace("\\", "/").split("/") if part not in ("", "."))


def _judge(raw: str, kind: str, meter: _Meter, seen: set[str]) -> str:
    """The member's normalised name, once its name and kind are judged safe; raises ARCHIVE_UNSAFE_MEMBER."""
    shown = raw.replace("\x00", "\\0")
    meter.entry(shown)
    name = _normalised(raw)
    why = unsafe_name(raw)
    if why is None and _DRIVE.match(raw.replace("\\", "/")):
        why = "a drive letter"
    if why is None and not name:
        if kind == "dir":
            return ""  # "./", the archive's own root (tar -C folder .)
        why = "an empty name"
    if why is not None:
        raise ArchiveProblem(UNSAFE, shown, f"expected a relative path inside the archive; found {_WHY.get(why, why)}: "
                                            "extracting this member would write outside the target folder. "
                                            "Remove it and repack the archive")
    if kind not in ("file", "dir"):
        advice = _LINK_ADVICE if kind in _LINKS else "remove it and repack"
        raise ArchiveProblem(UNSAFE, shown, f"expected regular files and folders only; this member is a {kind}: "
                                            f"{advice}")
    if kind == "file":
        if name in seen:
            raise ArchiveProblem(UNSAFE, shown, f"{name!r} appears more than once, and tools disagree about which "
                                                "copy wins; keep one copy and repack the archive")
        seen.add(name)
    return name


def _junk(name: str) -> bool:
    return is_junk_path(name)


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class _Store:
    """Where kept members go: memory up to SPILL_BYTES each, beyond it files in a private temporary folder (made with
    ``mkdtemp``: mode 0700) or in the caller's ``spill`` folder. ``take(name, head)`` is the caller's choice, made
    on a member's first HEAD_BYTES, to keep its content or only count it."""

    def __init__(self, take: Callable[[str, bytes], bool] | None, spill: Path | None) -> None:
        self.take = take
        self.own = spill is None          # our folder: each file goes when the caller moves to the next member
        self.folder = spill
        self.count = 0
        self.open_files: set[IO[bytes]] = set()

    def choose(self, name: str, head: bytes) -> bool:
        if self.take is None:
            return True
        try:
            return bool(self.take(name, head))
        except Exception as error:
            raise _CallerError(error) from error

    def new_file(self) -> tuple[Path, IO[bytes]]:
        if self.folder is None:
            self.folder = scratch_folder("curator-members-")
        self.count += 1
        path = self.folder / f"member-{self.count}"
        handle = path.open("xb")   # closed by the collector, or by close()
        self.open_files.add(handle)
        return path, handle

    def close(self) -> None:
        for handle in list(self.open_files):
            handle.close()
        self.open_files.clear()
        if self.own and self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


class _Collector:
    """One member's bytes as they come out of the decompressor: its head kept for ``take``, its content (when kept)
    in memory up to SPILL_BYTES and in a spill file beyond; never more than that plus one chunk in memory."""

    def __init__(self, name: str, store: _Store, keep: bool) -> None:
        self.name = name
        self.store = store
        self.keep = keep
        self.decided = not keep
        self.size = 0
        self.head = bytearray()
        self.buffer = bytearray()
        self.path: Path | None = None
        self.file: IO[bytes] | None = None

    def write(self, block: bytes | bytearray) -> None:
        self.size += len(block)
        if len(self.head) < HEAD_BYTES:
            self.head += block[:HEAD_BYTES - len(self.head)]
        if not self.keep:
            return
        if not self.decided:
            if len(self.head) < HEAD_BYTES:   # everything so far fits in the head: held until the choice
                self.buffer += block
                return
            self._decide()
            if not self.keep:
                return
        self._store(block)

    def _decide(self) -> None:
        self.decided = True
        pending, self.buffer = self.buffer, bytearray()
        self.keep = self.store.choose(self.name, bytes(self.head))
        if self.keep and pending:
            self._store(pending)

    def _store(self, block: bytes | bytearray) -> None:
        if self.file is None and len(self.buffer) + len(block) <= SPILL_BYTES:
            self.buffer += block
            return
        if self.file is None:
            self.path, self.file = self.store.new_file()
            self.file.write(self.buffer)
            self.buffer = bytearray()
        self.file.write(block)

    def finish(self) -> Member:
        if not self.decided:
            self._decide()
        if self.file is not None:
            self.file.close()
            self.store.open_files.discard(self.file)
        data = bytes(self.buffer) if self.keep and self.file is None else b""
        self.buffer = bytearray()
        return Member(self.name, self.size, data, self.path if self.keep else None, bytes(self.head), self.keep)


def _collect(stream: _Readable, collector: _Collector, meter: _Meter, count: bool = True,
             chunk: int = _CHUNK, drain: bool = True) -> Member:
    """Read a member in chunks, each judged against the limits before it is kept. ``drain`` False: a member not
    taken is left unread past its head (a zip member: the others do not depend on it)."""
    while block := stream.read(chunk):
        meter.member_size(collector.name, collector.size + len(block))
        if count:
            meter.expand(len(block))
        collector.write(block)
        if not drain and collector.decided and not collector.keep:
            break
    return collector.finish()


# ----------------------------------------------------------------------------------------------- reading

def iter_members(path: Path, limits: Limits = Limits(), want: Callable[[str], bool] | None = None,
                 take: Callable[[str, bytes], bool] | None = None, spill: Path | None = None,
                 ) -> Generator[Member, None, None]:
    """The regular files of the archive at ``path``, in archive order, each streamed in chunks of 1 MiB.

    Folders and OS litter (``__MACOSX``, ``.DS_Store``, ``._*``, ``Thumbs.db``, ``desktop.ini``) are skipped.
    ``want(name)`` False skips a member's data (it is still judged). ``take(name, head)``, given a member's first
    HEAD_BYTES, says whether to keep its content; a member not taken is still read to its end (counted against the
    limits, its CRC checked) and yielded with ``kept=False``, its ``head`` only. A kept member is held in memory up
    to SPILL_BYTES and beyond that in a temporary file: in ``spill`` when given (the caller's folder, the caller
    removes the files), else in a private folder of the system's temporary folder, where each member's file is
    removed when the iteration moves past it and the folder when it ends. So no member costs more memory than
    SPILL_BYTES plus one chunk (for 7z, plus one py7zr block), whatever its size. A caller that stops early should
    ``close()`` the generator (or drop it) to release the file and the 7z worker thread.

    Raises :class:`ArchiveProblem` (possibly after members were yielded: see the module's contract),
    :class:`ArchiveToolMissing` when a RAR member or a 7z needs what is not installed, and ``OSError`` when
    ``path`` cannot be opened at all.
    """
    store = _Store(take, spill)
    try:
        for member in _members(path, limits, want, store):
            yield member
            if store.own and member.spilled is not None:
                member.spilled.unlink(missing_ok=True)
    finally:
        store.close()


def _members(path: Path, limits: Limits, want: Callable[[str], bool] | None, store: _Store) -> Iterator[Member]:
    with open_regular(path, "rb") as handle:
        kind, compression = _sniff(handle)
        meter = _Meter(limits, os.fstat(handle.fileno()).st_size)
        wanted = _Wanted(want)
        if kind is None:
            raise ArchiveProblem(CORRUPT, "", "expected an archive (zip, tar, tar.gz/bz2/xz, 7z or RAR); the first "
                                              "bytes match none of them. Check that the file is complete and is "
                                              "an archive")
        try:
            if kind == "zip":
                yield from _zip_members(handle, meter, wanted, store)
            elif kind == "tar":
                yield from _tar_members(handle, compression, meter, wanted, store)
            elif kind == "7z":
                yield from _sevenzip_members(handle, meter, wanted, store)
            else:
                yield from _rar_members(path, meter, wanted, store)
        except (ArchiveProblem, ArchiveToolMissing):
            raise
        except _CallerError as error:
            raise error.original from None
        except Exception as error:  # the boundary: whatever a hostile archive makes the readers raise is a finding
            raise ArchiveProblem(CORRUPT, meter.current, _corrupt_reason(kind, compression, error)) from error


class _CallerError(Exception):
    def __init__(self, original: Exception) -> None:
        super().__init__(original)
        self.original = original


class _Wanted:
    """The caller's filter; its own exceptions pass through untouched (they are not the archive's fault)."""

    def __init__(self, want: Callable[[str], bool] | None) -> None:
        self.want = want

    def __call__(self, name: str) -> bool:
        if self.want is None:
            return True
        try:
            return bool(self.want(name))
        except Exception as error:
            raise _CallerError(error) from error


def _corrupt_reason(kind: str, compression: str | None, error: Exception) -> str:
    label = f"tar.{_SUFFIXES[compression]}" if compression else _LABELS[kind]
    if isinstance(error, EOFError):
        detail = "the data ends early (a truncated file)"
    else:
        detail = str(error) or type(error).__name__
        if type(error).__name__ not in detail:
            detail = f"{type(error).__name__}: {detail}"
    return (f"expected an intact {label} archive; reading failed: {detail}. Check the file against its published "
            "checksum, download it again or ask for a new copy")


# zip

def zip_member_kind(info: zipfile.ZipInfo) -> str:
    mode = info.external_attr >> 16 if info.create_system == 3 else 0
    kind = stat.S_IFMT(mode)   # 0 when only permissions (or nothing) were stored: a regular file
    if kind == stat.S_IFLNK:
        return "symbolic link"
    if info.is_dir() or kind == stat.S_IFDIR:
        return "dir"
    if kind not in (0, stat.S_IFREG):
        return _mode_kind(mode)
    return "file"


def _mode_kind(mode: int) -> str:
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    return f"special file (mode {stat.S_IFMT(mode):o})"


def _zip_members(handle: IO[bytes], meter: _Meter, wanted: _Wanted, store: _Store) -> Iterator[Member]:
    with zipfile.ZipFile(handle) as archive:
        seen: set[str] = set()
        plan: list[tuple[zipfile.ZipInfo, str]] = []
        for info in archive.infolist():  # the whole central directory is judged before any data is read
            kind = zip_member_kind(info)
            name = _judge(info.filename, kind, meter, seen)
            if kind == "file" and not _junk(name):
                plan.append((info, name))
        for info, name in plan:
            if not wanted(name):
                continue
            meter.current = name
            if info.flag_bits & 0x1:
                raise ArchiveProblem(CORRUPT, name, "the member is encrypted (password-protected); expected plain "
                                                    "members. Ask for an archive without a password")
            yield _zip_read(archive, info, _Collector(name, store, keep=True), meter)


def _zip_read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, collector: _Collector, meter: _Meter) -> Member:
    name = collector.name
    if info.compress_type == zipfile.ZIP_BZIP2:
        return _zip_read_bzip2(archive, info, collector, meter)
    # deflate output is bounded by the read size; zipfile's LZMA is not, so it gets small reads (LZMA expands
    # at most some thousands of times)
    chunk = 4096 if info.compress_type == zipfile.ZIP_LZMA else _CHUNK
    try:
        with archive.open(info) as stream:
            # a member the caller does not take (not DICOM by its first bytes) is not expanded further: zip members
            # are independent, so its CRC matters to nothing curator makes. The rest of it is counted at the size
            # its header declares (a bomb is still an ARCHIVE_BOMB; a header that understates costs nothing here)
            member = _collect(stream, collector, meter, chunk=chunk, drain=False)
            if member.kept:
                return member
            meter.member_size(name, max(info.file_size, member.size))
            meter.expand(max(info.file_size - member.size, 0))
            return dataclasses.replace(member, size=max(info.file_size, member.size))
    except NotImplementedError as error:
        raise ArchiveProblem(CORRUPT, name, f"the member uses a compression method this reader lacks ({error}); "
                                            "expected stored, deflate, bzip2 or LZMA. Repack the archive with "
                                            "deflate (the default of zip tools)") from error


class _BoundedBzip2:
    """A bzip2 member of a zip, decompressed with an output bound (zipfile decompresses each input chunk whole)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.decompressor = bz2.BZ2Decompressor()
        self.crc = 0

    def read(self, size: int = _CHUNK, /) -> bytes:
        while not self.decompressor.eof:
            data = b""
            if self.decompressor.needs_input:
                data = self.raw.read(64 * 1024)
                if not data:
                    raise EOFError("bzip2 data ends early")
            out = self.decompressor.decompress(data, size)
            if out:
                self.crc = zlib.crc32(out, self.crc)
                return out
        return b""


def _zip_read_bzip2(archive: zipfile.ZipFile, info: zipfile.ZipInfo, collector: _Collector, meter: _Meter) -> Member:
    raw_info = copy.copy(info)
    raw_info.compress_type = zipfile.ZIP_STORED
    raw_info.file_size = info.compress_size
    del raw_info.CRC  # the raw bytes have no CRC of their own; the expanded ones are checked below
    with archive.open(raw_info) as raw:
        stream = _BoundedBzip2(raw)
        member = _collect(stream, collector, meter)
    if member.size != info.file_size or stream.crc != info.CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 or size for file {info.filename!r}")
    return member


# tar

def tar_member_kind(info: tarfile.TarInfo) -> str:
    if info.isreg():
        return "file"
    if info.isdir():
        return "dir"
    if info.issym():
        return "symbolic link"
    if info.islnk():
        return "hard link"
    if info.ischr() or info.isblk():
        return "device"
    if info.isfifo():
        return "fifo"
    return f"tar entry of type {info.type.decode('latin-1')!r}"


class _Expanded:
    """The decompressed tar stream as tarfile reads it: every byte counted, the latest reads kept (to see the
    block where tarfile stopped), and no run of header bytes larger than a member allowed."""

    def __init__(self, source: _Readable, meter: _Meter) -> None:
        self.source = source
        self.meter = meter
        self.count = 0
        self.mark = 0
        self.recent: list[tuple[int, bytes]] = []

    def read(self, size: int = -1, /) -> bytes:
        data = self.source.read(size if 0 <= size <= _CHUNK else _CHUNK)
        if data:
            self.recent = [*self.recent[-3:], (self.count, data)]
            self.count += len(data)
            self.meter.expand(len(data))
            if self.count - self.mark > self.meter.limits.max_member_bytes + 2 * tarfile.RECORDSIZE:
                self.meter.member_size(self.meter.current or "(tar header)", self.count - self.mark)
        return data

    def block_at(self, offset: int) -> bytes:
        """The 512 bytes at ``offset`` if they are among the latest reads, else b""."""
        joined = b"".join(data for _, data in self.recent)
        start = offset - self.recent[0][0] if self.recent else -1
        return joined[start:start + _BLOCK] if start >= 0 else b""


def _tar_members(handle: IO[bytes], compression: str | None, meter: _Meter, wanted: _Wanted,
                 store: _Store) -> Iterator[Member]:
    source = _decompressed(handle, compression) if compression else handle
    with source:
        expanded = _Expanded(source, meter)
        seen: set[str] = set()
        with tarfile.open(fileobj=expanded, mode="r|") as archive:  # type: ignore[call-overload]
            while True:
                meter.current = ""
                expanded.mark = expanded.count
                info = archive.next()
                archive.members.clear()  # streaming: keep no list of every member seen
                if info is None:
                    break
                kind = tar_member_kind(info)
                name = _judge(info.name, kind, meter, seen)
                if kind != "file":
                    continue
                meter.current = name
                expanded.mark = expanded.count
                stream = archive.extractfile(info)
                if stream is None:  # pragma: no cover - a regular member always has a stream
                    continue
                keep = not _junk(name) and wanted(name)
                member = _collect(stream, _Collector(name, store, keep), meter, count=False)  # _Expanded counts
                if keep:
                    yield member
            end = archive.offset
        block = expanded.block_at(end)
        if expanded.count < end + _BLOCK:
            raise ArchiveProblem(CORRUPT, "", f"expected the tar to end with its end-of-archive block; it stops at "
                                              f"byte {expanded.count:,}, inside or before a member header (a "
                                              "truncated file). Download or copy it again")
        if block and block.count(0) != _BLOCK:
            raise ArchiveProblem(CORRUPT, "", f"expected a member header or the end-of-archive block at byte "
                                              f"{end:,}; found damaged data, so the members after it cannot be "
                                              "read. Download or copy the archive again")
        meter.current = ""
        while expanded.read(_CHUNK):  # the rest of the stream: checks the compressed stream's CRC and length
            pass


# 7z

class _StoppedError(Exception):
    """The reader went away: the 7z worker thread stops."""


class _Handoff:
    """Members decompressed by the 7z worker thread, handed to the reading thread one at a time."""

    def __init__(self) -> None:
        self.queue: queue.Queue[Member | BaseException | None] = queue.Queue(maxsize=1)
        self.stopped = threading.Event()

    def put(self, item: Member | BaseException | None) -> None:
        while not self.stopped.is_set():
            try:
                self.queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue
        raise _StoppedError


def _chunk_limit() -> int:
    return _CHUNK


def _bound_py7zr_blocks() -> None:
    """py7zr hands each member's data to its writer in blocks of up to ``get_memory_limit()`` bytes (128 MB by
    default, and one block is held whole), the only use of that function; curator's process sets it to _CHUNK, so a
    7z member costs the same constant memory as a member of any other archive."""
    import py7zr.py7zr as core

    if getattr(core, "get_memory_limit", None) is not _chunk_limit:
        setattr(core, "get_memory_limit", _chunk_limit)  # noqa: B010 - not re-exported: mypy needs setattr


def _sevenzip_kind(entry: Any) -> str:
    if entry.is_symlink:
        return "symbolic link"
    if entry.is_junction:
        return "junction (a Windows link)"
    if entry.is_directory:
        return "dir"
    if entry.is_socket:
        return "socket"
    fmt = entry.st_fmt
    if fmt not in (None, 0, stat.S_IFREG):
        return _mode_kind(int(fmt))
    return "file"


def _sevenzip_members(handle: IO[bytes], meter: _Meter, wanted: _Wanted, store: _Store) -> Iterator[Member]:
    try:
        import py7zr
    except ImportError as error:
        raise ArchiveToolMissing("reading 7z archives needs the Python package py7zr: pip install py7zr") from error
    _bound_py7zr_blocks()

    handoff = _Handoff()

    class Sink(py7zr.Py7zIO):
        """One member's bytes, counted as py7zr writes them; handed over when py7zr closes it."""

        def __init__(self, name: str, keep: bool) -> None:
            self.name = name
            self.keep = keep
            self.collector = _Collector(name, store, keep)
            self.count = 0

        def write(self, s: bytes | bytearray) -> int:
            if handoff.stopped.is_set():
                raise _StoppedError
            self.count += len(s)
            meter.member_size(self.name, self.count)
            meter.expand(len(s))
            self.collector.write(s)
            return len(s)

        def read(self, size: int | None = None) -> bytes:
            return b""

        def seek(self, offset: int, whence: int = 0) -> int:
            return 0

        def flush(self) -> None:
            return None

        def size(self) -> int:
            return self.count

        def close(self) -> None:
            member = self.collector.finish()
            if self.keep:
                handoff.put(member)

    class Factory(py7zr.WriterFactory):
        def __init__(self, plan: dict[str, tuple[str, bool]]) -> None:
            self.plan = plan

        def create(self, filename: str) -> py7zr.Py7zIO:
            if filename not in self.plan:
                raise py7zr.Bad7zFile(f"py7zr names a member {filename!r} that its listing does not hold")
            name, keep = self.plan[filename]
            meter.current = name
            return Sink(name, keep)

    with py7zr.SevenZipFile(handle, mode="r") as archive:  # a file object: py7zr decompresses in one thread
        if archive.needs_password():
            raise ArchiveProblem(CORRUPT, "", "the archive is encrypted (password-protected); expected plain "
                                              "members. Ask for an archive without a password")
        seen: set[str] = set()
        plan: dict[str, tuple[str, bool]] = {}   # py7zr's name for the member -> (our name, keep its bytes)
        for entry in archive.files:
            raw = str(entry.filename)
            kind = _sevenzip_kind(entry)
            name = _judge(raw, kind, meter, seen)
            if kind == "file":
                plan[PurePath(raw).as_posix()] = (name, not _junk(name) and wanted(name))

        def work() -> None:
            try:
                archive.extractall(factory=Factory(plan))
                handoff.put(None)
            except _StoppedError:
                return
            except BaseException as error:  # handed to the reading thread, which raises it
                try:
                    handoff.put(error)
                except _StoppedError:
                    return

        worker = threading.Thread(target=work, name="curator-7z-reader", daemon=True)
        worker.start()
        try:
            while (item := handoff.queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            handoff.stopped.set()
            worker.join()


# RAR

def _rar_kind(info: Any, rarfile: Any) -> str:
    if info.file_redir:
        return {rarfile.RAR5_XREDIR_HARD_LINK: "hard link", rarfile.RAR5_XREDIR_FILE_COPY: "file copy (a link)",
                rarfile.RAR5_XREDIR_WINDOWS_JUNCTION: "junction (a Windows link)"}.get(info.file_redir[0],
                                                                                      "symbolic link")
    if info.is_symlink():
        return "symbolic link"
    if info.is_dir():
        return "dir"
    mode = int(info.mode or 0) if info.host_os == rarfile.RAR_OS_UNIX else 0
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        return _mode_kind(mode)
    return "file"


def _rar_tool(rarfile: Any) -> str:
    """The program rarfile will run for compressed members; raises ArchiveToolMissing when there is none."""
    try:
        setup = rarfile.tool_setup()
    except rarfile.RarCannotExec as error:
        raise ArchiveToolMissing(rar_tool_help()) from error
    command = setup.open_cmdline(None, "in.rar")
    if setup.setup is rarfile.BSDTAR_CONFIG and command[command.index("-f") + 1] == "--":
        # rarfile 4.5 writes "bsdtar -x --to-stdout -f -- in.rar": bsdtar then opens an archive named "--". The
        # cached setup is replaced by one that puts the archive right after -f (rarfile still runs and checks it)
        setup = rarfile.CURRENT_SETUP = _bsdtar_setup(rarfile)
    return str(setup.get_cmdline("check_cmd", None)[0])


def _bsdtar_setup(rarfile: Any) -> Any:
    class BsdtarSetup(rarfile.ToolSetup):  # type: ignore[misc]
        def open_cmdline(self, pwd: str | None, rarfn: str, filefn: str | None = None) -> list[str]:
            command = [rarfile.BSDTAR_TOOL, "-x", "--to-stdout", "-f", rarfn]
            self.add_password_arg(command, pwd)  # bsdtar reads no encrypted RAR: rarfile raises for a password
            return [*command, "--", filefn] if filefn else command

    return BsdtarSetup(rarfile.BSDTAR_CONFIG)


def _rar_members(path: Path, meter: _Meter, wanted: _Wanted, store: _Store) -> Iterator[Member]:
    try:
        import rarfile  # type: ignore[import-untyped]
    except ImportError as error:
        raise ArchiveToolMissing("reading RAR archives needs the Python package rarfile: pip install rarfile, "
                                 "and for compressed members an external tool: " + rar_tool_help()) from error
    with rarfile.RarFile(str(path), errors="strict") as archive:
        if archive.needs_password():
            raise ArchiveProblem(CORRUPT, "", "the archive is encrypted (password-protected); expected plain "
                                              "members. Ask for an archive without a password")
        meter.compressed = max(sum(Path(volume).stat().st_size for volume in archive.volumelist()), 1)
        seen: set[str] = set()
        plan: list[tuple[Any, str]] = []
        for info in archive.infolist():
            kind = _rar_kind(info, rarfile)
            name = _judge(str(info.filename), kind, meter, seen)
            if kind == "file" and not _junk(name):
                plan.append((info, name))
        tool = ""
        for info, name in plan:
            if not wanted(name):
                continue
            meter.current = name
            piped = info.compress_type != rarfile.RAR_M0 or rarfile.FORCE_TOOL
            if piped and not tool:
                tool = _rar_tool(rarfile)  # before rarfile writes a temporary copy of the member
            try:
                with archive.open(info) as stream:
                    member = _collect(stream, _Collector(name, store, keep=True), meter)
            except (rarfile.Error, OSError) as error:
                using = f" (decompressed with {tool}; another tool, e.g. unrar, may read it)" if piped else ""
                raise ArchiveProblem(CORRUPT, name, f"expected an intact RAR member; reading failed: "
                                                    f"{type(error).__name__}: {error}{using}. Check the file "
                                                    "against its published checksum or download it again"
                                     ) from error
            yield member
