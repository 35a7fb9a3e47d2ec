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
import gzip
import io
import lzma
import os
import re
import shutil
import tarfile
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

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
            from curator.io import archive_formats as formats  # here: each format's reader uses this module

            if kind == "zip":
                yield from formats.zip_members(handle, meter, wanted, store)
            elif kind == "tar":
                yield from formats.tar_members(handle, compression, meter, wanted, store)
            elif kind == "7z":
                yield from formats.sevenzip_members(handle, meter, wanted, store)
            else:
                yield from formats.rar_members(path, meter, wanted, store)
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
