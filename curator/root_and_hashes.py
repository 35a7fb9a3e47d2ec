"""The root check and the hashing of every file a manifest lists, with the cache: what ``curator verify`` does
before it judges anything. Import-light on purpose (no pydantic, no numpy): a verify of an unchanged release is
done in the time Python takes to start.

Files are hashed in batches (:func:`curator.executor.run_batches`): a task is :func:`hash_batch` with the root and
a list of (path, algorithms), so that 200,000 small files cost a few hundred tasks, not 200,000. Many small files go
to processes (reading and hashing a 1 KB file is mostly Python holding the GIL); large files go to threads
(hashlib releases the GIL on large updates).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path

from curator.errors import RunError
from curator.executor import Progress, batches, default_jobs, run_batches
from curator.io.cache import Cache, file_keys
from curator.io.hashing import hash_file
from curator.io.manifest import Manifest

Digests = dict[str, str] | str    # a file's digests by algorithm, or why it could not be read
SMALL_FILE = 256 << 10            # files this small on average, and many of them, are hashed on processes
MANY_FILES = 4096
BATCH_BYTES = 16 << 20            # bytes read by one task at most (one large file is a task of its own)
LOOKUP = 8192                     # files looked up in (and written to) the cache at once


def check_root(root: Path) -> None:
    if not root.exists():
        raise RunError(f"{root} does not exist")
    if not root.is_dir():
        raise RunError(f"{root} is not a folder; pass the release's root folder")


def hash_batch(root: str, batch: list[tuple[str, tuple[str, ...]]]) -> list[Digests]:
    """The digests of each (path relative to ``root``, algorithms), or the reason the file cannot be read.

    A module-level function of plain data: it runs on a thread, on a process, or on another machine alike.
    """
    results: list[Digests] = []
    for rel, algorithms in batch:
        try:
            results.append(hash_file(f"{root}/{rel}", algorithms))
        except OSError as error:
            results.append(f"cannot read the file ({error.strerror or error})")
    return results


def hash_listed(root: Path, manifests: list[Manifest], files: Mapping[str, object], jobs: int | None, *,
                progress: Progress | None = None, cache: Cache | None = None) -> dict[str, Digests]:
    """Digests of every listed regular file, one read per file for all the algorithms it needs.

    With a cache, a file whose identity (size, times, inode) is unchanged since it was last hashed is not read.
    ``files`` maps each path to its inventory entry (whose ``size`` is used when it has one).

    Streamed: the cache is asked about :data:`LOOKUP` files at a time, the files it does not know go to the hashing
    tasks as they are found, and their digests are remembered as they come back; no list of every file's cache key
    or result is held besides the digests returned.
    """
    wanted = _wanted(manifests, files)
    paths = sorted(wanted)
    results: dict[str, Digests] = {}
    sent: deque[tuple[str, str | None]] = deque()   # (path, cache key) of each file sent to hashing, in order
    count = _Count(root, files, paths, progress)

    def unknown() -> Iterator[tuple[str, tuple[str, ...]]]:
        for chunk in batches(paths, LOOKUP):
            keys = file_keys(root, chunk) if cache is not None else {}
            known = cache.get_many("digests", keys.values()) if cache is not None else {}
            for path in chunk:
                key = keys.get(path)
                cached = known.get(key) if key is not None else None
                if isinstance(cached, dict) and all(a in cached for a in wanted[path]):
                    results[path] = cached
                    count.one(path)
                else:
                    sent.append((path, key))
                    yield path, wanted[path]

    jobs = jobs or default_jobs()
    small = len(paths) >= MANY_FILES and count.total_bytes() <= SMALL_FILE * len(paths)
    fresh = run_batches(partial(hash_batch, str(root)), unknown(), jobs, weigh=lambda item: count.size(item[0]),
                        batch_bytes=BATCH_BYTES, batch_size=_batch_size(len(paths), jobs),
                        processes=small and jobs > 1)
    store: dict[str, object] = {}
    for digests in fresh:
        path, key = sent.popleft()
        results[path] = digests
        count.one(path)
        if cache is not None and key is not None and isinstance(digests, dict):
            store[key] = digests
            if len(store) >= LOOKUP:
                cache.put_many("digests", store)
                store = {}
    if cache is not None:
        cache.put_many("digests", store)
    return results


class _Count:
    """Progress over the listed files, in files (and bytes when the callback asks for them: ``wants_bytes``)."""

    EVERY = 256   # files between two calls of the callback

    def __init__(self, root: Path, files: Mapping[str, object], paths: list[str], progress: Progress | None) -> None:
        self.root, self.files, self.progress = root, files, progress
        self.total, self.done, self.done_bytes = len(paths), 0, 0
        self.paths = paths
        self.bytes = progress is not None and getattr(progress, "wants_bytes", False)
        self._total_bytes: int | None = None

    def size(self, path: str) -> int:
        try:   # the inventory entry's size: asked three times a file, so the common case is kept cheap
            size = self.files[path].size  # type: ignore[attr-defined]
        except (KeyError, AttributeError):
            return _size(self.root, path, self.files.get(path))
        return size if isinstance(size, int) else _size(self.root, path, None)

    def total_bytes(self) -> int:
        if self._total_bytes is None:
            self._total_bytes = sum(self.size(p) for p in self.paths)
        return self._total_bytes

    def one(self, path: str) -> None:
        self.done += 1
        if self.progress is None:
            return
        if self.bytes:
            self.done_bytes += self.size(path)
        if self.done % self.EVERY == 0 or self.done == self.total:
            if self.bytes:
                self.progress.with_bytes(self.done, self.total, self.done_bytes,   # type: ignore[attr-defined]
                                         self.total_bytes())
            else:
                self.progress(self.done, self.total)


def _wanted(manifests: list[Manifest], files: Mapping[str, object]) -> dict[str, tuple[str, ...]]:
    """The algorithms each listed file is hashed with; equal tuples are one object (a million files listed with
    sha256 hold one tuple, not a million sets)."""
    wanted: dict[str, tuple[str, ...]] = {}
    shared: dict[tuple[str, ...], tuple[str, ...]] = {}
    for manifest in manifests:
        for entry in manifest.entries:
            path = entry.path
            if path in files:
                have = wanted.get(path, ())
                if entry.algorithm not in have:
                    both = tuple(sorted((*have, entry.algorithm)))
                    wanted[path] = shared.setdefault(both, both)
    return wanted


def _size(root: Path, path: str, entry: object) -> int:
    size = getattr(entry, "size", None)
    if isinstance(size, int):
        return size
    try:
        return (root / path).stat().st_size
    except OSError:
        return 0


def _batch_size(count: int, jobs: int) -> int:
    """Enough batches to keep every job busy to the end (8 a job), at most 1024 files each."""
    return max(1, min(1024, -(-count // (jobs * 8))))
