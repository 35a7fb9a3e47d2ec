"""What identifying text looks like: dates, person names and record numbers, for the privacy checks.

Heuristics, tuned to keep false positives low on real releases (MosMed, CNCB, Inf-Net, Dataverse DICOM names):
DICOM UIDs are taken out before anything is judged, a number is a record number only from seven digits on (or
after a prefix such as ``acc``/``mrn``), and a word is a name only with a Slavic surname ending (Ivanov,
Petrova, Dostoevsky, Shevchenko, Ivanovich) or as a common first name, or in a person-name shape (``Ivanov^Ivan``,
``Doe, J.``, ``Иванов Иван Иванович``). The secret identifier list (``--identifiers``) is the exact tool; these
catch what nobody listed.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache

from curator.io.identifiers import fold_token, tokens

__all__ = ["DATE", "EMAIL", "ID", "NAME", "PHONE", "classify", "is_date", "is_neutral", "looks_like_contact",
           "looks_like_date", "looks_like_id", "looks_like_name"]

NAME, DATE, ID, PHONE, EMAIL = "name", "date", "id", "phone", "e-mail"

# a DICOM UID: four or more components, or a 2.25.<decimal> UUID-derived one (three components)
_UID = re.compile(r"\b2\.25\.\d{10,}\b|(?<!\d)\d+(?:\.\d+){3,}")   # (?<!...): linear on long runs
_DATES = (
    re.compile(r"(?<!\d)(?P<y>(?:19|20)\d\d)(?P<s>[-_./]?)(?P<m>0[1-9]|1[0-2])(?P=s)(?P<d>0[1-9]|[12]\d|3[01])(?!\d)"),
    re.compile(r"(?<!\d)(?P<d>0?[1-9]|[12]\d|3[01])(?P<s>[-_./])(?P<m>0?[1-9]|1[0-2])(?P=s)(?P<y>(?:19|20)\d\d)(?!\d)"),
    re.compile(r"(?<!\d)(?P<m>0?[1-9]|1[0-2])/(?P<d>0?[1-9]|[12]\d|3[01])/(?P<y>(?:19|20)\d\d)(?!\d)"),
)
_MONTHS = ("jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|янв|фев|мар|апр|ма[йя]|июн|июл|авг|сен|окт|ноя|дек")
_WORD_DATE = re.compile(rf"(?i)(?<![^\W\d_])(?:\d{{1,2}}[ .-]?(?:{_MONTHS})[^\W\d_]*\.?[ ,.-]*(?:19|20)\d\d|"
                        rf"(?:{_MONTHS})[^\W\d_]*\.? \d{{1,2}},? (?:19|20)\d\d)(?!\d)")
_PN = re.compile(r"(?<![^\W\d_])[^\W\d_]{2,}\^[^\W\d_]+")                            # DICOM person name: Family^Given
_COMMA_NAME = re.compile(r"\b[A-ZА-ЯЁ][a-zа-яё]{2,},\s*[A-ZА-ЯЁ](?:[a-zа-яё]+|\.)")   # Doe, Jane / Doe, J.
_FIO = re.compile(r"\b[А-ЯЁ][а-яё]+\s+(?:[А-ЯЁ][а-яё]+\s+[А-ЯЁ][а-яё]+(?:вич|вна|чна|ична|ьич|лич)\b|"
                  r"[А-ЯЁ]\.\s?[А-ЯЁ]\.)")                                   # Иванов Иван Иванович / Иванов И.И.
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")   # linear: no restart inside a word
_PHONE = re.compile(r"(?<![\w.+])(?:\+7|8)[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}(?![\w.])|"
                    r"(?<![\w.+])\+\d{1,3}[\s(-]+\d{2,4}[\s)-]+\d{3,4}[\s-]*\d{2,4}(?![\w.])")
_ID_PREFIXES = frozenset({"acc", "accession", "mrn", "pid", "pat", "patient", "hn", "emk", "emias", "snils"})
# folded endings of East-Slavic surnames and patronymics (see curator.io.identifiers.fold_token)
_SURNAME_ENDINGS = ("ov", "ova", "ev", "eva", "ski", "skaia", "enko", "vich", "vna", "ichna")
_NOT_SURNAMES = frozenset({"anova", "nova", "geneva", "casanova", "supernova", "jehova", "moldova", "stdev", "prev",
                           "improv", "kiev", "kiiev", "rostov", "kharkov", "lvov", "pskov", "saratov", "tambov",
                           "sarov", "azov", "dubrovnik", "leningrad", "glasnost",
                           # English words that fold onto a surname ending (-iew/-ow -> -ev/-ov): a release's own
                           # figures/overview.png or review.html is not a name
                           "view", "review", "overview", "preview", "interview", "moscow"})
_FIRST_NAMES = (
    "ivan sergei sergey aleksandr alexander aleksei alexey dmitrii dmitry andrei andrey mikhail nikolai nikolay "
    "vladimir pavel iurii yuri yury igor oleg viktor evgenii evgeny vasilii vasily anatolii boris konstantin "
    "maksim maxim artem denis anton kirill ilia ilya timur ruslan vadim vitalii leonid gennadii valerii "
    "stanislav iaroslav yaroslav viacheslav vyacheslav grigorii fedor fyodor semen petr pyotr stepan olga elena "
    "natalia natalya irina tatiana tatyana svetlana marina ekaterina galina liudmila lyudmila nadezhda valentina "
    "larisa anastasia iuliia yulia daria darya ksenia kseniya polina oksana zoia zoya raisa tamara "
    "michael james john robert william david richard joseph thomas charles christopher daniel matthew "
    "jennifer elizabeth patricia linda susan jessica sarah margaret maria"
)
_NEUTRAL = {"", "curator", "openpyxl", "microsoft office user", "microsoft office", "user", "admin", "administrator",
            "администратор", "пользователь", "unknown", "anonymous", "python-docx", "python-pptx", "apache poi",
            "xlsxwriter", "pandas", "libreoffice", "fpdf2", "pyfpdf", "reportlab", "n/a", "none", "-"}


@cache
def _first_names() -> frozenset[str]:
    return frozenset(fold_token(name) for name in _FIRST_NAMES.split())


@cache
def _folded(words: frozenset[str]) -> frozenset[str]:
    return frozenset(fold_token(word) for word in words)


def is_date(year: int, month: int, day: int) -> bool:
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def _without_uids(text: str) -> str:
    return _UID.sub(" ", text)


def looks_like_date(text: str) -> bool:
    """A calendar date: 20200428, 2020-04-28, 28.04.2020, 04/28/2020, 28 Apr 2020, 28 апреля 2020."""
    text = _without_uids(text)
    for pattern in _DATES:
        for match in pattern.finditer(text):
            if is_date(int(match["y"]), int(match["m"]), int(match["d"])):
                return True
    return bool(_WORD_DATE.search(text))


def _name_word(word: str) -> bool:
    if len(word) >= 5 and word not in _folded(_NOT_SURNAMES) and word.endswith(_SURNAME_ENDINGS):
        return True
    return len(word) >= 4 and word in _first_names()


def looks_like_name(text: str, *, shapes: bool = True) -> bool:
    """A person's name: a Slavic surname or common first name as a word, or (``shapes``) a person-name shape."""
    if shapes and (_PN.search(text) or _COMMA_NAME.search(text) or _FIO.search(text)):
        return True
    return any(not word.isdigit() and _name_word(word) for word, _, _ in tokens(_without_uids(text)))


def looks_like_id(text: str) -> bool:
    """A record or accession number: seven or more digits that are not a date or part of a UID or decimal, or
    five or more after a prefix such as ``acc``/``mrn``."""
    found = tokens(re.sub(r"(?<!\d)\d+\.\d+", " ", _without_uids(text)))  # UIDs first: 2.25.<n> is no decimal
    for index, (word, _, _) in enumerate(found):
        if not word.isdigit():
            continue
        if len(word) >= 7 and not (len(word) == 8 and looks_like_date(word)):
            return True
        if len(word) >= 5 and index and found[index - 1][0] in _folded(_ID_PREFIXES):
            return True
    return False


def looks_like_contact(text: str) -> list[str]:
    """"e-mail" and/or "phone" when ``text`` holds an e-mail address or a telephone number (Russian or with a
    country code)."""
    kinds = []
    if _EMAIL.search(text):
        kinds.append(EMAIL)
    if _PHONE.search(_without_uids(text)):
        kinds.append(PHONE)
    return kinds


def classify(text: str, *, shapes: bool = True) -> list[str]:
    """The kinds of identifying content ``text`` seems to hold: any of "name", "date", "id"."""
    kinds = []
    if looks_like_name(text, shapes=shapes):
        kinds.append(NAME)
    if looks_like_date(text):
        kinds.append(DATE)
    if looks_like_id(text):
        kinds.append(ID)
    return kinds


def is_neutral(value: str) -> bool:
    """A document author that names no one: empty, a tool, or a placeholder account."""
    return value.strip().casefold() in _NEUTRAL
