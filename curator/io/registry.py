"""Read a registry (xlsx or its CSV twin) tolerantly: BOM, CRLF, trailing empty rows, numbers as floats."""

from __future__ import annotations

import csv
import io
import sys
import zipfile
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from curator.io import ReadError
from curator.io.regular import open_regular, read_regular_bytes
from curator.io.rows import appended
from curator.models.registry import RegistryRecord


class RegistryReadError(ReadError):
    pass


class _Column:
    """One column's cells, compactly: the text of every string cell in one UTF-8 buffer, and per cell a kind byte
    and one 64-bit slot (the text's place in the buffer, or an integer's value). A cell costs 9 bytes plus its
    text, where a str object costs 49 bytes plus its text and a tuple slot to hold it. Cells of other types
    (floats, dates, long texts, huge integers) are kept as they are. After :meth:`share_paths`, a cell naming a
    file of the walk (``/`` and its path) holds the walk's position instead of its text."""

    __slots__ = ("_blob", "_kinds", "_objects", "_path_of", "_slots")

    def __init__(self) -> None:
        self._blob = bytearray()
        self._kinds = bytearray()
        self._slots = array("q")
        self._objects: list[Any] = []
        self._path_of: Callable[[int], str] | None = None

    def append(self, value: Any) -> None:
        kind = type(value)
        if value is None:
            self._kinds.append(_NONE)
            self._slots.append(0)
        elif kind is str and len(value) < _MAX_LENGTH:
            data = value.encode("utf-8", "surrogatepass")
            if len(data) < _MAX_LENGTH:
                self._kinds.append(_TEXT)
                self._slots.append(len(self._blob) << _LENGTH_BITS | len(data))
                self._blob += data
                return
            self._object(value)
        elif kind is int and -(1 << 63) <= value < (1 << 63):
            self._kinds.append(_INT)
            self._slots.append(value)
        else:
            self._object(value)

    def _object(self, value: Any) -> None:
        self._kinds.append(_OBJECT)
        self._slots.append(len(self._objects))
        self._objects.append(value)

    def __getitem__(self, index: int) -> Any:
        kind, slot = self._kinds[index], self._slots[index]
        if kind == _TEXT:
            start = slot >> _LENGTH_BITS
            text = self._blob[start:start + (slot & _LENGTH_MASK)].decode("utf-8", "surrogatepass")
            return sys.intern(text) if len(text) <= 16 else text
        if kind == _PATH:
            assert self._path_of is not None, "a path cell without its walk"
            return "/" + self._path_of(slot)
        if kind == _INT:
            return slot
        if kind == _NONE:
            return None
        return self._objects[slot]

    def share_paths(self, position: Callable[[str], int | None], path_of: Callable[[int], str]) -> None:
        """Hold each text cell ``/<path>`` whose path is a file of the walk as that file's position (``position``
        finds it, ``path_of`` gives its path back): the walk's path string is then the only copy of the path (a
        MosMed registry's study_file column was ~40 B a row of text again, issue 15). The cells read the same."""
        blob, kinds, slots = self._blob, self._kinds, self._slots
        kept = bytearray()
        for index, kind in enumerate(kinds):
            if kind != _TEXT:
                continue
            slot = slots[index]
            start, length = slot >> _LENGTH_BITS, slot & _LENGTH_MASK
            data = blob[start:start + length]
            if data[:1] == b"/":
                at = position(data[1:].decode("utf-8", "surrogatepass"))
                if at is not None:
                    kinds[index], slots[index] = _PATH, at
                    continue
            slots[index] = len(kept) << _LENGTH_BITS | length
            kept += data
        self._blob, self._path_of = kept, path_of


_NONE, _TEXT, _INT, _OBJECT, _PATH = 0, 1, 2, 3, 4
_LENGTH_BITS = 24
_LENGTH_MASK = (1 << _LENGTH_BITS) - 1
_MAX_LENGTH = 1 << _LENGTH_BITS


class Rows(Sequence[tuple[int, dict[str, Any]]]):
    """The rows of a table, compactly: a :class:`_Column` per column and the row numbers in an array.

    It reads like a list of ``(row number, {column: value})``; the mapping is made when a row is read, so a
    million-row registry costs about 9 bytes a cell plus its text (~110 MB for MosMed's four columns), not a
    tuple of str objects per row (~330 MB). Short text cells (categories, ...) come back interned.
    """

    def __init__(self, header: Sequence[str]) -> None:
        self._header = tuple(header)
        self._numbers = array("i")   # widened when a number does not fit (rows.appended)
        self._columns = tuple(_Column() for _ in self._header)

    def append(self, item: tuple[int, dict[str, Any]]) -> None:
        number, record = item
        self._numbers = appended(self._numbers, number)
        for name, column in zip(self._header, self._columns, strict=True):
            column.append(record.get(name))

    def number(self, index: int) -> int:
        """The spreadsheet row number of the row at ``index``."""
        return self._numbers[index]

    def share_paths(self, names: Sequence[str], position: Callable[[str], int | None],
                    path_of: Callable[[int], str]) -> None:
        """:meth:`_Column.share_paths` of the columns ``names`` the table has."""
        for name in names:
            column = self.column(name)
            if column is not None:
                column.share_paths(position, path_of)

    def column(self, name: str) -> _Column | None:
        """The cells of the column ``name`` (index them by row index), None when the table has no such column."""
        return self._columns[self._header.index(name)] if name in self._header else None

    def _row(self, index: int) -> tuple[int, dict[str, Any]]:
        return self._numbers[index], {name: column[index] for name, column in zip(self._header, self._columns,
                                                                                  strict=True)}

    def __len__(self) -> int:
        return len(self._numbers)

    @overload
    def __getitem__(self, index: int) -> tuple[int, dict[str, Any]]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[int, dict[str, Any]]]: ...
    def __getitem__(self, index: int | slice) -> tuple[int, dict[str, Any]] | list[tuple[int, dict[str, Any]]]:
        if isinstance(index, slice):
            return [self._row(i) for i in range(len(self))[index]]
        return self._row(range(len(self))[index])

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        for index in range(len(self)):
            yield self._row(index)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Rows | list):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Rows({list(self)!r})"


class Records(Sequence[tuple[int, RegistryRecord]]):
    """The rows of a registry table that passed their record schema, as ``(row number, RegistryRecord)``: a view
    on the table (the index of each row and its validated study id in arrays), each record made when it is read.
    A million valid rows cost 16 MB here, not a tuple and a record per row (~190 MB)."""

    def __init__(self, rows: Rows) -> None:
        self._rows = rows
        # a row passes its schema only with a category and a study file: only mask_file's column may be absent
        self._category, self._study, self._mask = (rows.column(name) for name in _RECORD_TEXT)
        self._indexes = array("i")   # widened when an index does not fit (rows.appended)
        self._ids = array("q")

    def append(self, index: int, study_id: int) -> None:
        """Keep the row at ``index`` of the table, whose validated study id is ``study_id``."""
        self._indexes = appended(self._indexes, index)
        self._ids.append(study_id)

    def _record(self, position: int) -> tuple[int, RegistryRecord]:
        index = self._indexes[position]
        category, study = self._category, self._study
        assert category is not None and study is not None, "a valid row without a category or study column"
        mask = None if self._mask is None else self._mask[index]
        return self._rows.number(index), RegistryRecord(self._ids[position], category[index], study[index], mask)

    def __len__(self) -> int:
        return len(self._indexes)

    @overload
    def __getitem__(self, index: int) -> tuple[int, RegistryRecord]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[int, RegistryRecord]]: ...
    def __getitem__(self, index: int | slice) -> tuple[int, RegistryRecord] | list[tuple[int, RegistryRecord]]:
        if isinstance(index, slice):
            return [self._record(i) for i in range(len(self))[index]]
        return self._record(range(len(self))[index])

    def __iter__(self) -> Iterator[tuple[int, RegistryRecord]]:
        for position in range(len(self)):
            yield self._record(position)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Records | list):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Records({list(self)!r})"


_RECORD_TEXT = ("category", "study_file", "mask_file")
PATH_COLUMNS = ("study_file", "mask_file")   # cells naming a file of the release (Rows.share_paths)


@dataclass
class RegistryTable:
    """Raw cells: ``rows`` pairs the 1-based spreadsheet row number with a column -> value mapping."""

    path: Path
    sheet: str | None
    header: list[str]
    rows: Rows = field(init=False)
    formulas: list[tuple[str, str]] = field(default_factory=list)   # (cell, formula) of each formula cell (xlsx)

    def __post_init__(self) -> None:
        self.rows = Rows(self.header)


def _normalise(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value  # bool stays bool: the row schema rejects it as an id


MAX_COLUMNS = 64          # a registry has a handful; more is a broken or hostile sheet
MAX_ROWS = 2_000_000
MAX_BLANK_RUN = 10_000    # this many blank rows in a row end the table (stray formatting far below it)


def _table(path: Path, sheet: str | None, rows: Iterator[Sequence[Any]], columns: list[str]) -> RegistryTable:
    """Build the table from an iterator of rows, never holding more than the rows that count."""
    first = next(rows, None)
    if first is None:
        raise RegistryReadError("the registry is empty")
    header = [str(c).strip().lstrip("\ufeff") if c is not None else "" for c in first[:MAX_COLUMNS]]
    while header and header[-1] == "":
        header.pop()
    missing = [c for c in columns if c not in header]
    if missing:
        raise RegistryReadError(f"expected columns {columns}, found {header}; missing {missing}")
    repeated = sorted({h for h in header if h and header.count(h) > 1})
    if repeated:
        raise RegistryReadError(f"column(s) {', '.join(repeated)} appear more than once")
    table = RegistryTable(path=path, sheet=sheet, header=header)
    blank_run = 0
    for number, values in enumerate(rows, start=2):
        if number > MAX_ROWS:
            raise RegistryReadError(f"more than {MAX_ROWS:,} rows; not a registry")
        record = {name: _normalise(values[i]) if i < len(values) else None for i, name in enumerate(header)}
        if all(v is None for v in record.values()):
            blank_run += 1
            if blank_run >= MAX_BLANK_RUN:
                break
            continue  # blank lines at the end of a sheet are not rows
        blank_run = 0
        table.rows.append((number, record))
    return table


XLSX_MAX_PART_BYTES = 32 << 20    # inflated from any one part of a workbook (a sheet, the shared strings, ...)
XLSX_MAX_TOTAL_BYTES = 128 << 20  # inflated from all its parts together, and the most the file itself may hold
MAX_FORMULAS = 1000               # formula cells recorded (all are counted)


def check_xlsx_parts(data: bytes) -> None:
    """Inflate every part of the workbook once, in chunks, counting the bytes: a part beyond XLSX_MAX_PART_BYTES or
    a workbook beyond XLSX_MAX_TOTAL_BYTES raises RegistryReadError before openpyxl parses anything (a workbook whose
    sharedStrings expand to gigabytes would otherwise cost that much memory). Parts must be stored or deflated."""
    total = 0
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise RegistryReadError(f"the part {info.filename!r} uses compression method {info.compress_type}; "
                                        "expected stored or deflated parts, as spreadsheet programs write them")
            size = 0
            with archive.open(info) as stream:
                while chunk := stream.read(1 << 20):   # deflate output is bounded by the read size
                    size += len(chunk)
                    total += len(chunk)
                    if size > XLSX_MAX_PART_BYTES:
                        raise RegistryReadError(
                            f"the part {info.filename!r} expands to more than {XLSX_MAX_PART_BYTES:,} bytes "
                            f"(the limit per part of a registry workbook); a registry is far smaller, so the "
                            "workbook is damaged or a decompression bomb. Save the registry again from its source")
                    if total > XLSX_MAX_TOTAL_BYTES:
                        raise RegistryReadError(
                            f"the workbook expands to more than {XLSX_MAX_TOTAL_BYTES:,} bytes (the limit for a "
                            "registry workbook); a registry is far smaller, so the workbook is damaged or a "
                            "decompression bomb. Save the registry again from its source")


def _formulas(book: Any, title: str) -> list[tuple[str, str]]:
    """(cell, formula) for the formula cells of the sheet (read with formulas, not their cached values)."""
    found: list[tuple[str, str]] = []
    for row in book[title].iter_rows(max_col=MAX_COLUMNS):
        for cell in row:
            if getattr(cell, "data_type", None) == "f" and len(found) < MAX_FORMULAS:
                found.append((str(cell.coordinate), str(cell.value)[:200]))
    return found


def read_xlsx(path: Path, columns: list[str], sheet: str | None = None) -> RegistryTable:
    try:
        data = read_regular_bytes(path, limit=XLSX_MAX_TOTAL_BYTES)
    except OSError as error:
        raise RegistryReadError(f"not a readable xlsx workbook ({error.strerror or error})") from error
    return xlsx_table(data, path, columns, sheet)


def xlsx_table(data: bytes, path: Path, columns: list[str], sheet: str | None = None) -> RegistryTable:
    """The registry in an xlsx workbook's bytes (``path`` names it): what :func:`read_xlsx` reads from disk."""
    import openpyxl  # imported here: loading openpyxl costs ~0.2 s that most commands never need

    try:
        check_xlsx_parts(data)
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except RegistryReadError:
        raise
    except OSError as error:
        raise RegistryReadError(f"not a readable xlsx workbook ({error.strerror or error})") from error
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as error:
        raise RegistryReadError(f"not a readable xlsx workbook ({type(error).__name__}: {error})") from error
    except Exception as error:  # openpyxl raises many types on malformed XML; all mean "unreadable"
        raise RegistryReadError(f"not a readable xlsx workbook ({type(error).__name__}: {error})") from error
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise RegistryReadError(f"no sheet named {sheet!r}; sheets are {book.sheetnames}")
        worksheet = book[sheet] if sheet else book.worksheets[0]
        # read-only mode parses the sheet lazily, inside iter_rows: its errors are read errors too
        rows = worksheet.iter_rows(values_only=True, max_col=MAX_COLUMNS)
        table = _table(path, worksheet.title, rows, columns)
        # the cached values were read above; a second pass with formulas finds the cells that hold one
        formulas = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        try:
            table.formulas = _formulas(formulas, worksheet.title)
        finally:
            formulas.close()
        return table
    except RegistryReadError:
        raise
    except Exception as error:  # malformed sheet XML and the like
        raise RegistryReadError(f"the worksheet cannot be read ({type(error).__name__}: {error})") from error
    finally:
        book.close()


def read_csv(path: Path, columns: list[str]) -> RegistryTable:
    """Read the CSV as a stream (never the whole text at once): memory is the compact rows, not the file."""
    try:
        with open_regular(path, "rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            try:
                return _table(path, None, csv.reader(text), columns)
            finally:
                text.detach()
    except UnicodeDecodeError:
        pass  # the stream's decoder counts from its last chunk: the whole decode below names the file's offset
    except OSError as error:
        raise RegistryReadError(f"cannot open the file ({error.strerror or error})") from error
    except csv.Error as error:
        raise RegistryReadError(f"not valid CSV ({error})") from error
    try:
        read_regular_bytes(path).decode("utf-8-sig")
    except OSError as error:
        raise RegistryReadError(f"cannot open the file ({error.strerror or error})") from error
    except UnicodeDecodeError as error:
        raise RegistryReadError(f"not UTF-8 text ({error.reason} at byte {error.start})") from error
    raise RegistryReadError("not UTF-8 text")  # pragma: no cover - the file changed between the two reads


def read_registry(path: Path, columns: list[str], sheet: str | None = None) -> RegistryTable:
    """Read ``path`` by its suffix: ``.xlsx`` with openpyxl, anything else as CSV."""
    if path.suffix.lower() == ".xlsx":
        return read_xlsx(path, columns, sheet)
    return read_csv(path, columns)


def registry_from_bytes(data: bytes, path: Path, columns: list[str], sheet: str | None = None) -> RegistryTable:
    """:func:`read_registry` of bytes already read (a release in object storage); ``path`` names the file."""
    if path.suffix.lower() == ".xlsx":
        return xlsx_table(data, path, columns, sheet)
    try:
        return _table(path, None, csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")), columns)
    except UnicodeDecodeError as error:
        raise RegistryReadError(f"not UTF-8 text ({error.reason} at byte {error.start})") from error
    except csv.Error as error:
        raise RegistryReadError(f"not valid CSV ({error})") from error
