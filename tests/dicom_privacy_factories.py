"""Tiny DICOM CT files with planted identifiers, for the privacy audit and the anonymiser."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import ImplicitVRLittleEndian, JPEGLosslessSV1

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


# --- the planted corpus: identifiers planted into copies of real DICOM files ------------------------------------

CYRILLIC_144 = "Кузнецова^Анна"                      # ISO_IR 144 (ISO 8859-5)
CYRILLIC_144_TEXT = "КТ по направлению Кузнецовой А.В."
CYRILLIC_192 = "Смирнов^Игорь"                       # ISO_IR 192 (UTF-8)
CYRILLIC_192_TEXT = "Назначил Смирнов И.П."
DIRTY_ID = "MRN-7734521"
PLANTED_BIRTH = "19450312"
CORPUS_IDENTIFIERS = ("Kuznetsova Anna", "Smirnov Igor", DIRTY_ID, "1945-03-12", "t.kowalczyk@example-mail.pl")


@dataclass(frozen=True)
class Plant:
    """One identifier planted into one file of the corpus."""

    kind: str                   # the class: "free text in untabled sequences", "marked-but-dirty PatientID", ...
    path: str                   # the file, relative to the corpus root
    location: str               # where validate must report it (the keyword path), "" for private elements
    value: str
    encoding: str = "ascii"     # how the value is stored, for the byte search of the anonymised copy

    @property
    def encoded(self) -> bytes:
        return self.value.encode(self.encoding)


@dataclass
class PlantedCorpus:
    root: Path
    plants: list[Plant]
    identifiers: Path           # the secret list naming the planted people, IDs, date and e-mail


# The folder of each case in the corpus. phi-paths: paths with names, IDs and birth dates go here (e.g.
# "case02": "Kuznetsova_Anna_19450312"); add a Plant of kind "path" for each so the corpus test counts it.
CORPUS_FOLDERS: dict[str, str] = {f"case0{n}": f"case0{n}" for n in range(1, 6)}


def _private_date(ds: Dataset, value: str) -> None:
    block = ds.private_block(0x0011, "ACME_PLANTED", create=True)
    block.add_new(0x12, "DA", value)                 # (0011,1012)


def plant_corpus(realdata: Path, root: Path, identifiers: Path, folders: dict[str, str] | None = None
                 ) -> PlantedCorpus:
    """Copies of five real DICOM files from ``realdata`` with identifiers planted in them, under ``root``, and the
    identifier list naming them at ``identifiers`` (outside ``root``)."""
    names = {**CORPUS_FOLDERS, **(folders or {})}
    plants: list[Plant] = []

    def write(case: str, ds: Dataset, name: str) -> str:
        rel = f"{names[case]}/{name}"
        (root / names[case]).mkdir(parents=True, exist_ok=True)
        ds.save_as(root / rel, enforce_file_format=True)
        return rel

    # case01 (pydicom CT_small, ISO_IR 100): free text in untabled sequences, an e-mail, a phone, a date
    ds = with_untabled_text(dcmread(realdata / "pydicom_ct_files/pydicom_3.0.2_test_files/CT_small.dcm"))
    rel = write("case01", ds, "CT_small.dcm")
    plants += [Plant("free text in untabled sequences", rel, location, value)
               for location, value in UNTABLED_LOCATIONS.items()]

    # case02 (COVID-CT-MD, JPEG lossless): Cyrillic in ISO_IR 144, a birth date in a DA element and a private one
    source = next(iter(sorted((realdata / "covid_ct_md_dicom/Sample data/COVID-19 subjects/P001").glob("*.dcm"))))
    ds = dcmread(source)
    ds.SpecificCharacterSet = "ISO_IR 144"
    ds.PatientName = CYRILLIC_144
    ds.PatientBirthDate = PLANTED_BIRTH
    ds.ProcedureCodeSequence = Sequence([code_item("CT-01", CYRILLIC_144_TEXT)])
    _private_date(ds, PLANTED_BIRTH)
    rel = write("case02", ds, "slice1.dcm")
    plants += [Plant("Cyrillic, ISO_IR 144", rel, "PatientName", CYRILLIC_144, "iso8859_5"),
               Plant("Cyrillic, ISO_IR 144", rel, "ProcedureCodeSequence[0].CodeMeaning", CYRILLIC_144_TEXT,
                     "iso8859_5"),
               Plant("dates in DA elements", rel, "PatientBirthDate", PLANTED_BIRTH),
               Plant("dates in DA elements", rel, "", PLANTED_BIRTH)]

    # case03 (dicom2nifti, ISO_IR 192 already): Cyrillic in UTF-8, in a tabled name and in untabled free text
    ds = dcmread(realdata / "dicom2nifti_ct_series/gantrytilting/001/IM-0001-0001.dcm")
    ds.PatientName = CYRILLIC_192
    requested = code_item("CT-02", "CT chest")
    requested.ExtendedCodeMeaning = CYRILLIC_192_TEXT
    ds.RequestedProcedureCodeSequence = Sequence([requested])
    rel = write("case03", ds, "IM-0001.dcm")
    plants += [Plant("Cyrillic, ISO_IR 192", rel, "PatientName", CYRILLIC_192, "utf-8"),
               Plant("Cyrillic, ISO_IR 192", rel, "RequestedProcedureCodeSequence[0].ExtendedCodeMeaning",
                     CYRILLIC_192_TEXT, "utf-8")]

    # case04 (GE head, marked PatientIdentityRemoved YES by its publisher): a record number as PatientID
    ds = dcmread(realdata / "dcm_qa_ct_ge_head/In/GE/01.dcm")
    ds.DeidentificationMethod = "publisher's de-identification"   # so the marking is a full claim
    ds.PatientID = DIRTY_ID
    rel = write("case04", ds, "01.dcm")
    plants.append(Plant("marked-but-dirty PatientID", rel, "PatientID", DIRTY_ID))

    # case05 (lungmask, written in implicit VR): a private date whose VR a reader cannot know, and an e-mail
    ds = dcmread(realdata / "lungmask_testdata/testdata/0.dcm")
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    _private_date(ds, PLANTED_BIRTH)
    note = code_item("N-1", "Lung")
    note.add_new(0x00080108, "LT", EMAIL_NOTE)          # ExtendedCodeMeaning
    ds.AnatomicRegionSequence = Sequence([note])
    rel = write("case05", ds, "0.dcm")
    plants += [Plant("dates in DA elements", rel, "", PLANTED_BIRTH),
               Plant("e-mails and phones", rel, "AnatomicRegionSequence[0].ExtendedCodeMeaning", EMAIL_NOTE)]

    identifiers.write_text("\n".join(CORPUS_IDENTIFIERS) + "\n", encoding="utf-8")
    return PlantedCorpus(root, plants, identifiers)


def write_undecodable(path: Path, ds: Dataset) -> Path:
    """DS saved with one element its reader cannot decode: (0018,9087) Diffusion b-value stored as UN with 4
    bytes, which the dictionary's VR FD (8 bytes a value) cannot take. pydicom will not write that, so a private
    UN element is written and its tag rewritten in the bytes."""
    ds.add_new(0x00091010, "UN", b"abcd")
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    data = path.read_bytes()
    marker = b"\x09\x00\x10\x10UN"
    assert data.count(marker) == 1
    path.write_bytes(data.replace(marker, b"\x18\x00\x87\x90UN"))
    return path


def write_damaged_patients(root: Path, count: int, vary: Callable[[int, Dataset], Dataset] | None = None) -> Path:
    """P1: ``count`` planted slices (``vary`` may change each; 7 and 8 get private elements after the pixel data,
    native and encapsulated), IM0003.dcm cut short after its file meta; P2: an undecodable element (IM0001.dcm), an
    empty data set (IM0002.dcm) and a text file named notes.dcm; a README."""
    folder = root / "P1"
    folder.mkdir(parents=True)
    for instance in range(1, count + 1):
        ds = planted_slice(instance, z=instance * 2.5)
        if instance in (7, 8):
            ds = with_trailing_private(ds, encapsulated=instance == 8)
        if vary is not None:
            ds = vary(instance, ds)
        ds.save_as(folder / f"IM{instance:04d}.dcm", enforce_file_format=True)
    cut = folder / "IM0003.dcm"
    cut.write_bytes(cut.read_bytes()[:300])   # the file meta, then nothing
    write_undecodable(root / "P2" / "IM0001.dcm", planted_slice(count + 1, z=40.0))
    empty = Dataset()
    empty.file_meta = planted_slice(count + 2).file_meta
    empty.save_as(root / "P2" / "IM0002.dcm", enforce_file_format=True)
    (root / "P2" / "notes.dcm").write_text("not an image\n" * 20, encoding="utf-8")
    (root / "README.md").write_text("# Release\n", encoding="utf-8")
    return root


# values whose padding and separators each text converter of pydicom treats its own way (issue 15: the audit reads
# text straight from the raw bytes and must give exactly what pydicom's conversion gives)
AWKWARD_VALUES = ("Ivanov^Petr", "  lead", "trail  ", "a\\ b \\c  ", "x\0 \0", "a \0 \0", "\0", "   ", " \\ ",
                  "tab\tin", "end\\")
AWKWARD_VRS = {0x00081030: "LO", 0x00080080: "LO", 0x00081010: "SH", 0x00204000: "LT", 0x00081080: "LO",
               0x00321060: "LO", 0x0040A160: "UT", 0x00089123: "UI", 0x00080054: "AE", 0x00081190: "UR",
               0x00081048: "PN", 0x00081050: "PN", 0x00321032: "PN", 0x001021B0: "LT", 0x00400254: "LO",
               0x00181030: "LO", 0x0040A124: "UI", 0x00080016: "UI", 0x00101060: "PN", 0x00102000: "LO",
               0x00321033: "LO", 0x00100021: "LO", 0x00400280: "ST", 0x00081040: "LO", 0x00189185: "ST",
               0x0008103E: "LO", 0x00180015: "CS", 0x00380500: "LO", 0x00200010: "SH", 0x00080050: "SH"}


def with_awkward_text(ds: Dataset, value: str, charset: str | None = None) -> Dataset:
    """``ds`` with ``value`` (its padding and backslashes as given) in text elements of every kind the audit reads
    from raw bytes (LO, SH, LT, ST, UT, AE, UR, PN, UI, CS), top level, in a sequence item and in a private block,
    in character set ``charset``."""
    if charset:
        ds.SpecificCharacterSet = charset
    for tag, vr in AWKWARD_VRS.items():
        if vr in ("UI", "CS", "AE", "UR"):   # ASCII-only VRs get the ASCII part of the value
            ds.add_new(tag, vr, value.encode("ascii", "ignore").decode("ascii"))
        else:
            ds.add_new(tag, vr, value)
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = "X1", "99LOCAL", value
    item.add_new(0x00400254, "LO", value)
    ds.ProcedureCodeSequence = Sequence([item])
    block = ds.private_block(0x0029, "ACME " + value.strip("\0 \\")[:8], create=True)
    block.add_new(0x01, "LO", value)
    block.add_new(0x02, "LT", value)
    block.add_new(0x03, "SH", value)
    return ds
