"""Plain-text wording below the report formats: counted words ("1 study", "5 ошибок"), the one-line summary of a
run, and findings grouped by code with "N more". Shared by render (the report's text output), by the commands'
summaries and by ``curator verify``'s fast answer, which prints without the report models or render.

No ``from __future__ import annotations`` here: a NamedTuple would compile each string annotation when the module
loads (about 0.7 ms a field), a cost ``curator verify`` pays on every run.
"""

from collections.abc import Callable, Iterable, Mapping
from itertools import groupby
from typing import Any, NamedTuple

from curator.escaping import display

__all__ = ["GROUP_LIMIT", "MORE", "Line", "group_lines", "human_bytes", "plural", "plural_ru", "summary_line"]


def plural(count: int, word: str, many: str | None = None) -> str:
    """ "1 error", "2 errors"; ``many`` for a plural that is not the word plus s ("studies")."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def plural_ru(count: int, one: str, few: str, many: str) -> str:
    """Russian: 1 ошибка, 2 ошибки, 5 ошибок, 11 ошибок, 21 ошибка."""
    if count % 10 == 1 and count % 100 != 11:
        return f"{count} {one}"
    if 2 <= count % 10 <= 4 and not 12 <= count % 100 <= 14:
        return f"{count} {few}"
    return f"{count} {many}"


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


def rate_and_left(done: float, whole: float, seconds: float) -> tuple[float, int | None]:
    """The rate so far (units per second) and the whole seconds left at that rate; None when it cannot be told
    (nothing done yet, no time passed) or nothing is left. One estimate for every progress display."""
    rate = done / seconds if seconds > 0 else 0.0
    return rate, (int((whole - done) / rate) if rate and done < whole else None)


def summary_line(command: str, root: str, valid: bool, errors: int, warnings: int, infos: int, files: int,
                 size: int, seconds: float, where: str, lang: str = "en") -> str:
    if lang == "ru":
        state = {"verify": ("ЦЕЛ", "ПОВРЕЖДЁН"), "ingest": ("ГОТОВО", "ГОТОВО С ОШИБКАМИ"),
                 "build": ("СОБРАН", "НЕ СОБРАН")}.get(
            command, ("КОРРЕКТЕН", "НЕКОРРЕКТЕН"))[0 if valid else 1]
        return (f"{command} {root}: {state}: {plural_ru(errors, 'ошибка', 'ошибки', 'ошибок')}, "
                f"{plural_ru(warnings, 'предупреждение', 'предупреждения', 'предупреждений')}, {infos} инф.; "
                f"{plural_ru(files, 'файл', 'файла', 'файлов')}, {human_bytes(size)} за {seconds:.2f} с "
                f"({where.strip()})")
    state = {"verify": ("INTACT", "NOT INTACT"), "ingest": ("DONE", "DONE WITH ERRORS"),
             "build": ("BUILT", "NOT BUILT")}.get(
        command, ("VALID", "INVALID"))[0 if valid else 1]
    where_ = display(root)
    return (f"{command} {where_}: {state}: {plural(errors, 'error')}, {plural(warnings, 'warning')}, {infos} info; "
            f"{plural(files, 'file')}, {human_bytes(size)} in {seconds:.2f} s ({where.strip()})")


GROUP_LIMIT = 2  # examples per code before "N more"; --verbose shows every one
_COLOURS = {"ERROR": "\x1b[1;31m", "WARNING": "\x1b[33m", "INFO": "\x1b[36m"}


class Line(NamedTuple):
    code: str
    level: str      # error, warning or info
    path: str
    message: str


MORE = {"en": "  ... and {count} more (--verbose or --format json lists them all)",
        "ru": "  ... и ещё {count} (все перечисляют --verbose и --format json)"}


def group_lines(items: Iterable[Any], titles: Mapping[str, str], *, limit: int | None = GROUP_LIMIT,
                colour: bool = False, lang: str = "en", word: Callable[[Any], Line] | None = None) -> list[str]:
    """A heading per code (``items`` come sorted), then up to ``limit`` messages and "N more" for the rest.

    ``items`` are :class:`Line` s, or anything with a ``code`` that ``word`` makes a Line of: then only the lines
    shown are worded (issue 15: 74k findings of a DICOM release, most of them counted in "N more")."""
    lines: list[str] = []
    for code, group in groupby(items, key=lambda item: item.code):
        found = list(group)
        cut = len(found) if limit is None else min(limit, len(found))
        worded = [word(item) for item in found[: max(cut, 1)]] if word else found[: max(cut, 1)]
        level = worded[0].level.upper()
        shown = f"{_COLOURS[level]}{level}\x1b[0m" if colour else level
        lines.append(f"{shown} {code} ({len(found)}): {titles.get(code, code)}")
        for item in worded[:cut]:   # names from the data are shown as curator.escaping.display says
            prefix = "" if item.path and item.path in item.message else f"{display(item.path or '.')}: "
            lines.append(f"  {prefix}{display(item.message)}")
        if cut < len(found):
            lines.append((MORE.get(lang) or MORE["en"]).format(count=len(found) - cut))
    return lines
