"""The one home of bulk inflate: ISA-L (python-isal) where it can be imported, else the stdlib's zlib.

ISA-L inflates 2-3x faster than zlib and its CRC-32 is ~4x faster; the output, the CRC values and the streaming
interface (``decompress(data, max_length)``, ``unconsumed_tail``, ``unused_data``, ``eof``) are the same, so every
caller works with either. One difference callers must not depend on: when a call stops at ``max_length`` exactly
where the deflate stream ends, zlib sets ``eof`` and leaves the bytes after the stream in ``unconsumed_tail`` as
well as in ``unused_data``, ISA-L only in ``unused_data``: test ``eof`` before ``unconsumed_tail``.

``use(name)`` switches the back end (tests run the same hostile inputs through both).

:func:`steady_heap` keeps the many MB-sized buffers of a long inflate out of fresh pages (see there).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

__all__ = ["BACKENDS", "ERRORS", "Backend", "crc32", "current", "decompressobj", "steady_heap", "use"]


@dataclass(frozen=True)
class Backend:
    name: str
    decompressobj: Callable[..., Any]
    crc32: Callable[[bytes, int], int]
    errors: tuple[type[Exception], ...]


BACKENDS: dict[str, Backend] = {"zlib": Backend("zlib", zlib.decompressobj, zlib.crc32, (zlib.error,))}
try:
    from isal import isal_zlib
except ImportError:  # pragma: no cover - isal is a dependency, but a platform may lack a wheel
    pass
else:
    BACKENDS["isal"] = Backend("isal", isal_zlib.decompressobj, isal_zlib.crc32,
                               (zlib.error, cast("type[Exception]", isal_zlib.IsalError)))

_current = BACKENDS.get("isal", BACKENDS["zlib"])
ERRORS: tuple[type[Exception], ...] = tuple({e for b in BACKENDS.values() for e in b.errors})  # what either raises


def current() -> str:
    """The back end in use: "isal" or "zlib"."""
    return _current.name


def decompressobj(wbits: int) -> Any:
    """A streaming decompressor, ``wbits`` as zlib's (-15 raw deflate, 31 gzip, 47 gzip or zlib)."""
    return _current.decompressobj(wbits=wbits)


def crc32(data: bytes, value: int = 0) -> int:
    return _current.crc32(data, value)


# glibc's mallopt parameters (malloc.h): allocations from HEAP_MMAP bytes up get their own mapping; free memory at
# the top of the heap beyond HEAP_TRIM bytes is given back to the system
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
HEAP_MMAP = 4 << 20
HEAP_TRIM = 16 << 20
_heap_steady: bool | None = None   # None: not tried in this process; True: set; False: not glibc


def steady_heap() -> bool:
    """Let the allocator reuse the freed buffers of a streaming inflate instead of mapping fresh pages for each.

    Every inflate call hands out a new bytes object of up to a few MB (and the inflater's output blocks before
    it). glibc's default gives blocks this size their own mapping, or returns the freed top of its heap to the system
    each time it passes twice the size last freed, so nearly every piece lands on new pages: a page fault for each
    4 KB, measured on the deep tier's benchmark as 480,000 faults, ~2 s of system time and more of user time (cache
    misses) on 2.6 GB inflated, where the plain inflate it is compared with keeps its heap. Fixed thresholds
    (:data:`HEAP_MMAP`, :data:`HEAP_TRIM`) keep at most HEAP_TRIM bytes of freed memory for reuse: 6,500 faults.
    Set once per process (the deep tier's workers call it); False where the C library is not glibc."""
    global _heap_steady
    if _heap_steady is None:
        _heap_steady = False
        try:
            import ctypes

            mallopt = ctypes.CDLL(None).mallopt   # the process's own C library
        except (OSError, AttributeError, TypeError):   # not glibc (macOS, Windows): keep its default
            return False
        _heap_steady = bool(mallopt(_M_MMAP_THRESHOLD, HEAP_MMAP)) and bool(mallopt(_M_TRIM_THRESHOLD, HEAP_TRIM))
    return _heap_steady


@contextmanager
def use(name: str) -> Iterator[None]:
    """Inflate with back end ``name`` ("isal", "zlib") inside the block; KeyError when it is not installed."""
    global _current
    previous, _current = _current, BACKENDS[name]
    try:
        yield
    finally:
        _current = previous
