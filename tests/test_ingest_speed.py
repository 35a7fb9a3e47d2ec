"""Issue 15, `curator ingest` on P001: what was cut from the whole command is checked here (the JPEG Lossless
decoder in tests/test_convert_decoder.py).

The anonymiser (run on every image ingest converts, and by `curator anonymise`) converted every element's value
through pydicom, though an untabled element whose VR holds no text is never judged (checks.phi_text's
untabled_text_kinds): that conversion was ~40% of its time on P001. Such elements now stay as read; text, UN and
ambiguous VRs are converted and judged as before.
"""

from __future__ import annotations

import io
from pathlib import Path

from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from curator.anonymise.dicom import FilePlan, anonymise_dataset
from tests.dicom_factories import ct_slice

COMMENT = 0x00080418        # TransactionStatusComment, LT: not in the PS3.15 table, free text judged at the top level
TEXT = "Called John Smith on 1970-01-01 about MRN 12345678"


def _read_back(ds: Dataset) -> Dataset:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return dcmread(io.BytesIO(buffer.getvalue()))


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
    assert isinstance(ds.get_item(0x00180050), RawDataElement)
    anonymise_dataset(ds, _plan())
    for tag in (0x00180050, 0x00180060, 0x00280010, 0x00280030):   # SliceThickness, KVP, Rows, PixelSpacing
        assert isinstance(ds.get_item(tag), RawDataElement), hex(tag)
    assert ds.SliceThickness == 1.25
    assert ds.PatientID == "ANON-1"


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
