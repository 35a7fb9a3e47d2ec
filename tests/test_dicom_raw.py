"""The privacy audit reads text elements straight from their raw bytes (``curator.io.dicom_raw``, issue 15): what
it keeps must be exactly what pydicom's own conversion of each element gives, padding, backslashes, character sets
and all, or the element must take pydicom's road."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from curator.io import dicom as dicom_files
from curator.io import dicom_audit
from curator.io.dicom import dicom_kind
from curator.io.dicom_raw import raw_string, raw_text
from tests.dicom_factories import ct_slice
from tests.dicom_privacy_factories import AWKWARD_VALUES, planted_slice, with_awkward_text

CHARSETS = {None: "ascii", "ISO_IR 100": "latin-1", "ISO_IR 192": "utf-8", "ISO_IR 144": "iso8859-5"}
EXTRA = {None: "", "ISO_IR 100": " Müller^Jörg", "ISO_IR 192": " Смирнов^Игорь", "ISO_IR 144": " Кузнецова"}


def _audit(path: Path, *, converted: bool) -> list[dicom_audit.AuditElement]:
    """The audit's elements of the file: read raw (the fast road), or with every element converted by pydicom first
    (``Dataset.iterall`` converts each element in place), which sends every element down pydicom's road."""
    ds = dcmread(path, stop_before_pixels=True)
    if converted:
        for _ in ds.iterall():
            pass
        assert not any(isinstance(raw, RawDataElement) for _, raw in ds.items())
    notes: list[str] = []
    elements = [*dicom_audit._walk(ds.file_meta, "", True, notes), *dicom_audit._walk(ds, "", False, notes)]
    assert notes == []
    return elements


@pytest.mark.parametrize("charset", list(CHARSETS))
@pytest.mark.parametrize("value", AWKWARD_VALUES)
def test_raw_text_is_pydicoms_conversion(tmp_path: Path, value: str, charset: str | None) -> None:
    path = tmp_path / "awkward.dcm"
    text = value + EXTRA[charset] if value.strip("\0 \\") else value
    with_awkward_text(planted_slice(1), text, charset).save_as(path, enforce_file_format=True)
    assert _audit(path, converted=False) == _audit(path, converted=True)


def test_awkward_values_are_kept_where_planted(tmp_path: Path) -> None:
    path = tmp_path / "awkward.dcm"
    with_awkward_text(planted_slice(1), "a\\ b \\c  ", "ISO_IR 100").save_as(path, enforce_file_format=True)
    values = {e.location: e.value for e in _audit(path, converted=False)}
    assert values["StudyDescription"] == "a\\b\\c"                       # LO: each value stripped
    assert values["ImageComments"] == "a\\ b \\c"                        # LT: one value, the backslashes kept
    assert values["ProcedureCodeSequence[0].CodeMeaning"] == "a\\b\\c"
    assert values["(0029,1002)"] == "a\\ b \\c"


def test_plain_values_take_the_fast_road() -> None:
    """ASCII in any character set, and Latin-1 in ISO_IR 100, are read from the bytes; an escape sequence (ISO 2022)
    or other bytes outside ASCII are left to pydicom."""
    assert raw_text("LO", b"Ivanov^Petr \\ ward 5\0", "iso8859") == "Ivanov^Petr\\ward 5"
    assert raw_text("LT", b" line one\\two \0 ", ["iso8859"]) == "line one\\two"
    assert raw_text("AE", b" STORE \\ SCP ", []) == "STORE\\SCP"
    assert raw_text("UR", b"http://x/ ", "iso_ir_192") == "http://x/"
    assert raw_text("SH", "Jörg".encode("latin-1"), ["latin_1"]) == "Jörg"
    assert raw_text("SH", "Jörg".encode(), ["UTF8"]) is None
    assert raw_text("SH", b"\x1b$B", ["iso8859", "iso2022_jp"]) is None
    assert raw_text("AE", "Jörg".encode("latin-1"), ["latin_1"]) is None
    assert raw_string(b"1.2.840.10008.1.2\\2.25.1 \0") == "1.2.840.10008.1.2\\2.25.1"   # UI, CS, DA, TM ...
    assert raw_string(b" ORIGINAL \\ PRIMARY\\AXIAL  ") == "ORIGINAL\\PRIMARY\\AXIAL"


def test_private_creators_read_from_raw_bytes(tmp_path: Path) -> None:
    """The creators of private blocks are read from their raw bytes too: each element names its own block's."""
    ds = planted_slice(1)
    second = ds.private_block(0x0009, "OTHER_VENDOR", create=True)
    second.add_new(0x05, "LO", "second block")
    path = tmp_path / "two-blocks.dcm"
    ds.save_as(path, enforce_file_format=True)
    elements = _audit(path, converted=False)
    creators = {e.location: e.creator for e in elements if e.is_private and not e.is_private_creator}
    assert creators == {"(0009,1001)": "ACME_IDENT", "(0009,1105)": "OTHER_VENDOR", "(0019,1023)": "GEMS_ACQU_01"}
    assert _audit(path, converted=False) == _audit(path, converted=True)


def test_a_dataset_without_raw_elements_is_walked_alike() -> None:
    ds = Dataset()
    ds.PatientName = "Ivanov^Petr"
    notes: list[str] = []
    assert [e.value for e in dicom_audit._walk(ds, "", False, notes)] == ["Ivanov^Petr"]


def _walked(path: Path, *, converted: bool) -> tuple[list[dicom_audit.AuditElement], list[str]]:
    ds = dcmread(path, stop_before_pixels=True)
    if converted:
        for _ in ds.iterall():
            pass
    notes: list[str] = []
    return [*dicom_audit._walk(ds.file_meta, "", True, notes), *dicom_audit._walk(ds, "", False, notes)], notes


@pytest.mark.realdata
def test_real_files_read_raw_as_pydicom_converts_them(realdata: Path) -> None:
    """Every real DICOM file of the collection (Siemens JPEG lossless with private blocks, GE with gantry tilt,
    JPEG 2000, nine transfer syntaxes, pydicom's test files): the audit's elements read raw are those of pydicom's
    conversion of every element."""
    files = [p for p in sorted(realdata.rglob("*")) if p.is_file() and dicom_kind(p) == "part10"]
    for path in files:
        assert _walked(path, converted=False) == _walked(path, converted=True), path
    assert len(files) >= 250


HEADER_VALUES: dict[str, tuple[str, bytes]] = {   # keyword -> (VR, raw bytes), each a value the header reads oddly
    "PixelSpacing": ("DS", b"0.7\\x "), "ImagePositionPatient": ("DS", b"1e400\\0\\0 "),
    "ImageOrientationPatient": ("DS", b"1\\0\\0\\0\\1"), "InstanceNumber": ("IS", b"1.5 "),
    "SeriesNumber": ("IS", b" 7  "), "NumberOfFrames": ("IS", b"0 "), "GantryDetectorTilt": ("DS", b"nan "),
    "Rows": ("US", b"\x08\x00\x08\x00"), "SeriesDescription": ("LO", b"Chest \\ 2.5\0"),
    "SOPInstanceUID": ("UI", b"1.2.3\0"), "ImageType": ("CS", b"original\\ PRIMARY \\AXIAL "),
    "PatientID": ("LO", "Müller-7".encode("latin-1")), "Modality": ("CS", b"ct"), "StudyInstanceUID": ("UI", b""),
}


def _headers(path: Path, rel: str) -> tuple[object, object]:
    """The header of the file read by the fast accessor (``interpret``) and by pydicom's own ``ds.get`` on a fresh
    parse each (``_header`` straight)."""
    fast = dicom_files.interpret(rel, dcmread(path, stop_before_pixels=True), None)
    try:
        plain: object = dicom_files._header(rel, dcmread(path, stop_before_pixels=True), None)
    except Exception as error:   # as interpret words it
        plain = f"the DICOM header cannot be interpreted: {error}"
    return fast, plain


@pytest.mark.parametrize("keyword", list(HEADER_VALUES))
def test_header_values_read_raw_as_pydicom_gets_them(tmp_path: Path, keyword: str) -> None:
    """The series header's values read straight by pydicom's converter (issue 15) are those ``ds.get`` gives,
    awkward ones too: an unparsable or infinite number, a wrong count, a wrong-length US, padding, several values."""
    ds = ct_slice(study_uid="1.2.3", series_uid="1.2.3.4", instance=1, position=(0, 0, 0), tilt=0.0)
    ds.NumberOfFrames = 1
    ds.SpecificCharacterSet = "ISO_IR 100"
    vr, value = HEADER_VALUES[keyword]
    tag = BaseTag(tag_for_keyword(keyword) or 0)
    ds[tag] = RawDataElement(tag, vr, len(value), value, 0, False, True)
    path = tmp_path / "odd.dcm"
    ds.save_as(path, enforce_file_format=True)
    fast, plain = _headers(path, "odd.dcm")
    assert fast == plain


@pytest.mark.realdata
def test_real_headers_read_raw_as_pydicom_gets_them(realdata: Path) -> None:
    files = [p for p in sorted(realdata.rglob("*")) if p.is_file() and dicom_kind(p) == "part10"]
    for path in files:
        fast, plain = _headers(path, path.name)
        assert fast == plain, path
    assert len(files) >= 250


def test_converted_elements_are_remembered_by_value_and_place() -> None:
    """The walk remembers the outcome of an element pydicom has already converted (the file meta's, the character
    set: ``dicom_walk.walk``) per process: a different value, the same value at another place or in the file meta
    each get their own outcome, as pydicom's own conversion gives it."""
    def walked(ds: Dataset, prefix: str = "", meta: bool = False) -> list[tuple[str, str]]:
        notes: list[str] = []
        found = [(e.location, e.value) for e in dicom_audit._walk(ds, prefix, meta, notes)]
        assert notes == []
        return found

    first, second = Dataset(), Dataset()
    first.StudyDescription, second.StudyDescription = "CT chest", "Ivanov Petr"
    first.Rows = second.Rows = 512   # kept only in the file meta (no rule looks at it elsewhere)
    assert walked(first) == [("StudyDescription", "CT chest")]
    assert walked(second) == [("StudyDescription", "Ivanov Petr")]
    assert walked(second, "ProcedureCodeSequence[0].") == [("ProcedureCodeSequence[0].StudyDescription", "Ivanov Petr")]
    assert walked(first, meta=True) == [("StudyDescription", "CT chest"), ("Rows", "512")]
    assert walked(first) == [("StudyDescription", "CT chest")]
