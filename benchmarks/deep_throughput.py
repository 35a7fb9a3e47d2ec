"""`curator validate --deep` against plain decompression of the same files, and `--fast` per-file cost.

Makes phantom studies (512x512x40 int16 with lesion masks, MosMed layout) totalling --gigabytes of compressed
data, then times, on the same warm files in one run (medians of --repeat interleaved runs):
  * plain decompression, one core: stdlib zlib (gzip) and, when installed, ISA-L (`isal`);
  * `curator validate --deep --jobs 1` (per-core cost: hashing + gzip CRC + voxel statistics + HU under masks);
  * `curator validate --deep` on every core;
  * `curator validate --fast` (headers + registry, no manifest) per file, and the bare header read in-process.
Ratios below 1.5 for `--deep --jobs 1` / fastest plain decompression meet the issue's target. Each column shows
wall seconds, CPU seconds (user + system: the plain columns in this process, the commands as children) and minor page
faults (thousands); on a machine loaded by others the CPU ratio is the steadier one. The load average is printed
before and after.
The ISA-L column is ISA-L's inflate called in-process (no interpreter start-up, no file writes): a stricter floor
than `igzip -d -c FILE > /dev/null` per file.

    python benchmarks/deep_throughput.py --gigabytes 1 [--baseline ../main]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

from curator.io.nifti import read_header
from curator.models.registry import RegistryRow
from curator.phantom import PhantomSpec, make_phantom, phantom_affine, write_nifti
from curator.release.registry import csv_bytes

DISTINCT = 4


def make_release(root: Path, gigabytes: float, shape: tuple[int, int, int]) -> tuple[int, int]:
    """Studies (and a mask for every study) in the MosMed layout with a CSV registry; returns (files, bytes)."""
    made: list[tuple[Path, Path]] = []
    for seed in range(DISTINCT):
        spec = PhantomSpec(seed=seed, category=1 + seed % 4, shape=shape, spacing=(0.7, 0.7, 8.0))
        volume, mask = make_phantom(spec)
        study_path = root / f"proto/study_{seed}.nii.gz"
        mask_path = root / f"proto/mask_{seed}.nii.gz"
        study_path.parent.mkdir(parents=True, exist_ok=True)
        write_nifti(study_path, volume, phantom_affine(spec))
        write_nifti(mask_path, mask, phantom_affine(spec))
        made.append((study_path, mask_path))
    pair_bytes = sum(s.stat().st_size + m.stat().st_size for s, m in made) / len(made)
    count = max(1, int(gigabytes * 1e9 / pair_bytes))
    rows = []
    for study_id in range(1, count + 1):
        study, mask = made[study_id % len(made)]
        category = "CT-1"
        study_rel = f"studies/{category}/study_{study_id:04d}.nii.gz"
        mask_rel = f"masks/study_{study_id:04d}_mask.nii.gz"
        for source, rel in ((study, study_rel), (mask, mask_rel)):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, root / rel)
        rows.append(RegistryRow(study_id=study_id, category=category, study_file="/" + study_rel,
                                mask_file="/" + mask_rel))
    shutil.rmtree(root / "proto")
    (root / "dataset_registry.csv").write_bytes(csv_bytes(rows))
    files = sorted(root.glob("*/**/*.nii.gz"))
    return len(files), sum(p.stat().st_size for p in files)


def plain_decompress(files: list[Path], module: object) -> tuple[float, float, float]:
    """Wall and CPU seconds and thousands of minor page faults to inflate every file in this process."""
    started, cpu, faults = time.perf_counter(), time.process_time(), _faults(resource.RUSAGE_SELF)
    for path in files:
        decompressor = module.decompressobj(wbits=31)  # type: ignore[attr-defined]
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                decompressor.decompress(chunk)
    return time.perf_counter() - started, time.process_time() - cpu, _faults(resource.RUSAGE_SELF) - faults


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _faults(who: int) -> float:
    """Minor page faults so far, in thousands: a buffer put on fresh pages costs one for each 4 KB."""
    return resource.getrusage(who).ru_minflt / 1000


def timed(command: list[str], cwd: Path, pythonpath: Path | None = None) -> tuple[float, float, float]:
    """Wall and CPU seconds (user + system) and thousands of minor page faults of ``command``."""
    env = {**os.environ, **({"PYTHONPATH": str(pythonpath.resolve())} if pythonpath else {})}
    # as installed by pip, Python keeps compiled bytecode; a sandbox's PYTHONDONTWRITEBYTECODE=1 makes every run compile
    # curator's modules again, which no user pays (the first run below writes them)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    started, cpu, faults = time.perf_counter(), _children_cpu(), _faults(resource.RUSAGE_CHILDREN)
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env)
    return time.perf_counter() - started, _children_cpu() - cpu, _faults(resource.RUSAGE_CHILDREN) - faults


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gigabytes", type=float, default=1.0, help="compressed size of the release")
    parser.add_argument("--shape", type=int, nargs=3, default=(512, 512, 40))
    parser.add_argument("--repeat", type=int, default=3, help="runs of each column (the median is shown)")
    parser.add_argument("--baseline", type=Path, metavar="CHECKOUT", action="append", default=[],
                        help="also time this checkout's curator (e.g. ../main, before a change) in the same rounds; "
                             "may be given more than once (e.g. a merge of another branch's start-up work)")
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one, removed after); a release "
                                                 "already made there by this script is reused")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="curator-deep-bench-"))
    root = work / "release"
    try:
        if (root / "dataset_registry.csv").is_file():   # made by an earlier run with --dir
            found = sorted(root.glob("*/**/*.nii.gz"))
            count, size = len(found), sum(p.stat().st_size for p in found)
        else:
            count, size = make_release(root, args.gigabytes, tuple(args.shape))
        files = sorted(root.glob("*/**/*.nii.gz"))
        print(f"data: {count} NIfTI files (studies + masks), {size / 1e9:.2f} GB compressed")
        plain_decompress(files, zlib)                                   # warm the page cache
        load_before = os.getloadavg()
        runs: dict[str, list[tuple[float, float, float]]] = {}
        curator = [sys.executable, "-m", "curator", "validate", ".", "--profile", "mosmed"]
        try:
            from isal import isal_zlib
        except ImportError:
            isal_zlib = None
            print("isal not installed: ISA-L column skipped (pip install isal)")
        builds: dict[str, Path | None] = {f"{path.name}: ": path for path in args.baseline}
        builds[""] = None
        for _ in range(args.repeat):  # interleaved, so a change in the machine's load hits every column alike
            runs.setdefault("plain zlib (stdlib gzip), 1 core", []).append(plain_decompress(files, zlib))
            if isal_zlib is not None:
                runs.setdefault("plain ISA-L (isal), 1 core", []).append(plain_decompress(files, isal_zlib))
            for tag, path in builds.items():
                runs.setdefault(f"{tag}curator --deep --jobs 1", []).append(
                    timed([*curator, "--deep", "--jobs", "1"], root, path))
                runs.setdefault(f"{tag}curator --deep (all cores)", []).append(timed([*curator, "--deep"], root, path))
        results = {name: tuple(statistics.median(t[i] for t in times) for i in range(3))
                   for name, times in runs.items()}
        fast = timed([*curator, "--fast"], root)[0]
        startup = timed([sys.executable, "-m", "curator", "rules"], root)[0]
        started = time.perf_counter()
        for path in files:
            read_header(path)
        header_ms = (time.perf_counter() - started) / len(files) * 1000
        fastest = min((v for k, v in results.items() if k.startswith("plain")), key=lambda v: v[0])
        print(f"load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; after: "
              f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"{'run (medians of ' + str(args.repeat) + ')':<34} {'wall s':>7} {'CPU s':>7} {'MB/s':>6} "
              f"{'wall ratio':>11} {'CPU ratio':>10} {'faults k':>9}   (ratios: vs fastest plain, 1 core)")
        for name, (seconds, cpu, faults) in results.items():
            print(f"{name:<34} {seconds:>7.2f} {cpu:>7.2f} {size / 1e6 / seconds:>6.0f} {seconds / fastest[0]:>11.2f} "
                  f"{cpu / fastest[1]:>10.2f} {faults:>9.0f}")
        per_file = max(fast - startup, 0) / len(files) * 1000
        print(f"--fast: {fast:.2f} s for {len(files)} files = {per_file:.2f} ms per file after start-up "
              f"({startup:.2f} s); bare header read in-process: {header_ms:.3f} ms per file")
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
