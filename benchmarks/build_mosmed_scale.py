"""Build a release with the MosMedData COVID19_1110 distribution (1110 studies, 50 masks; tiny volumes) and pack
it into zip and tar.gz parts; print the time of each step and the peak memory.

    python benchmarks/build_mosmed_scale.py [--shape 64 64 8]
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curator.release import build
from curator.release.archives import pack_release
from tests.mosmed_scale import make_mosmed_source


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", type=int, nargs=3, default=(64, 64, 8))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="curator-scale-"))
    try:
        started = time.perf_counter()
        source = make_mosmed_source(work / "source", tuple(args.shape))
        made = time.perf_counter()
        result = build(source, work / "release")
        built = time.perf_counter()
        for fmt in ("zip", "tar.gz"):
            pack_release(work / "release", work / f"parts-{fmt}", fmt=fmt, max_bytes=None, max_files=100,
                         when=dt.date(2020, 4, 28))
        packed = time.perf_counter()
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"source: 1110 studies {tuple(args.shape)}, made in {made - started:.1f} s")
        print(f"build:  {result.files} files, {result.bytes / 1e6:.1f} MB in {built - made:.1f} s "
              "(copy, registry, READMEs, figures, PDFs, metadata, manifests, validation)")
        print(f"pack:   zip and tar.gz parts of at most 100 files in {packed - built:.1f} s")
        print(f"peak memory of the whole run: {peak_mb:.0f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
