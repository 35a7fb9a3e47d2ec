"""Report formats for CI: SARIF (schema-valid), JUnit, GitHub annotations + job summary, Markdown, several at once."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import jsonschema
import pytest
from click.testing import CliRunner

from curator.cli.main import main
from tests.factories import flip_byte

SARIF_SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "sarif-schema-2.1.0.json"


@pytest.fixture
def damaged(release: Path) -> Path:
    for name in ("study_0001", "study_0002"):
        (release / f"studies/CT-0/{name}.nii.gz").unlink()
    flip_byte(release / "README_EN.md", 3)
    (release / ".DS_Store").write_bytes(b"x")
    return release


def test_sarif_is_valid_and_carries_every_finding(damaged: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(damaged), "--format", "sarif"])
    assert result.exit_code == 1
    sarif = json.loads(result.output)
    if SARIF_SCHEMA.is_file():
        schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
        jsonschema.validators.validator_for(schema)(schema).validate(sarif)
    run = sarif["runs"][0]
    report = json.loads(CliRunner().invoke(main, ["validate", str(damaged), "--format", "json"]).output)
    assert len(run["results"]) == len(report["findings"])
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    for result_item in run["results"]:
        assert rule_ids[result_item["ruleIndex"]] == result_item["ruleId"]
    junk = next(r for r in run["results"] if r["ruleId"] == "FILE_JUNK")
    assert junk["level"] == "warning"
    assert junk["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == ".DS_Store"


def test_junit_has_failures_for_errors_and_passes_for_clean_checks(damaged: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(damaged), "--format", "junit"])
    suite = ET.fromstring(result.output.split("\n", 1)[1]).find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    failing = {(c.get("classname"), c.get("name")) for c in cases if c.find("failure") is not None}
    assert ("FILE_MISSING", "studies/CT-0/study_0001.nii.gz") in failing
    assert ("CHECKSUM_MISMATCH", "README_EN.md") in failing
    assert ("MASK_SHAPE_MISMATCH", "all files") in {(c.get("classname"), c.get("name")) for c in cases}
    assert int(suite.get("failures", "0")) == len(failing) and int(suite.get("tests", "0")) == len(cases)


def test_github_annotations_and_job_summary(damaged: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = CliRunner().invoke(main, ["validate", str(damaged), "--format", "github"])
    lines = result.output.strip().splitlines()
    report = json.loads(CliRunner().invoke(main, ["validate", str(damaged), "--format", "json"]).output)
    assert len(lines) == len(report["findings"])
    assert "::error file=studies/CT-0/study_0001.nii.gz,title=FILE_MISSING::" in result.output
    assert any(line.startswith("::warning file=.DS_Store,title=FILE_JUNK::") for line in lines)
    assert "| error | `FILE_MISSING` |" in summary.read_text(encoding="utf-8")


def test_several_formats_in_one_run(damaged: Path, tmp_path: Path) -> None:
    sarif, junit = tmp_path / "r.sarif", tmp_path / "r.xml"
    result = CliRunner().invoke(main, ["validate", str(damaged), "--format", "sarif", "-o", str(sarif),
                                       "--format", "junit", "-o", str(junit), "--format", "text"])
    assert result.exit_code == 1
    assert json.loads(sarif.read_text())["version"] == "2.1.0" and junit.read_text().startswith("<?xml")
    assert "INVALID" in result.output.splitlines()[-1]
    two_to_stdout = CliRunner().invoke(main, ["validate", str(damaged), "--format", "json", "--format", "text"])
    assert two_to_stdout.exit_code == 2


def test_text_shows_two_examples_then_how_many_more(damaged: Path) -> None:
    text = CliRunner().invoke(main, ["validate", str(damaged)]).output
    assert "ERROR FILE_MISSING (6)" in text and "... and 4 more" in text
    verbose = CliRunner().invoke(main, ["validate", str(damaged), "--verbose"]).output
    assert "more" not in verbose and verbose.count("is listed in") == 6


def test_markdown_for_a_pull_request(damaged: Path) -> None:
    text = CliRunner().invoke(main, ["verify", str(damaged), "--format", "markdown"]).output
    assert text.startswith("### ❌ curator verify") and "| error | `FILE_MISSING` |" in text
