"""The review page and the figures take label names and colours from the label scheme a release declares.

The card's ``label_scheme`` wins; without one, the profile's default (``slices``: cncb, ``mosmed``: binary-lesion).
Inf-Net's masks store ground-glass as 1 and consolidation as 2, CNCB's as 2 and 3 (1 is CNCB's lung field): read
under the wrong scheme, real ground-glass is drawn as the lung field's outline and consolidation as ground-glass.
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from curator.label_schemes import load_scheme
from curator.profiles import get_profile, load_profiles
from curator.release.figures import MASK_ALPHA, MASK_COLOUR, lung_window_rgb, mask_colour
from curator.review import write_review
from curator.review.strips import LABEL_ALPHA, TILE, label_style
from curator.review.thumbnails import Drawn, Job, draw
from curator.validate import ValidateOptions
from tests.factories import card_data, write_nifti
from tests.slices_factories import write_extras
from tests.test_review import chromium, parse
from tests.test_review_dicom_slices import CONSOLIDATION_AT, GGO_AT, INFNET, TOP, pixels, write_case

LUNG_GREY = 60   # the factory's lungs, as stored: the translucent fills blend over this
LESION_TILE = 3  # the case's slices 0001, 0005, 0007, 0008, 0010 are drawn; 0008 holds both lesions


def slices_release(root: Path, *, values: tuple[int, int, int], scheme: str | None) -> Path:
    """One case of 12 slices with ground-glass on 7 and 8 and consolidation on 8, its masks storing (lung field,
    ground-glass, consolidation) as ``values``; a dataset.yaml naming ``scheme`` (None: no card)."""
    write_extras(root)
    write_case(root, "CP/1/10", 12, lesions={7: (True, False), 8: (True, True)}, values=values)
    if scheme is not None:
        (root / "dataset.yaml").write_text(yaml.safe_dump(card_data(label_scheme=scheme), allow_unicode=True),
                                           encoding="utf-8")
    return root


def lesion_pixels(review: Path) -> tuple[np.ndarray, np.ndarray]:
    """The thumbnail's pixels at the centres of the ground-glass and the consolidation lesion on slice 0008."""
    strip = pixels(review / "thumbs" / "case-CP-1-10.png")
    tile = strip[:, LESION_TILE * TILE:(LESION_TILE + 1) * TILE]
    return tile[TOP + GGO_AT[0], GGO_AT[1]], tile[TOP + CONSOLIDATION_AT[0], CONSOLIDATION_AT[1]]


def over_lung(hex_colour: str) -> np.ndarray:
    """A label colour as the page's fill draws it over the factory's lung grey."""
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.float64)
    return LABEL_ALPHA * rgb + (1 - LABEL_ALPHA) * LUNG_GREY


GROUND_GLASS, CONSOLIDATION = "#FFD600", "#F21A1A"   # schema/labels: the same colours in cncb and infnet


@pytest.mark.parametrize(("scheme", "values", "lung_field"), [
    ("infnet", (0, 1, 2), 0),                                    # Inf-Net has no lung-field label
    ("cncb", (1, 2, 3), 1),                                      # CNCB's lung field: one thin outline
])
def test_the_cards_scheme_gives_each_value_its_colour_and_name(scheme: str, values: tuple[int, int, int],
                                                              lung_field: int, tmp_path: Path) -> None:
    root = slices_release(tmp_path / "release", values=values, scheme=scheme)
    loaded = load_scheme(scheme)
    assert (loaded.label(values[1]).colour, loaded.label(values[2]).colour) == (GROUND_GLASS, CONSOLIDATION)  # type: ignore[union-attr]
    index = write_review(root, tmp_path / "review", options=ValidateOptions(jobs=1), jobs=1)
    ground_glass, consolidation = lesion_pixels(tmp_path / "review")
    assert np.abs(ground_glass - over_lung(GROUND_GLASS)).max() < 20
    assert np.abs(consolidation - over_lung(CONSOLIDATION)).max() < 20
    legend = html.unescape(index.read_text(encoding="utf-8"))
    assert f"as the {scheme} label scheme ({loaded.title}) says" in legend
    assert f"ground-glass opacity (label {values[1]})" in legend and f"consolidation (label {values[2]})" in legend
    assert legend.count("and the lung field (label 1) as a thin") == lung_field


def test_without_a_card_inf_net_values_are_read_as_cncb(tmp_path: Path) -> None:
    """The slices profile's default is cncb: the same Inf-Net masks without a card draw 1 as the lung field (an
    outline, no fill) and 2 as ground-glass. This is what the card's scheme prevents."""
    root = slices_release(tmp_path / "release", values=(0, 1, 2), scheme=None)
    write_review(root, tmp_path / "review", options=ValidateOptions(jobs=1), jobs=1)
    ground_glass, consolidation = lesion_pixels(tmp_path / "review")
    assert abs(int(ground_glass[0]) - LUNG_GREY) < 12 and abs(int(ground_glass[2]) - LUNG_GREY) < 12   # no fill
    assert np.abs(consolidation - over_lung(GROUND_GLASS)).max() < 20


def test_an_unknown_scheme_in_the_card_is_a_note_and_the_profiles_is_used(tmp_path: Path) -> None:
    root = slices_release(tmp_path / "release", values=(1, 2, 3), scheme="no-such-scheme")
    index = write_review(root, tmp_path / "review", options=ValidateOptions(jobs=1), jobs=1)
    text = html.unescape(index.read_text(encoding="utf-8"))
    assert ("dataset.yaml: unknown label scheme 'no-such-scheme'; known: binary-lesion, cncb, infnet, medseg; "
            "labels are drawn as the slices profile's scheme, cncb") in text
    ground_glass, consolidation = lesion_pixels(tmp_path / "review")
    assert np.abs(ground_glass - over_lung(GROUND_GLASS)).max() < 20
    assert np.abs(consolidation - over_lung(CONSOLIDATION)).max() < 20
    assert "Traceback" not in text and parse(text).cards


def test_each_profile_default_scheme_has_the_profiles_labels() -> None:
    defaults = {name: profile.label_scheme for name, profile in load_profiles().items()}
    assert defaults == {"dicom": None, "mosmed": "binary-lesion", "slices": "cncb"}
    for name, scheme in defaults.items():
        if scheme is not None:
            assert set(load_scheme(scheme).values) == set(get_profile(name).labels), name


def test_the_figures_overlay_colour_comes_from_the_schemes_lesion_label() -> None:
    assert mask_colour(None) == MASK_COLOUR
    assert mask_colour(load_scheme("binary-lesion")) == pytest.approx(MASK_COLOUR, abs=0.005)
    assert mask_colour(load_scheme("infnet")) == load_scheme("infnet").label(1).rgb   # type: ignore[union-attr]
    assert mask_colour(load_scheme("cncb")) == load_scheme("cncb").label(2).rgb       # type: ignore[union-attr]
    hu = np.full((4, 4), -600.0, dtype=np.float32)   # the window's level: grey 0.5
    mask = np.zeros((4, 4), dtype=bool)
    mask[1, 1] = True
    rgb = lung_window_rgb(hu, mask, mask_colour(load_scheme("infnet")))
    expected = (1 - MASK_ALPHA) * 0.5 + MASK_ALPHA * np.array(load_scheme("infnet").label(1).rgb)  # type: ignore[union-attr]
    assert np.allclose(rgb[1, 1], expected, atol=1e-6) and np.allclose(rgb[0, 0], 0.5)


@pytest.mark.parametrize("scheme", ["binary-lesion", "infnet"])
def test_a_nifti_mask_is_drawn_in_the_schemes_lesion_colour(scheme: str, tmp_path: Path) -> None:
    """A NIfTI study's mask (lesion or not) in the scheme's lesion colour: its outline pixels are that colour."""
    study, mask = tmp_path / "study.nii.gz", tmp_path / "mask.nii.gz"
    write_nifti(study, np.full((32, 32, 4), -600, dtype=np.int16))
    lesion = np.zeros((32, 32, 4), dtype=np.int16)
    lesion[8:24, 8:24, :] = 1
    write_nifti(mask, lesion)
    target = tmp_path / "strip.png"
    result = draw(Job(tmp_path, "nifti", study.name, mask.name, target, style=label_style(load_scheme(scheme))))
    assert isinstance(result, Drawn)
    strip = pixels(target)
    colour = np.round(np.array(mask_colour(load_scheme(scheme))) * 255)
    outline = (np.abs(strip - colour) <= 1).all(axis=2)
    assert outline[:, :TILE].sum() > 60   # the square's outline on the first tile
    grey = strip[:20, :20, 0]   # a corner outside the lesion: the window's level, mid grey
    assert np.abs(grey.astype(int) - 128).max() <= 1


@pytest.mark.realdata
def test_realdata_inf_net_masks_as_shipped_with_an_infnet_card(realdata: Path, tmp_path: Path) -> None:
    """Inf-Net's real palette masks {0, 1, 2}, unchanged, under a card that says infnet: ground-glass (1) in the
    ground-glass colour, consolidation (2) in the consolidation colour, and no lung-field outline."""
    slices = realdata / INFNET
    if not (slices / "Imgs").is_dir():
        pytest.skip("the Inf-Net slices are not in ../shared/realdata")
    release = tmp_path / "release"
    write_extras(release)
    names = sorted((p.stem for p in (slices / "Imgs").glob("*.jpg")), key=int)[:12]
    for name in names:
        (release / "image" / "case1").mkdir(parents=True, exist_ok=True)
        (release / "mask" / "case1").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(slices / "Imgs" / f"{name}.jpg", release / "image" / "case1" / f"{name}.jpg")
        shutil.copyfile(slices / "GT" / f"{name}.png", release / "mask" / "case1" / f"{name}.png")
    (release / "dataset.yaml").write_text(yaml.safe_dump(card_data(label_scheme="infnet"), allow_unicode=True),
                                          encoding="utf-8")
    index = write_review(release, tmp_path / "review", options=ValidateOptions(jobs=1), jobs=1)
    strip = pixels(tmp_path / "review" / "thumbs" / "case-case1.png")
    colours = {name: int((np.abs(strip - np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])) <= 2)
                         .all(axis=2).sum()) for name, hex_colour in (("ground-glass", GROUND_GLASS),
                                                                       ("consolidation", CONSOLIDATION),
                                                                       ("lung field", "#4DD9FF"))}
    # the lesions' solid outlines are drawn in exactly the scheme's colours; Inf-Net has no lung field
    assert colours["ground-glass"] > 100 and colours["consolidation"] > 20 and colours["lung field"] == 0
    text = html.unescape(index.read_text(encoding="utf-8"))
    assert "ground-glass opacity (label 1)" in text and "consolidation (label 2)" in text


@pytest.mark.needs_tool("chromium")
def test_browser_screenshot_of_an_infnet_review(tmp_path: Path) -> None:
    root = slices_release(tmp_path / "release", values=(0, 1, 2), scheme="infnet")
    index = write_review(root, tmp_path / "review", options=ValidateOptions(jobs=1), jobs=1)
    shot = tmp_path / "infnet.png"
    chromium(tmp_path, index.as_uri(), f"--screenshot={shot}", "--window-size=1280,1400")
    page = pixels(shot)
    yellow = (page[..., 0] > 200) & (page[..., 1] > 170) & (page[..., 2] < 90)
    red = (page[..., 0] > 200) & (page[..., 1] < 60) & (page[..., 2] < 60)
    assert yellow.sum() > 20 and red.sum() > 10   # the legend's swatches and the thumbnail's outlines
