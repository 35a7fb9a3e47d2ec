"""The review page: a static HTML file and PNG thumbnail strips for a human reviewer (``curator review``).

Two parts, both pure presentation:

* :func:`axial_planes` reads a study (and its mask) once each and returns a few axial slices in display
  orientation, the mask placed in the study's space by the two files' affines (nearest neighbour), so a mask
  that is shifted, mirrored or transposed against its study *looks* shifted, mirrored or transposed.
  :func:`strip_png` draws them side by side in the lung window (the windowing and the translucent red
  overlay are :mod:`curator.build.figures`'), one ``TILE`` x ``TILE`` pixel tile per slice, with Pillow:
  small, fast and byte-identical for the same input.
* :func:`review_html` writes the page: the validation summary, the findings table with filters (plain
  JavaScript, no external resources, works from ``file://``) and one card per study. Every text that comes
  from the release (file names, messages, registry values) is escaped; the report itself is embedded as JSON
  in a ``<script type="application/json">`` block with ``<``, ``>`` and ``&`` escaped. The table is drawn
  from that JSON ``PAGE`` rows at a time (a release with 50,000 findings must not put 50,000 rows in the
  DOM); the filters apply to every finding and are written back into the address's hash, so a copied link
  opens the same view.
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt

from curator.build.figures import LUNG_WINDOW, MASK_ALPHA, MASK_COLOUR, _display, lung_window_rgb
from curator.catalogue import catalogue
from curator.escaping import display, displayed
from curator.io.volume import read_volume
from curator.models.findings import Finding, Report, Severity
from curator.render.report import human_bytes

__all__ = [
    "LABEL_ALPHA",
    "LABEL_COLOURS",
    "PAGE",
    "SLICES",
    "TILE",
    "Planes",
    "StudyCard",
    "axial_planes",
    "label_strip_png",
    "review_html",
    "strip_png",
    "volume_planes",
    "within",
]

#: Axial slices per study and the edge of one slice's square tile, in pixels.
SLICES: Final = 5
TILE: Final = 128
#: Finding rows drawn at first and added by each "show more".
PAGE: Final = 500

T = TypeVar("T")
HU = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]
Grey = npt.NDArray[np.uint8]      # a 2D slice as stored: 8-bit grey, already windowed
Labels = npt.NDArray[np.integer[Any]]   # a 2D label map: 0 background, 1 lung field, 2 GGO, 3 consolidation

#: 2D label maps (profile ``slices``): lesion label -> (RGB colour 0..1, name). Ground-glass yellow, consolidation
#: red, each a translucent fill with a solid outline; the lung field only a thin half-transparent cyan outline.
LABEL_COLOURS: Final[dict[int, tuple[tuple[float, float, float], str]]] = {
    2: ((1.0, 0.84, 0.0), "ground-glass opacity"),
    3: ((0.95, 0.1, 0.1), "consolidation"),
}
LABEL_ALPHA: Final = MASK_ALPHA   # as the NIfTI mask: the opacity under a lesion stays visible
LUNG_LABEL: Final = 1
LUNG_OUTLINE: Final = (0.3, 0.85, 1.0)
LUNG_OUTLINE_ALPHA: Final = 0.55


# ----------------------------------------------------------------------------------------------------------
# Reading the slices


@dataclass
class Planes:
    """Axial slices of one study in display orientation (rows anterior..posterior, columns patient right..left)."""

    slices: list[tuple[HU, Mask | None]]
    indices: list[int]                   # the slices' voxel indices along the study's axial axis
    pixel_mm: tuple[float, float]        # (row, column) spacing of the display planes
    notes: list[str] = field(default_factory=list)


def _pick(depth: int, count: int, extent: tuple[int, int] | None) -> list[int]:
    """``count`` distinct slice indices: spread over ``extent`` (widened to ``count`` slices where the volume
    allows) when given, else over the whole volume."""
    n = max(1, min(count, depth))
    if extent is None:
        return sorted({min(depth - 1, int((i + 0.5) * depth / n)) for i in range(n)})
    lo, hi = max(0, extent[0]), min(depth - 1, extent[1])
    while hi - lo + 1 < n:
        if lo > 0:
            lo -= 1
        if hi - lo + 1 < n and hi < depth - 1:
            hi += 1
    if n == 1:
        return [(lo + hi) // 2]
    return sorted({int(np.floor(lo + (hi - lo) * i / (n - 1) + 0.5)) for i in range(n)})


def axial_planes(study: Path, mask: Path | None = None, count: int = SLICES) -> Planes:
    """Read ``study`` (and ``mask``) once each and return ``count`` axial slices with the mask's slices.

    With a mask that has any foreground, the slices are spread over the axial extent of the foreground as the
    mask's affine places it in the study (widened to ``count`` slices), else evenly over the volume. The mask
    is resampled into the study's grid through both affines (nearest neighbour): what is drawn is where the
    mask's own header says it lies. Raises OSError or VolumeError when a file cannot be read.
    """
    volume = read_volume(study)
    mask_grid: tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]] | None = None
    if mask is not None:
        mask_read = read_volume(mask)
        mask_grid = (np.asarray(mask_read.data != 0), mask_read.affine)
        del mask_read   # only the boolean mask is kept
    return volume_planes(volume.data, volume.affine, volume.zooms, mask_grid, count)


def volume_planes(raw: npt.NDArray[Any], affine: npt.NDArray[np.float64], zooms: Sequence[float],
                  mask_grid: tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]] | None = None,
                  count: int = SLICES) -> Planes:
    """:func:`axial_planes` of a volume already in memory: ``raw`` in voxel order with its ``affine`` and voxel
    sizes ``zooms``, and optionally a boolean mask with its own affine (a DICOM series converted by
    :func:`curator.ingest.convert.convert_series` comes this way)."""
    import nibabel.orientations

    orientations: Any = nibabel.orientations   # nibabel is only partly annotated
    ornt: npt.NDArray[np.float64] = orientations.io_orientation(affine)
    notes: list[str] = []
    if np.isnan(ornt).any() or sorted(int(o) for o in ornt[:3, 0]) != [0, 1, 2]:
        ornt = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
        notes.append("the study's affine is degenerate: voxel axes drawn as they are")
    axial = int(np.flatnonzero(ornt[:3, 0] == 2)[0])
    first, second = (a for a in range(3) if a != axial)
    shape = raw.shape[:3]

    mask_volume: npt.NDArray[np.bool_] | None = None
    to_mask: npt.NDArray[np.float64] | None = None   # study voxel -> mask voxel; None: the same grid
    extent: tuple[int, int] | None = None
    if mask_grid is not None:
        mask_volume, mask_affine = mask_grid
        try:
            to_mask = np.linalg.inv(mask_affine) @ affine
        except np.linalg.LinAlgError:
            to_mask = None
        if to_mask is not None and not np.isfinite(to_mask).all():
            to_mask = None
        if to_mask is None:
            if mask_volume.shape != shape:
                notes.append("the mask's affine cannot be inverted and its grid differs: not drawn")
                mask_volume = None
            else:
                notes.append("the mask's affine cannot be inverted: drawn on the study's voxel grid")
        elif mask_volume.shape == shape and np.allclose(to_mask, np.eye(4), atol=1e-3):
            to_mask = None
        else:
            notes.append("mask placed in the study by its own affine (it is not on the study's grid)")
        if mask_volume is not None and mask_volume.any():
            if to_mask is None:
                along = np.flatnonzero(mask_volume.any(axis=(first, second)))
                extent = (int(along[0]), int(along[-1]))
            else:
                where = [np.flatnonzero(mask_volume.any(axis=tuple(a for a in range(3) if a != d)))
                         for d in range(3)]
                corners = np.array([[x, y, z, 1.0] for x in (where[0][0], where[0][-1])
                                    for y in (where[1][0], where[1][-1]) for z in (where[2][0], where[2][-1])])
                in_study = (np.linalg.inv(to_mask) @ corners.T)[axial]
                lo, hi = int(np.floor(in_study.min())), int(np.ceil(in_study.max()))
                if hi < 0 or lo > shape[axial] - 1:
                    notes.append("the mask lies entirely outside the study's volume")
                else:
                    extent = (lo, hi)
    indices = _pick(int(shape[axial]), count, extent)

    slices: list[tuple[HU, Mask | None]] = []
    for index in indices:
        selector: list[Any] = [slice(None)] * 3
        selector[axial] = index
        plane = np.asarray(raw[tuple(selector)], dtype=np.float32)
        mask_plane: Mask | None = None
        if mask_volume is not None:
            mask_plane = (mask_volume[tuple(selector)] if to_mask is None
                          else _resample_plane(mask_volume, to_mask, shape, axial, index))
        hu = np.ascontiguousarray(_display(plane, (first, second), ornt), dtype=np.float32)
        shown = None if mask_plane is None else np.ascontiguousarray(_display(mask_plane, (first, second), ornt))
        slices.append((hu, shown))

    row_axis = first if int(ornt[first, 0]) == 1 else second   # after _display rows follow the A axis
    column_axis = second if row_axis == first else first
    pixel_mm = (zooms[row_axis] or 1.0, zooms[column_axis] or 1.0)
    return Planes(slices=slices, indices=indices, pixel_mm=pixel_mm, notes=notes)


def _resample_plane(mask: npt.NDArray[np.bool_], to_mask: npt.NDArray[np.float64], shape: tuple[int, ...],
                    axial: int, index: int) -> Mask:
    """The mask on one axial plane of the study's grid: each study voxel takes the nearest mask voxel."""
    first, second = (a for a in range(3) if a != axial)
    rows, columns = np.meshgrid(np.arange(shape[first]), np.arange(shape[second]), indexing="ij")
    points = np.empty((3, rows.size), dtype=np.float64)
    points[first], points[second], points[axial] = rows.ravel(), columns.ravel(), index
    voxels = np.floor(to_mask[:3, :3] @ points + to_mask[:3, 3:4] + 0.5).astype(np.int64)
    inside = np.ones(rows.size, dtype=bool)
    for axis in range(3):
        inside &= (voxels[axis] >= 0) & (voxels[axis] < mask.shape[axis])
    values = np.zeros(rows.size, dtype=bool)
    values[inside] = mask[voxels[0][inside], voxels[1][inside], voxels[2][inside]]
    return values.reshape(rows.shape)


# ----------------------------------------------------------------------------------------------------------
# Drawing the strip


def _edge(mask: Mask) -> Mask:
    """The mask's boundary pixels (4-neighbourhood)."""
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return mask & ~inner


def _fit(shape: tuple[int, ...], pixel_mm: tuple[float, float], size: int) -> tuple[int, int, bool]:
    """(height, width) of a slice of ``shape`` fitted into a ``size`` tile with square millimetre pixels, and
    whether it is enlarged three times or more (then its pixels are shown as blocks, not blurred)."""
    rows, columns = shape[:2]
    height_mm, width_mm = rows * pixel_mm[0], columns * pixel_mm[1]
    scale = size / max(height_mm, width_mm)
    out_h = min(size, max(1, round(height_mm * scale)))
    out_w = min(size, max(1, round(width_mm * scale)))
    return out_h, out_w, out_h >= 3 * rows or out_w >= 3 * columns


def _fit_mask(mask: Mask, out_h: int, out_w: int, upscale: bool) -> Mask:
    """A boolean mask resized to the tile; a thin structure stays visible when it is made smaller."""
    from PIL import Image

    weights = Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8) * 255, mode="L")
    mask_filter = Image.Resampling.NEAREST if upscale else Image.Resampling.BILINEAR
    return np.asarray(weights.resize((out_w, out_h), mask_filter)) > 63   # keep small lesions visible


def _place(rgb: npt.NDArray[np.float32], size: int) -> npt.NDArray[np.uint8]:
    """An RGB image (0..1) centred on a black ``size`` x ``size`` tile."""
    out_h, out_w = rgb.shape[:2]
    tile = np.zeros((size, size, 3), dtype=np.uint8)
    top, left = (size - out_h) // 2, (size - out_w) // 2
    tile[top:top + out_h, left:left + out_w] = np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    return tile


def _tile(hu: HU, mask: Mask | None, pixel_mm: tuple[float, float], size: int) -> npt.NDArray[np.uint8]:
    """One slice fitted into a ``size`` x ``size`` black tile, square pixels in millimetres."""
    from PIL import Image

    out_h, out_w, upscale = _fit(hu.shape, pixel_mm, size)
    grey_filter = Image.Resampling.NEAREST if upscale else Image.Resampling.LANCZOS
    hu_small = np.asarray(Image.fromarray(np.ascontiguousarray(hu, dtype=np.float32), mode="F")
                          .resize((out_w, out_h), grey_filter), dtype=np.float32)
    mask_small = None if mask is None else _fit_mask(mask, out_h, out_w, upscale)
    rgb = lung_window_rgb(hu_small, mask_small)
    if mask_small is not None and mask_small.any():
        rgb[_edge(mask_small)] = np.asarray(MASK_COLOUR, dtype=np.float32)
    return _place(rgb, size)


def _strip(tiles: Sequence[npt.NDArray[np.uint8]], size: int) -> tuple[bytes, tuple[int, int]]:
    from PIL import Image

    strip = np.concatenate(tiles, axis=1) if tiles else np.zeros((size, size, 3), dtype=np.uint8)
    for k in range(1, len(tiles)):
        strip[:, k * size] = 64   # a thin grey line between slices
    buffer = io.BytesIO()
    Image.fromarray(strip, mode="RGB").save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue(), (strip.shape[1], strip.shape[0])


def strip_png(planes: Planes, size: int = TILE) -> tuple[bytes, tuple[int, int]]:
    """The slices side by side, ``size`` pixels a slice, as PNG bytes, and the image's (width, height)."""
    return _strip([_tile(hu, mask, planes.pixel_mm, size) for hu, mask in planes.slices], size)


def _label_tile(grey: Grey, labels: Labels | None, size: int) -> npt.NDArray[np.uint8]:
    """One 8-bit slice as it is (no windowing), fitted into a tile, its label map drawn over it: the lung field
    (label 1, and the lesions inside it) as a thin half-transparent outline, each lesion label a translucent fill
    with a solid outline in its own colour (:data:`LABEL_COLOURS`)."""
    from PIL import Image

    out_h, out_w, upscale = _fit(grey.shape, (1.0, 1.0), size)
    grey_filter = Image.Resampling.NEAREST if upscale else Image.Resampling.LANCZOS
    small = np.asarray(Image.fromarray(np.ascontiguousarray(grey, dtype=np.uint8), mode="L")
                       .resize((out_w, out_h), grey_filter), dtype=np.float32) / np.float32(255)
    rgb = np.repeat(small[..., None], 3, axis=2)
    if labels is not None:
        lung = _fit_mask(np.isin(labels, (LUNG_LABEL, *LABEL_COLOURS)), out_h, out_w, upscale)
        edge = _edge(lung)
        colour = np.asarray(LUNG_OUTLINE, dtype=np.float32)
        rgb[edge] = (1 - LUNG_OUTLINE_ALPHA) * rgb[edge] + LUNG_OUTLINE_ALPHA * colour
        for label, (fill, _name) in LABEL_COLOURS.items():
            found = labels == label
            if not found.any():
                continue
            region = _fit_mask(found, out_h, out_w, upscale)
            colour = np.asarray(fill, dtype=np.float32)
            rgb[region] = (1 - LABEL_ALPHA) * rgb[region] + LABEL_ALPHA * colour
            rgb[_edge(region)] = colour
    return _place(rgb, size)


def label_strip_png(slices: Sequence[tuple[Grey, Labels | None]], size: int = TILE) -> tuple[bytes, tuple[int, int]]:
    """2D slices (8-bit grey as stored) with their label maps side by side, as PNG bytes and (width, height)."""
    return _strip([_label_tile(grey, labels, size) for grey, labels in slices], size)


# ----------------------------------------------------------------------------------------------------------
# The page


@dataclass(frozen=True)
class StudyCard:
    """One study on the page, as the orchestrator found it."""

    anchor: str                         # element id: letters, digits and '-' only
    label: str
    study_path: str
    mask_path: str | None
    category: str | None
    study_id: int | None = None
    thumbnail: str | None = None        # relative URL of the strip (thumbs/...png)
    size: tuple[int, int] | None = None
    slices: tuple[int | str, ...] = ()  # axial voxel indices (volumes) or slice file names (2D slices)
    notes: tuple[str, ...] = ()
    problem: str | None = None          # why there is no thumbnail
    counts: Mapping[str, int] = field(default_factory=dict)   # findings about the study or its mask, by severity
    kind: str = "nifti"                 # "nifti" study volume, "dicom" patient folder, "slices" 2D case
    folders: tuple[str, ...] = ()       # folders whose files' findings belong to this card (patient, case)
    facts: tuple[str, ...] = ()         # what was drawn (the series, the slices' masks), one line each
    search: str | None = None           # the findings filter "show its findings" sets (default: the file's stem)


def _e(value: object) -> str:
    """Text for HTML (content or a quoted attribute), names shown as curator.escaping.display says."""
    return html.escape(display(str(value), keep_newlines=True), quote=True)


def _json_block(data: object) -> str:
    """JSON safe inside <script type="application/json">: ASCII only, no '<', '>' or '&'; the strings as
    curator.escaping.display shows them (the page's script puts them on screen)."""
    text = json.dumps(displayed(data), ensure_ascii=True, sort_keys=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


_SEVERITIES: Final = tuple(s.value for s in sorted(Severity, key=lambda s: -s.rank))


def _stat_value(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _summary(report: Report, notes: Sequence[str]) -> str:
    state = "VALID" if report.valid else "INVALID"
    counts = report.counts
    stats = report.stats
    rows = [("root", report.root), ("profile", report.profile or "none recognised"),
            ("files", f"{stats.files:,}"), ("bytes", f"{stats.bytes:,} ({human_bytes(stats.bytes)})"),
            ("validation time", f"{stats.seconds:.2f} s"), ("curator", report.version)]
    rows += [(key.replace("_", " "), _stat_value(value)) for key, value in (stats.model_extra or {}).items()]
    parts = [
        '<section id="summary">',
        f'<p class="state {state.lower()}" id="state">{state}</p>',
        '<ul class="counts">',
        *(f'<li class="sev-{s}"><b>{getattr(counts, s):,}</b> {_count(getattr(counts, s), s).split(" ", 1)[1]}</li>'
          for s in _SEVERITIES),
        "</ul>",
        '<dl class="stats">',
        *(f"<dt>{_e(key)}</dt><dd>{_e(value)}</dd>" for key, value in rows),
        "</dl>",
        *(f'<p class="note">{_e(note)}</p>' for note in notes),
        "</section>",
    ]
    return "\n".join(parts)


def within(path: str, folders: Mapping[str, T]) -> T | None:
    """The value of the deepest of ``folders`` that is ``path`` or holds it, else None."""
    while path:
        if path in folders:
            return folders[path]
        path = path.rpartition("/")[0]
    return None


def _anchor(finding: Finding, links: Mapping[str, str], by_id: Mapping[int, str]) -> str | None:
    """The card a finding links to: its file's study, else its study id's."""
    return links.get(finding.path) or (by_id.get(finding.study_id) if finding.study_id is not None else None)


def _row(finding: Finding, anchor: str | None, titles: Mapping[str, str]) -> str:
    """One table row; the page's script draws the same markup (``row`` in ``_JS``) for the rows after these."""
    study = f'<a href="#{anchor}">view</a>' if anchor else ""
    title = f' title="{_e(titles[finding.code])}"' if finding.code in titles else ""
    severity = finding.severity.value
    return (f'<tr class="sev-{severity}" data-code="{_e(finding.code)}" data-severity="{severity}" '
            f'data-path="{_e(finding.path)}"><td class="severity">{severity}</td>'
            f"<td class=\"code\"{title}>{_e(finding.code)}</td><td class=\"path\">{_e(finding.path or '(root)')}</td>"
            f'<td class="message">{_e(finding.message)}</td><td class="link">{study}</td></tr>')


def _findings(report: Report, links: Mapping[str, str], by_id: Mapping[int, str],
              titles: Mapping[str, str]) -> str:
    codes: dict[str, int] = {}
    severities: dict[str, int] = dict.fromkeys(_SEVERITIES, 0)
    for finding in report.findings:
        codes[finding.code] = codes.get(finding.code, 0) + 1
        severities[finding.severity.value] += 1
    options = ['<option value="">all codes</option>'] + [
        f'<option value="{_e(code)}">{_e(code)} ({n:,})</option>' for code, n in sorted(codes.items())]
    boxes = [f'<label class="sev-{s}"><input type="checkbox" name="severity" value="{s}" checked> {s} '
             f"({severities[s]:,})</label>" for s in _SEVERITIES]
    total = len(report.findings)
    # the first page only, for a browser without JavaScript; the script redraws the table from the JSON
    rows = [_row(finding, _anchor(finding, links, by_id), titles) for finding in report.findings[:PAGE]]
    empty = '<p class="empty">No findings.</p>' if not report.findings else ""
    return "\n".join([
        '<section id="findings">',
        f'<h2>Findings <small id="matching">{total:,} of {total:,} match</small></h2>',
        '<form id="filters" class="filters" autocomplete="off">',
        f'<label>code <select id="f-code" name="code">{"".join(options)}</select></label>',
        '<span class="severities">', *boxes, "</span>",
        '<label>path contains <input id="f-path" name="path" type="search" size="28"></label>',
        "</form>",
        empty,
        '<table id="findings-table"><thead><tr><th>severity</th><th>code</th><th>path</th><th>message</th>'
        "<th>study</th></tr></thead><tbody>",
        *rows,
        "</tbody></table>",
        f'<p id="paging" class="paging"{"" if total else " hidden"}>showing <span id="rendered">{len(rows):,}</span> '
        f'of <span id="matched">{total:,}</span> matching findings '
        '<button type="button" id="more" hidden>show more</button></p>',
        "</section>",
    ])


def _count(number: int, severity: str) -> str:
    return f"{number} {severity}" + ("s" if number != 1 and severity != "info" else "")


def _card(card: StudyCard) -> str:
    flagged = sum(card.counts.values()) > 0
    badges = "".join(f'<span class="badge sev-{s}">{_count(card.counts[s], s)}</span>'
                     for s in _SEVERITIES if card.counts.get(s))
    lines = [f'<article class="study{" flagged" if flagged else ""}" id="{card.anchor}" '
             f'data-path="{_e(card.study_path)}">',
             f"<h3>{_e(card.label)}"
             + (f' <span class="category">{_e(card.category)}</span>' if card.category else "")
             + f" {badges}</h3>"]
    lines.append('<div class="body">')
    what = "slices" if card.kind == "slices" else "axial slices"
    if card.thumbnail and card.size:
        width, height = card.size
        alt = f"{len(card.slices)} {what} of {card.study_path}"
        lines.append(f'<img src="{_e(card.thumbnail)}" width="{width}" height="{height}" alt="{_e(alt)}">')
    else:
        lines.append(f'<p class="problem">{_e(card.problem or "no thumbnail")}</p>')
    lines.append('<div class="details">')
    mask = f"<br>mask {_e(card.mask_path)}" if card.mask_path else ("" if card.kind == "dicom" else "<br>no mask")
    lines.append(f'<p class="facts">{_e(card.study_path)}{mask}</p>')
    lines += [f'<p class="facts">{_e(fact)}</p>' for fact in card.facts]
    if card.slices:
        lines.append(f'<p class="facts">{what} {_e(", ".join(str(i) for i in card.slices))}</p>')
    lines += [f'<p class="note">{_e(note)}</p>' for note in card.notes]
    if flagged:
        from urllib.parse import quote

        search = card.search or card.study_path.rsplit("/", 1)[-1].split(".", 1)[0]
        target = quote(search, safe="")
        lines.append(f'<p><a class="show" href="#path={_e(target)}">show its findings</a></p>')
    lines.append("</div></div>")
    lines.append("</article>")
    return "\n".join(lines)


def _legends(kinds: set[str]) -> list[str]:
    """What the strips show, once for each kind of study on the page."""
    width, level = LUNG_WINDOW
    window = f"in the lung window (W {width:.0f} / L {level:.0f} HU), anterior up, patient's right on the left"
    legends = []
    if "nifti" in kinds:
        legends.append(f'<p class="legend">Axial slices {window}; the mask in translucent red with a red outline, '
                       "placed by its own affine, so a shifted, mirrored or transposed mask shows as such.</p>")
    if "dicom" in kinds:
        legends.append(f'<p class="legend">One card per patient folder: axial slices of its largest CT series '
                       f"(most images), converted from DICOM as <code>curator ingest</code> converts it, {window}. "
                       "The folder's other series are listed on the card; a series that cannot be converted "
                       "says why.</p>")
    if "slices" in kinds:
        swatches = "".join(f'<span class="swatch" style="background: {_css_colour(colour)}"></span> {_e(name)} '
                           f"(label {label}), " for label, (colour, name) in LABEL_COLOURS.items())
        legends.append('<p class="legend">One card per case: a few evenly spaced slices, slices whose mask has '
                       "lesion labels first, each shown as stored (the images are already windowed); the mask "
                       f"over it: {swatches}each a translucent fill with an outline, and the lung field (label "
                       f'{LUNG_LABEL}) as a thin <span class="swatch" style="background: '
                       f'{_css_colour(LUNG_OUTLINE)}"></span> outline.</p>')
    return legends


def _css_colour(colour: tuple[float, float, float]) -> str:
    red, green, blue = (round(c * 255) for c in colour)
    return f"rgb({red}, {green}, {blue})"


def _studies(cards: Sequence[StudyCard], notes: Sequence[str], layout: str) -> str:
    flagged = sum(1 for c in cards if sum(c.counts.values()))
    parts = [
        '<section id="studies">',
        f"<h2>Studies <small>{len(cards)} shown, {flagged} with findings</small></h2>",
        *_legends({card.kind for card in cards} | {layout}),
        *(f'<p class="note">{_e(note)}</p>' for note in notes),
        '<label class="only"><input type="checkbox" id="f-flagged"> only studies with findings</label>',
        '<div class="cards">',
        *(_card(card) for card in cards),
        "</div>",
        "</section>",
    ]
    return "\n".join(parts)


_CSS: Final = """
:root { --err: #c62828; --warn: #b26a00; --info: #1565c0; --line: #d7dbe0; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 0; color: #1d232a;
       background: #f6f7f9; }
header { background: #1d2733; color: #fff; padding: 12px 24px; }
header h1 { font-size: 18px; margin: 0; font-weight: 600; }
header p { margin: 2px 0 0; color: #b8c3cf; font-size: 12px; }
main { padding: 16px 24px 48px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px;
          margin-bottom: 16px; }
h2 { font-size: 16px; margin: 0 0 8px; }
h2 small { font-weight: normal; color: #5f6b77; margin-left: 8px; }
#summary { display: grid; grid-template-columns: auto auto 1fr; gap: 4px 24px; align-items: start; }
#summary .note { grid-column: 1 / -1; margin: 0; }
.state { font-size: 22px; font-weight: 700; margin: 0; padding: 4px 12px; border-radius: 4px; color: #fff; }
.state.valid { background: #2e7d32; } .state.invalid { background: var(--err); }
.counts { list-style: none; margin: 0; padding: 0; display: flex; gap: 16px; font-size: 15px; }
.stats { display: grid; grid-template-columns: max-content 1fr; gap: 0 12px; margin: 0; font-size: 12px; }
.stats dt { color: #5f6b77; } .stats dd { margin: 0; overflow-wrap: anywhere; }
.counts .sev-error b, .badge.sev-error { color: var(--err); }
.counts .sev-warning b { color: var(--warn); } .counts .sev-info b { color: var(--info); }
.note { color: #5f6b77; font-size: 12px; }
.filters { display: flex; flex-wrap: wrap; gap: 8px 20px; align-items: center; margin-bottom: 8px; }
.severities { display: flex; gap: 12px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eceff2; vertical-align: top; }
thead th { position: sticky; top: 0; background: #eef1f4; }
th:nth-child(3), td.path { width: 24%; }
td.path { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; overflow-wrap: anywhere; }
td.code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; white-space: nowrap; }
td.severity { font-weight: 600; }
tr.sev-error td.severity { color: var(--err); } tr.sev-warning td.severity { color: var(--warn); }
tr.sev-info td.severity { color: var(--info); }
.cards { display: flex; flex-direction: column; gap: 10px; }
.study .body { display: flex; flex-wrap: wrap; gap: 6px 16px; align-items: flex-start; }
.study .details { flex: 1 1 240px; min-width: 0; }
.study { border: 1px solid var(--line); border-left: 4px solid #9aa5b1; border-radius: 4px; padding: 8px 10px; }
.study.flagged { border-left-color: var(--err); background: #fff8f8; }
.study:target { outline: 3px solid #ffb300; }
.study h3 { font-size: 14px; margin: 0 0 6px; }
.study img { display: block; background: #000; max-width: 100%; height: auto; image-rendering: auto; }
.study .facts { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 11px; color: #5f6b77;
                overflow-wrap: anywhere; }
.study .details p { margin: 0 0 4px; }
.swatch { display: inline-block; width: 10px; height: 10px; border: 1px solid #5f6b77; vertical-align: -1px; }
.problem { color: var(--err); }
.category { font-weight: normal; color: #5f6b77; }
.badge { font-size: 11px; font-weight: 600; border: 1px solid currentColor; border-radius: 8px; padding: 0 6px;
         margin-left: 4px; }
.badge.sev-warning { color: var(--warn); } .badge.sev-info { color: var(--info); }
.only { display: block; margin: 4px 0 8px; }
.paging { margin: 8px 0 0; color: #5f6b77; }
.paging button { margin-left: 12px; font: inherit; padding: 2px 10px; cursor: pointer; }
#js-errors { color: var(--err); white-space: pre-wrap; }
[hidden] { display: none !important; }
"""

# runs first (right after #js-errors): every script error, rejected promise or image that fails to load is
# written into #js-errors, so a headless browser's DOM dump shows it
_ERRORS_JS: Final = r"""
(function () {
  "use strict";
  var errors = document.getElementById("js-errors");
  function fail(text) { errors.hidden = false; errors.textContent += text + "\n"; }
  window.addEventListener("error", function (event) {
    var target = event.target;
    if (target && target !== window && target.tagName) {
      fail("cannot load " + (target.currentSrc || target.src || target.tagName));
    } else {
      fail("error: " + event.message + " (" + event.filename + ":" + event.lineno + ")");
    }
  }, true);
  window.addEventListener("unhandledrejection", function (event) { fail("unhandled rejection: " + event.reason); });
})();
"""

_JS: Final = r"""
(function () {
  "use strict";
  var report = JSON.parse(document.getElementById("report-data").textContent);
  var view = JSON.parse(document.getElementById("view-data").textContent);
  var findings = report.findings;
  // once, not per key; between slashes, so that "/p2/" means the folder P2 itself or anything in it, never XP2 or
  // P20: "show its findings" on a patient or case card filters that way
  var lowerPaths = findings.map(function (f) { return "/" + String(f.path).toLowerCase() + "/"; });
  var body = document.querySelector("#findings-table tbody");
  var cards = Array.prototype.slice.call(document.querySelectorAll("article.study"));
  var code = document.getElementById("f-code");
  var path = document.getElementById("f-path");
  var flagged = document.getElementById("f-flagged");
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input[name=severity]"));
  var more = document.getElementById("more");
  var matching = [];   // indices into findings that pass the filters
  var rendered = 0;    // how many of them are rows in the table

  function number(n) { return n.toLocaleString("en-US"); }
  // JSON.parse makes plain objects: a path such as "constructor" must not find Object.prototype's
  function own(map, key) { return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : ""; }

  function cell(row, name, text) {
    var td = document.createElement("td");
    td.className = name;
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  // the markup of _row in review.py; data only ever goes into textContent and attribute values
  function row(finding) {
    var tr = document.createElement("tr");
    tr.className = "sev-" + finding.severity;
    tr.setAttribute("data-code", finding.code);
    tr.setAttribute("data-severity", finding.severity);
    tr.setAttribute("data-path", finding.path);
    cell(tr, "severity", finding.severity);
    var codeCell = cell(tr, "code", finding.code), title = own(view.titles, finding.code);
    if (title) { codeCell.title = title; }
    cell(tr, "path", finding.path || "(root)");
    cell(tr, "message", finding.message);
    var link = cell(tr, "link", "");
    var anchor = own(view.paths, finding.path) ||
                 (finding.study_id === null ? "" : own(view.ids, String(finding.study_id)));
    if (anchor) {
      var a = document.createElement("a");
      a.href = "#" + anchor;
      a.textContent = "view";
      link.appendChild(a);
    }
    return tr;
  }

  function showMore() {
    var end = Math.min(matching.length, rendered + view.page), part = document.createDocumentFragment();
    for (; rendered < end; rendered += 1) { part.appendChild(row(findings[matching[rendered]])); }
    body.appendChild(part);
    document.getElementById("rendered").textContent = number(rendered);
    document.getElementById("matched").textContent = number(matching.length);
    more.hidden = rendered >= matching.length;
    more.textContent = "show " + number(Math.min(view.page, matching.length - rendered)) + " more";
  }

  // the filters run over every finding of the report; only the first page of matches becomes rows
  function apply() {
    var wanted = {}, text = path.value.trim().toLowerCase();
    boxes.forEach(function (box) { wanted[box.value] = box.checked; });
    matching = [];
    findings.forEach(function (finding, i) {
      if ((!code.value || finding.code === code.value) && wanted[finding.severity] === true &&
          (!text || lowerPaths[i].indexOf(text) !== -1)) {
        matching.push(i);
      }
    });
    body.textContent = "";
    rendered = 0;
    showMore();
    document.getElementById("matching").textContent =
      number(matching.length) + " of " + number(findings.length) + " match";
    cards.forEach(function (card) { card.hidden = flagged.checked && !card.classList.contains("flagged"); });
  }

  // filters from the address: ?severity=error,warning&code=X&path=text&flagged=1 (or the same after '#')
  function fromAddress(scroll) {
    var query = new URLSearchParams(window.location.search);
    var hash = window.location.hash.replace(/^#/, "");
    if (hash.indexOf("=") !== -1) {
      new URLSearchParams(hash).forEach(function (value, key) { query.set(key, value); });
    }
    var touched = false;
    if (query.has("severity")) {
      var levels = query.get("severity").toLowerCase().split(",");
      boxes.forEach(function (box) { box.checked = levels.indexOf(box.value) !== -1; });
      touched = true;
    }
    if (query.has("code")) {
      var value = query.get("code");
      code.value = Array.prototype.some.call(code.options, function (o) { return o.value === value; }) ? value : "";
      touched = true;
    }
    if (query.has("path")) { path.value = query.get("path"); touched = true; }
    if (query.has("flagged")) { flagged.checked = query.get("flagged") === "1"; touched = true; }
    apply();
    if (touched && scroll) { document.getElementById("findings").scrollIntoView(); }
  }

  function encode(value) { return encodeURIComponent(value).replace(/%2C/g, ",").replace(/%2F/g, "/"); }

  // the filters back into the hash, so a copied link or a reload opens this view. Filters at their default
  // are left out, unless the query names them (the hash must then override the query). replaceState adds no
  // history entry and fires no hashchange; a browser may refuse it (file://, too many calls): the filters
  // still work, only the address does not follow.
  function toAddress() {
    var query = new URLSearchParams(window.location.search);
    var levels = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
    var filters = [["code", code.value, !code.value],
                   ["severity", levels.join(",") || "none", levels.length === boxes.length],
                   ["path", path.value.trim(), !path.value.trim()],
                   ["flagged", flagged.checked ? "1" : "0", !flagged.checked]];
    var hash = filters.filter(function (f) { return !f[2] || query.has(f[0]); })
                      .map(function (f) { return f[0] + "=" + encode(f[1]); }).join("&");
    var current = window.location.hash.replace(/^#/, "");
    if (!hash && current.indexOf("=") === -1) { return; }   // no filters: leave a study's anchor alone
    var address = window.location.href.split("#")[0] + (hash ? "#" + hash : "");
    if (address === window.location.href) { return; }
    try {
      window.history.replaceState(window.history.state, "", address);
    } catch (refused) {
      // the view is right; only the address does not follow
    }
  }

  function changed() { apply(); toAddress(); }

  path.addEventListener("input", changed);
  [code, flagged].concat(boxes).forEach(function (input) { input.addEventListener("change", changed); });
  more.addEventListener("click", showMore);
  document.getElementById("filters").addEventListener("submit", function (event) { event.preventDefault(); });
  // a link to filters ("show its findings"); a study's own anchor changes no filter
  window.addEventListener("hashchange", function () {
    if (window.location.hash.indexOf("=") !== -1) { fromAddress(true); toAddress(); }
  });
  fromAddress(false);
  document.body.setAttribute("data-ready", "1");
})();
"""


def review_html(report: Report, cards: Sequence[StudyCard], *, title: str, notes: Sequence[str] = (),
                study_notes: Sequence[str] = (), layout: str = "nifti") -> str:
    """The whole page as one string: no external resources, thumbnails by relative URL. ``layout`` is what a
    study is in the release ("nifti", "dicom", "slices"): the legend explains its strips even without cards."""
    links: dict[str, str] = {}
    by_id: dict[int, str] = {}
    folders: dict[str, str] = {}
    for card in cards:
        links[card.study_path] = card.anchor
        if card.mask_path:
            links[card.mask_path] = card.anchor
        if card.study_id is not None:
            by_id.setdefault(card.study_id, card.anchor)
        for folder in card.folders:
            folders.setdefault(folder, card.anchor)
    if folders:   # a finding about a file inside a card's patient or case folder links to that card
        for finding in report.findings:
            if finding.path not in links and (anchor := within(finding.path, folders)) is not None:
                links[finding.path] = anchor
    rules = catalogue()
    titles = {code: rules[code].title for code in {f.code for f in report.findings} if code in rules}
    # what the script needs besides the report to draw a row as _row does
    view = {"page": PAGE, "titles": titles, "paths": links, "ids": {str(k): v for k, v in by_id.items()}}
    total = len(report.findings)
    without_js = ("The filters need JavaScript; the tables below list everything." if total <= PAGE else
                  f"The filters need JavaScript; the table below lists the first {PAGE:,} of {total:,} findings "
                  "(all of them are in the JSON report embedded in this page).")
    csp = ("default-src 'none'; img-src 'self' file: data:; style-src 'unsafe-inline'; "
           "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")
    state = "valid" if report.valid else "invalid"
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        f'<body data-valid="{state}">',
        f"<header><h1>{_e(title)}</h1><p>curator {_e(report.version)} · validation and review of "
        f"{_e(report.root)}</p></header>",
        "<main>",
        '<pre id="js-errors" hidden></pre>',
        f"<script>{_ERRORS_JS}</script>",
        f'<noscript><p class="note">{_e(without_js)}</p></noscript>',
        _summary(report, notes),
        _findings(report, links, by_id, titles),
        _studies(cards, study_notes, layout),
        "</main>",
        f'<script type="application/json" id="report-data">{_json_block(report.model_dump(mode="json"))}</script>',
        f'<script type="application/json" id="view-data">{_json_block(view)}</script>',
        f"<script>{_JS}</script>",
        "</body>",
        "</html>",
        "",
    ])
