"""Raw DICOM studies as a scanner exports them: a soft-tissue (BODY) and a lung series of 100+ thin slices each,
with the patient's name, dates and IDs in every header. Pixels are a small chest-like phantom in HU."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, generate_uid

from tests.dicom_factories import UID_ROOT, new_dataset

SIZE = 32


def _pixels(index: int, size: int) -> np.ndarray:
    """Stored values (HU + 1024): air around a soft-tissue body with two lungs, a little texture per slice."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2
    hu = np.full((size, size), -1000.0, dtype=np.float32)
    body = ((x - c) / (0.45 * size)) ** 2 + ((y - c) / (0.35 * size)) ** 2 <= 1
    hu[body] = 40.0
    for side in (-1, 1):
        lung = ((x - c - side * 0.2 * size) / (0.15 * size)) ** 2 + ((y - c) / (0.22 * size)) ** 2 <= 1
        hu[lung] = -850.0
    hu += (index % 7) * 3
    return (hu + 1024).astype(np.uint16)


def ct_image(*, patient: dict[str, str], study_uid: str, series_uid: str, series_number: int, description: str,
             kernel: str, instance: int, z: float, size: int = SIZE, spacing: float = 0.8,
             accession: str = "") -> Dataset:
    ds = new_dataset(CTImageStorage)
    ds.PatientName = patient["name"]
    ds.PatientID = patient["id"]
    ds.PatientBirthDate = patient["birth"]
    ds.PatientSex = patient["sex"]
    if patient.get("age"):
        ds.PatientAge = patient["age"]
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = "20200417"
    ds.StudyTime = "101500"
    ds.InstitutionName = "City Hospital No. 1"
    ds.ReferringPhysicianName = "Petrov^Petr"
    ds.AccessionNumber = accession
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.Modality = "CT"
    ds.Manufacturer = "Phantom Medical"
    ds.SeriesNumber = series_number
    ds.SeriesDescription = description
    ds.ConvolutionKernel = kernel
    ds.InstanceNumber = instance
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.FrameOfReferenceUID = generate_uid(UID_ROOT)
    ds.ImagePositionPatient = [-(size - 1) * spacing / 2, -(size - 1) * spacing / 2, z]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [spacing, spacing]
    ds.SliceThickness = 0.8
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
    ds.PixelData = _pixels(instance, size).tobytes()
    return ds


PATIENTS = (
    {"name": "Ivanov^Ivan", "id": "MSK-000123", "birth": "19580312", "sex": "M", "age": "062Y"},
    {"name": "Smirnova^Olga", "id": "MSK-000456", "birth": "19270101", "sex": "F", "age": ""},
)


def write_study(folder: Path, patient: dict[str, str], *, images: int = 110, step: float = 0.8,
                skip: int | None = None, accession: str = "") -> str:
    """A study with a BODY (series 2) and a LUNG (series 3) series in sub-folders; returns the StudyInstanceUID.

    ``skip`` drops that instance from the BODY series (a missing slice).
    """
    study_uid = generate_uid(UID_ROOT)
    for number, description, kernel in ((2, "BODY 0.8 B31f", "B31f"), (3, "LUNG 0.8 B70f", "B70f")):
        series_uid = generate_uid(UID_ROOT)
        target = folder / f"SE{number}"
        target.mkdir(parents=True, exist_ok=True)
        for instance in range(1, images + 1):
            if skip == instance and number == 2:
                continue
            ds = ct_image(patient=patient, study_uid=study_uid, series_uid=series_uid, series_number=number,
                          description=description, kernel=kernel, instance=instance,
                          z=-200.0 + (instance - 1) * step, accession=accession)
            ds.save_as(target / f"IM{instance:05d}", enforce_file_format=True)
    return study_uid


def write_jpeg_series(folder: Path, patient: dict[str, str], frame: Callable[[np.ndarray], bytes], *,
                      images: int = 12, size: int = SIZE) -> None:
    """One BODY series (SE2/IM00001 ...) in JPEG Baseline whose frames ``frame`` makes from each image's 8-bit
    pixels (a hostile codestream, for instance)."""
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit

    study_uid, series_uid = generate_uid(UID_ROOT), generate_uid(UID_ROOT)
    for instance in range(1, images + 1):
        ds = ct_image(patient=patient, study_uid=study_uid, series_uid=series_uid, series_number=2,
                      description="BODY 0.8 B31f", kernel="B31f", instance=instance, z=(instance - 1) * 0.8,
                      size=size)
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
        ds.PixelData = encapsulate([frame((_pixels(instance, size) >> 4).astype(np.uint8))])
        ds["PixelData"].VR = "OB"
        target = folder / "SE2" / f"IM{instance:05d}"
        target.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(target, enforce_file_format=True)
