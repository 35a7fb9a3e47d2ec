"""NIfTI headers (fast tier): readable, sane, not truncated; masks on their study's grid."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator

from curator.catalogue import make_finding
from curator.checks.geometry import axcodes, misalignment, voxel_order
from curator.io.facts import Facts
from curator.io.nifti import NiftiHeader
from curator.io.rows import PathList
from curator.models.findings import Finding

CODES = frozenset({"IMAGE_UNREADABLE", "IMAGE_HEADER_INVALID", "IMAGE_TRUNCATED", "MASK_SHAPE_MISMATCH",
                   "MASK_GEOMETRY_MISMATCH", "IMAGE_XFORM_INCONSISTENT", "IMAGE_HEADER_SUSPECT",
                   "ORIENTATION_INCONSISTENT", "MASK_DTYPE_INVALID"})

_SPATIAL_UNITS = {0: "unknown", 1: "metres", 2: "millimetres", 3: "micrometres"}


def header_problems(header: NiftiHeader) -> list[str]:
    """Why a header cannot describe a volume in space; empty when it can."""
    problems = list(header.problems)
    if any(n <= 0 for n in header.shape):
        problems.append(f"dimensions {list(header.shape)} must all be positive")
    spatial = len(header.shape[:3])
    zooms = header.pixdim_raw[1 : spatial + 1]
    if any(not math.isfinite(z) or z <= 0 for z in zooms):
        problems.append(f"voxel sizes {list(zooms)} must be positive and finite")
    if header.qform_code == 0 and header.sform_code == 0:
        problems.append("qform_code and sform_code are both 0: the image has no position in scanner space")
    if header.affine is None or not all(math.isfinite(v) for row in header.affine for v in row):
        problems.append("the spatial transform (affine) is not finite")
    if header.datatype.startswith("code "):
        problems.append(f"datatype {header.datatype} is not a NIfTI data type")
    return problems


def header_oddities(header: NiftiHeader) -> list[str]:
    """Legal but suspicious header values: readers have to guess what was meant."""
    oddities = []
    units = header.xyzt_units & 0x07
    if units != 2:
        oddities.append(f"spatial units are {_SPATIAL_UNITS.get(units, units)}, not millimetres (xyzt_units "
                        f"{header.xyzt_units}); readers will assume mm")
    qfac = header.pixdim_raw[0]
    if qfac not in (-1.0, 1.0) and header.qform_code > 0:
        oddities.append(f"qfac (pixdim[0]) is {qfac}, must be -1 or 1")
    for name, code in (("qform_code", header.qform_code), ("sform_code", header.sform_code)):
        if not 0 <= code <= 5:
            oddities.append(f"{name} is {code}, defined codes are 0..5")
    return oddities


def truncation(header: NiftiHeader) -> tuple[int, int] | None:
    """(expected, actual) uncompressed sizes when the file is shorter than its header implies."""
    expected = header.data_bytes
    if header.compressed:
        # the gzip trailer holds the size modulo 2**32; a multi-member stream only its last member's, so a
        # disagreement was measured by decompressing (stream_size) before it counts
        if header.isize is None or header.isize == expected % 2**32:
            return None
        if header.stream_size is not None and header.stream_error is None and header.stream_size >= expected:
            return None
        return expected, header.stream_size if header.stream_size is not None else header.isize
    if header.file_size < expected:
        return expected, header.file_size
    return None


def check(facts: Facts) -> Iterator[Finding]:
    for path, header in sorted(facts.headers.items()):
        yield from file_findings(facts, path, header)
    yield from _mask_grids(facts)
    yield from _orientations(facts)


def judge(facts: Facts, path: str, header: NiftiHeader | str) -> tuple[bool, str | None]:
    """What validate keeps of a header as it is read: whether :func:`file_findings` has anything to say of it
    (else the header need not be held for the check), and its voxel orientation when the orientation check counts it
    (``facts.orientations``)."""
    speaks = next(iter(file_findings(facts, path, header)), None) is not None
    return speaks, _orientation(header)


def count_orientation(facts: Facts, seen: dict[str, PathList], path: str, orientation: str) -> None:
    """``path`` added to its orientation's list in ``seen`` (what ``facts.orientations`` holds), as the walk's
    position when the walk holds it."""
    held = seen.get(orientation)
    if held is None:
        held = seen[orientation] = facts.path_list()
    held.append(path)


def _orientation(header: NiftiHeader | str) -> str | None:
    if isinstance(header, NiftiHeader) and header.affine is not None and not header_problems(header):
        return axcodes(header.affine)
    return None


def file_findings(facts: Facts, path: str, header: NiftiHeader | str) -> Iterator[Finding]:
    """What one header says by itself (the pairs and the orientations are judged across files)."""
    kind = facts.data_kind(path)
    study_id = int(kind.groups["study_id"]) if kind and kind.groups.get("study_id") else None
    if isinstance(header, str):
        yield make_finding("IMAGE_UNREADABLE", path, study_id=study_id, reason=header)
        return
    problems = header_problems(header)
    for reason in problems:
        yield make_finding("IMAGE_HEADER_INVALID", path, study_id=study_id, reason=reason)
    for reason in [] if problems else header_oddities(header):
        yield make_finding("IMAGE_HEADER_SUSPECT", path, study_id=study_id, reason=reason)
    if header.qform is not None and header.sform is not None and not problems and header.qform != header.sform:
        off = misalignment(header.sform, header.qform, header.shape)
        tolerance = facts.profile.geometry
        if off.shift_voxels > tolerance.voxel_fraction or off.rotation_deg > tolerance.degrees:
            yield make_finding("IMAGE_XFORM_INCONSISTENT", path, study_id=study_id,
                               shift_mm=round(off.shift_mm, 3), rotation_deg=round(off.rotation_deg, 3))
    if kind and kind.kind == "mask":
        type_problem = _mask_type_problem(header)
        if type_problem:
            yield make_finding("MASK_DTYPE_INVALID", path, study_id=study_id, datatype=header.datatype,
                               reason=type_problem)
    # --deep knows better than the trailer; an invalid header implies no size
    sizes = None if path in facts.payloads or problems else truncation(header)
    if sizes:
        measured = ("the file holds" if not header.compressed else "the gzip trailer records"
                    if header.stream_size is None else "the gzip stream decompresses to")
        yield make_finding("IMAGE_TRUNCATED", path, study_id=study_id, expected_bytes=sizes[0],
                           actual_bytes=sizes[1],
                           reason=f"the header implies {sizes[0]:,} bytes of uncompressed data, {measured} "
                                  f"{sizes[1]:,}" + (f" ({header.stream_error})" if header.stream_error else ""))


def _mask_type_problem(header: NiftiHeader) -> str | None:
    if header.datatype.startswith(("float", "complex")) or header.datatype.startswith("code "):
        return "a floating-point or unknown type"
    if (header.scl_slope, header.scl_inter) != (1.0, 0.0):
        return f"intensity scaling scl_slope={header.scl_slope}, scl_inter={header.scl_inter}"
    return None


def _orientations(facts: Facts) -> Iterator[Finding]:
    """One voxel orientation for the whole release; name the files that differ from the majority."""
    seen = facts.orientations   # validate counted them as the headers were read
    if seen is None:
        seen = {}
        for path, header in facts.headers.items():
            orientation = _orientation(header)
            if orientation is not None:
                count_orientation(facts, seen, path, orientation)
    if len(seen) < 2:
        return
    tally = Counter({orientation: len(paths) for orientation, paths in seen.items()})
    majority, count = tally.most_common(1)[0]
    if list(tally.values()).count(count) > 1:
        return  # no clear majority: nothing to call the odd one out
    for path, orientation in sorted((p, o) for o, paths in seen.items() if o != majority for p in paths):
        yield make_finding("ORIENTATION_INCONSISTENT", path, orientation=orientation, majority=majority,
                           count=count)


def _mask_grids(facts: Facts) -> Iterator[Finding]:
    for mask_path, study_path, study_id in facts.mask_pairs():
        mask, study = facts.headers.get(mask_path), facts.headers.get(study_path)
        if not isinstance(mask, NiftiHeader) or not isinstance(study, NiftiHeader):
            continue  # missing or unreadable: reported elsewhere
        tolerance = facts.profile.geometry
        order = (voxel_order(study.affine, mask.affine, study.shape, mask.shape, tolerance.voxel_fraction)
                 if mask.affine is not None and study.affine is not None else None)
        if order is not None and not order.identity:   # one world grid, another voxel order: not a shift
            yield make_finding("MASK_GEOMETRY_MISMATCH", mask_path, study_id=study_id, study=study_path,
                               variant="voxel_order", mask_order=order.mask_order, study_order=order.study_order,
                               flipped=order.flipped_axes, axis_order=order.axis_order)
            continue
        if mask.shape[:3] != study.shape[:3]:
            yield make_finding("MASK_SHAPE_MISMATCH", mask_path, study_id=study_id,
                               mask_shape=list(mask.shape), study=study_path, study_shape=list(study.shape))
            continue
        if mask.affine is None or study.affine is None:
            continue  # IMAGE_HEADER_INVALID says why
        off = misalignment(study.affine, mask.affine, study.shape)
        if off.mirrored or off.shift_voxels > tolerance.voxel_fraction or off.rotation_deg > tolerance.degrees:
            yield make_finding("MASK_GEOMETRY_MISMATCH", mask_path, study_id=study_id, study=study_path,
                               shift_mm=round(off.shift_mm, 3), shift_voxels=round(off.shift_voxels, 3),
                               axis=off.axis or "none",
                               rotation_deg=round(off.rotation_deg, 3),
                               spacing_ratio=[round(r, 4) for r in off.spacing_ratio], mirrored=off.mirrored,
                               tolerance={"voxel_fraction": tolerance.voxel_fraction,
                                          "degrees": tolerance.degrees})
