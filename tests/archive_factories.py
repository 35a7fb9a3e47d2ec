"""Input archives for the archive reader's tests, made at test time: zip, tar (plain and compressed), 7z and a
small RAR 4.x writer (stored members only, the layout rarfile parses: see ``rarfile.RAR3Parser``).

Hostile members (``..``, absolute names, links, devices) are written on purpose; nothing here extracts them.
"""

from __future__ import annotations

import gzip
import io
import random
import stat
import struct
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

NESTED = {
    "patient01/series1/IM0001.dcm": b"DICM" + bytes(range(256)) * 3,
    "patient01/series1/IM0002.dcm": b"DICM" + bytes(range(255, -1, -1)) * 2,
    "patient01/series2/deeper/IM0001.dcm": b"\x00\x01\x02 not really DICOM",
    "patient01/notes.txt": b"first line\nsecond line\n",
    "empty.dat": b"",
}


# zip

def make_zip(path: Path, members: dict[str, bytes], *, dirs: Sequence[str] = (),
             compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for folder in dirs:
            archive.writestr(zipfile.ZipInfo(folder.rstrip("/") + "/"), b"")
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return path


def zip_with_mode(path: Path, name: str, mode: int, data: bytes = b"target") -> Path:
    """A zip whose one member carries a Unix file mode (symlink, device...) as Info-ZIP writes it."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = mode << 16
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ok.dcm", b"fine")
        archive.writestr(info, data)
    return path


def deflated_zeros(size: int, head: bytes = b"") -> tuple[bytes, int]:
    """Raw deflate data of ``head`` + ``size`` zero bytes, and its CRC32. One compressed MiB of zeros (after a
    full flush, which resets the compressor) is repeated, so a 100 MiB bomb takes milliseconds to make."""
    mib = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)]
    block = compressor.compress(mib) + compressor.flush(zlib.Z_FULL_FLUSH)
    count, rest = divmod(size, len(mib))
    parts += [block * count, compressor.compress(bytes(rest)) + compressor.flush()]
    crc = zlib.crc32(head)
    for _ in range(count):
        crc = zlib.crc32(mib, crc)
    return b"".join(parts), zlib.crc32(bytes(rest), crc)


def deflated_repeat(unit: bytes, count: int, head: bytes = b"", tail: bytes = b"") -> tuple[bytes, int, int]:
    """Raw deflate data of ``head + unit * count + tail``, its CRC32 and its length, without ever holding the
    expanded bytes: after a full flush the compressor starts afresh, so ``unit`` compresses to the same block
    every time and the block is repeated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(unit) + compressor.flush(zlib.Z_FULL_FLUSH)
    last = compressor.compress(tail) + compressor.flush()
    crc = zlib.crc32(head)
    for _ in range(count):
        crc = zlib.crc32(unit, crc)
    return first + block * count + last, zlib.crc32(tail, crc), len(head) + len(unit) * count + len(tail)


@dataclass(frozen=True)
class RawMember:
    """A zip member given as the bytes to store: ``method`` 0 (stored) or 8 (raw deflate data)."""

    name: str
    data: bytes
    crc: int
    size: int
    method: int = 8


def write_raw_zip(path: Path, members: Sequence[RawMember]) -> Path:
    """A zip of members already compressed (no ZIP64: each under 4 GiB), written as Info-ZIP writes them."""
    body, central = bytearray(), bytearray()
    for member in members:
        encoded = member.name.encode()
        fields = struct.pack("<HHHHHLLLHH", 20, 0, member.method, 0, 0x21, member.crc, len(member.data),
                             member.size, len(encoded), 0)
        offset = len(body)
        body += b"PK\x03\x04" + fields + encoded + member.data
        central += (b"PK\x01\x02" + struct.pack("<H", 3 << 8 | 20) + fields
                    + struct.pack("<HHHLL", 0, 0, 0, (stat.S_IFREG | 0o644) << 16, offset) + encoded)
    end = b"PK\x05\x06" + struct.pack("<HHHHLLH", 0, 0, len(members), len(members), len(central), len(body), 0)
    path.write_bytes(bytes(body + central) + end)
    return path


def padding(size: int, seed: int = 0) -> bytes:
    """Incompressible bytes (seeded): what keeps a bomb's expansion ratio under the limit."""
    return random.Random(seed).randbytes(size)


def zip_bomb(path: Path, size: int, name: str = "bomb.dcm", *, head: bytes = b"", pad: int = 0) -> Path:
    """A zip whose member ``name`` is ``head`` and then zeros, ``size`` bytes in all, deflated to about a
    thousandth of that. ``pad`` > 0 puts a stored member of that many random bytes first, so that the archive's
    expansion ratio stays under a limit (the issue's 35 MB zip holding a 3 GiB member has a ratio of about 90)."""
    count, rest = divmod(size - len(head), 1 << 20)
    data, crc, total = deflated_repeat(bytes(1 << 20), count, head, bytes(rest))
    members = [RawMember(name, data, crc, total)]
    if pad:
        filler = padding(pad)
        members.insert(0, RawMember("padding.bin", filler, zlib.crc32(filler), pad, method=0))
    return write_raw_zip(path, members)


def corrupt_zip_member(path: Path, name: str) -> Path:
    """Flip one byte in the middle of ``name``'s compressed data (its CRC no longer matches)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    raw = bytearray(path.read_bytes())
    name_len, extra_len = struct.unpack_from("<HH", raw, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    raw[start + info.compress_size // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    return path


# tar

@dataclass(frozen=True)
class TarEntry:
    name: str
    data: bytes = b""
    type: bytes = tarfile.REGTYPE
    linkname: str = ""


def make_tar(path: Path, members: dict[str, bytes] | Iterable[TarEntry], compression: str = "",
             *, dirs: Sequence[str] = ()) -> Path:
    """``compression``: "", "gz", "bz2" or "xz"."""
    entries = ([TarEntry(name, data) for name, data in members.items()] if isinstance(members, dict)
               else list(members))
    mode = f"w:{compression}"
    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT) as archive:  # type: ignore[call-overload]
        for folder in dirs:
            info = tarfile.TarInfo(folder)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            archive.addfile(info)
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.type = entry.type
            info.linkname = entry.linkname
            if entry.type == tarfile.REGTYPE:
                info.size = len(entry.data)
                archive.addfile(info, io.BytesIO(entry.data))
            else:
                archive.addfile(info)
    return path


def tar_gz_bomb(path: Path, size: int, name: str = "bomb.dcm", *, pad: int = 0) -> Path:
    """A .tar.gz whose member ``name`` is ``size`` (a multiple of 512) bytes of zeros. ``pad`` > 0 (a multiple of
    512) puts a member of that many random bytes first, in a gzip member of its own (stored, level 0), so the
    archive's ratio stays under a limit (the issue's 18.7 MB tar.gz holding a 3 GiB member)."""
    info = tarfile.TarInfo(name)
    info.size = size
    header = info.tobuf(tarfile.USTAR_FORMAT)
    lead = b""
    if pad:
        filler = tarfile.TarInfo("padding.bin")
        filler.size = pad
        lead = filler.tobuf(tarfile.USTAR_FORMAT) + padding(pad)
    total = len(lead) + len(header) + size + 2 * tarfile.BLOCKSIZE
    zeros = size + 2 * tarfile.BLOCKSIZE + (-total % tarfile.RECORDSIZE)   # data, end-of-archive, record padding
    data, crc = deflated_zeros(zeros, header)
    first = gzip.compress(lead, compresslevel=0, mtime=0) if lead else b""
    path.write_bytes(first + b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + data
                     + struct.pack("<LL", crc, (len(header) + zeros) & 0xFFFFFFFF))
    return path


# 7z

def make_7z(path: Path, members: dict[str, bytes], *, modes: dict[str, int] | None = None,
            dirs: Sequence[str] = ()) -> Path:
    """``modes`` sets a member's Unix mode (e.g. a symlink or a device), as p7zip stores it in the attributes."""
    import py7zr

    fast = [{"id": py7zr.FILTER_LZMA2, "preset": 1}]
    with py7zr.SevenZipFile(path, "w", filters=fast) as archive, tempfile.TemporaryDirectory() as empty:
        for folder in dirs:
            archive.write(empty, folder)
        for name, data in members.items():
            # the private writer takes any name: the public one refuses '..' and absolute names, which the tests
            # need to write
            archive._writestr(data, name)
            if modes and name in modes:
                archive.files.files_list[-1]["attributes"] = (0x8000 | (modes[name] << 16)
                                                             | stat.FILE_ATTRIBUTE_ARCHIVE)
    return path


# RAR 4.x, stored

RAR4_MARKER = b"Rar!\x1a\x07\x00"
RAR5_MARKER = b"Rar!\x1a\x07\x01\x00"
_OS_WIN32, _OS_UNIX = 2, 3
_STORE, _NORMAL = 0x30, 0x33


@dataclass(frozen=True)
class RarEntry:
    name: str
    data: bytes = b""
    mode: int = stat.S_IFREG | 0o644       # Unix mode (host OS Unix); a symlink's data is its target
    directory: bool = False
    method: int = _STORE                   # 0x30 store; anything else claims compression (data kept as given)
    crc: int | None = None                 # the data's CRC32 unless given (a wrong one makes a corrupt member)
    host_os: int = _OS_UNIX


def _block(kind: int, flags: int, body: bytes) -> bytes:
    """A RAR 4 block header: HEAD_CRC (low 16 bits of the CRC32 of what follows it), type, flags, size, body."""
    rest = struct.pack("<BHH", kind, flags, 7 + len(body)) + body
    return struct.pack("<H", zlib.crc32(rest) & 0xFFFF) + rest


def make_rar4(path: Path, entries: Iterable[RarEntry], *, solid: bool = False) -> Path:
    out = bytearray(RAR4_MARKER)
    out += _block(0x73, 0x0008 if solid else 0, bytes(6))             # main header: reserved 2 + 4 bytes
    for entry in entries:
        name = entry.name.replace("/", "\\").encode("utf-8")         # RAR 4 separates folders with "\\"
        flags = 0x8000                                                  # LONG_BLOCK: data follows the header
        if any(byte > 0x7F for byte in name):
            flags |= 0x0200                                             # UNICODE: the name is UTF-8
        mode = entry.mode
        if entry.directory:
            flags |= 0x00E0
            mode = stat.S_IFDIR | 0o755 if entry.host_os == _OS_UNIX else 0x10
        elif entry.host_os != _OS_UNIX:
            mode = 0x20                                                 # Windows "archive" attribute
        crc = zlib.crc32(entry.data) if entry.crc is None else entry.crc
        dos_time = (2020 - 1980) << 25 | 1 << 21 | 1 << 16              # 2020-01-01 00:00:00
        body = struct.pack("<LLBLLBBHL", len(entry.data), len(entry.data), entry.host_os, crc, dos_time,
                           29, entry.method, len(name), mode) + name
        out += _block(0x74, flags, body) + entry.data
    out += _block(0x7B, 0x4000, b"")                                    # end of archive
    path.write_bytes(bytes(out))
    return path


def mark_zip_encrypted(path: Path) -> Path:
    """Set the 'encrypted' flag of a one-member zip in its local and central headers (the data stays plain)."""
    raw = bytearray(path.read_bytes())
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.find(signature)
        raw[at + flag_offset] |= 0x01
    path.write_bytes(bytes(raw))
    return path
