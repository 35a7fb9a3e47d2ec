"""The hostile-input suite of issue 12 ("Trust"), one class of input per section: archive members that expand to
gigabytes, large files named .dcm that are not DICOM, FIFOs where curator expects a file, xlsx registries whose parts
inflate to gigabytes, and formulas in the registry.

Every case runs the real command in a subprocess (tests/hostile.py) and asserts the contract: the exit code, no
traceback, a wall-time bound (catches hangs), a peak-RSS bound measured on the child, nothing written outside OUT and
the source unchanged. The interpreter with curator's imports alone takes ~100 MB; bounds are stated per test, from
measurements on a loaded 2-core machine (the figures measured are in the comments).
"""

from __future__ import annotations

import os
import shutil
import zipfile
import zlib
from pathlib import Path

import pytest

from curator.io.archive_read import SPILL_BYTES, Limits, iter_members
from tests.archive_factories import RawMember, deflated_repeat, make_7z, make_tar, tar_gz_bomb, write_raw_zip, zip_bomb
from tests.hostile import Run, run_bounded, snapshot, written_outside
from tests.memory import traced

KEY = {"CURATOR_ANON_KEY": "k" * 32}
GIB = 1 << 30


def _findings(run: Run) -> list[tuple[str, str]]:
    document = run.report()
    return [(f["code"], f["path"]) for f in document["findings"]]


# --- archive members: streamed, never buffered whole ---------------------------------------------------------------

@pytest.fixture(scope="module")
def big_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The issue's zip: 35 MB holding one 3 GiB member of zeros (plus 32 MiB of random bytes, so the ratio is ~90 and
    the ratio limit of 200 does not trip: the member must be streamed)."""
    folder = tmp_path_factory.mktemp("bigzip") / "inputs"
    folder.mkdir()
    return zip_bomb(folder / "case01.zip", 3 * GIB, name="case01/IM0001.dcm", pad=32 << 20)


@pytest.fixture(scope="module")
def big_tar_gz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The issue's tar.gz: 19 MB holding one 3 GiB member of zeros (ratio ~165, under the limit of 200)."""
    folder = tmp_path_factory.mktemp("bigtar") / "inputs"
    folder.mkdir()
    return tar_gz_bomb(folder / "case01.tar.gz", 3 * GIB, name="case01/IM0001.dcm", pad=16 << 20)


def test_a_3_gib_member_of_a_35_mb_zip_is_never_held_in_memory(big_zip: Path, tmp_path: Path) -> None:
    # before: 6.2 GB RSS (the member read whole, then copied). Now its first bytes say it is not DICOM, so it is not
    # expanded further: measured ~85 MB and ~3 s
    work = big_zip.parent.parent
    before, source = snapshot(work), snapshot(big_zip.parent)
    run = run_bounded(["ingest", str(big_zip.parent), str(tmp_path / "out"), "--category", "CT-1", "--format", "json"],
                      cwd=tmp_path, env=KEY, timeout=120)
    run.assert_bounded(exit_code=1, seconds=60, megabytes=300)
    assert _findings(run) == [("INGEST_NO_SERIES", "case01")]
    assert snapshot(big_zip.parent) == source
    assert written_outside(before, snapshot(work), "out") == []


def test_a_3_gib_member_of_a_19_mb_tar_gz_stops_at_the_ratio_limit_in_bounded_memory(big_tar_gz: Path,
                                                                                       tmp_path: Path) -> None:
    # before: 3.65 GB RSS. A tar must be read through; with --max-ratio 50 the 19 MB archive is a bomb once ~1 GB has
    # come out of the decompressor: measured ~85 MB and ~10 s (the stream is counted, nothing is kept)
    source = snapshot(big_tar_gz.parent)
    run = run_bounded(["ingest", str(big_tar_gz.parent), str(tmp_path / "out"), "--category", "CT-1", "--max-ratio",
                       "50", "--format", "json"], cwd=tmp_path, env=KEY, timeout=240)
    run.assert_bounded(exit_code=1, seconds=180, megabytes=300)
    assert _findings(run) == [("ARCHIVE_BOMB", "case01")]
    assert snapshot(big_tar_gz.parent) == source
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "out.keymap.csv"]


def test_a_3_gib_member_in_a_part_is_an_archive_bomb_for_verify_in_bounded_memory(built_release: Path,
                                                                                     tmp_path: Path) -> None:
    # verify lists the members of a folder of parts (io.archive_members): each member is hashed in 1 MiB chunks, and
    # zeros (ratio ~1030) pass its ratio limit of 1000 once 1 GiB has expanded: measured ~85 MB and ~10 s
    import datetime as dt

    from curator.release.archives import pack_release
    from curator.release.manifests import write_manifests

    parts = tmp_path / "parts"
    pack_release(built_release, parts, fmt="zip", max_bytes=None, max_files=9, when=dt.date(2026, 1, 15))
    part = sorted(parts.glob("*.zip"))[0]
    zip_bomb(part, 3 * GIB, name="studies/CT-0/study_0001.nii.gz")
    for name in ("SHA256SUMS", "MD5SUMS"):
        (parts / name).unlink()
    write_manifests(parts)
    before = snapshot(parts)
    run = run_bounded(["verify", str(parts), "--format", "json", "--no-cache"], cwd=tmp_path, timeout=180)
    run.assert_bounded(exit_code=1, seconds=120, megabytes=300)
    assert ("ARCHIVE_BOMB", part.name) in _findings(run)
    assert snapshot(parts) == before


def _dicom_like(size: int) -> tuple[bytes, int]:
    """Raw deflate data of a member that starts like a DICOM Part 10 file (so ``take`` keeps it), then zeros."""
    head = bytes(128) + b"DICM" + b"\x02\x00\x01\x00OB\x00\x00\x02\x00\x00\x00\x00\x01"
    count, rest = divmod(size - len(head), 1 << 20)
    data, crc, total = deflated_repeat(bytes(1 << 20), count, head, bytes(rest))
    assert total == size
    return data, crc


@pytest.mark.parametrize("kind", ["zip", "tar", "7z"])
def test_a_kept_member_spills_to_a_private_file_beyond_the_memory_threshold(tmp_path: Path, kind: str) -> None:
    """Memory per member is SPILL_BYTES (8 MiB) plus a few MiB of the readers' buffers, whatever the member's size: a
    48 MiB member that the caller keeps lands in a temporary file, which is gone once the iteration moves past it."""
    size = 48 << 20
    path = tmp_path / f"one.{kind}"
    if kind == "zip":
        data, crc = _dicom_like(size)
        write_raw_zip(path, [RawMember("IM1.dcm", data, crc, size), RawMember("IM2.dcm", b"x", zlib.crc32(b"x"), 1, 0)])
    else:
        content = bytes(128) + b"DICM" + bytes(size - 132)
        (make_tar if kind == "tar" else make_7z)(path, {"IM1.dcm": content, "IM2.dcm": b"x"})
    members = iter_members(path, Limits(max_ratio=1e6), take=lambda name, head: head[128:132] == b"DICM")
    with traced() as memory:
        first = next(members)
    peak = memory.peak
    assert (first.name, first.size, first.data, first.kept) == ("IM1.dcm", size, b"", True)
    spilled = first.spilled
    assert spilled is not None and spilled.stat().st_size == size
    assert oct(spilled.parent.stat().st_mode & 0o777) == "0o700"
    with first.open() as handle:
        assert handle.read(132)[128:] == b"DICM"
    # measured: zip 11.2 MiB, tar 12.1 MiB, 7z 16.1 MiB (py7zr's own buffers), the same for 16 or 96 MiB members
    limit = SPILL_BYTES + (12 << 20)
    assert peak <= limit, f"{peak:,} bytes traced while reading one {size:,}-byte member"
    second = next(members)
    assert (second.name, second.read_bytes(), second.kept) == ("IM2.dcm", b"", False)   # not DICM: not kept
    assert not spilled.exists()
    members.close()
    assert not spilled.parent.exists()


def test_a_member_the_caller_does_not_take_is_counted_but_never_kept(tmp_path: Path) -> None:
    path = make_tar(tmp_path / "a.tar", {"notes.txt": b"n" * 5000, "IM1.dcm": bytes(128) + b"DICM\x02\x00"})
    members = list(iter_members(path, take=lambda name, head: name.endswith(".dcm")))
    assert [(m.name, m.size, m.kept, len(m.data), len(m.head)) for m in members] == [
        ("notes.txt", 5000, False, 0, 4096), ("IM1.dcm", 134, True, 134, 134)]


# --- large files named .dcm that are not DICOM: judged from their first bytes ---------------------------------------

@pytest.fixture(scope="module")
def zeros_dcm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with one patient whose only file is 50 MB of zeros named IM0001.dcm."""
    root = tmp_path_factory.mktemp("zeros") / "source"
    (root / "P1").mkdir(parents=True)
    with (root / "P1" / "IM0001.dcm").open("wb") as handle:
        handle.truncate(50_000_000)
    return root


def _seconds(command: str, run: Run) -> float:
    document = run.report()
    return float(document["seconds"] if command == "anonymise" else document["stats"]["seconds"])


@pytest.mark.parametrize(("command", "exit_code"), [("validate", 1), ("ingest", 1), ("anonymise", 1)])
def test_a_50_mb_file_of_zeros_named_dcm_is_refused_from_its_first_bytes(zeros_dcm: Path, tmp_path: Path,
                                                                          command: str, exit_code: int) -> None:
    # before: 14-65 s (pydicom's force=True parsed 6 million empty elements). Bound: <= 1 s of the command's own
    # work (the seconds in its report, start-up excluded); measured 0.0-0.1 s
    source = snapshot(zeros_dcm)
    args = {"validate": ["validate", str(zeros_dcm), "--profile", "dicom"],
            "ingest": ["ingest", str(zeros_dcm), str(tmp_path / "out"), "--category", "CT-1"],
            "anonymise": ["anonymise", str(zeros_dcm), str(tmp_path / "out")]}[command]
    run = run_bounded([*args, "--format", "json"], cwd=tmp_path, env=KEY, timeout=60)
    run.assert_bounded(exit_code=exit_code, seconds=30, megabytes=250)
    if command == "anonymise":   # a SRC without DICOM makes no copy (exit 1), so no JSON: the whole run is timed
        assert run.seconds <= 10.0 and "holds no DICOM file (1 other files)" in run.stderr, run.stderr
    else:
        assert _seconds(command, run) <= 1.0
    assert snapshot(zeros_dcm) == source
    if command == "validate":
        assert ("DICOM_UNREADABLE", "P1/IM0001.dcm") in _findings(run)
    elif command == "ingest":
        assert _findings(run) == [("INGEST_NO_SERIES", "source")]
    else:
        assert not (tmp_path / "out").exists()


def test_400_mb_of_zeros_in_a_zip_is_refused_from_its_first_bytes(tmp_path: Path) -> None:
    # before: 104 s. --max-ratio high enough that the ratio does not trip: the member is judged by its head.
    # measured ~0.2 s of work, ~85 MB
    (tmp_path / "in").mkdir()
    zip_bomb(tmp_path / "in" / "case.zip", 400_000_000, name="case/IM0001.dcm")
    run = run_bounded(["ingest", str(tmp_path / "in"), str(tmp_path / "out"), "--category", "CT-1", "--max-ratio",
                       "100000", "--format", "json"], cwd=tmp_path, env=KEY, timeout=60)
    run.assert_bounded(exit_code=1, seconds=30, megabytes=250)
    assert _findings(run) == [("INGEST_NO_SERIES", "case")]
    assert run.report()["stats"]["seconds"] <= 2.0


@pytest.fixture(scope="module", params=["zeros", "marker"])
def sparse_dcm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3 GiB sparse loose .dcm (truncate: it costs no disk): zeros, or a preamble and the DICM marker followed by
    zeros (no file meta information: pydicom would parse 400 million empty elements)."""
    root = tmp_path_factory.mktemp(f"sparse-{request.param}") / "source"
    (root / "P1").mkdir(parents=True)
    with (root / "P1" / "IM0001.dcm").open("wb") as handle:
        if request.param == "marker":
            handle.write(bytes(128) + b"DICM")
        handle.truncate(3 * GIB)
    return root


@pytest.mark.parametrize("command", ["validate", "ingest", "anonymise"])
def test_a_3_gib_sparse_dcm_is_refused_without_reading_it_into_memory(sparse_dcm: Path, tmp_path: Path,
                                                                       command: str) -> None:
    # before: 3.1 GB RSS and a hang past 120 s. ingest still hashes every input file for its provenance (streamed:
    # measured 6-10 s), validate and anonymise read 1 KiB of it (measured 0.02 s of work); all ~70-80 MB
    marker = sparse_dcm.parent.name.startswith("sparse-marker")
    args = {"validate": ["validate", str(sparse_dcm), "--profile", "dicom"],
            "ingest": ["ingest", str(sparse_dcm), str(tmp_path / "out"), "--category", "CT-1"],
            "anonymise": ["anonymise", str(sparse_dcm), str(tmp_path / "out")]}[command]
    # anonymise: a damaged DICOM file fails the run (exit 1), and so does a SRC holding no DICOM at all
    exit_code = 1
    run = run_bounded([*args, "--format", "json"], cwd=tmp_path, env=KEY, timeout=180)
    run.assert_bounded(exit_code=exit_code, seconds=120, megabytes=250)
    if command == "validate":
        assert ("DICOM_UNREADABLE", "P1/IM0001.dcm") in _findings(run)
        assert _seconds(command, run) <= 1.0
    elif command == "ingest":
        assert _findings(run) == [("INGEST_NO_SERIES", "source")]
    elif marker:
        assert "is not followed by the file meta information" in run.stderr
    else:
        assert "holds no DICOM file (1 other files)" in run.stderr and run.seconds <= 20.0, run.stderr


# --- FIFOs where a file is expected: refused at once, never opened for a blocking read -------------------------------

@pytest.fixture(scope="module")
def dicom_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dicom") / "source"
    (root / "P1").mkdir(parents=True)
    (root / "P1" / "notes.txt").write_text("not DICOM\n", encoding="utf-8")
    return root


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("place", ["anonymise --key-file", "anonymise --map", "ingest --key-file", "ingest --map",
                                   "ingest --categories", "ingest --rules", "ingest --card", "validate --identifiers"])
def test_a_fifo_given_as_an_option_file_is_a_usage_error_at_once(dicom_source: Path, built_release: Path,
                                                                   tmp_path: Path, place: str) -> None:
    command, option = place.split()
    fifo = _fifo(tmp_path / "named.pipe")
    target = [str(built_release)] if command == "validate" else [str(dicom_source), str(tmp_path / "out")]
    extra = ["--category", "CT-1"] if command == "ingest" and option != "--categories" else []
    run = run_bounded([command, *target, option, str(fifo), *extra], cwd=tmp_path, env=KEY, timeout=30)
    run.assert_bounded(exit_code=2, seconds=15, megabytes=250)
    expected = "is not a regular file" if option == "--card" else "expected a regular file; found a FIFO"
    assert expected in run.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("name", "exit_code"), [("dataset.yaml", 2), ("studies.csv", 1)])
def test_a_fifo_in_the_build_source_is_reported_at_once(built_release: Path, tmp_path: Path, name: str,
                                                        exit_code: int) -> None:
    """The card is configuration (exit 2), studies.csv is source data (exit 1): README, "Exit codes"."""
    from tests.factories import make_source

    source = make_source(tmp_path / "source")
    (source / name).unlink()
    _fifo(source / name)
    run = run_bounded(["build", str(source), str(tmp_path / "out")], cwd=tmp_path, timeout=30)
    run.assert_bounded(exit_code=exit_code, seconds=15, megabytes=250)
    assert f"{name} (expected a regular file; found a FIFO (named pipe))" in run.stdout   # the findings' text
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["curator.toml", "dataset_registry.xlsx", "dataset.yaml"])
def test_a_fifo_inside_a_release_is_a_finding_not_a_hang(built_release: Path, tmp_path: Path, name: str) -> None:
    release = tmp_path / "release"
    shutil.copytree(built_release, release)
    (release / name).unlink(missing_ok=True)
    _fifo(release / name)
    run = run_bounded(["validate", str(release), "--format", "json"], cwd=tmp_path, timeout=30)
    run.assert_bounded(exit_code=1, seconds=15, megabytes=250)
    assert ("FILE_UNSAFE", name) in _findings(run)


# --- xlsx bombs: the bytes inflated from a registry are bounded before openpyxl parses -------------------------------

SHARED_STRINGS = (b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                  b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')


def _registry_with(path: Path, part: str, member: RawMember) -> Path:
    """The workbook at ``path`` with its part ``part`` replaced by ``member`` (the other parts copied as stored) and
    declared in ``[Content_Types].xml``, so that openpyxl reads it."""
    with zipfile.ZipFile(path) as book:
        parts = [(info.filename, book.read(info)) for info in book.infolist() if info.filename != part]
    parts = [(name, data.replace(b"</Types>", SHARED_STRINGS + b"</Types>") if name == "[Content_Types].xml" else data)
             for name, data in parts]
    members = [RawMember(name, data, zlib.crc32(data), len(data), 0) for name, data in parts]
    return write_raw_zip(path, [*members, member])


def test_a_registry_whose_shared_strings_expand_to_2_gib_is_unreadable_in_bounded_memory(built_release: Path,
                                                                                         tmp_path: Path) -> None:
    # before: openpyxl loads every shared string (2.2 GB and 16 s in the issue). Now at most 32 MiB are inflated
    # from the part before openpyxl is called
    release = tmp_path / "release"
    shutil.copytree(built_release, release)
    unit = b"<si><t>" + b"A" * 1000 + b"</t></si>"
    unit *= (1 << 20) // len(unit)
    head = (b'<?xml version="1.0" encoding="UTF-8"?>'
            b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
    data, crc, size = deflated_repeat(unit, (2 * GIB) // len(unit), head, b"</sst>")
    assert size > 2 * GIB - (1 << 20)
    _registry_with(release / "dataset_registry.xlsx", "xl/sharedStrings.xml",
                   RawMember("xl/sharedStrings.xml", data, crc, size))
    before = snapshot(release)
    run = run_bounded(["validate", str(release), "--format", "json"], cwd=tmp_path, timeout=60)
    run.assert_bounded(exit_code=1, seconds=30, megabytes=300)
    document = run.report()
    unreadable = [f for f in document["findings"] if f["code"] == "REGISTRY_UNREADABLE"]
    assert [f["path"] for f in unreadable] == ["dataset_registry.xlsx"]
    assert "xl/sharedStrings.xml' expands to more than 33,554,432 bytes" in unreadable[0]["message"]
    assert snapshot(release) == before


# --- formulas in the registry ----------------------------------------------------------------------------------------

def test_a_hyperlink_formula_with_a_cached_value_is_flagged(built_release: Path, tmp_path: Path) -> None:
    import openpyxl

    release = tmp_path / "release"
    shutil.copytree(built_release, release)
    registry = release / "dataset_registry.xlsx"
    book = openpyxl.load_workbook(registry)
    sheet = book.worksheets[0]
    value = str(sheet["C2"].value)
    sheet["C2"] = f'=HYPERLINK("https://example.org/x","{value}")'
    book.save(registry)
    # openpyxl writes no cached value: add the one a spreadsheet program would (the cell shows the study path)
    with zipfile.ZipFile(registry) as zipped:
        parts = {info.filename: zipped.read(info) for info in zipped.infolist()}
    sheet_xml = parts["xl/worksheets/sheet1.xml"].decode()
    formula = sheet_xml[sheet_xml.index('<c r="C2"'):]
    formula = formula[:formula.index("</c>") + 4]
    cached = formula.replace('<c r="C2"', '<c r="C2" t="str"', 1).replace("<v></v>", "").replace(
        "</f>", f"</f><v>{value}</v>", 1)
    parts["xl/worksheets/sheet1.xml"] = sheet_xml.replace(formula, cached).encode()
    with zipfile.ZipFile(registry, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in parts.items():
            zipped.writestr(name, data)
    run = run_bounded(["validate", str(release), "--format", "json"], cwd=tmp_path, timeout=60)
    run.assert_bounded(exit_code=1, seconds=30, megabytes=300)
    document = run.report()
    flagged = [f for f in document["findings"] if f["code"] == "REGISTRY_FORMULA"]
    assert [(f["path"], f["context"]["cell"], f["severity"]) for f in flagged] == [
        ("dataset_registry.xlsx", "C2", "error")]
    assert "HYPERLINK" in flagged[0]["context"]["formula"]
    # the cached value is what a script reads: the row itself still passes, only the formula is flagged
    assert not [f for f in document["findings"] if f["code"] in ("REGISTRY_ROW_INVALID", "FILE_MISSING")]


# --- the classifier itself -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("implicit", [True, False])
def test_a_data_set_without_preamble_is_recognised_and_other_bytes_are_not(implicit: bool) -> None:
    import io

    from pydicom.dataset import Dataset

    from curator.io.dicom import BARE, NO_META, PART10, dicom_head

    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.Modality = "CT"
    buffer = io.BytesIO()
    ds.save_as(buffer, implicit_vr=implicit, little_endian=True)   # no preamble, no file meta: as force=True reads
    bare = buffer.getvalue()
    assert dicom_head(bare) == BARE
    assert dicom_head(bytes(128) + b"DICM" + b"\x02\x00\x00\x00UL\x04\x00") == PART10
    assert dicom_head(bytes(128) + b"DICM" + bytes(64)) == NO_META
    for other in (bytes(4096), b"first line\nsecond line\n", b"\x89PNG\r\n\x1a\n" + bytes(64), bare[8:],
                  bare[:18] + bare[:18]):   # a second element that does not follow the first
        assert dicom_head(other) is None
