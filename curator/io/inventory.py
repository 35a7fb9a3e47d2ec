"""Walk a release tree without following links."""

# No `from __future__ import annotations` here: a NamedTuple would compile each string annotation when the module
# loads (about 0.7 ms a field), a cost `curator verify` pays on every run.

import os
import stat
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import NamedTuple, cast


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


class _Mark(Enum):
    ENTER = "enter"   # in a folder's sorted children: here the walk goes into the named folder


_Child = tuple[str, str, "os.stat_result | _Mark | None"]   # (sort key, name, lstat or None, or ENTER)


def walk(root: Path) -> list[Entry]:
    """Every entry under ``root`` (not ``root`` itself), sorted by path. Links are listed, never followed.

    Version-control folders (.git, ...) are the repository's bookkeeping, not the release: not entered.
    The rules are :func:`_tree`'s, which :func:`walk_files` and :func:`walk_file_names` share.
    """
    entries: list[Entry] = []
    add, is_regular = entries.append, stat.S_ISREG
    for path, info in cast("Iterator[tuple[str, os.stat_result]]", _tree(str(root), True, True)):
        mode = info.st_mode
        add(Entry(path, mode_kind(mode), info.st_size if is_regular(mode) else 0))
    return entries


def walk_files(root: Path | str) -> Iterator[tuple[str, os.stat_result]]:
    """Every regular file under ``root`` with its ``lstat``, in the order of :func:`walk` (sorted by path), read as
    it is needed: a release of a million files is never held as a list. The same rules as :func:`walk` (they are
    :func:`_tree`'s): links are not followed, version-control folders not entered, an unreadable folder passed over.
    """
    return cast("Iterator[tuple[str, os.stat_result]]", _tree(str(root), True, False))


def walk_file_names(root: Path | str) -> Iterator[tuple[str, None]]:
    """The paths :func:`walk_files` gives, in its order and by its rules, with no ``lstat`` a file: the kinds come
    from the folder listing (``d_type``; a file system that does not give them costs the ``lstat`` anyway). For a
    reader that learns each file's size by reading it (``curator verify --no-cache``: the ``lstat`` of 200,000
    small files was a third of its main process). Each path comes as ``(path, None)``: no stat result."""
    return cast("Iterator[tuple[str, None]]", _tree(str(root), False, False))


def _tree(root: str, stat_them: bool, everything: bool) -> Iterator[tuple[str, os.stat_result | None]]:
    """``(path, lstat)`` (``(path, None)`` when not ``stat_them``) of the regular files under ``root``, and of every
    other entry when ``everything`` (which needs ``stat_them``), in the order of a sort of their paths, depth first:
    the one home of the walkers' rules (with :func:`_children`). A folder is listed when the walk reaches it, so
    only the sorted names of the folders on the current path are held, never the tree."""
    stack = [("", root, iter(_children(root, stat_them, everything)))]
    enter = _Mark.ENTER
    while stack:
        prefix, folder, children = stack[-1]
        for _, name, info in children:
            if info is enter:
                path = f"{folder}/{name}"
                stack.append((f"{prefix}{name}/", path, iter(_children(path, stat_them, everything))))
                break   # into the folder; this one's iterator resumes after it
            yield prefix + name, info
        else:
            stack.pop()


def _children(folder: str, stat_them: bool, everything: bool) -> list[_Child]:
    """A folder's children as :func:`_tree` walks them, sorted by key: a file (or, with ``everything``, any entry)
    under its name, and a folder to go into under ``name/``, which puts its paths where a sort of every path would
    (``a-b`` < ``a/c`` < ``a0``). The rules:

    - links are never followed: kinds are the ``lstat``'s (``stat_them``) or the listing's ``d_type`` (no ``lstat``
      where the file system gives it); a link, FIFO, device or socket is listed only with ``everything``;
    - a version-control folder (:data:`VCS_FOLDERS`) is neither listed nor entered (a file of that name is listed);
    - an unreadable folder gives nothing (its own entry is listed); a listing that fails part way (an I/O error)
      keeps what it gave; a name gone between the listing and its ``lstat`` is left out;
    - no ``DirEntry`` is held: a folder of a million files holds its names, not a million ``DirEntry`` objects.
    """
    children: list[_Child] = []
    add, is_regular, is_dir = children.append, stat.S_ISREG, stat.S_ISDIR
    try:
        listing = os.scandir(folder)
    except OSError:
        return children
    with listing:
        try:
            for child in listing:
                name = child.name
                try:
                    if stat_them:
                        lstat = child.stat(follow_symlinks=False)
                        mode, info = lstat.st_mode, lstat
                        regular, directory = is_regular(mode), is_dir(mode)
                    else:
                        info = None
                        regular = child.is_file(follow_symlinks=False)
                        directory = not regular and child.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if regular:
                    add((name, name, info))
                elif directory:
                    if name in VCS_FOLDERS:
                        continue
                    if everything:
                        add((name, name, info))
                    add((name + "/", name, _Mark.ENTER))
                elif everything:
                    add((name, name, info))
        except OSError:
            pass   # the listing failed part way: what it gave is kept
    children.sort()   # the keys differ (no name holds "/"), so nothing past a key is ever compared
    return children
