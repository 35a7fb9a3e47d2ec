"""The deep tier's judgement on voxel payloads: intact streams, label sets, empty masks, plausible HU."""

from __future__ import annotations

from collections.abc import Iterator

from curator.catalogue import make_finding
from curator.checks.headers import header_problems
from curator.io.facts import Facts
from curator.io.nifti import NiftiHeader
from curator.io.payload import Payload
from curator.label_schemes import load_scheme, scheme_names
from curator.models.findings import Finding, Severity

CODES = frozenset({"IMAGE_TRUNCATED", "IMAGE_TRAILING_DATA", "IMAGE_UNREADABLE", "PHI_GZIP_HEADER",
                   "MASK_VALUES_UNEXPECTED", "MASK_EMPTY", "IMAGE_INTENSITY_IMPLAUSIBLE",
                   "MASK_IMPLAUSIBLE", "IMAGE_HU_OFFSET_MISSING", "LABELS_SCHEME_MISMATCH"})

HU_RANGE = (-2048, 4095)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _declared_scheme(facts: Facts) -> str | None:
    """The label scheme dataset.yaml declares, when curator knows it (an unknown name: the profile's labels judge,
    and the slices check names it)."""
    name = facts.card.label_scheme if facts.card else None
    return name if name is not None and name in scheme_names() else None


def check(facts: Facts) -> Iterator[Finding]:
    scheme = _declared_scheme(facts)
    labels = set(load_scheme(scheme).values if scheme else facts.profile.labels)
    for path, payload in sorted(facts.payloads.items()):
        header = payload.header
        if not isinstance(header, NiftiHeader) or header_problems(header):
            continue  # IMAGE_UNREADABLE or IMAGE_HEADER_INVALID, from the headers check
        kind = facts.data_kind(path)
        study_id = int(kind.groups["study_id"]) if kind and kind.groups.get("study_id") else None
        expected = header.data_bytes
        if payload.later_texts:  # a name or comment in a later member is hidden from every gzip tool's listing
            yield make_finding("PHI_GZIP_HEADER", path, study_id=study_id, where=", ".join(payload.later_texts),
                               severity=Severity.error)
        if payload.stream_error is None:  # a damaged stream's sizes say nothing about hidden bytes
            yield from _trailing_data(path, payload, expected, study_id)
        if payload.stream_problem == "corrupt":
            yield make_finding("IMAGE_UNREADABLE", path, study_id=study_id, reason=payload.stream_error,
                               expected_bytes=expected, decompressed_bytes=payload.decompressed)
            continue
        if payload.stream_error or payload.decompressed < expected:
            reason = payload.stream_error or (
                f"the header implies {expected:,} bytes (vox_offset + voxels x bytes per voxel), the "
                f"{'decompressed stream' if header.compressed else 'file'} holds {payload.decompressed:,}")
            yield make_finding("IMAGE_TRUNCATED", path, study_id=study_id, expected_bytes=expected,
                               actual_bytes=payload.decompressed, reason=reason)
            continue
        stats = payload.voxels
        if stats is None or kind is None:
            continue
        if kind.kind == "mask":
            if stats.values is None:
                yield make_finding("MASK_VALUES_UNEXPECTED", path, study_id=study_id,
                                   values=f"more than {len(labels)} distinct values (a label map has few)",
                                   allowed=sorted(labels))
                continue
            bad = {_number(v): n for v, n in sorted(stats.values.items()) if v not in labels}
            if bad and scheme and not stats.non_finite:   # values the card's scheme lacks: one finding, its code
                yield make_finding("LABELS_SCHEME_MISMATCH", path, study_id=study_id, values=sorted(bad),
                                   allowed=sorted(labels), scheme=scheme, declared_in="dataset.yaml", voxels=bad)
            elif bad or stats.non_finite:
                yield make_finding("MASK_VALUES_UNEXPECTED", path, study_id=study_id, values=sorted(bad),
                                   allowed=sorted(labels), voxels=bad, non_finite=stats.non_finite)
            elif all(v == 0 for v in stats.values):
                yield make_finding("MASK_EMPTY", path, study_id=study_id)
            yield from _lesion_plausibility(facts, path, payload, study_id)
        elif kind.kind == "study":
            low, high = HU_RANGE
            if stats.non_finite or stats.below or stats.above:
                yield make_finding("IMAGE_INTENSITY_IMPLAUSIBLE", path, study_id=study_id,
                                   minimum=_number(stats.minimum) if stats.minimum is not None else None,
                                   maximum=_number(stats.maximum) if stats.maximum is not None else None,
                                   non_finite=stats.non_finite, low=low, high=high,
                                   below=stats.below, above=stats.above)
            if stats.minimum is not None and stats.maximum is not None and stats.minimum >= 0 and stats.maximum >= 500:
                yield make_finding("IMAGE_HU_OFFSET_MISSING", path, study_id=study_id,
                                   minimum=_number(stats.minimum), maximum=_number(stats.maximum))


def _trailing_data(path: str, payload: Payload, expected: int, study_id: int | None) -> Iterator[Finding]:
    """Bytes past vox_offset + voxels x bytes per voxel, in the (decompressed) stream or after the gzip stream."""
    extra_stream = max(0, payload.decompressed - expected)
    if not extra_stream and not payload.after_stream:  # the sum is io.payload.trailing_bytes
        return
    parts = []
    if extra_stream:
        members = f" in {payload.members} gzip members" if payload.members > 1 else ""
        what = "decompressed stream" if payload.members else "file"
        parts.append(f"the {what} holds {payload.decompressed:,} bytes{members}")
    if payload.after_stream:
        parts.append(f"{payload.after_stream:,} bytes that start no gzip member follow the end of the gzip stream")
    yield make_finding("IMAGE_TRAILING_DATA", path, study_id=study_id, extra_bytes=extra_stream + payload.after_stream,
                       expected_bytes=expected, found="; ".join(parts), actual_bytes=payload.decompressed,
                       after_stream=payload.after_stream, members=payload.members)


def _lesion_plausibility(facts: Facts, path: str, payload: Payload, study_id: int | None) -> Iterator[Finding]:
    lesion = payload.lesion
    if lesion is None or lesion.mean_hu is None:
        return
    rules = facts.profile.plausibility
    low, high = rules.lesion_hu
    mean = lesion.mean_hu
    far = mean < low - rules.lesion_hu_margin or mean > high + rules.lesion_hu_margin
    if far or lesion.air_fraction > rules.max_air_fraction:
        study = next((s for m, s, _ in facts.mask_pairs() if m == path), "")
        yield make_finding("MASK_IMPLAUSIBLE", path, study_id=study_id, study=study, mean_hu=round(mean, 1),
                           air_percent=round(100 * lesion.air_fraction, 1), low=_number(low), high=_number(high),
                           voxels=lesion.voxels)
