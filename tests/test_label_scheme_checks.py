"""``curator validate`` against the label scheme a release declares (dataset.yaml ``label_scheme``, else for a slices
tree the ``labels.yaml`` ingest-slices writes): LABELS_SCHEME_MISMATCH for a value the scheme lacks, for an unknown
scheme and for two declarations that disagree; LABELS_SCHEME_AMBIGUOUS when nothing is declared and the values fit
schemes that mean different things by them. A stray value is reported under one code only, in PNG slices and in
NIfTI masks alike."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from curator.cli.ingest_slices import ingest_slices as ingest_command
from tests.factories import card_data, lesion_mask, write_nifti
from tests.reports import flatten, validate_report
from tests.slices_factories import CNCB_LESIONS, label_map, make_cncb, make_slices, write_mask


def _validate(root: Path, *args: str, exit_code: int) -> dict:  # type: ignore[type-arg]
    return validate_report(root, "--profile", "slices", "-j", "1", *args, exit_code=exit_code)


def _ours(report: dict) -> list[list[object]]:  # type: ignore[type-arg]
    """The findings about mask values and their meaning, as (code, path, severity) rows."""
    codes = {"LABELS_SCHEME_MISMATCH", "LABELS_SCHEME_AMBIGUOUS", "MASK_VALUES_UNEXPECTED"}
    return [row for row in flatten(report, ["code", "path", "severity"]) if row[0] in codes]


def _declare(root: Path, scheme: str) -> None:
    (root / "labels.yaml").write_text(f"label_scheme: {scheme}\n", encoding="utf-8")


def _card(root: Path, scheme: str) -> None:
    card = card_data(label_scheme=scheme)
    (root / "dataset.yaml").write_text(yaml.safe_dump(card, allow_unicode=True), encoding="utf-8")


# --- a declared scheme ---------------------------------------------------------------------------------------

def test_a_value_the_declared_scheme_lacks_is_a_scheme_mismatch_not_a_stray_value(tmp_path: Path) -> None:
    root = make_slices(tmp_path / "release", {"0": 2}, scheme="infnet")   # masks {0, 1}; infnet has 0..2
    labels = label_map(lesion=3)                                           # 3: CNCB's consolidation
    write_mask(root / "mask/0/1.png", labels)
    assert _ours(_validate(root, exit_code=0)) == []                       # values are known only with --deep
    report = _validate(root, "--deep", exit_code=1)
    assert _ours(report) == [["LABELS_SCHEME_MISMATCH", "mask/0/1.png", "error"]]
    (finding,) = [f for f in report["findings"] if f["code"] == "LABELS_SCHEME_MISMATCH"]
    assert finding["context"] == {"values": [3], "allowed": [0, 1, 2], "scheme": "infnet",
                                  "declared_in": "labels.yaml", "voxels": {"3": int((labels == 3).sum())}}
    assert "the label scheme 'infnet' declared in labels.yaml does not have" in finding["message"]


def test_the_card_declares_first_and_a_disagreeing_labels_file_is_named(tmp_path: Path) -> None:
    root = make_slices(tmp_path / "release", {"0": 2}, lesions=[("0", 1)], scheme="cncb")   # masks {0, 1, 2}
    _card(root, "infnet")
    # --select mask: the factory's README and LICENSE are no match for a real card's attribution and licence
    report = _validate(root, "--deep", "--select", "mask", exit_code=1)
    assert _ours(report) == [["LABELS_SCHEME_MISMATCH", "dataset.yaml", "error"]]
    (finding,) = [f for f in report["findings"] if f["code"] == "LABELS_SCHEME_MISMATCH"]
    assert finding["context"] == {"variant": "disagree", "scheme": "infnet", "other": "labels.yaml",
                                  "written": "cncb"}
    # the card's scheme is the one the values are judged by: {0, 1, 2} are all Inf-Net values
    _declare(root, "infnet")
    assert _ours(_validate(root, "--deep", "--select", "mask", exit_code=0)) == []


def test_an_unknown_scheme_is_named_and_the_profile_labels_judge_the_values(tmp_path: Path) -> None:
    root = make_slices(tmp_path / "release", {"0": 1}, scheme="mosmed-ish")
    labels = label_map()
    labels[0, 0] = 9
    write_mask(root / "mask/0/0.png", labels)
    report = _validate(root, "--deep", exit_code=1)
    assert _ours(report) == [["LABELS_SCHEME_MISMATCH", "labels.yaml", "error"],
                             ["MASK_VALUES_UNEXPECTED", "mask/0/0.png", "error"]]
    unknown = report["findings"][[f["code"] for f in report["findings"]].index("LABELS_SCHEME_MISMATCH")]
    assert unknown["context"]["known"] == "binary-lesion, cncb, infnet, medseg"


@pytest.mark.parametrize(("content", "reason"), [
    (b"label_scheme: [cncb\n", "not a readable YAML file"),
    (b"scheme: cncb\n", "expected label_scheme: NAME"),
    (b"label_scheme: cncb\n" + b"#" * (64 << 10), "expected at most 65,536 bytes"),
    (b"label_scheme: \xff\n", "not a readable YAML file"),
])
def test_an_unreadable_labels_file_is_reported(tmp_path: Path, content: bytes, reason: str) -> None:
    root = make_slices(tmp_path / "release", {"0": 1}, scheme=None)
    (root / "labels.yaml").write_bytes(content)
    report = _validate(root, exit_code=1)
    (finding,) = [f for f in report["findings"] if f["code"] == "METADATA_UNREADABLE"]
    assert finding["path"] == "labels.yaml" and reason in finding["context"]["reason"], finding


def test_the_declared_scheme_says_which_values_are_lesions(tmp_path: Path) -> None:
    """lesions_slices.csv lists slices with lesions; under CNCB a mask holding only lung field (1) marks none, under
    Inf-Net 1 is ground-glass."""
    root = make_cncb(tmp_path / "release")
    case, n = CNCB_LESIONS[0]
    write_mask(root / "mask" / case / f"{n:04d}.png", label_map(lesion=None))   # {0, 1}
    unmarked = [row for row in flatten(_validate(root, "--deep", exit_code=0), ["code", "path"])
                if row[0] == "SLICE_LESION_UNMARKED"]
    assert unmarked == [["SLICE_LESION_UNMARKED", f"mask/{case}/{n:04d}.png"]]
    _declare(root, "infnet")
    report = _validate(root, "--deep", exit_code=0)
    assert not [row for row in flatten(report, ["code"]) if row[0] == "SLICE_LESION_UNMARKED"]


# --- nothing declared ----------------------------------------------------------------------------------------

def test_values_that_fit_schemes_with_different_meanings_are_ambiguous(tmp_path: Path) -> None:
    root = make_slices(tmp_path / "release", {"0": 2}, lesions=[("0", 1)], scheme=None)   # {0, 1, 2}
    assert _ours(_validate(root, exit_code=0)) == []
    report = _validate(root, "--deep", exit_code=0)
    assert _ours(report) == [["LABELS_SCHEME_AMBIGUOUS", "", "warning"]]
    (finding,) = [f for f in report["findings"] if f["code"] == "LABELS_SCHEME_AMBIGUOUS"]
    assert finding["context"]["values"] == [0, 1, 2]
    assert finding["context"]["schemes"] == ["cncb", "infnet", "medseg"]
    assert finding["context"]["meanings"] == ("1: lung in cncb, ground-glass in infnet, ground-glass in medseg; "
                                              "2: ground-glass in cncb, consolidation in infnet, "
                                              "consolidation in medseg")


def test_values_every_scheme_reads_alike_are_not_ambiguous(tmp_path: Path) -> None:
    root = make_slices(tmp_path / "release", {"0": 1}, scheme=None)
    write_mask(root / "mask/0/0.png", np.zeros_like(label_map()))   # background only: 0 means it everywhere
    assert _ours(_validate(root, "--deep", exit_code=0)) == []


def test_a_stray_value_without_a_declaration_is_reported_once(tmp_path: Path) -> None:
    root = make_slices(tmp_path / "release", {"0": 1}, scheme=None)
    labels = label_map()
    labels[0, 0] = 7
    write_mask(root / "mask/0/0.png", labels)   # {0, 1, 2, 7}: no scheme has 7, so none fits: not ambiguous
    assert _ours(_validate(root, "--deep", exit_code=1)) == [["MASK_VALUES_UNEXPECTED", "mask/0/0.png", "error"]]


# --- end to end on the real Inf-Net masks -----------------------------------------------------------------------

@pytest.mark.realdata
@pytest.mark.parametrize(("arguments", "expected"), [
    ([], [["LABELS_SCHEME_AMBIGUOUS", "", "warning"]]),   # the bug: read silently as CNCB before
    (["--labels", "infnet"], []),
    (["--labels", "infnet", "--to", "cncb"], []),
])
def test_real_infnet_masks_validate_under_the_scheme_ingest_declared(realdata: Path, tmp_path: Path,
                                                                     arguments: list[str],
                                                                     expected: list[list[str]]) -> None:
    source = realdata / "infnet_covid_semiseg_png" / "MultiClassInfection-Test"
    out = tmp_path / "out"
    result = CliRunner().invoke(ingest_command, ["--images", str(source / "Imgs"), "--masks", str(source / "GT"),
                                                 *arguments, str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "labels.yaml").is_file() == bool(arguments)
    assert _ours(_validate(out, "--deep", exit_code=1)) == expected   # 1: README and LICENSE come with build


# --- NIfTI masks (checks/payload.py) ------------------------------------------------------------------------------

@pytest.mark.parametrize(("scheme", "expected"), [
    (None, [["MASK_VALUES_UNEXPECTED", "masks/study_0003_mask.nii.gz", "error"]]),         # the profile's {0, 1}
    ("binary-lesion", [["LABELS_SCHEME_MISMATCH", "masks/study_0003_mask.nii.gz", "error"]]),
    ("infnet", []),                                                                         # 2 is consolidation
])
def test_a_nifti_mask_is_judged_by_the_card_scheme(release: Path, scheme: str | None,
                                                   expected: list[list[str]]) -> None:
    mask = release / "masks/study_0003_mask.nii.gz"
    data = lesion_mask()
    data[0, 0, 0] = 2
    write_nifti(mask, data, nib.load(mask).affine)
    card = yaml.safe_load((release / "dataset.yaml").read_text(encoding="utf-8"))
    card["label_scheme"] = scheme
    (release / "dataset.yaml").write_text(yaml.safe_dump(card, allow_unicode=True), encoding="utf-8")
    report = validate_report(release, "--deep", "--select", "mask", exit_code=1 if expected else 0)
    assert _ours(report) == expected
    if scheme == "binary-lesion":
        assert report["findings"][0]["context"] == {"values": [2], "allowed": [0, 1], "scheme": "binary-lesion",
                                                    "declared_in": "dataset.yaml", "voxels": {"2": 1}}
