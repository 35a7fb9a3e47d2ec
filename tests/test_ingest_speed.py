"""Issue 15, `curator ingest` on P001: what was cut from the whole command is checked here (the JPEG Lossless
decoder in tests/test_convert_decoder.py).

The anonymiser (run on every image ingest converts, and by `curator anonymise`) converted every element's value
through pydicom, though an untabled element whose VR holds no text is never judged (checks.phi_text's
untabled_text_kinds). Such elements now stay as read when pydicom's conversion could not fail on them (codes, dates,
UIDs, binary data, binary numbers of a whole number of values); text, UN, ambiguous VRs, IS and DS are converted
(and judged) as before.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException

from curator.anonymise.dicom import FilePlan, anonymise_dataset
from tests.dicom_factories import ct_slice

COMMENT = 0x00080418        # TransactionStatusComment, LT: not in the PS3.15 table, free text judged at the top level
TEXT = "Called John Smith on 1970-01-01 about MRN 12345678"


def _write(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _read_back(ds: Dataset) -> Dataset:
    return dcmread(io.BytesIO(_write(ds)))


def _plan() -> FilePlan:
    return FilePlan(source=Path("a.dcm"), target=Path("a.dcm"), key=b"k" * 32, pseudonym="ANON-1", offset_days=10,
                    name="a.dcm")


def _slice() -> Dataset:
    ds = ct_slice(study_uid="1.2.3", series_uid="1.2.3.4", instance=1, position=[0.0, 0.0, 0.0])
    ds.SliceThickness, ds.KVP = "1.25", "120"
    return ds


def test_untabled_values_without_text_are_not_converted() -> None:
    """Regression: before, every element of every image went through pydicom's value conversion."""
    ds = _read_back(_slice())
    assert isinstance(ds.get_item(0x00280010), RawDataElement)
    anonymise_dataset(ds, _plan())
    for tag in (0x00280010, 0x00280011, 0x00280100, 0x00080008):   # Rows, Columns, BitsAllocated (US), ImageType (CS)
        assert isinstance(ds.get_item(tag), RawDataElement), hex(tag)
    assert ds.Rows == 8
    assert ds.SliceThickness == 1.25      # IS and DS are still converted: a hostile "1e400" fails the file as before
    assert ds.PatientID == "ANON-1"


def test_a_binary_number_of_a_wrong_length_still_fails_the_file() -> None:
    """pydicom's conversion refuses it; keeping it unconverted would have let it through."""
    ds = _slice()
    ds.add_new(0x00280101, "US", 12)      # BitsStored
    raw = bytearray(_write(ds))
    at = raw.index(b"\x28\x00\x01\x01US\x02\x00")
    raw[at + 6:at + 10] = b"\x03\x00\x0c\x00"   # length 3: not a whole number of 2-byte values
    raw[at + 10:at + 10] = b"\x00"
    damaged = dcmread(io.BytesIO(bytes(raw)))
    with pytest.raises(BytesLengthException):
        anonymise_dataset(damaged, _plan())


def test_untabled_text_is_still_judged_whether_its_vr_is_lt_or_un() -> None:
    written = _slice()
    written.add_new(COMMENT, "LT", TEXT)
    as_lt = _read_back(written)
    written[COMMENT].VR = "UN"
    written[COMMENT].value = TEXT.encode("ascii")
    as_un = _read_back(written)
    assert as_un.get_item(COMMENT).VR == "UN"
    anonymise_dataset(as_lt, _plan())
    anonymise_dataset(as_un, _plan())
    assert as_lt[COMMENT].value != TEXT
    assert as_un[COMMENT].value == as_lt[COMMENT].value
