"""A folder of archive parts, before extraction: each part safe and readable, and every member of the release
present in some part with the content the release's own SHA256SUMS (inside the parts) says."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from curator.catalogue import make_finding
from curator.checks.names import is_junk
from curator.io.archive_members import MAX_RATIO, MAX_TOTAL_BYTES, ArchiveListing
from curator.io.archive_read import unsafe_name
from curator.io.manifest import MANIFEST_ALGORITHMS, parse_manifest_bytes
from curator.models.findings import Finding, Severity

CODES = frozenset({"ARCHIVE_UNSAFE_MEMBER", "ARCHIVE_CORRUPT", "ARCHIVE_BOMB", "FILE_MISSING",
                   "CHECKSUM_MISMATCH", "FILE_UNLISTED", "MANIFEST_MISSING", "MANIFEST_MALFORMED"})
RELEASE_MANIFEST = "SHA256SUMS"


@dataclass
class PartsResult:
    findings: list[Finding] = field(default_factory=list)
    refetch_parts: set[str] = field(default_factory=set)


def check_parts(listings: dict[str, ArchiveListing], missing: Sequence[str] = ()) -> PartsResult:
    """Judge the listings of the parts (part name -> listing); ``missing`` names the listed parts not on disk.

    What is not found in the parts that could be read is said to be in the missing or unreadable ones, never
    "not on disk" or "no manifest" when the cause is a part to fetch again.
    """
    result = PartsResult()
    lost = sorted({*missing, *(part for part, listing in listings.items() if listing.error)})
    where: dict[str, tuple[str, str | None]] = {}   # member -> (part, digest)
    manifest_text: tuple[str, bytes] | None = None
    for part, listing in sorted(listings.items()):
        if listing.error:
            result.findings.append(make_finding("ARCHIVE_CORRUPT", part, reason=listing.error))
            result.refetch_parts.add(part)
        if listing.bomb:
            total, ratio = listing.bomb
            result.findings.append(make_finding("ARCHIVE_BOMB", part, total_bytes=total, ratio=round(ratio, 1),
                                                max_bytes=MAX_TOTAL_BYTES, max_ratio=MAX_RATIO))
        for member in listing.members:
            reason = unsafe_name(member.name) or (f"a {member.kind}" if member.kind not in ("file", "dir")
                                                  else None)
            if reason:
                result.findings.append(make_finding("ARCHIVE_UNSAFE_MEMBER", part, member=member.name,
                                                    reason=reason))
                continue
            if member.kind == "file":
                where.setdefault(member.name, (part, member.digest))
        if RELEASE_MANIFEST in listing.captured and manifest_text is None:
            manifest_text = (part, listing.captured[RELEASE_MANIFEST])
    if manifest_text is None:
        if lost:
            result.findings.append(make_finding("MANIFEST_MISSING", "", severity=Severity.error, variant="in_parts",
                                                parts=", ".join(lost)))
            result.refetch_parts.update(lost)
        else:
            result.findings.append(make_finding("MANIFEST_MISSING", "", severity=Severity.warning))
        return result
    holder, data = manifest_text
    manifest = parse_manifest_bytes(data, Path(RELEASE_MANIFEST))
    label = f"{RELEASE_MANIFEST} (in {holder})"
    for line, reason in manifest.problems:
        result.findings.append(make_finding("MANIFEST_MALFORMED", label, line=line, reason=reason))
    listed = set()
    for entry in manifest.entries:
        listed.add(entry.path)
        found = where.get(entry.path)
        if found is None and lost:
            result.findings.append(make_finding("FILE_MISSING", entry.path, listed_in=label, variant="in_parts",
                                                parts=", ".join(lost)))
        elif found is None:
            result.findings.append(make_finding("FILE_MISSING", entry.path, listed_in=label))
        elif found[1] != entry.digest:
            result.findings.append(make_finding("CHECKSUM_MISMATCH", entry.path, manifest=label,
                                                algorithm="sha256", part=found[0]))
            result.refetch_parts.add(found[0])
    for name, (part, _) in sorted(where.items()):
        if name not in listed and name not in MANIFEST_ALGORITHMS and not is_junk(name):
            result.findings.append(make_finding("FILE_UNLISTED", name, expected_in=label, part=part,
                                                severity=Severity.warning))
    return result
