"""Checksum manifests: GNU coreutils (``sha256sum``), BSD tagged (``shasum --tag``), BagIt manifests.

:class:`Manifest` is also the record every other checksum listing is read into (md5 JSON maps, Dataverse and
Zenodo JSON, BagIt bags, datapackage.json, Croissant; :mod:`curator.io.checksum_listings`): its ``form`` names the
listing's kind, and whatever reads it compares entries the same way.
"""

# No `from __future__ import annotations` here: a NamedTuple would compile each string annotation when the module
# loads (about 0.7 ms a field), a cost `curator verify` pays on every run.

import re
from array import array
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

from curator.io import ReadError
from curator.io.inventory import Entry
from curator.io.regular import open_regular, read_regular_bytes
from curator.io.rows import PathList, PathRows, PathStore, appended

# manifest file name -> algorithm
MANIFEST_ALGORITHMS = {
    "SHA256SUMS": "sha256",
    "SHA512SUMS": "sha512",
    "SHA1SUMS": "sha1",
    "MD5SUMS": "md5",
    "XXH128SUMS": "xxh128",
    "manifest-sha256.txt": "sha256",
    "manifest-md5.txt": "md5",
}
_HEX_LENGTH = {"sha256": 64, "sha512": 128, "sha1": 40, "md5": 32, "xxh128": 32}
HEX_LENGTH = _HEX_LENGTH
LINE_LIMIT = 1 << 20      # a streamed sum file's longest line (a path is at most 4,096 bytes on Linux)
SUM_FILE = "sum file"     # the form of GNU/BSD sum files (SHA256SUMS, MD5SUMS, ...)
BAGIT = "BagIt bag"       # a bag's manifest-<alg>.txt and tagmanifest-<alg>.txt (RFC 8493)
LINE_FORMS = frozenset({SUM_FILE, BAGIT})   # listings made of lines: their problems are numbered lines
_TAGS = {"SHA256": "sha256", "SHA512": "sha512", "SHA1": "sha1", "MD5": "md5", "XXH128": "xxh128"}
_GNU = re.compile(r"^(?P<digest>[0-9a-fA-F]+) (?P<mode>[ *])(?P<path>.+)$")
_TAGGED = re.compile(r"^(?P<tag>[A-Z0-9]+) \((?P<path>.+)\) = (?P<digest>[0-9a-fA-F]+)$")


class ManifestReadError(ReadError):
    pass


# Plain classes, not dataclasses: ``curator verify`` reads manifests, and importing dataclasses (with inspect) costs
# a tenth of a cached verify's whole run.
class ManifestEntry(NamedTuple):
    path: str
    digest: str
    algorithm: str
    line: int


class ManifestEntries(PathRows[ManifestEntry]):
    """A sum file's entries, held compactly: the paths in a :class:`~curator.io.rows.PathList` (a path on disk as
    its position in the walk, ``store``), the digests as bytes in one ``bytearray``, the line numbers in an
    ``array``; an entry is made when it is asked for. A million-line SHA256SUMS holds ~50 B a line here, not the
    ~220 B of a ``ManifestEntry`` with its hex string (issue 15). An entry of another algorithm (a tagged line) or
    whose digest is not the algorithm's lowercase hex is kept whole. Equal to a list of the same entries, in order."""

    _what = "manifest entry"
    __slots__ = ("_digests", "_found", "_last", "_lines", "_odd", "_order", "_paths", "_sorted", "_width",
                 "algorithm")

    def __init__(self, algorithm: str, store: PathStore | None = None) -> None:
        self.algorithm = algorithm
        self._paths: PathList = PathList(store)
        self._last: str | None = None              # the path appended last
        self._found = -1                           # the position found last (lookups in path order: the next one)
        self._digests = bytearray()
        self._lines = array("I")   # widened past 2**32 (rows.appended)
        self._odd: dict[int, ManifestEntry] = {}   # position -> an entry not held compactly
        self._width = _HEX_LENGTH.get(algorithm, 64) // 2
        self._sorted = True                        # every path after the one before it (bisect finds a path)
        self._order: array[int] | None = None      # positions in path order, made when a path is looked up unsorted

    def append(self, entry: ManifestEntry, at: int | None = None) -> None:
        """Add ``entry`` (``at``: its path's position in the store, when the caller has looked it up)."""
        paths = self._paths
        if self._sorted and self._last is not None and entry.path <= self._last:
            self._sorted = False
        self._last = entry.path
        raw = b""
        if entry.algorithm == self.algorithm:
            try:
                raw = bytes.fromhex(entry.digest)
            except ValueError:
                raw = b""
        if len(raw) != self._width or raw.hex() != entry.digest:
            self._odd[len(paths)] = entry
            raw = bytes(self._width)
        paths.append(entry.path, at)
        self._digests += raw
        self._lines = appended(self._lines, entry.line)
        self._order = None

    def _entry(self, at: int) -> ManifestEntry:
        odd = self._odd.get(at) if self._odd else None
        if odd is not None:
            return odd
        width = self._width
        return ManifestEntry(self._paths[at], self._digests[at * width : (at + 1) * width].hex(), self.algorithm,
                             self._lines[at])

    def find(self, path: str) -> ManifestEntry | None:
        """The entry of ``path`` (the first, when listed again), or None: a bisection of the paths when they are in
        order (a sorted sum file), else of their positions in path order (8 B a line, made once)."""
        paths = self._paths
        if self._sorted:
            at = self._found + 1
            if not (at < len(paths) and paths[at] == path):
                found = paths.index_of(path, range(len(paths)))
                if found is None:
                    return None
                at = found
            self._found = at
            return self._entry(at)
        found = paths.index_of(path, self.path_order())
        return None if found is None else self._entry(found)

    def path_order(self) -> "array[int]":
        """The positions of the entries in path order (a path listed more than once: in line order)."""
        if self._order is None:
            self._order = array("i", range(len(self._paths))) if self._sorted else self._paths.path_order()
        return self._order

    def positions_in_path_order(self) -> "Iterable[int]":
        """:meth:`path_order`, with no array made (nor kept) for a sorted sum file: its positions are in order."""
        return range(len(self._paths)) if self._sorted else self.path_order()

    def algorithm_of(self, at: int) -> str:
        """The algorithm of the entry at ``at`` (a tagged line's may differ from the sum file's)."""
        odd = self._odd.get(at) if self._odd else None
        return self.algorithm if odd is None else odd.algorithm

    def again(self) -> list[tuple[int, int]]:
        """(position, first position) of each entry whose path an entry before it has, in position order."""
        if self._sorted:   # every path after the one before it: none is listed again
            return []
        paths, found, previous, first = self._paths, [], -1, 0
        for at in self.path_order():
            if previous >= 0 and paths[at] == paths[previous]:
                found.append((at, first))
            else:
                first = at
            previous = at
        return sorted(found)

    def drop(self, positions: set[int]) -> None:
        """Leave out the entries at ``positions``."""
        width, kept = self._width, [at for at in range(len(self._paths)) if at not in positions]
        self._paths = self._paths.taken(kept)
        self._digests = bytearray().join(self._digests[at * width : (at + 1) * width] for at in kept)
        self._lines = array(self._lines.typecode, (self._lines[at] for at in kept))   # (32-bit unless widened)
        self._odd = {new: self._odd[old] for new, old in enumerate(kept) if old in self._odd}
        self._order = None

    def line(self, at: int) -> int:
        return self._lines[at]

    def path(self, at: int) -> str:
        return self._paths[at]

    def lists(self, path: str) -> bool:
        """Whether ``path`` has an entry."""
        return self.find(path) is not None


class Manifest:
    """The entries of one checksum listing file and the problems met reading it.

    ``form`` names the kind of listing (:data:`SUM_FILE`, "md5 JSON map", ...). In a listing that is not made of
    lines (JSON), a problem's number is the entry's position (1-based; 0 for the file as a whole) and its reason
    names the entry. ``accounts_for`` holds paths the listing accounts for without checksums of its own here: the
    listing's files themselves and what its sibling files list (a bag's tag manifest, another class's md5 map), so
    that they are not called unlisted.
    """

    __slots__ = ("accounts_for", "algorithm", "entries", "form", "path", "problems")

    def __init__(self, path: Path, algorithm: str, entries: "list[ManifestEntry] | ManifestEntries | None" = None,
                 problems: list[tuple[int, str]] | None = None, *, form: str = SUM_FILE,
                 accounts_for: frozenset[str] = frozenset()) -> None:
        self.path, self.algorithm, self.form, self.accounts_for = path, algorithm, form, accounts_for
        self.entries: list[ManifestEntry] | ManifestEntries = entries if entries is not None else []
        self.problems: list[tuple[int, str]] = problems if problems is not None else []   # (line number, reason)

    def __repr__(self) -> str:
        return f"Manifest({self.path}, {self.algorithm}, {len(self.entries)} entries, {len(self.problems)} problems)"


def parse_manifest(path: Path, algorithm: str | None = None) -> Manifest:
    """Parse every line; a line that does not parse is recorded in ``problems``, never raised."""
    algorithm = algorithm or MANIFEST_ALGORITHMS.get(path.name, "sha256")
    try:
        data = read_regular_bytes(path)
    except OSError as error:
        raise ManifestReadError(f"cannot open the manifest ({error.strerror or error})") from error
    return parse_manifest_bytes(data, path, algorithm)


def read_manifest(path: Path, algorithm: str | None = None, *,
                  on_disk: Mapping[str, Entry] | None = None) -> Manifest:
    """:func:`parse_manifest` of a sum file read a block of lines at a time (:func:`stream_entries`): the entries
    and problems are the same, but the file's bytes, text and lines are never held whole (a million-line
    SHA256SUMS was ~300 MB of them at once). A line longer than :data:`LINE_LIMIT` is one problem, not parsed.
    ``on_disk``: the walk's files by path; an entry of a file on disk holds the walk's position of its path when
    ``on_disk`` is a :class:`~curator.io.rows.PathStore` (validate's walk), else shares its path string."""
    algorithm = algorithm or MANIFEST_ALGORITHMS.get(path.name, "sha256")
    store = on_disk if isinstance(on_disk, PathStore) else None   # the walk's files: a path on disk held as its
    position = store.position if store is not None else None     # position in the walk
    entries = ManifestEntries(algorithm, store)
    manifest = Manifest(path=path, algorithm=algorithm, entries=entries)
    problems = manifest.problems
    last, last_line = "", 0   # while the paths are in order, a path listed again is the one just before
    for block in stream_entries(path, algorithm):
        for item in block:
            if not isinstance(item, ManifestEntry):
                problems.append(item)
                continue
            rel = item.path
            if rel == last:
                problems.append((item.line, f"{rel} is listed again (first on line {last_line})"))
                continue
            if rel > last:
                last, last_line = rel, item.line
            if position is not None:
                entries.append(item, position(rel))
                continue
            disk = on_disk.get(rel) if on_disk is not None else None
            if disk is not None:
                item = ManifestEntry(disk.path, item.digest, item.algorithm, item.line)
            entries.append(item)
    again = entries.again()   # out of order: a path listed again is found in path order, not a dict of paths
    if again:
        for at, first in again:
            problems.append((entries.line(at), f"{entries.path(at)} is listed again (first on line "
                                               f"{entries.line(first)})"))
        entries.drop({at for at, _ in again})
        problems.sort(key=lambda problem: problem[0])   # in line order, as they were met
    return manifest


def parse_manifest_bytes(data: bytes, path: Path, algorithm: str | None = None) -> Manifest:
    """Parse manifest text already read (e.g. from inside an archive); ``path`` names it in findings."""
    algorithm = algorithm or MANIFEST_ALGORITHMS.get(path.name, "sha256")
    manifest = Manifest(path=path, algorithm=algorithm)
    seen: dict[str, int] = {}
    problems, entries = manifest.problems, manifest.entries
    for number, line, not_text in _lines(data):
        parsed = not_text or parse_line(number, line, algorithm)
        if parsed is None:
            continue
        if isinstance(parsed, str):
            problems.append((number, parsed))
            continue
        rel = parsed.path
        if rel in seen:
            problems.append((number, f"{rel} is listed again (first on line {seen[rel]})"))
            continue
        seen[rel] = number
        entries.append(parsed)
    return manifest


def parse_line(number: int, line: str, algorithm: str) -> ManifestEntry | str | None:
    """One line of a sum file: its entry, why it is not one (a problem), or None (blank or a comment).

    The one parser of sum-file lines, for the whole-file reader above and the streamed one (:func:`stream_lines`);
    a path listed again is for the caller to tell (it needs the lines before).
    """
    if line.endswith("\r"):
        line = line.rstrip("\r")
    if not line or line[0] == "#" or line.isspace():
        return None
    if line[0] == "\\":
        return "escaped names (a leading backslash) are not portable"
    # the two forms cannot both match (a GNU line's mode is ' ' or '*', never '('): the common one first
    gnu = _GNU.match(line)
    tagged = None if gnu else _TAGGED.match(line)
    match = gnu or tagged
    if match is None:
        return "expected '<hex digest>  <path>' or 'ALGO (<path>) = <hex digest>'"
    line_algorithm = _TAGS.get(match["tag"], "") if tagged else algorithm
    if not line_algorithm:
        return f"unknown algorithm tag {match['tag']!r}"
    digest = match["digest"].lower()
    if len(digest) != _HEX_LENGTH[line_algorithm]:
        return (f"a {line_algorithm} digest has {_HEX_LENGTH[line_algorithm]} hex digits, "
                f"this one has {len(digest)}")
    rel = match["path"]
    outside = None
    if rel[0] in "./" or ".." in rel or "\0" in rel:   # the checks only such a path can fail
        rel, outside = checked_path(rel)
    if outside:
        return outside
    return ManifestEntry(rel, digest, line_algorithm, number)


LineProblem = tuple[int, str]   # (line number, reason): a line of a sum file that is no entry


def stream_entries(path: Path, algorithm: str, block: int = 256 << 10) -> Iterator[list[ManifestEntry | LineProblem]]:
    """The entries of a sum file (and ``(line number, reason)`` for each line that is not one, see
    :func:`parse_line`), a block of lines at a time, in line order: a manifest of a million lines is never held
    whole (its bytes, its text and its entries would be three copies of it). A path listed again is the caller's
    to tell.

    A block whose every line is a GNU line of ``algorithm`` is parsed by one regular expression over the block
    (the same entries :func:`parse_line` gives, a tenth of the time); any other block line by line.
    """
    try:
        handle = open_regular(path, "rb")
    except OSError as error:
        raise ManifestReadError(f"cannot open the manifest ({error.strerror or error})") from error
    bulk = _bulk(algorithm)
    with handle:
        number, rest, skipping = 0, b"", False
        while True:
            try:
                data = handle.read(block)
            except OSError as error:
                raise ManifestReadError(f"cannot read the manifest ({error.strerror or error})") from error
            cut = not data
            if skipping:   # inside a line too long to be one: up to its end
                at = data.find(b"\n")
                if at < 0 and not cut:
                    continue
                number, skipping = number + 1, False
                yield [(number, f"a line of more than {LINE_LIMIT:,} bytes; no manifest line is that long")]
                if cut:
                    return
                data = data[at + 1 :]
            data = rest + data
            end = len(data) if cut else data.rfind(b"\n") + 1
            if end == 0 and not cut:   # no line ends in this block yet
                rest, skipping = (b"", True) if len(data) > LINE_LIMIT else (data, False)
                continue
            lines, rest = data[:end], data[end:]
            if lines:
                items = _block(lines, number + 1, algorithm, bulk)
                number += lines.count(b"\n") + (0 if lines.endswith(b"\n") else 1)
                yield items
            if cut:
                return


def _bulk(algorithm: str) -> "re.Pattern[str]":
    return re.compile(rf"^([0-9a-fA-F]{{{_HEX_LENGTH.get(algorithm, 64)}}}) [ *](.+)$", re.M)


def _block(data: bytes, first: int, algorithm: str, bulk: "re.Pattern[str]") -> list[ManifestEntry | LineProblem]:
    """The entries of whole lines ``data`` starting at line ``first``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and "\r" not in text:
        found = bulk.findall(text)
        lines = text.count("\n") + (0 if text.endswith("\n") else 1)
        if len(found) == lines:
            items: list[ManifestEntry | LineProblem] = []
            new, entry_type = tuple.__new__, ManifestEntry   # (not the NamedTuple's __new__: a Python call a line)
            for number, (digest, rel) in enumerate(found, start=first):
                if rel[0] in "./" or ".." in rel or "\0" in rel:
                    parsed = parse_line(number, f"{digest}  {rel}", algorithm)
                    if parsed is not None:
                        items.append(parsed if isinstance(parsed, ManifestEntry) else (number, parsed))
                else:
                    items.append(new(entry_type, (rel, digest.lower(), algorithm, number)))
            return items
    items = []
    for number, line, not_text in _lines(data.removesuffix(b"\n"), first):
        parsed = not_text or parse_line(number, line, algorithm)
        if parsed is not None:
            items.append(parsed if isinstance(parsed, ManifestEntry) else (number, parsed))
    return items


def _lines(data: bytes, first: int = 1) -> Iterator[tuple[int, str, str | None]]:
    """(number, text, None) for each line, or (number, "", why) for a line that is not UTF-8 text.

    Decoded at once when it can be (UTF-8 never has a newline byte inside a character, so the lines are the same).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        for number, raw_line in enumerate(data.split(b"\n"), start=first):
            try:
                yield number, raw_line.decode("utf-8"), None
            except UnicodeDecodeError as error:
                yield number, "", f"not UTF-8 text (byte {error.start} of the line)"
        return
    for number, line in enumerate(text.split("\n"), start=first):
        yield number, line, None


def checked_path(rel: str) -> tuple[str, str | None]:
    """A listed path without its leading ``./``, and why it cannot be a file of the release (None when it can)."""
    if rel.startswith("./"):
        rel = rel[2:]
    if not rel or "\0" in rel:
        return rel, "an empty path or one with a NUL character names no file"
    if rel.startswith("/") or (".." in rel and ".." in rel.split("/")):
        return rel, f"path {rel!r} points outside the release"
    return rel, None


def format_gnu(digests: dict[str, str]) -> str:
    """GNU coreutils format, sorted by path: byte-identical to a BagIt manifest with the same paths."""
    return "".join(f"{digests[p]}  {p}\n" for p in sorted(digests))
