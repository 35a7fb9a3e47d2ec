"""A release's README figures (``figures/<name>_<LANG>.png``) and README PDFs (``README_<LANG>.pdf``).

The builder calls, inside the stage folder, after the NIfTI files are placed:

1. :func:`write_figures` -> the figure names; pass them to the README templates as ``files["figures"]``, and
   :func:`pdf_names` as ``files["pdfs"]`` (the Markdown lists both, so they are known before it is written);
2. render the Markdown READMEs;
3. :func:`write_pdfs` renders each ``README_<LANG>.md`` to ``README_<LANG>.pdf`` beside it, images included.

Both steps are deterministic: the same release gives byte-identical PNGs and PDFs. Failures (an unreadable
example volume, an image the PDF cannot embed) raise :class:`ReleaseDocsError`, an ``OSError``, so the
builder's existing ``except OSError`` turns them into a build error.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from curator.models.records import SourceStudy
from curator.release.readme import readme_name

__all__ = [
    "FIGURES_DIR",
    "FIGURE_NAMES",
    "ReleaseDocsError",
    "example_studies",
    "figure_path",
    "pdf_names",
    "write_figures",
    "write_pdfs",
]

FIGURES_DIR: Final = "figures"
#: Every figure a release can have, in display order; one that has nothing to show is left out.
FIGURE_NAMES: Final = ("categories", "age_sex", "examples")


class ReleaseDocsError(OSError):
    """A figure or a PDF could not be made."""


def figure_path(name: str, lang: str) -> str:
    """``figures/<name>_<LANG>.png``, relative to the release root (POSIX)."""
    return f"{FIGURES_DIR}/{name}_{lang.upper()}.png"


def pdf_names(langs: Sequence[str]) -> list[str]:
    """``README_<LANG>.pdf`` per language, in the order given (the ``files["pdfs"]`` template key)."""
    return [readme_name(lang, "pdf") for lang in langs]


def example_studies(planned: Sequence[tuple[str, str, str | None]],
                    categories: Sequence[str]) -> list[tuple[str, str, str | None]]:
    """One study per category (in ``categories`` order, empty categories left out): the first with a mask, or
    else the first. ``planned`` holds ``(category, study path, mask path or None)`` in release order."""
    chosen: list[tuple[str, str, str | None]] = []
    for category in categories:
        members = [item for item in planned if item[0] == category]
        if members:
            chosen.append(next((item for item in members if item[2]), members[0]))
    return chosen


def _people(studies: Sequence[SourceStudy]) -> list[tuple[str | None, int | None]]:
    """``(sex, age)`` once per patient (the first study of a patient speaks for them), as the README's table
    counts patients."""
    seen: set[str] = set()
    people: list[tuple[str | None, int | None]] = []
    for index, study in enumerate(studies):
        key = study.patient or f"\x00study-{index}"
        if key not in seen:
            seen.add(key)
            people.append((study.sex, study.age))
    return people


def write_figures(stage: Path, planned: Sequence[tuple[str, str, str | None]], studies: Sequence[SourceStudy],
                  stats: Mapping[str, Any], langs: Sequence[str]) -> list[str]:
    """Draw the README figures into ``stage/figures/`` and return their names in display order.

    ``planned``: ``(category, study path, mask path or None)`` for every study, paths relative to ``stage``
    (the files must already be there); ``studies``: the source rows (sex and age, patient grouping);
    ``stats``: :func:`curator.release.stats.release_stats` output (``per_category`` in card order);
    ``langs``: the README languages. Each name ``n`` is written as ``figures/n_<LANG>.png`` for every
    language. ``age_sex`` is left out when no age is known and ``examples`` when there is no study; an empty
    list means no figures (and no ``figures`` folder).
    """
    from curator.release import figures as draw  # matplotlib is imported only when a release is built

    per_category: Mapping[str, int] = stats["per_category"]
    try:
        slices = [(category, *draw.example_slice(stage / study, stage / mask if mask else None))
                  for category, study, mask in example_studies(planned, list(per_category))]
    except Exception as error:  # OSError, ValueError, nibabel's ImageFileError, zlib errors: a build failure
        raise ReleaseDocsError(f"cannot read an example slice for the README figures: {error}") from error
    people = _people(studies)
    written: list[str] = []
    for name in FIGURE_NAMES:
        drawn = False
        for lang in langs:
            out = stage / figure_path(name, lang)
            if name == "categories":
                drawn = draw.categories_figure(per_category, out, lang=lang) is not None
            elif name == "age_sex":
                drawn = draw.age_sex_figure(people, out, lang=lang) is not None
            else:
                drawn = draw.examples_figure(slices, out, lang=lang) is not None
            if not drawn:
                break
        if drawn:
            written.append(name)
    return written


def _first_heading(markdown: str) -> str:
    match = re.search(r"^#\s+(.+?)\s*#*\s*$", markdown, re.M)
    return match.group(1) if match else ""


def write_pdfs(stage: Path, langs: Sequence[str], when: dt.date, titles: Mapping[str, str]) -> list[str]:
    """Render ``stage/README_<LANG>.md`` to ``stage/README_<LANG>.pdf`` for each language; return the PDF
    names (as :func:`pdf_names`).

    Images in the Markdown are read relative to ``stage``. ``when`` (the card's release date) is the PDFs'
    creation date; ``titles[lang]`` their title (metadata and page footer), the Markdown's first heading when
    a language is missing.
    """
    from curator.release.pdf import PdfRenderError, markdown_to_pdf

    names = pdf_names(langs)
    for lang, name in zip(langs, names, strict=True):
        markdown = (stage / readme_name(lang)).read_text(encoding="utf-8")
        title = titles.get(lang) or _first_heading(markdown)
        try:
            markdown_to_pdf(markdown, stage / name, base_dir=stage, title=title, when=when, lang=lang)
        except PdfRenderError as error:
            raise ReleaseDocsError(f"{name}: {error}") from error
    return names
