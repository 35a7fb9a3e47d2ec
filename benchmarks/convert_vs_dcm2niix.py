"""Speed of curator's DICOM -> NIfTI conversion against dcm2niix on the same series, in one run.

For each series (best of --repeat, warm files):
  * ``dcm2niix -z y -b n -x n`` (gzip level 6, its default; pigz when installed) and ``dcm2niix -z y -1`` (level 1);
  * curator: ``pydicom.dcmread`` of every file + ``convert_series`` + ``write_volume`` (ISA-L gzip), one core,
    with the time split into read / convert (decode, HU, geometry) / write.
The ratio is curator / dcm2niix (level 6): below 1 curator is faster. After timing, both outputs are compared
voxel for voxel (reoriented to one voxel order) so the figures are for the same result.

The whole command (issue 15's target: ``curator ingest`` <= 1.2x ``dcm2niix -z y``): dcm2niix, this checkout's
``curator ingest --jobs 1`` and, with ``--baseline CHECKOUT``, the same command of another checkout, run in turn in
each of ``--repeat`` rounds (interleaved, so a change of load hits all alike); medians of wall and CPU seconds
(``os.wait4``: the child and what it reaped) and the load average are printed, with the ratios. Each checkout runs
with its bytecode compiled (a ``PYTHONPYCACHEPREFIX`` in the temporary folder, filled by one untimed run), as an
installed curator does, even where ``PYTHONDONTWRITEBYTECODE`` is set; the outputs of both checkouts are compared
file by file (same bytes: the deterministic-output guarantee).

Series: the real COVID-CT-MD P001 (148 slices 512x512, JPEG lossless) beside the checkout, and a synthetic one
(default 300 slices 512x512, uncompressed, a chest phantom from curator.phantom) written to a temporary folder.

    python benchmarks/convert_vs_dcm2niix.py [--repeat 3] [--slices 300] [--no-synthetic] [--baseline ../main]
                                              [FOLDER ...]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from nibabel.orientations import apply_orientation, io_orientation, ornt_transform
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from curator.ingest.convert import Volume, convert_series, write_volume
from curator.phantom import PhantomSpec, make_phantom

P001 = Path(__file__).resolve().parents[2] / "shared/realdata/covid_ct_md_dicom/Sample data/COVID-19 subjects/P001"


def find_dcm2niix() -> str:
    found = shutil.which("dcm2niix")
    beside = Path(sys.executable).parent / "dcm2niix"
    if found:
        return found
    if beside.is_file():
        return str(beside)
    raise SystemExit("dcm2niix not found: pip install dcm2niix")


def synthetic_series(folder: Path, slices: int) -> Path:
    """``slices`` uncompressed 512x512 CT images of a chest phantom (0.7 mm pixels, 1 mm apart)."""
    volume, _ = make_phantom(PhantomSpec(seed=7, category=2, shape=(512, 512, slices), spacing=(0.7, 0.7, 1.0)))
    study, series = generate_uid(), generate_uid()
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.Modality, ds.PatientID, ds.SeriesNumber = "CT", "BENCH", 2
        ds.InstanceNumber = slices - k  # not the stack order, as on many scanners
        ds.ImagePositionPatient = [-179.0, -179.0, -300.0 + k * 1.0]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [0.7, 0.7]
        ds.SliceThickness = 1.0
        ds.Rows, ds.Columns = 512, 512
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        # phantom axes: left, anterior, cranial; DICOM rows run posterior
        hu = volume[:, ::-1, k].T.astype(np.int32)
        ds.PixelData = np.ascontiguousarray(hu + 1024, dtype="<u2").tobytes()
        ds.save_as(folder / f"IM{k:05d}.dcm", enforce_file_format=True)
    return folder


def best(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def ours(folder: Path, target: Path) -> tuple[Volume, dict[str, float]]:
    split: dict[str, float] = {}
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        datasets = [dcmread(path) for path in sorted(folder.iterdir()) if path.is_file()
                    and not path.name.startswith(".")]
    split["read"] = time.perf_counter() - started
    started = time.perf_counter()
    volume = convert_series(datasets)
    split["convert"] = time.perf_counter() - started
    started = time.perf_counter()
    write_volume(target, volume)
    split["write"] = time.perf_counter() - started
    return volume, split


def agree(volume: Volume, theirs: Path) -> str:
    image = nib.load(theirs)
    transform = ornt_transform(io_orientation(image.affine), io_orientation(volume.affine))
    stored = np.asanyarray(image.dataobj.get_unscaled()).astype(np.int32) + int(image.dataobj.inter)
    same = np.array_equal(apply_orientation(stored, transform), volume.data)
    return "identical voxels" if same else "VOXELS DIFFER"


def bench(name: str, folder: Path, dcm2niix: str, repeat: int, work: Path, baseline: Path | None) -> None:
    files = [path for path in folder.iterdir() if path.is_file() and not path.name.startswith(".")]
    megabytes = sum(path.stat().st_size for path in files) / 1e6
    out = work / "out"
    out.mkdir(exist_ok=True)

    def reference(level: list[str]) -> None:
        subprocess.run([dcm2niix, "-z", "y", *level, "-b", "n", "-x", "n", "-w", "1", "-f", "ref", "-o", str(out),
                        str(folder)], check=True, capture_output=True)

    ref6 = best(lambda: reference([]), repeat)
    size6 = (out / "ref.nii.gz").stat().st_size
    ref1 = best(lambda: reference(["-1"]), repeat)
    size1 = (out / "ref.nii.gz").stat().st_size
    target = out / "ours.nii.gz"
    splits = []
    for _ in range(repeat):
        volume, split = ours(folder, target)
        splits.append(split)
    fastest = min(splits, key=lambda s: sum(s.values()))
    mine = sum(fastest.values())
    whole = whole_command(folder, dcm2niix, repeat, work, baseline)
    reference([])
    verdict = agree(volume, out / "ref.nii.gz")
    print(f"{name}: {len(files)} files, {megabytes:.1f} MB, volume {volume.data.shape} -> {verdict}")
    print(f"  dcm2niix -z y (level 6)      {ref6:7.2f} s   {size6 / 1e6:7.1f} MB")
    print(f"  dcm2niix -z y -1 (level 1)   {ref1:7.2f} s   {size1 / 1e6:7.1f} MB")
    print(f"  curator read+convert+write   {mine:7.2f} s   {target.stat().st_size / 1e6:7.1f} MB   "
          f"(read {fastest['read']:.2f}, convert {fastest['convert']:.2f}, write {fastest['write']:.2f})")
    print(f"  ratio curator / dcm2niix:    {mine / ref6:.2f} (level 6)   {mine / ref1:.2f} (level 1)   "
          f"[median of {repeat} curator runs: {statistics.median(sum(s.values()) for s in splits):.2f} s]")
    print(f"  the whole command, {repeat} interleaved rounds, medians (load average {whole.pop('load')}):")
    peer = whole["dcm2niix -z y"]
    for label, (wall, cpu) in whole.items():
        print(f"    {label:28s} {wall:7.2f} s wall {cpu:6.2f} s CPU   = {wall / peer[0]:.2f}x dcm2niix wall, "
              f"{cpu / peer[1]:.2f}x CPU")


def _timed(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv`` (CPU from ``os.wait4``: the child and the children it reaped).
    ``cwd``: not a checkout (``python -m`` puts the working folder first on sys.path, before PYTHONPATH)."""
    started = time.perf_counter()
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd) as child:
        assert child.stderr is not None
        errors = child.stderr.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({child.returncode}): {errors.decode(errors='replace')[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def _digests(folder: Path) -> dict[str, str]:
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def whole_command(folder: Path, dcm2niix: str, repeat: int, work: Path,
                  baseline: Path | None) -> dict[str, tuple[float, float]]:
    """The whole ``curator ingest`` (start-up, input hashes, anonymisation, conversion, provenance) of each checkout
    against ``dcm2niix -z y``, interleaved rounds; medians of (wall, CPU) per command, and the load average."""
    here = Path(__file__).resolve().parents[1]
    checkouts = {"curator ingest --jobs 1": here, **({"baseline ingest --jobs 1": baseline} if baseline else {})}
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    environment["CURATOR_ANON_KEY"] = "benchmark-key-0123456789"
    runs = iter(range(10**6))

    def ingest(checkout: Path) -> tuple[Path, list[str], dict[str, str]]:
        env = {**environment, "PYTHONPATH": str(checkout.resolve()),
               "PYTHONPYCACHEPREFIX": str(work / f"pycache-{checkout.resolve().name}")}
        target = work / f"ingest-{next(runs)}"
        return target, [sys.executable, "-m", "curator", "ingest", str(folder), str(target), "--category", "CT-1",
                        "--jobs", "1", "--min-images", "2"], env

    outputs = {}
    for label, checkout in checkouts.items():   # untimed: compiles the bytecode, warms the page cache
        target, argv, env = ingest(checkout)
        _timed(argv, env, work)
        if len(list((target / "volumes").rglob("*.nii.gz"))) != 1:
            raise SystemExit(f"{label} made no volume of {folder}")
        outputs[label] = _digests(target)
    if baseline is not None and len(set(map(str, outputs.values()))) != 1:
        raise SystemExit("the two checkouts wrote different files: " + str(outputs))
    times: dict[str, list[tuple[float, float]]] = {"dcm2niix -z y": [], **{label: [] for label in checkouts}}
    loads = []
    for _ in range(repeat):
        times["dcm2niix -z y"].append(_timed([dcm2niix, "-z", "y", "-b", "n", "-x", "n", "-w", "1", "-f", "whole",
                                              "-o", str(work), str(folder)]))
        for label, checkout in checkouts.items():
            target, argv, env = ingest(checkout)
            times[label].append(_timed(argv, env, work))
            shutil.rmtree(target)
        loads.append(os.getloadavg()[0])
    medians: dict[str, Any] = {label: (statistics.median(w for w, _ in runs_), statistics.median(c for _, c in runs_))
                               for label, runs_ in times.items()}
    medians["load"] = f"{min(loads):.1f}-{max(loads):.1f}"
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", type=Path, help="series folders (default: the real P001)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--slices", type=int, default=300, help="slices of the synthetic series")
    parser.add_argument("--no-synthetic", action="store_true")
    parser.add_argument("--baseline", type=Path, help="another curator checkout whose whole command is timed too")
    args = parser.parse_args()
    dcm2niix = find_dcm2niix()
    folders = list(args.folders) or ([P001] if P001.is_dir() else [])
    if not folders and args.no_synthetic:   # nothing to measure: say so rather than print nothing
        raise SystemExit(f"the real series is not at {P001} (beside the checkout): give its folder")
    version = subprocess.run([dcm2niix, "--version"], capture_output=True, text=True).stdout.strip().splitlines()
    print(f"dcm2niix: {version[0] if version else '?'}")
    with tempfile.TemporaryDirectory(prefix="convert-bench-") as temporary:
        work = Path(temporary)
        for folder in folders:
            bench(folder.name, folder, dcm2niix, args.repeat, work, args.baseline)
        if not args.no_synthetic:
            started = time.perf_counter()
            folder = synthetic_series(work / "synthetic", args.slices)
            print(f"(synthetic series written in {time.perf_counter() - started:.1f} s)")
            bench(f"synthetic {args.slices} x 512x512 uncompressed", folder, dcm2niix, args.repeat, work,
                  args.baseline)


if __name__ == "__main__":
    main()
