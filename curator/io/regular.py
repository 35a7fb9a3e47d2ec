"""Open a file named by the user only when it is a regular file, so that a FIFO, a device or a folder never blocks.

``open()`` on a FIFO waits for a writer: ``--key-file``, ``studies.csv`` or ``dataset.yaml`` made a FIFO would hang
curator forever, and a device such as ``/dev/zero`` would be read without end. Every file curator opens by name (the
options' files, the source's card and table, the registry, manifests, config and waiver files) goes through
:func:`open_regular`: it opens with ``O_NONBLOCK`` (which never waits, whatever the file is), checks with ``fstat`` on
the open descriptor (no race with a swap of the name) that it is a regular file, and only then reads, in blocking
mode. A link is followed: the file it leads to must be regular. Anything else raises :class:`NotRegularFile`, an
``OSError`` whose ``strerror`` says what was found, so the callers' ``except OSError`` reports it like any other
unreadable file.
"""

from __future__ import annotations

import errno
import fcntl
import io
import os
import stat
from pathlib import Path
from typing import IO, Any

from curator.io.inventory import mode_kind

__all__ = ["NotRegularFile", "ensure_regular", "file_kind", "open_regular", "read_regular_bytes", "read_regular_text"]


class NotRegularFile(OSError):  # noqa: N818 - an OSError: the callers' handlers report it
    """The name leads to a FIFO, a device, a socket or a folder, not to a regular file."""

    def __str__(self) -> str:  # the callers' messages name the file already: no "[Errno 22]" noise
        return str(self.strerror)


_WORDS = {"file": "regular file", "dir": "folder", "named pipe": "FIFO (named pipe)"}


def file_kind(mode: int) -> str:
    """What a ``st_mode`` is, in words (the kinds of :func:`curator.io.inventory.mode_kind`)."""
    kind = mode_kind(mode)
    return _WORDS.get(kind, kind) if kind != "other" else f"special file (mode {stat.S_IFMT(mode):o})"


def ensure_regular(fd: int, path: Path | str) -> None:
    """Raise :class:`NotRegularFile` unless the open descriptor ``fd`` (of ``path``) is a regular file."""
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        raise NotRegularFile(errno.EINVAL, f"expected a regular file; found a {file_kind(mode)}", str(path))


def _open_fd(path: Path | str) -> int:
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError as error:
        raise NotRegularFile(errno.EISDIR, "expected a regular file; found a folder", str(path)) from error
    try:
        ensure_regular(fd, path)
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_regular(path: Path | str, mode: str = "rb", **options: Any) -> IO[Any]:
    """``open(path, mode, **options)`` for reading, refusing anything but a regular file without blocking
    (raises :class:`NotRegularFile`, or the ``OSError`` of the open)."""
    if any(flag in mode for flag in "wax+"):
        raise ValueError("open_regular only reads")
    fd = _open_fd(path)
    try:
        return io.open(fd, mode, **options)  # noqa: UP020 - a descriptor, not a name
    except BaseException:
        os.close(fd)
        raise


def read_regular_bytes(path: Path | str, limit: int | None = None) -> bytes:
    """The bytes of a regular file; with ``limit``, a file larger than it raises ``OSError`` (EFBIG) unread."""
    with open_regular(path, "rb") as handle:
        if limit is not None:
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                raise OSError(errno.EFBIG, f"expected at most {limit:,} bytes; the file has {size:,}", str(path))
            data: bytes = handle.read(limit + 1)
            if len(data) > limit:
                raise OSError(errno.EFBIG, f"expected at most {limit:,} bytes; the file grew past it", str(path))
            return data
        result: bytes = handle.read()
        return result


def read_regular_text(path: Path | str, encoding: str = "utf-8", errors: str = "strict") -> str:
    """``Path.read_text`` for a regular file only."""
    with open_regular(path, "r", encoding=encoding, errors=errors) as handle:
        text: str = handle.read()
        return text
