"""`curator validate` on a CNCB-style slices release of --files files (small synthetic JPG images with PNG masks,
half each), at two sizes to show whether the cost is linear: seconds, files/s and the child's peak RSS (wait4).

The release is made from --distinct prototype pairs (tests/slices_factories.py) copied into cases of 200 slices;
medians of --repeat interleaved runs. Run from the repository root:

    PYTHONPATH=. python benchmarks/slices_at_scale.py --files 100000 400000
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.slices_factories import make_slices, write_extras

PER_CASE = 200


def make_release(root: Path, files: int, distinct: int) -> None:
    proto = root.parent / f"proto-{files}"
    make_slices(proto, {"0": distinct})
    write_extras(root)              # the README, LICENSE and labels.yaml
    for number in range(files // 2):
        case, n = divmod(number, PER_CASE)
        image, mask = root / "image" / str(case), root / "mask" / str(case)
        if n == 0:
            image.mkdir(parents=True)
            mask.mkdir(parents=True)
        shutil.copyfile(proto / "image" / "0" / f"{number % distinct}.jpg", image / f"{n}.jpg")
        shutil.copyfile(proto / "mask" / "0" / f"{number % distinct}.png", mask / f"{n}.png")
    shutil.rmtree(proto)


def measure(root: Path) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit code) of one `curator validate`."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "curator", "validate", ".", "--profile", "slices",
                              "--format", "json"], cwd=root, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, nargs="+", default=[100_000, 400_000])
    parser.add_argument("--distinct", type=int, default=50, help="distinct prototype slices")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one, removed after)")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="curator-slices-bench-"))
    try:
        roots = {}
        for files in args.files:
            roots[files] = work / f"release-{files}"
            if not roots[files].exists():
                started = time.perf_counter()
                make_release(roots[files], files, args.distinct)
                print(f"made {files:,} files in {time.perf_counter() - started:.0f} s", flush=True)
        runs: dict[int, list[tuple[float, float, int]]] = {files: [] for files in args.files}
        for _ in range(args.repeat):
            for files in args.files:
                runs[files].append(measure(roots[files]))
        print(f"{'files':>9} {'seconds':>8} {'files/s':>8} {'peak MB':>8} {'exit':>5}")
        for files, results in runs.items():
            seconds = statistics.median(r[0] for r in results)
            megabytes = statistics.median(r[1] for r in results)
            print(f"{files:>9,} {seconds:>8.1f} {files / seconds:>8,.0f} {megabytes:>8.0f} {results[0][2]:>5}")
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
