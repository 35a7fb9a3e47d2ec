"""ingest-slices, step 1: the inputs (folders and archive parts), the checks on them and on OUT, the listing of
their files (archive members by name, nothing extracted) and the portable case/slice name of each file."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curator.catalogue import make_finding
from curator.checks.names import is_junk, name_problems
from curator.errors import OptionsError
from curator.executor import Progress
from curator.io.archive_read import ArchiveProblem, ArchiveToolMissing, Limits, Member, archive_kind, iter_members
from curator.io.hashing import sha256_of
from curator.io.slices import LABELS_FILE, LESIONS_CSV, SCANS_CSV
from curator.models.findings import Finding, Severity
from curator.outputs import contains, overlap

SIDES = ("image", "mask")
INPUT_FLAGS = {"image": "--images", "mask": "--masks"}
INPUT_LABELS = {"image": "images", "mask": "masks"}     # images-1, masks-2: the inputs as OUT names them
OUTPUT_ENTRIES = {"image", "mask", "provenance.json", LABELS_FILE}   # what ingest-slices writes at the top of
# OUT (and the CSVs)
METADATA_NAMES = re.compile(r"^(unzip_filenames|lesions_slices|metadata)\.csv$")   # the profile's release_files
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".7z", ".rar")
MAX_CASE_DEPTH = 3              # <n> or <label>/<patient_id>/<scan_id>
_FOLDER = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class IngestSlicesOptions:
    """How to ingest. ``labels`` None and ``scheme`` None: the label set of the ``slices`` profile ({0, 1, 2, 3}),
    with no meaning declared. ``scheme``: the masks' own label scheme (its values are the label set); ``to``: remap
    them into this scheme; ``mapping``: remap them by this ``from,to`` file (see curator.ingest.slices_labels)."""

    labels: tuple[int, ...] | None = None
    scheme: str | None = None             # --labels NAME: what the masks' values mean as they come in
    to: str | None = None                 # --to NAME: the scheme the masks are written in
    mapping: Path | None = None           # --map FILE: the curator's own from,to remap
    flat_case: str = "0"                  # case folder for slices at the top of a tree (Inf-Net: Imgs/6.jpg)
    digits: int = 4                       # slice numbers zero-padded to this many digits (CNCB: 0008.png)
    metadata: tuple[Path, ...] = ()       # CNCB's unzip_filenames.csv / lesions_slices.csv / metadata.csv
    force: bool = False                   # replace a non-empty OUT (only once the new tree is complete)
    jobs: int | None = None
    limits: Limits = field(default_factory=Limits)
    progress: Progress | None = field(default=None, compare=False)


# --- inputs ------------------------------------------------------------------------------------------------

@dataclass
class SliceInput:
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
class SliceFile:
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



def list_inputs(images: Sequence[Path], masks: Sequence[Path]) -> list[SliceInput]:
    inputs: list[SliceInput] = []
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
            inputs.append(SliceInput(side, path, path.as_posix(), kind, f"{INPUT_LABELS[side]}-{number}",
                                 (SIDES.index(side), number, 0)))
    return inputs


def public_prefix(given: SliceInput) -> str:
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


def check_places(inputs: list[SliceInput], out: Path, options: IngestSlicesOptions) -> None:
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


class Collector:
    """Lists the files of every input (archive members by name: nothing is extracted here)."""

    def __init__(self) -> None:
        self.files: list[SliceFile] = []
        self.findings: list[Finding] = []
        self.parts: list[tuple[int, str]] = []   # archives found in folder inputs: (the folder's input, path in it)

    def _add(self, side: str, source: int, item: SliceInput, rel: str, path: Path, size: int) -> None:
        label = f"{item.label}/{rel}"
        if is_junk(rel):
            self.findings.append(make_finding("FILE_JUNK", label, severity=Severity.info, input=item.label))
            return
        self.files.append(SliceFile(len(self.files), side, source, rel, label, path, size))

    def folder(self, source: int, item: SliceInput) -> None:
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

    def archive(self, source: int, item: SliceInput, limits: Limits) -> None:
        """List the members by name (their data is read later, once the member is known to be wanted); a part
        that is unsafe or damaged is refused whole."""
        item.sha256, item.size = sha256_of(item.path), item.path.stat().st_size
        names: list[str] = []

        def listed(name: str) -> bool:
            names.append(name)
            return False   # no data yet: a zip is judged from its central directory alone

        if read_or_refuse(item, limits, self.findings, lambda: _drain(iter_members(item.path, limits, want=listed))):
            return
        for name in names:   # folders and OS litter are skipped by iter_members
            self._add(item.side, source, item, name, item.path, 0)


def _drain(members: Iterator[Member]) -> None:
    for _ in members:
        pass


def read_or_refuse(item: SliceInput, limits: Limits, findings: list[Finding], read: Callable[[], None]) -> bool:
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


def _archive_finding(item: SliceInput, problem: ArchiveProblem, limits: Limits) -> Finding:
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


def choose_prefixes(inputs: list[SliceInput], files: list[SliceFile]) -> list[SliceFile]:
    """An input holding the side's own folder (image/, mask/) is read from that folder only: one archive holding
    both trees can be given as --images and as --masks."""
    by_source: dict[int, list[SliceFile]] = {}
    for item in files:
        by_source.setdefault(item.source, []).append(item)
    kept: list[SliceFile] = []
    for source, members in sorted(by_source.items()):
        given = inputs[source]
        given.prefix = _side_prefix(given.side, [m.rel for m in members])
        for member in members:
            if member.rel.startswith(given.prefix):
                member.name = member.rel[len(given.prefix) :]
                kept.append(member)
    return kept


def case_and_slice(name: str, options: IngestSlicesOptions) -> tuple[str, str] | str:
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
