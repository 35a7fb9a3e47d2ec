"""Tiny CT series held in memory for the conversion tests: known geometry, pixels that say where they come from.

Every stored pixel is ``1024 + 100 * slice + 10 * row + column`` (``slice`` = the image's place along the stack,
so shuffling the datasets does not change what a pixel holds), and RescaleIntercept is -1024, so the HU of pixel
(row, column) of slice k is ``100 * k + 10 * row + column``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import generate_uid

from tests.dicom_factories import AXIAL, UID_ROOT, ct_slice, new_dataset
from tests.dicom_factories import dataset_of as item

__all__ = ["AXIAL", "CORONAL", "SAGITTAL", "enhanced_ct", "expected_hu", "jpeg_lossless", "series", "stored_pixels",
           "tilted_series", "world_lps"]

CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
SAGITTAL = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
ORIGIN = (-100.0, -120.0, 0.0)


def stored_pixels(index: int, rows: int, columns: int) -> np.ndarray:
    """Stored values (uint16) of the slice at place ``index`` along the stack."""
    r, c = np.mgrid[0:rows, 0:columns]
    return (1024 + 100 * index + 10 * r + c).astype(np.uint16)


def expected_hu(index: int, rows: int, columns: int) -> np.ndarray:
    return stored_pixels(index, rows, columns).astype(np.int32) - 1024


def _normal(orientation: Sequence[float]) -> np.ndarray:
    return np.cross(np.array(orientation[:3], dtype=float), np.array(orientation[3:], dtype=float))


def series(offsets: Sequence[float] | None = None, *, count: int = 5, step: float = 2.5,
           orientation: Sequence[float] = AXIAL, direction: Sequence[float] | None = None,
           origin: Sequence[float] = ORIGIN, rows: int = 4, columns: int = 6,
           spacing: Sequence[float] = (0.7, 0.8), per_slice: dict[int, dict[str, object]] | None = None,
           pixels: Sequence[np.ndarray] | None = None) -> list[Dataset]:
    """Slices at ``offsets`` mm along ``direction`` (default: the slice normal) from ``origin``, in stack order.

    InstanceNumber runs 1.. in stack order; ``per_slice={index: {"Keyword": value}}`` overrides attributes of single
    slices (``{"Rows": 5}``, ``{"RescaleIntercept": -1000}``...). ``pixels`` replaces the stored values per slice.
    """
    study, series_uid = generate_uid(UID_ROOT), generate_uid(UID_ROOT)
    places = list(offsets) if offsets is not None else [i * step for i in range(count)]
    along = np.array(direction if direction is not None else _normal(orientation), dtype=float)
    datasets = []
    for index, offset in enumerate(places):
        position = np.array(origin, dtype=float) + offset * along
        stored = stored_pixels(index, rows, columns) if pixels is None else pixels[index]
        ds = ct_slice(study_uid=study, series_uid=series_uid, instance=index + 1, position=position.tolist(),
                      orientation=orientation, rows=rows, columns=columns, spacing=spacing,
                      pixel_bytes=np.ascontiguousarray(stored, dtype="<u2").tobytes())
        ds.PixelRepresentation = 0
        ds.BitsStored, ds.HighBit = 16, 15
        for keyword, value in (per_slice or {}).get(index, {}).items():
            setattr(ds, keyword, value)
        datasets.append(ds)
    return datasets


def tilted_series(*, count: int = 4, step: float = 5.0, tilt_degrees: float = 30.0, rows: int = 6, columns: int = 5,
                  spacing: Sequence[float] = (2.5, 0.8), padding: int | None = None) -> list[Dataset]:
    """A gantry-tilted axial series as scanners write it: the image plane is tilted about x (the column direction
    cosine is (0, cos t, -sin t)) while the table moves the slices along z by ``step``.

    With the defaults each slice lies exactly one row (2.5 mm = 5 mm x sin 30 deg) further along the column
    direction than the previous one, so a tilt correction is a whole-row move.
    """
    t = np.radians(tilt_degrees)
    orientation = (1.0, 0.0, 0.0, 0.0, float(np.cos(t)), float(-np.sin(t)))
    datasets = series(count=count, step=step, orientation=orientation, direction=(0.0, 0.0, 1.0), rows=rows,
                      columns=columns, spacing=spacing)
    for ds in datasets:
        ds.GantryDetectorTilt = tilt_degrees
        if padding is not None:
            ds.PixelPaddingValue = padding
    return datasets


def world_lps(ds: Dataset, i: float, j: float) -> np.ndarray:
    """DICOM patient (LPS) position of column ``i``, row ``j`` of one image."""
    orientation = [float(v) for v in ds.ImageOrientationPatient]
    row_spacing, column_spacing = (float(v) for v in ds.PixelSpacing)
    return (np.array([float(v) for v in ds.ImagePositionPatient]) + i * column_spacing * np.array(orientation[:3])
            + j * row_spacing * np.array(orientation[3:]))


def enhanced_ct(offsets: Sequence[float], *, orientation: Sequence[float] = AXIAL, rows: int = 4, columns: int = 6,
                spacing: Sequence[float] = (0.7, 0.8), intercepts: Sequence[float] | None = None) -> Dataset:
    """One Enhanced CT object whose frames lie at ``offsets`` along the normal; frame f holds the pixels of the
    slice at place ``sorted(offsets).index(offsets[f])``. Orientation, pixel measures and (unless ``intercepts``
    gives one per frame) the rescale sit in the shared functional groups, positions in the per-frame ones."""
    ds = new_dataset("1.2.840.10008.5.1.4.1.1.2.1")  # Enhanced CT Image Storage
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(UID_ROOT), generate_uid(UID_ROOT)
    ds.Modality = "CT"
    ds.InstanceNumber = 1
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, len(offsets)
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0

    shared = Dataset()
    shared.PlaneOrientationSequence = DicomSequence([item(ImageOrientationPatient=[float(v) for v in orientation])])
    shared.PixelMeasuresSequence = DicomSequence([item(PixelSpacing=[float(v) for v in spacing],
                                                       SliceThickness=1.0)])
    if intercepts is None:
        shared.PixelValueTransformationSequence = DicomSequence([item(RescaleIntercept=-1024, RescaleSlope=1,
                                                                      RescaleType="HU")])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    normal = _normal(orientation)
    places = sorted(offsets)
    frames, pixels = [], []
    for frame, offset in enumerate(offsets):
        group = Dataset()
        position = np.array(ORIGIN) + offset * normal
        group.PlanePositionSequence = DicomSequence([item(ImagePositionPatient=position.tolist())])
        if intercepts is not None:
            group.PixelValueTransformationSequence = DicomSequence([item(RescaleIntercept=intercepts[frame],
                                                                         RescaleSlope=1, RescaleType="HU")])
        frames.append(group)
        pixels.append(stored_pixels(places.index(offset), rows, columns))
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(frames)
    ds.PixelData = np.ascontiguousarray(np.stack(pixels), dtype="<u2").tobytes()
    return ds


def jpeg_lossless(ds: Dataset, stored: np.ndarray | None = None, *, precision: int | None = None) -> Dataset:
    """``ds`` with its pixels (or ``stored``, the bit patterns as unsigned values) as one JPEG Lossless SV1 frame
    (libjpeg-turbo through imagecodecs; pydicom has no encoder for it), ``precision`` bits (default BitsStored)."""
    import imagecodecs
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGLosslessSV1

    values = ds.pixel_array if stored is None else stored
    bits = precision or int(ds.BitsStored)
    frame = imagecodecs.jpeg8_encode(np.ascontiguousarray(values, dtype=np.uint8 if bits <= 8 else np.uint16),
                                     lossless=True, predictor=1, bitspersample=bits)
    ds.file_meta.TransferSyntaxUID = JPEGLosslessSV1
    ds.PixelData = encapsulate([bytes(frame)])
    ds["PixelData"].VR = "OB"
    return ds
