"""Rows held column by column (a list of paths beside arrays), read as a sequence of row tuples: the one home of
the sequence behaviour of :class:`curator.io.facts.Walk` and :class:`curator.io.manifest.ManifestEntries`
(issue 15: a million-file release is not held as a million tuples)."""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar, overload, runtime_checkable

Row = TypeVar("Row")


class PathRows(Sequence[Row]):
    """A sequence whose rows a subclass makes on demand (:meth:`_entry`) from its columns, ``_paths`` among them. Equal
    to a list of the same rows, in order, and to another view of the same class with the same rows."""

    __slots__ = ()
    _paths: Sequence[str]
    _what = "row"   # in the IndexError's wording

    def _entry(self, at: int) -> Row:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._paths)

    @overload
    def __getitem__(self, at: int) -> Row: ...

    @overload
    def __getitem__(self, at: slice) -> list[Row]: ...

    def __getitem__(self, at: int | slice) -> Row | list[Row]:
        count = len(self)
        if isinstance(at, slice):
            return [self._entry(i) for i in range(*at.indices(count))]
        if at < 0:
            at += count
        if not 0 <= at < count:
            raise IndexError(f"{self._what} index out of range")
        return self._entry(at)

    def __iter__(self) -> Iterator[Row]:
        return map(self._entry, range(len(self)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, type(self))):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def appended(values: array[int], value: int) -> array[int]:
    """``values`` (a 32-bit ``array`` of positions, line or row numbers: half the bytes of a 64-bit one) with ``value``
    appended; when it does not fit, the array is first widened to 64 bits (a copy, once)."""
    try:
        values.append(value)
    except OverflowError:
        values = array("q", values)
        values.append(value)
    return values


def _indexes(values: Iterable[int]) -> array[int]:
    """Indexes in a 32-bit array (widened when one does not fit)."""
    made = array("i")
    for value in values:
        made = appended(made, int(value))
    return made


@runtime_checkable
class PathStore(Protocol):
    """Where paths are held once (:class:`curator.io.facts.Walk`): a regular file's position, and a position's path."""

    def position(self, path: str) -> int | None: ...

    def path(self, at: int) -> str: ...


class PathList(Sequence[str]):
    """A list of paths that holds each path ``store`` has as its position there (8 B), and any other as its string:
    a million-file release's lists of paths (the sum file's, the NIfTI files', each orientation's, the files to hash
    or audit) do not hold a million strings of their own (issue 15). A path is made when it is read."""

    __slots__ = ("_at", "_others", "_store")

    def __init__(self, store: PathStore | None = None) -> None:
        self._store = store
        self._at = array("i")        # >= 0: the position in the store; < 0: ~index in _others (widened: appended)
        self._others: list[str] = []

    def append(self, path: str, at: int | None = None) -> None:
        """Add ``path`` (``at``: its position in the store, when the caller knows it; else looked up)."""
        if at is None and self._store is not None:
            at = self._store.position(path)
        if at is None:
            at = ~len(self._others)
            self._others.append(path)
        self._at = appended(self._at, at)

    def taken(self, indexes: Iterable[int]) -> PathList:
        """A new list of the paths at ``indexes``, in that order."""
        taken = PathList(self._store)
        for index in indexes:
            at = self._at[index]
            if at < 0:
                taken.append(self._others[~at])
            else:
                taken._at = appended(taken._at, at)
        return taken

    def path_order(self) -> array[int]:
        """The indexes of the paths in path order (equal paths in index order). When the store keeps its paths in
        order (``in_order``: a sorted walk), the paths it holds are sorted by their positions, numbers, with no string
        made (a sort by path made a million strings at once: ~100 MB for a million-line unsorted sum file); the others
        by their text, then merged in."""
        count, at = len(self._at), self._at
        if not getattr(self._store, "in_order", False) or count < 2:
            return _indexes(sorted(range(count), key=self.__getitem__))
        import numpy  # only for an unsorted listing: verify imports this module and need not load numpy

        positions: Any = numpy.frombuffer(at, dtype=numpy.int32 if at.typecode == "i" else numpy.int64)   # no copy
        if positions.min() >= 0:   # every path the store's: ~20 B a path at the peak
            made = array("i" if count < 2**31 else "q")
            order = numpy.argsort(positions, kind="stable")
            made.frombytes(order.astype(numpy.int32 if made.typecode == "i" else numpy.int64).tobytes())
            return made
        held = numpy.flatnonzero(positions >= 0)
        held = held[numpy.argsort(positions[held], kind="stable")]
        others = sorted((index for index in range(count) if at[index] < 0), key=self.__getitem__)
        return _indexes(heapq.merge(map(int, held), others, key=self.__getitem__))

    def index_of(self, path: str, order: Sequence[int]) -> int | None:
        """The index of ``path`` (the first in ``order``, the indexes in path order), or None. With every path held
        as a position in a store that keeps its paths in order, the file's position is looked up once and the
        positions bisected (in C); else (or for a path that is no regular file: a folder) the paths, made one by one."""
        position = self._store.position(path) if not self._others and self._store is not None \
            and getattr(self._store, "in_order", False) else None
        if position is not None:
            found = bisect_left(order, position, key=self._at.__getitem__)
        else:
            found = bisect_left(order, path, key=self.__getitem__)
        if found < len(order) and self[order[found]] == path:
            return order[found]
        return None

    def _path(self, at: int) -> str:
        if at < 0:
            return self._others[~at]
        assert self._store is not None, "a position without its store"
        return self._store.path(at)

    def __len__(self) -> int:
        return len(self._at)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self._path(at) for at in self._at[index]]
        return self._path(self._at[index])

    def __iter__(self) -> Iterator[str]:
        return map(self._path, self._at)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, PathList)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PathList({list(self)!r})"
