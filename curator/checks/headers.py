"""NIfTI headers (fast tier): readable, sane, not truncated; masks on their study's grid."""

from __future__ import annotations

import math
from collections.abc import Iterator

from curator.catalogue import make_finding
from curator.checks.facts import Facts
from curator.checks.geometry import misalignment
from curator.io.nifti import NiftiHeader
from curator.models.findings import Finding

CODES = frozenset({"IMAGE_UNREADABLE", "IMAGE_HEADER_INVALID", "IMAGE_TRUNCATED", "MASK_SHAPE_MISMATCH",
                   "MASK_GEOMETRY_MISMATCH"})


def header_problems(header: NiftiHeader) -> list[str]:
    """Why a header cannot describe a volume in space; empty when it can."""
    problems = []
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


def truncation(header: NiftiHeader) -> tuple[int, int] | None:
    """(expected, actual) uncompressed sizes when the file is shorter than its header implies."""
    expected = header.data_bytes
    if header.compressed:
        # the gzip trailer holds the size modulo 2**32; a multi-member stream only its last member's
        if header.isize is not None and header.isize != expected % 2**32:
            return expected, header.isize
        return None
    if header.file_size < expected:
        return expected, header.file_size
    return None


def check(facts: Facts) -> Iterator[Finding]:
    for path, header in sorted(facts.headers.items()):
        kind = facts.data_kind(path)
        study_id = int(kind[1]["study_id"]) if kind and kind[1].get("study_id") else None
        if isinstance(header, str):
            yield make_finding("IMAGE_UNREADABLE", path, study_id=study_id, reason=header)
            continue
        for reason in header_problems(header):
            yield make_finding("IMAGE_HEADER_INVALID", path, study_id=study_id, reason=reason)
        sizes = None if path in facts.payloads else truncation(header)  # --deep knows better than the trailer
        if sizes:
            yield make_finding("IMAGE_TRUNCATED", path, study_id=study_id,
                               expected_bytes=sizes[0], actual_bytes=sizes[1])
    yield from _mask_grids(facts)


def mask_pairs(facts: Facts) -> list[tuple[str, str, int]]:
    """(mask, study, study_id) from the registry rows, else from file names."""
    if facts.rows:
        return [(row.mask_file.lstrip("/"), row.study_file.lstrip("/"), row.study_id)
                for _, row in facts.rows if row.mask_file]
    studies: dict[int, str] = {}
    masks: dict[int, str] = {}
    for path in facts.files:
        kind = facts.data_kind(path)
        if kind and kind[1].get("study_id"):
            (studies if kind[0] == "study" else masks)[int(kind[1]["study_id"])] = path
    return [(masks[i], studies[i], i) for i in sorted(masks) if i in studies]


def _mask_grids(facts: Facts) -> Iterator[Finding]:
    for mask_path, study_path, study_id in mask_pairs(facts):
        mask, study = facts.headers.get(mask_path), facts.headers.get(study_path)
        if not isinstance(mask, NiftiHeader) or not isinstance(study, NiftiHeader):
            continue  # missing or unreadable: reported elsewhere
        if mask.shape[:3] != study.shape[:3]:
            yield make_finding("MASK_SHAPE_MISMATCH", mask_path, study_id=study_id,
                               mask_shape=list(mask.shape), study=study_path, study_shape=list(study.shape))
            continue
        if mask.affine is None or study.affine is None:
            continue  # IMAGE_HEADER_INVALID says why
        off = misalignment(study.affine, mask.affine, study.shape)
        tolerance = facts.profile.geometry
        if off.mirrored or off.shift_voxels > tolerance.voxel_fraction or off.rotation_deg > tolerance.degrees:
            yield make_finding("MASK_GEOMETRY_MISMATCH", mask_path, study_id=study_id, study=study_path,
                               shift_mm=round(off.shift_mm, 3), shift_voxels=round(off.shift_voxels, 3),
                               rotation_deg=round(off.rotation_deg, 3),
                               spacing_ratio=[round(r, 4) for r in off.spacing_ratio], mirrored=off.mirrored,
                               tolerance={"voxel_fraction": tolerance.voxel_fraction,
                                          "degrees": tolerance.degrees})
