"""What SOURCE names, turned into a :class:`~curator.fetch.plan.Plan`: the files, their URLs, sizes and published
checksums.

- ``http(s)://`` URLs (or ``--urls FILE``, one a line): each file goes to DEST under its path relative to the URLs'
  common folder. A URL ending in ``/`` is a release's base: its checksum listing (``--checksums NAME``, else
  ``SHA256SUMS``, else ``MD5SUMS``) is fetched first and every file it lists is fetched from beside it. A listing
  among the URLs (a sum file by its name, or the one ``--checksums`` names) gives the others their checksums; it is
  read with :mod:`curator.io.checksum_listings` (sum files, CNCB md5 JSON maps, Dataverse and Zenodo JSON, ...).
- ``s3://bucket/prefix``: every object under the prefix (:mod:`curator.fetch.remote_sources`).
- Zenodo, Dataverse and the Hugging Face Hub: :mod:`curator.fetch.platforms`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from curator.errors import OptionsError, RunError
from curator.fetch.plan import Item, Plan
from curator.fetch.transport import TransferError, get_bytes
from curator.io import ReadError
from curator.io.checksum_listings import JSON_LIMIT, SUM_FILES, read_named

BASE_LISTINGS = ("SHA256SUMS", "MD5SUMS")
_ZENODO_URL = re.compile(r"^https?://(?:sandbox\.)?zenodo\.org/(?:api/)?records?/(\d+)/?$")
_ZENODO_DOI = re.compile(r"^(?:doi:|https?://(?:dx\.)?doi\.org/)?10\.5281/zenodo\.(\d+)$", re.IGNORECASE)
_DOI = re.compile(r"^(?:doi:|https?://(?:dx\.)?doi\.org/)?(10\.\d{4,9}/\S+)$", re.IGNORECASE)


def plan_source(sources: Sequence[str], *, urls_file: Path | None = None, checksums: str | None = None,
                server: str | None = None, api: str | None = None, timeout: float = 60.0) -> Plan:
    """The plan for SOURCE (one or several). OptionsError (exit 2) for a SOURCE curator cannot read, RunError
    (exit 3) for a source that cannot be reached."""
    names = list(sources)
    if urls_file is not None:
        names += _url_lines(urls_file)
    if not names:
        raise OptionsError("name a SOURCE: URLs, --urls FILE, s3://bucket/prefix, zenodo:ID, a DOI, or hf:OWNER/NAME")
    first = names[0].strip()
    single = len(names) == 1
    from curator.fetch import platforms

    if single and (match := _ZENODO_URL.match(first) or _ZENODO_DOI.match(first)
                   or re.fullmatch(r"zenodo:(\d+)", first)):
        return platforms.zenodo(match[1], api, timeout)
    if single and first.startswith("hf:"):
        return platforms.hugging_face(first[3:], api)
    if single and first.startswith("s3://"):
        from curator.fetch.remote_sources import s3_plan

        return s3_plan(first)
    if single and (match := _DOI.match(first)):
        if not server:
            raise OptionsError(f"{first} is a DOI but not a Zenodo one: name its Dataverse installation with "
                               "--server URL (for example --server https://dataverse.harvard.edu)")
        return platforms.dataverse(f"doi:{match[1]}", server, timeout)
    bad = [n for n in names if not re.match(r"^https?://[^/]+", n.strip())]
    if bad:
        raise OptionsError(f"{bad[0]!r} is not a source curator fetches: give http(s):// URLs, --urls FILE, "
                           "s3://bucket/prefix, zenodo:ID or a Zenodo record URL or DOI, a Dataverse DOI with "
                           "--server URL, or hf:OWNER/NAME")
    if single and first.endswith("/"):
        return _base_plan(first, checksums, timeout)
    return _url_plan([n.strip() for n in names], checksums)


def _url_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise OptionsError(f"cannot read the URL list {path}: {getattr(error, 'strerror', None) or error}") from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _base_plan(base: str, checksums: str | None, timeout: float) -> Plan:
    """A release's base URL: its checksum listing first, then every file it lists."""
    plan = Plan(source=base)
    tried = []
    for name in ([checksums] if checksums else BASE_LISTINGS):
        url = base + _quoted(name)
        try:
            plan.inline[name] = get_bytes(url, JSON_LIMIT, timeout)
        except TransferError as error:
            tried.append(f"{url}: {error}")
            continue
        plan.listings.append(name)
        plan.base = base
        return plan
    raise RunError("no checksum listing found at the base URL (" + "; ".join(tried) + "); name it with "
                   "--checksums NAME, or give the files' URLs")


def _url_plan(urls: list[str], checksums: str | None) -> Plan:
    """Files by URL, each under its path below the URLs' common folder; listings among them are read first."""
    plan = Plan(source=urls[0] if len(urls) == 1 else f"{len(urls)} URLs", selection=True)
    split = [urlsplit(url) for url in urls]
    hosts = {(s.scheme, s.netloc) for s in split}
    folders = [s.path.split("/")[:-1] for s in split]
    common: list[str] = folders[0] if len(hosts) == 1 else []
    for folder in folders[1:]:
        while common and folder[:len(common)] != common:
            common = common[:-1]
    wanted = Path(checksums).name if checksums else None
    for url, parts in zip(urls, split, strict=True):
        segments = parts.path.split("/")[len(common):] if common else [parts.path.rpartition("/")[2]]
        rel = "/".join(unquote(s) for s in segments)
        item = Item(rel=rel, url=url, where=url)
        if rel.rpartition("/")[2] in (*SUM_FILES, *([wanted] if wanted else [])):
            plan.listings.append(rel)
            plan.listing_items.append(item)
        else:
            plan.add(item)
    return plan


def _quoted(rel: str) -> str:
    return "/".join(quote(part) for part in rel.split("/"))


def attach_listings(plan: Plan, dest: Path) -> None:
    """Read the plan's checksum listings (already in DEST) and give their checksums to the plan's items; from a
    base URL, every file a listing names becomes an item. A listing entry that cannot be fetched is a problem."""
    listed: dict[str, tuple[str, str, str]] = {}
    for rel in plan.listings:
        try:
            manifests = read_named(dest, rel)
        except ReadError as error:
            plan.problems.append((rel, f"the checksum listing cannot be read ({error})"))
            continue
        for manifest in manifests:
            for number, why in manifest.problems:
                plan.problems.append((f"{rel} (entry {number})" if number else rel, why))
            for entry in manifest.entries:
                listed.setdefault(entry.path, (entry.algorithm, entry.digest, rel))
    listing_names = set(plan.listings)
    if plan.base is not None:
        for path, (algorithm, digest, rel) in sorted(listed.items()):
            if path not in listing_names and algorithm != "xxh128":
                plan.add(Item(rel=path, url=plan.base + _quoted(path), digests={algorithm: digest}, where=rel))
        return
    for index, item in enumerate(plan.items):
        found = listed.get(item.rel)
        if found is not None and not item.digests and found[0] != "xxh128":
            plan.items[index] = Item(item.rel, item.url, item.size, {found[0]: found[1]}, found[2], item.headers)
