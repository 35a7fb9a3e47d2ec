"""ingest-slices: what the masks' values mean as they come in and as they are written (``--labels``, ``--to``,
``--map``), and the exact remap of one mask's values.

``--labels`` names the label set the masks hold: a scheme of ``schema/labels`` (``infnet``: its values and their
meanings) or a comma list of values (no meanings). ``--to SCHEME`` remaps every mask by meaning
(:func:`curator.label_schemes.remap_table`), ``--map FILE`` by the curator's own ``from,to`` table. A remap is a
lookup table over the whole array: every pixel value is replaced, none is interpolated or guessed, and a value
outside the source labels stops the run before anything is written (the masks would otherwise be read under a
scheme they do not follow).

A remapped mask is written as a new 8-bit grey PNG (mode ``L``; 16-bit ``I;16`` when a target value is above
255) whose pixel values are the target labels. Not a palette PNG with the same palette: a palette's colours are
the source set's drawing (Inf-Net's red for 1), which would then paint the target's 2; and a grey PNG reads as
its labels in every tool (Pillow, OpenCV's IMREAD_UNCHANGED, scikit-image), while a palette PNG read through a
colour conversion gives colours. The colours live in the scheme. An unmapped mask keeps its bytes (only
metadata stripped), palette or not.
"""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from curator.errors import OptionsError
from curator.io.regular import read_regular_bytes
from curator.io.slices import label_pixels
from curator.label_schemes import (
    MAX_MAPPING_BYTES,
    LabelSchemeError,
    check_mapping,
    load_scheme,
    parse_mapping,
    remap_table,
)
from curator.models.labels import LabelScheme


@dataclass(frozen=True)
class LabelPlan:
    """The label sets of one run (plain tuples: it travels to worker threads with every mask)."""

    allowed: tuple[int, ...]                  # the values a mask may hold as it comes in
    source: str | None = None                 # the scheme they come in (--labels NAME)
    target: str | None = None                 # the scheme they are written in (--to)
    table: tuple[tuple[int, int], ...] = ()   # (from, to) for every allowed value; empty: no remap
    mapping_sha256: str | None = None         # --map: the file's digest (its name is not published)

    @property
    def remaps(self) -> bool:
        return bool(self.table)

    @property
    def written(self) -> tuple[int, ...]:
        """The values the masks in OUT may hold."""
        return tuple(sorted({to for _, to in self.table})) if self.table else self.allowed

    @property
    def scheme(self) -> str | None:
        """The scheme OUT's masks follow: the target of a remap, else the source; None when none was named."""
        return self.target if self.remaps else self.source


def plan_labels(labels: tuple[int, ...] | None, scheme: str | None, to: str | None, mapping: Path | None,
                default: tuple[int, ...]) -> LabelPlan:
    """The plan for ``--labels`` (a list, or the scheme name ``scheme``), ``--to`` and ``--map``; OptionsError
    (exit 2) for a name that is no scheme, a remap that would drop a meaning, or a mapping file that breaks a
    rule."""
    source = _scheme("--labels", scheme)
    target = _scheme("--to", to)
    if mapping is None and target is None:
        allowed = source.values if source is not None else (labels if labels is not None else default)
        return LabelPlan(tuple(sorted(set(allowed))), source=scheme)
    table, digest = _table(labels, source, target, mapping)
    allowed = tuple(sorted(table))
    if all(key == value for key, value in table.items()) and (target is None or target == source):
        return LabelPlan(allowed, source=scheme)   # nothing changes: the masks are copied as they are
    return LabelPlan(allowed, source=scheme, target=to, table=tuple(sorted(table.items())), mapping_sha256=digest)


def _scheme(flag: str, name: str | None) -> LabelScheme | None:
    try:
        return load_scheme(name) if name is not None else None
    except LabelSchemeError as error:
        raise OptionsError(f"{flag} {name}: {error}") from error


def _table(labels: tuple[int, ...] | None, source: LabelScheme | None, target: LabelScheme | None,
           mapping: Path | None) -> tuple[dict[int, int], str | None]:
    if mapping is None:
        if source is None or target is None:
            raise OptionsError("--to remaps by meaning, so it needs the masks' own scheme: give --labels SCHEME "
                               "(infnet, cncb, binary-lesion, medseg), or --map FILE with from,to lines")
        try:
            return remap_table(source, target), None
        except LabelSchemeError as error:
            raise OptionsError(f"--labels {source.name} --to {target.name}: {error}") from error
    try:
        data = read_regular_bytes(mapping, limit=MAX_MAPPING_BYTES)
        table = parse_mapping(data, mapping.as_posix())
        given = source.values if source is not None else labels
        check_mapping(table, given if given is not None else table, target.values if target is not None else None)
        digest = hashlib.sha256(data).hexdigest()
    except LabelSchemeError as error:
        raise OptionsError(f"--map {error}") from error
    except OSError as error:
        raise OptionsError(f"--map {mapping}: cannot be read ({error.strerror or error})") from error
    return table, digest


ROWS_AT_ONCE = 256   # rows of a mask remapped together (bounds the temporary index arrays)


@dataclass(frozen=True)
class Remapped:
    data: bytes                    # the new PNG
    before: dict[int, int]         # value -> pixels in the input
    after: dict[int, int]          # value -> pixels in the output


def remap_mask(image: Image.Image, table: tuple[tuple[int, int], ...]) -> Remapped:
    """Every pixel through the lookup table; the caller has checked that every value is one of the table's."""
    pixels = label_pixels(image)
    if pixels is None:   # the caller judged the mode first (MASK_MODE_INVALID); this is a programming error
        raise ValueError(f"a {image.mode} image holds no label values")
    highest = max(to for _, to in table)
    lut = np.zeros(max(source for source, _ in table) + 1, dtype=np.uint8 if highest <= 255 else np.uint16)
    for source, to in table:
        lut[source] = to
    values = np.empty(pixels.shape, dtype=lut.dtype)
    for start in range(0, pixels.shape[0], ROWS_AT_ONCE):   # numpy indexes through a full-size intp copy: in bands
        values[start:start + ROWS_AT_ONCE] = lut[pixels[start:start + ROWS_AT_ONCE]]
    buffer = io.BytesIO()
    Image.fromarray(values).save(buffer, format="PNG")
    data = buffer.getvalue()
    with Image.open(io.BytesIO(data), formats=["PNG"]) as written:   # the copy reads back as exactly the table's
        if not np.array_equal(np.asarray(written), values):
            raise ValueError("the remapped mask does not read back as the remapped values")
    counts = np.zeros(lut.size, dtype=np.int64)
    for start in range(0, pixels.shape[0], ROWS_AT_ONCE):
        counts += np.bincount(pixels[start:start + ROWS_AT_ONCE].ravel(), minlength=lut.size)
    before = Counter({int(v): int(n) for v, n in enumerate(counts) if n})
    after: Counter[int] = Counter()
    mapped = dict(table)
    for value, count in before.items():
        after[mapped[value]] += count
    return Remapped(data, dict(sorted(before.items())), dict(sorted(after.items())))
