"""The publishing driver shared by every target (see :mod:`curator.publish.target` for the order of calls).

1. The gate: the release must pass ``curator validate --deep`` (:func:`curator.validate.validate`), unless the
   user waives it explicitly (``waive_validation``), which is then said as a warning.
2. The plan: every regular file of the release, its size, and its SHA-256 and MD5 from the release's own
   ``SHA256SUMS`` and ``MD5SUMS`` (after the deep gate these are proven to match the bytes); only files those
   manifests do not list (the manifests themselves) are hashed here.
3. Packing: when the release is over the target's limits (files per record, bytes per file or record, folders on
   a flat platform), it is packed with the target's ``curator pack`` preset into a scratch folder, and the parts
   with their lists are what is published.
4. ``dry_run`` stops here: nothing remote is touched (the target is not even opened).
5. Upload: what the server already has with the right checksum is skipped; the rest is sent (the target resumes
   an interrupted upload where its protocol allows).
6. The comparison: the server's own checksum of every planned file is read back and compared with ours; any
   difference or missing file is named, the record is not finished and the command exits 1.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curator.errors import RunError
from curator.io import ReadError
from curator.io.card import load_card
from curator.io.hashing import hash_file
from curator.io.inventory import walk
from curator.io.manifest import parse_manifest
from curator.models.card import DatasetCard
from curator.models.findings import Severity
from curator.outputs import scratch
from curator.publish.target import Limits, Plan, PlannedFile, PublishError, ReleaseInfo, RemoteChecksum, Target
from curator.wording import plural, rate_and_left

__all__ = ["Outcome", "PublishOptions", "over_limits", "plan_files", "publish"]

Say = Callable[[str], None]
MANIFESTS = (("sha256", "SHA256SUMS"), ("md5", "MD5SUMS"))
PROGRESS_EVERY = 2.0         # seconds between progress lines of one large file


@dataclass(frozen=True)
class PublishOptions:
    dry_run: bool = False
    publish: bool = False                  # make the record public (the target decides what that means)
    waive_validation: bool = False         # skip the validate --deep gate (said as a warning)
    previous: Path | None = None           # a local copy of the previous version: its changes go in the notes
    jobs: int | None = None


@dataclass
class Outcome:
    """What happened; ``as_dict`` is the JSON report of ``curator publish``."""

    plan: Plan
    dry_run: bool
    gate: str                                            # "passed" or "waived"
    uploaded: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)  # one sentence per file whose checksum differs
    location: str | None = None
    published: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def as_dict(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "tool": "curator", "command": "publish", "target": plan.target, "dry_run": self.dry_run,
            "gate": self.gate, "ok": self.ok, "packed_with": plan.packed_with,
            "files": [{"path": f.rel, "bytes": f.size, "sha256": f.sha256, "md5": f.md5} for f in plan.files],
            "bytes": plan.bytes, "parts": plan.parts, "metadata": plan.metadata,
            "skipped": plan.skip, "deleted": plan.delete, "uploaded": self.uploaded,
            "mismatches": self.mismatches, "location": self.location, "published": self.published,
            "warnings": self.warnings,
        }


# ----------------------------------------------------------------------------------------------- planning


def plan_files(root: Path) -> list[PlannedFile]:
    """Every regular file under ``root`` with its size and digests, from SHA256SUMS/MD5SUMS where they list it."""
    entries = [entry for entry in walk(root) if entry.kind == "file"]
    known: dict[str, dict[str, str]] = {}
    for algorithm, name in MANIFESTS:
        if not (root / name).is_file():
            continue
        try:
            manifest = parse_manifest(root / name, algorithm)
        except ReadError:
            continue                                     # hashed below; the gate reports the broken manifest
        for item in manifest.entries:
            known.setdefault(item.path, {})[algorithm] = item.digest.lower()
    files = []
    for entry in entries:
        digests = known.get(entry.path, {})
        missing = [algorithm for algorithm, _ in MANIFESTS if algorithm not in digests]
        if missing:
            try:
                digests = {**digests, **hash_file(root / entry.path, missing)}
            except OSError as error:
                raise RunError(f"cannot read {entry.path}: {error.strerror or error}") from None
        files.append(PlannedFile(entry.path, root / entry.path, entry.size, digests["sha256"], digests["md5"]))
    return files


def over_limits(files: list[PlannedFile], limits: Limits) -> list[str]:
    """Why ``files`` cannot go to the target as they are (empty: they can)."""
    reasons = []
    if limits.max_files is not None and len(files) > limits.max_files:
        reasons.append(f"{len(files)} files, more than the {limits.max_files} one record takes")
    total = sum(f.size for f in files)
    if limits.max_total_bytes is not None and total > limits.max_total_bytes:
        reasons.append(f"{total:,} bytes, more than the {limits.max_total_bytes:,} one record takes")
    if limits.max_file_bytes is not None:
        large = [f.rel for f in files if f.size > limits.max_file_bytes]
        if large:
            reasons.append(f"{plural(len(large), 'file')} over {limits.max_file_bytes:,} bytes ({large[0]}, ...)")
    if not limits.folders and any("/" in f.rel for f in files):
        reasons.append("files in folders, which the platform does not keep")
    return reasons


def _pack(root: Path, card: DatasetCard, limits: Limits, into: Path, jobs: int | None) -> list[PlannedFile]:
    from curator.release.archives import PackError, pack_release

    if limits.preset is None:
        raise PublishError("the release is over the target's limits and the target has no pack preset", 2)
    out = into / "packed"
    try:
        pack_release(root, out, fmt="tar.gz" if limits.preset == "dataverse" else "zip", max_bytes=None,
                     max_files=None, when=card.release_date, preset=limits.preset, jobs=jobs)
    except PackError as error:
        raise PublishError(f"cannot pack the release with the {limits.preset} preset: {error}", error.exit_code,
                           list(error.problems)) from None
    return plan_files(out)


def _changes(previous: Path | None, root: Path, jobs: int | None) -> list[str]:
    """What changed since the previous version, as ``curator diff`` sees it, in lines of text."""
    if previous is None:
        return []
    from curator.diff import diff_releases

    change = diff_releases(previous, root, jobs)
    lines = [f"Version change: {change.bump}."]
    for label, paths in (("Added", change.added), ("Removed", change.removed),
                         ("Changed", [f"{c.path} ({c.kind})" for c in change.changed])):
        if paths:
            shown = ", ".join(paths[:20]) + (f" and {len(paths) - 20} more" if len(paths) > 20 else "")
            lines.append(f"{label}: {shown}.")
    for kind, ids in change.registry.items():
        lines.append(f"Registry rows {kind}: {plural(len(ids), 'study', 'studies')}.")
    return lines


def _readmes(root: Path) -> dict[str, str]:
    texts = {}
    for path in sorted(root.glob("README_*.md")):
        try:
            texts[path.stem.removeprefix("README_").lower()] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return texts


# -------------------------------------------------------------------------------------------------- driver


def _gate(root: Path, options: PublishOptions, say: Say) -> str:
    if options.waive_validation:
        return "waived"
    from curator.validate import ValidateOptions, validate

    say(f"validating {root} (--deep) before publishing ...")
    report = validate(root, ValidateOptions(deep=True, jobs=options.jobs))
    if not report.valid:
        problems = [f"{f.code} {f.path}: {f.message}" for f in report.findings if f.severity == Severity.error]
        raise PublishError(f"{root} does not pass curator validate --deep ({plural(report.counts.error, 'error')}); "
                           "fix it, or publish anyway with --waive-validation", 1, problems)
    return "passed"


def _matches(target: Target, file: PlannedFile, remote: RemoteChecksum | None) -> str | None:
    """None when the server's checksum of ``file`` equals ours; else why not, in a sentence naming the file."""
    if remote is None:
        return f"{file.rel}: not on the server after the upload"
    if remote.size is not None and remote.size != file.size:
        return f"{file.rel}: the server holds {remote.size:,} bytes, the release {file.size:,}"
    if remote.algorithm in ("sha256", "md5"):
        ours: str | None = file.digest(remote.algorithm)
    else:
        ours = target.local_checksum(file, remote)
    if ours is None or ours.lower() != remote.value.lower():
        return (f"{file.rel}: the server's {remote.algorithm} is {remote.value}, the release's is "
                f"{ours or 'not computable'}")
    return None


def publish(release: Path, target: Target, options: PublishOptions, say: Say) -> Outcome:
    """Publish the release at ``release`` to ``target``; ``say`` receives progress lines (already plain text).

    Raises PublishError (its ``exit_code``) for a gate that fails, limits that cannot be met and protocol
    failures; RunError when the release cannot be read. Checksum mismatches are returned in the outcome.
    """
    root = Path(release)
    if not root.is_dir():
        raise RunError(f"{root} is not a folder; pass a built release")
    target.check_publish(options.publish)
    ready = getattr(target, "ready", None)          # optional: a missing token is said before the slow gate
    if ready is not None and not options.dry_run:
        ready()
    gate = _gate(root, options, say)
    warnings = ["validation waived (--waive-validation): the release was not checked before publishing"] \
        if gate == "waived" else []
    try:
        card = load_card(root / "dataset.yaml")
    except ReadError as error:
        raise PublishError(f"the release's dataset card cannot be read: {error}", 2) from None
    with scratch("curator-publish-") as work:
        files = plan_files(root)
        packed_with = None
        reasons = over_limits(files, target.limits)
        if reasons:
            say(f"the release is over {target.describe}'s limits ({'; '.join(reasons)}): packing it with the "
                f"{target.limits.preset} preset ...")
            files = _pack(root, card, target.limits, work, options.jobs)
            packed_with = target.limits.preset
            still = over_limits(files, target.limits)
            if still:
                raise PublishError(f"even packed, the release is over the target's limits: {'; '.join(still)}", 2)
        info = ReleaseInfo(root=root, card=card, readmes=_readmes(root), files=files,
                           changes=_changes(options.previous, root, options.jobs))
        metadata = target.metadata(info)
        plan = Plan(target.describe, files, sum(f.size for f in files), sum(target.parts(f) for f in files),
                    metadata, packed_with)
        outcome = Outcome(plan, options.dry_run, gate, warnings=warnings)
        if options.dry_run:
            return outcome
        _upload(target, plan, outcome, say)
        if outcome.mismatches:
            return outcome
        outcome.location = target.finish(options.publish)
        outcome.published = options.publish
        plan.target = target.describe
    return outcome


def _upload(target: Target, plan: Plan, outcome: Outcome, say: Say) -> None:
    target.open(plan.metadata)
    plan.target = target.describe
    remote = target.remote_files()
    wanted = {f.rel for f in plan.files}
    plan.skip = [f.rel for f in plan.files if f.rel in remote and _matches(target, f, remote[f.rel]) is None]
    if target.prunes:
        plan.delete = sorted(set(remote) - wanted)
        # a file there with other bytes is replaced: the draft's old copy goes first
        plan.delete += sorted(f.rel for f in plan.files if f.rel in remote and f.rel not in plan.skip)
    for rel in plan.delete:
        say(f"removing {rel} from the draft")
        target.delete(rel)
    skipped = set(plan.skip)
    todo = [f for f in plan.files if f.rel not in skipped]
    total = sum(f.size for f in todo)
    if skipped:
        say(f"{plural(len(skipped), 'file')} already there with the right checksum: skipped")
    sent = 0
    started = last = time.monotonic()
    for file in todo:
        say(f"uploading {file.rel} ({file.size:,} bytes)")
        this = 0

        def progress(count: int, file: PlannedFile = file) -> None:
            nonlocal sent, this, last
            sent, this = sent + count, this + count
            now = time.monotonic()
            if this < file.size and now - last >= PROGRESS_EVERY:   # a large file: say how far it is
                last = now
                rate, left = rate_and_left(sent, total, now - started)
                say(f"  {file.rel}: {this:,} of {file.size:,} bytes; {sent:,} of {total:,} in all, "
                    f"{rate / 1e6:.1f} MB/s, about {left or 0} s left")

        target.upload(file, progress)
        outcome.uploaded.append(file.rel)
    if todo:
        elapsed = time.monotonic() - started
        say(f"{sent:,} bytes sent in {elapsed:.1f} s ({sent / max(elapsed, 1e-6) / 1e6:.1f} MB/s)")
    after = target.remote_files()
    outcome.mismatches = [problem for f in plan.files
                          if (problem := _matches(target, f, after.get(f.rel))) is not None]
