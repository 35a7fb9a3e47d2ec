"""README figures and PDFs: deterministic PNGs, PDFs with Cyrillic that say what the Markdown says, and the
per-category percentages of the overview table (MosMed: 22.8/ 61.6/ 11.3/ 4.1/ 0.2)."""

from __future__ import annotations

import datetime as dt
import functools
import io
import random
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

from curator.checks.release_docs import overview
from curator.io.card import load_card
from curator.io.source import read_study_table
from curator.models.card import DatasetCard, localise
from curator.models.records import SourceStudy
from curator.profiles import get_profile
from curator.release import build, figures
from curator.release.figures_and_pdfs import (
    FIGURE_NAMES,
    ReleaseDocsError,
    example_studies,
    figure_path,
    pdf_names,
    write_figures,
    write_pdfs,
)
from curator.release.pdf import PdfRenderError, markdown_to_pdf
from curator.release.plan import plan_release
from curator.release.readme import _environment, readme_name, render_readme
from curator.release.stats import release_stats
from tests.factories import card_data, make_source, write_nifti

MOSMED_COUNTS = [254, 684, 125, 45, 2]
CATEGORIES = [f"CT-{k}" for k in range(5)]


def _files(langs: list[str], figure_names: list[str]) -> dict[str, Any]:
    """The ``files`` mapping the builder passes to the README templates (figures and PDFs included)."""
    return {
        "registry": "dataset_registry.xlsx", "registry_csv": "dataset_registry.csv", "licence": "LICENSE",
        "readmes": [readme_name(lang) for lang in langs], "pdfs": pdf_names(langs),
        "manifests": ["SHA256SUMS", "MD5SUMS"], "studies_dir": "studies", "masks_dir": "masks",
        "study_name": "study_BBBB.nii.gz", "mask_name": "study_BBBB_mask.nii.gz", "extra": ["dataset.yaml"],
        "figures": figure_names,
    }


@dataclass
class Docs:
    stage: Path
    card: DatasetCard
    figures: list[str]
    pdfs: list[str]


def _make_docs(stage: Path, source: Path) -> Docs:
    """What the builder does after placing the NIfTI files: figures, READMEs that show them, PDFs."""
    card = load_card(source / "dataset.yaml")
    studies = [study for _, study in read_study_table(source / "studies.csv")]
    planned = plan_release(card, get_profile("mosmed"), studies)
    stats = release_stats(studies, [c.id for c in card.categories])
    names = write_figures(stage, [(p.source.category, p.study_path, p.mask_path) for p in planned], studies, stats,
                          card.languages)
    for lang in card.languages:
        text = render_readme(card, lang, stats, _files(card.languages, names))
        (stage / readme_name(lang)).write_text(text, encoding="utf-8", newline="\n")
    pdfs = write_pdfs(stage, card.languages, card.release_date,
                      {lang: localise(card.title, lang) for lang in card.languages})
    return Docs(stage, card, names, pdfs)


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Docs:
    base = tmp_path_factory.mktemp("docs")
    source = make_source(base / "source", shape=(32, 32, 6))
    build(source, base / "release", jobs=1)
    stage = base / "stage"
    shutil.copytree(base / "release", stage)
    return _make_docs(stage, source)


def _pdf_text(path: Path) -> str:
    return " ".join(page.extract_text() for page in PdfReader(path).pages)


def _flat(text: str) -> str:
    return " ".join(text.split())


# ----------------------------------------------------------------------------------------------------------
# Percentages per category


def test_mosmed_shares_are_the_papers() -> None:
    assert figures.shares_tenths(MOSMED_COUNTS) == [228, 616, 113, 41, 2]
    assert [figures.format_share(t, "ru") for t in figures.shares_tenths(MOSMED_COUNTS)] == \
        ["22,8", "61,6", "11,3", "4,1", "0,2"]
    assert figures.shares_tenths([1, 1, 1]) == [334, 333, 333]
    assert figures.shares_tenths([0, 0]) == [0, 0]
    assert figures.shares_tenths([2, 3, 1, 1, 1]) == [250, 375, 125, 125, 125]


@functools.cache
def _overview_template() -> jinja2.Template:
    return _environment().get_template("_overview.md.j2")


def _overview_row(counts: list[int], lang: str) -> str:
    categories = [{"id": f"C{i}"} for i in range(len(counts))]
    stats = {"studies": sum(counts), "patients": sum(counts), "masks": 0,
             "sex": {"known": 0, "M": 0, "F": 0, "O": 0},
             "age": {"known": 0, "min": None, "median": None, "max": None},
             "per_category": {c["id"]: n for c, n in zip(categories, counts, strict=True)}}
    text = _overview_template().render(
        lang=lang, stats=stats, categories=categories, annotation_classes=[])
    return text.strip().splitlines()[-1]


def test_the_template_and_the_figures_round_alike() -> None:
    rng = random.Random(7)
    for _ in range(300):
        counts = [rng.choice([0, 1, rng.randint(0, 9), rng.randint(0, 3000)]) for _ in range(rng.randint(1, 6))]
        row = _overview_row(counts, "en")
        expected = figures.shares_tenths(counts)
        if sum(counts) == 0:
            assert "%" not in row.split("|")[2]
            continue
        shown = re.search(r"\(([^)]*) %\)", row)
        assert shown, row
        assert [int(s.replace(".", "")) for s in shown.group(1).split("/ ")] == expected
        assert sum(expected) == 1000
        assert all(abs(t - 1000 * c / sum(counts)) < 1 for t, c in zip(expected, counts, strict=True))
        assert _overview_row(counts, "ru").split("|")[2].replace(",", ".") == row.split("|")[2]


def _mosmed_studies() -> list[SourceStudy]:
    """1110 studies: 254/684/125/45/2 per category, 42/56/2 % M/F/O, ages 18..97 with median 47."""
    categories = [c for c, n in zip(CATEGORIES, MOSMED_COUNTS, strict=True) for _ in range(n)]
    sexes = ["M"] * 466 + ["F"] * 622 + ["O"] * 22
    ages = [18] + [30] * 553 + [47] * 2 + [60] * 553 + [97]
    return [SourceStudy(study=f"s/{i:04d}.nii.gz", category=c, sex=s, age=a)  # type: ignore[arg-type]
            for i, (c, s, a) in enumerate(zip(categories, sexes, ages, strict=True))]


def test_a_mosmed_distribution_reads_like_mosmed_in_both_languages() -> None:
    card = DatasetCard.model_validate(card_data())
    stats = release_stats(_mosmed_studies(), CATEGORIES)
    files = _files(["en", "ru"], list(FIGURE_NAMES))
    english = render_readme(card, "en", stats, files)
    russian = render_readme(card, "ru", stats, files)
    assert "| 254/ 684/ 125/ 45/ 2 (22.8/ 61.6/ 11.3/ 4.1/ 0.2 %) |" in english
    assert "| 254/ 684/ 125/ 45/ 2 (22,8/ 61,6/ 11,3/ 4,1/ 0,2 %) |" in russian
    for text in (english, russian):
        assert "| 1110 |" in text and "| 42/ 56/ 2 |" in text and "| 18/ 47/ 97 |" in text
    # the release checker reads the same numbers from both languages
    (found_en, rows_en), (found_ru, rows_ru) = overview(english), overview(russian)
    assert rows_en == rows_ru and found_en == found_ru
    assert found_en["per_category"][:5] == [254, 684, 125, 45, 2]
    assert found_en["per_category"][5:] == [22.8, 61.6, 11.3, 4.1, 0.2]


def test_figures_and_pdfs_appear_in_the_tree_and_the_figures_section() -> None:
    card = DatasetCard.model_validate(card_data())
    stats = release_stats(_mosmed_studies(), CATEGORIES)
    english = render_readme(card, "en", stats, _files(["en", "ru"], ["categories", "examples"]))
    russian = render_readme(card, "ru", stats, _files(["en", "ru"], ["categories", "examples"]))
    tree = english.split("## Data Structure", 1)[1].split("```")[1]
    assert "|-- README_EN.pdf\n|-- README_RU.pdf\n" in tree
    assert ("|-- figures\n|   |-- categories_EN.png\n|   |-- categories_RU.png\n|   |-- examples_EN.png\n"
            "|   `-- examples_RU.png\n`-- studies" in tree)  # no masks in this one
    assert russian.split("## Структура данных", 1)[1].split("```")[1] == tree
    assert "## Figures\n\n![Studies per category](figures/categories_EN.png)\n\n*Figure 1. " in english
    assert "![Example slices](figures/examples_EN.png)\n\n*Figure 2. " in english
    assert "## Иллюстрации\n\n![Исследования по категориям](figures/categories_RU.png)\n\n*Рисунок 1. " in russian
    assert "age_sex" not in english
    # without figures: no section, no folder
    for lang, heading in (("en", "## Figures"), ("ru", "## Иллюстрации")):
        plain = render_readme(card, lang, stats, _files(["en", "ru"], []))
        assert heading not in plain and "figures" not in plain


# ----------------------------------------------------------------------------------------------------------
# Figures


def test_figures_are_deterministic_and_of_fixed_size(tmp_path: Path) -> None:
    people: list[tuple[str | None, int | None]] = [("M", 30), ("F", 45), ("O", 88), (None, 61), ("F", None)]
    rng = np.random.default_rng(3)
    hu = rng.normal(-700, 300, (40, 48)).astype(np.float32)
    mask = np.zeros((40, 48), bool)
    mask[10:20, 5:15] = True
    examples = [("CT-0", hu, None), ("CT-1", hu, mask), ("CT-2", hu, None)]
    sizes = {}
    for run in ("a", "b"):
        for lang in ("en", "ru"):
            out = tmp_path / run
            figures.categories_figure(dict(zip(CATEGORIES, MOSMED_COUNTS, strict=True)), out / f"c_{lang}.png",
                                      lang=lang)
            figures.age_sex_figure(people, out / f"a_{lang}.png", lang=lang)
            figures.examples_figure(examples, out / f"e_{lang}.png", lang=lang)
    for path in sorted((tmp_path / "a").iterdir()):
        again = tmp_path / "b" / path.name
        assert path.read_bytes() == again.read_bytes(), path.name
        with Image.open(path) as image:
            sizes[path.name] = image.size
            assert b"Software" not in path.read_bytes()
    assert sizes["c_en.png"] == sizes["a_ru.png"] == (960, 540)
    assert sizes["e_en.png"] == (3 * 300, 300 + 75)
    assert (tmp_path / "a/c_en.png").read_bytes() != (tmp_path / "a/c_ru.png").read_bytes()  # Russian labels
    assert figures.age_sex_figure([("M", None)], tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()
    assert figures.examples_figure([], tmp_path / "none.png") is None


def test_an_example_figure_of_one_category_is_wide_enough_for_its_title(tmp_path: Path) -> None:
    hu = np.random.default_rng(3).normal(-700, 300, (40, 48)).astype(np.float32)
    mask = np.zeros((40, 48), bool)
    mask[10:20, 5:15] = True
    for lang in ("en", "ru"):
        out = figures.examples_figure([("CT-1", hu, mask)], tmp_path / f"one_{lang}.png", lang=lang)
        assert out is not None
        with Image.open(out) as image:
            pixels = np.asarray(image.convert("L"))
        assert pixels.shape == (300 + 75, 900)
        strip = pixels[:75]                       # the title: drawn, and clear of both edges (not clipped)
        assert strip.max() > 128 and strip[:, :20].max() < 32 and strip[:, -20:].max() < 32, lang
        panel = pixels[75:]
        assert panel[:, :300].max() < 32 and panel[:, 300:600].max() > 128   # one panel, centred


def test_the_example_slice_is_oriented_like_a_radiologist_reads_it(tmp_path: Path) -> None:
    # LAS voxel grid (as MosMed and the phantoms): i runs to the patient's left, j anterior, k superior
    volume = np.full((10, 12, 5), -1000, dtype=np.int16)
    volume[0, 11, :] = 500        # the patient's right (i = 0 in LAS), anterior (j high): image top left
    volume[9, 0, :] = 100         # left, posterior: bottom right
    mask = np.zeros(volume.shape, dtype=np.uint8)
    mask[4:6, 4:6, 1] = 1
    mask[4:7, 4:7, 3] = 1         # slice 3 holds the most mask voxels
    affine = np.diag([-0.8, 0.8, 5.0, 1.0])
    study = write_nifti(tmp_path / "s.nii.gz", volume, affine)
    lesion = write_nifti(tmp_path / "m.nii.gz", mask, affine)
    hu, shown = figures.example_slice(study, lesion)
    assert hu.shape == (12, 10) and shown is not None and shown.shape == (12, 10)
    assert hu[0, 0] == 500 and hu[-1, -1] == 100
    assert int(shown.sum()) == 9
    # RAS storage of the same anatomy gives the same picture; no mask: the middle slice
    ras = write_nifti(tmp_path / "r.nii.gz", volume[::-1].copy(), np.diag([0.8, 0.8, 5.0, 1.0]))
    hu_ras, none = figures.example_slice(ras)
    assert none is None and np.array_equal(hu_ras, hu)
    # a 2:1 pixel is resampled to square pixels
    wide = write_nifti(tmp_path / "w.nii.gz", volume, np.diag([-0.8, 1.6, 5.0, 1.0]))
    assert figures.example_slice(wide)[0].shape == (24, 10)


def test_one_example_per_category_prefers_a_study_with_a_mask() -> None:
    planned = [("CT-0", "a", None), ("CT-1", "b", None), ("CT-1", "c", "cm"), ("CT-1", "d", "dm")]
    assert example_studies(planned, ["CT-0", "CT-1", "CT-2"]) == [("CT-0", "a", None), ("CT-1", "c", "cm")]


# ----------------------------------------------------------------------------------------------------------
# The release's figures and PDFs


def test_release_figures_are_written_per_language(docs: Docs) -> None:
    assert docs.figures == ["categories", "age_sex", "examples"]
    assert sorted(p.name for p in (docs.stage / "figures").iterdir()) == sorted(
        Path(figure_path(n, lang)).name for n in docs.figures for lang in ("en", "ru"))
    assert docs.pdfs == ["README_EN.pdf", "README_RU.pdf"]


def test_the_pdfs_say_what_the_readmes_say(docs: Docs) -> None:
    headings = {
        "en": ["General Information", "Affiliation and Contributors", "Data Structure", "Data Overview",
               "Figures", "Sharing and Access Information", "Checking your copy"],
        "ru": ["Общая информация", "Авторы и организации", "Структура данных", "Характеристики набора данных",
               "Иллюстрации", "Условия доступа и распространения", "Проверка целостности копии"],
    }
    for lang, names in headings.items():
        markdown = (docs.stage / readme_name(lang)).read_text(encoding="utf-8")
        reader = PdfReader(docs.stage / readme_name(lang, "pdf"))
        assert reader.metadata is not None and reader.metadata.title == localise(docs.card.title, lang)
        text = _flat(" ".join(page.extract_text() for page in reader.pages))
        for name in names:
            assert f"## {name}" in markdown and name in text, (lang, name)
        # every value of the "Data Overview" table, as the Markdown states it
        table = [line.split("|")[2].strip() for line in markdown.split(headings[lang][3], 1)[1].splitlines()
                 if line.startswith("| ") and line.count("|") == 3 and ":---" not in line][1:]
        assert len(table) == 6
        for value in table:
            assert _flat(value) in text, (lang, value)
        assert ("(25.0/ 37.5/ 12.5/ 12.5/ 12.5 %)" if lang == "en" else "(25,0/ 37,5/ 12,5/ 12,5/ 12,5 %)") in text
        assert localise(docs.card.title, lang) in text
        assert sum(len(page.images) for page in reader.pages) == 3


def test_pdfs_are_reproducible(docs: Docs, tmp_path: Path) -> None:
    for lang in ("en", "ru"):
        markdown = (docs.stage / readme_name(lang)).read_text(encoding="utf-8")
        again = markdown_to_pdf(markdown, tmp_path / f"{lang}.pdf", base_dir=docs.stage,
                                title=localise(docs.card.title, lang), when=docs.card.release_date, lang=lang)
        assert again.read_bytes() == (docs.stage / readme_name(lang, "pdf")).read_bytes()
        assert b"CreationDate (D:20260115000000Z" in again.read_bytes()
        assert re.search(rb"/Producer \(curator\)", again.read_bytes())


def test_figures_and_pdfs_of_a_second_build_are_byte_identical(docs: Docs, tmp_path: Path) -> None:
    source = make_source(tmp_path / "source", shape=(32, 32, 6))
    build(source, tmp_path / "release", jobs=1)
    again = _make_docs(tmp_path / "release", source)
    names = [figure_path(n, lang) for n in docs.figures for lang in ("en", "ru")] + docs.pdfs
    for name in names:
        assert (again.stage / name).read_bytes() == (docs.stage / name).read_bytes(), name


def _colour_pixels(png: bytes, colour: tuple[int, int, int], tolerance: int = 12) -> int:
    with Image.open(io.BytesIO(png)) as image:
        pixels = np.asarray(image.convert("RGB")).astype(int)
    return int((np.abs(pixels - np.array(colour)).max(axis=2) <= tolerance).sum())


@pytest.mark.needs_tool("pdftoppm")
def test_a_rendered_page_shows_the_figures(docs: Docs, tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    bar = tuple(int(figures.BAR_COLOUR[i:i + 2], 16) for i in (1, 3, 5))
    for lang in ("en", "ru"):
        subprocess.run(["pdftoppm", "-r", "50", "-png", str(docs.stage / readme_name(lang, "pdf")),
                        str(tmp_path / lang)], check=True)
        pages = sorted(tmp_path.glob(f"{lang}-*.png"))
        assert len(pages) >= 3
        bars = [_colour_pixels(page.read_bytes(), bar) for page in pages]  # type: ignore[arg-type]
        assert max(bars) > 2000, bars  # the bar chart (and the M bars of the age chart) are on a page
        with Image.open(pages[bars.index(max(bars))]) as image:
            rgb = np.asarray(image.convert("RGB")).astype(int)
        lesion = (rgb[..., 0] - rgb[..., 1] > 60) & (rgb[..., 0] - rgb[..., 2] > 60)  # red: F bars and masks
        assert lesion.sum() > 50


# ----------------------------------------------------------------------------------------------------------
# Markdown -> PDF in general


def test_markdown_features_render(tmp_path: Path) -> None:
    Image.new("RGB", (300, 150), (59, 110, 165)).save(tmp_path / "blue.png")
    markdown = """# Заголовок первого уровня

Абзац с **жирным**, *курсивом*, `кодом`, [ссылкой](https://example.org) и сноской<sup>1</sup>.

> Цитата: «ёлки» — и список:
>
> * первый пункт
>   * вложенный пункт
> * второй пункт

1. раз
2. два

| Столбец | Значение |
| :--- | ---: |
| строка | 42 |

```
|-- дерево
`-- tree
```

<p style='page-break-after: always'></p>

![синий прямоугольник](blue.png)

![remote](https://example.org/x.png) ![missing](nothing.png)

---

Конец.
"""
    out = markdown_to_pdf(markdown, tmp_path / "t.pdf", base_dir=tmp_path, title="Тест", when=dt.date(2020, 4, 28))
    reader = PdfReader(out)
    assert len(reader.pages) == 2  # the page break
    text = _flat(_pdf_text(out))
    for piece in ("Заголовок первого уровня", "жирным", "курсивом", "кодом", "ссылкой", "«ёлки»", "вложенный пункт",
                  "1. раз", "Столбец", "42", "|-- дерево", "remote", "missing", "Конец."):
        assert piece in text, piece
    assert sum(len(page.images) for page in reader.pages) == 1
    fonts = {str(font["/BaseFont"]) for page in reader.pages
             for font in page["/Resources"]["/Font"].values()}  # type: ignore[index, union-attr]
    assert any("DejaVuSans" in font for font in fonts) and any("Mono" in font for font in fonts)
    links = [a.get_object()["/A"]["/URI"] for a in reader.pages[0].get("/Annots", [])]  # type: ignore[union-attr]
    assert "https://example.org" in links
    # an image that is no picture is a build error, not a silently broken PDF
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(PdfRenderError, match=r"bad\.png"):
        markdown_to_pdf("![x](bad.png)\n", tmp_path / "bad.pdf", base_dir=tmp_path, title="t",
                        when=dt.date(2020, 1, 1))
    # images outside base_dir are not read
    outside = markdown_to_pdf("![outside](../t.pdf)\n", tmp_path / "o.pdf", base_dir=tmp_path / "sub",
                              title="t", when=dt.date(2020, 1, 1))
    assert "outside" in _pdf_text(outside)


def test_write_pdfs_reports_an_unreadable_figure_as_a_release_docs_error(tmp_path: Path) -> None:
    (tmp_path / "README_EN.md").write_text("# T\n\n![f](figures/x.png)\n", encoding="utf-8")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "x.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ReleaseDocsError, match=r"README_EN\.pdf"):
        write_pdfs(tmp_path, ["en"], dt.date(2020, 1, 1), {})
    assert isinstance(ReleaseDocsError("x"), OSError)  # the builder's `except OSError` catches it


CHINESE = """# 测试用胸部 CT

数据概览：**病例数**与切片数。

* 第一项：CT 切片；
* 第二项：标签掩膜；
* third item, Latin only;

| 标签 | 像素占比（%） |
|---|---|
| 磨玻璃影 | 11.06 |
"""


@pytest.mark.needs_tool("pdftotext", "pdftoppm")
def test_chinese_text_is_set_in_noto_sans_cjk_and_latin_pdfs_do_not_carry_it(tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None:
        pytest.skip("pdftotext/pdftoppm (poppler-utils) are not installed")
    out = markdown_to_pdf(CHINESE, tmp_path / "zh.pdf", base_dir=tmp_path, title="测试", when=dt.date(2026, 1, 1),
                          lang="zh")
    # poppler reads the CJK font's ToUnicode map; pypdf 5 puts a NUL before each CJK character of it
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    for piece in ("测试用胸部 CT", "病例数", "第一项：CT 切片；", "第二项：标签掩膜；", "磨玻璃影", "11.06"):
        assert piece in text, piece
    # every bullet is a bullet: after a line set in the CJK fallback font, the next one was drawn in that font
    assert text.count("\u2022") == 3, text
    fonts = {str(font["/BaseFont"]) for page in PdfReader(out).pages
             for font in page["/Resources"]["/Font"].values()}  # type: ignore[index, union-attr]
    assert any("NotoSansCJKSC" in font for font in fonts), fonts
    latin = markdown_to_pdf("# Title\n\n* one\n* two\n", tmp_path / "en.pdf", base_dir=tmp_path, title="t",
                            when=dt.date(2026, 1, 1))
    latin_fonts = {str(font["/BaseFont"]) for page in PdfReader(latin).pages
                   for font in page["/Resources"]["/Font"].values()}  # type: ignore[index, union-attr]
    assert not any("CJK" in font for font in latin_fonts), latin_fonts
    run = subprocess.run(["pdftoppm", "-r", "60", "-png", str(out), str(tmp_path / "page")], capture_output=True,
                         text=True, check=True)
    assert run.stderr == ""   # was "Syntax Error: No font in show" for the bullets after a Chinese line
    with Image.open(tmp_path / "page-1.png") as image:
        grey = np.asarray(image.convert("L"))
    assert (grey < 160).sum() > 1000   # the glyphs are drawn (ink on the page), not left blank
