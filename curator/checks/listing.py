"""A manifest's listing against the disk and the digests read: plain records, no report models.

:mod:`curator.checks.manifest` turns these into findings for ``validate`` and ``verify``'s report; ``verify``'s text
answer words them straight from the compiled catalogue (:mod:`curator.rule_texts`) without loading pydantic.
"""

# No `from __future__ import annotations` here: a NamedTuple would compile each string annotation when the module
# loads (about 0.7 ms a field), a cost `curator verify` pays on every run.

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from curator.checks.names import is_junk, is_repository_file
from curator.io.manifest import LINE_FORMS, MANIFEST_ALGORITHMS, Manifest, ManifestEntries, ManifestEntry


class Problem(NamedTuple):
    code: str
    path: str
    context: dict[str, Any]


def compare(manifests: list[Manifest], root: Path, files: Mapping[str, object],
            digests: Mapping[str, dict[str, str] | str]) -> Iterator[Problem]:
    """Malformed lines (or unusable entries of a JSON listing), listed files missing or not matching, and files the
    first manifest does not list nor account for."""
    for manifest in manifests:
        rel = label(manifest.path, root)
        problems = manifest.problems
        if not manifest.entries and not manifest.problems:
            problems = [(0, "the manifest lists no files" if manifest.form in LINE_FORMS else "it lists no files")]
        for line, reason in problems:
            yield malformed(manifest.form, rel, line, reason)
        for entry in manifest.entries:
            if entry.path not in files:
                yield missing(entry, rel)
                continue
            problem = mismatch(entry, digests.get(entry.path), rel)
            if problem is not None:
                yield problem
    if not manifests:
        return
    first = manifests[0].entries
    # a compactly held listing is looked up in place (no set of a million paths)
    lists = first.lists if isinstance(first, ManifestEntries) else {entry.path for entry in first}.__contains__
    primary = label(manifests[0].path, root)
    for path in files:
        if not (lists(path) or accounted_for(path, manifests[0].accounts_for)):
            yield Problem("FILE_UNLISTED", path, {"expected_in": primary})


# One problem each: compare() above and verify's streamed comparison of a large sum file
# (curator.root_and_hashes.stream_listed) word them alike.

def malformed(form: str, rel: str, line: int, reason: str) -> Problem:
    if form in LINE_FORMS:
        return Problem("MANIFEST_MALFORMED", rel, {"line": line, "reason": reason})
    return Problem("CHECKSUM_LISTING_INVALID", rel, {"form": form, "reason": reason})


def missing(entry: ManifestEntry, rel: str) -> Problem:
    return Problem("FILE_MISSING", entry.path, {"listed_in": rel, "line": entry.line})


def mismatch(entry: ManifestEntry, found: dict[str, str] | str | None, rel: str) -> Problem | None:
    """CHECKSUM_MISMATCH when the digests read (or why the file could not be read) do not match the entry."""
    if isinstance(found, str):
        return Problem("CHECKSUM_MISMATCH", entry.path, {"manifest": rel, "algorithm": entry.algorithm,
                                                         "expected": entry.digest, "actual": None, "reason": found})
    if found is not None and found.get(entry.algorithm) != entry.digest:
        return Problem("CHECKSUM_MISMATCH", entry.path, {"manifest": rel, "algorithm": entry.algorithm,
                                                         "expected": entry.digest,
                                                         "actual": found.get(entry.algorithm)})
    return None


def accounted_for(path: str, accounts_for: frozenset[str]) -> bool:
    """A file on disk that need not be listed: the listing's own files, other sum files, OS litter, a
    repository's files."""
    return path in accounts_for or path in MANIFEST_ALGORITHMS or is_junk(path) or is_repository_file(path)


def label(path: Path, root: Path) -> str:
    """How a manifest is named in findings: relative to the root, or by its own path when outside it."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
