"""The interface every publishing target implements (S3, Zenodo, Dataverse, the Hugging Face Hub).

The driver (:mod:`curator.publish.run`) does everything that is the same for every platform: the validation
gate, the plan (files, sizes and digests from the release's own SHA256SUMS/MD5SUMS), packing with the target's
preset when the release is over its limits, skipping files the server already has with the right checksum, the
upload loop with progress, the comparison of the server's checksum with ours for every file, and ``--dry-run``.
A target only speaks its platform's protocol. The driver calls, in this order::

    target.limits                                   # before planning: pack or not
    target.metadata(release)                        # the platform's metadata, from the card (pure, no network)
    -- dry run stops here: nothing remote is touched --
    target.open(metadata)                           # create the draft / new version, or check the bucket
    target.remote_files()                           # what is there already: {rel: RemoteChecksum}
    target.delete(rel)                              # for each remote file the release no longer has (a new version)
    target.upload(file, progress)                   # for each planned file the server lacks or has wrong
    target.remote_files()                           # again, after upload: compared with ours for every file
    target.finish(publish)                          # save metadata; publish only when asked; -> where it is

Rules for a target:

- Credentials come from :func:`curator.publish.credentials.token` (environment or a 0600 credentials file) and
  are never put in an exception message, a return value that is shown, or a log. Every text the publish code
  shows passes :func:`curator.publish.credentials.redact` anyway.
- Protocol failures raise :class:`PublishError` (exit 3 by default: the server could not be reached or refused;
  ``exit_code=2`` for what the user must fix, e.g. a missing token or a record id that does not exist).
- ``upload`` must be resumable where the protocol allows it (S3 multipart: continue an interrupted upload from
  its last complete part); where it does not (one PUT per file), a rerun re-sends only the files that are not on
  the server with the right checksum, which the driver decides.
- ``remote_files`` returns the checksum the *server* computed or stored, in the algorithm the platform documents
  (``RemoteChecksum.algorithm`` is "sha256" or "md5"; ``size`` when known). The driver compares it with the
  release's own digest of the same algorithm.
- Nothing is made public unless ``finish(publish=True)``; a target for which publishing means nothing
  raises ``PublishError(..., exit_code=2)`` from ``check_publish`` so the command refuses before any upload.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from curator.models.card import DatasetCard

__all__ = ["Limits", "Plan", "PlannedFile", "Progress", "PublishError", "ReleaseInfo", "RemoteChecksum", "Target"]

Progress = Callable[[int], None]     # called with the number of bytes just sent


class PublishError(Exception):
    """A failure to publish: the message names the file or the step, never a credential."""

    def __init__(self, message: str, exit_code: int = 3, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.problems = problems or []


@dataclass(frozen=True)
class Limits:
    """What one record on the platform takes; None means no limit. ``preset`` is the ``curator pack`` preset
    that packs a release into a form within these limits (release/presets.py, release/archives.py)."""

    max_file_bytes: int | None = None
    max_files: int | None = None
    max_total_bytes: int | None = None
    preset: str | None = None
    folders: bool = True           # False: the platform keeps a flat list of files (Zenodo): a release with
                                   # folders is packed


@dataclass(frozen=True)
class PlannedFile:
    """One file to publish: ``rel`` is its name on the platform (POSIX, relative), ``path`` the local file."""

    rel: str
    path: Path
    size: int
    sha256: str
    md5: str

    def digest(self, algorithm: str) -> str:
        return self.sha256 if algorithm == "sha256" else self.md5


@dataclass(frozen=True)
class RemoteChecksum:
    """The checksum the server holds for a file: algorithm "sha256" or "md5", lowercase hex value."""

    algorithm: str
    value: str
    size: int | None = None


@dataclass(frozen=True)
class ReleaseInfo:
    """What a target may read to build its metadata: the card, the READMEs (language -> text), the release
    folder as published (after packing: the parts), and what changed since the previous version (lines of text,
    empty for a first version)."""

    root: Path
    card: DatasetCard
    readmes: dict[str, str]
    files: list[PlannedFile]
    changes: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """What ``curator publish`` will do (``--dry-run`` prints it): the files, their bytes, the upload requests
    ("parts": one per file, or one per multipart part), the metadata sent, and whether the release was packed."""

    target: str
    files: list[PlannedFile]
    bytes: int
    parts: int
    metadata: dict[str, Any]
    packed_with: str | None = None
    skip: list[str] = field(default_factory=list)          # already on the server with the right checksum
    delete: list[str] = field(default_factory=list)        # on the server, not in this release (new version)


class Target(Protocol):
    """A publishing target. ``describe`` is the target as shown to the user (no credential in it)."""

    describe: str
    limits: Limits
    prunes: bool                   # True: files on the server that the release lacks are deleted (a new version's
                                   # draft starts with the previous version's files); False: they are left alone

    def check_publish(self, publish: bool) -> None:
        """Raise PublishError(exit_code=2) if ``--publish`` means nothing here (before anything is sent)."""

    def parts(self, file: PlannedFile) -> int:
        """How many upload requests ``file`` takes (multipart parts), for the plan."""

    def metadata(self, release: ReleaseInfo) -> dict[str, Any]:
        """The platform's metadata for the release, as the platform documents it; pure, no network."""

    def open(self, metadata: dict[str, Any]) -> None:
        """Create the draft (or new version of an existing record), or check the bucket is reachable."""

    def remote_files(self) -> dict[str, RemoteChecksum]:
        """The files on the server now, with the server's checksums."""

    def delete(self, rel: str) -> None:
        """Remove a file from the draft (a new version that no longer has it)."""

    def upload(self, file: PlannedFile, progress: Progress) -> None:
        """Send one file, resuming an interrupted upload where the protocol allows."""

    def local_checksum(self, file: PlannedFile, remote: RemoteChecksum) -> str | None:
        """Our value of a platform-specific checksum (``remote.algorithm`` not "sha256"/"md5", e.g. S3's
        composite checksum of a multipart object), computed from the local file; None if it cannot be."""

    def finish(self, publish: bool) -> str:
        """Save the metadata; publish only when ``publish``; return where the upload is (URL or s3:// path)."""
