"""Tiny 2D slice datasets in the CNCB layout (profile ``slices``), made with Pillow on the fly."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = (16, 12)  # width, height: not square, so a transposed mask shows

# a palette whose colours are NOT the indices: a reader that converts to colours gets the labels wrong
PALETTE = [0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [128] * (256 * 3 - 12)


def slice_pixels(size: tuple[int, int] = SIZE, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(size[1], size[0]), dtype=np.uint8)


def label_map(size: tuple[int, int] = SIZE, lesion: int | None = 2) -> np.ndarray:
    """Background 0, a lung field 1 and, unless ``lesion`` is None, a small lesion with that label."""
    width, height = size
    labels = np.zeros((height, width), dtype=np.uint8)
    labels[2 : height - 2, 2 : width - 2] = 1
    if lesion is not None:
        labels[4:7, 4:7] = lesion
    return labels


def write_image(path: Path, size: tuple[int, int] = SIZE, *, seed: int = 0, mode: str = "L") -> Path:
    """A CT slice as JPEG or PNG (by suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(slice_pixels(size, seed), mode="L")
    if mode != "L":
        image = image.convert(mode)
    image.save(path, format="JPEG" if path.suffix == ".jpg" else "PNG")
    return path


def label_image(labels: np.ndarray, mode: str = "L") -> Image.Image:
    """LABELS as an image: greyscale ("L"), palette ("P", indices are the labels), 1-bit ("1"), 16-bit ("I;16")
    or "RGB"."""
    if mode == "I;16":
        return Image.fromarray(labels.astype("<u2"))
    if mode == "P":
        image = Image.fromarray(labels, mode="L").convert("P")  # identity index map; then a non-grey palette
        image.putpalette(PALETTE)
        return image
    if mode == "1":
        return Image.fromarray((labels > 0).astype(np.uint8) * 255, mode="L").convert("1")
    if mode == "RGB":
        return Image.fromarray(np.stack([labels * 80] * 3, axis=-1).astype(np.uint8), mode="RGB")
    return Image.fromarray(labels, mode="L")


def write_mask(path: Path, labels: np.ndarray | None = None, *, mode: str = "L", fmt: str = "PNG") -> Path:
    """A label mask file (modes as ``label_image``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    label_image(label_map() if labels is None else labels, mode).save(path, format=fmt)
    return path


def write_extras(root: Path, *, scheme: str | None = "cncb") -> None:
    """The files every release needs besides its data; the masks' label scheme is declared in labels.yaml (as
    ingest-slices writes it) unless ``scheme`` is None."""
    root.mkdir(parents=True, exist_ok=True)
    if scheme is not None:
        (root / "labels.yaml").write_text(f"label_scheme: {scheme}\n", encoding="utf-8")
    (root / "README_EN.md").write_text(
        "# Test slices\n\nCopyright © 2026 Test Centre. https://example.org/slices\n\n"
        "Licensed under CC BY-NC-ND 4.0 (see LICENSE).\n", encoding="utf-8")
    (root / "README_RU.md").write_text(
        "# Тестовые срезы\n\n© Тестовый центр, 2026. https://example.org/slices\n\n"
        "Лицензия CC BY-NC-ND 4.0 (см. LICENSE).\n", encoding="utf-8")
    (root / "LICENSE").write_text("test licence\n", encoding="utf-8")


def make_slices(root: Path, cases: Mapping[str, int] | None = None, *, size: tuple[int, int] = SIZE,
                lesions: Iterable[tuple[str, int]] = (), suffix: str = ".jpg", scheme: str | None = "cncb") -> Path:
    """A clean release: image/<case>/<n>.jpg + mask/<case>/<n>.png for ``cases`` {case: slices}; slices in
    ``lesions`` (case, n) carry a GGO (label 2) lesion, the rest only the lung field. The masks' label scheme is
    declared in labels.yaml (as ingest-slices writes it) unless ``scheme`` is None."""
    write_extras(root, scheme=scheme)
    marked = set(lesions)
    for number, (case, count) in enumerate((cases or {"0": 3, "1": 2}).items()):
        for n in range(count):
            name = f"{n:04d}" if "/" in case else str(n)
            write_image(root / "image" / case / f"{name}{suffix}", size, seed=number * 100 + n)
            write_mask(root / "mask" / case / f"{name}.png", label_map(size, 2 if (case, n) in marked else None))
    return root


def write_csv(path: Path, header: str, rows: Iterable[str], *, newline: str = "\n", bom: bool = False) -> Path:
    text = newline.join([header, *rows]) + newline
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


CNCB_CASES = {"CP/7/70": 3, "NCP/8/80": 2}
CNCB_LESIONS = [("CP/7/70", 1), ("CP/7/70", 2), ("NCP/8/80", 0)]


def make_cncb(root: Path, *, newline: str = "\n", bom: bool = False) -> Path:
    """A clean CNCB-style release: cases <label>/<patient_id>/<scan_id>, unzip_filenames.csv and
    lesions_slices.csv that agree with each other and with the disk."""
    make_slices(root, CNCB_CASES, lesions=CNCB_LESIONS)
    scans = [f"{case.split('/')[0]}-1.zip,{case.replace('/', ',')},{count}" for case, count in CNCB_CASES.items()]
    write_csv(root / "unzip_filenames.csv", "zip_file,label,patient_id,scan_id,n_slice", scans,
              newline=newline, bom=bom)
    write_csv(root / "lesions_slices.csv", "imgpath", [f"{case}/{n:04d}.png" for case, n in CNCB_LESIONS],
              newline=newline, bom=bom)
    return root


def make_slices_source(root: Path, cases: Mapping[str, int] | None = None, *,
                       lesions: Iterable[tuple[str, int]] = (), scheme: str | None = "cncb",
                       card: Mapping[str, object] | None = None) -> Path:
    """A source for ``curator build``: the slices tree as ingest-slices writes it (no README, no LICENSE) with a
    dataset.yaml card (``card``, else tests.factories.card_data) beside it."""
    import yaml

    from tests.factories import card_data

    make_slices(root, cases, lesions=lesions, scheme=scheme)
    for name in ("README_EN.md", "README_RU.md", "LICENSE"):
        (root / name).unlink()
    (root / "dataset.yaml").write_text(yaml.safe_dump(dict(card or card_data()), allow_unicode=True), encoding="utf-8")
    return root
