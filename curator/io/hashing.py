"""Hash a file once for several algorithms. hashlib releases the GIL on large updates, so threads scale."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Protocol

from curator.io.regular import ensure_regular

# O_NONBLOCK: a FIFO swapped in for a listed file between the walk and the open is opened without waiting for a
# writer (reads of a regular file ignore the flag); _first_read then refuses it. No fstat for an ordinary small file.
_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)

CHUNK = 1 << 20
SMALL_READ = 64 << 10   # the least a read asks for (a file that grows while read is still read in full)
ALGORITHMS = ("sha256", "md5", "sha1", "sha512", "xxh128")


class _Hasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...
    def hexdigest(self) -> str: ...


def new_hasher(algorithm: str) -> _Hasher:
    if algorithm == "xxh128":
        import xxhash  # only for XXH128SUMS; not at start-up

        return xxhash.xxh3_128()
    import hashlib  # here, not at start-up: a verify that the cache answers hashes nothing

    return hashlib.new(algorithm)


_CONSTRUCTORS: dict[str, Callable[[], _Hasher]] = {}   # hashlib's own constructor of each algorithm, found once


def _constructor(algorithm: str) -> Callable[[], _Hasher]:
    """A function making a new hasher of ``algorithm``: ``hashlib.sha256`` itself rather than ``hashlib.new``,
    whose lookup is a third of the Python time of hashing a 1 KB file."""
    made = _CONSTRUCTORS.get(algorithm)
    if made is None:
        import hashlib

        made = getattr(hashlib, algorithm, None) if algorithm in hashlib.algorithms_guaranteed else None
        made = made if made is not None else partial(new_hasher, algorithm)
        _CONSTRUCTORS[algorithm] = made
    return made


def _first_read(fd: int, path: Path | str) -> bytes:
    """The first read of a file opened with :data:`_FLAGS`. What reads nothing or would block is checked to be a
    regular file (an empty one passes); a FIFO or device is refused (:class:`~curator.io.regular.NotRegularFile`)."""
    try:
        data = os.read(fd, SMALL_READ)
    except BlockingIOError:
        ensure_regular(fd, path)
        raise
    if not data:
        ensure_regular(fd, path)
    return data


def hash_file(path: Path | str, algorithms: Iterable[str]) -> dict[str, str]:
    """Hex digests of ``path`` for each algorithm, from one read of the file (:func:`_read_into`)."""
    if isinstance(algorithms, tuple | list) and len(algorithms) == 1:
        return {algorithms[0]: hash_one(path, algorithms[0])[0]}
    hashers = [(name, new_hasher(name)) for name in algorithms]
    _read_into(path, [hasher for _, hasher in hashers])
    return {name: hasher.hexdigest() for name, hasher in hashers}


def hash_one(path: Path | str, algorithm: str) -> tuple[str, int]:
    """The hex digest of ``path`` for one algorithm and the bytes read, read as :func:`hash_file` reads it; the
    common case of many small files listed in one sum file, with as little Python per file as the reading allows."""
    hasher = _constructor(algorithm)()
    size = _read_into(path, (hasher,))
    return hasher.hexdigest(), size


def _read_into(path: Path | str, hashers: Sequence[_Hasher]) -> int:
    """Give every byte of ``path`` to each of ``hashers`` in order, and return how many there were: the one read loop
    of :func:`hash_one` and :func:`hash_file`. Small files take one ``read`` (and one more to see the end): hashing
    thousands of 1 KB files must cost a few system calls each, not a file object and a buffer. Larger ones are read
    into one buffer of :data:`CHUNK`. Only a regular file is read (:func:`_first_read`; a file that reads on is
    checked once)."""
    fd = os.open(path, _FLAGS)
    try:
        data = _first_read(fd, path)
        size = len(data)
        if size < SMALL_READ:   # a small file: the next read is its end (or what grew meanwhile)
            while data:
                for hasher in hashers:
                    hasher.update(data)
                data = os.read(fd, SMALL_READ)
                if data and size <= SMALL_READ:   # it grew, or it is a pipe: only a regular file is read on
                    ensure_regular(fd, path)
                size += len(data)
        else:
            ensure_regular(fd, path)   # one fstat among many reads
            for hasher in hashers:
                hasher.update(data)
            view = memoryview(bytearray(CHUNK))
            while count := os.readv(fd, [view]):
                for hasher in hashers:
                    hasher.update(view[:count])
                size += count
    finally:
        os.close(fd)
    return size


def sha256_of(path: Path) -> str:
    """The SHA-256 hex digest of a file (OSError when it cannot be read)."""
    return hash_file(path, ["sha256"])["sha256"]


def hash_chunks(chunks: Iterable[bytes | memoryview], algorithms: Iterable[str]) -> dict[str, str]:
    """Hex digests for each algorithm of a stream given as chunks (an object in a store, read once)."""
    hashers = [(name, new_hasher(name)) for name in algorithms]
    for data in chunks:
        for _, hasher in hashers:
            hasher.update(data)
    return {name: hasher.hexdigest() for name, hasher in hashers}
