"""Reading 2D slice datasets (profile ``slices``, the CNCB layout): image and mask headers, mask values,
and CNCB's metadata CSVs. No judgement here: what cannot be read is recorded as a reason, never raised.

``gather(facts)`` is the profile's gatherer; it stores a ``SliceFacts`` in ``facts.slices``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from curator.executor import run_tasks
from curator.io import ReadError
from curator.io.codestreams import png_bit_depth
from curator.io.regular import read_regular_bytes

if TYPE_CHECKING:
    from curator.io.facts import Facts

__all__ = [
    "LABELS_FILE",
    "LABEL_MODES",
    "LESIONS_CSV",
    "SCANS_CSV",
    "LesionRow",
    "MetadataError",
    "RowProblem",
    "ScanRow",
    "SliceFacts",
    "SliceHeader",
    "gather",
    "label_counts",
    "label_pixels",
    "read_label_declaration",
    "read_lesions",
    "read_scans",
    "read_slice",
]

# CNCB's metadata files (ncov-ai.big.ac.cn), at the top of the release, and the columns each must have
SCANS_CSV = "unzip_filenames.csv"
SCANS_COLUMNS = ("zip_file", "label", "patient_id", "scan_id", "n_slice")
LESIONS_CSV = "lesions_slices.csv"
LESIONS_COLUMNS = ("imgpath",)
# what the masks' values mean, as curator ingest-slices declares it (a dataset.yaml label_scheme comes first)
LABELS_FILE = "labels.yaml"
MAX_LABELS_FILE = 64 << 10

FORMATS = ("PNG", "JPEG")
MAX_DECODE_PIXELS = 4096 * 4096   # a CT slice is 512..1024 pixels square; bigger is not decoded (memory bound)
MAX_ROWS = 5_000_000              # CNCB's largest list has 58,766 rows
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


class MetadataError(ReadError):
    """A metadata CSV that cannot be read as a table with the expected columns."""


@dataclass(frozen=True)
class SliceHeader:
    """What an image or mask file's header says, and with --deep what its pixels hold."""

    format: str                  # Pillow's format name: "PNG", "JPEG"
    width: int
    height: int
    mode: str                    # Pillow's mode: "1", "L", "P" (palette), "I;16", "RGB", ...
    bit_depth: int | None        # bits per sample (PNG IHDR, JPEG precision); None if the format does not say
    palette: bool
    decoded: bool = False        # --deep: the pixels were decoded
    values: dict[int, int] | None = None   # --deep, masks in an index/grey mode: value (palette index) -> pixels
    decode_error: str | None = None         # --deep: why the pixels could not be decoded

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


@dataclass(frozen=True)
class ScanRow:
    """One scan of ``unzip_filenames.csv``: its slices are in the case folder <label>/<patient_id>/<scan_id>."""

    row: int
    zip_file: str
    label: str
    patient_id: str
    scan_id: str
    n_slice: int

    @property
    def case(self) -> str:
        return f"{self.label}/{self.patient_id}/{self.scan_id}"


@dataclass(frozen=True)
class LesionRow:
    """One row of ``lesions_slices.csv``: a slice said to show lesions."""

    row: int
    case: str        # <label>/<patient_id>/<scan_id>
    slice: str       # the file name without its extension, e.g. "0008"
    name: str        # the file name as listed, e.g. "0008.png"


@dataclass(frozen=True)
class RowProblem:
    row: int
    field: str
    reason: str


@dataclass
class SliceFacts:
    """Everything read about a slice dataset; stored in ``Facts.slices``."""

    files: dict[str, SliceHeader | str] = field(default_factory=dict)  # image/mask path -> header or read error
    scans: list[ScanRow] | None = None          # unzip_filenames.csv, when present and readable
    lesions: list[LesionRow] | None = None      # lesions_slices.csv, when present and readable
    metadata_errors: dict[str, str] = field(default_factory=dict)             # CSV name -> why unreadable
    row_problems: dict[str, list[RowProblem]] = field(default_factory=dict)   # CSV name -> rows that do not parse
    label_scheme: str | None = None             # the scheme LABELS_FILE declares, when present and readable


# --- images and masks ---------------------------------------------------------------------------------------

def _bit_depth(head: bytes, image: Image.Image) -> int | None:
    depth = png_bit_depth(head)
    if depth is not None:
        return depth
    bits = getattr(image, "bits", None)  # JPEG sample precision, from the SOF marker
    return bits if isinstance(bits, int) else None


# single-channel modes whose pixel values are the labels ("P": palette indices); anything else is not a label map
LABEL_MODES = ("1", "L", "P", "I", "I;16", "I;16B", "I;16L", "I;16N")


def label_pixels(image: Image.Image) -> np.ndarray | None:
    """The label values of a mask image as a 2D array, the one reading that validate, ingest-slices and its remap
    share: palette images give their INDICES (never colours), 1-bit images 0 and 1; None for any other mode."""
    if image.mode not in LABEL_MODES:
        return None
    pixels = np.asarray(image)
    if image.mode == "1":   # Pillow gives a bool array: False/True are the labels 0/1
        pixels = pixels.astype(np.uint8)
    return pixels if pixels.ndim == 2 else None


def label_counts(image: Image.Image) -> dict[int, int] | None:
    """Label value -> pixel count of a mask image (see ``label_pixels``); None when its mode holds no labels."""
    pixels = label_pixels(image)
    if pixels is None:
        return None
    flat = pixels.ravel()
    if flat.dtype.kind == "u" and flat.dtype.itemsize <= 2:
        counts = np.bincount(flat)
        values = np.flatnonzero(counts)   # not a Python loop over all 65536 bins of a 16-bit mask
        return dict(zip(values.tolist(), counts[values].tolist(), strict=True))
    values, numbers = np.unique(flat, return_counts=True)
    return dict(zip(values.tolist(), numbers.tolist(), strict=True))


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return f"cannot read the file ({error.strerror})"
    return str(error) or type(error).__name__


def read_slice(path: Path, *, decode: bool = False, count: bool = False,
               opener: Callable[[], BinaryIO] | None = None) -> SliceHeader | str:
    """The header of a PNG or JPEG slice, read without decoding; ``decode`` also decodes the pixels once
    (truncation shows here) and ``count`` counts the values of a single-channel image (a mask).

    Returns the reason as a string when the file is not a readable PNG/JPEG: bad input is never raised.
    ``opener``: how the file is opened when it is not local (an object in a store, read by ranges).
    """
    try:
        with opener() if opener is not None else path.open("rb") as handle:
            head = handle.read(32)
            handle.seek(0)
            with Image.open(handle, formats=FORMATS) as image:
                header = SliceHeader(format=str(image.format), width=image.width, height=image.height,
                                     mode=image.mode, bit_depth=_bit_depth(head, image), palette=image.mode == "P")
                if not decode:
                    return header
                if image.width * image.height > MAX_DECODE_PIXELS:
                    return replace(header, decode_error=(
                        f"{image.width} x {image.height} pixels is more than a CT slice has; not decoded "
                        f"(limit {MAX_DECODE_PIXELS} pixels)"))
                try:
                    image.load()
                    values = label_counts(image) if count else None
                except Exception as error:  # Pillow raises many types for damaged data; all mean "cannot decode"
                    return replace(header, decode_error=f"the pixel data cannot be decoded: {_reason(error)}")
                return replace(header, decoded=True, values=values)
    except UnidentifiedImageError:
        return "not a readable PNG or JPEG image (its header parses as neither format)"
    except Exception as error:  # Pillow raises many types for a damaged header; all mean "cannot read"
        if isinstance(error, OSError) and error.strerror:
            return _reason(error)
        return f"the header cannot be parsed: {_reason(error)}"


# --- metadata CSVs ------------------------------------------------------------------------------------------

Opener = Callable[[], BinaryIO]   # a file that is not local (an object in a store)


def _rows(path: Path, columns: tuple[str, ...], opener: Opener | None = None) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row by lower-case column name) of a CSV; BOM, CRLF, ``;``/tab delimiters and padding
    around values are tolerated, extra columns ignored. Raises MetadataError when it is not such a table."""
    try:
        with (io.TextIOWrapper(opener(), encoding="utf-8-sig", newline="") if opener is not None
              else path.open(encoding="utf-8-sig", newline="")) as handle:
            first = handle.readline(1 << 16)
            if not first.strip():
                raise MetadataError(f"the file is empty; expected a header row with {', '.join(columns)}")
            delimiter = max((",", ";", "\t"), key=first.count)
            handle.seek(0)
            reader = csv.reader(handle, delimiter=delimiter)
            header = [name.strip().lstrip("\ufeff").lower() for name in next(reader)]
            missing = [name for name in columns if name not in header]
            if missing:
                raise MetadataError(f"column(s) {', '.join(missing)} missing; the header row is "
                                    f"{', '.join(header) or '(empty)'}, expected {', '.join(columns)}")
            where = {name: header.index(name) for name in columns}
            for values in reader:
                if reader.line_num > MAX_ROWS:
                    raise MetadataError(f"more than {MAX_ROWS} rows; this is not a slice list")
                if not any(v.strip() for v in values):
                    continue
                yield reader.line_num, {name: (values[i].strip() if i < len(values) else "")
                                        for name, i in where.items()}
    except UnicodeDecodeError as error:
        raise MetadataError(f"not UTF-8 text (byte {error.start}); save it as UTF-8 CSV") from error
    except csv.Error as error:
        raise MetadataError(f"not a CSV table: {error}") from error
    except OSError as error:
        raise MetadataError(f"cannot read the file ({error.strerror or error})") from error


def read_scans(path: Path, opener: Opener | None = None) -> tuple[list[ScanRow], list[RowProblem]]:
    """``unzip_filenames.csv``: zip_file, label, patient_id, scan_id, n_slice. Raises MetadataError."""
    scans: list[ScanRow] = []
    problems: list[RowProblem] = []
    for number, raw in _rows(path, SCANS_COLUMNS, opener):
        bad = [RowProblem(number, name, f"{raw[name]!r} is not a folder name (letters, digits, _ and - only)")
               for name in ("label", "patient_id", "scan_id") if not _NAME.match(raw[name])]
        try:
            n_slice = int(raw["n_slice"])
            if n_slice < 1:
                raise ValueError
        except ValueError:
            bad.append(RowProblem(number, "n_slice", f"{raw['n_slice']!r} is not a whole number of slices above 0"))
            n_slice = 0
        if bad:
            problems += bad
            continue
        scans.append(ScanRow(number, raw["zip_file"], raw["label"], raw["patient_id"], raw["scan_id"], n_slice))
    return scans, problems


def read_lesions(path: Path, opener: Opener | None = None) -> tuple[list[LesionRow], list[RowProblem]]:
    """``lesions_slices.csv``: imgpath = <label>/<patient_id>/<scan_id>/<slice>.<ext>. Raises MetadataError."""
    lesions: list[LesionRow] = []
    problems: list[RowProblem] = []
    for number, raw in _rows(path, LESIONS_COLUMNS, opener):
        value = raw["imgpath"]
        parts = value.replace("\\", "/").strip("/").split("/")
        name = parts[-1]
        stem, dot, suffix = name.rpartition(".")
        # the extension is not judged: CNCB's own list mixes .png, .jpg, .JPG, .bmp and .BMP for the slices of
        # one scan list, and a slice is matched by case and name whatever format it is stored in
        if (len(parts) < 2 or not all(_NAME.match(p) for p in parts[:-1]) or not dot
                or not _NAME.match(stem) or not (suffix.isascii() and suffix.isalnum())):
            problems.append(RowProblem(number, "imgpath", f"{value!r} is not a slice path like "
                                                          "<label>/<patient_id>/<scan_id>/<NNNN>.png"))
            continue
        lesions.append(LesionRow(number, "/".join(parts[:-1]), stem, name))
    return lesions, problems


def read_label_declaration(path: Path, opener: Opener | None = None) -> str:
    """The scheme name in ``labels.yaml`` (``label_scheme: cncb``). Raises MetadataError when it is not such a
    file; whether the name is a known scheme is for the checks."""
    import yaml

    try:
        if opener is not None:   # an object in a store, within the same limit
            with opener() as handle:
                size = handle.seek(0, io.SEEK_END) - handle.seek(0)
                if size > MAX_LABELS_FILE:
                    raise OSError(f"expected at most {MAX_LABELS_FILE:,} bytes; the file has {size:,}")
                raw = handle.read()
        else:
            raw = read_regular_bytes(path, limit=MAX_LABELS_FILE)
        document = yaml.safe_load(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise MetadataError(f"not a readable YAML file of one line, label_scheme: NAME ({error})") from error
    scheme = document.get("label_scheme") if isinstance(document, dict) else None
    if not isinstance(scheme, str) or not scheme:
        raise MetadataError("expected label_scheme: NAME (a scheme of curator's schema/labels, e.g. cncb)")
    return scheme


# --- the gatherer -------------------------------------------------------------------------------------------

def _read_item(root: Path, deep: bool, item: tuple[str, bool]) -> SliceHeader | str:
    return read_slice(root / item[0], decode=deep, count=item[1])


SliceRunner = Callable[[list[tuple[str, bool]]], Iterable[SliceHeader | str]]


def gather(facts: Facts, run: SliceRunner | None = None, text: Callable[[str], Opener] | None = None) -> None:
    """Read every image and mask header (with --deep also their pixels, once) and the metadata CSVs. ``run`` and
    ``text``: how the slices and the metadata files are read when they are not local (objects in a store)."""
    data = SliceFacts()
    kinds: dict[str, str] = {}
    for path in facts.files:
        kind = facts.data_kind(path)
        if kind is not None and kind.kind in ("image", "mask"):
            kinds[path] = kind.kind
    paths = sorted(kinds)
    root, deep = facts.root, facts.deep

    # a task is a module-level function of (path, count its values): on a Dask cluster it carries no map of files
    items = [(path, deep and kinds[path] == "mask") for path in paths]
    read = run(items) if run is not None else run_tasks(partial(_read_item, root, deep), items, facts.jobs)
    data.files = dict(zip(paths, read, strict=True))

    def opener(name: str) -> Opener | None:
        return text(name) if text is not None else None

    files = facts.files
    if SCANS_CSV in files:
        try:
            data.scans, problems = read_scans(root / SCANS_CSV, opener(SCANS_CSV))
            data.row_problems[SCANS_CSV] = problems
        except MetadataError as error:
            data.metadata_errors[SCANS_CSV] = str(error)
    if LESIONS_CSV in files:
        try:
            data.lesions, problems = read_lesions(root / LESIONS_CSV, opener(LESIONS_CSV))
            data.row_problems[LESIONS_CSV] = problems
        except MetadataError as error:
            data.metadata_errors[LESIONS_CSV] = str(error)
    if LABELS_FILE in files:
        try:
            data.label_scheme = read_label_declaration(root / LABELS_FILE, opener(LABELS_FILE))
        except MetadataError as error:
            data.metadata_errors[LABELS_FILE] = str(error)
    facts.slices = data
