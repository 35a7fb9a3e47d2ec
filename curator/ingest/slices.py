"""``curator ingest-slices``: 2D CT slices with label masks (CNCB, Inf-Net) into a ``slices`` source.

The images and the masks each come as one tree made of folders and archive parts (CNCB ships zip parts; several
parts together, given one by one or as the folder they were downloaded into, form one tree). Every image is paired
with its mask by its path inside its tree, without the extension, and the pairs are written as the ``slices``
profile names them::

    OUT/image/<case>/<slice>.jpg|png     the slice, as JPEG or PNG (the format it came in, never re-encoded)
    OUT/mask/<case>/<slice>.png          its label mask, a single-channel PNG
    OUT/provenance.json                  tool, inputs (sha256, size), counts per case, what was removed
    OUT/unzip_filenames.csv ...          CNCB's metadata CSVs, when given, copied byte for byte

Naming. ``<case>`` is the folder path of the slice inside its tree, kept as it is: one level (``<n>``, CNCB's
ct_lesion_seg) or three (``<label>/<patient_id>/<scan_id>``, CNCB's classification set and its CSVs), each part
ASCII letters, digits, ``_`` and ``-``. Slices lying at the top of a tree (Inf-Net's ``Imgs/6.jpg``) go into the
case ``options.flat_case`` ("0"). ``<slice>`` is the file's number zero-padded to 4 digits, as CNCB's
lesions_slices.csv names slices (``CP/3783/5727/0008.png``): ``6.jpg`` becomes ``0006.jpg``; so ``6`` and ``006``
are the same slice (and both present are reported as SLICE_DUPLICATE). Names that are not numbers, case folders
that are not portable or deeper than three levels are reported (FILE_NAME_INVALID) and left out, never renamed
silently. An input whose top level holds the side's own folder (``image/`` for the images, ``mask/`` for the
masks, as in ct_lesion_seg.zip) is read from that folder, so one archive can be given for both sides.

Anonymisation on the way in, without touching a pixel:

- PNG: the chunks ``tEXt``, ``zTXt``, ``iTXt``, ``tIME`` and ``eXIf`` and any bytes after ``IEND`` are left out;
  every other chunk is copied byte for byte with its CRC (which is checked);
- JPEG: the segments ``APP1`` (EXIF, XMP), ``APP2`` other than an ICC profile, ``APP3``..``APP13``, ``APP15`` and
  ``COM``, and any bytes after ``EOI``, are left out; ``APP0`` (JFIF), the ICC profile, ``APP14`` (Adobe colour
  transform), the tables and the scan data are copied byte for byte;
- the copy is accepted only when Pillow decodes it to the same mode, size, pixels and palette as the input.

Dropping EXIF also drops its Orientation tag: the stored pixel grid (the one the PNG mask is drawn on) is what the
copy shows everywhere; how many slices had an Orientation other than 1 is in the report and the provenance.

Inputs are named in OUT by neutral labels only: ``images-1``, ``images-2``, ``masks-1`` in the order given, an
archive part found in a folder input ``images-1/part-2``; a slice's ``from`` is that label and its path below the
side's folder. The inputs' own names (a folder may be named after the patient) and the folder above ``image/`` in
an archive stay in the report (``stats.inputs``), which stays with the curator. ``force`` replaces only an OUT
that ingest-slices made (its provenance.json names the tool and command, and it holds nothing else at its top).

Judgement: a mask must be a single-channel PNG (grey, palette - read as indices - or 1-bit) with values in the label
set, of its image's size. A slice without its counterpart, a duplicate, an unreadable file or a mask that fails is
reported and its pair left out; the rest is written. Nothing is ever joined from an archive member's name onto the
disk: members are staged under numbers in a temporary folder beside OUT, which is renamed into place at the end.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from curator import __version__
from curator.anonymise.images import (
    PNG_STRIPPED_CHUNKS,
    SliceFormatError,
    Stripped,
    strip_jpeg,
    strip_metadata,
    strip_png,
)
from curator.catalogue import make_finding
from curator.checks.names import case_collisions, is_junk, name_problems
from curator.checks.slices import MASK_MODES
from curator.errors import OptionsError, OutputError
from curator.executor import Progress, run_tasks
from curator.io.archive_read import ArchiveProblem, ArchiveToolMissing, Limits, Member, archive_kind, iter_members
from curator.io.formats import JPEG_SIGNATURE, PNG_SIGNATURE
from curator.io.hashing import sha256_of
from curator.io.slices import LESIONS_CSV, MAX_DECODE_PIXELS, SCANS_CSV, MetadataError, read_lesions, read_scans
from curator.models.findings import Counts, Finding, Report, Severity, Stats
from curator.models.severity import sort_index
from curator.outputs import contains, lock, move, output_error, overlap, staged
from curator.profiles import get_profile

__all__ = [
    "CODES",
    "PNG_STRIPPED_CHUNKS",
    "IngestSlicesOptions",
    "SliceFormatError",
    "Stripped",
    "ingest_slices",
    "strip_jpeg",
    "strip_metadata",
    "strip_png",
]

# every code this module can report (a test keeps it in step with the calls below)
CODES = frozenset({
    "ARCHIVE_UNSAFE_MEMBER", "ARCHIVE_CORRUPT", "ARCHIVE_BOMB", "FILE_JUNK", "FILE_UNSAFE", "FILE_NAME_INVALID",
    "IMAGE_UNREADABLE", "MASK_MODE_INVALID", "MASK_VALUES_UNEXPECTED", "SLICE_CASE_UNPAIRED", "SLICE_PAIR_MISSING",
    "SLICE_DUPLICATE", "SLICE_SIZE_MISMATCH", "METADATA_UNREADABLE",
})

PROFILE = "slices"
SIDES = ("image", "mask")
INPUT_FLAGS = {"image": "--images", "mask": "--masks"}
INPUT_LABELS = {"image": "images", "mask": "masks"}     # images-1, masks-2: the inputs as OUT names them
OUTPUT_ENTRIES = {"image", "mask", "provenance.json"}   # what ingest-slices writes at the top of OUT (and the CSVs)
METADATA_NAMES = re.compile(r"^(unzip_filenames|lesions_slices|metadata)\.csv$")   # the profile's release_files
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".7z", ".rar")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".dcm")
MAX_SLICE_BYTES = 256 << 20     # a 1024 x 1024 16-bit slice is ~2 MB; a "slice" this big is not read into memory
BATCH_BYTES = 256 << 20         # archive members held in memory at once, processed together on threads
BATCH_FILES = 512
MAX_CASE_DEPTH = 3              # <n> or <label>/<patient_id>/<scan_id>
_FOLDER = re.compile(r"^[A-Za-z0-9_-]+$")
_EXTENSIONS = {"JPEG": "jpg", "PNG": "png"}


@dataclass(frozen=True)
class IngestSlicesOptions:
    """How to ingest. ``labels`` None: the label set of the ``slices`` profile ({0, 1, 2, 3})."""

    labels: tuple[int, ...] | None = None
    flat_case: str = "0"                  # case folder for slices at the top of a tree (Inf-Net: Imgs/6.jpg)
    digits: int = 4                       # slice numbers zero-padded to this many digits (CNCB: 0008.png)
    metadata: tuple[Path, ...] = ()       # CNCB's unzip_filenames.csv / lesions_slices.csv / metadata.csv
    force: bool = False                   # replace a non-empty OUT (only once the new tree is complete)
    jobs: int | None = None
    limits: Limits = field(default_factory=Limits)
    progress: Progress | None = field(default=None, compare=False)


# --- inputs ------------------------------------------------------------------------------------------------

@dataclass
class _Input:
    side: str            # "image" or "mask"
    path: Path
    label: str           # as the curator gave it (for findings)
    kind: str            # "folder", or the archive kind ("zip", ...)
    name: str            # its neutral label in OUT: images-1, masks-2, images-1/part-3 (never its own name)
    order: tuple[int, int, int] = (0, 0, 0)   # (side, number, part): the order of the provenance's inputs
    prefix: str = ""     # "image/" or "mask/" when the tree sits in the side's own folder
    sha256: str = ""     # archives: of the file; folders: of the SHA256SUMS-style listing of the files read
    size: int = 0
    files: int = 0
    refused: bool = False


@dataclass
class _File:
    index: int
    side: str
    source: int          # index into the inputs
    rel: str             # path inside the input, as stored
    label: str           # for findings: <input>/<rel>
    path: Path           # the file itself, or the archive holding it
    size: int
    name: str = ""       # rel without the input's prefix
    case: str = ""
    slice: str = ""


@dataclass
class _Read:
    """What processing one file found (plain data: made on worker threads)."""

    slice: bool = True                                   # False: not a PNG/JPEG and not named like one
    problems: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    format: str = ""
    sha256_in: str = ""
    sha256: str = ""
    size: int = 0
    removed: tuple[str, ...] = ()
    trailing: int = 0
    width: int = 0
    height: int = 0
    mode: str = ""
    orientation: int | None = None

    @property
    def usable(self) -> bool:
        return self.slice and not self.problems


def _inputs(images: Sequence[Path], masks: Sequence[Path]) -> list[_Input]:
    inputs: list[_Input] = []
    for side, given in (("image", images), ("mask", masks)):
        if not given:
            raise OptionsError(f"no {INPUT_FLAGS[side]} given: name the folders or archive parts holding the "
                               f"{side}s")
        for path in given:
            path = Path(path)
            if path.is_symlink() or not path.exists():
                raise OptionsError(f"{INPUT_FLAGS[side]} {path}: "
                                   f"{'is a symbolic link' if path.is_symlink() else 'does not exist'}")
            if path.is_dir():
                kind = "folder"
            else:
                found = archive_kind(path) if path.is_file() else None
                if found is None:
                    raise OptionsError(f"{INPUT_FLAGS[side]} {path}: not a folder or an archive part (zip); give "
                                       "the folder holding the slices or the archive parts")
                kind = found
            if any(item.side == side and item.path.resolve() == path.resolve() for item in inputs):
                raise OptionsError(f"{INPUT_FLAGS[side]} names {path} twice; give each folder or part once")
            number = sum(item.side == side for item in inputs) + 1
            inputs.append(_Input(side, path, path.as_posix(), kind, f"{INPUT_LABELS[side]}-{number}",
                                 (SIDES.index(side), number, 0)))
    return inputs


def _public_prefix(given: _Input) -> str:
    """Where in the input the tree was read, as OUT says it: the side's own folder, never the folder above it."""
    if not given.prefix:
        return "/"
    return given.prefix if given.prefix.count("/") == 1 else f"*/{given.side}/"


def _not_ours(out: Path) -> str | None:
    """Why the non-empty folder ``out`` is not an output of ingest-slices that ``force`` may replace, or None."""
    provenance = out / "provenance.json"
    if provenance.is_symlink() or not provenance.is_file():
        return "it holds no provenance.json"
    try:
        document = json.loads(provenance.read_bytes())
    except (OSError, ValueError, RecursionError) as error:
        return f"its provenance.json cannot be read ({type(error).__name__})"
    tool = document.get("tool") if isinstance(document, dict) else None
    if not isinstance(tool, dict) or tool.get("name") != "curator" or tool.get("command") != "ingest-slices":
        return "its provenance.json was not written by curator ingest-slices"
    foreign = sorted(entry.name for entry in out.iterdir()
                     if entry.name not in OUTPUT_ENTRIES and not METADATA_NAMES.match(entry.name))
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        return f"it also holds {shown}, which ingest-slices does not write"
    return None


def _check_places(inputs: list[_Input], out: Path, options: IngestSlicesOptions) -> None:
    for item in inputs:
        if overlap(out, [item.path]) is not None:
            raise OptionsError(f"OUT ({out}) and the input {item.path} overlap; write the output elsewhere")
    for path in options.metadata:
        if not path.is_file():
            raise OptionsError(f"--metadata {path}: not a file")
        if not METADATA_NAMES.match(path.name):
            raise OptionsError(f"--metadata {path}: expected one of CNCB's metadata files ({SCANS_CSV}, "
                               f"{LESIONS_CSV}, metadata.csv)")
        if contains(out, path):
            raise OptionsError(f"--metadata {path} is inside OUT ({out}); give a copy from elsewhere")
    names = Counter(path.name for path in options.metadata)
    repeated = sorted(name for name, count in names.items() if count > 1)
    if repeated:
        raise OptionsError(f"--metadata names {', '.join(repeated)} more than once")
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OptionsError(f"OUT ({out}) exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not options.force:
            raise OptionsError(f"OUT ({out}) exists and is not empty; give a new folder, or --force to replace it "
                               "once the new tree is complete")
        why = _not_ours(out)
        if why:
            raise OptionsError(f"--force replaces only a folder written by curator ingest-slices, and OUT ({out}) is "
                               f"not one: {why}. Give a new folder, or move its contents away yourself")
    if not out.resolve().parent.is_dir():
        raise OptionsError(f"the folder OUT is to be made in ({out.resolve().parent}) does not exist")
    parts = options.flat_case.split("/")
    if not 1 <= len(parts) <= MAX_CASE_DEPTH or not all(_FOLDER.match(p) for p in parts) \
            or name_problems(options.flat_case):
        raise OptionsError(f"--case {options.flat_case!r}: a case is 1 to 3 folder names of ASCII letters, digits, "
                           "_ and - (e.g. 0 or CP/1/1)")
    if not 1 <= options.digits <= 9:
        raise OptionsError(f"slice numbers padded to {options.digits} digits: expected 1 to 9")


class _Collector:
    """Lists the files of every input (archive members by name: nothing is extracted here)."""

    def __init__(self) -> None:
        self.files: list[_File] = []
        self.findings: list[Finding] = []
        self.parts: list[tuple[int, str]] = []   # archives found in folder inputs: (the folder's input, path in it)

    def _add(self, side: str, source: int, item: _Input, rel: str, path: Path, size: int) -> None:
        label = f"{item.label}/{rel}"
        if is_junk(rel):
            self.findings.append(make_finding("FILE_JUNK", label, severity=Severity.info, input=item.label))
            return
        self.files.append(_File(len(self.files), side, source, rel, label, path, size))

    def folder(self, source: int, item: _Input) -> None:
        for folder, dirs, names in os.walk(item.path):
            dirs.sort()
            base = Path(folder)
            for name in sorted(dirs):
                if (base / name).is_symlink():
                    rel = (base / name).relative_to(item.path).as_posix()
                    self.findings.append(make_finding("FILE_UNSAFE", f"{item.label}/{rel}", kind="symbolic link"))
            for name in sorted(names):
                path = base / name
                rel = path.relative_to(item.path).as_posix()
                if path.is_symlink() or not path.is_file():
                    kind = "symbolic link" if path.is_symlink() else "special file"
                    self.findings.append(make_finding("FILE_UNSAFE", f"{item.label}/{rel}", kind=kind))
                    continue
                if path.name.lower().endswith(ARCHIVE_SUFFIXES) and archive_kind(path) is not None:
                    self.parts.append((source, rel))   # a folder of parts (CP-1.zip .. CP-32.zip): read each
                    continue
                self._add(item.side, source, item, rel, path, path.stat().st_size)

    def archive(self, source: int, item: _Input, limits: Limits) -> None:
        """List the members by name (their data is read later, once the member is known to be wanted); a part
        that is unsafe or damaged is refused whole."""
        item.sha256, item.size = sha256_of(item.path), item.path.stat().st_size
        names: list[str] = []

        def listed(name: str) -> bool:
            names.append(name)
            return False   # no data yet: a zip is judged from its central directory alone

        if _refused(item, limits, self.findings, lambda: _drain(iter_members(item.path, limits, want=listed))):
            return
        for name in names:   # folders and OS litter are skipped by iter_members
            self._add(item.side, source, item, name, item.path, 0)


def _drain(members: Iterator[Member]) -> None:
    for _ in members:
        pass


def _refused(item: _Input, limits: Limits, findings: list[Finding], read: Callable[[], None]) -> bool:
    """Run ``read`` (which reads the archive of ``item``); a problem refuses the whole part with a finding."""
    try:
        read()
    except ArchiveProblem as problem:
        findings.append(_archive_finding(item, problem, limits))
    except ArchiveToolMissing as missing:
        raise OptionsError(f"{INPUT_FLAGS[item.side]} {item.label}: {missing}") from missing
    except OSError as error:
        findings.append(make_finding("ARCHIVE_CORRUPT", item.label,
                                     reason=f"cannot be read ({error.strerror or error})"))
    else:
        return False
    item.refused = True
    return True


def _archive_finding(item: _Input, problem: ArchiveProblem, limits: Limits) -> Finding:
    context: dict[str, Any] = {"member": problem.member, "reason": problem.message, **problem.context}
    return make_finding(problem.code, item.label, **context)


def _side_prefix(side: str, rels: list[str]) -> str:
    """``image/`` (``mask/``) when the tree holds the side's own folder at its top, or one level down under a
    single top folder (``ct_lesion_seg/image/``); else ""."""
    for depth in (0, 1):
        found = {"/".join(parts[: depth + 1]) + "/" for rel in rels
                 if len(parts := rel.split("/")) > depth + 1 and parts[depth] == side}
        if len(found) == 1:
            return found.pop()
        if found:
            return ""
    return ""


def _choose_prefixes(inputs: list[_Input], files: list[_File]) -> list[_File]:
    """An input holding the side's own folder (image/, mask/) is read from that folder only: one archive holding
    both trees can be given as --images and as --masks."""
    by_source: dict[int, list[_File]] = {}
    for item in files:
        by_source.setdefault(item.source, []).append(item)
    kept: list[_File] = []
    for source, members in sorted(by_source.items()):
        given = inputs[source]
        given.prefix = _side_prefix(given.side, [m.rel for m in members])
        for member in members:
            if member.rel.startswith(given.prefix):
                member.name = member.rel[len(given.prefix) :]
                kept.append(member)
    return kept


def _case_and_slice(name: str, options: IngestSlicesOptions) -> tuple[str, str] | str:
    """(case, slice) for a path inside a tree, or why it cannot be given a portable name."""
    *folders, filename = name.split("/")
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    case = "/".join(folders) if folders else options.flat_case
    if len(folders) > MAX_CASE_DEPTH:
        return (f"case folders are 1 or 3 levels deep (<n> or <label>/<patient_id>/<scan_id>); this slice is "
                f"{len(folders)} folders deep")
    bad = [part for part in folders if not _FOLDER.match(part)]
    if bad:
        return (f"case folder {bad[0]!r} has characters other than ASCII letters, digits, _ and -; rename the "
                "folder (a case number or CNCB's <label>/<patient_id>/<scan_id>)")
    problems = name_problems(case)
    if problems:
        return f"case folder {case}: {problems[0]}"
    if not (stem.isascii() and stem.isdigit()):
        return f"slice name {stem!r} is not a number; slices are numbered within their case (0008.png)"
    return case, f"{int(stem):0{options.digits}d}"


# --- one file: strip, verify, judge ------------------------------------------------------------------------

def _decode(data: bytes, fmt: str) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = Image.open(io.BytesIO(data), formats=[fmt])
        if image.width * image.height > MAX_DECODE_PIXELS:
            raise SliceFormatError(f"{image.width} x {image.height} pixels is more than a CT slice has "
                                   f"(limit {MAX_DECODE_PIXELS} pixels); not decoded")
        image.load()
    return image


def _same_pixels(original: Image.Image, copy: Image.Image) -> bool:
    return (original.mode == copy.mode and original.size == copy.size and original.tobytes() == copy.tobytes()
            and original.getpalette() == copy.getpalette()
            and original.info.get("transparency") == copy.info.get("transparency"))


def _values(image: Image.Image) -> list[int] | None:
    """The values of a single-channel image (palette images: their indices); None for other modes."""
    if image.mode == "1":
        pixels = np.asarray(image).astype(np.uint8)
    else:
        pixels = np.asarray(image)
    if pixels.ndim != 2:
        return None
    if pixels.dtype.kind == "u" and pixels.dtype.itemsize <= 2:
        return [int(v) for v in np.flatnonzero(np.bincount(pixels.ravel()))]
    return [int(v) for v in np.unique(pixels)]


def _orientation(image: Image.Image) -> int | None:
    try:
        value = image.getexif().get(0x0112)
    except Exception:  # a damaged EXIF block only means there is no orientation to report
        return None
    return value if isinstance(value, int) and value != 1 else None


@dataclass(frozen=True)
class _Task:
    file: _File
    target: Path
    labels: tuple[int, ...]
    data: bytes | None = None   # an archive member's bytes; None: read the file at file.path


def _process(task: _Task) -> _Read:
    """Strip one file's metadata into ``target``, verify its pixels and, for a mask, its mode and values."""
    item, read = task.file, _Read()
    suffix = Path(item.rel).suffix.lower()
    try:
        if item.size > MAX_SLICE_BYTES:
            raise SliceFormatError(f"{item.size} bytes is more than a slice has (limit {MAX_SLICE_BYTES}); not read")
        data = item.path.read_bytes() if task.data is None else task.data
    except SliceFormatError as error:
        read.problems.append(("IMAGE_UNREADABLE", {"reason": str(error)}))
        return read
    except OSError as error:
        read.problems.append(("IMAGE_UNREADABLE", {"reason": f"cannot read the file ({error.strerror or error})"}))
        return read
    read.sha256_in = hashlib.sha256(data).hexdigest()
    if not data.startswith((PNG_SIGNATURE, JPEG_SIGNATURE)) and suffix not in IMAGE_SUFFIXES:
        read.slice = False   # a README, a CSV, ...: not part of either tree
        return read
    try:
        stripped = strip_metadata(data)
        original = _decode(data, stripped.format)
        # nothing removed: the copy is the file, byte for byte, and one decode is enough
        copy = original if stripped.data == data else _decode(stripped.data, stripped.format)
    except SliceFormatError as error:
        read.problems.append(("IMAGE_UNREADABLE", {"reason": f"not a usable PNG or JPEG file: {error}"}))
        return read
    except Exception as error:  # Pillow raises many types for damaged data; all mean "cannot decode"
        read.problems.append(("IMAGE_UNREADABLE", {"reason": f"the pixel data cannot be decoded: {error}"}))
        return read
    if not _same_pixels(original, copy):
        read.problems.append(("IMAGE_UNREADABLE", {"reason": "the copy without metadata does not decode to the same "
                                                             "pixels as the file; it was not used"}))
        return read
    read.format, read.removed, read.trailing = stripped.format, stripped.removed, stripped.trailing
    read.width, read.height, read.mode = copy.width, copy.height, copy.mode
    if stripped.format == "JPEG":
        read.orientation = _orientation(original)
    if item.side == "mask":
        values = _values(copy) if stripped.format == "PNG" and copy.mode in MASK_MODES else None
        if values is None:
            read.problems.append(("MASK_MODE_INVALID", {"format": stripped.format, "mode": copy.mode,
                                                        "allowed": list(MASK_MODES)}))
            return read
        bad = sorted(set(values) - set(task.labels))
        if bad:
            read.problems.append(("MASK_VALUES_UNEXPECTED", {"values": bad, "allowed": sorted(task.labels)}))
            return read
    try:
        task.target.write_bytes(stripped.data)
    except OSError as error:   # our own folder, not the input: the run cannot go on (exit 3)
        raise (output_error(error, [task.target]) or OutputError(str(task.target), str(error.strerror or error))) \
            from error
    read.sha256, read.size = hashlib.sha256(stripped.data).hexdigest(), len(stripped.data)
    return read


def _read_all(inputs: list[_Input], files: list[_File], clean: Path, labels: tuple[int, ...],
              options: IngestSlicesOptions, findings: list[Finding]) -> dict[int, _Read]:
    """Process every file: loose files from disk, archive members in batches held in memory (bounded by
    BATCH_BYTES), so nothing is extracted. A part refused on this second read loses what it gave."""
    reads: dict[int, _Read] = {}
    total, done = len(files), 0

    def run(tasks: list[_Task]) -> None:
        nonlocal done
        offset = done
        progress = options.progress
        report = (lambda finished, _: progress(offset + finished, total)) if progress else None
        reads.update(zip((task.file.index for task in tasks), run_tasks(_process, tasks, options.jobs,
                                                                        progress=report), strict=True))
        done += len(tasks)

    run([_Task(item, clean / str(item.index), labels) for item in files if inputs[item.source].kind == "folder"])
    members: dict[int, dict[str, _File]] = {}
    for item in files:
        if inputs[item.source].kind != "folder":
            members.setdefault(item.source, {})[item.rel] = item
    for source, wanted in members.items():
        given = inputs[source]
        batch: list[_Task] = []

        def read(given: _Input = given, wanted: dict[str, _File] = wanted, batch: list[_Task] = batch) -> None:
            size = 0
            for member in iter_members(given.path, options.limits, want=lambda name: name in wanted):
                item = wanted[member.name]
                item.size = member.size
                data = member.read_bytes() if member.size <= MAX_SLICE_BYTES else b""   # _process refuses larger
                batch.append(_Task(item, clean / str(item.index), labels, data))
                size += member.size
                if size >= BATCH_BYTES or len(batch) >= BATCH_FILES:
                    run(batch)
                    batch.clear()
                    size = 0
            run(batch)

        if _refused(given, options.limits, findings, read):
            for item in wanted.values():   # what was read of it before the problem is dropped too
                reads.pop(item.index, None)
                (clean / str(item.index)).unlink(missing_ok=True)
            continue
        for item in wanted.values():
            if item.index not in reads:   # listed by the first read, not met by the second: the part changed
                reads[item.index] = _Read(problems=[("IMAGE_UNREADABLE", {
                    "reason": "the archive no longer holds this member (did it change during the run?)"})])
    return reads


# --- pairing -----------------------------------------------------------------------------------------------

@dataclass
class _Pairing:
    pairs: dict[tuple[str, str], tuple[_File, _File]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    left_out: int = 0


def _counterpart(inputs: list[_Input], side: str, item: _File) -> str:
    """Where the counterpart of ``item`` would be in the other tree."""
    other = "mask" if side == "image" else "image"
    stem = item.name.rsplit(".", 1)[0] if "." in item.name.rsplit("/", 1)[-1] else item.name
    extension = ".png" if other == "mask" else ".jpg"
    candidates = [given for given in inputs if given.side == other]
    if len(candidates) == 1:
        return f"{candidates[0].label}/{candidates[0].prefix}{stem}{extension}"
    return f"{stem}{extension} (in none of the {len(candidates)} {INPUT_FLAGS[other]} inputs)"


def _case_folder(inputs: list[_Input], item: _File) -> str:
    given = inputs[item.source]
    folder = item.name.rsplit("/", 1)[0] if "/" in item.name else ""
    return f"{given.label}/{given.prefix}{folder}".rstrip("/")


def _pair(inputs: list[_Input], files: list[_File], reads: dict[int, _Read]) -> _Pairing:
    result = _Pairing()
    slots: dict[tuple[str, str], dict[str, list[_File]]] = {}
    for item in files:
        slots.setdefault((item.case, item.slice), {"image": [], "mask": []})[item.side].append(item)
    present = {side: {case for (case, _), sides in slots.items() if sides[side]} for side in SIDES}

    unpaired: dict[tuple[str, str], list[_File]] = {}     # (side, case) -> its slices, when the case is one-sided
    for (case, name), sides in sorted(slots.items()):
        usable = True
        for side in SIDES:
            for extra in sides[side][1:]:
                result.findings.append(make_finding("SLICE_DUPLICATE", extra.label, other=sides[side][0].label,
                                                    case=case, slice=name))
                usable = False
        for side, other in (("image", "mask"), ("mask", "image")):
            if sides[side] and not sides[other]:
                usable = False
                if case not in present[other]:
                    unpaired.setdefault((side, case), []).append(sides[side][0])
                else:
                    item = sides[side][0]
                    result.findings.append(make_finding("SLICE_PAIR_MISSING", item.label, side=side, case=case,
                                                        slice=name, counterpart=_counterpart(inputs, side, item)))
        if usable and all(reads[f.index].usable for side in SIDES for f in sides[side]):
            image, mask = sides["image"][0], sides["mask"][0]
            image_read, mask_read = reads[image.index], reads[mask.index]
            if (image_read.width, image_read.height) != (mask_read.width, mask_read.height):
                result.findings.append(make_finding(
                    "SLICE_SIZE_MISMATCH", mask.label, image=image.label,
                    mask_size=f"{mask_read.width}x{mask_read.height}",
                    image_size=f"{image_read.width}x{image_read.height}", case=case, slice=name))
                usable = False
        else:
            usable = False
        if usable:
            result.pairs[(case, name)] = (sides["image"][0], sides["mask"][0])
        else:
            result.left_out += 1
    for (side, case), items in sorted(unpaired.items()):
        other = "mask" if side == "image" else "image"
        folder = _case_folder(inputs, items[0])
        candidates = [given for given in inputs if given.side == other]
        folder_rel = items[0].name.rsplit("/", 1)[0] if "/" in items[0].name else ""
        counterpart = (f"{candidates[0].label}/{candidates[0].prefix}{folder_rel}".rstrip("/")
                       if len(candidates) == 1 else f"case {case} in the {INPUT_FLAGS[other]} inputs")
        result.findings.append(make_finding("SLICE_CASE_UNPAIRED", folder, slices=len(items), counterpart=counterpart,
                                            case=case, side=side))
    return result


def _collisions(pairs: dict[tuple[str, str], tuple[_File, _File]], inputs: list[_Input]) -> list[Finding]:
    """Cases whose names differ only in letter case (one folder on macOS and Windows) are left out (the later
    one in sorted order); ``pairs`` loses them."""
    cases = {case for case, _ in pairs}
    findings: list[Finding] = []
    for case, earlier in sorted(case_collisions(cases).items()):
        items = [pair for key, pair in pairs.items() if key[0] == case]
        findings.append(make_finding(
            "FILE_NAME_INVALID", _case_folder(inputs, items[0][0]), case=case,
            reason=f"case {case} differs from case {earlier} only in letter case, so the two would be one folder on "
                   "macOS and Windows; rename one of them"))
        for key in [key for key in pairs if key[0] == case]:
            del pairs[key]
    return findings


# --- output ------------------------------------------------------------------------------------------------

def _json(document: Any) -> bytes:
    return (json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _provenance(inputs: list[_Input], written: list[dict[str, Any]], labels: tuple[int, ...],
                options: IngestSlicesOptions, metadata: list[dict[str, Any]], counts: dict[str, Any],
                stripped: dict[str, Any]) -> bytes:
    import PIL

    cases = Counter(entry["case"] for entry in written)
    profile = get_profile(PROFILE)
    document = {
        "tool": {"name": "curator", "version": __version__, "command": "ingest-slices"},
        "libraries": {"pillow": PIL.__version__, "numpy": np.__version__},
        "profile": PROFILE,
        "labels": list(labels),
        "naming": {
            "image": "image/{case}/{slice}.jpg (JPEG) or .png (PNG)", "mask": profile.pattern_for("mask").template,
            "slice": f"the file's number, zero-padded to {options.digits} digits",
            "case": "the slice's folder path inside its input, kept as it is (1 or 3 levels)",
            "flat_case": options.flat_case,
        },
        "inputs": [{"side": given.side, "name": given.name, "kind": given.kind, "read_from": _public_prefix(given),
                    "sha256": given.sha256, "bytes": given.size, "files": given.files,
                    **({"refused": True} if given.refused else {})}
                   for given in sorted(inputs, key=lambda g: g.order)],
        "anonymisation": {
            "png": "chunks tEXt, zTXt, iTXt, tIME and eXIf and bytes after IEND left out; every other chunk copied "
                   "byte for byte with its CRC",
            "jpeg": "segments APP1 (EXIF, XMP), APP2 other than ICC, APP3..APP13, APP15 and COM and bytes after EOI "
                    "left out; APP0, ICC profile, APP14, tables and scan data copied byte for byte (no re-encoding)",
            "verified": "each copy decodes (Pillow) to the same mode, size, pixels and palette as its input",
            "removed": stripped,
        },
        "counts": {"pairs": len(written), "cases": len(cases), **counts},
        "cases": {case: {"slices": count} for case, count in sorted(cases.items())},
        "metadata": metadata,
        "slices": written,
    }
    return _json(document)


def _report(out: Path, findings: list[Finding], started: float, files: int, size: int,
            extra: dict[str, Any]) -> Report:
    counts = Counts()
    for finding in findings:
        setattr(counts, finding.severity.value, getattr(counts, finding.severity.value) + 1)
    findings.sort(key=lambda f: (sort_index(f.severity.value), f.code, f.path))
    stats = Stats(files=files, bytes=size, seconds=round(time.perf_counter() - started, 3), **extra)
    return Report(version=__version__, root=str(out), profile=PROFILE, valid=counts.error == 0, counts=counts,
                  stats=stats, findings=findings)


def _listing_digest(lines: list[str]) -> str:
    return hashlib.sha256("".join(sorted(lines)).encode("utf-8")).hexdigest()


def _metadata(folder: Path, paths: Sequence[Path]) -> tuple[list[dict[str, Any]], list[Finding]]:
    copied: list[dict[str, Any]] = []
    findings: list[Finding] = []
    for path in sorted(paths, key=lambda p: p.name):
        try:
            if path.name == SCANS_CSV:
                read_scans(path)
            elif path.name == LESIONS_CSV:
                read_lesions(path)
            data = path.read_bytes()
        except MetadataError as error:
            findings.append(make_finding("METADATA_UNREADABLE", path.as_posix(), reason=str(error)))
            continue
        except OSError as error:
            findings.append(make_finding("METADATA_UNREADABLE", path.as_posix(),
                                         reason=f"cannot read the file ({error.strerror or error})"))
            continue
        (folder / path.name).write_bytes(data)
        copied.append({"name": path.name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})
    return copied, findings


def ingest_slices(images: Sequence[Path], masks: Sequence[Path], out: Path,
                  options: IngestSlicesOptions | None = None) -> Report:
    """Pair, anonymise and write the slices of ``images`` and ``masks`` (folders and archive parts) into ``out``.

    Raises OptionsError for unusable arguments (exit 2); everything wrong with the data is a finding in the
    report, and the pairs it concerns are left out. The inputs are only read.
    """
    started = time.perf_counter()
    options = options or IngestSlicesOptions()
    out = Path(out)
    labels = tuple(sorted(set(options.labels if options.labels is not None else get_profile(PROFILE).labels)))
    inputs = _inputs(images, masks)
    _check_places(inputs, out, options)
    with lock(out):
        _check_places(inputs, out, options)   # again, under the lock: another run may have written OUT meanwhile
        with staged(out, replace=True) as stage:   # a non-empty OUT was checked to be ours, and --force given
            return _ingest(inputs, out, stage.root, labels, options, started)


def _ingest(inputs: list[_Input], out: Path, temporary: Path, labels: tuple[int, ...],
            options: IngestSlicesOptions, started: float) -> Report:
    work = temporary / ".work"
    (work / "clean").mkdir(parents=True)
    collector = _Collector()
    for source, given in enumerate(list(inputs)):
        if given.kind == "folder":
            collector.folder(source, given)
        else:
            collector.archive(source, given, options.limits)
    parts: Counter[int] = Counter()
    for folder, rel in collector.parts:   # archive parts inside a folder input: parts of the same tree
        given = inputs[folder]
        path = given.path / rel
        parts[folder] += 1
        inputs.append(_Input(given.side, path, f"{given.label}/{rel}", str(archive_kind(path)),
                             f"{given.name}/part-{parts[folder]}", (*given.order[:2], parts[folder])))
        collector.archive(len(inputs) - 1, inputs[-1], options.limits)
    findings = collector.findings
    files = _choose_prefixes(inputs, collector.files)
    reads = _read_all(inputs, files, work / "clean", labels, options, findings)
    files = [item for item in files if not inputs[item.source].refused]
    slices: list[_File] = []
    ignored = 0
    listings: dict[int, list[str]] = {}
    for item in files:
        read = reads[item.index]
        if read.sha256_in:
            inputs[item.source].files += 1
            if inputs[item.source].kind == "folder":
                listings.setdefault(item.source, []).append(f"{read.sha256_in}  {item.rel}\n")
                inputs[item.source].size += item.size
        if not read.slice:
            ignored += 1
            continue
        findings.extend(make_finding(code, item.label, **context) for code, context in read.problems)
        placed = _case_and_slice(item.name, options)
        if isinstance(placed, str):
            findings.append(make_finding("FILE_NAME_INVALID", item.label, reason=placed))
            continue
        item.case, item.slice = placed
        slices.append(item)
    for source, lines in listings.items():
        inputs[source].sha256 = _listing_digest(lines)

    pairing = _pair(inputs, slices, reads)
    findings.extend(pairing.findings)
    before = len(pairing.pairs)
    findings.extend(_collisions(pairing.pairs, inputs))
    pairing.left_out += before - len(pairing.pairs)
    profile = get_profile(PROFILE)
    patterns = {side: profile.pattern_for(side).regex for side in SIDES}

    written: list[dict[str, Any]] = []
    removed: Counter[str] = Counter()
    trailing_files = trailing_bytes = orientations = total = 0
    for (case, name), pair in sorted(pairing.pairs.items()):
        entry: dict[str, Any] = {"case": case, "slice": name}
        for side, item in zip(SIDES, pair, strict=True):
            read = reads[item.index]
            rel = f"{side}/{case}/{name}.{_EXTENSIONS[read.format]}"
            if not patterns[side].match(rel):  # the naming above follows the profile; this keeps it honest
                raise AssertionError(f"{rel} does not match the {PROFILE} profile's {side} pattern")
            target = temporary / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            move(work / "clean" / str(item.index), target)
            given = inputs[item.source]
            entry[side] = {"path": rel, "from": f"{given.name}/{item.name}", "source_sha256": read.sha256_in,
                           "sha256": read.sha256, "bytes": read.size,
                           **({"removed": list(read.removed)} if read.removed else {}),
                           **({"trailing_bytes": read.trailing} if read.trailing else {}),
                           **({"exif_orientation": read.orientation} if read.orientation else {})}
            removed.update(read.removed)
            trailing_files += bool(read.trailing)
            trailing_bytes += read.trailing
            orientations += bool(read.orientation)
            total += read.size
        written.append(entry)
    shutil.rmtree(work)

    copied, metadata_findings = _metadata(temporary, options.metadata)
    findings.extend(metadata_findings)
    # codes and counts only: the findings name input files, and what was left out may carry names that must not
    # be published (they stay in the report, with the curator)
    reported = Counter(f.code for f in findings if f.severity != Severity.info)
    counts = {"pairs_left_out": pairing.left_out, "findings": dict(sorted(reported.items()))}
    stripped = {"items": dict(sorted(removed.items())), "trailing_bytes": {"files": trailing_files,
                                                                          "bytes": trailing_bytes},
                "exif_orientation_dropped": orientations}
    (temporary / "provenance.json").write_bytes(
        _provenance(inputs, written, labels, options, copied, counts, stripped))
    cases = len({entry["case"] for entry in written})
    return _report(out, findings, started, 2 * len(written), total, {
        "pairs": len(written), "cases": cases, "pairs_left_out": pairing.left_out,
        "files_ignored": ignored, "removed": dict(sorted(removed.items())),
        "trailing_bytes": {"files": trailing_files, "bytes": trailing_bytes},
        "exif_orientation_dropped": orientations, "metadata": [entry["name"] for entry in copied],
        # the inputs' own names, for the curator only: OUT calls them by their labels
        "inputs": [{"name": given.name, "path": given.label, "read_from": given.prefix or "/"}
                   for given in sorted(inputs, key=lambda g: g.order)]})

