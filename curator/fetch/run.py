"""``curator fetch SOURCE DEST``: download a release in parallel, resumably, each file checked against the checksum
its source publishes while it streams; then DEST is verified against its own manifest.

No file is read twice: every download is hashed with the source's algorithm and with SHA-256 (the algorithm of
curator's own ``SHA256SUMS``) as it streams, and those digests are put in verify's cache (keyed by the file's
identity in DEST after its rename), so the verify that follows finds them there instead of reading the files. With
``cache_dir=None`` (``--no-cache``) verify reads DEST again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from glob import escape
from pathlib import Path
from typing import TYPE_CHECKING

from curator.errors import OptionsError, RunError
from curator.fetch.download import FAILED, MAX_SIZE, PRESENT, Outcome, download
from curator.fetch.plan import Item, Plan
from curator.fetch.sources import attach_listings, plan_source
from curator.outputs import atomic_write, lock, writing

if TYPE_CHECKING:
    from curator.models.findings import Report

Progress = Callable[[int, int, int, int], None]   # (files done, files, bytes received, bytes expected or 0)
DEFAULT_JOBS = 4


@dataclass
class Fetched:
    """What a fetch did: an outcome per file, the source's entries that could not be fetched, and the verify
    report of DEST (None when DEST was not verified: ``note`` says why)."""

    source: str
    dest: Path
    outcomes: list[Outcome] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    report: Report | None = None
    note: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status in FAILED]

    @property
    def refetch(self) -> list[str]:
        """Exactly the files still to fetch: failed here, or missing or damaged in DEST by its manifest."""
        names = {o.rel for o in self.failed}
        if self.report is not None:
            names.update((self.report.stats.model_extra or {}).get("refetch") or [])
        return sorted(names)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.problems and (self.report is None or self.report.valid)


def fetch(sources: Sequence[str], dest: Path | str, *, urls_file: Path | None = None, checksums: str | None = None,
          server: str | None = None, api: str | None = None, jobs: int | None = None, force: bool = False,
          timeout: float = 60.0, cache_dir: Path | None = None, progress: Progress | None = None,
          max_size: int = MAX_SIZE) -> Fetched:
    """Fetch SOURCE into DEST and verify it (see the module's text). Raises OptionsError (exit 2) for a SOURCE or
    DEST that cannot be used, RunError (exit 3) for a source that cannot be reached, OutputError for DEST."""
    started = time.perf_counter()
    dest = Path(dest)
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise OptionsError(f"DEST {dest} is a link or not a folder; name a folder (it is made when missing)")
    plan = plan_source(sources, urls_file=urls_file, checksums=checksums, server=server, api=api, timeout=timeout)
    result = Fetched(source=plan.source, dest=dest)
    with lock(dest), writing(dest):
        dest.mkdir(parents=True, exist_ok=True)
        _write_inline(plan, dest, force)
        counter = _Counter(progress)
        if plan.listing_items:   # a listing among the URLs: fetched first, it gives the others their checksums
            result.outcomes += _download_all(plan.listing_items, dest, jobs, force, timeout, counter,
                                             max_size)
        if plan.listings:
            attach_listings(plan, dest)
        result.problems = plan.problems
        result.outcomes += _download_all(plan.items, dest, jobs, force, timeout, counter, max_size)
    if cache_dir is not None:
        _seed_cache(dest, result.outcomes, cache_dir)
    if result.failed:
        result.note = f"not verified: {len(result.failed)} file(s) still to fetch"
    else:
        _verify(result, plan, cache_dir, jobs)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _write_inline(plan: Plan, dest: Path, force: bool) -> None:
    for rel, data in plan.inline.items():
        target = dest / rel
        if target.is_symlink() or (target.exists() and not target.is_file()):
            raise OptionsError(f"{target} is a link or not a file; remove it and run again")
        if target.exists() and not force and target.read_bytes() != data:
            raise OptionsError(f"DEST already has a different {rel} (another release, or another version of it); "
                               "fetch into an empty folder, or pass --force to replace it")
        if not target.exists() or target.read_bytes() != data:
            atomic_write(target, data, durable=True)


class _Counter:
    """Files and bytes done over every thread, passed on to the progress callback."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress, self.lock = progress, threading.Lock()
        self.files = self.done = self.received = self.expected = 0

    def plan(self, items: Sequence[Item]) -> None:
        with self.lock:
            self.files += len(items)
            self.expected += sum(item.size or 0 for item in items)

    def tick(self, count: int) -> None:
        with self.lock:
            self.received += count
            self._show()

    def finished(self) -> None:
        with self.lock:
            self.done += 1
            self._show()

    def _show(self) -> None:
        if self.progress is not None:
            self.progress(self.done, self.files, self.received, self.expected)


def _download_all(items: Sequence[Item], dest: Path, jobs: int | None, force: bool, timeout: float,
                  counter: _Counter, max_size: int) -> list[Outcome]:
    counter.plan(items)

    def one(item: Item) -> Outcome:
        try:
            return download(item, dest, force=force, timeout=timeout, tick=counter.tick, max_size=max_size)
        finally:
            counter.finished()

    with ThreadPoolExecutor(max_workers=max(1, jobs or DEFAULT_JOBS)) as pool:
        return list(pool.map(one, items))


def _seed_cache(dest: Path, outcomes: list[Outcome], cache_dir: Path) -> None:
    """Put the digests computed while downloading into verify's cache, keyed by each file's identity now."""
    from curator.io.cache import Cache, file_keys
    from curator.io.hashing import ALGORITHMS

    known = {o.rel: {a: d for a, d in o.digests.items() if a in ALGORITHMS}
             for o in outcomes if o.digests and o.status not in FAILED}
    if not known:
        return
    cache = Cache(cache_dir)
    try:
        keys = file_keys(dest, known)
        cache.put_many("digests", {keys[rel]: digests for rel, digests in known.items() if rel in keys})
    finally:
        cache.close()


def _verify(result: Fetched, plan: Plan, cache_dir: Path | None, jobs: int | None) -> None:
    from curator.verify import verify

    only: tuple[str, ...] = ()
    if plan.selection:   # some files of a release: verify those, not the whole manifest
        only = tuple(escape(o.rel) for o in result.outcomes if o.status not in FAILED or o.status == PRESENT)
    try:
        result.report = verify(result.dest, jobs=jobs, cache_dir=cache_dir, only=only)
    except RunError as error:   # no listing of its own (a single file, a folder of parts without one)
        result.note = f"not verified against a manifest of its own: {error}"
