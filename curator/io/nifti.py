"""NIfTI headers read cheaply: the first 352 bytes of the (gunzipped) stream, never the voxels.

``nibabel.load`` costs ~29 ms per file against ~0.1 ms for this (DESIGN.md); the fast tier reads only this.
"""

from __future__ import annotations

import dataclasses
import io
import math
import struct
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from curator.io import ReadError, inflate
from curator.io.formats import GZIP_MAGIC as GZIP_MAGIC
from curator.io.gzip_header import MAX_FIELD, GzipHeaderError, read_gzip_header_from
from curator.memo import BoundedMemo

_NIFTI1_SIZE = 348
_NIFTI2_SIZE = 540
HEADER_PREFIX = _NIFTI2_SIZE + 4


class NiftiReadError(ReadError):
    pass


@dataclass(frozen=True, slots=True)
class NiftiHeader:
    """What the checks need to know of a NIfTI file, from its header alone.

    Slotted, and its tuples shared between headers where equal (:func:`shared`): validate keeps one per NIfTI file,
    and a million of them cost a million times this.
    """

    shape: tuple[int, ...]
    dims_raw: tuple[int, ...]         # dim[0..7] as stored
    pixdim_raw: tuple[float, ...]     # pixdim[0..7] as stored
    datatype: str
    dtype_str: str                     # numpy dtype with byte order, e.g. "<i2"; "" when unknown
    scl_slope: float                   # identity (1, 0) when the header leaves scaling unset
    scl_inter: float
    bitpix: int
    vox_offset: float
    qform_code: int
    sform_code: int
    affine: tuple[tuple[float, ...], ...] | None   # the affine nibabel would use; None when not computable
    qform: tuple[tuple[float, ...], ...] | None    # each transform as stored, None when its code is 0
    sform: tuple[tuple[float, ...], ...] | None
    xyzt_units: int
    compressed: bool
    file_size: int
    isize: int | None                  # gzip trailer: uncompressed size mod 2**32 (single-member streams)
    problems: tuple[str, ...] = ()     # values the header holds that no reader can use (IMAGE_HEADER_INVALID)
    stream_size: int | None = None     # true uncompressed size, measured only when the trailer disagrees
    stream_error: str | None = None    # why that measurement stopped early

    @property
    def data_bytes(self) -> int:
        """Uncompressed bytes the header implies: offset + voxels * bytes per voxel."""
        count = math.prod(self.shape) if self.shape else 0
        return int(self.vox_offset) + count * self.bitpix // 8


_CORRUPT: tuple[type[Exception], ...] = (EOFError, *inflate.ERRORS)     # a gzip stream that cannot be inflated
_UNREADABLE: tuple[type[Exception], ...] = (OSError, *inflate.ERRORS)


def _read_prefix(opener: Callable[[], IO[bytes]], size: int) -> tuple[bytes, bool, int, int | None]:
    with opener() as handle:
        head = handle.read(2)
        handle.seek(0, io.SEEK_END)
        file_size = handle.tell()
        handle.seek(0)
        if head == GZIP_MAGIC:
            isize = None
            if file_size >= 18:
                handle.seek(-4, io.SEEK_END)
                isize = struct.unpack("<I", handle.read(4))[0]
                handle.seek(0)
            try:
                data = _inflate_prefix(handle, size)
            except _CORRUPT as error:
                raise NiftiReadError(f"the gzip stream is corrupt ({error})") from error
            return data, True, file_size, isize
        return handle.read(size), False, file_size, None


def _inflate_prefix(handle: IO[bytes], size: int) -> bytes:
    """The first ``size`` bytes of the gzip stream in ``handle`` (fewer if it ends first), member after member.

    Each member header is read by ``curator.io.gzip_header`` to its real end, within its bound (Python's ``gzip``
    reads a name byte by byte, without one); the data is inflated raw, so the trailers are not checked here.
    """
    out = bytearray()
    start = handle.tell()
    while len(out) < size:
        handle.seek(start)
        if out and handle.read(2) != GZIP_MAGIC:
            break  # the end of the stream, or bytes after it (the deep tier counts them)
        handle.seek(start)
        try:
            header = read_gzip_header_from(handle)
        except GzipHeaderError as error:
            raise NiftiReadError(f"the gzip stream is corrupt ({error})") from error
        if header.overlong:
            raise NiftiReadError(f"the gzip header's {' and '.join(header.overlong)} is longer than "
                                 f"{MAX_FIELD:,} bytes")
        handle.seek(start + header.size)
        inflater = inflate.decompressobj(wbits=-15)
        pending = b""
        while len(out) < size and not inflater.eof:
            pending = inflater.unconsumed_tail or handle.read(16 << 10)
            piece = inflater.decompress(pending, size - len(out))
            if not piece and not pending:
                return bytes(out)  # the file ends inside the member
            out += piece
        if not inflater.eof:
            break
        start = handle.tell() - len(inflater.unused_data) + 8  # past the member's trailer
    return bytes(out)


def read_header(path: Path, opener: Callable[[], IO[bytes]] | None = None) -> NiftiHeader:
    """Parse the header of a ``.nii`` or ``.nii.gz`` file; raise NiftiReadError with a reason.

    ``opener`` gives the file's bytes some other way (an object in a store, read by ranges: io/remote.py)."""
    source: Callable[[], IO[bytes]] = opener or (lambda: path.open("rb"))
    try:
        raw, compressed, file_size, isize = _read_prefix(source, HEADER_PREFIX)
    except OSError as error:
        raise NiftiReadError(f"cannot open the file ({error.strerror or error})") from error
    header = parse_header(raw, compressed=compressed, file_size=file_size, isize=isize)
    if compressed and isize is not None and isize != header.data_bytes % 2**32 and not header.problems:
        # the trailer holds only the last member's size (bgzip, pigz -i write many): measure before judging
        size, reason = _stream_size(source)
        header = dataclasses.replace(header, stream_size=size, stream_error=reason)
    return header


def _stream_size(opener: Callable[[], IO[bytes]]) -> tuple[int, str | None]:
    """Decompressed size of every gzip member of the file, and why reading stopped early (if it did)."""
    total = 0
    decompressor = inflate.decompressobj(wbits=31)
    try:
        with opener() as handle:
            while chunk := handle.read(1 << 20):
                while chunk:
                    if decompressor.eof:
                        decompressor = inflate.decompressobj(wbits=31)
                    total += len(decompressor.decompress(chunk, 1 << 24))
                    chunk = decompressor.unconsumed_tail or (decompressor.unused_data if decompressor.eof else b"")
    except _UNREADABLE as error:
        return total, f"the gzip stream is corrupt ({error})"
    if not decompressor.eof:
        return total, "the gzip stream ends before its end marker"
    return total, None


def parse_header(raw: bytes, *, compressed: bool, file_size: int, isize: int | None) -> NiftiHeader:
    """Parse the first bytes of a (decompressed) NIfTI stream; raise NiftiReadError with a reason."""
    from curator.io.nifti1_header import Nifti1Fields  # imported here: numpy, which `curator verify` never needs

    if len(raw) < _NIFTI1_SIZE:
        raise NiftiReadError(f"only {len(raw)} bytes, a NIfTI header needs {_NIFTI1_SIZE}")
    size_le = struct.unpack("<i", raw[:4])[0]
    size_be = struct.unpack(">i", raw[:4])[0]
    if _NIFTI1_SIZE in (size_le, size_be):
        if raw[344:348] not in (b"n+1\x00", b"ni1\x00"):
            raise NiftiReadError(f"NIfTI-1 magic is {raw[344:348]!r}, expected b'n+1\\x00'")
        raw = raw[:_NIFTI1_SIZE]
        klass: type[Any] = Nifti1Fields if Nifti1Fields.common(raw) else _nibabel_header(1)
    elif _NIFTI2_SIZE in (size_le, size_be):
        klass = _nibabel_header(2)
        raw = raw[:_NIFTI2_SIZE]
    else:
        raise NiftiReadError(f"sizeof_hdr is {size_le}, not 348 (NIfTI-1) or 540 (NIfTI-2)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nibabel warns on odd values; the checks report them as findings
        return _parse(raw, klass, compressed=compressed, file_size=file_size, isize=isize)


def _nibabel_header(version: int) -> type[Any]:
    # imported here: nibabel costs ~0.4 s CPU to import (pydicom, scipy...), which `curator verify` never needs and
    # `validate` only for headers io/nifti1_header.py leaves to it
    if version == 1:
        from nibabel.nifti1 import Nifti1Header
        return Nifti1Header
    from nibabel.nifti2 import Nifti2Header
    return Nifti2Header


def _parse(raw: bytes, klass: type[Any], *, compressed: bool, file_size: int, isize: int | None) -> NiftiHeader:
    import numpy as np

    try:
        header = klass.from_fileobj(io.BytesIO(raw), check=False)
    except Exception as error:  # nibabel raises assorted errors on garbage; all mean "unreadable"
        raise NiftiReadError(f"the header does not parse ({error})") from error
    dims = tuple(shared(int(d)) for d in header["dim"])
    ndim = dims[0]
    if not 1 <= ndim <= 7:
        raise NiftiReadError(f"dim[0] is {ndim}, must be 1..7")
    try:
        dtype = header.get_data_dtype()
        datatype, dtype_str = str(dtype.name), str(dtype.str)
    except Exception:
        datatype, dtype_str = f"code {int(header['datatype'])}", ""
    problems: list[str] = []
    try:
        slope, inter = (float(v) if v is not None else math.nan for v in header.get_slope_inter())
    except Exception as error:  # nibabel refuses e.g. a valid slope with an infinite intercept
        slope, inter = 1.0, 0.0
        problems.append(f"intensity scaling is unusable ({error})")
    raw_offset = float(header["vox_offset"])
    if not math.isfinite(raw_offset) or raw_offset < 0 or raw_offset > 2**31:
        problems.append(f"vox_offset is {raw_offset}, must be a byte offset after the header")
        raw_offset = 0.0
    def as_tuple(getter: str) -> tuple[tuple[float, ...], ...] | None:
        try:
            matrix = np.asarray(getattr(header, getter)(), dtype=float)
            return shared(tuple(shared(tuple(shared(float(v)) for v in row)) for row in matrix))
        except Exception:  # a header that cannot produce this transform
            return None

    affine = as_tuple("get_best_affine")
    qform = as_tuple("get_qform") if int(header["qform_code"]) > 0 else None
    sform = as_tuple("get_sform") if int(header["sform_code"]) > 0 else None
    return NiftiHeader(
        shape=shared(dims[1 : ndim + 1]),
        dims_raw=shared(dims),
        pixdim_raw=shared(tuple(shared(float(p)) for p in header["pixdim"])),
        datatype=sys.intern(datatype),   # a few names in a release, each held once
        dtype_str=sys.intern(dtype_str),
        # unset scaling (NaN or a zero slope) means identity, as nibabel reads it
        scl_slope=shared(slope if math.isfinite(slope) and slope != 0 else 1.0),
        scl_inter=shared(inter if math.isfinite(inter) else 0.0),
        bitpix=int(header["bitpix"]),
        # vox_offset 0 in a single-file NIfTI (the real MosMed masks have it) means "right after the header"
        vox_offset=shared(max(raw_offset, float(len(raw) + 4))),
        qform_code=int(header["qform_code"]),
        sform_code=int(header["sform_code"]),
        affine=affine,
        qform=qform,
        sform=sform,
        xyzt_units=int(header["xyzt_units"]),
        compressed=compressed,
        file_size=file_size,
        isize=isize,
        problems=tuple(problems),
    )


SHARED_MAX = 1 << 16   # values remembered per process; then the memo starts again (bounded for any input)
_SHARED: BoundedMemo[Any, Any] = BoundedMemo(SHARED_MAX)
_T = TypeVar("_T")


def shared(value: _T) -> _T:
    """One object for equal numbers and for tuples of the same objects, so that headers of one protocol share their
    affine rows, spacing and shape (a header's matrices cost ~2.2 KB each as fresh tuples of float objects).

    Floats are the same when their ``repr`` is (-0.0 and 0.0 stay apart; a NaN is never shared); tuples when they
    hold the very same objects (share their items first), so nothing compares differently after sharing."""
    kind = type(value)
    key: tuple[Any, ...]
    if kind is tuple:
        key = (tuple, *map(id, value))     # type: ignore[call-overload]  # the items are alive: the tuple holds them
    elif kind is float:
        if value != value:
            return value
        key = (float, repr(value))
    elif kind is int:
        key = (int, value)
    else:
        return value
    found = _SHARED.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    return _SHARED.remember(key, value)  # type: ignore[no-any-return]


def header_to_json(header: NiftiHeader) -> dict[str, Any]:
    """A header as plain JSON data, for the cache: its fields by name, in order, equal to ``dataclasses.asdict``'s
    (the values are numbers, strings, None and tuples of them, which need no copy). asdict's recursive deep copy cost
    ~60x this, a third of a header's read (issue 15: a million headers written to the cache)."""
    return {name: getattr(header, name) for name in _HEADER_FIELDS}


_HEADER_FIELDS = tuple(field.name for field in dataclasses.fields(NiftiHeader))


def header_from_json(data: dict[str, Any]) -> NiftiHeader:
    """The inverse of :func:`header_to_json` (lists back to tuples, shared as :func:`_parse` shares them: a million
    cached headers would otherwise each hold their own matrices)."""
    def tuples(value: Any) -> Any:
        return shared(tuple(tuples(v) if isinstance(v, list) else shared(v) for v in value))

    def one(key: str, value: Any) -> Any:
        if isinstance(value, list):   # the same JSON text, the same tuple: one repr, not a shared() per number
            text = repr(value)        # (repr keeps -0.0 apart; a NaN is never remembered, as shared() does)
            found = _FROM_JSON.get(text)
            if found is None:
                found = tuples(value)
                if "nan" not in text:
                    _FROM_JSON.remember(text, found)
            return found
        if key in _INTERNED and isinstance(value, str):
            return sys.intern(value)
        return shared(value) if key in _SHARED_FLOATS else value

    return NiftiHeader(**{key: one(key, value) for key, value in data.items()})


_FROM_JSON: BoundedMemo[str, Any] = BoundedMemo(SHARED_MAX)   # a cached list's repr -> its shared tuple
_INTERNED = frozenset({"datatype", "dtype_str"})                   # fields a release holds few values of, each
_SHARED_FLOATS = frozenset({"scl_slope", "scl_inter", "vox_offset"})   # held once as _parse holds them
