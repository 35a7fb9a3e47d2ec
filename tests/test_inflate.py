"""The deep tier's inflate back ends (curator.io.inflate): ISA-L and the stdlib's zlib give the same payloads and the
same findings on ordinary and hostile gzip, and the bounded-output guard holds with either."""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest

from curator.io import inflate
from curator.io.nifti import read_header
from curator.io.payload import Payload, scan_nifti
from tests.factories import (
    ct_volume,
    gzip_member,
    gzip_with_bad_block,
    nifti_bytes,
    write_hidden_zeros,
    write_nifti,
)
from tests.memory import traced
from tests.reports import validate_report
from tests.test_payload import PHI, STUDY

SHAPE = (64, 64, 20)
STREAM = 352 + 64 * 64 * 20 * 2   # bytes of a SHAPE int16 NIfTI stream


@pytest.fixture(params=["isal", "zlib"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    with inflate.use(request.param):
        assert inflate.current() == request.param
        yield request.param


def bounded_scan(path: Path, seconds: float = 30) -> Payload:
    """scan_nifti in a thread, failing (not hanging the suite) when it does not return in ``seconds``."""
    done: list[Payload] = []
    backend = inflate.current()

    def scan() -> None:
        with inflate.use(backend):  # the back end is module state: the thread sets it as the test did
            done.append(scan_nifti(path, ["sha256"]))

    thread = threading.Thread(target=scan, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"scan_nifti did not return within {seconds} s"
    return done[0]


def affine_of(path: Path) -> np.ndarray:
    return nib.load(path).affine


def test_both_back_ends_are_installed() -> None:
    # CI must exercise both: isal is a core dependency, zlib the fallback where a platform lacks its wheel
    assert sorted(inflate.BACKENDS) == ["isal", "zlib"]


def test_an_ordinary_volume_is_read_to_its_end(backend: str, tmp_path: Path) -> None:
    # regression: with zlib, a read that stops at max_length exactly where the deflate data ends leaves eof set AND
    # the trailer in unconsumed_tail; the reader fed that tail back forever (every .nii.gz hung without isal)
    path = write_nifti(tmp_path / "x.nii.gz", ct_volume(SHAPE))
    payload = bounded_scan(path)
    assert (payload.stream_error, payload.decompressed, payload.members, payload.after_stream) == (None, STREAM, 1, 0)
    assert payload.voxels is not None and payload.voxels.count == 64 * 64 * 20


def test_the_header_reader_measures_many_members(backend: str, tmp_path: Path) -> None:
    # the trailer's ISIZE holds only the last member's size: the reader inflates every member to measure
    stream = nifti_bytes(ct_volume(SHAPE))
    path = tmp_path / "x.nii.gz"
    path.write_bytes(b"".join(gzip_member(stream[i : i + 40_000]) for i in range(0, len(stream), 40_000)))
    header = read_header(path)
    assert (header.stream_size, header.stream_error) == (STREAM, None)


def _truncated(path: Path) -> None:
    write_nifti(path, ct_volume(SHAPE), affine_of(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _after_stream(path: Path) -> None:
    write_nifti(path, ct_volume(SHAPE), affine_of(path), after_gzip=PHI)


def _split_members(path: Path) -> None:
    stream = nifti_bytes(ct_volume(SHAPE), affine_of(path))
    path.write_bytes(b"".join(gzip_member(stream[i : i + 3000]) for i in range(0, len(stream), 3000)))


def _concatenated_member(path: Path) -> None:
    write_nifti(path, ct_volume(SHAPE), affine_of(path))
    with path.open("ab") as handle:
        handle.write(gzip.compress(PHI, mtime=0))


def _trailer(path: Path, crc_xor: int, size_add: int) -> None:
    write_nifti(path, ct_volume(SHAPE), affine_of(path))
    data = path.read_bytes()
    crc, size = struct.unpack("<II", data[-8:])
    path.write_bytes(data[:-8] + struct.pack("<II", crc ^ crc_xor, size + size_add))


def _corrupt(path: Path) -> None:
    path.write_bytes(gzip_with_bad_block(nifti_bytes(ct_volume(SHAPE), affine_of(path)))[0])


def _headers(path: Path) -> None:
    # FEXTRA of 64 KiB and FNAME on the first member, FNAME and FCOMMENT on a second (empty) one
    stream = nifti_bytes(ct_volume(SHAPE), affine_of(path))
    path.write_bytes(gzip_member(stream, extra=b"\x00" * 65535, name=b"Ivanov Ivan.nii")
                     + gzip_member(b"", name=b"Ivanov_Ivan.nii", comment=b"MRN 123456"))


def _summary(finding: dict[str, Any]) -> tuple[Any, ...]:
    context = finding["context"]
    reason = context.get("reason", context.get("where", ""))
    return (finding["code"], finding["path"], context.get("extra_bytes"), context.get("actual_bytes"),
            reason.split(" (")[0] if finding["code"] == "IMAGE_UNREADABLE" else reason)  # the library's own words


# case: (writer, exit code, findings as _summary gives them); the same for both back ends
CASES: dict[str, tuple[Callable[[Path], None], int, list[tuple[Any, ...]]]] = {
    "split members": (_split_members, 0, []),
    "bytes after the stream": (_after_stream, 1, [("IMAGE_TRAILING_DATA", STUDY, len(PHI), STREAM, "")]),
    "a concatenated member": (_concatenated_member, 1,
                              [("IMAGE_TRAILING_DATA", STUDY, len(PHI), STREAM + len(PHI), "")]),
    "truncated": (_truncated, 1, [("IMAGE_TRUNCATED", STUDY, None, "truncated", "before the member's end marker")]),
    "bad CRC": (lambda p: _trailer(p, 0xFFFFFFFF, 0), 1, [("IMAGE_TRUNCATED", STUDY, None, STREAM, "CRC-32")]),
    "ISIZE mismatch": (lambda p: _trailer(p, 0, 5), 1, [("IMAGE_TRUNCATED", STUDY, None, STREAM, "the size in")]),
    "corrupt deflate": (_corrupt, 1, [("IMAGE_UNREADABLE", STUDY, None, None,
                                       "the deflate data of gzip member 1 cannot be decoded")]),
    "FEXTRA, FNAME, later members' names": (_headers, 1, [
        ("PHI_GZIP_HEADER", STUDY, None, None, "FNAME"),
        ("PHI_GZIP_HEADER", STUDY, None, None, "FNAME of gzip member 2, FCOMMENT of gzip member 2")]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_gzip_gives_the_same_findings(backend: str, case: str, release: Path) -> None:
    write, exit_code, expected = CASES[case]
    write(release / STUDY)
    report = validate_report(release, "--deep", "--jobs", "1", "--no-cache", "--select", "image,PHI_GZIP_HEADER",
                             exit_code=exit_code)
    found = sorted(_summary(f) for f in report["findings"])
    wanted = sorted(expected)
    # reasons are long sentences with numbers in them: compare those parts the expectation names
    assert [f[:3] for f in found] == [w[:3] for w in wanted]
    for got, want in zip(found, wanted, strict=True):
        if want[3] == "truncated":
            assert 0 < got[3] < STREAM
        else:
            assert got[3] == want[3]
        assert want[4] in got[4] and (want[4] != "" or got[4] == "")


def test_a_gzip_bomb_stays_bounded(backend: str, tmp_path: Path) -> None:
    # 256 MiB of zeros behind the voxels in ~0.3 MB of gzip: every byte is counted, never held
    zeros = 256 << 20
    path = write_hidden_zeros(tmp_path / "bomb.nii.gz", ct_volume(), zeros)
    with traced() as memory:
        payload = bounded_scan(path, seconds=60)
    peak = memory.peak
    assert (payload.stream_error, payload.decompressed) == (None, 352 + 8 * 8 * 4 * 2 + zeros)
    assert peak < 24 << 20, f"peak {peak / 2**20:.1f} MiB of Python allocations"


_RESCANS = r"""
import resource, sys
from pathlib import Path
from curator.io.payload import scan_unit
job = (Path(sys.argv[1]), ("study.nii.gz",), ((),))
scan_unit(job)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    scan_unit(job)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt; ru_minflt as Linux counts it")
def test_a_deep_scan_reuses_its_heap_instead_of_faulting_in_pages(tmp_path: Path) -> None:
    # regression (issue 15, deep-inflate): each inflated piece of a few MB landed on fresh pages (glibc mapped it, or
    # trimmed the heap it was freed to), a page fault each 4 KB: ~1,130 faults a scan of this 5.2 MB volume, ~2 s
    # of system time on the 1 GB benchmark. A fresh process, as a worker is: its heap state is the allocator's default
    write_nifti(tmp_path / "study.nii.gz", ct_volume((256, 256, 40)))
    run = subprocess.run([sys.executable, "-c", _RESCANS, str(tmp_path)], capture_output=True, text=True, check=True)
    faults = int(run.stdout)
    assert faults < 200, f"{faults} page faults in 5 scans of {256 * 256 * 40 * 2 / 2**20:.0f} MiB each"
    assert inflate.steady_heap()   # glibc: the thresholds were set


def test_without_glibc_the_heap_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes

    def no_library(name: object) -> object:
        raise OSError("no C library by that name")

    monkeypatch.setattr(inflate, "_heap_steady", None)
    monkeypatch.setattr(ctypes, "CDLL", no_library)
    assert inflate.steady_heap() is False
    assert inflate.steady_heap() is False   # tried once: not again for every task
