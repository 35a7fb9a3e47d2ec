"""DICOM SEG -> mask on a converted CT volume (curator.ingest.seg).

Every placement test checks the mask two independent ways: the world (LPS) coordinates of its foreground voxels
against those of the SEG's foreground pixels (computed from the DICOM definition in tests/seg_factories.py), and
the CT values under the mask, which name the source image, row and column each voxel came from (HU = 100 x image
+ 10 x row + column, tests/convert_factories.py): a transposed or shifted mask fails both.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from curator.ingest.convert import Volume, convert_series
from curator.ingest.seg import (
    SegError,
    SegMask,
    is_segmentation,
    mask_from_seg,
    referenced_instances,
    referenced_series,
)
from tests.convert_factories import AXIAL, SAGITTAL, series, tilted_series
from tests.seg_factories import assert_same_points, frame_of, mask_world, round_trip, seg_from_masks, seg_world

ROWS, COLUMNS = 5, 7          # rows != columns: a transposed mask cannot have the right shape
COUNT, STEP, EVERY = 31, 0.8, 10


def _oblique() -> tuple[float, ...]:
    """Direction cosines of a plane turned 25 deg about z and 40 deg about x: no component is 0 or 1."""
    a, b = np.radians(25.0), np.radians(40.0)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    rotation = rz @ rx
    return tuple(round(float(v), 6) for v in (*rotation[:, 0], *rotation[:, 1]))


OBLIQUE = _oblique()


def _ct(orientation: tuple[float, ...] = AXIAL, count: int = COUNT, rows: int = ROWS,
        columns: int = COLUMNS) -> list[Dataset]:
    datasets = series(count=count, step=STEP, orientation=orientation, rows=rows, columns=columns, spacing=(0.7, 0.8))
    for ds in datasets:  # as a scanner writes them: a few decimals
        ds.ImagePositionPatient = [round(float(v), 4) for v in ds.ImagePositionPatient]
    return datasets


def _lesion(seed: int = 7, count: int = COUNT, rows: int = ROWS, columns: int = COLUMNS) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = rng.random((count, rows, columns)) < 0.25
    mask[:, 2:, :3] = False   # keep one corner empty: an asymmetric lesion
    return mask


def _check_placement(result: SegMask, volume: Volume, seg: Dataset, cts: list[Dataset], kept: list[int]) -> None:
    """The mask holds exactly the SEG's foreground of the kept source images, at the same world coordinates and on
    the CT voxels converted from the same pixels."""
    assert result.data.shape == volume.data.shape and result.data.dtype == np.uint8
    frames = [f for n in kept for f in frame_of(seg, n, cts)]
    assert_same_points(mask_world(result.data, volume.affine), seg_world(seg, frames), values=False)
    pixels = seg.pixel_array.reshape(int(seg.NumberOfFrames), int(seg.Rows), int(seg.Columns))
    names = {ds.SOPInstanceUID: index for index, ds in enumerate(cts)}
    hu = set()
    for frame in frames:
        source = seg.PerFrameFunctionalGroupsSequence[frame].DerivationImageSequence[0].SourceImageSequence[0]
        n = names[source.ReferencedSOPInstanceUID]
        hu |= {100 * n + 10 * int(r) + int(c) for r, c in np.argwhere(pixels[frame])}
    assert set(np.asarray(volume.data)[result.data != 0].tolist()) == hu


# --- placement -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("orientation", [AXIAL, SAGITTAL, OBLIQUE], ids=["axial", "sagittal", "oblique"])
def test_seg_on_full_series_maps_onto_every_tenth_volume(orientation: tuple[float, ...]) -> None:
    cts = _ct(orientation)
    lesion = _lesion()
    kept = list(range(0, COUNT, EVERY))
    volume = convert_series([cts[n] for n in kept])
    assert volume.data.shape == (COLUMNS, ROWS, len(kept))
    seg = round_trip(seg_from_masks(cts, {1: lesion}))

    result = mask_from_seg(seg, volume.affine, volume.data.shape)

    for k, n in enumerate(kept):  # voxel (i, j, k) = pixel (row j, column i) of kept image n
        assert np.array_equal(result.data[:, :, k], lesion[n].T.astype(np.uint8))
    _check_placement(result, volume, seg, cts, kept)
    dropped = sum(1 for n in range(COUNT) if n not in kept and lesion[n].any())
    lost = int(sum(lesion[n].sum() for n in range(COUNT) if n not in kept))
    assert f"{dropped} frames with foreground lie between the volume's slices" in " ".join(result.notes)
    assert f"{lost} of the SEG's {int(lesion.sum())} foreground pixels are not in the mask" in " ".join(result.notes)
    assert result.segments == ("lesion 1",)


def test_asymmetric_lesion_in_one_corner_lands_on_the_same_world_point() -> None:
    cts = _ct(OBLIQUE)
    lesion = np.zeros((COUNT, ROWS, COLUMNS), dtype=bool)
    lesion[10, 0, COLUMNS - 1] = True      # first row, last column of image 10
    lesion[20, ROWS - 1, 1] = True         # last row, second column of image 20
    kept = list(range(0, COUNT, EVERY))
    volume = convert_series([cts[n] for n in kept])
    seg = seg_from_masks(cts, {1: lesion}, reverse=True)  # frame order must not matter

    result = mask_from_seg(seg, volume.affine, volume.data.shape)

    assert sorted(map(tuple, np.argwhere(result.data).tolist())) == [(1, ROWS - 1, 2), (COLUMNS - 1, 0, 1)]
    assert int(volume.data[COLUMNS - 1, 0, 1]) == 100 * 10 + 10 * 0 + COLUMNS - 1
    _check_placement(result, volume, seg, cts, kept)


def test_full_series_volume_keeps_every_frame_and_empty_frames_do_not_count() -> None:
    cts = _ct(count=6)
    lesion = _lesion(count=6)
    volume = convert_series(cts)
    seg = seg_from_masks(cts, {1: lesion}, keep_empty=True)

    result = mask_from_seg(seg, volume.affine, volume.data.shape)

    assert np.array_equal(result.data, lesion.transpose(2, 1, 0).astype(np.uint8))
    _check_placement(result, volume, seg, cts, list(range(6)))
    assert not any("between" in note and "dropped" in note for note in result.notes)


def test_gantry_tilt_kept_as_a_sheared_affine_maps_each_frame_onto_its_slice() -> None:
    cts = tilted_series(count=4, rows=6, columns=5)
    volume = convert_series(cts, tilt="keep")
    assert volume.tilt_degrees > 0
    lesion = np.zeros((4, 6, 5), dtype=bool)
    lesion[1, 0, 4] = lesion[3, 5, 0] = True
    seg = seg_from_masks(cts, {1: lesion})

    result = mask_from_seg(seg, volume.affine, volume.data.shape)

    assert np.array_equal(result.data, lesion.transpose(2, 1, 0).astype(np.uint8))
    assert_same_points(mask_world(result.data, volume.affine), seg_world(seg))


def test_small_position_noise_within_tolerance_is_accepted() -> None:
    cts = _ct(count=11)
    volume = convert_series(cts[::EVERY])
    lesion = _lesion(count=11)
    seg = seg_from_masks(cts, {1: lesion}, shift=(0.02, -0.02, 0.03))

    result = mask_from_seg(seg, volume.affine, volume.data.shape)

    assert np.array_equal(result.data[:, :, 1], lesion[10].T.astype(np.uint8))


# --- grids that do not coincide ------------------------------------------------------------------------------------

def _volume_and_seg(**seg_options: object) -> tuple[Volume, Dataset, list[Dataset]]:
    cts = _ct(count=11)
    volume = convert_series(cts[::EVERY])
    seg = seg_from_masks(cts, {1: _lesion(count=11)}, **seg_options)  # type: ignore[arg-type]
    return volume, seg, cts


def test_shifted_in_plane_origin_is_refused_with_the_distance() -> None:
    volume, seg, _ = _volume_and_seg(shift=(0.35, 0.0, 0.0))   # half a column (0.7 mm ... 0.8 mm columns)

    with pytest.raises(SegError) as caught:
        mask_from_seg(seg, volume.affine, volume.data.shape)

    message = str(caught.value)
    assert "does not lie on the volume's pixel grid" in message
    assert "its first pixel lies 0.35 mm from the volume's voxel (0, 0) in-plane (+0.438 columns" in message
    assert "tolerance 0.05 mm" in message


def test_rotated_frames_are_refused_with_the_angle() -> None:
    volume, seg, _ = _volume_and_seg()
    turn = np.radians(2.0)
    seg.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0].ImageOrientationPatient = [
        float(np.cos(turn)), float(np.sin(turn)), 0.0, float(-np.sin(turn)), float(np.cos(turn)), 0.0]

    with pytest.raises(SegError, match=r"orientation differs: rows 2 deg and columns 2 deg"):
        mask_from_seg(seg, volume.affine, volume.data.shape)


def test_other_pixel_spacing_is_refused() -> None:
    volume, seg, _ = _volume_and_seg()
    seg.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing = [0.7, 0.75]

    with pytest.raises(SegError, match=r"PixelSpacing is 0.7 x 0.75 mm \(rows x columns\) where the volume's is "
                                       r"0.7 x 0.8 mm"):
        mask_from_seg(seg, volume.affine, volume.data.shape)


def test_transposed_seg_on_a_square_grid_is_named_as_such() -> None:
    cts = _ct(count=3, rows=6, columns=6)
    for ds in cts:
        ds.PixelSpacing = [0.8, 0.8]
    volume = convert_series(cts)
    seg = seg_from_masks(cts, {1: _lesion(count=3, rows=6, columns=6)})
    seg.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0].ImageOrientationPatient = [
        0.0, 1.0, 0.0, 1.0, 0.0, 0.0]                     # rows and columns swapped

    with pytest.raises(SegError, match="rows and columns are swapped"):
        mask_from_seg(seg, volume.affine, volume.data.shape)


def test_frame_size_other_than_the_volume_is_refused() -> None:
    volume, seg, _ = _volume_and_seg()

    with pytest.raises(SegError, match=r"5 rows x 7 columns where the volume's slices are 7 rows x 5 columns"):
        mask_from_seg(seg, volume.affine, (ROWS, COLUMNS, 2))


def test_tilt_resampled_volume_is_refused() -> None:
    cts = tilted_series(count=4, rows=6, columns=5, spacing=(2.0, 0.8))   # shifts of 1.25 rows: not whole
    volume = convert_series(cts, tilt="resample")
    seg = seg_from_masks(cts, {1: np.ones((4, 6, 5), dtype=bool)})

    with pytest.raises(SegError, match="where the volume's slices are"):
        mask_from_seg(seg, volume.affine, volume.data.shape)


# --- outside the volume --------------------------------------------------------------------------------------------

def test_foreground_outside_the_volume_is_refused_or_dropped() -> None:
    cts = _ct(count=26)
    volume = convert_series([cts[0], cts[10]])          # slices at images 0 and 10 (8 mm apart)
    lesion = np.zeros((26, ROWS, COLUMNS), dtype=bool)
    lesion[10, 1, 1] = True                              # on slice 1
    lesion[15, 1, 2] = True                              # between slices 1 and 2's place: within one step
    lesion[20, 1, 3] = True                              # where slice 2 would be: outside
    lesion[25, 1, 4] = True                              # beyond that: outside
    seg = seg_from_masks(cts, {1: lesion})

    with pytest.raises(SegError) as caught:
        mask_from_seg(seg, volume.affine, volume.data.shape)
    assert "2 frames of the SEG with foreground (segment 1 ('lesion 1'): 2 pixels) lie outside the volume, up to " \
           "12 mm beyond its last slice" in str(caught.value)
    assert "outside='drop'" in str(caught.value)

    result = mask_from_seg(seg, volume.affine, volume.data.shape, outside="drop")
    assert np.argwhere(result.data).tolist() == [[1, 1, 1]]
    notes = " ".join(result.notes)
    assert "1 frames with foreground lie between the volume's slices" in notes
    assert "2 frames with foreground lie outside the volume and were dropped (outside='drop')" in notes


def test_seg_with_no_foreground_on_the_volume_gives_an_empty_mask_and_says_so() -> None:
    cts = _ct(count=11)
    volume = convert_series(cts[::EVERY])
    lesion = np.zeros((11, ROWS, COLUMNS), dtype=bool)
    lesion[5, 2, 2] = True
    result = mask_from_seg(seg_from_masks(cts, {1: lesion}), volume.affine, volume.data.shape)

    assert not result.data.any() and result.segments == ()
    assert any("only off the volume's slices" in note for note in result.notes)
    assert any("the mask is empty" in note for note in result.notes)


# --- values --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("maximum", "below", "at"), [(255, 127, 128), (100, 49, 50), (1, 0, 1)])
def test_fractional_seg_is_thresholded_at_half_the_maximum(maximum: int, below: int, at: int) -> None:
    cts = _ct(count=11)
    volume = convert_series(cts[::EVERY])
    values = np.zeros((11, ROWS, COLUMNS), dtype=np.uint8)
    values[10, 0, 6] = at
    values[10, 4, 0] = maximum
    values[10, 2, 3] = below
    values[0, 1, 1] = at
    seg = round_trip(seg_from_masks(cts, {1: values}, kind="FRACTIONAL", maximum=maximum))

    result = mask_from_seg(seg, volume.affine, volume.data.shape)

    assert sorted(map(tuple, np.argwhere(result.data).tolist())) == [(0, 4, 1), (1, 1, 0), (6, 0, 1)]
    assert_same_points(mask_world(result.data, volume.affine), seg_world(seg, threshold=at))
    assert any(f"MaximumFractionalValue {maximum} (foreground where value >= {at})" in note for note in result.notes)


def test_compressed_fractional_seg_is_decoded_frame_by_frame() -> None:
    from pydicom.uid import RLELossless

    cts = _ct(count=11)
    volume = convert_series(cts[::EVERY])
    values = (_lesion(count=11) * 200).astype(np.uint8)
    seg = seg_from_masks(cts, {1: values}, kind="FRACTIONAL")
    plain = mask_from_seg(seg, volume.affine, volume.data.shape)
    seg.compress(RLELossless, encoding_plugin="pydicom")

    result = mask_from_seg(round_trip(seg), volume.affine, volume.data.shape)

    assert np.array_equal(result.data, plain.data) and result.data.any()
    assert np.array_equal(result.data[:, :, 1], (values[10] >= 128).T.astype(np.uint8))


def test_fractional_value_above_the_maximum_is_refused() -> None:
    cts = _ct(count=2)
    volume = convert_series(cts)
    values = np.zeros((2, ROWS, COLUMNS), dtype=np.uint8)
    values[1, 1, 1] = 200
    seg = seg_from_masks(cts, {1: values}, kind="FRACTIONAL", maximum=100)

    with pytest.raises(SegError, match="holds value 200, above its MaximumFractionalValue 100"):
        mask_from_seg(seg, volume.affine, volume.data.shape)


def _two_segments(overlap: bool = False) -> tuple[Volume, Dataset]:
    cts = _ct(count=11)
    volume = convert_series(cts[::EVERY])
    ggo = np.zeros((11, ROWS, COLUMNS), dtype=bool)
    consolidation = np.zeros_like(ggo)
    ggo[0, 0, :3] = True
    ggo[10, 4, 6] = True
    consolidation[10, 0, 0:2] = True
    if overlap:
        consolidation[10, 4, 6] = True
    return volume, seg_from_masks(cts, {1: ggo, 2: consolidation}, labels={1: "GGO", 2: "consolidation"})


def test_two_segments_merged_into_label_one() -> None:
    volume, seg = _two_segments()
    result = mask_from_seg(seg, volume.affine, volume.data.shape)

    assert set(np.unique(result.data).tolist()) == {0, 1}
    assert int(result.data.sum()) == 6
    assert result.segments == ("GGO", "consolidation")
    assert "2 segments merged into label 1 (GGO, consolidation)" in result.notes


def test_two_segments_as_labels_keep_their_numbers() -> None:
    volume, seg = _two_segments()
    result = mask_from_seg(seg, volume.affine, volume.data.shape, merge="labels")

    assert result.data[6, 4, 1] == 1 and result.data[0, 0, 1] == 2 and result.data[1, 0, 1] == 2
    assert result.data[0, 0, 0] == result.data[2, 0, 0] == 1
    assert_same_points(mask_world(result.data, volume.affine), seg_world(seg))
    assert "label values are segment numbers: 1 = GGO, 2 = consolidation" in result.notes


def test_overlapping_segments_are_refused_as_labels_but_merge_as_binary() -> None:
    volume, seg = _two_segments(overlap=True)

    with pytest.raises(SegError, match="1 voxels belong to two segments at once"):
        mask_from_seg(seg, volume.affine, volume.data.shape, merge="labels")
    assert int(mask_from_seg(seg, volume.affine, volume.data.shape).data.sum()) == 6


def test_segment_number_above_255_is_refused_as_labels() -> None:
    cts = _ct(count=2)
    volume = convert_series(cts)
    lesion = np.zeros((2, ROWS, COLUMNS), dtype=bool)
    lesion[0, 0, 0] = True
    seg = seg_from_masks(cts, {300: lesion})

    with pytest.raises(SegError, match=r"segment 300 \('lesion 300'\) has foreground, and merge='labels'"):
        mask_from_seg(seg, volume.affine, volume.data.shape, merge="labels")
    assert mask_from_seg(seg, volume.affine, volume.data.shape).data[0, 0, 0] == 1


# --- recognising and referencing -----------------------------------------------------------------------------------

def test_is_segmentation_and_references() -> None:
    cts = _ct(count=3)
    seg = seg_from_masks(cts, {1: _lesion(count=3)})

    assert is_segmentation(seg) and not is_segmentation(cts[0])
    other = Dataset()
    other.Modality = "SEG"
    assert is_segmentation(other)
    assert referenced_series(seg) == {cts[0].SeriesInstanceUID}
    framed = {f.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
              for f in seg.PerFrameFunctionalGroupsSequence}
    del seg.ReferencedSeriesSequence
    assert referenced_series(seg) == set()
    assert referenced_instances(seg) == framed


# --- malformed objects ---------------------------------------------------------------------------------------------

def _shared(seg: Dataset) -> Dataset:
    group: Dataset = seg.SharedFunctionalGroupsSequence[0]
    return group


def _not_a_seg(seg: Dataset) -> None:
    seg.Modality = "CT"
    seg.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"


def _set_frames(seg: Dataset, count: object) -> None:
    seg.NumberOfFrames = count


MALFORMED = {
    "not a SEG": (_not_a_seg, "not a DICOM Segmentation"),
    "surface SEG": (lambda s: setattr(s, "SOPClassUID", "1.2.840.10008.5.1.4.1.1.66.5"), "Surface Segmentation"),
    "unknown type": (lambda s: setattr(s, "SegmentationType", "BITMAP"), "SegmentationType is 'BITMAP'"),
    "label map": (lambda s: setattr(s, "SegmentationType", "LABELMAP"), "LABELMAP"),
    "no type": (lambda s: delattr(s, "SegmentationType"), "SegmentationType is 'missing'"),
    "8 bit binary": (lambda s: setattr(s, "BitsAllocated", 8), "BINARY but BitsAllocated is 8"),
    "no segments": (lambda s: delattr(s, "SegmentSequence"), "no SegmentSequence"),
    "repeated segment": (lambda s: s.SegmentSequence.append(s.SegmentSequence[0]), "described twice"),
    "unknown segment": (lambda s: setattr(s.PerFrameFunctionalGroupsSequence[0].SegmentIdentificationSequence[0],
                                          "ReferencedSegmentNumber", 9), "segment 9, which the SegmentSequence"),
    "no segment id": (lambda s: delattr(s.PerFrameFunctionalGroupsSequence[0], "SegmentIdentificationSequence"),
                      "frame 1 of the SEG has no ReferencedSegmentNumber"),
    "no shared groups": (lambda s: delattr(s, "SharedFunctionalGroupsSequence"), "no ImageOrientationPatient"),
    "no per-frame groups": (lambda s: delattr(s, "PerFrameFunctionalGroupsSequence"),
                            "no PerFrameFunctionalGroupsSequence"),
    "too few per-frame groups": (lambda s: s.PerFrameFunctionalGroupsSequence.pop(), "items in it"),
    "no position": (lambda s: delattr(s.PerFrameFunctionalGroupsSequence[1], "PlanePositionSequence"),
                    "frame 2 of the SEG has no ImagePositionPatient"),
    "position of two numbers": (lambda s: setattr(s.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0],
                                                  "ImagePositionPatient", [1.0, 2.0]), "should hold 3 finite numbers"),
    "bad orientation": (lambda s: setattr(_shared(s).PlaneOrientationSequence[0], "ImageOrientationPatient",
                                          [1.0, 0, 0, 1.0, 0, 0]), "two perpendicular unit direction vectors"),
    "zero spacing": (lambda s: setattr(_shared(s).PixelMeasuresSequence[0], "PixelSpacing", [0.0, 0.8]),
                     "is not positive"),
    "no spacing": (lambda s: delattr(_shared(s), "PixelMeasuresSequence"), "no PixelSpacing"),
    "no frames count": (lambda s: delattr(s, "NumberOfFrames"), "has no NumberOfFrames"),
    "zero frames": (lambda s: _set_frames(s, 0), "NumberOfFrames is 0"),
    # before: int() truncated the IS value 3.5 to 3 frames
    "fractional frames": (lambda s: _set_frames(s, "3.5"), "the SEG: NumberOfFrames '3.5' is not a whole number"),
    "no rows": (lambda s: delattr(s, "Rows"), "has no Rows"),
    "truncated pixels": (lambda s: setattr(s, "PixelData", s.PixelData[:2]), "the file is truncated"),
    "no pixels": (lambda s: delattr(s, "PixelData"), "has no PixelData"),
    "no file meta": (lambda s: delattr(s, "file_meta"), "no transfer syntax"),
    "two samples": (lambda s: setattr(s, "SamplesPerPixel", 2), "SamplesPerPixel 2"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_seg_raises_seg_error(case: str) -> None:
    cts = _ct(count=3)
    volume = convert_series(cts)
    lesion = np.zeros((3, ROWS, COLUMNS), dtype=bool)
    lesion[:, 1, 2] = True
    seg = seg_from_masks(cts, {1: lesion})
    change, expected = MALFORMED[case]
    change(seg)

    with pytest.raises(SegError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        mask_from_seg(seg, volume.affine, volume.data.shape)


def test_fractional_without_maximum_raises_seg_error() -> None:
    cts = _ct(count=2)
    volume = convert_series(cts)
    seg = seg_from_masks(cts, {1: np.ones((2, ROWS, COLUMNS), dtype=np.uint8)}, kind="FRACTIONAL")
    del seg.MaximumFractionalValue

    with pytest.raises(SegError, match="FRACTIONAL SEG has no MaximumFractionalValue"):
        mask_from_seg(seg, volume.affine, volume.data.shape)


def test_unreadable_values_in_the_file_raise_seg_error(monkeypatch: pytest.MonkeyPatch) -> None:
    cts = _ct(count=2)
    volume = convert_series(cts)
    seg = seg_from_masks(cts, {1: np.ones((2, ROWS, COLUMNS), dtype=bool)})
    buffer = io.BytesIO()
    seg.save_as(buffer, enforce_file_format=True)
    damaged = buffer.getvalue().replace(b"-120.0\\", b"-1a0.0\\", 1)     # the first frame's position
    with pytest.raises(SegError, match="frame 1 of the SEG: ImagePositionPatient"):
        mask_from_seg(dcmread(io.BytesIO(damaged)), volume.affine, volume.data.shape)

    with pytest.raises(SegError, match="expected a pydicom Dataset"):
        mask_from_seg(b"DICM", volume.affine, volume.data.shape)  # type: ignore[arg-type]

    def broken(*args: object) -> None:
        raise KeyError("(0062,000B)")

    monkeypatch.setattr("curator.ingest.seg._frames", broken)      # whatever pydicom raises while reading
    with pytest.raises(SegError, match=r"the SEG cannot be read \('\(0062,000B\)'\)"):
        mask_from_seg(seg, volume.affine, volume.data.shape)


def test_arguments_that_are_no_volume_geometry_are_value_errors() -> None:
    cts = _ct(count=2)
    volume = convert_series(cts)
    seg = seg_from_masks(cts, {1: np.ones((2, ROWS, COLUMNS), dtype=bool)})
    with pytest.raises(ValueError, match="merge"):
        mask_from_seg(seg, volume.affine, volume.data.shape, merge="union")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tolerance_mm"):
        mask_from_seg(seg, volume.affine, volume.data.shape, tolerance_mm=0.4)
    with pytest.raises(ValueError, match="affine"):
        mask_from_seg(seg, np.zeros((4, 4)), volume.data.shape)


# --- an independent SEG writer -------------------------------------------------------------------------------------

def test_highdicom_seg_maps_onto_the_same_world_points() -> None:
    hd = pytest.importorskip("highdicom")
    from pydicom.sr.codedict import codes

    cts = _ct(OBLIQUE)
    for ds in cts:  # what highdicom asks of its source images
        ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.1"
        ds.PatientName, ds.PatientBirthDate, ds.PatientSex = "Test^Patient", "", ""
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = \
            "20200101", "120000", "1", "", ""
    lesion = _lesion()
    lesion[:, 0, COLUMNS - 1] = True
    description = hd.seg.SegmentDescription(
        segment_number=1, segment_label="lesion",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Lesion, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)
    seg = hd.seg.Segmentation(
        source_images=cts, pixel_array=lesion, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description], series_instance_uid=hd.UID(), series_number=100,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="curator tests", manufacturer_model_name="tests",
        software_versions="1", device_serial_number="1")
    seg = round_trip(seg)
    kept = list(range(0, COUNT, EVERY))
    volume = convert_series([cts[n] for n in kept])

    result = mask_from_seg(seg, volume.affine, volume.data.shape)

    assert referenced_series(seg) == {cts[0].SeriesInstanceUID}
    for k, n in enumerate(kept):
        assert np.array_equal(result.data[:, :, k], lesion[n].T.astype(np.uint8))
    frames = [f for n in kept for f in frame_of(seg, n, cts)]
    assert_same_points(mask_world(result.data, volume.affine), seg_world(seg, frames))


# --- real data -----------------------------------------------------------------------------------------------------

@pytest.mark.realdata
def test_real_series_seg_from_its_nifti_segmentation_lands_on_the_same_labels(realdata: Path) -> None:
    """The 20-image Siemens series (JPEG 2000, 512 x 512) and TotalSegmentator's label NIfTI of it: a SEG made by
    sampling the NIfTI at each DICOM pixel's world position (DICOM and nibabel geometry only), mapped onto the
    volume of every 5th image, holds at every voxel the NIfTI label at that voxel's world position."""
    import nibabel as nib

    root = realdata / "totalsegmentator_examples"
    datasets = [dcmread(path) for path in sorted((root / "example_ct_dicom").iterdir())]
    datasets.sort(key=lambda ds: float(ds.ImagePositionPatient[2]))
    labels_image = nib.load(root / "example_seg_dicom.nii.gz")
    labels = np.asarray(labels_image.dataobj)
    to_label_voxel = np.linalg.inv(labels_image.affine)

    def label_at(lps: np.ndarray) -> np.ndarray:
        ras = np.column_stack([-lps[:, 0], -lps[:, 1], lps[:, 2], np.ones(len(lps))])
        voxel = (to_label_voxel @ ras.T).T[:, :3]
        index = np.rint(voxel).astype(int)
        assert float(np.abs(voxel - index).max()) < 1e-3          # the NIfTI is on the series' own grid
        return labels[tuple(index.T)]

    chosen = (5, 52, 102)                                         # three organs present on several images
    rows, columns = int(datasets[0].Rows), int(datasets[0].Columns)
    r, c = np.mgrid[0:rows, 0:columns]
    frames = []
    for ds in datasets:
        origin = np.array([float(v) for v in ds.ImagePositionPatient])
        cosines = [float(v) for v in ds.ImageOrientationPatient]
        row_spacing, column_spacing = (float(v) for v in ds.PixelSpacing)
        lps = (origin + c.reshape(-1, 1) * column_spacing * np.array(cosines[:3])
               + r.reshape(-1, 1) * row_spacing * np.array(cosines[3:]))
        frames.append(label_at(lps).reshape(rows, columns))
    stack = np.stack(frames)
    assert all((stack[::5] == label).any() for label in chosen)
    seg = seg_from_masks(datasets, {label: stack == label for label in chosen})
    volume = convert_series(datasets[::5])

    result = mask_from_seg(seg, volume.affine, volume.data.shape, merge="labels")

    i, j, k = np.indices(volume.data.shape).reshape(3, -1)
    ras = volume.affine @ np.vstack([i, j, k, np.ones_like(i)])
    expected = label_at(np.column_stack([-ras[0], -ras[1], ras[2]])).reshape(volume.data.shape)
    expected = np.where(np.isin(expected, chosen), expected, 0)
    assert np.array_equal(result.data, expected)
    assert len(result.segments) == 3 and any("between the volume's slices" in note for note in result.notes)
