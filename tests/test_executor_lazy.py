"""iter_tasks / run_tasks consume their items lazily: a bounded window of tasks ahead of the results, in order,
with progress, errors and a source that raises handled as when the items were a list."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from curator.executor import iter_tasks, run_tasks
from tests.memory import traced


def square(value: int) -> int:
    return value * value


def refuse_seven(value: int) -> int:
    if value == 7:
        raise ValueError("seven")
    return value


class Source:
    """A generator of ``count`` items that counts how many were taken, and can raise after ``fail_after``."""

    def __init__(self, count: int, fail_after: int | None = None) -> None:
        self.count, self.fail_after, self.taken = count, fail_after, 0
        self.lock = threading.Lock()

    def __iter__(self) -> Iterator[int]:
        for value in range(self.count):
            if value == self.fail_after:
                raise OSError("the listing broke")
            with self.lock:
                self.taken += 1
            yield value


def _peak(items: int, jobs: int) -> int:
    with traced() as memory:
        total = 0
        for result in iter_tasks(square, iter(Source(items)), jobs):
            total += result
    assert total == sum(i * i for i in range(items))
    return memory.peak


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_generator_of_200000_items_is_never_listed(jobs: int) -> None:
    """The peak of Python allocations over 200,000 items is that of 2,000 (a list of the items would hold
    200,000 ints and their pointers: main peaked at 8.0 MB). Measured: 2-200 KB for either size."""
    small = _peak(2_000, jobs)
    large = _peak(200_000, jobs)
    assert large < small + 200_000, (small, large)
    assert large < 1_000_000


@pytest.mark.parametrize(("jobs", "processes"), [(1, False), (2, False), (3, False), (2, True)])
def test_results_of_a_generator_come_in_input_order(jobs: int, processes: bool) -> None:
    got = list(iter_tasks(square, (i for i in range(41)), jobs, processes=processes))
    assert got == [i * i for i in range(41)]


def test_items_are_taken_a_bounded_window_ahead_of_the_results() -> None:
    source = Source(10_000)
    stream = iter_tasks(square, iter(source), 2)
    first = [next(stream) for _ in range(5)]
    assert first == [0, 1, 4, 9, 16]
    assert source.taken <= 5 + 2 * 2 + 1   # the results yielded, a window of 2 * jobs, the one taken to refill
    stream.close()


@pytest.mark.parametrize("jobs", [1, 2])
def test_none_is_an_item_like_any_other(jobs: int) -> None:
    assert run_tasks(lambda item: item is None, iter([None, 1, None]), jobs) == [True, False, True]
    assert run_tasks(lambda item: item, iter([None]), jobs) == [None]
    assert run_tasks(square, iter([]), jobs) == []


@pytest.mark.parametrize("jobs", [1, 2])
def test_progress_counts_the_items_taken_when_the_input_has_no_length(jobs: int) -> None:
    seen: list[tuple[int, int]] = []
    run_tasks(square, (i for i in range(6)), jobs, progress=lambda done, total: seen.append((done, total)))
    assert [done for done, _ in seen] == [1, 2, 3, 4, 5, 6]
    assert all(done <= total <= 6 for done, total in seen)
    assert seen[-1] == (6, 6)


@pytest.mark.parametrize("jobs", [1, 2])
def test_progress_keeps_the_length_of_an_input_that_has_one(jobs: int) -> None:
    seen: list[tuple[int, int]] = []
    run_tasks(square, range(5), jobs, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 5) for i in range(1, 6)]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_task_that_raises_raises_at_its_place(jobs: int) -> None:
    seen: list[int] = []
    with pytest.raises(ValueError, match="seven"):
        seen.extend(iter_tasks(refuse_seven, iter(Source(1_000)), jobs))
    assert seen == list(range(7))


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_source_that_raises_mid_way_raises_after_the_results_before_it(jobs: int) -> None:
    """Every item taken before the source broke is run and yielded in order; then its error, no hang."""
    seen: list[int] = []
    with pytest.raises(OSError, match="the listing broke"):
        seen.extend(iter_tasks(square, iter(Source(100, fail_after=30)), jobs))
    assert seen == [i * i for i in range(30)]
