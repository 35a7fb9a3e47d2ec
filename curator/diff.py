"""``curator diff OLD NEW``: what changed between two releases, and what that means for the version number.

A NIfTI file whose bytes changed but whose decoded voxels and geometry did not was only repackaged (PATCH);
added studies are a MINOR change; changed or removed data is MAJOR.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curator.errors import RunError
from curator.executor import run_tasks
from curator.io import ReadError
from curator.io.compare import compare_volumes
from curator.io.hashing import hash_file
from curator.io.inventory import walk
from curator.io.registry import (
    XLSX_MAX_TOTAL_BYTES,
    RegistryReadError,
    RegistryTable,
    read_registry,
    registry_from_bytes,
)
from curator.io.remote import is_url, open_store
from curator.models.registry import REGISTRY_COLUMNS

if TYPE_CHECKING:
    from curator.remote_release import RemoteRelease

NIFTI = (".nii", ".nii.gz")
UNDECODED = ("the bytes differ; in object storage the voxels are not decoded, so a repackaging cannot be told from "
             "a change of data")
REGISTRY = ("dataset_registry.xlsx", "dataset_registry.csv")


@dataclass
class FileChange:
    path: str
    kind: str                        # "repackaged", "data changed", "geometry changed", "mask changed", "changed"
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReleaseDiff:
    old: str
    new: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[FileChange] = field(default_factory=list)
    registry: dict[str, list[int]] = field(default_factory=dict)  # rows added/removed/changed by study_id
    readmes: dict[str, dict[str, int]] = field(default_factory=dict)  # README -> lines added/removed

    @property
    def bump(self) -> str:
        data_kinds = {"data changed", "geometry changed", "mask changed"}
        studies_removed = [p for p in self.removed if p.endswith(NIFTI)]
        if studies_removed or any(c.kind in data_kinds for c in self.changed) or self.registry.get("removed") \
                or self.registry.get("changed"):
            return "MAJOR"
        if any(p.endswith(NIFTI) for p in self.added) or self.registry.get("added"):
            return "MINOR"
        if self.added or self.removed or self.changed or self.readmes:
            return "PATCH"
        return "NONE"

    def as_dict(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new, "semver": self.bump, "added": self.added, "removed": self.removed,
                "changed": [{"path": c.path, "kind": c.kind, **c.detail} for c in self.changed],
                "registry": self.registry, "readmes": self.readmes}


class _Side:
    """One release of the two: a local folder, or a release in object storage (``remote``), where files are
    compared by the store's checksums (else streamed once) and NIfTI voxels are not decoded."""

    def __init__(self, root: Path | str) -> None:
        self.remote: RemoteRelease | None = None
        if isinstance(root, str) and is_url(root):
            from curator.remote_release import RemoteRelease

            self.remote = RemoteRelease.open(open_store(root))
            self.root, self.name = self.remote.root, self.remote.store.url
            self.files = {rel: item.size for rel, item in self.remote.objects.items()}
            return
        self.root = Path(root)
        if not self.root.is_dir():
            raise RunError(f"{self.root} is not a folder")
        self.name = str(self.root)
        self.files = {e.path: e.size for e in walk(self.root) if e.kind == "file"}

    def sha256(self, paths: list[str], jobs: int | None) -> dict[str, str]:
        """Each path's SHA-256 (an empty string when it cannot be read)."""
        if self.remote is None:
            def one(path: str) -> str:
                try:
                    return hash_file(self.root / path, ["sha256"])["sha256"]
                except OSError:
                    return ""
            return dict(zip(paths, run_tasks(one, paths, jobs), strict=True))
        from curator.remote_release import object_digests

        found, _ = object_digests(self.remote.store, {p: {"sha256"} for p in paths}, self.remote.objects, jobs)
        return {p: d.get("sha256", "") if isinstance(d, dict) else "" for p, d in found.items()}

    def registry(self, name: str) -> RegistryTable:
        if self.remote is None:
            return read_registry(self.root / name, list(REGISTRY_COLUMNS))
        try:
            data = self.remote.read_document(self.root / name, XLSX_MAX_TOTAL_BYTES)
        except OSError as error:
            raise RegistryReadError(f"cannot read the file ({error})") from error
        return registry_from_bytes(data, self.root / name, list(REGISTRY_COLUMNS))

    def lines(self, path: str) -> list[str]:
        if self.remote is None:
            return (self.root / path).read_text(encoding="utf-8", errors="replace").splitlines()
        return (self.remote.text(path) or "").splitlines()


def _registry_rows(side: _Side) -> dict[int, tuple[Any, ...]] | None:
    for name in REGISTRY:
        if name in side.files:
            try:
                table = side.registry(name)
            except ReadError:
                return None
            rows: dict[int, tuple[Any, ...]] = {}
            for _, raw in table.rows:
                try:
                    key = int(raw["study_id"])
                except (TypeError, ValueError):
                    continue
                rows[key] = tuple("" if raw.get(c) is None else str(raw.get(c)) for c in REGISTRY_COLUMNS)
            return rows
    return None


def _classify(old: Path, new: Path, path: str) -> FileChange:
    if not path.endswith(NIFTI):
        return FileChange(path, "changed")
    comparison = compare_volumes(old / path, new / path)
    if not comparison.readable:
        return FileChange(path, "changed", {"note": "not readable as NIfTI on one side"})
    hidden = {side: value for side, value in (("old_trailing_bytes", comparison.old_trailing),
                                               ("new_trailing_bytes", comparison.new_trailing),
                                               ("old_stream_error", comparison.old_stream_error),
                                               ("new_stream_error", comparison.new_stream_error)) if value}
    if hidden and comparison.same_voxels:
        # the voxels agree, but bytes after them (a place to hide data) or a damaged stream are no repackaging
        return FileChange(path, "data changed", {"note": "the same voxels, but bytes after the last voxel or a "
                                                          "damaged gzip stream on one side", **hidden})
    if comparison.same_voxels and comparison.same_grid:
        return FileChange(path, "repackaged")
    if comparison.same_voxels:
        return FileChange(path, "geometry changed")
    if path.startswith("masks/"):
        dice = comparison.dice
        return FileChange(path, "mask changed", {"dice": round(dice, 4) if dice is not None else None,
                                                 "old_voxels": comparison.old_foreground,
                                                 "new_voxels": comparison.new_foreground})
    return FileChange(path, "data changed")


def diff_releases(old_root: Path | str, new_root: Path | str, jobs: int | None = None) -> ReleaseDiff:
    """OLD and NEW are folders, or releases in object storage given as URL text (s3://, http(s)://)."""
    old_side, new_side = _Side(old_root), _Side(new_root)
    old, new = old_side.root, new_side.root
    before, after = old_side.files, new_side.files
    result = ReleaseDiff(old=old_side.name, new=new_side.name, added=sorted(set(after) - set(before)),
                         removed=sorted(set(before) - set(after)))
    common = sorted(set(before) & set(after))
    same_size = [p for p in common if before[p] == after[p]]
    old_sums, new_sums = old_side.sha256(same_size, jobs), new_side.sha256(same_size, jobs)
    identical = {p for p in same_size if old_sums[p] and old_sums[p] == new_sums[p]}
    changed = [p for p in common if p not in identical]
    if old_side.remote is None and new_side.remote is None:
        result.changed = run_tasks(lambda p: _classify(old, new, p), changed, jobs)
    else:
        result.changed = [FileChange(p, "data changed", {"note": UNDECODED}) if p.endswith(NIFTI)
                          else FileChange(p, "changed") for p in changed]
    old_rows, new_rows = _registry_rows(old_side), _registry_rows(new_side)
    if old_rows is not None and new_rows is not None:
        result.registry = {
            "added": sorted(set(new_rows) - set(old_rows)),
            "removed": sorted(set(old_rows) - set(new_rows)),
            "changed": sorted(k for k in set(old_rows) & set(new_rows) if old_rows[k] != new_rows[k]),
        }
        result.registry = {k: v for k, v in result.registry.items() if v}
    for path in changed:
        if path.startswith("README_") and path.endswith(".md"):
            a, b = old_side.lines(path), new_side.lines(path)
            result.readmes[path] = {"lines_added": len(set(b) - set(a)), "lines_removed": len(set(a) - set(b))}
    return result
