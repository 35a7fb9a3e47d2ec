"""The one way the tests measure Python allocations: ``with traced() as memory: ...`` then ``memory.peak`` (the most
bytes held at once inside the block) and ``memory.held`` (the bytes still held when it ended), from tracemalloc,
which is started for the block and stopped after it, even when the block raises. With ``snapshots=True`` the
tracemalloc snapshots at the block's start and end are kept too (``memory.before``, ``memory.after``), for a test
that counts only some lines' allocations."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Traced:
    peak: int = 0
    held: int = 0
    before: tracemalloc.Snapshot | None = None
    after: tracemalloc.Snapshot | None = None


@contextmanager
def traced(*, snapshots: bool = False) -> Iterator[Traced]:
    memory = Traced()
    tracemalloc.start()
    try:
        if snapshots:
            memory.before = tracemalloc.take_snapshot()
        yield memory
        if snapshots:
            memory.after = tracemalloc.take_snapshot()
    finally:
        memory.held, memory.peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
