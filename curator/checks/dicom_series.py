"""DICOM series: every series must be one regular volume (profile ``dicom``). Judgement only.

Slice positions are projected on the slice normal (row x column direction cosines), so tilted and oblique
series are measured along the direction the slices are actually stacked in.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from itertools import pairwise

from curator.catalogue import make_finding
from curator.io.dicom import DicomFacts, DicomFile, DicomSeries
from curator.io.facts import Facts
from curator.io.slice_steps import classify_steps, mm, nominal_step, step_runs
from curator.models.findings import Finding, Severity

CODES = frozenset({
    "DICOM_NOT_FOUND", "DICOM_UNREADABLE", "DICOM_HEADER_INVALID", "DICOM_TRUNCATED", "DICOM_INSTANCE_DUPLICATE",
    "DICOM_DECODER_MISSING", "DICOM_DECODE_FAILED",
    "SERIES_INCONSISTENT", "SERIES_GEOMETRY_MISSING", "SERIES_NOT_A_VOLUME", "SERIES_TOO_SMALL", "SERIES_SLICE_MISSING",
    "SERIES_SPACING_UNEVEN", "SERIES_DUPLICATE_POSITION", "SERIES_GANTRY_TILT", "SERIES_MIXED_STUDIES",
    "SERIES_MODALITY_MISSING", "SERIES_MODALITY_UNEXPECTED",
})

MIN_SLICES = 3
SAME_POSITION_MM = 0.01           # two slices closer than this along the normal occupy one position
ORIENTATION_TOLERANCE = 1e-3      # direction cosines that differ by less are the same orientation
TILT_DEGREES = 0.1                # below this a tilt is rounding noise
PIXEL_SPACING_TOLERANCE = 1e-4    # mm
EXAMPLES = 5                      # files named in a finding's context
# projection radiography and other 2-D modalities: images without a place in a volume (SERIES_MODALITY_UNEXPECTED
# already says they are not CT)
PROJECTION_MODALITIES = frozenset({"CR", "DX", "MG", "IO", "PX", "RF", "XA", "XC", "ES", "OP", "SM", "US"})

Vector = tuple[float, float, float]


def check(facts: Facts) -> Iterator[Finding]:
    found = facts.dicom
    if found is None:
        return
    for path, reason in sorted(found.unreadable.items()):
        yield make_finding("DICOM_UNREADABLE", path, reason=reason)
    if not found.files and not found.unreadable:
        yield make_finding("DICOM_NOT_FOUND", "", files=found.looked_at)
        return
    truncated = set()
    for path, item in sorted(found.files.items()):
        if item.invalid:
            yield make_finding("DICOM_HEADER_INVALID", path, reason="; ".join(item.invalid))
        if item.pixel_expected is not None and item.pixel_present is not None \
                and item.pixel_present < item.pixel_expected:
            truncated.add(path)
            yield make_finding("DICOM_TRUNCATED", path, expected_bytes=item.pixel_expected,
                               actual_bytes=item.pixel_present)
    yield from _duplicate_instances(found)
    yield from _decoding(found, truncated)
    yield from _mixed_studies(found)
    for series in found.series:
        yield from _series(series)


def _instance(item: DicomFile) -> str:
    return str(item.instance_number) if item.instance_number is not None else "?"


def _duplicate_instances(found: DicomFacts) -> Iterator[Finding]:
    first: dict[str, str] = {}
    for path, item in sorted(found.files.items()):
        if not item.sop_instance_uid:
            continue
        if item.sop_instance_uid in first:
            yield make_finding("DICOM_INSTANCE_DUPLICATE", path, other=first[item.sop_instance_uid],
                               sop_instance_uid=item.sop_instance_uid)
        else:
            first[item.sop_instance_uid] = path


def _decoding(found: DicomFacts, truncated: set[str]) -> Iterator[Finding]:
    for path, outcome in sorted(found.decoded.items()):
        if outcome.error and path not in truncated:
            yield make_finding("DICOM_DECODE_FAILED", path, syntax=outcome.syntax, reason=outcome.error)
    for series in found.series:  # a missing decoder is a property of this machine: say it once per series
        missing = [item.path for item in series.files
                   if item.path in found.decoded and found.decoded[item.path].missing]
        if not missing:
            continue
        outcome = found.decoded[missing[0]]
        yield make_finding("DICOM_DECODER_MISSING", series.folder, series=series.label, syntax=outcome.syntax,
                           files=len(missing), install=_install_hint(outcome.missing),
                           options=list(outcome.missing), first_file=missing[0])


def _install_hint(missing: Sequence[str]) -> str:
    """``pip install ...`` for the first plugin pydicom names, from lines like
    ``pylibjpeg - requires pylibjpeg>=2.0 and pylibjpeg-libjpeg>=2.1``."""
    preferred = sorted(missing, key=lambda line: not line.startswith("pylibjpeg"))
    for line in preferred:
        if " - requires " not in line:
            continue
        requirements = line.split(" - requires ", 1)[1].replace(" and ", ", ").split(", ")
        return "pip install " + " ".join(f"'{r.strip()}'" if any(c in r for c in "<>=") else r.strip()
                                         for r in requirements if r.strip())
    return "; ".join(missing)


def _mixed_studies(found: DicomFacts) -> Iterator[Finding]:
    by_patient: dict[str, list[DicomFile]] = {}
    for item in found.files.values():
        by_patient.setdefault(item.path.split("/", 1)[0] if "/" in item.path else "", []).append(item)
    for patient, items in sorted(by_patient.items()):
        studies = sorted({item.study_uid for item in items if item.study_uid})
        if len(studies) < 2:
            continue
        patients = sorted({item.patient_id for item in items if item.patient_id})
        yield make_finding("SERIES_MIXED_STUDIES", patient, severity=Severity.error if len(patients) > 1 else None,
                           folder=patient or ".", studies=len(studies), patients=max(len(patients), 1),
                           study_uids=studies, patient_ids=patients)


def _series(series: DicomSeries) -> Iterator[Finding]:
    path, label = series.folder, series.label
    modalities = sorted({item.modality for item in series.files})
    if modalities == [""]:
        yield make_finding("SERIES_MODALITY_MISSING", path, series=label)
    elif modalities != ["CT"]:
        yield make_finding("SERIES_MODALITY_UNEXPECTED", path, series=label,
                           modality="/".join(m or "none" for m in modalities))

    seen: set[str] = set()
    images = []
    for item in series.files:  # a copied file is reported once, as DICOM_INSTANCE_DUPLICATE, not as geometry
        if item.is_image and (not item.sop_instance_uid or item.sop_instance_uid not in seen):
            seen.add(item.sop_instance_uid)
            images.append(item)
    if not images or all(item.is_localizer for item in images):
        return  # a scout series or a non-image object (structured report, segmentation without pixels)
    if any(item.frames > 1 for item in images):
        return  # enhanced multi-frame objects carry their geometry per frame; not checked here
    if all(item.modality in PROJECTION_MODALITIES for item in images):
        return  # radiographs are projections: no position or orientation by their IOD, no volume to assemble
    yield from _inconsistent(series, images)

    lacking = [item.path for item in images if item.orientation is None or item.position is None]
    if lacking:
        yield make_finding("SERIES_GEOMETRY_MISSING", path, series=label, count=len(lacking), slices=len(images),
                           files=lacking[:EXAMPLES])
        return
    localizers = [item for item in images if item.is_localizer]
    orientations = _orientations(images)
    positions = _planes(images, orientations[0][0])
    if localizers or len(orientations) > 1 or (positions == 1 and len(images) > 1):
        yield make_finding("SERIES_NOT_A_VOLUME", path, series=label, slices=len(images), positions=positions,
                           orientations=len(orientations), localizers=len(localizers),
                           orientation_counts=[[list(cosines), count] for cosines, count in orientations],
                           localizer_files=[item.path for item in localizers[:EXAMPLES]])
        images = [item for item in images if not item.is_localizer]
        remaining = _orientations(images)
        if len(remaining) != 1 or _planes(images, remaining[0][0]) < 2:
            return  # nothing regular left to measure
    if len(images) < MIN_SLICES:
        yield make_finding("SERIES_TOO_SMALL", path, series=label, slices=len(images), minimum=MIN_SLICES)
    if len(images) < 2:
        return
    yield from _positions(series, images)


def _inconsistent(series: DicomSeries, images: list[DicomFile]) -> Iterator[Finding]:
    attributes: list[tuple[str, list[object]]] = [
        ("Rows", [item.rows for item in images]),
        ("Columns", [item.columns for item in images]),
        ("PixelSpacing", [None if item.pixel_spacing is None else
                          tuple(round(v / PIXEL_SPACING_TOLERANCE) * PIXEL_SPACING_TOLERANCE
                                for v in item.pixel_spacing) for item in images]),
    ]
    for attribute, values in attributes:
        counts = Counter(_show(value) for value in values)
        if len(counts) < 2:
            continue
        majority = counts.most_common(1)[0][0]
        odd = [item.path for item, value in zip(images, values, strict=True) if _show(value) != majority]
        yield make_finding("SERIES_INCONSISTENT", series.folder, series=series.label, attribute=attribute,
                           values=", ".join(f"{value} ({count})" for value, count in counts.most_common()),
                           majority=majority, files=odd[:EXAMPLES])


def _show(value: object) -> str:
    if value is None:
        return "missing"
    if isinstance(value, tuple):
        return "\\".join(f"{v:g}" for v in value)
    return str(value)


def _orientations(items: list[DicomFile]) -> list[tuple[tuple[float, ...], int]]:
    groups: list[tuple[tuple[float, ...], int]] = []
    for item in items:
        assert item.orientation is not None
        for index, (cosines, count) in enumerate(groups):
            if max(abs(a - b) for a, b in zip(cosines, item.orientation, strict=True)) <= ORIENTATION_TOLERANCE:
                groups[index] = (cosines, count + 1)
                break
        else:
            groups.append((tuple(round(v, 4) for v in item.orientation), 1))
    return sorted(groups, key=lambda group: -group[1])


def _normal(cosines: Sequence[float]) -> Vector | None:
    row, col = cosines[:3], cosines[3:6]
    normal = (row[1] * col[2] - row[2] * col[1], row[2] * col[0] - row[0] * col[2], row[0] * col[1] - row[1] * col[0])
    length = math.sqrt(sum(v * v for v in normal))
    if length < 1e-6:
        return None
    return (normal[0] / length, normal[1] / length, normal[2] / length)


def _planes(items: list[DicomFile], cosines: Sequence[float]) -> int:
    """How many distinct positions the slices occupy along the normal of ``cosines``."""
    normal = _normal(cosines)
    if normal is None:
        return len({item.position for item in items})
    distances = sorted(_dot(item.position or (0.0, 0.0, 0.0), normal) for item in items)
    return 1 + sum(1 for a, b in pairwise(distances) if b - a > SAME_POSITION_MM)


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _positions(series: DicomSeries, items: list[DicomFile]) -> Iterator[Finding]:
    path, label = series.folder, series.label
    assert items[0].orientation is not None
    normal = _normal(items[0].orientation)
    if normal is None:
        yield make_finding("DICOM_HEADER_INVALID", items[0].path,
                           reason="ImageOrientationPatient: the row and column directions are parallel or zero")
        return
    axis_index = max(range(3), key=lambda i: abs(normal[i]))
    axis = "xyz"[axis_index]
    placed = sorted(((_dot(item.position or (0.0, 0.0, 0.0), normal), item) for item in items),
                    key=lambda pair: (pair[0], pair[1].path))

    # slices sharing one position
    levels: list[list[tuple[float, DicomFile]]] = []
    for distance, item in placed:
        if levels and distance - levels[-1][0][0] <= SAME_POSITION_MM:
            levels[-1].append((distance, item))
        else:
            levels.append([(distance, item)])
    if len(levels) < 2:
        return  # every slice in one plane (shifted in-plane only): reported as not a volume above
    crowded = [level for level in levels if len(level) > 1]
    if crowded:
        example = crowded[0]
        coordinate = (example[0][1].position or (0.0, 0.0, 0.0))[axis_index]
        yield make_finding("SERIES_DUPLICATE_POSITION", path, series=label, count=len(crowded), axis=axis,
                           position_mm=mm(coordinate),
                           instances=", ".join(_instance(item) for _, item in example),
                           files=[item.path for _, item in example],
                           slices=sum(len(level) for level in crowded))

    yield from _tilt(series, levels, normal)
    yield from _spacing(series, levels, axis, axis_index)


def _tilt(series: DicomSeries, levels: list[list[tuple[float, DicomFile]]], normal: Vector) -> Iterator[Finding]:
    first = levels[0][0][1].position or (0.0, 0.0, 0.0)
    last = levels[-1][0][1].position or (0.0, 0.0, 0.0)
    step = (last[0] - first[0], last[1] - first[1], last[2] - first[2])
    length = math.sqrt(_dot(step, step))
    geometric = math.degrees(math.acos(min(1.0, abs(_dot(step, normal)) / length))) if length > 0 else 0.0
    tags = {item.gantry_tilt for level in levels for _, item in level if item.gantry_tilt is not None}
    tag = max(tags, key=abs) if tags else None
    tilt = geometric if geometric > TILT_DEGREES else (abs(tag) if tag is not None else 0.0)
    if tilt <= TILT_DEGREES:
        return
    yield make_finding("SERIES_GANTRY_TILT", series.folder, series=series.label, tilt_deg=f"{tilt:.1f}",
                       geometric_deg=round(geometric, 2), gantry_detector_tilt=tag)


def _spacing(series: DicomSeries, levels: list[list[tuple[float, DicomFile]]], axis: str,
             axis_index: int) -> Iterator[Finding]:
    distances = [level[0][0] for level in levels]
    steps = [b - a for a, b in pairwise(distances)]
    nominal = nominal_step(steps)
    gaps, irregular = classify_steps(steps, nominal)   # gaps: (index of the step, slices missing)

    if irregular:
        yield make_finding("SERIES_SPACING_UNEVEN", series.folder, series=series.label,
                           min_mm=mm(min(steps)), max_mm=mm(max(steps)), steps=step_runs(steps),
                           nominal_mm=round(nominal, 4),
                           first_change=_between(levels, irregular[0], axis_index))
        return
    for index, missing in gaps:
        before, after = levels[index][0][1], levels[index + 1][0][1]
        yield make_finding("SERIES_SLICE_MISSING", series.folder, series=series.label, axis=axis,
                           before_mm=mm((before.position or (0.0, 0.0, 0.0))[axis_index]),
                           after_mm=mm((after.position or (0.0, 0.0, 0.0))[axis_index]),
                           before_instance=_instance(before), after_instance=_instance(after),
                           gap_mm=mm(steps[index]), step_mm=mm(nominal), missing=missing,
                           before_file=before.path, after_file=after.path)


def _between(levels: list[list[tuple[float, DicomFile]]], index: int, axis_index: int) -> dict[str, object]:
    before, after = levels[index][0][1], levels[index + 1][0][1]
    return {"before_file": before.path, "after_file": after.path,
            "before_mm": round((before.position or (0.0, 0.0, 0.0))[axis_index], 3),
            "after_mm": round((after.position or (0.0, 0.0, 0.0))[axis_index], 3)}
