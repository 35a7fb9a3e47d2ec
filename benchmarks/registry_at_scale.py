"""Reading and checking a MosMed registry CSV of 99,999 and 999,999 rows (study_id stops at 999,999): time, RSS.

Each measurement runs in a fresh child process (`python -c`), which reads the registry with
``curator.io.registry.read_registry`` and validates every row with ``curator.checks.registry.parse_rows`` (the
record schema and the profile's naming rules), then keeps the parsed rows as ``validate`` does; its peak RSS comes
from ``wait4``. The issue's target: memory under 300 MB at 1,000,000 rows, and the 1M run within 2x of ten times
the 100k run. Medians of --repeat runs, interleaved.

    python benchmarks/registry_at_scale.py --rows 99999 999999
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

CHILD = """
import sys
from pathlib import Path
from curator.checks import registry as registry_check
from curator.io.facts import Facts
from curator.io.registry import read_registry
from curator.profiles import get_profile
profile = get_profile("mosmed")
root = Path(sys.argv[1])
facts = Facts(root=root, profile=profile, languages=["en"], entries=[])
facts.registry = read_registry(root / "dataset_registry.csv", profile.registry.columns)
facts.rows, findings = registry_check.parse_rows(facts)
assert len(facts.rows) == int(sys.argv[2]) and not findings, (len(facts.rows), findings[:3])
"""


def make_registry(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("study_id,category,study_file,mask_file\r\n")
        for study_id in range(1, rows + 1):
            category = f"CT-{study_id % 5}"
            mask = f"/masks/study_{study_id:04d}_mask.nii.gz" if study_id % 5 else ""
            out.write(f"{study_id},{category},/studies/{category}/study_{study_id:04d}.nii.gz,{mask}\r\n")


def measure(root: Path, rows: int) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one child run."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(root), str(rows)])
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the child failed on {rows} rows")
    return seconds, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[99_999, 999_999])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="curator-registry-bench-"))
    try:
        roots = {}
        for rows in args.rows:
            roots[rows] = work / str(rows)
            roots[rows].mkdir()
            make_registry(roots[rows] / "dataset_registry.csv", rows)
        runs: dict[int, list[tuple[float, float]]] = {rows: [] for rows in args.rows}
        for _ in range(args.repeat):
            for rows in args.rows:
                runs[rows].append(measure(roots[rows], rows))
        print(f"{'rows':>10} {'seconds':>8} {'peak MB':>8} {'rows/s':>10}")
        for rows, results in runs.items():
            seconds = statistics.median(r[0] for r in results)
            megabytes = statistics.median(r[1] for r in results)
            print(f"{rows:>10,} {seconds:>8.2f} {megabytes:>8.0f} {rows / seconds:>10,.0f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
