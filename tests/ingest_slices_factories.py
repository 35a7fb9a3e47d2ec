"""Inputs for ``curator ingest-slices``: JPEG slices and PNG masks carrying the metadata a hospital export or an
annotation tool leaves in them (PNG text and time chunks, JPEG EXIF/XMP/IPTC/comments, bytes after the end), in
folders or split into zip parts. Everything is made with Pillow and a few spliced bytes, on the fly."""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from tests.slices_factories import SIZE, label_image, label_map, slice_pixels

PATIENT = "Ivanov Ivan Ivanovich"
TRAILER = b"PatientName=" + PATIENT.encode() + b"\x00"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _insert_png_chunk(data: bytes, chunk: bytes) -> bytes:
    """``chunk`` placed just before the first IDAT."""
    at = data.index(b"IDAT") - 4
    return data[:at] + chunk + data[at:]


def jpeg_bytes(pixels: np.ndarray, *, exif: bool = True, xmp: bool = True, iptc: bool = True,
               comment: bool = True, trailing: bytes = TRAILER, quality: int = 90) -> bytes:
    """A greyscale JPEG (JFIF) with EXIF (Artist, Orientation 1), an XMP packet, an IPTC block, a comment and
    ``trailing`` bytes after EOI, as hospital exports leave them."""
    import io

    image = Image.fromarray(pixels, mode="L")
    kwargs: dict[str, object] = {"quality": quality}
    if exif:
        tags = Image.Exif()
        tags[0x013B] = PATIENT            # Artist
        tags[0x0132] = "2020:04:28 10:11:12"   # DateTime
        tags[0x0112] = 1                  # Orientation: as stored
        kwargs["exif"] = tags.tobytes()
    if comment:
        kwargs["comment"] = f"Patient {PATIENT}".encode()
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **kwargs)
    data = buffer.getvalue()
    extra = b""
    if xmp:
        packet = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><dc:creator>" + PATIENT.encode() + b"</dc:creator>" \
                 b"</x:xmpmeta>"
        extra += b"\xff\xe1" + struct.pack(">H", len(packet) + 2) + packet
    if iptc:
        block = b"Photoshop 3.0\x00" + PATIENT.encode()
        extra += b"\xff\xed" + struct.pack(">H", len(block) + 2) + block
    return data[:2] + extra + data[2:] + trailing


def jpeg_with_segments(pixels: np.ndarray, segments: Iterable[tuple[int, bytes]]) -> bytes:
    """A plain greyscale JPEG with ``segments`` ((marker, payload) pairs) spliced in right after SOI."""
    data = jpeg_bytes(pixels, exif=False, xmp=False, iptc=False, comment=False, trailing=b"")
    return data[:2] + _segments(segments) + data[2:]


def _segments(segments: Iterable[tuple[int, bytes]]) -> bytes:
    return b"".join(bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload
                    for marker, payload in segments)


def jpeg_with_segments_after_scan(pixels: np.ndarray, segments: Iterable[tuple[int, bytes]]) -> bytes:
    """A plain greyscale JPEG with ``segments`` between its scan data and EOI, where a progressive encoder puts the
    tables and comments of its next scans (decoders read them there)."""
    data = jpeg_bytes(pixels, exif=False, xmp=False, iptc=False, comment=False, trailing=b"")
    return data[:-2] + _segments(segments) + data[-2:]


def hostile_jpeg(kind: str, pixels: np.ndarray, count: int = 0) -> bytes:
    """A JPEG that breaks a codestream walker that is not bounded: ``fill`` (``count`` FF fill bytes after SOI,
    which the standard allows), ``stuffed`` (scan data of ``count`` stuffed FF 00 pairs), ``segments`` (``count``
    empty comment segments), ``zero-length`` (an APP1 segment whose length field is 0), ``truncated`` (cut inside
    its scan data)."""
    data = jpeg_bytes(pixels, exif=False, xmp=False, iptc=False, comment=False, trailing=b"")
    if kind == "fill":
        return data[:2] + b"\xff" * count + data[2:]
    if kind == "stuffed":
        scan = data.index(b"\xff\xda")
        header_end = scan + 2 + struct.unpack(">H", data[scan + 2:scan + 4])[0]
        return data[:header_end] + b"\xff\x00" * count + b"\xff\xd9"
    if kind == "segments":
        return data[:2] + _segments([(0xFE, b"")] * count) + data[2:]
    if kind == "zero-length":
        return data[:2] + b"\xff\xe1\x00\x00Exif" + data[2:]
    if kind == "truncated":
        return data[: data.index(b"\xff\xda") + 40]
    raise ValueError(f"no hostile JPEG of kind {kind!r}")


def png_bytes(array: np.ndarray, *, mode: str = "L", text: bool = True, time: bool = True, exif: bool = False,
              trailing: bytes = b"") -> bytes:
    """A PNG of ``array`` (mode "L" grey, "P" palette with non-grey colours, "1" bit) with tEXt/zTXt/iTXt naming
    the patient, a tIME chunk, optionally an eXIf chunk, and ``trailing`` bytes after IEND."""
    import io

    image = label_image(array, mode)
    info = PngImagePlugin.PngInfo()
    if text:
        info.add_text("Author", PATIENT)
        info.add_text("Comment", f"exported for {PATIENT}", zip=True)
        info.add_itxt("Description", f"Пациент {PATIENT}")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    data = buffer.getvalue()
    if time:
        data = _insert_png_chunk(data, png_chunk(b"tIME", struct.pack(">HBBBBB", 2020, 4, 28, 10, 11, 12)))
    if exif:
        data = _insert_png_chunk(data, png_chunk(b"eXIf", b"MM\x00*\x00\x00\x00\x08\x00\x00" + PATIENT.encode()))
    return data + trailing


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def make_inputs(base: Path, cases: Mapping[str, Iterable[int]] | None = None, *, size: tuple[int, int] = SIZE,
                mask_mode: str = "P", name: str = "{n}") -> tuple[Path, Path]:
    """``base/images/<case>/<n>.jpg`` and ``base/masks/<case>/<n>.png`` with metadata planted in every file.
    Cases "" put the slices at the top of the trees (as Inf-Net ships them)."""
    images, masks = base / "images", base / "masks"
    images.mkdir(parents=True, exist_ok=True)
    masks.mkdir(parents=True, exist_ok=True)
    for number, (case, slices) in enumerate((cases or {"1": [0, 1, 2], "CP/7/70": [0, 8]}).items()):
        for n in slices:
            stem = name.format(n=n)
            folder = f"{case}/" if case else ""
            write(images / f"{folder}{stem}.jpg", jpeg_bytes(slice_pixels(size, seed=number * 100 + n)))
            write(masks / f"{folder}{stem}.png", png_bytes(label_map(size, 2 + n % 2), mode=mask_mode))
    return images, masks


def zip_parts(folder: Path, out: Path, parts: int, *, prefix: str = "") -> list[Path]:
    """The files of ``folder`` split round-robin into ``parts`` independent zips (CNCB's CP-1.zip .. CP-n.zip)."""
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    paths = [out / f"{folder.name}-{i + 1}.zip" for i in range(parts)]
    archives = [zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) for path in paths]
    try:
        for index, path in enumerate(files):
            archives[index % parts].write(path, prefix + path.relative_to(folder).as_posix())
    finally:
        for archive in archives:
            archive.close()
    return paths


def zip_slip(path: Path, members: Mapping[str, bytes]) -> Path:
    """A zip whose member names are taken as given ("../evil.png", "/etc/x"): zipfile keeps them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return path


def tree_bytes(root: Path, *, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Every file under ``root`` by its relative path (to compare trees byte for byte)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).as_posix() not in skip}
