"""The deep tier's single pass over a NIfTI file: every hasher, the gzip decompressor (CRC and size checked by
zlib) and the voxel statistics are fed from one read of the file."""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from curator.io import ReadError
from curator.io.hashing import CHUNK, new_hasher
from curator.io.nifti import GZIP_MAGIC, HEADER_PREFIX, NiftiHeader, parse_header

MAX_DISTINCT = 64  # a mask with more distinct values than this is not a label map; stop counting them


@dataclass
class VoxelStats:
    count: int = 0
    minimum: float | None = None
    maximum: float | None = None
    total: float = 0.0
    non_finite: int = 0
    values: Counter[float] | None = field(default_factory=Counter)  # None once past MAX_DISTINCT
    below: int = 0    # voxels under the plausible range given to the scan
    above: int = 0


@dataclass
class Payload:
    digests: dict[str, str]
    header: NiftiHeader | str          # the header, or why it could not be read
    stream_error: str | None = None    # gzip CRC/size mismatch, corrupt or unfinished stream
    decompressed: int = 0
    voxels: VoxelStats | None = None


class _VoxelSink:
    """Receives the decompressed stream and turns the voxel part into statistics."""

    def __init__(self, low: float, high: float) -> None:
        self.prefix = bytearray()
        self.header: NiftiHeader | str | None = None
        self.stats = VoxelStats()
        self.skip = 0
        self.remaining = 0
        self.pending = b""
        self.low, self.high = low, high
        self.dtype: object = None

    def feed(self, data: bytes, *, compressed: bool, file_size: int, isize: int | None) -> None:
        if self.header is None:
            self.prefix += data
            if len(self.prefix) < HEADER_PREFIX:
                return
            self._start(compressed, file_size, isize)
            data, self.prefix = bytes(self.prefix), bytearray()
        if isinstance(self.header, str) or self.dtype is None:
            return
        if self.skip:
            taken = min(self.skip, len(data))
            self.skip -= taken
            data = data[taken:]
        if self.remaining <= 0 or not data:
            return
        data = self.pending + data[: self.remaining - len(self.pending)]
        import numpy as np

        itemsize = np.dtype(self.dtype).itemsize  # type: ignore[call-overload]
        usable = len(data) - len(data) % itemsize
        self.pending = data[usable:]
        if usable:
            self._update(np.frombuffer(data[:usable], dtype=self.dtype))  # type: ignore[call-overload]
            self.remaining -= usable

    def finish(self, *, compressed: bool, file_size: int, isize: int | None) -> None:
        if self.header is None:  # a stream shorter than the header prefix
            self._start(compressed, file_size, isize)

    def _start(self, compressed: bool, file_size: int, isize: int | None) -> None:
        try:
            self.header = parse_header(bytes(self.prefix), compressed=compressed, file_size=file_size, isize=isize)
        except ReadError as error:
            self.header = str(error)
            return
        header = self.header
        if header.dtype_str and header.bitpix % 8 == 0 and all(n > 0 for n in header.shape):
            self.dtype = header.dtype_str
            self.skip = int(header.vox_offset)
            self.remaining = header.data_bytes - int(header.vox_offset)

    def _update(self, array: object) -> None:
        import numpy as np

        values = np.asarray(array)
        header = self.header
        assert isinstance(header, NiftiHeader)
        if (header.scl_slope, header.scl_inter) != (1.0, 0.0):
            values = values.astype(np.float64) * header.scl_slope + header.scl_inter
        stats = self.stats
        stats.count += values.size
        if values.dtype.kind == "f":
            finite = np.isfinite(values)
            stats.non_finite += int(values.size - finite.sum())
            values = values[finite]
        if values.size == 0:
            return
        low, high = float(values.min()), float(values.max())
        stats.minimum = low if stats.minimum is None else min(stats.minimum, low)
        stats.maximum = high if stats.maximum is None else max(stats.maximum, high)
        stats.total += float(values.sum(dtype=np.float64))
        if low < self.low:
            stats.below += int((values < self.low).sum())
        if high > self.high:
            stats.above += int((values > self.high).sum())
        if stats.values is None:
            return
        if values.dtype.kind in "iu" and high - low < 1 << 16:
            # a histogram is ~20x faster than np.unique's sort for the small ranges of label maps
            counts = np.bincount((values - int(low)).astype(np.intp, copy=False))
            present = np.flatnonzero(counts)
            pairs = zip((present + int(low)).tolist(), counts[present].tolist(), strict=True)
        else:
            distinct, counted = np.unique(values, return_counts=True)
            if distinct.size > MAX_DISTINCT:
                stats.values = None
                return
            pairs = zip(distinct.tolist(), counted.tolist(), strict=True)
        for value, count in pairs:
            stats.values[value] += count
        if len(stats.values) > MAX_DISTINCT:
            stats.values = None


def scan_nifti(path: Path, algorithms: list[str], *, low: float = -2048, high: float = 4095) -> Payload:
    """Read ``path`` once: digests, the gzip stream checked end to end, the header and voxel statistics."""
    hashers = {name: new_hasher(name) for name in algorithms}
    sink = _VoxelSink(low, high)
    decompressor: _Gunzip | None = None
    decompressed = 0
    stream_error = None
    file_size = path.stat().st_size
    isize = None
    with path.open("rb") as handle:
        first = handle.read(CHUNK)
        compressed = first[:2] == GZIP_MAGIC
        if compressed and file_size >= 18:
            handle.seek(-4, 2)
            isize = int.from_bytes(handle.read(4), "little")
            handle.seek(len(first))
        if compressed:
            decompressor = _Gunzip()
        chunk = first
        while chunk:
            for hasher in hashers.values():
                hasher.update(chunk)
            if decompressor is None:
                decompressed += len(chunk)
                sink.feed(chunk, compressed=compressed, file_size=file_size, isize=isize)
            elif stream_error is None:
                try:
                    for data in _inflate(decompressor, chunk):
                        decompressed += len(data)
                        sink.feed(data, compressed=compressed, file_size=file_size, isize=isize)
                except zlib.error as error:
                    stream_error = _explain(error)
            chunk = handle.read(CHUNK)
    if decompressor is not None and stream_error is None and not decompressor.stream.eof:
        stream_error = "the gzip stream ends before its end marker: the file is truncated"
    sink.finish(compressed=compressed, file_size=file_size, isize=isize)
    header = sink.header if sink.header is not None else "empty file"
    return Payload(digests={n: h.hexdigest() for n, h in hashers.items()}, header=header,
                   stream_error=stream_error, decompressed=decompressed,
                   voxels=sink.stats if isinstance(header, NiftiHeader) and sink.dtype is not None else None)


# decompressed bytes per step: bounds memory (1 MB of a mask's gzip can inflate to ~1 GB) and lets all but the
# last piece through before zlib checks the trailer, so a CRC error still leaves the header readable
MAX_PIECE = 256 << 10


class _Gunzip:
    """gzip members one after another (pigz -i and bgzip write several); zlib checks each CRC-32 and size."""

    def __init__(self) -> None:
        self.stream = zlib.decompressobj(wbits=31)


def _inflate(state: _Gunzip, chunk: bytes) -> Iterator[bytes]:
    """Decompressed pieces of at most MAX_PIECE bytes for ``chunk``."""
    while chunk:
        if state.stream.eof:
            state.stream = zlib.decompressobj(wbits=31)
        yield state.stream.decompress(chunk, MAX_PIECE)
        if state.stream.unconsumed_tail:
            chunk = state.stream.unconsumed_tail
        elif state.stream.eof:
            chunk = state.stream.unused_data
        else:
            chunk = b""


def _explain(error: zlib.error) -> str:
    text = str(error)
    if "incorrect data check" in text:
        return "the gzip CRC-32 does not match the data: the file is damaged"
    if "incorrect length check" in text:
        return "the gzip trailer's size does not match the data: the file is damaged"
    return f"the gzip stream is corrupt ({text})"
