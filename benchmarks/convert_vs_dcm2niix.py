"""Speed of curator's DICOM -> NIfTI conversion against dcm2niix on the same series, in one run.

For each series (best of --repeat, warm files):
  * ``dcm2niix -z y -b n -x n`` (gzip level 6, its default; pigz when installed) and ``dcm2niix -z y -1`` (level 1);
  * curator: ``pydicom.dcmread`` of every file + ``convert_series`` + ``write_volume`` (ISA-L gzip), one core,
    with the time split into read / convert (decode, HU, geometry) / write.
The ratio is curator / dcm2niix (level 6): below 1 curator is faster. After timing, both outputs are compared
voxel for voxel (reoriented to one voxel order) so the figures are for the same result.

Series: the real COVID-CT-MD P001 (148 slices 512x512, JPEG lossless) beside the checkout, and a synthetic one
(default 300 slices 512x512, uncompressed, a chest phantom from curator.phantom) written to a temporary folder.

    python benchmarks/convert_vs_dcm2niix.py [--repeat 3] [--slices 300] [--no-synthetic] [FOLDER ...]
"""

from __future__ import annotations

import argparse
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


def bench(name: str, folder: Path, dcm2niix: str, repeat: int, work: Path) -> None:
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
    runs = iter(range(repeat))

    def ingest() -> None:   # the whole command: read, hash, select, anonymise each image, convert, write, record
        target_folder = work / f"ingest-{next(runs)}"
        subprocess.run([sys.executable, "-m", "curator", "ingest", str(folder), str(target_folder), "--category",
                        "CT-1", "--jobs", "1", "--min-images", "2"], check=True, capture_output=True,
                       env={**os.environ, "CURATOR_ANON_KEY": "benchmark-key-0123456789"})
        if len(list((target_folder / "volumes").rglob("*.nii.gz"))) != 1:
            raise SystemExit(f"curator ingest made no volume of {folder}")

    whole = best(ingest, repeat)
    reference([])
    verdict = agree(volume, out / "ref.nii.gz")
    print(f"{name}: {len(files)} files, {megabytes:.1f} MB, volume {volume.data.shape} -> {verdict}")
    print(f"  dcm2niix -z y (level 6)      {ref6:7.2f} s   {size6 / 1e6:7.1f} MB")
    print(f"  dcm2niix -z y -1 (level 1)   {ref1:7.2f} s   {size1 / 1e6:7.1f} MB")
    print(f"  curator read+convert+write   {mine:7.2f} s   {target.stat().st_size / 1e6:7.1f} MB   "
          f"(read {fastest['read']:.2f}, convert {fastest['convert']:.2f}, write {fastest['write']:.2f})")
    print(f"  ratio curator / dcm2niix:    {mine / ref6:.2f} (level 6)   {mine / ref1:.2f} (level 1)   "
          f"[median of {repeat} curator runs: {statistics.median(sum(s.values()) for s in splits):.2f} s]")
    print(f"  curator ingest --jobs 1      {whole:7.2f} s   (the command: start-up, input hashes, anonymisation, "
          f"provenance) = {whole / ref6:.2f} x dcm2niix (level 6)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", type=Path, help="series folders (default: the real P001)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--slices", type=int, default=300, help="slices of the synthetic series")
    parser.add_argument("--no-synthetic", action="store_true")
    args = parser.parse_args()
    dcm2niix = find_dcm2niix()
    folders = list(args.folders) or ([P001] if P001.is_dir() else [])
    version = subprocess.run([dcm2niix, "--version"], capture_output=True, text=True).stdout.strip().splitlines()
    print(f"dcm2niix: {version[0] if version else '?'}")
    with tempfile.TemporaryDirectory(prefix="convert-bench-") as temporary:
        work = Path(temporary)
        for folder in folders:
            bench(folder.name, folder, dcm2niix, args.repeat, work)
        if not args.no_synthetic:
            started = time.perf_counter()
            folder = synthetic_series(work / "synthetic", args.slices)
            print(f"(synthetic series written in {time.perf_counter() - started:.1f} s)")
            bench(f"synthetic {args.slices} x 512x512 uncompressed", folder, dcm2niix, args.repeat, work)


if __name__ == "__main__":
    main()
