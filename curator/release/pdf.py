"""README Markdown -> PDF with fpdf2, Cyrillic included, byte-reproducible.

The Markdown is parsed with markdown-it-py (CommonMark plus tables, inline HTML kept) and laid out block by
block: headings, paragraphs, bullet and numbered lists (nested), blockquotes (with a bar on the left), tables,
fenced and indented code, horizontal rules, links, bold / italic / inline code, ``<sup>``/``<sub>``/``<b>``/
``<i>``/``<br>`` inline tags, and images given as paths relative to ``base_dir`` (``figures/x.png``). The
text is set in DejaVu Sans and DejaVu Sans Mono, taken from matplotlib's own font folder
(``matplotlib.get_data_path()/fonts/ttf``) and embedded as subsets, so Cyrillic renders on a machine with no
fonts installed.

Reproducible: the creation date is the given day at 00:00 UTC, the producer is a fixed string (no library
version), fpdf2's file identifier is a hash of the content, and font subsets get a fixed prefix, so the same
Markdown, images and date give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from fpdf.enums import Align, CharVPos, WrapMode, XPos, YPos
from fpdf.fonts import FontFace
from fpdf.util import Padding
from markdown_it import MarkdownIt
from markdown_it.token import Token
from PIL import Image

from curator.release.pdf_document import (
    _BULLETS,
    _TAG,
    BODY_PT,
    CODE_FILL,
    CODE_PT,
    FONT_FILES,
    HEAD_FILL,
    HEADING_PT,
    IMAGE_DPI,
    LINE,
    LINK,
    LIST_INDENT,
    PARAGRAPH_GAP,
    PRODUCER,
    QUOTE_BAR,
    QUOTE_INDENT,
    RULE,
    TEXT,
    PdfRenderError,
    _Document,
    _Inline,
    _mm,
    cjk_runs,
    font_dir,
    has_cjk,
)

__all__ = ["FONT_FILES", "PdfRenderError", "font_dir", "markdown_to_pdf"]


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable("table")




class _Renderer:
    def __init__(self, pdf: _Document, base_dir: Path) -> None:
        self.pdf = pdf
        self.base_dir = base_dir
        self.base_margin = pdf.l_margin
        self.indent = 0.0
        self.lists: list[dict[str, Any]] = []
        self.quotes: list[tuple[int, float, float]] = []   # (page, y, bar x) of each open blockquote
        self.item_fresh = False  # the list item's bullet is drawn and its first block starts beside it

    # -- helpers ---------------------------------------------------------------------------------------
    def _margin(self) -> float:
        return self.base_margin + self.indent

    def _set_indent(self, indent: float) -> None:
        self.indent = indent
        self.pdf.set_left_margin(self._margin())

    def _line(self, size: float) -> float:
        return _mm(size) * LINE

    def _room(self, height: float) -> None:
        """A page break now unless ``height`` mm still fit above the bottom margin (or the page is empty)."""
        if self.pdf.get_y() + height > self.pdf.page_break_trigger and self.pdf.get_y() > self.pdf.t_margin + 0.5:
            self.pdf.add_page()

    def _start_block(self, height: float) -> None:
        if self.item_fresh:
            self.item_fresh = False
            return
        self._room(height)
        self.pdf.set_x(self._margin())

    def _gap(self, mm: float) -> None:
        if self.pdf.get_y() + mm < self.pdf.page_break_trigger:
            self.pdf.set_y(self.pdf.get_y() + mm)
        self.pdf.set_x(self._margin())

    # -- blocks ----------------------------------------------------------------------------------------
    def render(self, tokens: Sequence[Token]) -> None:
        i = 0
        while i < len(tokens):
            i = self._block(tokens, i)

    def _block(self, tokens: Sequence[Token], i: int) -> int:
        token = tokens[i]
        kind = token.type
        if kind == "heading_open":
            self._heading(int(token.tag[1]), tokens[i + 1], self._next_height(tokens, i + 3))
            return i + 3
        if kind == "paragraph_open":
            self._paragraph(tokens[i + 1], hidden=token.hidden)
            return i + 3
        if kind in ("bullet_list_open", "ordered_list_open"):
            start = int(token.attrGet("start") or 1) if kind == "ordered_list_open" else 1
            self.lists.append({"ordered": kind == "ordered_list_open", "number": start})
            return i + 1
        if kind in ("bullet_list_close", "ordered_list_close"):
            self.lists.pop()
            if not self.lists:
                self._gap(PARAGRAPH_GAP)
            return i + 1
        if kind == "list_item_open":
            self._item_open()
            return i + 1
        if kind == "list_item_close":
            self._set_indent(self.lists[-1]["outer"])
            self.item_fresh = False
            return i + 1
        if kind == "blockquote_open":
            self._quote_open()
            return i + 1
        if kind == "blockquote_close":
            self._quote_close()
            return i + 1
        if kind in ("fence", "code_block"):
            self._code(token.content)
            return i + 1
        if kind == "table_open":
            return self._table(tokens, i)
        if kind == "hr":
            self._start_block(4)
            y = self.pdf.get_y() + 1.5
            self.pdf.set_draw_color(*RULE)
            self.pdf.line(self._margin(), y, self.pdf.w - self.pdf.r_margin, y)
            self.pdf.set_y(y + 1.5 + PARAGRAPH_GAP)
            return i + 1
        if kind == "html_block":
            self._html_block(token.content)
            return i + 1
        return i + 1  # other tokens carry nothing printable

    def _next_height(self, tokens: Sequence[Token], i: int) -> float:
        """About how much room the block at ``i`` needs to start: a figure's height (and two caption lines), a
        small table's height, else three lines (so a heading is never left alone at the foot of a page)."""
        lines = 3 * self._line(BODY_PT)
        if i >= len(tokens):
            return 0.0
        token = tokens[i]
        if token.type == "paragraph_open" and i + 1 < len(tokens):
            sizes = [self._image_size(c) for c in tokens[i + 1].children or [] if c.type == "image"]
            if sizes and sizes[0] is not None:
                return sizes[0][1] + 2 * self._line(BODY_PT)
        if token.type == "table_open":
            return min(self._table_height(tokens, i), self.pdf.page_break_trigger - self.pdf.t_margin)
        return lines

    def _heading(self, level: int, inline: Token, after: float) -> None:
        size = HEADING_PT.get(level, BODY_PT)
        line = self._line(size)
        before = {1: 0.0, 2: 5.0, 3: 3.5}.get(level, 2.5)
        if self.pdf.get_y() > self.pdf.t_margin + 1:
            self._gap(before)
        self._room(line + 3 + after)  # keep a heading with the start of what follows it
        self.pdf.set_x(self._margin())
        self._inline(inline.children or [], _Inline(size=size, bold=1), line)
        self.pdf.ln(line)
        if level <= 2:
            y = self.pdf.get_y() + 0.4
            self.pdf.set_draw_color(*RULE)
            self.pdf.set_line_width(0.3 if level == 1 else 0.2)
            self.pdf.line(self._margin(), y, self.pdf.w - self.pdf.r_margin, y)
            self.pdf.set_y(y + 1.6)
        else:
            self._gap(1.0)

    def _paragraph(self, inline: Token, *, hidden: bool) -> None:
        children = inline.children or []
        images = [c for c in children if c.type == "image"]
        texts = [c for c in children if c.type not in ("image", "softbreak", "hardbreak")
                 and not (c.type == "text" and not c.content.strip())]
        if images and not texts:  # a figure paragraph: images one under another
            for image in images:
                self._image(image)
            return
        line = self._line(BODY_PT)
        self._start_block(line)
        self._inline(children, _Inline(size=BODY_PT), line)
        self.pdf.ln(line)
        self.pdf.set_x(self._margin())
        if not hidden:
            self._gap(PARAGRAPH_GAP)

    def _item_open(self) -> None:
        current = self.lists[-1]
        current["outer"] = self.indent
        line = self._line(BODY_PT)
        if not self.item_fresh:
            self._room(line)
        y = self.pdf.get_y()
        x = self._margin()
        self.pdf.use("sans", "", BODY_PT)
        self.pdf.set_text_color(*TEXT)
        if current["ordered"]:
            label = f"{current['number']}."
            current["number"] += 1
            width = max(LIST_INDENT, self.pdf.get_string_width(label) + 2)
        else:
            label = _BULLETS[min(sum(1 for item in self.lists if not item["ordered"]) - 1, len(_BULLETS) - 1)]
            width = LIST_INDENT
        self.pdf.set_xy(x, y)
        self.pdf.cell(width, line, label)
        self._set_indent(self.indent + width)
        self.pdf.set_xy(self._margin(), y)
        self.item_fresh = True

    def _quote_open(self) -> None:
        self._start_block(self._line(BODY_PT))
        self.quotes.append((self.pdf.page, self.pdf.get_y(), self._margin() + 1.0))
        self._set_indent(self.indent + QUOTE_INDENT)
        self.pdf.set_x(self._margin())

    def _quote_close(self) -> None:
        page, top, x = self.quotes.pop()
        end_page, end_y = self.pdf.page, self.pdf.get_y() - PARAGRAPH_GAP
        self.pdf.set_draw_color(*QUOTE_BAR)
        self.pdf.set_line_width(0.8)
        for number in range(page, end_page + 1):
            self.pdf.page = number
            y0 = top if number == page else self.pdf.t_margin
            y1 = end_y if number == end_page else self.pdf.page_break_trigger
            if y1 > y0:
                self.pdf.line(x, y0, x, y1)
        self.pdf.page = end_page
        self.pdf.set_line_width(0.2)
        self._set_indent(self.indent - QUOTE_INDENT)
        self.pdf.set_x(self._margin())

    def _code(self, content: str) -> None:
        text = content.rstrip("\n").expandtabs(4)
        line = self._line(CODE_PT) * 0.95
        self._start_block(line * min(text.count("\n") + 1, 3) + 3)
        self.pdf.use("mono", "", CODE_PT)
        self.pdf.set_text_color(*TEXT)
        self.pdf.set_fill_color(*CODE_FILL)
        self.pdf.set_x(self._margin())
        width = self.pdf.w - self.pdf.r_margin - self._margin()
        self.pdf.multi_cell(width, line, text, fill=True, padding=Padding(top=1.5, right=2.0, bottom=1.5, left=2.0),
                            wrapmode=WrapMode.CHAR,
                            new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self._gap(PARAGRAPH_GAP)

    def _html_block(self, html: str) -> None:
        if re.search(r"page-break-(after|before)\s*:\s*always", html):
            self.pdf.add_page()
            return
        text = re.sub(r"<[^>]*>", " ", html)
        text = re.sub(r"\s+", " ", text).strip()
        if text:
            line = self._line(BODY_PT)
            self._start_block(line)
            self.pdf.use("sans", "", BODY_PT)
            self.pdf.set_text_color(*TEXT)
            self.pdf.write(line, text)
            self.pdf.ln(line)
            self._gap(PARAGRAPH_GAP)

    @staticmethod
    def _table_rows(tokens: Sequence[Token], i: int) -> tuple[list[list[str]], list[str], bool, int]:
        """Cells as plain text, column alignments, whether there is a header row, and the index after the
        table (``i`` is its ``table_open``)."""
        rows: list[list[str]] = []
        aligns: list[str] = []
        header = False
        i += 1
        while i < len(tokens) and tokens[i].type != "table_close":
            token = tokens[i]
            if token.type == "tr_open":
                rows.append([])
            elif token.type in ("th_open", "td_open") and rows:
                if token.type == "th_open":
                    header = True
                    style = str(token.attrGet("style") or "")
                    aligns.append("R" if "right" in style else "C" if "center" in style else "L")
                rows[-1].append(_plain(tokens[i + 1].children or []))
            i += 1
        columns = max((len(row) for row in rows), default=0)
        rows = [row + [""] * (columns - len(row)) for row in rows]
        aligns = (aligns + ["L"] * columns)[:columns]
        return rows, aligns, header, i + 1

    def _table_widths(self, rows: list[list[str]], header: bool) -> list[float]:
        """Column widths in mm: natural widths when they fit, else the wide columns shrunk first (none below
        a third of an even split)."""
        pdf = self.pdf
        width = pdf.w - pdf.r_margin - self._margin()
        columns = len(rows[0])
        natural = [0.0] * columns
        for number, row in enumerate(rows):
            pdf.use("sans", "B" if header and number == 0 else "", BODY_PT - 0.5)
            for c, text in enumerate(row):
                natural[c] = max(natural[c], pdf.get_string_width(text) + 5)
        pdf.use("sans", "", BODY_PT - 0.5)
        if sum(natural) <= width:
            return natural
        floor = width / columns * 0.35
        widths = [min(n, max(floor, width * n / sum(natural))) for n in natural]
        wide = [c for c in range(columns) if natural[c] > widths[c]]
        spare = width - sum(widths)
        share = sum(natural[c] - widths[c] for c in wide)
        for c in wide:
            widths[c] += spare * (natural[c] - widths[c]) / share
        return widths

    def _table_height(self, tokens: Sequence[Token], i: int) -> float:
        """About how tall the table at ``i`` will be (wrapped lines per row)."""
        rows, _, header, _ = self._table_rows(tokens, i)
        if not rows or not rows[0]:
            return 0.0
        widths = self._table_widths(rows, header)
        line = self._line(BODY_PT - 0.5)
        total = 0.0
        for row in rows:
            lines = max(math.ceil((self.pdf.get_string_width(text) + 1) / max(w - 3, 1)) or 1
                        for text, w in zip(row, widths, strict=True))
            total += lines * line + 2.0
        return total

    def _table(self, tokens: Sequence[Token], i: int) -> int:
        rows, aligns, header, end = self._table_rows(tokens, i)
        if not rows or not rows[0]:
            return end
        pdf = self.pdf
        widths = self._table_widths(rows, header)
        height = self._table_height(tokens, i)
        if height < pdf.page_break_trigger - pdf.t_margin:  # a table that fits on a page is not split
            self._start_block(height + 2)
        else:
            self._start_block(self._line(BODY_PT) * 2 + 4)
        pdf.use("sans", "", BODY_PT - 0.5)
        pdf.set_text_color(*TEXT)
        pdf.set_draw_color(*RULE)
        pdf.set_line_width(0.2)
        with pdf.table(
            width=sum(widths),
            col_widths=tuple(widths),
            align=Align.L,
            text_align=tuple(aligns),
            line_height=self._line(BODY_PT - 0.5),
            first_row_as_headings=header,
            headings_style=FontFace(emphasis="BOLD", fill_color=HEAD_FILL),
            padding=(1.0, 1.5),
        ) as table:
            for row in rows:
                cells = table.row()
                for text in row:
                    cells.cell(text)
        pdf.set_x(self._margin())
        self._gap(PARAGRAPH_GAP + 1)
        return end

    def _image(self, token: Token) -> None:
        src = str(token.attrGet("src") or "")
        alt = _plain(token.children or []) or src
        path = _local(self.base_dir, src)
        if path is None:
            line = self._line(BODY_PT)
            self._start_block(line)
            self._inline(token.children or [], _Inline(size=BODY_PT, italic=1, links=[src] if src else []), line)
            self.pdf.ln(line)
            self._gap(PARAGRAPH_GAP)
            return
        size = self._image_size(token)
        if size is None:
            raise PdfRenderError(f"image {src} cannot be read as a picture")
        width, height = size
        available = self.pdf.w - self.pdf.r_margin - self._margin()
        self.item_fresh = False
        self._room(height + 2 * self._line(BODY_PT))  # keep a figure with the start of its caption
        x = self._margin() + (available - width) / 2
        self.pdf.image(str(path), x=x, y=self.pdf.get_y(), w=width, h=height, alt_text=alt)
        self.pdf.set_y(self.pdf.get_y() + height + 1.5)
        self.pdf.set_x(self._margin())

    def _image_size(self, token: Token) -> tuple[float, float] | None:
        """Width and height in mm a local image is laid out at (``IMAGE_DPI``, at most the text width and
        the page height); ``None`` for a remote, missing or unreadable one."""
        path = _local(self.base_dir, str(token.attrGet("src") or ""))
        if path is None:
            return None
        try:
            with Image.open(path) as picture:
                pixels = picture.size
        except OSError:
            return None
        available = self.pdf.w - self.pdf.r_margin - self._margin()
        width = min(available, pixels[0] / IMAGE_DPI * 25.4)
        height = width * pixels[1] / pixels[0]
        room = self.pdf.page_break_trigger - self.pdf.t_margin - 2 * self._line(BODY_PT)
        if height > room:  # taller than a page: fit the page height
            height, width = room, room * pixels[0] / pixels[1]
        return width, height

    # -- inline ----------------------------------------------------------------------------------------
    def _inline(self, children: Sequence[Token], state: _Inline, line: float) -> None:
        pdf = self.pdf
        for child in children:
            kind = child.type
            if kind == "text":
                self._write(child.content, state, line)
            elif kind == "softbreak":
                self._write(" ", state, line)
            elif kind == "hardbreak":
                pdf.ln(line)
                pdf.set_x(self._margin())
            elif kind == "strong_open":
                state.bold += 1
            elif kind == "strong_close":
                state.bold -= 1
            elif kind == "em_open":
                state.italic += 1
            elif kind == "em_close":
                state.italic -= 1
            elif kind == "code_inline":
                state.code += 1
                self._write(child.content, state, line)
                state.code -= 1
            elif kind == "link_open":
                state.links.append(str(child.attrGet("href") or ""))
            elif kind == "link_close":
                if state.links:
                    state.links.pop()
            elif kind == "image":
                alt = _plain(child.children or [])
                if _local(self.base_dir, str(child.attrGet("src") or "")) is not None:
                    pdf.ln(line)
                    self._image(child)
                    pdf.set_x(self._margin())
                elif alt:
                    self._write(alt, state, line)
            elif kind == "html_inline":
                self._tag(child.content, state, line)

    def _tag(self, html: str, state: _Inline, line: float) -> None:
        match = _TAG.match(html.strip())
        if not match:
            return
        closing, name = bool(match.group(1)), match.group(2).lower()
        step = -1 if closing else 1
        if name in ("b", "strong"):
            state.bold = max(0, state.bold + step)
        elif name in ("i", "em"):
            state.italic = max(0, state.italic + step)
        elif name == "code":
            state.code = max(0, state.code + step)
        elif name in ("sup", "sub"):
            if closing:
                if state.vpos:
                    state.vpos.pop()
            else:
                state.vpos.append("SUP" if name == "sup" else "SUB")
        elif name == "br":
            self.pdf.ln(line)
            self.pdf.set_x(self._margin())

    def _write(self, text: str, state: _Inline, line: float) -> None:
        if not text:
            return
        pdf = self.pdf
        style = ("B" if state.bold else "") + ("I" if state.italic else "")
        link = state.links[-1] if state.links else ""
        # Chinese has no spaces between words: a run of CJK may break after any character, other text at spaces
        for part in cjk_runs(text) if has_cjk(text) else [text]:
            if state.code:
                pdf.use("mono", style, state.size * 0.92)
            else:
                pdf.use("sans", style, state.size)
            pdf.set_text_color(*(LINK if link else TEXT))
            cjk = has_cjk(part)
            # fpdf2 breaks a word that does not fit where a write() starts inside it: move the word down instead
            first = part[:1] if cjk else part.split(" ", 1)[0]
            if first and pdf.get_x() > pdf.l_margin + 0.01 \
                    and pdf.get_x() + pdf.get_string_width(first) > pdf.w - pdf.r_margin \
                    and pdf.get_string_width(first) <= pdf.w - pdf.r_margin - pdf.l_margin:
                pdf.ln(line)
            pdf.char_vpos = CharVPos.coerce(state.vpos[-1] if state.vpos else "LINE")
            pdf.write(line, part, link=link, wrapmode=WrapMode.CHAR if cjk else WrapMode.WORD)
            pdf.char_vpos = CharVPos.LINE


def _plain(children: Sequence[Token]) -> str:
    """The text of inline tokens without formatting (table cells, image alt texts)."""
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(_plain(child.children or []))
    return "".join(parts).strip()


def _local(base_dir: Path, src: str) -> Path | None:
    """``base_dir/src`` when ``src`` is a relative path to an existing file inside ``base_dir``."""
    if not src or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", src) or src.startswith(("/", "\\")) or "\x00" in src:
        return None
    base = base_dir.resolve()
    path = (base / src).resolve()
    if base not in path.parents or not path.is_file():
        return None
    return path


def markdown_to_pdf(markdown_text: str, out: Path, *, base_dir: Path, title: str, when: dt.date,
                    lang: str | None = None) -> Path:
    """Render README Markdown to ``out`` (A4, DejaVu fonts embedded); returns ``out``.

    Images are local paths relative to ``base_dir`` (remote or missing ones print their alt text).
    ``title`` goes into the PDF metadata and the page footer; ``when`` is the creation date written into the
    file (00:00 UTC that day); ``lang`` (a BCP 47 code such as ``"ru"``) is recorded as the document
    language when given. Same inputs, same bytes.
    """
    pdf = _Document(title)
    pdf.set_title(title)
    pdf.set_creator(PRODUCER)
    pdf.set_producer(PRODUCER)
    pdf.set_creation_date(dt.datetime(when.year, when.month, when.day, tzinfo=dt.UTC))
    if lang:
        pdf.set_lang(lang)
    if has_cjk(markdown_text) or has_cjk(title):
        pdf.allow_cjk()
    pdf.add_page()
    _Renderer(pdf, base_dir).render(_parser().parse(markdown_text))
    out.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(out))
    return out
