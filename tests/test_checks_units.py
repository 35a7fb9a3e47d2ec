"""Unit tests for checks/ modules that were reached only through the command line: the check is called with
values made here and its findings (codes, paths, context) are asserted directly."""

from __future__ import annotations

import datetime as dt

from curator.catalogue import make_finding
from curator.checks.names import case_collisions, is_junk, is_repository_file, path_name_problems
from curator.checks.waivers import apply_config
from curator.models.config import ValidationConfig, Waiver
from curator.models.findings import Severity

TODAY = dt.date(2026, 6, 1)


def test_waivers_override_then_waive_and_report_expired_and_unused() -> None:
    findings = [make_finding("IMAGE_TRUNCATED", "studies/CT-0/study_0001.nii.gz"),
                make_finding("IMAGE_TRUNCATED", "studies/CT-1/study_0002.nii.gz"),
                make_finding("README_STATS_MISMATCH", "README.md")]
    config = ValidationConfig(
        severity={"README_STATS_MISMATCH": Severity.info},
        waivers=[Waiver(code="IMAGE_TRUNCATED", path="studies/CT-0/*", reason="known cut", expires=TODAY),
                 Waiver(code="MASK_EMPTY", path="*", reason="never seen", expires=dt.date(2027, 1, 1)),
                 Waiver(code="IMAGE_TRUNCATED", path="*", reason="long gone", expires=dt.date(2026, 5, 31))])
    outcome = apply_config(findings, config, "curator.yaml", TODAY)
    assert [(f.code, f.path) for f in outcome.waived] == [("IMAGE_TRUNCATED", "studies/CT-0/study_0001.nii.gz")]
    assert [(f.code, f.path, f.severity) for f in outcome.findings[:2]] == [
        ("IMAGE_TRUNCATED", "studies/CT-1/study_0002.nii.gz", findings[1].severity),
        ("README_STATS_MISMATCH", "README.md", Severity.info)]
    expired, unused = outcome.findings[2:]
    assert (expired.code, expired.path) == ("WAIVER_EXPIRED", "curator.yaml")
    assert expired.context == {"waived": "IMAGE_TRUNCATED", "pattern": "*", "expires": "2026-05-31",
                               "reason": "long gone"}
    assert (unused.code, unused.path) == ("WAIVER_UNUSED", "curator.yaml")
    assert unused.context == {"waived": "MASK_EMPTY", "pattern": "*", "reason": "never seen"}


def test_no_configuration_leaves_the_findings_alone() -> None:
    findings = [make_finding("IMAGE_TRUNCATED", "a.nii.gz")]
    outcome = apply_config(findings, ValidationConfig(), "curator.yaml", TODAY)
    assert outcome.findings == findings and outcome.waived == []


def test_names_problems_are_named_by_the_component_that_has_them() -> None:
    assert path_name_problems("studies/CT-0/study_0001.nii.gz") == []
    assert path_name_problems("bad dir/a.nii.gz") == [
        ("bad dir", "characters outside ASCII letters, digits and ._-: ' '")]
    assert path_name_problems("ok/-x/CON.txt") == [("ok/-x", "'-x' starts with '-'"),
                                                   ("ok/-x/CON.txt", "'CON.txt' is a reserved name on Windows")]
    long = "a/" * 100
    assert path_name_problems(long[:-1] + "b") == [(long[:-1] + "b", "path is 200 characters, the limit is 199")]


def test_names_case_collisions_junk_and_repository_files() -> None:
    assert case_collisions(["b/A.nii.gz", "b/a.nii.gz", "c.txt"]) == {"b/a.nii.gz": "b/A.nii.gz"}
    assert is_junk("studies/.DS_Store") and is_junk("__MACOSX/x") and is_junk("studies/._study.nii.gz")
    assert not is_junk("studies/study_0001.nii.gz")
    assert is_repository_file(".github/workflows/ci.yml") and not is_repository_file("docs/.gitignore")
