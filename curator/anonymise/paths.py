"""The names of the anonymised copy: every path component that carries a patient's identifiers (the matcher of
``curator.checks.phi_paths``, the one validate uses for PHI_PATH) is renamed with a keyed pseudonym; UIDs inside
the other names are remapped like the UIDs in the files.

A renamed component becomes ``2.25.<decimal>`` (the UID scheme: a version 4 UUID made from
HMAC-SHA256(key, original name)), plus the file's extension (``.dcm``, ``.nii.gz``; none for folders, and none
when the extension itself carries the identifier). The same name gives the same pseudonym wherever it appears
and in every run with the same key. A DICOM file's path is judged against its own header; a file that is not
DICOM (copied with ``--copy-other``) against the DICOM files under its folder. Within one folder of the copy no
two names are equal, even ignoring case: a pseudonym that would meet another name takes the next one of its
sequence.

The original-to-new map (one row per renamed component, with the attributes it carried) names the patients: it
is written beside OUT, never inside it, readable by its owner only, like ``curator ingest``'s key map.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import posixpath
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom.multival import MultiValue

from curator.checks.phi_paths import ATTRIBUTES, Identity, match_component

__all__ = ["NAME_MAP_COLUMNS", "Renamed", "default_name_map", "identity_of", "name_map_bytes", "path_pseudonym",
           "plan_names"]

NAME_MAP_COLUMNS = ("original", "renamed", "attributes")
IDENTITY_TAGS = ("PatientID", "PatientName", "OtherPatientIDs", "OtherPatientIDsSequence", "OtherPatientNames",
                 "AccessionNumber", "PatientBirthDate")
_DOUBLE_SUFFIXES = (".nii.gz", ".tar.gz", ".dcm.gz")
_SUFFIX = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,4}$")


@dataclass(frozen=True)
class Renamed:
    original: str                  # the component's path in SRC (folders: the folder; files: the file)
    renamed: str                   # ... and in OUT
    attributes: tuple[str, ...]    # what it carried (PatientID, PatientName, ...)


def identity_of(ds: Any) -> Identity:
    """The identifying values of a pydicom data set read with (at least) ``IDENTITY_TAGS``; a value that cannot
    be decoded is left out (the audit of the copy reports what the file holds)."""
    pairs: list[tuple[str, str]] = []
    for keyword in IDENTITY_TAGS:
        try:
            value = ds.get(keyword)
            if keyword == "OtherPatientIDsSequence":
                pairs.extend((keyword, str(item.get("PatientID") or "")) for item in value or [])
            elif value is not None:
                many = isinstance(value, list | tuple | MultiValue)
                pairs.extend((keyword, str(v)) for v in (value if many else [value]))
        except Exception:
            continue
    return Identity.of(pairs)


def path_pseudonym(key: bytes, stem: str, attempt: int = 0) -> str:
    """``2.25.<decimal>``: a UUID from HMAC-SHA256(key, stem); ``attempt`` > 0 gives the next of its sequence."""
    message = f"path\0{stem}" + (f"\0{attempt}" if attempt else "")
    digest = hmac.new(key, message.encode("utf-8", "surrogateescape"), hashlib.sha256).digest()
    return f"2.25.{uuid.UUID(bytes=digest[:16], version=4).int}"


def _split(name: str, is_file: bool, identities: Iterable[Identity]) -> tuple[str, str]:
    """(stem, extension) of a name; the extension is kept only when it carries no identifier."""
    if not is_file:
        return name, ""
    lower = name.lower()
    suffix = next((s for s in _DOUBLE_SUFFIXES if lower.endswith(s) and len(name) > len(s)), "")
    if not suffix:
        match = _SUFFIX.search(name)
        suffix = match.group() if match and match.start() > 0 else ""
    if suffix and any(match_component(suffix, identity) for identity in identities):
        return name, ""
    return name[: len(name) - len(suffix)], name[len(name) - len(suffix):]


def plan_names(paths: Iterable[str], identities: Mapping[str, Identity], key: bytes,
               pseudonym: Callable[[bytes, str, int], str] = path_pseudonym) -> tuple[dict[str, str], list[Renamed]]:
    """The path in OUT of each file of ``paths`` (POSIX, relative to SRC), and the components renamed.

    ``identities`` holds the DICOM files' identities; any other path is judged against the identities of the
    DICOM files under its folder.
    """
    paths = sorted(set(paths))
    under: dict[str, set[Identity]] = {}
    for path, identity in identities.items():
        if identity:
            folder = posixpath.dirname(path)
            while True:
                under.setdefault(folder, set()).add(identity)
                if not folder:
                    break
                folder = posixpath.dirname(folder)
    flagged: dict[str, list[str]] = {}     # component path -> attributes
    used: dict[str, set[Identity]] = {}    # component path -> identities it was judged against
    children: dict[str, set[str]] = {}     # folder -> names in it
    files = set(paths)
    for path in paths:
        own = identities.get(path)
        judged = {own} if own else under.get(posixpath.dirname(path), set())
        parts = path.split("/")
        for index, component in enumerate(parts):
            prefix = "/".join(parts[: index + 1])
            children.setdefault("/".join(parts[:index]), set()).add(component)
            for identity in sorted(judged, key=repr):
                found = match_component(component, identity)
                if found:
                    attributes = flagged.setdefault(prefix, [])
                    attributes.extend(a for a in found if a not in attributes)
                    used.setdefault(prefix, set()).add(identity)
    from curator.anonymise import mirrored  # UIDs inside the other names: remapped like the UIDs in the files

    new_name: dict[str, str] = {}
    for folder in sorted(children):
        names = sorted(children[folder])
        taken = {mirrored(n, key).casefold() for n in names if _join(folder, n) not in flagged}
        for name in names:
            prefix = _join(folder, name)
            if prefix not in flagged:
                new_name[prefix] = mirrored(name, key)
                continue
            stem, suffix = _split(name, prefix in files, used[prefix])
            attempt = 0
            while (candidate := pseudonym(key, stem, attempt) + suffix).casefold() in taken:
                attempt += 1
            taken.add(candidate.casefold())
            new_name[prefix] = candidate
    target = {}
    for path in paths:
        parts = path.split("/")
        target[path] = "/".join(new_name["/".join(parts[: i + 1])] for i in range(len(parts)))
    renamed = [Renamed(prefix, "/".join(new_name["/".join(prefix.split("/")[: i + 1])]
                                        for i in range(prefix.count("/") + 1)),
                       tuple(a for a in ATTRIBUTES if a in attributes))
               for prefix, attributes in sorted(flagged.items())]
    return target, renamed


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def name_map_bytes(renamed: Iterable[Renamed]) -> bytes:
    """The original-to-new map as CSV (UTF-8, a header row)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(NAME_MAP_COLUMNS)
    for row in renamed:
        writer.writerow([row.original, row.renamed, " ".join(row.attributes)])
    return buffer.getvalue().encode("utf-8", "surrogateescape")


def default_name_map(out: Path) -> Path:
    """Where the map goes unless given: ``OUT.namemap.csv`` beside OUT."""
    resolved = out.resolve()
    return resolved.parent / f"{resolved.name}.namemap.csv"
