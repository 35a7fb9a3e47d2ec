"""The fast tier of ``curator validate s3://...`` on a 1,110-study MosMed-style release in a local S3 server (moto,
tests/servers.py): bytes fetched against the release's size, requests and wall time (issue 16: "fewer than 2%").

    python benchmarks/remote_fast_tier.py [--shape 64 64 24]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.remote_scale import fast_tier_in_s3
from tests.servers import S3Server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", type=int, nargs=3, default=(64, 64, 24))
    parser.add_argument("--rounds", type=int, default=4,
                        help="more runs, alternately without and with the privacy audit (what the audit costs)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="curator-remote-"))
    try:
        with S3Server() as s3:
            os.environ.update(s3.environment())
            measured = fast_tier_in_s3(work, s3, shape=tuple(args.shape), rounds=args.rounds)
        report = measured.pop("report")
        print(f"studies {measured['studies']}, release {measured['release_bytes'] / 1e6:.1f} MB")
        print(f"fast tier fetched {measured['bytes_out'] / 1e6:.2f} MB = {measured['fraction'] * 100:.2f} % "
              f"of the release, requests {measured['requests']}, {measured['seconds']} s")
        print(f"findings: {[(f.code, f.path) for f in report.findings]}")
        for run in measured["rounds"]:
            print(f"  privacy audit {'on ' if run['privacy'] else 'off'}: {run['bytes_out'] / 1e6:.2f} MB "
                  f"({run['fraction'] * 100:.2f} %), requests {run['requests']}, {run['seconds']} s wall, "
                  f"{run['cpu_seconds']} s CPU (this process), load average {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
