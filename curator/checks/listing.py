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
from curator.io.manifest import LINE_FORMS, MANIFEST_ALGORITHMS, Manifest


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
            if manifest.form in LINE_FORMS:
                yield Problem("MANIFEST_MALFORMED", rel, {"line": line, "reason": reason})
            else:
                yield Problem("CHECKSUM_LISTING_INVALID", rel, {"form": manifest.form, "reason": reason})
        for entry in manifest.entries:
            if entry.path not in files:
                yield Problem("FILE_MISSING", entry.path, {"listed_in": rel, "line": entry.line})
                continue
            found = digests.get(entry.path)
            if isinstance(found, str):
                yield Problem("CHECKSUM_MISMATCH", entry.path, {"manifest": rel, "algorithm": entry.algorithm,
                                                                "expected": entry.digest, "actual": None,
                                                                "reason": found})
            elif found is not None and found.get(entry.algorithm) != entry.digest:
                yield Problem("CHECKSUM_MISMATCH", entry.path, {"manifest": rel, "algorithm": entry.algorithm,
                                                                "expected": entry.digest,
                                                                "actual": found.get(entry.algorithm)})
    if not manifests:
        return
    listed = {entry.path for entry in manifests[0].entries} | manifests[0].accounts_for
    primary = label(manifests[0].path, root)
    for path in files:
        if not (path in listed or path in MANIFEST_ALGORITHMS or is_junk(path) or is_repository_file(path)):
            yield Problem("FILE_UNLISTED", path, {"expected_in": primary})


def label(path: Path, root: Path) -> str:
    """How a manifest is named in findings: relative to the root, or by its own path when outside it."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
