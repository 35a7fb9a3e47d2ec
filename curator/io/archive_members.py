"""Read the members of a zip or tar.gz without extracting anything: names, kinds, sizes and digests.

Hostile archives are expected: member names are never joined to a path on disk, links and devices are only
named, and reading stops when the expansion passes the limits (a zip or gzip bomb).
"""

from __future__ import annotations

import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from curator.io.archive_formats import tar_member_kind, zip_member_kind
from curator.io.archive_read import unsafe_name
from curator.io.hashing import CHUNK, new_hasher

MAX_TOTAL_BYTES = 1 << 40      # 1 TiB expanded
MAX_RATIO = 1000.0             # expanded / compressed, once past MIN_BOMB_BYTES
MIN_BOMB_BYTES = 1 << 30


@dataclass(frozen=True)
class Member:
    name: str
    kind: str                    # "file", "dir", "symbolic link", "hard link", "device", "other"
    size: int
    digest: str | None = None    # sha256 of a regular file's content


@dataclass
class ArchiveListing:
    path: Path
    members: list[Member] = field(default_factory=list)
    error: str | None = None     # the archive is corrupt or unreadable
    bomb: tuple[int, float] | None = None   # (bytes expanded when stopped, ratio)
    captured: dict[str, bytes] = field(default_factory=dict)  # contents of the members asked for


class _Budget:
    def __init__(self, compressed: int) -> None:
        self.compressed = max(compressed, 1)
        self.total = 0

    def spend(self, count: int) -> bool:
        self.total += count
        ratio = self.total / self.compressed
        return self.total > MAX_TOTAL_BYTES or (self.total > MIN_BOMB_BYTES and ratio > MAX_RATIO)


MAX_CAPTURE = 64 << 20


def _digest(stream: IO[bytes], budget: _Budget, keep: bytearray | None = None) -> tuple[str, bool]:
    hasher = new_hasher("sha256")
    while chunk := stream.read(CHUNK):
        hasher.update(chunk)
        if keep is not None and len(keep) < MAX_CAPTURE:
            keep += chunk
        if budget.spend(len(chunk)):
            return hasher.hexdigest(), True
    return hasher.hexdigest(), False


def list_archive(path: Path, capture: tuple[str, ...] = ()) -> ArchiveListing:
    """Every member with its kind and, for regular files, the sha256 of its content; the contents of the
    members named in ``capture`` (small text files such as SHA256SUMS) are kept."""
    listing = ArchiveListing(path)
    budget = _Budget(path.stat().st_size)
    try:
        if path.name.endswith(".zip"):
            _list_zip(path, listing, budget, capture)
        else:
            _list_tar(path, listing, budget, capture)
    except Exception as error:  # the boundary: whatever a hostile archive makes the readers raise is a finding
        listing.error = f"{type(error).__name__}: {error}"
    return listing


def _read_member(listing: ArchiveListing, budget: _Budget, name: str, stream: IO[bytes],
                 capture: tuple[str, ...]) -> str | None:
    """The member's sha256; None when the archive exploded past the limits (``listing.bomb`` is set)."""
    keep = bytearray() if name in capture else None
    digest, exploded = _digest(stream, budget, keep)
    if keep is not None:
        listing.captured[name] = bytes(keep)
    if exploded:
        listing.bomb = (budget.total, budget.total / budget.compressed)
        return None
    return digest


def _list_zip(path: Path, listing: ArchiveListing, budget: _Budget, capture: tuple[str, ...]) -> None:
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            kind = zip_member_kind(info)
            digest = None
            if kind == "file" and unsafe_name(info.filename) is None:
                with archive.open(info) as stream:
                    digest = _read_member(listing, budget, info.filename, stream, capture)
                if listing.bomb:
                    return
            listing.members.append(Member(info.filename, kind, info.file_size, digest))


def _list_tar(path: Path, listing: ArchiveListing, budget: _Budget, capture: tuple[str, ...]) -> None:
    with tarfile.open(path, mode="r|*") as archive:
        for info in archive:
            kind = tar_member_kind(info)
            digest = None
            if kind == "file" and unsafe_name(info.name) is None:
                stream = archive.extractfile(info)
                if stream is not None:
                    digest = _read_member(listing, budget, info.name, stream, capture)
                if listing.bomb:
                    return
            listing.members.append(Member(info.name, kind, info.size, digest))
