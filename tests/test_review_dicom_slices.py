"""``curator review`` for the two layouts without NIfTI studies: DICOM patient folders and 2D slice cases (CNCB)."""

from __future__ import annotations

import html
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.uid import generate_uid

from curator.label_schemes import load_scheme
from curator.review import find_studies, write_review
from curator.review.strips import LABEL_ALPHA, SLICES, TILE
from curator.validate import ValidateOptions
from tests.ingest_factories import UID_ROOT, ct_image, write_study
from tests.slices_factories import write_extras, write_mask
from tests.test_review import HOSTILE, PNG_MAGIC, chromium, parse

NO_PRIVACY = ValidateOptions(jobs=1, ignore=("privacy",))   # factory headers carry names and dates on purpose


def card_text(text: str, anchor: str) -> str:
    start = text.index(f'id="{anchor}"')
    return text[start:text.index("</article>", start)]


def pixels(path: Path) -> np.ndarray:
    assert path.read_bytes()[:8] == PNG_MAGIC
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        return np.asarray(image, dtype=np.int16)


def row_links(text: str) -> dict[str, set[str]]:
    """Finding path -> the study anchors its rows in the HTML table link to."""
    links: dict[str, set[str]] = {}
    for row in re.findall(r"<tr class=\"sev-[^>]*>.*?</tr>", text):
        path = html.unescape(re.search(r'data-path="([^"]*)"', row).group(1))   # type: ignore[union-attr]
        links.setdefault(path, set()).update(re.findall(r'href="#([^"]+)"', row))
    return links


# ----------------------------------------------------------------------------------------------------------
# DICOM: factories

def write_patient(folder: Path, patient_id: str, *, count: int = 20, skip: int | None = None, size: int = 32,
                  number: int = 3, description: str = "LUNG 1.0 B70f", names: str = "IM{instance:04d}.dcm",
                  damaged: int | None = None) -> list[Path]:
    """One axial CT series of the chest phantom (body, two lungs) in ``folder``: ``skip`` leaves that instance out
    (a missing slice), ``damaged`` cuts that instance's pixel data short (it cannot be decoded)."""
    patient = {"name": "", "id": patient_id, "birth": "", "sex": "O"}
    study, series = generate_uid(UID_ROOT), generate_uid(UID_ROOT)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for instance in range(1, count + 1):
        if instance == skip:
            continue
        ds = ct_image(patient=patient, study_uid=study, series_uid=series, series_number=number,
                      description=description, kernel="B70f", instance=instance, z=-150.0 + 2.0 * instance, size=size)
        if instance == damaged:
            ds.PixelData = ds.PixelData[: len(ds.PixelData) // 3]
        path = folder / names.format(instance=instance)
        ds.save_as(path, enforce_file_format=True)
        written.append(path)
    return written


def assert_lungs(strip: np.ndarray, tiles: int = SLICES) -> None:
    """Each tile of the strip shows the phantom in the lung window: dark lungs inside a bright body, not blank."""
    assert strip.shape == (TILE, tiles * TILE, 3)
    for k in range(tiles):
        tile = strip[:, k * TILE + 1:(k + 1) * TILE]
        grey = tile.mean(axis=2)
        assert tile.std() > 30                                           # not blank
        assert (grey > 200).sum() > 500                                   # soft tissue (40 HU) is near white
        centre_left = grey[TILE // 2 - 4:TILE // 2 + 4, TILE // 2 - 28:TILE // 2 - 20]
        assert 40 < centre_left.mean() < 120                              # a lung (-850 HU) is dark grey
        assert (np.abs(tile[..., 0] - tile[..., 2]) < 2).all()            # grey: no mask is drawn on DICOM


@pytest.fixture(scope="module")
def dicom_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two patients: A with a soft-tissue and a lung series of one size whose files have no suffix (as scanners
    write them), B with one lung series of .dcm files."""
    root = tmp_path_factory.mktemp("dicom") / "release"
    write_study(root / "A", {"name": "", "id": "A", "birth": "", "sex": "O"}, images=24, step=2.0)
    write_patient(root / "B", "B", count=20)
    return root


# ----------------------------------------------------------------------------------------------------------
# DICOM: the page


def test_dicom_two_patients_two_cards_with_thumbnails(dicom_release: Path, tmp_path: Path) -> None:
    started = time.perf_counter()
    index = write_review(dicom_release, tmp_path / "review", options=NO_PRIVACY, jobs=1)
    seconds = time.perf_counter() - started
    text = index.read_text(encoding="utf-8")
    page = parse(text)
    assert [card["id"] for card in page.cards] == ["patient-A", "patient-B"]
    assert [card["data-path"] for card in page.cards] == ["A", "B"]
    assert sorted(str(img["src"]) for img in page.images) == ["thumbs/patient-A.png", "thumbs/patient-B.png"]
    for name in ("patient-A", "patient-B"):
        assert_lungs(pixels(tmp_path / "review" / "thumbs" / f"{name}.png"))
    a = card_text(text, "patient-A")
    # both series of A have 24 images: the lung reconstruction is drawn, the soft-tissue one is listed
    assert "drawn: series #3 &quot;LUNG 0.8 B70f&quot; (24 images), 32 x 32 x 24 voxels" in a
    assert "other series: series #2 &quot;BODY 0.8 B31f&quot; (24 images)" in a
    assert "no mask" not in a and 'class="problem"' not in a
    assert "axial slices 2, 7, 12, 16, 21" in a
    b = card_text(text, "patient-B")
    assert "drawn: series #3 &quot;LUNG 1.0 B70f&quot; (20 images)" in b and "other series" not in b
    assert "One card per patient folder" in text and "no NIfTI study volumes" not in text
    assert "Traceback" not in text
    print(f"dicom: 2 patients (24+24 and 20 slices of 32x32) reviewed in {seconds:.2f} s")


def test_dicom_a_missing_slice_is_a_note_not_a_traceback(tmp_path: Path) -> None:
    root = tmp_path / "release"
    write_patient(root / "P1", "P1", count=12)
    write_patient(root / "P2", "P2", count=12, skip=6)            # instance 6 of 12 is missing: a gap mid-series
    write_patient(root / "P3", "P3", count=12, damaged=4)         # instance 4's pixel data is cut short
    index = write_review(root, tmp_path / "review", options=NO_PRIVACY, jobs=2)
    text = index.read_text(encoding="utf-8")
    page = parse(text)
    cards = {str(card["id"]): card for card in page.cards}
    assert list(cards) == ["patient-P1", "patient-P2", "patient-P3"]
    assert [str(img["src"]) for img in page.images] == ["thumbs/patient-P1.png"]
    p2 = card_text(text, "patient-P2")
    assert '<p class="problem">series #3 &quot;LUNG 1.0 B70f&quot; (11 images) cannot be converted: missing slice' in p2
    assert "instance 5 and instance 7" in p2 and "<img" not in p2
    p3 = card_text(text, "patient-P3")
    assert "cannot be converted" in p3 and "instance 4" in p3 and "<img" not in p3
    assert "Traceback" not in text and "Error(" not in text
    assert sorted(p.name for p in (tmp_path / "review" / "thumbs").iterdir()) == ["patient-P1.png"]
    # the validation finds the gap too: the finding counts for P2's card and links to it
    assert "flagged" in str(cards["patient-P2"]["class"]) and "flagged" not in str(cards["patient-P1"]["class"])
    gap = next(row for row in page.rows if row["data-code"] == "SERIES_SLICE_MISSING")
    assert str(gap["data-path"]).startswith("P2")
    assert row_links(text)[str(gap["data-path"])] == {"patient-P2"}
    assert 'href="#path=%2FP2%2F"' in p2                      # "show its findings": the folder P2 as a whole


def test_dicom_a_refused_largest_series_gives_way_to_the_next(tmp_path: Path) -> None:
    root = tmp_path / "release"
    write_patient(root / "P1" / "thin", "P1", count=30, skip=15, number=2, description="THIN LUNG")
    write_patient(root / "P1" / "thick", "P1", count=10, number=5, description="THICK LUNG")
    (root / "P1" / "notes.txt").write_text("not an image\n", encoding="utf-8")
    (root / "P1" / "broken.dcm").write_bytes(b"\x00" * 128 + b"DICM" + b"\x01" * 20)
    index = write_review(root, tmp_path / "review", options=NO_PRIVACY, jobs=1)
    card = card_text(index.read_text(encoding="utf-8"), "patient-P1")
    assert "<img" in card and "drawn: series #5 &quot;THICK LUNG&quot; (10 images)" in card
    assert "series #2 &quot;THIN LUNG&quot; (29 images) cannot be converted: missing slice" in card
    assert "1 file in the folder is not readable DICOM" in card
    assert_lungs(pixels(tmp_path / "review" / "thumbs" / "patient-P1.png"))


def test_dicom_folders_without_ct_and_hostile_names(tmp_path: Path) -> None:
    root = tmp_path / "release"
    write_patient(root / HOSTILE, "X", count=6)
    (root / "P9").mkdir()
    (root / "P9" / "IM.readme.dcm").write_text("no DICOM here\n", encoding="utf-8")   # named as DICOM, is not
    (root / "docs").mkdir()
    (root / "docs" / "notes.txt").write_text("a folder of other files is no patient\n", encoding="utf-8")
    index = write_review(root, tmp_path / "review", options=NO_PRIVACY, jobs=1)
    text = index.read_text(encoding="utf-8")
    page = parse(text)
    assert HOSTILE not in text and html.escape(HOSTILE, quote=True) in text
    anchors = [str(card["id"]) for card in page.cards]
    assert anchors == ["patient-img-src-x-onerror-alert-1", "patient-P9"]
    assert [str(img["src"]) for img in page.images] == ["thumbs/patient-img-src-x-onerror-alert-1.png"]
    assert '<p class="problem">no CT image series to draw in this folder (no DICOM file)</p>' in card_text(
        text, "patient-P9")


def test_dicom_max_studies(tmp_path: Path) -> None:
    root = tmp_path / "release"
    for name in ("P1", "P2", "P3"):
        write_patient(root / name, name, count=8, skip=4 if name == "P3" else None)
    index = write_review(root, tmp_path / "review", options=NO_PRIVACY, jobs=1, max_studies=2)
    text = index.read_text(encoding="utf-8")
    # the patient with findings (P3, a missing slice) first, then the first of the others; page order kept
    assert [card["id"] for card in parse(text).cards] == ["patient-P1", "patient-P3"]
    assert "Showing 2 of 3 studies (--max-studies 2)" in text
    assert [p.name for p in (tmp_path / "review" / "thumbs").iterdir()] == ["patient-P1.png"]
    none = write_review(root, tmp_path / "none", options=NO_PRIVACY, jobs=1, max_studies=0)
    text = none.read_text(encoding="utf-8")
    assert parse(text).cards == [] and not any((tmp_path / "none" / "thumbs").iterdir())
    assert "Showing 0 of 3 studies" in text and "One card per patient folder" in text and "translucent red" not in text


# ----------------------------------------------------------------------------------------------------------
# 2D slices (CNCB): factories

SIZE = (128, 96)            # width, height: one image pixel is one thumbnail pixel (no resampling), 16 rows padding
TOP = (TILE - SIZE[1]) // 2
GGO_AT = (40, 38)           # (row, column) centres of the lesions, in the left and the right lung
CONSOLIDATION_AT = (44, 90)


def chest(seed: int) -> np.ndarray:
    """An 8-bit chest slice as CNCB stores it (already windowed): grey body, darker lungs, a little noise."""
    y, x = np.mgrid[0:SIZE[1], 0:SIZE[0]].astype(np.float32)
    grey = np.full(SIZE[::-1], 10.0, dtype=np.float32)
    grey[((x - 64) / 58) ** 2 + ((y - 48) / 44) ** 2 <= 1] = 170.0
    for cx in (38, 90):
        grey[((x - cx) / 20) ** 2 + ((y - 46) / 30) ** 2 <= 1] = 60.0
    noise = np.random.default_rng(seed).normal(0, 4, size=grey.shape)
    return np.clip(grey + noise, 0, 255).astype(np.uint8)


def labels(ggo: bool = False, consolidation: bool = False, values: tuple[int, int, int] = (1, 2, 3)) -> np.ndarray:
    """A label map: the two lung fields, a ground-glass and a consolidation lesion; ``values`` are the values of
    (lung field, ground-glass, consolidation): CNCB's (1, 2, 3) or Inf-Net's (0, 1, 2), which has no lung field."""
    lung, ground_glass, solid = values
    y, x = np.mgrid[0:SIZE[1], 0:SIZE[0]]
    out = np.zeros(SIZE[::-1], dtype=np.uint8)
    for cx in (38, 90):
        out[((x - cx) / 20) ** 2 + ((y - 46) / 30) ** 2 <= 1] = lung
    if ggo:
        out[(y - GGO_AT[0]) ** 2 + (x - GGO_AT[1]) ** 2 <= 36] = ground_glass
    if consolidation:
        out[(y - CONSOLIDATION_AT[0]) ** 2 + (x - CONSOLIDATION_AT[1]) ** 2 <= 25] = solid
    return out


def write_case(root: Path, case: str, count: int, *, lesions: dict[int, tuple[bool, bool]] | None = None,
               mask_size: tuple[int, int] | None = None, no_mask: tuple[int, ...] = (),
               values: tuple[int, int, int] = (1, 2, 3)) -> None:
    for n in range(count):
        name = f"{n:04d}" if "/" in case else str(n)
        path = root / "image" / case / f"{name}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(chest(n), mode="L").save(path, format="JPEG", quality=95)
        if n in no_mask:
            continue
        label_map = labels(*(lesions or {}).get(n, (False, False)), values=values)
        if mask_size is not None:
            label_map = np.asarray(Image.fromarray(label_map).resize(mask_size, Image.Resampling.NEAREST))
        write_mask(root / "mask" / case / f"{name}.png", label_map)


@pytest.fixture(scope="module")
def slices_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CP/1/10: 12 slices, GGO on 7 and 8, consolidation too on 8; CP/1/11: 4 slices without lesions, one
    without a mask; NCP/2/20: 3 slices whose masks are 64x48 (the images 128x96)."""
    root = tmp_path_factory.mktemp("slices") / "release"
    write_extras(root)
    write_case(root, "CP/1/10", 12, lesions={7: (True, False), 8: (True, True)})
    write_case(root, "CP/1/11", 4, no_mask=(2,))
    write_case(root, "NCP/2/20", 3, mask_size=(64, 48))
    return root


def coloured(tile: np.ndarray) -> dict[str, int]:
    """Pixels of each lesion colour and of plain grey in a tile."""
    r, g, b = tile[..., 0], tile[..., 1], tile[..., 2]
    return {"ggo": int(((r - b > 60) & (g - b > 50)).sum()),
            "consolidation": int(((r - g > 60) & (np.abs(g - b) < 20)).sum())}


# ----------------------------------------------------------------------------------------------------------
# 2D slices: the page


def test_slices_cards_per_case_with_label_overlays(slices_release: Path, tmp_path: Path) -> None:
    started = time.perf_counter()
    index = write_review(slices_release, tmp_path / "review", options=ValidateOptions(jobs=1), jobs=1)
    seconds = time.perf_counter() - started
    text = index.read_text(encoding="utf-8")
    page = parse(text)
    assert [card["id"] for card in page.cards] == ["case-CP-1-10", "case-CP-1-11", "case-NCP-2-20"]
    assert [card["data-path"] for card in page.cards] == ["image/CP/1/10", "image/CP/1/11", "image/NCP/2/20"]
    assert len(page.images) == 3
    lesion_case = card_text(text, "case-CP-1-10")
    # the two lesion slices are drawn, the other three spread over the remaining ten
    assert "slices 0001.jpg, 0005.jpg, 0007.jpg, 0008.jpg, 0010.jpg" in lesion_case
    assert "12 slices, 12 with a mask; 2 masks with lesion labels 2/3" in lesion_case
    assert "mask mask/CP/1/10" in lesion_case

    strip = pixels(tmp_path / "review" / "thumbs" / "case-CP-1-10.png")
    assert strip.shape == (TILE, 5 * TILE, 3)
    tiles = [strip[:, k * TILE:(k + 1) * TILE] for k in range(5)]
    counts = [coloured(tile) for tile in tiles]
    assert [c["ggo"] > 50 for c in counts] == [False, False, True, True, False]            # 0007 and 0008
    assert [c["consolidation"] > 40 for c in counts] == [False, False, False, True, False]  # 0008 only

    def at(tile: np.ndarray, row: int, column: int) -> np.ndarray:
        return tile[TOP + row, column]   # the image is 128 wide: one image pixel is one tile pixel

    ggo, consolidation = at(tiles[3], *GGO_AT), at(tiles[3], *CONSOLIDATION_AT)
    cncb = load_scheme("cncb")
    expected_ggo, expected_con = (np.array(cncb.labels[value].rgb) * 255 for value in (2, 3))
    assert ggo[0] - ggo[2] > 80 and ggo[1] - ggo[2] > 70                    # yellow over the left lung's lesion
    assert consolidation[0] - consolidation[1] > 80 and abs(int(consolidation[1]) - int(consolidation[2])) < 15
    def over_lung(colour: np.ndarray) -> np.ndarray:   # the fill is translucent: the lung's grey (60) shows through
        return LABEL_ALPHA * colour + (1 - LABEL_ALPHA) * 60

    assert np.abs(at(tiles[2], *GGO_AT) - over_lung(expected_ggo)).max() < 20
    assert np.abs(at(tiles[3], *CONSOLIDATION_AT) - over_lung(expected_con)).max() < 20
    lung_inside = at(tiles[0], 46, 38)
    assert lung_inside.max() - lung_inside.min() < 3 and 45 < lung_inside.mean() < 75     # lung field: no fill
    outline = tiles[0][TOP + 46, 15:22]                                     # the left lung's outer edge
    assert (outline[:, 2].astype(int) - outline[:, 0] > 40).any()           # a cyan outline, subtle (blended)
    assert at(tiles[0], 46, 64)[0] > 150                                    # the mediastinum as stored (170)

    plain = card_text(text, "case-CP-1-11")
    assert "1 slice has no mask: nothing overlaid" in plain and "0 masks with lesion labels" in plain
    assert all(c == {"ggo": 0, "consolidation": 0} for c in map(coloured, [
        pixels(tmp_path / "review" / "thumbs" / "case-CP-1-11.png")]))

    other_size = card_text(text, "case-NCP-2-20")
    assert "3 masks differ in size from their images (0000.png is 64x48, its image 128x96;" in other_size
    assert "not overlaid" in other_size and "<img" in other_size
    assert coloured(pixels(tmp_path / "review" / "thumbs" / "case-NCP-2-20.png")) == {"ggo": 0, "consolidation": 0}
    # the validation's size findings count for the case and link to its card
    assert "flagged" in str(next(c for c in page.cards if c["id"] == "case-NCP-2-20")["class"])
    links = row_links(text)
    assert links["mask/NCP/2/20/0000.png"] == {"case-NCP-2-20"}
    assert "ground-glass opacity (label 2)" in text and "Traceback" not in text
    print(f"slices: 3 cases (19 slices) reviewed in {seconds:.2f} s")


def test_slices_case_folders_and_max_studies(slices_release: Path, tmp_path: Path) -> None:
    from curator.profiles import get_profile

    root = tmp_path / "release"
    shutil.copytree(slices_release, root)
    write_case(root, "CP/1/12", 2)
    (root / "mask" / "CP" / "1" / "12" / "0005.png").write_bytes((root / "mask/CP/1/12/0000.png").read_bytes())
    studies = {s.name: s for s in find_studies(root, get_profile("slices"))}
    assert list(studies) == ["CP/1/10", "CP/1/11", "CP/1/12", "NCP/2/20"]
    assert studies["CP/1/11"].masks[2] is None and studies["CP/1/12"].notes == ("1 mask has no image",)
    assert studies["CP/1/10"].folders == ("image/CP/1/10", "mask/CP/1/10")

    index = write_review(root, tmp_path / "review", options=ValidateOptions(jobs=1), jobs=1, max_studies=3)
    text = index.read_text(encoding="utf-8")
    # the three cases with findings (an image without its mask, a mask without its image, masks of another
    # size) are drawn; CP/1/10, without findings, is the one left out
    page = parse(text)
    assert [card["id"] for card in page.cards] == ["case-CP-1-11", "case-CP-1-12", "case-NCP-2-20"]
    assert all("flagged" in str(card["class"]) for card in page.cards)
    assert "Showing 3 of 4 studies (--max-studies 3)" in text
    assert "1 mask has no image" in card_text(text, "case-CP-1-12")
    assert row_links(text)["mask/CP/1/12/0005.png"] == {"case-CP-1-12"}
    assert sorted(p.name for p in (tmp_path / "review" / "thumbs").iterdir()) == [
        "case-CP-1-11.png", "case-CP-1-12.png", "case-NCP-2-20.png"]
    one = write_review(root, tmp_path / "one", options=ValidateOptions(jobs=1), jobs=1, max_studies=1)
    assert [card["id"] for card in parse(one.read_text(encoding="utf-8")).cards] == ["case-CP-1-11"]


# ----------------------------------------------------------------------------------------------------------
# In a browser


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Refused" in line]


@pytest.mark.needs_tool("chromium")
@pytest.mark.parametrize("layout", ["dicom", "slices"])
def test_browser_loads_each_page_without_errors(layout: str, dicom_release: Path, slices_release: Path,
                                                tmp_path: Path) -> None:
    release = dicom_release if layout == "dicom" else slices_release
    # privacy checks on: the DICOM factory's dates and IDs give findings about files inside the patient folders
    index = write_review(release, tmp_path / "review", options=ValidateOptions(jobs=1), jobs=1)
    result = chromium(tmp_path, index.as_uri(), "--dump-dom", "--enable-logging=stderr", "--v=0")
    page = parse(result.stdout)
    assert page.attributes["js-errors"].get("hidden") is not None and page.errors == ""
    assert console_messages(result.stderr) == []
    assert len(page.images) == (2 if layout == "dicom" else 3)
    # the script redraws the table from the embedded report: its rows link to the same cards as the HTML's
    static, drawn = row_links(index.read_text(encoding="utf-8")), row_links(result.stdout)
    assert drawn == static
    cards = {card.removeprefix("patient-").removeprefix("case-") for targets in drawn.values() for card in targets}
    assert cards == ({"A", "B"} if layout == "dicom" else {"CP-1-11", "NCP-2-20"})
    shot = tmp_path / "page.png"
    chromium(tmp_path, index.as_uri(), f"--screenshot={shot}", "--window-size=1400,1800")
    with Image.open(shot) as image:
        assert np.asarray(image.convert("RGB"), dtype=np.int16).std() > 20


# ----------------------------------------------------------------------------------------------------------
# Real data (../shared/realdata): a real COVID-19 chest CT series and real COVID CT slices with lesion masks

COVID_CT_MD = "covid_ct_md_dicom/Sample data/COVID-19 subjects/P001"
INFNET = "infnet_covid_semiseg_png/MultiClassInfection-Test"


@pytest.mark.realdata
def test_realdata_review_of_a_real_series_and_real_slices(realdata: Path, tmp_path: Path) -> None:
    series, slices = realdata / COVID_CT_MD, realdata / INFNET
    if not series.is_dir() or not (slices / "Imgs").is_dir():
        pytest.skip("the COVID-CT-MD series or the Inf-Net slices are not in ../shared/realdata")
    # a dicom release: the 148-slice JPEG-lossless series of patient P001, copied as it is
    dicom = tmp_path / "dicom"
    shutil.copytree(series, dicom / "P001")
    started = time.perf_counter()
    index = write_review(dicom, tmp_path / "dicom-review", options=NO_PRIVACY, jobs=1)
    seconds = time.perf_counter() - started
    text = index.read_text(encoding="utf-8")
    card = card_text(text, "patient-P001")
    assert "drawn: series #4" in card and "(148 images), 512 x 512 x 148 voxels" in card
    strip = pixels(tmp_path / "dicom-review" / "thumbs" / "patient-P001.png")
    assert strip.shape == (TILE, SLICES * TILE, 3)
    for k in range(SLICES):
        tile = strip[:, k * TILE:(k + 1) * TILE].mean(axis=2)
        assert tile.std() > 40 and (tile > 200).sum() > 500 and (tile < 80).sum() > 500   # body and air or lung

    # a slices release from Inf-Net's real COVID slices: its labels 1 (GGO) and 2 (consolidation) are CNCB's 2 and 3
    release = tmp_path / "slices"
    write_extras(release)
    names = sorted((p.stem for p in (slices / "Imgs").glob("*.jpg")), key=int)[:12]
    for name in names:
        (release / "image" / "case1").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(slices / "Imgs" / f"{name}.jpg", release / "image" / "case1" / f"{name}.jpg")
        with Image.open(slices / "GT" / f"{name}.png") as gt:
            cncb = np.where(np.asarray(gt) > 0, np.asarray(gt) + 1, 0).astype(np.uint8)
        write_mask(release / "mask" / "case1" / f"{name}.png", cncb)
    started_slices = time.perf_counter()
    index = write_review(release, tmp_path / "slices-review", options=ValidateOptions(jobs=1), jobs=1)
    slice_seconds = time.perf_counter() - started_slices
    card = card_text(index.read_text(encoding="utf-8"), "case-case1")
    assert f"{len(names)} slices, {len(names)} with a mask;" in card
    colours = coloured(pixels(tmp_path / "slices-review" / "thumbs" / "case-case1.png"))
    assert colours["ggo"] > 100 and colours["consolidation"] > 20
    print(f"realdata: 148-slice JPEG-lossless series reviewed in {seconds:.2f} s; {len(names)} real slices in "
          f"{slice_seconds:.2f} s")


@pytest.mark.needs_tool("chromium")
def test_browser_show_its_findings_keeps_to_the_patients_own_folder(tmp_path: Path) -> None:
    from tests.test_review import shown

    root = tmp_path / "release"
    for patient in ("P2", "P20", "XP2"):      # each has a gap, so each has a finding; P2 is a prefix of the others
        write_patient(root / patient, patient, count=12, skip=6)
    index = write_review(root, tmp_path / "review", options=NO_PRIVACY, jobs=2)
    text = index.read_text(encoding="utf-8")
    target = re.search(r'href="(#path=[^"]+)">show its findings', card_text(text, "patient-P2"))
    assert target is not None
    page = parse(chromium(tmp_path, index.as_uri() + html.unescape(target.group(1)), "--dump-dom").stdout)
    assert page.errors == ""
    folders = {str(row["data-path"]).split("/", 1)[0] for row in shown(page.rows)}
    assert folders == {"P2"}
    everything = {str(row["data-path"]).split("/", 1)[0] for row in parse(text).rows}
    assert everything == {"", "P2", "P20", "XP2"}      # "" is the release itself (MANIFEST_MISSING)
