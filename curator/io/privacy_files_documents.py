"""The privacy audit's reading of documents: office packages (xlsx/docx/pptx), PDF, CSV/TSV tables, JSON/YAML
values and text files searched for known identifiers (part of ``curator.io.privacy_files``)."""

from __future__ import annotations

import codecs
import csv
import html
import json
import re
import zipfile
from pathlib import Path
from typing import IO, Any

from curator.io.privacy_files_records import MAX_TEXT, FileAudit, Opener, Search, Table, TextItem, open_file

MAX_TABLE_ROWS = 5000         # CSV/TSV rows kept for the value checks
MAX_TABLE_BYTES = 4 << 20
MAX_STRUCTURED = 8 << 20      # JSON/YAML files parsed for their values
MAX_VALUES = 20000            # scalar values kept of one JSON/YAML file
MAX_SEARCH = 256 << 20        # bytes of one text file searched for known identifiers
MAX_ZIP_PART = 16 << 20       # uncompressed bytes read of one OOXML part
MAX_ZIP_MEMBERS = 10000
PDF_WINDOW = 256 << 10


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


def audit_ooxml(path: Path, search: Search, opener: Opener | None = None) -> FileAudit:
    incomplete: list[str] = []
    document: list[TextItem] = []
    try:
        archive = zipfile.ZipFile(path if opener is None else opener())
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


def _read_pdf(path: Path, size: int, opener: Opener | None = None) -> tuple[list[TextItem], str | None]:
    """The document information dictionary and XMP creator fields of a PDF.

    A bounded scan of the first and last PDF_WINDOW bytes rather than a PDF library: the information dictionary is
    written near one end of the file by every producer we ship or meet (fpdf2, LaTeX, Word, LibreOffice), XMP
    packets are left uncompressed so that scanners like this find them (XMP spec, part 3), and a scan costs the
    same for a 100 KiB README and a 2 GB scan, with no parser to attack (pypdf reads the whole file into memory
    and has had denial-of-service bugs on crafted files). The limitation: an information dictionary stored
    inside a compressed object stream (PDF 1.5+) is not seen; the finding's context says so.
    """
    with open_file(path, opener) as handle:
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


def audit_pdf(path: Path, size: int, search: Search, opener: Opener | None = None) -> FileAudit:
    items, error = _read_pdf(path, size, opener)
    for item in items:
        search.text(f"PDF {item.where}", item.text)
    return FileAudit("pdf", document=tuple(items), error=error)


# --- text, tables, JSON/YAML -------------------------------------------------------------------------------

def _decode_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1251", errors="replace")


def _search_stream(handle: IO[bytes], search: Search) -> str | None:
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


def _read_table(path: Path, opener: Opener | None = None) -> Table:
    with open_file(path, opener) as handle:
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


def audit_text(path: Path, kind: str, size: int, search: Search, opener: Opener | None = None) -> FileAudit:
    """A CSV/TSV (first rows), JSON/YAML (scalar values) or other text file; with a list, the whole text is
    searched. A file that does not parse is another check's business: its text is still searched."""
    incomplete: list[str] = []
    table = None
    values: tuple[tuple[str, str, str], ...] = ()
    if kind == "table":
        table = _read_table(path, opener)
    elif kind in ("json", "yaml") and size > MAX_STRUCTURED:
        incomplete.append(f"larger than {MAX_STRUCTURED} bytes; its values were not checked")
    elif kind in ("json", "yaml"):
        with open_file(path, opener) as handle:
            text = _decode_text(handle.read()).lstrip("\ufeff")
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
        with open_file(path, opener) as handle:
            stopped = _search_stream(handle, search)
        if stopped:
            incomplete.append(stopped)
    return FileAudit(kind, table=table, values=values, incomplete=tuple(incomplete))
