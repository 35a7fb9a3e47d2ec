"""The root check and the hashing of every file a manifest lists, with the cache: what ``curator verify`` does
before it judges anything. Import-light on purpose (no pydantic, no numpy): a verify of an unchanged release is
done in the time Python takes to start.

Files are hashed in batches (:func:`curator.executor.run_batches`): a task is :func:`hash_batch` with the root and
a list of (path, algorithms), so that 200,000 small files cost a few hundred tasks, not 200,000. Many small files go
to processes (reading and hashing a 1 KB file is mostly Python holding the GIL); large files go to threads
(hashlib releases the GIL on large updates).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path

from curator.errors import RunError
from curator.executor import Progress, default_jobs, run_batches
from curator.io.cache import Cache, file_keys
from curator.io.hashing import hash_file
from curator.io.manifest import Manifest

Digests = dict[str, str] | str    # a file's digests by algorithm, or why it could not be read
SMALL_FILE = 256 << 10            # files this small on average, and many of them, are hashed on processes
MANY_FILES = 4096
BATCH_BYTES = 16 << 20            # bytes read by one task at most (one large file is a task of its own)


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
    """
    wanted = _wanted(manifests, files)
    results: dict[str, Digests] = {}
    keys: dict[str, str] = {}
    if cache is not None:
        keys = file_keys(root, wanted)
        known = cache.get_many("digests", keys.values())
        for path, key in keys.items():
            cached = known.get(key)
            if isinstance(cached, dict) and all(a in cached for a in wanted[path]):
                results[path] = cached
        del known
    paths = sorted(p for p in wanted if p not in results)
    sizes = [_size(root, p, files.get(p)) for p in paths]
    total_bytes = sum(sizes)
    report = progress
    if progress is not None and getattr(progress, "wants_bytes", False):
        # results come back in input order: the bytes done are the sizes of the first ``done`` files
        prefix = [0]
        for size in sizes:
            prefix.append(prefix[-1] + size)

        def report(done: int, total: int) -> None:
            progress.with_bytes(done, total, prefix[done], prefix[-1])  # type: ignore[attr-defined]

    jobs = jobs or default_jobs()
    weight = dict(zip(paths, sizes, strict=True))
    small = len(paths) >= MANY_FILES and total_bytes <= SMALL_FILE * len(paths)
    fresh = run_batches(partial(hash_batch, str(root)), ((p, wanted[p]) for p in paths), jobs,
                        weigh=lambda item: weight[item[0]], batch_bytes=BATCH_BYTES,
                        batch_size=_batch_size(len(paths), jobs), processes=small and jobs > 1,
                        total=len(paths), progress=report)
    store: dict[str, object] = {}
    for path, digests in zip(paths, fresh, strict=True):
        results[path] = digests
        if cache is not None and isinstance(digests, dict) and path in keys:
            store[keys[path]] = digests
    if cache is not None:
        cache.put_many("digests", store)
    return results


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
