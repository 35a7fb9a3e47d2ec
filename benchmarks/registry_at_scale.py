"""Reading and checking a MosMed registry CSV of 99,999 and 999,999 rows (study_id stops at 999,999): time, RSS.

Each measurement runs in a fresh child process (`python -c`), which reads the registry with
``curator.io.registry.read_registry`` and validates every row with ``curator.checks.registry.parse_rows`` (the
record schema and the profile's naming rules), then keeps the parsed rows as ``validate`` does; its peak RSS comes
from ``wait4``. The issue's target: memory under 300 MB at 1,000,000 rows, and the 1M run within 2x of ten times
the 100k run. Medians of --repeat runs, interleaved.

    python benchmarks/registry_at_scale.py --rows 99999 999999

With ``--release N [N ...]`` it times the whole ``curator validate --profile mosmed`` (JSON report) on a MosMed
release of N studies: one tiny NIfTI study hard-linked N times (so a million files cost directory entries, not
data), listed in a registry CSV of N rows and a SHA256SUMS of N lines, all correct. ``--baseline CHECKOUT`` runs
another checkout's curator (e.g. main, before a change) in the same rounds. Each build has its own cache: round 1
reads every file, later rounds are cached reruns; each round is printed with its CPU seconds:

    python benchmarks/registry_at_scale.py --release 100000 1000000 --repeat 1 --baseline ../main
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from curator.phantom import PhantomSpec, make_phantom, phantom_affine, write_nifti

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


def measure(root: Path, rows: int, env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one child run."""
    return measured([sys.executable, "-c", CHILD, str(root), str(rows)], root, env)[:2]


def measured(command: list[str], cwd: Path, env: dict[str, str], expect: int = 0,
             output: Path | None = None) -> tuple[float, float, float]:
    """(seconds, peak RSS in MB, CPU seconds) of one child process, whose exit code must be ``expect`` (its standard
    output written to ``output`` when given)."""
    started = time.perf_counter()
    with (output or Path(os.devnull)).open("wb") as sink:
        child = subprocess.Popen(command, cwd=cwd, env=env, stdout=sink)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != expect:
        raise SystemExit(f"{' '.join(command)} exited {os.waitstatus_to_exitcode(status)}, not {expect}")
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


LINKS = 50_000


def make_release(root: Path, studies: int) -> None:
    """A valid MosMed release of ``studies`` studies (all CT-1, no masks): one phantom linked under every name (a
fresh copy every LINKS names). The registry and SHA256SUMS are written a block of lines at a time and the links made
in one tight loop, so a million studies take about a minute rather than an hour."""
    spec = PhantomSpec(seed=1, category=1, shape=(16, 16, 2), spacing=(0.7, 0.7, 8.0))
    folder = root / "studies" / "CT-1"
    folder.mkdir(parents=True)
    protos = []
    for start in range(1, studies + 1, LINKS):   # a file system allows so many links to one file (ext4: 65,000)
        protos.append(root / f"proto-{start}.nii.gz")
        write_nifti(protos[-1], make_phantom(spec)[0], phantom_affine(spec))
    digests = {hashlib.sha256(proto.read_bytes()).hexdigest() for proto in protos}
    assert len(digests) == 1, "the phantom is written byte for byte the same each time"
    digest = digests.pop()
    names = [f"study_{study_id:04d}.nii.gz" for study_id in range(1, studies + 1)]
    link = os.link
    for number, proto in enumerate(protos):
        source = str(proto)
        for name in names[number * LINKS:(number + 1) * LINKS]:
            link(source, f"{folder}/{name}")
        proto.unlink()
    with (root / "dataset_registry.csv").open("w", encoding="utf-8", newline="") as registry:
        registry.write("study_id,category,study_file,mask_file\r\n")
        registry.writelines(f"{number},CT-1,/studies/CT-1/{name},\r\n" for number, name in enumerate(names, start=1))
    with (root / "SHA256SUMS").open("w", encoding="utf-8") as sums:
        sums.writelines(f"{digest}  studies/CT-1/{name}\n" for name in names)
    (root / "LICENSE").write_text("CC-BY-4.0\n", encoding="utf-8")


def same_reports(paths: list[Path], size: int) -> None:
    """Stop unless the JSON reports at ``paths`` are the same but for their timing and cache counts."""
    reports = []
    for path in paths:
        report = json.loads(path.read_bytes())
        report["stats"].pop("seconds", None)
        report["stats"].pop("cache", None)
        reports.append(report)
        path.unlink()
    if any(report != reports[0] for report in reports[1:]):
        raise SystemExit(f"the reports of the release of {size:,} studies differ")
    print(f"release of {size:,} studies: {len(reports[0]['findings'])} findings, the same in every build's report")


def releases(work: Path, sizes: list[int], repeat: int, baseline: Path | None, keep: bool = False) -> None:
    """The whole validate command on releases of ``sizes`` studies, interleaved rounds, each round printed."""
    env = {**os.environ}
    env.pop("PYTHONDONTWRITEBYTECODE", None)   # users keep compiled bytecode
    builds = {"": env}
    if baseline is not None:
        builds = {"before: ": {**env, "PYTHONPATH": str(baseline.resolve())}, "": env}
    for number, build in enumerate(builds.values()):   # each build its own cache: the first round reads every
        build["CURATOR_CACHE_DIR"] = str(work / f"cache-{number}")   # file, the later ones are cached reruns
        shutil.rmtree(work / f"cache-{number}", ignore_errors=True)
    roots = {}
    for size in sizes:
        started = time.perf_counter()
        roots[size] = work / f"release-{size}"
        if keep and (roots[size] / "LICENSE").is_file():   # --work: a release built by an earlier run is reused
            print(f"release of {size:,} studies reused from {roots[size]}")
            continue
        make_release(roots[size], size)
        print(f"release of {size:,} studies made in {time.perf_counter() - started:.1f} s")
    command = [sys.executable, "-m", "curator", "validate", ".", "--profile", "mosmed", "--format", "json"]
    runs: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    for round_number in range(repeat):
        for size in sizes:
            reports = {tag: work / f"report-{number}-{size}.json" for number, tag in enumerate(builds)}
            for tag, build in builds.items():
                # exit 1: the release has no README, so REQUIRED_FILE_MISSING; nothing per file
                runs.setdefault((tag, size), []).append(measured(command, roots[size], build, expect=1,
                                                                 output=reports[tag] if round_number == 0 else None))
            if round_number == 0:
                same_reports(list(reports.values()), size)
    print(f"load {os.getloadavg()[0]:.2f}; round 1 reads every file (empty cache), later rounds are cached reruns")
    print(f"{'run':<30} {'studies':>10} {'round':>5} {'seconds':>8} {'CPU s':>8} {'peak MB':>8} {'files/s':>9}")
    for (tag, size), results in runs.items():
        for number, (seconds, megabytes, cpu) in enumerate(results, start=1):
            print(f"{tag + 'curator validate':<30} {size:>10,} {number:>5} {seconds:>8.2f} {cpu:>8.1f} "
                  f"{megabytes:>8.0f} {size / seconds:>9,.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[99_999, 999_999])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--release", type=int, nargs="+", metavar="STUDIES",
                        help="time the whole validate command on releases of these sizes instead")
    parser.add_argument("--baseline", type=Path, metavar="CHECKOUT", help="also run this checkout's curator")
    parser.add_argument("--work", type=Path, metavar="DIR",
                        help="build the releases in DIR and keep them there (reused by a later run) with --release")
    parser.add_argument("--build-only", action="store_true", help="with --release: build the releases, run nothing")
    args = parser.parse_args()
    if args.work is not None and args.release:
        args.work.mkdir(parents=True, exist_ok=True)
        releases(args.work, args.release, 0 if args.build_only else args.repeat, args.baseline, keep=True)
        return 0
    work = Path(tempfile.mkdtemp(prefix="curator-registry-bench-"))
    try:
        if args.release:
            releases(work, args.release, args.repeat, args.baseline)
            return 0
        roots = {}
        for rows in args.rows:
            roots[rows] = work / str(rows)
            roots[rows].mkdir()
            make_registry(roots[rows] / "dataset_registry.csv", rows)
        builds = {"": {**os.environ}}
        if args.baseline is not None:
            builds = {"before": {**os.environ, "PYTHONPATH": str(args.baseline.resolve())}, "": {**os.environ}}
        runs: dict[tuple[str, int], list[tuple[float, float]]] = {}
        for _ in range(args.repeat):
            for rows in args.rows:
                for tag, env in builds.items():
                    runs.setdefault((tag, rows), []).append(measure(roots[rows], rows, env))
        print(f"load {os.getloadavg()[0]:.2f}; {'build':>6} {'rows':>10} {'seconds':>8} {'peak MB':>8} {'rows/s':>10}")
        for (tag, rows), results in runs.items():
            seconds = statistics.median(r[0] for r in results)
            megabytes = statistics.median(r[1] for r in results)
            print(f"{tag:>6} {rows:>10,} {seconds:>8.2f} {megabytes:>8.0f} {rows / seconds:>10,.0f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
