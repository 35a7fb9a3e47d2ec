"""The sum-file parser reads a clean UTF-8 manifest at once and falls back to line by line only when a line is not
UTF-8: both ways must give the same entries, problems and line numbers."""

from __future__ import annotations

from pathlib import Path

from curator.io.manifest import ManifestEntry, parse_manifest_bytes

A, B = "a" * 64, "B" * 64
LINES = [
    f"{A}  ./studies/one.nii.gz",            # 1: a leading ./ is dropped
    "# a comment",                           # 2
    "   ",                                   # 3: blank
    f"SHA256 (studies/two.nii.gz) = {B}",    # 4: BSD tagged, digest lower-cased
    f"{A} *studies/three.nii.gz\r",          # 5: binary mode, CRLF
    f"{A}  ../outside",                      # 6
    f"{A}  /etc/passwd",                     # 7
    f"{A}  studies/one.nii.gz",              # 8: again
    f"{A}  .hidden/ok",                      # 9: a name starting with a dot is fine
    f"{A}  a/../b",                          # 10
    "\\" + f"{A}  escaped",                  # 11
    f"MD9 (x) = {A}",                        # 12
    f"{A[:10]}  short",                      # 13
]
EXPECTED_ENTRIES = [
    ManifestEntry("studies/one.nii.gz", A, "sha256", 1),
    ManifestEntry("studies/two.nii.gz", B.lower(), "sha256", 4),
    ManifestEntry("studies/three.nii.gz", A, "sha256", 5),
    ManifestEntry(".hidden/ok", A, "sha256", 9),
]
EXPECTED_PROBLEMS = [
    (6, "path '../outside' points outside the release"),
    (7, "path '/etc/passwd' points outside the release"),
    (8, "studies/one.nii.gz is listed again (first on line 1)"),
    (10, "path 'a/../b' points outside the release"),
    (11, "escaped names (a leading backslash) are not portable"),
    (12, "unknown algorithm tag 'MD9'"),
    (13, "a sha256 digest has 64 hex digits, this one has 10"),
]


def test_a_clean_manifest_and_one_with_a_line_that_is_not_utf8_parse_alike() -> None:
    text = "\n".join(LINES).encode()
    clean = parse_manifest_bytes(text, Path("SHA256SUMS"))
    assert clean.entries == EXPECTED_ENTRIES
    assert clean.problems == EXPECTED_PROBLEMS
    broken = parse_manifest_bytes(text + b"\n" + A.encode() + b"  bad\xffname", Path("SHA256SUMS"))
    assert broken.entries == EXPECTED_ENTRIES
    assert broken.problems == [*EXPECTED_PROBLEMS, (14, "not UTF-8 text (byte 69 of the line)")]
