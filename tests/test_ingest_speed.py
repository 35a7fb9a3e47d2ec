"""Issue 15, `curator ingest` on P001: what was cut from the whole command is checked here (the JPEG Lossless
decoder in tests/test_convert_decoder.py).

The anonymiser (run on every image ingest converts, and by `curator anonymise`) converted every element's value
through pydicom, though an untabled element whose VR holds no text is never judged (checks.phi_text's
untabled_text_kinds). Such elements now stay as read when pydicom's conversion could not fail on them (codes, dates,
UIDs, binary data, binary numbers of a whole number of values); text, UN, ambiguous VRs, IS and DS are converted
(and judged) as before.

The images of one series share most of their header bytes, and the profile does to an element what its raw bytes,
the file's character set, SOP class and the plan decide: ingest anonymises a series with one SeriesMemo, so each
image after the first takes what was done to an element already seen instead of converting and judging it again.
The result is the same data set as each image anonymised alone, element for element and byte for byte when written.
The ingest command imports neither the release's checks (the anonymise command's audit and naming) nor nibabel for
masks it was not given.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException
from pydicom.sequence import Sequence

from curator.anonymise.dicom import FilePlan, SeriesMemo, anonymise_dataset
from curator.cli.main import main
from tests.dicom_factories import ct_slice
from tests.ingest_factories import PATIENTS, ct_image, write_study

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


KEY = "k" * 32
KERNEL = 0x00181210         # ConvolutionKernel, LO: untabled text, judged and kept
PATIENT_NAME = 0x00100010


def _series(count: int = 6, size: int = 4) -> list[bytes]:
    """One series as written files: the same patient, study and series in every header; per image its own instance
    UID, number and position, a comment naming someone in every other image, a private element and a coded
    sequence."""
    images = []
    for instance in range(1, count + 1):
        ds = ct_image(patient={**PATIENTS[1], "age": "093Y"}, study_uid="1.2.826.0.1.3680043.8.498.1",
                      series_uid="1.2.826.0.1.3680043.8.498.2", series_number=2, description="BODY 0.8 B31f",
                      kernel="B31f", instance=instance, z=0.8 * instance, size=size)
        if instance % 2:
            ds.add_new(COMMENT, "LT", TEXT)
        ds.add_new(0x00090010, "LO", "ACME 1.0")
        ds.add_new(0x00091001, "LO", f"scanner note {instance}")
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "24627-2", "LN", "CT chest"
        ds.ProcedureCodeSequence = Sequence([code])
        images.append(_write(ds))
    return images


def _anonymised(images: list[bytes], plan: FilePlan, memo: SeriesMemo | None) -> list[tuple[Dataset, dict[str, int]]]:
    done = []
    for data in images:
        ds = dcmread(io.BytesIO(data))
        done.append((ds, anonymise_dataset(ds, plan, memo)))
    return done


def _elements(ds: Dataset) -> list[tuple[int, str, str]]:
    return [(int(e.tag), str(e.VR), repr(e.value) if e.VR != "SQ" else str(len(e.value))) for e in ds.iterall()]


def _same(alone: list[tuple[Dataset, dict[str, int]]], remembered: list[tuple[Dataset, dict[str, int]]]) -> None:
    assert len(alone) == len(remembered)
    for (plain, plain_counts), (memo, memo_counts) in zip(alone, remembered, strict=True):
        assert memo_counts == plain_counts
        assert _elements(memo) == _elements(plain)
        assert _write(memo) == _write(plain)


@pytest.mark.parametrize("retain", [False, True])
def test_a_series_anonymised_with_one_memo_is_each_image_anonymised_alone(retain: bool) -> None:
    images = _series()
    plan = FilePlan(source=Path("a.dcm"), target=Path("a.dcm"), key=b"k" * 32, pseudonym="ANON-1",
                    offset_days=-400, name="a.dcm", retain_patient_characteristics=retain)
    alone = _anonymised(images, plan, None)
    assert alone[0][0].PatientName == "ANON-1" and alone[0][0][COMMENT].value == "ANONYMIZED"
    assert alone[0][0].get("PatientAge") == ("090Y" if retain else None) and alone[0][1]["dates shifted"] > 0
    _same(alone, _anonymised(images, plan, SeriesMemo()))


def test_the_memo_spares_the_later_images_converting_what_the_first_kept() -> None:
    """Regression (issue 15): every image of a series had each of its ~90 header elements converted by pydicom and
    judged again, though the same bytes were kept in the image before."""
    first, second = _anonymised(_series(2), _plan(), SeriesMemo())
    assert not isinstance(first[0].get_item(KERNEL), RawDataElement)   # converted and judged: nothing identifying
    assert isinstance(second[0].get_item(KERNEL), RawDataElement)      # the same bytes: kept as read
    assert second[0].ConvolutionKernel == first[0].ConvolutionKernel == "B31f"
    assert second[0].PatientName == "ANON-1"                             # what was changed is changed again


def test_a_memo_forgets_what_was_done_under_another_plan() -> None:
    images = _series(2)
    memo = SeriesMemo()
    first = FilePlan(source=Path("a"), target=Path("a"), key=b"k" * 32, pseudonym="ANON-1", offset_days=-400)
    other = FilePlan(source=Path("a"), target=Path("a"), key=b"j" * 32, pseudonym="ANON-2", offset_days=-800)
    (_, _), = _anonymised(images[:1], first, memo)
    ((ds, counts),) = _anonymised(images[1:], other, memo)
    ((alone, alone_counts),) = _anonymised(images[1:], other, None)
    assert ds.PatientName == "ANON-2" and ds.StudyDate == alone.StudyDate != "20200417"
    assert counts == alone_counts and _write(ds) == _write(alone)


def test_a_memo_holds_no_pixel_data_and_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review of issue 15's memo: the raw value of every top-level element was a key, pixel data included (20 slices
    of 512 x 512 uint16 kept 10 MB alive after their data sets were gone), and the memo had no bound. Values longer
    than MAX_REMEMBERED are done afresh; at most MAX_DONE elements are remembered."""
    from curator.anonymise import dicom as anonymise_dicom

    memo = SeriesMemo()
    _anonymised(_series(4, size=64), _plan(), memo)   # 8 KB of pixel data an image
    assert memo.done and all(len(key[3]) <= anonymise_dicom.MAX_REMEMBERED for key in memo.done)   # type: ignore
    assert not any(key[0] == 0x7FE00010 for key in memo.done)
    monkeypatch.setattr(memo.done, "limit", 8)
    images = _series(3)
    remembered = _anonymised(images, _plan(), memo)
    assert 0 < len(memo.done) <= 8
    _same(_anonymised(images, _plan(), None), remembered)   # forgetting changes nothing done


@pytest.mark.realdata
def test_every_real_series_anonymised_with_a_memo_is_each_file_anonymised_alone(realdata: Path) -> None:
    """All Part 10 files of the real data (Siemens, GE, Philips exports; JPEG lossless, JPEG 2000, enhanced
    multi-frame, UN elements, character sets), one memo per folder as ingest keeps one per series."""
    folders: dict[Path, list[bytes]] = defaultdict(list)
    for path in sorted(realdata.rglob("*")):
        if path.is_file() and path.stat().st_size > 132:
            data = path.read_bytes()
            if data[128:132] == b"DICM":
                folders[path.parent].append(data)
    plan = _plan()
    checked = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for images in folders.values():
            _same(_anonymised(images, plan, None), _anonymised(images, plan, SeriesMemo()))
            checked += len(images)
    assert checked >= 300


# the voxels and header of the volumes the code before issue 15's ingest work (b54f1ce) wrote from these inputs
# (gzip stripped: the compressed bytes depend on the ISA-L build as well)
FACTORY_NIFTI_SHA256 = "47d7d945a94a03c323cd329e85042886b854f39af2dfc3b2d59571a6376d222c"
P001_NIFTI_SHA256 = "72abdacb7b340b49808a2dbd8ffdb16d86e9dfd7140f321251b9bf5f0442b94f"
P001_VOLUME = "volumes/ANON-3278343093/b1597a047f.nii.gz"   # under the benchmark's key


def _ingest(source: Path, out: Path, key: str = KEY) -> dict[str, object]:
    result = CliRunner().invoke(main, ["ingest", str(source), str(out), "--category", "CT-1", "--jobs", "1",
                                       "--min-images", "2", "--format", "json"], env={"CURATOR_ANON_KEY": key})
    assert result.exit_code == 0, result.output
    return json.loads((out / "provenance.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _studies(provenance: dict[str, object], out: Path) -> list[dict[str, object]]:
    """Each study's provenance record, checked against its file, without the names that depend on random UIDs."""
    studies = [study for unit in provenance["units"] for study in unit["studies"]]  # type: ignore[attr-defined]
    for study in studies:
        assert study.pop("sha256") == hashlib.sha256((out / study.pop("volume")).read_bytes()).hexdigest()
    return studies


def test_ingest_writes_what_it_wrote_before_issue_15s_work(tmp_path: Path) -> None:
    import nibabel
    import pydicom

    write_study(tmp_path / "raw" / "case01", PATIENTS[0], images=40)
    out = tmp_path / "source"
    provenance = _ingest(tmp_path / "raw", out)
    (volume,) = out.glob("volumes/*/*.nii.gz")
    assert hashlib.sha256(gzip.decompress(volume.read_bytes())).hexdigest() == FACTORY_NIFTI_SHA256
    assert _studies(provenance, out) == [{
        "age": 62, "pseudonym": "ANON-9775364860", "sex": "M", "shape": [32, 32, 40], "spacing": [0.8, 0.8, 0.8],
        "notes": ["40 images (instance 1 .. instance 40) converted to 32 x 32 x 40 voxels of 0.8 x 0.8 x 0.8000 mm, "
                  "slices ordered by position along the slice normal", "HU = stored x 1 + -1024"],
        "series": {"images": 40, "instance_rule": "every image", "kept": 40, "number": 2}}]
    with (out / "studies.csv").open(encoding="utf-8", newline="") as handle:
        assert [(r["category"], r["sex"], r["age"], r["patient"]) for r in csv.DictReader(handle)] == [
            ("CT-1", "M", "62", "ANON-9775364860")]
    assert provenance["libraries"] == {"pydicom": pydicom.__version__, "nibabel": nibabel.__version__,  # type: ignore[comparison-overlap]
                                       "numpy": np.__version__}


@pytest.mark.realdata
def test_ingest_of_p001_writes_what_it_wrote_before_issue_15s_work(realdata: Path, tmp_path: Path) -> None:
    p001 = realdata / "covid_ct_md_dicom" / "Sample data" / "COVID-19 subjects" / "P001"
    out = tmp_path / "source"
    provenance = _ingest(p001, out, key="benchmark-key-0123456789")
    assert hashlib.sha256(gzip.decompress((out / P001_VOLUME).read_bytes())).hexdigest() == P001_NIFTI_SHA256
    (study,) = _studies(provenance, out)
    assert study["shape"] == [512, 512, 148] and study["series"] == {
        "images": 148, "instance_rule": "every image", "kept": 148, "number": 4}


def test_the_ingest_command_loads_no_check_it_does_not_run(tmp_path: Path) -> None:
    """Regression (issue 15): ingest imported the anonymise command's audit and naming (the release checks behind
    them, ~0.2 s CPU), nibabel for masks it was not given and for the volume's header, and the dataset card's
    model for the wording of an error in the rules."""
    write_study(tmp_path / "raw" / "case01", PATIENTS[0], images=3)
    code = (
        "import sys\n"
        "from curator.cli.entry import main\n"
        "try:\n"
        f"    main(['ingest', {str(tmp_path / 'raw')!r}, {str(tmp_path / 'out')!r}, '--category', 'CT-1', "
        "'--jobs', '1', '--min-images', '2'])\n"
        "except SystemExit as done:\n"
        "    print('EXIT', done.code)\n"
        "heavy = ('curator.checks.privacy_dicom', 'curator.checks.phi_paths', 'curator.io.dicom_audit', "
        "'curator.io.facts', 'curator.anonymise.paths', 'curator.ingest.masks', 'curator.io.card', "
        "'curator.models.card', 'nibabel')\n"
        "print('HEAVY', sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          env={**os.environ, "CURATOR_ANON_KEY": KEY})
    assert "EXIT 0" in done.stdout and "HEAVY []" in done.stdout, done.stdout + done.stderr
    assert len(list((tmp_path / "out").glob("volumes/*/*.nii.gz"))) == 1


@pytest.mark.parametrize("dtype", ["u1", "<i2", "<i4", "<f4", "<f8", "i1", "<u2", "<u4", "<i8", "<u8"])
def test_the_nifti_header_is_nibabels_byte_for_byte(dtype: str) -> None:
    """write_nifti makes the header without importing nibabel (issue 15); it must be what nibabel made before:
    random affines (scaled, rotated, sheared, flipped), every axis flip, 2 to 7 dimensions, a description."""
    from curator.io.nifti_writer import _nibabel_block, header_block

    rng = np.random.default_rng(15)
    affines = []
    for _ in range(30):
        affine = np.eye(4)
        affine[:3, :3] = rng.normal(size=(3, 3)) * rng.uniform(0.1, 5.0)
        affine[:3, 3] = rng.normal(size=3) * 100
        affines.append(affine)
    affines += [np.diag([*(0.7 * np.array(signs)), 1.0]) for signs in np.ndindex(2, 2, 2)
                for signs in [[1 - 2 * bit for bit in signs]]]
    for shape in ((3, 4), (5, 6, 7), (2, 3, 4, 5), (1, 1, 1, 1, 1, 1, 2)):
        array = np.zeros(shape, dtype=dtype)
        for number, affine in enumerate(affines):
            text = b"x" * (number % 81)
            assert header_block(array, affine, text) == _nibabel_block(array, affine, text), (shape, number)


@pytest.mark.parametrize("affine", [np.diag([1.0, 1.0, 0.0, 1.0]), np.zeros((4, 4)),
                                    np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])])
def test_a_singular_affine_is_refused_with_a_plain_error_and_nothing_written(tmp_path: Path,
                                                                            affine: np.ndarray) -> None:
    """nibabel refused these (HeaderDataError); the header made without it said "SVD did not converge"."""
    from curator.io.nifti_writer import write_nifti

    with warnings.catch_warnings(), pytest.raises(ValueError, match="affine is singular"):
        warnings.simplefilter("ignore", RuntimeWarning)   # numpy's, on the way (invalid value in a division)
        write_nifti(tmp_path / "v.nii.gz", np.zeros((4, 4, 3), np.int16), affine)
    assert list(tmp_path.iterdir()) == []
