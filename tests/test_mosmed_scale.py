"""A source with the MosMedData COVID19_1110 distribution gives exactly MosMed's overview in both READMEs."""

from __future__ import annotations

from pathlib import Path

from curator.release import build
from curator.validate import ValidateOptions, validate
from tests.mosmed_scale import make_mosmed_source


def test_mosmed_distribution_builds_with_mosmed_numbers(tmp_path: Path) -> None:
    out = tmp_path / "release"
    result = build(make_mosmed_source(tmp_path / "source"), out)
    assert result.studies == 1110 and result.masks == 50
    english = (out / "README_EN.md").read_text(encoding="utf-8")
    russian = (out / "README_RU.md").read_text(encoding="utf-8")
    for text in (english, russian):
        assert "| 1110 |" in text and "| 50 |" in text
        assert "42/ 56/ 2" in text and "18/ 47/ 97" in text
        assert "254/ 684/ 125/ 45/ 2" in text
    assert "22.8/ 61.6/ 11.3/ 4.1/ 0.2" in english and "22,8/ 61,6/ 11,3/ 4,1/ 0,2" in russian
    report = validate(out, ValidateOptions(profile="mosmed"))
    assert report.valid and report.stats.model_extra["categories"] == {
        "CT-0": 254, "CT-1": 684, "CT-2": 125, "CT-3": 45, "CT-4": 2}
