"""The verify kit: scripts a downloader runs to check a release with no tool of ours, and ``XXH128SUMS``.

- ``verify.sh``: POSIX sh; ``sha256sum -c SHA256SUMS`` (GNU coreutils, BusyBox) or ``shasum -a 256 -c``
  (Perl, macOS). Runs from any folder: it changes to its own first.
- ``verify.ps1``: Windows PowerShell 5.1 or PowerShell 7, ``Get-FileHash -Algorithm SHA256`` per line.
- ``XXH128SUMS``: tagged lines ``XXH128 (path) = hex``, as ``xxhsum --tag -H128`` writes them and
  ``xxhsum -c`` reads them.

Exit codes of both scripts: 0 every listed file is present and intact; 1 a file is missing or damaged
(or a line of SHA256SUMS does not parse); 2 the check could not run (no SHA256SUMS, no hashing tool).
The scripts are pure ASCII with ``\\n`` line ends, so they are the same bytes on every build.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from curator.executor import run_tasks
from curator.io.hashing import hash_file

__all__ = ["VERIFY_PS1", "VERIFY_SH", "XXH128SUMS", "format_xxh128", "write_verify_kit", "write_xxh128sums"]

VERIFY_SH, VERIFY_PS1, XXH128SUMS = "verify.sh", "verify.ps1", "XXH128SUMS"

_SH = r"""#!/bin/sh
# Check this copy of the dataset against SHA256SUMS with standard tools only.
# Usage: sh verify.sh   (from any folder; it checks the folder it sits in)
# Exit status: 0 all files intact, 1 a file is missing or damaged, 2 the check could not run.
# Needs sha256sum (GNU coreutils, BusyBox) or shasum (Perl, preinstalled on macOS).
set -u
here=$(dirname -- "$0")
cd -- "$here" || { echo "verify.sh: cannot enter the dataset folder $here" >&2; exit 2; }
if [ ! -f SHA256SUMS ]; then
  echo "verify.sh: SHA256SUMS is missing from $(pwd); download it again with the dataset" >&2
  exit 2
fi
if command -v sha256sum >/dev/null 2>&1; then
  if sha256sum --version 2>/dev/null | grep -q coreutils; then
    set -- sha256sum --quiet --strict -c SHA256SUMS
  else
    set -- sha256sum -c SHA256SUMS
  fi
elif command -v shasum >/dev/null 2>&1; then
  set -- shasum -a 256 -c SHA256SUMS
else
  echo "verify.sh: neither sha256sum nor shasum is installed; install GNU coreutils (or Perl's shasum)," >&2
  echo "or check with PowerShell: verify.ps1" >&2
  exit 2
fi
files=$(grep -c . SHA256SUMS)
echo "Checking $files files against SHA256SUMS in $(pwd) with $1 ..."
if "$@"; then
  echo "OK: all $files files listed in SHA256SUMS are present and intact."
  exit 0
fi
echo "FAILED: some files are missing or damaged (see the lines above). Download those files again," >&2
echo "then run this script once more." >&2
exit 1
"""

_PS1 = r"""# Check this copy of the dataset against SHA256SUMS with PowerShell only (Windows PowerShell 5.1 or 7+).
# Usage: powershell -ExecutionPolicy Bypass -File verify.ps1   (from any folder)
# Exit status: 0 all files intact, 1 a file is missing or damaged, 2 the check could not run.
$ErrorActionPreference = 'Stop'
$root = $PSScriptRoot
$manifest = Join-Path $root 'SHA256SUMS'
if (-not (Test-Path -LiteralPath $manifest -PathType Leaf)) {
    Write-Host "verify.ps1: SHA256SUMS is missing from $root; download it again with the dataset"
    exit 2
}
$checked = 0
$failed = 0
$number = 0
Write-Host "Checking the files listed in SHA256SUMS in $root ..."
foreach ($line in [System.IO.File]::ReadAllLines($manifest)) {
    $number++
    if ($line.Trim() -eq '' -or $line.StartsWith('#')) { continue }
    $match = [System.Text.RegularExpressions.Regex]::Match($line, '^([0-9A-Fa-f]{64}) [ *](.+)$')
    if (-not $match.Success) {
        Write-Host "MALFORMED: line $number of SHA256SUMS is not '<sha256>  <path>'"
        $failed++
        continue
    }
    $expected = $match.Groups[1].Value.ToLowerInvariant()
    $relative = $match.Groups[2].Value
    $path = Join-Path $root ($relative -replace '/', [System.IO.Path]::DirectorySeparatorChar)
    $checked++
    if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
        Write-Host "MISSING: $relative"
        $failed++
        continue
    }
    $actual = (Get-FileHash -LiteralPath $path -Algorithm SHA256).Hash.ToLowerInvariant()
    if ($actual -ne $expected) {
        Write-Host "MISMATCH: $relative"
        $failed++
    }
}
if ($failed -gt 0) {
    Write-Host "FAILED: $failed of $checked files are missing or damaged."
    Write-Host "Download those files again, then run this script once more."
    exit 1
}
Write-Host "OK: all $checked files listed in SHA256SUMS are present and intact."
exit 0
"""


def write_verify_kit(stage: Path) -> list[str]:
    """Write ``verify.sh`` (mode 0755) and ``verify.ps1`` into ``stage``; return their names."""
    sh = stage / VERIFY_SH
    sh.write_text(_SH, encoding="ascii", newline="\n")
    sh.chmod(0o755)
    (stage / VERIFY_PS1).write_text(_PS1, encoding="ascii", newline="\n")
    return [VERIFY_PS1, VERIFY_SH]


def format_xxh128(digests: Mapping[str, str]) -> str:
    """BSD-tagged lines sorted by path, as ``xxhsum --tag -H128`` writes them."""
    return "".join(f"XXH128 ({path}) = {digests[path]}\n" for path in sorted(digests))


def write_xxh128sums(stage: Path, files: list[str], *, digests: Mapping[str, str] | None = None,
                     jobs: int | None = None) -> list[str]:
    """Write ``XXH128SUMS`` for ``files`` (relative to ``stage``); ``digests`` ({path: hex}) saves hashing
    those files again (the others are hashed here).

    Returns ``["XXH128SUMS"]``. The file is not listed in itself.
    """
    listed = sorted(rel for rel in set(files) if rel != XXH128SUMS)
    known = dict(digests or {})
    missing = [rel for rel in listed if rel not in known]
    known.update(zip(missing, run_tasks(lambda rel: hash_file(stage / rel, ("xxh128",))["xxh128"], missing, jobs),
                     strict=True))
    digests = known
    (stage / XXH128SUMS).write_text(format_xxh128({rel: digests[rel] for rel in listed}), encoding="utf-8",
                                    newline="\n")
    return [XXH128SUMS]
