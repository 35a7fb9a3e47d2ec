"""Throughput of the DICOM privacy audit against a plain pydicom header read of the same files, in one run.

Times, on the same warm files (best of --repeat):
  * plain ``pydicom.dcmread(stop_before_pixels=True)`` of every file, one core (the floor for any header audit);
  * the audit reader (``curator.io.dicom_audit.gather``: marker check, every element recursively, file meta,
    elements after the pixel data), one job and all cores;
  * the judgement (``curator.checks.privacy_dicom``) on what was read.
A ratio near 1 means the audit costs little more than reading the headers at all. Default input: the real
COVID-CT-MD P001 series (148 slices) beside the checkout.

With ``--copies N`` (issue 15: P001 x20 = 2,960 real JPEG-lossless slices) the folder is copied N times into a
temporary release (one patient folder per copy, never into the repository) and the *whole command* ``curator
validate --profile dicom`` (fast tier, text report) is timed against the plain header read, interleaved, medians of
--repeat: ``--jobs 1`` and all cores, and with ``--baseline CHECKOUT`` the same commands of another checkout of
curator (e.g. the main branch) in the same run, after checking that both write the same JSON report byte for byte
(``stats.seconds`` dropped). Each command's CPU time (its worker processes included) is printed
too, per file and against the plain read's: on a shared, loaded machine it varies far less than the wall time.

    python benchmarks/dicom_audit_throughput.py [FOLDER] --repeat 3
    python benchmarks/dicom_audit_throughput.py --copies 20 --repeat 3 [--baseline ../main]
    python benchmarks/dicom_audit_throughput.py --copies 20 --workers [--baseline ../main]   # the workers' CPU alone
    python benchmarks/dicom_audit_throughput.py --copies 20 --startup [--baseline ../main]   # time to the first task
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from pydicom import dcmread

from curator.checks import privacy_dicom
from curator.io.dicom_audit import gather
from curator.io.facts import Facts
from curator.io.inventory import walk
from curator.profiles import get_profile

DEFAULT = Path(__file__).resolve().parents[2] / "shared/realdata/covid_ct_md_dicom/Sample data/COVID-19 subjects"


def _facts(root: Path, jobs: int | None) -> Facts:
    return Facts(root=root, profile=get_profile("dicom"), languages=["en"], entries=walk(root), jobs=jobs)


def best(function: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def copies(source: Path, count: int, work: Path) -> Path:
    """``count`` copies of the DICOM files under ``source``, one patient folder each: P001 ... P0NN/series/."""
    files = [p for p in sorted(source.rglob("*")) if p.is_file() and p.suffix.lower() == ".dcm"]
    for index in range(1, count + 1):
        folder = work / f"P{index:03d}" / "series"
        folder.mkdir(parents=True)
        for path in files:
            shutil.copyfile(path, folder / path.name)
    return work


PEAK_MB: dict[str, float] = {}   # command -> the largest peak RSS of its main process (wait4; workers not included)
CPU: dict[str, list[float]] = {}  # command -> CPU seconds (user + system) of each run, its worker processes included


def command(name: str, checkout: Path, root: Path, jobs: str) -> Callable[[], None]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}

    def run() -> None:
        with tempfile.TemporaryFile() as errors:
            child = subprocess.Popen([sys.executable, "-m", "curator", "validate", str(root), "--profile", "dicom",
                                      "--jobs", jobs, "--no-cache"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=errors, cwd=checkout)   # `-m` puts the working folder first on the path
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
            errors.seek(0)
            text = errors.read().decode(errors="replace")
        if child.returncode not in (0, 1) or "Traceback" in text:
            raise SystemExit(f"validate failed ({child.returncode}): {text[-2000:]}")
        PEAK_MB[name] = max(PEAK_MB.get(name, 0.0), usage.ru_maxrss / 1024)
        CPU.setdefault(name, []).append(usage.ru_utime + usage.ru_stime)   # wait4 counts its reaped workers too
    return run


def json_report(checkout: Path, root: Path) -> str:
    """``validate --format json`` of ``checkout`` on ``root``, its run time (stats.seconds) dropped."""
    run = subprocess.run([sys.executable, "-m", "curator", "validate", str(root), "--profile", "dicom", "--jobs", "2",
                          "--no-cache", "--format", "json"], env={**os.environ, "PYTHONPATH": str(checkout)},
                         capture_output=True, text=True, cwd=checkout)
    if run.returncode not in (0, 1):
        raise SystemExit(f"validate --format json failed ({run.returncode}): {run.stderr[-2000:]}")
    return re.sub(r'\n    "seconds": [0-9.eE+-]+', '\n    "seconds": 0', run.stdout, count=1)


def same_report(here: Path, baseline: Path, root: Path) -> None:
    """The report must not change: the JSON of both checkouts, byte for byte but the run time."""
    ours, theirs = json_report(here, root), json_report(baseline, root)
    if ours != theirs:
        raise SystemExit(f"the JSON report differs from the baseline's ({len(ours)} vs {len(theirs)} characters)")
    print(f"JSON report byte-identical to the baseline's ({len(ours):,} characters, stats.seconds dropped)")


def whole_command(source: Path, count: int, repeat: int, baseline: Path | None) -> None:
    """The issue 15 row: the whole validate command against a plain pydicom header read, interleaved."""
    here = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="dicom-bench-") as temporary:
        root = copies(source, count, Path(temporary))
        if baseline is not None:
            same_report(here, baseline, root)
        paths = sorted(root.rglob("*.dcm"))
        cores = str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)

        def plain() -> None:
            started = time.process_time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for path in paths:
                    dcmread(path, stop_before_pixels=True)
            CPU.setdefault(runs[0][0], []).append(time.process_time() - started)

        runs: list[tuple[str, Callable[[], None]]] = [("pydicom dcmread(stop_before_pixels), 1 core", plain)]
        for name, checkout in (("curator", here), ("baseline", baseline)):
            if checkout is not None:
                for jobs in ("1", cores):
                    label = f"{name} validate --jobs {jobs}"
                    runs.append((label, command(label, checkout, root, jobs)))
        times: dict[str, list[float]] = {name: [] for name, _ in runs}
        for _ in range(repeat):          # interleaved: the machine's load falls on every row alike
            for name, function in runs:
                started = time.perf_counter()
                function()
                times[name].append(time.perf_counter() - started)
        floor = statistics.median(times[runs[0][0]])
        cpu_floor = statistics.median(CPU[runs[0][0]])
        print(f"{len(paths)} DICOM files ({count} x {source.name}), medians of {repeat}, load average "
              f"{os.getloadavg()[0]:.1f} at the end")
        for name, _ in runs:
            seconds, cpu = statistics.median(times[name]), statistics.median(CPU[name])
            each = ", ".join(f"{t:.2f}" for t in times[name])
            print(f"  {name:48s} {seconds:6.2f} s  {len(paths) / seconds:6.0f} files/s  x{seconds / floor:.2f} "
                  f"the plain read  {PEAK_MB.get(name, 0):4.0f} MB  (runs: {each})")
            # on a shared machine the wall time follows the load; the CPU time per file much less so
            print(f"  {'':48s} CPU {cpu:6.2f} s = {1000 * cpu / len(paths):5.2f} ms per file, x{cpu / cpu_floor:.2f} "
                  f"the plain read's CPU")


WORKER = """
import pickle, sys, time, warnings
from pathlib import Path
try:   # the task validate's workers run: reading and judging (issue 15), else (an older checkout) reading alone
    from curator.dicom_judging import judged_batch as task
except ImportError:
    from curator.io.dicom_audit import together_batch as task
root = Path(sys.argv[1])
items = [(root, p.relative_to(root).as_posix(), True) for p in sorted(root.rglob("*.dcm"))]
warnings.simplefilter("ignore")
best = float("inf")
for _ in range(int(sys.argv[2])):
    started = time.process_time()
    for start in range(0, len(items), 48):
        pickle.dumps(task(items[start:start + 48]))
    best = min(best, time.process_time() - started)
print(1000 * best / len(items))
"""


def worker_cpu(source: Path, count: int, repeat: int, baseline: Path | None) -> None:
    """The workers' side alone: CPU per file of the fast tier's task, its result pickled (``judged_batch``: parse,
    header facts, audit, judgement; an older checkout's ``together_batch`` does not judge, its main process does)
    over the copies, in one process per checkout, best of ``repeat`` passes, the checkouts interleaved."""
    here = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="dicom-bench-") as temporary:
        root = copies(source, count, Path(temporary))
        found: dict[str, list[float]] = {}
        for _ in range(3):
            for name, checkout in (("curator", here), ("baseline", baseline)):
                if checkout is not None:
                    run = subprocess.run([sys.executable, "-c", WORKER, str(root), str(repeat)], check=True,
                                         capture_output=True, text=True, cwd=checkout,
                                         env={**os.environ, "PYTHONPATH": str(checkout)})
                    found.setdefault(name, []).append(float(run.stdout))
        print(f"worker task CPU per file (result pickled), {count} x {source.name}, best of {repeat} in each of 3 "
              f"interleaved processes, load average {os.getloadavg()[0]:.1f} at the end")
        for name, each in found.items():
            print(f"  {name:10s} {min(each):.3f} ms per file  (processes: {', '.join(f'{v:.3f}' for v in each)})")
        if "baseline" in found:
            print(f"  ratio curator/baseline {min(found['curator']) / min(found['baseline']):.2f}")


STARTUP = """
import contextlib, io, os, resource, sys, time
started, cpu = time.perf_counter(), time.process_time()
import curator.executor as executor
first = []
pool = executor._pool
def watched(jobs, processes):   # the local pool, its first task timed
    opened = pool(jobs, processes)
    submit = opened.submit
    def first_submit(*args, **kwargs):
        if not first:
            first.append((time.perf_counter() - started, time.process_time() - cpu))
        return submit(*args, **kwargs)
    opened.submit = first_submit
    return opened
executor._pool = watched
from curator.cli.main import main
sys.argv = ["curator", "validate", sys.argv[1], "--profile", "dicom", "--jobs", "2", "--no-cache"]
with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):
    main()
children = resource.getrusage(resource.RUSAGE_CHILDREN)
print(*first[0], time.perf_counter() - started, time.process_time() - cpu, children.ru_utime + children.ru_stime,
      children.ru_minflt)
"""


def start_up(source: Path, count: int, repeat: int, baseline: Path | None) -> None:
    """The start-up of ``validate --profile dicom --jobs 2``: the time and the main process's CPU until the pool's
    first task, then the whole run's wall, main and worker CPU and the workers' minor page faults; checkouts
    interleaved, medians of ``repeat``."""
    here = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="dicom-bench-") as temporary:
        root = copies(source, count, Path(temporary))
        found: dict[str, list[list[float]]] = {}
        for _ in range(repeat):
            for name, checkout in (("curator", here), ("baseline", baseline)):
                if checkout is not None:
                    run = subprocess.run([sys.executable, "-c", STARTUP, str(root)], check=True, capture_output=True,
                                         text=True, cwd=checkout, env={**os.environ, "PYTHONPATH": str(checkout)})
                    found.setdefault(name, []).append([float(v) for v in run.stdout.split()])
        print(f"validate --jobs 2 start-up, {count} x {source.name}, medians of {repeat}, load average "
              f"{os.getloadavg()[0]:.1f} at the end")
        for name, runs in found.items():
            first, first_cpu, wall, cpu, workers, faults = (statistics.median(c) for c in zip(*runs, strict=True))
            print(f"  {name:10s} first task at {first:.2f} s (main CPU {first_cpu:.2f} s); whole run {wall:.2f} s, "
                  f"main CPU {cpu:.2f} s, workers' CPU {workers:.2f} s, workers' minor faults {faults:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--copies", type=int, default=0, help="time the whole command on N copies of FOLDER")
    parser.add_argument("--baseline", type=Path, help="another curator checkout timed in the same run")
    parser.add_argument("--workers", action="store_true",
                        help="with --copies: only the workers' CPU per file (together_batch), per checkout")
    parser.add_argument("--startup", action="store_true",
                        help="with --copies: the start-up (time to the pool's first task) on 2 jobs, per checkout")
    args = parser.parse_args()
    if args.copies and args.startup:
        start_up(args.folder, args.copies, args.repeat, args.baseline)
        return
    if args.copies and args.workers:
        worker_cpu(args.folder, args.copies, args.repeat, args.baseline)
        return
    if args.copies:
        whole_command(args.folder, args.copies, args.repeat, args.baseline)
        return
    root: Path = args.folder
    facts = _facts(root, 1)
    gather(facts)
    audit = facts.dicom_audit
    assert audit is not None
    paths = [root / p for p in sorted(audit.files)]
    files, megabytes = len(paths), audit.bytes / 1e6

    def plain() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for path in paths:
                dcmread(path, stop_before_pixels=True)

    def audit_with(jobs: int | None) -> None:
        gather(_facts(root, jobs))

    def judge() -> None:
        list(privacy_dicom.check(facts))

    rows = [("pydicom dcmread(stop_before_pixels), 1 core", best(plain, args.repeat)),
            ("curator audit read, --jobs 1", best(lambda: audit_with(1), args.repeat)),
            ("curator audit read, all cores", best(lambda: audit_with(None), args.repeat)),
            ("curator audit judgement", best(judge, args.repeat))]
    print(f"{files} DICOM files, {megabytes:.1f} MB in {root}")
    floor = rows[0][1]
    for name, seconds in rows:
        print(f"  {name:48s} {seconds:6.3f} s  {files / seconds:7.0f} files/s  {megabytes / seconds:7.1f} MB/s  "
              f"x{seconds / floor:.2f}")


if __name__ == "__main__":
    main()
