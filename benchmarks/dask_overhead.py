"""What running on Dask costs against the local pool, on the same data, in one run (issue 16).

Makes a release of --gigabytes of phantom studies with masks (MosMed layout, manifests written) and a tree of
--small-files distinct 1 KB files with a SHA256SUMS (the helpers of deep_throughput.py and verify_throughput.py),
then times, interleaved and as medians of --repeat rounds, each a fresh `curator` process:

  * the local pool, ``--jobs W``;
  * ``--executor dask --jobs W``: a LocalCluster of W one-thread worker processes started and shut down by the
    command (what a user without a cluster gets; its start-up is in the time);
  * ``--executor dask --scheduler ADDRESS`` on a LocalCluster of W workers started once by this script (what a
    user with a running cluster gets: the steady-state overhead of scheduling and moving results);
  * the same on a cluster of 1 worker: the per-worker throughput that the README's cost model starts from.

Commands: ``validate --deep --no-cache`` and ``verify --no-cache`` on the release; ``verify --no-cache`` on the
small files. The ratios are to the local pool (target: <= 1.25 on the release, <= 1.5 on the small files).

    python benchmarks/dask_overhead.py --gigabytes 1 --small-files 200000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the checkout: its benchmarks/ helpers

from benchmarks.deep_throughput import make_release
from benchmarks.verify_throughput import make_small_files
from curator.release.manifests import write_manifests


def cpu_seconds() -> tuple[float, float]:
    """(CPU seconds of the finished commands and their children, CPU seconds of this process and its live children:
    the running clusters' scheduler, nannies and workers, busy or idle)."""
    import psutil

    own, done = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    live = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.Error:
            continue
        live += times.user + times.system
    return done.ru_utime + done.ru_stime, own.ru_utime + own.ru_stime + live


def timed(command: list[str], cwd: Path) -> tuple[float, dict[str, Any], str]:
    """Wall seconds of one run (exit 0 or 1: a report), its report's stats (with ``cpu``: the command's CPU seconds
    and ``cluster_cpu``: the running clusters') and the report without the stats that differ by engine (seconds,
    executor): every column must give the same one."""
    command_before, cluster_before = cpu_seconds()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    command_after, cluster_after = cpu_seconds()
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-800:]}")
    report = json.loads(done.stdout)
    stats: dict[str, Any] = dict(report["stats"])
    stats["cpu"], stats["cluster_cpu"] = command_after - command_before, cluster_after - cluster_before
    report["stats"].pop("seconds")
    report["stats"].pop("executor", None)
    return seconds, stats, json.dumps(report)


def cluster(workers: int) -> Any:
    from distributed import LocalCluster

    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address=":0", scheduler_kwargs={"dashboard": False}, silence_logs=50)


def compare(name: str, root: Path, args: list[str], workers: int, repeat: int, size: int, files: int,
            scheduler: str, single: str) -> None:
    base = [sys.executable, "-m", "curator", *args, ".", "--format", "json", "--no-cache"]
    columns = {
        f"local pool, --jobs {workers}": [*base, "--jobs", str(workers)],
        f"dask, LocalCluster of {workers} started by the command": [*base, "--executor", "dask", "--jobs",
                                                                    str(workers)],
        f"dask, running cluster of {workers} workers": [*base, "--executor", "dask", "--scheduler", scheduler],
        "dask, running cluster of 1 worker": [*base, "--executor", "dask", "--scheduler", single],
    }
    _, _, expected = timed(next(iter(columns.values())), root)   # warm the page cache and the imports
    runs: dict[str, list[float]] = {}
    cpu: dict[str, list[tuple[float, float]]] = {}
    batches: dict[str, int] = {}
    for attempt in range(repeat):   # interleaved: a change in the machine's load hits every column alike
        for column, command in columns.items():
            if column.endswith("of 1 worker") and attempt:   # the per-worker figure: once is enough
                continue
            seconds, stats, report = timed(command, root)
            if report != expected:
                (root.parent / "expected.json").write_text(expected, encoding="utf-8")
                (root.parent / "differs.json").write_text(report, encoding="utf-8")
                raise SystemExit(f"{column}: the report differs from the local pool's (both in {root.parent})")
            print(f"  {column}: {seconds:.2f} s, CPU {stats['cpu']:.1f} s + clusters {stats['cluster_cpu']:.1f} s "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
            runs.setdefault(column, []).append(seconds)
            cpu.setdefault(column, []).append((stats["cpu"], stats["cluster_cpu"]))
            batches[column] = int(stats.get("executor", {}).get("batches", 0))
    local = median(next(iter(runs.values())))
    print(f"\n{name}: {files} files, {size / 1e6:.0f} MB")
    print("CPU s: the command's (with its own pool or LocalCluster); clusters: both running clusters' scheduler and "
          "workers, busy or idle")
    print(f"{'engine (median of ' + str(repeat) + '; 1 worker: 1 run)':<52} {'seconds':>8} {'MB/s':>7} {'files/s':>8} "
          f"{'tasks':>6} {'vs local':>9} {'CPU s':>6} {'clusters':>8}")
    for column, times in runs.items():
        seconds = median(times)
        print(f"{column:<52} {seconds:>8.2f} {size / 1e6 / seconds:>7.0f} {files / seconds:>8.0f} "
              f"{batches[column]:>6} {seconds / local:>9.2f} {median(c for c, _ in cpu[column]):>6.1f} "
              f"{median(k for _, k in cpu[column]):>8.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gigabytes", type=float, default=1.0, help="compressed size of the release")
    parser.add_argument("--shape", type=int, nargs=3, default=(512, 512, 40))
    parser.add_argument("--small-files", type=int, default=200_000, metavar="N")
    parser.add_argument("--workers", type=int, default=2, help="workers of each cluster and --jobs of the pool")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one, removed after)")
    parser.add_argument("--reuse", action="store_true", help="with --dir: use the data an earlier run made there")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="curator-dask-bench-"))
    try:
        release, small = work / "release", work / "small"
        started = time.perf_counter()
        if args.reuse and (release / "SHA256SUMS").is_file() and (small / "SHA256SUMS").is_file():
            files = [p for p in release.glob("*/**/*.nii.gz")]
            count, size = len(files), sum(p.stat().st_size for p in files)
        else:
            count, size = make_release(release, args.gigabytes, tuple(args.shape))
            write_manifests(release)
            make_small_files(small, args.small_files)
        print(f"data ready in {time.perf_counter() - started:.0f} s; {len(os.sched_getaffinity(0))} cores; "
              f"load {os.getloadavg()[0]:.2f}")
        with cluster(args.workers) as running, cluster(1) as single:
            for name, root, command, files, nbytes in (
                    ("verify, small files", small, ["verify"], args.small_files, args.small_files * 1024),
                    ("validate --deep, release", release, ["validate", "--profile", "mosmed", "--deep"], count,
                     size),
                    ("verify, release", release, ["verify"], count, size)):
                compare(name, root, command, args.workers, args.repeat, nbytes, files, running.scheduler_address,
                        single.scheduler_address)
        print(f"\nload after: {os.getloadavg()[0]:.2f}")
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
