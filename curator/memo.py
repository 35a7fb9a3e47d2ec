"""One home for the per-process memos of the hot paths (issue 15): a dict bounded in entries.

A memo that holds its limit forgets everything at once before it takes the next entry. That keeps memory bounded for
any input (a hostile release of unique values only refills it) at no cost to a lookup, which stays ``dict.get`` in C;
the repeats these memos exist for (a series' shared header values, a finding's kind) come in runs, so an LRU's
bookkeeping on every hit would buy little.
"""

from __future__ import annotations

from typing import TypeVar

__all__ = ["MAX_REMEMBERED", "BoundedMemo"]

K = TypeVar("K")
V = TypeVar("V")

# bytes of a raw value that a memo keyed on the value takes: longer values (pixel data, blobs) are unique to a file
# and would only hold memory
MAX_REMEMBERED = 256


class BoundedMemo(dict[K, V]):
    """A dict of at most ``limit`` entries, filled through :meth:`remember` (read it as a dict)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, key: K, value: V) -> V:
        """``self[key] = value``, everything forgotten first when the memo is full; returns ``value``."""
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value
