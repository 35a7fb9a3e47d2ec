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


def _listed(listing: Iterator[os.DirEntry[str]]) -> Iterator[os.DirEntry[str]]:
    """A folder's entries as read; a listing that fails part way (an I/O error) ends there, with what it gave kept,
    as an unreadable folder is skipped."""
    while True:
        try:
            child = next(listing)
        except (StopIteration, OSError):
            return
        yield child


def walk(root: Path) -> list[Entry]:
    """Every entry under ``root`` (not ``root`` itself), sorted by path. Links are listed, never followed.

    Version-control folders (.git, ...) are the repository's bookkeeping, not the release: not entered.
    """
    entries: list[Entry] = []
    pending = [("", root)]
    while pending:
        prefix, folder = pending.pop()
        try:
            listing = os.scandir(folder)
        except OSError:
            continue  # an unreadable folder: its entry is listed with kind "dir"; nothing more to see
        found: list[Entry] = []   # this folder's entries; its DirEntry objects are not held (1M in one folder)
        with listing:
            for child in _listed(listing):
                if child.name in VCS_FOLDERS and child.is_dir(follow_symlinks=False):
                    continue
                info = child.stat(follow_symlinks=False)
                kind = mode_kind(info.st_mode)
                found.append(Entry(f"{prefix}{child.name}", kind, info.st_size if kind == "file" else 0))
        entries += found
        pending += [(e.path + "/", folder / e.path[len(prefix):]) for e in found if e.kind == "dir"]
    entries.sort(key=lambda e: e.path)
    return entries


def walk_files(root: Path | str) -> Iterator[tuple[str, os.stat_result]]:
    """Every regular file under ``root`` with its ``lstat``, in the order of :func:`walk` (sorted by path), read as
    it is needed: a release of a million files is never held as a list. The same rules as :func:`walk`: links are
    not followed, version-control folders not entered, an unreadable folder passed over.

    Each folder's names are sorted with a folder's name as ``name/``: that gives the paths in the order a sort of
    every path would (``a-b`` < ``a/c`` < ``a0``).
    """
    is_dir, is_regular = stat.S_ISDIR, stat.S_ISREG
    stack = [("", str(root), iter(_sorted_children(str(root))))]
    while stack:
        prefix, folder, children = stack[-1]
        for name, info in children:
            mode = info.st_mode
            if is_regular(mode):
                yield prefix + name, info
            elif is_dir(mode) and name not in VCS_FOLDERS:
                path = f"{folder}/{name}"
                stack.append((f"{prefix}{name}/", path, iter(_sorted_children(path))))
                break   # into the folder; this one's iterator resumes after it
        else:
            stack.pop()


def walk_file_names(root: Path | str) -> Iterator[tuple[str, None]]:
    """The paths :func:`walk_files` gives, in its order and by its rules, with no ``lstat`` a file: the kinds come
    from the folder listing (``d_type``; a file system that does not give them costs the ``lstat`` anyway). For a
    reader that learns each file's size by reading it (``curator verify --no-cache``: the ``lstat`` of 200,000
    small files was a third of its main process). Each path comes as ``(path, None)``: no stat result."""
    stack = [("", str(root), iter(_sorted_kinds(str(root))))]
    while stack:
        prefix, folder, children = stack[-1]
        for name, kind in children:
            if kind == "file":
                yield prefix + name, None
            elif kind == "dir" and name not in VCS_FOLDERS:
                path = f"{folder}/{name}"
                stack.append((f"{prefix}{name}/", path, iter(_sorted_kinds(path))))
                break   # into the folder; this one's iterator resumes after it
        else:
            stack.pop()


def _sorted_kinds(folder: str) -> list[tuple[str, str]]:
    """(name, "file" / "dir" / "other") of each child, no link followed, sorted as :func:`_sorted_children`."""
    children = []
    try:
        with os.scandir(folder) as listing:
            for child in listing:
                try:
                    kind = ("file" if child.is_file(follow_symlinks=False)
                            else "dir" if child.is_dir(follow_symlinks=False) else "other")
                except OSError:   # a name gone since the folder was listed: leave it out
                    continue
                children.append((child.name, kind))
    except OSError:
        return []
    children.sort(key=lambda child: child[0] + "/" if child[1] == "dir" else child[0])
    return children


def _sorted_children(folder: str) -> list[tuple[str, os.stat_result]]:
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
    except OSError:
        return []
    try:
        children = [(child.name, child.stat(follow_symlinks=False)) for child in entries]
    except OSError:   # a name gone since the folder was listed: leave it out
        children = []
        for child in entries:
            try:
                children.append((child.name, child.stat(follow_symlinks=False)))
            except OSError:
                continue
    is_dir = stat.S_ISDIR
    if any(is_dir(info.st_mode) for _, info in children):
        children.sort(key=lambda child: child[0] + "/" if is_dir(child[1].st_mode) else child[0])
    else:
        children.sort()   # the names differ, so the stat results are never compared
    return children
