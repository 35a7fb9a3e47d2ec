"""The root check and the hashing of every file a manifest lists, with the cache: what ``curator verify`` does
before it judges anything. Import-light on purpose (no pydantic, no numpy): a verify of an unchanged release is
done in the time Python takes to start."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from curator.errors import RunError
from curator.executor import Progress, run_tasks
from curator.io.cache import Cache, file_keys
from curator.io.hashing import hash_file
from curator.io.manifest import Manifest


def check_root(root: Path) -> None:
    if not root.exists():
        raise RunError(f"{root} does not exist")
    if not root.is_dir():
        raise RunError(f"{root} is not a folder; pass the release's root folder")


def hash_listed(root: Path, manifests: list[Manifest], files: Mapping[str, object], jobs: int | None, *,
                progress: Progress | None = None, cache: Cache | None = None) -> dict[str, dict[str, str] | str]:
    """Digests of every listed regular file, one read per file for all the algorithms it needs.

    With a cache, a file whose identity (size, times, inode) is unchanged since it was last hashed is not read.
    """
    wanted: dict[str, set[str]] = {}
    for manifest in manifests:
        for entry in manifest.entries:
            if entry.path in files:
                wanted.setdefault(entry.path, set()).add(entry.algorithm)
    results: dict[str, dict[str, str] | str] = {}
    keys: dict[str, str] = {}
    if cache is not None:
        keys = file_keys(root, wanted)
        known = cache.get_many("digests", keys.values())
        for path, key in keys.items():
            cached = known.get(key)
            if isinstance(cached, dict) and wanted[path] <= set(cached):
                results[path] = cached
    paths = sorted(p for p in wanted if p not in results)

    def task(path: str) -> dict[str, str] | str:
        try:
            return hash_file(root / path, sorted(wanted[path]))
        except OSError as error:
            return f"cannot read the file ({error.strerror or error})"

    report = progress
    if progress is not None and getattr(progress, "wants_bytes", False):
        # tasks finish in input order: the bytes done are the sizes of the first ``done`` files
        sizes = [(root / p).stat().st_size for p in paths]
        prefix = [0]
        for size in sizes:
            prefix.append(prefix[-1] + size)

        def report(done: int, total: int) -> None:
            progress.with_bytes(done, total, prefix[done], prefix[-1])  # type: ignore[attr-defined]

    fresh = dict(zip(paths, run_tasks(task, paths, jobs, progress=report), strict=True))
    if cache is not None:
        cache.put_many("digests", {keys[p]: d for p, d in fresh.items() if isinstance(d, dict) and p in keys})
    results.update(fresh)
    return results
