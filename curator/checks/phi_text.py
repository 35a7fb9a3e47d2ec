"""What DICOM free text looks like it contains (names, dates, phone numbers, e-mail addresses, ID numbers), and
how a report shows an identifying value without revealing it. Judgement helpers for ``privacy_dicom``.

The patterns aim at what de-identification leaves behind in DICOM descriptions and comments: ``FAMILY^Given``
person names, ``Ivanov I.I.`` initials, titled names, dates in DICOM, ISO and European forms, phone numbers
with separators, e-mail addresses, labelled record numbers (``MRN 1234567``) and accession-like codes
(``AB123456``), and surnames and first names as words (``requested by Wisniewski``, the word lists of
``curator.checks.privacy_patterns``). They are hints for a warning, not proof.

``untabled_text_kinds`` is the one decision "this value identifies" for text the PS3.15 table does not name (free
text in untabled sequences such as ProcedureCodeSequence[0].CodeMeaning, and untabled descriptions): the audit
(``privacy_dicom``) reports what it returns and the anonymiser (``curator.anonymise.dicom``) replaces exactly those
values, so whatever validate flags there, anonymise cleans.

``is_placeholder`` is the placeholder rule: which values count as emptied where the profile asks for an empty or
dummy value (see ``PLACEHOLDERS``).
"""

from __future__ import annotations

import re
from functools import lru_cache

from curator.checks.privacy_patterns import looks_like_name
from curator.io.identifiers import fold_token

__all__ = ["CODED_KEYWORDS", "JUDGED_CHARS", "KINDS", "NESTED_TEXT_VRS", "PLACEHOLDERS", "TOP_TEXT_VRS",
           "is_placeholder", "mask", "pseudonym_kinds", "text_kinds", "untabled_text_kinds"]

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
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")   # linear: no restart inside a word
_LABELLED_ID = re.compile("|".join((
    r"\b(?i:MRN|PID|ID|No|Nr)\b\.?\s*[:#№-]?\s*[A-Z0-9-]*\d{4,}",   # MRN: 1234567, ID 55012, MRN-7734521
    r"№\s*\d{4,}",
)))
_ID = re.compile("|".join((_LABELLED_ID.pattern, r"\b[A-Z]{1,4}\d{6,}\b")))   # AB1234567

KINDS = ("name", "date", "phone number", "e-mail address", "ID number")

_WORD = re.compile(r"[^\W\d_]{4,}")
# surname endings as written (privacy_patterns judges folded words, where "window" becomes "vindov")
_WRITTEN_ENDINGS = ("ov", "ova", "ev", "eva", "ski", "sky", "ska", "skaya", "skiy", "skii", "enko", "vich", "vna",
                    "ichna", "ов", "ова", "ев", "ева", "ёв", "ёва", "ский", "ская", "цкий", "цкая", "енко", "вич",
                    "вна", "ична")
_FOLDED_ENDINGS = ("ov", "ova", "ev", "eva", "ski", "skaia", "enko", "vich", "vna", "ichna")


def _name_word(text: str) -> bool:
    """A surname or first name as a word (``requested by Wisniewski``), as ``privacy_patterns`` judges words, but
    a surname ending must be written, not made by spelling folds."""
    for match in _WORD.finditer(text):
        word = match.group()
        if not looks_like_name(word, shapes=False):
            continue
        if word.lower().endswith(_WRITTEN_ENDINGS) or not fold_token(word).endswith(_FOLDED_ENDINGS):
            return True
    return False


def text_kinds(text: str) -> list[str]:
    """The kinds of identifying content ``text`` seems to contain, in KINDS order; [] when none."""
    return list(_cached_kinds(text) if len(text) <= 1024 else _kinds(text))


@lru_cache(maxsize=1 << 14)   # a series repeats most of its values in every file; short texts only (memory)
def _cached_kinds(text: str) -> tuple[str, ...]:
    return _kinds(text)


def _kinds(text: str) -> tuple[str, ...]:
    found: list[str] = []
    if _NAME.search(text) or _name_word(_EMAIL.sub(" ", text)):  # an e-mail address is an e-mail, not a name
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
    return tuple(found)


def pseudonym_kinds(text: str) -> list[str]:
    """What makes ``text`` unacceptable as a pseudonym in PatientID/PatientName of a file marked de-identified:
    a name, date, phone number or e-mail address, or a labelled record number (``MRN-7734521``). An unlabelled
    letters-and-digits code (``SUBJ000123``) is what pseudonyms look like, so it alone is not."""
    kinds = [kind for kind in text_kinds(text) if kind != "ID number"]
    if _LABELLED_ID.search(text):
        kinds.append("ID number")
    return kinds


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


# The placeholder rule. Where the profile asks for an empty value or a dummy (Z, D and the compound actions with
# them) these count as emptied: a de-identifier's marker word, or a value made only of X, *, 0, ^ and spaces
# ("XXXX", "^", "***"), alone or as every component of a person name ("REMOVED^REMOVED"). They identify no one, so
# the value may stay; where the profile asks for removal (X) a placeholder is still a finding.
PLACEHOLDERS = frozenset({"ANONYMOUS", "ANONYMIZED", "ANONYMISED", "ANON", "REMOVED", "REDACTED", "DUMMY", "UNKNOWN",
                          "NONE", "N/A", "NA", "DEIDENTIFIED", "DE-IDENTIFIED"})


def is_placeholder(value: str) -> bool:
    """Whether a text value is one of the placeholders (see ``PLACEHOLDERS``): counts as emptied."""
    text = value.strip().upper()
    squeezed = text.replace("^", "").replace(" ", "")
    if set(squeezed) <= {"X", "*", "0"}:
        return True
    parts = {part.strip() for part in text.split("^") if part.strip()}
    return bool(parts) and parts <= PLACEHOLDERS


# Text the table does not name: at the top level only texts typed by people (LT, ST, UT, UC, person names, and
# descriptions, comments and labels by keyword); inside a sequence every short or long string, since codes'
# meanings and other strings of untabled sequences are where free text hides (CodeMeaning "CT chest requested
# by ...").
TOP_TEXT_VRS = frozenset({"LT", "ST", "UT", "PN", "UC"})
NESTED_TEXT_VRS = frozenset({"LO", "LT", "ST", "UT", "SH", "PN", "UC"})
FREE_TEXT = re.compile(r"(Description|Comments?|Notes?|History|Reason|Remarks?|Text|Narrative|Label)$")
# coded values: their form is fixed by a coding scheme (a SNOMED code may look like a date); their meaning is text
CODED_KEYWORDS = frozenset({"CodeValue", "CodingSchemeDesignator", "CodingSchemeVersion", "ContextIdentifier",
                            "MappingResource", "ContextGroupVersion", "LongCodeValue", "URNCodeValue",
                            "CodingSchemeIdentificationSequence", "ContextUID"})


JUDGED_CHARS = 1 << 16   # of a longer value only the start is judged: the time per value stays bounded


def untabled_text_kinds(keyword: str, vr: str, value: str, *, nested: bool) -> list[str]:
    """The kinds of identifying content of a text value the PS3.15 table does not name ([] when it is clean or not
    text worth judging). ``nested``: the element is inside a sequence item. A person name (PN) that is not a
    placeholder is a name whatever its shape. Only the first ``JUDGED_CHARS`` characters are judged."""
    if not value or keyword in CODED_KEYWORDS:
        return []
    value = value[:JUDGED_CHARS]
    if nested:
        if vr not in NESTED_TEXT_VRS:
            return []
    elif vr not in TOP_TEXT_VRS and not (vr in NESTED_TEXT_VRS and FREE_TEXT.search(keyword)):
        return []
    kinds = text_kinds(value)
    if vr == "PN" and "name" not in kinds and not all(is_placeholder(v) for v in value.split("\\") if v.strip()):
        kinds.insert(0, "name")
    return kinds
