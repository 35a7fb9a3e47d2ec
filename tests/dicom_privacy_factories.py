"""Tiny DICOM CT files with planted identifiers, for the privacy audit and the anonymiser."""

from __future__ import annotations

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


# --- free text where the PS3.15 table does not look --------------------------------------------------------------

REQUESTED_BY = "CT chest requested by Wisniewski"   # a surname in a code's meaning
CLEAN_MEANING = "CT chest without contrast"          # a meaning with nothing identifying: must stay
PHONE_NOTE = "call back +48 22 555 01 23"
EMAIL_NOTE = "report to t.kowalczyk@example-mail.pl"
NESTED_DATE = "planned on 12.03.2021"


def code_item(value: str, meaning: str, scheme: str = "99LOCAL") -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def with_untabled_text(ds: Dataset) -> Dataset:
    """Free text in sequences the table does not name: a code meaning with a surname, a clean code next to it, an
    LT with a phone number, a nested sequence two levels down with an e-mail (LO) and a date (UT)."""
    requested = code_item("CTCH01", REQUESTED_BY)
    requested.ExtendedCodeMeaning = PHONE_NOTE                           # LT (0008,0108)
    ds.ProcedureCodeSequence = Sequence([requested, code_item("CTCH02", CLEAN_MEANING)])
    protocol = code_item("P-100", "Routine chest")
    inner = code_item("R-1", EMAIL_NOTE)
    inner.ReferenceLocationDescription = NESTED_DATE                    # UT (0018,9901)
    protocol.ConceptNameCodeSequence = Sequence([inner])
    ds.PerformedProtocolCodeSequence = Sequence([protocol])
    return ds


UNTABLED_LOCATIONS = {                                  # location -> the planted value, for with_untabled_text
    "ProcedureCodeSequence[0].CodeMeaning": REQUESTED_BY,
    "ProcedureCodeSequence[0].ExtendedCodeMeaning": PHONE_NOTE,
    "PerformedProtocolCodeSequence[0].ConceptNameCodeSequence[0].CodeMeaning": EMAIL_NOTE,
    "PerformedProtocolCodeSequence[0].ConceptNameCodeSequence[0].ReferenceLocationDescription": NESTED_DATE,
}
