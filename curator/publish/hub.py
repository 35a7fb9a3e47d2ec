"""``curator publish RELEASE --to huggingface --repo OWNER/NAME``: a Hugging Face Hub dataset repository, through
the official client (``huggingface_hub``, the ``publish`` extra; ``HF_ENDPOINT`` names another Hub).

- ``open``: ``HfApi.create_repo(repo_type="dataset", private=True, exist_ok=True)``: a new repository is private;
  only ``--publish`` makes it public (``update_repo_settings(private=False)`` in ``finish``).
- ``upload``: each file's content goes up at once with ``preupload_lfs_files`` (the Hub's preupload call decides
  git or LFS; LFS content is sent through the LFS batch API, or Xet storage where the client uses it); the files
  are committed together, with the dataset card (``README.md``, :mod:`curator.publish.hub_card`) and the files to
  delete, in one ``create_commit`` before the files are listed again. An interrupted run leaves LFS objects the
  Hub already holds: the rerun's LFS batch answers them without an upload action, so no byte is sent twice.
- ``remote_files``: ``list_repo_tree(recursive=True, expand=True)``; an LFS file's checksum is the Hub's LFS
  sha256 (``lfs.oid``); a file kept in git has only its git blob id (SHA-1 of ``blob <size>\\0`` + content),
  which :meth:`HubTarget.local_checksum` computes from our copy.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

from curator.publish.credentials import redact, token
from curator.publish.hub_card import CARD_FILE, card_metadata, hub_card
from curator.publish.target import Limits, PlannedFile, Progress, PublishError, ReleaseInfo, RemoteChecksum

__all__ = ["GIT_SHA1", "TOKEN_VARIABLES", "HubTarget", "from_options", "git_blob_sha1"]

TOKEN_VARIABLES = ("CURATOR_HF_TOKEN", "HF_TOKEN")
GIT_SHA1 = "git-sha1"
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
# files of the repository that are not release files: the card we write, the Hub's own attributes file
_OWN_FILES = {CARD_FILE, ".gitattributes"}


def git_blob_sha1(path: Path) -> str:
    """The git blob id of a file (what the Hub lists as ``oid`` for a file kept in git)."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode(), usedforsecurity=False)
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _readme_text(release: ReleaseInfo) -> str:
    lang = "en" if "en" in release.card.languages else release.card.languages[0]
    return release.readmes.get(lang) or next(iter(release.readmes.values()), "")


class HubTarget:
    """A dataset repository ``repo`` on the Hub at ``endpoint`` (None: ``HF_ENDPOINT`` or huggingface.co)."""

    # the huggingface pack preset: archives under 20 GB in one folder of fewer than 10,000 files
    limits = Limits(max_file_bytes=20_000_000_000 - 1, preset="huggingface")
    prunes = True

    def __init__(self, repo: str, endpoint: str | None = None) -> None:
        if not _REPO.match(repo or ""):
            raise PublishError(f"--repo must be OWNER/NAME, the dataset repository on the Hub, found {repo!r}", 2)
        self.repo, self.endpoint = repo, endpoint
        self.describe = f"Hugging Face dataset {repo}"
        self._api: Any = None
        self._pending: list[Any] = []
        self._card: str | None = None
        self._changes: list[str] = []
        self._publish = False

    # --------------------------------------------------------------------------------------------- client

    def _client(self) -> Any:
        if self._api is None:
            try:
                from huggingface_hub import HfApi
            except ImportError:
                raise PublishError("--to huggingface needs huggingface_hub: pip install 'ct-curator[publish]'",
                                   2) from None
            from huggingface_hub.utils.tqdm import disable_progress_bars

            disable_progress_bars()        # curator prints its own progress; the client's bars would garble it
            # and the client's notes ("no files have been modified since last commit") are not for the user
            logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
            self._api = HfApi(endpoint=self.endpoint, token=token("huggingface", TOKEN_VARIABLES))
        return self._api

    def _call(self, what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        from huggingface_hub.errors import HfHubHTTPError

        try:
            return function(*args, **kwargs)
        except HfHubHTTPError as error:
            status = error.response.status_code if error.response is not None else None
            raise PublishError(redact(f"{self.describe}: {what} failed (HTTP {status}: {error})"),
                               2 if status in (401, 403, 404) else 3) from None
        except (OSError, ValueError, RuntimeError) as error:
            raise PublishError(redact(f"{self.describe}: {what} failed: {error}")) from None

    # --------------------------------------------------------------------------------------------- Target

    def check_publish(self, publish: bool) -> None:
        self._publish = publish

    def parts(self, file: PlannedFile) -> int:
        return 1

    def metadata(self, release: ReleaseInfo) -> dict[str, Any]:
        files = [f.rel for f in release.files]
        own = sorted(_OWN_FILES & set(files))
        if own:
            raise PublishError(f"the release has its own {' and '.join(own)}, which on the Hub are the repository's: "
                               f"{CARD_FILE} is the dataset card curator writes from dataset.yaml", 2)
        self._card = hub_card(release.card, files, _readme_text(release))
        self._changes = list(release.changes)
        return {"card_file": CARD_FILE, "card_data": card_metadata(release.card, files)}

    def open(self, metadata: dict[str, Any]) -> None:
        api = self._client()
        self._call("creating the repository", api.create_repo, self.repo, repo_type="dataset", private=True,
                   exist_ok=True)
        info = self._call("reading the repository", api.dataset_info, self.repo)
        if info.private is False and not self._publish:
            raise PublishError(f"{self.describe} is public: uploading to it would publish; rerun with --publish to "
                               "update a public repository", 2)

    def upload(self, file: PlannedFile, progress: Progress) -> None:
        from huggingface_hub import CommitOperationAdd

        api = self._client()
        operation = CommitOperationAdd(path_in_repo=file.rel, path_or_fileobj=str(file.path))
        operation.upload_info.sha256 = bytes.fromhex(file.sha256)   # known from SHA256SUMS: not read again
        self._call(f"uploading {file.rel}", api.preupload_lfs_files, self.repo, [operation], repo_type="dataset")
        self._pending.append(operation)
        progress(file.size)

    def delete(self, rel: str) -> None:
        from huggingface_hub import CommitOperationDelete

        self._pending.append(CommitOperationDelete(path_in_repo=rel))

    def _commit(self) -> None:
        """Commit what was uploaded and deleted since the last listing, with the card (a no-op when unchanged)."""
        from huggingface_hub import CommitOperationAdd

        operations = list(self._pending)
        if self._card is not None:
            operations.append(CommitOperationAdd(path_in_repo=CARD_FILE, path_or_fileobj=self._card.encode()))
        description = "\n".join(f"- {line}" for line in self._changes)
        api = self._client()
        self._call("committing the files", api.create_commit, self.repo, operations, repo_type="dataset",
                   commit_message="curator publish", commit_description=description)
        self._pending = []

    def remote_files(self) -> dict[str, RemoteChecksum]:
        api = self._client()
        if self._pending or self._card is not None:
            self._commit()
            self._card = None   # committed once; a later listing needs no new commit
        entries = self._call("listing the repository", lambda: list(
            api.list_repo_tree(self.repo, repo_type="dataset", recursive=True, expand=True)))
        found: dict[str, RemoteChecksum] = {}
        for entry in entries:
            if not hasattr(entry, "blob_id") or entry.path in _OWN_FILES:
                continue          # a folder, or a file of the repository rather than of the release
            if entry.lfs is not None:
                found[entry.path] = RemoteChecksum("sha256", entry.lfs.sha256.lower(), entry.lfs.size)
            else:
                found[entry.path] = RemoteChecksum(GIT_SHA1, entry.blob_id.lower(), entry.size)
        return found

    def local_checksum(self, file: PlannedFile, remote: RemoteChecksum) -> str | None:
        return git_blob_sha1(file.path) if remote.algorithm == GIT_SHA1 else None

    def finish(self, publish: bool) -> str:
        api = self._client()
        if publish:
            self._call("making the repository public", api.update_repo_settings, self.repo, private=False,
                       repo_type="dataset")
        base = (self.endpoint or api.endpoint).rstrip("/")
        return f"{base}/datasets/{self.repo}"


def from_options(to: str, options: dict[str, Any]) -> HubTarget:
    """``--to huggingface --repo OWNER/NAME`` (the Hub at ``HF_ENDPOINT``, else huggingface.co)."""
    return HubTarget(options.get("repo") or "")
