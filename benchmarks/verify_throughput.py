"""Throughput of `curator verify` against `sha256sum -c` and `md5sum -c` on the same files, in one run.

Makes N phantom studies of realistic size (512x512x40 int16, gzip-compressed NIfTI), writes SHA256SUMS and
MD5SUMS, then times each tool on the same warm files (best of --repeat runs, each a fresh process) and prints
the ratios. A ratio below 1 means curator is faster. Run:

    python benchmarks/verify_throughput.py --studies 40

With ``--small-files N`` it makes N distinct files of 1 KB instead (a CNCB slices release, a DICOM collection:
issue 15) and times, interleaved and as medians of --repeat rounds, ``sha256sum -c``, ``curator verify --no-cache``
(all cores), a first run filling an empty cache and a rerun with the cache, each with its peak RSS (wait4):

    python benchmarks/verify_throughput.py --small-files 200000
    python benchmarks/verify_throughput.py --small-files 1000000 --repeat 1    # the 1M-entry memory row
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

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


def make_small_files(root: Path, count: int) -> int:
    """``count`` distinct 1 KB files in folders of 1,000, listed in SHA256SUMS; returns their bytes."""
    lines = []
    for index in range(count):
        rel = f"slices/{index // 1000:04d}/slice_{index:07d}.png"
        data = index.to_bytes(8, "little") * 128
        if index % 1000 == 0:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        lines.append(f"{hashlib.sha256(data).hexdigest()}  {rel}\n")
    (root / "SHA256SUMS").write_text("".join(lines), encoding="utf-8")
    return count * 1024


def measured(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Wall seconds, the command's peak RSS in MB and its CPU seconds (user + system, all its processes) of one
    run, which must succeed. On a machine shared with other work the CPU seconds are the steadier measure.

    The peak comes from GNU time (its wait4): a child forked straight from this script would carry the script's
    own RSS into ``ru_maxrss`` (Linux keeps the pre-exec high-water mark).
    """
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", *command], cwd=cwd, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-500:]}")
    peak, user, system = done.stderr.split()[-3:]
    return seconds, int(peak) / 1024, float(user) + float(system)


def small_files(work: Path, count: int, repeat: int, baseline: Path | None) -> None:
    root = work / "small"
    started = time.perf_counter()
    made = root / "SHA256SUMS"
    if not (made.is_file() and sum(1 for _ in made.open("rb")) == count):   # --dir kept from an earlier run
        shutil.rmtree(root, ignore_errors=True)
        make_small_files(root, count)
    print(f"data: {count} files of 1 KB (made in {time.perf_counter() - started:.1f} s); "
          f"{len(os.sched_getaffinity(0))} cores; load {os.getloadavg()[0]:.2f}")
    env = {**os.environ}
    env.pop("PYTHONDONTWRITEBYTECODE", None)   # users keep compiled bytecode
    curator = [sys.executable, "-m", "curator", "verify", "."]
    peer = ["sha256sum", "-c", "--quiet", "SHA256SUMS"]
    measured(peer, root)   # warm the page cache
    rows: dict[str, list[tuple[float, float, float]]] = {}
    builds = {"": env}
    if baseline is not None:   # another checkout's curator (e.g. before a change), in the same rounds
        builds = {"before: ": {**env, "PYTHONPATH": str(baseline)}, "": env}
    for attempt in range(repeat):   # interleaved: the peer and curator share each round's load
        rounds = [("sha256sum -c SHA256SUMS", peer, env)]
        for tag, build in builds.items():
            cache_dir = work / f"cache-{attempt}-{len(tag)}"
            shutil.rmtree(cache_dir, ignore_errors=True)   # a --dir kept from an earlier run keeps its caches too
            cache = {**build, "CURATOR_CACHE_DIR": str(cache_dir)}
            rounds += [(f"{tag}curator verify --no-cache (all cores)", [*curator, "--no-cache"], build),
                       (f"{tag}curator verify, filling an empty cache", curator, cache),
                       (f"{tag}curator verify, rerun with the cache", curator, cache)]
        for name, command, run_env in rounds:
            rows.setdefault(name, []).append(measured(command, root, run_env))
    peer = rows["sha256sum -c SHA256SUMS"]
    base, base_cpu = median(s for s, _, _ in peer), median(c for _, _, c in peer)
    print(f"{'tool (median of ' + str(repeat) + ')':<50} {'seconds':>8} {'peak MB':>8} {'vs sha256sum':>13} "
          f"{'CPU s':>7} {'CPU vs sha256sum':>17}")
    for name, runs in rows.items():
        seconds, megabytes, cpu = (median(r[i] for r in runs) for i in range(3))
        print(f"{name:<50} {seconds:>8.2f} {megabytes:>8.0f} {seconds / base:>13.2f} {cpu:>7.2f} "
              f"{cpu / base_cpu:>17.2f}")
    print(f"load after: {os.getloadavg()[0]:.2f}")


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
    parser.add_argument("--small-files", type=int, metavar="N", help="N files of 1 KB instead of the studies")
    parser.add_argument("--baseline", type=Path, metavar="CHECKOUT",
                        help="with --small-files: also time this checkout's curator (PYTHONPATH) in each round")
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one, removed after)")
    args = parser.parse_args()

    work = args.dir or Path(tempfile.mkdtemp(prefix="curator-bench-"))
    if args.small_files:
        try:
            small_files(work, args.small_files, args.repeat, args.baseline)
        finally:
            if args.dir is None:
                shutil.rmtree(work, ignore_errors=True)
        return 0
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
