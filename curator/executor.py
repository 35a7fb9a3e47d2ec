"""Run independent per-file tasks: serially, on threads, or on a process pool.

Threads suit hashing and plain reading (hashlib and zlib release the GIL); the deep tier's voxel statistics are
numpy work that holds it between calls, so those tasks go to processes. Results come back in input order and the
pool's window is bounded, so memory is bounded by the tasks in flight, never by the dataset.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[int, int], None]   # (tasks done, tasks in all)


def default_jobs() -> int:
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
    can commit work as it goes (``curator ingest`` keeps finished studies when a run is cut off)."""
    work = list(items)
    jobs = jobs or default_jobs()
    total = len(work)
    if jobs <= 1 or total <= 1:
        for index, item in enumerate(work, start=1):
            yield function(item)
            if progress:
                progress(index, total)
        return
    from concurrent.futures import ThreadPoolExecutor  # not at start-up: a fully cached verify runs no task

    pool: Executor
    if processes:
        # imported here, not at start-up: process pools bring multiprocessing, which verify never needs
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_all_start_methods, get_context

        # fork is cheap and shares the loaded modules; "spawn" would re-import numpy in every worker
        method = "fork" if "fork" in get_all_start_methods() else "spawn"
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context(method))
    else:
        pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="curator")
    with pool:
        window = jobs * 2
        futures: list[Future[R]] = []
        next_item = 0
        while next_item < total and len(futures) < window:
            futures.append(pool.submit(function, work[next_item]))
            next_item += 1
        done = 0
        try:
            while futures:
                result = futures.pop(0).result()
                done += 1
                if progress:
                    progress(done, total)
                if next_item < total:
                    futures.append(pool.submit(function, work[next_item]))
                    next_item += 1
                yield result
        finally:
            for future in futures:
                future.cancel()
