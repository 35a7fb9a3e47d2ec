"""What ``curator fetch`` will download: one :class:`Item` per file, with the checksum its source publishes.

Every name a source gives is checked before anything is written (:func:`name_problem`): no absolute path, no
``..`` or ``.`` component, no empty component, no NUL or control character, no backslash, no Windows-reserved
name, shorter than the portable-name limit. A name that fails is not fetched and is reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from curator.checks.names import MAX_PATH, component_problems
from curator.io.manifest import checked_path

# algorithms a source may publish: hashlib's names, and a git blob id (a file the Hub keeps outside LFS)
GIT_BLOB = "git-blob-sha1"
HEX_DIGITS = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128, GIT_BLOB: 40}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Item:
    """One file to fetch: where it goes in DEST (``rel``), where it comes from, and what its source says of it.

    ``size`` is the size the source publishes (None when it publishes none): a body longer than that is refused,
    so an endless body stops there. ``digests`` are the published checksums by algorithm (hex, lower case);
    ``where`` says which source document published them (for messages).
    """

    rel: str
    url: str
    size: int | None = None
    digests: dict[str, str] = field(default_factory=dict)
    where: str = ""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Plan:
    """The items, the problems met reading the source (each names an entry that cannot be fetched), and the
    checksum listing the source ships inside the release (its path in DEST, when there is one)."""

    source: str
    items: list[Item] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)   # (name as the source gave it, why)
    listings: list[str] = field(default_factory=list)              # files of the plan that are checksum listings
    selection: bool = False      # the source named only some files: verify only those
    inline: dict[str, bytes] = field(default_factory=dict)         # files already fetched (a base's listing)
    listing_items: list[Item] = field(default_factory=list)        # listings to fetch before the other files
    base: str | None = None      # the base URL every file a listing names is fetched from
    seen: set[str] = field(default_factory=set)

    def add(self, item: Item) -> None:
        problem = name_problem(item.rel)
        if problem is not None:
            self.problems.append((item.rel, problem))
            return
        digests = {}
        for algorithm, digest in item.digests.items():
            if algorithm not in HEX_DIGITS or len(digest) != HEX_DIGITS[algorithm] or \
                    not re.fullmatch(r"[0-9a-fA-F]+", digest):
                self.problems.append((item.rel, f"{item.where or 'the source'} gives {digest!r} as its {algorithm} "
                                                "checksum, which is not one"))
                return
            digests[algorithm] = digest.lower()
        if item.size is not None and item.size < 0:
            self.problems.append((item.rel, f"{item.where or 'the source'} gives a negative size"))
            return
        rel = checked_path(item.rel)[0]
        if rel in self.seen:
            self.problems.append((item.rel, "named twice by the source; fetched once"))
            return
        self.seen.add(rel)
        self.items.append(Item(rel, item.url, item.size, digests, item.where, item.headers))


def name_problem(rel: str) -> str | None:
    """Why ``rel`` (a name a source gives) cannot be a file under DEST; None when it can."""
    if _CONTROL.search(rel):
        return "the name holds a NUL or control character"
    if "\\" in rel:
        return "the name holds a backslash (a Windows path separator, or a way out of the folder)"
    clean, outside = checked_path(rel)
    if outside is not None:
        return outside
    parts = clean.split("/")
    if any(part in ("", ".") for part in parts):
        return f"path {rel!r} has an empty or '.' component"
    if len(clean) >= MAX_PATH:
        return f"path is {len(clean)} characters, the limit is {MAX_PATH - 1}"
    for part in parts:
        reserved = [p for p in component_problems(part) if "reserved" in p or "ends with" in p]
        if reserved:
            return reserved[0]
    return None
