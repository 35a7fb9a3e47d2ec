"""Tiny DICOM CT files with planted identifiers, for the privacy audit and the anonymiser."""

from __future__ import annotations

import struct
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import JPEGLosslessSV1

from tests.dicom_factories import ct_slice

GE_STUDY = "1.2.840.113619.2.55.3.604688119.971.1234567890.1"   # GE Healthcare root
GE_SERIES = "1.2.840.113619.2.55.3.604688119.971.1234567890.2"
NAME = "Ivanov^Petr"
NESTED_NAME = "Sidorova^Anna"
BIRTH_DATE = "19450312"
EMAIL = "ivan.petrov@hospital.example"
SECRETS = ("Ivanov", "Petr", "Sidorova", "Anna", BIRTH_DATE, "ivan.petrov", "MRN-4471", "Genesis Room 3")


def planted_slice(instance: int, *, z: float = 0.0, patient_id: str = "MRN-4471", study_date: str = "20200305",
                  acquisition_date: str = "20200310") -> Dataset:
    """A CT slice that carries every identifier the audit must find."""
    ds = ct_slice(study_uid=GE_STUDY, series_uid=GE_SERIES, instance=instance, position=(-100.0, -120.0, z),
                  patient_id=patient_id, sop_uid=f"{GE_SERIES}.{instance}")
    ds.PatientName = NAME
    ds.PatientBirthDate = BIRTH_DATE
    ds.PatientAge = "092Y"
    ds.PatientSex = "M"
    ds.StudyDate = study_date
    ds.AcquisitionDate = acquisition_date
    ds.ContentDate = acquisition_date
    ds.StudyTime = "101500"
    ds.InstitutionName = "City Hospital No 7"
    ds.StationName = "Genesis Room 3"
    ds.ImageComments = f"contact {EMAIL}"
    ds.FrameOfReferenceUID = f"{GE_STUDY}.9"
    reference = Dataset()
    reference.ReferencedSOPClassUID = ds.SOPClassUID
    reference.ReferencedSOPInstanceUID = f"{GE_SERIES}.1000"
    reference.PatientName = NESTED_NAME                 # a name where no one looks: inside a sequence item
    ds.SourceImageSequence = Sequence([reference])
    block = ds.private_block(0x0009, "ACME_IDENT", create=True)
    block.add_new(0x01, "LO", "Ivanov Petr, ward 5")   # a private attribute with a name in it
    safe = ds.private_block(0x0019, "GEMS_ACQU_01", create=True)
    safe.add_new(0x23, "DS", "41.0")                   # Table Speed: on the safe-private list
    return ds


def write_planted(folder: Path, count: int = 3, **kwargs: object) -> list[Path]:
    """``count`` planted slices 2.5 mm apart in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index in range(count):
        ds = planted_slice(index + 1, z=index * 2.5, **kwargs)  # type: ignore[arg-type]
        path = folder / f"IM{index + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        written.append(path)
    return written


def declared(ds: Dataset, *codes: str, temporal: str | None = None) -> Dataset:
    """Mark ``ds`` as de-identified with the CID 7050 ``codes`` (113100 when none are given)."""
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "test de-identifier"
    items = []
    for code in codes or ("113100",):
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code, "DCM", "option"
        items.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(items)
    if temporal is not None:
        ds.LongitudinalTemporalInformationModified = temporal
    return ds


def clean_slice(instance: int = 1) -> Dataset:
    """A slice that passes the audit: declared, pseudonymised, 2.25 UIDs, no private attributes."""
    ds = ct_slice(study_uid="2.25.1234567890", series_uid="2.25.1234567891", instance=instance,
                  position=(-100.0, -120.0, instance * 2.5), patient_id="SUBJ-001", sop_uid=f"2.25.99{instance}")
    del ds.SeriesDescription  # X in the Basic Profile
    ds.PatientName = "SUBJ-001"
    return declared(ds)


def with_trailing_private(ds: Dataset, *, encapsulated: bool = False) -> Dataset:
    """Private attributes stored after the pixel data (group 7FE1), where a header-only reader stops."""
    if encapsulated:
        ds.file_meta.TransferSyntaxUID = JPEGLosslessSV1
        ds.PixelData = encapsulate([b"\xff\xd8fake-jpeg-frame\xff\xd9"])
        ds["PixelData"].VR = "OB"
    block = ds.private_block(0x7FE1, "ACME_TRAILER", create=True)
    block.add_new(0x01, "LO", "Ivanov^Petr")
    return ds


ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"
DEVICE_SERIAL = "SN-4471-77"


def write_conformance_corpus(folder: Path) -> dict[str, Path]:
    """Planted files whose anonymisation must follow the attribute Types of their IOD: a CT image with a Type 3
    ReferencedStudySequence and a Type 3 DeviceSerialNumber, and one of the Enhanced CT class, where
    DeviceSerialNumber is Type 1 (Enhanced General Equipment)."""
    written = {}
    for name, sop_class in (("ct", None), ("enhanced", ENHANCED_CT)):
        ds = planted_slice(1)
        ds.Manufacturer = "ACME"
        ds.DeviceSerialNumber = DEVICE_SERIAL
        ds.AccessionNumber = "ACC-991"
        study = Dataset()
        study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"   # Detached Study Management
        study.ReferencedSOPInstanceUID = f"{GE_STUDY}.77"
        ds.ReferencedStudySequence = Sequence([study])
        if sop_class is not None:
            ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = sop_class
            ds.ManufacturerModelName = "Scanner 9"
            ds.SoftwareVersions = "1.0"
        path = folder / name / "IM0001.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        written[name] = path
    return written


def with_overlong_element(path: Path, length: int = 0xFFFFFFF0) -> int:
    """Put a private OB element declaring ``length`` bytes just before (7FE0,0010) of the explicit VR little endian
    file at ``path``: a parser that trusts the length reads the pixel data as that element's value. Returns the
    new size of the file."""
    data = path.read_bytes()
    at = data.rindex(b"\xe0\x7f\x10\x00OW") if b"\xe0\x7f\x10\x00OW" in data else data.rindex(b"\xe0\x7f\x10\x00OB")
    creator = struct.pack("<HH", 0x0029, 0x0010) + b"LO" + struct.pack("<H", 4) + b"ACME"
    element = struct.pack("<HH", 0x0029, 0x1010) + b"OB\0\0" + struct.pack("<I", length)
    path.write_bytes(data[:at] + creator + element + data[at:])
    return path.stat().st_size
# --- files and folders named after the patient (PHI_PATH) ------------------------------------------------------

PATH_ID = "98C14734-ASSH"              # COVID-CT-MD names its files after the PatientID
PATH_NAME = "KOWALCZYK^WIESLAWA"
PATH_ACCESSION = "ACC20200417"
PATH_BIRTH = "19580312"
PATH_OTHER_ID = "MRN-000777"
PATH_SECRETS = ("98C14734", "ASSH", "Kowalczyk", "KOWALCZYK", "Wieslawa", "WIESLAWA", "20200417", "19580312",
                "1958-03-12", "12.03.1958", "000777")


def named_slice(instance: int = 1, *, patient_id: str = PATH_ID, name: str | None = PATH_NAME,
                accession: str | None = PATH_ACCESSION, birth_date: str | None = PATH_BIRTH,
                other_ids: tuple[str, ...] = (), other_ids_sequence: tuple[str, ...] = (),
                series_uid: str = "2.25.5550001") -> Dataset:
    """A CT slice whose header carries the identity its file and folder names are to be judged against."""
    ds = ct_slice(study_uid="2.25.5550000", series_uid=series_uid, instance=instance,
                  position=(-100.0, -120.0, instance * 2.5), patient_id=patient_id,
                  sop_uid=f"{series_uid}{instance:03d}")
    if name is not None:
        if not name.isascii():
            ds.SpecificCharacterSet = "ISO_IR 192"   # UTF-8
        ds.PatientName = name
    if accession is not None:
        ds.AccessionNumber = accession
    if birth_date is not None:
        ds.PatientBirthDate = birth_date
    if other_ids:
        ds.OtherPatientIDs = list(other_ids)
    if other_ids_sequence:
        items = []
        for value in other_ids_sequence:
            item = Dataset()
            item.PatientID = value
            items.append(item)
        ds.OtherPatientIDsSequence = Sequence(items)
    return ds


def write_named(root: Path, rel: str, instance: int = 1, **identity: object) -> Path:
    """One slice at ``root/rel`` (folders made), its header from ``named_slice(**identity)``."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    named_slice(instance, **identity).save_as(path, enforce_file_format=True)  # type: ignore[arg-type]
    return path
