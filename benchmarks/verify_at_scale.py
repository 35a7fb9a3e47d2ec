"""`curator verify` on a multi-gigabyte phantom release: damaged files named, parts to fetch again, throughput
against `sha256sum -c` and `bagit.py --validate --processes N`, and a second run with the cache.

Makes studies of 512x512x40 int16 (about 11 MB compressed each) up to --gigabytes, in the MosMed layout with
SHA256SUMS/MD5SUMS; writes a BagIt bag of it with hard links (no extra space) and zip parts; then, in one run:
  1. times sha256sum -c, bagit.py --validate --processes N and curator verify (cold cache) on the intact release;
  2. times reruns of curator verify with the cache on the unchanged release;
  3. flips a byte in 3 files, then (three times, each with an empty cache) times a first curator verify, which reads
     every file, and five reruns with the cache, and checks that the 3 files are named exactly (refetch list);
  4. deletes one part and damages another in the parts folder and checks the parts named for fetching again.

    python benchmarks/verify_at_scale.py --gigabytes 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from curator.executor import default_jobs
from curator.phantom import PhantomSpec, make_phantom, phantom_affine, write_nifti
from curator.release.archives import pack_release
from curator.release.bagit import write_bag
from curator.release.manifests import write_manifests

DISTINCT = 4
REPEAT = 5


def make_release(root: Path, gigabytes: float) -> int:
    folder = root / "studies" / "CT-1"
    folder.mkdir(parents=True)
    made = []
    for seed in range(DISTINCT):
        spec = PhantomSpec(seed=seed, category=1 + seed % 4, shape=(512, 512, 40), spacing=(0.7, 0.7, 8.0))
        path = folder / f"study_{seed + 1:04d}.nii.gz"
        write_nifti(path, make_phantom(spec)[0], phantom_affine(spec))
        made.append(path)
    each = sum(p.stat().st_size for p in made) / len(made)
    count = max(DISTINCT, int(gigabytes * 1e9 / each))
    for index in range(DISTINCT, count):
        shutil.copyfile(made[index % DISTINCT], folder / f"study_{index + 1:04d}.nii.gz")
    (root / "dataset.yaml").write_text("title: benchmark\n", encoding="utf-8")
    write_manifests(root)
    return sum(p.stat().st_size for p in folder.iterdir())


def timed(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False, env=env)
    return time.perf_counter() - started, done.stdout


def flip(path: Path, offset: int = -100) -> None:
    with path.open("r+b") as handle:
        handle.seek(offset, os.SEEK_END)
        byte = handle.read(1)
        handle.seek(offset, os.SEEK_END)
        handle.write(bytes([byte[0] ^ 0xFF]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gigabytes", type=float, default=2.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="curator-verify-scale-"))
    jobs = default_jobs()
    env = {**os.environ, "CURATOR_CACHE_DIR": str(work / "cache")}
    # as installed by pip, Python keeps compiled bytecode; a sandbox's PYTHONDONTWRITEBYTECODE=1 would make every run
    # compile curator's modules again (~40 ms), which no user pays: the first curator run below writes them
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    script = Path(sys.executable).with_name("curator")   # the command users run (python -m adds runpy's imports)
    curator = [str(script) if script.is_file() else sys.executable, *([] if script.is_file() else ["-m", "curator"]),
               "verify", "."]
    try:
        release = work / "release"
        size = make_release(release, args.gigabytes)
        write_bag(release, work / "bag", when=dt.date(2026, 1, 1), link=True)
        files = len(list(release.rglob("*.nii.gz")))
        print(f"data: {files} studies, {size / 1e9:.2f} GB; {jobs} cores")
        timed(["sha256sum", "-c", "--quiet", "SHA256SUMS"], release)           # warm the page cache
        sha, _ = timed(["sha256sum", "-c", "--quiet", "SHA256SUMS"], release)
        bag, _ = timed([str(Path(sys.executable).with_name("bagit.py")), "--validate", "--processes", str(jobs),
                        "."], work / "bag")
        cold, _ = timed([*curator, "--no-cache"], release, env)
        first, _ = timed(curator, release, env)
        print(f"{'tool':<44} {'seconds':>8} {'MB/s':>7} {'vs sha256sum':>13}")
        for name, seconds in (("sha256sum -c SHA256SUMS", sha), (f"bagit.py --validate --processes {jobs}", bag),
                              ("curator verify (all cores, no cache)", cold),
                              ("curator verify (first run, filling the cache)", first)):
            print(f"{name:<44} {seconds:>8.2f} {size / 1e6 / seconds:>7.0f} {seconds / sha:>13.2f}")
        again = [timed(curator, release, env)[0] for _ in range(REPEAT)]   # unchanged: nothing is read
        print(f"rerun, nothing changed: median {median(again):.2f} s = {median(again) / first:.3f} of the first")
        damaged = sorted(release.glob("studies/CT-1/*.nii.gz"))[5:8]
        for path in damaged:
            flip(path)
        # the criterion: verify the damaged release with an empty cache (every file read), then again with it
        firsts, reruns, named = [], [], None
        for attempt in range(3):
            cached = {**env, "CURATOR_CACHE_DIR": str(work / f"cache-damaged-{attempt}")}
            firsts.append(timed(curator, release, cached)[0])
            for _ in range(REPEAT):
                seconds, output = timed(curator, release, cached)
                reruns.append(seconds)
            named = output
        _, output = timed([*curator, "--format", "json"], release, cached)
        report = json.loads(output)
        expected = [p.relative_to(release).as_posix() for p in damaged]
        print(f"3 damaged files named exactly: {report['stats']['refetch'] == expected} "
              f"({', '.join(report['stats']['refetch'])}); text output says: {(named or '').splitlines()[-1]}")
        print(f"damaged release, first run (empty cache): median {median(firsts):.2f} s "
              f"(min {min(firsts):.2f}, max {max(firsts):.2f}, {len(firsts)} runs)")
        print(f"damaged release, rerun with the cache: median {median(reruns):.3f} s "
              f"(min {min(reruns):.3f}, max {max(reruns):.3f}, {len(reruns)} runs) = "
              f"{median(reruns) / median(firsts):.3f} of the first")
        print(f"a JSON report rerun: cache hits {report['stats']['cache']['hits']}, "
              f"misses {report['stats']['cache']['misses']}")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import click"], check=True)
        print(f"for scale: python -c 'import click' takes {time.perf_counter() - started:.3f} s here")
        for path in damaged:
            flip(path)    # repair, then pack
        parts = work / "parts"
        pack_release(release, parts, fmt="zip", max_bytes=None, max_files=40, when=dt.date(2026, 1, 1))
        zips = sorted(parts.glob("*.zip"))
        zips[0].unlink()
        flip(zips[-1], -1000)
        _, output = timed([*curator, "--format", "json", "--no-cache"], parts)
        refetch = json.loads(output)["stats"]["refetch"]
        print(f"parts: {len(zips)}; deleted {zips[0].name}, damaged {zips[-1].name}; to fetch again: {refetch}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
