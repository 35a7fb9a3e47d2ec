"""The one-line summary of a run, from plain numbers (no report model needed: ``curator verify`` prints it for an
intact release without loading pydantic)."""

from __future__ import annotations

from curator.wording import plural as plural
from curator.wording import plural_ru as plural_ru


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


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
