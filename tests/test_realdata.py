"""The real MosMedData COVID19_1110 registry and masks (../shared/realdata/mosmed_michaelwfry)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from curator.io.nifti import read_header
from curator.io.registry import read_registry
from tests.reports import validate_report

pytestmark = pytest.mark.realdata


@pytest.fixture
def mosmed(realdata: Path, tmp_path: Path) -> Path:
    """A copy of the real registry (xlsx + csv) and the 50 real masks; the 1110 studies are not available."""
    real = realdata / "mosmed_michaelwfry"
    root = tmp_path / "mosmed"
    root.mkdir()
    for name in ("dataset_registry.xlsx", "dataset_registry.csv"):
        shutil.copyfile(real / name, root / name)
    shutil.copytree(real / "masks", root / "masks")
    return root


def test_real_registry_and_masks(mosmed: Path) -> None:
    report = validate_report(mosmed, exit_code=1)
    assert report["profile"] == "mosmed"
    assert report["stats"]["registry_rows"] == 1110
    assert report["stats"]["categories"] == {"CT-0": 254, "CT-1": 684, "CT-2": 125, "CT-3": 45, "CT-4": 2}
    missing = [f for f in report["findings"] if f["code"] == "FILE_MISSING"]
    assert len(missing) == 1110
    assert all(f["path"].startswith("studies/CT-") and f["severity"] == "error" for f in missing)
    codes = {f["code"] for f in report["findings"]}
    # the masks themselves are fine: readable, intact, listed; the xlsx and its CSV twin agree. The privacy audit
    # reports what the real files carry (see tests/test_privacy_files.py): dcm2niix's Time= in descrip, the gzip
    # FNAME, the registry's authors
    assert codes == {"FILE_MISSING", "REQUIRED_FILE_MISSING", "MANIFEST_MISSING", "PHI_NIFTI_TEXT", "PHI_GZIP_HEADER",
                     "PHI_DOCUMENT_METADATA"}


def test_real_csv_alone_reads_the_same(mosmed: Path) -> None:
    (mosmed / "dataset_registry.xlsx").unlink()
    xlsx = read_registry(Path(__file__).parents[2] / "shared/realdata/mosmed_michaelwfry/dataset_registry.xlsx",
                         ["study_id", "category", "study_file", "mask_file"])
    csv = read_registry(mosmed / "dataset_registry.csv", ["study_id", "category", "study_file", "mask_file"])
    def cells(table):  # the CSV holds text, the xlsx numbers: compare as the registry check does
        return [{k: None if v is None else str(v) for k, v in row.items()} for _, row in table.rows]

    assert len(xlsx.rows) == 1110 and cells(xlsx) == cells(csv)
    assert xlsx.sheet == "MosMedData COVID19_1110"


def test_real_mask_headers(realdata: Path) -> None:
    masks = sorted((realdata / "mosmed_michaelwfry/masks").glob("*.nii.gz"))
    assert len(masks) == 50
    for path in masks:
        header = read_header(path)
        assert header.shape[:2] == (512, 512) and 33 <= header.shape[2] <= 53
        assert header.datatype == "int16" and header.pixdim_raw[3] == 8.0
        assert header.isize == header.data_bytes      # the gzip trailer agrees with the header


def test_a_damaged_real_mask_is_caught(mosmed: Path) -> None:
    mask = mosmed / "masks/study_0255_mask.nii.gz"
    data = mask.read_bytes()
    mask.write_bytes(data[: len(data) - 100])
    report = validate_report(mosmed, "--select", "image", exit_code=1)
    assert [(f["code"], f["path"]) for f in report["findings"]] == [
        ("IMAGE_TRUNCATED", "masks/study_0255_mask.nii.gz")]
