"""What the orchestrator gathered about a release, handed to every check.

Every reader's result is a typed field of :class:`Facts`, so mypy checks each read. A reader that did not run
(another profile's gatherer, or a reader no selected check declares in its ``READERS``) leaves its field None,
and the checks that need it yield nothing.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from curator.io.inventory import Entry
from curator.io.manifest import Manifest
from curator.io.nifti import NiftiHeader
from curator.io.payload import Payload
from curator.io.registry import RegistryTable
from curator.io.rows import PathList, PathRows, appended
from curator.models.card import DatasetCard
from curator.models.profile import Profile
from curator.models.registry import RegistryRecord

if TYPE_CHECKING:   # the readers import Facts for their gather(facts); importing them here would load pydicom,
    # Pillow and numpy for every user of Facts (verify's manifest check needs none of them)
    from curator.io.dicom import DicomFacts
    from curator.io.dicom_audit import DicomAudit
    from curator.io.privacy_files import PrivacyFacts
    from curator.io.slices import SliceFacts
    from curator.models.findings import Finding


_KINDS = ("file", "dir", "symbolic link", "device", "named pipe", "socket", "other")   # io.inventory.mode_kind's
_FILE = 0
_SAMPLE = 64   # Walk.position bisects a str of every 64th path (~1.4 MB at a million files), then 6 of the block's


class Walk(PathRows[Entry]):
    """The entries of a walk (:func:`~curator.io.inventory.walk`, in its order: sorted by path), held compactly:
    the paths' UTF-8 bytes in one buffer with the end of each in an ``array``, the kinds as a byte each, the sizes in
    an ``array``; an :class:`Entry` (and a path string) is made when it is asked for. ~50 B a file in all for a path
    of 33 characters, not the ~100 B of a str object and its list slot, nor the ~250 B of an Entry, its size and a
    dict of the files (issue 15: a million-file release). Equal to a list of the same entries, in order. Lists of
    its paths hold their positions (:class:`~curator.io.rows.PathList`)."""

    _what = "walk entry"
    __slots__ = ("_blob", "_count", "_ends", "_index", "_kinds", "_last", "_sample", "_sizes", "_sorted")

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self._blob = bytearray()   # every path's UTF-8 bytes (lone surrogates kept: surrogatepass), in order
        self._ends = array("I")    # where each path's bytes end in the blob (widened past 4 GiB: rows.appended)
        self._kinds = bytearray()
        self._sizes = array("q")
        self._count = 0          # regular files
        self._sorted = True      # every path after the one before it (bisect finds a path)
        self._index: dict[str, int] | None = None   # path -> position, made when a path is looked up unsorted
        self._last = -1          # the position found last: lookups in path order look just after it first
        self._sample: list[str] | None = None   # every _SAMPLE-th path, made at the first lookup out of order
        blob, ends, kinds, sizes = self._blob, self._ends, self._kinds, self._sizes
        codes = {k: i for i, k in enumerate(_KINDS)}
        last = ""
        for path, kind, size in entries:
            if path <= last:
                self._sorted = False
            last = path
            blob += path.encode("utf-8", "surrogatepass")
            ends = self._ends = appended(ends, len(blob))
            code = codes.get(kind, len(_KINDS) - 1)
            kinds.append(code)
            sizes.append(size)
            self._count += code == _FILE

    def __len__(self) -> int:
        return len(self._ends)

    def _entry(self, at: int) -> Entry:
        return Entry(self.path(at), _KINDS[self._kinds[at]], self._sizes[at])

    def _raw(self, at: int) -> bytearray:
        return self._blob[self._ends[at - 1] if at else 0 : self._ends[at]]

    def position(self, path: str) -> int | None:
        """Where the regular file ``path`` is among the entries, or None when it is not one. Looked up in path order
        (a sorted list of files), each is found next to the one before it: a few comparisons, not a bisection."""
        count = len(self._ends)
        found: int | None = None
        if self._sorted:
            raw, raw_at = bytearray(path.encode("utf-8", "surrogatepass")), self._raw
            for at in range(max(self._last, 0), min(self._last + 4, count)):
                if raw_at(at) == raw:
                    found = at
                    break
            else:   # a bisection of every SAMPLE-th path (str objects, compared in C), then of its block's bytes
                if self._sample is None:
                    self._sample = [self.path(at) for at in range(0, count, _SAMPLE)]
                start = max(bisect_right(self._sample, path) - 1, 0) * _SAMPLE
                at = bisect_left(range(count), raw, start, min(start + _SAMPLE, count), key=raw_at)
                found = at if at < count and raw_at(at) == raw else None
        else:
            if self._index is None:
                self._index = {self.path(i): i for i in range(count)}
            found = self._index.get(path)
        if found is None or self._kinds[found] != _FILE:
            return None
        self._last = found
        return found

    @property
    def in_order(self) -> bool:
        """Whether every path comes after the one before it: the positions are in path order."""
        return self._sorted

    def path(self, at: int) -> str:
        """The path of the entry at ``at``."""
        return self._raw(at).decode("utf-8", "surrogatepass")

    def file_positions(self) -> Iterator[tuple[str, int]]:
        """(path, position) of each regular file, in the walk's order."""
        kinds, path = self._kinds, self.path
        return ((path(at), at) for at in range(len(self._ends)) if kinds[at] == _FILE)

    def file_paths(self, keep: Callable[[str], bool] | None = None) -> PathList:
        """The paths of the regular files (those ``keep`` keeps), in path order, held as positions."""
        paths = PathList(self)
        order = self.file_positions() if self._sorted else iter(sorted(self.file_positions()))
        for path, at in order:
            if keep is None or keep(path):
                paths.append(path, at)
        return paths

    @property
    def files(self) -> WalkFiles:
        return WalkFiles(self)


class WalkFiles(Mapping[str, Entry]):
    """The regular files of a :class:`Walk` by path, in path order: a view, no dict of its own."""

    __slots__ = ("_walk",)

    def __init__(self, walk: Walk) -> None:
        self._walk = walk

    def __getitem__(self, path: str) -> Entry:
        at = self._walk.position(path) if isinstance(path, str) else None
        if at is None:
            raise KeyError(path)
        return self._walk._entry(at)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self._walk.position(path) is not None

    def __iter__(self) -> Iterator[str]:
        return (path for path, _ in self._walk.file_positions())

    def __len__(self) -> int:
        return self._walk._count

    def position(self, path: str) -> int | None:
        """The walk's :meth:`Walk.position`: these views are a :class:`~curator.io.rows.PathStore`."""
        return self._walk.position(path)

    def path(self, at: int) -> str:
        return self._walk.path(at)

    @property
    def in_order(self) -> bool:
        return self._walk.in_order


class DataKind(NamedTuple):
    """Which of the profile's data patterns a path matches: its kind ("study", "mask", "image", ...) and the named
    groups the pattern captured (``study_id``, ``case``, ``slice``)."""
    kind: str
    groups: dict[str, str]


class Readme(NamedTuple):
    """A README of the release, read for the attribution and statistics checks."""
    name: str    # README_<LANG>.md
    text: str


@dataclass
class Facts:
    root: Path
    profile: Profile
    languages: list[str]
    entries: list[Entry] | Walk   # validate's is a Walk (compact)
    registry: RegistryTable | None = None
    registry_error: str | None = None
    registry_copy: RegistryTable | None = None      # the CSV twin, when the xlsx is the registry
    registry_copy_error: str | None = None
    # rows that passed their schema: a compact view on the registry table (io.registry.Records)
    rows: Sequence[tuple[int, RegistryRecord]] = field(default_factory=list)
    headers: dict[str, NiftiHeader | str] = field(default_factory=dict)  # path -> header or read error
    # when validate judged the headers as they were read: every readable header's voxel orientation ("RAS" -> its
    # paths, in path order), and ``headers`` holds only those with a finding of their own or in a mask pair
    orientations: dict[str, PathList] | None = None
    manifests: list[Manifest] = field(default_factory=list)
    manifest_errors: dict[str, str] = field(default_factory=dict)       # manifest path -> read error
    digests: dict[str, dict[str, str] | str] = field(default_factory=dict)  # path -> {algo: hex} or error
    payloads: dict[str, Payload] = field(default_factory=dict)           # --deep: NIfTI path -> one full read
    deep: bool = False
    jobs: int | None = None
    scope: set[str] | None = None   # --changed-since: the only files whose contents are read and reported
    identifiers: Path | None = None  # --identifiers: the curator's secret list of names and IDs to look for
    # the release's words (validate reads them for the licence, attribution and statistics checks)
    card: DatasetCard | None = None            # the release's own dataset.yaml, when readable
    licence_text: str | None = None            # LICENSE, when a regular text file of a sane size
    readmes: dict[str, Readme] = field(default_factory=dict)   # card language -> its README, when readable
    # what the profile's own gatherer read (Profile.gatherer); None for other profiles
    dicom: DicomFacts | None = None            # io.dicom: the DICOM files and series (profile dicom)
    slices: SliceFacts | None = None           # io.slices: image and mask headers, metadata CSVs (profile slices)
    # what the readers of validate.GATHERERS read; None when no selected check declares the reader
    dicom_audit: DicomAudit | None = None      # io.dicom_audit: every DICOM file's elements, for the privacy audit
    privacy_files: PrivacyFacts | None = None  # io.privacy_files: metadata of NIfTI, gzip, images, documents
    # when validate judged each audited DICOM file as it was read (checks.privacy_dicom.judge_file, overlapping the
    # readers): path -> its privacy findings, which checks.privacy_dicom.check gives instead of judging again
    dicom_judged: dict[str, list[Finding]] | None = None
    # and the components of its path that carry its identity (checks.phi_paths.path_matches), for flagged_components
    dicom_path_matches: dict[str, list[tuple[int, str, tuple[str, ...]]]] | None = None

    def is_release_file(self, path: str) -> bool:
        """One of the profile's non-data release files (README, LICENSE, figures/*.png, ...)."""
        return any(re.match(pattern, path) for pattern in self.profile.release_files)

    def in_scope(self, path: str) -> bool:
        return self.scope is None or path in self.scope  # what a profile's own gatherer read (DICOM series, ...)

    # files, made once for the entries they were made from (17 readers and checks ask; a million-file release's
    # dict is ~100 MB and 0.3 s each time); a Walk's is a view on it, no dict
    _files: tuple[list[Entry] | Walk, int, Mapping[str, Entry]] | None = field(default=None, init=False,
                                                                               repr=False, compare=False)

    @property
    def files(self) -> Mapping[str, Entry]:
        """The regular files among the entries, by path (in path order). Do not change it: it is shared."""
        made = self._files
        if made is None or made[0] is not self.entries or made[1] != len(self.entries):
            entries = self.entries
            made = self._files = (entries, len(entries), entries.files if isinstance(entries, Walk) else
                                  {e.path: e for e in entries if e.kind == "file"})
        return made[2]

    def path_list(self) -> PathList:
        """An empty list of paths that holds a path of the walk as its position (when the entries are a Walk)."""
        return PathList(self.entries if isinstance(self.entries, Walk) else None)

    def file_paths(self, keep: Callable[[str], bool]) -> Sequence[str]:
        """The paths of the regular files ``keep`` keeps, in path order (a Walk's: held as its positions)."""
        if isinstance(self.entries, Walk):
            return self.entries.file_paths(keep)
        return sorted(path for path in self.files if keep(path))

    def data_kind(self, path: str) -> DataKind | None:
        """The kind and named groups of the profile's data pattern ``path`` matches, or None."""
        for pattern in self.profile.data_files:
            match = pattern.regex.match(path)
            if match:
                return DataKind(pattern.kind, match.groupdict())
        return None

    @property
    def registry_name(self) -> str:
        return self.registry.path.name if self.registry else (self.profile.registry.path if self.profile.registry
                                                              else "registry")

    def mask_pairs(self) -> list[tuple[str, str, int]]:
        """(mask, study, study_id) from the registry rows, else from file names."""
        if self.rows:
            return [(row.mask_file.lstrip("/"), row.study_file.lstrip("/"), row.study_id)
                    for _, row in self.rows if row.mask_file]
        studies: dict[int, str] = {}
        masks: dict[int, str] = {}
        for path in self.files:
            kind = self.data_kind(path)
            if kind and kind.groups.get("study_id"):
                (studies if kind.kind == "study" else masks)[int(kind.groups["study_id"])] = path
        return [(masks[i], studies[i], i) for i in sorted(masks) if i in studies]
