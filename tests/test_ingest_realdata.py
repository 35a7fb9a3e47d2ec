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
    validated = runner.invoke(main, ["validate", str(release), "--deep", "--format", "json"])
    result = json.loads(validated.output)
    assert validated.exit_code == 0, [f for f in result["findings"] if f["severity"] == "error"]
    assert result["counts"]["error"] == 0 and result["stats"]["files"] > 0
