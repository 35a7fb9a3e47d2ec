"""Deterministic archives of a release, split into independent parts (the CNCB pattern).

Writers: members sorted by path, every time fixed (``SOURCE_DATE_EPOCH`` when set, else midnight UTC of the
given date), uid/gid 0 and no owner names, modes 0644 (0755 for executables), no directory entries; zip
members that are already compressed (``.gz``, ``.xlsx``, ``.png``, ...) are stored, the rest deflated;
tar.gz is a PAX tar in a gzip stream without FNAME and with MTIME 0. The same files give the same bytes.

Planner: a *part* is one self-contained archive that extracts on its own into the release's layout (member
paths are relative to the release root, exactly as in its SHA256SUMS). Each study travels with its mask
(``studies/<category>/study_NNNN.nii.gz`` + ``masks/study_NNNN_mask.nii.gz``); the release's own files (README,
LICENSE, registry, manifests, metadata) come first, then the studies in id order, so each part holds a
contiguous range of study ids. Parts are filled greedily up to ``max_bytes`` (an upper bound of the archive's
size, computed before writing and checked after) and ``max_files`` members.

Presets:

- ``zenodo``: everything is uploaded to one record, which takes at most 100 files and 50 GB in all. A part
  is one uploaded file (at most 50 GB); the parts plus PARTS.tsv, MD5SUMS and SHA256SUMS must number at most
  100 and weigh at most 50 GB, else the release needs several records and packing stops with that advice.
- ``huggingface``: a part is one archive file under 20 GB (the Hub's recommended maximum file size); the parts
  and the three lists sit in one folder of the dataset repository, which must hold fewer than 10,000 files.
- ``cncb``: parts per class (``<CLASS>-<n>.zip``) with an md5 JSON per class (``<CLASS>.json``), the CNCB form.
- ``dataverse``: one archive per patient or case with ``dataverse_files.json``, the Harvard Dataverse form.
  Both forms, their names and listings, and the platforms' documented limits are in :mod:`curator.release.presets`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import os
import re
import stat
import tarfile
import time
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NamedTuple

from curator.executor import run_tasks
from curator.io.hashing import CHUNK, hash_file
from curator.io.manifest import MANIFEST_ALGORITHMS, format_gnu, parse_manifest
from curator.io.manifest import ManifestReadError as _ManifestReadError
from curator.outputs import lock, overlap, staged
from curator.profiles import detect_profile
from curator.release.presets import (
    DATAVERSE_LISTING,
    Grouping,
    cncb_listing,
    dataverse_listing,
    group_files,
    listing_name,
    portable_component,
)

__all__ = [
    "FORMATS",
    "PRESETS",
    "PackError",
    "Preset",
    "archive_epoch",
    "pack_release",
    "plan_parts",
    "study_units",
    "write_tar_gz",
    "write_zip",
]

FORMATS = ("zip", "tar.gz")
PARTS_LIST = "PARTS.tsv"
_LISTS = (PARTS_LIST, "MD5SUMS", "SHA256SUMS")
_STORED_SUFFIXES = (".gz", ".zip", ".xlsx", ".docx", ".png", ".jpg", ".jpeg", ".pdf", ".bz2", ".xz", ".zst")
_STUDY = re.compile(r"^(?:studies/(?:.+/)?study_|masks/study_)(?P<id>[0-9]+)(?P<mask>_mask)?\.nii(?:\.gz)?$")
# the tar.gz stream is mostly already-compressed NIfTI: ISA-L level 2 deflates it ~10x faster than zlib (260 vs
# 25 MB/s on incompressible bytes, measured) and no larger; the stdlib is the fallback where isal is missing
_GZIP_LEVEL = 2
_TAR_RECORD = tarfile.RECORDSIZE


class PackError(Exception):
    """The archives cannot be made. ``exit_code``: 2 for usage or configuration (limits, folders), 1 when
    the release itself is damaged (a file differs from its SHA256SUMS)."""

    def __init__(self, message: str, exit_code: int = 2, problems: list[str] | None = None):
        super().__init__(message)
        self.exit_code = exit_code
        self.problems = problems or []


@dataclass(frozen=True)
class Preset:
    name: str
    max_part_bytes: int | None
    max_part_files: int | None
    max_outputs: int | None        # files uploaded side by side: the parts + PARTS.tsv + MD5SUMS + SHA256SUMS
    max_total_bytes: int | None    # all of them together
    part: str                      # what a part is on this platform, for help texts
    form: str = "parts"            # "parts" (numbered parts), "classes" (cncb), "units" (dataverse)


PRESETS = {
    "zenodo": Preset("zenodo", 50_000_000_000, None, 100, 50_000_000_000,
                     "one file of a Zenodo record (a record holds at most 100 files and 50 GB in all)"),
    "huggingface": Preset("huggingface", 20_000_000_000 - 1, None, 9_999, None,
                          "one archive under 20 GB in one folder of a Hugging Face dataset repository "
                          "(fewer than 10,000 files per folder)"),
    "cncb": Preset("cncb", None, None, None, None,
                   "one zip of a class (<CLASS>-<n>.zip), with an md5 JSON per class (<CLASS>.json)", "classes"),
    "dataverse": Preset("dataverse", None, None, None, None,
                        "one archive per patient or case, listed in dataverse_files.json", "units"),
}


# ------------------------------------------------------------------------------------------------ times


def archive_epoch(when: dt.date, environ: Mapping[str, str] | None = None) -> int:
    """The fixed member time: ``SOURCE_DATE_EPOCH`` if set (reproducible-builds.org), else ``when`` 00:00 UTC."""
    value = (os.environ if environ is None else environ).get("SOURCE_DATE_EPOCH", "").strip()
    if value:
        if not value.isdigit():
            raise PackError(f"SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, found {value!r}")
        return int(value)
    return int(dt.datetime(when.year, when.month, when.day, tzinfo=dt.UTC).timestamp())


def _dos_time(epoch: int) -> tuple[int, int, int, int, int, int]:
    """A zip (DOS) time: UTC fields, 2-second steps, clamped to 1980..2107."""
    moment = time.gmtime(epoch)
    if moment.tm_year < 1980:
        return (1980, 1, 1, 0, 0, 0)
    if moment.tm_year > 2107:
        return (2107, 12, 31, 23, 59, 58)
    return (moment.tm_year, moment.tm_mon, moment.tm_mday, moment.tm_hour, moment.tm_min, moment.tm_sec // 2 * 2)


# ---------------------------------------------------------------------------------------------- writers


def _mode(path: Path) -> int:
    return 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644


def _stored(rel: str) -> bool:
    return rel.lower().endswith(_STORED_SUFFIXES)


def _copy(source: IO[bytes], target: IO[bytes], size: int, rel: str) -> str:
    """Copy exactly ``size`` bytes, returning their sha256; a file that changed size meanwhile is an error."""
    digest = hashlib.sha256()
    copied = 0
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        target.write(chunk)
        copied += len(chunk)
    if copied != size:
        raise PackError(f"{rel} changed size while it was being packed ({size} -> {copied} bytes)", 1)
    return digest.hexdigest()


def write_zip(root: Path, members: Sequence[str], target: Path, epoch: int) -> dict[str, str]:
    """Write ``members`` (paths relative to ``root``) into the zip ``target``; return {member: sha256}."""
    digests = {}
    stamp = _dos_time(epoch)
    with zipfile.ZipFile(target, "w", allowZip64=True) as archive:
        for rel in sorted(members):
            path = root / rel
            size = path.stat().st_size
            info = zipfile.ZipInfo(rel, date_time=stamp)
            info.create_system = 3                                   # Unix: the mode bits below are honoured
            info.external_attr = (stat.S_IFREG | _mode(path)) << 16
            info.compress_type = zipfile.ZIP_STORED if _stored(rel) else zipfile.ZIP_DEFLATED
            info.file_size = size
            with path.open("rb") as source, archive.open(info, "w", force_zip64=size >= zipfile.ZIP64_LIMIT) as sink:
                digests[rel] = _copy(source, sink, size, rel)
    return digests


def write_tar_gz(root: Path, members: Sequence[str], target: Path, epoch: int) -> dict[str, str]:
    """Write ``members`` into the gzip-compressed PAX tar ``target``; return {member: sha256}."""
    digests = {}
    with target.open("wb") as raw, \
            _gzip_writer(raw) as stream, \
            tarfile.open(fileobj=stream, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for rel in sorted(members):
            path = root / rel
            info = tarfile.TarInfo(rel)
            info.size = path.stat().st_size
            info.mtime = epoch
            info.mode = _mode(path)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            with path.open("rb") as source:
                reader = _HashingReader(source)
                archive.addfile(info, reader)
            if reader.count != info.size:
                raise PackError(f"{rel} changed size while it was being packed", 1)
            digests[rel] = reader.digest.hexdigest()
    return digests


def _gzip_writer(raw: IO[bytes]) -> gzip.GzipFile:
    """A gzip stream without FNAME and with MTIME 0 (ISA-L when installed, else zlib)."""
    try:
        from isal import igzip
    except ImportError:  # pragma: no cover - isal is a dependency; the stdlib keeps working without it
        return gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6)
    return igzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,  # type: ignore[no-untyped-call]
                          compresslevel=_GZIP_LEVEL)


class _HashingReader:
    """A read-only file wrapper that hashes what passes through it (tarfile copies from ``read``)."""

    def __init__(self, handle: IO[bytes]):
        self.handle = handle
        self.digest = hashlib.sha256()
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        self.count += len(data)
        return data


_WRITERS = {"zip": write_zip, "tar.gz": write_tar_gz}


# ---------------------------------------------------------------------------------------------- planner


def _deflate_bound(size: int) -> int:
    """The most a deflate stream of ``size`` bytes can take: zlib's ``deflateBound`` is n + n/4096 + n/16384
    + 13; ISA-L falls back to stored blocks as zlib does. One per mille of slack covers both."""
    return size + (size >> 10) + 1024


def _zip_cost(rel: str, size: int) -> int:
    """An upper bound of the bytes one member adds to a zip: local header, data, central directory entry."""
    name = len(rel.encode("utf-8"))
    data = size if _stored(rel) else _deflate_bound(size)
    return (30 + name + 20) + data + (46 + name + 28)


def _tar_cost(rel: str, size: int) -> int:
    """Bytes one member adds to an uncompressed PAX tar (a PAX header when name or size need one)."""
    pax = 1024 + 512 * ((len(rel) + 600) // 512) if len(rel) > 100 or size >= 8**11 else 0
    return pax + 512 + -(-size // 512) * 512


def _part_bound(fmt: str, raw: int) -> int:
    """Upper bound of a part's file size from the sum of its members' costs."""
    if fmt == "zip":
        return raw + 22 + 56 + 20
    tar = raw + 1024
    tar += -tar % _TAR_RECORD
    return _deflate_bound(tar) + 18


def study_units(files: Sequence[str]) -> list[tuple[str, ...]]:
    """Group files into units that must stay in one part: the release's own files one by one (sorted), then
    each study with its mask, by study id."""
    studies: dict[int, list[str]] = {}
    others = []
    for rel in sorted(files):
        match = _STUDY.match(rel)
        if match:
            studies.setdefault(int(match["id"]), []).append(rel)
        else:
            others.append(rel)
    units: list[tuple[str, ...]] = [(rel,) for rel in others]
    for study_id in sorted(studies):
        units.append(tuple(sorted(studies[study_id], key=lambda rel: rel.startswith("masks/"))))
    return units


def plan_parts(sizes: Mapping[str, int], *, fmt: str, max_bytes: int | None = None,
               max_files: int | None = None) -> list[list[str]]:
    """Split files (``{path: size}``) into parts: lists of members in unit order (see :func:`study_units`).

    Raises :class:`PackError` when one unit alone breaks a limit (a file cannot be split).
    """
    if fmt not in _WRITERS:
        raise PackError(f"unknown archive format {fmt!r}; use one of {', '.join(FORMATS)}")
    return _fill(study_units(list(sizes)), sizes, fmt, max_bytes, max_files)


def _unit_label(unit: Sequence[str]) -> str:
    shown = " + ".join(unit[:3])
    return shown if len(unit) <= 3 else f"{shown} and {len(unit) - 3} more files"


def _fill(units: Sequence[Sequence[str]], sizes: Mapping[str, int], fmt: str, max_bytes: int | None,
          max_files: int | None) -> list[list[str]]:
    """Fill parts greedily with ``units`` in their order; a unit never spans two parts."""
    cost = _zip_cost if fmt == "zip" else _tar_cost
    parts: list[list[str]] = []
    current: list[str] = []
    raw = 0
    for unit in units:
        unit_raw = sum(cost(rel, sizes[rel]) for rel in unit)
        if max_files is not None and len(unit) > max_files:
            raise PackError(f"{_unit_label(unit)} must stay together ({len(unit)} files), but a part may hold only "
                            f"{max_files}; raise --max-part-files")
        if max_bytes is not None and _part_bound(fmt, unit_raw) > max_bytes:
            raise PackError(f"{_unit_label(unit)} alone needs up to {_part_bound(fmt, unit_raw):,} bytes as {fmt}, "
                            f"more than a part may hold ({max_bytes:,}); raise --max-part-bytes")
        fits = ((max_files is None or len(current) + len(unit) <= max_files)
                and (max_bytes is None or _part_bound(fmt, raw + unit_raw) <= max_bytes))
        if current and not fits:
            parts.append(current)
            current, raw = [], 0
        current.extend(unit)
        raw += unit_raw
    if current:
        parts.append(current)
    return parts


# ------------------------------------------------------------------------------------------------- pack


def _release_listing(release: Path) -> dict[str, int]:
    sizes = {}
    for path in sorted(release.rglob("*")):
        rel = path.relative_to(release).as_posix()
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise PackError(f"{release}: {rel} is a link or a special file; a release holds regular files only")
        if path.is_file():
            sizes[rel] = path.stat().st_size
    if not sizes:
        raise PackError(f"{release} holds no files")
    return sizes


def _expected_digests(release: Path, files: Sequence[str]) -> dict[str, str] | None:
    """The release's SHA256SUMS, checked against the file list; None when the release has none."""
    manifest_path = release / "SHA256SUMS"
    if not manifest_path.is_file():
        return None
    try:
        manifest = parse_manifest(manifest_path, "sha256")
    except _ManifestReadError as error:
        raise PackError(f"SHA256SUMS: {error}", 1) from error
    problems = [f"SHA256SUMS line {line}: {reason}" for line, reason in manifest.problems]
    listed = {entry.path: entry.digest for entry in manifest.entries}
    present = set(files)
    problems += [f"{rel}: listed in SHA256SUMS but missing" for rel in sorted(set(listed) - present)]
    problems += [f"{rel}: not listed in SHA256SUMS" for rel in sorted(present - set(listed))
                 if rel not in MANIFEST_ALGORITHMS]
    if problems:
        raise PackError("the release does not match its SHA256SUMS; rebuild or repair it before packing", 1,
                        problems)
    return listed


class Planned(NamedTuple):
    name: str                  # the archive's path in OUT
    members: list[str]
    group: str | None = None   # the class whose md5 JSON lists it (cncb)


def _plan(chosen: Preset | None, release: Path, sizes: Mapping[str, int], fmt: str, stem: str,
          max_bytes: int | None, max_files: int | None) -> list[Planned]:
    """The archives to write: numbered parts, or the cncb or dataverse form (see :mod:`curator.release.presets`)."""
    if chosen is None or chosen.form == "parts":
        plan = plan_parts(sizes, fmt=fmt, max_bytes=max_bytes, max_files=max_files)
        return [Planned(name, members) for name, members in zip(_part_names(stem, fmt, len(plan)), plan, strict=True)]
    profile = detect_profile(release)
    try:
        grouping = group_files(list(sizes), profile)
    except ValueError as error:
        raise PackError(f"{release}: {error}; rebuild the release", 1) from error
    if not grouping.units:
        raise PackError(f"{release} holds no data files of a known layout (studies, image/mask case folders or "
                        f"patient folders), so the {chosen.name} form has nothing to group; pack without --preset")
    own: list[tuple[str, ...]] = [(rel,) for rel in grouping.own]
    if chosen.form == "classes":
        planned = _class_parts(grouping, own, sizes, fmt, stem, max_bytes, max_files)
    else:
        planned = [Planned(f"{stem}-{n}.{fmt}", members)
                   for n, members in enumerate(_fill(own, sizes, fmt, max_bytes, max_files), start=1)]
        planned += [Planned(f"{unit.path}.{fmt}", members) for unit in grouping.units
                    for members in _fill([unit.files], sizes, fmt, max_bytes, max_files)]
    _check_names([item.name for item in planned], [item.group for item in planned if item.group], fmt)
    return planned


def _class_parts(grouping: Grouping, own: list[tuple[str, ...]], sizes: Mapping[str, int], fmt: str, stem: str,
                 max_bytes: int | None, max_files: int | None) -> list[Planned]:
    """cncb: the release's own files (and data of no class) in ``<stem>-<n>``, each class in ``<CLASS>-<n>``."""
    classes: dict[str, list[tuple[str, ...]]] = {}
    for unit in grouping.units:
        if unit.cls is not None:
            classes.setdefault(unit.cls, []).append(tuple(unit.files))
    if stem in classes:
        raise PackError(f"the part name {stem!r} is also a class of the release; choose another with --name")
    classless = [tuple(unit.files) for unit in grouping.units if unit.cls is None]
    groups = [(stem, _fill(own, sizes, fmt, max_bytes, max_files) + _fill(classless, sizes, fmt, max_bytes,
                                                                          max_files))]
    groups += [(cls, _fill(units, sizes, fmt, max_bytes, max_files)) for cls, units in sorted(classes.items())]
    return [Planned(f"{cls}-{n}.{fmt}", members, cls) for cls, parts in groups
            for n, members in enumerate(parts, start=1)]


def _check_names(names: Sequence[str], classes: Sequence[str], fmt: str) -> None:
    """Every archive and listing name portable and distinct, also ignoring case."""
    bad = sorted({part for name in [*(n.removesuffix(f".{fmt}") for n in names), *classes]
                  for part in name.split("/") if not portable_component(part)})
    if bad:
        raise PackError(f"folder or class name(s) {', '.join(map(repr, bad[:5]))} break the portable-name policy "
                        "(ASCII letters, digits, ._-, not starting with - or .); rename them in the release")
    seen: dict[str, str] = {}
    for name in [*names, *(listing_name(cls) for cls in dict.fromkeys(classes))]:
        other = seen.setdefault(name.lower(), name)
        if other != name or name in _LISTS or name == DATAVERSE_LISTING:
            raise PackError(f"two outputs would be named {other!r} and {name!r}; rename the class or use --name")


def _listings(chosen: Preset | None, planned: Sequence[Planned], rows: Sequence[tuple[str, int, int, str, str]],
              fmt: str) -> dict[str, str]:
    """The platform's own checksum listings: {file name: text}."""
    if chosen is None or chosen.form == "parts":
        return {}
    if chosen.form == "units":
        return {DATAVERSE_LISTING: dataverse_listing([(row[0], row[1], row[3]) for row in rows], fmt)}
    by_class: dict[str, list[tuple[str, str]]] = {}
    for item, row in zip(planned, rows, strict=True):
        by_class.setdefault(str(item.group), []).append((row[0], row[3]))
    return {listing_name(cls): cncb_listing(entries) for cls, entries in by_class.items()}


def _part_names(stem: str, fmt: str, count: int) -> Iterator[str]:
    width = max(2, len(str(count)))
    for index in range(1, count + 1):
        yield f"{stem}_part{index:0{width}d}.{fmt}"


def _default_stem(release: Path) -> str:
    from curator.io import ReadError
    from curator.io.card import load_card

    try:
        card = load_card(release / "dataset.yaml")
    except ReadError:
        return release.name or "release"
    return f"{card.code}-v{card.version}"


def _smallest(*values: int | None) -> int | None:
    given = [v for v in values if v is not None]
    return min(given) if given else None


def _limits(preset: str | None, max_bytes: int | None,
            max_files: int | None) -> tuple[int | None, int | None, Preset | None]:
    """The per-part limits: the options, tightened by the preset's."""
    chosen = None
    if preset is not None:
        if preset not in PRESETS:
            raise PackError(f"unknown preset {preset!r}; known presets: {', '.join(sorted(PRESETS))}")
        chosen = PRESETS[preset]
        max_bytes = _smallest(max_bytes, chosen.max_part_bytes)
        max_files = _smallest(max_files, chosen.max_part_files)
    if max_bytes is not None and max_bytes < 1:
        raise PackError(f"the part size limit must be positive, found {max_bytes}")
    if max_files is not None and max_files < 1:
        raise PackError(f"the part file limit must be positive, found {max_files}")
    return max_bytes, max_files, chosen


def _check_preset(chosen: Preset | None, parts: int, total: int, stage: str) -> None:
    if chosen is None:
        return
    outputs = parts + len(_LISTS)
    if chosen.max_outputs is not None and outputs > chosen.max_outputs:
        raise PackError(f"{parts} parts + {len(_LISTS)} lists make {outputs} files ({stage}), more than "
                        f"{chosen.name} takes ({chosen.max_outputs}); raise --max-part-bytes, or split the release "
                        "across several records")
    if chosen.max_total_bytes is not None and total > chosen.max_total_bytes:
        raise PackError(f"the parts weigh {total:,} bytes ({stage}), more than {chosen.name} takes in one record "
                        f"({chosen.max_total_bytes:,}); split the release across several records")


def pack_release(release: Path, out_dir: Path, *, fmt: str, max_bytes: int | None, max_files: int | None,
                 when: dt.date, preset: str | None = None, name: str | None = None,
                 jobs: int | None = None) -> list[Path]:
    """Pack every file of ``release`` into independent archive parts in ``out_dir``.

    ``out_dir`` must not exist or be empty; it is written through a temporary folder beside it and appears
    only when complete. Writes the parts, ``PARTS.tsv`` (part, bytes, files, md5, sha256) and GNU
    ``MD5SUMS``/``SHA256SUMS`` of the parts. Each member is checked against the release's SHA256SUMS while it
    is copied. ``preset`` (``zenodo``, ``huggingface``) adds that platform's limits to ``max_bytes`` and
    ``max_files``; ``cncb`` and ``dataverse`` write that platform's form instead of numbered parts, with its own
    listing (``<CLASS>.json`` per class, ``dataverse_files.json``; see :mod:`curator.release.presets`), which
    MD5SUMS and SHA256SUMS then list too. ``name`` is the parts' file name stem (default ``<code>-v<version>``
    from dataset.yaml); ``jobs`` parts are written at once (default: all cores).
    Returns the written paths: parts first, then the platform's listings, then the three lists.
    """
    if fmt not in _WRITERS:
        raise PackError(f"unknown archive format {fmt!r}; use one of {', '.join(FORMATS)}")
    release, out_dir = Path(release).absolute(), Path(out_dir).absolute()
    if not release.is_dir():
        raise PackError(f"{release} is not a folder; pass a built release")
    if overlap(out_dir, [release]) is not None:
        raise PackError(f"the output folder {out_dir} and the release {release} must not contain each other")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise PackError(f"{out_dir} already exists and is not empty; choose another folder")
    max_bytes, max_files, chosen = _limits(preset, max_bytes, max_files)
    stem = name or _default_stem(release)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", stem):
        raise PackError(f"part name {stem!r} breaks the portable-name policy (ASCII letters, digits, ._-)")
    epoch = archive_epoch(when)

    sizes = _release_listing(release)
    expected = _expected_digests(release, list(sizes))
    planned = _plan(chosen, release, sizes, fmt, stem, max_bytes, max_files)
    plan = [item.members for item in planned]
    cost = _zip_cost if fmt == "zip" else _tar_cost
    _check_preset(chosen, len(plan), sum(_part_bound(fmt, sum(cost(r, sizes[r]) for r in part)) for part in plan),
                  "as planned")

    with lock(out_dir):
        if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
            raise PackError(f"{out_dir} already exists and is not empty; choose another folder")
        with staged(out_dir) as staging:
            stage = staging.root
            names = [item.name for item in planned]

            def write_part(index: int) -> tuple[tuple[str, int, int, str, str], list[str]]:
                part_name, members = names[index], plan[index]
                target = stage / part_name
                target.parent.mkdir(parents=True, exist_ok=True)
                digests = _WRITERS[fmt](release, members, target, epoch)
                damaged = [f"{rel}: sha256 {digests[rel]}, SHA256SUMS says {expected[rel]}" for rel in sorted(members)
                           if expected and rel in expected and expected[rel] != digests[rel]]
                size = target.stat().st_size
                if max_bytes is not None and size > max_bytes:
                    raise AssertionError(f"{part_name} is {size} bytes, over the planned bound {max_bytes}")
                hashes = hash_file(target, ("md5", "sha256"))
                return (part_name, size, len(members), hashes["md5"], hashes["sha256"]), damaged

            results = run_tasks(write_part, range(len(plan)), jobs)
            rows = [row for row, _ in results]
            damaged = [problem for _, problems in results for problem in problems]
            if damaged:
                raise PackError("files of the release differ from its SHA256SUMS; nothing was written", 1, damaged)
            _check_preset(chosen, len(rows), sum(row[1] for row in rows), "as written")
            table = "part\tbytes\tfiles\tmd5\tsha256\n" + "".join(
                f"{part}\t{size}\t{count}\t{md5}\t{sha}\n" for part, size, count, md5, sha in rows)
            (stage / PARTS_LIST).write_text(table, encoding="utf-8", newline="\n")
            listings = _listings(chosen, planned, rows, fmt)
            sums = {"md5": {str(r[0]): str(r[3]) for r in rows}, "sha256": {str(r[0]): str(r[4]) for r in rows}}
            for listing, text in listings.items():   # the platform's listings are downloads too: the sums cover them
                (stage / listing).write_text(text, encoding="utf-8", newline="\n")
                for algorithm in sums:
                    sums[algorithm][listing] = hashlib.new(algorithm, text.encode("utf-8")).hexdigest()
            for listing, algorithm in (("MD5SUMS", "md5"), ("SHA256SUMS", "sha256")):
                (stage / listing).write_text(format_gnu(sums[algorithm]), encoding="utf-8", newline="\n")
    return [out_dir / n for n in names] + [out_dir / n for n in listings] + [out_dir / n for n in _LISTS]
