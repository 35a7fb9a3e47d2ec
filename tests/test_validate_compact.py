"""validate's per-file state held compactly (issue 15: a million-entry release in <= 300 MB): the walk
(io.facts.Walk), a sum file's entries (io.manifest.ManifestEntries), and checks that run over every file without a
release-sized transient. The reports stay the same: tests/test_validate*.py and tests/test_checks_*.py judge them."""

from __future__ import annotations

import gc
import random
from pathlib import Path

import pytest

from curator.checks import inventory as inventory_check
from curator.checks.names import case_collisions
from curator.io.facts import Walk
from curator.io.inventory import Entry, walk
from curator.io.manifest import ManifestEntries, parse_manifest, read_manifest
from tests.check_facts import gather_facts
from tests.factories import linked_studies_release
from tests.memory import traced


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("linked")
    linked_studies_release(root, 3000)
    return root


def test_a_walk_is_held_in_about_a_hundred_bytes_a_file_paths_included() -> None:
    """A list of Entry and a dict of the files by path held ~250 B a file besides the path (~330 B with it); the
    Walk holds the path string, a kind byte and a size (measured ~100 B with the path)."""
    count = 20_000
    with traced() as memory:
        held = Walk(Entry(f"studies/CT-1/study_{n:06d}.nii.gz", "file", 1000 + n) for n in range(count))
        files = held.files
        assert len(files) == count
    assert memory.held / count < 130, memory.held / count


def test_a_walk_reads_like_the_walk_it_holds(linked: Path) -> None:
    (linked / "folder").mkdir(exist_ok=True)
    (linked / "folder" / "link").unlink(missing_ok=True)
    (linked / "folder" / "link").symlink_to("../LICENSE")
    entries = walk(linked)
    held = Walk(entries)
    assert held == entries and list(held) == entries and held[-1] == entries[-1] and held[1:4] == entries[1:4]
    files = {e.path: e for e in entries if e.kind == "file"}
    assert list(held.files) == list(files) and len(held.files) == len(files)
    assert held.files["LICENSE"] == files["LICENSE"]
    assert "folder/link" not in held.files and "folder" not in held.files and "nothing" not in held.files
    (linked / "folder" / "link").unlink()
    (linked / "folder").rmdir()


def test_a_sum_file_is_held_in_under_170_bytes_a_line_paths_included(tmp_path: Path) -> None:
    """An entry held a tuple, a 64-character hex string and a line number besides its path (~300 B a line in all);
    ManifestEntries holds the path, 32 digest bytes and 8 bytes of line number."""
    count = 20_000
    sums = tmp_path / "SHA256SUMS"
    sums.write_text("".join(f"{n:064x}  studies/CT-1/study_{n:06d}.nii.gz\n" for n in range(count)), encoding="utf-8")
    with traced() as memory:
        manifest = read_manifest(sums)
    assert len(manifest.entries) == count and isinstance(manifest.entries, ManifestEntries)
    assert memory.held / count < 170, memory.held / count
    assert manifest.entries[7].digest == f"{7:064x}"


def test_an_unsorted_sum_file_with_paths_listed_again_reads_as_the_whole_file_reader_reads_it(tmp_path: Path) -> None:
    """read_manifest finds a path listed again without a dict of every path (in order: the line before; out of
    order: the paths sorted once); entries and problems equal parse_manifest's, in order, and every entry is found
    by its path."""
    lines = [f"{n:064x}  data/file_{n % 23:02d}.bin" for n in range(60)]
    random.Random(5).shuffle(lines)
    lines[10:10] = ["not a line", "SHA1 (data/tagged.bin) = " + "b" * 40, "C" * 64 + "  data/upper.bin"]
    sums = tmp_path / "SHA256SUMS"
    sums.write_text("\n".join(lines) + "\n", encoding="utf-8")
    whole, streamed = parse_manifest(sums), read_manifest(sums)
    assert list(streamed.entries) == list(whole.entries) and streamed.problems == whole.problems
    assert sum("is listed again" in reason for _, reason in streamed.problems) == 60 - 23
    entries = streamed.entries
    assert isinstance(entries, ManifestEntries)
    assert all(entries.find(entry.path) == entry for entry in whole.entries)
    assert entries.find("data/file_99.bin") is None and not entries.lists("data")


@pytest.mark.parametrize("others", [0, 5000])   # few paths: a dict of them all; many: only shared folded hashes
def test_case_collisions_are_found_among_few_and_many_paths(others: int) -> None:
    paths = ["a/Readme.md", "a/readme.md", "b/STRASSE", "b/straße", "c/x", "c/X", "d/only.txt"]
    paths += [f"e/CT-1/study_{n:05d}.nii.gz" for n in range(others)]
    assert case_collisions(reversed(paths)) == {"a/readme.md": "a/Readme.md", "b/straße": "b/STRASSE",
                                                "c/x": "c/X"}


def _check_peak_per_file(linked: Path, check: object) -> tuple[float, list[str]]:
    """The peak of a check's allocations over the linked release, in bytes a file, and the codes it found."""
    facts = gather_facts(linked)
    run = check.check  # type: ignore[attr-defined]
    list(run(facts))   # once for its imports and caches
    gc.collect()       # the tests before leave garbage whose collection would count
    with traced() as memory:
        codes = [finding.code for finding in run(facts)]
    return memory.peak / len(facts.files), codes


def test_the_inventory_check_holds_no_entry_or_folded_path_per_file(linked: Path) -> None:
    """The inventory check listed every clean entry (with a compact walk, an Entry made per file) and a dict of
    every path's folded copy for the case collisions: ~250 B a file at its peak; now the entries are walked again
    and only the paths whose folded hashes are shared are looked at."""
    peak, codes = _check_peak_per_file(linked, inventory_check)
    assert codes == ["REQUIRED_FILE_MISSING"] * 3   # the linked release has no README nor workbook
    assert peak < 60, peak

