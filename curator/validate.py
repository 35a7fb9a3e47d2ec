"""``curator validate``: gather facts about a release, run the checks, make a report."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from functools import partial
from importlib import import_module
from pathlib import Path
from typing import NamedTuple

from curator.catalogue import make_finding, rules_for_selector
from curator.checks import headers as headers_check
from curator.checks import manifest as manifest_check
from curator.checks import registry as registry_check
from curator.checks.all_checks import CHECK_MODULES
from curator.checks.waivers import apply_config
from curator.config import find_config, load_config
from curator.errors import OptionsError, RunError
from curator.executor import Progress, run_tasks
from curator.gc_pauses import fewer_collections
from curator.io import ReadError
from curator.io.cache import Cache, file_keys
from curator.io.card import load_card
from curator.io.deid_table import DEID_EDITION
from curator.io.facts import Facts, Readme, Walk
from curator.io.git import changed_files
from curator.io.inventory import walk_entries
from curator.io.manifest import read_manifest
from curator.io.nifti import NiftiHeader, header_from_json, header_to_json, read_header
from curator.io.payload import Payload, scan_unit
from curator.io.registry import (
    PATH_COLUMNS,
    XLSX_MAX_TOTAL_BYTES,
    RegistryReadError,
    RegistryTable,
    read_registry,
    registry_from_bytes,
)
from curator.io.remote import is_url, open_store
from curator.io.rows import PathList
from curator.models.card import DatasetCard
from curator.models.config import ValidationConfig
from curator.models.findings import Finding, Report, Severity
from curator.models.profile import Profile
from curator.profiles import detect_profile, detect_profile_in, get_profile, load_profiles
from curator.report_closing import finish_report
from curator.root_and_hashes import check_root, hash_listed

__all__ = ["OptionsError", "RunError", "ValidateOptions", "check_root", "read_registries", "validate"]


PhaseProgress = Callable[[str, int, int], None]   # (phase, tasks done, tasks in all)

# readers that run for every profile after the profile's own gatherer: "module:function", each taking Facts
# and storing what it read in its own field of Facts (the privacy audit's readers register here). A reader runs
# only when a check that declares it in its READERS has a selected code: `--ignore privacy` reads no file for
# the audit.
GATHERERS: tuple[str, ...] = ("curator.io.dicom_audit:gather", "curator.io.privacy_files:gather")
SLICES_GATHERER = "curator.io.slices:gather"   # the profile gatherers that also read objects in a store
DICOM_GATHERER = "curator.io.dicom:gather"


@dataclass(frozen=True)
class ValidateOptions:
    """What to check and how. Options left at None fall back to the release's configuration file
    (curator.toml or [tool.curator] in pyproject.toml), then to the defaults."""

    profile: str | None = None
    fail_on: Severity | None = None
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    jobs: int | None = None
    checksums: bool = True
    deep: bool = False
    progress: PhaseProgress | None = field(default=None, compare=False)
    tolerance_voxels: float | None = None    # overrides the profile's geometry tolerance
    tolerance_degrees: float | None = None
    identifiers: Path | None = None          # the curator's secret list of names and IDs to look for
    cache_dir: Path | None = None            # persistent cache of digests and headers; None: no cache
    changed_since: str | None = None         # git ref: read only files changed since it (+ dataset-level files)
    config: ValidationConfig | None = None   # given settings; else config_file; else found in the root
    config_file: Path | None = None
    discover_config: bool = True
    today: dt.date | None = None             # for waiver expiry; today's date when None


@dataclass
class _Selection:
    select: set[str] | None = None
    ignore: set[str] = field(default_factory=set)

    def keeps(self, code: str) -> bool:
        return (self.select is None or code in self.select) and code not in self.ignore


def _selection(options: ValidateOptions) -> _Selection:
    def expand(items: Iterable[str]) -> set[str]:
        codes: set[str] = set()
        for item in items:
            found = rules_for_selector(item)
            if not found:
                raise OptionsError(f"{item!r} is neither a finding code nor a tag; see `curator rules`")
            codes |= found
        return codes

    return _Selection(expand(options.select) if options.select else None, expand(options.ignore))


MAX_TEXT = 4 << 20  # a README or LICENSE larger than this is not read for the text checks


def _card(root: Path) -> DatasetCard | None:
    """The release's own dataset.yaml, when it has a readable one."""
    card_path = root / "dataset.yaml"
    if card_path.is_file() and not card_path.is_symlink():
        try:
            return load_card(card_path)
        except ReadError:
            return None
    return None


def _text(path: Path) -> str | None:
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_TEXT:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _read_documents(facts: Facts, card: DatasetCard | None) -> None:
    """README per language, LICENSE and the card, for the licence, attribution and statistics checks."""
    facts.card = card
    facts.licence_text = _text(facts.root / "LICENSE")
    for lang in facts.languages:
        name = f"README_{lang.upper()}.md"
        text = _text(facts.root / name)
        if text is not None:
            facts.readmes[lang] = Readme(name, text)


def readers_needed(keeps: Callable[[str], bool]) -> set[str]:
    """The GATHERERS that some check with a selected code declares it needs (its ``READERS``)."""
    return {reader for module in CHECK_MODULES if any(keeps(code) for code in module.CODES)
            for reader in getattr(module, "READERS", ())}


def read_registries(facts: Facts, *, copy: bool = True,
                    read: Callable[[Path, int], bytes] | None = None) -> None:
    """The profile's registry (the workbook, else its CSV) into ``facts.registry`` and the rows that pass their
    schema into ``facts.rows``; with ``copy``, also the CSV copy beside a workbook. Reading problems are stored
    in ``facts.registry_error``/``registry_copy_error``, never raised. validate and the review page read so.
    ``read(path, limit)`` gives a file's bytes some other way (a release in object storage)."""
    spec, files, root = facts.profile.registry, facts.files, facts.root
    if spec is None:
        return

    def table(path: Path, sheet: str | None) -> RegistryTable:
        if read is None:
            return read_registry(path, spec.columns, sheet)
        try:
            data = read(path, XLSX_MAX_TOTAL_BYTES)
        except OSError as error:
            raise RegistryReadError(f"cannot read the file ({error})") from error
        return registry_from_bytes(data, path, spec.columns, sheet)

    main = spec.path if spec.path in files else (spec.csv if spec.csv and spec.csv in files else None)
    if main is not None:
        try:
            facts.registry = table(root / main, spec.sheet)
        except ReadError as error:
            facts.registry_error = str(error)
        if copy and spec.csv and main != spec.csv and spec.csv in files:
            try:
                facts.registry_copy = table(root / spec.csv, None)
            except ReadError as error:
                facts.registry_copy_error = str(error)
    if isinstance(facts.entries, Walk):   # a listed file's path held once, by the walk (issue 15)
        for read_table in (facts.registry, facts.registry_copy):
            if read_table is not None:
                read_table.rows.share_paths(PATH_COLUMNS, facts.entries.position, facts.entries.path)
    facts.rows, _ = registry_check.parse_rows(facts)


def gather(root: Path, profile: Profile, options: ValidateOptions, cache: Cache | None = None,
           readers: set[str] | None = None) -> Facts:
    """Read everything the checks need (of GATHERERS, only ``readers`` when given); reading problems are stored,
    never raised."""
    card = _card(root)
    facts = Facts(root=root, profile=profile, languages=list(card.languages if card else profile.languages),
                  entries=Walk(walk_entries(root)), deep=options.deep, jobs=options.jobs,
                  identifiers=options.identifiers)
    if options.changed_since:
        facts.scope = _scope(facts, changed_files(root, options.changed_since))
    _read_documents(facts, card)
    files = facts.files
    read_registries(facts)

    for name in profile.manifests:
        if name not in files:
            continue
        try:
            facts.manifests.append(read_manifest(root / name, on_disk=files))
        except ReadError as error:
            facts.manifest_errors[name] = str(error)

    nifti_paths = facts.file_paths(lambda p: p.endswith((".nii", ".nii.gz")) and facts.in_scope(p))
    if options.deep:
        _scan_payloads(facts, nifti_paths, options.jobs, options.progress)
    else:
        _judge_headers(facts, _read_headers(root, nifti_paths, options, cache))
    wanted = tuple(g for g in GATHERERS if readers is None or g in readers)
    for gatherer in ((profile.gatherer,) if profile.gatherer else ()) + wanted:
        module, function = gatherer.split(":")
        read = getattr(import_module(module), function)
        as_read = AS_READ.get(gatherer, AsRead())
        with fewer_collections(as_read.collect_every) if as_read.collect_every else nullcontext():
            read(facts, **as_read.given(facts, wanted))
    if options.checksums:
        rest = files if not facts.payloads and facts.scope is None else {   # no release-sized copy when all are
            p: e for p, e in files.items() if p not in facts.payloads and facts.in_scope(p)}   # still to hash
        facts.digests.update(hash_listed(root, facts.manifests, rest, options.jobs,
                                         progress=_phase(options.progress, "checksums"), cache=cache,
                                         keep=manifest_check.differs(facts.manifests)))
    return facts


def _keep_audits(facts: Facts, wanted: tuple[str, ...]) -> dict[str, object]:
    """privacy_files.gather's ``keep``: only the audits the check finds something in are kept."""
    from curator.checks.privacy_files import says_something

    return {"keep": says_something(facts)}


def _judge_dicom(facts: Facts, wanted: tuple[str, ...]) -> dict[str, object]:
    """The DICOM readers' ``task`` and ``judge``: each audited file judged in the worker that read it
    (:func:`curator.dicom_judging.judged_batch`: checks.privacy_dicom.judge_file, and the path components carrying
    its identity: checks.phi_paths.path_matches), its findings rebuilt here as it arrives (a file read in this
    process is judged here); kept in ``facts.dicom_judged`` and ``facts.dicom_path_matches`` for the checks. A
    worker sends each file's elements back only for ``--identifiers`` (the only check still reading them). Nothing
    when the privacy checks do not run (their reader not wanted)."""
    if "curator.io.dicom_audit:gather" not in wanted:
        return {}
    from curator.checks.phi_paths import path_matches
    from curator.checks.privacy_dicom import judge_file
    from curator.dicom_judging import JudgedFile, judged_batch, rebuilt
    from curator.io.dicom_audit import AuditedFile

    judged: dict[str, list[Finding]] = {}
    matched: dict[str, list[tuple[int, str, tuple[str, ...]]]] = {}
    facts.dicom_judged, facts.dicom_path_matches = judged, matched

    def judge(audited: AuditedFile) -> None:   # (judged here when read here: one batch, or --jobs 1)
        path = audited.path
        if isinstance(audited, JudgedFile) and audited.matches is not None:
            judged[path], matched[path] = rebuilt(audited), audited.matches
        else:
            judged[path], matched[path] = list(judge_file(audited)), path_matches(path, audited)

    return {"judge": judge, "task": partial(judged_batch, elements=facts.identifiers is not None)}


def _nothing(facts: Facts, wanted: tuple[str, ...]) -> dict[str, object]:
    return {}


class AsRead(NamedTuple):
    """How a gatherer of gather's loop runs besides being given Facts."""

    # its keyword arguments, made from the facts and the readers wanted: a judgement of each thing it reads, made
    # as it is read
    given: Callable[[Facts, tuple[str, ...]], dict[str, object]] = _nothing
    # while it reads, the first generation collected every so many new objects instead of 700
    # (curator.gc_pauses): for a reader whose results, many objects a file, live on; None: Python's default
    collect_every: int | None = None


COLLECT_EVERY = 100_000   # the DICOM readers' results (~25 findings a file) arrive: full collections 4 -> 1

AS_READ: dict[str, AsRead] = {
    "curator.io.privacy_files:gather": AsRead(_keep_audits),
    # (the audit's own gather, for --deep and other profiles: judged by the check)
    DICOM_GATHERER: AsRead(_judge_dicom, collect_every=COLLECT_EVERY),
}


def _scope(facts: Facts, changed: set[str]) -> set[str]:
    """The changed files, their study/mask partners (a grid check needs both), and the dataset-level files."""
    scope = set(changed)
    for mask, study, _ in facts.mask_pairs():
        if mask in changed or study in changed:
            scope |= {mask, study}
    roots = tuple(r.rstrip("/") + "/" for r in facts.profile.data_roots)
    scope |= {p for p in facts.files if "/" not in p and not p.startswith(roots)}
    return scope


HEADER_CHUNK = 4096   # headers looked up, read and cached a chunk at a time: no release-sized cache keys or JSON


def _judge_headers(facts: Facts, headers: Iterator[tuple[str, NiftiHeader | str]]) -> None:
    """Each header judged as it is read (checks.headers.judge): only those with a finding of their own, or in a
    mask pair (judged across files), are kept in ``facts.headers``; every readable one's orientation is counted in
    ``facts.orientations``. A million clean headers are not held."""
    paired = {path for pair in facts.mask_pairs() for path in pair[:2]}
    orientations: dict[str, PathList] = {}   # each the walk's positions
    for path, header in headers:
        speaks, orientation = headers_check.judge(facts, path, header)
        if orientation is not None:
            headers_check.count_orientation(facts, orientations, path, orientation)
        if speaks or path in paired:
            facts.headers[path] = header
    facts.orientations = orientations


def _read_headers(root: Path, paths: Sequence[str], options: ValidateOptions,
                  cache: Cache | None) -> Iterator[tuple[str, NiftiHeader | str]]:
    """NIfTI headers in ``paths``' order, from the cache where the file is unchanged, else read (in parallel). A
    chunk of paths at a time: its cache keys, its cached values and the fresh headers' JSON are dropped before the
    next chunk, and each header is given to the caller as its chunk is done."""
    phase = _phase(options.progress, "headers")
    done = 0

    def header_task(path: str) -> NiftiHeader | str:
        try:
            return read_header(root / path)
        except ReadError as error:
            return str(error)

    for start in range(0, len(paths), HEADER_CHUNK):
        chunk = paths[start : start + HEADER_CHUNK]
        keys: dict[str, str] = {}
        known: dict[str, NiftiHeader | str] = {}
        if cache is not None:
            keys = file_keys(root, chunk)
            values = cache.get_many("nifti-header", keys.values())
            known = {path: values[key]["error"] if "error" in values[key] else header_from_json(values[key])
                     for path, key in keys.items() if key in values}
            del values
        missing = [p for p in chunk if p not in known]
        read = run_tasks(header_task, missing, options.jobs, progress=_offset(phase, done, len(paths)))
        done += len(missing)
        fresh = dict(zip(missing, read, strict=True))
        if cache is not None:
            cache.put_many("nifti-header", {keys[p]: {"error": h} if isinstance(h, str) else header_to_json(h)
                                            for p, h in fresh.items() if p in keys})
        for path in chunk:
            yield path, known[path] if path in known else fresh[path]


def _offset(progress: Progress | None, before: int, total: int) -> Progress | None:
    """``progress`` for one chunk of a phase's tasks: ``before`` done in the chunks before it, of ``total``."""
    if progress is None:
        return None
    return lambda done, _chunk: progress(before + done, total)


def _phase(progress: PhaseProgress | None, name: str) -> Progress | None:
    if progress is None:
        return None
    return lambda done, total: progress(name, done, total)


ScanRunner = Callable[[list[tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]]], list[list[Payload | str]]]


def _scan_payloads(facts: Facts, paths: Sequence[str], jobs: int | None, progress: PhaseProgress | None,
                   run: ScanRunner | None = None) -> None:
    """--deep: read each NIfTI file once, feeding its hashers, the decompressor and the voxel statistics.
    ``run``: how the (paths, algorithms) units are read when not local files (a remote release's scan)."""
    algorithms: dict[str, tuple[str, ...]] = {}   # path -> its manifests' algorithms, sorted
    combinations: dict[tuple[str, ...], tuple[str, ...]] = {}   # one tuple for each combination, not a set a file
    for manifest in facts.manifests:
        for entry in manifest.entries:
            known = algorithms.get(entry.path, ())
            if entry.algorithm not in known:
                combination = tuple(sorted((*known, entry.algorithm)))
                algorithms[entry.path] = combinations.setdefault(combination, combination)

    wanted = set(paths)
    pairs = [(study, mask) for mask, study, _ in facts.mask_pairs() if mask in wanted and study in wanted]
    paired = {p for pair in pairs for p in pair}
    units: list[tuple[str, ...]] = [*pairs, *((p,) for p in paths if p not in paired)]

    jobs_list = [(unit, tuple(algorithms.get(p, ()) for p in unit)) for unit in units]
    if run is None:
        results_list = run_tasks(scan_unit, [(facts.root, *job) for job in jobs_list], jobs, processes=True,
                                 progress=_phase(progress, "deep"))
    else:
        results_list = run(jobs_list)
    for unit, results in zip(units, results_list, strict=True):
        for path, result in zip(unit, results, strict=True):
            if isinstance(result, str):
                facts.headers[path] = result
                facts.digests[path] = result
                continue
            facts.payloads[path] = result
            facts.headers[path] = result.header
            if path in algorithms:
                facts.digests[path] = result.digests


def validate(root: Path | str, options: ValidateOptions | None = None) -> Report:
    """Check the release at ``root`` (a folder, or an s3:// or http(s):// URL given as text); raise RunError if it
    cannot be checked at all."""
    options = options or ValidateOptions()
    started = time.perf_counter()
    if isinstance(root, str) and is_url(root):
        return _validate_url(root, options, started)
    root = Path(root)
    check_root(root)
    config, config_where = _configuration(root, options)
    options = _merge(options, config)
    selection = _selection(options)
    profile = get_profile(options.profile) if options.profile else detect_profile(root)
    if profile is None:
        finding = make_finding("LAYOUT_UNRECOGNISED", "", profiles=", ".join(sorted(load_profiles())))
        return finish_report(root, None, [finding], None, started, options.fail_on or Severity.error)
    profile = _tuned(profile, options, config)
    cache = Cache(options.cache_dir) if options.cache_dir else None
    try:
        facts = gather(root, profile, options, cache, readers_needed(selection.keeps))
    finally:
        if cache is not None:
            cache.close()
    return _report(root, profile, facts, options, selection, config, config_where, started, cache)


def _tuned(profile: Profile, options: ValidateOptions, config: ValidationConfig) -> Profile:
    """The profile with the tolerances and labels the options and configuration set."""
    if options.tolerance_voxels is not None or options.tolerance_degrees is not None:
        tolerance = profile.geometry.model_copy(update={
            k: v for k, v in (("voxel_fraction", options.tolerance_voxels), ("degrees", options.tolerance_degrees))
            if v is not None})
        profile = profile.model_copy(update={"geometry": tolerance})
    if config.labels is not None:
        profile = profile.model_copy(update={"labels": list(config.labels)})
    return profile


def _validate_url(url: str, options: ValidateOptions, started: float) -> Report:
    """validate of a release in object storage (s3://, http(s)://): the fast tier from the listing, documents read
    whole within limits, each NIfTI header by ranged reads, and the manifests' digests from the store's checksums
    where it keeps them (else each object streamed once); profile slices' slice headers; profile dicom's headers and
    DICOM audit from each object's head (--deep: the whole object); the privacy audit's readers
    (DICOM and non-DICOM) through openers of ranged GETs, reading what they read locally. The report equals the
    local one but for ``root`` (the URL as typed) and the run's stats. The configuration file is not looked for in
    the store (stated in README)."""
    from curator.remote_release import RemoteRelease

    store = open_store(url)
    if options.changed_since:
        raise OptionsError(f"{url}: --changed-since needs a local copy of the release (its git history)")
    config = options.config or (load_config(options.config_file) if options.config_file else ValidationConfig())
    options = _merge(options, config)
    selection = _selection(options)
    named = get_profile(options.profile) if options.profile else None
    if named is not None and named.gatherer not in (None, SLICES_GATHERER, DICOM_GATHERER):
        raise OptionsError(f"{url}: the {named.name} profile is read from a local copy only; on a URL curator "
                           "validates MosMed-style (NIfTI), slices (PNG/JPEG) and DICOM releases")
    release = RemoteRelease.open(store)
    profile = named or detect_profile_in(release.kinds())
    if profile is None:
        finding = make_finding("LAYOUT_UNRECOGNISED", "", profiles=", ".join(sorted(load_profiles())))
        report = finish_report(release.root, None, [finding], None, started, options.fail_on or Severity.error)
        return report.model_copy(update={"root": url})   # the URL as typed (the contract)
    if profile.gatherer not in (None, SLICES_GATHERER, DICOM_GATHERER):
        raise OptionsError(f"{url}: the {profile.name} profile is read from a local copy only; on a URL curator "
                           "validates MosMed-style (NIfTI), slices (PNG/JPEG) and DICOM releases")
    profile = _tuned(profile, options, config)
    # the privacy audit reads what it reads locally, by ranged GETs (a NIfTI object's with its header or stream)
    readers = readers_needed(selection.keeps)
    audit = "curator.io.privacy_files:gather" in readers
    facts = release.facts(profile, deep=options.deep, jobs=options.jobs,
                          progress=_phase(options.progress, "headers"), audit=audit)
    facts.identifiers = options.identifiers   # the curator's own list: a local file, read by the audit's gather
    if options.deep:   # each NIfTI object streamed once through the local deep tier, its digests taken on the way
        nifti_paths = [p for p in facts.files if p.endswith((".nii", ".nii.gz"))]
        _scan_payloads(facts, nifti_paths, options.jobs, options.progress,
                       partial(release.scan, jobs=options.jobs, progress=_phase(options.progress, "deep"),
                               audit=audit))
    read_registries(facts, read=release.read_document)
    if profile.gatherer == SLICES_GATHERER:   # each slice's header (--deep: its pixels) by the workers
        from curator.io import slices

        slices.gather(facts, partial(release.slices, deep=options.deep, jobs=options.jobs,
                                     progress=_phase(options.progress, "slices")), release.opener)
    if profile.gatherer == DICOM_GATHERER:   # each object's head (--deep: the whole object) by the workers
        release.dicom(facts, options.jobs, progress=_phase(options.progress, "dicom"))
    if "curator.io.dicom_audit:gather" in readers:   # the DICOM objects' audit (a stray .dcm in a NIfTI release)
        from curator.io import dicom_audit

        dicom_audit.gather(facts, partial(release.dicom_audit, jobs=options.jobs,
                                          progress=_phase(options.progress, "dicom audit")))
    if audit:
        from curator.checks.privacy_files import says_something
        from curator.io import privacy_files

        privacy_files.gather(facts, partial(release.audit, jobs=options.jobs,
                                            progress=_phase(options.progress, "privacy")),
                             keep=says_something(facts))
    checked_by: dict[str, dict[str, int]] = {}
    if options.checksums and selection.keeps("CHECKSUM_MISMATCH"):   # digests only when a check judges them
        digests, checked_by = release.digests(facts.manifests, options.jobs,
                                              progress=_phase(options.progress, "checksums"), have=facts.payloads)
        facts.digests.update(digests)
    report = _report(release.root, profile, facts, options, selection, config, "", started, None,
                     {"checked_by": checked_by} if checked_by else {})
    return report.model_copy(update={"root": url})   # the URL as typed (the contract)


def _report(root: Path, profile: Profile, facts: Facts, options: ValidateOptions, selection: _Selection,
            config: ValidationConfig, config_where: str, started: float, cache: Cache | None,
            more: dict[str, object] | None = None, added: list[Finding] | None = None) -> Report:
    """Run the checks on the facts gathered and make the report (``added``: findings of the orchestration's own)."""
    findings = [f for module in CHECK_MODULES for f in module.check(facts)
                if selection.keeps(f.code) and (facts.scope is None or f.path in facts.scope or f.path == "")]
    findings += added or []
    outcome = apply_config(findings, config, config_where, options.today or dt.date.today())
    findings = outcome.findings
    extra: dict[str, object] = {}
    if outcome.waived:
        extra["waived"] = len(outcome.waived)
    if cache is not None:
        extra["cache"] = {"hits": cache.hits, "misses": cache.misses,
                          **({"warning": cache.warning} if cache.warning else {})}
    if facts.scope is not None:
        extra["changed_since"] = options.changed_since
        extra["in_scope"] = len(facts.scope)
    if facts.registry is not None:
        extra["registry_rows"] = len(facts.registry.rows)
        extra["categories"] = registry_check.category_counts(facts.rows)
    if facts.dicom_audit is not None and facts.dicom_audit.files:
        extra["deid_edition"] = DEID_EDITION  # the PS3.15 edition the DICOM files were judged against
    extra.update(more or {})
    return finish_report(root, profile.name, findings, facts, started, options.fail_on or Severity.error, extra)


def _configuration(root: Path, options: ValidateOptions) -> tuple[ValidationConfig, str]:
    """The settings in force and where they came from (a path relative to the root when inside it)."""
    if options.config is not None:
        return options.config, ""
    path = options.config_file or (find_config(root) if options.discover_config else None)
    if path is None:
        return ValidationConfig(), ""
    try:
        where = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        where = str(path)
    return load_config(path), where


def _merge(options: ValidateOptions, config: ValidationConfig) -> ValidateOptions:
    """Explicit options win over the configuration file; ignore lists add up."""
    return replace(
        options,
        profile=options.profile or config.profile,
        fail_on=options.fail_on or config.fail_on,
        select=options.select or tuple(config.select),
        ignore=tuple(options.ignore) + tuple(config.ignore),
        tolerance_voxels=options.tolerance_voxels if options.tolerance_voxels is not None else config.tolerance_voxels,
        tolerance_degrees=(options.tolerance_degrees if options.tolerance_degrees is not None
                           else config.tolerance_degrees),
    )
