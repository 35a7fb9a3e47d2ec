"""The PDF page of a README: fonts, sizes, colours, the A4 document with its footer; see :mod:`curator.release.pdf`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Final

import matplotlib
from fpdf import FPDF
from fpdf.enums import Align

#: (family, style) -> file in matplotlib's ``mpl-data/fonts/ttf``; added to a PDF only when first used.
FONT_FILES: Final[dict[tuple[str, str], str]] = {
    ("sans", ""): "DejaVuSans.ttf",
    ("sans", "B"): "DejaVuSans-Bold.ttf",
    ("sans", "I"): "DejaVuSans-Oblique.ttf",
    ("sans", "BI"): "DejaVuSans-BoldOblique.ttf",
    ("mono", ""): "DejaVuSansMono.ttf",
    ("mono", "B"): "DejaVuSansMono-Bold.ttf",
    ("mono", "I"): "DejaVuSansMono-Oblique.ttf",
    ("mono", "BI"): "DejaVuSansMono-BoldOblique.ttf",
}
PRODUCER: Final = "curator"
#: Chinese (and any CJK) text: Noto Sans CJK SC, face 2 of the collection the PyPI package noto-cjk-sans-otc ships
#: (SIL OFL 1.1; CFF outlines fpdf2 subsets). It is a fallback font, added only to a PDF whose text holds CJK.
CJK_PACKAGE: Final = "noto_cjk_sans_otc"
CJK_FILE: Final = "NotoSansCJK-Regular.ttc"
CJK_FACE: Final = 2
_CJK_RUN: Final = re.compile(r"([\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]+)")
_CJK_TEXT: Final = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]")

BODY_PT: Final = 10.0
CODE_PT: Final = 8.5
SMALL_PT: Final = 8.0
HEADING_PT: Final = {1: 17.0, 2: 14.0, 3: 11.5, 4: 10.5, 5: 10.0, 6: 10.0}
LINE: Final = 1.38          # line height as a multiple of the font size
PT_MM: Final = 25.4 / 72
MARGIN: Final = 20.0        # mm, left and right
TOP: Final = 18.0
BOTTOM: Final = 18.0
LIST_INDENT: Final = 6.0    # mm per list level
QUOTE_INDENT: Final = 5.0
IMAGE_DPI: Final = 150      # a figure's natural size; wider ones are scaled down to the text width
PARAGRAPH_GAP: Final = 2.4

TEXT: Final = (34, 34, 34)
MUTED: Final = (90, 90, 90)
LINK: Final = (26, 95, 180)
RULE: Final = (190, 190, 190)
CODE_FILL: Final = (243, 243, 243)
QUOTE_BAR: Final = (200, 200, 200)
HEAD_FILL: Final = (235, 235, 235)

_BULLETS: Final = ("\u2022", "\u25e6", "\u25aa")
_TAG: Final = re.compile(r"^<\s*(/?)\s*([a-zA-Z0-9]+)[^>]*?(/?)\s*>$")


class PdfRenderError(ValueError):
    """The Markdown cannot be laid out (for example an image that is not a readable picture)."""


@cache
def font_dir() -> Path:
    """matplotlib's bundled TrueType folder (DejaVu Sans and Sans Mono live there)."""
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def cjk_font() -> Path:
    """The Noto Sans CJK collection file of the installed noto-cjk-sans-otc package."""
    return Path(str(files(CJK_PACKAGE).joinpath(CJK_FILE)))


def has_cjk(text: str) -> bool:
    return _CJK_TEXT.search(text) is not None


def cjk_runs(text: str) -> list[str]:
    """``text`` cut into runs of CJK characters (with CJK punctuation) and runs of other text, in order."""
    return [part for part in _CJK_RUN.split(text) if part]


def _mm(points: float) -> float:
    return points * PT_MM



class _Document(FPDF):
    """An A4 page with a footer (title left, page number right) and fonts added on first use."""

    def __init__(self, title: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.doc_title = title
        self.added: set[tuple[str, str]] = set()
        self.cjk = False
        self.set_margins(MARGIN, TOP, MARGIN)
        self.set_auto_page_break(auto=True, margin=BOTTOM)
        self.alias_nb_pages()
        self.c_margin = 0.0  # text starts at the margin, tables and code carry their own padding

    def use(self, family: str, style: str = "", size: float = BODY_PT) -> None:
        style = "".join(s for s in "BI" if s in style)
        if (family, style) not in self.added:
            path = font_dir() / FONT_FILES[(family, style)]
            if not path.is_file():
                raise PdfRenderError(f"font {path} not found (matplotlib ships it; is matplotlib complete?)")
            self.add_font(f"dv{family}", style, str(path))
            self.added.add((family, style))
        if self.cjk:   # after a run set in the fallback font fpdf2 may skip a set_font it thinks is current
            self.font_family = ""
        self.set_font(f"dv{family}", style, size)

    def allow_cjk(self) -> None:
        """Set CJK characters (which DejaVu lacks) in Noto Sans CJK SC, in every family and style."""
        path = cjk_font()
        if not path.is_file():
            raise PdfRenderError(f"font {path} not found (the noto-cjk-sans-otc package ships it; is it installed?)")
        self.add_font("cjk", "", str(path), collection_font_number=CJK_FACE)
        self.set_fallback_fonts(["cjk"], exact_match=False)
        self.cjk = True

    def footer(self) -> None:
        self.set_y(-BOTTOM + 6)
        self.use("sans", "", SMALL_PT)
        self.set_text_color(*MUTED)
        width = self.epw - 25
        title = self.doc_title
        while title and self.get_string_width(title) > width:
            title = title[:-2] + "\u2026" if len(title) > 2 else ""
        self.cell(width, 4, title, align=Align.L)
        self.use("sans", "", SMALL_PT)   # a title set partly in the CJK fallback font leaves that font current
        self.cell(25, 4, f"{self.page_no()} / {{nb}}", align=Align.R)


@dataclass
class _Inline:
    """Emphasis state while writing one run of inline tokens."""

    size: float
    bold: int = 0
    italic: int = 0
    code: int = 0
    links: list[str] = field(default_factory=list)
    vpos: list[str] = field(default_factory=list)

