"""PHI_PATH: file and folder names that carry the file's own identifiers. The one matcher used by ``curator
validate`` (judging the headers ``curator.io.dicom_audit`` already read) and by ``curator anonymise`` (renaming
the components it finds, ``curator.anonymise.paths``).

Each path component (relative to the root; the root's own name is not judged) is compared with the identifying
values of the DICOM file whose path it is part of: PatientID, OtherPatientIDs (and the PatientID of each
OtherPatientIDsSequence item), AccessionNumber, PatientName and OtherPatientNames, PatientBirthDate. A folder
holding several patients' files is judged once per file, each against its own values. Both sides are compared in
Unicode NFC, case-insensitively.

The rules (they keep short or dummy values from making every name a hit):

- Values that are empty, placeholders (ANONYMOUS, REMOVED, only X/*/0, ...) or all zeros never match.
- IDs and accession numbers: separators (anything not a letter or digit) count as one, so ``98C14734-ASSH``
  matches ``98C14734_ASSH_1.dcm``. A value with two or three letters and digits matches only as a whole token,
  between separators or the ends of the name (PatientID ``42`` matches ``patient_42`` and ``42.dcm``, not
  ``P042`` or ``study_0042``); one with a single letter or digit never matches. A longer value may also touch a
  run of the other kind (``P12345`` for ``12345``) but never extends a run of its own kind (``0012345`` and
  ``123456`` are not ``12345``); from six letters and digits it is also found with its separators dropped
  (``98C14734ASSH``).
- Names: the words of the name (split at ``^``, spaces, ``_``, ``-``, ``.`` and the like; words of one letter,
  i.e. initials, are dropped; a longer name is judged on its first eight words) are looked for among the letter
  runs of the file or folder name, in any order, either as whole runs or as runs made only of name words
  (``KowalczykWieslawa``), as written or romanised (``Иванов`` meets ``Ivanov``). A hit is every word of the
  name (at least two words, or one word of four letters or more); or the family name (the part before the first
  ``^``, all of its words) when it has four letters or more; or the family name with the first given name when
  they have five letters or more together. Each ``=`` group of a PN (alphabetic, ideographic, phonetic) counts
  on its own.
- Birth dates (a real calendar date, not 19000101 and the like) match as YYYYMMDD, YYYY-MM-DD, DD.MM.YYYY and the
  same with ``-``, ``_`` or ``.`` as separator, never inside a longer run of digits.

Validate skips the values the DICOM privacy audit accepts (placeholders, and in a file that declares
de-identification a harmless pseudonym in PatientID/PatientName, ``curator.checks.privacy_dicom``): a folder
named after a pseudonym is the usual, safe layout.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from curator.catalogue import make_finding
from curator.checks.phi_text import is_placeholder
from curator.checks.privacy_dicom import PLACEHOLDER_DATES, _declared, _is_placeholder, _pseudonym
from curator.io.dicom_audit import AuditedFile, AuditElement, DicomAudit
from curator.io.facts import Facts
from curator.io.identifiers import fold_token
from curator.models.findings import Finding

__all__ = ["ATTRIBUTES", "CODES", "Identity", "audited_identity", "check", "flagged_components", "match_component",
           "match_path"]

CODES = frozenset({"PHI_PATH"})
# the readers (validate.GATHERERS) this check needs, skipped when none of CODES is selected:
# the identity of each DICOM file, from the audit's reading
READERS: tuple[str, ...] = ("curator.io.dicom_audit:gather",)

# attribute -> kind of value; the order is the order findings name them in
ATTRIBUTES: dict[str, str] = {
    "PatientID": "id", "OtherPatientIDs": "id", "OtherPatientIDsSequence": "id", "AccessionNumber": "id",
    "PatientName": "name", "OtherPatientNames": "name", "PatientBirthDate": "date",
}
_OTHER_ID_ITEM = re.compile(r"OtherPatientIDsSequence\[\d+\]\.PatientID")
_OTHER_ID_PREFIX = "OtherPatientIDsSequence["   # what each location _OTHER_ID_ITEM matches begins with
_SEPARATORS = re.compile(r"[\W_]+")
_LETTERS = re.compile(r"[^\W\d_]+")
_NAME_SPLIT = re.compile(r"[\W\d_]+")
SHORT_ID = 3        # IDs with this many letters and digits or fewer match only as whole tokens
COMPACT_ID = 6      # IDs with this many letters and digits or more are also found with their separators dropped
MIN_NAME_WORD = 2   # shorter name words (initials) are dropped
MIN_ALONE = 4       # letters a name (or family name) alone needs to match by itself
MAX_NAME_WORDS = 8  # a longer name is judged on its first words (keeps a hostile 1,000-word name cheap)


@dataclass(frozen=True)
class Identity:
    """The identifying values of one DICOM file: (attribute, value) pairs, attributes from ``ATTRIBUTES``."""

    values: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> Identity:
        """From (attribute or audit location, value) pairs; multi-values (``a\\b``) are split, empty ones and
        attributes that identify no one are dropped."""
        kept: dict[tuple[str, str], None] = {}
        for location, value in pairs:
            attribute = "OtherPatientIDsSequence" if _OTHER_ID_ITEM.fullmatch(location) else location
            if attribute not in ATTRIBUTES:
                continue
            for part in str(value or "").split("\\"):
                part = part.strip().strip("\x00").strip()
                if part:
                    kept[(attribute, part)] = None
        return cls(tuple(kept))

    def __bool__(self) -> bool:
        return bool(self.values)


def audited_identity(elements: Iterable[AuditElement], declared: bool) -> Identity:
    """The identity of an audited file (``curator.io.dicom_audit.AuditElement``s), without the values the
    privacy audit accepts (placeholders; a harmless pseudonym in a declared file)."""
    pairs = []
    for element in elements:
        location = element.location   # (tested first: most elements are not of the identity)
        if location not in ATTRIBUTES and not (location.startswith(_OTHER_ID_PREFIX) and
                                               _OTHER_ID_ITEM.fullmatch(location)):
            continue
        if element.vr == "SQ" or not element.value:
            continue
        if _is_placeholder(element) or _pseudonym(element, declared):
            continue
        pairs.append((location, element.value))
    return Identity.of(pairs)


# --- the matcher -------------------------------------------------------------------------------------------

def _normal(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def _placeholder(value: str) -> bool:
    return is_placeholder(value)   # the one placeholder rule (checks.phi_text)


def _kind(char: str) -> str:
    return "digit" if char.isdigit() else "letter" if char.isalpha() else ""


def _bounded(text: str, start: int, end: int, strict: bool, breaks: frozenset[int] = frozenset()) -> bool:
    """Is text[start:end] a token of its own: strictly between separators or the ends, or (not strict) at least
    not continuing a run of digits with digits or of letters with letters? ``breaks``: offsets where separators
    were taken out of ``text``."""
    before = "" if start == 0 or start in breaks else text[start - 1]
    after = "" if end == len(text) or end in breaks else text[end]
    if strict:
        return not before.isalnum() and not after.isalnum()
    return _kind(before) != _kind(text[start]) and _kind(after) != _kind(text[end - 1])


def _occurs(needle: str, text: str, strict: bool, breaks: frozenset[int] = frozenset()) -> bool:
    start = text.find(needle)
    while start >= 0:
        if _bounded(text, start, start + len(needle), strict, breaks):
            return True
        start = text.find(needle, start + 1)
    return False


@dataclass(frozen=True)
class _Id:
    spaced: str     # separators as one space
    compact: str    # letters and digits only
    short: bool


@lru_cache(maxsize=4096)
def _id_needle(value: str) -> _Id | None:
    spaced = _SEPARATORS.sub(" ", _normal(value)).strip()
    compact = spaced.replace(" ", "")
    if len(compact) < 2 or set(compact) == {"0"} or _placeholder(value):
        return None
    return _Id(spaced, compact, len(compact) <= SHORT_ID)


@dataclass(frozen=True)
class _Component:
    """One name, prepared once for every value it is compared with."""

    spaced: str                # separators as one space
    compact: str               # letters and digits only
    breaks: frozenset[int]     # offsets in ``compact`` where separators were
    runs: tuple[str, ...]      # runs of letters, and their romanised forms

    @classmethod
    def of(cls, component: str) -> _Component:
        normal = _normal(component)
        spaced = _SEPARATORS.sub(" ", normal)
        words = spaced.split(" ")
        breaks, offset = {0}, 0
        for word in words:
            offset += len(word)
            breaks.add(offset)
        runs = _LETTERS.findall(normal)
        return cls(spaced, "".join(words), frozenset(breaks), tuple(dict.fromkeys(
            [*runs, *(fold_token(run) for run in runs)])))


def _id_hit(needle: _Id, component: _Component) -> bool:
    if _occurs(needle.spaced, component.spaced, needle.short):
        return True
    return len(needle.compact) >= COMPACT_ID and _occurs(needle.compact, component.compact, False, component.breaks)


@dataclass(frozen=True)
class _Name:
    words: frozenset[str]                      # every word, as written and romanised
    lengths: tuple[int, ...]                   # their lengths
    alternatives: tuple[frozenset[str], ...]   # sets of words any one of which, all found, is a hit


def _words(text: str) -> list[str]:
    return [w for w in _NAME_SPLIT.split(_normal(text)) if len(w) >= MIN_NAME_WORD]


@lru_cache(maxsize=4096)
def _name_needle(value: str) -> _Name | None:
    """The words of a person name and the sets of them that make a hit: the whole name, the family name, the
    family name with the first given name; for each group of a PN (``alphabetic=ideographic=phonetic``)."""
    if _placeholder(value):
        return None
    alternatives: list[frozenset[str]] = []
    for group in value.split("="):
        words = _words(group)[:MAX_NAME_WORDS]
        parts = [_words(part) for part in group.split("^")] if "^" in group else [words]
        family = parts[0][:MAX_NAME_WORDS]
        given = next((part[0] for part in parts[1:] if part), None)
        choices = [words] if len(words) >= 2 or sum(map(len, words)) >= MIN_ALONE else []
        if sum(map(len, family)) >= MIN_ALONE:
            choices.append(family)
        if family and given is not None and sum(map(len, family)) + len(given) > MIN_ALONE:
            choices.append([*family, given])
        for choice in choices:
            for form in (str, fold_token):
                folded = frozenset(form(w) for w in choice) - {""}
                if folded and folded not in alternatives:
                    alternatives.append(folded)
    if not alternatives:
        return None
    every = frozenset().union(*alternatives)
    return _Name(words=every, lengths=tuple(sorted({len(w) for w in every})), alternatives=tuple(alternatives))


def _segments(token: str, needle: _Name) -> set[str]:
    """The name words ``token`` is made of, end to end (``kowalczykwieslawa``); empty when it is not."""
    size = len(token)
    step = [0] * (size + 1)   # length of the word that ends at each offset reached, 0 where none does
    step[0] = -1
    for start in range(size):
        if not step[start]:
            continue
        for length in needle.lengths:
            end = start + length
            if end <= size and not step[end] and token[start:end] in needle.words:
                step[end] = length
    if not step[size]:
        return set()
    words, end = set(), size
    while end > 0:
        words.add(token[end - step[end] : end])
        end -= step[end]
    return words


def _name_hit(needle: _Name, component: _Component) -> bool:
    covered: set[str] = set()
    for run in component.runs:
        covered |= _segments(run, needle)
    if not covered:
        return False
    return any(words <= covered for words in needle.alternatives)


@lru_cache(maxsize=1024)
def _date_pattern(value: str) -> re.Pattern[str] | None:
    text = value.strip()
    if not re.fullmatch(r"\d{8}", text) or text in PLACEHOLDER_DATES:
        return None
    try:
        dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None
    y, m, d = text[:4], text[4:6], text[6:]
    spellings = [f"{y}{m}{d}"] + [f"{y}{s}{m}{s}{d}" for s in "-_."] + [f"{d}{s}{m}{s}{y}" for s in ".-_"]
    return re.compile(r"(?<!\d)(?:" + "|".join(re.escape(s) for s in spellings) + r")(?!\d)")


@lru_cache(maxsize=1 << 13)
def match_component(component: str, identity: Identity) -> tuple[str, ...]:
    """The attributes of ``identity`` whose values ``component`` (one file or folder name) carries."""
    found: list[str] = []
    prepared = _Component.of(component)
    for attribute, value in identity.values:
        if attribute in found:
            continue
        kind = ATTRIBUTES[attribute]
        if kind == "id":
            needle = _id_needle(value)
            hit = needle is not None and _id_hit(needle, prepared)
        elif kind == "name":
            name = _name_needle(value)
            hit = name is not None and _name_hit(name, prepared)
        else:
            pattern = _date_pattern(value)
            hit = pattern is not None and pattern.search(component) is not None
        if hit:
            found.append(attribute)
    return tuple(a for a in ATTRIBUTES if a in found)


def match_path(path: str, identity: Identity) -> list[tuple[int, str, tuple[str, ...]]]:
    """(index, component, attributes) for every component of ``path`` (POSIX, relative to the root) that carries
    a value of ``identity``."""
    hits = []
    for index, component in enumerate(p for p in path.split("/") if p):
        attributes = match_component(component, identity) if identity else ()
        if attributes:
            hits.append((index, component, attributes))
    return hits


# --- validate ----------------------------------------------------------------------------------------------

@dataclass
class _Flagged:
    component: str
    attributes: list[str]
    example: str        # the first file whose header the component carries
    files: int = 0      # how many files


# PHI_PATH and the file-name check of checks.privacy_files both ask: computed once per audit, held as long as
# the audit is (nothing a check derives is stored in Facts)
_FLAGGED: weakref.WeakKeyDictionary[DicomAudit, dict[str, _Flagged]] = weakref.WeakKeyDictionary()


def path_matches(path: str, audited: AuditedFile) -> list[tuple[int, str, tuple[str, ...]]]:
    """What :func:`flagged_components` takes from one audited file: the components of its path that carry a value
    of its identity (validate finds them as each file is read)."""
    identity = audited_identity(audited.elements, _declared(audited))
    return match_path(path, identity) if identity else []


def flagged_components(facts: Facts) -> Mapping[str, _Flagged]:
    """Path of each offending component (the folder or the file itself) -> what it carries; computed once per
    run from ``facts.dicom_audit``."""
    audit = facts.dicom_audit
    if audit is None:
        return {}
    cached = _FLAGGED.get(audit)
    if cached is not None:
        return cached
    flagged: dict[str, _Flagged] = {}
    known = facts.dicom_path_matches or {}   # validate matched each file as it was read (the same matches)
    for path, audited in sorted(audit.files.items()):
        matches = known.get(path)
        if matches is None:
            matches = path_matches(path, audited)
        if not matches:
            continue
        parts = path.split("/")
        for index, component, attributes in matches:
            prefix = "/".join(parts[: index + 1])
            entry = flagged.setdefault(prefix, _Flagged(component, [], path))
            entry.attributes.extend(a for a in attributes if a not in entry.attributes)
            entry.files += 1
    _FLAGGED[audit] = flagged
    return flagged


def check(facts: Facts) -> Iterator[Finding]:
    for prefix, entry in sorted(flagged_components(facts).items()):
        attributes = [a for a in ATTRIBUTES if a in entry.attributes]
        # attribute keywords read the same in every language
        yield make_finding("PHI_PATH", prefix, component=entry.component, attribute=", ".join(attributes),
                           attributes=attributes, files=entry.files, example=entry.example,
                           folder=prefix != entry.example)
