"""Plans for the platforms' records, through their documented APIs, with the checksums each publishes.

- Zenodo, REST API (https://developers.zenodo.org/, "Records"): ``GET /api/records/{id}`` answers the record with
  ``files[]``: ``key`` (the file name), ``size``, ``checksum`` (``"md5:<hex>"``) and ``links.self`` (its download
  URL). ``--api`` (or ``ZENODO_API``) points at another installation (the sandbox, a stand-in); ``ZENODO_TOKEN``,
  when set, is sent as ``Authorization: Bearer`` (restricted records).
- Dataverse, native API (https://guides.dataverse.org/en/latest/api/native-api.html, "Get JSON Representation of
  a Dataset"; data access API https://guides.dataverse.org/en/latest/api/dataaccess.html):
  ``GET /api/datasets/:persistentId/?persistentId=doi:...`` answers ``data.latestVersion.files[]``, each with
  ``label``, ``directoryLabel`` and ``dataFile`` {``id``, ``filename``, ``filesize``, ``md5`` or ``checksum``
  {``type``, ``value``}}; a file downloads from ``/api/access/datafile/{id}`` (``?format=original`` for a table
  Dataverse ingested: the checksum is of the file as uploaded). ``DATAVERSE_API_TOKEN``, when set, is sent as
  ``X-Dataverse-key``.
- The Hugging Face Hub, through ``huggingface_hub`` (the ``publish`` extra): ``HfApi(endpoint=...)``
  ``.list_repo_tree(recursive=True)`` gives each file's size and, for LFS files, the sha256 of its content; a file
  kept in git has its git blob id (SHA-1 of ``blob <size>\\0`` and the bytes), which is checked instead. Files
  download from ``hf_hub_url`` (``/datasets/OWNER/NAME/resolve/REVISION/PATH``), which takes ``Range``. The
  endpoint is ``--api``, else ``HF_ENDPOINT``; the token is the Hub client's own (``HF_TOKEN``, or a login).
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote

from curator.errors import OptionsError, RunError
from curator.fetch.plan import GIT_BLOB, Item, Plan
from curator.fetch.transport import TransferError, get_bytes
from curator.io.checksum_listings import JSON_LIMIT

ZENODO = "https://zenodo.org"
_CHECKSUM_TYPES = {"md5": "md5", "sha-1": "sha1", "sha1": "sha1", "sha-256": "sha256", "sha256": "sha256",
                   "sha-512": "sha512", "sha512": "sha512"}


def _document(url: str, timeout: float, headers: tuple[tuple[str, str], ...] = ()) -> Any:
    try:
        data = get_bytes(url, JSON_LIMIT, timeout, headers)
    except TransferError as error:
        raise RunError(f"cannot read {url}: {error}") from None
    try:
        return json.loads(data)
    except ValueError as error:
        raise RunError(f"{url} did not answer JSON ({error})") from None


def zenodo(record: str, api: str | None, timeout: float) -> Plan:
    """Every file of the Zenodo record ``record``."""
    base = (api or os.environ.get("ZENODO_API") or ZENODO).rstrip("/")
    headers = (("Authorization", f"Bearer {os.environ['ZENODO_TOKEN']}"),) if os.environ.get("ZENODO_TOKEN") else ()
    url = f"{base}/api/records/{record}"
    document = _document(url, timeout, headers)
    files = document.get("files") if isinstance(document, dict) else None
    if isinstance(files, dict):   # InvenioRDM's {"enabled": ..., "entries": ...}
        files = files.get("entries")
        files = list(files.values()) if isinstance(files, dict) else files
    if not isinstance(files, list):
        raise RunError(f"{url} answered no file list (files[]); is {record} a Zenodo record with open files?")
    plan = Plan(source=f"zenodo:{record}")
    where = f"Zenodo record {record}"
    for number, entry in enumerate(files, start=1):
        if not isinstance(entry, dict):
            plan.problems.append((f"file {number}", f"{where} lists something that is not a file"))
            continue
        name, size, checksum = entry.get("key"), entry.get("size"), entry.get("checksum")
        links = entry.get("links")
        link = (links.get("self") or links.get("content")) if isinstance(links, dict) else None
        if not isinstance(name, str) or not isinstance(link, str) or not link.startswith(("http://", "https://")):
            plan.problems.append((str(name or f"file {number}"), f"{where} gives it no name or download link"))
            continue
        digests = {}
        if isinstance(checksum, str) and ":" in checksum:
            kind, _, value = checksum.partition(":")
            if kind.lower() in _CHECKSUM_TYPES:
                digests[_CHECKSUM_TYPES[kind.lower()]] = value
        plan.add(Item(rel=name, url=link, size=size if isinstance(size, int) else None, digests=digests,
                      where=where, headers=headers))
    return plan


def dataverse(doi: str, server: str, timeout: float) -> Plan:
    """Every file of the latest version of the Dataverse dataset ``doi`` on ``server``."""
    base = server.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise OptionsError(f"--server {server!r} is not an http(s):// URL")
    token = os.environ.get("DATAVERSE_API_TOKEN")
    headers = (("X-Dataverse-key", token),) if token else ()
    url = f"{base}/api/datasets/:persistentId/?persistentId={quote(doi, safe=':/')}"
    document = _document(url, timeout, headers)
    data = document.get("data") if isinstance(document, dict) else None
    version = data.get("latestVersion") if isinstance(data, dict) else None
    files = version.get("files") if isinstance(version, dict) else None
    if not isinstance(files, list):
        raise RunError(f"{url} answered no data.latestVersion.files; is {doi} a dataset on {base}?")
    plan = Plan(source=doi)
    where = f"Dataverse dataset {doi}"
    for number, entry in enumerate(files, start=1):
        item = _dataverse_item(entry, base, where, headers)
        if isinstance(item, str):
            plan.problems.append((f"file {number}", item))
        else:
            plan.add(item)
    return plan


def _dataverse_item(entry: Any, base: str, where: str, headers: tuple[tuple[str, str], ...]) -> Item | str:
    data = entry.get("dataFile") if isinstance(entry, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        return f"{where} lists a file without dataFile.id"
    name, size = entry.get("label") or data.get("filename"), data.get("filesize")
    query = ""
    if isinstance(data.get("originalFileName"), str) and data.get("originalFileFormat"):
        name, size, query = data["originalFileName"], data.get("originalFileSize", None), "?format=original"
    if not isinstance(name, str):
        return f"{where} lists file {data['id']} without a name"
    folder = entry.get("directoryLabel")
    rel = f"{folder.strip('/')}/{name}" if isinstance(folder, str) and folder.strip("/") else name
    digests = {}
    checksum = data.get("checksum")
    if isinstance(checksum, dict) and isinstance(checksum.get("type"), str) and isinstance(checksum.get("value"), str):
        kind = _CHECKSUM_TYPES.get(checksum["type"].lower())
        if kind is None:
            return f"{rel}: {where} gives a {checksum['type']} checksum, which curator does not compute"
        digests[kind] = checksum["value"]
    elif isinstance(data.get("md5"), str):
        digests["md5"] = data["md5"]
    return Item(rel=rel, url=f"{base}/api/access/datafile/{data['id']}{query}",
                size=size if isinstance(size, int) else None, digests=digests, where=where, headers=headers)


def hugging_face(repo: str, api: str | None) -> Plan:
    """Every file of the Hub dataset repository ``OWNER/NAME`` (``@REVISION`` picks a branch, tag or commit)."""
    try:
        from huggingface_hub import HfApi, hf_hub_url
        from huggingface_hub.errors import HfHubHTTPError
        from huggingface_hub.hf_api import RepoFile
        from huggingface_hub.utils._headers import build_hf_headers
    except ImportError:
        raise OptionsError("fetching from the Hugging Face Hub needs huggingface_hub: pip install "
                           "'ct-curator[publish]'") from None
    name, _, revision = repo.partition("@")
    if name.count("/") != 1 or not all(name.split("/")):
        raise OptionsError(f"hf:{repo} is not hf:OWNER/NAME")
    endpoint = (api or os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
    client = HfApi(endpoint=endpoint)
    try:
        tree = [entry for entry in client.list_repo_tree(name, repo_type="dataset", recursive=True,
                                                         revision=revision or None)
                if isinstance(entry, RepoFile)]
    except (HfHubHTTPError, OSError, ValueError) as error:
        raise RunError(f"cannot list the Hub dataset {name} at {endpoint}: {error}") from None
    auth = build_hf_headers(library_name="curator").get("authorization")
    headers = (("Authorization", auth),) if auth else ()
    plan = Plan(source=f"hf:{repo}")
    where = f"Hub dataset {name}"
    for entry in tree:
        if entry.lfs is not None:
            digests = {"sha256": entry.lfs.sha256}
        else:
            digests = {GIT_BLOB: entry.blob_id}
        url = hf_hub_url(name, entry.path, repo_type="dataset", revision=revision or None, endpoint=endpoint)
        plan.add(Item(rel=entry.path, url=url, size=entry.size, digests=digests, where=where, headers=headers))
    return plan
