"""The Dask back end of :mod:`curator.executor`: batches of items run on a dask.distributed cluster.

Opened by :func:`curator.executor.engine` for one command; never imported otherwise, so curator runs without Dask
(the ``cluster`` extra). A run is a stream of batch tasks: at most ``window`` futures are in flight, results come
back in input order and each is dropped once yielded, so the client never holds every result. The function is
scattered to the workers once per run (a closure over a large mapping is sent once, not once per batch). A batch's
items go to its worker, and its outcome comes back, as one pickled bytes object (:func:`pack`): Dask would serialise a
list item by item and the scheduler would walk every item of a task's arguments, which cost more than hashing them.

A worker that dies while it runs (or holds the result of) a batch makes the scheduler run that batch again
elsewhere (``distributed.scheduler.allowed-failures``); the scheduler logs each removed worker with the keys it was
processing, so the batches rerun are counted from that log: :meth:`DaskEngine.facts`. A task that raises returns
its exception as a value (never a failed task that Dask would retry), and the client raises it where the local
pool would have.

This module imports nothing from curator but :mod:`curator.errors` (the executor imports it, not the reverse).
"""

from __future__ import annotations

import itertools
import logging
import os
import pickle
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from curator.errors import OptionsError, RunError

INSTALL = "pip install 'ct-curator[cluster]'"
CONNECT_SECONDS = 5       # an unreachable scheduler is an error after this long, not a hang
RETRIES = 2               # submit(retries=): a batch is tried again (besides Dask's own reruns after a worker death)
TASKS_PER_THREAD = 4      # futures in flight per worker thread: enough to hide the round trips, bounded memory
MIN_WINDOW = 16           # and at least this many, whatever the cluster


def portable(error: Exception) -> Exception:
    """``error``, or a RuntimeError saying the same when it does not pickle (it goes back to the client)."""
    try:
        pickle.dumps(error)
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


def _run_batch(function: Callable[[list[Any]], list[Any]], batch: bytes) -> bytes:
    """On a worker: the pickled ``(True, function(items))``, or ``(False, the exception)`` raised by it, the items
    unpickled from ``batch``: what crosses the wire either way is one bytes object (see :func:`pack`).

    ``CURATOR_TEST_TASK_DELAY`` (seconds, in the worker's environment) makes each batch wait first: the tests'
    way to kill a worker while it runs a batch. Unset, it costs one dictionary look-up per batch.
    """
    delay = os.environ.get("CURATOR_TEST_TASK_DELAY")
    if delay:
        time.sleep(float(delay))
    outcome: tuple[bool, Any]
    try:
        outcome = True, function(unpack(batch))
    except Exception as error:
        outcome = False, portable(error)
    try:
        return pack(outcome)
    except Exception as error:   # a result that does not pickle is the task's error, raised where it belongs
        return pack((False, RuntimeError(f"a batch's results cannot be sent back: {type(error).__name__}: {error}")))


def pack(value: Any) -> bytes:
    """``value`` as one bytes object (pickle, else cloudpickle): a batch's items on their way to a worker and its
    results on their way back. Dask sends bytes as they are; a list it would serialise item by item (a header, a
    frame and metrics per item, ~60 us each: 30 ms of a worker's time for 512 digests) and the scheduler would walk
    every item of a task's arguments looking for futures."""
    from distributed.protocol.pickle import dumps

    data: bytes = dumps(value)  # type: ignore[no-untyped-call]
    return data


def unpack(data: bytes) -> Any:
    from distributed.protocol.pickle import loads

    return loads(data)  # type: ignore[no-untyped-call]


def _lost_workers(dask_scheduler: Any, prefix: str, since: float) -> tuple[int, int]:
    """Run on the scheduler: (workers lost unexpectedly since ``since``, keys starting with ``prefix`` that they were
    running or holding, which the scheduler ran again). Two ints go back, never the scheduler's own objects."""
    events = [event for stamp, event in dask_scheduler.get_events("all")
              if stamp >= since and isinstance(event, dict) and event.get("action") == "remove-worker"
              and not event.get("expected")]
    keys = {key for event in events
            for key in (*event.get("processing-tasks", ()), *event.get("lost-computed-tasks", ()))
            if isinstance(key, str) and key.startswith(prefix)}
    return len(events), len(keys)


class DaskEngine:
    """A connected ``distributed.Client`` (and the LocalCluster started for it, if any) with the run's counts."""

    def __init__(self, client: Any, cluster: Any) -> None:
        self.client, self.cluster = client, cluster
        self.run = uuid.uuid4().hex[:12]
        self.started = time.time()
        self.batches = 0
        self._sequence = 0
        threads = client.nthreads()
        self.workers = len(threads)   # at the start: a worker lost later is counted in workers_lost
        self.thread_count = max(1, int(sum(threads.values())))   # at the start, as the local pool's --jobs

    def map_batches(self, function: Callable[[list[Any]], list[Any]], work: Iterator[list[Any]]) -> Iterator[Any]:
        """``function(batch)`` for each batch of ``work`` on the cluster, in order; a task's exception raised here."""
        first = next(work, None)
        if first is None:
            return
        scattered = self.client.scatter(function, broadcast=True, hash=False)
        window = max(MIN_WINDOW, TASKS_PER_THREAD * self.thread_count)
        futures: deque[Any] = deque()
        work = itertools.chain([first], work)
        try:
            while True:
                if len(futures) <= window // 2:   # refill half the window in one message to the scheduler
                    futures.extend(self._submit(scattered, list(itertools.islice(work, window - len(futures)))))
                if not futures:
                    return
                for ok, value in self._results(futures):
                    if not ok:
                        raise value
                    yield value
        finally:
            for future in futures:
                future.cancel()
            scattered.release()

    def _submit(self, scattered: Any, batches: list[list[Any]]) -> list[Any]:
        if not batches:
            return []
        keys = [f"curator-{self.run}-{self._sequence + n}" for n in range(len(batches))]
        self._sequence += len(batches)
        self.batches += len(batches)
        futures: list[Any] = self.client.map(_run_batch, [scattered] * len(batches), [pack(b) for b in batches],
                                             key=keys, pure=False, retries=RETRIES)
        return futures

    def _results(self, futures: deque[Any]) -> list[tuple[bool, Any]]:
        """The outcomes of the oldest future and of those done after it, in order, fetched in one request."""
        from distributed import KilledWorker

        futures[0].exception()   # waits for it to finish, fetching nothing (its own client: none is the default)
        ready = [futures.popleft()]
        while futures and futures[0].done():
            ready.append(futures.popleft())
        try:
            packed: list[bytes] = self.client.gather(ready)
        except KilledWorker as error:
            raise RunError(f"a batch of work was lost: the Dask workers running it died ({error})") from None
        return [unpack(data) for data in packed]

    def facts(self) -> dict[str, object]:
        """``{"engine", "workers", "batches", "retried", "workers_lost"}``: workers at the start, batches submitted,
        and the batches of this run that ran again because their worker was lost (read from the scheduler's log of
        removed workers since the run began; None when the scheduler cannot say)."""
        lost: int | None
        retried: int | None
        try:
            lost, retried = self.client.run_on_scheduler(_lost_workers, prefix=f"curator-{self.run}-",
                                                         since=self.started)
        except Exception:   # a scheduler without curator cannot run it: the counts stay unknown rather than wrong
            lost, retried = None, None
        return {"engine": "dask", "workers": self.workers, "batches": self.batches,
                "retried": retried, "workers_lost": lost}

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


def open_engine(scheduler: str | None, jobs: int, verbose: bool) -> DaskEngine:
    """Connect to the scheduler at ``scheduler``, or start a LocalCluster of ``jobs`` one-thread worker processes.

    Dask missing: :class:`OptionsError` (exit 2) naming the extra to install. A scheduler that does not answer within
    :data:`CONNECT_SECONDS`: :class:`RunError` (exit 3).
    """
    try:
        import distributed
    except ImportError as error:
        raise OptionsError(f"--executor dask needs Dask's distributed scheduler: {INSTALL} ({error})") from None
    if not verbose:   # distributed logs its start, stop and every lost worker on stderr; the report says what matters
        for name in ("distributed", "bokeh", "tornado"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    cluster = None
    if scheduler is None:
        try:
            cluster = distributed.LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=jobs, threads_per_worker=1, processes=True, scheduler_port=0, host="127.0.0.1",
                silence_logs=logging.WARNING if verbose else logging.CRITICAL,
                dashboard_address=":0", scheduler_kwargs={"dashboard": False})   # no web page, no port to clash
        except Exception as error:
            raise RunError(f"cannot start a local Dask cluster: {error}") from None
        scheduler = cluster.scheduler_address
    try:
        client = distributed.Client(  # type: ignore[no-untyped-call]
            scheduler, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError) as error:
        if cluster is not None:
            cluster.close()
        raise RunError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
    except ValueError as error:
        raise OptionsError(f"--scheduler {scheduler}: {error}") from None
    try:   # a scheduler with no worker would leave every batch waiting: say so instead of hanging
        client.wait_for_workers(1, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError) as error:
        DaskEngine(client, cluster).close()
        raise RunError(f"the Dask scheduler at {scheduler} has no workers ({error or 'none came'})") from None
    return DaskEngine(client, cluster)
