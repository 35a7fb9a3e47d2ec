"""``curator verify``: is a downloaded copy complete and intact? Only the manifest is trusted."""

from __future__ import annotations

import time
from fnmatch import fnmatchcase
from pathlib import Path

from curator.catalogue import make_finding
from curator.checks import manifest as manifest_check
from curator.checks.facts import Facts
from curator.checks.parts import check_parts
from curator.errors import RunError
from curator.executor import Progress, run_tasks
from curator.io import ReadError
from curator.io.archive_members import list_archive
from curator.io.cache import Cache
from curator.io.inventory import walk
from curator.io.manifest import parse_manifest
from curator.models.findings import Report, Severity
from curator.profiles import load_profiles
from curator.runs import check_root, finish_report, hash_listed

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


def verify(root: Path | str, *, manifest: str | None = None, jobs: int | None = None,
           cache_dir: Path | None = None, only: tuple[str, ...] = (),
           progress: Progress | None = None) -> Report:
    """Check every file the manifest lists; files it does not list are reported as warnings.

    ``only`` limits the check to paths matching any of its globs (one category, the masks, ...). The report's
    stats carry ``refetch``: exactly the files to download again.
    """
    started = time.perf_counter()
    root = Path(root)
    check_root(root)
    path = choose_manifest(root, manifest)
    facts = Facts(root=root, profile=load_profiles()["mosmed"], languages=[], entries=walk(root))
    if manifest is None and path.is_symlink():  # never follow a link out of the release, nor trust one
        finding = make_finding("FILE_UNSAFE", path.name, kind="symbolic link")
        return finish_report(root, None, [finding], facts, started, Severity.error, {"manifest": path.name})
    try:
        parsed = parse_manifest(path)
    except ReadError as error:
        raise RunError(f"cannot read {path.name}: {error}") from error
    if only:
        parsed.entries = [e for e in parsed.entries if _selected(e.path, only)]
        facts.entries = [e for e in facts.entries if e.kind == "dir" or _selected(e.path, only)]
    facts.manifests = [parsed]
    cache = Cache(cache_dir) if cache_dir else None
    try:
        facts.digests = hash_listed(root, [parsed], facts.files, jobs, cache=cache, progress=progress)
    finally:
        if cache is not None:
            cache.close()
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
    if cache is not None:
        extra["cache"] = {"hits": cache.hits, "misses": cache.misses}
    return finish_report(root, None, findings, facts, started, Severity.error, extra)


def _selected(path: str, globs: tuple[str, ...]) -> bool:
    return any(fnmatchcase(path, glob) or fnmatchcase(path, glob.rstrip("/") + "/*") for glob in globs)
