"""Throughput of the DICOM privacy audit against a plain pydicom header read of the same files, in one run.

Times, on the same warm files (best of --repeat):
  * plain ``pydicom.dcmread(stop_before_pixels=True)`` of every file, one core (the floor for any header audit);
  * the audit reader (``curator.io.dicom_audit.gather``: marker check, every element recursively, file meta,
    elements after the pixel data), one job and all cores;
  * the judgement (``curator.checks.privacy_dicom``) on what was read.
A ratio near 1 means the audit costs little more than reading the headers at all. Default input: the real
COVID-CT-MD P001 series (148 slices) beside the checkout.

    python benchmarks/dicom_audit_throughput.py [FOLDER] --repeat 3
"""

from __future__ import annotations

import argparse
import time
import warnings
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
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
