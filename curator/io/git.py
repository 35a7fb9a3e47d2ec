"""Which files of a release changed since a git ref (for incremental CI)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from curator.errors import OptionsError


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False,
                              timeout=120)
    except FileNotFoundError as error:
        raise OptionsError("--changed-since needs git, which is not installed") from error
    if done.returncode != 0:
        raise OptionsError(f"git {' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def changed_files(root: Path, ref: str) -> set[str]:
    """Paths (relative to ``root``, POSIX) added, modified, renamed or deleted since ``ref``, plus untracked ones."""
    prefix = _git(root, "rev-parse", "--show-prefix").strip()
    _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    listed = _git(root, "diff", "--name-only", "--no-renames", ref, "--", ".").splitlines()
    listed += [prefix + p for p in _git(root, "ls-files", "--others", "--exclude-standard", "--", ".").splitlines()]
    return {path[len(prefix):] for path in listed if path.startswith(prefix) and path[len(prefix):]}
