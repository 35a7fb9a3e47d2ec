"""The de-identification reference data in ``schema/deid/``, read into typed rules. No judgement here.

- ``confidentiality_profile_attributes.json``: DICOM PS3.15 2024b Table E.1-1 (621 rows, from
  innolitics/dicom-standard, MIT; see PROVENANCE.txt): per attribute, the Basic Profile action and the
  option columns (K keep, C clean).
- ``safe_private.yaml``: private attributes known to carry no identifying data (PS3.15 Table E.3.10-1).
- ``uid_roots.yaml``: UID roots of equipment vendors, whose instance UIDs embed the scanner's serial number.

Basic Profile actions (PS3.15 Table E.1-1a): X remove; Z zero length or a dummy; D a dummy (non-empty);
U a replacement UID, consistent within the set; compound actions (``X/Z``, ``X/D``, ``X/Z/D``, ``Z/D``) leave
the choice to the IOD's requirements; ``X/Z/U*`` is a sequence kept only with its instance UIDs replaced.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from curator.resources import schema_dir

__all__ = [
    "ACTIONS", "BASIC_PROFILE", "DEID_EDITION", "EXTRA_RULES", "OPTION_COLUMNS", "OPTION_NAMES", "DeidRule",
    "DeidTable", "SafePrivate", "UidRoot", "deid_table", "safe_private", "uid_roots",
]

DEID_EDITION = "2024b"   # the edition of PS3.15 the table was extracted from; recorded in every report
BASIC_PROFILE = "113100"  # CID 7050 code of the Basic Application Confidentiality Profile
ACTIONS = ("X", "Z", "D", "U", "X/Z", "X/D", "Z/D", "X/Z/D", "X/Z/U*")

# option column of Table E.1-1 -> CID 7050 code of the option it belongs to
OPTION_COLUMNS: dict[str, str] = {
    "cleanGraphOpt": "113103",
    "cleanStructContOpt": "113104",
    "cleanDescOpt": "113105",
    "rtnLongFullDatesOpt": "113106",
    "rtnLongModifDatesOpt": "113107",
    "rtnPatCharsOpt": "113108",
    "rtnDevIdOpt": "113109",
    "rtnUIDsOpt": "113110",
    "rtnSafePrivOpt": "113111",
    "rtnInstIdOpt": "113112",
}

# CID 7050 "De-identification Method" (coding scheme DCM)
OPTION_NAMES: dict[str, str] = {
    "113100": "Basic Application Confidentiality Profile",
    "113101": "Clean Pixel Data Option",
    "113102": "Clean Recognizable Visual Features Option",
    "113103": "Clean Graphics Option",
    "113104": "Clean Structured Content Option",
    "113105": "Clean Descriptors Option",
    "113106": "Retain Longitudinal Temporal Information Full Dates Option",
    "113107": "Retain Longitudinal Temporal Information Modified Dates Option",
    "113108": "Retain Patient Characteristics Option",
    "113109": "Retain Device Identity Option",
    "113110": "Retain UIDs Option",
    "113111": "Retain Safe Private Option",
    "113112": "Retain Institution Identity Option",
}

_TAG = re.compile(r"^\(([0-9A-FX]{4}),([0-9A-FX]{4})\)$")
_PRIVATE_ROW = "(GGGG,EEEE) WHERE GGGG IS ODD"


@dataclass(frozen=True)
class DeidRule:
    """One row of Table E.1-1."""

    name: str
    tag: str                        # as the table prints it: "(0010,0010)", "(60XX,3000)", the private-group row
    action: str                     # Basic Profile action, one of ACTIONS
    options: Mapping[str, str]      # CID 7050 option code -> "K" (keep) or "C" (clean)
    in_standard_iod: bool           # the table's "in Std. Comp. IOD" column
    keyword: str = ""               # pydicom keyword ("" for the pattern rows)
    source: str = "PS3.15"          # "curator" for EXTRA_RULES

    def option(self, claimed: Iterable[str]) -> str | None:
        """"K" when one of the ``claimed`` options keeps this attribute, else "C" when one cleans it, else None."""
        found = {self.options[code] for code in claimed if code in self.options}
        return "K" if "K" in found else ("C" if "C" in found else None)

    @property
    def label(self) -> str:
        return self.keyword or self.name


@dataclass(frozen=True)
class _Pattern:
    mask: int
    value: int
    rule: DeidRule


class DeidTable:
    """Table E.1-1 keyed by tag; the four pattern rows (curves, overlay data and comments, private groups)
    are matched by ``lookup`` too."""

    def __init__(self, rules: Iterable[DeidRule], edition: str = DEID_EDITION) -> None:
        self.edition = edition
        self.rules: tuple[DeidRule, ...] = tuple(rules)
        self.exact: dict[int, DeidRule] = {}
        self.patterns: list[_Pattern] = []
        self.private: DeidRule | None = None
        for rule in self.rules:
            if rule.tag == _PRIVATE_ROW:
                self.private = rule
                continue
            match = _TAG.match(rule.tag)
            if not match:
                raise ValueError(f"Table E.1-1 row {rule.name!r}: tag {rule.tag!r} is neither a tag nor a pattern")
            text = match.group(1) + match.group(2)
            if "X" in text:
                mask = int("".join("0" if c == "X" else "F" for c in text), 16)
                self.patterns.append(_Pattern(mask, int(text.replace("X", "0"), 16), rule))
            else:
                self.exact[int(text, 16)] = rule

    def lookup(self, tag: int) -> DeidRule | None:
        """The rule for ``tag`` (a 32-bit group/element number), or None when the table does not list it."""
        rule = self.exact.get(tag)
        if rule is not None:
            return rule
        if (tag >> 16) & 1:
            return self.private
        for pattern in self.patterns:
            if tag & pattern.mask == pattern.value:
                return pattern.rule
        return None

    def counts(self) -> dict[str, int]:
        """Rows of Table E.1-1 per Basic Profile action (curator's own extra rows not counted)."""
        return dict(Counter(rule.action for rule in self.rules if rule.source == "PS3.15"))

    def __len__(self) -> int:
        return len(self.rules)


def _deid_dir() -> Path:
    return schema_dir() / "deid"


def _rule(row: Mapping[str, Any]) -> DeidRule:
    action = str(row["basicProfile"])
    if action not in ACTIONS:
        raise ValueError(f"Table E.1-1 row {row.get('name')!r}: unknown action {action!r}")
    options = {OPTION_COLUMNS[key]: str(value) for key, value in row.items() if key in OPTION_COLUMNS}
    tag = str(row["tag"])
    keyword = ""
    if _TAG.match(tag) and "X" not in tag:
        from pydicom.datadict import keyword_for_tag  # here, not at import: validate without DICOM never loads pydicom

        keyword = keyword_for_tag(int(tag[1:5] + tag[6:10], 16)) or ""
    return DeidRule(name=" ".join(str(row["name"]).split()), tag=tag, action=action, options=options,
                    in_standard_iod=row.get("stdCompIOD") == "Y", keyword=keyword)


# Attributes Table E.1-1 does not list but that name a device or site: the AE titles and network addresses
# of the file meta information, and its private information (PS3.10 7.1); and the free text of overlay planes
# (label, description), which the anonymiser removes with the whole overlay group. curator removes them too.
EXTRA_RULES: tuple[DeidRule, ...] = tuple(
    DeidRule(name=name, tag=tag, action="X", options={}, in_standard_iod=False, keyword=keyword, source="curator")
    for tag, keyword, name in (
        ("(0002,0016)", "SourceApplicationEntityTitle", "Source Application Entity Title"),
        ("(0002,0017)", "SendingApplicationEntityTitle", "Sending Application Entity Title"),
        ("(0002,0018)", "ReceivingApplicationEntityTitle", "Receiving Application Entity Title"),
        ("(0002,0026)", "SourcePresentationAddress", "Source Presentation Address"),
        ("(0002,0027)", "SendingPresentationAddress", "Sending Presentation Address"),
        ("(0002,0028)", "ReceivingPresentationAddress", "Receiving Presentation Address"),
        ("(0002,0102)", "PrivateInformation", "Private Information"),
        ("(60XX,1500)", "", "Overlay Label"),
        ("(60XX,0022)", "", "Overlay Description"),
    ))


@cache
def deid_table() -> DeidTable:
    """Table E.1-1 (edition ``DEID_EDITION``) plus ``EXTRA_RULES``, read once per process."""
    rows = json.loads((_deid_dir() / "confidentiality_profile_attributes.json").read_text(encoding="utf-8"))
    if not isinstance(rows, list) or not rows:
        raise ValueError("schema/deid/confidentiality_profile_attributes.json holds no table rows")
    rules = [_rule(row) for row in rows]
    listed = {rule.tag for rule in rules}
    return DeidTable([*rules, *(rule for rule in EXTRA_RULES if rule.tag not in listed)])


@dataclass(frozen=True)
class SafePrivate:
    """A private attribute known to be safe: its creator, group and the low byte of its element number."""

    creator: str
    group: int
    element: int
    name: str


@cache
def safe_private() -> dict[tuple[str, int, int], SafePrivate]:
    """The safe-private allow-list keyed by (creator upper-cased and stripped, group, element low byte)."""
    data = yaml.safe_load((_deid_dir() / "safe_private.yaml").read_text(encoding="utf-8"))
    found: dict[tuple[str, int, int], SafePrivate] = {}
    for item in data["attributes"]:
        entry = SafePrivate(creator=str(item["creator"]), group=int(str(item["group"]), 16),
                            element=int(str(item["element"]), 16), name=str(item["name"]))
        if not entry.group & 1 or not 0 <= entry.element <= 0xFF:
            raise ValueError(f"safe_private.yaml: {item} is not a private attribute (odd group, element byte)")
        found[(entry.creator.strip().upper(), entry.group, entry.element)] = entry
    return found


@dataclass(frozen=True)
class UidRoot:
    root: str
    organisation: str


@cache
def uid_roots() -> tuple[UidRoot, ...]:
    """Known vendor and site UID roots, longest first (so the most specific root matches)."""
    data = yaml.safe_load((_deid_dir() / "uid_roots.yaml").read_text(encoding="utf-8"))
    roots = [UidRoot(root=str(item["root"]).rstrip("."), organisation=str(item["organisation"]))
             for item in data["roots"]]
    return tuple(sorted(roots, key=lambda r: -len(r.root)))
