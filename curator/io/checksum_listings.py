"""The checksum listings publishers ship, each read into the one :class:`~curator.io.manifest.Manifest` record.

Forms (``Manifest.form``) and where each shape is documented (the tests cite a real file of each):

- :data:`SUM_FILE`: GNU/BSD sum files (``SHA256SUMS``, ``MD5SUMS``, ``md5sums.txt``, ...): :mod:`curator.io.manifest`.
- :data:`MD5_MAP`: a flat JSON object ``{"<file name>": "<md5 hex>"}``, one per class, as CNCB ships
  (``filemd5.json``, ``CP.json``, ``Normal.json``); names are relative to the map's folder.
- :data:`DATAVERSE`: the native API's dataset JSON (``{"status": "OK", "data": {"latestVersion": {"files": [...]}}}``),
  the bare dataset or version object, or a version's file list; a file's path is ``directoryLabel/label``, its
  checksum ``dataFile.checksum {type, value}`` (MD5, SHA-1, SHA-256, SHA-512) or ``dataFile.md5``.
- :data:`ZENODO`: a record's JSON (``files: [{"key", "checksum": "md5:<hex>", "size"}]``), the InvenioRDM
  ``files.entries`` and files-endpoint ``entries`` shapes, and legacy deposition files
  (``{"filename", "checksum": "<md5 hex>", "filesize"}``).
- :data:`BAGIT`: a bag (RFC 8493): every ``manifest-<alg>.txt`` over ``data/`` and ``tagmanifest-<alg>.txt`` over
  the tag files; paths percent-decode ``%0A``, ``%0D`` and ``%25``.
- :data:`DATAPACKAGE`: Frictionless ``resources[].hash`` (plain md5 hex or ``<alg>:<hex>``), ``path`` relative to
  the descriptor.
- :data:`CROISSANT`: ``distribution`` FileObjects with ``sha256`` or ``md5``, at ``contentUrl`` (a URL's last segment
  is the name it downloads as); FileObjects ``containedIn`` an archive are inside it, not on disk.

Only ``json`` is imported, and only when a JSON listing is read: ``curator verify`` stays import-light. JSON listings
are read up to :data:`JSON_LIMIT` bytes; every entry that cannot be checked becomes a problem naming it, never an
exception.
"""

# No `from __future__ import annotations`: NamedTuple fields would compile their annotations at import.

import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from curator.io import ReadError
from curator.io.manifest import (
    BAGIT,
    HEX_LENGTH,
    MANIFEST_ALGORITHMS,
    SUM_FILE,
    Manifest,
    ManifestEntry,
    ManifestReadError,
    checked_path,
    parse_manifest,
)
from curator.io.regular import read_regular_bytes

MD5_MAP = "md5 JSON map"
DATAVERSE = "Dataverse dataset JSON"
ZENODO = "Zenodo record JSON"
DATAPACKAGE = "datapackage.json"
CROISSANT = "Croissant metadata"
JSON_LISTING = "JSON checksum listing"   # a named JSON file that does not parse: its form cannot be told

SUM_FILES = ("SHA256SUMS", "SHA512SUMS", "XXH128SUMS", "SHA1SUMS", "MD5SUMS", "manifest-sha256.txt",
             "sha256sums.txt", "md5sums.txt")
CROISSANT_NAMES = ("croissant.json", "croissant.jsonld", "metadata.json")
JSON_LIMIT = 32 << 20     # a Dataverse listing of 65,000 files (about 170 MB once parsed)
SNIFF_LIMIT = 16 << 20    # a *.json looked at while detecting the listing (not named by --against)
SNIFF_FILES = 64          # at most this many *.json files are looked at while detecting

_ALGORITHMS = {"md5": "md5", "sha1": "sha1", "sha-1": "sha1", "sha256": "sha256", "sha-256": "sha256",
               "sha512": "sha512", "sha-512": "sha512"}
_HEX = re.compile(r"[0-9a-fA-F]+")
_BAG_LINE = re.compile(r"^(?P<digest>\S+)[ \t]+(?P<path>.+)$")
_BAG_MANIFEST = re.compile(r"^(?P<tag>tag)?manifest-(?P<alg>[a-z0-9]+)\.txt$")
_STRENGTH = ("sha512", "sha256", "sha1", "md5")


class ListingShapeError(ReadError):
    """The file named by ``--against`` is JSON, but of no listing shape curator reads."""


class NoListing(ReadError):  # noqa: N818 - a ReadError: verify turns it into "nothing to verify against"
    """The folder holds no checksum listing curator recognises."""


def listing_words(form: str | None, names: list[str], russian: bool = False) -> str:
    """How a summary names what was verified against: ``manifest SHA256SUMS``, ``md5 JSON map CP.json, ...``."""
    if not form or form == SUM_FILE:
        return f"{'манифест' if russian else 'manifest'} {', '.join(names)}"
    return f"{form} {', '.join(names)}"


# ------------------------------------------------------------------------------------------------ detection


def find_listing(root: Path, files: Mapping[str, object], against: str | None = None) -> list[Manifest] | Path:
    """The listing to verify against, read: what ``--against`` names, else the first form found in ROOT (a bag, a
    sum file, datapackage.json, Croissant, then md5 JSON maps and Dataverse/Zenodo JSON among the ``*.json`` files
    of ROOT and its first folders). A sum file found that is a symbolic link is returned unread, as its path.

    Raises :class:`~curator.io.manifest.ManifestReadError` when the named file cannot be read,
    :class:`ListingShapeError` when it is JSON of no known shape, :class:`NoListing` when nothing is found (or the
    named file does not exist).
    """
    if against:
        return read_named(root, against)
    if "bagit.txt" in files:
        return read_bag(root, root, files)
    for name in SUM_FILES:
        path = root / name
        if path.is_symlink():
            return path
        if name in files:
            return [sum_file(path, root)]
    for name in (DATAPACKAGE, *CROISSANT_NAMES):
        if name in files:
            listing = _sniffed(root, name, {DATAPACKAGE, CROISSANT})
            if listing is not None:
                return [listing]
    return _json_listings(root, files)


def read_named(root: Path, against: str) -> list[Manifest]:
    """The listing ``--against`` names: a path, else a name inside ROOT (a bag's folder names its bagit.txt)."""
    path = next((p for p in (Path(against), root / against) if p.exists()), None)
    if path is None:
        raise NoListing(f"{against} does not exist (looked in the current folder and in {root})")
    if path.is_dir():
        if not (path / "bagit.txt").is_file():
            raise NoListing(f"{against} is a folder without bagit.txt; name the listing file itself")
        path = path / "bagit.txt"
    if path.name == "bagit.txt":
        inside = _inside(path.parent, root)
        return read_bag(root, path.parent, _files_under(path.parent, inside))
    if path.suffix.lower() not in (".json", ".jsonld"):
        return [sum_file(path, root)]
    document, problem = load_json(path, JSON_LIMIT)
    listing = read_json(path, root, document, problem)
    if listing is None:
        raise ListingShapeError(
            f"{path.name} is JSON, but not a checksum listing curator reads (an md5 JSON map, a Dataverse dataset, "
            "a Zenodo record, datapackage.json with hashes, or Croissant metadata with md5/sha256)")
    return [listing]


def sum_algorithm(name: str) -> str:
    """A sum file's algorithm from its name (``md5sums.txt`` holds md5); sha256 when the name says none."""
    return MANIFEST_ALGORITHMS.get(name) or next(
        (alg for alg in ("xxh128", "sha512", "sha1", "md5") if alg in name.lower()), "sha256")


def sum_file(path: Path, root: Path) -> Manifest:
    """A GNU/BSD sum file; its algorithm from its name (``md5sums.txt`` holds md5), sha256 when the name says none."""
    shell = _sum_file_shell(path, root)
    try:
        manifest = parse_manifest(path, shell.algorithm)
    except ManifestReadError as error:
        raise ManifestReadError(f"{path.name}: {error}") from error
    manifest.accounts_for = shell.accounts_for
    return manifest


def _sum_file_shell(path: Path, root: Path) -> Manifest:
    """A sum file's record before it is read: its algorithm (from its name) and what it accounts for."""
    name = path.name
    algorithm = sum_algorithm(name)
    label = _inside(path, root)
    return Manifest(path, algorithm, accounts_for=frozenset({label} if label else ()))


def sum_file_unread(root: Path, against: str | None = None) -> Manifest | None:
    """The record (without entries) of the sum file :func:`find_listing` would read, when the listing is one plain
    sum file; None for anything else (a bag, JSON, a link, nothing found), which ``find_listing`` reads. A caller
    can then stream the sum file (``curator verify`` on a million entries) instead of reading it whole."""
    if against:
        path = next((p for p in (Path(against), root / against) if p.exists()), None)
        if path is None or path.is_dir() or path.name == "bagit.txt" or path.suffix.lower() in (".json", ".jsonld"):
            return None
        return _sum_file_shell(path, root)
    if _regular(root / "bagit.txt"):
        return None
    for name in SUM_FILES:
        path = root / name
        if path.is_symlink():
            return None
        if _regular(path):
            return _sum_file_shell(path, root)
    return None


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _sniffed(root: Path, rel: str, forms: set[str] | None = None, strict: bool = True) -> Manifest | None:
    """The listing in ``rel`` when it is one (of ``forms``), else None; a file that cannot be read is passed over."""
    path = root / rel
    try:
        document, problem = load_json(path, JSON_LIMIT if forms else SNIFF_LIMIT)
    except ReadError:
        return None
    listing = read_json(path, root, document, problem, strict=strict)
    if listing is None or (forms is not None and listing.form not in forms) or not listing.entries:
        return None
    return listing


def _json_listings(root: Path, files: Mapping[str, object]) -> list[Manifest]:
    candidates = sorted((rel for rel in files if rel.endswith(".json") and rel.count("/") <= 1),
                        key=lambda rel: (rel.count("/"), rel))[:SNIFF_FILES]
    maps: list[Manifest] = []
    others: list[Manifest] = []
    for rel in candidates:
        size = getattr(files[rel], "size", 0)
        if size > SNIFF_LIMIT:
            continue
        listing = _sniffed(root, rel, strict=True)
        if listing is None:
            continue
        (maps if listing.form == MD5_MAP else others).append(listing)
    if maps:
        return _siblings(root, maps)
    for listing in others:
        if listing.form in (DATAVERSE, ZENODO):
            return [listing]
    raise NoListing(f"{root} has no checksum manifest or listing ({', '.join(SUM_FILES)}, a BagIt bag, "
                    f"datapackage.json, {' or '.join(CROISSANT_NAMES)}, md5 JSON maps); nothing to verify against. "
                    "Name one with --against FILE (a Dataverse dataset JSON or a Zenodo record JSON, for example)")


def _siblings(root: Path, listings: list[Manifest]) -> list[Manifest]:
    """Several files of one listing: the first accounts for the others' files and entries."""
    first = listings[0]
    covered = {label for listing in listings if (label := _inside(listing.path, root)) is not None}
    for listing in listings[1:]:
        covered.update(entry.path for entry in listing.entries)
    first.accounts_for = frozenset(covered | first.accounts_for)
    return listings


def _inside(path: Path, root: Path) -> str | None:
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return None
    return "" if rel == "." else rel


def _files_under(folder: Path, rel: str | None) -> dict[str, object]:
    prefix = f"{rel}/" if rel else ""
    return {prefix + p.relative_to(folder).as_posix(): None for p in folder.rglob("*")
            if p.is_file() and not p.is_symlink()}


# ------------------------------------------------------------------------------------------------ JSON


class _Object(dict):  # type: ignore[type-arg]
    """A JSON object that remembers the keys it was given more than once (JSON keeps the last silently)."""

    repeated: tuple[str, ...] = ()


def _pairs(pairs: list[tuple[str, Any]]) -> "_Object":
    found = _Object(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        repeated = []
        for key, _ in pairs:
            if key in seen:
                repeated.append(key)
            seen.add(key)
        found.repeated = tuple(repeated)
    return found


def load_json(path: Path, limit: int = JSON_LIMIT) -> tuple[Any, str | None]:
    """The parsed document, or None and why it is not JSON. A file that cannot be read (or is over ``limit``
    bytes) raises :class:`~curator.io.manifest.ManifestReadError`."""
    try:
        data = read_regular_bytes(path, limit=limit)
    except OSError as error:
        raise ManifestReadError(f"{path.name}: {error.strerror or error}") from error
    import json  # here: only a JSON listing pays for it

    try:
        return json.loads(data, object_pairs_hook=_pairs), None
    except RecursionError:
        return None, "the JSON is nested deeper than Python's recursion limit; no checksum listing nests like that"
    except ValueError as error:   # JSONDecodeError, UnicodeDecodeError
        return None, f"not JSON ({error})"


def read_json(path: Path, root: Path, document: Any, problem: str | None = None, *,
              strict: bool = False) -> Manifest | None:
    """The listing in a parsed JSON document, or None when it has no listing shape. ``strict`` (detection) asks
    of an md5 map that most of its values be md5 digests, so an ordinary JSON object is not taken for one."""
    label = _inside(path, root)
    if problem is not None:
        return Manifest(path, "md5", [], [(0, problem)], form=JSON_LISTING,
                        accounts_for=frozenset({label} if label else ()))
    here = label.rpartition("/")[0] if label else ""
    shape = _shape(document, strict)
    if shape is None:
        return None
    form, items = shape
    prefix = f"{here}/" if here and form in (MD5_MAP, DATAPACKAGE, CROISSANT) else ""
    builder = _Builder(path, form, prefix, label)
    if form == MD5_MAP:
        for number, key in enumerate(document, start=1):
            builder.add(number, f"entry {key!r}", key, "md5", document[key])
        for key in getattr(document, "repeated", []):
            builder.problem(0, f"{key!r} is listed more than once; JSON keeps only the last digest")
    else:
        reader = {DATAVERSE: _dataverse_item, ZENODO: _zenodo_item, DATAPACKAGE: _datapackage_item,
                  CROISSANT: _croissant_item}[form]
        for number, item in enumerate(items, start=1):
            reader(builder, number, item)
    return builder.done()


def _shape(document: Any, strict: bool) -> tuple[str, list[Any]] | None:
    if isinstance(document, list):   # a version's file list (Dataverse), a deposition's files (Zenodo)
        if document and all(_is_dataverse_file(i) for i in document):
            return DATAVERSE, document
        return _zenodo_files({"files": document})
    if not isinstance(document, dict):
        return None
    for finder in (_dataverse_files, _zenodo_files):
        found = finder(document)
        if found is not None:
            return found
    if isinstance(document.get("resources"), list):
        return DATAPACKAGE, document["resources"]
    if isinstance(document.get("distribution"), list):
        return CROISSANT, document["distribution"]
    values = list(document.values())
    if values and all(isinstance(v, str) for v in values):
        hexes = sum(1 for v in values if len(v) == 32 and _HEX.fullmatch(v))
        if not strict or hexes * 2 >= len(values):
            return MD5_MAP, []
    return None


def _is_dataverse_file(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("dataFile"), dict)


def _dataverse_files(document: dict[str, Any]) -> tuple[str, list[Any]] | None:
    data = document.get("data", document)
    if isinstance(data, list):   # GET /api/datasets/{id}/versions/{version}/files
        return (DATAVERSE, data) if all(_is_dataverse_file(i) for i in data) and data else None
    if not isinstance(data, dict):
        return None
    version = data.get("latestVersion", data)
    files = version.get("files") if isinstance(version, dict) else None
    if isinstance(files, list) and ("latestVersion" in data or any(_is_dataverse_file(i) for i in files)):
        return DATAVERSE, files
    return None


def _zenodo_files(document: dict[str, Any]) -> tuple[str, list[Any]] | None:
    files = document.get("files", document.get("entries"))
    if isinstance(files, dict):     # InvenioRDM: {"enabled": true, "entries": {key: file} or [file]}
        files = files.get("entries")
        files = list(files.values()) if isinstance(files, dict) else files
    if isinstance(files, list) and files and all(
            isinstance(i, dict) and ("key" in i or "filename" in i) and "checksum" in i for i in files):
        return ZENODO, files
    return None


class _Builder:
    """Entries of one JSON listing, each path and digest checked; a problem for anything that cannot be."""

    def __init__(self, path: Path, form: str, prefix: str, label: str | None) -> None:
        self.manifest = Manifest(path, "md5", form=form, accounts_for=frozenset({label} if label else ()))
        self.prefix = prefix
        self.seen: dict[str, int] = {}

    def problem(self, number: int, reason: str) -> None:
        self.manifest.problems.append((number, reason))

    def add(self, number: int, where: str, rel: Any, algorithm: str | None, digest: Any) -> None:
        if not isinstance(rel, str):
            self.problem(number, f"{where} names no file")
            return
        rel, outside = checked_path(rel)
        if outside:
            self.problem(number, f"{where}: {outside}")
            return
        rel = self.prefix + rel
        if algorithm is None:
            return  # the reader said why
        length = HEX_LENGTH[algorithm]
        if not isinstance(digest, str) or len(digest) != length or not _HEX.fullmatch(digest):
            self.problem(number, f"{where}: {digest!r} is not a {algorithm} digest ({length} hex digits)")
            return
        if rel in self.seen:
            self.problem(number, f"{where}: {rel} is listed again (first as entry {self.seen[rel]})")
            return
        self.seen[rel] = number
        self.manifest.entries.append(ManifestEntry(rel, digest.lower(), algorithm, number))

    def algorithm(self, number: int, where: str, name: Any) -> str | None:
        found = _ALGORITHMS.get(name.lower()) if isinstance(name, str) else None
        if found is None:
            self.problem(number, f"{where}: unknown checksum algorithm {name!r} (curator checks MD5, SHA-1, "
                                 "SHA-256 and SHA-512)")
        return found

    def done(self) -> Manifest:
        algorithms = [entry.algorithm for entry in self.manifest.entries]
        if algorithms:
            self.manifest.algorithm = max(set(algorithms), key=algorithms.count)
        return self.manifest


def _dataverse_item(builder: _Builder, number: int, item: Any) -> None:
    data = item.get("dataFile") if isinstance(item, dict) else None
    if not isinstance(data, dict):
        builder.problem(number, f"file {number} has no dataFile")
        return
    name = item.get("label") or data.get("filename")
    if isinstance(name, str) and name.endswith(".tab") and isinstance(data.get("originalFileName"), str):
        name = data["originalFileName"]   # an ingested table: the checksum is of the file as uploaded
    folder = item.get("directoryLabel")
    path = f"{folder.strip('/')}/{name}" if isinstance(folder, str) and folder.strip("/") and isinstance(name, str) \
        else name
    where = f"file {number} ({path!r})"
    checksum = data.get("checksum")
    if isinstance(checksum, dict):
        builder.add(number, where, path, builder.algorithm(number, where, checksum.get("type")),
                    checksum.get("value"))
    elif "md5" in data:
        builder.add(number, where, path, "md5", data.get("md5"))
    else:
        builder.problem(number, f"{where} has no checksum")


def _zenodo_item(builder: _Builder, number: int, item: dict[str, Any]) -> None:
    name = item.get("key", item.get("filename"))
    where = f"file {number} ({name!r})"
    checksum = item.get("checksum")
    algorithm: str | None = "md5"     # deposition files give the bare md5
    if isinstance(checksum, str) and ":" in checksum:
        kind, _, checksum = checksum.partition(":")
        algorithm = builder.algorithm(number, where, kind)
    builder.add(number, where, name, algorithm, checksum)


def _datapackage_item(builder: _Builder, number: int, item: Any) -> None:
    if not isinstance(item, dict):
        builder.problem(number, f"resource {number} is not an object")
        return
    where = f"resource {number} ({item.get('name', item.get('path'))!r})"
    digest, kind = item.get("hash"), item.get("hashing", "md5")
    stats: dict[str, Any] = item["stats"] if isinstance(item.get("stats"), dict) else {}
    if digest is None:   # frictionless-py: stats.hash with hashing, or stats.sha256 / stats.md5
        digest = stats.get("hash") or stats.get("sha256") or stats.get("md5")
        kind = item.get("hashing") if stats.get("hash") else ("sha256" if stats.get("sha256") else "md5")
    if digest is None or ("data" in item and "path" not in item):
        return   # inline data, or no hash: nothing to check (a file on disk stays unlisted)
    if isinstance(digest, str) and ":" in digest:
        kind, _, digest = digest.partition(":")
    path = item.get("path")
    if isinstance(path, list):
        if len(path) != 1:
            builder.problem(number, f"{where}: one hash for {len(path)} files joined together cannot be checked "
                                    "file by file")
            return
        path = path[0]
    if isinstance(path, str) and "://" in path:
        builder.problem(number, f"{where}: {path!r} is a URL, not a file in the folder")
        return
    builder.add(number, where, path, builder.algorithm(number, where, kind), digest)


def _croissant_item(builder: _Builder, number: int, item: Any) -> None:
    kinds = item.get("@type", "") if isinstance(item, dict) else ""
    if not any(str(kind).endswith("FileObject") for kind in (kinds if isinstance(kinds, list) else [kinds])) \
            or "containedIn" in item:
        return   # FileSets, and files inside an archive: not files on disk
    name = item.get("contentUrl") or item.get("name")
    if isinstance(name, str) and "://" in name:
        from urllib.parse import unquote, urlsplit

        name = unquote(urlsplit(name).path.rstrip("/").rpartition("/")[2]) or None
    where = f"FileObject {number} ({item.get('@id', name)!r})"
    for key, algorithm in (("sha256", "sha256"), ("sc:sha256", "sha256"), ("md5", "md5"), ("cr:md5", "md5")):
        if key in item:
            builder.add(number, where, name, algorithm, item[key])
            return
    builder.problem(number, f"{where} has neither sha256 nor md5")


# ------------------------------------------------------------------------------------------------ BagIt


def read_bag(root: Path, bag: Path, files: Mapping[str, object]) -> list[Manifest]:
    """Every payload manifest (over ``data/``) and tag manifest of the bag at ``bag``, strongest payload first.
    Tag files (everything outside ``data/``) are accounted for: a bag need not list them."""
    here = _inside(bag, root) or ""
    prefix = f"{here}/" if here else ""
    found = sorted((m["tag"] is not None, _STRENGTH.index(m["alg"]) if m["alg"] in _STRENGTH else 9, name)
                   for name in (rel[len(prefix):] for rel in files if rel.startswith(prefix))
                   if (m := _BAG_MANIFEST.match(name)))
    listings = [_bag_manifest(bag / name, name, tag, prefix) for tag, _, name in found]
    tags = frozenset(rel for rel in files if rel.startswith(prefix) and not rel.startswith(f"{prefix}data/"))
    if not any(not tag for tag, _, _ in found):
        listings.insert(0, Manifest(bag / "bagit.txt", "sha256", [], [(0, "the bag has no payload manifest "
                                                                        "(manifest-<algorithm>.txt)")], form=BAGIT))
    listings[0].accounts_for = tags
    return listings


def _bag_manifest(path: Path, name: str, tag: bool, prefix: str) -> Manifest:
    algorithm = _BAG_MANIFEST.match(name)["alg"]  # type: ignore[index]
    manifest = Manifest(path, algorithm if algorithm in HEX_LENGTH else "sha256", form=BAGIT)
    if algorithm not in _STRENGTH:
        manifest.problems.append((0, f"unknown checksum algorithm {algorithm!r} (curator checks md5, sha1, sha256 "
                                     "and sha512)"))
        return manifest
    try:
        data = read_regular_bytes(path)
    except OSError as error:
        raise ManifestReadError(f"{name}: {error.strerror or error}") from error
    seen: dict[str, int] = {}
    for number, raw in enumerate(data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"), start=1):
        _bag_line(manifest, number, raw, tag, prefix, seen)
    return manifest


def _bag_line(manifest: Manifest, number: int, raw: bytes, tag: bool, prefix: str, seen: dict[str, int]) -> None:
    if not raw.strip():
        return
    try:
        match = _BAG_LINE.match(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        manifest.problems.append((number, f"not UTF-8 text (byte {error.start} of the line)"))
        return
    if match is None:
        manifest.problems.append((number, "expected '<hex digest> <path>' (RFC 8493, section 2.1.3)"))
        return
    digest, length = match["digest"], HEX_LENGTH[manifest.algorithm]
    if len(digest) != length or not _HEX.fullmatch(digest):
        manifest.problems.append((number, f"a {manifest.algorithm} digest has {length} hex digits; "
                                          f"found {digest[:80]!r}"))
        return
    rel, outside = checked_path(match["path"].replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%"))
    if outside is None and tag == rel.startswith("data/"):
        outside = ("a tag manifest lists tag files, not the payload under data/" if tag
                   else "a payload manifest lists only files under data/")
    if outside:
        manifest.problems.append((number, outside))
    elif rel in seen:
        manifest.problems.append((number, f"{rel} is listed again (first on line {seen[rel]})"))
    else:
        seen[rel] = number
        manifest.entries.append(ManifestEntry(prefix + rel, digest.lower(), manifest.algorithm, number))


def labels(listings: Iterable[Manifest], root: Path) -> list[str]:
    """The listing files as findings name them: relative to ROOT, else their own path."""
    return [(rel if (rel := _inside(m.path, root)) else str(m.path)) for m in listings]
