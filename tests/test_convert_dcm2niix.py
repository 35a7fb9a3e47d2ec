"""Our conversion against dcm2niix on real CT series (../shared/realdata), voxel for voxel.

dcm2niix (PyPI ``dcm2niix``) runs with ``-z y -b n -x n -f out``: gzipped NIfTI, no JSON sidecar, no cropping.
Both volumes are compared in one voxel order: dcm2niix's image is reoriented to ours (it writes the same voxels
with the rows reversed, and says so in its affine). Where the two differ, the difference is explained at the
assertion and asserted exactly.
"""

from __future__ import annotations

import gzip
import math
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from nibabel.orientations import apply_orientation, inv_ornt_aff, io_orientation, ornt_transform
from pydicom import dcmread
from pydicom.dataset import Dataset

from curator.ingest.convert import ConversionError, Volume, convert_series, write_volume

pytestmark = [pytest.mark.realdata, pytest.mark.needs_tool("dcm2niix")]

P001 = "covid_ct_md_dicom/Sample data/COVID-19 subjects/P001"
TOTALSEG = "totalsegmentator_examples/example_ct_dicom"
GE_HEAD = "dcm_qa_ct_ge_head/In/GE"
TILTED = "dicom2nifti_ct_series/gantrytilting/001"
NOT_A_VOLUME = "dicom2nifti_ct_series/notavolume/001"
MISSING_1 = "dicom2nifti_ct_series/sliceincrement/001"
MISSING_2 = "dicom2nifti_ct_series/sliceincrement/002"
ENHANCED = "pydicom_ct_files/pydicom_data_1.0.0/eCT_Supplemental.dcm"
AFFINE_MM = 1e-3


def _find_dcm2niix() -> str | None:
    found = shutil.which("dcm2niix")
    if found:
        return found
    beside = Path(sys.executable).parent / "dcm2niix"  # the PyPI package installs it into the venv's bin
    return str(beside) if beside.is_file() else None


@pytest.fixture(scope="module")
def dcm2niix() -> str:
    found = _find_dcm2niix()
    if found is None:
        pytest.skip("dcm2niix is not installed (pip install dcm2niix)")
    return found


@pytest.fixture(scope="module")
def run(dcm2niix: str, realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict[str, Path]]:
    """dcm2niix on one series folder (or one file, copied alone into a folder): output name -> path, cached."""
    done: dict[str, dict[str, Path]] = {}

    def convert(rel: str) -> dict[str, Path]:
        if rel not in done:
            source = realdata / rel
            out = tmp_path_factory.mktemp("dcm2niix")
            if source.is_file():
                folder = tmp_path_factory.mktemp("single")
                shutil.copy2(source, folder / source.name)
                source = folder
            subprocess.run([dcm2niix, "-z", "y", "-b", "n", "-x", "n", "-f", "out", "-o", str(out), str(source)],
                           check=True, capture_output=True, text=True, timeout=120)
            done[rel] = {path.name.removesuffix(".nii.gz"): path for path in out.glob("*.nii.gz")}
        return done[rel]

    return convert


def read_series(path: Path) -> list[Dataset]:
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    datasets = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for file in files:
            if file.name.startswith(".") or file.suffix in (".txt", ".gz", ".json"):
                continue
            datasets.append(dcmread(file))
    return datasets


def theirs_in_our_order(path: Path, ours: Volume) -> tuple[np.ndarray, np.ndarray]:
    """dcm2niix's voxels (scaled to HU, int32) and affine, reoriented to our voxel axes."""
    image = nib.load(path)
    transform = ornt_transform(io_orientation(image.affine), io_orientation(ours.affine))
    stored = np.asanyarray(image.dataobj.get_unscaled())
    slope, intercept = float(image.dataobj.slope), float(image.dataobj.inter)
    assert slope == 1 and intercept.is_integer()  # dcm2niix keeps the stored integers and scales in the header
    hu = apply_orientation(stored.astype(np.int32) + int(intercept), transform)
    return hu, image.affine @ inv_ornt_aff(transform, stored.shape)


def slice_positions_lps(datasets: list[Dataset]) -> np.ndarray:
    orientation = np.array([float(v) for v in datasets[0].ImageOrientationPatient])
    normal = np.cross(orientation[:3], orientation[3:])
    positions = np.array([[float(v) for v in ds.ImagePositionPatient] for ds in datasets])
    return positions[np.argsort(positions @ normal)]


def to_ras(points: np.ndarray) -> np.ndarray:
    return points * np.array([-1.0, -1.0, 1.0])


def normal_ras(datasets: list[Dataset]) -> np.ndarray:
    orientation = np.array([float(v) for v in datasets[0].ImageOrientationPatient])
    return to_ras(np.cross(orientation[:3], orientation[3:]))


def test_p001_jpeg_lossless_matches_dcm2niix(realdata: Path, run: Callable[[str], dict[str, Path]],
                                             tmp_path: Path) -> None:
    ours = convert_series(read_series(realdata / P001))
    assert ours.data.shape == (512, 512, 148)
    assert ours.spacing == pytest.approx((0.748046875, 0.748046875, 2.0))
    assert any("JPEG Lossless" in note for note in ours.notes)
    theirs, affine = theirs_in_our_order(run(P001)["out"], ours)
    assert np.array_equal(theirs, ours.data)  # every voxel, in HU
    assert np.abs(affine - ours.affine).max() < AFFINE_MM
    # and what we write holds the same voxels after the 352-byte header, in NIfTI's order (i fastest)
    write_volume(tmp_path / "p001.nii.gz", ours)
    stream = gzip.decompress((tmp_path / "p001.nii.gz").read_bytes())
    assert stream[352:] == np.asarray(ours.data).tobytes(order="F")


def test_totalsegmentator_jpeg2000_matches_dcm2niix_and_its_mask(realdata: Path,
                                                                  run: Callable[[str], dict[str, Path]]) -> None:
    datasets = read_series(realdata / TOTALSEG)
    assert all(ds.SeriesInstanceUID == "" for ds in datasets)  # the anonymised files have empty UIDs
    ours = convert_series(datasets)
    assert ours.data.shape == (512, 512, 20)
    assert any("JPEG 2000" in note for note in ours.notes)
    theirs, affine = theirs_in_our_order(run(TOTALSEG)["out"], ours)
    assert np.array_equal(theirs, ours.data)
    assert np.abs(affine - ours.affine).max() < AFFINE_MM
    # the segmentation published with these images lies on our grid
    mask = nib.load(realdata / "totalsegmentator_examples/example_seg_dicom.nii.gz")
    mask = mask.as_reoriented(ornt_transform(io_orientation(mask.affine), io_orientation(ours.affine)))
    assert mask.shape == ours.data.shape
    assert np.abs(mask.affine - ours.affine).max() < AFFINE_MM


def test_enhanced_multiframe_ct_matches_dcm2niix(realdata: Path, run: Callable[[str], dict[str, Path]]) -> None:
    ours = convert_series(read_series(realdata / ENHANCED))
    assert ours.data.shape == (512, 512, 2)
    assert any("enhanced multi-frame: 2 frames" in note for note in ours.notes)
    theirs, affine = theirs_in_our_order(run(ENHANCED)["out"], ours)
    assert np.array_equal(theirs, ours.data)
    assert np.abs(affine - ours.affine).max() < AFFINE_MM


def test_gantry_tilt_kept_differs_from_dcm2niix_only_in_its_slice_step(
        realdata: Path, run: Callable[[str], dict[str, Path]]) -> None:
    datasets = read_series(realdata / TILTED)
    ours = convert_series(datasets, tilt="keep")
    assert ours.tilt_degrees == pytest.approx(14.0, abs=0.01)  # GantryDetectorTilt is absent; the positions tell
    theirs, affine = theirs_in_our_order(run(TILTED)["out"], ours)
    assert np.array_equal(theirs, ours.data)
    # our sheared sform puts slice k exactly at its ImagePositionPatient ...
    positions = to_ras(slice_positions_lps(datasets))
    for k, position in enumerate(positions):
        assert np.abs((ours.affine @ [0, 0, k, 1])[:3] - position).max() < AFFINE_MM
    # ... dcm2niix's un-corrected sform steps along the same line (z) but by the spacing along the normal, so its
    # column k is ours x cos(tilt) and its slice k lies k x 5 mm x (1 - cos 14 deg) = 0.15 k mm short of its place
    cos_tilt = math.cos(math.radians(ours.tilt_degrees))
    assert np.abs(affine[:3, 2] - ours.affine[:3, 2] * cos_tilt).max() < AFFINE_MM
    assert np.abs(affine[:3, [0, 1, 3]] - ours.affine[:3, [0, 1, 3]]).max() < AFFINE_MM


def test_gantry_tilt_resampled_matches_dcm2niix_tilt_output(realdata: Path,
                                                           run: Callable[[str], dict[str, Path]]) -> None:
    datasets = read_series(realdata / TILTED)
    ours = convert_series(datasets, tilt="resample")
    assert ours.data.shape == (512, 521, 4)
    theirs, affine = theirs_in_our_order(run(TILTED)["out_Tilt_1"], ours)
    assert theirs.shape == ours.data.shape
    assert np.abs(affine - ours.affine).max() < AFFINE_MM  # the same orthogonal grid
    # Same voxels, except one row per moved slice: the output row that samples less than one pixel before the
    # image's first DICOM row. dcm2niix (which works on row-reversed data and clamps at that end) repeats the
    # first row there; we write padding, as for every other position outside the image.
    differ = theirs != ours.data
    rows_per_slice = [sorted(set(np.nonzero(differ[:, :, k])[1].tolist())) for k in range(4)]
    normal_step = ours.spacing[2]
    shift_rows = [k * normal_step * math.tan(math.radians(ours.tilt_degrees)) / ours.spacing[1] for k in range(4)]
    low = math.ceil(max(shift_rows) - 1e-4)
    expected = [[] if shift == 0 else [low - math.ceil(shift)] for shift in shift_rows]
    assert rows_per_slice == expected  # slices 1-3 move by 2.89, 5.79, 8.68 rows: rows 6, 3 and 0
    unmoved = convert_series(datasets, tilt="keep").data
    padding = int(unmoved.min())  # no PixelPaddingValue: the darkest value, as dcm2niix
    for k, rows in enumerate(rows_per_slice):
        for row in rows:
            assert (ours.data[:, row, k] == padding).all()
            assert np.array_equal(theirs[:, row, k], unmoved[:, 0, k])  # dcm2niix: the first row, repeated


def test_ge_head_uneven_spacing_is_refused_by_default(realdata: Path) -> None:
    with pytest.raises(ConversionError, match=r"unevenly spaced: steps 13 x 4.0, 1 x 1.08, 13 x 7.0 mm"):
        convert_series(read_series(realdata / GE_HEAD))


def test_ge_head_kept_matches_dcm2niix_voxels_with_an_honest_step(realdata: Path,
                                                                  run: Callable[[str], dict[str, Path]]) -> None:
    datasets = read_series(realdata / GE_HEAD)
    ours = convert_series(datasets, uneven="keep", tilt="keep")
    assert ours.tilt_degrees == pytest.approx(18.5, abs=0.01)
    theirs, affine = theirs_in_our_order(run(GE_HEAD)["out"], ours)
    assert np.array_equal(theirs, ours.data)
    positions = to_ras(slice_positions_lps(datasets))
    # ours: column k is the mean step, so the first and the last slice sit exactly at their positions
    assert np.abs(ours.affine[:3, 2] - (positions[-1] - positions[0]) / 27).max() < AFFINE_MM
    # dcm2niix: column k is the first step's direction scaled by the first spacing along the normal (4.0019 mm),
    # right for the first 4 mm slices only (it warns "Interslice distance varies")
    first = positions[1] - positions[0]
    normal_first = float(first @ normal_ras(datasets))
    assert normal_first == pytest.approx(4.0019, abs=1e-4)
    assert np.abs(affine[:3, 2] - first / np.linalg.norm(first) * normal_first).max() < AFFINE_MM
    assert np.abs(affine[:3, [0, 1, 3]] - ours.affine[:3, [0, 1, 3]]).max() < AFFINE_MM


def test_ge_head_resampled_matches_dcm2niix_tilt_eq_output(realdata: Path,
                                                          run: Callable[[str], dict[str, Path]]) -> None:
    reference = nib.load(run(GE_HEAD)["out_Tilt_Eq_1"])
    # dcm2niix's _Eq step is the smallest step (1.08 mm), capped at twice the slice count: 56 slices over the
    # 144.09 mm stack; ask for the same step (by default we keep the series' nominal 4.0 mm step: 37 slices)
    step = float(reference.header.get_zooms()[2])
    datasets = read_series(realdata / GE_HEAD)
    ours = convert_series(datasets, uneven="resample", tilt="resample", resample_step_mm=step)
    assert ours.data.shape == (512, 611, 56)
    theirs, affine = theirs_in_our_order(run(GE_HEAD)["out_Tilt_Eq_1"], ours)
    assert np.abs(affine - ours.affine).max() < AFFINE_MM
    # Both interpolate linearly, in-plane then along the normal, rounding after each pass (PixelPaddingValue
    # -1500 pads, nearest-neighbour next to padding). dcm2niix computes the weights in float32, we in float64:
    # where a value lands within float32 error of .5, the two round to neighbouring integers.
    difference = np.abs(theirs - ours.data.astype(np.int32))
    assert difference.max() <= 1
    assert np.count_nonzero(difference) / difference.size < 1e-3
    default = convert_series(datasets, uneven="resample", tilt="resample")
    assert default.data.shape[2] == 37 and default.spacing[2] == pytest.approx(4.0024, abs=1e-4)


def test_not_a_volume_is_refused(realdata: Path, run: Callable[[str], dict[str, Path]]) -> None:
    with pytest.raises(ConversionError, match=r"all 4 images lie at one position \(z = 61.5 mm.*not a volume"):
        convert_series(read_series(realdata / NOT_A_VOLUME))
    # dcm2niix warns "all images appear to be a single slice" and writes them as a 4-D series of one slice
    assert nib.load(run(NOT_A_VOLUME)["out"]).shape == (512, 512, 1, 4)


def test_missing_slice_is_refused_where_dcm2niix_interpolates(realdata: Path,
                                                               run: Callable[[str], dict[str, Path]]) -> None:
    datasets = read_series(realdata / MISSING_1)
    with pytest.raises(ConversionError, match=r"missing slice between z = 28.11 and 38.11 mm \(gap 10.0 mm where "
                                              r"the series steps by 5.0 mm"):
        convert_series(datasets, uneven="resample")
    outputs = run(MISSING_1)
    # dcm2niix writes the 4 slices 5 mm apart, which draws the last (z = 38.11) at z = 33.11 ...
    plain = nib.load(outputs["out"])
    assert plain.shape == (512, 512, 4)
    assert (plain.affine @ [0, 0, 3, 1])[2] == pytest.approx(33.11, abs=0.01)
    # ... and an _Eq file that fills the gap with interpolated slices
    assert nib.load(outputs["out_Eq_1"]).shape[2] > 4


def test_tilted_series_with_a_missing_slice_is_refused(realdata: Path,
                                                       run: Callable[[str], dict[str, Path]]) -> None:
    with pytest.raises(ConversionError, match=r"missing slice between z = -51.14 and -49.58 mm"):
        convert_series(read_series(realdata / MISSING_2), tilt="resample", uneven="resample")
    # dcm2niix (like dicom2nifti's ground truth in the same folder) makes 5 slices of the 4 images
    assert nib.load(run(MISSING_2)["out_Tilt_Eq_1"]).shape == (512, 514, 5)
