"""Write the registry MosMed-style: xlsx (sheet "<short name> <code>") and its CSV twin (UTF-8 BOM, CRLF).

openpyxl stamps the current time into every zip member and into docProps/core.xml and names itself as the
creator; the workbook is re-packed with fixed times and neutral properties so a rebuild is byte-identical.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from pathlib import Path

from curator.models.registry import REGISTRY_COLUMNS, RegistryRow

_INVALID_SHEET_CHARS = str.maketrans({c: " " for c in "[]:*?/\\"})


def sheet_name(short_name: str, code: str) -> str:
    """Excel allows 31 characters and no []:*?/\\ in a sheet name."""
    return f"{short_name} {code}".translate(_INVALID_SHEET_CHARS)[:31].strip()


def _core_xml(title: str, when: dt.date) -> bytes:
    stamp = f"{when.isoformat()}T00:00:00Z"
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{_xml_escape(title)}</dc:title><dc:creator>curator</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified>'
        "</cp:coreProperties>"
    ).encode()


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xlsx_bytes(rows: list[RegistryRow], sheet: str, when: dt.date) -> bytes:
    import openpyxl  # ~0.2 s to import; only the builder needs it

    book = openpyxl.Workbook()
    worksheet = book.active
    worksheet.title = sheet
    worksheet.append(list(REGISTRY_COLUMNS))
    for row in rows:
        worksheet.append([row.study_id, row.category, row.study_file, row.mask_file])
    worksheet.column_dimensions["C"].width = 36
    worksheet.column_dimensions["D"].width = 36
    raw = io.BytesIO()
    book.save(raw)
    return _repack(raw.getvalue(), sheet, when)


def _repack(data: bytes, title: str, when: dt.date) -> bytes:
    stamp = (max(when.year, 1980), when.month, when.day, 0, 0, 0)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            payload = _core_xml(title, when) if info.filename == "docProps/core.xml" else source.read(info)
            member = zipfile.ZipInfo(info.filename, date_time=stamp)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            member.create_system = 3
            target.writestr(member, payload, compresslevel=6)
    return out.getvalue()


def csv_bytes(rows: list[RegistryRow]) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(REGISTRY_COLUMNS)
    for row in rows:
        writer.writerow([row.study_id, row.category, row.study_file, row.mask_file or ""])
    return ("\ufeff" + text.getvalue()).encode("utf-8")


def write_registry(folder: Path, xlsx_name: str, csv_name: str | None, rows: list[RegistryRow], sheet: str,
                   when: dt.date) -> list[Path]:
    written = [folder / xlsx_name]
    written[0].write_bytes(xlsx_bytes(rows, sheet, when))
    if csv_name:
        written.append(folder / csv_name)
        written[1].write_bytes(csv_bytes(rows))
    return written
