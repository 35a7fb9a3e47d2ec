"""A persistent cache of what reading a file told us (digests, NIfTI headers), keyed by the file's identity.

The key is the resolved path with size, mtime, ctime, inode and device: any write to the file changes ctime,
so a stale entry is never used. Values are JSON text in SQLite (standard library, safe for several processes;
nothing is ever unpickled). A rerun over an unchanged release reads no file again.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

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
    name = resolved if resolved is not None else str(path.resolve())
    return f"{name}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_ctime_ns}\0{info.st_ino}\0{info.st_dev}"


def file_keys(root: Path, paths: Iterable[str]) -> dict[str, str]:
    """``file_key`` of each path (POSIX, relative to ``root``, inside folders the walk entered: no links)."""
    base = str(root.resolve())
    keys = {}
    for rel in paths:
        key = file_key(root / rel, f"{base}/{rel}")
        if key is not None:
            keys[rel] = key
    return keys


class Cache:
    """``get``/``put`` JSON values per (kind, file key). Use from one thread; look up before fanning out."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"cache-v{SCHEMA_VERSION}.sqlite"
        self._db = sqlite3.connect(self.path, timeout=30)
        self._db.execute("CREATE TABLE IF NOT EXISTS entries (kind TEXT, key TEXT, value TEXT, "
                         "PRIMARY KEY (kind, key))")
        self.hits = 0
        self.misses = 0

    def get_many(self, kind: str, keys: Iterable[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        wanted = list(keys)
        for start in range(0, len(wanted), 500):
            batch = wanted[start : start + 500]
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(f"SELECT key, value FROM entries WHERE kind = ? AND key IN ({marks})",
                                    [kind, *batch])
            found.update((key, json.loads(value)) for key, value in rows)
        self.hits += len(found)
        self.misses += len(wanted) - len(found)
        return found

    def put_many(self, kind: str, items: dict[str, Any]) -> None:
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO entries (kind, key, value) VALUES (?, ?, ?)",
                                 [(kind, key, json.dumps(value)) for key, value in items.items()])

    def close(self) -> None:
        self._db.close()


def clear_cache(folder: Path) -> int:
    """Delete the cache files in ``folder``; returns how many bytes were freed."""
    freed = 0
    for path in folder.glob("cache-v*.sqlite*"):
        freed += path.stat().st_size
        path.unlink()
    return freed
