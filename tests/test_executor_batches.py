"""run_batches: one task per batch of items, results streamed back per item in input order, items read lazily."""

from __future__ import annotations

import os
import threading
from collections.abc import Generator, Iterator

import pytest

from curator.executor import batches, run_batches, where_batches_run


def squares(batch: list[int]) -> list[int]:
    return [value * value for value in batch]


def test_batches_cut_by_count_and_by_weight() -> None:
    assert list(batches(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    # a heavy item closes its batch at once; light ones share a batch up to the count
    weights = {0: 1, 1: 100, 2: 1, 3: 1, 4: 1}
    assert list(batches(range(5), 3, weigh=weights.__getitem__, batch_bytes=50)) == [[0, 1], [2, 3, 4]]


@pytest.mark.parametrize(("jobs", "processes"), [(1, False), (2, False), (3, False), (2, True)])
@pytest.mark.parametrize("batch_size", [1, 4, 7, 100])
def test_results_are_per_item_in_input_order_whatever_the_batches(jobs: int, processes: bool,
                                                                  batch_size: int) -> None:
    items = list(range(53))
    got = list(run_batches(squares, iter(items), jobs, batch_size=batch_size, processes=processes))
    assert got == [i * i for i in items]


def test_progress_counts_items_after_each_batch() -> None:
    seen: list[tuple[int, int]] = []
    list(run_batches(squares, range(10), 2, batch_size=4, total=10,
                     progress=lambda done, total: seen.append((done, total))))
    assert seen == [(4, 10), (8, 10), (10, 10)]


def test_items_are_read_lazily_with_a_bounded_window() -> None:
    """The executor never pulls more than its window of batches ahead of what the caller consumed."""
    pulled = 0
    lock = threading.Lock()

    def source() -> Iterator[int]:
        nonlocal pulled
        for value in range(10_000):
            with lock:
                pulled += 1
            yield value

    stream = run_batches(squares, source(), 2, batch_size=10)
    assert isinstance(stream, Generator)
    first = [next(stream) for _ in range(5)]
    assert first == [0, 1, 4, 9, 16]
    # 2 jobs -> a window of 4 batches of 10, plus the one the batcher is filling
    assert pulled <= 60
    stream.close()


def broken(batch: list[int]) -> list[int]:
    return batch[:-1]


def test_a_task_returning_the_wrong_number_of_results_is_an_error() -> None:
    with pytest.raises(ValueError, match="returned 2 results for 3 items"):
        list(run_batches(broken, range(3), 1, batch_size=3))


def _frozen(batch: list[int]) -> list[int]:
    import gc

    return [gc.get_freeze_count() for _ in batch]


def test_pool_workers_leave_the_inherited_heap_out_of_their_collections() -> None:
    """Issue 15: a forked worker's full garbage collection visited every object it inherited (every module, the walk)
    and wrote its header, copying the parent's pages into the worker (2 jobs cost more CPU a file than 1): each
    worker freezes what it inherited before its first task."""
    import gc

    assert gc.get_freeze_count() == 0   # the parent's own collections are untouched
    frozen = list(run_batches(_frozen, range(8), 2, batch_size=2, processes=True))
    assert len(frozen) == 8 and min(frozen) > 1000
    assert gc.get_freeze_count() == 0


def _pids(batch: list[int]) -> list[int]:
    return [os.getpid()] * len(batch)


@pytest.mark.parametrize(("items", "jobs", "where"), [(48, 2, "here"), (49, 2, "pool"), (200, 1, "here")])
def test_where_batches_run_tells_where_run_batches_runs_them(items: int, jobs: int, where: str) -> None:
    """The DICOM reader loads pydicom before the pool forks only when the batches will run there: the rule told
    ahead must be run_batches' own."""
    assert where_batches_run(items, 48, jobs) == where
    pids = set(run_batches(_pids, range(items), jobs, batch_size=48, processes=True))
    assert (pids == {os.getpid()}) == (where == "here")
