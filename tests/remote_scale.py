"""The fast tier on a 1,110-study MosMed-style release in the local S3 server (issue 16: "validated without
downloading it"), shared by tests/test_remote.py (which asserts the bound) and benchmarks/remote_fast_tier.py
(which reports the figures).

The release is built by ``curator build`` from tests/mosmed_scale.py's source (the real MosMed distribution,
small random volumes), uploaded with SHA-256 checksums, and one study is then re-uploaded with other bytes (its
stored ChecksumSHA256 no longer matches SHA256SUMS). The server's byte counter is zeroed before validate runs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from curator.release import build
from curator.validate import ValidateOptions, validate
from tests.factories import flip_byte
from tests.mosmed_scale import make_mosmed_source
from tests.servers import S3Server, upload_folder

CORRUPTED = "studies/CT-1/study_0300.nii.gz"


def fast_tier_in_s3(work: Path, s3: S3Server, *, bucket: str = "scale", shape: tuple[int, int, int] = (64, 64, 24),
                    rounds: int = 0) -> dict[str, Any]:
    """Build, upload, corrupt one object, validate by URL; what it cost. ``s3``'s environment must be set.
    ``rounds``: also validate that many times more, alternately without and with the privacy audit (``--ignore
    privacy``), for what the audit costs (``rounds``: a list of each run's figures)."""
    release = work / "release"
    build(make_mosmed_source(work / "source", shape), release, jobs=2)
    client = s3.client()
    upload_folder(client, bucket, release)
    flip_byte(release / CORRUPTED)
    client.put_object(Bucket=bucket, Key=CORRUPTED, Body=(release / CORRUPTED).read_bytes(),
                      ChecksumAlgorithm="SHA256")
    size = sum(p.stat().st_size for p in release.rglob("*") if p.is_file())

    def measure(ignore: tuple[str, ...] = ()) -> dict[str, Any]:
        s3.reset()
        started, cpu = time.perf_counter(), time.process_time()
        report = validate(f"s3://{bucket}", ValidateOptions(ignore=ignore))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        counters = s3.counters()
        return {"bytes_out": counters["bytes_out"], "fraction": counters["bytes_out"] / size,
                "requests": counters["requests"], "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
                "report": report, "privacy": not ignore,
                "fetched": {key.removeprefix(f"/{bucket}/"): n for key, n in counters["by_key"].items()}}

    measured = {"studies": sum(1 for _ in (release / "studies").rglob("*.nii.gz")), "release_bytes": size,
                **measure()}
    measured["rounds"] = [measure(("privacy",) if i % 2 == 0 else ()) for i in range(rounds)]
    return measured
