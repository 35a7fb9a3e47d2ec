"""The deep tier's single pass over NIfTI files.

One read of a file feeds every hasher, the gzip decompressor (each member's CRC-32 and size checked against its
trailer, bytes after the last member counted) and the voxel statistics. A study and its mask are streamed in
lockstep, voxel range by voxel range, so the HU under a lesion mask is measured without holding either volume
in memory: memory stays at a few MB per task whatever the volume size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from curator.io import ReadError, inflate
from curator.io.gzip_header import MAX_FIELD, MAX_HEADER, GzipHeaderError, parse_gzip_header
from curator.io.hashing import CHUNK, new_hasher
from curator.io.nifti import GZIP_MAGIC, HEADER_PREFIX, NiftiHeader, parse_header

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

MAX_DISTINCT = 64          # a mask with more distinct values than this is not a label map; stop counting
VOXELS_PER_STEP = 1 << 20  # voxels handed to the statistics at once (2 MB of int16)
# decompressed bytes per zlib call: bounds memory (1 MB of a mask's gzip can inflate to ~1 GB) and lets all but
# the last piece through before zlib checks the trailer, so a CRC error still leaves the header readable
MAX_PIECE = 1 << 20
AIR_HU = -950              # below this a voxel is air, not lung tissue


@dataclass
class VoxelStats:
    count: int = 0
    minimum: float | None = None
    maximum: float | None = None
    non_finite: int = 0
    values: Counter[float] | None = field(default_factory=Counter)  # None once past MAX_DISTINCT
    below: int = 0    # voxels under the plausible range given to the scan
    above: int = 0
    low: float = -2048
    high: float = 4095

    def update(self, values: npt.NDArray[Any]) -> None:
        import numpy as np

        self.count += values.size
        if values.dtype.kind == "f":
            finite = np.isfinite(values)
            self.non_finite += int(values.size - np.count_nonzero(finite))
            if self.non_finite:
                values = values[finite]
        if values.size == 0:
            return
        low, high = float(values.min()), float(values.max())
        self.minimum = low if self.minimum is None else min(self.minimum, low)
        self.maximum = high if self.maximum is None else max(self.maximum, high)
        if low < self.low:
            self.below += int(np.count_nonzero(values < self.low))
        if high > self.high:
            self.above += int(np.count_nonzero(values > self.high))
        if self.values is not None:
            self._count_values(values, low, high)

    def _count_values(self, values: npt.NDArray[Any], low: float, high: float) -> None:
        import numpy as np

        assert self.values is not None
        if low == high:
            pairs: Iterable[tuple[float, int]] = [(low, int(values.size))]
        elif low == 0 and high == 1:  # a binary mask: counting the ones is ~10x faster than a histogram
            ones = int(np.count_nonzero(values))
            pairs = [(0, int(values.size) - ones), (1, ones)]
        elif values.dtype.kind in "iu" and high - low < 1 << 16:
            # a histogram is ~20x faster than np.unique's sort for the small ranges of label maps
            shift = 0 if values.dtype.kind == "u" or low >= 0 else int(low)
            counts = np.bincount(values if shift == 0 and values.dtype.itemsize <= 4 else
                                 (values.astype(np.int64) - shift))
            present = np.flatnonzero(counts)
            pairs = zip((present + shift).tolist(), counts[present].tolist(), strict=True)
        else:
            distinct, counted = np.unique(values, return_counts=True)
            if distinct.size > MAX_DISTINCT:
                self.values = None
                return
            pairs = zip(distinct.tolist(), counted.tolist(), strict=True)
        for value, count in pairs:
            self.values[value] += count
        if len(self.values) > MAX_DISTINCT:
            self.values = None


@dataclass
class LesionStats:
    """What a study's HU say about the voxels its mask marks (the MosMed paper: lesions -700..-130 HU)."""

    voxels: int = 0
    hu_total: float = 0.0
    air: int = 0           # marked voxels below AIR_HU: outside the body or in the airway

    @property
    def mean_hu(self) -> float | None:
        return self.hu_total / self.voxels if self.voxels else None

    @property
    def air_fraction(self) -> float:
        return self.air / self.voxels if self.voxels else 0.0

    def update(self, study: npt.NDArray[Any], mask: npt.NDArray[Any]) -> None:
        import numpy as np

        count = int(np.count_nonzero(mask))  # most blocks of a mask mark nothing: no boolean array for them
        if not count:
            return
        # a 0/1 mask of one byte a voxel is its own boolean array (a view, no comparison pass); compress gathers the
        # marked voxels ~1.5x faster than boolean indexing
        binary = mask.dtype.itemsize == 1 and mask.dtype.kind in "ub" and int(mask.max()) <= 1
        hu = np.compress(mask.view(np.bool_) if binary else mask != 0, study)
        self.voxels += count
        self.hu_total += float(hu.sum(dtype=np.float64))  # summed in float64 without a float64 copy
        self.air += int(np.count_nonzero(hu < AIR_HU))


@dataclass
class Payload:
    digests: dict[str, str]
    header: NiftiHeader | str          # the header, or why it could not be read
    stream_error: str | None = None    # gzip CRC/size mismatch, corrupt or unfinished stream
    decompressed: int = 0
    voxels: VoxelStats | None = None
    lesion: LesionStats | None = None  # on a mask's payload, when read with its study
    # what kind of stream_error: "truncated" (the data ends early), "damaged" (a trailer's CRC-32 or size
    # disagrees with the data) or "corrupt" (the deflate data or a member header cannot be decoded)
    stream_problem: str | None = None
    members: int = 0                   # gzip members read (0 for an uncompressed file)
    after_stream: int = 0              # bytes after the last gzip member that start no member (garbage)
    later_texts: list[str] = field(default_factory=list)   # "FNAME of gzip member 2", ...: names past the first


@dataclass(frozen=True)
class StreamSource:
    """A file read from elsewhere than a local path: its bytes read once from start to end (``handle``), its size,
    and its last four bytes (the gzip ISIZE the header reader compares) fetched apart."""

    handle: IO[bytes]
    size: int
    last_four: Callable[[], bytes]


Opener = Callable[[Path, list[str]], "NiftiStream"]   # how a scan opens a file: NiftiStream, or a remote source


@dataclass(frozen=True)
class _Trailer:
    crc: int      # CRC-32 the trailer records
    size: int     # ISIZE: uncompressed size mod 2**32 the trailer records


class NiftiStream:
    """Read a NIfTI file once, from the first byte to the last, whatever the caller asks of it.

    A gzip file is framed here, member by member (``curator.io.gzip_header`` reads each member header to its
    real end), and inflated as raw deflate with a running CRC-32, so a damaged trailer is reported with the
    numbers it records and those of the data, and bytes after the last member are counted, not taken for a
    corrupt member.
    """

    def __init__(self, path: Path, algorithms: list[str], source: StreamSource | None = None) -> None:
        """``source``: the bytes of a file that is not local (an object streamed once from a store), else ``path``
        is opened."""
        self.path = path
        self.hashers = {name: new_hasher(name) for name in algorithms}
        self.stream_error: str | None = None
        self.stream_problem: str | None = None
        self.decompressed = 0  # bytes of decompressed stream produced so far
        self.file_size = path.stat().st_size if source is None else source.size
        self._handle: IO[bytes] = path.open("rb") if source is None else source.handle
        first = self._handle.read(CHUNK)
        self._taken = len(first)  # bytes read from the file so far
        self.compressed = first[:2] == GZIP_MAGIC
        self.isize: int | None = None
        if self.compressed and self.file_size >= 18:
            if source is None:
                self._handle.seek(-4, 2)
                self.isize = int.from_bytes(self._handle.read(4), "little")
                self._handle.seek(len(first))
            else:
                self.isize = int.from_bytes(source.last_four(), "little")
        for hasher in self.hashers.values():
            hasher.update(first)
        self._input = first      # compressed (or raw) bytes read from the file, not yet decompressed
        self._state = "header" if self.compressed else "raw"   # header, data, trailer, next, done, raw
        self._inflater: Any = None
        self._crc = 0
        self._member_size = 0
        self.members = 0
        self.after_stream = 0
        self.later_texts: list[str] = []
        self._voxels_left: int | None = None
        self._pushback = b""
        head = self._read(HEADER_PREFIX)
        self._pushback = head    # the header prefix overlaps the voxels when vox_offset < HEADER_PREFIX
        self.header: NiftiHeader | str = self._parse(head)

    def close(self) -> None:
        self._handle.close()

    def _take(self, size: int) -> bytes:
        """The file's next ``size`` bytes at most (b"" at its end), counted and hashed as they are read."""
        chunk = self._handle.read(size)
        self._taken += len(chunk)
        for hasher in self.hashers.values():
            hasher.update(chunk)
        return chunk

    def _next_input(self) -> bool:
        chunk = self._take(CHUNK)
        if not chunk:
            return False
        self._input = chunk
        return True

    def _more_input(self, at_least: int) -> bool:
        """Extend the unread input to ``at_least`` bytes (False when the file ends first)."""
        parts, have = [self._input], len(self._input)
        while have < at_least:
            chunk = self._take(max(CHUNK, at_least - have))
            if not chunk:
                self._input = b"".join(parts)
                return False
            parts.append(chunk)
            have += len(chunk)
        self._input = b"".join(parts)
        return True

    def _fail(self, problem: str, reason: str) -> None:
        self.stream_problem, self.stream_error = problem, reason
        self._state = "done"

    def _member_header(self) -> None:
        """Read the header of the member starting the unread input; on to its data."""
        want = 1 << 16
        while True:
            try:
                header = parse_gzip_header(self._input, at_end=False)
            except GzipHeaderError as error:
                self._fail("corrupt", f"gzip member {self.members + 1}: {error}")
                return
            if header is not None:
                break
            had = len(self._input)   # the file may end past the header but before the bytes asked for: parse again
            if had >= MAX_HEADER or (not self._more_input(min(had + want, MAX_HEADER)) and len(self._input) == had):
                self._fail("truncated", f"the file ends inside the header of gzip member {self.members + 1}")
                return
            want *= 4
        if header.overlong:
            self._fail("corrupt", f"gzip member {self.members + 1}: its {' and '.join(header.overlong)} is longer "
                                  f"than {MAX_FIELD:,} bytes")
            return
        self._input = self._input[header.size :]
        self.members += 1
        if self.members > 1 and len(self.later_texts) < 10:  # the privacy audit reads the first member's header
            self.later_texts += [f"{label} of gzip member {self.members}" for label, value in
                                 (("FNAME", header.name), ("FCOMMENT", header.comment)) if value is not None]
        self._inflater = inflate.decompressobj(wbits=-15)
        self._crc, self._member_size = 0, 0
        self._state = "data"

    def _member_trailer(self) -> None:
        if len(self._input) < 8 and not self._more_input(8):
            self._fail("truncated", f"the file ends inside the trailer of gzip member {self.members} "
                                    f"({len(self._input)} of its 8 bytes)")
            return
        trailer = _Trailer(int.from_bytes(self._input[:4], "little"), int.from_bytes(self._input[4:8], "little"))
        self._input = self._input[8:]
        actual = _Trailer(self._crc, self._member_size % 2**32)
        if trailer != actual:
            which = " and ".join(w for w, bad in (("CRC-32", trailer.crc != actual.crc),
                                                   ("size", trailer.size != actual.size)) if bad)
            member = f"gzip member {self.members}" if self.members > 1 else "the gzip stream"
            self._fail("damaged", f"the {which} in the trailer of {member} does not match the data: the trailer "
                                  f"records CRC-32 {trailer.crc:08x} and {trailer.size:,} bytes (mod 2**32), the "
                                  f"data has CRC-32 {actual.crc:08x} and {self._member_size:,} bytes; the file "
                                  "is damaged")
            return
        self._state = "next"

    def _after_member(self) -> None:
        """After a trailer: another member (concatenated members are legal: pigz -i, bgzip), or the end; any other
        bytes are counted as lying after the stream."""
        if len(self._input) < 2:
            self._more_input(2)
        if not self._input:
            self._state = "done"
        elif self._input[:2] == GZIP_MAGIC:
            self._state = "header"
        else:
            self.after_stream = self.file_size - (self._taken - len(self._input))
            self._input = b""
            self._state = "done"

    def _read(self, size: int, *, whole: bool = True) -> bytes:
        """The next ``size`` decompressed bytes (fewer at the end of the stream); with ``whole=False``, whatever
        the first call that produces any gives (at most ``size``): a piece as the inflater hands it out, not
        joined with the next one.

        The inflater is asked for exactly what is needed (``max_length``), so memory stays at one block however
        well a mask compresses, and each member's trailer is checked only once everything before it has been
        handed out.
        """
        parts: list[bytes] = []
        need = size
        if self._pushback:
            parts.append(self._pushback[:need])
            self._pushback = self._pushback[need:]
            need -= len(parts[0])
        while need > 0 and self._state != "done" and (whole or not parts):
            if self._state == "raw":
                if not self._input and not self._next_input():
                    self._state = "done"
                    break
                piece, self._input = self._input[:need], self._input[need:]
            elif self._state == "header":
                self._member_header()
                continue
            elif self._state == "trailer":
                self._member_trailer()
                continue
            elif self._state == "next":
                self._after_member()
                continue
            else:  # data
                at_end = not self._input and not self._next_input()  # the inflater may still hold output
                try:
                    piece = self._inflater.decompress(self._input, need)
                except inflate.ERRORS as error:
                    at = self._taken - len(self._input)
                    self._fail("corrupt", f"the deflate data of gzip member {self.members} cannot be decoded "
                                          f"({error}) at or after file offset {at:,}, with {self.decompressed:,} "
                                          "bytes of data decoded before it: the file is damaged")
                    break
                if self._inflater.eof:  # first: zlib may leave the bytes after the member in unconsumed_tail too
                    self._input = self._inflater.unused_data
                    self._state = "trailer"
                elif self._inflater.unconsumed_tail:
                    self._input = self._inflater.unconsumed_tail
                else:
                    self._input = b""
                if at_end and not piece and self._state == "data":
                    self._fail("truncated", f"the file ends inside gzip member {self.members}, after "
                                            f"{self.decompressed:,} bytes of data and before the member's end marker: "
                                            "the file is truncated")
                    break
                self._crc = inflate.crc32(piece, self._crc)
                self._member_size += len(piece)
            if piece:
                self.decompressed += len(piece)
                parts.append(piece)
                need -= len(piece)
        return b"" if not parts else parts[0] if len(parts) == 1 else b"".join(parts)

    def _parse(self, head: bytes) -> NiftiHeader | str:
        try:
            return parse_header(head, compressed=self.compressed, file_size=self.file_size, isize=self.isize)
        except ReadError as error:
            return self.stream_error or str(error)

    @property
    def readable_voxels(self) -> bool:
        header = self.header
        return (isinstance(header, NiftiHeader) and bool(header.dtype_str) and header.bitpix % 8 == 0
                and all(n > 0 for n in header.shape))

    def _voxel_start(self) -> np.dtype[Any]:
        """The voxels' dtype; the first call skips to vox_offset."""
        import numpy as np

        header = self.header
        assert isinstance(header, NiftiHeader) and self.readable_voxels
        dtype = np.dtype(header.dtype_str)
        if self._voxels_left is None:
            self._read(int(header.vox_offset))
            self._voxels_left = (header.data_bytes - int(header.vox_offset)) // dtype.itemsize
        return dtype

    def _voxels(self, data: bytes | memoryview, dtype: np.dtype[Any]) -> npt.NDArray[Any]:
        """``data`` (whole voxels) as an array without a copy, scaled by scl_slope/scl_inter."""
        import numpy as np

        header = self.header
        assert isinstance(header, NiftiHeader)
        block = np.frombuffer(data, dtype=dtype)
        assert self._voxels_left is not None
        self._voxels_left -= block.size
        if (header.scl_slope, header.scl_inter) != (1.0, 0.0):
            return block.astype(np.float64) * header.scl_slope + header.scl_inter
        return block

    def next_voxels(self, count: int) -> npt.NDArray[Any]:
        """The next ``count`` voxels (fewer at the end of the voxels or of the stream; none after), scaled."""
        dtype = self._voxel_start()
        assert self._voxels_left is not None
        want = min(count, self._voxels_left)
        data = self._read(want * dtype.itemsize) if want > 0 else b""
        usable = len(data) - len(data) % dtype.itemsize
        block = self._voxels(data[:usable] if usable < len(data) else data, dtype)
        if usable < want * dtype.itemsize:  # the stream ended first
            self._voxels_left = 0
        return block

    def voxel_blocks(self, per_block: int = VOXELS_PER_STEP) -> Iterator[npt.NDArray[Any]]:
        """The voxels not yet read, in file order, ``per_block`` at a time, scaled by scl_slope/scl_inter.

        Calling it again continues where the previous generator stopped.
        """
        self._voxel_start()
        while self._voxels_left:
            block = self.next_voxels(per_block)
            if not block.size:
                return
            yield block

    def voxel_pieces(self, per_piece: int = VOXELS_PER_STEP) -> Iterator[npt.NDArray[Any]]:
        """The voxels not yet read, in file order and scaled, in pieces of at most ``per_piece`` as the inflater
        hands them out: each piece is viewed as an array where it lies, not joined with the next into a fixed-size
        block (a copy of every byte). A voxel split between two pieces comes alone, as a block of one.

        For one stream's statistics; a study and its mask in lockstep take the mask's :meth:`next_voxels` for each
        of the study's pieces.
        """
        dtype = self._voxel_start()
        size = dtype.itemsize
        while self._voxels_left:
            data = self._read(min(per_piece, self._voxels_left) * size, whole=False)
            if not data:
                self._voxels_left = 0
                return
            split = len(data) - len(data) % size
            if split:
                yield self._voxels(memoryview(data)[:split] if split < len(data) else data, dtype)
            if split < len(data):   # the rest of the split voxel starts the next piece
                tail = data[split:] + self._read(size - (len(data) - split))
                if len(tail) < size:   # the stream ended inside it
                    self._voxels_left = 0
                    return
                yield self._voxels(tail, dtype)

    def finish(self) -> Payload:
        """Read whatever is left (the hashes and the gzip trailers need every byte) and summarise."""
        self._pushback = b""
        while self._read(MAX_PIECE):
            pass
        while self._next_input():  # after a damaged stream or bytes after it: the digests still need them
            pass
        self.close()
        return Payload(digests={n: h.hexdigest() for n, h in self.hashers.items()}, header=self.header,
                       stream_error=self.stream_error, decompressed=self.decompressed,
                       stream_problem=self.stream_problem, members=self.members, after_stream=self.after_stream,
                       later_texts=self.later_texts)


def trailing_bytes(payload: Payload, header: NiftiHeader) -> int:
    """Bytes after the last voxel: decompressed bytes past vox_offset + voxels x bytes per voxel, plus bytes after
    the last gzip member."""
    return max(0, payload.decompressed - header.data_bytes) + payload.after_stream


def scan_nifti(path: Path, algorithms: list[str], *, low: float = -2048, high: float = 4095,
               count_values: bool = True, opener: Opener = NiftiStream) -> Payload:
    """Read ``path`` once: digests, the gzip stream checked end to end, the header and voxel statistics."""
    stream = opener(path, algorithms)
    stats = None
    if stream.readable_voxels:
        stats = VoxelStats(low=low, high=high, values=Counter() if count_values else None)
        for block in stream.voxel_pieces():
            stats.update(block)
    payload = stream.finish()
    payload.voxels = stats
    return payload


def scan_pair(study_path: Path, mask_path: Path, study_algorithms: list[str], mask_algorithms: list[str], *,
              low: float = -2048, high: float = 4095, opener: Opener = NiftiStream) -> tuple[Payload, Payload]:
    """Read a study and its mask once each, in lockstep: both payloads, plus the HU under the mask."""
    study = opener(study_path, study_algorithms)
    try:
        mask = opener(mask_path, mask_algorithms)
    except OSError:
        study.close()
        raise
    study_stats, mask_stats, lesion = None, None, None
    same_grid = (isinstance(study.header, NiftiHeader) and isinstance(mask.header, NiftiHeader)
                 and study.header.shape[:3] == mask.header.shape[:3])
    if study.readable_voxels and mask.readable_voxels and same_grid:
        study_stats, mask_stats, lesion = VoxelStats(low=low, high=high, values=None), VoxelStats(), LesionStats()
        # the study's pieces as inflated, the mask's voxels read to match each: no block is joined from pieces
        for study_block in study.voxel_pieces():
            mask_block = mask.next_voxels(study_block.size)
            study_stats.update(study_block)
            if mask_block.size:   # where one stream ends first (truncated, a 4-D study), the voxels both have
                mask_stats.update(mask_block)
                lesion.update(study_block[: mask_block.size], mask_block)
        for block in mask.voxel_pieces():   # a truncated study: what is left of the mask still counts
            mask_stats.update(block)
    else:
        if study.readable_voxels:
            study_stats = VoxelStats(low=low, high=high, values=None)
            for block in study.voxel_pieces():
                study_stats.update(block)
        if mask.readable_voxels:
            mask_stats = VoxelStats()
            for block in mask.voxel_pieces():
                mask_stats.update(block)
    study_payload, mask_payload = study.finish(), mask.finish()
    study_payload.voxels, mask_payload.voxels, mask_payload.lesion = study_stats, mask_stats, lesion
    return study_payload, mask_payload


def scan_unit(job: tuple[Path, tuple[str, ...], tuple[tuple[str, ...], ...]],
              opener: Opener = NiftiStream) -> list[Payload | str]:
    """One deep-tier task, picklable for a process pool: ``(root, paths, algorithms per path)``.

    Two paths are a study and its mask, read in lockstep; one path is read alone. A file that cannot be opened
    gives a reason string in its place. ``opener``: how a file is opened (a remote release's objects are streamed).
    """
    root, unit, algorithms = job
    inflate.steady_heap()
    try:
        if len(unit) == 2:
            return list(scan_pair(root / unit[0], root / unit[1], list(algorithms[0]), list(algorithms[1]),
                                  opener=opener))
        return [scan_nifti(root / unit[0], list(algorithms[0]), opener=opener)]
    except OSError as error:
        if len(unit) == 2:  # find out which of the two cannot be read
            return [*scan_unit((root, unit[:1], algorithms[:1]), opener),
                    *scan_unit((root, unit[1:], algorithms[1:]), opener)]
        return [f"cannot read the file ({error.strerror or error})"]
