"""ingest-slices, step 2: each file read once (loose files from disk, archive members in bounded batches), its
metadata stripped without re-encoding, the copy verified to decode to the same pixels, and a mask judged."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from curator.anonymise.images import SliceFormatError, strip_metadata
from curator.errors import OutputError
from curator.executor import run_tasks
from curator.ingest.slices_inputs import IngestSlicesOptions, SliceFile, SliceInput, read_or_refuse
from curator.ingest.slices_labels import LabelPlan, remap_mask
from curator.io.archive_read import iter_members
from curator.io.formats import JPEG_SIGNATURE, PNG_SIGNATURE
from curator.io.slices import LABEL_MODES, MAX_DECODE_PIXELS, label_counts
from curator.models.findings import Finding
from curator.outputs import output_error

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".dcm")
MAX_SLICE_BYTES = 256 << 20     # a 1024 x 1024 16-bit slice is ~2 MB; a "slice" this big is not read into memory
BATCH_BYTES = 256 << 20         # archive members held in memory at once, processed together on threads
BATCH_FILES = 512


@dataclass
class SliceRead:
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
    pixels_before: dict[int, int] | None = None   # a remapped mask: value -> pixels in the input
    pixels_after: dict[int, int] | None = None    # ... and in the mask written

    @property
    def usable(self) -> bool:
        return self.slice and not self.problems



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


def _orientation(image: Image.Image) -> int | None:
    try:
        value = image.getexif().get(0x0112)
    except Exception:  # a damaged EXIF block only means there is no orientation to report
        return None
    return value if isinstance(value, int) and value != 1 else None


@dataclass(frozen=True)
class ReadTask:
    file: SliceFile
    target: Path
    labels: LabelPlan
    data: bytes | None = None   # an archive member's bytes; None: read the file at file.path


def process_file(task: ReadTask) -> SliceRead:
    """Strip one file's metadata into ``target``, verify its pixels and, for a mask, its mode and values."""
    item, read = task.file, SliceRead()
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
    output = _judge_mask(copy, stripped.data, stripped.format, task.labels, read) if item.side == "mask" \
        else stripped.data
    if output is None:
        return read
    try:
        task.target.write_bytes(output)
    except OSError as error:   # our own folder, not the input: the run cannot go on (exit 3)
        raise (output_error(error, [task.target]) or OutputError(str(task.target), str(error.strerror or error))) \
            from error
    read.sha256, read.size = hashlib.sha256(output).hexdigest(), len(output)
    return read


def _judge_mask(copy: Image.Image, data: bytes, fmt: str, plan: LabelPlan, read: SliceRead) -> bytes | None:
    """The bytes to write for a mask (its stripped copy, or the remapped PNG), or None with the problem noted."""
    counts = label_counts(copy) if fmt == "PNG" else None
    if counts is None:
        read.problems.append(("MASK_MODE_INVALID", {"format": fmt, "mode": copy.mode, "allowed": list(LABEL_MODES)}))
        return None
    bad = sorted(set(counts) - set(plan.allowed))
    if bad:
        scheme = {"scheme": plan.source} if plan.source else {}
        read.problems.append(("MASK_VALUES_UNEXPECTED", {"values": bad, "allowed": list(plan.allowed), **scheme}))
        return None
    if not plan.remaps:
        return data
    remapped = remap_mask(copy, plan.table)
    read.pixels_before, read.pixels_after = remapped.before, remapped.after
    read.mode = "L" if max(plan.written) <= 255 else "I;16"
    return remapped.data


def read_all(inputs: list[SliceInput], files: list[SliceFile], clean: Path, labels: LabelPlan,
              options: IngestSlicesOptions, findings: list[Finding]) -> dict[int, SliceRead]:
    """Process every file: loose files from disk, archive members in batches held in memory (bounded by
    BATCH_BYTES), so nothing is extracted. A part refused on this second read loses what it gave."""
    reads: dict[int, SliceRead] = {}
    total, done = len(files), 0

    def run(tasks: list[ReadTask]) -> None:
        nonlocal done
        offset = done
        progress = options.progress
        report = (lambda finished, _: progress(offset + finished, total)) if progress else None
        reads.update(zip((task.file.index for task in tasks), run_tasks(process_file, tasks, options.jobs,
                                                                        progress=report), strict=True))
        done += len(tasks)

    run([ReadTask(item, clean / str(item.index), labels) for item in files if inputs[item.source].kind == "folder"])
    members: dict[int, dict[str, SliceFile]] = {}
    for item in files:
        if inputs[item.source].kind != "folder":
            members.setdefault(item.source, {})[item.rel] = item
    for source, wanted in members.items():
        given = inputs[source]
        batch: list[ReadTask] = []

        def read(given: SliceInput = given, wanted: dict[str, SliceFile] = wanted,
                 batch: list[ReadTask] = batch) -> None:
            size = 0
            for member in iter_members(given.path, options.limits, want=lambda name: name in wanted):
                item = wanted[member.name]
                item.size = member.size
                data = member.read_bytes() if member.size <= MAX_SLICE_BYTES else b""   # process_file refuses larger
                batch.append(ReadTask(item, clean / str(item.index), labels, data))
                size += member.size
                if size >= BATCH_BYTES or len(batch) >= BATCH_FILES:
                    run(batch)
                    batch.clear()
                    size = 0
            run(batch)

        if read_or_refuse(given, options.limits, findings, read):
            for item in wanted.values():   # what was read of it before the problem is dropped too
                reads.pop(item.index, None)
                (clean / str(item.index)).unlink(missing_ok=True)
            continue
        for item in wanted.values():
            if item.index not in reads:   # listed by the first read, not met by the second: the part changed
                reads[item.index] = SliceRead(problems=[("IMAGE_UNREADABLE", {
                    "reason": "the archive no longer holds this member (did it change during the run?)"})])
    return reads
