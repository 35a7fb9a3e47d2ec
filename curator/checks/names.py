"""The portable-name policy (DESIGN.md): names that round-trip through GNU, BagIt, xxhsum and pooch."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import pairwise

from curator.escaping import display
from curator.io.junk import is_junk_path

_ALLOWED = re.compile(r"^[A-Za-z0-9._/-]+$")
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
MAX_PATH = 200


# files of the dataset's repository rather than of the release: never expected in its manifest
_REPOSITORY_FILES = (".gitignore", ".gitattributes", ".gitmodules", ".pre-commit-config.yaml", ".gitlab-ci.yml",
                     "curator.toml", ".dvcignore")


def is_repository_file(path: str) -> bool:
    return path in _REPOSITORY_FILES or path.startswith((".github/", ".gitlab/"))


def is_junk(path: str) -> bool:
    return is_junk_path(path)


def component_problems(part: str) -> list[str]:
    """Why one path component (a folder or file name) breaks the portable-name policy."""
    problems = []
    if not _ALLOWED.match(part) and part:
        bad = sorted({c for c in part if not re.match(r"[A-Za-z0-9._/-]", c)})
        problems.append("characters outside ASCII letters, digits and ._-: " + " ".join(repr(c) for c in bad))
    if part.startswith("-"):
        problems.append(f"{part!r} starts with '-'")
    if part.split(".")[0].upper() in _RESERVED:
        problems.append(f"{part!r} is a reserved name on Windows")
    if part.endswith((".", " ")):
        problems.append(f"{part!r} ends with a dot or space (Windows drops it)")
    return problems


def name_problems(path: str) -> list[str]:
    """Why ``path`` (relative, POSIX) breaks the portable-name policy; empty when it does not."""
    problems = []
    if not _ALLOWED.match(path):
        bad = sorted({c for c in path if not re.match(r"[A-Za-z0-9._/-]", c)})
        problems.append("characters outside ASCII letters, digits and ._-: " + " ".join(f"'{display(c)}'" for c in bad))
    for part in path.split("/"):
        problems += [p for p in component_problems(part) if not p.startswith("characters outside")]
    if len(path) >= MAX_PATH:
        problems.append(f"path is {len(path)} characters, the limit is {MAX_PATH - 1}")
    return problems


def path_name_problems(path: str) -> list[tuple[str, str]]:
    """``name_problems`` by the component that has them: (the path up to that component, reason). A folder named
    badly is one problem, not one per file under it."""
    parts = path.split("/")
    found = [("/".join(parts[: i + 1]), reason) for i, part in enumerate(parts) for reason in component_problems(part)]
    if len(path) >= MAX_PATH:
        found.append((path, f"path is {len(path)} characters, the limit is {MAX_PATH - 1}"))
    return found


def case_collisions(paths: Iterable[str]) -> dict[str, str]:
    """path -> the earlier path it collides with when case is ignored (macOS, Windows).

    Of many paths, only those whose folded copy's hash another's shares are looked at (the hashes in one numpy
    array, 8 bytes a path), not every path held in a dict by its folded copy (~250 B a path, a million-file
    release's ~250 MB). Paths given as a sequence already in order (the walk's :class:`~curator.io.rows.PathList`)
    are not copied: a path string is made when it is read."""
    ordered = paths if isinstance(paths, Sequence) and all(a <= b for a, b in pairwise(paths)) else sorted(paths)
    candidates: Iterable[str] = ordered
    if len(ordered) >= MANY_PATHS:
        import numpy  # only for a large release: verify imports this module and need not load numpy

        hashes = numpy.fromiter((hash(path.casefold()) for path in ordered), dtype=numpy.int64, count=len(ordered))
        sorted_hashes = numpy.sort(hashes)
        shared = sorted_hashes[1:][sorted_hashes[1:] == sorted_hashes[:-1]]
        candidates = [ordered[at] for at in numpy.flatnonzero(numpy.isin(hashes, shared)).tolist()]
    seen: dict[str, str] = {}
    collisions = {}
    for path in candidates:
        key = path.casefold()
        if key in seen:
            collisions[path] = seen[key]
        else:
            seen[key] = path
    return collisions


MANY_PATHS = 2048   # from this many paths, case_collisions looks only at the paths whose folded hashes are shared
