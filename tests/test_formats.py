"""Report formats for CI: SARIF (schema-valid), JUnit, GitHub annotations + job summary, Markdown, several at once."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from curator.cli.main import main
from tests.factories import flip_byte
from tests.reports import assert_sarif_valid, validate_output, validate_report


@pytest.fixture
def damaged(release: Path) -> Path:
    for name in ("study_0001", "study_0002"):
        (release / f"studies/CT-0/{name}.nii.gz").unlink()
    flip_byte(release / "README_EN.md", 3)
    (release / ".DS_Store").write_bytes(b"x")
    return release


def test_sarif_is_valid_and_carries_every_finding(damaged: Path) -> None:
    sarif = json.loads(validate_output(damaged, "--format", "sarif", exit_code=1))
    assert_sarif_valid(sarif)
    run = sarif["runs"][0]
    report = validate_report(damaged, exit_code=1)
    assert len(run["results"]) == len(report["findings"])
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    for result_item in run["results"]:
        assert rule_ids[result_item["ruleIndex"]] == result_item["ruleId"]
    junk = next(r for r in run["results"] if r["ruleId"] == "FILE_JUNK")
    assert junk["level"] == "warning"
    assert junk["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == ".DS_Store"


def test_junit_has_failures_for_errors_and_passes_for_clean_checks(damaged: Path) -> None:
    junit = validate_output(damaged, "--format", "junit", exit_code=1)
    suite = ET.fromstring(junit.split("\n", 1)[1]).find("testsuite")
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
    github = validate_output(damaged, "--format", "github", exit_code=1)
    lines = github.strip().splitlines()
    report = validate_report(damaged, exit_code=1)
    assert len(lines) == len(report["findings"])
    assert "::error file=studies/CT-0/study_0001.nii.gz,title=FILE_MISSING::" in github
    assert any(line.startswith("::warning file=.DS_Store,title=FILE_JUNK::") for line in lines)
    assert "| error | `FILE_MISSING` |" in summary.read_text(encoding="utf-8")


def test_several_formats_in_one_run(damaged: Path, tmp_path: Path) -> None:
    sarif, junit = tmp_path / "r.sarif", tmp_path / "r.xml"
    text = validate_output(damaged, "--format", "sarif", "-o", str(sarif), "--format", "junit", "-o", str(junit),
                           "--format", "text", exit_code=1)
    assert json.loads(sarif.read_text())["version"] == "2.1.0" and junit.read_text().startswith("<?xml")
    assert "INVALID" in text.splitlines()[-1]
    validate_output(damaged, "--format", "json", "--format", "text", exit_code=2)   # two formats to stdout


def test_text_shows_two_examples_then_how_many_more(damaged: Path) -> None:
    text = validate_output(damaged, exit_code=1)
    assert "ERROR FILE_MISSING (6)" in text and "... and 4 more" in text
    verbose = validate_output(damaged, "--verbose", exit_code=1)
    assert "more" not in verbose and verbose.count("is listed in") == 6


def test_markdown_for_a_pull_request(damaged: Path) -> None:
    text = CliRunner().invoke(main, ["verify", str(damaged), "--format", "markdown"]).output
    assert text.startswith("### ❌ curator verify") and "| error | `FILE_MISSING` |" in text
