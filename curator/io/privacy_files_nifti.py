"""The privacy audit's reading of NIfTI and gzip files: the gzip member header, the NIfTI header's text fields
and its extensions, never the voxels (part of ``curator.io.privacy_files``)."""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from curator.io.formats import GZIP_MAGIC
from curator.io.gzip_header import GzipHeader, GzipHeaderError, parse_gzip_header, read_gzip_header_from
from curator.io.privacy_files_records import (
    MAX_TEXT,
    FileAudit,
    NiftiExtension,
    Opener,
    Search,
    TextItem,
    open_file,
    printable,
)

MAX_EXTENSIONS = 1 << 20      # bytes of NIfTI header extensions read and parsed
MAX_ELEMENTS = 5000           # DICOM elements listed from a NIfTI DICOM extension

# NIfTI header extension codes (the NIfTI registry, as nibabel lists them)
EXTENSION_NAMES = {
    0: "ignore", 2: "DICOM", 4: "AFNI", 6: "comment", 8: "XCEDE", 10: "jimdiminfo", 12: "workflow_fwds",
    14: "FreeSurfer", 16: "pypickle", 18: "mind_ident", 20: "b_value", 22: "spherical_direction",
    24: "dt_component", 26: "shc_degreeorder", 28: "voxbo", 30: "Caret", 32: "CIFTI", 34: "variable_frame_timing",
    38: "eval", 40: "MATLAB", 42: "Quantiphyse", 44: "MRS",
}
# text fields of the header: (name, offset, length) for NIfTI-1 (348-byte header) and NIfTI-2 (540)
NIFTI_TEXT_FIELDS: dict[int, tuple[tuple[str, int, int], ...]] = {
    348: (("descrip", 148, 80), ("aux_file", 228, 24), ("intent_name", 328, 16), ("db_name", 14, 18),
          ("data_type", 4, 10)),
    540: (("descrip", 240, 80), ("aux_file", 320, 24), ("intent_name", 508, 16)),
}


def _decode(raw: bytes) -> str:
    """Header text: UTF-8, else Windows-1251 (Russian tools), NULs and padding removed."""
    raw = raw.split(b"\x00", 1)[0]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1251", errors="replace")
    return text.strip()[:MAX_TEXT]


def read_gzip_header(head: bytes) -> GzipHeader | None:
    """FNAME, FCOMMENT and MTIME of the gzip member at the start of ``head``; None when it is not gzip or the
    header does not fit in ``head`` (files: ``curator.io.gzip_header.read_gzip_header_from``, which reads on)."""
    try:
        return parse_gzip_header(head, at_end=True)
    except GzipHeaderError:
        return None


def gzip_header_of(handle: IO[bytes]) -> GzipHeader | None:
    """The gzip header at the start of ``handle``, read to its real end (bounded); None when it is not gzip."""
    handle.seek(0)
    try:
        return read_gzip_header_from(handle)
    except GzipHeaderError:
        return None


def _inflate_prefix(handle: IO[bytes], size: int) -> bytes:
    """The first ``size`` bytes of the decompressed gzip stream in ``handle`` (fewer if it ends first)."""
    handle.seek(0)
    inflater = zlib.decompressobj(wbits=31)
    out = bytearray()
    while len(out) < size:
        chunk = inflater.unconsumed_tail or handle.read(64 << 10)
        if not chunk:
            break
        out += inflater.decompress(chunk, size - len(out))
        if inflater.eof:
            break
    return bytes(out)


# --- NIfTI -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NiftiMetadata:
    gzip: GzipHeader | None
    fields: tuple[TextItem, ...]                  # non-empty text fields
    extensions: tuple[NiftiExtension, ...]
    payloads: tuple[tuple[int, bytes], ...]       # (code, raw payload) of each extension read
    little_endian: bool = True
    error: str | None = None                      # the header cannot be read
    incomplete: str | None = None                 # the extensions could not be read to their end


def read_nifti_metadata(path: Path, opener: Opener | None = None) -> NiftiMetadata:
    """The gzip header, non-empty text fields and header extensions of a ``.nii``/``.nii.gz`` file.

    Reads the header and at most MAX_EXTENSIONS bytes of extensions. The payloads are returned for the identifier
    search and are never interpreted, except code 2, whose DICOM data elements pydicom lists (no pickle, no
    AFNI/XML or other parsing, ever).
    """
    with open_file(path, opener) as handle:
        compressed = handle.read(2) == GZIP_MAGIC
        gz = gzip_header_of(handle) if compressed else None

        def prefix(size: int) -> bytes:
            if compressed:
                return _inflate_prefix(handle, size)
            handle.seek(0)
            return handle.read(size)

        try:
            raw = prefix(544)
        except zlib.error as error:
            return NiftiMetadata(gz, (), (), (), error=f"the gzip stream is corrupt ({error})")
        if len(raw) < 348:
            return NiftiMetadata(gz, (), (), (), error="shorter than a NIfTI header")
        little = struct.unpack("<i", raw[:4])[0] in (348, 540)
        endian = "<" if little else ">"
        size = struct.unpack(endian + "i", raw[:4])[0]
        if size not in NIFTI_TEXT_FIELDS:
            return NiftiMetadata(gz, (), (), (), error="not a NIfTI-1 or NIfTI-2 header")
        fields = tuple(TextItem(name, text) for name, offset, length in NIFTI_TEXT_FIELDS[size]
                       if (text := _decode(raw[offset : offset + length])))
        if len(raw) < size + 4 or raw[size] == 0:
            return NiftiMetadata(gz, fields, (), (), little)
        if size == 348:
            number = struct.unpack(endian + "f", raw[108:112])[0]
            vox_offset = int(number) if number == number and abs(number) < 2**31 else 0
        else:
            vox_offset = struct.unpack(endian + "q", raw[168:176])[0]
        # extensions run from the end of the header to vox_offset (to the limit when vox_offset is unusable)
        limit = size + 4 + MAX_EXTENSIONS
        end = vox_offset if size + 4 < vox_offset <= limit else limit
        try:
            raw = prefix(end)
        except zlib.error as error:
            return NiftiMetadata(gz, fields, (), (), little, error=f"the gzip stream is corrupt ({error})")
    extensions: list[NiftiExtension] = []
    payloads: list[tuple[int, bytes]] = []
    incomplete = None
    offset = size + 4
    while offset + 8 <= len(raw):
        esize, ecode = struct.unpack(endian + "ii", raw[offset : offset + 8])
        if esize < 16 or esize % 16:
            incomplete = f"the extension at byte {offset} has an invalid size {esize}; the rest was not read"
            extensions.append(NiftiExtension(ecode, max(esize, 0)))
            break
        if offset + esize > len(raw):
            incomplete = (f"the extensions are larger than the {MAX_EXTENSIONS} bytes read" if len(raw) >= limit
                          else "the extensions run past the start of the voxel data")
            extensions.append(NiftiExtension(ecode, esize))
            break
        data = raw[offset + 8 : offset + esize]
        extension = NiftiExtension(ecode, esize)
        if ecode == 2:
            extension = _dicom_extension(extension, data, little)
        extensions.append(extension)
        payloads.append((ecode, data))
        offset += esize
    return NiftiMetadata(gz, fields, tuple(extensions), tuple(payloads), little, incomplete=incomplete)


def _dicom_extension(extension: NiftiExtension, data: bytes, little: bool) -> NiftiExtension:
    """List the elements of a DICOM extension (code 2) that hold a value; never raises for bad data."""
    from pydicom.filereader import read_dataset

    explicit = len(data) >= 6 and data[4:6].isalpha() and data[4:6].isupper()
    elements: list[tuple[str, str]] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset = read_dataset(io.BytesIO(data), not explicit, little)
            for element in dataset.iterall():
                if len(elements) >= MAX_ELEMENTS:
                    break
                if element.VR == "SQ" or element.is_empty:
                    continue
                tag = f"({element.tag.group:04X},{element.tag.element:04X})"
                elements.append((element.keyword or ("private" if element.tag.is_private else "unknown"), tag))
    except Exception as error:  # pydicom raises many types for damaged data: all mean "does not parse"
        return replace(extension, elements=tuple(elements), error=f"the DICOM data does not parse ({error})")
    if not elements and data.strip(b"\x00"):
        return replace(extension, error="the DICOM data does not parse (no data element with a value found)")
    return replace(extension, elements=tuple(elements))


def _dicom_text(data: bytes, little: bool) -> str:
    """The text values of a DICOM extension, for the identifier search (bounded)."""
    from pydicom.filereader import read_dataset

    explicit = len(data) >= 6 and data[4:6].isalpha() and data[4:6].isupper()
    parts: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for count, element in enumerate(read_dataset(io.BytesIO(data), not explicit, little).iterall()):
                if count >= MAX_ELEMENTS:
                    break
                if element.VR in ("PN", "LO", "SH", "LT", "ST", "UT", "UC", "CS", "DA", "DT", "AE", "IS") \
                        and not element.is_empty:
                    parts.append(str(element.value)[:MAX_TEXT])
    except Exception:  # the element list already records why it does not parse
        pass
    return "\n".join(parts) or printable(data)


def audit_nifti(path: Path, search: Search, opener: Opener | None = None) -> FileAudit:
    meta = read_nifti_metadata(path, opener)
    for item in meta.fields:
        search.text(item.where, item.text)
    search_gzip(meta.gzip, search)
    if search:
        for code, data in meta.payloads:
            text = _dicom_text(data, meta.little_endian) if code == 2 else printable(data)
            search.text(f"NIfTI extension {code}", text)
    return FileAudit("nifti", nifti_fields=meta.fields, extensions=meta.extensions, gzip=meta.gzip,
                     incomplete=(meta.incomplete,) if meta.incomplete else (), error=meta.error)


def search_gzip(gz: GzipHeader | None, search: Search) -> None:
    if gz is not None:
        search.text("gzip FNAME", gz.name or "")
        search.text("gzip FCOMMENT", gz.comment or "")
