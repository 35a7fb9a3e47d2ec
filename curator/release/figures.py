"""Deterministic PNG figures for a release README: studies per category, age by sex, example slices.

Every figure is drawn on a bare :class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot, no global
backend switch), inside a style context reset to matplotlib's defaults, so a user's ``matplotlibrc`` cannot
change the pictures. Size and dpi are fixed, text is set in DejaVu Sans (it ships with matplotlib and has
Cyrillic), and the PNG carries no ``Software`` text: the same input gives the same bytes (for one
matplotlib / Pillow version).

The drawing functions take plain data; :func:`example_slice` reads one axial slice (and its mask) from NIfTI
files for the example panel. Titles and axis labels come in English (``lang="en"``) or Russian
(``lang="ru"``); any other language falls back to English. Percentages use :func:`shares_tenths`, the same
rule as the README's "Data Overview" table, so figure and table never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import matplotlib
import matplotlib.style
import nibabel as nib
import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from curator.models.labels import LabelScheme

__all__ = [
    "DPI",
    "LUNG_WINDOW",
    "age_sex_figure",
    "categories_figure",
    "example_slice",
    "examples_figure",
    "format_share",
    "mask_colour",
    "shares_tenths",
]

HU = npt.NDArray[np.float32]
# nibabel is only partly annotated: its orientation helpers are used through an ``Any`` handle.
_ORIENTATIONS: Any = nib.orientations
Mask = npt.NDArray[np.bool_]

DPI: Final = 150
#: (width, height) in inches of the two charts: 960 x 540 pixels at :data:`DPI`.
CHART_SIZE: Final = (6.4, 3.6)
#: Fixed chart margins (figure fractions): no tight_layout, which costs a second draw and moves with the text.
CHART_MARGINS: Final = {"left": 0.11, "right": 0.985, "bottom": 0.15, "top": 0.89}
#: One example panel, in inches; the panel figure is ``columns x rows`` of these plus a title strip.
PANEL_SIZE: Final = 2.0
PANEL_TITLE: Final = 0.5
PANEL_COLUMNS: Final = 5
#: The panel figure is never narrower than three panels (900 px): its title fits, one or two panels are centred.
PANEL_MIN_WIDTH: Final = 3 * PANEL_SIZE
#: Lung window (width, level) in HU, as in the MosMed paper's figures.
LUNG_WINDOW: Final = (1500.0, -600.0)
#: The lesion overlay without a label scheme (MosMed's binary-lesion scheme gives the same red, #ED1C24).
MASK_COLOUR: Final = (0.93, 0.11, 0.14)
MASK_ALPHA: Final = 0.4
RGB = tuple[float, float, float]
BAR_COLOUR: Final = "#3b6ea5"
SEX_COLOURS: Final = {"M": "#3b6ea5", "F": "#d9534f", "O": "#8e7cc3", None: "#b0b0b0"}

_STYLE: Final[dict[Any, Any]] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9.0,
    "axes.titlesize": 11.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "curator",
    "path.simplify": True,
    "image.resample": True,
}

_TEXT: Final[dict[str, dict[str, str]]] = {
    "en": {
        "categories_title": "Studies per category",
        "categories_x": "Category",
        "categories_y": "Number of studies",
        "age_title": "Age distribution by sex",
        "age_x": "Age, years",
        "age_y": "Number of patients",
        "M": "Male",
        "F": "Female",
        "O": "Other",
        "unknown": "Not stated",
        "examples_title": "Lung window W 1500 / L \u2212600",
        "examples_mask": "; lesion mask in red",
        "decimal": ".",
    },
    "ru": {
        "categories_title": "Количество исследований по категориям",
        "categories_x": "Категория",
        "categories_y": "Количество исследований",
        "age_title": "Распределение пациентов по возрасту и полу",
        "age_x": "Возраст, лет",
        "age_y": "Количество пациентов",
        "M": "Мужской",
        "F": "Женский",
        "O": "Другой",
        "unknown": "Не указан",
        "examples_title": "Лёгочное окно W 1500 / L \u2212600",
        "examples_mask": "; маска очагов выделена красным",
        "decimal": ",",
    },
}


def _text(lang: str) -> dict[str, str]:
    return _TEXT.get(lang, _TEXT["en"])


# ----------------------------------------------------------------------------------------------------------
# Percentages


def shares_tenths(counts: Sequence[int]) -> list[int]:
    """Each count's share of the total in tenths of a percent, adding up to exactly 1000.

    Every share is rounded half up to one decimal. When the rounded shares do not add up to 100.0, the
    difference (a few tenths at most) is taken from the largest counts whose rounding went the wrong way for
    the total: 0.1 is the smallest relative change on the largest share, and each share stays one of the two
    tenths nearest to its exact value. With the MosMed distribution 254/684/125/45/2 this gives
    22.8/61.6/11.3/4.1/0.2, the numbers of the MosMedData paper. An empty total gives zeros.

    ``templates/readme/_overview.md.j2`` implements the same rule in Jinja2 (tests keep the two in step).
    """
    total = sum(counts)
    if total <= 0:
        return [0 for _ in counts]
    rounded = [(2000 * c + total) // (2 * total) for c in counts]
    excess = sum(rounded) - 1000
    if excess:
        step = 1 if excess > 0 else -1
        # rounded up (when the total is too big) or down (too small): value * total vs the exact 1000 * count
        wrong_way = [i for i, c in enumerate(counts) if (rounded[i] * total - 1000 * c) * step > 0]
        for i in sorted(wrong_way, key=lambda i: -counts[i])[: abs(excess)]:
            rounded[i] -= step
    return rounded


def format_share(tenths: int, lang: str = "en") -> str:
    """``228`` -> ``"22.8"`` (``"22,8"`` in Russian)."""
    return f"{tenths // 10}{_text(lang)['decimal']}{tenths % 10}"


# ----------------------------------------------------------------------------------------------------------
# Drawing


def _new_figure(size: tuple[float, float]) -> Figure:
    figure = Figure(figsize=size, dpi=DPI)
    figure.patch.set_facecolor("white")
    return figure


def _save(figure: Figure, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return out


@contextmanager
def _style() -> Iterator[None]:
    """matplotlib's defaults plus :data:`_STYLE`, whatever the user's rc files say; restored on exit."""
    with matplotlib.style.context("default"), matplotlib.rc_context(_STYLE):
        yield


def categories_figure(counts: Mapping[str, int], out: Path, *, lang: str = "en") -> Path:
    """Bar chart of the studies per category (in the mapping's order), each bar labelled with its count and
    its share of all studies (one decimal, :func:`shares_tenths`). ``CHART_SIZE`` at ``DPI``."""
    text = _text(lang)
    names = list(counts)
    values = [int(counts[name]) for name in names]
    shares = shares_tenths(values)
    with _style():
        figure = _new_figure(CHART_SIZE)
        axes = figure.add_subplot()
        positions = list(range(len(names)))
        bars = axes.bar(positions, values, color=BAR_COLOUR, width=0.62)
        top = max(values, default=0)
        axes.set_ylim(0, top * 1.22 if top else 1)
        labels = [f"{value}\n{format_share(share, lang)}%" for value, share in zip(values, shares, strict=True)]
        axes.bar_label(bars, labels=labels, padding=2, fontsize=8, linespacing=1.1)
        axes.set_xticks(positions, names)
        axes.set_xlabel(text["categories_x"])
        axes.set_ylabel(text["categories_y"])
        axes.set_title(text["categories_title"])
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        figure.subplots_adjust(**CHART_MARGINS)
        return _save(figure, out)


def _age_bins(ages: Sequence[int]) -> list[tuple[int, int]]:
    low = min(ages) // 10 * 10
    high = max(ages) // 10 * 10
    return [(start, start + 9) for start in range(low, high + 1, 10)]


def age_sex_figure(people: Sequence[tuple[str | None, int | None]], out: Path, *,
                   lang: str = "en") -> Path | None:
    """Stacked bars of patients per ten-year age band, by sex (M, F, O, then not stated when any).

    ``people`` holds one ``(sex, age)`` per patient; those without an age are left out. Returns ``None`` and
    writes nothing when no age is known. ``CHART_SIZE`` at ``DPI``."""
    known = [(sex, age) for sex, age in people if age is not None]
    if not known:
        return None
    text = _text(lang)
    bins = _age_bins([age for _, age in known])
    groups: list[str | None] = [s for s in ("M", "F", "O") if any(sex == s for sex, _ in known)]
    if any(sex not in ("M", "F", "O") for sex, _ in known):
        groups.append(None)
    with _style():
        figure = _new_figure(CHART_SIZE)
        axes = figure.add_subplot()
        positions = list(range(len(bins)))
        bottom = [0] * len(bins)
        for group in groups:
            heights = [sum(1 for sex, age in known
                           if (sex == group if group else sex not in ("M", "F", "O")) and lo <= age <= hi)
                       for lo, hi in bins]
            label = text[group] if group else text["unknown"]
            axes.bar(positions, heights, bottom=bottom, width=0.8, color=SEX_COLOURS[group], label=label,
                     edgecolor="white", linewidth=0.5)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        top = max(bottom)
        for x, total in zip(positions, bottom, strict=True):
            if total:
                axes.text(x, total + top * 0.015, str(total), ha="center", va="bottom", fontsize=8)
        axes.set_ylim(0, top * 1.12)
        axes.set_xticks(positions, [f"{lo}\u2013{hi}" for lo, hi in bins])
        axes.set_xlabel(text["age_x"])
        axes.set_ylabel(text["age_y"])
        axes.set_title(text["age_title"])
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        figure.subplots_adjust(**{**CHART_MARGINS, "right": 0.8})
        return _save(figure, out)


def mask_colour(scheme: LabelScheme | None) -> RGB:
    """The colour of a lesion / no-lesion overlay: the scheme's lesion label's colour (with several lesion labels,
    the lowest value's: CNCB's and Inf-Net's ground-glass); :data:`MASK_COLOUR` without a scheme or a lesion."""
    lesions = [label for label in scheme.labels if label.lesion] if scheme is not None else []
    return min(lesions, key=lambda label: label.value).rgb if lesions else MASK_COLOUR


def lung_window_rgb(hu: HU, mask: Mask | None, colour: RGB = MASK_COLOUR) -> npt.NDArray[np.float32]:
    """The slice in the lung window as grey RGB in 0..1, the mask blended in ``colour``."""
    width, level = LUNG_WINDOW
    grey = np.clip((np.asarray(hu, dtype=np.float32) - np.float32(level - width / 2)) / np.float32(width), 0, 1)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    if mask is not None and mask.any():
        fill = np.asarray(colour, dtype=np.float32)
        rgb[mask] = (1 - MASK_ALPHA) * rgb[mask] + MASK_ALPHA * fill
    return rgb.astype(np.float32)


def examples_figure(examples: Sequence[tuple[str, HU, Mask | None]], out: Path, *, lang: str = "en",
                    colour: RGB = MASK_COLOUR) -> Path | None:
    """One axial slice per category in the lung window (W 1500 / L -600), lesion mask overlaid in ``colour``
    (:func:`mask_colour` of the release's label scheme; translucent fill and outline) where there is one.

    ``examples``: ``(category id, 2D HU array, 2D boolean mask or None)``, arrays in display orientation
    (rows anterior to posterior, columns patient right to left, square pixels; :func:`example_slice` gives
    them so). Up to :data:`PANEL_COLUMNS` panels a row, each ``PANEL_SIZE`` inches. ``None`` (nothing
    written) for an empty list."""
    if not examples:
        return None
    text = _text(lang)
    columns = min(len(examples), PANEL_COLUMNS)
    rows = math.ceil(len(examples) / columns)
    size = (max(columns * PANEL_SIZE, PANEL_MIN_WIDTH), rows * PANEL_SIZE + PANEL_TITLE)
    margin = (size[0] - columns * PANEL_SIZE) / 2   # inches left of the first panel
    any_mask = any(mask is not None and mask.any() for _, _, mask in examples)
    with _style():
        figure = _new_figure(size)
        figure.patch.set_facecolor("black")
        for index, (category, hu, mask) in enumerate(examples):
            hu = np.asarray(hu, dtype=np.float32)
            if hu.ndim != 2:
                raise ValueError(f"{category}: the example slice must be 2D, got shape {hu.shape}")
            if mask is not None:
                mask = np.asarray(mask, dtype=bool)
                if mask.shape != hu.shape:
                    raise ValueError(f"{category}: mask shape {mask.shape} differs from slice shape {hu.shape}")
            row, column = divmod(index, columns)
            left = (margin + column * PANEL_SIZE) / size[0]
            bottom = 1 - (PANEL_TITLE + (row + 1) * PANEL_SIZE) / size[1]
            axes = figure.add_axes((left, bottom, PANEL_SIZE / size[0], PANEL_SIZE / size[1]))
            axes.set_axis_off()
            axes.imshow(lung_window_rgb(hu, mask, colour), interpolation="antialiased", aspect="equal")
            if mask is not None and mask.any() and min(mask.shape) >= 3:
                axes.contour(mask.astype(np.float32), levels=[0.5], colors=[colour], linewidths=0.7)
            axes.text(0.04, 0.96, category, transform=axes.transAxes, ha="left", va="top", color="white",
                      fontsize=13, fontweight="bold")
        title = text["examples_title"] + (text["examples_mask"] if any_mask else "")
        figure.text(0.5, 1 - PANEL_TITLE / 2 / size[1], title, ha="center", va="center", color="white",
                    fontsize=12)
        out.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(out, format="png", dpi=DPI, facecolor="black", metadata={"Software": None})
        return out


def slices_figure(panels: Sequence[tuple[str, Path, Path]], scheme: LabelScheme, out: Path) -> Path:
    """2D slices (``(title, image file, mask file)``) side by side, every label with ``lesion: true`` blended in
    the scheme's own colour for that label; the image's grey values as they are (JPEG/PNG slices are windowed)."""
    from PIL import Image

    colours = {label.value: np.asarray(label.rgb, dtype=np.float32) for label in scheme.labels if label.lesion}
    columns = min(len(panels), PANEL_COLUMNS)
    rows = math.ceil(len(panels) / columns)
    size = (columns * PANEL_SIZE, rows * PANEL_SIZE)
    with _style():
        figure = _new_figure(size)
        figure.patch.set_facecolor("black")
        for index, (title, image_path, mask_path) in enumerate(panels):
            with Image.open(image_path) as image:
                grey = np.asarray(image.convert("L"), dtype=np.float32) / 255
            with Image.open(mask_path) as mask_image:
                mask = np.asarray(mask_image)
            rgb = np.repeat(grey[..., None], 3, axis=2)
            for value, colour in colours.items():
                hit = mask == value
                rgb[hit] = (1 - MASK_ALPHA) * rgb[hit] + MASK_ALPHA * colour
            row, column = divmod(index, columns)
            axes = figure.add_axes((column / columns, 1 - (row + 1) / rows, 1 / columns, 1 / rows))
            axes.set_axis_off()
            axes.imshow(rgb, interpolation="antialiased", aspect="equal")
            axes.text(0.04, 0.96, title, transform=axes.transAxes, ha="left", va="top", color="white", fontsize=11,
                      fontweight="bold")
        out.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(out, format="png", dpi=DPI, facecolor="black", metadata={"Software": None})
    return out


# ----------------------------------------------------------------------------------------------------------
# Reading the example slice


def _display(plane: npt.NDArray[Any], axes: tuple[int, int], ornt: npt.NDArray[np.float64]) -> npt.NDArray[Any]:
    """A 2D plane with voxel axes ``axes`` (input axes of ``ornt``) -> rows anterior..posterior, columns patient
    right..left (radiological convention)."""
    # bring the plane to canonical (R, A) order with R and A increasing along the axes
    if int(ornt[axes[0], 0]) != 0:
        plane = plane.T
        axes = (axes[1], axes[0])
    if ornt[axes[0], 1] < 0:
        plane = plane[::-1, :]
    if ornt[axes[1], 1] < 0:
        plane = plane[:, ::-1]
    return plane.T[::-1, ::-1]  # rows: A high -> low; columns: R high -> low (patient right on image left)


def example_slice(study: Path, mask: Path | None = None) -> tuple[HU, Mask | None]:
    """The example axial slice of a study in display orientation, and its mask slice (``None`` without one).

    The slice is the axial one with the most mask voxels when there is a mask with any, else the middle one.
    Orientation follows the study's affine (nearest axes): rows run anterior to posterior and columns from
    the patient's right to left, as a radiologist views an axial CT. Non-square pixels are resampled (nearest
    neighbour) to square so the panel keeps the anatomy's proportions. The mask must share the study's grid.
    """
    image: Any = nib.load(str(study))
    if len(image.shape) < 3:
        raise ValueError(f"{study}: expected a 3D volume, got shape {image.shape}")
    ornt: npt.NDArray[np.float64] = _ORIENTATIONS.io_orientation(image.affine)
    if np.isnan(ornt).any() or sorted(int(o) for o in ornt[:3, 0]) != [0, 1, 2]:
        ornt = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])  # a degenerate affine: take the voxel axes as RAS
    axial = int(np.flatnonzero(ornt[:3, 0] == 2)[0])
    first, second = (a for a in range(3) if a != axial)
    depth = int(image.shape[axial])

    mask_volume: npt.NDArray[np.bool_] | None = None
    if mask is not None:
        mask_image: Any = nib.load(str(mask))
        if tuple(mask_image.shape[:3]) != tuple(image.shape[:3]):
            raise ValueError(f"{mask}: grid {mask_image.shape[:3]} differs from its study's {image.shape[:3]}")
        data = np.asanyarray(mask_image.dataobj)
        mask_volume = (data.reshape((*data.shape[:3], -1)) != 0).any(axis=3)
    if mask_volume is not None and mask_volume.any():
        index = int(np.argmax(mask_volume.sum(axis=(first, second))))  # the first of equals: deterministic
    else:
        index = depth // 2

    selector: list[Any] = [0] * len(image.shape)
    selector[first] = selector[second] = slice(None)
    selector[axial] = index
    hu_plane = _display(np.asarray(image.dataobj[tuple(selector)], dtype=np.float32), (first, second), ornt)
    mask_plane = None
    if mask_volume is not None:
        mask_plane = _display(mask_volume[tuple(selector[:3])], (first, second), ornt)

    zooms = [float(z) for z in image.header.get_zooms()[:3]]
    row_axis = first if int(ornt[first, 0]) == 1 else second  # after _display rows follow the A axis
    column_axis = second if row_axis == first else first
    row_mm, column_mm = zooms[row_axis], zooms[column_axis]
    if row_mm > 0 and column_mm > 0 and abs(row_mm / column_mm - 1) > 0.01:
        rows = max(1, round(hu_plane.shape[0] * row_mm / column_mm))
        pick = np.minimum((np.arange(rows) + 0.5) * hu_plane.shape[0] / rows, hu_plane.shape[0] - 1).astype(int)
        hu_plane = hu_plane[pick, :]
        if mask_plane is not None:
            mask_plane = mask_plane[pick, :]
    hu_out = np.ascontiguousarray(hu_plane, dtype=np.float32)
    mask_out = None if mask_plane is None else np.ascontiguousarray(mask_plane, dtype=bool)
    return hu_out, mask_out
