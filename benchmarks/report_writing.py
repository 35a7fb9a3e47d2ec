"""How fast the big JSON, SARIF and JUnit reports are written: this checkout against another (--baseline), one run.

Issue 15 / CI on dataset pull requests: on a release that is not anonymised (P001 x20, /tmp/p20: 2,960 DICOM files,
73,853 findings) the JSON report is 49 MB and took ~2.9 s of a ~7.9 s ``validate --format json``.

1. The writers alone (default): the report of ROOT is made once (``validate --profile dicom``, this checkout) and
   pickled; one child process per checkout and format loads it and writes the format as its CLI does (the bytes
   handed to the file: ``json_report``/``sarif_report`` where the checkout has them, else
   ``to_json(...).encode()``), best of --repeat, CPU and wall seconds, and the growth of the child's peak RSS
   while writing. The checkouts run interleaved (--rounds), and the outputs of both must be byte for byte the same.
2. ``--whole``: the whole command ``validate ROOT --profile dicom --jobs 2 --no-cache --format F -o FILE`` of each
   checkout, interleaved, medians of --repeat: wall, CPU (workers included, wait4) and the main process's peak RSS;
   the two files byte-identical but for ``stats.seconds``.

On a loaded machine the CPU seconds and the ratios move far less than the wall times: read those.

    python benchmarks/report_writing.py /tmp/p20 --baseline /work/main
    python benchmarks/report_writing.py /tmp/p20 --baseline /work/main --whole --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FORMATS = ("json", "sarif", "junit")

WRITER = r"""
import hashlib, json, pickle, resource, sys, time
report = pickle.load(open(sys.argv[1], "rb"))
repeat = int(sys.argv[2])
from curator.render import report as json_module, sarif as sarif_module
from curator.render.junit import to_junit
writers = {
    "json": getattr(json_module, "json_report", None) or (lambda r: json_module.to_json(r).encode()),
    "sarif": getattr(sarif_module, "sarif_report", None) or (lambda r: sarif_module.to_sarif(r).encode()),
    "junit": lambda r: to_junit(r).encode(),
}
found = {}
for name in sys.argv[3].split(","):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall = cpu = float("inf")
    data = b""
    for _ in range(repeat):
        data = b""   # (the last output freed first: the growth is one writer's)
        started, started_cpu = time.perf_counter(), time.process_time()
        data = writers[name](report)
        wall, cpu = min(wall, time.perf_counter() - started), min(cpu, time.process_time() - started_cpu)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    found[name] = {"wall": wall, "cpu": cpu, "grown_mb": grown, "bytes": len(data),
                   "sha256": hashlib.sha256(data).hexdigest()}
print(json.dumps(found))
"""


def _child_env(checkout: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(checkout)}


def make_report(here: Path, root: Path, pickled: Path) -> int:
    code = ("import pickle, sys; from curator.validate import validate, ValidateOptions; "
            "r = validate(sys.argv[1], ValidateOptions(profile='dicom', jobs=2)); "
            "pickle.dump(r, open(sys.argv[2], 'wb')); print(len(r.findings))")
    run = subprocess.run([sys.executable, "-c", code, str(root), str(pickled)], env=_child_env(here), cwd=here,
                         capture_output=True, text=True, check=True)
    return int(run.stdout.split()[-1])


def writers(checkouts: dict[str, Path], pickled: Path, rounds: int, repeat: int, formats: list[str]) -> None:
    found: dict[str, dict[str, list[dict[str, float | str]]]] = {}
    for _ in range(rounds):
        for fmt in formats:   # one process a format: the growth of its peak RSS is that writer's
            for name, checkout in checkouts.items():
                run = subprocess.run([sys.executable, "-c", WRITER, str(pickled), str(repeat), fmt],
                                     env=_child_env(checkout), cwd=checkout, capture_output=True, text=True)
                if run.returncode != 0:
                    raise SystemExit(f"{name}: the writer failed: {run.stderr[-2000:]}")
                found.setdefault(fmt, {}).setdefault(name, []).append(json.loads(run.stdout)[fmt])
    print(f"writers alone, best of {repeat} in each of {rounds} interleaved processes per checkout, load average "
          f"{os.getloadavg()[0]:.1f} at the end")
    for fmt, per in found.items():
        digests = {figures["sha256"] for runs in per.values() for figures in runs}
        size = next(iter(per.values()))[0]["bytes"]
        same = "byte-identical" if len(digests) == 1 else "OUTPUTS DIFFER"
        print(f"  {fmt} ({float(size) / 1e6:.1f} MB, {same} across checkouts)")
        best = {}
        for name, runs in per.items():
            cpu = min(float(r["cpu"]) for r in runs)
            wall = min(float(r["wall"]) for r in runs)
            grown = max(float(r["grown_mb"]) for r in runs)
            best[name] = cpu
            each = ", ".join(f"{float(r['cpu']):.3f}" for r in runs)
            print(f"    {name:10s} CPU {cpu:6.3f} s  wall {wall:6.3f} s  peak RSS +{grown:5.0f} MB while writing  "
                  f"(CPU per process: {each})")
        if len(best) == 2:
            ours, theirs = best.values()
            print(f"    ratio (CPU) {ours / theirs:.2f}")
        if len(digests) != 1:
            raise SystemExit(f"the {fmt} outputs differ between the checkouts")


def _timeless(data: bytes) -> bytes:
    return re.sub(rb'"seconds": [0-9.eE+-]+|time="[0-9.]+"', b"", data)


def whole(checkouts: dict[str, Path], root: Path, repeat: int, formats: list[str]) -> None:
    times: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    outputs: dict[tuple[str, str], bytes] = {}
    with tempfile.TemporaryDirectory(prefix="report-bench-") as work:
        for _ in range(repeat):
            for fmt in formats:
                for name, checkout in checkouts.items():
                    output = Path(work) / f"{name}.{fmt}"
                    started = time.perf_counter()
                    child = subprocess.Popen([sys.executable, "-m", "curator", "validate", str(root), "--profile",
                                              "dicom", "--jobs", "2", "--no-cache", "--format", fmt, "-o",
                                              str(output)], env=_child_env(checkout), cwd=checkout,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                    assert child.stderr is not None
                    errors = child.stderr.read()
                    _, status, usage = os.wait4(child.pid, 0)
                    wall = time.perf_counter() - started
                    if os.waitstatus_to_exitcode(status) not in (0, 1):
                        raise SystemExit(f"{name} validate --format {fmt} failed: {errors[-2000:].decode()}")
                    times.setdefault((fmt, name), []).append((wall, usage.ru_utime + usage.ru_stime,
                                                              usage.ru_maxrss / 1024))
                    outputs[fmt, name] = _timeless(output.read_bytes())
    print(f"whole command `validate {root} --profile dicom --jobs 2 --no-cache --format F -o FILE`, medians of "
          f"{repeat}, interleaved, load average {os.getloadavg()[0]:.1f} at the end")
    for fmt in formats:
        same = len({outputs[fmt, name] for name in checkouts}) == 1
        print(f"  --format {fmt} ({'byte-identical but the run time' if same else 'OUTPUTS DIFFER'})")
        for name in checkouts:
            runs = times[fmt, name]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            peak = max(r[2] for r in runs)
            print(f"    {name:10s} wall {wall:6.2f} s  CPU {cpu:6.2f} s  peak RSS {peak:4.0f} MB  "
                  f"(walls: {', '.join(f'{r[0]:.2f}' for r in runs)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path, help="a DICOM release (e.g. /tmp/p20, P001 x20)")
    parser.add_argument("--baseline", type=Path, help="another checkout of curator (e.g. /work/main)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved child processes per checkout")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--whole", action="store_true", help="time the whole validate command instead")
    args = parser.parse_args()
    here = Path(__file__).resolve().parents[1]
    checkouts = {"curator": here, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    formats = args.formats.split(",")
    if args.whole:
        whole(checkouts, args.root, args.repeat, formats)
        return
    with tempfile.TemporaryDirectory(prefix="report-bench-") as work:
        pickled = Path(work) / "report.pickle"
        count = make_report(here, args.root, pickled)
        print(f"{count:,} findings of {args.root} (validate --profile dicom)")
        writers(checkouts, pickled, args.rounds, args.repeat, formats)


if __name__ == "__main__":
    main()
