"""Rows held column by column (a list of paths beside arrays), read as a sequence of row tuples: the one home of
the sequence behaviour of :class:`curator.io.facts.Walk` and :class:`curator.io.manifest.ManifestEntries`
(issue 15: a million-file release is not held as a million tuples)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar, overload

Row = TypeVar("Row")


class PathRows(Sequence[Row]):
    """A sequence whose rows a subclass makes on demand (:meth:`_entry`) from its columns, ``_paths`` among them. Equal
    to a list of the same rows, in order, and to another view of the same class with the same rows."""

    __slots__ = ()
    _paths: list[str]
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
        if isinstance(at, slice):
            return [self._entry(i) for i in range(*at.indices(len(self._paths)))]
        if at < 0:
            at += len(self._paths)
        if not 0 <= at < len(self._paths):
            raise IndexError(f"{self._what} index out of range")
        return self._entry(at)

    def __iter__(self) -> Iterator[Row]:
        return map(self._entry, range(len(self._paths)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, type(self))):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]
