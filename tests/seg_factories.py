"""DICOM Segmentation (SEG) objects built by hand with pydicom on the tiny CT series of ``tests.convert_factories``,
and the world coordinates of what they and a mask hold (to compare the two without trusting the code under test).

``seg_from_masks(source, {segment: array})``: ``array[n, r, c]`` is frame row r, column c of the frame drawn on
``source[n]`` (DICOM order: rows first). Frames are written per segment, then per source image, one for each image
with foreground (or every image with ``keep_empty``), geometry copied from the source image as SEG writers do.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.pixels.utils import pack_bits
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID, generate_uid

from tests.dicom_factories import UID_ROOT, new_dataset
from tests.dicom_factories import dataset_of as _item

SEGMENTATION_STORAGE = UID("1.2.840.10008.5.1.4.1.1.66.4")


def seg_from_masks(source: Sequence[Dataset], masks: Mapping[int, np.ndarray], *, kind: str = "BINARY",
                   maximum: int = 255, labels: Mapping[int, str] | None = None, keep_empty: bool = False,
                   shift: Sequence[float] = (0.0, 0.0, 0.0), reverse: bool = False) -> Dataset:
    """A SEG on ``source`` (a list of single-frame CT datasets). ``kind="FRACTIONAL"`` writes the arrays' values as
    they are (uint8, up to ``maximum``); BINARY writes nonzero as 1, packed. ``shift`` (LPS mm) moves every frame;
    ``reverse`` writes the frames in reverse order."""
    first = source[0]
    rows, columns = int(first.Rows), int(first.Columns)
    ds = new_dataset(SEGMENTATION_STORAGE)
    ds.StudyInstanceUID = first.StudyInstanceUID
    ds.SeriesInstanceUID = generate_uid(UID_ROOT)
    ds.Modality = "SEG"
    ds.SeriesNumber, ds.InstanceNumber = 100, 1
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.ContentLabel = "LESIONS"
    ds.SegmentationType = kind
    if kind == "FRACTIONAL":
        ds.SegmentationFractionalType = "PROBABILITY"
        ds.MaximumFractionalValue = maximum
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    bits = 1 if kind == "BINARY" else 8
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits, bits - 1, 0
    ds.LossyImageCompression = "00"
    ds.SegmentSequence = DicomSequence([
        _item(SegmentNumber=number, SegmentLabel=(labels or {}).get(number, f"lesion {number}"),
              SegmentAlgorithmType="MANUAL")
        for number in sorted(masks)])
    ds.ReferencedSeriesSequence = DicomSequence([_item(
        SeriesInstanceUID=first.SeriesInstanceUID,
        ReferencedInstanceSequence=DicomSequence([
            _item(ReferencedSOPClassUID=image.SOPClassUID, ReferencedSOPInstanceUID=image.SOPInstanceUID)
            for image in source]))])
    ds.SharedFunctionalGroupsSequence = DicomSequence([_item(
        PlaneOrientationSequence=DicomSequence([_item(ImageOrientationPatient=list(first.ImageOrientationPatient))]),
        PixelMeasuresSequence=DicomSequence([_item(PixelSpacing=list(first.PixelSpacing), SliceThickness=0.8)]))])

    groups, frames = [], []
    for number in sorted(masks):
        array = np.asarray(masks[number])
        assert array.shape == (len(source), rows, columns), array.shape
        for index, image in enumerate(source):
            if not keep_empty and not np.any(array[index]):
                continue
            position = [round(float(v) + float(d), 6) for v, d in zip(image.ImagePositionPatient, shift, strict=True)]
            groups.append(_item(
                PlanePositionSequence=DicomSequence([_item(ImagePositionPatient=position)]),
                SegmentIdentificationSequence=DicomSequence([_item(ReferencedSegmentNumber=number)]),
                DerivationImageSequence=DicomSequence([_item(SourceImageSequence=DicomSequence([
                    _item(ReferencedSOPClassUID=image.SOPClassUID, ReferencedSOPInstanceUID=image.SOPInstanceUID,
                          SpatialLocationsPreserved="YES")]))])))
            frames.append(array[index] != 0 if kind == "BINARY" else array[index].astype(np.uint8))
    if reverse:
        groups.reverse()
        frames.reverse()
    ds.NumberOfFrames = len(frames)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(groups)
    stack = np.stack(frames) if frames else np.zeros((0, rows, columns), dtype=np.uint8)
    ds.PixelData = pack_bits(stack.astype(np.uint8)) if kind == "BINARY" else stack.astype(np.uint8).tobytes()
    return ds


def round_trip(ds: Dataset) -> Dataset:
    """``ds`` written as a DICOM file and read back (every element through its VR, as ingest reads files)."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    return dcmread(buffer)


def _frame_geometry(ds: Dataset, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    shared = ds.SharedFunctionalGroupsSequence[0]
    frame = ds.PerFrameFunctionalGroupsSequence[index]
    cosines = [float(v) for v in shared.PlaneOrientationSequence[0].ImageOrientationPatient]
    row_spacing, column_spacing = (float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing)
    origin = np.array([float(v) for v in frame.PlanePositionSequence[0].ImagePositionPatient])
    return origin, np.array(cosines[:3]), np.array(cosines[3:]), row_spacing, column_spacing


def seg_world(ds: Dataset, frames: Sequence[int] | None = None, threshold: int = 1) -> np.ndarray:
    """(n, 4): LPS point and segment number of each foreground pixel of ``frames`` (default: all), from the DICOM
    definition: point = ImagePositionPatient + column x column spacing x row cosine + row x row spacing x column
    cosine, PixelSpacing being (row spacing, column spacing)."""
    pixels = ds.pixel_array.reshape(int(ds.NumberOfFrames), int(ds.Rows), int(ds.Columns))
    found = []
    for index in range(int(ds.NumberOfFrames)) if frames is None else frames:
        origin, row, col, row_spacing, column_spacing = _frame_geometry(ds, index)
        group = ds.PerFrameFunctionalGroupsSequence[index]
        if "SegmentIdentificationSequence" not in group:  # highdicom puts a lone segment's in the shared group
            group = ds.SharedFunctionalGroupsSequence[0]
        number = int(group.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        for r, c in np.argwhere(pixels[index] >= threshold):
            found.append([*(origin + c * column_spacing * row + r * row_spacing * col), number])
    return np.array(found, dtype=np.float64).reshape(-1, 4)


def mask_world(data: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """(n, 4): LPS point and value of each nonzero voxel of a mask with a RAS affine."""
    voxels = np.argwhere(data)
    ras = (affine @ np.column_stack([voxels, np.ones(len(voxels))]).T).T
    values = data[tuple(voxels.T)] if len(voxels) else np.zeros(0)
    return np.column_stack([-ras[:, 0], -ras[:, 1], ras[:, 2], values]).reshape(-1, 4)


def assert_same_points(got: np.ndarray, expected: np.ndarray, *, values: bool = True, tolerance: float = 0.01) -> None:
    """Each point of one set has exactly one point of the other within ``tolerance`` mm (with the same value)."""
    assert len(got) == len(expected), f"{len(got)} points where {len(expected)} expected"
    if not len(got):
        return
    distance = np.linalg.norm(got[:, None, :3] - expected[None, :, :3], axis=2)
    near = distance <= tolerance
    assert np.all(near.sum(axis=1) == 1) and np.all(near.sum(axis=0) == 1), \
        f"points apart by up to {float(distance.min(axis=1).max()):.3f} mm"
    if values:
        assert np.array_equal(got[:, 3], expected[np.argmax(near, axis=1), 3])


def frame_of(ds: Dataset, source_index: int, source: Sequence[Dataset]) -> list[int]:
    """The SEG frames drawn on ``source[source_index]`` (by their referenced SOP instance)."""
    uid = source[source_index].SOPInstanceUID
    return [index for index, group in enumerate(ds.PerFrameFunctionalGroupsSequence)
            if group.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID == uid]
