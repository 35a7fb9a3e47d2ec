"""Run independent per-file tasks: serially or on a thread pool.

Threads suffice: the work is hashing and zlib, which release the GIL, and reading, which waits on the disk.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def run_tasks(function: Callable[[T], R], items: Iterable[T], jobs: int | None = None) -> list[R]:
    """``[function(item) for item in items]``, in order, with at most ``jobs`` running at once.

    The pool's window is bounded by ``map`` over a list of inputs, so memory is bounded by the results,
    which for curator's tasks are small (digests, headers), never file contents.
    """
    work = list(items)
    jobs = jobs or default_jobs()
    if jobs <= 1 or len(work) <= 1:
        return [function(item) for item in work]
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="curator") as pool:
        return list(pool.map(function, work))
