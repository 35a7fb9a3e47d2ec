"""validate's memory independent of release size (issue 15): what a clean file leaves behind once it is read.

Each file is judged as its batch returns: a clean NIfTI header, a matching digest and a clean file's privacy audit
are not held until the checks run (main held all of them: ~1.75 KB a study in all, ~1 GB at a million). The
report stays the same: tests/test_validate*.py and tests/test_checks_headers.py judge it."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

from curator import root_and_hashes
from curator import validate as validate_module
from curator.io import registry as registry_io
from curator.io.facts import Facts, Walk
from curator.io.inventory import Entry, walk_entries
from curator.io.manifest import Manifest, ManifestEntries, ManifestEntry, read_manifest
from curator.profiles import get_profile
from curator.validate import ValidateOptions
from tests.check_facts import MASK, STUDY, gather_facts
from tests.factories import DEFAULT_AFFINE, ct_volume, in_voxel_order, linked_studies_release, write_nifti
from tests.memory import traced
from tests.reports import validate_report


def test_clean_headers_audits_and_matching_digests_are_judged_as_read_not_held(release: Path) -> None:
    """Of the factory release's NIfTI files only the damaged study's header, the mask pairs' (judged across
    files) and the audit of the study with a name in its header stay in the facts; the
    digests kept are those of the files that differ from SHA256SUMS. Each was kept for every file before."""
    (release / STUDY[2]).write_bytes(b"not a nifti")                          # unreadable, and a wrong digest
    write_nifti(release / STUDY[5], ct_volume(), DEFAULT_AFFINE, descrip="Ivanov Ivan")   # a name, a wrong digest
    facts = gather_facts(release)
    nifti = sorted(p for p in facts.files if p.endswith(".nii.gz"))
    paired = {path for mask, study, _ in facts.mask_pairs() for path in (mask, study)}
    assert len(nifti) > len(paired) + 2 and set(MASK.values()) <= paired
    assert sorted(facts.headers) == sorted(paired | {STUDY[2]})
    assert isinstance(facts.headers[STUDY[2]], str)
    assert sorted(facts.digests) == sorted([STUDY[2], STUDY[5]])
    assert facts.privacy_files is not None
    # the unreadable study's audit says nothing (IMAGE_UNREADABLE is its finding): only the named one is kept
    assert sorted(p for p, a in facts.privacy_files.files.items() if a.kind == "nifti") == [STUDY[5]]
    assert facts.orientations is not None
    assert sum(len(paths) for paths in facts.orientations.values()) == len(nifti) - 1   # all but the unreadable


def test_a_study_in_another_voxel_order_is_named_when_its_header_is_not_held(release: Path) -> None:
    """The orientation check counts every header as it is read (facts.orientations): an unpaired study in another
    voxel order, whose header is clean and so not kept, is still named against the majority."""
    unpaired = next(study for number, study in sorted(STUDY.items()) if number not in MASK)
    data, affine = in_voxel_order(ct_volume(), DEFAULT_AFFINE, "RPS")
    write_nifti(release / unpaired, data, affine)
    facts = gather_facts(release)
    assert unpaired not in facts.headers
    report = validate_report(release, "--select", "ORIENTATION_INCONSISTENT", exit_code=0)
    assert [(f["path"], f["context"]["orientation"]) for f in report["findings"]] == [(unpaired, "RPS")]


def _gather(root: Path, studies: int) -> int:
    linked_studies_release(root, studies)
    facts = validate_module.gather(root, get_profile("mosmed"), ValidateOptions(profile="mosmed", jobs=1))
    return len(facts.files)


def _held_after_gather(root: Path, studies: int) -> int:
    """The bytes gather's facts hold, and only those: the garbage of earlier tests is collected before the count
    and gather's own after it (how much of either is left depends on the collector's counters, so on the tests run
    before)."""
    linked_studies_release(root, studies)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        facts = validate_module.gather(root, get_profile("mosmed"), ValidateOptions(profile="mosmed", jobs=1))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(facts.files) == studies + 3
    return held


def test_a_clean_study_leaves_well_under_a_kilobyte_after_gather(tmp_path: Path) -> None:
    """What gather holds grows by < 600 B a study (measured 247-262 B alone and after other tests; main of
    issue 15's start 1,753 B): walk entry, registry row and manifest entry, no header, digest or privacy audit per
    clean study. A gather of a small release runs first, untraced: what the first gather of a process loads once
    (lazy imports, the profile's compiled patterns, ...) fell into the smaller release's count when this test ran
    alone and not after other tests, so the figure per study depended on the order (~100 B alone, ~480 after)."""
    assert _gather(tmp_path / "first", 20) == 23
    small = _held_after_gather(tmp_path / "small", 200)
    large = _held_after_gather(tmp_path / "large", 800)
    assert (large - small) / 600 < 600, (small, large)


def test_gather_holds_the_walks_paths_once_as_bytes(tmp_path: Path) -> None:
    """A clean study of a linked release adds < 185 B to what gather holds (measured 151-154 B; 224 B while the
    walk held a str object a path, shared by the sum file, the NIfTI list and the orientation lists, which now hold
    the walk's positions: io.rows.PathList; positions, line and row numbers in 32-bit arrays)."""
    assert _gather(tmp_path / "first", 20) == 23
    small = _held_after_gather(tmp_path / "small", 200)
    large = _held_after_gather(tmp_path / "large", 1200)
    assert (large - small) / 1000 < 185, (small, large)
    facts = validate_module.gather(tmp_path / "large", get_profile("mosmed"), ValidateOptions(profile="mosmed"))
    assert facts.orientations is not None and len(facts.orientations) == 1   # the same phantom under every name
    assert list(*facts.orientations.values()) == [p for p in facts.files if p.endswith(".nii.gz")]


def test_a_registry_row_holds_no_second_copy_of_the_path_the_walk_holds(tmp_path: Path) -> None:
    """read_registries holds a study_file cell naming a file on disk as the walk's position (io.registry
    Rows.share_paths): the table of 20,000 rows held ~103 B a row with its own copy of every path as text, now
    ~70 B (the intern table's growth, the interpreter's, is left out as in test_registry_scale). The cells read the
    same, and a path not on disk keeps its text."""
    paths = linked_studies_release(tmp_path, 20_000)
    registry = tmp_path / "dataset_registry.csv"
    registry.write_text(registry.read_text(encoding="utf-8") + "20001,CT-1,/studies/CT-1/study_20001.nii.gz,\r\n",
                        encoding="utf-8", newline="")
    facts = Facts(root=tmp_path, profile=get_profile("mosmed"), languages=["en"],
                  entries=Walk(walk_entries(tmp_path)))
    validate_module.read_registries(facts)   # warms what the reading imports and caches
    intern_line = next(number for number, line in enumerate(Path(registry_io.__file__).read_text().splitlines(), 1)
                       if "sys.intern(" in line)
    gc.collect()
    with traced(snapshots=True) as memory:
        validate_module.read_registries(facts)
        gc.collect()
    assert memory.before is not None and memory.after is not None
    keep = [tracemalloc.Filter(False, registry_io.__file__, lineno=intern_line)]
    held = sum(stat.size_diff for stat in memory.after.filter_traces(keep).compare_to(
        memory.before.filter_traces(keep), "lineno"))
    assert held / len(paths) < 85, held / len(paths)
    assert facts.registry is not None
    cells = [raw["study_file"] for _, raw in facts.registry.rows]
    assert cells == [f"/{path}" for path in paths] + ["/studies/CT-1/study_20001.nii.gz"]
    assert [row.study_file for _, row in facts.rows] == cells


def test_the_hashing_phase_lists_what_each_file_needs_in_a_byte_not_a_dict(tmp_path: Path) -> None:
    """root_and_hashes._Wanted: the listed regular files in path order, each once, with the algorithms of every
    sum file listing it; held as the path list and a byte a file. The dict of every listed path to its tuple it
    replaces peaked at 31 B a file with its sorted copy (20,000 files; ~50 B at a million, where the dict's table is
    sparser), now 9.7 B."""
    (tmp_path / "b").write_bytes(b"b")
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "d").write_bytes(b"d")
    (tmp_path / "c").mkdir()
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(f"{'1' * 64}  b\n{'2' * 64}  a\n{'3' * 64}  c\n{'4' * 64}  gone\n"
                    f"MD5 (d) = {'5' * 32}\n", encoding="utf-8")
    md5 = tmp_path / "MD5SUMS"
    md5.write_text(f"{'6' * 32}  b\n", encoding="utf-8")
    files = Walk(walk_entries(tmp_path)).files
    wanted = root_and_hashes._Wanted([read_manifest(sums), read_manifest(md5)], files)
    assert wanted.paths == ["a", "b", "d"]
    assert [wanted.algorithms(at) for at in range(3)] == [("sha256",), ("md5", "sha256"), ("md5",)]

    count = 20_000
    entries = Walk(Entry(f"studies/CT-1/study_{n:06d}.nii.gz", "file", 100) for n in range(count))
    listing = ManifestEntries("sha256")
    for number, (path, _) in enumerate(entries.file_positions(), start=1):
        listing.append(ManifestEntry(path, "0" * 64, "sha256", number))
    manifest = Manifest(tmp_path / "SHA256SUMS", "sha256", listing)
    with traced() as memory:
        wanted = root_and_hashes._Wanted([manifest], entries.files)
    assert len(wanted.paths) == count and wanted.algorithms(count - 1) == ("sha256",)
    assert memory.peak / count < 25, memory.peak / count
