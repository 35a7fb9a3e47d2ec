"""`curator verify`'s text answer without the report models: word for word what the full judgement prints, and a
cached rerun (intact or damaged) that loads neither pydantic, yaml nor the catalogue's models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from curator.catalogue import catalogue
from curator.render.report import to_text
from curator.render.rules import rules_json
from curator.resources import schema_dir
from curator.rule_texts import COMPILED
from curator.verify import judge, quick_answer, read_release
from tests.factories import flip_byte

DAMAGE = ["none", "missing", "flipped", "three flipped", "unreadable", "unlisted", "junk-free extra", "malformed",
          "empty manifest", "everything at once"]


def damage(release: Path, kind: str) -> None:
    if kind in ("missing", "everything at once"):
        (release / "masks/study_0003_mask.nii.gz").unlink()
    if kind in ("flipped", "everything at once"):
        flip_byte(release / "README_EN.md", 5)
    if kind == "three flipped":
        for path in sorted(release.glob("studies/CT-*/*.nii.gz"))[:3]:
            flip_byte(path)
    if kind == "unreadable":
        victim = release / "README_RU.md"
        victim.unlink()
        victim.mkdir()     # listed, present, but not a file that can be hashed
    if kind in ("unlisted", "everything at once"):
        (release / "notes.txt").write_text("mine", encoding="utf-8")
    if kind == "junk-free extra":
        (release / "studies" / "extra.bin").write_bytes(b"\0")
    if kind in ("malformed", "everything at once"):
        with (release / "SHA256SUMS").open("a", encoding="utf-8") as handle:
            handle.write("not a manifest line\nneither is this\n")
    if kind == "empty manifest":
        (release / "SHA256SUMS").write_text("", encoding="utf-8")


def _without_seconds(text: str) -> str:
    # the two answers are timed separately: compare everything else
    *body, last = text.rstrip("\n").split("\n")
    return "\n".join([*body, last.rsplit(" in ", 1)[0]])


@pytest.mark.parametrize("kind", DAMAGE)
@pytest.mark.parametrize("verbose", [False, True])
def test_the_quick_answer_is_word_for_word_the_full_reports_text(release: Path, kind: str, verbose: bool) -> None:
    damage(release, kind)
    reading = read_release(release)
    answer = quick_answer(reading, limit=None if verbose else 2)
    report = judge(reading)
    assert answer is not None
    assert _without_seconds(answer.text) == _without_seconds(to_text(report, command="verify",
                                                                      limit=None if verbose else 2))
    assert answer.valid is report.valid
    assert answer.refetch == (report.stats.model_extra or {})["refetch"]
    assert answer.valid is (kind in ("none", "unlisted", "junk-free extra"))


def test_three_damaged_files_are_named_and_listed_for_fetching_again(release: Path) -> None:
    damage(release, "three flipped")
    answer = quick_answer(read_release(release))
    assert answer is not None and not answer.valid
    damaged = [p.relative_to(release).as_posix() for p in sorted(release.glob("studies/CT-*/*.nii.gz"))[:3]]
    assert answer.refetch == damaged
    # two examples, then "N more"; the refetch line (printed after the text) names all three
    assert "ERROR CHECKSUM_MISMATCH (3)" in answer.text and "... and 1 more" in answer.text
    assert sum(path in answer.text for path in damaged) == 2


def test_a_parts_folder_or_a_linked_manifest_goes_through_the_full_judgement(release: Path) -> None:
    (release / "PARTS.tsv").write_text("part\tmd5\tsha256\n", encoding="utf-8")
    assert quick_answer(read_release(release)) is None
    (release / "PARTS.tsv").unlink()
    (release / "SHA256SUMS").rename(release / "elsewhere")
    (release / "SHA256SUMS").symlink_to(release / "elsewhere")
    assert quick_answer(read_release(release)) is None


def test_the_compiled_catalogue_is_current() -> None:
    compiled = (schema_dir() / "rules" / COMPILED).read_text(encoding="utf-8")
    assert compiled == rules_json(catalogue()), (
        "schema/rules/catalogue.json is stale: run `curator rules --format json > schema/rules/catalogue.json`")


@pytest.mark.parametrize("kind", ["none", "three flipped"])
def test_a_cached_rerun_loads_neither_pydantic_yaml_nor_click(release: Path, tmp_path: Path, kind: str) -> None:
    damage(release, kind)
    code = (
        "import sys\n"
        "from curator.cli.entry import main\n"
        "try:\n"
        f"    main(['verify', {str(release)!r}, '--cache-dir', {str(tmp_path / 'cache')!r}])\n"
        "except SystemExit as done:\n"
        "    print('EXIT', done.code)\n"
        "heavy = sorted(m for m in ('pydantic', 'numpy', 'yaml', 'curator.catalogue', 'curator.models.findings',\n"
        "                           'curator.profiles', 'click') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    for run in ("first", "rerun"):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert "HEAVY []" in done.stdout, run
        if kind == "none":
            assert "INTACT" in done.stdout and "EXIT 0" in done.stdout
        else:
            assert "NOT INTACT: 3 errors" in done.stdout and "fetch again (3)" in done.stdout
            assert "EXIT 1" in done.stdout


def _curator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "curator", *args], capture_output=True, text=True, check=False)


def test_verify_has_its_own_parser_with_the_documented_exit_codes(built_release: Path) -> None:
    helped = _curator("verify", "--help")
    assert helped.returncode == 0
    for option in ("--manifest", "--format", "--output", "--verbose", "--jobs", "--only", "--cache-dir", "--no-cache"):
        assert option in helped.stdout
    for bad, says in ((["-j", "0"], "--jobs"), (["--format", "xml"], "invalid choice"), (["--bogus"], "--bogus"),
                      (["--no-c"], "--no-c")):       # no abbreviations: a typo is not silently another option
        done = _curator("verify", str(built_release), *bad)
        assert done.returncode == 2, bad
        assert says in done.stderr and "Traceback" not in done.stderr
    missing = _curator("verify", str(built_release / "nowhere"))
    assert missing.returncode == 3 and "does not exist" in missing.stderr
    assert _curator("verify", str(built_release), "--no-cache").returncode == 0


def test_the_click_group_forwards_verify_to_the_same_parser(release: Path) -> None:
    from click.testing import CliRunner

    from curator.cli.main import main

    assert "verify" in CliRunner().invoke(main, ["--help"]).output
    assert "--only GLOB" in CliRunner().invoke(main, ["verify", "--help"]).output
    assert CliRunner().invoke(main, ["verify", str(release), "-j", "0"]).exit_code == 2
    damage(release, "three flipped")
    done = CliRunner().invoke(main, ["verify", str(release), "--no-cache", "-v"])
    assert done.exit_code == 1 and "fetch again (3)" in done.output
