"""``curator diff OLD NEW``: what changed between two releases, and what that means for the version number.

A NIfTI file whose bytes changed but whose decoded voxels and geometry did not was only repackaged (PATCH);
added studies are a MINOR change; changed or removed data is MAJOR.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curator.errors import RunError
from curator.executor import run_tasks
from curator.io import ReadError
from curator.io.compare import compare_volumes
from curator.io.hashing import hash_file
from curator.io.inventory import walk
from curator.io.registry import read_registry
from curator.models.registry import REGISTRY_COLUMNS

NIFTI = (".nii", ".nii.gz")
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


def _files(root: Path) -> dict[str, int]:
    return {e.path: e.size for e in walk(root) if e.kind == "file"}


def _registry_rows(root: Path) -> dict[int, tuple[Any, ...]] | None:
    for name in REGISTRY:
        if (root / name).is_file():
            try:
                table = read_registry(root / name, list(REGISTRY_COLUMNS))
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


def diff_releases(old: Path | str, new: Path | str, jobs: int | None = None) -> ReleaseDiff:
    old, new = Path(old), Path(new)
    for root in (old, new):
        if not root.is_dir():
            raise RunError(f"{root} is not a folder")
    before, after = _files(old), _files(new)
    result = ReleaseDiff(old=str(old), new=str(new), added=sorted(set(after) - set(before)),
                         removed=sorted(set(before) - set(after)))
    common = sorted(set(before) & set(after))
    same_size = [p for p in common if before[p] == after[p]]

    def digest_pair(path: str) -> bool:
        return hash_file(old / path, ["sha256"]) == hash_file(new / path, ["sha256"])

    identical = {p for p, same in zip(same_size, run_tasks(digest_pair, same_size, jobs), strict=True) if same}
    changed = [p for p in common if p not in identical]
    result.changed = run_tasks(lambda p: _classify(old, new, p), changed, jobs)
    old_rows, new_rows = _registry_rows(old), _registry_rows(new)
    if old_rows is not None and new_rows is not None:
        result.registry = {
            "added": sorted(set(new_rows) - set(old_rows)),
            "removed": sorted(set(old_rows) - set(new_rows)),
            "changed": sorted(k for k in set(old_rows) & set(new_rows) if old_rows[k] != new_rows[k]),
        }
        result.registry = {k: v for k, v in result.registry.items() if v}
    for path in changed:
        if path.startswith("README_") and path.endswith(".md"):
            a = (old / path).read_text(encoding="utf-8", errors="replace").splitlines()
            b = (new / path).read_text(encoding="utf-8", errors="replace").splitlines()
            result.readmes[path] = {"lines_added": len(set(b) - set(a)), "lines_removed": len(set(a) - set(b))}
    return result
