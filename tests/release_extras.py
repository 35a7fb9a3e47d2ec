"""Bring a built release up to the full set of release outputs, in the order the builder writes them.

Until ``curator build`` calls these itself, tests take a copy of a built release and finish it here; once it
does, this is a no-op rewrite (every writer is deterministic and idempotent).
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from curator.io.card import load_card
from curator.models.registry import RegistryRow
from curator.release.manifests import release_files, write_manifests
from curator.release.metadata import write_metadata
from curator.release.verifykit import write_verify_kit, write_xxh128sums


def registry_rows(release: Path) -> list[RegistryRow]:
    with (release / "dataset_registry.csv").open(encoding="utf-8-sig", newline="") as handle:
        return [RegistryRow(study_id=int(row["study_id"]), category=row["category"], study_file=row["study_file"],
                            mask_file=row["mask_file"] or None) for row in csv.DictReader(handle)]


def finish_release(release: Path) -> Path:
    """verify kit -> metadata -> XXH128SUMS -> SHA256SUMS/MD5SUMS, as the builder does."""
    card = load_card(release / "dataset.yaml")
    write_verify_kit(release)
    write_metadata(release, card, registry_rows(release), release_files(release), jobs=1)
    write_xxh128sums(release, release_files(release), jobs=1)
    write_manifests(release, jobs=1)
    return release


def copy_release(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    return target


def tool(name: str) -> str:
    """A console script of the test environment (beside this Python), else from PATH; fails when absent."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise AssertionError(f"{name} is not installed; `pip install -e '.[test]'` brings it")
    return found


def run(*command: str, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def tree_files(root: Path) -> list[str]:
    """Every file below ``root``, as sorted relative POSIX paths."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def archive_members(part: Path) -> list[str]:
    """The member names of a zip or tar.gz part, in archive order."""
    if part.name.endswith(".zip"):
        with zipfile.ZipFile(part) as archive:
            return archive.namelist()
    with tarfile.open(part) as archive:
        return archive.getnames()
