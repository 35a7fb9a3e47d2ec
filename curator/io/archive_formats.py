"""The readers of each archive format behind :func:`curator.io.archive_read.iter_members`: zip, tar, 7z (py7zr)
and RAR (rarfile), each streaming members through the same meter, judge and store; and the member kinds verify's
own listing uses (``zip_member_kind``, ``tar_member_kind``)."""

from __future__ import annotations

import bz2
import copy
import dataclasses
import queue
import stat
import tarfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePath
from typing import IO, Any, TypeVar

from curator.io.archive_read import (  # the shared machinery of every format's reader
    _BLOCK,
    _CHUNK,
    CORRUPT,
    ArchiveProblem,
    ArchiveToolMissing,
    Member,
    _collect,
    _Collector,
    _decompressed,
    _judge,
    _junk,
    _Meter,
    _Readable,
    _Store,
    _Wanted,
    rar_tool_help,
)

__all__ = ["rar_members", "sevenzip_members", "tar_member_kind", "tar_members", "zip_member_kind", "zip_members"]

_Info = TypeVar("_Info")   # a directory entry: zipfile.ZipInfo, rarfile.RarInfo



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


def _listed(infos: Iterable[_Info], name_of: Callable[[_Info], str], kind_of: Callable[[_Info], str], meter: _Meter,
            wanted: _Wanted) -> Iterator[tuple[_Info, str]]:
    """(entry, name) of the regular, non-junk members the caller wants, each set as ``meter.current`` in turn, of
    an archive with a directory (zip, RAR): the whole directory is judged (_judge) before any data is read."""
    seen: set[str] = set()
    plan: list[tuple[_Info, str]] = []
    for info in infos:
        kind = kind_of(info)
        name = _judge(name_of(info), kind, meter, seen)
        if kind == "file" and not _junk(name):
            plan.append((info, name))
    for info, name in plan:
        if wanted(name):
            meter.current = name
            yield info, name


def zip_members(handle: IO[bytes], meter: _Meter, wanted: _Wanted, store: _Store) -> Iterator[Member]:
    with zipfile.ZipFile(handle) as archive:
        for info, name in _listed(archive.infolist(), lambda i: i.filename, zip_member_kind, meter, wanted):
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


def tar_members(handle: IO[bytes], compression: str | None, meter: _Meter, wanted: _Wanted,
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


def _sevenzip_factory(plan: dict[str, tuple[str, bool]], meter: _Meter, store: _Store, handoff: _Handoff) -> Any:
    """py7zr's writer factory for one extraction: each member of ``plan`` (py7zr's name -> our name, keep its
    bytes) is counted by ``meter`` as py7zr writes it, collected into ``store`` and handed over when closed."""
    import py7zr

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
        def create(self, filename: str) -> py7zr.Py7zIO:
            if filename not in plan:
                raise py7zr.Bad7zFile(f"py7zr names a member {filename!r} that its listing does not hold")
            name, keep = plan[filename]
            meter.current = name
            return Sink(name, keep)

    return Factory()


def _sevenzip_plan(archive: Any, meter: _Meter, wanted: _Wanted) -> dict[str, tuple[str, bool]]:
    """Every member of the listing judged (names, kinds, counts); for each regular file py7zr's name for it ->
    (our name, whether its bytes are kept)."""
    seen: set[str] = set()
    plan: dict[str, tuple[str, bool]] = {}
    for entry in archive.files:
        raw = str(entry.filename)
        kind = _sevenzip_kind(entry)
        name = _judge(raw, kind, meter, seen)
        if kind == "file":
            plan[PurePath(raw).as_posix()] = (name, not _junk(name) and wanted(name))
    return plan


def _handed_over(handoff: _Handoff, extract: Callable[[], None]) -> Iterator[Member]:
    """Run ``extract`` in a worker thread and yield the members it hands over, in order; its error is raised
    here. Stopping early (the reader goes away) stops the worker at its next write."""

    def work() -> None:
        try:
            extract()
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


def sevenzip_members(handle: IO[bytes], meter: _Meter, wanted: _Wanted, store: _Store) -> Iterator[Member]:
    try:
        import py7zr
    except ImportError as error:
        raise ArchiveToolMissing("reading 7z archives needs the Python package py7zr: pip install py7zr") from error
    _bound_py7zr_blocks()

    handoff = _Handoff()
    with py7zr.SevenZipFile(handle, mode="r") as archive:  # a file object: py7zr decompresses in one thread
        if archive.needs_password():
            raise ArchiveProblem(CORRUPT, "", "the archive is encrypted (password-protected); expected plain "
                                              "members. Ask for an archive without a password")
        plan = _sevenzip_plan(archive, meter, wanted)
        factory = _sevenzip_factory(plan, meter, store, handoff)
        yield from _handed_over(handoff, lambda: archive.extractall(factory=factory))


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


def rar_members(path: Path, meter: _Meter, wanted: _Wanted, store: _Store) -> Iterator[Member]:
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
        tool = ""
        for info, name in _listed(archive.infolist(), lambda i: str(i.filename), lambda i: _rar_kind(i, rarfile),
                                  meter, wanted):
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

