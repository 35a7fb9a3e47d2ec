"""Tiny test data made on the fly: NIfTI volumes, build sources, releases."""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import yaml

DEFAULT_AFFINE = np.diag([-0.8, 0.8, 8.0, 1.0])


def nifti_bytes(data: np.ndarray, affine: np.ndarray | None = None, *, descrip: str = "",
                qform_code: int = 1, sform_code: int = 1, scaling: tuple[float, float] | None = None,
                qform: np.ndarray | None = None, space_unit: str = "mm") -> bytes:
    """A NIfTI-1 stream; ``qform`` gives the qform its own affine (the sform keeps ``affine``)."""
    image = nib.Nifti1Image(data, DEFAULT_AFFINE if affine is None else affine)
    image.header.set_qform(image.affine if qform is None else qform, code=qform_code)
    image.header.set_sform(image.affine, code=sform_code)
    image.header["descrip"] = descrip.encode()
    image.header.set_xyzt_units(space_unit, "sec")
    raw = io.BytesIO()
    image.header.set_data_dtype(data.dtype)
    image.header["vox_offset"] = 352
    if scaling is not None:  # stored values are multiplied by slope, plus intercept, when read
        image.header["scl_slope"], image.header["scl_inter"] = scaling
    raw.write(image.header.binaryblock)
    raw.write(b"\x00" * 4)
    raw.write(np.asarray(data, order="F").tobytes(order="F"))
    return raw.getvalue()


def write_nifti(path: Path, data: np.ndarray, affine: np.ndarray | None = None, *, gz: bool = True,
                gzip_name: str = "", trailing: bytes = b"", after_gzip: bytes = b"", **kwargs: Any) -> Path:
    """A NIfTI file; ``trailing`` is appended to the stream after the last voxel (inside the gzip stream),
    ``after_gzip`` after the end of the gzip stream."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = nifti_bytes(data, affine, **kwargs) + trailing
    if gz:
        with path.open("wb") as handle, gzip.GzipFile(filename=gzip_name, mode="wb", fileobj=handle, mtime=0) as z:
            z.write(payload)
        if after_gzip:
            with path.open("ab") as handle:
                handle.write(after_gzip)
    else:
        path.write_bytes(payload)
    return path


def in_voxel_order(data: np.ndarray, affine: np.ndarray, codes: str) -> tuple[np.ndarray, np.ndarray]:
    """The same image on the same world grid with its voxel axes in another order (``codes`` such as "LPS",
    "SLA"), made by nibabel's orientation tools: what dcm2niix or TotalSegmentator write for a volume that another
    converter stores in another order."""
    from nibabel.orientations import apply_orientation, axcodes2ornt, inv_ornt_aff, io_orientation, ornt_transform

    transform = ornt_transform(io_orientation(affine), axcodes2ornt(tuple(codes)))
    return apply_orientation(data, transform), affine @ inv_ornt_aff(transform, data.shape)


def gzip_member(payload: bytes, *, name: bytes | None = None, comment: bytes | None = None,
                extra: bytes | None = None, mtime: int = 0) -> bytes:
    """One gzip member written field by field (RFC 1952), for headers Python's gzip cannot write (FEXTRA,
    FCOMMENT, fields of any length)."""
    flags = (4 if extra is not None else 0) | (8 if name is not None else 0) | (16 if comment is not None else 0)
    head = b"\x1f\x8b\x08" + bytes([flags]) + struct.pack("<I", mtime) + b"\x00\x03"
    if extra is not None:
        head += struct.pack("<H", len(extra)) + extra
    for field in (name, comment):
        if field is not None:
            head += field + b"\x00"
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = deflate.compress(payload) + deflate.flush()
    return head + body + struct.pack("<II", zlib.crc32(payload), len(payload) % 2**32)


def gzip_with_bad_block(payload: bytes) -> tuple[bytes, int]:
    """A gzip member whose deflate data breaks half way: the first half of PAYLOAD, a full flush, then a block of the
    reserved type 3 that no inflater can go past (the trailer still records PAYLOAD's CRC and size). Returns the
    member and the file offset of the bad block."""
    half = len(payload) // 2
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    first = deflate.compress(payload[:half]) + deflate.flush(zlib.Z_FULL_FLUSH)
    body = first + b"\x07" + deflate.compress(payload[half:]) + deflate.flush()
    head = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
    return head + body + struct.pack("<II", zlib.crc32(payload), len(payload)), len(head) + len(first)


def write_hidden_zeros(path: Path, data: np.ndarray, zeros: int, affine: np.ndarray | None = None,
                       block: int = 1 << 20) -> Path:
    """A .nii.gz whose single gzip member holds ``data``'s NIfTI stream and then ``zeros`` zero bytes (a multiple
    of ``block``), written in a few MB however large ``zeros`` is: after a full flush, every block of zeros
    compresses to the same bytes, so one compressed block is written ``zeros // block`` times. With ``zeros`` a
    multiple of 2**32 the trailer's ISIZE equals the header's stream size."""
    from isal import isal_zlib

    assert zeros % block == 0
    payload = nifti_bytes(data, affine)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    zero = bytes(block)
    crc = zlib.crc32(payload)
    with path.open("wb") as handle:
        handle.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03")
        handle.write(deflate.compress(payload) + deflate.flush(zlib.Z_FULL_FLUSH))
        if zeros:
            compressed = deflate.compress(zero) + deflate.flush(zlib.Z_FULL_FLUSH)
            for _ in range(zeros // block):
                handle.write(compressed)
                crc = isal_zlib.crc32(zero, crc)
        handle.write(deflate.flush())
        handle.write(struct.pack("<II", crc, (len(payload) + zeros) % 2**32))
    return path


def ct_volume(shape: tuple[int, int, int] = (8, 8, 4), seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(-1000, 400, size=shape, dtype=np.int16)


def lesion_mask(shape: tuple[int, int, int] = (8, 8, 4)) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.int16)
    mask[2:5, 2:5, 1:3] = 1
    return mask


def card_data(**overrides: Any) -> dict[str, Any]:
    """A valid bilingual dataset card as a mapping."""
    card: dict[str, Any] = {
        "title": {"en": "Test chest CT", "ru": "Тестовые КТ грудной клетки"},
        "short_name": "TestData",
        "code": "TEST_0008",
        "version": "1.0.0",
        "release_date": "2026-01-15",
        "licence": "CC-BY-NC-ND-3.0",
        "languages": ["en", "ru"],
        "description": {"en": "Test studies.", "ru": "Тестовые исследования."},
        "copyright_holder": {"en": "Test Centre", "ru": "Тестовый центр"},
        "copyright_year": 2026,
        "permanent_link": "https://example.org/test",
        "contributors": [{"name": {"en": "Doe, Jane", "ru": "Доу, Джейн"}, "affiliations": [1],
                          "email": "jane@example.org"}],
        "affiliations": [{"id": 1, "name": {"en": "Test Centre", "ru": "Тестовый центр"}}],
        "keywords": {"en": ["CT"], "ru": ["КТ"]},
        "funding": {"en": "None", "ru": "Нет"},
        "categories": [
            {"id": f"CT-{k}", "label": {"en": f"level {k}", "ru": f"уровень {k}"},
             "description": {"en": f"category {k}", "ru": f"категория {k}"}}
            for k in range(5)
        ],
    }
    card.update(overrides)
    return card



# Chinese for the texts of card_data(); any other English text is carried over as it is
_CHINESE = {"Test chest CT": "测试用胸部 CT", "Test studies.": "测试用检查。", "Test Centre": "测试中心", "None": "无",
            "Doe, Jane": "Doe, Jane", "CT": "CT"}


def with_chinese(card: dict[str, Any]) -> dict[str, Any]:
    """``card`` with a ``zh`` text beside every English one and ``zh`` added to its languages."""
    def add(value: Any) -> Any:
        if isinstance(value, dict) and "en" in value and "ru" in value:
            english = value["en"]
            chinese = [_CHINESE.get(w, w) for w in english] if isinstance(english, list) else (
                _CHINESE.get(english, english.replace("level", "等级").replace("category", "类别")))
            return {**value, "zh": chinese}
        if isinstance(value, dict):
            return {k: add(v) for k, v in value.items()}
        if isinstance(value, list):
            return [add(v) for v in value]
        return value

    return {**add(card), "languages": [*card["languages"], "zh"]}

DEFAULT_STUDIES = [
    # (category, sex, age, has mask)
    ("CT-1", "F", 40, True),
    ("CT-0", "M", 30, False),
    ("CT-1", "M", 55, True),
    ("CT-2", "F", 61, False),
    ("CT-0", "F", 25, False),
    ("CT-3", "M", 70, False),
    ("CT-4", "O", 88, False),
    ("CT-1", "F", 47, False),
]


def make_source(folder: Path, studies: list[tuple[str, str, int, bool]] | None = None,
                card: dict[str, Any] | None = None, shape: tuple[int, int, int] = (8, 8, 4)) -> Path:
    """A build source: dataset.yaml, studies.csv and tiny NIfTI volumes (masks on the same grid)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dataset.yaml").write_text(yaml.safe_dump(card or card_data(), allow_unicode=True), encoding="utf-8")
    lines = ["study,category,sex,age,mask"]
    for index, (category, sex, age, has_mask) in enumerate(studies or DEFAULT_STUDIES, start=1):
        study = f"raw/case{index:02d}.nii.gz"
        write_nifti(folder / study, ct_volume(shape, seed=index), gzip_name=f"case{index:02d}.nii")
        mask = ""
        if has_mask:
            mask = f"raw/case{index:02d}_seg.nii.gz"
            write_nifti(folder / mask, lesion_mask(shape))
        lines.append(f"{study},{category},{sex},{age},{mask}")
    (folder / "studies.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def edit_registry(root: Path, change: Callable[[Any], object]) -> None:
    """Change the xlsx registry of the release at ROOT with CHANGE(sheet); its CSV twin is left as it was."""
    import openpyxl

    book = openpyxl.load_workbook(root / "dataset_registry.xlsx")
    change(book.worksheets[0])
    book.save(root / "dataset_registry.xlsx")


def flip_byte(path: Path, offset: int = -10) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


# File names a hostile or careless source can hold (anything but "/" and NUL), as bytes: not UTF-8, a terminal
# escape, a newline and a carriage return, a bidi override, C1 and DEL, HTML and Markdown, workflow-command
# punctuation. Each is a FILE_NAME_INVALID (and FILE_UNLISTED) in a release.
HOSTILE_NAMES = (
    b"bad\xff\xfename.txt",
    b"esc\x1b[31mred\x1b[0m\x1b]0;title\x07.txt",
    b"new\nline.txt",
    b"tab\tand\rcr.txt",
    "rtl\u202egnp.exe".encode(),
    b"c1\xc2\x9b2Jx.txt",
    b"del\x7fx.txt",
    b"<b>bold<i>&amp;[x](javascript:y)|.txt",
    b"pct%0A,:x::error title=y.txt",
)
# names a manifest may list that are not on disk (valid UTF-8, unescaped: verify reports them FILE_MISSING)
HOSTILE_LISTED = ("gone\x1b[2J.nii.gz", "gone\u202eexe.nii.gz", "gone<script>&.nii.gz")


def add_hostile_names(release: Path) -> list[bytes]:
    """Files with every HOSTILE_NAMES name in ``release``'s root, and SHA256SUMS lines for HOSTILE_LISTED
    (missing files); returns the names made."""
    import os

    root = os.fsencode(release)
    for name in HOSTILE_NAMES:
        with open(root + b"/" + name, "wb") as handle:  # noqa: PTH123 (a bytes path: Path would decode it)
            handle.write(b"x")
    with (release / "SHA256SUMS").open("a", encoding="utf-8", newline="\n") as manifest:
        for name in HOSTILE_LISTED:
            manifest.write(f"{'0' * 64}  {name}\n")
    return list(HOSTILE_NAMES)


def damage_cache(folder: Path, how: str) -> Path:
    """Damage the cache database in ``folder`` (made by an earlier run): ``garbage`` (random bytes),
    ``header`` (cut inside the 100-byte header), ``truncated`` (padded with many entries, then cut in half) or
    ``schema`` (another program's table under the cache's name), ``null value`` or ``two values`` (one row's value
    is NULL, or two JSON values). Returns the database's path."""
    import random
    import sqlite3

    path = folder / "cache-v1.sqlite"
    if how == "garbage":
        path.write_bytes(random.Random(12).randbytes(8192))
    elif how == "header":
        path.write_bytes(path.read_bytes()[:50])
    elif how == "truncated":
        with sqlite3.connect(path) as db:
            db.executemany("INSERT INTO entries VALUES ('digests', ?, ?)",
                           [(f"/{i:06d}", '{"sha256": "' + "ab" * 32 + '"}') for i in range(20000)])
        db.close()
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif how in ("null value", "two values"):   # a row whose value is not one JSON value
        with sqlite3.connect(path) as db:
            db.execute("UPDATE entries SET value = ? WHERE rowid = (SELECT min(rowid) FROM entries)",
                       (None if how == "null value" else "1, 2",))
        db.close()
    elif how == "schema":
        path.unlink()
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE entries (name TEXT, size INTEGER)")
        db.close()
    else:
        raise ValueError(how)
    return path


def small_files_release(root: Path, count: int, *, per_folder: int = 500) -> list[str]:
    """``count`` distinct files of 1 KB in folders of ``per_folder``, listed in a SHA256SUMS (sorted by path):
    the shape of a CNCB slices release or a DICOM collection, which verify hashes in batches. Returns the paths."""
    import hashlib

    paths, lines = [], []
    for index in range(count):
        rel = f"slices/{index // per_folder:04d}/slice_{index:06d}.png"
        data = index.to_bytes(8, "little") * 128
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths.append(rel)
        lines.append(f"{hashlib.sha256(data).hexdigest()}  {rel}\n")
    (root / "SHA256SUMS").write_text("".join(lines), encoding="utf-8")
    return paths


def linked_studies_release(root: Path, count: int) -> list[str]:
    """A correct MosMed release of ``count`` studies (all CT-1, no masks, no README) in the shape of
    benchmarks/registry_at_scale.py: one tiny phantom hard-linked under every name, a registry CSV of ``count`` rows,
    a SHA256SUMS of ``count`` lines and a LICENSE. Returns the studies' paths."""
    import hashlib
    import os

    from curator.phantom import PhantomSpec, make_phantom, phantom_affine
    from curator.phantom import write_nifti as write_phantom

    spec = PhantomSpec(seed=1, category=1, shape=(16, 16, 2), spacing=(0.7, 0.7, 8.0))
    folder = root / "studies" / "CT-1"
    folder.mkdir(parents=True)
    proto = root / "proto.nii.gz"
    write_phantom(proto, make_phantom(spec)[0], phantom_affine(spec))
    digest = hashlib.sha256(proto.read_bytes()).hexdigest()
    paths = [f"studies/CT-1/study_{n:04d}.nii.gz" for n in range(1, count + 1)]
    for rel in paths:
        os.link(proto, root / rel)
    proto.unlink()
    rows = "".join(f"{n},CT-1,/{rel},\r\n" for n, rel in enumerate(paths, start=1))
    (root / "dataset_registry.csv").write_text("study_id,category,study_file,mask_file\r\n" + rows,
                                               encoding="utf-8", newline="")
    (root / "SHA256SUMS").write_text("".join(f"{digest}  {rel}\n" for rel in paths), encoding="utf-8")
    (root / "LICENSE").write_text("CC-BY-4.0\n", encoding="utf-8")
    return paths


def large_file_release(root: Path, size: int, *, rel: str = "data/volume.bin") -> str:
    """A release of one file of ``size`` pseudo-random bytes (incompressible, deterministic) and a small README,
    both listed in SHA256SUMS and MD5SUMS: big enough to interrupt a download mid-file. Returns the big file's path."""
    import hashlib
    import random

    files = {rel: random.Random(size).randbytes(size), "README.md": b"# a release of one volume\n"}
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    for listing, algorithm in (("SHA256SUMS", "sha256"), ("MD5SUMS", "md5")):
        (root / listing).write_text("".join(f"{hashlib.new(algorithm, files[n]).hexdigest()}  {n}\n"
                                            for n in sorted(files)), encoding="utf-8")
    return rel


def damage_three_ways(release: Path) -> None:
    """Three kinds of damage a report must name whichever engine reads the release: a mask with a value outside
    its labels, a study whose gzip stream is cut short, and a SHA256SUMS line with a wrong digest."""
    import nibabel as nib

    mask = release / "masks/study_0004_mask.nii.gz"
    values = lesion_mask()
    values[0, 0, 0] = 7
    write_nifti(mask, values, nib.load(mask).affine)
    study = release / "studies/CT-2/study_0006.nii.gz"
    study.write_bytes(study.read_bytes()[:-200])
    sums = release / "SHA256SUMS"
    lines = sums.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.endswith("  LICENSE\n"))
    lines[index] = "0" * 64 + "  LICENSE\n"
    sums.write_text("".join(lines), encoding="utf-8", newline="\n")
