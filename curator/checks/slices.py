"""2D slice datasets (profile ``slices``, CNCB): image/mask pairs and sizes, mask modes and labels, case
folders, and the metadata CSVs against each other and against the disk. Judgement only: the reading is
``curator.io.slices``.

Mask values are judged against the label scheme the release declares (dataset.yaml ``label_scheme``, else the
``labels.yaml`` that ingest-slices writes): a stray value is LABELS_SCHEME_MISMATCH. With no declaration they are
judged against the profile's label set (MASK_VALUES_UNEXPECTED: one fact, one code), and values that fit several
schemes giving them different meanings are LABELS_SCHEME_AMBIGUOUS."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from curator.catalogue import make_finding
from curator.checks.names import is_junk
from curator.io.facts import Facts
from curator.io.slices import (
    LABEL_MODES,
    LABELS_FILE,
    LESIONS_CSV,
    SCANS_CSV,
    LesionRow,
    ScanRow,
    SliceFacts,
    SliceHeader,
)
from curator.label_schemes import differing_meanings, fitting_schemes, load_scheme, scheme_names
from curator.models.findings import Finding
from curator.models.labels import LabelScheme

CODES = frozenset({
    "IMAGE_UNREADABLE", "SLICE_CASE_UNPAIRED", "SLICE_CASE_EMPTY", "SLICE_PAIR_MISSING", "SLICE_DUPLICATE",
    "SLICE_SIZE_MISMATCH", "SLICE_SIZE_INCONSISTENT", "MASK_MODE_INVALID", "MASK_VALUES_UNEXPECTED", "MASK_EMPTY",
    "SLICE_LESION_UNMARKED", "METADATA_UNREADABLE", "METADATA_ROW_INVALID", "METADATA_INCONSISTENT",
    "METADATA_COUNT_MISMATCH", "FILE_MISSING", "FILE_UNLISTED", "LABELS_SCHEME_MISMATCH", "LABELS_SCHEME_AMBIGUOUS",
})

MASK_MODES = LABEL_MODES   # the modes whose pixel values are labels: io.slices, where they are read
# CNCB: 2 ground-glass opacity, 3 consolidation (0 background, 1 lung field). The Profile has no field for
# "which labels are lesions" yet; for a label set without them every non-zero label counts.
LESION_LABELS = frozenset({2, 3})
SIDES = ("image", "mask")


@dataclass
class _Case:
    folder: str
    slices: dict[str, list[str]] = field(default_factory=dict)  # slice name -> paths (two: the same slice twice)

    def first(self, name: str) -> str:
        return self.slices[name][0]


def check(facts: Facts) -> Iterator[Finding]:
    data = facts.slices
    if data is None:
        return
    cases = _cases(facts, data)
    yield from _unreadable(data)
    yield from _case_folders(facts, cases)
    yield from _pairs(facts, data, cases)
    declared, findings = _declared(facts, data)
    yield from findings
    yield from _masks(facts, data, declared)
    yield from _metadata(facts, data, cases, declared)


@dataclass(frozen=True)
class _Declared:
    scheme: LabelScheme
    where: str       # the file that declares it


def _declared(facts: Facts, data: SliceFacts) -> tuple[_Declared | None, list[Finding]]:
    """The label scheme the release declares: dataset.yaml's label_scheme, else ingest-slices' labels.yaml."""
    card = facts.card
    claims = [(where, name) for where, name in (("dataset.yaml", card.label_scheme if card else None),
                                                 (LABELS_FILE, data.label_scheme)) if name]
    findings: list[Finding] = []
    if len(claims) == 2 and claims[0][1] != claims[1][1]:
        findings.append(make_finding("LABELS_SCHEME_MISMATCH", claims[0][0], variant="disagree",
                                     scheme=claims[0][1], other=claims[1][0], written=claims[1][1]))
    if not claims:
        return None, findings
    where, name = claims[0]
    if name not in scheme_names():
        findings.append(make_finding("LABELS_SCHEME_MISMATCH", where, variant="unknown", scheme=name,
                                     known=", ".join(scheme_names())))
        return None, findings
    return _Declared(load_scheme(name), where), findings


def _cases(facts: Facts, data: SliceFacts) -> dict[str, dict[str, _Case]]:
    """side ("image"/"mask") -> case -> its slices, from the files the profile's patterns name."""
    cases: dict[str, dict[str, _Case]] = {side: {} for side in SIDES}
    for path in sorted(data.files):
        kind = facts.data_kind(path)
        if kind is None or kind.kind not in cases:
            continue
        case, name = kind.groups.get("case", ""), kind.groups.get("slice", "")
        entry = cases[kind.kind].setdefault(case, _Case(path.rsplit("/", 1)[0]))
        entry.slices.setdefault(name, []).append(path)
    return cases


def _expected(facts: Facts, side: str, case: str, name: str) -> str:
    """Where the profile's template puts slice ``name`` of ``case`` on ``side``."""
    try:
        return facts.profile.pattern_for(side).template.format(case=case, slice=name)
    except (KeyError, IndexError, ValueError):
        return f"{side}/{case}/{name}"


def _size(header: SliceHeader) -> str:
    return f"{header.width}x{header.height}"


def _unreadable(data: SliceFacts) -> Iterator[Finding]:
    for path, header in sorted(data.files.items()):
        if isinstance(header, str):
            yield make_finding("IMAGE_UNREADABLE", path, reason=header)
        elif header.decode_error:
            yield make_finding("IMAGE_UNREADABLE", path, reason=header.decode_error)


def _case_folders(facts: Facts, cases: dict[str, dict[str, _Case]]) -> Iterator[Finding]:
    """A case on one side only; case folders with no file in them."""
    for side, other in (("image", "mask"), ("mask", "image")):
        for case, found in sorted(cases[side].items()):
            if case not in cases[other]:
                counterpart = _expected(facts, other, case, "0").rsplit("/", 1)[0]
                yield make_finding("SLICE_CASE_UNPAIRED", found.folder, case=case, counterpart=counterpart,
                                   slices=len(found.slices), side=side)

    roots = tuple(root.rstrip("/") + "/" for root in facts.profile.data_roots)
    filled: set[str] = set()
    for entry in facts.entries:
        if entry.kind == "file" and not is_junk(entry.path):
            parts = entry.path.split("/")
            filled.update("/".join(parts[:i]) for i in range(1, len(parts)))
    reported: list[str] = []
    for entry in facts.entries:  # sorted: a folder comes before the folders inside it
        path = entry.path
        if entry.kind != "dir" or not path.startswith(roots) or path in filled or is_junk(path):
            continue
        if any(path.startswith(outer + "/") for outer in reported):
            continue
        reported.append(path)
        yield make_finding("SLICE_CASE_EMPTY", path)


def _pairs(facts: Facts, data: SliceFacts, cases: dict[str, dict[str, _Case]]) -> Iterator[Finding]:
    """Every image has its mask and every mask its image, once, on the same pixel grid."""
    images, masks = cases["image"], cases["mask"]
    for side in SIDES:
        for case in sorted(cases[side]):
            for name, paths in sorted(cases[side][case].slices.items()):
                for path in paths[1:]:
                    yield make_finding("SLICE_DUPLICATE", path, other=paths[0], case=case, slice=name)

    for case in sorted(set(images) & set(masks)):
        image_case, mask_case = images[case], masks[case]
        for name in sorted(image_case.slices.keys() - mask_case.slices.keys()):
            yield make_finding("SLICE_PAIR_MISSING", image_case.first(name), side="image",
                               counterpart=_expected(facts, "mask", case, name), case=case, slice=name)
        for name in sorted(mask_case.slices.keys() - image_case.slices.keys()):
            yield make_finding("SLICE_PAIR_MISSING", mask_case.first(name), side="mask",
                               counterpart=_expected(facts, "image", case, name), case=case, slice=name)
        for name in sorted(image_case.slices.keys() & mask_case.slices.keys()):
            image_path, mask_path = image_case.first(name), mask_case.first(name)
            image, mask = data.files.get(image_path), data.files.get(mask_path)
            if isinstance(image, SliceHeader) and isinstance(mask, SliceHeader) and image.size != mask.size:
                yield make_finding("SLICE_SIZE_MISMATCH", mask_path, image=image_path, mask_size=_size(mask),
                                   image_size=_size(image), case=case, slice=name)

    for case, entry in sorted(images.items()):  # the slices of one scan share one matrix size
        sizes = {path: _size(header) for paths in entry.slices.values() for path in paths
                 if isinstance(header := data.files.get(path), SliceHeader)}
        tally = Counter(sizes.values())
        if len(tally) < 2:
            continue
        (majority, count), (_, runner_up) = tally.most_common(2)
        if count == runner_up:
            continue  # no clear majority: nothing to call the odd one out
        for path, size in sorted(sizes.items()):
            if size != majority:
                yield make_finding("SLICE_SIZE_INCONSISTENT", path, case=case, size=size, majority=majority,
                                   count=count)


def _masks(facts: Facts, data: SliceFacts, declared: _Declared | None) -> Iterator[Finding]:
    """A mask is a lossless single-channel label map whose values (palette indices) are in the declared scheme,
    else in the profile's label set."""
    labels = set(declared.scheme.values if declared else facts.profile.labels)
    present: set[int] = set()
    for path, header in sorted(data.files.items()):
        kind = facts.data_kind(path)
        if kind is None or kind.kind != "mask" or not isinstance(header, SliceHeader):
            continue
        if header.format != "PNG" or header.mode not in MASK_MODES:
            yield make_finding("MASK_MODE_INVALID", path, format=header.format, mode=header.mode,
                               allowed=list(MASK_MODES))
            continue
        if header.values is None:
            continue  # --fast, or not decoded (IMAGE_UNREADABLE says why)
        present.update(header.values)
        bad = {value: count for value, count in sorted(header.values.items()) if value not in labels}
        if bad and declared:
            yield make_finding("LABELS_SCHEME_MISMATCH", path, values=sorted(bad), allowed=sorted(labels),
                               scheme=declared.scheme.name, declared_in=declared.where, voxels=bad)
        elif bad:
            yield make_finding("MASK_VALUES_UNEXPECTED", path, values=sorted(bad), allowed=sorted(labels),
                               voxels=bad)
        elif not any(value != 0 for value in header.values):
            yield make_finding("MASK_EMPTY", path)
    if declared is None:
        yield from _ambiguity(present)


def _ambiguity(values: set[int]) -> Iterator[Finding]:
    """Values that fit two or more schemes which give them different meanings, with no scheme declared."""
    fitting = fitting_schemes(values)
    differing = differing_meanings(fitting, values) if len(fitting) > 1 else {}
    if differing:
        meanings = "; ".join(f"{value}: " + ", ".join(f"{key} in {name}" for name, key in keys.items())
                             for value, keys in differing.items())
        yield make_finding("LABELS_SCHEME_AMBIGUOUS", "", values=sorted(values), schemes=list(fitting),
                           meanings=meanings)


def _lesion_labels(labels: set[int], declared: _Declared | None = None) -> set[int]:
    if declared is not None:
        return set(declared.scheme.lesion_values)
    return set(LESION_LABELS & labels) or (labels - {0})


def _metadata(facts: Facts, data: SliceFacts, cases: dict[str, dict[str, _Case]],
              declared: _Declared | None = None) -> Iterator[Finding]:
    for name, reason in sorted(data.metadata_errors.items()):
        yield make_finding("METADATA_UNREADABLE", name, reason=reason)
    for name, problems in sorted(data.row_problems.items()):
        for problem in problems:
            yield make_finding("METADATA_ROW_INVALID", name, row=problem.row, field=problem.field,
                               reason=problem.reason)
    scans: dict[str, ScanRow] = {}
    if data.scans is not None:
        for scan in data.scans:
            if scan.case in scans:
                yield make_finding("METADATA_ROW_INVALID", SCANS_CSV, row=scan.row, field="scan_id",
                                   reason=f"case {scan.case} is listed again (first at row {scans[scan.case].row})")
                continue
            scans[scan.case] = scan
        yield from _scans_on_disk(facts, scans, cases["image"])
    if data.lesions is not None:
        yield from _lesions(facts, data, data.lesions, scans if data.scans is not None else None, cases, declared)


def _folder(facts: Facts, case: str) -> str:
    return _expected(facts, "image", case, "0").rsplit("/", 1)[0]


def _scans_on_disk(facts: Facts, scans: dict[str, ScanRow], images: dict[str, _Case]) -> Iterator[Finding]:
    """unzip_filenames.csv against the image case folders: every scan there, with n_slice slices."""
    for case, scan in sorted(scans.items(), key=lambda item: item[1].row):
        folder = _folder(facts, case)
        if case not in images:
            yield make_finding("FILE_MISSING", folder, listed_in=SCANS_CSV, row=scan.row, case=case,
                               slices=scan.n_slice)
        elif len(images[case].slices) != scan.n_slice:
            yield make_finding("METADATA_COUNT_MISMATCH", SCANS_CSV, row=scan.row, case=case,
                               listed=scan.n_slice, found=len(images[case].slices), folder=folder)
    for case, entry in sorted(images.items()):
        if case not in scans:
            yield make_finding("FILE_UNLISTED", entry.folder, expected_in=SCANS_CSV, case=case,
                               slices=len(entry.slices))


def _lesions(facts: Facts, data: SliceFacts, lesions: list[LesionRow], scans: dict[str, ScanRow] | None,
             cases: dict[str, dict[str, _Case]], declared: _Declared | None) -> Iterator[Finding]:
    """lesions_slices.csv against unzip_filenames.csv and the disk; with --deep, against the masks."""
    by_case: dict[str, list[LesionRow]] = {}
    seen: dict[tuple[str, str], int] = {}
    for lesion in lesions:
        key = (lesion.case, lesion.slice)
        if key in seen:
            yield make_finding("METADATA_ROW_INVALID", LESIONS_CSV, row=lesion.row, field="imgpath",
                               reason=f"slice {lesion.case}/{lesion.name} is listed again (first at row {seen[key]})")
            continue
        seen[key] = lesion.row
        by_case.setdefault(lesion.case, []).append(lesion)

    images, masks = cases["image"], cases["mask"]
    lesion_labels = _lesion_labels(set(facts.profile.labels), declared)
    for case, rows in sorted(by_case.items(), key=lambda item: item[1][0].row):
        scan = scans.get(case) if scans is not None else None
        if scans is not None and scan is None:
            yield make_finding("METADATA_INCONSISTENT", LESIONS_CSV, row=rows[0].row, other=SCANS_CSV,
                               reason=f"case {case} is not in {SCANS_CSV}, yet slices of it are listed here "
                                      f"(in all: {len(rows)})")
        elif scan is not None:
            for lesion in rows:
                if lesion.slice.isdigit() and int(lesion.slice) >= scan.n_slice:
                    yield make_finding("METADATA_INCONSISTENT", LESIONS_CSV, row=lesion.row, other=SCANS_CSV,
                                       reason=f"slice {lesion.name} of case {case} is beyond the {scan.n_slice} "
                                              f"slices (numbered from 0) that {SCANS_CSV} row {scan.row} gives")
        if case not in images:
            if scan is None:  # else FILE_MISSING for the case folder came from unzip_filenames.csv already
                yield make_finding("FILE_MISSING", _folder(facts, case), listed_in=LESIONS_CSV, row=rows[0].row,
                                   case=case, slices=len(rows))
            continue
        for lesion in rows:
            if lesion.slice not in images[case].slices:
                folder = images[case].folder
                yield make_finding("FILE_MISSING", f"{folder}/{lesion.name}", listed_in=LESIONS_CSV,
                                   row=lesion.row, case=case)
                continue
            mask_case = masks.get(case)
            if mask_case is None or lesion.slice not in mask_case.slices:
                continue  # SLICE_PAIR_MISSING / SLICE_CASE_UNPAIRED
            mask_path = mask_case.first(lesion.slice)
            header = data.files.get(mask_path)
            if not isinstance(header, SliceHeader) or header.values is None:
                continue  # --fast, or unreadable
            if not lesion_labels & set(header.values):
                yield make_finding("SLICE_LESION_UNMARKED", mask_path, listed_in=LESIONS_CSV, row=lesion.row,
                                   values=sorted(header.values), lesion_labels=sorted(lesion_labels))
