"""Counted words in the languages curator writes ("1 study", "2 studies"; "1 ошибка", "5 ошибок"): one home for
every layer that words a count (messages, summaries, metadata descriptions)."""

from __future__ import annotations

__all__ = ["plural", "plural_ru"]


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
