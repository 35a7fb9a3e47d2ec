"""``curator verify``: is a downloaded copy complete and intact? Only the manifest is trusted.

Two stages: :func:`read_release` hashes what the manifest lists (through the cache) with light modules only, and
:func:`judge` turns that into the report. An intact release in text output needs no report at all
(:func:`intact_summary`), so a rerun over an unchanged release finishes in about the time Python takes to start,
without loading pydantic, the rule catalogue or the profiles.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING

from curator.checks.names import is_junk, is_repository_file
from curator.digests import check_root, hash_listed
from curator.errors import RunError
from curator.executor import Progress, run_tasks
from curator.io import ReadError
from curator.io.cache import Cache
from curator.io.inventory import Entry, walk
from curator.io.manifest import MANIFEST_ALGORITHMS, Manifest, parse_manifest
from curator.render.summary import summary_line

if TYPE_CHECKING:
    from curator.models.findings import Report

PARTS_LIST = "PARTS.tsv"
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz")
MANIFEST_PREFERENCE = ("SHA256SUMS", "SHA512SUMS", "XXH128SUMS", "MD5SUMS", "manifest-sha256.txt")


def choose_manifest(root: Path, name: str | None = None) -> Path:
    """``--manifest`` as given (a path, else a name inside ROOT), or the strongest manifest in ROOT."""
    if name:
        for path in (Path(name), root / name):
            if path.is_file():
                return path
        raise RunError(f"manifest {name} does not exist (looked in the current folder and in {root})")
    for candidate in MANIFEST_PREFERENCE:
        if (root / candidate).is_file() or (root / candidate).is_symlink():
            return root / candidate
    raise RunError(f"{root} has no checksum manifest ({', '.join(MANIFEST_PREFERENCE)}); nothing to verify against")


@dataclass
class Reading:
    """What verify saw: the tree, the manifest and every listed file's digests (or why it could not be read)."""

    root: Path
    manifest: Path
    started: float
    entries: list[Entry]
    parsed: Manifest | None = None               # None when the manifest is a link (it is not read)
    digests: dict[str, dict[str, str] | str] | None = None
    cache: dict[str, int] | None = None

    @property
    def files(self) -> dict[str, Entry]:
        return {e.path: e for e in self.entries if e.kind == "file"}


def read_release(root: Path | str, *, manifest: str | None = None, jobs: int | None = None,
                 cache_dir: Path | None = None, only: tuple[str, ...] = (),
                 progress: Progress | None = None) -> Reading:
    """Hash every file the manifest lists (files the cache knows unchanged are not read)."""
    started = time.perf_counter()
    root = Path(root)
    check_root(root)
    path = choose_manifest(root, manifest)
    reading = Reading(root=root, manifest=path, started=started, entries=walk(root))
    if manifest is None and path.is_symlink():  # never follow a link out of the release, nor trust one
        return reading
    try:
        parsed = parse_manifest(path)
    except ReadError as error:
        raise RunError(f"cannot read {path.name}: {error}") from error
    if only:
        parsed.entries = [e for e in parsed.entries if _selected(e.path, only)]
        reading.entries = [e for e in reading.entries if e.kind == "dir" or _selected(e.path, only)]
    reading.parsed = parsed
    cache = Cache(cache_dir) if cache_dir else None
    try:
        reading.digests = hash_listed(root, [parsed], reading.files, jobs, cache=cache, progress=progress)
    finally:
        if cache is not None:
            cache.close()
            reading.cache = {"hits": cache.hits, "misses": cache.misses}
    return reading


def intact_summary(reading: Reading) -> str | None:
    """The summary line when nothing at all is wrong (what :func:`judge` would report with no finding), else None.

    Conservative: anything the judgement might remark on (an unlisted file, a malformed line, a parts folder) sends
    the run through :func:`judge`.
    """
    parsed, digests = reading.parsed, reading.digests or {}
    if parsed is None or parsed.problems or not parsed.entries or (reading.root / PARTS_LIST).exists():
        return None
    files = reading.files
    for entry in parsed.entries:
        found = digests.get(entry.path)
        if entry.path not in files or not isinstance(found, dict) or found.get(entry.algorithm) != entry.digest:
            return None
    listed = {entry.path for entry in parsed.entries}
    for rel in files:
        if not (rel in listed or rel in MANIFEST_ALGORITHMS or is_junk(rel) or is_repository_file(rel)):
            return None
    seconds = round(time.perf_counter() - reading.started, 3)
    return summary_line("verify", str(reading.root), True, 0, 0, 0, len(files), sum(e.size for e in files.values()),
                        seconds, f"manifest {reading.manifest.name}")


def verify(root: Path | str, *, manifest: str | None = None, jobs: int | None = None,
           cache_dir: Path | None = None, only: tuple[str, ...] = (),
           progress: Progress | None = None) -> Report:
    """Check every file the manifest lists; files it does not list are reported as warnings.

    ``only`` limits the check to paths matching any of its globs (one category, the masks, ...). The report's
    stats carry ``refetch``: exactly the files to download again.
    """
    reading = read_release(root, manifest=manifest, jobs=jobs, cache_dir=cache_dir, only=only, progress=progress)
    return judge(reading, jobs)


def judge(reading: Reading, jobs: int | None = None) -> Report:
    """The report of a reading: missing, damaged and unlisted files, and inside a folder of archive parts."""
    from curator.catalogue import make_finding
    from curator.checks import manifest as manifest_check
    from curator.checks.facts import Facts
    from curator.checks.parts import check_parts
    from curator.io.archive_members import list_archive
    from curator.models.findings import Severity
    from curator.profiles import load_profiles
    from curator.runs import finish_report

    root, path, started = reading.root, reading.manifest, reading.started
    facts = Facts(root=root, profile=load_profiles()["mosmed"], languages=[], entries=reading.entries)
    if reading.parsed is None:
        finding = make_finding("FILE_UNSAFE", path.name, kind="symbolic link")
        return finish_report(root, None, [finding], facts, started, Severity.error, {"manifest": path.name})
    parsed = reading.parsed
    facts.manifests = [parsed]
    facts.digests = reading.digests or {}
    findings = []
    for finding in manifest_check.check(facts):
        if finding.code == "FILE_UNLISTED" and finding.path == PARTS_LIST:
            continue  # the parts list carries the parts' digests: it cannot be listed beside them
        if finding.code == "FILE_UNLISTED":  # extra files do not make the listed ones less intact
            finding = finding.model_copy(update={"severity": Severity.warning})
        findings.append(finding)
    refetch = sorted({f.path for f in findings if f.code in ("FILE_MISSING", "CHECKSUM_MISMATCH")})
    extra: dict[str, object] = {"manifest": path.name, "listed": len(parsed.entries), "refetch": refetch}
    if (root / PARTS_LIST).is_file():
        # a folder of archive parts: look inside every part that is there, before anyone extracts it
        parts = [e.path for e in parsed.entries if e.path.endswith(ARCHIVE_SUFFIXES) and e.path in facts.files]
        listings = run_tasks(lambda name: list_archive(root / name, capture=("SHA256SUMS",)), parts, jobs)
        inside = check_parts(dict(zip(parts, listings, strict=True)))
        findings += inside.findings
        extra["parts"] = len(parts)
        extra["refetch"] = sorted(set(refetch) | inside.refetch_parts)
    if reading.cache is not None:
        extra["cache"] = reading.cache
    return finish_report(root, None, findings, facts, started, Severity.error, extra)


def _selected(path: str, globs: tuple[str, ...]) -> bool:
    return any(fnmatchcase(path, glob) or fnmatchcase(path, glob.rstrip("/") + "/*") for glob in globs)
