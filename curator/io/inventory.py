"""Walk a release tree without following links."""

# No `from __future__ import annotations` here: a NamedTuple would compile each string annotation when the module
# loads (about 0.7 ms a field), a cost `curator verify` pays on every run.

import os
import stat
from pathlib import Path
from typing import NamedTuple


class Entry(NamedTuple):   # not a dataclass: verify reads the tree without importing dataclasses
    path: str          # POSIX, relative to the root
    kind: str          # "file", "dir", "symbolic link", "device", "named pipe", "socket", "other"
    size: int


def mode_kind(mode: int) -> str:
    """The kind of a ``st_mode``, as an Entry names it."""
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symbolic link"
    if stat.S_ISBLK(mode) or stat.S_ISCHR(mode):
        return "device"
    if stat.S_ISFIFO(mode):
        return "named pipe"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "other"


VCS_FOLDERS = frozenset({".git", ".hg", ".svn", ".dvc", ".datalad"})


def walk(root: Path) -> list[Entry]:
    """Every entry under ``root`` (not ``root`` itself), sorted by path. Links are listed, never followed.

    Version-control folders (.git, ...) are the repository's bookkeeping, not the release: not entered.
    """
    entries: list[Entry] = []
    pending = [("", root)]
    while pending:
        prefix, folder = pending.pop()
        try:
            children = list(os.scandir(folder))
        except OSError:
            continue  # an unreadable folder: its entry is listed with kind "dir"; nothing more to see
        for child in children:
            if child.name in VCS_FOLDERS and child.is_dir(follow_symlinks=False):
                continue
            rel = f"{prefix}{child.name}"
            info = child.stat(follow_symlinks=False)
            kind = mode_kind(info.st_mode)
            entries.append(Entry(rel, kind, info.st_size if kind == "file" else 0))
            if kind == "dir":
                pending.append((rel + "/", Path(child.path)))
    entries.sort(key=lambda e: e.path)
    return entries
