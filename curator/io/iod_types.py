"""Attribute Types per IOD (``schema/deid/iod_attribute_types.json``) and the one policy that turns a compound
PS3.15 action into the action that keeps a de-identified copy conformant.

Table E.1-1 leaves a choice for many attributes (Z, X/Z, X/D, Z/D, X/Z/D): "Z" itself means a zero-length value
*or* a dummy, and the choice is meant to follow the attribute's Type in the file's IOD. The table here, derived
from dicom3tools' module and IOD tables (the ones ``dciodvfy`` verifies against; see PROVENANCE.txt), holds the
Type of every such attribute per SOP class and position (the tags of the enclosing sequences, then its own).

``choose_action``: Type 1 and 1C get a dummy value (D), Type 2 and 2C an empty value (Z), Type 3 and attributes
the IOD does not list are removed (X) -- each only where the profile's action allows it, else the nearest
allowed one. A sequence (which has no dummy value) that is Type 1 and allows D is kept with its items
de-identified attribute by attribute; a Type 1C sequence is removed where X is allowed (its condition is
almost always "required if another attribute is absent", and the items name the institution or the person);
a Type 3 sequence is removed rather than left with no items, which the IOD forbids. For SOP classes the table
does not cover, each position takes the strictest Type any IOD of dicom3tools gives it ("*").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from curator.resources import schema_dir

__all__ = ["CHOICE_ACTIONS", "FALLBACK", "IodTypes", "choose_action", "iod_types"]

CHOICE_ACTIONS = frozenset({"Z", "X/Z", "X/D", "Z/D", "X/Z/D"})
FALLBACK = "*"


@dataclass(frozen=True)
class IodTypes:
    """SOP Class UID -> position ("GGGGEEEE" or "GGGGEEEE/GGGGEEEE/...") -> Type ("1", "1C", "2", "2C", "3")."""

    classes: Mapping[str, Mapping[str, str]]
    names: Mapping[str, str]
    fallback: Mapping[str, str]
    source: str = ""

    def covers(self, sop_class: str) -> bool:
        return sop_class in self.classes

    def type_of(self, sop_class: str, path: Iterable[int]) -> str | None:
        """The Type of the attribute at ``path`` (tags of the enclosing sequences, then its own) in the IOD of
        ``sop_class``; None when that IOD does not list it there."""
        key = "/".join(f"{tag:08X}" for tag in path)
        return self.classes.get(sop_class, self.fallback).get(key)


@cache
def iod_types() -> IodTypes:
    """The table, read once per process."""
    data = json.loads((schema_dir() / "deid" / "iod_attribute_types.json").read_text(encoding="utf-8"))
    classes = {uid: dict(entry["types"]) for uid, entry in data["sop_classes"].items()}
    names = {uid: str(entry["name"]) for uid, entry in data["sop_classes"].items()}
    return IodTypes(classes=classes, names=names, fallback=dict(data[FALLBACK]["types"]), source=str(data["source"]))


def choose_action(action: str, sop_class: str, path: Iterable[int], *, sequence: bool = False) -> str:
    """The action to apply for Table E.1-1 ``action`` at ``path`` in a file of ``sop_class``: the action itself
    when it leaves no choice, else one of "X", "Z", "D" chosen by the attribute's Type (see the module text).
    For a sequence, "D" means: keep it, with its items de-identified."""
    if action not in CHOICE_ACTIONS:
        return action
    allowed = set(action.split("/"))
    if "Z" in allowed and not sequence:
        allowed.add("D")  # Z is "zero length or a dummy value consistent with the VR"
    kind = iod_types().type_of(sop_class, path)
    if kind in ("1", "1C") and not (sequence and kind == "1C" and "X" in allowed):
        wanted = ("D", "Z", "X")
    elif kind in ("2", "2C"):
        wanted = ("Z", "D", "X")
    else:  # Type 3, a 1C sequence, or not in the IOD at this position
        wanted = ("X", "Z", "D")
    return next(choice for choice in wanted if choice in allowed)
