"""The tree itself: required files, litter, unsafe entries, names."""

from __future__ import annotations

from collections.abc import Iterator

from curator.catalogue import make_finding
from curator.checks.names import case_collisions, is_junk, path_name_problems
from curator.io.facts import Facts, Walk
from curator.io.inventory import Entry
from curator.io.rows import PathList
from curator.models.findings import Finding

CODES = frozenset({"REQUIRED_FILE_MISSING", "FILE_JUNK", "FILE_NAME_INVALID", "FILE_UNSAFE"})

IMAGING_SUFFIXES = (".nii", ".nii.gz", ".dcm", ".png", ".jpg", ".jpeg", ".mha", ".mhd", ".nrrd", ".npy", ".npz")


def required_files(facts: Facts) -> list[str]:
    paths = []
    for item in facts.profile.required_files:
        if "{LANG}" in item:
            paths += [item.replace("{LANG}", lang.upper()) for lang in facts.languages]
        else:
            paths.append(item)
    return paths


def check(facts: Facts) -> Iterator[Finding]:
    files = facts.files
    for path in required_files(facts):
        if path not in files:
            yield make_finding("REQUIRED_FILE_MISSING", path)

    junk_reported: set[str] = set()
    for entry in facts.entries:
        if entry.kind not in ("file", "dir"):  # a link named .DS_Store is still a link
            yield make_finding("FILE_UNSAFE", entry.path, kind=entry.kind)
            continue
        if is_junk(entry.path):
            top = _junk_root(entry.path)
            if top not in junk_reported:
                junk_reported.add(top)
                yield make_finding("FILE_JUNK", top)

    def clean() -> Iterator[Entry]:
        """The files and folders that are not litter, walked again each time (not a list of a million entries)."""
        for entry in facts.entries:
            if entry.kind in ("file", "dir") and not is_junk(entry.path):
                yield entry

    named: set[tuple[str, str]] = set()
    for entry in clean():
        for where, reason in path_name_problems(entry.path):   # a folder's bad name once, not per file in it
            if (where, reason) not in named:
                named.add((where, reason))
                yield make_finding("FILE_NAME_INVALID", where, reason=reason)
    for path, other in case_collisions(_clean_paths(facts)).items():
        yield make_finding("FILE_NAME_INVALID", path, reason=f"differs only in letter case from {other}")

    data_roots = tuple(root.rstrip("/") + "/" for root in facts.profile.data_roots)
    for entry in clean():
        if entry.kind != "file":
            continue
        if entry.path.startswith(data_roots):
            if facts.data_kind(entry.path) is None:
                templates = " or ".join(p.template for p in facts.profile.data_files)
                yield make_finding("FILE_NAME_INVALID", entry.path,
                                   reason=f"a file here must be named like {templates}")
        elif (entry.path.lower().endswith(IMAGING_SUFFIXES) and facts.data_kind(entry.path) is None
              and not facts.is_release_file(entry.path)):
            templates = " or ".join(p.template for p in facts.profile.data_files)
            where = (f"imaging files belong under {', '.join(sorted(data_roots))}" if data_roots
                     else f"imaging files must be named like {templates}")
            yield make_finding("FILE_NAME_INVALID", entry.path, reason=where)


def _clean_paths(facts: Facts) -> PathList:
    """The paths of the files and folders that are not litter, in the walk's order (a Walk's: its positions)."""
    paths, walked = facts.path_list(), isinstance(facts.entries, Walk)
    for at, entry in enumerate(facts.entries):
        if entry.kind in ("file", "dir") and not is_junk(entry.path):
            paths.append(entry.path, at if walked else None)
    return paths


def _junk_root(path: str) -> str:
    """The outermost junk component of ``path`` (report ``__MACOSX`` once, not each file in it)."""
    parts = path.split("/")
    for i, part in enumerate(parts):
        if is_junk(part):
            return "/".join(parts[: i + 1])
    return path
