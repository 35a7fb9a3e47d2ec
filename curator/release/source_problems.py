"""What keeps a source folder from being built (its dataset card, studies.csv and the volumes it lists), as findings.

``curator build`` looks at its whole source before it writes anything and tells every problem in one run, as
findings with codes of the catalogue (``schema/rules/build.yaml``, and the file and image codes a source shares
with a release; :data:`curator.checks.build_codes.CODES` lists them). Paths are relative to the source folder.
A finding about ``dataset.yaml`` is a configuration error (exit 2); any other is bad source data (exit 1).
:class:`SourceProblemsError` carries them in a report, which the CLI presents in the formats ``curator validate`` has.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import time
from collections.abc import Iterator
from pathlib import Path

from curator.anonymise.gzip_copy import GzipHeaderError, place_nifti
from curator.anonymise.nifti import NiftiAnonymiseError, scrub_nifti_header
from curator.catalogue import catalogue, make_finding
from curator.errors import BuildError, ExitCode
from curator.io import ReadError
from curator.io.card import CardError, load_card
from curator.io.licences import known_licences
from curator.io.nifti import NiftiHeader, read_header
from curator.io.regular import file_kind
from curator.io.source import SourceError, read_study_table
from curator.models.card import DatasetCard
from curator.models.findings import Finding, Report, Severity, Stats
from curator.models.profile import Profile
from curator.models.records import SourceStudy
from curator.outputs import contains
from curator.release.plan import PlannedStudy
from curator.release.readme import TemplateMissingError, template_name
from curator.report_closing import finish_report

__all__ = ["CARD_NAME", "STUDIES_NAME", "SourceProblemsError", "place_volumes", "read_source", "stage_problems"]

CARD_NAME = "dataset.yaml"
STUDIES_NAME = "studies.csv"
Table = list[tuple[int, SourceStudy]]


class SourceProblemsError(BuildError):
    """The source cannot be built from. ``report`` holds every problem as a finding (its root is the source
    folder); ``problems`` the same as lines, for callers that print a :class:`BuildError`."""

    def __init__(self, message: str, exit_code: ExitCode, report: Report) -> None:
        super().__init__(message, exit_code, [f"{f.code}: {f.message}" for f in report.findings])
        self.report = report


class _Seen:
    """The source files looked at, for the report's stats."""

    def __init__(self) -> None:
        self.started, self.files, self.bytes = time.perf_counter(), 0, 0

    def add(self, size: int) -> None:
        self.files, self.bytes = self.files + 1, self.bytes + size

    def report(self, source: Path, profile: str, findings: list[Finding]) -> Report:
        report = finish_report(source, profile, findings, None, self.started, Severity.error)
        return report.model_copy(update={"stats": Stats(files=self.files, bytes=self.bytes,
                                                        seconds=report.stats.seconds)})


def _problems(source: Path, profile: str, findings: list[Finding], seen: _Seen) -> SourceProblemsError:
    configuration = any(f.path == CARD_NAME for f in findings)
    what = "the dataset card has" if all(f.path == CARD_NAME for f in findings) else "the source has"
    return SourceProblemsError(f"{what} {len(findings)} problem(s); nothing was written",
                          ExitCode.USAGE if configuration else ExitCode.INVALID, seen.report(source, profile, findings))


def read_source(source: Path, profile: Profile) -> tuple[DatasetCard, Table]:
    """The card and the studies table of a source that can be built from; else :class:`SourceProblemsError` with every
    problem of the card, the table and the volumes it lists (the volumes' headers are read, never their voxels)."""
    seen = _Seen()
    card, findings = _card(source, profile, seen)
    table, found = _table(source, seen)
    findings += found
    findings += _volumes(source, card, table, seen)
    if findings or card is None:
        raise _problems(source, profile.name, findings, seen)
    return card, table


def _size(path: Path, seen: _Seen) -> None:
    with contextlib.suppress(OSError):
        seen.add(path.stat().st_size)


def _card(source: Path, profile: Profile, seen: _Seen) -> tuple[DatasetCard | None, list[Finding]]:
    path = source / CARD_NAME
    if not os.path.lexists(path):
        return None, [make_finding("REQUIRED_FILE_MISSING", CARD_NAME, variant="in_source")]
    _size(path, seen)
    card: DatasetCard | None = None
    findings = []
    try:
        card = load_card(path)
        raw = card.model_dump()
    except CardError as error:
        findings += [make_finding("BUILD_CARD_INVALID", CARD_NAME, reason=problem) for problem in error.problems]
        raw = error.data
    languages, licence = raw.get("languages"), raw.get("licence")
    for lang in languages if isinstance(languages, list) else []:
        try:
            template_name(str(lang))
        except TemplateMissingError as error:
            findings.append(make_finding("BUILD_CARD_INVALID", CARD_NAME, reason=str(error), field="languages"))
    if isinstance(licence, str) and licence not in known_licences():
        findings.append(make_finding("BUILD_LICENCE_UNKNOWN", CARD_NAME, licence=licence,
                                     known=", ".join(known_licences())))
    unknown = [c.id for c in card.categories if c.id not in profile.categories] if card else []
    if unknown:
        findings.append(make_finding("BUILD_CARD_INVALID", CARD_NAME, field="categories",
                                     reason=f"the categories {unknown} are not known to the {profile.name} profile "
                                            f"({', '.join(profile.categories)})"))
    return card, findings   # a card that validates gives its categories to the rows' check, whatever else is wrong


def _table(source: Path, seen: _Seen) -> tuple[Table, list[Finding]]:
    """The rows that can be read, and a finding for each bad row (or one for a table that cannot be read)."""
    path = source / STUDIES_NAME
    if not os.path.lexists(path):
        return [], [make_finding("REQUIRED_FILE_MISSING", STUDIES_NAME, variant="in_source")]
    try:
        table = read_study_table(path)
    except SourceError as error:
        if not error.rows:
            return [], [make_finding("BUILD_STUDIES_UNREADABLE", STUDIES_NAME, reason=str(error))]
        _size(path, seen)
        return error.studies, [make_finding("BUILD_ROW_INVALID", STUDIES_NAME, row=line, reason=what)
                               for line, what in error.rows]
    _size(path, seen)
    return table, []


def _volumes(source: Path, card: DatasetCard | None, table: Table, seen: _Seen) -> Iterator[Finding]:
    """Each row's category (when the card can be read), repeats, and the study and mask files it names."""
    declared = [c.id for c in card.categories] if card else None
    first: dict[str, int] = {}
    for line, study in table:
        if declared is not None and study.category not in declared:
            yield make_finding("BUILD_CATEGORY_UNDECLARED", STUDIES_NAME, row=line, category=study.category,
                               declared=", ".join(declared))
        if study.study in first:
            yield make_finding("BUILD_STUDY_DUPLICATE", STUDIES_NAME, row=line, study=study.study,
                               first_row=first[study.study])
        first.setdefault(study.study, line)
        headers: dict[str, NiftiHeader] = {}
        for column, rel in (("study", study.study), ("mask", study.mask)):
            if rel is None:
                continue
            found = _volume(source, line, column, rel)
            if isinstance(found, Finding):
                yield found
            else:
                headers[column] = found
                seen.add(found.file_size)
        if "study" in headers and "mask" in headers and headers["study"].shape[:3] != headers["mask"].shape[:3]:
            yield make_finding("MASK_SHAPE_MISMATCH", _name(source, study.mask or ""), row=line,
                               mask_shape=list(headers["mask"].shape), study=_name(source, study.study),
                               study_shape=list(headers["study"].shape))


def _name(source: Path, rel: str) -> str:
    """A path of studies.csv as a finding names it: relative to the source, POSIX, no ``./`` or doubled slashes."""
    return posixpath.normpath(os.path.relpath(rel, source.absolute()) if Path(rel).is_absolute() else rel)


def _volume(source: Path, line: int, column: str, rel: str) -> NiftiHeader | Finding:
    if "\x00" in rel or not contains(source, source / rel):
        return make_finding("BUILD_ROW_INVALID", STUDIES_NAME, row=line, column=column,
                            reason=f"the {column} path {rel!r} points outside the source folder or is not a path")
    if not rel.endswith((".nii", ".nii.gz")):
        return make_finding("BUILD_ROW_INVALID", STUDIES_NAME, row=line, column=column,
                            reason=f"the {column} {rel!r} is not a NIfTI file (.nii or .nii.gz)")
    path = (source / rel).resolve()
    if not path.exists():
        return make_finding("FILE_MISSING", _name(source, rel), listed_in=STUDIES_NAME, row=line, variant="in_source")
    if not path.is_file():
        found = file_kind(path.stat().st_mode)
        return make_finding("BUILD_ROW_INVALID", STUDIES_NAME, row=line, column=column,
                            reason=f"the {column} {rel!r} is not a regular file (found: a {found})")
    try:
        return read_header(path)
    except ReadError as error:
        return make_finding("IMAGE_UNREADABLE", _name(source, rel), row=line, reason=str(error))


def place_volumes(stage: Path, source: Path, planned: list[PlannedStudy], profile: str) -> None:
    """Copy each study and mask into the stage without header text, extensions or gzip names (the release never
    carries them: privacy audit). A volume with bytes after its last voxel is refused rather than stripped (they
    are not the curator's to drop unseen), and one that cannot be rewritten is named: every such volume, then
    :class:`SourceProblemsError` (exit 1). The volumes the scrub leaves alone are judged by the deep validation of
    the stage."""
    seen = _Seen()
    findings: list[Finding] = []
    for item in planned:
        for rel, target in ((item.source.study, item.study_path), (item.source.mask, item.mask_path)):
            if rel and target:
                _size(source / rel, seen)
                findings += _place(source / rel, stage / target, _name(source, rel))
    if findings:
        raise _problems(source, profile, findings, seen)


def _place(path: Path, target: Path, name: str) -> list[Finding]:
    try:
        place_nifti(path, target)
        trailing = scrub_nifti_header(target).trailing_bytes
    except (GzipHeaderError, NiftiAnonymiseError) as error:
        return [make_finding("IMAGE_UNREADABLE", name, reason=str(error))]
    if not trailing:
        return []
    expected = read_header(target).data_bytes
    return [make_finding("IMAGE_TRAILING_DATA", name, extra_bytes=trailing, expected_bytes=expected,
                         found=f"the decompressed stream holds {expected + trailing:,} bytes")]


def stage_problems(source: Path, report: Report, planned: list[PlannedStudy]) -> SourceProblemsError:
    """The built release did not pass ``validate --deep``: its findings, each about a volume named by the source file
    it was made from (``context.release_path`` keeps the name it had in the release). A finding about a file the
    build made from the card and table (the registry, a README) keeps its release path."""
    origins = {target: _name(source, rel) for item in planned
               for rel, target in ((item.source.study, item.study_path), (item.source.mask, item.mask_path))
               if rel and target}
    findings = []
    for finding in report.findings:
        context = {**finding.context, "release_path": finding.path}
        path = origins.get(finding.path, finding.path)
        message = catalogue()[finding.code].render("en", {**context, "path": path, "study_id": finding.study_id})
        findings.append(finding.model_copy(update={"path": path, "context": context, "message": message}))
    return SourceProblemsError("the built release does not validate (validate --deep); nothing was written",
                          ExitCode.INVALID, report.model_copy(update={"root": str(source), "findings": findings}))
