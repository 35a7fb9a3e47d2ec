"""Names from the data in every output format (issue 12, "Trust"): file names that are not UTF-8 or hold terminal
escapes, newlines, bidi overrides, C1 controls, HTML or workflow-command punctuation never crash a command, never
reach a terminal raw, and leave every format parseable. The rule is curator/escaping.py's."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from curator.escaping import display, json_text, markdown_plain, markdown_text, markdown_url
from curator.io.cache import Cache
from tests.factories import HOSTILE_LISTED, add_hostile_names, ct_volume, write_nifti
from tests.hostile import run_bounded
from tests.reports import assert_sarif_valid

FORMATS = ("text", "json", "sarif", "junit", "github", "markdown")
# what must never reach a reader raw: C0 but newline, DEL, C1, bidi and zero-width format characters, line and
# paragraph separators, and U+FFFD (invalid UTF-8 decoded by the test)
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff\ufffd]")
BAD = "bad\\xff\\xfename.txt"                  # b"bad\xff\xfename.txt" as every format shows it
ESC = "esc\\x1b[31mred\\x1b[0m\\x1b]0;title\\x07.txt"


@pytest.fixture(scope="module")
def hostile(built_release: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built release with every hostile name (read only by the tests: one copy for the module)."""
    release = tmp_path_factory.mktemp("hostile") / "release"
    shutil.copytree(built_release, release, symlinks=True)
    add_hostile_names(release)
    return release


@pytest.fixture(scope="module")
def outputs(hostile: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], str]:
    """What validate and verify write over ``hostile`` in every format: one bounded run per command (exit 1, no
    traceback), text to standard output and each other format to its ``-o`` file, read back as strict UTF-8."""
    work = tmp_path_factory.mktemp("runs")
    shown = {}
    for command in ("validate", "verify"):
        files = {fmt: work / f"{command}.{fmt}" for fmt in FORMATS if fmt != "text"}
        args = [arg for fmt, path in files.items() for arg in ("--format", fmt, "-o", str(path))]
        run = run_bounded([command, str(hostile), *args, "--format", "text", "--jobs", "1"], cwd=work, timeout=120)
        run.assert_bounded(exit_code=1, seconds=60, megabytes=200)
        shown[command, "text"] = run.stdout
        shown.update({(command, fmt): path.read_bytes().decode("utf-8") for fmt, path in files.items()})
    return shown


def _findings(outputs: dict[tuple[str, str], str], command: str) -> list[dict[str, object]]:
    findings: list[dict[str, object]] = json.loads(outputs[command, "json"])["findings"]
    return findings


# how each format shows the listed, missing "gone\x1b[2J.nii.gz" (an ESC sequence that would clear the screen)
GONE = {"text": "gone\\x1b[2J.nii.gz", "json": '"gone\\u001b[2J.nii.gz"', "sarif": "gone%1B%5B2J.nii.gz",
        "junit": 'name="gone\\x1b[2J.nii.gz"', "github": "::error file=gone\\x1b[2J.nii.gz,title=FILE_MISSING::",
        "markdown": "| gone\\\\x1b\\[2J.nii.gz |"}
# how each format shows b"bad\xff\xfename.txt" (validate reports it; verify's manifest does not list it)
UNDECODABLE = {"text": BAD, "json": '"bad\\\\xff\\\\xfename.txt"', "sarif": "bad%FF%FEname.txt",
               "junit": f'name="{BAD}"', "github": f"file={BAD},", "markdown": f"| {markdown_text(BAD)} |"}


@pytest.mark.parametrize("command", ["validate", "verify"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_no_control_character_reaches_any_format(outputs: dict[tuple[str, str], str], command: str,
                                                 fmt: str) -> None:
    out = outputs[command, fmt]
    assert not RAW.findall(out), sorted(set(RAW.findall(out)))
    assert GONE[fmt] in out


@pytest.mark.parametrize("fmt", FORMATS)
def test_undecodable_name_in_every_format(outputs: dict[tuple[str, str], str], fmt: str) -> None:
    assert UNDECODABLE[fmt] in outputs["validate", fmt]


@pytest.mark.parametrize("command", ["validate", "verify"])
def test_json_keeps_names_exact_as_valid_utf8(outputs: dict[tuple[str, str], str], command: str) -> None:
    out = outputs[command, "json"]
    paths = {f["path"] for f in json.loads(out.encode("utf-8"))["findings"]}
    assert set(HOSTILE_LISTED) <= paths and "\\u202e" in out


def test_json_undecodable_name_and_escape_sequence(outputs: dict[tuple[str, str], str]) -> None:
    paths = {f["path"] for f in _findings(outputs, "validate")}
    assert {BAD, "esc\x1b[31mred\x1b[0m\x1b]0;title\x07.txt", "new\nline.txt", "rtl\u202egnp.exe"} <= paths


@pytest.mark.parametrize("command", ["validate", "verify"])
def test_sarif_is_schema_valid_with_hostile_names(outputs: dict[tuple[str, str], str], command: str) -> None:
    sarif = json.loads(outputs[command, "sarif"])
    assert_sarif_valid(sarif)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]
            if "locations" in r}
    assert {"gone%1B%5B2J.nii.gz", "gone%E2%80%AEexe.nii.gz", "gone%3Cscript%3E%26.nii.gz"} <= uris
    assert len(sarif["runs"][0]["results"]) == len(_findings(outputs, command))


@pytest.mark.parametrize("command", ["validate", "verify"])
def test_junit_is_xml_with_hostile_names(outputs: dict[tuple[str, str], str], command: str) -> None:
    suite = ET.fromstring(outputs[command, "junit"].split("\n", 1)[1]).find("testsuite")
    assert suite is not None
    names = {case.get("name") for case in suite.iter("testcase")}
    assert {"gone\\x1b[2J.nii.gz", "gone\\u202eexe.nii.gz", "gone<script>&.nii.gz"} <= names


@pytest.mark.parametrize("command", ["validate", "verify"])
def test_github_one_annotation_line_per_finding(outputs: dict[tuple[str, str], str], command: str) -> None:
    lines = outputs[command, "github"].splitlines()
    assert len(lines) == len(_findings(outputs, command))
    assert all(re.fullmatch(r"::(error|warning|notice) (file=[^:,]*,)?title=[A-Z_]+::.*", line) for line in lines)


@pytest.mark.parametrize("command", ["validate", "verify"])
def test_markdown_carries_no_html_from_names(outputs: dict[tuple[str, str], str], command: str) -> None:
    out = outputs[command, "markdown"]
    assert "<script>" not in out and "<b>" not in out and "| gone&lt;script&gt;&amp;.nii.gz |" in out
    rows = [line for line in out.splitlines() if line.startswith("| error") or line.startswith("| warning")]
    assert rows and all(len(re.findall(r"(?<!\\)\|", row)) == 5 for row in rows)   # no cell break from a name


def test_report_files_of_a_tree_with_undecodable_names(outputs: dict[tuple[str, str], str]) -> None:
    """Regression: ``--format sarif -o FILE`` crashed (exit 3, traceback: quote() of a surrogate) and left FILE
    with 0 bytes. The ``outputs`` runs wrote every format to its file (read back as strict UTF-8)."""
    assert json.loads(outputs["validate", "sarif"])["version"] == "2.1.0"
    assert all(outputs[command, fmt].strip() for command in ("validate", "verify") for fmt in FORMATS)


def test_undecodable_nifti_name_with_the_cache(release: Path, tmp_path: Path) -> None:
    """Regression: a NIfTI file whose name is not UTF-8 crashed validate in the cache's ``get_many`` (exit 3)."""
    study = os.fsencode(release / "studies" / "CT-0") + b"/study_\xff0001.nii.gz"
    write_nifti(Path(os.fsdecode(study)), ct_volume())
    cache = tmp_path / "cache"
    for _ in range(2):   # the second run reads the header from the cache
        run = run_bounded(["validate", str(release), "--cache-dir", str(cache), "--format", "json", "--jobs", "1"],
                          cwd=tmp_path)
        run.assert_bounded(exit_code=1, seconds=60, megabytes=200)
        paths = {f["path"] for f in run.report()["findings"]}
        assert "studies/CT-0/study_\\xff0001.nii.gz" in paths
    assert run.report()["stats"]["cache"]["misses"] == 0


def test_cache_keys_that_are_not_utf8(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    keys = {"/r/bad\udcff\x001": {"sha256": "a"}, "/r/bad\\xff\x001": {"sha256": "b"}, "/r/ok\x001": [1]}
    cache.put_many("digests", keys)
    assert cache.get_many("digests", list(keys)) == keys   # two names that display alike stay two keys
    cache.close()


def test_display_rule() -> None:
    assert display("a\udcff\x1b[1m\n\t\r\x7f\x9b\u202e\u2028\U000e0001 é ok") == (
        "a\\xff\\x1b[1m\\n\\t\\r\\x7f\\x9b\\u202e\\u2028\\U000e0001 é ok")
    assert display("two\nlines\x1b", keep_newlines=True) == "two\nlines\\x1b"
    text = json_text({"p": "bad\udcff\x1b\x9b\u202e\u2029я"})
    assert text.isascii() is False and json.loads(text) == {"p": "bad\\xff\x1b\x9b\u202e\u2029я"}
    assert not RAW.findall(text)
    assert markdown_text("<img src=x onerror=a()>[l](j:x)`c`|&") == (
        "&lt;img src=x onerror=a()&gt;\\[l\\](j:x)\\`c\\`\\|&amp;")
    assert markdown_plain(markdown_text("a <b> & [x](y) | `z` \\")) == "a <b> & [x](y) | `z` \\"
    assert markdown_url("https://x.org/a?b=1&c=<d>(e)") == "https://x.org/a?b=1&c=%3Cd%3E%28e%29"


def test_report_file_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    """``-o FILE``: written beside and renamed into place; a failed write keeps the old report, leaves no
    temporary file."""
    from curator.cli.common import write_report

    out = tmp_path / "report.json"
    write_report(out, '{"old": 1}\n')
    assert out.read_text() == '{"old": 1}\n'

    class Exploding(str):
        def encode(self, *args: object, **kwargs: object) -> bytes:
            raise RuntimeError("renderer bug")

    with pytest.raises(RuntimeError):
        write_report(out, Exploding("x"))
    assert out.read_text() == '{"old": 1}\n' and sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    write_report(out, "new\udcff\n")
    assert out.read_bytes() == b"new\\udcff\n"


def test_listed_hostile_names_are_missing_in_verify(outputs: dict[tuple[str, str], str]) -> None:
    findings = _findings(outputs, "verify")
    assert {(f["code"], f["path"]) for f in findings} >= {("FILE_MISSING", name) for name in HOSTILE_LISTED}


def test_pack_names_the_unlisted_hostile_files_escaped(hostile: Path, tmp_path: Path) -> None:
    """Regression: ``curator pack`` listed the files it refuses with their raw names (a terminal escape in a
    name cleared the screen)."""
    run = run_bounded(["pack", str(hostile), str(tmp_path / "parts")], cwd=tmp_path)
    run.assert_bounded(exit_code=1, seconds=60, megabytes=200)
    assert not RAW.findall(run.stderr) and f"  - {BAD}: not listed in SHA256SUMS" in run.stderr
    assert "  - rtl\\u202egnp.exe: not listed in SHA256SUMS" in run.stderr


def test_verify_quick_answer_escapes_names(hostile: Path, tmp_path: Path) -> None:
    """``curator verify ROOT`` (text, no -o) answers without the report models: the same rule applies there, and
    to its "fetch again" line."""
    run = run_bounded(["verify", str(hostile)], cwd=tmp_path)
    run.assert_bounded(exit_code=1, seconds=60, megabytes=200)
    assert not RAW.findall(run.stdout)
    assert "fetch again (3): gone\\x1b[2J.nii.gz gone<script>&.nii.gz gone\\u202eexe.nii.gz\n" in run.stdout


def test_review_page_shows_names_escaped(hostile: Path, tmp_path: Path) -> None:
    """The review page (HTML, and the JSON its script puts on screen) follows the same rule: no terminal escape or
    bidi override reaches the page, an undecodable byte is \\xNN (it was U+FFFD)."""
    run = run_bounded(["review", str(hostile), "--out", str(tmp_path / "review"), "--no-cache"], cwd=tmp_path)
    run.assert_bounded(exit_code=1, seconds=60, megabytes=200)
    page = (tmp_path / "review" / "index.html").read_bytes().decode("utf-8")
    assert not RAW.findall(page) and "<b>bold" not in page
    assert "bad\\\\xff\\\\xfename.txt" in page and "rtl\\\\u202egnp.exe" in page   # in the page's JSON data
