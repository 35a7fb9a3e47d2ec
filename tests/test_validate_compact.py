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
from curator.io import dicom_audit
from curator.io.facts import Walk
from curator.io.inventory import Entry, walk
from curator.io.manifest import ManifestEntries, ManifestEntry, parse_manifest, read_manifest
from curator.io.registry import Rows
from curator.io.rows import PathList
from tests.check_facts import gather_facts
from tests.factories import linked_studies_release
from tests.memory import traced


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("linked")
    linked_studies_release(root, 3000)
    return root


def test_a_walk_is_held_in_about_fifty_bytes_a_file_paths_included() -> None:
    """A list of Entry and a dict of the files by path held ~250 B a file besides the path (~330 B with it); a Walk
    of path strings ~100 B a file (a str object of 80 B and its list slot); the Walk holds the paths' bytes in one
    buffer with a 4-byte end each, a kind byte and a size: measured 49.3 B a file for these 32-character paths."""
    count = 20_000
    with traced() as memory:
        held = Walk(Entry(f"studies/CT-1/study_{n:06d}.nii.gz", "file", 1000 + n) for n in range(count))
        files = held.files
        assert len(files) == count
    assert memory.held / count < 60, memory.held / count
    assert files["studies/CT-1/study_019999.nii.gz"] == Entry("studies/CT-1/study_019999.nii.gz", "file", 20_999)


def test_a_walk_finds_every_path_it_holds_whatever_its_characters_and_order() -> None:
    """Paths are held as UTF-8 bytes (a lone surrogate, an undecodable byte of a file name, kept); looked up in
    path order (next to the one found before), out of order (a bisection) and in an unsorted walk (a dict made
    once); a folder, a link or an absent path is no file."""
    names = ["a/caf\u00e9", "a/caf\u00e9/x", "a/b\udcff.nii.gz", "a/z", "b", "b/\U0001f600", "c/link", "\u00e9"]
    entries = [Entry(path, "dir" if path in ("a/caf\u00e9", "b") else "symbolic link" if path == "c/link" else "file",
                     number) for number, path in enumerate(sorted(names))]
    for held in (Walk(entries), Walk(reversed(entries))):
        files = {entry.path: entry for entry in held if entry.kind == "file"}
        assert list(held.files) == list(files) and dict(held.files) == files and len(held.files) == 5
        for path in [*files, *reversed(files)]:
            at = held.position(path)
            assert at is not None and held.path(at) == path and held.files[path] == files[path]
        absent = ("a/caf\u00e9", "b", "c/link", "a", "a/b", "\u00e9\u00e9")
        assert [held.position(path) for path in absent] == [None] * 6
    assert Walk(entries) == entries and list(Walk(reversed(entries))) == entries[::-1]


def test_a_list_of_the_walks_paths_holds_their_positions_not_strings() -> None:
    """io.rows.PathList: a path the walk has costs 8 B (its position); another keeps its string. It reads, slices
    and compares like the list of its paths."""
    count = 20_000
    walk = Walk(Entry(f"studies/CT-1/study_{n:06d}.nii.gz", "file", 1) for n in range(count))
    paths = [f"studies/CT-1/study_{n:06d}.nii.gz" for n in range(count)]
    with traced() as memory:
        held = PathList(walk)
        for path in paths:
            held.append(path)
    assert memory.held / count < 10, memory.held / count
    held.append("not/on/disk")
    assert held == [*paths, "not/on/disk"] and held[-1] == "not/on/disk" and held[3:5] == paths[3:5]
    assert held.taken([count, 2, 0]) == ["not/on/disk", paths[2], paths[0]]



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



def test_the_dicom_audits_candidates_hold_no_string_a_file(linked: Path) -> None:
    """io.dicom_audit.candidates listed ``sorted(facts.files)``: with the walk's paths in one buffer that made a new
    string for every file of the release (~90 B a file at the 1M benchmark's peak), to keep none of a NIfTI release.
    Now the walk's files are filtered one at a time and the kept ones held as positions."""
    facts = gather_facts(linked)
    dicom_audit.candidates(facts)   # once for its imports and caches
    gc.collect()
    with traced() as memory:
        paths, skipped = dicom_audit.candidates(facts)
    assert memory.peak / len(facts.files) < 10, memory.peak / len(facts.files)
    expected = [path for path in sorted(facts.files)
                if path not in facts.headers and not path.lower().endswith(dicom_audit.NOT_DICOM_SUFFIXES)]
    assert list(paths) == expected == ["LICENSE", "SHA256SUMS"] and skipped == len(facts.files) - 2


class _NumberedPaths:
    """A store whose every position is a path: for positions no walk in a test could have."""

    def position(self, path: str) -> int | None:
        return int(path[1:]) if path[:1] == "p" else None

    def path(self, at: int) -> str:
        return f"p{at}"


def test_the_32_bit_columns_widen_to_64_bits_when_a_value_does_not_fit() -> None:
    """Positions, line and row numbers are held in 32-bit arrays (half the bytes at a million files); a value past
    2**31 widens the array instead of raising OverflowError."""
    huge = 2**40
    paths = PathList(_NumberedPaths())
    for path in ("p1", f"p{huge}", "elsewhere"):
        paths.append(path)
    assert paths == ["p1", f"p{huge}", "elsewhere"] and paths.taken([1]) == [f"p{huge}"]
    listing = ManifestEntries("sha256")
    for line in (1, huge, 3):
        listing.append(ManifestEntry(f"f{line}", "0" * 64, "sha256", line))
    assert [entry.line for entry in listing] == [1, huge, 3]
    rows = Rows(["study_id"])
    for number in (2, huge):
        rows.append((number, {"study_id": number}))
    assert [rows.number(0), rows.number(1), rows[1]] == [2, huge, (huge, {"study_id": huge})]


def test_an_unsorted_sum_file_is_put_in_path_order_with_no_string_a_line() -> None:
    """registry_at_scale's SHA256SUMS is out of order (study_9999 before study_10000): path_order sorted its lines by
    their paths, every path's string made at once (with the walk's paths held as bytes, a million-line one peaked
    at 341 MB in validate; main's strings were the walk's own). The walk's positions are sorted instead (numpy,
    stable): measured 16 B a line at the peak, against 53 on main and 132 before this fix. With a path not on
    disk and a path listed twice the order is the strings' order, equal paths in line order."""
    count = 30_000
    paths = [f"studies/CT-1/study_{n:04d}.nii.gz" for n in range(1, count + 1)]
    walk = Walk(Entry(path, "file", 1) for path in sorted(paths))
    entries = ManifestEntries("sha256", walk.files)
    for number, path in enumerate(paths, start=1):
        entries.append(ManifestEntry(path, f"{number:064x}", "sha256", number))
    import numpy  # noqa: F401 - loaded by validate before it reads the sum files; not counted here
    with traced() as memory:
        order = entries.path_order()
    assert list(order) == sorted(range(count), key=paths.__getitem__)
    assert memory.peak / count < 35, memory.peak / count
    mixed = ManifestEntries("sha256", walk.files)
    listed = [paths[5], "gone/b", paths[1], "gone/a", paths[5], paths[10_000]]
    for number, path in enumerate(listed, start=1):
        mixed.append(ManifestEntry(path, f"{number:064x}", "sha256", number))
    assert list(mixed.path_order()) == sorted(range(len(listed)), key=listed.__getitem__)
    assert [entry.line for entry in mixed if entry.path == paths[5]] == [1, 5]


def test_a_folder_held_as_a_walk_position_is_found_by_index_of() -> None:
    """Review of issue 15's PathList: index_of asked the walk for the position of a regular file only, so a folder
    held as a position (inventory's clean paths hold folders) was never found."""
    walk = Walk([Entry("a", "dir", 0), Entry("a/x", "file", 1), Entry("b", "dir", 0)])
    held = PathList(walk)
    for at, path in enumerate(("a", "a/x", "b")):
        held.append(path, at)   # (as checks.inventory holds its clean paths: the walk's positions, folders too)
    as_text = PathList()
    for path in ("a", "a/x", "b"):
        as_text.append(path)
    for paths in (held, as_text):
        assert [paths.index_of(path, range(3)) for path in ("a", "a/x", "b", "c")] == [0, 1, 2, None]
