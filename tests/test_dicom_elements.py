"""Our own reader of the common DICOM header (curator.io.dicom_elements, issue 15) must give exactly what pydicom's
parse gives to the fast tier of profile dicom (the ``DicomFile`` header facts and the ``AuditedFile`` of
``dicom_audit.parse_together``), or decline so that pydicom reads the file: on every real DICOM file, on the
factories' files, on hostile bytes and on a real file cut at every byte of its header."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ImplicitVRLittleEndian

from curator.io import dicom_audit, dicom_elements, dicom_raw
from curator.io.dicom import PART10, dicom_head
from tests.dicom_factories import UNDEFINED, insert_before_pixels, nested_sequences, raw_element, write_series
from tests.dicom_privacy_factories import (
    AWKWARD_VALUES,
    planted_slice,
    with_awkward_text,
    with_overlong_element,
    with_trailing_private,
    with_untabled_text,
    write_conformance_corpus,
)
from tests.hostile import run_bounded, snapshot

P001 = "covid_ct_md_dicom/Sample data/COVID-19 subjects"


def _both(root: Path, rel: str) -> tuple[object, object]:
    """(what the fast tier reads with our reader, what it reads with pydicom's parse alone)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = dicom_audit._together(root, rel, True)
        with dicom_raw.pydicom_only():
            theirs = dicom_audit._together(root, rel, True)
    return ours, theirs


def _own(path: Path) -> bool:
    """Whether our reader reads the file (rather than declining it)."""
    head = path.read_bytes()[:dicom_raw.HEAD_CHUNK]
    return dicom_elements.read(head, len(head) < dicom_raw.HEAD_CHUNK) is not None


def _part10(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with path.open("rb") as handle:
                if dicom_head(handle.read(1024)) == PART10:
                    found.append(path.relative_to(root).as_posix())
    return found


@pytest.mark.realdata
def test_every_real_dicom_file_reads_as_pydicom_reads_it(realdata: Path) -> None:
    files = _part10(realdata)
    assert len(files) == 321
    declined = []
    for rel in files:
        ours, theirs = _both(realdata, rel)
        assert ours == theirs, rel
        if not _own(realdata / rel):
            declined.append(rel)
    # a mosaic whose header outgrows the first 64 KiB or uses another syntax (9), a big-endian DICOMDIR (1)
    assert [rel for rel in declined if rel.startswith(P001)] == []
    assert len(declined) == 10, declined
    assert sum(rel.startswith(P001) for rel in files) == 148


def _save(ds: Dataset, path: Path, **options: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True, **options)


def _factory_files(root: Path) -> list[str]:
    """The factories' DICOM files: series, planted slices, trailing private elements, awkward text, sequences,
    untabled text, an implicit VR copy, a long element before the pixels."""
    write_series(root / "series", count=3)
    for index, value in enumerate(AWKWARD_VALUES):
        _save(with_awkward_text(planted_slice(index + 1), value), root / f"awkward/{index}.dcm")
    _save(with_awkward_text(planted_slice(40), "Ivanov\\Петр", "ISO_IR 192"), root / "awkward/utf8.dcm")
    for index, encapsulated in enumerate((False, True)):
        _save(with_trailing_private(planted_slice(20 + index), encapsulated=encapsulated),
              root / f"trailing/{index}.dcm")
    write_conformance_corpus(root / "conformance")
    _save(with_untabled_text(planted_slice(30)), root / "untabled.dcm")
    implicit = planted_slice(31)
    implicit.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    _save(implicit, root / "implicit.dcm", implicit_vr=True, little_endian=True)
    nested = planted_slice(32)
    inner = Dataset()
    inner.PatientName = "Inner^Name"
    outer = Dataset()
    outer.ReferencedSequence = Sequence([inner, Dataset()])   # an empty item too
    nested.OriginalAttributesSequence = Sequence([outer])
    _save(nested, root / "nested.dcm")
    overlong = root / "overlong.dcm"
    _save(planted_slice(33), overlong)
    with_overlong_element(overlong)
    return _part10(root)


def test_factory_files_read_as_pydicom_reads_them(tmp_path: Path) -> None:
    files = _factory_files(tmp_path)
    assert len(files) == 23
    for rel in files:
        ours, theirs = _both(tmp_path, rel)
        assert ours == theirs, rel
    declined = [rel for rel in files if not _own(tmp_path / rel)]
    assert declined == ["overlong.dcm"]   # its length runs past the file: pydicom's road


def _hostile(tmp_path: Path, name: str, raw: bytes) -> Path:
    path = tmp_path / f"{name}.dcm"
    _save(planted_slice(1), path)
    insert_before_pixels(path, raw)
    return path


HOSTILE = {
    "past-the-end": raw_element(0x00291010, "LO", length=0x7FF0),   # an LO longer than the file
    "undefined-text": raw_element(0x00290010, "LO", b"ACME") + raw_element(0x00291010, "UT", b"abcd",
                                                                           length=UNDEFINED),
    "undefined-ob": raw_element(0x00290010, "LO", b"ACME") + raw_element(0x00291010, "OB", b"abcd",
                                                                         length=UNDEFINED),
    "nested-10000": nested_sequences(10_000),
    "no-item-delimiter": nested_sequences(3, delimited=False),
    "odd-vr": struct.pack("<HH", 0x0029, 0x0010) + b"zz" + struct.pack("<H", 4) + b"ACME",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_headers_are_declined_or_read_alike(tmp_path: Path, name: str) -> None:
    path = _hostile(tmp_path, name, HOSTILE[name])
    assert not _own(path)
    ours, theirs = _both(tmp_path, path.name)
    assert ours == theirs


def test_nesting_within_the_bound_is_read_alike(tmp_path: Path) -> None:
    path = _hostile(tmp_path, "nested", nested_sequences(dicom_elements.MAX_DEPTH))
    assert _own(path)
    ours, theirs = _both(tmp_path, path.name)
    assert ours == theirs
    assert isinstance(ours[1], dicom_audit.AuditedFile)
    deepest = [e for e in ours[1].elements if e.location.endswith("(0029,1002)")]
    assert len(deepest) == 1 and deepest[0].value == "deep"
    assert deepest[0].location.count("[0]") == dicom_elements.MAX_DEPTH


def test_hostile_release_is_bounded(tmp_path: Path) -> None:
    release = tmp_path / "release"
    for name, raw in HOSTILE.items():
        _hostile(release / "P1", name, raw)
    before = snapshot(release)
    run = run_bounded(["validate", str(release), "--profile", "dicom", "--no-cache"], cwd=tmp_path, timeout=60)
    run.assert_bounded(exit_code=1, seconds=30, megabytes=150)   # measured 7.7 s (load 11), 75 MB
    assert snapshot(release) == before


@pytest.mark.realdata
def test_a_real_file_cut_at_every_byte_of_its_header(realdata: Path, tmp_path: Path) -> None:
    """Every cut of a real file's header: our reader declines it (pydicom's road, the reference by construction)
    or reads it exactly as pydicom does; no exception escapes it (read() returns)."""
    data = (realdata / P001 / "P001" / "98C14734-ASSH_1.dcm").read_bytes()
    pixels = data.index(b"\xe0\x7f\x10\x00OB")
    read = [cut for cut in range(pixels + 16) if dicom_elements.read(data[:cut], True) is not None]
    # read: a cut at an element boundary (a data set that ends there), or after the whole (7FE0,0010) element
    # header (12 bytes), where pydicom stops at the pixels
    assert read[-4:] == [pixels + 12, pixels + 13, pixels + 14, pixels + 15]
    assert len(read) == 104
    for cut in [*read, pixels, pixels // 2, 400]:
        (tmp_path / f"cut{cut}.dcm").write_bytes(data[:cut])
        ours, theirs = _both(tmp_path, f"cut{cut}.dcm")
        assert ours == theirs, cut


def _same_dataset(ours: object, theirs: object, where: str = "") -> None:
    """Two pydicom data sets built alike: attributes (but the buffer read from), elements (raw elements equal as
    tuples; sequences as sequences of data sets built alike)."""
    from pydicom.dataelem import DataElement

    assert type(ours) is type(theirs), where
    skip = {"_dict", "buffer", "file_meta", "fileobj_type"}
    assert {k: v for k, v in vars(ours).items() if k not in skip} == \
        {k: v for k, v in vars(theirs).items() if k not in skip}, where
    if "file_meta" in vars(theirs):
        _same_dataset(vars(ours)["file_meta"], vars(theirs)["file_meta"], where + "meta.")
    mine, other = ours._dict, theirs._dict   # type: ignore[attr-defined]
    assert list(mine) == list(other), where
    for tag, element in other.items():
        found = mine[tag]
        assert type(found) is type(element), (where, tag)
        if isinstance(element, DataElement) and element.VR == "SQ":
            assert (found.tag, found.VR, found.file_tell, found.is_undefined_length) == \
                (element.tag, element.VR, element.file_tell, element.is_undefined_length), (where, tag)
            assert found.value.is_undefined_length == element.value.is_undefined_length
            assert len(found.value) == len(element.value), (where, tag)
            for index, (a, b) in enumerate(zip(found.value, element.value, strict=True)):
                _same_dataset(a, b, f"{where}{tag}[{index}].")
        else:
            assert found == element, (where, tag)


@pytest.mark.realdata
def test_the_reader_builds_what_pydicom_builds(realdata: Path, tmp_path: Path) -> None:
    """The objects themselves (what downstream code may read beyond today's callers): a real P001 slice with
    undefined-length sequences, the factories' nested, implicit and awkward files."""
    import io

    from pydicom import dcmread

    _factory_files(tmp_path)
    paths = [realdata / P001 / "P001" / "98C14734-ASSH_1.dcm", tmp_path / "nested.dcm", tmp_path / "implicit.dcm",
             tmp_path / "awkward/utf8.dcm", tmp_path / "conformance/ct/IM0001.dcm"]
    for path in paths:
        head = path.read_bytes()[:dicom_raw.HEAD_CHUNK]
        own = dicom_elements.read(head, len(head) < dicom_raw.HEAD_CHUNK)
        assert own is not None, path
        buffer = io.BytesIO(head)
        theirs = dcmread(buffer, stop_before_pixels=True)
        assert own[1] == buffer.tell()
        _same_dataset(own[0], theirs, path.name + ":")
