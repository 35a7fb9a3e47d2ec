"""Units of ingest work: one archive, or the loose DICOM files of one folder, turned into NIfTI volumes.

A unit is what one worker process handles from start to end: read every member once (hashing it for the
provenance), judge each header against the rules, keep the bytes of the images that pass, then per chosen series
anonymise the datasets in memory, convert them and write the volume into the unit's staging folder. Nothing of
the unit reaches the output until the caller moves the staged files into place, so a unit that fails half-way
(a hostile archive, a missing slice) leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset

from curator.anonymise.dicom import FilePlan, SeriesMemo, anonymise_dataset, date_offset, pseudonym
from curator.escaping import display as display  # re-exported: ingest.pipeline imports it from here
from curator.ingest.convert import ConversionError, Volume, convert_series, write_volume
from curator.ingest.seg import SegError, is_segmentation, mask_from_seg, referenced_instances, referenced_series
from curator.ingest.select import ImageHeader, choose, image_excluded, image_header
from curator.io.archive_read import ArchiveProblem, ArchiveToolMissing, Limits, archive_kind, iter_members
from curator.io.dicom import BARE, HEAD_BYTES, PART10, dicom_head, dicom_kind, head_of
from curator.io.hashing import sha256_of
from curator.io.junk import is_junk_path
from curator.io.nifti_writer import write_nifti
from curator.io.regular import open_regular
from curator.models.ingest import IngestRules
from curator.outputs import contains, output_error, scratch

ARCHIVE_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tbz2", ".txz", ".tar", ".zip", ".7z", ".rar")


@dataclass(frozen=True)
class Unit:
    """One archive, or loose files under one folder; ``label`` names it (archive name without its suffix)."""

    label: str
    archive: Path | None = None
    files: tuple[tuple[str, Path], ...] = ()
    folder: Path | None = None          # where loose files come from (for the key file)

    def stat_fingerprint(self) -> str:
        """Changes whenever a file of the unit is replaced or touched (size, mtime), without reading it."""
        entries = [("", self.archive)] if self.archive is not None else list(self.files)
        digest = hashlib.sha256()
        for name, path in entries:
            info = path.stat()   # ctime too: a copy that keeps size and mtime (cp -p, rsync -t) still changes it
            digest.update(f"{name}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_ctime_ns}\0{info.st_ino}\n"
                          .encode("utf-8", "surrogateescape"))
        return digest.hexdigest()


def archive_label(name: str) -> str:
    lowered = name.lower()
    for suffix in ARCHIVE_SUFFIXES:
        if lowered.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _junk(name: str) -> bool:
    return is_junk_path(name)


@dataclass
class Discovery:
    units: list[Unit] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)   # inputs that cannot be used (usage errors)
    skipped: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)   # (code, path, context) findings




def discover(inputs: Sequence[Path]) -> Discovery:
    """The units of the inputs: each archive (found by its bytes) is one; loose files group by the first folder
    below the input folder (one folder per patient or study, as the public CT collections ship them).

    Two units with one name (two folders called ``case01``, a folder and its archive, the same input twice) or an
    input inside another would mix or repeat patients: they are usage errors. Links are never followed; each one,
    and each empty input folder, is reported.
    """
    found = Discovery()
    units: list[Unit] = []
    resolved = [(given, given.resolve()) for given in inputs if given.exists() and not given.is_symlink()]
    for given, real in resolved:
        for other, other_real in resolved:
            if real != other_real and contains(other_real, real):
                found.problems.append(f"the input {display(str(given))} lies inside the input {display(str(other))}; "
                                      "give each folder once")
    for given in inputs:
        if given.is_symlink() or not given.exists():
            found.problems.append(f"{display(str(given))}: "
                                  f"{'is a symbolic link' if given.is_symlink() else 'does not exist'}")
            continue
        if given.is_file():
            if archive_kind(given) is not None:
                units.append(Unit(label=archive_label(given.name), archive=given))
            else:
                units.append(Unit(label=given.stem or given.name, files=((given.name, given),), folder=given.parent))
            continue
        groups: dict[str, list[tuple[str, Path]]] = {}
        seen = 0
        for folder, dirs, files in os.walk(given):
            dirs.sort()
            base = Path(folder)
            for name in sorted([*files, *dirs]):
                path = base / name
                if path.is_symlink():
                    rel = path.relative_to(given).as_posix()
                    found.skipped.append(("FILE_UNSAFE", f"{given.name}/{rel}", {"kind": "symbolic link"}))
            for name in sorted(files):
                path = base / name
                rel = path.relative_to(given).as_posix()
                if _junk(rel) or path.is_symlink() or not path.is_file():
                    continue
                seen += 1
                if archive_kind(path) is not None:
                    units.append(Unit(label=archive_label(rel), archive=path))
                    continue
                head, _, rest = rel.partition("/")
                groups.setdefault(head if rest else "", []).append((rel, path))
        if not seen:
            found.skipped.append(("INGEST_NO_SERIES", given.name or str(given), {"reason": "the folder holds no file"}))
        units.extend(_group_loose(given, groups))
    labels: dict[str, int] = {}
    for unit in units:
        labels[unit.label] = labels.get(unit.label, 0) + 1
    repeated = sorted(display(label) for label, count in labels.items() if count > 1)
    if repeated:
        found.problems.append(f"several inputs are named {', '.join(repeated)} (e.g. a folder and an archive of it, "
                              "two folders of one name, or one input given twice); give each study's input once, "
                              "under a name of its own")
    found.units = sorted(units, key=lambda u: u.label)
    return found


def _study_of(files: list[tuple[str, Path]], tries: int = 20) -> str | None:
    """The StudyInstanceUID of the first of ``files`` that is DICOM (a header peek: no pixel data is read)."""
    for _, path in files[:tries]:
        if dicom_kind(path) != PART10:   # judged from the first bytes: a large file that is not DICOM is never parsed
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = dcmread(path, stop_before_pixels=True, specific_tags=["StudyInstanceUID", "PatientID"])
        except Exception:  # not DICOM, or broken: look at the next file
            continue
        study = str(ds.get("StudyInstanceUID") or "")
        return study or f"patient\0{ds.get('PatientID') or ''}"   # exports that empty the UIDs: the patient
    return None


def _group_loose(given: Path, groups: dict[str, list[tuple[str, Path]]]) -> list[Unit]:
    """One unit per sub-folder of ``given`` when they hold different studies (a folder of patients), else one unit
    for ``given`` (a study folder whose series sit in sub-folders)."""
    if not groups:
        return []
    name = given.resolve().name
    studies = {_study_of(files) for head, files in groups.items() if head}
    split = len(studies - {None}) > 1
    units: list[Unit] = []
    whole: list[tuple[str, Path]] = []
    for head, files in sorted(groups.items()):
        if split and head:
            units.append(Unit(label=head, files=tuple((rel.partition("/")[2], path) for rel, path in files),
                              folder=given / head))
        else:
            whole.extend(files)
    if whole:
        units.append(Unit(label=name, files=tuple(whole), folder=given))
    return units


@dataclass(frozen=True)
class UnitTask:
    """Everything one worker needs (plain data: it crosses process boundaries)."""

    unit: Unit
    unit_id: str
    rules: IngestRules
    key: bytes
    pseudonyms: Mapping[str, str] | None
    staging: Path
    limits: Limits = field(default_factory=Limits)


@dataclass
class StudyOutput:
    volume: str                 # relative to OUT
    sha256: str
    pseudonym: str
    sex: str | None
    age: int | None
    shape: tuple[int, ...]
    spacing: tuple[float, ...]
    series: dict[str, Any]      # number, images, kept, rule: what the provenance says of the source series
    notes: tuple[str, ...]
    identity: dict[str, str]    # patient_id, study_uid, accession: for the category map and the key file only
    mask: str | None = None     # from DICOM SEG objects in the input, relative to OUT
    mask_sha256: str | None = None
    mask_sources: list[str] = field(default_factory=list)   # the SEG members placed (names inside the input)


@dataclass
class UnitResult:
    unit_id: str
    label: str
    inputs: list[dict[str, Any]] = field(default_factory=list)     # {"sha256", "bytes"} per file read
    studies: list[StudyOutput] = field(default_factory=list)
    problems: list[tuple[str, dict[str, Any]]] = field(default_factory=list)   # (code, context)
    not_dicom: int = 0
    images_read: int = 0


def _may_be_dicom(name: str, head: bytes) -> bool:
    """Judged from the first bytes alone (io.dicom.dicom_head): a Part 10 file, or a bare data set under a DICOM
    name or a name without a suffix (IM00001). Anything else is never parsed, however large."""
    kind = dicom_head(head)
    if kind == PART10:
        return True
    return kind == BARE and (name.lower().endswith((".dcm", ".ima")) or "." not in name.rsplit("/", 1)[-1])


def _members(unit: Unit, limits: Limits, spill: Path) -> Iterator[tuple[str, bytes | Path | None, int]]:
    """(name, content, size) of each file of the unit: the content in memory or in a file (a loose file itself, or
    a large member spilled into ``spill``), None when its first bytes say it is not DICOM (then it is not kept)."""
    if unit.archive is not None:
        for member in iter_members(unit.archive, limits, take=_may_be_dicom, spill=spill):
            if not _junk(member.name):
                yield member.name, (member.spilled or member.data) if member.kept else None, member.size
        return
    for name, path in unit.files:
        yield name, path if _may_be_dicom(name, head_of(path, HEAD_BYTES)) else None, path.stat().st_size


def _source(content: bytes | Path) -> io.BytesIO | str:
    return io.BytesIO(content) if isinstance(content, bytes) else str(content)


def _header(name: str, data: bytes | Path) -> tuple[ImageHeader, bool] | None:
    """The header of a DICOM file and whether it is a segmentation, or None for anything else (a CSV, a .npy, a
    broken file)."""
    try:
        with open_regular(data, "rb") if isinstance(data, Path) else io.BytesIO(data) as handle:
            marker = dicom_head(handle.read(132)) == PART10
            handle.seek(0)
            ds = dcmread(handle, stop_before_pixels=True, force=not marker)
        if "SOPClassUID" not in ds and "ImagePositionPatient" not in ds:
            return None
        return image_header(name, ds), is_segmentation(ds)
    except Exception:  # the boundary: a hostile header (unknown VR, cut element, absurd value) is not an image
        return None


def _digest(key: bytes, purpose: str, value: str, size: int = 10) -> str:
    return hmac.new(key, f"{purpose}\0{value}".encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:size]


def study_key(key: bytes, label: str, study_uid: str, patient_id: str = "") -> str:
    """A short keyed name for a study: the same under the same key, nothing of the UID without it."""
    return _digest(key, "study", study_uid or f"input\0{label}\0{patient_id}")


def _anonymised(data: bytes | Path, header: ImageHeader, task: UnitTask, alias: str, offset: int,
                memo: SeriesMemo) -> Dataset:
    """The image read and anonymised in memory; ``memo``: one per series (its images share most header bytes)."""
    ds = dcmread(io.BytesIO(data if isinstance(data, bytes) else data.read_bytes()), force=True)
    plan = FilePlan(source=Path(header.name), target=Path(header.name), key=task.key, pseudonym=alias,
                    offset_days=offset, name=header.name,
                    retain_patient_characteristics=task.rules.anonymisation.retain_patient_characteristics)
    anonymise_dataset(ds, plan, memo)
    return ds


def process_unit(task: UnitTask) -> UnitResult:
    """Read, select, anonymise, convert and stage one unit. Problems become coded entries, never exceptions."""
    with warnings.catch_warnings():  # pydicom warns about every odd value; what matters is reported
        warnings.simplefilter("ignore")
        try:
            return _process(task)
        except ArchiveProblem as problem:
            result = UnitResult(task.unit_id, task.unit.label)
            result.problems.append((problem.code, {"member": problem.member, "reason": problem.message,
                                                   **problem.context}))
            return result
        except ArchiveToolMissing as missing:
            result = UnitResult(task.unit_id, task.unit.label)
            result.problems.append(("INGEST_INPUT_UNREADABLE", {"reason": str(missing)}))
            return result
        except OSError as error:
            found = output_error(error, [task.staging])
            if found is not None:   # a full or read-only OUT is not the input's fault: the run stops (exit 3)
                raise found from error
            result = UnitResult(task.unit_id, task.unit.label)
            result.problems.append(("INGEST_INPUT_UNREADABLE", {"reason": error.strerror or str(error)}))
            return result
        except Exception as error:  # the boundary: whatever a hostile input does is reported, the run goes on
            result = UnitResult(task.unit_id, task.unit.label)
            reason = " ".join(str(error).split())[:300] or type(error).__name__
            result.problems.append(("INGEST_INPUT_UNREADABLE", {"reason": f"{type(error).__name__}: {reason}"}))
            return result


def _process(task: UnitTask) -> UnitResult:
    # large archive members are spilled here (a private folder, mode 0700), removed with the unit's work
    with scratch("curator-ingest-") as spill_folder:
        return _process_in(task, str(spill_folder))


def _process_in(task: UnitTask, spill_folder: str) -> UnitResult:
    unit, rules = task.unit, task.rules
    result = UnitResult(task.unit_id, unit.label)
    headers: list[ImageHeader] = []
    # bytes of the images that pass the per-image rules; loose files are only named, and read again per series, so a
    # folder of many studies needs the memory of one series, not of all
    payloads: dict[str, bytes | Path] = {}
    on_disk = dict(unit.files)
    segmentations: dict[str, bytes | Path] = {}
    spill = Path(spill_folder)
    for name, data, size in _members(unit, task.limits, spill):
        if unit.archive is None:   # a loose file is hashed as it is streamed, never read whole into memory
            result.inputs.append({"sha256": sha256_of(on_disk[name]), "bytes": size})
        found = _header(name, data) if data is not None else None
        if found is None or data is None:
            result.not_dicom += 1
            continue
        header, segmentation = found
        result.images_read += 1
        if segmentation:   # a DICOM SEG: a mask for a series of this unit, placed once that series is converted
            segmentations[name] = data
            continue
        headers.append(header)
        if image_excluded(header, rules) is None and (header.frames > 1 or rules.instances.keeps(header.instance)):
            payloads[name] = on_disk.get(name) or data
    if unit.archive is not None:
        result.inputs.append({"sha256": sha256_of(unit.archive), "bytes": unit.archive.stat().st_size})
    if not headers:
        result.problems.append(("INGEST_NO_SERIES", {"reason": "no DICOM image in it"}))
        return result
    for choice in choose(headers, rules):
        if not choice.chosen:
            reasons = "; ".join(f"{series.label()}: {why}" for series, why in choice.left_out)
            folder = _folder_of([h.name for series, _ in choice.left_out for h in series.images])
            result.problems.append(("INGEST_NO_SERIES", {"reason": reasons, **({"folder": folder} if folder else {})}))
            continue
        for index, series in enumerate(choice.chosen):
            first = series.first
            alias = (task.pseudonyms or {}).get(first.patient_id) or pseudonym(task.key, first.patient_id or unit.label)
            offset = date_offset(task.key, first.patient_id or unit.label)
            name = study_key(task.key, unit.label, choice.study_uid, choice.patient_id)
            if len(choice.chosen) > 1:
                name += f"_{index + 1}"
            described = {"number": series.series_number, "images": series.frames,
                         "kept": sum(h.frames for h in series.kept), "instance_rule": rules.instances.describe()}
            try:
                memo = SeriesMemo()
                datasets = [_anonymised(payloads[h.name], h, task, alias, offset, memo) for h in series.kept]
                volume = convert_series(datasets, tilt=rules.conversion.tilt, uneven=rules.conversion.uneven)
            except ConversionError as error:
                reason = str(error).rstrip(".")   # the catalogue's message ends the sentence
                result.problems.append(("INGEST_SERIES_REFUSED", {"series": series.label(), "reason": reason}))
                continue
            except Exception as error:  # a hostile file may break the reader anywhere: the boundary
                reason = " ".join(str(error).split()) or type(error).__name__
                result.problems.append(("INGEST_SERIES_REFUSED", {"series": series.label(), "reason": reason}))
                continue
            study = _stage(task, volume, f"volumes/{alias}/{name}.nii.gz", alias, first, described)
            _attach_segmentations(task, result, study, volume, series.series_uid,
                                  {h.sop_uid for h in series.images if h.sop_uid}, segmentations)
            result.studies.append(study)
        for series, why in choice.left_out:
            result.problems.append(("INGEST_SERIES_LEFT_OUT", {"series": series.label(), "reason": why}))
    used = {n for study in result.studies for n in study.mask_sources}
    for name in sorted(set(segmentations) - used):
        result.problems.append(("INGEST_MASK_INVALID", {
            "mask": name, "volume": "any volume", "reason": "the segmentation references no series that was "
            "converted (its series was left out or refused, or its references do not match any image)"}))
    return result


def _folder_of(names: Sequence[str]) -> str:
    """The sub-folder of the input that holds all of ``names`` ("" when they lie at its top or apart)."""
    folders = {name.rpartition("/")[0] for name in names}
    if not folders or "" in folders:
        return ""
    return os.path.commonpath(sorted(folders))


def _attach_segmentations(task: UnitTask, result: UnitResult, study: StudyOutput, volume: Volume, series_uid: str,
                          instances: set[str], segmentations: Mapping[str, bytes | Path]) -> None:
    """Place every DICOM SEG that references this series (by SeriesInstanceUID, or by the SOP instances of its
    images: some exports empty the series UIDs) onto the converted volume; several are merged."""
    merged: np.ndarray | None = None
    notes: list[str] = []
    for number, name in enumerate(sorted(segmentations), start=1):
        try:
            ds = dcmread(_source(segmentations[name]), force=True)
            if not (series_uid and series_uid in referenced_series(ds)) and not referenced_instances(ds) & instances:
                continue
            mask = mask_from_seg(ds, volume.affine, tuple(int(n) for n in volume.data.shape))  # type: ignore[arg-type]
        except Exception as error:  # SegError, or whatever a hostile SEG does to the reader: the boundary
            study.mask_sources.append(name)
            reason = str(error) if isinstance(error, SegError) else f"{type(error).__name__}: {error}"
            result.problems.append(("INGEST_MASK_INVALID", {"mask": name, "volume": study.volume,
                                                            "reason": " ".join(reason.split())[:300]}))
            continue
        study.mask_sources.append(name)
        merged = mask.data.copy() if merged is None else np.maximum(merged, mask.data)
        # the notes go into provenance.json: the SEG is named by its number, never by its file name
        notes.extend(f"segmentation {number}: {note}" for note in mask.notes)
    if merged is None:
        return
    rel = study.volume.replace("volumes/", "masks/", 1).replace(".nii.gz", "_mask.nii.gz")
    target = task.staging / rel
    write_nifti(target, merged, volume.affine)
    study.mask = rel
    study.mask_sha256 = sha256_of(target)
    study.notes = (*study.notes, *notes)


def _stage(task: UnitTask, volume: Volume, rel: str, alias: str, first: ImageHeader,
           described: dict[str, Any]) -> StudyOutput:
    target = task.staging / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    write_volume(target, volume)
    return StudyOutput(
        volume=rel, sha256=sha256_of(target), pseudonym=alias, sex=first.sex, age=first.age,
        shape=tuple(int(n) for n in volume.data.shape), spacing=tuple(round(float(s), 6) for s in volume.spacing),
        series=described, notes=tuple(volume.notes),
        identity={"patient_id": first.patient_id, "study_uid": first.study_uid, "accession": first.accession})
