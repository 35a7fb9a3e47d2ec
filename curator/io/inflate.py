"""The one home of bulk inflate: ISA-L (python-isal) where it can be imported, else the stdlib's zlib.

ISA-L inflates 2-3x faster than zlib and its CRC-32 is ~4x faster; the output, the CRC values and the streaming
interface (``decompress(data, max_length)``, ``unconsumed_tail``, ``unused_data``, ``eof``) are the same, so every
caller works with either. One difference callers must not depend on: when a call stops at ``max_length`` exactly
where the deflate stream ends, zlib sets ``eof`` and leaves the bytes after the stream in ``unconsumed_tail`` as
well as in ``unused_data``, ISA-L only in ``unused_data``: test ``eof`` before ``unconsumed_tail``.

``use(name)`` switches the back end (tests run the same hostile inputs through both).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

__all__ = ["BACKENDS", "ERRORS", "Backend", "crc32", "current", "decompressobj", "use"]


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


@contextmanager
def use(name: str) -> Iterator[None]:
    """Inflate with back end ``name`` ("isal", "zlib") inside the block; KeyError when it is not installed."""
    global _current
    previous, _current = _current, BACKENDS[name]
    try:
        yield
    finally:
        _current = previous
