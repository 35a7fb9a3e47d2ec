"""Throughput of `curator verify` against `sha256sum -c` and `md5sum -c` on the same files, in one run.

Makes N phantom studies of realistic size (512x512x40 int16, gzip-compressed NIfTI), writes SHA256SUMS and
MD5SUMS, then times each tool on the same warm files (best of --repeat runs, each a fresh process) and prints
the ratios. A ratio below 1 means curator is faster. Run:

    python benchmarks/verify_throughput.py --studies 40
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from curator.phantom import PhantomSpec, make_phantom, phantom_affine, write_nifti
from curator.release.manifests import write_manifests

DISTINCT = 4  # phantoms actually generated; the rest are copies that differ in their header text


def make_studies(root: Path, count: int, shape: tuple[int, int, int]) -> int:
    folder = root / "studies" / "CT-1"
    folder.mkdir(parents=True)
    made = []
    for seed in range(min(DISTINCT, count)):
        spec = PhantomSpec(seed=seed, category=1 + seed % 4, shape=shape, spacing=(0.7, 0.7, 8.0))
        volume, _ = make_phantom(spec)
        path = folder / f"study_{seed + 1:04d}.nii.gz"
        write_nifti(path, volume, phantom_affine(spec))
        made.append(path)
    for index in range(len(made), count):
        shutil.copyfile(made[index % len(made)], folder / f"study_{index + 1:04d}.nii.gz")
    return sum(p.stat().st_size for p in folder.iterdir())


def best_of(command: list[str], cwd: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", type=int, default=40)
    parser.add_argument("--shape", type=int, nargs=3, default=(512, 512, 40))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one, removed after)")
    args = parser.parse_args()

    work = args.dir or Path(tempfile.mkdtemp(prefix="curator-bench-"))
    root = work / "release"
    try:
        started = time.perf_counter()
        size = make_studies(root, args.studies, tuple(args.shape))
        write_manifests(root)
        print(f"data: {args.studies} studies {tuple(args.shape)} int16, {size / 1e6:.0f} MB compressed "
              f"(made in {time.perf_counter() - started:.1f} s)")
        curator = [sys.executable, "-m", "curator", "verify", "."]
        candidates = {
            "sha256sum -c SHA256SUMS": ["sha256sum", "-c", "--quiet", "SHA256SUMS"],
            "md5sum -c MD5SUMS": ["md5sum", "-c", "--quiet", "MD5SUMS"],
            "curator verify (SHA256SUMS, all cores)": curator,
            "curator verify (SHA256SUMS, --jobs 1)": [*curator, "--jobs", "1"],
            "curator verify (MD5SUMS, all cores)": [*curator, "--manifest", "MD5SUMS"],
        }
        for command in candidates.values():  # warm the page cache and the imports
            subprocess.run(command, cwd=root, check=True, stdout=subprocess.DEVNULL)
        times = {name: best_of(command, root, args.repeat) for name, command in candidates.items()}
        base_sha, base_md5 = times["sha256sum -c SHA256SUMS"], times["md5sum -c MD5SUMS"]
        print(f"{'tool':<42} {'seconds':>8} {'MB/s':>8} {'vs sha256sum':>13} {'vs md5sum':>10}")
        for name, seconds in times.items():
            print(f"{name:<42} {seconds:>8.3f} {size / 1e6 / seconds:>8.0f} {seconds / base_sha:>13.2f} "
                  f"{seconds / base_md5:>10.2f}")
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
