"""Every check module, in the order they run, and the codes they can emit together.

Kept apart from ``curator/checks/__init__.py`` so that importing one check (as ``curator verify`` does) does not
import them all (the DICOM checks bring pydicom, ~0.5 s).
"""


from curator.checks import (
    dicom_series,
    headers,
    inventory,
    manifest,
    parts,
    payload,
    phi_paths,
    privacy_dicom,
    privacy_files,
    registry,
    release_docs,
    slices,
    waivers,
)
from curator.checks.build_codes import CODES as BUILD_CODES
from curator.checks.ingest_codes import CODES as INGEST_CODES

CHECK_MODULES = (inventory, registry, headers, manifest, payload, release_docs, slices, dicom_series, privacy_dicom,
                 privacy_files, phi_paths)
# the waiver codes come from applying the configuration to a run's findings, the parts codes from verify and the
# ingest codes from curator ingest, the build codes from curator build's look at its source
CODES: frozenset[str] = (frozenset().union(*(module.CODES for module in CHECK_MODULES)) | {"LAYOUT_UNRECOGNISED"}
                         | waivers.CODES | parts.CODES | INGEST_CODES | BUILD_CODES)

__all__ = ["CHECK_MODULES", "CODES"]
