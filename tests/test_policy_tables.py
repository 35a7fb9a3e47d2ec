"""One home for each format constant and policy table (issue 13, "Formats and policy tables").

Each test reads every module of curator/ (an ast walk, nothing imported from it) and fails when a second copy of
a table or constant appears; the behaviour tests pin what the one copy says.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from curator.io.formats import GZIP_MAGIC, PNG_SIGNATURE
from curator.io.junk import JUNK_NAMES, is_junk_path
from curator.models.findings import Severity
from curator.models.severity import ORDER, rank, sort_index

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
