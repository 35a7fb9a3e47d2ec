"""Checksum manifests of a release: SHA256SUMS and MD5SUMS in GNU format, from one read of each file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from curator.executor import run_tasks
from curator.io.hashing import hash_file
from curator.io.manifest import MANIFEST_ALGORITHMS, format_gnu

WRITTEN = {"SHA256SUMS": "sha256", "MD5SUMS": "md5"}


def release_files(root: Path) -> list[str]:
    """Every regular file of the release except the manifests themselves, sorted."""
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not path.is_symlink() and rel not in MANIFEST_ALGORITHMS:
            found.append(rel)
    return sorted(found)


def write_manifests(root: Path, jobs: int | None = None, names: dict[str, str] | None = None, *,
                    known: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, Path]:
    """Write the manifests of every release file; ``known`` digests (path -> {algorithm: hex}) of files already
    hashed in this build are used instead of reading those files again."""
    names = names or WRITTEN
    algorithms = sorted(set(names.values()))
    known = known or {}
    paths = release_files(root)

    def digest(rel: str) -> Mapping[str, str]:
        have = known.get(rel, {})
        return have if all(a in have for a in algorithms) else hash_file(root / rel, algorithms)

    digests = run_tasks(digest, paths, jobs)
    written = {}
    for name, algorithm in names.items():
        target = root / name
        target.write_text(format_gnu({p: d[algorithm] for p, d in zip(paths, digests, strict=True)}),
                          encoding="utf-8", newline="\n")
        written[name] = target
    return written
