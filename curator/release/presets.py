"""The publication forms of the ``cncb`` and ``dataverse`` pack presets: which files of a release travel
together, what the archives are called, and the checksum listing each platform ships beside them.

The data files are recognised by the release's profile (``schema/profiles``: its data patterns name the groups
``category``/``study_id``, ``case`` or ``patient``); everything else is one of the release's own files (README,
LICENSE, registry, manifests, metadata, figures). A *unit* is what must stay in one archive: a study with its
mask (mosmed), a case folder with its images and masks (slices), a patient folder (dicom). A *class* is a
top-level category of the release: the study's category (``CT-0`` .. ``CT-4``), or the label folder of a slices
case (``NCP``/``CP``/``Normal`` in ``<label>/<patient_id>/<scan_id>``).

``cncb`` (the China National Center for Bioinformation's COVID-19 CT set, ncov-ai.big.ac.cn; seed 004): parts
per class named ``<CLASS>-<n>.zip`` (n from 1), and per class an md5 list in CNCB's own shape, a flat JSON object
``{"<part file name>": "<md5 hex>"}`` (CNCB calls them ``filemd5.json``, ``CP.json``, ``Normal.json``; here
``<CLASS>.json``). The release's own files are a class of their own named by the parts' stem
(``<stem>-<n>.zip``, ``<stem>.json``), in parts of their own; data with no class (one-level slices cases, dicom
patients) follows them in that class, as CNCB's ``ct_lesion_seg.zip`` holds its images, masks and README.txt.
CNCB documents no size limit per part: ``--max-part-bytes`` sets one.

``dataverse`` (Harvard Dataverse, seed 003: the COVID19-CT-dataset is one archive per patient): one archive per
unit, at ``<class>/<study>.<fmt>`` (mosmed), ``<case>.<fmt>`` (slices) or ``<patient>.<fmt>`` (dicom), the
release's own files in ``<stem>-<n>.<fmt>``, and ``dataverse_files.json``, the shape of the native API's dataset
JSON (``GET /api/datasets/:persistentId/?persistentId=...``, guides.dataverse.org/en/latest/api/native-api.html
"Get JSON Representation of a Dataset"; field names as Dataverse prints them, JsonPrinter.json(FileMetadata) and
json(DataFile) in IQSS/dataverse): ``{"status": "OK", "data": {"latestVersion": {"files": [{"label": name,
"directoryLabel": folder (absent at the top), "dataFile": {"filename": name, "contentType": type, "filesize": n,
"md5": hex, "checksum": {"type": "MD5", "value": hex}}}]}}}``; a file's path is directoryLabel/label.
Dataverse's documented limits (guides.dataverse.org, installation/config.rst and user/dataset-management.rst):

- the largest file an installation takes is its ``:MaxFileUploadSizeInBytes`` (per store; no limit when unset;
  2,147,483,647 bytes through SWORD): pass it as ``--max-part-bytes`` and a unit that cannot fit is refused;
- an uploaded ``.zip`` may be unpacked into its files (depending on the installation's configuration) unless it
  holds more than ``:ZipUploadFilesLimit`` files (1,000 by default), when it is kept as is: so this preset writes
  ``tar.gz`` unless ``--format zip`` is asked for, and the archives then stay the files the listing names;
- folder names (directoryLabel) may hold only letters, digits, ``_``, ``-``, ``.`` and spaces; the portable names
  here keep to that.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from curator.models.profile import Profile

__all__ = ["Grouping", "Unit", "cncb_listing", "dataverse_listing", "group_files", "listing_name",
           "portable_component"]

DATAVERSE_LISTING = "dataverse_files.json"
# Dataverse's own types for these suffixes (src/main/java/META-INF/mime.types in IQSS/dataverse)
CONTENT_TYPES = {"zip": "application/zip", "tar.gz": "application/x-gzip"}
_COMPONENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


@dataclass
class Unit:
    """Files that travel in one archive: a study and its mask, a case folder, a patient folder."""

    path: str                      # the archive's path in OUT without suffix: "CT-1/study_0001", "CP/7/70"
    cls: str | None                # the class (category, label folder), None when the layout has none
    files: list[str] = field(default_factory=list)


@dataclass
class Grouping:
    own: list[str]                 # the release's own files (README, LICENSE, manifests, registry, metadata)
    units: list[Unit]              # sorted by path


def portable_component(name: str) -> bool:
    """A folder or file name that every platform and checksum tool takes as it is (no leading ``-`` or ``.``)."""
    return bool(_COMPONENT.fullmatch(name))


def _unit_of(groups: Mapping[str, str]) -> tuple[str, str | None] | None:
    """(unit key, class or None) from a data pattern's named groups."""
    if groups.get("study_id"):
        return f"study_{groups['study_id']}", groups.get("category")
    if groups.get("case"):
        case = groups["case"]
        return case, case.split("/")[0] if "/" in case else None
    if groups.get("patient"):
        return groups["patient"], None
    return None


def group_files(files: Sequence[str], profile: Profile | None) -> Grouping:
    """Split the release's files into its own files and data units, by the profile's data patterns.

    Raises ValueError when one study sits in two categories (the release contradicts itself).
    """
    own: list[str] = []
    found: dict[str, Unit] = {}
    for rel in sorted(files):
        match = None
        for pattern in profile.data_files if profile else ():
            hit = pattern.regex.match(rel)
            if hit:
                match = _unit_of(hit.groupdict())
                break
        if match is None:
            own.append(rel)
            continue
        key, cls = match
        unit = found.setdefault(key, Unit(path=key, cls=None))
        unit.files.append(rel)
        if cls is not None and unit.cls is not None and cls != unit.cls:
            raise ValueError(f"{key} is in two categories, {unit.cls} and {cls}")
        unit.cls = unit.cls or cls
    for key, unit in found.items():
        if key.startswith("study_") and unit.cls:     # a study's archive sits in its category's folder
            unit.path = f"{unit.cls}/{key}"
    return Grouping(own, sorted(found.values(), key=lambda unit: unit.path))


def listing_name(cls: str) -> str:
    """The md5 list of a class in the cncb form."""
    return f"{cls}.json"


def cncb_listing(rows: Sequence[tuple[str, str]]) -> str:
    """CNCB's md5 list of one class: a flat JSON object {part file name: md5 hex}, in part order."""
    return json.dumps(dict(rows), indent=2) + "\n"


def dataverse_listing(rows: Sequence[tuple[str, int, str]], fmt: str) -> str:
    """``dataverse_files.json`` from (path in OUT, bytes, md5 hex) of each archive, in the native API's shape."""
    files = []
    for path, size, md5 in rows:
        folder, _, label = path.rpartition("/")
        entry: dict[str, object] = {"label": label}
        if folder:
            entry["directoryLabel"] = folder
        entry["dataFile"] = {"filename": label, "contentType": CONTENT_TYPES[fmt], "filesize": size, "md5": md5,
                             "checksum": {"type": "MD5", "value": md5}}
        files.append(entry)
    return json.dumps({"status": "OK", "data": {"latestVersion": {"files": files}}}, indent=2) + "\n"
