"""Findings as text, grouped by code, from plain values: shared by the report's text output and by ``curator
verify``'s answer without the report models."""

# No `from __future__ import annotations` here: a NamedTuple would compile each string annotation when the module
# loads (about 0.7 ms a field), a cost `curator verify` pays on every run.

from collections.abc import Iterable, Mapping
from itertools import groupby
from typing import NamedTuple

from curator.escaping import display

GROUP_LIMIT = 2  # examples per code before "N more"; --verbose shows every one
_COLOURS = {"ERROR": "\x1b[1;31m", "WARNING": "\x1b[33m", "INFO": "\x1b[36m"}


class Line(NamedTuple):
    code: str
    level: str      # error, warning or info
    path: str
    message: str


MORE = {"en": "  ... and {count} more (--verbose or --format json lists them all)",
        "ru": "  ... и ещё {count} (все перечисляют --verbose и --format json)"}


def group_lines(items: Iterable[Line], titles: Mapping[str, str], *, limit: int | None = GROUP_LIMIT,
                colour: bool = False, lang: str = "en") -> list[str]:
    """A heading per code (``items`` come sorted), then up to ``limit`` messages and "N more" for the rest."""
    lines: list[str] = []
    for code, group in groupby(items, key=lambda item: item.code):
        found = list(group)
        level = found[0].level.upper()
        shown = f"{_COLOURS[level]}{level}\x1b[0m" if colour else level
        lines.append(f"{shown} {code} ({len(found)}): {titles.get(code, code)}")
        cut = len(found) if limit is None else min(limit, len(found))
        for item in found[:cut]:   # names from the data are shown as curator.escaping.display says
            prefix = "" if item.path and item.path in item.message else f"{display(item.path or '.')}: "
            lines.append(f"  {prefix}{display(item.message)}")
        if cut < len(found):
            lines.append((MORE.get(lang) or MORE["en"]).format(count=len(found) - cut))
    return lines
