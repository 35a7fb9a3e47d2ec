"""Privacy of DICOM files: the PS3.15 Basic Application Level Confidentiality Profile, judged on what
``curator.io.dicom_audit`` read. Judgement only; no value is ever put into a finding in full.

What is accepted where the profile asks for a value to be emptied or replaced (actions Z and D, and the
compound actions that include them):

- an empty value;
- a placeholder, which counts as emptied (``curator.checks.phi_text.is_placeholder``): ANONYMOUS,
  ANONYMIZED/ANONYMISED, ANON, REMOVED, REDACTED, DUMMY, UNKNOWN, NONE, N/A, NA, DEIDENTIFIED/DE-IDENTIFIED (alone
  or as every component of a person name, REMOVED^REMOVED), or only X, *, 0, ^ and spaces (XXXX, ^); for dates
  and times 19000101, 00010101, 19700101 and all-zero times. Where the profile says X (remove) a placeholder is
  still a finding;
- for PatientID and PatientName (the pseudonym a de-identifier writes): any value that does not look like a
  name, a date, a phone number, an e-mail address or a record number (MRN-7734521), but only in a file that
  declares de-identification ((0012,0062) YES with (0012,0063) or (0012,0064)). In a file that does not, only
  the placeholders count. The declaration is a claim checked against the values, never a reason to skip them.

Text the table does not name (descriptions, and every string inside an untabled sequence, such as
ProcedureCodeSequence[0].CodeMeaning) goes through ``curator.checks.phi_text.untabled_text_kinds``, the decision
the anonymiser applies too; a hit is PHI_DICOM_TEXT naming the element's path.

Options claimed in (0012,0064) (CID 7050) widen this: an attribute the option keeps (K) may keep its value,
one it cleans (C) may keep a cleaned value (dates shifted under 113107, descriptions under 113105 -- those
are still scanned for names, dates, phone numbers, e-mail addresses and IDs). Direct identifiers of the
patient (name, IDs, birth date, address, phone, ...) are never widened by an option. UIDs in attributes
the profile replaces (action U) must be 2.25 UUID-derived or DICOM's own 1.2.840.10008; vendor roots are
errors, other roots warnings, unless 113110 Retain UIDs is claimed. PatientAge of 90 or more is an error
whatever is claimed, except 090Y in a declared file: the "90 or older" category ages are aggregated into.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from curator.catalogue import Relocation, finding_at, make_finding
from curator.checks.phi_text import is_placeholder, mask, pseudonym_kinds, text_kinds, untabled_text_kinds
from curator.io.deid_table import (
    BASIC_PROFILE,
    OPTION_NAMES,
    DeidRule,
    UidRoot,
    deid_table,
    safe_private,
    uid_roots,
)
from curator.io.dicom_audit import TEXT_VRS, AuditedFile, AuditElement
from curator.io.facts import Facts
from curator.models.findings import Finding

CODES = frozenset({
    "PHI_DICOM_ELEMENT", "PHI_DICOM_PRIVATE", "PHI_DICOM_NOT_DEIDENTIFIED", "PHI_DICOM_UID_ROOT",
    "PHI_DICOM_UID_NOT_REMAPPED", "PHI_DICOM_AGE_NINETY_PLUS", "PHI_DICOM_BURNED_IN", "PHI_DICOM_TEXT",
    "PHI_DICOM_CLAIM_CONTRADICTED", "PHI_DICOM_AUDIT_INCOMPLETE",
})
# the readers (validate.GATHERERS) this check needs, skipped when none of CODES is selected:
# the DICOM privacy audit's reading of every element
READERS: tuple[str, ...] = ("curator.io.dicom_audit:gather",)

# the patient's own identifiers: no option of PS3.15 lets them keep a real value
DIRECT_IDENTIFIERS = frozenset({
    "PatientName", "PatientID", "PatientBirthDate", "PatientBirthTime", "OtherPatientIDs", "OtherPatientIDsSequence",
    "OtherPatientNames", "PatientBirthName", "PatientMotherBirthName", "PatientAddress", "PatientTelephoneNumbers",
    "PatientTelecomInformation", "MedicalRecordLocator", "IssuerOfPatientID", "PatientInsurancePlanCodeSequence",
    "ResponsiblePerson", "MilitaryRank", "BranchOfService",
})
PSEUDONYM_KEYWORDS = frozenset({"PatientID", "PatientName"})
PLACEHOLDER_DATES = frozenset({"19000101", "00010101", "19700101"})
WELL_KNOWN_UID = "1.2.840.10008."
UUID_UID = "2.25."
AGE_LIMIT = 90
AGE_CAP = "090Y"   # in a declared file, the aggregate "90 or older" (HIPAA Safe Harbor) that curator anonymise writes
ACTION_TEXT = {
    "X": "X (remove)", "Z": "Z (empty or a dummy value)", "D": "D (a dummy value)", "U": "U (a new UID)",
    "X/Z": "X/Z (remove or empty)", "X/D": "X/D (remove or a dummy value)", "Z/D": "Z/D (empty or a dummy value)",
    "X/Z/D": "X/Z/D (remove, empty or a dummy value)", "X/Z/U*": "X/Z/U* (remove, empty or new UIDs)",
}
DATE_VRS = frozenset({"DA", "DT", "TM"})
NUMBER_VRS = frozenset({"IS", "DS", "US", "SS", "UL", "SL", "UV", "SV", "FL", "FD"})


def check(facts: Facts) -> Iterator[Finding]:
    audit = facts.dicom_audit
    if audit is None:
        return
    for path, reason in sorted(audit.unreadable.items()):
        yield make_finding("PHI_DICOM_NOT_DEIDENTIFIED", path,
                           reason=f"the file cannot be read, so it was not audited: {reason}")
    judged = facts.dicom_judged or {}   # validate judged each file as it was read (the same findings)
    for path in sorted(audit.files):
        found = judged.get(path)
        yield from judge_file(audit.files[path]) if found is None else found


def _option_label(code: str) -> str:
    return f"{code} {OPTION_NAMES.get(code, 'unknown option')}"


def _declared(audited: AuditedFile) -> bool:
    return audited.identity_removed == "YES" and bool(audited.method or audited.method_codes)


def _marking(audited: AuditedFile) -> Iterator[Finding]:
    if audited.directory:
        return  # a DICOMDIR indexes files; it has no de-identification module of its own
    if audited.identity_removed is None:
        reason = "(0012,0062) Patient Identity Removed is missing"
    elif audited.identity_removed != "YES":
        reason = f"(0012,0062) Patient Identity Removed is {audited.identity_removed[:16]!r}, not YES"
    elif not audited.method and not audited.method_codes:
        reason = "(0012,0062) is YES but neither (0012,0063) nor (0012,0064) says which method was applied"
    else:
        return
    yield finding_at("PHI_DICOM_NOT_DEIDENTIFIED", audited.path, reason=reason)


def _shown(element: AuditElement) -> str:
    if element.vr == "SQ":
        return f"{element.size} item{'s' if element.size != 1 else ''}"
    if not element.value:
        return f"{element.size} bytes"
    return mask(element.value)


def _is_placeholder(element: AuditElement) -> bool:
    values = element.values or [element.value]
    for value in values:
        text = value.strip().upper()
        if element.vr in DATE_VRS:
            digits = text.replace(".", "").replace("-", "").replace("+", "")
            if text[:8] in PLACEHOLDER_DATES and set(digits[8:]) <= {"0"}:
                continue
            if element.vr == "TM" and set(digits) <= {"0"}:
                continue
            return False
        if element.vr in NUMBER_VRS:
            try:
                if float(text) == 0:
                    continue
            except ValueError:
                pass
            return False
        if is_placeholder(text):
            continue
        return False
    return True


def _looks_like_name(value: str) -> bool:
    parts = [p for p in value.split("^") if p.strip()]
    return len(parts) >= 2 and all(p.replace(" ", "").replace("-", "").isalpha() and len(p) >= 2 for p in parts[:2])


def _pseudonym(element: AuditElement, declared: bool) -> bool:
    """A de-identifier's pseudonym in PatientID/PatientName: accepted in declared files when it looks harmless."""
    if not declared or element.keyword not in PSEUDONYM_KEYWORDS:
        return False
    kinds = pseudonym_kinds(element.value)   # a record number (MRN-7734521) is no pseudonym, marked or not
    return not kinds and not (element.vr == "PN" and _looks_like_name(element.value))


def _age_years(value: str) -> float | None:
    match = re.fullmatch(r"\s*(\d{1,3})\s*([DWMY]?)\s*", value.upper())
    if not match:
        return None
    number, unit = int(match.group(1)), match.group(2) or "Y"
    return number / {"D": 365.25, "W": 52.18, "M": 12.0, "Y": 1.0}[unit]


def _text_verdict(element: AuditElement) -> Verdict:
    if element.vr not in TEXT_VRS or not element.value:
        return ()
    kinds = text_kinds(element.value)
    if not kinds:
        return ()
    return (Relocation(make_finding("PHI_DICOM_TEXT", "", keyword=element.location, tag=_tag(element.tag),
                                    kinds=", ".join(kinds), value=mask(element.value))),)


def _tag(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


@dataclass
class _Uids:
    vendor: dict[tuple[str, str], list[str]] = field(default_factory=dict)   # (root, organisation) -> attributes
    other: list[tuple[str, str]] = field(default_factory=list)               # (attribute, uid)


def fresh_uid(uid: str) -> bool:
    """A UID made fresh by a de-identifier: under 2.25 (from a UUID), or under 2 with a second arc no registration
    authority assigns (dicognito writes ``2.<date and time>.<46 random digits>``): the arcs under 2 are small
    numbers, so a second arc of five or more digits is a random one."""
    if uid.startswith(UUID_UID):
        return True
    parts = uid.split(".")
    return len(parts) >= 2 and parts[0] == "2" and len(parts[1]) >= 5 and parts[1].isdigit()


def _check_uids(element: AuditElement, uids: _Uids) -> None:
    for root, uid in _uid_roots(element):
        if root is not None:   # (a UID that is only a root is judged below: never shown whole)
            uids.vendor.setdefault(root, []).append(element.location)
        else:
            uids.other.append((element.location, uid))


@lru_cache(maxsize=1 << 12)   # a series repeats its study, series and frame of reference UIDs in every slice
def _uid_roots(element: AuditElement) -> tuple[tuple[tuple[str, str] | None, str], ...]:
    """(the known vendor root and its organisation, or None; the UID) of each of the element's UIDs that is neither
    DICOM's own nor made fresh by a de-identifier."""
    found: list[tuple[tuple[str, str] | None, str]] = []
    for uid in element.values:
        if not uid or uid.startswith(WELL_KNOWN_UID) or fresh_uid(uid):
            continue
        root = _vendor_root(uid.rpartition(".")[0]) if "." in uid else None
        found.append(((root.root, root.organisation) if root is not None else None, uid))
    return tuple(found)


@lru_cache(maxsize=1 << 12)   # the slices of a series share their UIDs' stems
def _vendor_root(stem: str) -> UidRoot | None:
    """The known root (the longest) a UID lies under, from its arcs but the last (``stem``): a root followed by a
    dot begins the UID exactly when it begins ``stem`` followed by a dot, since the last arc has no dot."""
    prefix = stem + "."
    for root in uid_roots():
        if prefix.startswith(root.root + "."):
            return root
    return None


def _common_root(uids: list[str]) -> str:
    """The root the UIDs share (at most 8 arcs, or the first UID's first 6 when they share fewer than 4), never a
    whole UID: always at least one arc shorter than the shortest. "" for a UID of one arc (no root to name)."""
    parts = [u.split(".") for u in uids]
    common: list[str] = []
    for components in zip(*parts, strict=False):
        if len(set(components)) > 1:
            break
        common.append(components[0])
    if len(common) < 4:
        common = parts[0][:6]
    shortest = min(len(p) for p in parts)
    return ".".join(common[: min(8, shortest - 1)])


def _uid_findings(path: str, uids: _Uids) -> Iterator[Finding]:
    for (root, organisation), attributes in sorted(uids.vendor.items()):
        names = sorted(set(attributes))
        yield finding_at("PHI_DICOM_UID_ROOT", path, count=len(attributes), keywords=", ".join(names[:8]),
                         organisation=organisation, root=root, attributes=names)
    if uids.other:
        names = sorted({a for a, _ in uids.other})
        yield finding_at("PHI_DICOM_UID_NOT_REMAPPED", path, count=len(uids.other),
                         keywords=", ".join(names[:8]),
                         root=_common_root([u for _, u in uids.other]) or "(none: not a dotted UID)",
                         attributes=names)


def _allowed(rule: DeidRule, element: AuditElement, declared: bool) -> bool:
    """Whether ``element`` keeps an acceptable value under the Basic Profile action alone."""
    action = rule.action
    if element.vr == "SQ":
        # a sequence the profile may remove or empty (X, Z, and the compound actions with them, such as X/Z/D for
        # ReferencedPerformedProcedureStepSequence) must have no items, as anonymise leaves it; one it only
        # replaces (D) or keeps with new UIDs (X/Z/U*) is judged by its items
        return action in ("D", "X/Z/U*")
    if action == "X":
        return False
    return _is_placeholder(element) or _pseudonym(element, declared)


def judge_file(audited: AuditedFile) -> Iterator[Finding]:
    """Every privacy finding about one audited DICOM file."""
    path = audited.path
    claimed = frozenset(audited.method_codes)
    declared = _declared(audited)
    yield from _marking(audited)
    for note in audited.notes:
        yield finding_at("PHI_DICOM_AUDIT_INCOMPLETE", path, reason=note)

    private: list[AuditElement] = []
    uids = _Uids()
    for element in audited.elements:
        if element.tag & 0x10000:   # a private element (odd group): judged with the file's others
            private.append(element)
            continue
        verdict = _verdict(element, declared, claimed)
        if verdict is None:
            _check_uids(element, uids)
            continue
        for relocation in verdict:   # the same finding, in this file
            yield relocation.at(path)
    yield from _uid_findings(path, uids)
    if private:
        for relocation in _private(tuple(private), claimed):
            yield relocation.at(path)
    yield from _burned_in(audited)
    yield from _contradictions(audited, claimed)


# the findings one element gets, made without the file's path (""): None for a UID, which is judged with the file's
# other UIDs. The same element recurs in every file of a series (the audit shares it), so each verdict is
# remembered (issue 15: judging 2,960 slices element by element cost more than reading them); bounded, so memory
# does not grow with the release
Verdict = tuple[Relocation, ...]


@lru_cache(maxsize=1 << 14)   # at most a few tens of MB of remembered findings
def _verdict(element: AuditElement, declared: bool, claimed: frozenset[str]) -> Verdict | None:
    rule = deid_table().lookup(element.tag)
    if rule is None:
        kinds = untabled_text_kinds(element.keyword, element.vr, element.value, nested="[" in element.location)
        if not kinds:
            return ()
        return (Relocation(make_finding("PHI_DICOM_TEXT", "", keyword=element.location, tag=_tag(element.tag),
                                        kinds=", ".join(kinds), value=mask(element.value))),)
    direct = element.keyword in DIRECT_IDENTIFIERS
    if element.keyword == "PatientAge":
        years = _age_years(element.value)
        capped = declared and element.value.strip().upper() == AGE_CAP  # the "90 or older" category
        if years is not None and years >= AGE_LIMIT and not capped:
            return (Relocation(make_finding("PHI_DICOM_AGE_NINETY_PLUS", "", keyword=element.location,
                                            limit=AGE_LIMIT)),)
    option = None if direct else rule.option(claimed)
    if option is not None:  # kept (K) or cleaned (C) under an option the file claims
        return _text_verdict(element)
    if element.vr == "UI" and ("U" in rule.action or rule.action == "D"):
        return None
    if rule.action == "X/Z/U*" or _allowed(rule, element, declared):
        if element.vr != "SQ" and element.keyword not in PSEUDONYM_KEYWORDS:
            return _text_verdict(element)
        return ()
    context: dict[str, Any] = {}
    if element.vr in TEXT_VRS and element.value:
        kinds = text_kinds(element.value)
        if kinds:
            context["looks_like"] = kinds
    return (Relocation(make_finding("PHI_DICOM_ELEMENT", "", keyword=element.location, tag=_tag(element.tag),
                                    action=ACTION_TEXT.get(rule.action, rule.action), value=_shown(element),
                                    direct_identifier=direct, rule_source=rule.source, **context)),)


@lru_cache(maxsize=1 << 10)   # a series repeats its private elements in every slice
def _private(elements: tuple[AuditElement, ...], claimed: frozenset[str]) -> tuple[Relocation, ...]:
    """The findings about a file's private elements, made without its path."""
    return tuple(Relocation(finding) for finding in _private_findings(elements, claimed))


def _private_findings(elements: tuple[AuditElement, ...], claimed: frozenset[str]) -> Iterator[Finding]:
    allowed = safe_private()
    safe: list[AuditElement] = []
    unsafe: list[AuditElement] = []
    creators: list[AuditElement] = []
    for element in elements:
        if element.is_private_creator:
            creators.append(element)
        elif (element.creator.strip().upper(), element.tag >> 16, element.tag & 0xFF) in allowed:
            safe.append(element)
        else:
            unsafe.append(element)
    needed = {(e.tag >> 16, e.creator.strip().upper()) for e in safe}
    unsafe += [c for c in creators if (c.tag >> 16, c.value.strip().upper()) not in needed]
    if unsafe:
        groups = sorted({f"{e.tag >> 16:04X}" for e in unsafe})
        names = sorted({(e.value if e.is_private_creator else e.creator).strip() for e in unsafe} - {""})
        yield make_finding("PHI_DICOM_PRIVATE", "", count=len(unsafe), groups=", ".join(groups),
                           creators=names, claims_safe_private="113111" in claimed)
    if safe and claimed and "113111" not in claimed:
        yield make_finding("PHI_DICOM_CLAIM_CONTRADICTED", "", option=_option_label(BASIC_PROFILE),
                           reason=f"{len(safe)} private attributes (known safe ones) are still present without a claim "
                                  "of 113111 Retain Safe Private Option, and the Basic Profile removes all private "
                                  "attributes")


def _burned_in(audited: AuditedFile) -> Iterator[Finding]:
    if audited.burned_in == "YES":
        yield finding_at("PHI_DICOM_BURNED_IN", audited.path, keyword="BurnedInAnnotation (0028,0301)")
    if audited.visual_features == "YES":
        yield finding_at("PHI_DICOM_BURNED_IN", audited.path, keyword="RecognizableVisualFeatures (0028,0302)")


def _contradictions(audited: AuditedFile, claimed: frozenset[str]) -> Iterator[Finding]:
    temporal = audited.temporal
    if "113106" in claimed and "113107" in claimed:
        yield finding_at("PHI_DICOM_CLAIM_CONTRADICTED", audited.path, option=_option_label("113106"),
                         reason="the file also claims 113107 (modified dates); dates are either kept or modified")
    elif "113107" in claimed and temporal != "MODIFIED":
        yield finding_at("PHI_DICOM_CLAIM_CONTRADICTED", audited.path, option=_option_label("113107"),
                         reason="(0028,0303) Longitudinal Temporal Information Modified is "
                                + (f"{temporal[:16]!r}" if temporal else "missing") + ", not MODIFIED")
    elif "113106" in claimed and temporal == "MODIFIED":
        yield finding_at("PHI_DICOM_CLAIM_CONTRADICTED", audited.path, option=_option_label("113106"),
                         reason="(0028,0303) Longitudinal Temporal Information Modified says the dates were "
                                "MODIFIED, which keeping full dates rules out")
    if "113101" in claimed and audited.burned_in == "YES":
        yield finding_at("PHI_DICOM_CLAIM_CONTRADICTED", audited.path, option=_option_label("113101"),
                         reason="(0028,0301) Burned In Annotation is still YES")
