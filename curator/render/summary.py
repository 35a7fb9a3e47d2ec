"""The one-line summary of a run, from plain numbers (no report model needed: ``curator verify`` prints it for an
intact release without loading pydantic)."""

from __future__ import annotations


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


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


def summary_line(command: str, root: str, valid: bool, errors: int, warnings: int, infos: int, files: int,
                 size: int, seconds: float, where: str, lang: str = "en") -> str:
    if lang == "ru":
        state = {"verify": ("ЦЕЛ", "ПОВРЕЖДЁН"), "ingest": ("ГОТОВО", "ГОТОВО С ОШИБКАМИ")}.get(
            command, ("КОРРЕКТЕН", "НЕКОРРЕКТЕН"))[0 if valid else 1]
        return (f"{command} {root}: {state}: {plural_ru(errors, 'ошибка', 'ошибки', 'ошибок')}, "
                f"{plural_ru(warnings, 'предупреждение', 'предупреждения', 'предупреждений')}, {infos} инф.; "
                f"{plural_ru(files, 'файл', 'файла', 'файлов')}, {human_bytes(size)} за {seconds:.2f} с "
                f"({where.strip()})")
    state = {"verify": ("INTACT", "NOT INTACT"), "ingest": ("DONE", "DONE WITH ERRORS")}.get(
        command, ("VALID", "INVALID"))[0 if valid else 1]
    from curator.escaping import display

    where_ = display(root)
    return (f"{command} {where_}: {state}: {plural(errors, 'error')}, {plural(warnings, 'warning')}, {infos} info; "
            f"{plural(files, 'file')}, {human_bytes(size)} in {seconds:.2f} s ({where.strip()})")
