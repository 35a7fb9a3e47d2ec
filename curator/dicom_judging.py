"""Judging each DICOM file of the fast tier in the worker that read it (issue 15).

``validate --profile dicom`` parses each file once for the headers and the privacy audit
(:func:`curator.io.dicom_audit.together_batch`). :func:`judged_batch` is that task followed, in the same worker, by
the privacy judgement of each audited file (``checks.privacy_dicom.judge_file``) and the path components carrying
its identity (``checks.phi_paths.path_matches``): the main process only rebuilds the findings, so it never runs
the judgement and never receives pydicom's objects (on Dask it never imports pydicom; the local pool's workers
inherit it from the main, loaded before the fork: one import instead of one a worker).

What comes back is compact: a :class:`JudgedFile` per audited file, its findings as references to the batch's
distinct findings (a series repeats one element's findings in every slice; pickle sends an object shared by the
batch's results once), each carried once with the key it is remembered by in the main, and rebuilt about each
path by :class:`curator.catalogue.Relocation` (:func:`rebuilt`): the same findings, worded the same, in the same
order as judging in the main made them. The audited file's elements are sent back only when a check still reads
them (``--identifiers``: the known-identifier search of every text value); otherwise the main keeps none.

Picklable throughout (a module-level function and :func:`functools.partial`), so the Dask back end runs the same
tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

from curator.catalogue import Relocation, context_key
from curator.checks.phi_paths import path_matches
from curator.checks.privacy_dicom import judge_file
from curator.io import dicom_audit
from curator.io.dicom import DicomFile
from curator.io.dicom_audit import AuditedFile, Together
from curator.memo import BoundedMemo
from curator.models.findings import Finding

__all__ = ["JudgedFile", "judged_batch", "rebuilt"]

Key = tuple[object, ...]
Shared = tuple[Key | None, Finding]   # a finding of the batch and its key (None: not relocatable, used as it is)
Matches = list[tuple[int, str, tuple[str, ...]]]


@dataclass(frozen=True)
class JudgedFile(AuditedFile):
    """An audited file judged in the worker: its findings (references to the batch's distinct ones) and its path
    matches; ``elements`` empty unless a check of the main reads them."""

    findings: tuple[Shared, ...] = ()
    matches: Matches | None = None


def judged_batch(batch: list[tuple[Path, str, bool]], elements: bool = False) -> list[Together]:
    """A task of ``io.dicom_audit.read_together`` (picklable): :func:`~curator.io.dicom_audit.together_batch`'s
    reading, each audited file judged here. ``elements``: keep each file's elements (``--identifiers``)."""
    shared: dict[Key, Shared | None] = {}
    results: list[Together] = []
    for header, audited in dicom_audit.together_batch(batch):
        if isinstance(audited, AuditedFile):
            findings = tuple(_shared(finding, shared) for finding in judge_file(audited))
            kept = {field.name: getattr(audited, field.name) for field in fields(AuditedFile)}
            if not elements:
                kept["elements"] = ()
            audited = JudgedFile(**kept, findings=findings, matches=path_matches(audited.path, audited))
        results.append((_portable(header), audited))
    return results


def _portable(header: DicomFile | str | None) -> DicomFile | str | None:
    """``header`` with its numbers as plain ints where that changes nothing they print (pydicom's IS keeps the
    text it was read from: "005" stays as it is), so that the main process unpickles it without importing
    pydicom."""
    if not isinstance(header, DicomFile):
        return header
    series, instance = header.series_number, header.instance_number
    if (type(series) is int and type(instance) is int) or not (_plain_int(series) and _plain_int(instance)):
        return header
    return replace(header, series_number=None if series is None else int(series),
                   instance_number=None if instance is None else int(instance))


def _plain_int(number: int | None) -> bool:
    return number is None or type(number) is int or str(number) == int.__repr__(number)


def _shared(finding: Finding, shared: dict[Key, Shared | None]) -> Shared:
    """The batch's one copy of ``finding``'s kind: equal code, severity, study and context (typed as
    ``catalogue.finding_at`` remembers them: no float, whose 0.0 and -0.0 are equal but differ in JSON), checked
    once a batch to be worded as :class:`Relocation` words it; any other finding is sent as it is."""
    context = context_key(finding.context)
    if context is None:
        return None, finding
    key = (finding.code, finding.severity, finding.study_id, context)
    if key not in shared:
        shared[key] = (key, finding) if _relocation(key, finding).at(finding.path).message == finding.message \
            else None
    return shared[key] or (None, finding)


def _relocation(key: Key, finding: Finding) -> Relocation:
    """The :class:`Relocation` of a finding's kind, remembered per process (bounded)."""
    relocation = _RELOCATIONS.get(key)
    return _RELOCATIONS.remember(key, Relocation(finding)) if relocation is None else relocation


MAX_RELOCATIONS = 1 << 12   # finding kinds remembered per process (then forgotten at once)
_RELOCATIONS: BoundedMemo[Key, Relocation] = BoundedMemo(MAX_RELOCATIONS)


def rebuilt(judged: JudgedFile) -> list[Finding]:
    """In the main process: the findings of a file judged in a worker, about its path, as judging it here made
    them."""
    path = judged.path
    return [finding if key is None else _relocation(key, finding).at(path) for key, finding in judged.findings]
