"""``curator anonymise SRC OUT``: a de-identified copy of a folder of DICOM files (see ``curator.anonymise.dicom``
for what is done to each attribute).

OUT mirrors SRC's tree; UIDs inside file and folder names (exports name files after their SOP Instance UID) are
remapped like the UIDs in the files, and names that carry a patient's identifiers are renamed with keyed
pseudonyms, the map kept beside OUT (``curator.anonymise.paths``). The copy is written into a temporary folder
beside OUT, every file is audited again, and the folder is renamed into place only when every file succeeded, so
a failed run leaves nothing half-written; SRC is only ever read. Files that are not DICOM are left out unless
``copy_other`` is set (they may hold identifiers too); DICOMDIR files are left out (their records name the
patients and the old UIDs: regenerate them from the copy).

The key (from a file or the ``CURATOR_ANON_KEY`` environment variable) drives every replacement: the same key
gives the same UIDs, pseudonyms and date offsets in every run, another key unrelated ones. It is never
written to OUT and never printed.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import time
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydicom import dcmread

from curator.anonymise.dicom import FilePlan, anonymise_file, date_offset, pseudonym, remap_uid
from curator.checks.phi_text import mask
from curator.errors import OptionsError, RunError
from curator.executor import Progress, run_tasks
from curator.io import dicom as dicom_files
from curator.io.deid_table import DEID_EDITION
from curator.io.dicom import DICOM_SUFFIXES, MEDIA_STORAGE_DIRECTORY, _skipped
from curator.io.regular import open_regular, read_regular_bytes
from curator.models.findings import Severity
from curator.outputs import atomic_write, lock, output_error, overlap, staged

# The naming (curator.anonymise.paths), the audit of each copy and the walk of SRC are imported by the functions of
# the anonymise command that use them: `curator ingest` imports this package for the key and the anonymiser alone,
# and must not pay for the checks behind them (issue 15).
if TYPE_CHECKING:
    from curator.checks.phi_paths import Identity
    from curator.io.inventory import Entry

__all__ = ["KEY_ENV", "MIN_KEY_CHARS", "AnonymiseError", "AnonymiseOptions", "AnonymiseSummary", "anonymise",
           "date_offset", "key_file_exposure", "load_key", "load_mapping", "pseudonym", "remap_uid", "summary_text"]

KEY_ENV = "CURATOR_ANON_KEY"
MIN_KEY_CHARS = 16
_UID_IN_NAME = re.compile(r"(?<!\d)[012](?:\.\d+){4,}")  # 1.3.12.2.1107.5... inside a file name
REMAINING = "remaining "   # prefix of the per-file counts of audit errors left in a copy
_MAP_HEADERS = {"patientid", "patient_id", "original", "original_id", "source", "source_id", "id"}


class AnonymiseError(Exception):
    """The copy could not be made (exit 1): files that cannot be read or written, IDs missing from the map."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


def load_key(key_file: Path | None, environ: Mapping[str, str] | None = None) -> bytes:
    """The secret key from ``key_file``, else from ``$CURATOR_ANON_KEY``; OptionsError when there is none."""
    environ = os.environ if environ is None else environ
    if key_file is not None:
        try:
            text = read_regular_bytes(key_file).strip()
        except OSError as error:
            raise OptionsError(f"cannot read the key file {key_file}: {error.strerror or error}") from error
        where = f"the key file {key_file}"
    elif environ.get(KEY_ENV):
        text = environ[KEY_ENV].strip().encode()
        where = f"${KEY_ENV}"
    else:
        raise OptionsError(f"no anonymisation key: pass --key-file FILE or set {KEY_ENV}. The key makes the new UIDs, "
                           "pseudonyms and date offsets; keep it secret and keep it to re-run with the same result "
                           "(e.g. `openssl rand -hex 32 > anon.key`)")
    if len(text) < MIN_KEY_CHARS:
        raise OptionsError(f"the key in {where} has {len(text)} characters; use at least {MIN_KEY_CHARS} "
                           "(e.g. `openssl rand -hex 32`)")
    return text


def key_file_exposure(key_file: Path | None) -> str | None:
    """Why the key file is readable by others (its group or everyone), or None: the key unlocks every pseudonym,
    UID and date offset, so its file should be readable by its owner only (``chmod 600``)."""
    if key_file is None:
        return None
    try:
        mode = key_file.stat().st_mode
    except OSError:
        return None
    readers = [who for who, bit in (("its group", 0o040), ("every user", 0o004)) if mode & bit]
    if not readers:
        return None
    return (f"the key file {key_file} is readable by {' and '.join(readers)} (mode {mode & 0o777:o}); anyone who "
            f"can read it can undo the pseudonyms and date shifts: run `chmod 600 {key_file}`")


def load_mapping(path: Path) -> dict[str, str]:
    """original PatientID -> pseudonym from a two-column CSV (a header row is optional)."""
    try:
        with open_regular(path, "r", encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as error:
        raise OptionsError(f"cannot read the pseudonym map {path}: {error}") from error
    mapping: dict[str, str] = {}
    used: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        if not row or not any(cell.strip() for cell in row):
            continue
        if number == 1 and row[0].strip().lower() in _MAP_HEADERS:
            continue
        if len(row) < 2 or not row[1].strip():
            raise OptionsError(f"{path}, line {number}: expected two columns, original PatientID and pseudonym")
        original, alias = row[0].strip(), row[1].strip()
        if original in mapping:
            raise OptionsError(f"{path}, line {number}: the PatientID on this line is listed twice")
        if alias in used:
            raise OptionsError(f"{path}, line {number}: pseudonym {alias!r} is also given on line {used[alias]}; "
                               "two patients would become one")
        if len(alias) > 64 or "\\" in alias:
            raise OptionsError(f"{path}, line {number}: a pseudonym must be at most 64 characters without '\\'")
        mapping[original] = alias
        used[alias] = number
    if not mapping:
        raise OptionsError(f"the pseudonym map {path} has no rows")
    return mapping


@dataclass(frozen=True)
class AnonymiseOptions:
    key: bytes
    mapping: Mapping[str, str] | None = None   # original PatientID -> pseudonym; else generated from the key
    keep_safe_private: bool = False
    retain_patient_characteristics: bool = False
    copy_other: bool = False                   # copy files that are not DICOM unchanged
    skip_failed: bool = False                  # leave out DICOM files that cannot be anonymised instead of failing
    force: bool = False                        # replace OUT if it exists
    name_map: Path | None = None               # original -> new names of renamed components (default: beside OUT)
    jobs: int | None = None
    progress: Progress | None = field(default=None, compare=False)


@dataclass
class AnonymiseSummary:
    source: str
    out: str
    files: int = 0                                           # DICOM files anonymised
    bytes: int = 0                                           # their size in SRC
    patients: int = 0
    actions: Counter[str] = field(default_factory=Counter)   # elements per action (X, Z, D, U, dates shifted, ...)
    copied: list[str] = field(default_factory=list)          # non-DICOM files copied unchanged
    left_out: dict[str, str] = field(default_factory=dict)   # path -> why it is not in OUT
    failed: dict[str, str] = field(default_factory=dict)     # path -> why it could not be anonymised
    remaining: Counter[str] = field(default_factory=Counter)  # audit error code -> copies that still have it
    options: list[str] = field(default_factory=list)         # CID 7050 codes claimed in the copies
    warnings: list[str] = field(default_factory=list)        # e.g. a key file others can read
    renamed: int = 0                                         # path components renamed: they named the patient
    name_map: str = ""                                       # where their original names are kept
    edition: str = DEID_EDITION
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {"source": self.source, "out": self.out, "files": self.files, "bytes": self.bytes,
                "patients": self.patients, "actions": dict(sorted(self.actions.items())), "copied": self.copied,
                "left_out": self.left_out, "failed": self.failed, "remaining": dict(sorted(self.remaining.items())),
                "options": self.options, "warnings": self.warnings, "renamed": self.renamed,
                "name_map": self.name_map,
                "deid_edition": self.edition, "seconds": self.seconds}


ACTION_LABELS = {
    "X": "removed (X)", "Z": "emptied (Z)", "D": "dummy values (D)", "U": "UIDs remapped (U)",
    "dates shifted": "dates shifted", "pseudonymised": "PatientID/PatientName pseudonymised",
    "private removed": "private attributes removed", "private kept": "safe private attributes kept",
    "kept (option)": "kept under a retain option",
}


def summary_text(summary: AnonymiseSummary) -> str:
    from curator.wording import plural

    lines = [f"anonymised {plural(summary.files, 'DICOM file')} ({summary.bytes:,} bytes) of "
             f"{plural(summary.patients, 'patient')} "
             f"from {summary.source} into {summary.out} in {summary.seconds:.1f} s",
             f"  profile: DICOM PS3.15 {summary.edition} Basic Profile; claimed codes {', '.join(summary.options)}"]
    for action, label in ACTION_LABELS.items():
        if summary.actions.get(action):
            lines.append(f"  {label}: {summary.actions[action]:,} elements")
    if summary.copied:
        lines.append(f"  copied unchanged (not DICOM): {len(summary.copied)} files")
    if summary.renamed:
        lines.append(f"  renamed {summary.renamed} file and folder names that carried patient identifiers; "
                     f"the original names are in {summary.name_map} (keep it private, outside the release)")
    if summary.left_out:
        lines.append(f"  left out: {len(summary.left_out)} files")
        lines.extend(f"    {path}: {why}" for path, why in list(summary.left_out.items())[:20])
    if summary.remaining:
        lines.append("  the audit still finds errors in the copy (curator validate OUT lists them):")
        lines.extend(f"    {code}: {count} files" for code, count in sorted(summary.remaining.items()))
    lines.extend(f"  warning: {text}" for text in summary.warnings)
    if summary.failed:
        lines.append(f"  FAILED and left out: {len(summary.failed)} files")
        lines.extend(f"    {path}: {why}" for path, why in list(summary.failed.items())[:20])
    return "\n".join(lines) + "\n"


def _no_identity() -> Identity:
    from curator.checks.phi_paths import Identity

    return Identity()


@dataclass(frozen=True)
class _Found:
    kind: str              # "dicom", "directory", "other", "failed"
    patient_id: str = ""
    force: bool = False
    reason: str = ""
    identity: Identity = field(default_factory=_no_identity)   # the values a file or folder name must not carry


def _look(path: Path) -> _Found:
    """Whether ``path`` is a DICOM file, and whose (read from its header only)."""
    from curator.anonymise.paths import IDENTITY_TAGS, identity_of

    kind = dicom_files.dicom_kind(path)   # from the first bytes only: a large file of zeros is never parsed
    if kind is False:
        return _Found("failed", reason="the file cannot be opened")
    if kind == dicom_files.NO_META:
        return _Found("failed", reason=dicom_files.NO_META_REASON)
    marked = kind == dicom_files.PART10
    if not marked and (kind != dicom_files.BARE or not path.name.lower().endswith(DICOM_SUFFIXES)):
        return _Found("other")  # no marker, and no data set or no DICOM name: not worth parsing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = dcmread(path, stop_before_pixels=True, force=not marked,
                         specific_tags=["SOPClassUID", "StudyInstanceUID", "Modality", *IDENTITY_TAGS])
        except Exception as error:
            if not marked:
                return _Found("other")
            return _Found("failed", reason=" ".join(str(error).split()) or type(error).__name__)
    meta = getattr(ds, "file_meta", None)
    sop_class = str(ds.get("SOPClassUID") or (meta.get("MediaStorageSOPClassUID") if meta is not None else "") or "")
    if sop_class == MEDIA_STORAGE_DIRECTORY:
        return _Found("directory")
    if not marked and not any(k in ds for k in ("SOPClassUID", "StudyInstanceUID", "PatientID", "Modality")):
        return _Found("other")
    return _Found("dicom", patient_id=str(ds.get("PatientID") or "").strip(), force=not marked,
                  identity=identity_of(ds))


def mirrored(path: str, key: bytes) -> str:
    """``path`` in OUT: the same folders and names, except that UIDs inside them are remapped like the UIDs in
    the files (exports often name files after their SOP Instance UID, which would undo the remapping)."""
    return _UID_IN_NAME.sub(lambda match: remap_uid(key, match.group()), path)


def _task(plan: FilePlan) -> dict[str, int] | str:
    """Anonymise one file, then audit the copy as `curator validate` would (write, verify, then move)."""
    from curator.checks.privacy_dicom import judge_file
    from curator.io.dicom_audit import audit_task

    try:
        counts = anonymise_file(plan)
    except OSError as error:   # a full or read-only output is not the file's fault: the run stops (exit 3)
        found = output_error(error, [plan.target])
        if found is not None:
            raise found from error
        return " ".join(str(error).split()) or type(error).__name__
    except Exception as error:  # the boundary: a hostile file becomes a reason
        return " ".join(str(error).split()) or type(error).__name__
    audited = audit_task((plan.target.parent, plan.target.name))
    if isinstance(audited, str) or audited is None:
        return f"the anonymised copy cannot be read back: {audited or 'not DICOM'}"
    for finding in judge_file(audited):
        if finding.severity == Severity.error:
            counts[f"{REMAINING}{finding.code}"] = 1
    return counts


def _check_places(source: Path, out: Path, force: bool) -> None:
    if not source.exists():
        raise RunError(f"SRC ({source}) does not exist; pass the folder that holds the DICOM files")
    if not source.is_dir():
        raise RunError(f"SRC ({source}) is not a folder; pass the folder that holds the DICOM files")
    if overlap(out, [source]) is not None:
        raise OptionsError(f"OUT ({out}) must be outside SRC ({source}) and must not contain it")
    if out.exists() and not force:
        raise OptionsError(f"{out} exists; pass --force to replace it (only once the new copy is complete)")
    if out.exists() and not out.is_dir():
        raise OptionsError(f"{out} exists and is not a folder")


def anonymise(source: Path | str, out: Path | str, options: AnonymiseOptions,
              echo: Callable[[str], None] | None = None) -> AnonymiseSummary:
    """Write the anonymised copy of ``source`` to ``out``; raise AnonymiseError when it cannot be made."""
    from curator.anonymise.paths import default_name_map

    started = time.perf_counter()
    source, out = Path(source), Path(out)
    _check_places(source, out, options.force)
    name_map = options.name_map or default_name_map(out)
    if any(name_map.resolve().is_relative_to(place.resolve()) for place in (source, out)):
        raise OptionsError(f"the name map {name_map} would be inside SRC or OUT; it names the patients: keep it "
                           "beside OUT")
    with lock(out):
        _check_places(source, out, options.force)   # again: another run may have made OUT meanwhile
        summary = _anonymise(source, out, options, name_map)
    summary.seconds = round(time.perf_counter() - started, 3)
    if echo is not None:
        echo(summary_text(summary))
    return summary


def _survey(source: Path, options: AnonymiseOptions, summary: AnonymiseSummary
            ) -> tuple[dict[str, Entry], list[str], dict[str, _Found]]:
    """The files of SRC (by path), those to look at, and what each is; what is left out is noted in ``summary``."""
    from curator.io.inventory import walk

    entries = walk(source)
    files = {e.path: e for e in entries if e.kind == "file"}
    for entry in entries:
        if entry.kind not in ("file", "dir"):
            summary.left_out[entry.path] = f"a {entry.kind}, not a regular file"
    paths = sorted(p for p in files if not _skipped(p))
    for path in sorted(set(files) - set(paths)):
        summary.left_out[path] = "operating-system litter"
    found = dict(zip(paths, run_tasks(_look, [source / p for p in paths], options.jobs), strict=True))
    for path in paths:
        item = found[path]
        if item.kind == "directory":
            summary.left_out[path] = "a DICOMDIR: it names the patients and the old UIDs; regenerate it from the copy"
        elif item.kind == "failed":
            summary.failed[path] = item.reason
        elif item.kind == "other" and not options.copy_other:
            summary.left_out[path] = "not DICOM (pass --copy-other to copy such files unchanged)"
    return files, paths, found


def _claimed(summary: AnonymiseSummary, options: AnonymiseOptions) -> list[str]:
    """The CID 7050 de-identification method codes the copies may claim, from what was done."""
    claimed = {"113100"}
    if summary.actions.get("dates shifted"):
        claimed.add("113107")
    if options.retain_patient_characteristics:
        claimed.add("113108")
    if options.keep_safe_private:
        claimed.add("113111")
    return sorted(claimed)


def _anonymise(source: Path, out: Path, options: AnonymiseOptions, name_map: Path) -> AnonymiseSummary:
    from curator.anonymise.paths import name_map_bytes, plan_names

    summary = AnonymiseSummary(source=str(source), out=str(out))
    files, paths, found = _survey(source, options, summary)
    dicom = [p for p in paths if found[p].kind == "dicom"]
    if not dicom and not summary.failed:
        raise AnonymiseError(f"SRC ({source}) holds no DICOM file ({len(paths)} other files), so no copy was made; "
                             "check that it is the folder of the DICOM export")
    patients = sorted({found[p].patient_id for p in dicom})
    if options.mapping is not None:
        missing = [pid for pid in patients if pid not in options.mapping]
        if missing:
            raise AnonymiseError(f"the pseudonym map has no entry for {len(missing)} of the {len(patients)} "
                                 "PatientIDs in SRC; add them (values shown masked)",
                                 [mask(pid) if pid else "(empty PatientID)" for pid in missing])
    aliases = {pid: (options.mapping[pid] if options.mapping is not None else pseudonym(options.key, pid))
               for pid in patients}
    offsets = {pid: date_offset(options.key, pid) for pid in patients}
    written = dicom + ([p for p in paths if found[p].kind == "other"] if options.copy_other else [])
    targets, renamed = plan_names(written, {p: found[p].identity for p in dicom}, options.key)

    with staged(out, replace=options.force) as stage:
        temporary = stage.root
        plans = [FilePlan(source=source / p, target=temporary / targets[p], key=options.key, name=p,
                          pseudonym=aliases[found[p].patient_id], offset_days=offsets[found[p].patient_id],
                          force=found[p].force, keep_safe_private=options.keep_safe_private,
                          retain_patient_characteristics=options.retain_patient_characteristics) for p in dicom]
        results = run_tasks(_task, plans, options.jobs, processes=True, progress=options.progress)
        for path, result in zip(dicom, results, strict=True):
            if isinstance(result, str):
                summary.failed[path] = result
                continue
            summary.files += 1
            summary.bytes += files[path].size
            summary.actions.update({k: v for k, v in result.items() if not k.startswith(REMAINING)})
            summary.remaining.update({k[len(REMAINING):]: v for k, v in result.items() if k.startswith(REMAINING)})
        summary.patients = len({found[p].patient_id for p in dicom if p not in summary.failed})
        if options.copy_other:
            for path in paths:
                if found[path].kind == "other":
                    target = temporary / targets[path]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source / path, target)
                    summary.copied.append(path)
        if summary.failed and not options.skip_failed:
            raise AnonymiseError(f"{len(summary.failed)} DICOM files could not be anonymised, so nothing was written "
                                 "(pass --skip-failed to leave them out)",
                                 [f"{path}: {why}" for path, why in summary.failed.items()])
        if not summary.files:  # --skip-failed left nothing: no empty OUT
            raise AnonymiseError("no DICOM file of SRC could be anonymised, so no copy was made",
                                 [f"{path}: {why}" for path, why in summary.failed.items()])
        for path in summary.failed:
            (temporary / targets[path]).unlink(missing_ok=True)
        summary.options = _claimed(summary, options)
        kept = {"/".join(p.split("/")[: i + 1]) for p in written if p not in summary.failed
                for i in range(p.count("/") + 1)}
        renamed = [r for r in renamed if r.original in kept]
        if renamed:
            atomic_write(name_map, name_map_bytes(renamed), mode=0o600)   # as private as ingest's key map
            summary.renamed, summary.name_map = len(renamed), str(name_map)
    return summary
