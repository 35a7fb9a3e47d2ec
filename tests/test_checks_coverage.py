"""Every check module in curator/checks has a unit test file, tests/test_checks_<module>.py, that names each code
the module declares in CODES (its tests assert the findings of that code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from curator.checks import parts
from curator.checks.all_checks import CHECK_MODULES

TESTS = Path(__file__).resolve().parent
# modules whose unit tests predate this layout and live in files named after their subject
ELSEWHERE: dict[str, tuple[str, ...]] = {
    "dicom_series": ("test_dicom.py",), "phi_paths": ("test_phi_paths.py",),
    "privacy_dicom": ("test_privacy_dicom.py", "test_phi_text.py", "test_checks_privacy_dicom.py"),
    "release_docs": ("test_release_checks.py", "test_release_docs.py")}
# codes whose unit tests sit with the feature that added them, beside the module's own test file
ALSO: dict[str, tuple[str, ...]] = {
    "manifest": ("test_verify_sources.py",),                 # CHECKSUM_LISTING_INVALID: the publishers' listings
    "payload": ("test_label_scheme_checks.py",), "slices": ("test_label_scheme_checks.py",)}   # LABELS_SCHEME_*


@pytest.mark.parametrize("module", [*CHECK_MODULES, parts], ids=lambda module: module.__name__.rsplit(".", 1)[-1])
def test_each_code_of_a_check_module_is_named_in_its_unit_tests(module: object) -> None:
    name = module.__name__.rsplit(".", 1)[-1]  # type: ignore[attr-defined]
    files = [TESTS / file for file in (*ELSEWHERE.get(name, (f"test_checks_{name}.py",)), *ALSO.get(name, ()))]
    assert all(file.is_file() for file in files), f"no unit tests for curator/checks/{name}.py: write {files[0].name}"
    text = "".join(file.read_text(encoding="utf-8") for file in files)
    assert sorted(code for code in module.CODES if f'"{code}"' not in text) == []  # type: ignore[attr-defined]
