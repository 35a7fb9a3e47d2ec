"""curator.ingest.convert on tiny synthetic series: geometry, ordering, HU, refusals, tilt, uneven spacing, writing."""

from __future__ import annotations

import gzip
import io
import random
import struct
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.uid import JPEG2000Lossless, JPEGBaseline8Bit, JPEGLosslessSV1, JPEGLSLossless, RLELossless

from curator.ingest import convert_pixels
from curator.ingest.convert import ConversionError, Volume, convert_series, write_volume
from tests.convert_factories import (
    AXIAL,
    CORONAL,
    SAGITTAL,
    enhanced_ct,
    expected_hu,
    series,
    tilted_series,
    world_lps,
)
from tests.memory import traced

OBLIQUE = (float(np.cos(0.5)), float(np.sin(0.5)), 0.0, float(-np.sin(0.5) * np.cos(0.3)),
           float(np.cos(0.5) * np.cos(0.3)), float(np.sin(0.3)))
REVERSED = (-1.0, 0.0, 0.0, 0.0, 1.0, 0.0)  # normal (0, 0, -1), like the real enhanced CT in pydicom's test files


def ras(lps: np.ndarray) -> np.ndarray:
    return np.array([-lps[0], -lps[1], lps[2]])


def world(volume: Volume, i: float, j: float, k: float) -> np.ndarray:
    return (volume.affine @ np.array([i, j, k, 1.0]))[:3]


def assert_places_every_voxel(volume: Volume, datasets: list[Dataset], shift_rows: list[int] | None = None) -> None:
    """Voxel (i, j + shift, k) lies where pixel (column i, row j) of the k-th slice along the stack lies."""
    rows, columns = int(datasets[0].Rows), int(datasets[0].Columns)
    for k, ds in enumerate(datasets):
        shift = shift_rows[k] if shift_rows else 0
        for i, j in ((0, 0), (columns - 1, 0), (0, rows - 1), (columns - 1, rows - 1), (2, 1)):
            np.testing.assert_allclose(world(volume, i, j + shift, k), ras(world_lps(ds, i, j)), atol=1e-9)


# --- geometry and order --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("orientation", [AXIAL, CORONAL, SAGITTAL, OBLIQUE, REVERSED],
                         ids=["axial", "coronal", "sagittal", "oblique", "reversed-normal"])
def test_affine_places_each_voxel_at_its_dicom_position(orientation: tuple[float, ...]) -> None:
    datasets = series(count=4, step=2.5, orientation=orientation, spacing=(0.7, 0.8))
    volume = convert_series(datasets)
    assert volume.data.dtype == np.int16
    assert volume.data.shape == (6, 4, 4)  # (columns, rows, slices)
    assert volume.spacing == pytest.approx((0.8, 0.7, 2.5))  # (column mm, row mm, slice mm)
    assert volume.tilt_degrees == 0.0
    assert_places_every_voxel(volume, datasets)
    for k in range(4):  # i = columns, j = rows: the DICOM slice transposed
        np.testing.assert_array_equal(volume.data[:, :, k], expected_hu(k, 4, 6).T)
    assert np.linalg.det(volume.affine[:3, :3]) > 0  # k runs along row x column, a right-handed frame


def test_axial_affine_is_lps_flipped_to_ras() -> None:
    volume = convert_series(series(count=3, step=2.0, spacing=(0.5, 0.5)))
    expected = np.array([[-0.5, 0, 0, 100.0], [0, -0.5, 0, 120.0], [0, 0, 2.0, 0.0], [0, 0, 0, 1]])
    np.testing.assert_allclose(volume.affine, expected, atol=1e-12)
    assert nib.aff2axcodes(volume.affine) == ("L", "P", "S")  # DICOM columns run to the left, rows to the back


def test_shuffled_input_gives_the_same_volume() -> None:
    datasets = series(count=7, step=1.25, orientation=OBLIQUE)
    reference = convert_series(datasets)
    shuffled = list(datasets)
    random.Random(7).shuffle(shuffled)
    for position, ds in enumerate(shuffled):  # instance numbers no longer follow the stack either
        ds.InstanceNumber = 100 - position
    again = convert_series(shuffled)
    np.testing.assert_array_equal(again.data, reference.data)
    np.testing.assert_array_equal(again.affine, reference.affine)


def test_reversed_file_order_is_sorted_along_the_normal() -> None:
    datasets = series(count=5, step=2.0)
    volume = convert_series(list(reversed(datasets)))
    assert world(volume, 0, 0, 1)[2] - world(volume, 0, 0, 0)[2] == pytest.approx(2.0)
    np.testing.assert_array_equal(volume.data[:, :, 0], expected_hu(0, 4, 6).T)


def test_every_tenth_image_gives_ten_times_the_spacing() -> None:
    full = series(count=41, step=0.8)
    volume = convert_series(full[::10])
    assert volume.data.shape[2] == 5
    assert volume.spacing[2] == pytest.approx(8.0)
    np.testing.assert_allclose(volume.affine[:3, 2], [0, 0, 8.0], atol=1e-9)
    assert_places_every_voxel(volume, full[::10])


# --- values --------------------------------------------------------------------------------------------------------

def test_rescale_intercept_gives_hu() -> None:
    volume = convert_series(series(count=3))
    assert int(volume.data.min()) == 0 and int(volume.data.max()) == 200 + 35
    assert "HU = stored x 1 + -1024" in volume.notes


def test_integer_slope_is_applied() -> None:
    volume = convert_series(series(count=3, per_slice={i: {"RescaleSlope": 2} for i in range(3)}))
    np.testing.assert_array_equal(volume.data[:, :, 1], ((expected_hu(1, 4, 6) + 1024) * 2 - 1024).T)


def test_each_slice_gets_its_own_intercept() -> None:
    volume = convert_series(series(count=4, per_slice={2: {"RescaleIntercept": -1000}}))
    np.testing.assert_array_equal(volume.data[:, :, 1], expected_hu(1, 4, 6).T)
    np.testing.assert_array_equal(volume.data[:, :, 2], (expected_hu(2, 4, 6) + 24).T)
    assert any("intercept -1024..-1000" in note and "each slice's own" in note for note in volume.notes)


def test_fractional_hu_is_refused() -> None:
    with pytest.raises(ConversionError, match="not whole HU"):
        convert_series(series(count=3, per_slice={1: {"RescaleSlope": 0.5}}))


def test_hu_outside_int16_is_refused() -> None:
    with pytest.raises(ConversionError, match="do not fit int16"):
        convert_series(series(count=3, per_slice={0: {"RescaleIntercept": 40000}}))


def test_no_rescale_takes_stored_values() -> None:
    datasets = series(count=2)
    for ds in datasets:
        del ds.RescaleIntercept, ds.RescaleSlope
    volume = convert_series(datasets)
    np.testing.assert_array_equal(volume.data[:, :, 0], (expected_hu(0, 4, 6) + 1024).T)
    assert any("taken as HU" in note for note in volume.notes)


# --- refusals ------------------------------------------------------------------------------------------------------

def test_missing_slice_is_refused_with_its_positions() -> None:
    for uneven in ("refuse", "keep", "resample"):
        with pytest.raises(ConversionError) as caught:
            convert_series(series([0.0, 2.5, 5.0, 10.0, 12.5]), uneven=uneven)  # type: ignore[arg-type]
        message = str(caught.value)
        assert "missing slice between z = 5.0 and 10.0 mm (gap 5.0 mm where the series steps by 2.5 mm" in message
        assert "between instance 3 and instance 4" in message


def test_duplicate_position_is_refused() -> None:
    with pytest.raises(ConversionError, match=r"instance 2 and instance 3 both lie at z = 2.5 mm"):
        convert_series(series([0.0, 2.5, 2.5, 5.0]))


def test_one_position_is_not_a_volume() -> None:
    with pytest.raises(ConversionError, match=r"all 3 images lie at one position .* not a volume"):
        convert_series(series([0.0, 0.0, 0.0]))


@pytest.mark.parametrize(("change", "expected"), [
    ({"Rows": 5}, "instance 3 is 5 rows x 6 columns where instance 1 is 4 x 6"),
    ({"Columns": 7}, "instance 3 is 4 rows x 7 columns"),
    ({"ImageOrientationPatient": list(CORONAL)}, "instance 3 has ImageOrientationPatient"),
    ({"PixelSpacing": [0.7, 0.9]}, r"instance 3 has PixelSpacing \(0.7, 0.9\) mm where instance 1 has \(0.7, 0.8\)"),
])
def test_inconsistent_geometry_names_the_first_odd_instance(change: dict[str, object], expected: str) -> None:
    with pytest.raises(ConversionError, match=expected):
        convert_series(series(count=4, per_slice={2: change}))


def test_missing_position_is_refused() -> None:
    datasets = series(count=3)
    del datasets[1].ImagePositionPatient
    with pytest.raises(ConversionError, match="instance 2 has no ImagePositionPatient"):
        convert_series(datasets)


@pytest.mark.parametrize("datasets", [[], "one"], ids=["empty", "single"])
def test_fewer_than_two_images_are_refused(datasets: object) -> None:
    items = series(count=1) if datasets == "one" else []
    with pytest.raises(ConversionError, match="at least two slices"):
        convert_series(items)


def test_not_a_dataset_is_refused() -> None:
    with pytest.raises(ConversionError, match="item 2 of the series is a str"):
        convert_series([series(count=1)[0], "file.dcm"])  # type: ignore[list-item]


def test_truncated_pixel_data_is_refused() -> None:
    datasets = series(count=3)
    datasets[1].PixelData = datasets[1].PixelData[:10]
    with pytest.raises(ConversionError, match="instance 2: the pixel data cannot be decoded"):
        convert_series(datasets)


def test_missing_decoder_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(convert_pixels, "missing_decoder", lambda syntax: ("pylibjpeg-libjpeg (required for JPEG)",))
    with pytest.raises(ConversionError, match=r"no installed decoder can read it\. Install: pylibjpeg-libjpeg"):
        convert_series(series(count=2))


def test_colour_image_is_refused() -> None:
    datasets = series(count=2, per_slice={1: {"SamplesPerPixel": 3}})
    with pytest.raises(ConversionError, match="instance 2 is a colour image"):
        convert_series(datasets)


def test_bad_options_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="uneven"):
        convert_series(series(count=2), uneven="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tilt"):
        convert_series(series(count=2), tilt="straighten")  # type: ignore[arg-type]


# --- compressed and multi-frame ------------------------------------------------------------------------------------

def test_compressed_pixel_data_decode_to_the_same_volume() -> None:
    plain = series(count=3)
    packed = series(count=3)
    for ds in packed:
        ds.compress(RLELossless)
    reference, volume = convert_series(plain), convert_series(packed)
    np.testing.assert_array_equal(volume.data, reference.data)
    assert any("RLE Lossless" in note and "decoded" in note for note in volume.notes)


def test_enhanced_multiframe_frames_are_placed_by_their_own_positions() -> None:
    ds = enhanced_ct([5.0, 0.0, 10.0, 2.5, 7.5], orientation=REVERSED)
    volume = convert_series([ds])
    assert volume.data.shape == (6, 4, 5)
    assert volume.spacing == pytest.approx((0.8, 0.7, 2.5))
    for k in range(5):
        np.testing.assert_array_equal(volume.data[:, :, k], expected_hu(k, 4, 6).T)
    # frame at offset 0 along the normal (0, 0, -1) is slice 0; slices step towards -z (inferior)
    np.testing.assert_allclose(world(volume, 0, 0, 0), ras(np.array([-100.0, -120.0, 0.0])), atol=1e-9)
    np.testing.assert_allclose(volume.affine[:3, 2], [0, 0, -2.5], atol=1e-9)
    assert any("enhanced multi-frame: 5 frames of 1 object" in note for note in volume.notes)


def test_enhanced_multiframe_per_frame_rescale() -> None:
    volume = convert_series([enhanced_ct([2.0, 0.0, 4.0], intercepts=[-1024, -1000, -1024])])
    np.testing.assert_array_equal(volume.data[:, :, 0], (expected_hu(0, 4, 6) + 24).T)
    np.testing.assert_array_equal(volume.data[:, :, 1], expected_hu(1, 4, 6).T)


def test_multiframe_without_frame_positions_is_refused() -> None:
    ds = enhanced_ct([0.0, 2.0])
    del ds.PerFrameFunctionalGroupsSequence
    with pytest.raises(ConversionError, match="2 frames but no PerFrameFunctionalGroupsSequence"):
        convert_series([ds])


# --- compressed frames are checked against the header before anything is decoded --------------------------------

def _first_frame(ds: Dataset) -> bytes:
    return next(generate_frames(ds.PixelData, number_of_frames=1))


def _jpeg_ls(ds: Dataset) -> bytes:
    pytest.importorskip("jpeg_ls")
    ds.compress(JPEGLSLossless, encoding_plugin="pyjpegls")
    return _first_frame(ds)


def _jpeg_2000(ds: Dataset) -> bytes:
    ds.compress(JPEG2000Lossless)
    return _first_frame(ds)


def _jpeg_baseline(ds: Dataset) -> bytes:
    """An 8-bit baseline JPEG (Pillow) of the slice's low bytes, as the frame of a JPEG Baseline dataset."""
    pixels = (ds.pixel_array % 256).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="JPEG", quality=95)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    _encapsulated(ds, JPEGBaseline8Bit, buffer.getvalue())
    return buffer.getvalue()


def _encapsulated(ds: Dataset, syntax: str, frame: bytes) -> None:
    ds.file_meta.TransferSyntaxUID = syntax
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    ds.PhotometricInterpretation = "MONOCHROME2"


def _patched(frame: bytes, at: int, height: int, width: int, size: str = ">HH") -> bytes:
    data = bytearray(frame)
    data[at:at + struct.calcsize(size)] = struct.pack(size, height, width)
    return bytes(data)


def _sof_dimensions(frame: bytes, height: int, width: int) -> bytes:
    """``frame`` with the height and width of its JPEG / JPEG-LS frame header replaced."""
    at = min(i for i in (frame.find(b"\xff\xc0"), frame.find(b"\xff\xf7")) if i >= 0)
    return _patched(frame, at + 5, height, width)


def _siz_dimensions(frame: bytes, height: int, width: int) -> bytes:
    """``frame`` with the JPEG 2000 SIZ reference grid (Xsiz, Ysiz; no offsets here) replaced."""
    return _patched(frame, 8, width, height, ">II")


def _peak_refusal(datasets: list[Dataset], match: str) -> int:
    with traced() as memory, pytest.raises(ConversionError, match=match):
        convert_series(datasets)
    return memory.peak


Encoder = Callable[[Dataset], bytes]


@pytest.mark.parametrize(("encode", "syntax", "resize"), [
    (_jpeg_ls, JPEGLSLossless, _sof_dimensions),
    (_jpeg_2000, JPEG2000Lossless, _siz_dimensions),
    (_jpeg_baseline, JPEGBaseline8Bit, _sof_dimensions),
], ids=["jpeg-ls", "jpeg-2000", "jpeg-baseline"])
def test_a_codestream_that_disagrees_with_rows_and_columns_is_refused_before_decoding(
        encode: Encoder, syntax: str, resize: Callable[[bytes, int, int], bytes]) -> None:
    datasets = series(count=2, rows=32, columns=40)   # openjpeg wants 32 x 32 or more
    for ds in datasets:
        _encapsulated(ds, syntax, resize(encode(ds), 30000, 30000))
    peak = _peak_refusal(datasets, r"instance 1: the JPEG (2000 SIZ segment|frame header) says 30000 x 30000 pixels "
                                   r"where Rows x Columns is 32 x 40\. Refused before decoding")
    assert peak < 1 << 20


@pytest.mark.parametrize("encode", [_jpeg_ls, _jpeg_2000, _jpeg_baseline],
                         ids=["jpeg-ls", "jpeg-2000", "jpeg-baseline"])
def test_well_formed_codestreams_pass_the_checks(encode: Encoder) -> None:
    plain = series(count=3, rows=32, columns=40)
    packed = series(count=3, rows=32, columns=40)
    for ds in packed:
        encode(ds)
    volume = convert_series(packed)
    assert volume.data.shape == (40, 32, 3)
    if encode is not _jpeg_baseline:  # lossless
        np.testing.assert_array_equal(volume.data, convert_series(plain).data)


def test_an_rle_frame_too_short_for_rows_and_columns_is_refused_before_allocating() -> None:
    datasets = series(count=2)
    for ds in datasets:
        ds.compress(RLELossless)
        ds.Rows = ds.Columns = 8000     # 128 MB of 16-bit pixels from a few hundred bytes
    peak = _peak_refusal(datasets, r"instance 1: RLE segment 1 is \d+ bytes, which decode to at most \d+ bytes \(64 "
                                   r"per byte\), but Rows x Columns is 8000 x 8000 = 64000000")
    assert peak < 1 << 20


def test_an_rle_frame_with_the_wrong_segments_is_refused() -> None:
    datasets = series(count=2)
    for ds in datasets:
        ds.compress(RLELossless)
        frame = bytearray(_first_frame(ds))
        frame[0:4] = struct.pack("<I", 1)
        _encapsulated(ds, RLELossless, bytes(frame))
    with pytest.raises(ConversionError, match="the RLE header gives 1 segments where BitsAllocated 16 needs 2"):
        convert_series(datasets)


def test_a_jpeg_frame_cut_inside_its_scan_is_refused_before_decoding() -> None:
    """Before: the converter's walker let a frame without EOI through and the decoder filled the missing part of the
    image, so ingest wrote a volume with made-up pixels."""
    datasets = series(count=2, rows=32, columns=40)
    for ds in datasets:
        frame = _jpeg_baseline(ds)
        _encapsulated(ds, JPEGBaseline8Bit, frame[:frame.index(b"\xff\xda") + 40])
    with pytest.raises(ConversionError, match=r"instance 1: the JPEG scan data from byte \d+ runs to the end of the "
                                              r"codestream without an end-of-image marker \(truncated\)"):
        convert_series(datasets)


@pytest.mark.parametrize(("marker", "needs"), [(0xC0, r"4096 bytes at two bits per 8 x 8 block"),
                                               (0xC3, r"131072 bytes at one bit per pixel")],
                         ids=["baseline", "lossless"])
def test_a_huffman_jpeg_too_small_for_its_pixels_is_refused(marker: int, needs: str) -> None:
    """Huffman coding has a floor per pixel, so a codestream of a few hundred bytes cannot hold 1024 x 1024."""
    datasets = series(count=2)
    for ds in datasets:
        frame = bytearray(_sof_dimensions(_jpeg_baseline(ds), 1024, 1024))
        frame[frame.find(b"\xff\xc0") + 1] = marker
        _encapsulated(ds, JPEGLosslessSV1 if marker == 0xC3 else JPEGBaseline8Bit, bytes(frame))
        ds.Rows = ds.Columns = 1024
    _peak_refusal(datasets, rf"instance 1: the JPEG codestream is \d+ bytes, but Rows x Columns 1024 x 1024 needs at "
                            rf"least {needs}")


def test_codings_without_a_floor_are_capped_per_frame() -> None:
    datasets = series(count=2)
    for ds in datasets:
        _encapsulated(ds, JPEGLSLossless, _sof_dimensions(_jpeg_ls(ds), 5000, 5000))
        ds.Rows = ds.Columns = 5000
    _peak_refusal(datasets, r"Rows x Columns is 5000 x 5000; JPEG-LS coding can describe any number of pixels in a few "
                            r"bytes, so frames are decoded up to 16777216 pixels \(4096 x 4096\) only")


def test_a_jpeg_2000_tiling_larger_than_its_codestream_is_refused() -> None:
    datasets = series(count=2, rows=64, columns=64)
    for ds in datasets:
        frame = _patched(_jpeg_2000(ds), 24, 1, 1, ">II")     # XTsiz = YTsiz = 1: 4096 tiles
        _encapsulated(ds, JPEG2000Lossless, frame)
    _peak_refusal(datasets, r"the JPEG 2000 SIZ segment divides the image into 4096 tiles, but the \d+-byte "
                            r"codestream has room for at most \d+")


def test_a_fractional_number_of_frames_is_refused_not_truncated() -> None:
    """Before: int() truncated the IS value 1.5 to one frame, and the decoder failed on the pixel data's size."""
    datasets = series(count=2)
    datasets[0].NumberOfFrames = "1.5"
    with pytest.raises(ConversionError, match=r"^instance 1: NumberOfFrames '1\.5' is not a whole number\.$"):
        convert_series(datasets)


def test_an_absurd_number_of_frames_is_named_in_the_refusal() -> None:
    datasets = series(count=2)
    datasets[0].NumberOfFrames = 1_000_000_000
    with pytest.raises(ConversionError, match=r"instance 1: Rows 4 x Columns 6 x NumberOfFrames 1000000000 x 2 bytes "
                                              r"is 48000000000 bytes of pixels, more than the 1 GiB allowed"):
        convert_series(datasets)


@pytest.mark.realdata
@pytest.mark.parametrize("number", range(4, 10))
def test_real_compressed_files_pass_the_checks_and_decode_like_the_uncompressed_one(realdata: Path,
                                                                                    number: int) -> None:
    """dcm_qa_ts: one image saved in every lossless transfer syntax (RLE, JPEG lossless, JPEG-LS, JPEG 2000)."""
    folder = realdata / "dcm_qa_ts_transfer_syntaxes" / "In"

    def two_slices(path: Path) -> list[Dataset]:
        first, second = dcmread(path), dcmread(path)
        normal = np.cross(*np.reshape(np.array(first.ImageOrientationPatient, dtype=float), (2, 3)))
        second.ImagePositionPatient = (np.array(first.ImagePositionPatient, dtype=float) + 2 * normal).tolist()
        return [first, second]

    volume = convert_series(two_slices(folder / f"{number}.dcm"))
    assert any("decoded with pydicom" in note for note in volume.notes)
    np.testing.assert_array_equal(volume.data, convert_series(two_slices(folder / "1.dcm")).data)


# --- uneven spacing ------------------------------------------------------------------------------------------------

UNEVEN = [0.0, 2.0, 4.0, 6.0, 9.0, 12.0]  # 3 steps of 2 mm, then 2 of 3 mm: not a missing slice


def test_uneven_spacing_is_refused_by_default() -> None:
    with pytest.raises(ConversionError) as caught:
        convert_series(series(UNEVEN))
    message = str(caught.value)
    assert "unevenly spaced: steps 3 x 2.0, 2 x 3.0 mm along the slice normal" in message
    assert "first change between z = 6.0 and 9.0 mm, instance 4 -> instance 5" in message
    assert "--uneven keep|resample" in message and "'keep'" in message and "'resample'" in message


def test_uneven_keep_uses_the_mean_step() -> None:
    volume = convert_series(series(UNEVEN), uneven="keep")
    assert volume.data.shape[2] == 6
    assert volume.spacing[2] == pytest.approx(2.4)
    np.testing.assert_allclose(volume.affine[:3, 2], [0, 0, 2.4], atol=1e-9)
    np.testing.assert_array_equal(volume.data[:, :, 4], expected_hu(4, 4, 6).T)  # slices untouched
    assert any("uneven slice spacing kept" in note and "mean step 2.4000 mm" in note and "up to 1.20 mm" in note
               for note in volume.notes)


def test_uneven_resample_interpolates_to_the_nominal_step() -> None:
    volume = convert_series(series(UNEVEN), uneven="resample")
    assert volume.data.shape[2] == 7  # 0, 2, ..., 12 mm
    assert volume.spacing[2] == pytest.approx(2.0)
    np.testing.assert_allclose(volume.affine[:3, 2], [0, 0, 2.0], atol=1e-9)
    hu = [expected_hu(k, 4, 6).T for k in range(6)]
    np.testing.assert_array_equal(volume.data[:, :, 3], hu[3])              # 6 mm: an original slice
    np.testing.assert_array_equal(volume.data[:, :, 4], hu[3] + 67)         # 8 mm: 1/3 of 6 mm + 2/3 of 9 mm
    np.testing.assert_array_equal(volume.data[:, :, 5], hu[4] + 33)         # 10 mm: 2/3 of 9 mm + 1/3 of 12 mm
    np.testing.assert_array_equal(volume.data[:, :, 6], hu[5])              # the last slice is kept
    assert any("6 slices interpolated linearly along the normal to 7 slices 2.0000 mm apart" in note
               for note in volume.notes)


def test_uneven_resample_to_a_chosen_step() -> None:
    volume = convert_series(series(UNEVEN), uneven="resample", resample_step_mm=4.1)
    assert volume.data.shape[2] == 4  # 12 mm in 3 steps of 4 mm, the nearest even division
    assert volume.spacing[2] == pytest.approx(4.0)


# --- gantry tilt ---------------------------------------------------------------------------------------------------

def test_tilt_keep_writes_a_sheared_affine_that_places_every_slice() -> None:
    datasets = tilted_series()
    volume = convert_series(datasets, tilt="keep")
    assert volume.tilt_degrees == pytest.approx(30.0)
    assert volume.data.shape == (5, 6, 4)
    assert volume.spacing[2] == pytest.approx(5.0 * np.cos(np.radians(30)))  # the true spacing, along the normal
    assert_places_every_voxel(volume, datasets)
    np.testing.assert_allclose(volume.affine[:3, 2], [0, 0, 5.0], atol=1e-9)  # steps along z, not the normal
    assert any("gantry tilt 30.00 deg (GantryDetectorTilt 30 deg) kept: the sform is sheared" in note
               for note in volume.notes)


def test_tilt_resample_moves_each_slice_onto_an_orthogonal_grid() -> None:
    datasets = tilted_series()
    volume = convert_series(datasets, tilt="resample")
    assert volume.tilt_degrees == pytest.approx(30.0)
    assert volume.data.shape == (5, 6 + 3, 4)  # each slice one row further: 3 rows added
    axes = volume.affine[:3, :3]
    np.testing.assert_allclose(axes.T @ axes, np.diag([0.8**2, 2.5**2, (5 * np.cos(np.radians(30))) ** 2]),
                               atol=1e-9)  # orthogonal: no shear
    shifts = [3 - k for k in range(4)]  # row j of slice k lands in row j + 3 - k
    assert_places_every_voxel(volume, datasets, shift_rows=shifts)
    for k, shift in enumerate(shifts):
        np.testing.assert_array_equal(volume.data[:, shift:shift + 6, k], expected_hu(k, 6, 5).T)
        padding = np.delete(volume.data[:, :, k], np.s_[shift:shift + 6], axis=1)
        assert (padding == 0).all()  # no PixelPaddingValue: the darkest value of the series
    assert any("corrected: each slice shifted in-plane" in note and "extended by 3 rows" in note
               for note in volume.notes)


def test_tilt_resample_interpolates_fractional_moves_and_rounds_half_away_from_zero() -> None:
    datasets = tilted_series(spacing=(2.0, 0.8))  # 2.5 mm per slice = 1.25 rows
    volume = convert_series(datasets, tilt="resample")
    assert volume.data.shape == (5, 6 + 4, 4)
    # slice 1, output row 3 samples input row 0.25: 0.75 x (100 + c) + 0.25 x (110 + c) = 102.5 + c -> 103 + c
    np.testing.assert_array_equal(volume.data[:, 3, 1], 103 + np.arange(5))
    # the affine still says where each voxel is: row 3 of slice 1 is input row 0.25 of instance 2
    np.testing.assert_allclose(world(volume, 2, 3, 1), ras(world_lps(datasets[1], 2, 0.25)), atol=1e-9)


def test_tilt_resample_pads_with_pixel_padding_value_and_never_blends_it() -> None:
    datasets = tilted_series(spacing=(2.0, 0.8), padding=0)  # stored 0 = -1024 HU
    stored = np.frombuffer(datasets[1].PixelData, dtype="<u2").reshape(6, 5).copy()
    stored[0] = 0  # the first row of slice 1 is padding
    datasets[1].PixelData = stored.tobytes()
    volume = convert_series(datasets, tilt="resample")
    assert (volume.data[:, :3, 1] == -1024).all()  # added rows
    # row 3 samples input row 0.25, next to padding: taken from the nearer row (the padding), not blended
    assert (volume.data[:, 3, 1] == -1024).all()


def test_small_tilt_below_a_hundredth_of_a_pixel_is_not_resampled() -> None:
    datasets = series(count=3, step=2.0, direction=(1e-5, 0.0, 1.0))
    volume = convert_series(datasets, tilt="resample")
    assert volume.data.shape == (6, 4, 3)
    assert_places_every_voxel(volume, datasets)


def test_positions_off_a_line_need_resample() -> None:
    datasets = series(count=4, step=2.0)
    datasets[2].ImagePositionPatient = [-99.0, -120.0, 4.0]  # 1 mm off in x
    with pytest.raises(ConversionError, match="do not lie on one line: instance 3 lies"):
        convert_series(datasets, tilt="keep")
    volume = convert_series(datasets, tilt="resample")
    assert volume.data.shape == (6 + 2, 4, 4)  # 1 mm = 1.25 columns: 2 columns added
    np.testing.assert_allclose(world(volume, 1.25, 0, 2), ras(world_lps(datasets[2], 0, 0)), atol=1e-9)


# --- writing -------------------------------------------------------------------------------------------------------

def _read_gzip(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())


def test_write_volume_is_deterministic_and_faithful(tmp_path: Path) -> None:
    volume = convert_series(series(count=5, orientation=OBLIQUE))
    first, second = tmp_path / "a" / "study.nii.gz", tmp_path / "b" / "other.nii.gz"
    write_volume(first, volume)
    write_volume(second, volume)
    raw = first.read_bytes()
    assert raw == second.read_bytes()
    assert raw[:3] == b"\x1f\x8b\x08" and raw[3] == 0  # no FNAME, FCOMMENT, FEXTRA, FHCRC
    assert raw[4:8] == b"\x00\x00\x00\x00"  # mtime 0
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["study.nii.gz"]  # no temporary left
    assert oct(first.stat().st_mode & 0o777) == "0o644"

    image = nib.load(first)
    header = image.header
    assert header.get_data_dtype() == np.dtype("<i2")
    data = np.asanyarray(image.dataobj)
    assert data.dtype == np.int16
    np.testing.assert_array_equal(data, volume.data)
    np.testing.assert_allclose(image.affine, volume.affine, atol=1e-4)
    np.testing.assert_allclose(header.get_qform(), volume.affine, atol=1e-4)
    assert int(header["sform_code"]) == 1 and int(header["qform_code"]) == 1
    assert int(header["xyzt_units"]) == 10  # mm + s
    assert header["descrip"].tobytes().strip(b"\x00") == b""
    assert header["aux_file"].tobytes().strip(b"\x00") == b""
    assert not header.extensions
    stream = _read_gzip(first)
    assert stream[344:348] == b"n+1\x00" and stream[348:352] == b"\x00\x00\x00\x00"
    assert np.frombuffer(stream[108:120], "<f4").tolist() == [352.0, 1.0, 0.0]  # vox_offset, scl_slope, scl_inter
    assert len(stream) == 352 + volume.data.size * 2


def test_write_volume_keeps_the_sheared_sform_and_an_unsheared_qform(tmp_path: Path) -> None:
    volume = convert_series(tilted_series(), tilt="keep")
    target = tmp_path / "tilted.nii.gz"
    write_volume(target, volume)
    header = nib.load(target).header
    np.testing.assert_allclose(header.get_sform(), volume.affine, atol=1e-4)
    qform = header.get_qform()
    np.testing.assert_allclose(qform[:3, :2], volume.affine[:3, :2], atol=1e-4)
    np.testing.assert_allclose(qform[:3, 3], volume.affine[:3, 3], atol=1e-4)
    t = np.radians(30)
    normal_ras = np.array([0.0, -np.sin(t), np.cos(t)])  # LPS normal (0, sin t, cos t)
    np.testing.assert_allclose(qform[:3, 2], normal_ras * 5 * np.cos(t), atol=1e-4)
    assert header.get_zooms() == pytest.approx((0.8, 2.5, 5 * np.cos(t)), abs=1e-5)


def test_write_volume_wants_nii_gz(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.nii\.gz"):
        write_volume(tmp_path / "x.nii", convert_series(series(count=2)))
