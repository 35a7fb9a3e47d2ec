"""Checksum manifests: parse, then compare every listed file with the disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from curator.catalogue import make_finding
from curator.checks.facts import Facts
from curator.checks.names import is_junk, is_repository_file
from curator.io.manifest import MANIFEST_ALGORITHMS
from curator.models.findings import Finding

CODES = frozenset({"MANIFEST_MISSING", "MANIFEST_MALFORMED", "CHECKSUM_MISMATCH", "FILE_MISSING", "FILE_UNLISTED"})


def check(facts: Facts) -> Iterator[Finding]:
    if not facts.manifests and not facts.manifest_errors:
        yield make_finding("MANIFEST_MISSING", "")
        return
    for rel, reason in sorted(facts.manifest_errors.items()):
        yield make_finding("MANIFEST_MALFORMED", rel, line=0, reason=reason)
    files = facts.files
    for manifest in facts.manifests:
        rel = label(manifest.path, facts.root)
        for line, reason in manifest.problems:
            yield make_finding("MANIFEST_MALFORMED", rel, line=line, reason=reason)
        if not manifest.entries and not manifest.problems:
            yield make_finding("MANIFEST_MALFORMED", rel, line=0, reason="the manifest lists no files")
        for entry in manifest.entries:
            study_id = _study_id(facts, entry.path)
            if entry.path not in files:
                yield make_finding("FILE_MISSING", entry.path, study_id=study_id, listed_in=rel, line=entry.line)
                continue
            digests = facts.digests.get(entry.path)
            if isinstance(digests, str):
                yield make_finding("CHECKSUM_MISMATCH", entry.path, study_id=study_id, manifest=rel,
                                   algorithm=entry.algorithm, expected=entry.digest, actual=None, reason=digests)
            elif digests is not None and digests.get(entry.algorithm) != entry.digest:
                yield make_finding("CHECKSUM_MISMATCH", entry.path, study_id=study_id, manifest=rel,
                                   algorithm=entry.algorithm, expected=entry.digest,
                                   actual=digests.get(entry.algorithm))
    primary = facts.manifests[0] if facts.manifests else None
    if primary is None:
        return
    listed = {entry.path for entry in primary.entries}
    primary_rel = label(primary.path, facts.root)
    for path in files:
        if path in listed or path in MANIFEST_ALGORITHMS or is_junk(path) or is_repository_file(path):
            continue
        yield make_finding("FILE_UNLISTED", path, expected_in=primary_rel)


def label(path: Path, root: Path) -> str:
    """How a manifest is named in findings: relative to the root, or by its own path when outside it."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _study_id(facts: Facts, path: str) -> int | None:
    kind = facts.data_kind(path)
    return int(kind[1]["study_id"]) if kind and kind[1].get("study_id") else None
