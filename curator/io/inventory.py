"""Walk a release tree without following links."""

# No `from __future__ import annotations` here: a NamedTuple would compile each string annotation when the module
# loads (about 0.7 ms a field), a cost `curator verify` pays on every run.

import os
import stat
from collections.abc import Iterator
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


def walk_files(root: Path | str) -> Iterator[tuple[str, os.stat_result]]:
    """Every regular file under ``root`` with its ``lstat``, in the order of :func:`walk` (sorted by path), read as
    it is needed: a release of a million files is never held as a list. The same rules as :func:`walk`: links are
    not followed, version-control folders not entered, an unreadable folder passed over.

    Folders are sorted with their children: sorting each folder's names with a folder's name as ``name/`` gives
    the paths in the order a sort of every path would.
    """
    stack = [("", _sorted_children(str(root)))]
    while stack:
        prefix, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            continue
        name, entry_path, info = child
        if stat.S_ISDIR(info.st_mode):
            stack.append((f"{prefix}{name}/", _sorted_children(entry_path)))
        elif stat.S_ISREG(info.st_mode):
            yield f"{prefix}{name}", info


def _sorted_children(folder: str) -> Iterator[tuple[str, str, os.stat_result]]:
    try:
        with os.scandir(folder) as listing:
            children = [(child.name, child.path, child.stat(follow_symlinks=False)) for child in listing]
    except OSError:
        return
    children.sort(key=lambda c: c[0] + "/" if stat.S_ISDIR(c[2].st_mode) else c[0])
    for child in children:
        if child[0] in VCS_FOLDERS and stat.S_ISDIR(child[2].st_mode):
            continue
        yield child
