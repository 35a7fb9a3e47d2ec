"""Checksum manifests: parse, then compare every listed file with the disk."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from curator.catalogue import make_finding
from curator.checks.listing import Problem, compare, label, mismatch
from curator.io.facts import Facts
from curator.io.manifest import Manifest, ManifestEntries, ManifestEntry
from curator.models.findings import Finding

__all__ = ["CODES", "check", "differs", "findings", "label"]

CODES = frozenset({"MANIFEST_MISSING", "MANIFEST_MALFORMED", "CHECKSUM_MISMATCH", "FILE_MISSING", "FILE_UNLISTED",
                   "CHECKSUM_LISTING_INVALID"})
_PER_FILE = frozenset({"FILE_MISSING", "CHECKSUM_MISMATCH"})


def check(facts: Facts) -> Iterator[Finding]:
    if not facts.manifests and not facts.manifest_errors:
        yield make_finding("MANIFEST_MISSING", "")
        return
    for rel, reason in sorted(facts.manifest_errors.items()):
        yield make_finding("MANIFEST_MALFORMED", rel, line=0, reason=reason)
    yield from findings(facts, compare(facts.manifests, facts.root, facts.files, facts.digests))


def findings(facts: Facts, problems: Iterable[Problem]) -> Iterator[Finding]:
    """The findings of a listing's problems (checks.listing), with the study a missing or damaged file is of."""
    for problem in problems:
        study_id = _study_id(facts, problem.path) if problem.code in _PER_FILE else None
        yield make_finding(problem.code, problem.path, study_id=study_id, **problem.context)


def _study_id(facts: Facts, path: str) -> int | None:
    kind = facts.data_kind(path)
    return int(kind.groups["study_id"]) if kind and kind.groups.get("study_id") else None


def differs(manifests: list[Manifest]) -> Callable[[str, dict[str, str] | str], bool]:
    """Whether a file's digests (or why it could not be read) would make :func:`check` name it: they differ from
    one of its entries. validate keeps only those digests (``facts.digests``), judging the others as they are read.
    A compactly held listing (validate's, :class:`~curator.io.manifest.ManifestEntries`) is looked up in place; the
    entries of another are held by path while the files are hashed (no new strings: the entries' own)."""
    compact = [m.entries for m in manifests if isinstance(m.entries, ManifestEntries)]
    entries: dict[str, ManifestEntry | tuple[ManifestEntry, ...]] = {}
    for manifest in manifests:
        if isinstance(manifest.entries, ManifestEntries):
            continue
        for entry in manifest.entries:
            known = entries.get(entry.path)
            # an entry is itself a tuple (a NamedTuple): one path's several entries are a plain tuple of them
            entries[entry.path] = entry if known is None else (
                (known, entry) if isinstance(known, ManifestEntry) else (*known, entry))

    def differ(path: str, found: dict[str, str] | str) -> bool:
        listed = entries.get(path, ())
        if any(mismatch(entry, found, "") is not None
               for entry in ((listed,) if isinstance(listed, ManifestEntry) else listed)):
            return True
        for held in compact:
            entry = held.find(path)
            if entry is not None and mismatch(entry, found, "") is not None:
                return True
        return False
    return differ
