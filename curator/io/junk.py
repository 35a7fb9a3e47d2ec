"""The one list of operating-system litter: files and folders an OS or a file manager leaves behind.

Litter is not data. The inventory check reports it (FILE_JUNK); readers of archives and folders skip it.
A path is litter when any of its components is a listed name, is ``__MACOSX`` (macOS zip resource fork folder)
or starts with ``._`` (AppleDouble metadata file).
"""

from __future__ import annotations

JUNK_NAMES = frozenset({
    ".DS_Store", "Thumbs.db", "desktop.ini", "ehthumbs.db", ".Spotlight-V100", ".Trashes", ".fseventsd",
})
MACOS_FORK_FOLDER = "__MACOSX"
APPLEDOUBLE_PREFIX = "._"


def is_junk_part(part: str) -> bool:
    """Whether one path component is OS litter."""
    return part in JUNK_NAMES or part == MACOS_FORK_FOLDER or part.startswith(APPLEDOUBLE_PREFIX)


def is_junk_path(path: str) -> bool:
    """Whether a POSIX path (``/``-separated, relative) lies in or is OS litter."""
    return any(is_junk_part(part) for part in path.split("/"))
