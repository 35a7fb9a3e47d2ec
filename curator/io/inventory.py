"""Walk a release tree without following links."""

# No `from __future__ import annotations` here: a NamedTuple would compile each string annotation when the module
# loads (about 0.7 ms a field), a cost `curator verify` pays on every run.

import os
import stat
from collections.abc import Iterator
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


_NAMES, _FILES, _ENTRIES = 0, 1, 2   # what _tree gives: files by name, files with their lstat, every entry's lstat


def walk(root: Path) -> list[Entry]:
    """Every entry under ``root`` (not ``root`` itself), sorted by path. Links are listed, never followed.

    Version-control folders (.git, ...) are the repository's bookkeeping, not the release: not entered.
    The rules are :func:`_tree`'s, which :func:`walk_files` and :func:`walk_file_names` share.
    """
    entries: list[Entry] = []
    add, is_regular = entries.append, stat.S_ISREG
    for path, info in cast("Iterator[tuple[str, os.stat_result]]", _tree(str(root), _ENTRIES)):
        mode = info.st_mode
        add(Entry(path, mode_kind(mode), info.st_size if is_regular(mode) else 0))
    return entries


def walk_entries(root: Path | str) -> Iterator[Entry]:
    """The entries :func:`walk` lists, in its order, one at a time (for a caller that holds them compactly)."""
    for path, info in cast("Iterator[tuple[str, os.stat_result]]", _tree(str(root), _ENTRIES)):
        mode = info.st_mode
        yield Entry(path, mode_kind(mode), info.st_size if stat.S_ISREG(mode) else 0)


def walk_files(root: Path | str) -> Iterator[tuple[str, os.stat_result]]:
    """Every regular file under ``root`` with its ``lstat``, in the order of :func:`walk` (sorted by path), read as
    it is needed: a release of a million files is never held as a list. The same rules as :func:`walk` (they are
    :func:`_tree`'s): links are not followed, version-control folders not entered, an unreadable folder passed over.
    """
    return cast("Iterator[tuple[str, os.stat_result]]", _tree(str(root), _FILES))


def walk_file_names(root: Path | str) -> Iterator[tuple[str, None]]:
    """The paths :func:`walk_files` gives, in its order and by its rules, with no ``lstat`` a file: the kinds come
    from the folder listing (``d_type``; a file system that does not give them costs the ``lstat`` anyway). For a
    reader that learns each file's size by reading it (``curator verify --no-cache``: the ``lstat`` of 200,000
    small files was a third of its main process). Each path comes as ``(path, None)``: no stat result."""
    return cast("Iterator[tuple[str, None]]", _tree(str(root), _NAMES))


def _tree(root: str, gives: int) -> Iterator[tuple[str, os.stat_result | None]]:
    """The one traversal of the walkers, in the order of a sort of every path, depth first: ``(path, None)`` of each
    regular file (``_NAMES``), ``(path, lstat)`` of each regular file (``_FILES``) or of every entry (``_ENTRIES``).

    The rules, with :func:`_children`'s:
    - links are never followed: a link, FIFO, device or socket is given only as an entry (``_ENTRIES``);
    - the kinds are the folder listing's (``d_type``), the ``lstat`` made as a path is given: a folder holds its
      sorted names only (never a ``DirEntry`` or ``lstat`` of each child: a folder of a million files);
    - a name gone before its ``lstat`` is left out, and so is one no longer a regular file (``_FILES``).
    """
    lstat, is_regular = os.lstat, stat.S_ISREG
    everything, names_only = gives == _ENTRIES, gives == _NAMES
    stack = [("", root, iter(_children(root, everything)))]
    while stack:
        prefix, folder, children = stack[-1]
        for name in children:
            if name[-1] == "/":   # into the folder; this one's iterator resumes after it
                path = f"{folder}/{name[:-1]}"
                stack.append((prefix + name, path, iter(_children(path, everything))))
                break
            if names_only:
                yield prefix + name, None
                continue
            try:
                info = lstat(f"{folder}/{name}")
            except OSError:
                continue
            if everything or is_regular(info.st_mode):
                yield prefix + name, info
        else:
            stack.pop()


def _children(folder: str, everything: bool) -> list[str]:
    """A folder's children as :func:`_tree` walks them, sorted: the name of a regular file (with ``everything``, of
    any entry), and ``name/`` for a folder to go into, which puts its paths where a sort of every path would
    (``a-b`` < ``a/c`` < ``a0``); no name holds a ``/``. The rules:

    - the kinds are the listing's, no link followed (``d_type``; a file system that gives none costs an ``lstat``);
    - a version-control folder (:data:`VCS_FOLDERS`) is neither listed nor entered (a file of that name is listed);
    - an unreadable folder gives nothing (its own entry is listed); a listing that fails part way (an I/O error)
      keeps what it gave; a name gone before its kind is known is left out.
    """
    children: list[str] = []
    add = children.append
    try:
        listing = os.scandir(folder)
    except OSError:
        return children
    with listing:
        try:
            for child in listing:
                name = child.name
                try:
                    if child.is_file(follow_symlinks=False):
                        add(name)
                        continue
                    directory = child.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if directory:
                    if name in VCS_FOLDERS:
                        continue
                    if everything:
                        add(name)
                    add(name + "/")
                elif everything:
                    add(name)
        except OSError:
            pass   # the listing failed part way: what it gave is kept
    children.sort()
    return children
