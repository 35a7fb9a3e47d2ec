"""The Zenodo target: ``curator publish RELEASE --to zenodo [--sandbox] [--record ID | --draft ID]``.

Through Zenodo's documented REST deposit API (https://developers.zenodo.org/, "Deposit" and "Deposition files"):

- ``POST /api/deposit/depositions`` (body ``{}``) creates a draft; ``POST .../depositions/{id}/actions/newversion``
  makes the draft of a new version of record ``--record`` (the draft is ``links.latest_draft``; it keeps the concept
  DOI and starts with the previous version's files); ``--draft ID`` continues a draft of an interrupted run;
- ``GET .../depositions/{id}/files`` lists the draft's files with Zenodo's MD5 (``checksum``) and ``filesize``;
  ``DELETE .../depositions/{id}/files/{file_id}`` removes one;
- ``PUT {links.bucket}/{filename}`` sends one file (the files API; one request per file, so a rerun re-sends only
  the files not on the server with the right MD5);
- ``PUT .../depositions/{id}`` with ``{"metadata": ...}`` sets the metadata, and ``POST .../actions/publish`` runs
  only with ``--publish``: without it the deposition stays a draft.

The token is ``CURATOR_ZENODO_TOKEN`` or ``ZENODO_TOKEN`` (``CURATOR_ZENODO_SANDBOX_TOKEN`` first with
``--sandbox``), else ``[zenodo]``/``[zenodo-sandbox]`` ``token`` in the credentials file; it is sent as
``Authorization: Bearer`` and never shown. Limits: 100 files and 50 GB per record, no folders: a release over them
is packed with the ``zenodo`` preset. The metadata is the release's own ``zenodo.json`` (written by the build from
the card by :func:`curator.release.metadata.zenodo`), with the permanent link as a related identifier and, for a new
version, what changed (``--previous``: ``curator diff``) in the notes.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any, BinaryIO

from curator.publish.credentials import redact, token
from curator.publish.target import Limits, PlannedFile, Progress, PublishError, ReleaseInfo, RemoteChecksum
from curator.release.metadata_fields import ZENODO

__all__ = ["API", "ZenodoTarget", "from_options"]

API = "https://zenodo.org/api"
SANDBOX_API = "https://sandbox.zenodo.org/api"
GB = 10**9
TIMEOUT = (30, 600)          # connect, read: a large file's PUT is answered only when Zenodo has it all


class _Reading:
    """A file object for ``requests`` that reports the bytes read (its length gives Content-Length)."""

    def __init__(self, handle: BinaryIO, size: int, progress: Progress) -> None:
        self.handle, self.size, self.progress = handle, size, progress

    def __len__(self) -> int:
        return self.size

    def read(self, amount: int = -1) -> bytes:
        chunk = self.handle.read(amount if amount and amount > 0 else 1 << 20)
        if chunk:
            self.progress(len(chunk))
        return chunk


class ZenodoTarget:
    prunes = True

    def __init__(self, api: str, record: str | None = None, draft: str | None = None, sandbox: bool = False) -> None:
        self.api = api.rstrip("/")
        self.record, self.draft = record, draft
        self.sandbox = sandbox
        self.describe = f"zenodo ({self.api})"
        self.limits = Limits(max_file_bytes=50 * GB, max_files=100, max_total_bytes=50 * GB, preset="zenodo",
                             folders=False)
        self._session: Any = None
        self._deposition: dict[str, Any] = {}
        self._file_ids: dict[str, str] = {}
        self._metadata: dict[str, Any] = {}

    # ------------------------------------------------------------------------------------------- the plan

    def check_publish(self, publish: bool) -> None:
        return None

    def parts(self, file: PlannedFile) -> int:
        return 1

    def metadata(self, release: ReleaseInfo) -> dict[str, Any]:
        path = release.root / ZENODO
        try:
            metadata = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PublishError(f"the release has no {ZENODO} (the build writes it from the card); build the "
                               "release with curator build", 2) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise PublishError(f"cannot read the release's {ZENODO}: {error}", 2) from None
        if not isinstance(metadata, dict):
            raise PublishError(f"the release's {ZENODO} is not a JSON object", 2)
        card = release.card
        metadata["upload_type"] = "dataset"
        metadata.setdefault("version", card.version)
        related = [item for item in metadata.get("related_identifiers", []) if isinstance(item, dict)]
        if not any(item.get("identifier") == card.permanent_link for item in related):
            related.append({"identifier": card.permanent_link, "relation": "isIdenticalTo",
                            "resource_type": "dataset"})
        metadata["related_identifiers"] = related
        if release.changes:
            notes = str(metadata.get("notes", "")).strip()
            metadata["notes"] = (notes + "\n\n" if notes else "") + "Changes since the previous version:\n" + \
                "\n".join(f"- {line}" for line in release.changes)
        return metadata

    # ------------------------------------------------------------------------------------------- HTTP

    def _http(self) -> Any:
        if self._session is None:
            try:
                import requests
            except ImportError:
                raise PublishError("publishing to Zenodo needs requests: pip install 'ct-curator[publish]'",
                                   2) from None
            services = (("zenodo-sandbox", ("CURATOR_ZENODO_SANDBOX_TOKEN", "ZENODO_SANDBOX_TOKEN"))
                        if self.sandbox else ("zenodo", ("CURATOR_ZENODO_TOKEN", "ZENODO_TOKEN")))
            secret = token(*services)
            self._session = requests.Session()
            self._session.headers["Authorization"] = f"Bearer {secret}"
        return self._session

    def _request(self, what: str, method: str, url: str, **kwargs: Any) -> Any:
        import requests

        try:
            response = self._http().request(method, url, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as error:
            raise PublishError(redact(f"{what} was interrupted ({type(error).__name__}){self._resume_hint()}"),
                               3) from None
        if response.status_code >= 400:
            try:
                body = response.json()
                detail = str(body.get("message", "")) if isinstance(body, dict) else ""
                errors = body.get("errors") if isinstance(body, dict) else None
            except ValueError:
                detail, errors = response.text[:200], None
            problems = [f"{e.get('field', '')}: {e.get('message', '')}" for e in errors or [] if isinstance(e, dict)]
            code = 2 if response.status_code in (400, 401, 403, 404, 410) else 3
            raise PublishError(redact(f"Zenodo refused {what}: HTTP {response.status_code} {detail}"), code,
                               [redact(p) for p in problems])
        return response.json() if response.content else {}

    def _resume_hint(self) -> str:
        number = self._deposition.get("id")
        return f"; rerun with --draft {number} to continue (files already there are skipped)" if number else ""

    def _deposit(self, suffix: str = "") -> str:
        return f"{self.api}/deposit/depositions{suffix}"

    # ------------------------------------------------------------------------------------------- the steps

    def open(self, metadata: dict[str, Any]) -> None:
        self._metadata = metadata
        if self.draft:
            self._deposition = self._request(f"the draft {self.draft}", "GET", self._deposit(f"/{self.draft}"))
        elif self.record:
            made = self._request(f"a new version of record {self.record}", "POST",
                                 self._deposit(f"/{self.record}/actions/newversion"))
            latest = made.get("links", {}).get("latest_draft")
            if not latest:
                raise PublishError("Zenodo's newversion answer has no links.latest_draft", 3)
            self._deposition = self._request("the new version's draft", "GET", latest)
        else:
            self._deposition = self._request("a new deposition", "POST", self._deposit(), json={})
        if "bucket" not in self._deposition.get("links", {}):
            raise PublishError("Zenodo's deposition has no links.bucket (the files API)", 3)
        self.describe = f"zenodo deposition {self._deposition.get('id')} ({self.api})"

    def remote_files(self) -> dict[str, RemoteChecksum]:
        number = self._deposition["id"]
        listing = self._request("the draft's file list", "GET", self._deposit(f"/{number}/files"))
        found: dict[str, RemoteChecksum] = {}
        self._file_ids = {}
        for item in listing if isinstance(listing, list) else []:
            name = str(item.get("filename", ""))
            checksum = str(item.get("checksum", "")).removeprefix("md5:")
            found[name] = RemoteChecksum("md5", checksum, int(item["filesize"]) if "filesize" in item else None)
            self._file_ids[name] = str(item.get("id", ""))
        return found

    def local_checksum(self, file: PlannedFile, remote: RemoteChecksum) -> str | None:
        return None

    def delete(self, rel: str) -> None:
        number = self._deposition["id"]
        file_id = urllib.parse.quote(self._file_ids[rel], safe="")
        self._request(f"the removal of {rel}", "DELETE", self._deposit(f"/{number}/files/{file_id}"))

    def upload(self, file: PlannedFile, progress: Progress) -> None:
        url = f"{self._deposition['links']['bucket']}/{urllib.parse.quote(file.rel, safe='')}"
        with Path(file.path).open("rb") as handle:
            answer = self._request(f"the upload of {file.rel}", "PUT", url, data=_Reading(handle, file.size, progress),
                                   headers={"Content-Type": "application/octet-stream"})
        checksum = str(answer.get("checksum", "")).removeprefix("md5:") if isinstance(answer, dict) else ""
        if checksum and checksum != file.md5:
            raise PublishError(f"{file.rel}: Zenodo received bytes with md5 {checksum}, the release's is {file.md5}",
                               1)

    def finish(self, publish: bool) -> str:
        number = self._deposition["id"]
        saved = self._request("the metadata", "PUT", self._deposit(f"/{number}"), json={"metadata": self._metadata})
        if publish:
            saved = self._request("publishing", "POST", self._deposit(f"/{number}/actions/publish"))
        links = saved.get("links", {}) if isinstance(saved, dict) else {}
        return str(links.get("html") or links.get("self") or self._deposit(f"/{number}"))


def from_options(to: str, options: dict[str, Any]) -> ZenodoTarget:
    """The target for ``--to zenodo`` (``--sandbox``, ``--api``, ``--record``, ``--draft``)."""
    if options.get("record") and options.get("draft"):
        raise PublishError("--record makes a new draft and --draft continues one: give one of them", 2)
    api = options.get("api") or (SANDBOX_API if options.get("sandbox") else API)
    return ZenodoTarget(api, options.get("record"), options.get("draft"), bool(options.get("sandbox")))
