"""curator.io.archive_read: input archives of every kind read into memory, hostile ones refused with a code."""

from __future__ import annotations

import gzip
import importlib
import importlib.util
import pickle
import shutil
import stat
import sys
import tarfile
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from curator.io.archive_read import (
    ARCHIVE_KINDS,
    ArchiveProblem,
    ArchiveToolMissing,
    Limits,
    Member,
    _judge,
    _Meter,
    archive_kind,
    iter_members,
    rar_tool_help,
)
from tests.archive_factories import (
    NESTED,
    RAR5_MARKER,
    RarEntry,
    TarEntry,
    corrupt_zip_member,
    make_7z,
    make_rar4,
    make_tar,
    make_zip,
    mark_zip_encrypted,
    tar_gz_bomb,
    zip_bomb,
    zip_with_mode,
)
from tests.memory import traced

# 7z and RAR need the optional packages py7zr and rarfile: their tests skip without them
needs_7z = pytest.mark.skipif(importlib.util.find_spec("py7zr") is None, reason="py7zr is not installed")
needs_rar = pytest.mark.skipif(importlib.util.find_spec("rarfile") is None, reason="rarfile is not installed")
rarfile: Any = importlib.import_module("rarfile") if importlib.util.find_spec("rarfile") else None

FORMATS = ("zip", "zip-bzip2", "zip-lzma", "tar", "tar.gz", "tar.bz2", "tar.xz", "7z", "rar")


def fmts(*names: str) -> list[object]:
    return [pytest.param(name, marks=needs_7z if name == "7z" else needs_rar if name == "rar" else ())
            for name in names]


JUNK = {"__MACOSX/patient01/._IM0001.dcm": b"apple double", "patient01/.DS_Store": b"\x00\x00\x00\x01Bud1",
        "patient01/series1/Thumbs.db": b"thumbs", "._notes.txt": b"resource fork"}


def build(fmt: str, folder: Path, members: dict[str, bytes], dirs: tuple[str, ...] = ()) -> Path:
    """An archive of format ``fmt`` (see FORMATS) holding ``members`` (and the folder entries ``dirs``)."""
    if fmt.startswith("zip"):
        method = {"zip": zipfile.ZIP_DEFLATED, "zip-bzip2": zipfile.ZIP_BZIP2, "zip-lzma": zipfile.ZIP_LZMA}[fmt]
        return make_zip(folder / "in.zip", members, dirs=dirs, compression=method)
    if fmt.startswith("tar"):
        compression = fmt.partition(".")[2]
        return make_tar(folder / f"in.{fmt}", members, compression, dirs=dirs)
    if fmt == "7z":
        return make_7z(folder / "in.7z", members, dirs=dirs)
    entries = [RarEntry(name, directory=True) for name in dirs] + [RarEntry(n, d) for n, d in members.items()]
    return make_rar4(folder / "in.rar", entries)


def problem(path: Path, limits: Limits = Limits(), want: Callable[[str], bool] | None = None,  # noqa: B008
            ) -> tuple[ArchiveProblem, list[str]]:
    """The problem reading ``path`` raises, and the members yielded before it."""
    yielded: list[str] = []
    with pytest.raises(ArchiveProblem) as caught:
        for member in iter_members(path, limits, want):
            yielded.append(member.name)
    return caught.value, yielded


# ------------------------------------------------------------------------------------------- reading

@pytest.mark.parametrize("fmt", fmts(*FORMATS))
def test_nested_members_round_trip_byte_for_byte_without_folders_or_litter(fmt: str, tmp_path: Path) -> None:
    path = build(fmt, tmp_path, {**JUNK, **NESTED}, dirs=("patient01", "patient01/series1", "__MACOSX"))
    members = list(iter_members(path))
    assert [m.name for m in members] == list(NESTED)
    assert {m.name: m.data for m in members} == NESTED
    assert all(m.size == len(m.data) for m in members)


@pytest.mark.parametrize("fmt", fmts(*FORMATS))
def test_want_skips_data_but_still_judges_the_member(fmt: str, tmp_path: Path) -> None:
    path = build(fmt, tmp_path, NESTED)
    asked: list[str] = []

    def want(name: str) -> bool:
        asked.append(name)
        return name.endswith(".dcm") and "series2" not in name

    members = list(iter_members(path, want=want))
    assert [(m.name, m.data) for m in members] == [(n, NESTED[n]) for n in ("patient01/series1/IM0001.dcm",
                                                                            "patient01/series1/IM0002.dcm")]
    assert asked == list(NESTED)  # want sees every regular member, in order, by its normalised name

    (tmp_path / "evil").mkdir()
    unwanted_evil = build(fmt, tmp_path / "evil", {"ok.dcm": b"1", "../evil.txt": b"2"})
    found, _ = problem(unwanted_evil, want=lambda name: name.endswith(".dcm"))
    assert (found.code, found.member) == ("ARCHIVE_UNSAFE_MEMBER", "../evil.txt")


@pytest.mark.parametrize("fmt", fmts("zip", "tar.gz", "7z", "rar"))
def test_names_are_normalised(fmt: str, tmp_path: Path) -> None:
    path = build(fmt, tmp_path, {"./study/./IM1.dcm": b"1", "study//IM2.dcm": b"2"})
    assert [(m.name, m.data) for m in iter_members(path)] == [("study/IM1.dcm", b"1"), ("study/IM2.dcm", b"2")]


def test_a_tar_of_a_folder_with_its_root_entry_reads(tmp_path: Path) -> None:
    """``tar -czf study.tar.gz -C folder .`` stores "./" and "./name": the root entry is no unsafe empty name."""
    path = make_tar(tmp_path / "a.tar.gz", {"./IM1.dcm": b"1", "./series/IM2.dcm": b"2"}, "gz", dirs=("./",))
    assert [(m.name, m.data) for m in iter_members(path)] == [("IM1.dcm", b"1"), ("series/IM2.dcm", b"2")]


def test_windows_backslashes_are_folder_separators(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "win.zip", {"study\\series\\IM1.dcm": b"1"})
    assert [m.name for m in iter_members(path)] == ["study/series/IM1.dcm"]


def test_want_errors_are_the_callers_not_the_archives(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", NESTED)

    def broken(name: str) -> bool:
        raise KeyError(name)

    with pytest.raises(KeyError):
        list(iter_members(path, want=broken))


def test_a_missing_file_is_an_os_error_not_a_finding(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(iter_members(tmp_path / "absent.zip"))


# ------------------------------------------------------------------------------------------- unsafe members

@pytest.mark.parametrize("fmt", fmts(*FORMATS))
@pytest.mark.parametrize("name", ["../evil.dcm", "/etc/evil", "study/../../evil.dcm", "..\\evil.dcm",
                                  "C:/Windows/evil.dcm"])
def test_names_escaping_the_folder_are_unsafe(fmt: str, name: str, tmp_path: Path) -> None:
    path = build(fmt, tmp_path, {"ok.dcm": b"fine", name: b"evil"})
    found, yielded = problem(path)
    shown = name.replace("\\", "/") if fmt in ("7z", "rar") else name  # py7zr and rarfile turn "\\" into "/"
    assert (found.code, found.member) == ("ARCHIVE_UNSAFE_MEMBER", shown)
    assert "outside the target folder" in found.message
    if fmt.startswith(("zip", "7z", "rar")):
        assert yielded == []  # the listing is judged before any member is read
    else:
        assert yielded == ["ok.dcm"]  # a tar is judged as it streams: callers commit only after the end


@pytest.mark.parametrize(("raw", "why"), [("a\x00b.dcm", "NUL"), ("C:evil.dcm", "absolute"), ("./", "empty"),
                                         ("\\\\server\\share\\x.dcm", "absolute")])
def test_names_no_archive_writer_produces_are_judged_too(raw: str, why: str) -> None:
    with pytest.raises(ArchiveProblem) as caught:
        _judge(raw, "file", _Meter(Limits(), 1), set())
    assert caught.value.code == "ARCHIVE_UNSAFE_MEMBER"
    assert why in caught.value.message
    assert "\x00" not in caught.value.member


def _tar_special(kind: bytes) -> list[TarEntry]:
    return [TarEntry("ok.dcm", b"fine"), TarEntry("special", type=kind, linkname="ok.dcm")]


@pytest.mark.parametrize(("make", "word"), [
    (lambda d: zip_with_mode(d / "a.zip", "special", stat.S_IFLNK | 0o777, b"/etc/passwd"), "symbolic link"),
    (lambda d: zip_with_mode(d / "a.zip", "special", stat.S_IFCHR | 0o600, b""), "device"),
    (lambda d: zip_with_mode(d / "a.zip", "special", stat.S_IFIFO | 0o600, b""), "fifo"),
    (lambda d: make_tar(d / "a.tar", _tar_special(tarfile.SYMTYPE)), "symbolic link"),
    (lambda d: make_tar(d / "a.tar.gz", _tar_special(tarfile.LNKTYPE), "gz"), "hard link"),
    (lambda d: make_tar(d / "a.tar", _tar_special(tarfile.CHRTYPE)), "device"),
    (lambda d: make_tar(d / "a.tar.xz", _tar_special(tarfile.BLKTYPE), "xz"), "device"),
    (lambda d: make_tar(d / "a.tar", _tar_special(tarfile.FIFOTYPE)), "fifo"),
    (lambda d: make_tar(d / "a.tar", _tar_special(b"V")), "of type 'V'"),
    pytest.param(lambda d: make_7z(d / "a.7z", {"ok.dcm": b"fine", "special": b"/etc/passwd"},
                                   modes={"special": stat.S_IFLNK | 0o777}), "symbolic link", marks=needs_7z),
    pytest.param(lambda d: make_7z(d / "a.7z", {"ok.dcm": b"fine", "special": b""},
                                   modes={"special": stat.S_IFCHR | 0o600}), "device", marks=needs_7z),
    pytest.param(lambda d: make_rar4(d / "a.rar", [RarEntry("ok.dcm", b"fine"),
                                                   RarEntry("special", b"/etc/passwd", mode=stat.S_IFLNK | 0o777)]),
                 "symbolic link", marks=needs_rar),
    pytest.param(lambda d: make_rar4(d / "a.rar", [RarEntry("ok.dcm", b"fine"),
                                                   RarEntry("special", mode=stat.S_IFBLK)]), "device", marks=needs_rar),
], ids=["zip-symlink", "zip-device", "zip-fifo", "tar-symlink", "tar-hardlink", "tar-chr", "tar-blk", "tar-fifo",
        "tar-volume-label", "7z-symlink", "7z-device", "rar-symlink", "rar-device"])
def test_links_and_devices_are_unsafe(make: Callable[[Path], Path], word: str, tmp_path: Path) -> None:
    found, _ = problem(make(tmp_path))
    assert (found.code, found.member) == ("ARCHIVE_UNSAFE_MEMBER", "special")
    assert word in found.message


@pytest.mark.parametrize("fmt", fmts("zip", "tar", "rar"))
def test_a_name_given_twice_is_unsafe(fmt: str, tmp_path: Path) -> None:
    members = [("a/IM1.dcm", b"one"), ("a/./IM1.dcm", b"two")]
    if fmt == "zip":
        path = tmp_path / "d.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in members:
                archive.writestr(name, data)
    elif fmt == "tar":
        path = make_tar(tmp_path / "d.tar", [TarEntry(n, d) for n, d in members])
    else:
        path = make_rar4(tmp_path / "d.rar", [RarEntry(n, d) for n, d in members])
    found, _ = problem(path)
    assert (found.code, found.member) == ("ARCHIVE_UNSAFE_MEMBER", "a/./IM1.dcm")
    assert "more than once" in found.message


# ------------------------------------------------------------------------------------------- bombs

@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bombs")
    return {"zip": zip_bomb(folder / "bomb.zip", 100 << 20), "tar.gz": tar_gz_bomb(folder / "bomb.tar.gz", 100 << 20)}


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_a_bomb_is_stopped_by_the_ratio_before_it_is_expanded(fmt: str, bombs: dict[str, Path]) -> None:
    path = bombs[fmt]
    assert path.stat().st_size < 1 << 20  # 100 MiB of zeros
    with traced() as memory:
        found, yielded = problem(path, Limits(ratio_floor=2 << 20, max_ratio=20))
    peak = memory.peak
    assert (found.code, found.member, yielded) == ("ARCHIVE_BOMB", "bomb.dcm", [])
    assert "max_ratio" in found.message
    expanded = int(found.message.split("more than ")[1].split(" ")[0].replace(",", ""))
    assert 2 << 20 < expanded < 4 << 20  # stopped just past the floor, not after 100 MiB
    assert peak < 8 << 20, f"{peak:,} bytes allocated reading a 100 MiB bomb"


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
@pytest.mark.parametrize("limit", ["max_member_bytes", "max_total_bytes"])
def test_a_bomb_is_stopped_by_the_size_limits(fmt: str, limit: str, bombs: dict[str, Path]) -> None:
    found, _ = problem(bombs[fmt], Limits(**{limit: 3 << 20}))
    assert (found.code, found.member) == ("ARCHIVE_BOMB", "bomb.dcm")
    assert f"Limits.{limit}" in found.message
    expanded = int(found.message.split("more than " if limit == "max_member_bytes" else "after ")[1]
                   .split(".")[0].replace(",", ""))
    assert 3 << 20 < expanded <= 5 << 20  # stopped within a chunk or two of the limit, not at 100 MiB


@needs_7z
def test_a_7z_bomb_stops_at_the_member_that_passes_the_total(tmp_path: Path) -> None:
    path = make_7z(tmp_path / "bomb.7z", {f"m{i}.dcm": bytes(2 << 20) for i in range(4)})
    found, yielded = problem(path, Limits(max_total_bytes=3 << 20))
    assert (found.code, found.member, yielded) == ("ARCHIVE_BOMB", "m1.dcm", ["m0.dcm"])
    found, yielded = problem(path, Limits(max_member_bytes=1 << 20))
    assert (found.code, found.member, yielded) == ("ARCHIVE_BOMB", "m0.dcm", [])


@needs_rar
def test_a_large_rar_member_is_stopped_by_the_member_limit(tmp_path: Path) -> None:
    path = make_rar4(tmp_path / "big.rar", [RarEntry("small.dcm", b"1"), RarEntry("big.dcm", bytes(3 << 20))])
    found, yielded = problem(path, Limits(max_member_bytes=1 << 20))
    assert (found.code, found.member, yielded) == ("ARCHIVE_BOMB", "big.dcm", ["small.dcm"])


@pytest.mark.parametrize("fmt", fmts(*FORMATS))
def test_too_many_members(fmt: str, tmp_path: Path) -> None:
    path = build(fmt, tmp_path, {f"IM{i}.dcm": b"x" for i in range(5)})
    found, yielded = problem(path, Limits(max_members=3))
    assert (found.code, found.member) == ("ARCHIVE_BOMB", "IM3.dcm")
    assert "max_members" in found.message
    assert yielded == ([] if fmt[:3] in ("zip", "7z", "rar") else ["IM0.dcm", "IM1.dcm", "IM2.dcm"])
    assert [m.name for m in iter_members(path, Limits(max_members=5))] == [f"IM{i}.dcm" for i in range(5)]


# ------------------------------------------------------------------------------------------- corrupt archives

def test_a_zip_member_with_a_bad_crc_is_corrupt(tmp_path: Path) -> None:
    members = {"a.dcm": bytes(range(256)) * 40, "b.dcm": b"B" * 5000}
    path = corrupt_zip_member(make_zip(tmp_path / "crc.zip", members, compression=zipfile.ZIP_STORED), "b.dcm")
    found, yielded = problem(path)
    assert (found.code, found.member, yielded) == ("ARCHIVE_CORRUPT", "b.dcm", ["a.dcm"])
    assert "CRC" in found.message


def test_a_deflated_zip_member_with_a_flipped_byte_is_corrupt(tmp_path: Path) -> None:
    members = {"a.dcm": bytes(range(256)) * 400}
    found, _ = problem(corrupt_zip_member(make_zip(tmp_path / "crc.zip", members), "a.dcm"))
    assert (found.code, found.member) == ("ARCHIVE_CORRUPT", "a.dcm")


def test_an_encrypted_zip_member_is_reported_not_guessed(tmp_path: Path) -> None:
    found, _ = problem(mark_zip_encrypted(make_zip(tmp_path / "enc.zip", {"a.dcm": b"abc"})))
    assert (found.code, found.member) == ("ARCHIVE_CORRUPT", "a.dcm")
    assert "password" in found.message


@needs_7z
def test_an_encrypted_7z_is_reported(tmp_path: Path) -> None:
    import py7zr

    path = tmp_path / "enc.7z"
    with py7zr.SevenZipFile(path, "w", password="secret") as archive:
        archive.writestr(b"abc", "a.dcm")
    found, _ = problem(path)
    assert found.code == "ARCHIVE_CORRUPT"
    assert "password" in found.message


@pytest.mark.parametrize("fmt", fmts("tar.gz", "tar.bz2", "tar.xz", "zip", "7z", "rar"))
def test_a_truncated_archive_is_corrupt(fmt: str, tmp_path: Path) -> None:
    members = {f"IM{i}.dcm": bytes([i]) * 3000 + bytes(range(256)) * 20 for i in range(4)}
    path = build(fmt, tmp_path, members)
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    found, _ = problem(path)
    assert found.code == "ARCHIVE_CORRUPT"
    assert "expected an intact" in found.message or "truncated" in found.message


def test_a_tar_gz_cut_in_its_trailer_or_with_a_bad_gzip_crc_is_corrupt(tmp_path: Path) -> None:
    """tarfile's own ``r|gz`` reads both of these without a word; the gzip reader checks the trailer."""
    raw = make_tar(tmp_path / "a.tar.gz", NESTED, "gz").read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(raw[:-4])
    assert problem(cut)[0].code == "ARCHIVE_CORRUPT"
    flipped = tmp_path / "crc.tar.gz"
    flipped.write_bytes(raw[:-8] + bytes([raw[-8] ^ 0xFF]) + raw[-7:])
    assert problem(flipped)[0].code == "ARCHIVE_CORRUPT"


def test_a_plain_tar_cut_inside_a_header_is_corrupt(tmp_path: Path) -> None:
    raw = make_tar(tmp_path / "a.tar", {"a.dcm": b"A" * 600, "b.dcm": b"B" * 10}).read_bytes()
    with tarfile.open(tmp_path / "a.tar") as archive:
        second_header = archive.getmember("b.dcm").offset
    cut = tmp_path / "cut.tar"
    cut.write_bytes(raw[: second_header + 100])
    found, yielded = problem(cut)
    assert (found.code, yielded) == ("ARCHIVE_CORRUPT", ["a.dcm"])
    assert "truncated" in found.message


def test_a_plain_tar_with_a_damaged_header_is_corrupt_not_silently_shorter(tmp_path: Path) -> None:
    path = make_tar(tmp_path / "a.tar", {"a.dcm": b"A" * 600, "b.dcm": b"B" * 10, "c.dcm": b"C"})
    with tarfile.open(path) as archive:
        offset = archive.getmember("b.dcm").offset
    raw = bytearray(path.read_bytes())
    raw[offset + 148: offset + 156] = b"0000000\x00"  # a wrong header checksum: tarfile would stop here quietly
    path.write_bytes(bytes(raw))
    found, yielded = problem(path)
    assert (found.code, yielded) == ("ARCHIVE_CORRUPT", ["a.dcm"])
    assert f"byte {offset:,}" in found.message


@needs_7z
def test_a_7z_with_a_damaged_byte_is_corrupt(tmp_path: Path) -> None:
    path = make_7z(tmp_path / "a.7z", {"a.dcm": bytes(range(256)) * 50})
    raw = bytearray(path.read_bytes())
    raw[32 + 40] ^= 0xFF  # inside the packed stream, right after the 32-byte signature header
    path.write_bytes(bytes(raw))
    found, _ = problem(path)
    assert found.code == "ARCHIVE_CORRUPT"


@needs_rar
def test_a_rar_member_with_a_bad_crc_is_corrupt(tmp_path: Path) -> None:
    path = make_rar4(tmp_path / "crc.rar", [RarEntry("a.dcm", b"fine"), RarEntry("b.dcm", b"12345", crc=1)])
    found, yielded = problem(path)
    assert (found.code, found.member, yielded) == ("ARCHIVE_CORRUPT", "b.dcm", ["a.dcm"])
    assert "CRC" in found.message


@pytest.mark.parametrize("content", [b"", b"just some text, not an archive\n" * 40, b"PK\x03\x04" + b"\xff" * 200,
                                     pytest.param(b"7z\xbc\xaf\x27\x1c" + b"\x00" * 100, marks=needs_7z),
                                     pytest.param(RAR5_MARKER + b"\x01" * 60, marks=needs_rar),
                                     b"\x1f\x8b\x08\x00garbage that does not inflate" * 4])
def test_garbage_is_corrupt_never_a_traceback(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "input.bin"
    path.write_bytes(content)
    found, _ = problem(path)
    assert (found.code, found.member) == ("ARCHIVE_CORRUPT", "")
    assert "expected" in found.message


# ------------------------------------------------------------------------------------------- archive_kind

@pytest.mark.parametrize(("fmt", "kind"), [("zip", "zip"), ("zip-bzip2", "zip"), ("tar", "tar"), ("tar.gz", "tar"),
                                           ("tar.bz2", "tar"), ("tar.xz", "tar"), ("rar", "rar"),
                                           pytest.param("7z", "7z", marks=needs_7z)])
def test_archive_kind_by_content_not_by_name(fmt: str, kind: str, tmp_path: Path) -> None:
    path = build(fmt, tmp_path, NESTED)
    disguised = path.rename(tmp_path / "study.dcm")
    assert archive_kind(disguised) == kind
    assert kind in ARCHIVE_KINDS


def test_archive_kind_of_other_files(tmp_path: Path) -> None:
    empty_zip = tmp_path / "empty.zip"
    zipfile.ZipFile(empty_zip, "w").close()
    rar5 = tmp_path / "five.rar"
    rar5.write_bytes(RAR5_MARKER + bytes(40))
    nifti_gz = tmp_path / "volume.nii.gz"
    nifti_gz.write_bytes(gzip.compress(b"\x5c\x01\x00\x00" + bytes(600)))
    dicom = tmp_path / "IM1.dcm"
    dicom.write_bytes(bytes(128) + b"DICM" + bytes(600))
    assert archive_kind(empty_zip) == "zip"
    assert list(iter_members(empty_zip)) == []
    assert archive_kind(rar5) == "rar"
    assert archive_kind(nifti_gz) is None
    assert archive_kind(dicom) is None
    assert archive_kind(tmp_path) is None
    assert archive_kind(tmp_path / "absent.zip") is None


# ------------------------------------------------------------------------------------------- RAR tools

def _no_tool(**_: object) -> object:
    raise rarfile.RarCannotExec("Cannot find working tool")


@needs_rar
def test_stored_rar_members_need_no_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rarfile, "tool_setup", _no_tool)
    path = build("rar", tmp_path, NESTED, dirs=("patient01",))
    assert {m.name: m.data for m in iter_members(path)} == NESTED


@needs_rar
def test_a_compressed_rar_member_without_a_tool_says_what_to_install(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rarfile, "tool_setup", _no_tool)
    monkeypatch.setattr(rarfile, "HACK_TMP_DIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    path = make_rar4(tmp_path / "c.rar", [RarEntry("stored.dcm", b"plain"),
                                          RarEntry("packed.dcm", b"\x12\x34" * 50, method=0x33)])
    yielded: list[str] = []
    with pytest.raises(ArchiveToolMissing) as caught:
        yielded.extend(member.name for member in iter_members(path))
    assert yielded == ["stored.dcm"]
    for words in ("apt install unar", "apt install libarchive-tools", "unrar"):
        assert words in str(caught.value)
    assert str(caught.value) == rar_tool_help()
    assert list((tmp_path / "tmp").iterdir()) == []  # no temporary copy of the member was left behind


@needs_rar
@pytest.mark.skipif(not (shutil.which("unar") or shutil.which("bsdtar") or shutil.which("unrar")),
                    reason="no RAR tool on PATH")
@pytest.mark.needs_tool("unar")
def test_a_compressed_rar_member_the_tool_cannot_decode_is_corrupt(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rarfile, "HACK_TMP_DIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    path = make_rar4(tmp_path / "c.rar", [RarEntry("packed.dcm", b"\x12\x34" * 50, method=0x33)])
    found, _ = problem(path)
    assert (found.code, found.member) == ("ARCHIVE_CORRUPT", "packed.dcm")
    assert "decompressed with" in found.message
    assert list((tmp_path / "tmp").iterdir()) == []  # rarfile's temporary copy is removed


@pytest.mark.parametrize("tool", ["unar", "bsdtar"])
@needs_rar
def test_rar_members_read_through_the_external_tool(tool: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pipe from the tool, as for compressed members; bsdtar needs rarfile 4.5's command line mended."""
    if not shutil.which(tool):
        pytest.skip(f"{tool} is not on PATH")
    monkeypatch.setattr(rarfile, "CURRENT_SETUP", None)
    monkeypatch.setattr(rarfile, "FORCE_TOOL", True)
    rarfile.tool_setup(force=True, **{name: name == tool for name in ("unrar", "unar", "bsdtar", "sevenzip",
                                                                      "sevenzip2")})
    commands: list[list[str]] = []
    popen = rarfile.custom_popen

    def recording_popen(command: list[str]) -> object:
        commands.append(list(command))
        return popen(command)

    monkeypatch.setattr(rarfile, "custom_popen", recording_popen)
    path = build("rar", tmp_path, NESTED, dirs=("patient01",))
    assert {m.name: m.data for m in iter_members(path)} == NESTED
    assert len(commands) == len(NESTED)  # every member came through the tool
    assert all(command[0] == tool and str(path) in command for command in commands)


# ------------------------------------------------------------------------------------------- 7z worker thread

@needs_7z
def test_leaving_a_7z_early_stops_its_worker_thread(tmp_path: Path) -> None:
    path = make_7z(tmp_path / "a.7z", {f"IM{i}.dcm": bytes([i]) * 70_000 for i in range(6)})
    members = iter_members(path)
    first = next(members)
    assert (first.name, first.data) == ("IM0.dcm", bytes(70_000))
    members.close()
    assert not [t for t in threading.enumerate() if t.name == "curator-7z-reader"]


@pytest.mark.parametrize(("module", "signature"), [("py7zr", b"7z\xbc\xaf\x27\x1c"), ("rarfile", RAR5_MARKER)])
def test_a_missing_optional_package_says_what_to_install(module: str, signature: bytes, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # the import fails as if the package were not installed
    path = tmp_path / "input.bin"
    path.write_bytes(signature + bytes(100))
    with pytest.raises(ArchiveToolMissing, match=f"pip install {module}"):
        list(iter_members(path))


def test_problems_survive_pickling() -> None:
    original = ArchiveProblem("ARCHIVE_BOMB", "a.dcm", "too big")
    copy = pickle.loads(pickle.dumps(original))
    assert (copy.code, copy.member, copy.message) == ("ARCHIVE_BOMB", "a.dcm", "too big")
    assert str(copy) == "ARCHIVE_BOMB 'a.dcm': too big"
    assert Member("a", 1, b"x") == pickle.loads(pickle.dumps(Member("a", 1, b"x")))
