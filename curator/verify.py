"""``curator verify``: is a downloaded copy complete and intact? Only the manifest is trusted.

Two stages: :func:`read_release` hashes what the manifest lists (through the cache) with light modules only, and
:func:`judge` turns that into the report. Text output needs no report at all
(:func:`quick_answer` words the findings from the compiled catalogue), so a rerun with the cache, over an intact
or a damaged release, finishes in about the time Python takes to start, without loading pydantic, yaml or the
profiles.
"""

from __future__ import annotations

import time
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from curator.checks.listing import compare
from curator.errors import OptionsError, RunError
from curator.executor import Progress, run_tasks
from curator.io import ReadError
from curator.io.cache import Cache
from curator.io.checksum_listings import (
    ListingShapeError,
    NoListing,
    find_listing,
    labels,
    listing_words,
    sum_file_unread,
)
from curator.io.inventory import Entry, walk
from curator.io.manifest import SUM_FILE, Manifest
from curator.models.severity import ORDER, sort_index
from curator.root_and_hashes import Unsorted, check_root, hash_listed, stream_listed
from curator.rule_texts import message, rule_texts
from curator.wording import GROUP_LIMIT, Line, group_lines, summary_line

if TYPE_CHECKING:
    from curator.checks.listing import Problem
    from curator.models.findings import Report

PARTS_LIST = "PARTS.tsv"
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz")
REFETCH_CODES = frozenset({"FILE_MISSING", "CHECKSUM_MISMATCH"})
_LEVEL = {"FILE_UNLISTED": "warning"}   # extra files do not make the listed ones less intact


def _find(root: Path, files: dict[str, Entry], against: str | None) -> list[Manifest] | Path:
    try:
        return find_listing(root, files, against)
    except ListingShapeError as error:
        raise OptionsError(str(error)) from error
    except NoListing as error:
        raise RunError(str(error)) from error
    except ReadError as error:
        raise RunError(f"cannot read {error}") from error


class Reading:
    """What verify saw: the tree, the checksum listing and every listed file's digests (or why it could not be read).

    ``listing`` holds the listing's files, read (one for a sum file or a Dataverse JSON, several for a bag or the
    md5 maps of several classes); ``parsed`` is its first, ``manifest`` that one's path.
    A plain class: this module avoids dataclasses, whose import (with inspect) is a tenth of a cached rerun.
    """

    def __init__(self, root: Path, manifest: Path, started: float, entries: list[Entry]) -> None:
        self.root, self.manifest, self.started, self.entries = root, manifest, started, entries
        self.listing: list[Manifest] = []
        self.parsed: Manifest | None = None     # None when the manifest is a link (it is not read)
        self.digests: dict[str, dict[str, str] | str] | None = None
        self.cache: dict[str, int | str] | None = None   # hits, misses and any warning of the cache
        self.url: str | None = None                      # a release in object storage: its URL (root is a name)
        self.checked_by: dict[str, dict[str, int]] | None = None   # URL: per manifest, objects checked how
        # a streamed comparison (one sum file, in path order): its problems, (files, bytes) on disk, paths listed;
        # then ``entries`` and ``digests`` stay empty
        self.problems: list[Problem] | None = None
        self.totals: tuple[int, int] | None = None
        self.listed = 0
        self._files: tuple[list[Entry], dict[str, Entry]] | None = None

    @property
    def files(self) -> dict[str, Entry]:
        """The regular files by path, made once (hashing and the answer both need it; 200,000 files are 0.1 s)."""
        if self._files is None or self._files[0] is not self.entries:
            self._files = (self.entries, {e.path: e for e in self.entries if e.kind == "file"})
        return self._files[1]

    @property
    def name(self) -> str:
        """The release as the report names it: its folder, or its URL."""
        return self.url or str(self.root)

    @property
    def parts_folder(self) -> bool:
        """A folder of archive parts (never looked for on a URL: only a local path is a folder)."""
        return self.url is None and (self.root / PARTS_LIST).is_file()

    @property
    def against(self) -> dict[str, object]:
        """What the report says it verified against: the primary file's name, the form and every file."""
        names = labels(self.listing, self.root) if self.listing else [self.manifest.name]
        form = self.parsed.form if self.parsed is not None else SUM_FILE
        return {"manifest": self.manifest.name, "form": form, **({"listings": names} if len(names) > 1 else {})}

    def words(self) -> str:
        names = labels(self.listing, self.root) if self.listing else [self.manifest.name]
        return listing_words(self.parsed.form if self.parsed is not None else SUM_FILE, names)


def read_release(root: Path | str, *, manifest: str | None = None, jobs: int | None = None,
                 cache_dir: Path | None = None, only: tuple[str, ...] = (),
                 progress: Progress | None = None) -> Reading:
    """Hash every file the checksum listing lists (files the cache knows unchanged are not read).

    ``manifest`` (``--against``) names the listing: a sum file, a BagIt ``bagit.txt``, or a JSON listing (md5 map,
    Dataverse, Zenodo, datapackage.json, Croissant); without it the listing is detected in ROOT.
    """
    started = time.perf_counter()
    if isinstance(root, str) and "://" in root:
        from curator.io.remote import is_url

        if is_url(root):
            return _read_remote(root, manifest, jobs, only, progress, started)
    root = Path(root)
    check_root(root)
    streamed = _streamed(root, manifest, jobs, cache_dir, only, progress, started)
    if streamed is not None:
        return streamed
    entries = walk(root)
    found = _find(root, {e.path: e for e in entries if e.kind == "file"}, manifest)
    if isinstance(found, Path):  # a manifest that is a link: never follow it out of the release, nor trust it
        return Reading(root=root, manifest=found, started=started, entries=entries)
    reading = Reading(root=root, manifest=found[0].path, started=started, entries=entries)
    if only:
        for listed in found:
            listed.entries = [e for e in listed.entries if _selected(e.path, only)]
        reading.entries = [e for e in reading.entries if e.kind == "dir" or _selected(e.path, only)]
    reading.listing, reading.parsed = found, found[0]
    cache = Cache(cache_dir) if cache_dir else None
    try:
        reading.digests = hash_listed(root, found, reading.files, jobs, cache=cache, progress=progress)
    finally:
        if cache is not None:
            cache.close()
            reading.cache = {"hits": cache.hits, "misses": cache.misses,
                             **({"warning": cache.warning} if cache.warning else {})}
    return reading


def _read_remote(url: str, manifest: str | None, jobs: int | None, only: tuple[str, ...],
                 progress: Progress | None, started: float) -> Reading:
    """verify of a release in object storage: the listing, the sum file, and each listed object's digests from the
    store's checksums where it keeps them, else streamed once. No cache: objects are not local files."""
    from curator import remote_release
    from curator.io.remote import open_store

    store = open_store(url)
    found, entries, files = remote_release.find_sum_file(store, manifest)
    root = remote_release.local_root(store)
    reading = Reading(root=root, manifest=found[0].path, started=started, entries=entries)
    reading.url = store.url
    if only:
        for listed in found:
            listed.entries = [e for e in listed.entries if _selected(e.path, only)]
        reading.entries = [e for e in reading.entries if e.kind == "dir" or _selected(e.path, only)]
    reading.listing, reading.parsed = found, found[0]
    wanted = {path: files[path] for path in reading.files}
    reading.digests, reading.checked_by = remote_release.digests(store, found, wanted, jobs, progress=progress)
    return reading


def _streamed(root: Path, manifest: str | None, jobs: int | None, cache_dir: Path | None, only: tuple[str, ...],
              progress: Progress | None, started: float) -> Reading | None:
    """The reading of a release whose listing is one sum file in path order, compared as a stream (memory does not
    grow with the entries); None when it is not one (then the listing is read whole)."""
    listing = None if (root / PARTS_LIST).exists() else sum_file_unread(root, manifest)
    if listing is None:
        return None
    cache = Cache(cache_dir) if cache_dir else None
    reading = Reading(root=root, manifest=listing.path, started=started, entries=[])
    try:
        found = stream_listed(root, listing, jobs, cache=cache, progress=progress,
                              select=(lambda path: _selected(path, only)) if only else None)
    except Unsorted:
        return None
    except ReadError as error:
        raise RunError(f"cannot read {listing.path.name}: {error}") from error
    finally:
        if cache is not None:
            cache.close()
            reading.cache = {"hits": cache.hits, "misses": cache.misses,
                             **({"warning": cache.warning} if cache.warning else {})}
    reading.listing, reading.parsed = [listing], listing
    reading.problems, reading.totals, reading.listed = found.problems, (found.files, found.bytes), found.listed
    return reading


# verify's text output and verdict, worded without the report models (the functional form: under
# `from __future__ import annotations` the class form would compile each field's annotation at import)
Answer = NamedTuple("Answer", [("text", str), ("valid", bool), ("refetch", list[str])])  # noqa: UP014


def quick_answer(reading: Reading, *, limit: int | None = GROUP_LIMIT, colour: bool = False) -> Answer | None:
    """The text :func:`judge`'s report would print, straight from the reading; None when the judgement needs more
    than the manifest comparison (a parts folder, or a manifest that is a link).

    A cached rerun of a damaged release is then answered in about the time Python takes to start: the findings are
    worded from the compiled catalogue, and pydantic, yaml and the profiles are never loaded.
    """
    parsed = reading.parsed
    if parsed is None or (reading.url is None and (reading.root / PARTS_LIST).exists()):
        return None
    files = reading.files
    levels = {code: rule["level"] for code, rule in rule_texts().items()}
    problems = reading.problems if reading.problems is not None else compare(reading.listing, reading.root, files,
                                                                             reading.digests or {})
    items = [Line(p.code, _LEVEL.get(p.code, levels[p.code]), p.path, message(p.code, p.path, **p.context))
             for p in problems]
    items.sort(key=lambda item: (sort_index(item.level), item.code, item.path))
    count = {level: sum(1 for item in items if item.level == level) for level in ORDER}
    seconds = round(time.perf_counter() - reading.started, 3)
    lines = group_lines(items, {code: rule["title"] for code, rule in rule_texts().items()}, limit=limit,
                        colour=colour)
    number, size = reading.totals or (len(files), sum(e.size for e in files.values()))
    lines.append(summary_line("verify", reading.name, count["error"] == 0, count["error"], count["warning"],
                              count["info"], number, size, seconds, reading.words()))
    refetch = sorted({item.path for item in items if item.code in REFETCH_CODES})
    return Answer("\n".join(lines) + "\n", count["error"] == 0, refetch)


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
    from curator.checks.parts import check_parts
    from curator.io.archive_members import list_archive
    from curator.io.facts import Facts
    from curator.models.findings import Severity
    from curator.profiles import load_profiles
    from curator.report_closing import finish_report

    root, path, started = reading.root, reading.manifest, reading.started
    facts = Facts(root=root, profile=load_profiles()["mosmed"], languages=[], entries=reading.entries)
    if reading.parsed is None:
        finding = make_finding("FILE_UNSAFE", path.name, kind="symbolic link")
        return finish_report(root, None, [finding], facts, started, Severity.error, reading.against)
    listed = sorted({e.path for m in reading.listing for e in m.entries})   # every file of the listing's files
    facts.manifests = reading.listing
    facts.digests = reading.digests or {}
    findings = []
    checked = manifest_check.check(facts) if reading.problems is None else manifest_check.findings(facts,
                                                                                                  reading.problems)
    for finding in checked:
        if finding.code == "FILE_UNLISTED" and finding.path == PARTS_LIST:
            continue  # the parts list carries the parts' digests: it cannot be listed beside them
        if finding.code in _LEVEL:
            finding = finding.model_copy(update={"severity": Severity(_LEVEL[finding.code])})
        findings.append(finding)
    refetch = sorted({f.path for f in findings if f.code in REFETCH_CODES})
    extra: dict[str, object] = {**reading.against, "listed": reading.listed if reading.problems is not None
                                else len(listed), "refetch": refetch}
    if reading.checked_by is not None:
        extra["checked_by"] = reading.checked_by
    if reading.parts_folder:
        # a folder of archive parts: look inside every part that is there, before anyone extracts it
        parts = [rel for rel in listed if rel.endswith(ARCHIVE_SUFFIXES) and rel in facts.files]
        listings = run_tasks(lambda name: list_archive(root / name, capture=("SHA256SUMS",)), parts, jobs)
        missing = [rel for rel in listed if rel.endswith(ARCHIVE_SUFFIXES) and rel not in facts.files]
        inside = check_parts(dict(zip(parts, listings, strict=True)), missing)
        findings += inside.findings
        extra["parts"] = len(parts)
        extra["refetch"] = sorted(set(refetch) | inside.refetch_parts)
    if reading.cache is not None:
        extra["cache"] = reading.cache
    report = finish_report(root, None, findings, facts, started, Severity.error, extra, totals=reading.totals)
    return report if reading.url is None else report.model_copy(update={"root": reading.url})


def _selected(path: str, globs: tuple[str, ...]) -> bool:
    return any(fnmatchcase(path, glob) or fnmatchcase(path, glob.rstrip("/") + "/*") for glob in globs)
