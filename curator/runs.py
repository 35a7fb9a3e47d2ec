"""What validate and verify share: the root check, hashing the listed files, and closing the report."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from curator import __version__
from curator.checks.facts import Facts
from curator.errors import RunError
from curator.executor import Progress, run_tasks
from curator.io.cache import Cache, file_key
from curator.io.hashing import hash_file
from curator.io.manifest import Manifest
from curator.models.findings import Counts, Finding, Report, Severity, Stats

_ORDER = {Severity.error: 0, Severity.warning: 1, Severity.info: 2}


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
        keys = {p: k for p in wanted if (k := file_key(root / p)) is not None}
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


def _row(finding: Finding) -> int:
    row = finding.context.get("row", 0)
    return row if isinstance(row, int) else 0


def finish_report(root: Path, profile: str | None, findings: list[Finding], facts: Facts | None,
                  started: float, fail_on: Severity, extra_stats: dict[str, object] | None = None) -> Report:
    counts = Counts()
    for finding in findings:
        setattr(counts, finding.severity.value, getattr(counts, finding.severity.value) + 1)
    files = facts.files if facts else {}
    stats = Stats(files=len(files), bytes=sum(e.size for e in files.values()),
                  seconds=round(time.perf_counter() - started, 3), **(extra_stats or {}))
    findings = sorted(findings, key=lambda f: (_ORDER[f.severity], f.code, f.path, _row(f)))
    valid = not any(f.severity.rank >= fail_on.rank for f in findings)
    return Report(version=__version__, root=str(root), profile=profile, valid=valid, counts=counts,
                  stats=stats, findings=findings)
