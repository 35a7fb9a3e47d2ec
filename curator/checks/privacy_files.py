"""Privacy of everything that is not a DICOM file: NIfTI text fields and extensions, gzip headers, PNG/JPEG
metadata, office and PDF document properties, file and folder names, table and JSON values, and the curator's
secret identifier list anywhere. Judgement only, on what ``curator.io.privacy_files`` read; no identifying value
is ever put into a finding in full (``mask``).

Severities: a NIfTI text field is a warning, raised to an error when it looks like a name, a date or a record
number (dcm2niix's ``Time=hhmmss.fff`` alone stays a warning); a gzip FNAME that differs from the file's own
name is a warning (an error when it looks identifying), one equal to it is reported as info; image metadata is a
warning (an error when its text looks like a name or record number); document authors are info, except the
contributors the dataset card declares.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from typing import Any

from curator.catalogue import make_finding
from curator.checks.phi_paths import flagged_components
from curator.checks.privacy_patterns import (
    DATE,
    ID,
    NAME,
    classify,
    is_neutral,
    looks_like_contact,
    looks_like_date,
    looks_like_name,
)
from curator.io.facts import Facts
from curator.io.identifiers import mask, tokens
from curator.io.privacy_files import EXTENSION_NAMES, FileAudit, Hit, PrivacyFacts, Table
from curator.models.findings import Finding, Severity

CODES = frozenset({
    "PHI_NIFTI_TEXT", "PHI_NIFTI_EXTENSION", "PHI_GZIP_HEADER", "PHI_IMAGE_METADATA", "PHI_DOCUMENT_METADATA",
    "PHI_IDENTIFIER_FOUND", "PHI_FILE_NAME", "PHI_TABLE_VALUE", "PHI_AUDIT_INCOMPLETE",
})
# the readers (validate.GATHERERS) this check needs, skipped when none of CODES is selected:
# NIfTI/gzip/image/document metadata; the DICOM text values for --identifiers
READERS: tuple[str, ...] = ("curator.io.privacy_files:gather", "curator.io.dicom_audit:gather")

_DCM2NIIX_TIME = re.compile(r"(?:^|;)\s*Time=\d{1,6}(?:\.\d+)?\s*(?:;|$)")
# document properties that hold a person's name; the others (Title, Producer, ...) are searched for known
# identifiers only. PDF Creator/Producer and XMP CreatorTool name software, unless they look like a name.
_PERSON_PROPERTIES = {"creator", "lastModifiedBy", "Manager", "comment author", "Author", "dc:creator", "pdf:Author"}
_SOFTWARE_PROPERTIES = {"Creator", "Producer", "xmp:CreatorTool", "pdf:Producer"}
_KIND_WORDS = {NAME: "name", DATE: "date", ID: "record number"}


def check(facts: Facts) -> Iterator[Finding]:
    data = facts.privacy_files
    if data is None:
        return
    for path, audit in sorted(data.files.items()):
        yield from judge(facts, path, audit)
    yield from _names(facts)
    for path, hits in sorted(data.name_hits.items()):
        yield from _identifier_findings(path, hits)
    if data.identifiers is not None:
        yield from _dicom_identifiers(facts, data)


def judge(facts: Facts, path: str, audit: FileAudit) -> Iterator[Finding]:
    """The findings of one file's audit, lazily: the one place that decides what an audit says. validate keeps only
    the audits this yields something for (``says_something``), so a clean file's record is dropped as it is read."""
    yield from _nifti(path, audit)
    yield from _gzip(path, audit)
    yield from _image(path, audit)
    if audit.document:
        yield from _document(path, audit, _declared_people(facts))
    if audit.table is not None:
        yield from _table(path, audit.table)
    yield from _values(path, audit)
    yield from _incomplete(facts, path, audit)
    yield from _identifier_findings(path, audit.hits)


def says_something(facts: Facts) -> Callable[[str, FileAudit], bool]:
    """``keep(path, audit)`` for ``curator.io.privacy_files.gather``: whether :func:`judge` finds anything in it
    (stopping at its first finding)."""
    return lambda path, audit: next(judge(facts, path, audit), None) is not None


# --- NIfTI and gzip ----------------------------------------------------------------------------------------

def _nifti(path: str, audit: FileAudit) -> Iterator[Finding]:
    for item in audit.nifti_fields:
        kinds = classify(item.text)
        context: dict[str, Any] = {"looks_like": kinds, "masked": mask(item.text), "length": len(item.text)}
        if not kinds and _DCM2NIIX_TIME.search(item.text):
            context["looks_like"] = ["dcm2niix acquisition time"]
        yield make_finding("PHI_NIFTI_TEXT", path, where=item.where, severity=Severity.error if kinds else None,
                           **context)
    if audit.extensions:
        described = []
        for extension in audit.extensions:
            name = EXTENSION_NAMES.get(extension.code, "unregistered")
            identifying = _identifying_elements(extension.elements) if extension.code == 2 else []
            label = f"{extension.code} ({name}" + (f": {', '.join(identifying[:8])}" if identifying else "") + ")"
            described.append((label, {"code": extension.code, "name": name, "size": extension.size,
                                      "identifying_elements": identifying,
                                      "elements": len(extension.elements),
                                      "parsed": extension.code == 2 and extension.error is None,
                                      **({"error": extension.error} if extension.error else {})}))
        yield make_finding("PHI_NIFTI_EXTENSION", path, codes=", ".join(label for label, _ in described),
                           extensions=[detail for _, detail in described])


@cache
def _deid_lookup() -> object | None:
    """Table E.1-1 (``schema/deid``) when it is shipped, else None (the built-in list below is used)."""
    try:
        from curator.io.deid_table import deid_table

        return deid_table()
    except (ImportError, OSError, ValueError):
        return None


# used when schema/deid is missing: the direct identifiers of PS3.15 Table E.1-1 and the usual dates and sites
_FALLBACK_IDENTIFYING = frozenset({
    "PatientName", "PatientID", "PatientBirthDate", "PatientBirthTime", "PatientAddress", "PatientTelephoneNumbers",
    "OtherPatientIDs", "OtherPatientNames", "OtherPatientIDsSequence", "PatientMotherBirthName", "AccessionNumber",
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "ReferringPhysicianName",
    "PerformingPhysicianName", "OperatorsName", "PhysiciansOfRecord", "NameOfPhysiciansReadingStudy",
    "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate", "AcquisitionDateTime", "StudyTime",
    "StationName", "DeviceSerialNumber", "StudyID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
    "FrameOfReferenceUID", "MedicalRecordLocator", "PatientComments", "AdditionalPatientHistory", "PatientAge",
    "PatientSex", "PatientWeight", "PatientSize", "EthnicGroup", "Occupation", "RequestingPhysician",
})


def _identifying_elements(elements: Iterable[tuple[str, str]]) -> list[str]:
    """Keywords (or tags) of the elements of a NIfTI DICOM extension that PS3.15 removes or replaces."""
    table = _deid_lookup()
    found: list[str] = []
    for keyword, tag in elements:
        number = int(tag[1:5] + tag[6:10], 16) if re.fullmatch(r"\([0-9A-F]{4},[0-9A-F]{4}\)", tag) else None
        if table is not None and number is not None:
            rule = table.lookup(number)  # type: ignore[attr-defined]
            hit = rule is not None and not str(rule.action).startswith("K")
        else:
            hit = keyword in _FALLBACK_IDENTIFYING or keyword == "private"
        label = keyword if keyword not in ("private", "unknown") else f"private {tag}"
        if hit and label not in found:
            found.append(label)
    return found


def _gzip(path: str, audit: FileAudit) -> Iterator[Finding]:
    header = audit.gzip
    if header is None or (header.name is None and header.comment is None):
        return
    own = path.rsplit("/", 1)[-1]
    same = header.name is not None and header.name in (own, own[:-3] if own.endswith(".gz") else own,
                                                       own[:-4] + ".tar" if own.endswith(".tgz") else own)
    parts, kinds = [], []
    context: dict[str, Any] = {}
    if header.name is not None:
        parts.append("FNAME" + (" (this file's own name)" if same else "")
                     + (" longer than 1 MiB" if "FNAME" in header.overlong else ""))
        context["fname"] = mask(header.name)
        if not same:
            kinds += classify(header.name, shapes=False)
    if header.comment is not None:
        parts.append("FCOMMENT" + (" longer than 1 MiB" if "FCOMMENT" in header.overlong else ""))
        context["fcomment"] = mask(header.comment)
        kinds += [k for k in classify(header.comment) if k not in kinds]
    if header.mtime:
        context["mtime"] = dt.datetime.fromtimestamp(header.mtime, dt.UTC).date().isoformat()
    if header.overlong:  # a field of a megabyte is a payload hidden in the header, whatever it says
        context["overlong"] = list(header.overlong)
    severity = Severity.error if kinds or header.overlong else (
        Severity.info if same and header.comment is None else None)
    yield make_finding("PHI_GZIP_HEADER", path, where=", ".join(parts), severity=severity,
                       looks_like=sorted(set(kinds)), **context)


# --- images and documents ----------------------------------------------------------------------------------

def _image(path: str, audit: FileAudit) -> Iterator[Finding]:
    if not audit.image_items and not audit.trailing_bytes:
        return
    places = list(dict.fromkeys(item.where for item in audit.image_items))
    kinds: list[str] = []
    for item in audit.image_items:
        if item.where != "tIME":
            kinds += [k for k in classify(item.text) if k in (NAME, ID) and k not in kinds]
    if audit.trailing_bytes:
        places.append(f"{audit.trailing_bytes} bytes after the end of the image")
    yield make_finding("PHI_IMAGE_METADATA", path, where=", ".join(places),
                       severity=Severity.error if kinds else None, looks_like=kinds,
                       trailing_bytes=audit.trailing_bytes)


def _person_key(name: str) -> frozenset[str]:
    return frozenset(word for word, _, _ in tokens(name))


def _declared_people(facts: Facts) -> set[frozenset[str]]:
    """The contributors the dataset card names (every language): authoring documents is what they are for."""
    people: set[frozenset[str]] = set()
    for contributor in facts.card.contributors if facts.card is not None else ():
        names = contributor.name.values() if isinstance(contributor.name, dict) else [contributor.name]
        people.update(_person_key(name) for name in names)
    return people


def _document(path: str, audit: FileAudit, declared: set[frozenset[str]]) -> Iterator[Finding]:
    named = []
    for item in audit.document:
        if is_neutral(item.text) or _person_key(item.text) in declared:
            continue
        person = item.where in _PERSON_PROPERTIES or item.where.startswith("connection")
        if item.where in _SOFTWARE_PROPERTIES:
            person = looks_like_name(item.text, shapes=True) and not re.search(r"\d", item.text)
        if person:
            named.append(item)
    if named:
        fields = list(dict.fromkeys(item.where for item in named))
        yield make_finding("PHI_DOCUMENT_METADATA", path, where=", ".join(fields),
                           values={item.where: mask(item.text) for item in named})


# --- tables, JSON and YAML ---------------------------------------------------------------------------------

def _key(name: str) -> str:
    return re.sub(r"[\W_]+", "", name.casefold())


# normalised column or key name -> kind of content; DICOM keywords as dcm2niix and pydicom write them
_KEYS: dict[str, str] = {
    **dict.fromkeys(("patientname", "patientsname", "patientfullname", "patientsurname", "othernames",
                     "otherpatientnames", "patientmotherbirthname", "fio", "фио", "fullname", "firstname",
                     "lastname", "surname", "givenname", "familyname", "middlename", "patronymic", "фамилия", "имя",
                     "отчество", "referringphysicianname", "performingphysicianname", "operatorsname",
                     "physiciansofrecord", "nameofphysiciansreadingstudy"), NAME),
    **dict.fromkeys(("patientbirthdate", "birthdate", "dateofbirth", "dob", "birthday", "датарождения",
                     "studydate", "seriesdate", "acquisitiondate", "contentdate", "acquisitiondatetime",
                     "датаисследования"), "date"),
    **dict.fromkeys(("accessionnumber", "accession", "mrn", "medicalrecordnumber", "otherpatientids",
                     "patientid", "snils", "снилс", "passport", "паспорт", "polis", "полис", "ssn",
                     "insurancenumber"), "id"),
    **dict.fromkeys(("patientaddress", "address", "адрес", "patienttelephonenumbers", "phone", "telephone",
                     "телефон", "email", "patientemail"), "contact"),
    **dict.fromkeys(("institutionname", "institutionaddress", "institutionaldepartmentname", "stationname",
                     "deviceserialnumber"), "site"),
}
_PLACEHOLDERS = {"", "n/a", "na", "none", "null", "nan", "-", "--", "unknown", "anonymous", "anonymized",
                 "anonymised", "anon", "removed", "redacted", "xxx", "0", "?"}
# JSON/YAML describe the release too (datapackage.json, dataset.yaml): their authors' e-mails and addresses are
# meant to be there, so generic contact keys count only in tables
_TABLE_ONLY = {"address", "адрес", "phone", "telephone", "телефон", "email", "firstname", "lastname", "surname",
               "givenname", "familyname", "middlename", "fullname", "имя", "фамилия", "отчество"}


def _value_kind(kind: str, key: str, value: str) -> bool:
    """Does ``value`` under a column/key of ``kind`` really hold that kind of data?"""
    text = value.strip()
    if text.casefold() in _PLACEHOLDERS or text.casefold().startswith(("anon", "pseudo", "subject", "sub-")):
        return False
    if kind == "date":
        return looks_like_date(text) or bool(re.fullmatch(r"(19|20)\d{6}", text))
    if kind == "id":
        if key == "patientid":  # CNCB and MosMed number their patients: only hospital-style numbers count
            return bool(re.search(r"\d{6,}", text))
        return sum(c.isdigit() for c in text) >= 4
    if kind == NAME:
        return any(c.isalpha() for c in text)
    return len(text) >= 3


def _table(path: str, table: Table) -> Iterator[Finding]:
    for index, column in enumerate(table.columns):
        key = _key(column)
        kind = _KEYS.get(key)
        hits: list[int] = []
        kinds: set[str] = set()
        for row, line in zip(table.rows, table.lines, strict=True):
            if index >= len(row) or not row[index]:
                continue
            value = row[index]
            if kind is not None and _value_kind(kind, key, value):
                hits.append(line)
                kinds.add(kind)
                continue
            found = looks_like_contact(value) + (["name"] if _strong_name(value) else [])
            if found:
                hits.append(line)
                kinds.update(found)
        if hits:
            yield make_finding("PHI_TABLE_VALUE", path, field=column or f"column {index + 1}",
                               kinds=", ".join(sorted(kinds)), count=len(hits), first_line=hits[0],
                               rows_checked=len(table.rows))


def _strong_name(value: str) -> bool:
    """A full name by shape alone (``Иванов Иван Иванович``, ``Ivanov^Ivan``), for columns of any title."""
    return looks_like_name(value, shapes=True) and bool(re.search(r"\^|[А-ЯЁ][а-яё]+\s+[А-ЯЁ]", value))


def _values(path: str, audit: FileAudit) -> Iterator[Finding]:
    grouped: dict[str, tuple[str, list[str], set[str]]] = {}
    for key, where, value in audit.values:
        normal = _key(key)
        kind = _KEYS.get(normal)
        if kind is None or normal in _TABLE_ONLY or not _value_kind(kind, normal, value):
            continue
        entry = grouped.setdefault(key, (where, [], set()))
        entry[1].append(where)
        entry[2].add(kind)
    for key, (first, places, kinds) in grouped.items():
        yield make_finding("PHI_TABLE_VALUE", path, field=key, kinds=", ".join(sorted(kinds)), count=len(places),
                           first_key=first)


# --- names, identifiers, gaps ------------------------------------------------------------------------------

def _names(facts: Facts) -> Iterator[Finding]:
    judged = flagged_components(facts)   # names PHI_PATH finds from the file's own headers are reported there
    for entry in facts.entries:
        if entry.path in judged:
            continue
        name = entry.path.rsplit("/", 1)[-1]
        stem = re.sub(r"(\.[A-Za-z0-9]{1,5}){1,2}$", "", name) or name
        kinds = classify(stem, shapes=False)
        if kinds:
            yield make_finding("PHI_FILE_NAME", entry.path, kinds=", ".join(_KIND_WORDS[k] for k in kinds),
                               part=mask(stem), looks_like=kinds, folder=entry.kind == "dir")


def _identifier_findings(path: str, hits: Iterable[Hit]) -> Iterator[Finding]:
    by_entry: dict[int, list[Hit]] = {}
    for hit in hits:
        by_entry.setdefault(hit.entry, []).append(hit)
    for number in sorted(by_entry):
        group = by_entry[number]
        places = list(dict.fromkeys(hit.where for hit in group))
        where = places[0] + (f" and {len(places) - 1} more place{'s' if len(places) > 2 else ''}"
                             if len(places) > 1 else "")
        yield make_finding("PHI_IDENTIFIER_FOUND", path, entry=group[0].label, where=where, entry_number=number,
                           list_line=group[0].line, places=places[:20], count=len(group),
                           found_as=sorted({hit.found for hit in group})[:5])


def _dicom_identifiers(facts: Facts, data: PrivacyFacts) -> Iterator[Finding]:
    """The text values ``curator.io.dicom_audit`` kept, searched for the list (DICOM files are read once)."""
    audit = facts.dicom_audit
    if audit is None or data.identifiers is None:
        return
    from curator.io.dicom_audit import text_values

    hits: dict[str, list[Hit]] = {}
    for path, location, text in text_values(audit):
        for match in data.identifiers.search(text):
            entry = match.identifier
            hits.setdefault(path, []).append(Hit(entry.number, entry.label, entry.line, f"DICOM {location}",
                                                 mask(text[match.start : match.end])))
    for path in sorted(hits):
        yield from _identifier_findings(path, hits[path])


def _incomplete(facts: Facts, path: str, audit: FileAudit) -> Iterator[Finding]:
    reasons = list(audit.incomplete)
    # unreadable NIfTI files and profile data files have their own IMAGE_UNREADABLE finding
    if audit.error and audit.kind != "nifti" and facts.data_kind(path) is None:
        reasons.append(audit.error)
    if reasons:
        yield make_finding("PHI_AUDIT_INCOMPLETE", path, reason="; ".join(reasons))
