"""One home for each format constant and policy table (issue 13, "Formats and policy tables").

Each test reads every module of curator/ (an ast walk, nothing imported from it) and fails when a second copy of
a table or constant appears; the behaviour tests pin what the one copy says.
"""

from __future__ import annotations

import ast
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from curator.io.formats import GZIP_MAGIC, PNG_SIGNATURE
from curator.io.junk import JUNK_NAMES, is_junk_path
from curator.models.findings import Severity
from curator.models.severity import ORDER, rank, sort_index
from tests.ingest_slices_factories import PATIENT, jpeg_with_segments, png_bytes
from tests.slices_factories import label_map, slice_pixels

PACKAGE = Path(__file__).resolve().parent.parent / "curator"


def _constants(skip: str) -> list[tuple[str, int, object]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative == skip:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
                found.append((relative, node.lineno, node.value))
    return found


@pytest.mark.parametrize("magic", [PNG_SIGNATURE, GZIP_MAGIC, PNG_SIGNATURE[:4]], ids=["png", "gzip", "png-head"])
def test_magic_bytes_are_defined_once(magic: bytes) -> None:
    copies = [(path, line) for path, line, value in _constants("io/formats.py")
              if isinstance(value, bytes) and value.startswith(magic)]
    assert copies == [], "use curator.io.formats instead of a second copy"


def test_junk_names_are_listed_once() -> None:
    names = JUNK_NAMES | {"__MACOSX", "._"}
    copies = [(path, line, value) for path, line, value in _constants("io/junk.py") if value in names]
    assert copies == [], "use curator.io.junk instead of a second list"


_LEVELS = {"error", "warning", "info"}


def _level_key(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and node.value in _LEVELS:
        return str(node.value)
    if isinstance(node, ast.Attribute) and node.attr in _LEVELS:
        return node.attr
    return None


def test_severity_order_is_defined_once() -> None:
    copies = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict) and len(node.keys) >= 2 \
                    and all(_level_key(k) for k in node.keys) \
                    and all(isinstance(v, ast.Constant) and isinstance(v.value, int) for v in node.values):
                copies.append((path.relative_to(PACKAGE).as_posix(), node.lineno))
    assert copies == [], "sort by curator.models.severity instead of a second order"


def test_severity_order_matches_the_enum() -> None:
    assert set(ORDER) == {s.value for s in Severity}
    assert sorted(Severity, key=lambda s: sort_index(s.value)) == [Severity.error, Severity.warning, Severity.info]
    assert [s.rank for s in Severity] == [rank(s.value) for s in Severity]
    assert Severity.error.rank > Severity.warning.rank > Severity.info.rank


@pytest.mark.parametrize(("path", "junk"), [
    (".DS_Store", True), ("a/Thumbs.db", True), ("a/b/desktop.ini", True), ("ehthumbs.db", True),
    (".Spotlight-V100/x", True), (".Trashes", True), (".fseventsd/0001", True),
    ("__MACOSX/scan/IM1.dcm", True), ("scan/._IM1.dcm", True),
    ("scan/IM1.dcm", False), ("scan/.hidden.dcm", False), ("thumbs.db.nii.gz", False), ("MACOSX/a", False),
])
def test_junk_rules(path: str, junk: bool) -> None:
    assert is_junk_path(path) is junk


def test_every_reader_uses_the_one_junk_rule() -> None:
    """The four former lists disagreed (ingest and archives skipped only three names)."""
    from curator.checks.names import is_junk
    from curator.ingest.units import _junk as ingest_junk
    from curator.io.archive_read import _junk as archive_junk

    for name in ("ehthumbs.db", ".Trashes/x", ".fseventsd/1", ".Spotlight-V100/store.db"):
        assert is_junk(name) and ingest_junk(name) and archive_junk(name)


# --- one image-metadata table: what ingest-slices strips is exactly what the privacy audit flags ----------------

def _every_segment() -> list[tuple[int, bytes]]:
    """Every APPn marker and COM, with each payload the table tells apart (EXIF, XMP, ICC, IPTC, anything else)."""
    from curator.io.image_metadata import JPEG_APP_MARKERS, JPEG_COM

    segments = [(marker, b"vendor " + PATIENT.encode()) for marker in JPEG_APP_MARKERS]
    segments += [(0xE1, b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00" + PATIENT.encode()),
                 (0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>" + PATIENT.encode() + b"</x:xmpmeta>"),
                 (0xE2, b"ICC_PROFILE\x00\x01\x01" + bytes(32)),
                 (0xED, b"Photoshop 3.0\x00" + PATIENT.encode()),
                 (JPEG_COM, f"Patient {PATIENT}".encode())]
    return segments


def _audited(root: Path, name: str, data: bytes) -> list[str]:
    from curator.io.privacy_files import audit_file

    (root / name).write_bytes(data)
    audit = audit_file(root, name, len(data), None)
    assert audit.error is None
    return [item.where.split(" ")[0] if name.endswith(".png") else item.where for item in audit.image_items]


def test_jpeg_strip_removes_exactly_what_the_audit_flags(tmp_path: Path) -> None:
    from curator.anonymise.images import strip_jpeg
    from curator.io.image_metadata import jpeg_metadata_segment

    segments = _every_segment()
    data = jpeg_with_segments(slice_pixels(), segments)
    expected = [name for marker, payload in segments if (name := jpeg_metadata_segment(marker, payload))]
    # the table keeps JFIF, ICC and Adobe and flags everything else
    assert "APP2" in expected and "APP0" not in expected and "APP14" not in expected
    assert {"COM", "APP1 Exif", "APP1 XMP", "APP13 IPTC"} <= set(expected)
    flagged = _audited(tmp_path, "before.jpg", data)
    stripped = strip_jpeg(data)
    assert flagged == expected
    assert list(stripped.removed) == flagged
    assert _audited(tmp_path, "after.jpg", stripped.data) == []
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(stripped.data))),
                          np.asarray(Image.open(io.BytesIO(data))))


def test_png_strip_removes_exactly_what_the_audit_flags(tmp_path: Path) -> None:
    from curator.anonymise.images import strip_png
    from curator.io.image_metadata import PNG_METADATA_CHUNKS

    data = png_bytes(label_map(), text=True, time=True, exif=True)
    flagged = _audited(tmp_path, "before.png", data)
    stripped = strip_png(data)
    assert sorted(set(flagged)) == sorted(kind.decode() for kind in PNG_METADATA_CHUNKS)   # every table entry
    assert list(stripped.removed) == flagged
    assert _audited(tmp_path, "after.png", stripped.data) == []
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(stripped.data))),
                          np.asarray(Image.open(io.BytesIO(data))))


def test_the_metadata_table_has_one_home() -> None:
    """No second list of metadata chunk types (a tuple/set/list with two of them) outside io/image_metadata.py."""
    chunk_types = {b"tEXt", b"zTXt", b"iTXt", b"tIME", b"eXIf"}
    copies = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).as_posix() == "io/image_metadata.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Tuple | ast.Set | ast.List):
                values = {e.value for e in node.elts if isinstance(e, ast.Constant)}
                if len(values & chunk_types) >= 2:
                    copies.append((path.relative_to(PACKAGE).as_posix(), node.lineno))
    assert copies == [], "use curator.io.image_metadata instead of a second table"
