"""Run independent per-file tasks: serially, on threads, or on a process pool.

Two shapes: :func:`iter_tasks` / :func:`run_tasks` run one task per item (large files, studies);
:func:`run_batches` runs one task per *batch* of items (many small files: one task per file would cost more than
the file's work) and streams the per-item results back in input order, never holding a list of all of them. A
batch task is a picklable function of a list of items returning one result per item, so a distributed engine can
run the same tasks.

Two back ends: the local pool (threads or processes; the default, nothing to start) and Dask, chosen for a
command's duration by :func:`engine`; every function here consults it, so no call site knows which runs its tasks.
On Dask a task is always a batch (:mod:`curator.executor_dask`), the function and items pickled by cloudpickle.

Threads suit hashing and plain reading (hashlib and zlib release the GIL); the deep tier's voxel statistics are
numpy work that holds it between calls, so those tasks go to processes. Results come back in input order and the
pool's window is bounded, so memory is bounded by the tasks in flight, never by the dataset.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

    from curator.executor_dask import DaskEngine

T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[int, int], None]   # (tasks done, tasks in all)
BATCH_ITEMS = 256             # run_batches' default: items in one task
BATCH_BYTES = 8 << 20         # run_batches' default weight of one task when items are weighed (bytes to read)
TASK_BATCH = 64               # on Dask, run_tasks' items per task at most (4 tasks a worker thread at least)
DASK_BATCH_BYTES = 64 << 20   # on Dask, run_batches' weight of one task at least: the scheduler's load is per task
DASK_BATCH_ITEMS = 2048       # on Dask, run_batches' items per task at least when a caller asks > BATCH_ITEMS
ENGINES = ("local", "dask")

_engine: DaskEngine | None = None   # the Dask back end while an engine("dask") block is open; None: the local pool


class Running:
    """What :func:`engine` yields: the back end's facts for the report's ``stats.executor`` (None when local)."""

    def __init__(self, back_end: DaskEngine | None) -> None:
        self._back_end = back_end

    @property
    def local(self) -> bool:
        return self._back_end is None

    def facts(self) -> dict[str, object] | None:
        return self._back_end.facts() if self._back_end is not None else None


@contextmanager
def engine(kind: str = "local", *, scheduler: str | None = None, jobs: int | None = None,
           verbose: bool = False) -> Iterator[Running]:
    """Run every task of the block on ``kind``: ``"local"`` (the pool, the default) or ``"dask"`` (the scheduler at
    ``scheduler``, else a LocalCluster of ``jobs`` worker processes started here and shut down on leaving).

    Raises :class:`curator.errors.OptionsError` when Dask is not installed, :class:`curator.errors.RunError` when
    the scheduler cannot be reached.
    """
    global _engine
    if kind not in ENGINES:
        raise ValueError(f"unknown executor {kind!r}")
    if kind == "local" or _engine is not None:   # an inner block runs on the engine already open
        yield Running(_engine)
        return
    from curator.executor_dask import open_engine

    back_end = open_engine(scheduler, jobs or default_jobs(), verbose)
    _engine = back_end
    try:
        yield Running(back_end)
    finally:
        _engine = None
        back_end.close()


def where_batches_run(items: int, batch_size: int, jobs: int | None) -> Literal["here", "pool", "dask"]:
    """Where :func:`run_batches` runs ``items`` items cut by count into batches of ``batch_size``: in this process
    ("here": one batch, or one job, as :func:`iter_batch_results` decides), on the local pool's forked workers
    ("pool") or on Dask. A caller that prepares the workers (loads what they inherit) asks this first."""
    if _engine is not None:
        return "dask"
    return "pool" if items > batch_size and (jobs or default_jobs()) > 1 else "here"


def default_jobs() -> int:
    """The tasks worth running at once: the CPUs this process may use, or on Dask the cluster's worker threads."""
    if _engine is not None:
        return _engine.thread_count
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def run_tasks(function: Callable[[T], R], items: Iterable[T], jobs: int | None = None, *,
              processes: bool = False, progress: Progress | None = None) -> list[R]:
    """``[function(item) for item in items]`` in order, with at most ``jobs`` running at once.

    With ``processes`` the function and items must pickle (module-level functions, plain data).
    """
    return list(iter_tasks(function, items, jobs, processes=processes, progress=progress))


def iter_tasks(function: Callable[[T], R], items: Iterable[T], jobs: int | None = None, *,
               processes: bool = False, progress: Progress | None = None) -> Iterator[R]:
    """Like :func:`run_tasks`, each result yielded as soon as it and those before it are done, so the caller
    can commit work as it goes (``curator ingest`` keeps finished studies when a run is cut off).

    ``items`` is consumed lazily: at most ``2 * jobs`` items are taken ahead of the results yielded, so a
    generator of a million items is never listed. ``progress(done, total)``: ``total`` is ``len(items)`` when
    ``items`` has a length, else the items taken so far.
    """
    total = len(items) if isinstance(items, Sized) else None
    work = iter(items)
    jobs = jobs or default_jobs()
    if _engine is not None:
        yield from _dask_tasks(_engine, function, work, total, progress)
        return
    first = next(work, _END)
    second = next(work, _END) if first is not _END else _END
    if first is _END:
        return
    if jobs <= 1 or second is _END:
        for index, item in enumerate(_ahead(first, second, work), start=1):
            yield function(item)
            if progress:
                progress(index, total if total is not None else index)
        return
    yield from _pooled(function, _ahead(first, second, work), jobs, processes, total, progress)


_END: Any = object()   # what next() returns at the end of the items (an item may be None)


def _ahead(first: T, second: T, rest: Iterator[T]) -> Iterator[T]:
    """The items again, with the two already taken (to tell one item from many) in front."""
    yield first
    if second is not _END:
        yield second
        yield from rest


def _pooled(function: Callable[[T], R], work: Iterator[T], jobs: int, processes: bool, total: int | None,
            progress: Progress | None) -> Iterator[R]:
    """:func:`iter_tasks` on the local pool: a window of ``2 * jobs`` futures, refilled from ``work`` as each
    result is yielded."""
    window = jobs * 2
    futures: deque[Future[R]] = deque()
    taken = 0
    with _pool(jobs, processes) as pool:
        try:
            for item in itertools.islice(work, window):
                futures.append(pool.submit(function, item))
                taken += 1
            done = 0
            broken: Exception | None = None   # the items' own error: raised after the results of those taken
            while futures:
                result = futures.popleft().result()
                done += 1
                if broken is None:
                    try:
                        item = next(work, _END)
                    except Exception as error:
                        broken, item = error, _END
                    if item is not _END:
                        futures.append(pool.submit(function, item))
                        taken += 1
                if progress:
                    progress(done, total if total is not None else taken)
                yield result
            if broken is not None:
                raise broken
        finally:
            for future in futures:
                future.cancel()


def batches(items: Iterable[T], batch_size: int = BATCH_ITEMS, *, weigh: Callable[[T], int] | None = None,
            batch_bytes: int = BATCH_BYTES) -> Iterator[list[T]]:
    """``items`` cut into consecutive lists of at most ``batch_size`` items, in order, read lazily.

    With ``weigh`` a batch also closes once its items weigh ``batch_bytes`` or more (a large file is a batch of
    its own; thousands of small files share one).
    """
    batch: list[T] = []
    weight = 0
    for item in items:
        batch.append(item)
        if weigh is not None:
            weight += weigh(item)
        if len(batch) >= batch_size or (weigh is not None and weight >= batch_bytes):
            yield batch
            batch, weight = [], 0
    if batch:
        yield batch


def run_batches(function: Callable[[list[T]], list[R]], items: Iterable[T], jobs: int | None = None, *,
                batch_size: int = BATCH_ITEMS, weigh: Callable[[T], int] | None = None,
                batch_bytes: int = BATCH_BYTES, processes: bool = False, total: int | None = None,
                progress: Progress | None = None) -> Iterator[R]:
    """Each item's result, in input order: ``function`` runs once per batch of items (see :func:`batches`) and
    returns one result per item of its batch.

    ``items`` is consumed lazily and at most ``2 * jobs`` batches are in flight, so memory is bounded by the
    batches, not by the number of items. ``progress(items done, total)`` is called after each batch (``total``:
    the number of items when the caller knows it, else the items seen so far). With ``processes`` the function
    and the items must pickle (a module-level function, or :func:`functools.partial` of one, and plain data).
    """
    done = 0
    seen = 0
    if _engine is not None:   # a task costs the scheduler ~1 ms whatever its size: 100 TB makes 1.5M, not 12M
        batch_bytes = max(batch_bytes, DASK_BATCH_BYTES)
        if batch_size > BATCH_ITEMS:   # many tiny items (verify's small files): a task costs ~5-10 ms of CPU
            batch_size = max(batch_size, DASK_BATCH_ITEMS)

    def counted() -> Iterator[list[T]]:
        nonlocal seen
        for batch in batches(items, batch_size, weigh=weigh, batch_bytes=batch_bytes):
            seen += len(batch)
            yield batch

    for results in iter_batch_results(function, counted(), jobs, processes=processes):
        done += len(results)
        if progress:
            progress(done, total if total is not None else seen)
        yield from results


def iter_batch_results(function: Callable[[list[T]], list[R]], work: Iterator[list[T]], jobs: int | None = None,
                       *, processes: bool = False) -> Iterator[list[R]]:
    """``function(batch)`` for each batch of ``work``, in order, with a bounded window of batches in flight."""
    if _engine is not None:
        yield from _engine.map_batches(partial(_checked, function), work)
        return
    jobs = jobs or default_jobs()
    first = next(work, None)
    if first is None:
        return
    second = next(work, None)
    if jobs <= 1 or second is None:   # (the rule where_batches_run tells ahead)
        yield _checked(function, first)
        if second is not None:
            yield _checked(function, second)
            for rest in work:
                yield _checked(function, rest)
        return
    pool = _pool(jobs, processes)
    with pool:
        pending: list[list[T]] = [first, second]
        futures: list[Future[list[R]]] = []
        window = jobs * 2
        try:
            while True:
                while len(futures) < window:
                    batch: list[T] | None = pending.pop(0) if pending else next(work, None)
                    if batch is None:
                        break
                    futures.append(pool.submit(_checked, function, batch))
                if not futures:
                    return
                yield futures.pop(0).result()
        finally:
            for future in futures:
                future.cancel()


def _checked(function: Callable[[list[T]], list[R]], batch: list[T]) -> list[R]:
    results = function(batch)
    if len(results) != len(batch):
        raise ValueError(f"a batch task returned {len(results)} results for {len(batch)} items")
    return results


def _dask_tasks(back_end: DaskEngine, function: Callable[[T], R], work: Iterator[T], total: int | None,
                progress: Progress | None) -> Iterator[R]:
    """:func:`iter_tasks` on Dask: the items in batches (enough of them to balance the workers), each item's result
    or exception kept apart, so an item that raises is raised at its place in the order, as locally.

    The batch size comes from the number of items: ``total`` when the caller's items have a length, else from the
    items read ahead, at most ``TASK_BATCH`` batches a worker thread's worth (bounded); when there are more, every
    batch has ``TASK_BATCH`` items. The batches are submitted as the items are read (``map_batches``' window).
    """
    balance = back_end.thread_count * 4
    if total is None:
        head = list(itertools.islice(work, TASK_BATCH * balance))
        if len(head) < TASK_BATCH * balance:
            total = len(head)
        work = itertools.chain(head, work)
    size = max(1, min(TASK_BATCH, (total if total is not None else TASK_BATCH * balance) // balance))
    done = 0
    taken = 0

    def counted() -> Iterator[list[T]]:
        nonlocal taken
        for batch in batches(work, size):
            taken += len(batch)
            yield batch

    for outcomes in back_end.map_batches(partial(_each, function), counted()):
        for ok, value in outcomes:
            if not ok:
                raise value
            done += 1
            if progress:
                progress(done, total if total is not None else taken)
            yield value


def _each(function: Callable[[T], R], batch: list[T]) -> list[tuple[bool, Any]]:
    """On a worker: ``(True, result)`` or ``(False, exception)`` for each item of ``batch``."""
    from curator.executor_dask import portable

    outcomes: list[tuple[bool, Any]] = []
    for item in batch:
        try:
            outcomes.append((True, function(item)))
        except Exception as error:
            outcomes.append((False, portable(error)))
    return outcomes


def _pool(jobs: int, processes: bool) -> Executor:
    if processes:
        # imported here, not at start-up: process pools bring multiprocessing, which verify never needs
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_all_start_methods, get_context

        # fork is cheap and shares the loaded modules; "spawn" would re-import numpy in every worker
        method = "fork" if "fork" in get_all_start_methods() else "spawn"
        return ProcessPoolExecutor(max_workers=jobs, mp_context=get_context(method), initializer=_frozen_heap)
    from concurrent.futures import ThreadPoolExecutor  # not at start-up: a fully cached verify runs no task

    return ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="curator")


def _frozen_heap() -> None:
    """In a new worker process: the objects it inherited from the parent (every module, the walk, the facts) are
    left out of its garbage collections (:func:`gc.freeze`, O(1)). A full collection would otherwise visit each of them
    and write its header, copying nearly every page of the parent's heap into the worker (issue 15: two workers cost
    more CPU a file than one)."""
    import gc

    gc.freeze()
