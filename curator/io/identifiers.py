"""The curator's secret identifier list (``--identifiers FILE``) and the search for it in text.

An entry is one line: a patient name, a patient ID, an accession number (``#`` starts a comment). Text and entries
are compared as *folded tokens*: split at anything that is not a letter or digit, at letter/digit changes and
at camelCase humps; Cyrillic transliterated to Latin (ICAO 9303, the Russian passport standard), lower-cased,
accents dropped and the spelling differences of the usual romanisations (GOST, ICAO, BGN, German) folded away,
so ``Иванов Юрий``, ``IVANOV^IURII`` and ``Ivanov Yuriy`` meet on the same tokens.

- An entry of letters only with two or more words is a *name*: its words may appear in any order, given names
  may be shortened to initials (``Ivanov I.``), and for three or more words any two full words are enough
  (``Ivan Ivanov`` for ``Ivanov Ivan Ivanovich``). A surname alone is not a match: too common.
- An e-mail address matches only the whole address, case-insensitive (never its words: ``example-mail`` is a
  domain many people share).
- A date (``1945-03-12``, ``12.03.1945``, ``19450312``, ``12/03/1945``) matches the same day written in any of
  these forms, DICOM DA (``19450312``) included.
- Any other entry (an ID, one word) must appear as the same tokens in the same order.

Nothing here prints an entry: ``mask`` keeps the first two characters of each word (``Iv*** Iv***``).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from curator.io import ReadError
from curator.io.regular import read_regular_bytes

__all__ = ["Identifier", "IdentifierList", "IdentifierListError", "Match", "fold_text", "fold_token", "mask",
           "read_identifiers", "tokens", "transliterate"]

MIN_CHARS = 3  # an entry with fewer letters and digits than this would match everywhere

# ICAO Doc 9303 (2013), the romanisation of Russian passports; also Ukrainian/Belarusian letters
_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "ie", "ы": "y", "ь": "",
    "э": "e", "ю": "iu", "я": "ia", "і": "i", "ї": "i", "є": "ie", "ґ": "g", "ў": "u",
}
_TRANSLIT = str.maketrans(_CYRILLIC)
# spelling differences between romanisations, applied to both sides (order matters): Щ shch/sch/shh, Х kh/h/x,
# Ц ts/tz/c, Й/Ы/Ю/Я with y/j/i, Ё as e/yo/io, German w for v, x for ks, doubled letters
_FOLDS = (("shch", "sh"), ("sch", "sh"), ("shh", "sh"), ("kh", "h"), ("x", "ks"), ("w", "v"), ("tz", "c"),
          ("ts", "c"), ("j", "i"), ("y", "i"), ("ie", "e"), ("io", "e"))
_DOUBLE_LETTER = re.compile(r"([a-z])\1+")   # after romanisation: Latin letters only (twice as fast)
_COMBINING = re.compile(r"[\u0300-\u036f]+")
_NEWLINE = re.compile("\n")
SHORT_TEXT = 2048  # texts shorter than this are searched token by token straight away
_TOKEN = re.compile(r"[^\W\d_]+|\d+")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")   # linear: no restart inside a word
_DATE_FORMS = (re.compile(r"(?P<y>(?:19|20)\d\d)(?P<s>[-./]?)(?P<m>\d\d?)(?P=s)(?P<d>\d\d?)"),
               re.compile(r"(?P<d>\d\d?)(?P<s>[-./])(?P<m>\d\d?)(?P=s)(?P<y>(?:19|20)\d\d)"))


class IdentifierListError(ReadError):
    """The identifier list cannot be used: unreadable, empty, or an entry too short to search for."""


def transliterate(text: str) -> str:
    """Cyrillic to Latin (ICAO 9303), lower case; other scripts unchanged."""
    return text.casefold().translate(_TRANSLIT)


@lru_cache(maxsize=1 << 16)
def fold_token(token: str) -> str:
    """The comparable form of one token: digits unchanged, letters romanised and spelling-folded."""
    if token.isdigit():
        return token
    return _fold_letters(token)


def _fold_letters(text: str) -> str:
    """Romanise and spelling-fold ``text`` (a token, or a whole text: every step works within runs of letters)."""
    text = transliterate(text)
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    for old, new in _FOLDS:
        text = text.replace(old, new)
    return _DOUBLE_LETTER.sub(r"\1", text)


def fold_text(text: str) -> str:
    """``text`` folded as a whole: the cheap form the pre-filter of ``IdentifierList.search`` scans for the
    entries' words as substrings (so camelCase humps need no splitting). Newlines are kept."""
    return _fold_letters(text)


def _split_humps(word: str, start: int) -> Iterator[tuple[str, int]]:
    """``IvanovIvan`` -> ``Ivanov``, ``Ivan``; ``IVANOV`` and ``McKay``-style names are split the same way in
    the list and in the text, so they still meet."""
    begin = 0
    for index in range(1, len(word)):
        if word[index].isupper() and word[index - 1].islower():
            yield word[begin:index], start + begin
            begin = index
    yield word[begin:], start + begin


def tokens(text: str) -> list[tuple[str, int, int]]:
    """(folded token, start, end) for every word and number of ``text``."""
    found: list[tuple[str, int, int]] = []
    for match in _TOKEN.finditer(text):
        word = match.group()
        if word.isdigit():
            found.append((word, match.start(), match.end()))
            continue
        for part, start in _split_humps(word, match.start()):
            folded = fold_token(part)
            if folded:
                found.append((folded, start, start + len(part)))
    return found


def mask(text: str) -> str:
    """``Ivanov Ivan`` -> ``Iv*** Iv***``; ``1234567`` -> ``12***``: enough to tell entries apart, never the value."""
    words = [match.group() for match in _TOKEN.finditer(text)]
    return " ".join((w[:2] if len(w) > 3 else w[:1]) + "***" for w in words) or "***"


def _date_forms(text: str) -> tuple[tuple[str, ...], ...]:
    """The token sequences a listed date may appear as: 19450312; 1945 03 12; 12 03 1945 (and without leading
    zeros); () when ``text`` is not a calendar date."""
    for pattern in _DATE_FORMS:
        match = pattern.fullmatch(text.strip())
        if match is None or (not match["s"] and len(match["m"] + match["d"]) != 4):
            continue  # without separators only YYYYMMDD is a date (1945031 is a number)
        year, month, day = int(match["y"]), int(match["m"]), int(match["d"])
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return ()
        y, m, d = f"{year:04d}", f"{month:02d}", f"{day:02d}"
        forms = [(y + m + d,), (y, m, d), (d, m, y), (y, str(month), str(day)), (str(day), str(month), y)]
        return tuple(dict.fromkeys(forms))
    return ()


@dataclass(frozen=True)
class Identifier:
    number: int                  # 1-based position among the entries (comments and blank lines not counted)
    line: int                    # line of the list file
    tokens: tuple[str, ...]      # folded
    is_name: bool                # letters only, two or more words: any order, initials allowed
    masked: str
    email: str = ""              # an e-mail address entry, lower-cased: matched as a whole address only
    forms: tuple[tuple[str, ...], ...] = ()   # a date entry: the token sequences it may appear as

    @property
    def label(self) -> str:
        """How a report names the entry: its number and masked form, never the value."""
        return f"#{self.number} {self.masked}"


@dataclass(frozen=True)
class Match:
    identifier: Identifier
    start: int                   # character offsets in the searched text
    end: int


@dataclass
class IdentifierList:
    entries: list[Identifier]
    source: str = ""
    _by_token: dict[str, list[Identifier]] = field(default_factory=dict, repr=False)
    _words: tuple[str, ...] = field(default=(), repr=False)   # words of which every match contains one

    def __post_init__(self) -> None:
        words: set[str] = set()
        for entry in self.entries:
            if entry.email:
                continue  # searched for as a whole address (``_search_emails``)
            if entry.forms:
                for form in entry.forms:
                    self._by_token.setdefault(form[0], []).append(entry)
                    words.add(max(form, key=len))
                continue
            for token in set(entry.tokens) if entry.is_name else {entry.tokens[0]}:
                self._by_token.setdefault(token, []).append(entry)
            # the pre-filter's words: every match holds one of them (a name: a full word of 3+ letters; an ID:
            # all its tokens, so its longest)
            words.update([t for t in entry.tokens if len(t) >= 3] if entry.is_name else [max(entry.tokens, key=len)])
        self._words = tuple(sorted(words))

    @classmethod
    def from_lines(cls, lines: Iterable[str], source: str = "") -> IdentifierList:
        entries: list[Identifier] = []
        for number, raw in enumerate(lines, start=1):
            text = raw.split("#", 1)[0].strip()
            if not text:
                continue
            folded = tuple(token for token, _, _ in tokens(text))
            if sum(len(t) for t in folded) < MIN_CHARS or not folded:
                raise IdentifierListError(
                    f"line {number} of the identifier list has fewer than {MIN_CHARS} letters or digits; an entry "
                    "that short would match almost everywhere, so give the full name or ID")
            email = text.casefold() if _EMAIL.fullmatch(text) else ""
            forms = () if email else _date_forms(text)
            is_name = not email and len(folded) >= 2 and all(not t.isdigit() for t in folded)
            entries.append(Identifier(len(entries) + 1, number, folded, is_name, mask(text), email, forms))
        if not entries:
            raise IdentifierListError("the identifier list has no entries (one name or ID per line, # for comments)")
        return cls(entries, source)

    @property
    def longest(self) -> int:
        return max(len(e.tokens) for e in self.entries)

    def search(self, text: str) -> list[Match]:
        """Every occurrence of an entry in ``text``, at most one per entry and start position.

        A long text is first folded as a whole and scanned for one word of each entry (str.find: C speed); only
        the lines around a hit, if any, are searched token by token.
        """
        if not text:
            return []
        emails = self._search_emails(text)
        if len(text) < SHORT_TEXT:
            return sorted(self._search_tokens(text, 0) + emails, key=lambda m: (m.start, m.identifier.number))
        folded = fold_text(text)
        positions: list[int] = []
        for word in self._words:
            at = folded.find(word)
            while at >= 0 and len(positions) < 100000:
                positions.append(at)
                at = folded.find(word, at + 1)
        if not positions:
            return emails
        breaks = [m.start() for m in _NEWLINE.finditer(folded)]
        hit_lines = sorted({bisect.bisect_left(breaks, at) for at in positions})
        starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]
        found: dict[tuple[int, int], Match] = {}
        for line in hit_lines:
            first = max(0, line - 1)
            last = min(len(starts) - 1, line + 1)
            begin = starts[first]
            end = starts[last + 1] - 1 if last + 1 < len(starts) else len(text)
            for match in self._search_tokens(text[begin:end], begin):
                found.setdefault((match.identifier.number, match.start), match)
        return sorted([*found.values(), *emails], key=lambda m: (m.start, m.identifier.number))

    def _search_emails(self, text: str) -> list[Match]:
        """The e-mail entries, each found only as a whole address (case-insensitive)."""
        wanted = {entry.email: entry for entry in self.entries if entry.email}
        if not wanted or "@" not in text:
            return []
        return [Match(wanted[found.group().casefold()], found.start(), found.end())
                for found in _EMAIL.finditer(text) if found.group().casefold() in wanted]

    def _search_tokens(self, text: str, base: int) -> list[Match]:
        found = tokens(text)
        words = [token for token, _, _ in found]
        matches: dict[tuple[int, int], Match] = {}
        for index, word in enumerate(words):
            for entry in self._by_token.get(word, ()):
                span = _match_at(entry, words, index)
                if span is not None:
                    first, last = span
                    key = (entry.number, first)
                    if key not in matches:
                        matches[key] = Match(entry, base + found[first][1], base + found[last][2])
        return sorted(matches.values(), key=lambda m: (m.start, m.identifier.number))


def _match_at(entry: Identifier, words: list[str], index: int) -> tuple[int, int] | None:
    """(first, last) token index of an occurrence of ``entry`` that uses token ``index``, or None."""
    if entry.forms:  # a date: any of its forms, starting here
        for form in entry.forms:
            if tuple(words[index : index + len(form)]) == form:
                return index, index + len(form) - 1
        return None
    want = entry.tokens
    size = len(want)
    if not entry.is_name:  # same tokens, same order, starting here (``index`` holds the first token)
        if tuple(words[index : index + size]) == want:
            return index, index + size - 1
        return None
    # a name: a window of consecutive tokens through ``index`` that is a permutation of the entry's words,
    # initials allowed for all but one full word of 3+ letters; for 3+ words also any 2..n-1 full words
    sizes = [(size, True)] + [(m, False) for m in range(size - 1, 1, -1)]
    for width, initials in sizes:
        for first in range(max(0, index - width + 1), min(index, len(words) - width) + 1):
            if _permutation(words[first : first + width], want, initials):
                return first, first + width - 1
    return None


def _permutation(window: list[str], want: tuple[str, ...], initials: bool) -> bool:
    """Can each word of ``window`` be paired with a distinct word of ``want`` (equal, or its initial)?"""
    free = list(want)
    full_long = False
    pending: list[str] = []
    for word in window:
        if word in free:
            free.remove(word)
            full_long = full_long or len(word) >= 3
        else:
            pending.append(word)
    for word in pending:  # initials last, so a full word is never used up by an initial
        if not initials or len(word) != 1:
            return False
        hit = next((w for w in free if w[0] == word), None)
        if hit is None:
            return False
        free.remove(hit)
    return full_long


def read_identifiers(path: Path) -> IdentifierList:
    """Read the list (UTF-8, else Windows-1251); raise IdentifierListError with a reason."""
    try:
        data = read_regular_bytes(path)
    except OSError as error:
        raise IdentifierListError(f"cannot read the identifier list {path} ({error.strerror or error})") from error
    if len(data) > 64 << 20:
        raise IdentifierListError(f"the identifier list {path} is larger than 64 MiB; is it the right file?")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1251", errors="replace")
    return IdentifierList.from_lines(text.splitlines(), str(path))
