"""Judgement: functions that look at gathered facts and yield findings. No reading, no printing.

Every check module declares ``CODES``, the finding codes it can emit; a test keeps the union of them equal
to the active codes of the catalogue.
"""

from curator.checks import (
    dicom_series,
    headers,
    inventory,
    manifest,
    parts,
    payload,
    privacy_dicom,
    privacy_files,
    registry,
    release_docs,
    slices,
    waivers,
)

CHECK_MODULES = (inventory, registry, headers, manifest, payload, release_docs, slices, dicom_series, privacy_dicom,
                 privacy_files)
# the waiver codes come from applying the configuration to a run's findings, and the parts codes from verify
CODES: frozenset[str] = (frozenset().union(*(module.CODES for module in CHECK_MODULES)) | {"LAYOUT_UNRECOGNISED"}
                         | waivers.CODES | parts.CODES)

__all__ = ["CHECK_MODULES", "CODES"]
