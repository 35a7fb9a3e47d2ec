"""``curator validate``: gather facts about a release, run the checks, make a report."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from curator import __version__
from curator.catalogue import catalogue, make_finding, rules_for_selector
from curator.checks import CHECK_MODULES
from curator.checks import registry as registry_check
from curator.checks.facts import Facts
from curator.executor import run_tasks
from curator.io import ReadError
from curator.io.card import load_card
from curator.io.hashing import hash_file
from curator.io.inventory import walk
from curator.io.manifest import Manifest, parse_manifest
from curator.io.nifti import NiftiHeader, read_header
from curator.io.registry import read_registry
from curator.models.findings import Counts, Finding, Report, Severity, Stats
from curator.models.profile import Profile
from curator.profiles import detect_profile, get_profile, load_profiles


class RunError(Exception):
    """The command could not run at all (exit 3): the root is missing, unreadable, not a folder."""


class OptionsError(Exception):
    """Options that make no sense (exit 2): an unknown code or tag in --select/--ignore, and the like."""


@dataclass(frozen=True)
class ValidateOptions:
    profile: str | None = None
    fail_on: Severity = Severity.error
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    jobs: int | None = None
    checksums: bool = True


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


def check_root(root: Path) -> None:
    if not root.exists():
        raise RunError(f"{root} does not exist")
    if not root.is_dir():
        raise RunError(f"{root} is not a folder; pass the release's root folder")


def finish_report(root: Path, profile: str | None, findings: list[Finding], facts: Facts | None,
                  started: float, fail_on: Severity, extra_stats: dict[str, object] | None = None) -> Report:
    counts = Counts()
    for finding in findings:
        setattr(counts, finding.severity.value, getattr(counts, finding.severity.value) + 1)
    files = facts.files if facts else {}
    stats = Stats(files=len(files), bytes=sum(e.size for e in files.values()),
                  seconds=round(time.perf_counter() - started, 3), **(extra_stats or {}))
    severity_order = {Severity.error: 0, Severity.warning: 1, Severity.info: 2}
    findings = sorted(findings, key=lambda f: (severity_order[f.severity], f.code, f.path,
                                               f.context.get("row", 0) if isinstance(f.context.get("row"), int) else 0))
    valid = not any(f.severity.rank >= fail_on.rank for f in findings)
    return Report(version=__version__, root=str(root), profile=profile, valid=valid, counts=counts,
                  stats=stats, findings=findings)


def _languages(root: Path, profile: Profile) -> list[str]:
    """README languages: the release's own dataset.yaml when it has a readable one, else the profile's."""
    card_path = root / "dataset.yaml"
    if card_path.is_file() and not card_path.is_symlink():
        try:
            return list(load_card(card_path).languages)
        except ReadError:
            pass
    return list(profile.languages)


def gather(root: Path, profile: Profile, options: ValidateOptions) -> Facts:
    """Read everything the checks need; reading problems are stored, never raised."""
    facts = Facts(root=root, profile=profile, languages=_languages(root, profile), entries=walk(root))
    files = facts.files
    spec = profile.registry
    if spec is not None:
        main = spec.path if spec.path in files else (spec.csv if spec.csv and spec.csv in files else None)
        if main is not None:
            try:
                facts.registry = read_registry(root / main, spec.columns, spec.sheet)
            except ReadError as error:
                facts.registry_error = str(error)
            if spec.csv and main != spec.csv and spec.csv in files:
                try:
                    facts.registry_copy = read_registry(root / spec.csv, spec.columns)
                except ReadError as error:
                    facts.registry_copy_error = str(error)
        facts.rows, _ = registry_check.parse_rows(facts)

    nifti_paths = [p for p in files if p.endswith((".nii", ".nii.gz"))]

    def header_task(path: str) -> NiftiHeader | str:
        try:
            return read_header(root / path)
        except ReadError as error:
            return str(error)

    facts.headers = dict(zip(nifti_paths, run_tasks(header_task, nifti_paths, options.jobs), strict=True))

    for name in profile.manifests:
        if name not in files:
            continue
        try:
            facts.manifests.append(parse_manifest(root / name))
        except ReadError as error:
            facts.manifest_errors[name] = str(error)
    if options.checksums:
        facts.digests = hash_listed(root, facts.manifests, files, options.jobs)
    return facts


def hash_listed(root: Path, manifests: list[Manifest], files: Mapping[str, object],
                jobs: int | None) -> dict[str, dict[str, str] | str]:
    """Digests of every listed regular file, one read per file for all the algorithms it needs."""
    wanted: dict[str, set[str]] = {}
    for manifest in manifests:
        for entry in manifest.entries:
            if entry.path in files:
                wanted.setdefault(entry.path, set()).add(entry.algorithm)
    paths = sorted(wanted)

    def task(path: str) -> dict[str, str] | str:
        try:
            return hash_file(root / path, sorted(wanted[path]))
        except OSError as error:
            return f"cannot read the file ({error.strerror or error})"

    return dict(zip(paths, run_tasks(task, paths, jobs), strict=True))


def validate(root: Path | str, options: ValidateOptions | None = None) -> Report:
    """Check the release at ``root``; raise RunError if it cannot be checked at all."""
    options = options or ValidateOptions()
    started = time.perf_counter()
    root = Path(root)
    check_root(root)
    selection = _selection(options)
    profile = get_profile(options.profile) if options.profile else detect_profile(root)
    if profile is None:
        finding = make_finding("LAYOUT_UNRECOGNISED", "", profiles=", ".join(sorted(load_profiles())))
        return finish_report(root, None, [finding], None, started, options.fail_on)
    facts = gather(root, profile, options)
    findings = [f for module in CHECK_MODULES for f in module.check(facts) if selection.keeps(f.code)]
    extra: dict[str, object] = {}
    if facts.registry is not None:
        extra["registry_rows"] = len(facts.registry.rows)
        extra["categories"] = registry_check.category_counts(facts.rows)
    return finish_report(root, profile.name, findings, facts, started, options.fail_on, extra)


def known_codes() -> set[str]:
    return set(catalogue())
