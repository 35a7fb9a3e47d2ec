"""Chinese (zh) beside en and ru: a card that declares zh gets README_ZH.md/.pdf in every release kind, and the
README checks (README_STATS_MISMATCH, ATTRIBUTION_MISSING) read the Chinese README like the others."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from curator.release import build
from tests.factories import card_data, make_source, with_chinese
from tests.reports import validate_report


@pytest.fixture(scope="module")
def zh_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("zh")
    source = make_source(base / "src", card=with_chinese(card_data()))
    return build(source, base / "release").out


@pytest.fixture
def release(zh_release: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "release"
    shutil.copytree(zh_release, copy)
    return copy


def _readme_findings(root: Path, exit_code: int) -> list[dict]:
    return validate_report(root, "--select", "licence,readme", exit_code=exit_code)["findings"]


def test_a_zh_card_gets_a_chinese_readme_and_pdf_and_the_release_is_clean(zh_release: Path) -> None:
    readme = (zh_release / "README_ZH.md").read_text(encoding="utf-8")
    for piece in ("## 数据概览", "| 检查数量，例 | 8 |", "| 患者数量，人 | 8 |", "## 核对您的副本",
                  "sha256sum -c SHA256SUMS", "Copyright © 2026 测试中心。", "英语、俄语、中文"):
        assert piece in readme, piece
    assert (zh_release / "README_ZH.pdf").is_file()
    assert validate_report(zh_release, "--deep", exit_code=0)["findings"] == []


@pytest.mark.needs_tool("pdftotext")
def test_the_chinese_pdf_says_what_the_chinese_readme_says(zh_release: Path) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(["pdftotext", str(zh_release / "README_ZH.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    for piece in ("测试用胸部 CT", "免责声明", "数据概览", "检查数量，例", "各类别的检查数量", "核对您的副本"):
        assert piece in text, piece


def test_a_wrong_number_in_the_chinese_readme_is_read_as_that_statistic(release: Path) -> None:
    readme = release / "README_ZH.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("| 检查数量，例 | 8 |", "| 检查数量，例 | 9 |"),
                      encoding="utf-8")
    found = {(f["path"], f["context"]["statistic"], f["context"]["stated"], f["context"]["actual"])
             for f in _readme_findings(release, exit_code=1) if f["code"] == "README_STATS_MISMATCH"}
    assert ("README_ZH.md", "studies", "9", "8") in found


def test_not_available_in_chinese_keeps_the_rows_of_the_languages_aligned(release: Path) -> None:
    # the sex row said n/a in every language: 无数据 is a value, so the Chinese rows do not slip by one
    for name, old, new in (("README_EN.md", "| 38/ 50/ 12 |", "| n/a |"), ("README_RU.md", "| 38/ 50/ 12 |", "| н/д |"),
                           ("README_ZH.md", "| 38/ 50/ 12 |", "| 无数据 |")):
        text = (release / name).read_text(encoding="utf-8")
        assert old in text, name
        (release / name).write_text(text.replace(old, new), encoding="utf-8")
    assert _readme_findings(release, exit_code=0) == []


def test_missing_attribution_in_the_chinese_readme_is_named(release: Path) -> None:
    readme = release / "README_ZH.md"
    text = readme.read_text(encoding="utf-8").replace("Doe, Jane", "（未注明作者）")
    text = text.replace("https://example.org/test", "")
    readme.write_text(text, encoding="utf-8")
    (finding,) = _readme_findings(release, exit_code=1)
    assert finding["code"] == "ATTRIBUTION_MISSING" and finding["path"] == "README_ZH.md"
    assert finding["context"]["missing"] == "authors, permanent link"


def test_the_chinese_pdf_is_reproducible(zh_release: Path, tmp_path: Path) -> None:
    again = build(make_source(tmp_path / "src", card=with_chinese(card_data())), tmp_path / "release").out
    assert (again / "README_ZH.pdf").read_bytes() == (zh_release / "README_ZH.pdf").read_bytes()
