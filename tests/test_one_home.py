"""Ideas that had two homes and now have one (issue 13, the dedupe round): each test holds the two former users
of one idea to the same answer, so that they cannot drift apart again."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset

from curator.catalogue import make_finding
from curator.ingest.slices_inputs import SliceFile
from curator.ingest.slices_labels import LabelPlan
from curator.ingest.slices_read import ReadTask, process_file
from curator.io.dicom import _integer, _vector, element_value, finite_numbers, group_value, whole_number
from curator.io.slices import SliceHeader, read_slice
from curator.models.card import DatasetCard
from curator.profiles import get_profile
from curator.release.metadata import datapackage
from curator.release.readme import readme_context
from curator.report_closing import ingest_report
from curator.review.studies import _registry_facts
from curator.validate import ValidateOptions, gather
from tests.factories import card_data
from tests.slices_factories import write_mask

PACKAGE = Path(__file__).resolve().parents[1] / "curator"


# --- 1. closing an ingest report (ingest, ingest-slices) ------------------------------------------------------

def test_an_ingest_report_counts_and_orders_its_findings_once() -> None:
    findings = [make_finding("SLICE_DUPLICATE", "b.png"), make_finding("IMAGE_UNREADABLE", "z.png"),
                make_finding("IMAGE_UNREADABLE", "a.png"), make_finding("MASK_EMPTY", "m.png")]
    report = ingest_report(Path("out"), "slices", findings, time.perf_counter(), 3, 42, {"pairs": 1})
    assert [f.severity.value for f in report.findings] == sorted(
        (f.severity.value for f in findings), key=lambda value: ["error", "warning", "info"].index(value))
    assert [(f.code, f.path) for f in report.findings if f.code == "IMAGE_UNREADABLE"] == [
        ("IMAGE_UNREADABLE", "a.png"), ("IMAGE_UNREADABLE", "z.png")]
    severities = [f.severity.value for f in findings]
    assert (report.counts.error, report.counts.warning, report.counts.info) == (
        severities.count("error"), severities.count("warning"), severities.count("info"))
    assert report.valid is (severities.count("error") == 0)
    assert (report.profile, report.stats.files, report.stats.bytes, report.root) == ("slices", 3, 42, "out")


def test_no_ingest_module_counts_findings_itself() -> None:
    """The copies in ingest/pipeline.py and ingest/slices.py built Counts by hand; report_closing is the home."""
    builders = sorted(path.name for path in (PACKAGE / "ingest").glob("*.py")
                      for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                      if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Counts")
    assert builders == []


# --- 2. the label values of a mask image (validate's reader, ingest-slices' reader) ---------------------------

@pytest.mark.parametrize(("mode", "expected"), [("1", [0, 1]), ("L", [0, 1, 2]), ("P", [0, 1, 2]),
                                                ("I;16", [0, 1, 2, 700])])
def test_validate_and_ingest_slices_read_the_same_labels_from_a_mask(tmp_path: Path, mode: str,
                                                                     expected: list[int]) -> None:
    labels = np.zeros((12, 16), dtype=np.uint16)
    labels[2:10, 2:14] = 1
    labels[4:7, 4:7] = 2
    if mode == "I;16":
        labels[8, 8] = 700
    path = write_mask(tmp_path / "mask.png", labels if mode == "I;16" else labels.astype(np.uint8), mode=mode)
    header = read_slice(path, decode=True, count=True)
    assert isinstance(header, SliceHeader)
    assert header.mode == mode and header.values is not None
    assert sorted(header.values) == expected
    # ingest-slices, told that no value is allowed, names every value it read
    item = SliceFile(index=0, side="mask", source=0, rel="mask.png", label="in/mask.png", path=path,
                     size=path.stat().st_size)
    read = process_file(ReadTask(file=item, target=tmp_path / "copy.png", labels=LabelPlan(allowed=())))
    assert read.problems == [("MASK_VALUES_UNEXPECTED", {"values": expected, "allowed": []})]


# --- 3. the declared licence in the READMEs and the metadata --------------------------------------------------

@pytest.mark.parametrize("licence", ["CC-BY-NC-ND-3.0", "Made-Up-1.0"])
def test_the_readmes_and_the_metadata_name_the_same_licence(licence: str) -> None:
    card = DatasetCard.model_validate(card_data(licence=licence))
    stats = {"per_category": {}}
    english, russian = (readme_context(card, lang, stats, {})["licence"] for lang in ("en", "ru"))
    package = datapackage(card, [], [], {})["licenses"][0]
    assert package == {"name": licence, "path": english["url"], "title": english["name"]}
    assert russian["url"] == english["url"]
    assert english["url"].startswith("https://")   # a licence outside licences.yaml: its SPDX page, never ""
    assert {k: v for k, v in russian.items() if k != "name"} == {k: v for k, v in english.items() if k != "name"}


# --- 4. the registry as the review page and validate read it -------------------------------------------------

def test_the_review_page_reads_the_registry_rows_validate_reads(release: Path) -> None:
    """A release whose workbook is gone and whose CSV has a row with a bad study_id: both read the CSV and both
    leave out the bad row."""
    (release / "dataset_registry.xlsx").unlink()
    csv = release / "dataset_registry.csv"
    lines = csv.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = "one" + lines[1][lines[1].index(","):]   # a study_id that is not a number
    csv.write_text("".join(lines), encoding="utf-8")
    profile = get_profile("mosmed")
    validated = gather(release, profile, ValidateOptions(jobs=1))
    reviewed = _registry_facts(release, profile)
    assert [row for _, row in reviewed.rows] == [row for _, row in validated.rows]
    assert len(reviewed.rows) == len(lines) - 2


# --- 5 and 6. DICOM values: one accessor set for validate's reader and ingest's convert, seg and select ----------

@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("given", ["1.5", "2.0", "12", "-3"])
def test_validate_reads_a_whole_number_by_the_rule_ingest_uses(given: str) -> None:
    ds = Dataset()
    ds.InstanceNumber = given
    invalid: list[str] = []
    read = _integer(ds, "InstanceNumber", invalid)
    rule = whole_number(ds.InstanceNumber)
    assert (read, invalid) == ((rule, []) if isinstance(rule, int) else (None, [f"InstanceNumber: {rule}"]))


@pytest.mark.parametrize("given", [[1.0, 2.0], [1.0, 2.0, 3.0, 4.0], [1.0, float("nan"), 3.0], [0.0, 0.5, 1.0]])
def test_validate_reads_a_vector_by_the_rule_ingest_uses(given: list[object]) -> None:
    ds = Dataset()
    ds.ImagePositionPatient = given
    invalid: list[str] = []
    read = _vector(ds, "ImagePositionPatient", 3, invalid)
    rule = finite_numbers(ds.ImagePositionPatient, 3)
    assert (read, invalid) == ((rule, []) if isinstance(rule, tuple) else (None, [f"ImagePositionPatient: {rule}"]))


def test_a_functional_group_value_comes_per_frame_then_shared_then_from_the_fallback() -> None:
    def group(position: list[float] | None) -> Dataset:
        item, outer = Dataset(), Dataset()
        if position is not None:
            item.ImagePositionPatient = position
        outer.PlanePositionSequence = [item]
        return outer

    top = Dataset()
    top.ImagePositionPatient = [9.0, 9.0, 9.0]
    assert group_value([group([1.0, 2.0, 3.0]), group([4.0, 5.0, 6.0])], "PlanePositionSequence",
                       "ImagePositionPatient", top) == [1.0, 2.0, 3.0]
    assert group_value([group(None), group([4.0, 5.0, 6.0])], "PlanePositionSequence",
                       "ImagePositionPatient", top) == [4.0, 5.0, 6.0]
    assert group_value([group(None), Dataset()], "PlanePositionSequence", "ImagePositionPatient", top) == [9.0] * 3
    assert group_value([group(None)], "PlanePositionSequence", "ImagePositionPatient") is None   # a SEG: no fallback
    empty = Dataset()
    empty.SeriesDescription = ""
    assert element_value(empty, "SeriesDescription") is None
    assert element_value(empty, "SeriesNumber") is None
