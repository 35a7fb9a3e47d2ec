"""The intact fast path of `curator verify`: the same answer as the full judgement, without loading the report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from curator.render.report import summary
from curator.verify import intact_summary, judge, read_release
from tests.factories import flip_byte


def test_an_intact_release_gets_the_same_summary_line_as_the_full_report(built_release: Path) -> None:
    reading = read_release(built_release)
    line = intact_summary(reading)
    report = judge(reading)
    assert report.valid and not report.findings
    assert line is not None
    # the seconds differ between the two calls: compare the rest
    assert line.rsplit(" in ", 1)[0] == summary(report, "verify").rsplit(" in ", 1)[0]


@pytest.mark.parametrize("damage", ["missing", "flipped", "unlisted", "junk-free extra", "malformed", "parts"])
def test_whenever_the_judgement_has_a_finding_the_fast_path_steps_aside(release: Path, damage: str) -> None:
    if damage == "missing":
        (release / "masks/study_0003_mask.nii.gz").unlink()
    elif damage == "flipped":
        flip_byte(release / "README_EN.md", 5)
    elif damage == "unlisted":
        (release / "notes.txt").write_text("mine", encoding="utf-8")
    elif damage == "junk-free extra":
        (release / "studies" / "extra.bin").write_bytes(b"\0")
    elif damage == "malformed":
        with (release / "SHA256SUMS").open("a", encoding="utf-8") as handle:
            handle.write("not a manifest line\n")
    else:
        (release / "PARTS.tsv").write_text("part\tmd5\tsha256\n", encoding="utf-8")
    reading = read_release(release)
    assert judge(reading).findings
    assert intact_summary(reading) is None


def test_verifying_an_intact_release_loads_neither_pydantic_nor_the_catalogue(built_release: Path) -> None:
    code = (
        "import sys\n"
        "from curator.cli.main import main\n"
        "try:\n"
        f"    main(['verify', {str(built_release)!r}, '--no-cache'])\n"
        "except SystemExit as done:\n"
        "    assert done.code == 0, done.code\n"
        "heavy = sorted(m for m in ('pydantic', 'numpy', 'yaml', 'curator.catalogue', 'curator.models.findings')\n"
        "               if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "INTACT" in done.stdout and "HEAVY []" in done.stdout
