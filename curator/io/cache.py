"""A persistent cache of what reading a file told us (digests, NIfTI headers), keyed by the file's identity.

The key is the resolved path with size, mtime, ctime, inode and device: any write to the file changes ctime,
so a stale entry is never used. Values are JSON text in SQLite (standard library, safe for several processes;
nothing is ever unpickled). A rerun over an unchanged release reads no file again.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import time
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from itertools import chain, compress
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any

from curator.io.inventory import VCS_FOLDERS as _VCS_FOLDERS

SCHEMA_VERSION = 1


def default_cache_dir() -> Path:
    if "CURATOR_CACHE_DIR" in os.environ:
        return Path(os.environ["CURATOR_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "curator"


def file_key(path: Path, resolved: str | None = None) -> str | None:
    """The identity of the file's current content, or None when it cannot be stat'ed.

    ``resolved`` is ``path`` already resolved (callers keying many files under one root resolve the root once:
    resolving every path costs a stat per component).
    """
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return stat_key(resolved if resolved is not None else str(path.resolve()), info)


def stat_key(name: str, info: os.stat_result) -> str:
    """The cache key of the file ``name`` (absolute, its root resolved) whose ``lstat`` is ``info``."""
    return f"{name}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_ctime_ns}\0{info.st_ino}\0{info.st_dev}"


def file_keys(root: Path, paths: Iterable[str]) -> dict[str, str]:
    """``file_key`` of each path (POSIX, relative to ``root``, inside folders the walk entered: no links)."""
    base = str(root.resolve())
    keys = {}
    lstat = os.lstat
    for rel in paths:
        name = f"{base}/{rel}"   # strings, not Paths: a pathlib join costs more than the lstat itself
        try:
            info = lstat(name)
        except OSError:
            continue
        keys[rel] = stat_key(name, info)
    return keys


FolderState = tuple[str, int, list[str]]   # a folder's digest, its number of entries, its subfolders


def folder_state(base: str, rel: str) -> FolderState | None:
    """The identity of a folder's listing: a digest of the folder's own ``lstat`` and every entry's (name, mode,
    size, mtime, ctime, inode, device), the number of entries, and the subfolders a walk enters (relative to
    ``base``; version-control folders are neither entered nor counted, as :func:`~curator.io.inventory.walk` does).
    None when the folder cannot be listed or an entry is gone meanwhile.

    Adding, removing or renaming an entry changes the folder's mtime and ctime; any write to a file (even restoring
    its size and mtime) its ctime; a file swapped for another its inode. So two equal states mean the same files
    with the same content as far as the cache's file keys (:func:`stat_key`) can tell, at one ``lstat`` an entry
    and no object kept per file.
    """
    import hashlib  # not at start-up: a verify without a cache never needs it here

    folder = f"{base}/{rel}" if rel else base
    prefix = f"{rel}/" if rel else ""
    # Not the traversal core's listing (inventory._children): it takes each entry's kind from scandir in a Python
    # loop (it must: it has no lstat to learn kinds from), which listdir's C loop here does not need, since every
    # entry is lstat'ed below anyway. Measured, 200 folders of 1,000 files, in-process best of 7, two runs (load
    # 7-9): listing by the core 1.15-1.17 s against listdir 0.78-0.92 s, of folder_state's 5.6-6.4 s: +4-6% on
    # the cached rerun's main cost.
    # What the two share is the rule, VCS_FOLDERS (imported from inventory), not the loop.
    try:
        info = os.lstat(folder)
        names = sorted(os.listdir(folder))  # noqa: PTH208 - names as strings: a Path an entry costs more than its lstat
    except OSError:   # not a folder (any more), or unreadable
        return None
    for name in _VCS_FOLDERS.intersection(names[: bisect_right(names, _LAST_VCS)]):   # (sorted: few to look at)
        with contextlib.suppress(OSError):
            if stat.S_ISDIR(os.lstat(f"{folder}/{name}").st_mode):
                names.remove(name)   # a repository's folder is not walked: its changes do not count
    digest = hashlib.sha256(_packed(_STATE(info)))
    subfolders: list[str] = []
    for start in range(0, len(names), _CHUNK):   # a folder of a million files is not held as stat results
        chunk = names[start : start + _CHUNK]
        try:   # C loops, no Python per entry: a rerun over 200,000 files is their lstat and little more
            states = list(map(_STATE, map(os.lstat, [f"{folder}/{name}" for name in chunk])))
        except OSError:   # an entry gone meanwhile
            return None
        digest.update(_packed(chain.from_iterable(states)))
        digest.update("/".join(chunk).encode("utf-8", "surrogateescape") + b"/")
        subfolders += [prefix + name for name in compress(chunk, map(stat.S_ISDIR, map(itemgetter(0), states)))]
    count = len(names)
    return digest.hexdigest(), count, subfolders


_CHUNK = 4096
_LAST_VCS = max(_VCS_FOLDERS)
_STATE = attrgetter("st_mode", "st_size", "st_mtime_ns", "st_ctime_ns", "st_ino", "st_dev")


def _packed(numbers: Iterable[int]) -> bytes:
    """The numbers as bytes, 8 each; in text when one does not fit (an inode number above 2**63)."""
    values = numbers if isinstance(numbers, tuple) else tuple(numbers)
    try:
        return b"q" + array("q", values).tobytes()
    except OverflowError:
        return b"r" + repr(values).encode()


def folder_states(base: str, batch: list[str]) -> list[FolderState | None]:
    """:func:`folder_state` of each folder of ``batch``: a task of plain data (a process, a thread, a Dask worker)."""
    return [folder_state(base, rel) for rel in batch]


_DAMAGED = frozenset({11, 26})   # SQLITE_CORRUPT, SQLITE_NOTADB: the file is not (or no longer) a cache database
_COLUMNS = ["kind", "key", "value"]


class _WrongSchema(sqlite3.DatabaseError):
    """The database is readable but its ``entries`` table is not this cache's."""


def _damaged(error: BaseException) -> bool:
    if isinstance(error, _WrongSchema):
        return True
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _DAMAGED
    return isinstance(error, sqlite3.DatabaseError) and any(
        words in str(error) for words in ("not a database", "malformed", "file is encrypted"))


def _stored(key: str) -> str:
    """The key as SQLite can hold it: a name that is not UTF-8 (surrogates) is written as NUL + its bytes in hex,
    which no real key starts with (a key starts with an absolute path)."""
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return "\0" + key.encode("utf-8", "surrogatepass").hex()
    return key


class Cache:
    """``get``/``put`` JSON values per (kind, file key). Use from one thread; look up before fanning out.

    The cache only ever saves work: when it cannot be used (the folder is a file or read-only, the database is
    locked away) every lookup misses and nothing is remembered; a damaged database (not SQLite, truncated, another
    schema) is renamed aside (``cache-v1.sqlite.damaged-<time>``) and a new one started. Either way ``warning``
    says what happened, once, for the command to print; the results are those of a run without a cache.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / f"cache-v{SCHEMA_VERSION}.sqlite"
        self.hits = 0
        self.misses = 0
        self.warning: str | None = None
        self._db: sqlite3.Connection | None = None
        self._writable = True
        try:
            self._db = self._open()
        except (OSError, sqlite3.Error) as error:
            self._recover(error)

    def _open(self) -> sqlite3.Connection:
        self.folder.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("CREATE TABLE IF NOT EXISTS entries (kind TEXT, key TEXT, value TEXT, "
                       "PRIMARY KEY (kind, key))")
            columns = [row[1] for row in db.execute("PRAGMA table_info(entries)")]
            if columns != _COLUMNS:
                raise _WrongSchema(f"its table has the columns {columns}, not {_COLUMNS}")
        except BaseException:
            db.close()
            raise
        return db

    def _recover(self, error: BaseException) -> None:
        """After ``error``: set a damaged database aside and start a new one, else go on without the cache."""
        self._close_db()
        reason = getattr(error, "strerror", None) or str(error)
        if _damaged(error) and self.path.is_file():
            try:
                aside = self._set_aside()
                self._db = self._open()
            except (OSError, sqlite3.Error) as again:
                self._close_db()
                self._warn(f"the cache {self.path} is damaged ({reason}) and cannot be replaced "
                           f"({getattr(again, 'strerror', None) or again}); running without it")
                return
            self._warn(f"the cache {self.path} was damaged ({reason}); moved it to {aside.name} and started a "
                       "new one")
            return
        self._warn(f"cannot use the cache in {self.folder} ({reason}); running without it "
                   "(--cache-dir DIR or --no-cache to choose)")

    def _set_aside(self) -> Path:
        from curator.outputs import move  # only for a damaged cache: outputs brings logging and secrets

        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}-{os.getpid()}")
        move(self.path, aside)
        for suffix in ("-journal", "-wal", "-shm"):   # a stale journal must not be replayed into the new database
            sibling = self.path.with_name(self.path.name + suffix)
            if sibling.exists():
                move(sibling, aside.with_name(aside.name + suffix))
        return aside

    def _warn(self, text: str) -> None:
        if self.warning is None:
            self.warning = text

    def _close_db(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    def get_many(self, kind: str, keys: Iterable[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        wanted = list(keys)
        if self._db is not None:
            try:
                found = self._select(self._db, kind, wanted)
            except (sqlite3.Error, ValueError, TypeError) as error:   # a stored value that is not JSON (or NULL)
                self._recover(error if isinstance(error, sqlite3.Error) else _WrongSchema(str(error)))
                found = {}
        self.hits += len(found)
        self.misses += len(wanted) - len(found)
        return found

    @staticmethod
    def _select(db: sqlite3.Connection, kind: str, wanted: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        stored = {_stored(key): key for key in wanted}
        names = list(stored)
        for start in range(0, len(names), 500):
            batch = names[start : start + 500]
            marks = ",".join("?" * len(batch))
            rows = db.execute(f"SELECT key, value FROM entries WHERE kind = ? AND key IN ({marks})",
                              [kind, *batch]).fetchall()
            if rows:
                # one JSON array for the batch: a json.loads per value costs more than the decoding itself
                values = json.loads("[" + ",".join(value for _, value in rows) + "]")
                if len(values) != len(rows):   # a stored value that is not one JSON value ("1,2")
                    raise ValueError("a cached value is not one JSON value")
                found.update(zip((stored[key] for key, _ in rows), values, strict=True))
        return found

    def scan(self, kind: str, base: str, chunk: int = 4096) -> Iterator[tuple[str, str]]:
        """Every (key, value as JSON text) of ``kind`` whose file is under the folder ``base`` (resolved), in key
        order, which is the order of the files' paths (a key is the path, then NUL). Read a chunk at a time by key,
        so that the cache can be written between two chunks. Decode a value with :meth:`decode`."""
        after, end = base.rstrip("/") + "/", base.rstrip("/") + "0"   # "0" follows "/": the folder's whole range
        operator = ">="
        while (db := self._db) is not None:
            try:
                rows = db.execute(f"SELECT key, value FROM entries WHERE kind = ? AND key {operator} ? AND "
                                        "key < ? ORDER BY key LIMIT ?", (kind, after, end, chunk)).fetchall()
            except sqlite3.Error as error:
                self._recover(error)
                return
            for row in rows:
                if self._db is not db:   # set aside as damaged meanwhile (decode): trust none of its rows
                    return
                yield row
            if len(rows) < chunk:
                return
            after, operator = rows[-1][0], ">"

    def decode(self, value: str) -> Any:
        """A value :meth:`scan` gave; None (and the cache set aside as damaged) when it is not one JSON value."""
        try:
            return json.loads(value)
        except (ValueError, TypeError) as error:
            self._recover(_WrongSchema(f"a cached value is not JSON ({error})"))
            return None

    @property
    def usable(self) -> bool:
        """False when the cache could not be opened: every lookup misses, nothing is remembered."""
        return self._db is not None

    def recall(self, kind: str, key: str) -> Any:
        """The value stored for one key (None when there is none or it is not JSON), not counted as a hit or miss:
        a record about many files (a whole verified release), not a file's."""
        if self._db is None:
            return None
        try:
            row = self._db.execute("SELECT value FROM entries WHERE kind = ? AND key = ?",
                                   (kind, _stored(key))).fetchone()
            return json.loads(row[0]) if row is not None else None
        except (sqlite3.Error, ValueError, TypeError) as error:
            self._recover(error if isinstance(error, sqlite3.Error) else _WrongSchema(str(error)))
            return None

    def put_many(self, kind: str, items: dict[str, Any]) -> None:
        if self._db is None or not self._writable or not items:
            return
        self.put_texts(kind, {key: json.dumps(value) for key, value in items.items()})

    def put_texts(self, kind: str, items: dict[str, str]) -> None:
        """Like :meth:`put_many` with each value already JSON text (exactly as ``json.dumps`` writes it): a caller
        storing 200,000 one-digest values words them with an f-string, not the JSON encoder."""
        if self._db is None or not self._writable or not items:
            return
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO entries (kind, key, value) VALUES (?, ?, ?)",
                                     [(kind, _stored(key), value) for key, value in items.items()])
        except sqlite3.Error as error:
            if _damaged(error):
                self._recover(error)
                return
            self._writable = False   # read-only folder or file, disk full, locked: keep reading, stop writing
            self._warn(f"cannot write to the cache {self.path} ({error}); files read now will be read again "
                       "next time")

    def close(self) -> None:
        self._close_db()


def clear_cache(folder: Path) -> int:
    """Delete the cache files in ``folder``; returns how many bytes were freed."""
    freed = 0
    for path in folder.glob("cache-v*.sqlite*"):
        freed += path.stat().st_size
        path.unlink()
    return freed
