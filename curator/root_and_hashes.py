"""The root check and the hashing of every file a manifest lists, with the cache: what ``curator verify`` does
before it judges anything. Import-light on purpose (no pydantic, no numpy): a verify of an unchanged release is
done in the time Python takes to start.

Files are hashed in batches (:func:`curator.executor.run_batches`): a task is :func:`hash_batch` with the root and
a list of (path, algorithms), so that 200,000 small files cost a few hundred tasks, not 200,000. Many small files go
to processes (reading and hashing a 1 KB file is mostly Python holding the GIL); large files go to threads
(hashlib releases the GIL on large updates).
"""

from __future__ import annotations

import heapq
import json
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from itertools import chain, islice
from operator import attrgetter, itemgetter
from pathlib import Path

from curator.checks.listing import Problem, accounted_for, label, malformed, mismatch, missing
from curator.errors import RunError
from curator.executor import Progress, batches, default_jobs, run_batches
from curator.io.cache import Cache, FolderState, file_keys, folder_states, stat_key
from curator.io.hashing import hash_file, hash_one
from curator.io.inventory import walk_file_names
from curator.io.manifest import Manifest, ManifestEntries, ManifestEntry, stream_entries
from curator.io.rows import PathList, PathStore

Digests = dict[str, str] | str    # a file's digests by algorithm, or why it could not be read
SMALL_FILE = 256 << 10            # files this small on average, and many of them, are hashed on processes
MANY_FILES = 4096
BATCH_BYTES = 16 << 20            # bytes read by one task at most (one large file is a task of its own)
LOOKUP = 8192                     # files looked up in (and written to) the cache at once
STREAM_BATCH = 4096               # files in one task of a streamed comparison (whose count is not known ahead)


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


Checked = int | tuple[dict[str, str], int] | str   # what check_batch tells of a file


def check_batch(root: str, base: str | None, batch: list[tuple[str, str, str, int]]) -> list[tuple[str | None,
                                                                                              Checked]]:
    """For each (path relative to ``root``, algorithm, expected hex digest, size or -1): the bytes read when the
    file's digest is the expected one, else (its digests, the bytes read), or the reason it cannot be read; with
    the file's cache key (:func:`~curator.io.cache.stat_key` of its ``lstat`` before the read, as ``base``, the
    resolved root, names it) when ``base`` is given and the size is -1 (the caller has not ``lstat``'ed the file).

    A streamed comparison's task: a batch of intact files sends back a list of numbers, not a dict per file, so
    that the process reading the listing spends nothing per intact file but taking it off its queue, and need not
    ``lstat`` it for its size or its cache key.
    """
    results: list[tuple[str | None, Checked]] = []
    append = results.append
    for rel, algorithm, expected, size in batch:
        key = None
        if base is not None and size < 0:
            try:
                key = stat_key(f"{base}/{rel}", os.lstat(f"{base}/{rel}"))
            except OSError:
                key = None   # gone: the read says why
        try:
            digest, read = hash_one(f"{root}/{rel}", algorithm)
        except OSError as error:
            append((key, f"cannot read the file ({error.strerror or error})"))
            continue
        append((key, read if digest == expected else ({algorithm: digest}, read)))
    return results


def hash_listed(root: Path, manifests: list[Manifest], files: Mapping[str, object], jobs: int | None, *,
                progress: Progress | None = None, cache: Cache | None = None,
                keep: Callable[[str, Digests], bool] | None = None) -> dict[str, Digests]:
    """Digests of every listed regular file, one read per file for all the algorithms it needs.

    With a cache, a file whose identity (size, times, inode) is unchanged since it was last hashed is not read.
    ``files`` maps each path to its inventory entry (whose ``size`` is used when it has one).

    Streamed: the cache is asked about :data:`LOOKUP` files at a time, the files it does not know go to the hashing
    tasks as they are found, and their digests are remembered as they come back; no list of every file's cache key
    or result is held besides the digests returned. With ``keep``, only the digests it keeps are returned (validate
    keeps those that differ from the manifests: matching files are judged as they are read, not held).
    """
    wanted = _Wanted(manifests, files)
    paths = wanted.paths
    results: dict[str, Digests] = {}
    sent: deque[tuple[str, str | None]] = deque()   # (path, cache key) of each file sent to hashing, in order
    count = _Count(root, files, paths, progress)

    def unknown() -> Iterator[tuple[str, tuple[str, ...]]]:
        start = 0
        for chunk in batches(paths, LOOKUP):
            keys = file_keys(root, chunk) if cache is not None else {}
            known = cache.get_many("digests", keys.values()) if cache is not None else {}
            for at, path in enumerate(chunk, start=start):
                key = keys.get(path)
                cached = known.get(key) if key is not None else None
                algorithms = wanted.algorithms(at)
                if isinstance(cached, dict) and all(a in cached for a in algorithms):
                    if keep is None or keep(path, cached):
                        results[path] = cached
                    count.one(path)
                else:
                    sent.append((path, key))
                    yield path, algorithms
            start += len(chunk)

    jobs = jobs or default_jobs()
    small = len(paths) >= MANY_FILES and count.total_bytes() <= SMALL_FILE * len(paths)
    fresh = run_batches(partial(hash_batch, str(root)), unknown(), jobs, weigh=lambda item: count.size(item[0]),
                        batch_bytes=BATCH_BYTES, batch_size=_batch_size(len(paths), jobs),
                        processes=small and jobs > 1)
    store: dict[str, object] = {}
    for digests in fresh:
        path, key = sent.popleft()
        if keep is None or keep(path, digests):
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

    def __init__(self, root: Path, files: Mapping[str, object], paths: Sequence[str],
                 progress: Progress | None) -> None:
        self.root, self.files, self.progress, self.paths = root, files, progress, paths
        self.total, self.done, self.done_bytes = len(paths), 0, 0
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


class _Wanted:
    """The listed regular files in path order (``paths``, each once: the walk's positions) and the algorithms each is
    hashed with (``algorithms(at)``, a byte a file coding the distinct combinations): ~9 B a file, no dict of paths."""

    __slots__ = ("_codes", "_combinations", "paths")

    def __init__(self, manifests: list[Manifest], files: Mapping[str, object]) -> None:
        self.paths = PathList(files if isinstance(files, PathStore) else None)   # the walk's: positions
        self._codes = bytearray()
        self._combinations: list[tuple[str, ...]] = []
        codes: dict[tuple[str, ...], int] = {}
        last: str | None = None   # the path being gathered and its algorithms so far
        have: tuple[str, ...] = ()
        for path, algorithm in heapq.merge(*map(_in_path_order, manifests), key=itemgetter(0)):
            if path != last:
                if last is not None:
                    self._add(last, have, codes)
                last, have = path, ()
            if algorithm not in have and path in files:
                have = tuple(sorted((*have, algorithm)))
        if last is not None:
            self._add(last, have, codes)

    def _add(self, path: str, algorithms: tuple[str, ...], codes: dict[tuple[str, ...], int]) -> None:
        if not algorithms:   # listed, but not a regular file on disk
            return
        code = codes.get(algorithms)
        if code is None:
            code = codes[algorithms] = len(self._combinations)
            self._combinations.append(algorithms)   # at most 255 distinct algorithm sets: 8 algorithms known
        self.paths.append(path)
        self._codes.append(code)

    def algorithms(self, at: int) -> tuple[str, ...]:
        """The algorithms the file at ``paths[at]`` is hashed with, sorted."""
        return self._combinations[self._codes[at]]


def _in_path_order(manifest: Manifest) -> Iterator[tuple[str, str]]:
    """(path, algorithm) of each of a manifest's entries, in path order (a path listed twice: in line order)."""
    entries = manifest.entries
    if isinstance(entries, ManifestEntries):
        for at in entries.positions_in_path_order():
            yield entries.path(at), entries.algorithm_of(at)
        return
    for entry in sorted(entries, key=attrgetter("path")):
        yield entry.path, entry.algorithm


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


# ------------------------------------------------------------------------------------------------ streamed


class Unsorted(Exception):  # noqa: N818 - not an error: the caller reads the listing whole instead
    """The sum file's paths are not in order: it cannot be compared with the disk as a stream."""


class Streamed:
    """What a streamed comparison found: the problems only, and counts for everything else (the files on disk and
    their bytes, the entries listed), so that memory does not grow with the release."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.files = 0      # regular files on disk (selected)
        self.bytes = 0
        self.listed = 0     # distinct listed paths (selected)


def stream_listed(root: Path, listing: Manifest, jobs: int | None, *, cache: Cache | None = None,
                  select: Callable[[str], bool] | None = None, progress: Progress | None = None) -> Streamed:
    """Compare a sum file with the disk and hash what it lists, as three streams in path order: the sum file's lines
    (:func:`~curator.io.manifest.stream_entries`), the regular files under ``root``
    (:func:`~curator.io.inventory.walk_file_names`, by name) and the cache's entries under ``root``
    (:meth:`~curator.io.cache.Cache.scan`). This process ``lstat``'s only a file the cache has an entry for (its
    key decides), and the first :data:`MANY_FILES` (they tell small from large; a release of large files is
    ``lstat``'ed whole, its tasks cut by bytes); the others go to :func:`check_batch` tasks as they are met, which
    ``lstat`` them for their cache keys and count their bytes (so a release of many small files, read the first
    time, costs this process no system call a file). Nothing is held per file but the problems, so a million
    entries cost what a thousand do.

    With a cache (and no ``select``), a rerun over a release whose sum file and folders are unchanged is answered
    from the record of the last comparison (:class:`_Snapshot`): one ``lstat`` an entry, on the workers.

    The problems are those :func:`curator.checks.listing.compare` finds in the same listing, worded alike.
    ``listing`` is the sum file's record without entries (its path, algorithm and ``accounts_for``); ``select``
    keeps only the paths it accepts (``--only``). Raises :class:`Unsorted` when a path comes before the one above it
    (then read the listing whole), and the manifest's :class:`~curator.io.manifest.ManifestReadError`.
    """
    snapshot = _Snapshot(root, listing, jobs, cache) if cache is not None and cache.usable and select is None \
        else None
    if snapshot is not None and snapshot.answer is not None:
        if progress is not None:
            progress(snapshot.answer.files, snapshot.answer.files)
        return snapshot.answer
    found = _Merge(root, listing, select, cache)
    sent: deque[tuple[ManifestEntry, str | None, int]] = deque()   # each file sent to hashing: key, size or -1
    counter, telling = _Streaming(progress, found), progress is not None
    jobs = jobs or default_jobs()
    items = found.unknown(sent)
    head = list(islice(items, MANY_FILES))   # the first files tell small from large (the count is not known)
    small = len(head) >= MANY_FILES and sum(item[3] for item in head) <= SMALL_FILE * len(head)
    found.sized = not small   # many small files: the rest are weighed by their count, sized by their reading
    size = STREAM_BATCH if len(head) >= MANY_FILES else _batch_size(len(head), jobs)
    store: dict[str, str] = {}   # cache key: the digests as JSON text
    task = partial(check_batch, str(root), found.base if cache is not None else None)
    # (small files are cut by count alone: no weighing call a file)
    for made, checked in run_batches(task, chain(head, items), jobs, weigh=None if small else _weight,
                                     batch_bytes=BATCH_BYTES, batch_size=size, processes=small and jobs > 1):
        entry, key, known_size = sent.popleft()
        key = key if key is not None else made
        digests: Digests | None = None   # None: the expected digest
        if isinstance(checked, int):
            read = checked
        elif isinstance(checked, tuple):
            digests, read = checked
        else:
            digests, read = checked, found.size_of(entry.path) if known_size < 0 else 0
        if digests is not None:
            found.judge(entry, digests)
        if known_size < 0:
            found.bytes += read
        counter.done += 1   # (counted here, told every _Count.EVERY: not a call a file)
        if telling and counter.done % _Count.EVERY == 0:
            counter.tell()
        if key is not None and not isinstance(digests, str):
            # json.dumps of {algorithm: digest}, as _Merge.unknown compares it (names and hex digits need no escape)
            store[key] = (f'{{"{entry.algorithm}": "{entry.digest}"}}' if digests is None
                          else json.dumps(digests))
            if len(store) >= LOOKUP:
                cache.put_texts("digests", store)  # type: ignore[union-attr]  # a key is made only with a cache
                store = {}
    if cache is not None:
        cache.put_texts("digests", store)
        cache.hits, cache.misses = cache.hits + found.hits, cache.misses + found.misses
    found.finished()
    if snapshot is not None:
        snapshot.record(found)
    return found


def _weight(item: tuple[str, str, str, int]) -> int:
    return item[3] if item[3] > 0 else 0


class _Merge(Streamed):
    """The sum file's entries merged with the files on disk and the cache's entries, all in path order.

    Without a cache the files on disk are walked by name only (:func:`~curator.io.inventory.walk_file_names`): a
    file's size is ``lstat``'ed here only while ``sized`` (the first files, which tell small from large, and every
    file of a release of large ones, whose tasks are cut by bytes); the others' sizes are the bytes their task read.
    """

    def __init__(self, root: Path, listing: Manifest, select: Callable[[str], bool] | None,
                 cache: Cache | None) -> None:
        super().__init__()
        self.root, self.listing, self.select, self.cache = root, listing, select, cache
        self.rel = label(listing.path, root)
        self.base = str(root.resolve())
        self.malformed: list[Problem] = []
        self.hits = self.misses = 0
        self.sized = True

    def lstat(self, path: str) -> os.stat_result | None:
        try:
            return os.lstat(f"{self.base}/{path}")
        except OSError:
            return None

    def size_of(self, path: str) -> int:
        """The size of a file on disk (0 when it cannot be ``lstat``'ed any more)."""
        try:
            return os.lstat(f"{self.root}/{path}").st_size
        except OSError:
            return 0

    def judge(self, entry: ManifestEntry, digests: Digests | None) -> None:
        problem = mismatch(entry, digests, self.rel)
        if problem is not None:
            self.problems.append(problem)

    def unlisted(self, path: str, info: os.stat_result | None) -> None:
        if self.select is None or self.select(path):
            self.files += 1
            self.bytes += info.st_size if info is not None else self.size_of(path)
            if not accounted_for(path, self.listing.accounts_for):
                self.problems.append(Problem("FILE_UNLISTED", path, {"expected_in": self.rel}))

    def finished(self) -> _Merge:
        if not self.listed and not self.malformed:
            self.malformed.append(malformed(self.listing.form, self.rel, 0, "the manifest lists no files"))
        self.malformed.sort(key=lambda problem: problem.context["line"])   # line order, as the whole reading
        self.problems[:0] = self.malformed
        return self

    def unknown(self, sent: deque[tuple[ManifestEntry, str | None, int]]) -> Iterator[tuple[str, str, str, int]]:
        """(path, algorithm, expected digest, size or -1 when not ``sized``) of each listed file on disk that the
        cache does not know, to hash (:func:`check_batch`); everything else is judged here (the cache's files,
        missing and unlisted files, malformed and repeated lines)."""
        rel, form, select, cache, base = self.rel, self.listing.form, self.select, self.cache, self.base
        disk = walk_file_names(self.root)
        on_disk = next(disk, None)
        scan = cache.scan("digests", base) if cache is not None else iter(())
        row = next(scan, None)
        before: ManifestEntry | None = None    # the entry above, the first of its path
        for block in stream_entries(self.listing.path, self.listing.algorithm):
            for entry in block:
                if not isinstance(entry, ManifestEntry):
                    self.malformed.append(malformed(form, rel, *entry))
                    continue
                path = entry.path
                if before is not None and path <= before.path:
                    if path != before.path:
                        raise Unsorted(f"line {entry.line} of {rel} comes before line {before.line}")
                    self.malformed.append(malformed(form, rel, entry.line,
                                                    f"{path} is listed again (first on line {before.line})"))
                    continue
                before = entry
                if select is not None and not select(path):
                    continue
                self.listed += 1
                while on_disk is not None and on_disk[0] < path:
                    self.unlisted(*on_disk)
                    on_disk = next(disk, None)
                if on_disk is None or on_disk[0] != path:
                    self.problems.append(missing(entry, rel))
                    continue
                on_disk = next(disk, None)
                self.files += 1
                stored = False   # the cache has an entry for this path (the file's current identity or another)
                if cache is not None:
                    prefix = f"{base}/{path}\0"   # every key of the path, and only those, starts so
                    while row is not None and row[0] < prefix:
                        row = next(scan, None)
                    stored = row is not None and row[0].startswith(prefix)
                info = self.lstat(path) if self.sized or stored else None
                if info is None:   # neither sized nor known: the task reads its size (and makes its cache key)
                    self.misses += cache is not None
                    sent.append((entry, None, -1))
                    yield path, entry.algorithm, entry.digest, -1
                    continue
                self.bytes += info.st_size
                key = None
                if cache is not None:
                    key = stat_key(f"{base}/{path}", info)
                    while row is not None and row[0] < key:
                        row = next(scan, None)
                    if row is not None and row[0] == key:
                        if row[1] == f'{{"{entry.algorithm}": "{entry.digest}"}}':   # json.dumps of the match
                            self.hits += 1
                            continue
                        known = cache.decode(row[1])   # None when damaged: the cache is set aside
                        self.hits, self.misses = self.hits + (known is not None), self.misses + (known is None)
                        if isinstance(known, dict) and entry.algorithm in known:
                            self.judge(entry, known)
                            continue
                    else:
                        self.misses += 1
                sent.append((entry, key, info.st_size))
                yield path, entry.algorithm, entry.digest, info.st_size
        while on_disk is not None:
            self.unlisted(*on_disk)
            on_disk = next(disk, None)


SNAPSHOT = "verified"       # the cache's kind of record of a whole streamed comparison
SNAPSHOT_FORMAT = 1
SNAPSHOT_PROBLEMS = 10_000  # a comparison with more problems is not recorded (its record would be large)
PARALLEL_FOLDERS = 32       # folders whose states are taken on processes (fewer: in this process)
SNAPSHOT_FOLDERS = 100_000  # a release of more folders is not recorded (its record would be large)


class _Snapshot:
    """A cached rerun of a whole streamed comparison: one record per release and sum file, holding the sum file's
    identity, every folder's state (:func:`~curator.io.cache.folder_state`: one ``lstat`` an entry, taken in
    batches on the workers) and the comparison's outcome (its problems and counts). When the sum file and every
    folder are as recorded, no file and no listing line is read again and no cache row looked up per file: the
    recorded outcome is the answer. Otherwise the comparison runs as without it (with the per-file cache), and its
    outcome is recorded with the states taken *before* it, so that a file changed during the run is seen changed
    next time. Nothing is recorded when a file could not be read (that is tried again), a folder could not be
    listed, or the problems are many."""

    def __init__(self, root: Path, listing: Manifest, jobs: int | None, cache: Cache) -> None:
        self.cache, self.jobs = cache, jobs or default_jobs()
        self.base = str(root.resolve())
        self.answer: Streamed | None = None
        self.states: dict[str, list[object]] | None = None
        try:
            info = Path(listing.path).stat()
        except OSError:
            self.manifest = None
            return
        self.manifest = [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev]
        self.key = f"{self.base}\0{Path(listing.path).resolve()}"
        self.facts = [SNAPSHOT_FORMAT, _code(), listing.algorithm, listing.form, sorted(listing.accounts_for)]
        recorded = cache.recall(SNAPSHOT, self.key)
        taken: dict[str, FolderState | None] = {}
        if isinstance(recorded, dict) and recorded.get("manifest") == self.manifest \
                and recorded.get("facts") == self.facts and isinstance(recorded.get("folders"), dict):
            folders: dict[str, list[object]] = recorded["folders"]
            taken = self._take(list(folders), sum(_count(state) for state in folders.values()))
            if all(state is not None and [state[0], state[1]] == folders[rel] for rel, state in taken.items()):
                self.answer = _recorded(recorded, cache)
                if self.answer is not None:
                    return
        self.states = self._discover(taken)

    def _take(self, folders: list[str], entries: int) -> dict[str, FolderState | None]:
        """The state of each folder (None when it cannot be listed), in batches (on processes when many)."""
        size = max(1, -(-len(folders) // (self.jobs * 4)))
        processes = self.jobs > 1 and (entries >= MANY_FILES or len(folders) >= PARALLEL_FOLDERS)
        return dict(zip(folders, run_batches(partial(folder_states, self.base), folders, self.jobs, batch_size=size,
                                             processes=processes), strict=True))

    def _discover(self, taken: dict[str, FolderState | None]) -> dict[str, list[object]] | None:
        """Every folder's state, walking down from the root a level at a time (each level's folders not ``taken``
        yet, by a record's folders, in one :meth:`_take`); None when a folder cannot be listed or they are too many
        to record."""
        states: dict[str, list[object]] = {}
        level = [""]
        while level:
            taken.update(self._take([rel for rel in level if rel not in taken], 0))
            below: list[str] = []
            for rel in level:
                state = taken[rel]
                if state is None:
                    return None
                states[rel] = [state[0], state[1]]
                below += state[2]
            if len(states) + len(below) > SNAPSHOT_FOLDERS:
                return None
            level = below
        return states

    def record(self, found: Streamed) -> None:
        if self.states is None or self.manifest is None or len(found.problems) > SNAPSHOT_PROBLEMS \
                or any("reason" in problem.context and problem.code == "CHECKSUM_MISMATCH"
                       for problem in found.problems):
            return
        checked = found.hits + found.misses if isinstance(found, _Merge) else 0
        record = {"manifest": self.manifest, "facts": self.facts, "folders": self.states,
                  "problems": [list(problem) for problem in found.problems],
                  "counts": [found.files, found.bytes, found.listed, checked]}
        self.cache.put_texts(SNAPSHOT, {self.key: json.dumps(record)})


def _count(state: object) -> int:
    return state[1] if isinstance(state, list) and len(state) == 2 and isinstance(state[1], int) else 0


def _recorded(record: dict[str, object], cache: Cache) -> Streamed | None:
    """The outcome a snapshot recorded, or None when the record is not of the expected shape."""
    try:
        files, size, listed, checked = (int(n) for n in record["counts"])  # type: ignore[attr-defined]
        problems = [Problem(str(code), str(path), dict(context))
                    for code, path, context in record["problems"]]  # type: ignore[attr-defined]
    except (KeyError, TypeError, ValueError):
        return None
    answer = Streamed()
    answer.problems, answer.files, answer.bytes, answer.listed = problems, files, size, listed
    cache.hits += checked
    return answer


_JUDGES = ("curator.root_and_hashes", "curator.checks.listing", "curator.checks.names", "curator.io.manifest",
           "curator.io.inventory", "curator.io.hashing", "curator.io.cache")


def _code() -> list[object]:
    """What made a recorded outcome: curator's version and the identity (size, mtime) of the modules that judge a
    streamed comparison, so that a record made by other code (an edited checkout, a reinstall of the same version)
    is not taken for this code's answer."""
    from curator import __version__

    code: list[object] = [__version__]
    for name in _JUDGES:
        file = getattr(sys.modules.get(name), "__file__", None)
        try:
            info = Path(file).stat() if file else None
        except OSError:
            info = None
        code.append([info.st_size, info.st_mtime_ns] if info is not None else None)
    return code


class _Streaming:
    """Progress of a streamed comparison: files hashed of the files met so far (the total is not known ahead)."""

    def __init__(self, progress: Progress | None, found: Streamed) -> None:
        self.progress, self.found = progress, found
        self.bytes = progress is not None and getattr(progress, "wants_bytes", False)
        self.done = 0

    def tell(self) -> None:
        if self.bytes:
            self.progress.with_bytes(self.done, self.found.files, 0, 0)  # type: ignore[union-attr]
        elif self.progress is not None:
            self.progress(self.done, self.found.files)
