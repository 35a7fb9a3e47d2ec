"""Reading what the privacy audit of non-DICOM files judges: metadata and text, never payloads. No judgement here.

``gather(facts)`` runs for every profile (``curator.validate.GATHERERS``) and stores a ``PrivacyFacts`` in
``facts.privacy_files``. Every read is bounded, whatever the file's size:

- NIfTI: the header and its extensions only (at most ``MAX_EXTENSIONS`` bytes of the decompressed stream);
- gzip: the member header (FNAME, FCOMMENT, MTIME), read to its end (``curator.io.gzip_header``, bounded);
- PNG: the chunk list, walked by seeking past the image data; text, ``eXIf`` and ``tIME`` chunks are read;
- JPEG: the segments up to the start of the scan, and the last 64 KiB for bytes after the end-of-image marker;
- xlsx/docx/pptx: ``docProps`` and a few named parts, each read through a size limit (zip bombs stay closed);
- PDF: the document information dictionary and XMP packet, found by a scan of the first and last 256 KiB (see
  ``_read_pdf`` for why not a PDF library);
- CSV/TSV: the first ``MAX_TABLE_ROWS`` rows; JSON/YAML: the scalar values of files up to 8 MiB.

With the secret identifier list (``--identifiers``) the texts above are searched while they are read, and so are
the contents of text files (streamed line by line) and the xlsx cells. Only the matches are kept, so memory
stays bounded by the files in flight. DICOM files are not read here: ``curator.io.dicom_audit`` reads every
element, and the check searches the text values it kept (``dicom_audit.text_values``).
"""

from __future__ import annotations

import codecs
import csv
import html
import io
import json
import re
import struct
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from curator.errors import OptionsError
from curator.executor import run_tasks
from curator.io.formats import GZIP_MAGIC, PNG_SIGNATURE
from curator.io.gzip_header import GzipHeader, GzipHeaderError, parse_gzip_header, read_gzip_header_from
from curator.io.identifiers import IdentifierList, IdentifierListError, mask, read_identifiers
from curator.io.image_metadata import JPEG_APP_MARKERS, JPEG_COM, PNG_METADATA_CHUNKS, jpeg_metadata_segment

if TYPE_CHECKING:
    from curator.io.facts import Facts

__all__ = [
    "EXTENSION_NAMES",
    "NIFTI_TEXT_FIELDS",
    "FileAudit",
    "GzipHeader",
    "Hit",
    "NiftiExtension",
    "NiftiMetadata",
    "PrivacyFacts",
    "Table",
    "TextItem",
    "audit_file",
    "gather",
    "read_gzip_header",
    "read_nifti_metadata",
]

MAX_ITEM = 64 << 10           # bytes read of one metadata item (PNG chunk, JPEG segment, docProps part)
MAX_TEXT = 4096               # characters kept of one metadata text
MAX_EXTENSIONS = 1 << 20      # bytes of NIfTI header extensions read and parsed
MAX_ELEMENTS = 5000           # DICOM elements listed from a NIfTI DICOM extension
MAX_TABLE_ROWS = 5000         # CSV/TSV rows kept for the value checks
MAX_TABLE_BYTES = 4 << 20
MAX_STRUCTURED = 8 << 20      # JSON/YAML files parsed for their values
MAX_VALUES = 20000            # scalar values kept of one JSON/YAML file
MAX_SEARCH = 256 << 20        # bytes of one text file searched for known identifiers
MAX_ZIP_PART = 16 << 20       # uncompressed bytes read of one OOXML part
MAX_ZIP_MEMBERS = 10000
PDF_WINDOW = 256 << 10
MAX_PNG_CHUNKS = 100000

NIFTI_SUFFIXES = (".nii", ".nii.gz")
GZIP_SUFFIXES = (".gz", ".tgz", ".gzip")
JPEG_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif")
OOXML_SUFFIXES = (".xlsx", ".xlsm", ".docx", ".pptx")
TABLE_SUFFIXES = (".csv", ".tsv")
STRUCTURED_SUFFIXES = (".json", ".yaml", ".yml")
TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".rst", ".xml", ".html", ".htm", ".sh", ".ps1", ".bib", ".cff",
                 ".tex", ".ris", ".sha256", ".md5", ".log", ".ini", ".cfg", ".toml")
DICOM_SUFFIXES = (".dcm", ".dicom", ".dic", ".ima")

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


# --- records -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TextItem:
    where: str      # the field, chunk or property: "descrip", "tEXt Comment", "creator", ...
    text: str       # its text, at most MAX_TEXT characters


@dataclass(frozen=True)
class NiftiExtension:
    code: int
    size: int
    elements: tuple[tuple[str, str], ...] = ()   # DICOM (code 2): (keyword, "(gggg,eeee)") of elements with a value
    error: str | None = None                     # DICOM (code 2): why the payload did not parse


@dataclass(frozen=True)
class Hit:
    """A known identifier found in a file: the entry's number and masked form, never the value."""

    entry: int
    label: str      # "#3 Iv*** Iv***"
    line: int       # line of the identifier list
    where: str      # "line 12", "descrip", "gzip FNAME", "xl/sharedStrings.xml", ...
    found: str      # the text that matched, masked


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]   # the first MAX_TABLE_ROWS data rows
    lines: tuple[int, ...]              # line number of each row


@dataclass(frozen=True)
class FileAudit:
    """What one file holds that can identify someone; empty tuples when there is nothing of the kind."""

    kind: str   # nifti, gzip, png, jpeg, ooxml, pdf, table, json, yaml, text, dicom, other
    nifti_fields: tuple[TextItem, ...] = ()
    extensions: tuple[NiftiExtension, ...] = ()
    gzip: GzipHeader | None = None
    image_items: tuple[TextItem, ...] = ()   # where = "tIME", "tEXt Comment", "APP1 Exif", "COM", ...
    trailing_bytes: int = 0                  # PNG after IEND, JPEG after EOI
    document: tuple[TextItem, ...] = ()      # where = "creator", "lastModifiedBy", "Author", "connection", ...
    table: Table | None = None
    values: tuple[tuple[str, str, str], ...] = ()   # JSON/YAML scalars: (key, key path, value)
    hits: tuple[Hit, ...] = ()
    incomplete: tuple[str, ...] = ()         # parts that were not (fully) audited, and why
    error: str | None = None                 # the file could not be read as its kind


@dataclass
class PrivacyFacts:
    files: dict[str, FileAudit] = field(default_factory=dict)
    name_hits: dict[str, tuple[Hit, ...]] = field(default_factory=dict)   # file or folder -> hits in its own name
    identifiers: IdentifierList | None = None
    seconds: float = 0.0


class _Search:
    """Collects the identifier matches of one file (a no-op without a list)."""

    def __init__(self, identifiers: IdentifierList | None):
        self.identifiers = identifiers
        self.hits: list[Hit] = []

    def __bool__(self) -> bool:
        return self.identifiers is not None

    def text(self, where: str, text: str, line_base: int | None = None) -> None:
        if self.identifiers is None or not text:
            return
        for match in self.identifiers.search(text):
            place = where
            if line_base is not None:
                place = f"line {line_base + text.count(chr(10), 0, match.start)}"
            entry = match.identifier
            self.hits.append(Hit(entry.number, entry.label, entry.line, place, mask(text[match.start : match.end])))


# --- small readers -----------------------------------------------------------------------------------------

def _decode(raw: bytes) -> str:
    """Header text: UTF-8, else Windows-1251 (Russian tools), NULs and padding removed."""
    raw = raw.split(b"\x00", 1)[0]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1251", errors="replace")
    return text.strip()[:MAX_TEXT]


def _printable(raw: bytes, minimum: int = 4) -> str:
    """The runs of printable ASCII in binary metadata (EXIF, IPTC), like ``strings``."""
    return "\n".join(m.decode("ascii") for m in re.findall(rb"[\x20-\x7e]{%d,}" % minimum, raw))[:MAX_TEXT]


def read_gzip_header(head: bytes) -> GzipHeader | None:
    """FNAME, FCOMMENT and MTIME of the gzip member at the start of ``head``; None when it is not gzip or the
    header does not fit in ``head`` (files: ``curator.io.gzip_header.read_gzip_header_from``, which reads on)."""
    try:
        return parse_gzip_header(head, at_end=True)
    except GzipHeaderError:
        return None


def _gzip_header_of(handle: IO[bytes]) -> GzipHeader | None:
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


def read_nifti_metadata(path: Path) -> NiftiMetadata:
    """The gzip header, non-empty text fields and header extensions of a ``.nii``/``.nii.gz`` file.

    Reads the header and at most MAX_EXTENSIONS bytes of extensions. The payloads are returned for the identifier
    search and are never interpreted, except code 2, whose DICOM data elements pydicom lists (no pickle, no
    AFNI/XML or other parsing, ever).
    """
    with path.open("rb") as handle:
        compressed = handle.read(2) == GZIP_MAGIC
        gz = _gzip_header_of(handle) if compressed else None

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
    return "\n".join(parts) or _printable(data)


def _audit_nifti(path: Path, search: _Search) -> FileAudit:
    meta = read_nifti_metadata(path)
    for item in meta.fields:
        search.text(item.where, item.text)
    _search_gzip(meta.gzip, search)
    if search:
        for code, data in meta.payloads:
            text = _dicom_text(data, meta.little_endian) if code == 2 else _printable(data)
            search.text(f"NIfTI extension {code}", text)
    return FileAudit("nifti", nifti_fields=meta.fields, extensions=meta.extensions, gzip=meta.gzip,
                     incomplete=(meta.incomplete,) if meta.incomplete else (), error=meta.error)


def _search_gzip(gz: GzipHeader | None, search: _Search) -> None:
    if gz is not None:
        search.text("gzip FNAME", gz.name or "")
        search.text("gzip FCOMMENT", gz.comment or "")


# --- PNG and JPEG ------------------------------------------------------------------------------------------

def _png_text(kind: bytes, data: bytes) -> tuple[str, str]:
    """(keyword, text) of a tEXt, zTXt or iTXt chunk; compressed text inflated to at most MAX_ITEM bytes."""
    keyword, _, rest = data.partition(b"\x00")
    name = keyword.decode("latin-1", errors="replace")[:80]
    if kind == b"tEXt":
        return name, rest.decode("latin-1")[:MAX_TEXT]
    if kind == b"zTXt":
        return name, _inflate(rest[1:]).decode("latin-1")[:MAX_TEXT]
    if len(rest) < 2:  # iTXt: compression flag, method, language\0, translated keyword\0, text (UTF-8)
        return name, ""
    flag, body = rest[0], rest[2:]
    _, _, body = body.partition(b"\x00")
    translated, _, body = body.partition(b"\x00")
    text = _inflate(body) if flag else body
    return name, (translated.decode("utf-8", "replace") + " " + text.decode("utf-8", "replace")).strip()[:MAX_TEXT]


def _inflate(data: bytes) -> bytes:
    try:
        return zlib.decompressobj().decompress(data, MAX_ITEM)
    except zlib.error:
        return b""


def _audit_png(path: Path, size: int, search: _Search) -> FileAudit:
    items: list[TextItem] = []
    trailing = 0
    with path.open("rb") as handle:
        if handle.read(8) != PNG_SIGNATURE:
            return FileAudit("png", error="not a PNG file (no PNG signature)")
        position, count = 8, 0
        while position + 12 <= size and count < MAX_PNG_CHUNKS:
            handle.seek(position)
            head = handle.read(8)
            if len(head) < 8:
                break
            length, kind = struct.unpack(">I4s", head)
            count += 1
            if kind in PNG_METADATA_CHUNKS:
                data = handle.read(min(length, MAX_ITEM))
                if kind == b"tIME" and len(data) >= 7:
                    year, month, day, hour, minute, second = struct.unpack(">HBBBBB", data[:7])
                    items.append(TextItem("tIME", f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:"
                                                  f"{second:02d}"))
                elif kind == b"eXIf":
                    items.append(TextItem("eXIf", _printable(data)))
                elif kind != b"tIME":
                    keyword, text = _png_text(kind, data)
                    items.append(TextItem(f"{kind.decode()} {keyword}", text))
            position += 12 + length
            if kind == b"IEND":
                trailing = max(0, size - position)
                break
        if trailing and search:
            handle.seek(position)
            search.text("after IEND", handle.read(MAX_ITEM).decode("latin-1"))
    for item in items:
        search.text(f"PNG {item.where}", item.text)
    return FileAudit("png", image_items=tuple(items), trailing_bytes=trailing)


def _jpeg_segment(marker: int, data: bytes) -> TextItem | None:
    """The metadata segments a released slice should not carry; None for the technical ones (JFIF, ICC, Adobe)."""
    name = jpeg_metadata_segment(marker, data)   # the one table, shared with ingest-slices' stripper
    if name is None:
        return None
    if name == "COM":
        return TextItem(name, _decode_any(data))
    if name == "APP1 Exif":
        return TextItem(name, _printable(data[6:]))
    if name == "APP1 XMP":
        return TextItem(name, data.partition(b"\x00")[2].decode("utf-8", "replace")[:MAX_TEXT])
    return TextItem(name, _printable(data))


def _decode_any(data: bytes) -> str:
    try:
        return data.decode("utf-8").strip("\x00 ")[:MAX_TEXT]
    except UnicodeDecodeError:
        return data.decode("cp1251", errors="replace").strip("\x00 ")[:MAX_TEXT]


def _audit_jpeg(path: Path, size: int, search: _Search) -> FileAudit:
    items: list[TextItem] = []
    trailing = 0
    with path.open("rb") as handle:
        if handle.read(2) != b"\xff\xd8":
            return FileAudit("jpeg", error="not a JPEG file (no start-of-image marker)")
        position = 2
        while position + 4 <= size:
            handle.seek(position)
            head = handle.read(4)
            if len(head) < 2 or head[0] != 0xFF:
                break
            marker = head[1]
            if marker == 0xFF:          # fill byte
                position += 1
                continue
            if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:   # markers without a length
                position += 2
                continue
            if marker in (0xDA, 0xD9) or len(head) < 4:   # start of scan / end of image: the metadata is behind us
                break
            length = struct.unpack(">H", head[2:4])[0]
            if marker == JPEG_COM or marker in JPEG_APP_MARKERS:
                item = _jpeg_segment(marker, handle.read(min(max(length - 2, 0), MAX_ITEM)))
                if item is not None:
                    items.append(item)
            position += 2 + length
        # bytes after the end-of-image marker, from the tail alone (the scan data is never read)
        start = max(0, size - MAX_ITEM)
        handle.seek(start)
        tail = handle.read()
        end = tail.rfind(b"\xff\xd9")
        if end >= 0 and tail[end + 2 :].strip(b"\x00"):
            trailing = len(tail) - end - 2
            search.text("after EOI", tail[end + 2 :].decode("latin-1"))
    for item in items:
        search.text(f"JPEG {item.where}", item.text)
    return FileAudit("jpeg", image_items=tuple(items), trailing_bytes=trailing)


# --- office documents and PDF ------------------------------------------------------------------------------

_XML_ELEMENT = re.compile(r"<(?:[A-Za-z]+:)?(creator|lastModifiedBy|title|subject|description|keywords|category|"
                          r"Manager|Company)\b[^>]*>([^<]*)</", re.S)
_XML_TEXT = re.compile(r">([^<]+)<")
_CONNECTION = re.compile(r'\b(sourceFile|connection|odcFile|url)="([^"]*)"')
_COMMENT_AUTHOR = re.compile(r"<author>([^<]*)</author>")
_PERSON = re.compile(r'\bdisplayName="([^"]*)"')


def _zip_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo, incomplete: list[str]) -> str | None:
    """An OOXML part's text, read through MAX_ZIP_PART whatever its header claims (a bomb stays closed)."""
    if info.file_size > MAX_ZIP_PART:
        incomplete.append(f"{info.filename} is {info.file_size} bytes uncompressed, over the {MAX_ZIP_PART}-byte "
                          "limit")
        return None
    try:
        with archive.open(info) as part:
            data = part.read(MAX_ZIP_PART + 1)
    except Exception as error:  # zipfile raises BadZipFile, zlib.error, NotImplementedError (encryption), ...
        incomplete.append(f"{info.filename} cannot be read ({error})")
        return None
    if len(data) > MAX_ZIP_PART:
        incomplete.append(f"{info.filename} expands beyond {MAX_ZIP_PART} bytes")
        return None
    return data.decode("utf-8", errors="replace")


def _audit_ooxml(path: Path, search: _Search) -> FileAudit:
    incomplete: list[str] = []
    document: list[TextItem] = []
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        return FileAudit("ooxml", error=f"not a readable zip package ({error})")
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            return FileAudit("ooxml", incomplete=(f"{len(infos)} members, over the limit of {MAX_ZIP_MEMBERS}",))
        for info in infos:
            name = info.filename
            wanted_meta = name in ("docProps/core.xml", "docProps/app.xml", "docProps/custom.xml") \
                or re.fullmatch(r"xl/(connections\.xml|comments\d*\.xml|persons/person\.xml)", name) is not None
            wanted_text = bool(search) and re.fullmatch(
                r"(xl/sharedStrings\.xml|xl/worksheets/[^/]+\.xml|word/document\.xml|ppt/slides/[^/]+\.xml|"
                r"xl/comments\d*\.xml|docProps/custom\.xml)", name) is not None
            if not (wanted_meta or wanted_text):
                continue
            text = _zip_part(archive, info, incomplete)
            if text is None:
                continue
            if name.startswith("docProps/core") or name.startswith("docProps/app"):
                for match in _XML_ELEMENT.finditer(text):
                    value = html.unescape(match.group(2)).strip()
                    if value:
                        document.append(TextItem(match.group(1), value[:MAX_TEXT]))
            elif name == "xl/connections.xml":
                document += [TextItem("connection " + m.group(1), html.unescape(m.group(2))[:MAX_TEXT])
                             for m in _CONNECTION.finditer(text) if m.group(2).strip()]
            elif name.startswith("xl/comments"):
                document += [TextItem("comment author", html.unescape(a).strip()[:MAX_TEXT])
                             for a in _COMMENT_AUTHOR.findall(text) if a.strip()]
            elif name == "xl/persons/person.xml":
                document += [TextItem("comment author", html.unescape(a).strip()[:MAX_TEXT])
                             for a in _PERSON.findall(text) if a.strip()]
            if wanted_text:
                search.text(name, " ".join(html.unescape(t) for t in _XML_TEXT.findall(text)))
    for item in document:
        search.text(f"docProps {item.where}" if not item.where.startswith(("connection", "comment")) else item.where,
                    item.text)
    return FileAudit("ooxml", document=tuple(document), incomplete=tuple(incomplete))


_PDF_STRING = rb"(\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>)"
_PDF_INFO = re.compile(rb"/(Author|Creator|Producer|Title|Subject|Keywords)\s*" + _PDF_STRING, re.S)
_XMP_CREATOR = re.compile(rb"<dc:creator>(.*?)</dc:creator>", re.S)
_XMP_FIELD = re.compile(rb"<(pdf:Author|xmp:CreatorTool|pdf:Producer)>([^<]*)</", re.S)
_XMP_LI = re.compile(rb"<rdf:li[^>]*>([^<]*)</rdf:li>")
_PDF_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _pdf_string(token: bytes) -> str:
    """A PDF literal ``(...)`` or hex ``<...>`` string as text (UTF-16BE with a BOM, else PDFDocEncoding)."""
    if token.startswith(b"<"):
        digits = re.sub(rb"\s", b"", token[1:-1])
        raw = bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode())
    else:
        def unescape(match: re.Match[bytes]) -> bytes:
            code = match.group(1)
            if code[:1].isdigit():
                return bytes([int(code, 8) & 0xFF])
            return _PDF_ESCAPES.get(code, code if code != b"\n" else b"")

        raw = re.sub(rb"\\([0-7]{1,3}|.)", unescape, token[1:-1], flags=re.S)
    if raw.startswith(b"\xfe\xff"):
        return raw[2:].decode("utf-16-be", errors="replace")[:MAX_TEXT]
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="replace")[:MAX_TEXT]
    return raw.decode("latin-1")[:MAX_TEXT]


def _read_pdf(path: Path, size: int) -> tuple[list[TextItem], str | None]:
    """The document information dictionary and XMP creator fields of a PDF.

    A bounded scan of the first and last PDF_WINDOW bytes rather than a PDF library: the information dictionary is
    written near one end of the file by every producer we ship or meet (fpdf2, LaTeX, Word, LibreOffice), XMP
    packets are left uncompressed so that scanners like this find them (XMP spec, part 3), and a scan costs the
    same for a 100 KiB README and a 2 GB scan, with no parser to attack (pypdf reads the whole file into memory
    and has had denial-of-service bugs on crafted files). The limitation: an information dictionary stored
    inside a compressed object stream (PDF 1.5+) is not seen; the finding's context says so.
    """
    with path.open("rb") as handle:
        data = handle.read(PDF_WINDOW)
        if not data.startswith(b"%PDF"):
            return [], "not a PDF file (no %PDF header)"
        if size > PDF_WINDOW:
            handle.seek(max(PDF_WINDOW, size - PDF_WINDOW))
            data += b"\n" + handle.read()
    items: list[TextItem] = []
    for match in _PDF_INFO.finditer(data):
        value = _pdf_string(match.group(2)).strip()
        if value:
            items.append(TextItem(match.group(1).decode(), value))
    for match in _XMP_CREATOR.finditer(data):
        for name in _XMP_LI.findall(match.group(1)):
            value = html.unescape(name.decode("utf-8", "replace")).strip()
            if value:
                items.append(TextItem("dc:creator", value[:MAX_TEXT]))
    for match in _XMP_FIELD.finditer(data):
        value = html.unescape(match.group(2).decode("utf-8", "replace")).strip()
        if value:
            items.append(TextItem(match.group(1).decode(), value[:MAX_TEXT]))
    unique = list(dict.fromkeys(items))
    return unique, None


def _audit_pdf(path: Path, size: int, search: _Search) -> FileAudit:
    items, error = _read_pdf(path, size)
    for item in items:
        search.text(f"PDF {item.where}", item.text)
    return FileAudit("pdf", document=tuple(items), error=error)


# --- text, tables, JSON/YAML -------------------------------------------------------------------------------

def _decode_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1251", errors="replace")


def _search_stream(handle: IO[bytes], search: _Search) -> str | None:
    """Search a text file block by block (about 1 MiB at line ends); return why it stopped early, if it did.

    UTF-8 is decoded incrementally (a character cut by a block boundary survives); a file that is not UTF-8 is
    read as Windows-1251 from the first block that fails."""
    line, read = 1, 0
    first = True
    utf8: codecs.IncrementalDecoder | None = codecs.getincrementaldecoder("utf-8")("strict")
    while read < MAX_SEARCH:
        block = bytearray()
        while len(block) < (1 << 20):
            piece = handle.readline(1 << 20)
            if not piece:
                break
            block += piece
        if not block:
            return None
        read += len(block)
        text = ""
        if utf8 is not None:
            try:
                text = utf8.decode(bytes(block))
            except UnicodeDecodeError:
                utf8 = None
        if utf8 is None:
            text = bytes(block).decode("cp1251", errors="replace")
        if first:
            text, first = text.lstrip("\ufeff"), False
        search.text("", text, line_base=line)
        line += text.count("\n")
    return f"only the first {MAX_SEARCH} bytes were searched for known identifiers"


def _read_table(path: Path) -> Table:
    with path.open("rb") as handle:
        raw = handle.read(MAX_TABLE_BYTES)
        more = bool(handle.read(1))
    text = _decode_text(raw).lstrip("\ufeff")
    lines = text.splitlines(keepends=True)
    if more and lines:
        lines = lines[:-1]   # the last line may be cut
    if not lines:
        return Table((), (), ())
    first = lines[0]
    delimiter = "\t" if path.suffix.lower() == ".tsv" else max((",", ";", "\t"), key=first.count)
    reader = csv.reader(lines, delimiter=delimiter)
    columns: tuple[str, ...] = ()
    rows: list[tuple[str, ...]] = []
    numbers: list[int] = []
    try:
        columns = tuple(c.strip() for c in next(reader))
        for values in reader:
            if len(rows) >= MAX_TABLE_ROWS:
                break
            if any(v.strip() for v in values):
                rows.append(tuple(v.strip()[:200] for v in values))
                numbers.append(reader.line_num)
    except csv.Error:  # a field over the csv module's limit, a NUL byte: keep the rows read so far
        pass
    return Table(columns, tuple(rows), tuple(numbers))


MAX_DEPTH = 64


def _scalars(data: Any) -> list[tuple[str, str, str]]:
    """(key, key path, value) of every scalar of parsed JSON/YAML, at most MAX_VALUES. Each container is expanded
    once, so YAML aliases (an alias bomb, a list that holds itself) cost nothing more."""
    found: list[tuple[str, str, str]] = []
    seen: set[int] = set()
    stack: list[tuple[str, str, Any, int]] = [("", "", data, 0)]
    while stack and len(found) < MAX_VALUES:
        name, where, value, depth = stack.pop()
        if isinstance(value, dict | list):
            if id(value) in seen or depth >= MAX_DEPTH:
                continue
            seen.add(id(value))
            if isinstance(value, dict):
                items = [(str(k), f"{where}.{k}" if where else str(k), v, depth + 1) for k, v in value.items()]
            else:
                items = [(name, f"{where}[{i}]", v, depth + 1) for i, v in enumerate(value)]
            stack.extend(reversed(items[: MAX_VALUES]))
        elif value is not None and not isinstance(value, bool):
            found.append((name, where[:200], str(value)[:200]))
    return found


def _audit_text(path: Path, kind: str, size: int, search: _Search) -> FileAudit:
    """A CSV/TSV (first rows), JSON/YAML (scalar values) or other text file; with a list, the whole text is
    searched. A file that does not parse is another check's business: its text is still searched."""
    incomplete: list[str] = []
    table = None
    values: tuple[tuple[str, str, str], ...] = ()
    if kind == "table":
        table = _read_table(path)
    elif kind in ("json", "yaml") and size > MAX_STRUCTURED:
        incomplete.append(f"larger than {MAX_STRUCTURED} bytes; its values were not checked")
    elif kind in ("json", "yaml"):
        text = _decode_text(path.read_bytes()).lstrip("\ufeff")
        try:
            if kind == "json":
                parsed = json.loads(text)
            else:
                import yaml

                parsed = yaml.safe_load(text)
            values = tuple(_scalars(parsed))
        except Exception:  # json/yaml errors, RecursionError on deep nesting: not parseable, nothing to check
            values = ()
    if search:
        with path.open("rb") as handle:
            stopped = _search_stream(handle, search)
        if stopped:
            incomplete.append(stopped)
    return FileAudit(kind, table=table, values=values, incomplete=tuple(incomplete))


# --- dispatch ----------------------------------------------------------------------------------------------

def _kind(rel: str) -> str:
    lower = rel.lower()
    name = lower.rsplit("/", 1)[-1]
    for suffixes, kind in ((NIFTI_SUFFIXES, "nifti"), (GZIP_SUFFIXES, "gzip"), ((".png",), "png"),
                           (JPEG_SUFFIXES, "jpeg"), (OOXML_SUFFIXES, "ooxml"), ((".pdf",), "pdf"),
                           (TABLE_SUFFIXES, "table"), ((".json",), "json"), ((".yaml", ".yml"), "yaml"),
                           (TEXT_SUFFIXES, "text"), (DICOM_SUFFIXES, "dicom")):
        if name.endswith(suffixes):
            return kind
    return "other" if "." in name.strip(".") else "bare"


def _sniff(path: Path) -> str:
    """A file without a known suffix: DICOM (marker at 128), text (no NUL in its first 8 KiB), or other."""
    with path.open("rb") as handle:
        head = handle.read(8192)
    if head[128:132] == b"DICM":
        return "dicom"
    return "text" if b"\x00" not in head else "other"


def audit_file(root: Path, rel: str, size: int, identifiers: IdentifierList | None) -> FileAudit:
    """Everything the privacy checks need of one file; reading problems are recorded, never raised."""
    path = root / rel
    search = _Search(identifiers)
    kind = _kind(rel)
    try:
        if kind in ("other", "bare") and identifiers is not None:
            kind = _sniff(path)
        readers: dict[str, Callable[[], FileAudit]] = {
            "nifti": lambda: _audit_nifti(path, search),
            "gzip": lambda: _audit_gzip(path, search),
            "png": lambda: _audit_png(path, size, search),
            "jpeg": lambda: _audit_jpeg(path, size, search),
            "ooxml": lambda: _audit_ooxml(path, search),
            "pdf": lambda: _audit_pdf(path, size, search),
        }
        if kind in readers:
            audit = readers[kind]()
        elif kind in ("table", "json", "yaml") or (kind == "text" and identifiers is not None):
            audit = _audit_text(path, kind, size, search)
        else:
            return FileAudit(kind)
    except OSError as error:
        return FileAudit(kind, error=f"cannot read the file ({error.strerror or error})")
    return replace(audit, hits=tuple(search.hits)) if search.hits else audit


def _audit_gzip(path: Path, search: _Search) -> FileAudit:
    with path.open("rb") as handle:
        gz = _gzip_header_of(handle)
    _search_gzip(gz, search)
    return FileAudit("gzip", gzip=gz)


def _name_hits(identifiers: IdentifierList, paths: Iterator[tuple[str, str]]) -> dict[str, tuple[Hit, ...]]:
    found: dict[str, tuple[Hit, ...]] = {}
    for rel, kind in paths:
        name = rel.rsplit("/", 1)[-1]
        where = "folder name" if kind == "dir" else "file name"
        hits = tuple(Hit(m.identifier.number, m.identifier.label, m.identifier.line, where,
                         mask(name[m.start : m.end])) for m in identifiers.search(name))
        if hits:
            found[rel] = hits
    return found


def gather(facts: Facts) -> None:
    """Audit every regular file of the release (in parallel, threads) into ``facts.privacy_files``."""
    started = time.perf_counter()
    identifiers = None
    list_path = facts.identifiers
    if list_path is not None:
        try:
            identifiers = read_identifiers(Path(list_path))
        except IdentifierListError as error:
            raise OptionsError(f"--identifiers: {error}") from error
    files = facts.files
    paths = sorted(p for p in files if facts.in_scope(p))   # --changed-since: only the files in scope are read
    root = facts.root

    def task(rel: str) -> FileAudit:
        return audit_file(root, rel, files[rel].size, identifiers)

    result = PrivacyFacts(identifiers=identifiers)
    result.files = {p: a for p, a in zip(paths, run_tasks(task, paths, facts.jobs), strict=True)
                    if a.kind not in ("other", "bare", "text", "dicom") or a.hits or a.error or a.incomplete}
    if identifiers is not None:
        result.name_hits = _name_hits(identifiers, ((e.path, e.kind) for e in facts.entries))
    result.seconds = time.perf_counter() - started
    facts.privacy_files = result
