"""What the orchestrator gathered about a release, handed to every check."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from curator.io.inventory import Entry
from curator.io.manifest import Manifest
from curator.io.nifti import NiftiHeader
from curator.io.payload import Payload
from curator.io.registry import RegistryTable
from curator.models.profile import Profile
from curator.models.registry import RegistryRow


class DataKind(NamedTuple):
    """Which of the profile's data patterns a path matches: its kind ("study", "mask", "image", ...) and the named
    groups the pattern captured (``study_id``, ``case``, ``slice``)."""
    kind: str
    groups: dict[str, str]


@dataclass
class Facts:
    root: Path
    profile: Profile
    languages: list[str]
    entries: list[Entry]
    registry: RegistryTable | None = None
    registry_error: str | None = None
    registry_copy: RegistryTable | None = None      # the CSV twin, when the xlsx is the registry
    registry_copy_error: str | None = None
    rows: list[tuple[int, RegistryRow]] = field(default_factory=list)  # rows that passed their schema
    headers: dict[str, NiftiHeader | str] = field(default_factory=dict)  # path -> header or read error
    manifests: list[Manifest] = field(default_factory=list)
    manifest_errors: dict[str, str] = field(default_factory=dict)       # manifest path -> read error
    digests: dict[str, dict[str, str] | str] = field(default_factory=dict)  # path -> {algo: hex} or error
    payloads: dict[str, Payload] = field(default_factory=dict)           # --deep: NIfTI path -> one full read
    deep: bool = False
    jobs: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    scope: set[str] | None = None   # --changed-since: the only files whose contents are read and reported

    def is_release_file(self, path: str) -> bool:
        """One of the profile's non-data release files (README, LICENSE, figures/*.png, ...)."""
        return any(re.match(pattern, path) for pattern in self.profile.release_files)

    def in_scope(self, path: str) -> bool:
        return self.scope is None or path in self.scope  # what a profile's own gatherer read (DICOM series, ...)

    @property
    def files(self) -> dict[str, Entry]:
        return {e.path: e for e in self.entries if e.kind == "file"}

    def data_kind(self, path: str) -> DataKind | None:
        """The kind and named groups of the profile's data pattern ``path`` matches, or None."""
        for pattern in self.profile.data_files:
            match = pattern.regex.match(path)
            if match:
                return DataKind(pattern.kind, match.groupdict())
        return None

    @property
    def registry_name(self) -> str:
        return self.registry.path.name if self.registry else (self.profile.registry.path if self.profile.registry
                                                              else "registry")

    def mask_pairs(self) -> list[tuple[str, str, int]]:
        """(mask, study, study_id) from the registry rows, else from file names."""
        if self.rows:
            return [(row.mask_file.lstrip("/"), row.study_file.lstrip("/"), row.study_id)
                    for _, row in self.rows if row.mask_file]
        studies: dict[int, str] = {}
        masks: dict[int, str] = {}
        for path in self.files:
            kind = self.data_kind(path)
            if kind and kind.groups.get("study_id"):
                (studies if kind.kind == "study" else masks)[int(kind.groups["study_id"])] = path
        return [(masks[i], studies[i], i) for i in sorted(masks) if i in studies]
