"""The issue's acceptance run: the real COVID-CT-MD P001 series beside synthetic BODY+LUNG studies, ingested the
MosMed way, then built into a release and validated --deep with no error (the privacy audit included)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner

from curator.cli.main import main
from curator.resources import examples_dir
from tests.ingest_factories import PATIENTS, write_study
from tests.reports import validate_report

pytestmark = pytest.mark.realdata
KEY = {"CURATOR_ANON_KEY": "r" * 32}


def test_p001_and_synthetic_studies_ingest_build_and_validate_deep_without_errors(realdata: Path,
                                                                                 tmp_path: Path) -> None:
    p001 = realdata / "covid_ct_md_dicom" / "Sample data" / "COVID-19 subjects" / "P001"
    export = tmp_path / "export"
    write_study(export / "case01", PATIENTS[0])
    write_study(export / "case02", PATIENTS[1])
    categories = tmp_path / "categories.csv"
    categories.write_text("input,category\nP001,CT-2\ncase01,CT-1\ncase02,CT-0\n", encoding="utf-8")
    source, release = tmp_path / "source", tmp_path / "release"
    runner = CliRunner()
    ingested = runner.invoke(main, ["ingest", str(p001), str(export), str(source), "--series-description", "*BODY*",
                                    "--series-description", "ThorRoutine*", "--every", "10", "--categories",
                                    str(categories), "--card", str(examples_dir() / "demo" / "dataset.yaml"),
                                    "--format", "json"], env=KEY)
    assert ingested.exit_code == 0, ingested.output
    report = json.loads(ingested.output)
    assert {(f["code"], f["path"]) for f in report["findings"]} == {
        ("INGEST_SERIES_LEFT_OUT", "case01"), ("INGEST_SERIES_LEFT_OUT", "case02")}   # the LUNG series
    with (source / "studies.csv").open(encoding="utf-8", newline="") as handle:
        rows = {r["category"]: r for r in csv.DictReader(handle)}
    real = nib.load(source / rows["CT-2"]["study"])
    # P001: 148 images 2 mm apart, instances 1..148; every 10th leaves 14 images 20 mm apart
    assert real.shape == (512, 512, 14)
    assert real.header.get_zooms() == pytest.approx((0.748, 0.748, 20.0), abs=1e-3)
    assert (rows["CT-2"]["sex"], rows["CT-2"]["age"]) == ("M", "39")
    hu = np.asarray(real.dataobj)
    assert hu.dtype == np.int16 and -1100 <= hu.min() < -900 and 0 < np.median(hu[hu > -500]) < 100

    built = runner.invoke(main, ["build", str(source), str(release)])
    assert built.exit_code == 0, built.output
    result = validate_report(release, "--deep", exit_code=0)
    assert result["counts"]["error"] == 0 and result["stats"]["files"] > 0


def test_real_series_of_every_kind_ingest_or_are_refused_with_the_reason(realdata: Path, tmp_path: Path) -> None:
    """Enhanced multi-frame CT, JPEG 2000 with empty UIDs and a tilted series are converted; the GE head (uneven
    spacing) and dicom2nifti's missing-slice and not-a-volume series are refused, each with its reason."""
    inputs = {
        "ect": realdata / "pydicom_ct_files" / "pydicom_data_1.0.0" / "eCT_Supplemental.dcm",
        "ts": realdata / "totalsegmentator_examples" / "example_ct_dicom",
        "tilt": realdata / "dicom2nifti_ct_series" / "gantrytilting" / "001",
        "ge": realdata / "dcm_qa_ct_ge_head" / "In",
        "gap": realdata / "dicom2nifti_ct_series" / "sliceincrement" / "001",
        "flat": realdata / "dicom2nifti_ct_series" / "notavolume" / "001",
    }
    outputs = {}
    for name, path in inputs.items():
        out = tmp_path / name
        result = CliRunner().invoke(main, ["ingest", str(path), str(out), "--category", "CT-0", "--min-images", "2",
                                           "--format", "json"], env=KEY)
        outputs[name] = (result.exit_code, json.loads(result.output), out)
    for name in ("ect", "ts", "tilt"):
        code, report, out = outputs[name]
        assert code == 0, (name, report["findings"])
        (volume,) = sorted(out.rglob("*.nii.gz"))
        assert np.asarray(nib.load(volume).dataobj).dtype == np.int16
    assert nib.load(next(outputs["ect"][2].rglob("*.nii.gz"))).shape == (512, 512, 2)
    assert nib.load(next(outputs["ts"][2].rglob("*.nii.gz"))).shape[2] == 20
    tilted = json.loads((outputs["tilt"][2] / "provenance.json").read_text(encoding="utf-8"))
    assert any("tilt" in note for note in tilted["units"][0]["studies"][0]["notes"])
    reasons = {name: " ".join(f["message"] for f in outputs[name][1]["findings"] if f["severity"] == "error")
               for name in ("ge", "gap", "flat")}
    assert all(outputs[name][0] == 1 for name in reasons)
    assert "unevenly spaced" in reasons["ge"] and "--uneven" in reasons["ge"]
    assert "missing slice between z = 28.11 and 38.11 mm" in reasons["gap"]
    assert "one position" in reasons["flat"]


def test_totalsegmentator_mask_in_dcm2niix_order_is_reordered_onto_the_ingested_series(realdata: Path,
                                                                                        tmp_path: Path) -> None:
    """The published segmentation of the 20-slice Siemens series is LAS (dcm2niix's order); curator's volume of the
    same series is LPS. Same world grid: the mask is taken, its rows reversed, and provenance says so."""
    ts = realdata / "totalsegmentator_examples"
    seg = nib.load(ts / "example_seg_dicom.nii.gz")
    labels = np.asarray(seg.dataobj)
    lesion = (labels == np.bincount(labels[labels > 0]).argmax()).astype(np.uint8)   # its largest organ, as {0, 1}
    nib.save(nib.Nifti1Image(lesion, seg.affine, seg.header), tmp_path / "organ.nii.gz")
    categories = tmp_path / "categories.csv"
    categories.write_text("input,category,mask\nexample_ct_dicom,CT-1,organ.nii.gz\n", encoding="utf-8")
    out = tmp_path / "source"
    result = CliRunner().invoke(main, ["ingest", str(ts / "example_ct_dicom"), str(out), "--categories",
                                       str(categories), "--format", "json"], env=KEY)
    assert result.exit_code == 0, result.output
    with (out / "studies.csv").open(encoding="utf-8", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    volume, mask = nib.load(out / row["study"]), nib.load(out / row["mask"])
    assert nib.aff2axcodes(seg.affine) == ("L", "A", "S") and nib.aff2axcodes(volume.affine) == ("L", "P", "S")
    assert np.array_equal(np.asarray(mask.dataobj), lesion[:, ::-1, :])
    (recorded,) = json.loads((out / "provenance.json").read_text(encoding="utf-8"))["masks"]
    assert recorded["voxel_order"].startswith("mask voxel order LAS, study's LPS: axis 1 flipped")


def test_a_folder_of_refused_series_names_the_sub_folder_of_each(realdata: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["ingest", str(realdata / "pydicom_ct_files"), str(tmp_path / "out"),
                                       "--category", "CT-0", "--format", "json"], env=KEY)
    assert result.exit_code == 1
    paths = {f["path"] for f in json.loads(result.output)["findings"] if f["code"] == "INGEST_NO_SERIES"}
    assert "pydicom_ct_files/pydicom_data_1.0.0" in paths
    assert "pydicom_ct_files/pydicom_3.0.2_test_files/dicomdirtests/98892003" in paths
