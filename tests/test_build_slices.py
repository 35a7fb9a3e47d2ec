"""``curator build`` of a slices tree (ingest-slices output + dataset.yaml): a complete release whose README numbers
come from the masks, that validates deep and verifies intact."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from curator.cli.main import main
from tests.factories import card_data, with_chinese
from tests.hostile import run_bounded, snapshot, written_outside
from tests.reports import validate_report
from tests.slices_factories import make_cncb, make_slices_source


def _invoke(*arguments: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in arguments])
    return result.exit_code, result.output


def _row(readme: str, label: str) -> str:
    match = re.search(rf"^\| {re.escape(label)} \| (.+?) \|$", readme, re.M)
    assert match is not None, label
    return match.group(1)


def test_a_slices_tree_builds_into_a_release_that_validates_and_verifies(tmp_path: Path) -> None:
    source = make_slices_source(tmp_path / "src", {"0": 3, "1": 2}, lesions=[("0", 1), ("1", 0)])
    out = tmp_path / "rel"
    code, output = _invoke("build", source, out)
    assert code == 0, output
    for name in ("README_EN.md", "README_RU.md", "README_EN.pdf", "README_RU.pdf", "LICENSE", "dataset.yaml",
                 "labels.yaml", "slices_registry.csv", "datapackage.json", "croissant.json", "datacite.json",
                 "zenodo.json", "SHA256SUMS", "MD5SUMS", "figures/examples.png", "mask/1/0.png"):
        assert (out / name).is_file(), name
    readme = (out / "README_EN.md").read_text(encoding="utf-8")
    assert _row(readme, "Number of cases (CT scans)") == "2"
    assert _row(readme, "Number of slices") == "5"
    assert _row(readme, "Slices with lesions") == "2"
    assert "| 2 | ground-glass opacity |" in readme
    assert "| 2 | матовое стекло |" in (out / "README_RU.md").read_text(encoding="utf-8")
    assert "5 slices with label masks" in output
    datacite = json.loads((out / "datacite.json").read_text(encoding="utf-8"))
    assert datacite["sizes"][:3] == ["2 cases", "5 slices", "2 slices with lesions"]
    registry = (out / "slices_registry.csv").read_text(encoding="utf-8").splitlines()
    assert registry[0] == "case,slice,image_file,mask_file,width,height,lesion"
    assert len(registry) == 6
    report = validate_report(out, "--deep", exit_code=0)
    assert report["counts"]["error"] == 0
    code, output = _invoke("verify", out)
    assert code == 0 and "INTACT" in output, output


def test_a_slices_source_with_a_mask_missing_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    source = make_slices_source(tmp_path / "src", {"0": 2})
    (source / "mask" / "0" / "1.png").unlink()
    out = tmp_path / "rel"
    code, output = _invoke("build", source, out)
    assert code == 1, output
    assert "does not validate" in output
    assert not out.exists()



def test_a_slices_release_speaks_every_language_of_its_card_chinese_included(tmp_path: Path) -> None:
    source = make_slices_source(tmp_path / "src", {"0": 2}, lesions=[("0", 0)], card=with_chinese(card_data()))
    out = tmp_path / "rel"
    code, output = _invoke("build", source, out)
    assert code == 0, output
    readme = (out / "README_ZH.md").read_text(encoding="utf-8")
    assert _row(readme, "切片数") == "2"
    assert _row(readme, "含病灶的切片数") == "1"
    assert "| 2 | 磨玻璃影 |" in readme   # the label scheme's own Chinese name
    assert (out / "README_ZH.pdf").is_file()
    assert validate_report(out, "--deep", exit_code=0)["findings"] == []


def test_a_linked_slice_in_the_source_is_refused_and_not_followed(tmp_path: Path) -> None:
    source = make_slices_source(tmp_path / "src", {"0": 2})
    outside = tmp_path / "outside.jpg"
    (source / "image" / "0" / "1.jpg").rename(outside)
    (source / "image" / "0" / "1.jpg").symlink_to(outside)
    out = tmp_path / "rel"
    code, output = _invoke("build", source, out)
    assert code == 1, output
    assert "FILE_UNSAFE image/0/1.jpg" in output
    assert not out.exists()


def test_a_cncb_tree_keeps_its_csvs_and_counts_cases_and_slices_per_class(tmp_path: Path) -> None:
    source = make_cncb(tmp_path / "src")   # CP/7/70 with 3 slices, NCP/8/80 with 2
    for name in ("README_EN.md", "README_RU.md", "LICENSE"):
        (source / name).unlink()
    (source / "dataset.yaml").write_text(yaml.safe_dump(card_data(), allow_unicode=True), encoding="utf-8")
    out = tmp_path / "rel"
    code, output = _invoke("build", source, out)
    assert code == 0, output
    for name in ("unzip_filenames.csv", "lesions_slices.csv"):
        assert (out / name).read_bytes() == (source / name).read_bytes(), name
    readme = (out / "README_EN.md").read_text(encoding="utf-8")
    assert _row(readme, "Class CP: cases/ slices") == "1/ 3"
    assert _row(readme, "Class NCP: cases/ slices") == "1/ 2"
    assert "CP/7/70,0001,/image/CP/7/70/0001.jpg" in (out / "slices_registry.csv").read_text(encoding="utf-8")


def test_an_oversized_mask_stops_the_build_bounded_and_the_source_is_untouched(tmp_path: Path) -> None:
    """A 6000 x 6000 mask (36 Mpixel, a few KB of PNG) is past what a slice decode may take: the source check
    names it, nothing is written outside OUT, the source is as it was."""
    source = make_slices_source(tmp_path / "src", {"0": 2})
    Image.new("L", (6000, 6000), 0).save(source / "mask" / "0" / "1.png")
    Image.new("L", (6000, 6000), 0).save(source / "image" / "0" / "1.jpg", format="JPEG")
    before, work = snapshot(source), snapshot(tmp_path)
    run = run_bounded(["build", str(source), "rel"], cwd=tmp_path, timeout=120)
    run.assert_bounded(exit_code=1, seconds=30, megabytes=200)   # measured 1.1 s, 77 MB
    assert "does not validate" in run.stderr + run.stdout
    assert snapshot(source) == before
    assert written_outside(work, snapshot(tmp_path), "rel") == []
    assert not (tmp_path / "rel").exists()

@pytest.mark.realdata
def test_real_infnet_slices_build_with_readme_numbers_from_the_pngs(realdata: Path, tmp_path: Path) -> None:
    """Inf-Net's 48 test slices ingested into CNCB meanings, built: the README's slices, slices with lesions and
    pixel share per label are those of the source PNGs (GT palette indices 0 background, 1 GGO, 2 consolidation)."""
    src = realdata / "infnet_covid_semiseg_png" / "MultiClassInfection-Test"
    ingested = tmp_path / "ingested"
    code, output = _invoke("ingest-slices", "--images", src / "Imgs", "--masks", src / "GT", "--labels", "infnet",
                           "--to", "cncb", ingested)
    assert code == 0, output
    (ingested / "dataset.yaml").write_text(yaml.safe_dump(card_data(), allow_unicode=True), encoding="utf-8")
    out = tmp_path / "release"
    code, output = _invoke("build", ingested, out)
    assert code == 0, output
    assert validate_report(out, "--deep", exit_code=0)["counts"]["error"] == 0
    code, output = _invoke("verify", out)
    assert code == 0 and "INTACT" in output, output

    counts = np.zeros(3, dtype=np.int64)
    lesion_slices = 0
    masks = sorted((src / "GT").glob("*.png"))
    for mask in masks:
        with Image.open(mask) as image:
            indices = np.asarray(image)
        counts += np.bincount(indices.ravel(), minlength=3)[:3]
        lesion_slices += int(bool((indices > 0).any()))
    share = 100 * counts / counts.sum()
    readme = (out / "README_EN.md").read_text(encoding="utf-8")
    assert _row(readme, "Number of slices") == str(len(masks)) == "48"
    assert _row(readme, "Slices with lesions") == str(lesion_slices)
    assert f"| 0 | background | {share[0]:.2f} |" in readme
    assert f"| 2 | ground-glass opacity | {share[1]:.2f} |" in readme
    assert f"| 3 | consolidation | {share[2]:.2f} |" in readme
    assert "| 1 | lung field | 0.00 | 0 |" in readme
    russian = (out / "README_RU.md").read_text(encoding="utf-8")
    assert f"| 3 | консолидация | {share[2]:.2f} |".replace(".", ",") in russian
