"""``curator ingest INPUT... OUT``: raw DICOM studies into a build source (studies.csv + NIfTI volumes).

The MosMed pipeline made repeatable: pick each study's series by rules, keep every Nth image if asked,
anonymise the datasets in memory (PS3.15 Basic Profile, the same anonymiser as ``curator anonymise``), convert
to NIfTI, gzip deterministically, and write the studies table with category, sex and age. OUT gets:

- ``volumes/<pseudonym>/<study key>.nii.gz`` (and ``masks/...`` for masks given alongside);
- ``studies.csv`` for ``curator build``, and ``dataset.yaml`` when a card is given;
- ``provenance.json``: the rules, the tool and library versions, every input by SHA-256 and size, and per study
  the source series (images, kept), the output's SHA-256 and the conversion notes. No identifier, no input name;
- ``.ingest/<unit>.json``: what each unit produced, written as it finishes, so a rerun (or a run after an
  interruption) skips units already done and still intact.

The key file (``--key-map``, outside OUT) maps each pseudonym back to PatientID, StudyInstanceUID, accession
and the input's path; it is the only place those are written.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import hmac
import io
import json
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curator import __version__
from curator.anonymise import key_file_exposure
from curator.catalogue import make_finding
from curator.errors import OptionsError, RunError
from curator.executor import Progress, iter_tasks
from curator.ingest.categories import CategoryMap
from curator.ingest.units import StudyOutput, Unit, UnitResult, UnitTask, discover, display, process_unit
from curator.io.archive_read import Limits
from curator.io.deid_table import DEID_EDITION
from curator.io.hashing import sha256_of
from curator.models.findings import Finding, Report
from curator.models.ingest import IngestRules
from curator.outputs import FILE_MODE, PRIVATE_MODE, atomic_write, contains, lock, move, overlap, writing
from curator.report_closing import ingest_report

KEPT_PROBLEMS = frozenset({"INGEST_SERIES_LEFT_OUT"})   # a unit with only these is done; any other: do it again
STATE = ".ingest"
KEY_CHECK = "key-check"   # in STATE: the key's fingerprint, written before anything else
STAGING = ".ingest-staging"
KEY_MAP_COLUMNS = ("unit", "input", "pseudonym", "patient_id", "study_uid", "accession", "volume")


@dataclass(frozen=True)
class IngestOptions:
    key: bytes
    key_map: Path
    rules: IngestRules = field(default_factory=IngestRules)
    categories: CategoryMap = field(default_factory=CategoryMap)
    pseudonyms: Mapping[str, str] | None = None
    card: Path | None = None
    jobs: int | None = None
    limits: Limits = field(default_factory=Limits)
    progress: Progress | None = field(default=None, compare=False)
    key_file: Path | None = None                 # the secret key's file: never inside OUT
    own_files: tuple[Path, ...] = ()             # the map, categories, rules, card: never overwritten


_PSEUDONYM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _check_places(inputs: Sequence[Path], out: Path, options: IngestOptions) -> None:
    for given in inputs:
        if overlap(out, [given]) is not None:
            raise OptionsError(f"OUT ({out}) and the input {given} overlap; write the output elsewhere")
    key_map = options.key_map
    if contains(out, key_map):
        raise OptionsError(f"the key map {key_map} would be inside OUT: it maps pseudonyms back to patients and must "
                           "stay outside what is published")
    for given in inputs:
        if contains(given, key_map):
            raise OptionsError(f"the key map {key_map} would be written into the input {given}; keep it beside OUT")
    for own in (*options.own_files, *([options.key_file] if options.key_file else [])):
        if own.resolve() == key_map.resolve():
            raise OptionsError(f"the key map {key_map} is also given as {own.name}: writing it would destroy that "
                               "file; name another --key-map")
    if options.key_file is not None and contains(out, options.key_file):
        raise OptionsError(f"the secret key file {options.key_file} lies inside OUT, which is meant to be published; "
                           "move it outside")
    if out.exists() and not out.is_dir():
        raise OptionsError(f"OUT ({out}) exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / STATE).is_dir():
        raise OptionsError(f"OUT ({out}) is not empty and was not made by curator ingest; give a new folder")
    bad = sorted(alias for alias in (options.pseudonyms or {}).values() if not _PSEUDONYM.match(alias))
    if bad:
        raise OptionsError(f"pseudonym(s) {', '.join(repr(b) for b in bad[:5])} in --map: a pseudonym names a folder "
                           "of OUT, so it must be 1 to 64 of A-Z a-z 0-9 . _ - and start with a letter or digit")


def _keyed(key: bytes, purpose: str, value: str, size: int = 16) -> str:
    return hmac.new(key, f"{purpose}\0{value}".encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:size]


def _key_check(key: bytes) -> str:
    """The key's fingerprint (an HMAC made with the key, which reveals nothing of it): OUT records it before its
    first output, so a rerun with another key is refused instead of mixing two keys' pseudonyms."""
    return _keyed(key, "key-check", "curator", 16)


def _write_atomic(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Write through a temporary file created with ``mode`` from the start (the key map is never readable by
    others, not even for a moment), then rename it into place (curator.outputs)."""
    atomic_write(path, data, mode=mode, durable=True)


def _sha256(path: Path) -> str | None:
    try:
        return sha256_of(path)
    except OSError:
        return None


def _well_formed(record: object) -> bool:
    """A state record as this version writes it; anything else only means the unit is done again."""
    if not isinstance(record, dict) or not isinstance(record.get("unit"), str):
        return False
    studies, problems = record.get("studies"), record.get("problems")
    if not isinstance(studies, list) or not isinstance(problems, list):
        return False
    for study in studies:
        if not isinstance(study, dict) or not all(isinstance(study.get(k), str) for k in ("volume", "sha256",
                                                                                           "pseudonym")):
            return False
        if not isinstance(study.get("series", {}), dict) or not isinstance(study.get("notes", []), list):
            return False
        if any(not isinstance(study.get(k), str | None) for k in ("mask", "mask_sha256")):
            return False
    return all(isinstance(p, dict) and isinstance(p.get("code"), str) for p in problems)


@dataclass
class _Previous:
    records: dict[str, dict[str, Any]]            # unit id -> record (from .ingest/)
    keys: dict[str, list[dict[str, str]]]         # unit id -> key-map rows


def _load_previous(out: Path, key_map: Path) -> _Previous:
    records: dict[str, dict[str, Any]] = {}
    for path in sorted((out / STATE).glob("*.json")) if (out / STATE).is_dir() else []:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue   # a damaged record only means the unit is done again
        if _well_formed(record):
            records[record["unit"]] = record
    keys: dict[str, list[dict[str, str]]] = {}
    if key_map.is_file():
        try:
            with key_map.open(encoding="utf-8", newline="") as handle:
                for row in csv.DictReader(handle):
                    keys.setdefault(row.get("unit") or "", []).append({k: row.get(k) or "" for k in KEY_MAP_COLUMNS})
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            raise OptionsError(f"cannot read the key file {key_map}: {error}") from error
    return _Previous(records, keys)


def _intact(out: Path, record: dict[str, Any], fingerprint: str, rows: list[dict[str, str]]) -> bool:
    """A unit done before is skipped when its inputs and rules are unchanged and every output is still intact."""
    if record.get("fingerprint") != fingerprint:
        return False
    if any(p.get("code") not in KEPT_PROBLEMS for p in record.get("problems") or []):
        return False    # a refused series or input is tried again: the cause may be fixed, and it is reported again
    studies = record.get("studies") or []
    if {row["volume"] for row in rows} != {s["volume"] for s in studies}:
        return False    # without its key-map rows the unit cannot be listed: do it again
    return all(_sha256(out / s["volume"]) == s["sha256"] and (not s.get("mask")
               or _sha256(out / s["mask"]) == s.get("mask_sha256")) for s in studies)


def _outputs(studies: list[dict[str, Any]]) -> set[str]:
    return {rel for s in studies for rel in (s.get("volume"), s.get("mask")) if rel}


def _commit(out: Path, staging: Path, result: UnitResult, old: dict[str, Any] | None,
            claimed: AbstractSet[str] = frozenset()) -> None:
    """Move a unit's staged volumes into place, then drop the outputs of its former run that are gone (and that no
    other unit claims: one study reached through two inputs is one file)."""
    now = {rel for s in result.studies for rel in (s.volume, s.mask) if rel}
    for rel in sorted(now):
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        move(staging / rel, target)
    for rel in _outputs((old or {}).get("studies") or []) - now - claimed:
        if rel.startswith(("volumes/", "masks/")) and ".." not in rel.split("/"):
            (out / rel).unlink(missing_ok=True)


def _record(result: UnitResult, fingerprint: str) -> dict[str, Any]:
    return {
        "unit": result.unit_id,
        "fingerprint": fingerprint,
        "inputs": result.inputs,
        "dicom_files": result.images_read,
        "other_files": result.not_dicom,
        "studies": [{"volume": s.volume, "sha256": s.sha256, "pseudonym": s.pseudonym, "sex": s.sex, "age": s.age,
                     "shape": list(s.shape), "spacing": list(s.spacing), "series": s.series, "notes": list(s.notes),
                     **({"mask": s.mask, "mask_sha256": s.mask_sha256, "mask_from": "DICOM SEG"} if s.mask else {})}
                    for s in result.studies],
        # left-out series keep their reason (rule text, no identifier) so a rerun reports them again
        "problems": [{"code": code, **({"series": c["series"]} if "series" in c else {}),
                      **({"reason": c["reason"]} if code in KEPT_PROBLEMS else {})}
                     for code, c in result.problems],
    }


def _key_rows(result: UnitResult, unit: Unit) -> list[dict[str, str]]:
    where = unit.archive or unit.folder or unit.files[0][1].parent
    source = str(where.resolve())
    return [{"unit": result.unit_id, "input": source, "pseudonym": s.pseudonym, "volume": s.volume,
             "patient_id": s.identity.get("patient_id", ""), "study_uid": s.identity.get("study_uid", ""),
             "accession": s.identity.get("accession", "")} for s in result.studies]


def _studies_from(record: dict[str, Any], rows: list[dict[str, str]]) -> list[StudyOutput]:
    by_volume = {row["volume"]: row for row in rows}
    studies = []
    for s in record.get("studies") or []:
        row = by_volume.get(s["volume"], {})
        studies.append(StudyOutput(
            volume=s["volume"], sha256=s["sha256"], pseudonym=s["pseudonym"], sex=s.get("sex"), age=s.get("age"),
            shape=tuple(s.get("shape") or ()), spacing=tuple(s.get("spacing") or ()), series=s.get("series") or {},
            notes=tuple(s.get("notes") or ()),
            identity={k: row.get(k, "") for k in ("patient_id", "study_uid", "accession")},
            mask=s.get("mask"), mask_sha256=s.get("mask_sha256")))
    return studies


def _csv_bytes(columns: Sequence[str], rows: list[dict[str, Any]]) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: "" if row.get(c) is None else row.get(c) for c in columns})
    return text.getvalue().encode("utf-8", "surrogateescape")


def _finding(code: str, label: str, context: dict[str, Any]) -> Finding:
    folder = context.get("folder")   # the sub-folder of the input the finding is about, when there is one
    return make_finding(code, display(f"{label}/{folder}" if folder else label), **context)


def _previous_key_check(out: Path) -> str | None:
    try:  # recorded before the first output: a run killed before provenance.json still names its key
        recorded = (out / STATE / KEY_CHECK).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        recorded = ""
    if recorded:
        return recorded
    try:
        document = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
        check = document["anonymisation"]["key_check"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return check if isinstance(check, str) else None


def _prepare(out: Path, options: IngestOptions, previous: _Previous) -> None:
    """Make OUT and write the key map as it stands, before any work: a place that cannot be written is found now,
    not after the first study was converted."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / STATE).mkdir(exist_ok=True)
        _write_atomic(out / STATE / KEY_CHECK, _key_check(options.key).encode())
    except OSError as error:
        raise RunError(f"cannot make OUT ({out}): {error.strerror or error}") from error
    try:
        _write_atomic(options.key_map, _csv_bytes(KEY_MAP_COLUMNS, _merged_keys(previous, [])), mode=PRIVATE_MODE)
    except OSError as error:
        raise RunError(f"cannot write the key map {options.key_map}: {error.strerror or error}") from error


def ingest(inputs: Sequence[Path | str], out: Path | str, options: IngestOptions) -> Report:
    """Ingest ``inputs`` into ``out``; the report's findings say what was left out and why."""
    started = time.perf_counter()
    paths, out = [Path(p) for p in inputs], Path(out)
    if not paths:
        raise OptionsError("no input given: name folders or archives of DICOM files")
    missing = [p for p in paths if not p.exists() and not p.is_symlink()]
    if missing:
        raise RunError(f"the input {display(str(missing[0]))} does not exist"
                       + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "") + "; nothing was ingested")
    _check_places(paths, out, options)
    with lock(out), writing(out, options.key_map):
        return _ingest(paths, out, options, started)


def _ingest(paths: list[Path], out: Path, options: IngestOptions, started: float) -> Report:
    _check_places(paths, out, options)   # again, under the lock: another run may have written OUT meanwhile
    found = discover(paths)
    if found.problems:
        raise OptionsError("; ".join(found.problems))
    if not found.units and not found.skipped:
        raise OptionsError("the inputs hold no files")
    key_check = _key_check(options.key)
    former_check = _previous_key_check(out)
    if former_check is not None and former_check != key_check:
        raise OptionsError(f"OUT ({out}) was made with another key: its pseudonyms and study names would all change. "
                           "Use the key it was made with, or ingest into a new folder")
    # what decides a unit's output besides its files: the rules, the archive limits, the pseudonym map
    settings = json.dumps([options.rules.model_dump(mode="json"), dataclasses.asdict(options.limits),
                           sorted((options.pseudonyms or {}).items())], sort_keys=True)
    previous = _load_previous(out, options.key_map)
    _prepare(out, options, previous)
    staging = out / STAGING
    shutil.rmtree(staging, ignore_errors=True)

    findings: list[Finding] = [make_finding(code, display(where), **context) for code, where, context in found.skipped]
    exposed = key_file_exposure(options.key_file)
    if exposed:
        findings.append(make_finding("INGEST_KEY_FILE_READABLE", display(str(options.key_file)), reason=exposed))
    plan = _plan_units(found.units, out, options, previous, settings, staging)
    findings.extend(plan.findings)
    labels, tasks = plan.labels, plan.tasks
    results = _run_units(plan, out, options, previous, staging, findings)
    # units no longer among the inputs: their outputs go (unless a unit of this run claims them), so OUT mirrors
    # this run
    claimed = {rel for r in results.values() for rel in _outputs(r[0].get("studies") or [])}
    for unit_id, record in previous.records.items():
        if unit_id not in labels:
            _commit(out, staging, UnitResult(unit_id, ""), record, claimed)
            (out / STATE / f"{unit_id}.json").unlink(missing_ok=True)
    key_rows = [row for row in _merged_keys(previous, plan.key_rows) if row["unit"] in labels]
    _write_atomic(options.key_map, _csv_bytes(KEY_MAP_COLUMNS, key_rows), mode=PRIVATE_MODE)

    table, table_findings = _studies_table(out, results, labels, options)
    findings.extend(table_findings)
    _write_atomic(out / "studies.csv", _csv_bytes(("study", "category", "sex", "age", "mask", "patient"), table))
    _write_atomic(out / "provenance.json", _provenance(results, options, key_check, table).encode())
    if options.card is not None:
        _write_atomic(out / "dataset.yaml", options.card.read_bytes())
    return _report(out, findings, started, {
        "units": len(found.units), "units_done": len(tasks), "units_resumed": len(plan.kept),
        "units_converted": sum(1 for task in tasks if results.get(task.unit_id, ({}, [], []))[2]),
        "studies": len(table), "volumes": sum(len(r[2]) for r in results.values()),
        "key_map": str(options.key_map)})


Results = dict[str, tuple[dict[str, Any], list[dict[str, str]], list[StudyOutput]]]   # unit id -> record, keys, studies


@dataclass
class _UnitPlan:
    """The units of a run: each one's label and fingerprint, the tasks to do and the units kept from before."""

    labels: dict[str, Unit] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)
    tasks: list[UnitTask] = field(default_factory=list)
    kept: dict[str, tuple[dict[str, Any], list[dict[str, str]]]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)   # the problems a kept unit had, reported again
    key_rows: list[dict[str, str]] = field(default_factory=list)   # the key-map rows done so far


def _plan_units(units: Sequence[Unit], out: Path, options: IngestOptions, previous: _Previous, settings: str,
                staging: Path) -> _UnitPlan:
    """Name each unit by the key, and keep the ones done before whose inputs, rules and outputs are unchanged."""
    plan = _UnitPlan()
    for unit in units:
        unit_id = "u" + _keyed(options.key, "unit", unit.label, 12)
        plan.labels[unit_id] = unit
        try:
            plan.fingerprints[unit_id] = _keyed(options.key, "fingerprint", unit.stat_fingerprint() + settings, 32)
        except OSError as error:
            raise RunError(f"cannot read {display(unit.label)}: {error.strerror or error}") from error
        record, rows = previous.records.get(unit_id), previous.keys.get(unit_id, [])
        if record is not None and _intact(out, record, plan.fingerprints[unit_id], rows):
            plan.kept[unit_id] = (record, rows)
            plan.key_rows.extend(rows)
            plan.findings.extend(_finding(str(p["code"]), unit.label, {k: v for k, v in p.items() if k != "code"})
                                 for p in record.get("problems") or [])
            continue
        plan.tasks.append(UnitTask(unit=unit, unit_id=unit_id, rules=options.rules, key=options.key,
                                   pseudonyms=options.pseudonyms, staging=staging / unit_id, limits=options.limits))
    return plan


def _run_units(plan: _UnitPlan, out: Path, options: IngestOptions, previous: _Previous, staging: Path,
               findings: list[Finding]) -> Results:
    """Do the planned tasks; each unit's volumes, state record and key-map rows are written as it finishes, so an
    interrupted run keeps what it did. The staging folder goes in any case."""
    results: Results = {unit_id: (record, rows, _studies_from(record, rows))
                        for unit_id, (record, rows) in plan.kept.items()}
    try:
        for result in iter_tasks(process_unit, plan.tasks, options.jobs, processes=True, progress=options.progress):
            unit = plan.labels[result.unit_id]
            claimed = {rel for r in results.values() for rel in _outputs(r[0].get("studies") or [])}
            _commit(out, staging / result.unit_id, result, previous.records.get(result.unit_id), claimed)
            record = _record(result, plan.fingerprints[result.unit_id])
            rows = _key_rows(result, unit)
            _write_atomic(out / STATE / f"{result.unit_id}.json",
                          json.dumps(record, indent=1, sort_keys=True).encode())
            plan.key_rows.extend(rows)
            _write_atomic(options.key_map, _csv_bytes(KEY_MAP_COLUMNS, _merged_keys(previous, plan.key_rows)),
                          mode=PRIVATE_MODE)
            results[result.unit_id] = (record, rows, result.studies)
            findings.extend(_finding(code, unit.label, context) for code, context in result.problems)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return results


def _merged_keys(previous: _Previous, done: list[dict[str, str]]) -> list[dict[str, str]]:
    fresh = {row["unit"] for row in done}
    rows = [row for unit, rows in previous.keys.items() if unit not in fresh for row in rows]
    return sorted(rows + done, key=lambda r: (r["unit"], r["volume"]))


def _studies_table(out: Path, results: dict[str, tuple[dict[str, Any], list[dict[str, str]], list[StudyOutput]]],
                   labels: Mapping[str, Unit], options: IngestOptions) -> tuple[list[dict[str, Any]], list[Finding]]:
    table: list[dict[str, Any]] = []
    findings: list[Finding] = []
    wanted_masks: set[str] = set()
    listed: dict[str, str] = {}
    for unit_id in sorted(results, key=lambda u: labels[u].label):
        label = labels[unit_id].label
        for study in results[unit_id][2]:
            if study.mask:
                wanted_masks.add(study.mask)   # kept even while the study waits for its category
            if study.volume in listed:   # one study reached through two inputs (a copy, a re-export)
                findings.append(make_finding("INGEST_STUDY_DUPLICATE", display(label), volume=study.volume,
                                             first=display(listed[study.volume])))
                continue
            listed[study.volume] = label
            assignment = options.categories.lookup(label, study.identity)
            if assignment is None:
                findings.append(make_finding("INGEST_CATEGORY_MISSING", label, volume=study.volume))
                continue
            mask, given = "", dict[str, str]()
            if assignment.mask is None and study.mask:     # from the input's DICOM SEG objects
                mask = study.mask
            elif assignment.mask is not None:
                from curator.ingest.masks import stage_mask  # NIfTI masks (nibabel) only when a mask is given

                rel = study.volume.replace("volumes/", "masks/", 1).replace(".nii.gz", "_mask.nii.gz")
                staged = stage_mask(assignment.mask, out / study.volume, out / rel)
                if staged.problem is None:
                    mask = rel
                    wanted_masks.add(rel)
                    given = {"mask_reordered": staged.reordered}   # for provenance.json, not a studies.csv column
                else:
                    findings.append(make_finding("INGEST_MASK_INVALID", label, mask=assignment.mask.name,
                                                 volume=study.volume, reason=staged.problem))
            table.append({"study": study.volume, "category": assignment.category, "sex": study.sex,
                          "age": study.age, "mask": mask, "patient": study.pseudonym, **given})
    masks = out / "masks"
    if masks.is_dir():   # masks of an earlier run that are no longer given
        for path in sorted(masks.rglob("*.nii.gz")):
            if path.relative_to(out).as_posix() not in wanted_masks:
                path.unlink()
    table.sort(key=lambda row: row["study"])
    return table, findings


def _provenance(results: Mapping[str, tuple[dict[str, Any], list[dict[str, str]], list[StudyOutput]]],
                options: IngestOptions, key_check: str, table: Sequence[Mapping[str, Any]] = ()) -> str:
    from importlib.metadata import version

    import numpy
    import pydicom

    document = {
        "tool": {"name": "curator", "version": __version__, "command": "ingest"},
        # nibabel reads the masks given alongside: its version from its metadata, without importing it for nothing
        "libraries": {"pydicom": pydicom.__version__, "nibabel": version("nibabel"), "numpy": numpy.__version__},
        "rules": options.rules.model_dump(mode="json"),
        "anonymisation": {
            "profile": f"DICOM PS3.15 {DEID_EDITION} Basic Application Level Confidentiality Profile",
            "applied_to": "every image read, in memory, before conversion; the NIfTI volumes carry no header text",
            "pseudonyms": "given map" if options.pseudonyms else "derived from the key (ANON-<10 digits>)",
            "key_check": key_check,
            "identifiers_kept_in": "the key file outside this folder (--key-map)",
        },
        "units": [results[unit_id][0] for unit_id in sorted(results)],
        # masks given alongside (--categories' mask column): each one's way onto its volume's voxel grid
        "masks": [{"study": row["study"], "mask": row["mask"],
                   "voxel_order": row.get("mask_reordered") or "the volume's (written as given)"}
                  for row in table if "mask_reordered" in row],
    }
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def _report(out: Path, findings: list[Finding], started: float, extra: dict[str, object]) -> Report:
    volumes = sorted((out / "volumes").rglob("*.nii.gz")) if (out / "volumes").is_dir() else []
    return ingest_report(out, "ingest", findings, started, len(volumes), sum(p.stat().st_size for p in volumes),
                         extra)
