"""LICENSE is the declared licence; READMEs attribute; README numbers agree with the registry and each other."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from curator.resources import templates_dir
from tests.reports import validate_report


def findings(root: Path, *args: str, exit_code: int) -> list[dict]:
    return validate_report(root, "--select", "licence,readme", *args, exit_code=exit_code)["findings"]


def test_a_built_release_passes(built_release: Path) -> None:
    assert findings(built_release, exit_code=0) == []


def test_another_licence_text_is_detected_by_fingerprint(release: Path) -> None:
    shutil.copyfile(templates_dir() / "licences/CC-BY-NC-SA-3.0.txt", release / "LICENSE")
    (finding,) = findings(release, exit_code=1)
    assert finding["code"] == "LICENSE_MISMATCH" and finding["path"] == "LICENSE"
    assert finding["context"]["declared"] == "CC-BY-NC-ND-3.0" and finding["context"]["detected"] == "CC-BY-NC-SA-3.0"


def test_a_reflowed_licence_with_its_own_copyright_line_still_matches(release: Path) -> None:
    text = (templates_dir() / "licences/CC-BY-NC-ND-3.0.txt").read_text(encoding="utf-8")
    reflowed = "Copyright (c) 2026 Test Centre.\n\n" + " ".join(text.split()).upper()
    (release / "LICENSE").write_text(reflowed, encoding="utf-8")
    assert findings(release, exit_code=0) == []
    (release / "LICENSE").write_text("All rights reserved.\n", encoding="utf-8")
    (finding,) = findings(release, exit_code=1)
    assert finding["context"]["detected"] == "no known licence"


def test_missing_attribution_is_named_per_language(release: Path) -> None:
    russian = (release / "README_RU.md").read_text(encoding="utf-8")
    russian = russian.replace("Доу, Джейн", "(автор не указан)").replace("https://example.org/test", "")
    (release / "README_RU.md").write_text(russian, encoding="utf-8")
    (finding,) = findings(release, "--ignore", "README_STATS_MISMATCH", exit_code=1)
    assert finding["code"] == "ATTRIBUTION_MISSING" and finding["path"] == "README_RU.md"
    assert finding["context"]["missing"] == "authors, permanent link"


def test_readme_numbers_against_the_registry_and_the_other_language(release: Path) -> None:
    english = (release / "README_EN.md").read_text(encoding="utf-8")
    (release / "README_EN.md").write_text(english.replace("| 2/ 3/ 1/ 1/ 1", "| 2/ 3/ 1/ 1/ 9"), encoding="utf-8")
    russian = (release / "README_RU.md").read_text(encoding="utf-8")
    (release / "README_RU.md").write_text(russian.replace("25/ 51/ 88", "25/ 52/ 88"), encoding="utf-8")
    found = {(f["path"], f["context"]["statistic"], f["context"]["stated"], f["context"]["actual"])
             for f in findings(release, exit_code=1) if f["code"] == "README_STATS_MISMATCH"}
    assert ("README_EN.md", "per category", "2/3/1/1/9", "2/3/1/1/1") in found
    assert any(path == "README_RU.md" and stated == "25/52/88" and actual == "25/51/88"
               for path, _, stated, actual in found)


@pytest.mark.realdata
def test_the_real_mosmed_readme_agrees_with_the_real_registry(realdata: Path, tmp_path: Path) -> None:
    real = realdata / "mosmed_michaelwfry"
    for name in ("dataset_registry.xlsx", "README_EN.md"):
        shutil.copyfile(real / name, tmp_path / name)
    found = findings(tmp_path, "--profile", "mosmed", exit_code=0)
    assert [f for f in found if f["code"] == "README_STATS_MISMATCH"] == []
    (tmp_path / "README_EN.md").write_text(
        (real / "README_EN.md").read_text(encoding="utf-8").replace("254/ 684/ 125/ 45/ 2", "254/ 684/ 125/ 44/ 3"),
        encoding="utf-8")
    (finding,) = [f for f in findings(tmp_path, "--profile", "mosmed", exit_code=1)
                  if f["code"] == "README_STATS_MISMATCH"]
    assert finding["context"]["stated"] == "254/684/125/44/3" and finding["context"]["actual"] == "254/684/125/45/2"


@pytest.mark.realdata
def test_the_real_mosmed_licence_is_a_truncated_cc_by_4_before_the_declared_text(release: Path,
                                                                                  realdata: Path) -> None:
    shutil.copyfile(realdata / "mosmed_michaelwfry/LICENSE.repo", release / "LICENSE")
    (finding,) = [f for f in findings(release, exit_code=1) if f["code"].startswith("LICENSE_")]
    assert finding["code"] == "LICENSE_COMPOSITE" and finding["path"] == "LICENSE"
    assert [(f["spdx"], f["complete"]) for f in finding["context"]["found"]] == [
        ("CC-BY-NC-ND-3.0", True), ("CC-BY-4.0", False)]
    assert "CC-BY-NC-ND-3.0 100%, CC-BY-4.0 64%" in finding["message"]


def test_a_cut_off_licence_or_two_whole_ones_are_composite(release: Path) -> None:
    declared = (templates_dir() / "licences/CC-BY-NC-ND-3.0.txt").read_text(encoding="utf-8")
    (release / "LICENSE").write_text(declared[: len(declared) // 2], encoding="utf-8")
    (finding,) = findings(release, exit_code=1)
    assert finding["code"] == "LICENSE_COMPOSITE"
    (found,) = finding["context"]["found"]
    assert found["spdx"] == "CC-BY-NC-ND-3.0" and not found["complete"] and 0.4 < found["coverage"] < 0.6
    other = (templates_dir() / "licences/CC0-1.0.txt").read_text(encoding="utf-8")
    (release / "LICENSE").write_text(declared + "\n\n" + other, encoding="utf-8")
    (finding,) = findings(release, exit_code=1)
    assert [(f["spdx"], f["complete"]) for f in finding["context"]["found"]] == [
        ("CC-BY-NC-ND-3.0", True), ("CC0-1.0", True)]


def test_a_readme_linking_another_licence_than_the_declared_one_is_a_mismatch(release: Path) -> None:
    english = (release / "README_EN.md").read_text(encoding="utf-8")
    assert "https://creativecommons.org/licenses/by-nc-nd/3.0/" in english
    (release / "README_EN.md").write_text(english.replace("https://creativecommons.org/licenses/by-nc-nd/3.0/",
                                                          "https://creativecommons.org/licenses/by/4.0/"),
                                          encoding="utf-8")
    (finding,) = findings(release, exit_code=1)
    assert (finding["code"], finding["path"], finding["context"]["detected"]) == (
        "LICENSE_MISMATCH", "README_EN.md", "CC-BY-4.0")
    assert finding["message"].startswith("README_EN.md names or links the licence CC-BY-4.0 "
                                         "(\"creativecommons.org/licenses/by/4.0\"), but the declared licence is "
                                         "CC-BY-NC-ND-3.0")


@pytest.mark.realdata
def test_the_real_mosmed_readme_links_cc_by_4_for_its_cc_by_nc_nd_3(release: Path, realdata: Path) -> None:
    shutil.copyfile(realdata / "mosmed_michaelwfry/README_EN.md", release / "README_EN.md")
    (finding,) = [f for f in findings(release, exit_code=1) if f["code"].startswith("LICENSE_")]
    assert (finding["path"], finding["context"]["declared"], finding["context"]["detected"]) == (
        "README_EN.md", "CC-BY-NC-ND-3.0", "CC-BY-4.0")
