"""The records of the privacy audit of non-DICOM files (``curator.io.privacy_files``), and the identifier search
that every reader of it feeds while it reads."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from curator.io.gzip_header import GzipHeader
from curator.io.identifiers import IdentifierList, mask

MAX_ITEM = 64 << 10           # bytes read of one metadata item (PNG chunk, JPEG segment, docProps part)
MAX_TEXT = 4096               # characters kept of one metadata text

Opener = Callable[[], BinaryIO]   # how a reader opens a file that is not local (an object in a store: io/remote)


def open_file(path: Path, opener: Opener | None) -> BinaryIO:
    """The file a reader reads: ``opener()`` when given (a release in object storage), else ``path`` opened."""
    return opener() if opener is not None else path.open("rb")


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


class Search:
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


def printable(raw: bytes, minimum: int = 4) -> str:
    """The runs of printable ASCII in binary metadata (EXIF, IPTC), like ``strings``."""
    return "\n".join(m.decode("ascii") for m in re.findall(rb"[\x20-\x7e]{%d,}" % minimum, raw))[:MAX_TEXT]


