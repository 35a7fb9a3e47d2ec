"""Hash a file once for several algorithms. hashlib releases the GIL on large updates, so threads scale."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

CHUNK = 1 << 20
ALGORITHMS = ("sha256", "md5", "sha1", "sha512", "xxh128")


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


def new_hasher(algorithm: str) -> _Hasher:
    if algorithm == "xxh128":
        import xxhash  # only for XXH128SUMS; not at start-up

        return xxhash.xxh3_128()
    import hashlib  # here, not at start-up: a verify that the cache answers hashes nothing

    return hashlib.new(algorithm)


def hash_file(path: Path, algorithms: Iterable[str]) -> dict[str, str]:
    """Hex digests of ``path`` for each algorithm, from one read of the file."""
    hashers = {name: new_hasher(name) for name in algorithms}
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}


def sha256_of(path: Path) -> str:
    """The SHA-256 hex digest of a file (OSError when it cannot be read)."""
    return hash_file(path, ["sha256"])["sha256"]
