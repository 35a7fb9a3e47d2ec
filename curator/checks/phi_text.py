"""What DICOM free text looks like it contains (names, dates, phone numbers, e-mail addresses, ID numbers), and
how a report shows an identifying value without revealing it. Judgement helpers for ``privacy_dicom``.

The patterns aim at what de-identification leaves behind in DICOM descriptions and comments: ``FAMILY^Given``
person names, ``Ivanov I.I.`` initials, titled names, dates in DICOM, ISO and European forms, phone numbers
with separators, e-mail addresses, labelled record numbers (``MRN 1234567``) and accession-like codes
(``AB123456``). They are hints for a warning, not proof. (The privacy checks of other formats use
``curator.checks.privacy_patterns``.)
"""

from __future__ import annotations

import re

__all__ = ["KINDS", "mask", "text_kinds"]

_L = r"[^\W\d_]"           # a letter of any alphabet
_UP = r"[A-ZА-ЯЁ]"
_LOW = r"[a-zа-яё]"
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"

_NAME = re.compile("|".join((
    rf"(?<![\w^]){_L}{{2,}}\^{_L}{{3,}}(?!\w)",                       # DOE^JOHN, Ivanov^Petr
    rf"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s+{_UP}{_LOW}+",                # Dr Smith
    rf"(?<!\w){_UP}{_LOW}{{2,}}\s+{_UP}\.\s?{_UP}\.",                  # Ivanov I.I.
    rf"(?<!\w){_UP}\.\s?{_UP}\.\s?{_UP}{_LOW}{{2,}}",                  # I.I. Ivanov
)))
_DATE = re.compile("|".join((
    r"(?<!\d)(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?!\d)",               # 20200305
    r"(?<!\d)(?:19|20)\d{2}[-./](?:0?[1-9]|1[0-2])[-./](?:0?[1-9]|[12]\d|3[01])(?!\d)",  # 2020-03-05
    r"(?<!\d)(?:0?[1-9]|[12]\d|3[01])[-./](?:0?[1-9]|1[0-2])[-./](?:19|20)?\d{2}(?!\d)",  # 05.03.2020
    rf"(?<!\d)(?:0?[1-9]|[12]\d|3[01])[ -]{_MONTHS}[ -,]*(?:19|20)\d{{2}}(?!\d)",        # 5 Mar 2020
)), re.IGNORECASE)
_PHONE = re.compile(r"(?<![\d.])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,5}\)[\s.-]?)?\d{2,4}(?:[\s.-]\d{2,4}){2,3}(?![\d.])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ID = re.compile("|".join((
    r"\b(?i:MRN|PID|ID|No|Nr)\b\.?\s*[:#№-]?\s*[A-Z0-9-]*\d{4,}",   # MRN: 1234567, ID 55012
    r"№\s*\d{4,}",
    r"\b[A-Z]{1,4}\d{6,}\b",                                          # AB1234567
)))

KINDS = ("name", "date", "phone number", "e-mail address", "ID number")


def text_kinds(text: str) -> list[str]:
    """The kinds of identifying content ``text`` seems to contain, in KINDS order; [] when none."""
    found: list[str] = []
    if _NAME.search(text):
        found.append("name")
    dates = [m.span() for m in _DATE.finditer(text)]
    if dates:
        found.append("date")
    emails = [m.span() for m in _EMAIL.finditer(text)]
    for match in _PHONE.finditer(text):
        digits = sum(c.isdigit() for c in match.group())
        inside = any(s <= match.start() and match.end() <= e for s, e in dates + emails)
        if 7 <= digits <= 15 and not inside:
            found.append("phone number")
            break
    if emails:
        found.append("e-mail address")
    if _ID.search(text):
        found.append("ID number")
    return found


def mask(value: str, parts: int = 3) -> str:
    """``value`` with each word cut to its first letters: "Ivanov^Petr" -> "Iv*** P***".

    Words of fewer than 3 characters show nothing, of fewer than 6 one character, longer ones two; at most
    ``parts`` words are shown. A report can carry the result without revealing the value.
    """
    words = [w for w in re.split(r"[\s^\\]+", value.strip()) if w]
    if not words:
        return "***"
    shown = [w[: 0 if len(w) < 3 else 1 if len(w) < 6 else 2] + "***" for w in words[:parts]]
    return " ".join(shown) + (" …" if len(words) > parts else "")
