"""``curator ingest-slices``: 2D slices + label masks (CNCB, Inf-Net) from folders and zip parts into a ``slices``
source, anonymised on the way in, that ``curator validate --profile slices`` accepts."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from curator.catalogue import catalogue
from curator.cli.ingest_slices import ingest_slices as command
from curator.cli.ingest_slices import split_arguments
from curator.errors import OptionsError
from curator.ingest.slices import CODES, IngestSlicesOptions, SliceFormatError, ingest_slices, strip_metadata
from curator.io.privacy_files import audit_file
from curator.models.findings import Report, Severity
from curator.validate import ValidateOptions, validate
from tests.ingest_slices_factories import (
    PATIENT,
    jpeg_bytes,
    make_inputs,
    png_bytes,
    tree_bytes,
    write,
    zip_parts,
    zip_slip,
)
from tests.slices_factories import SIZE, label_map, slice_pixels, write_csv

# what `curator build` adds to a source; everything else validate reports is about the data
RELEASE_LEVEL = {("REQUIRED_FILE_MISSING", "LICENSE"), ("REQUIRED_FILE_MISSING", "README_EN.md"),
                 ("REQUIRED_FILE_MISSING", "README_RU.md"), ("MANIFEST_MISSING", "")}


def _decoded(data: bytes) -> tuple[str, tuple[int, int], bytes, list[int] | None]:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.mode, image.size, image.tobytes(), image.getpalette()


def _validated(out: Path) -> Report:
    report = validate(out, ValidateOptions(profile="slices", deep=True, jobs=1, discover_config=False))
    release = {(f.code, f.path) for f in report.findings} & RELEASE_LEVEL
    assert release == RELEASE_LEVEL, "the release-level findings changed: update RELEASE_LEVEL"
    return report


def _data_level(report: Report) -> list[tuple[str, str]]:
    """Findings about the data: errors other than the release files, and any privacy finding at all."""
    return [(f.code, f.path) for f in report.findings if (f.code, f.path) not in RELEASE_LEVEL
            and (f.severity == Severity.error or "privacy" in catalogue()[f.code].tags)]


def _relative(report: Report, base: Path) -> set[tuple[str, str]]:
    return {(code, path.replace(base.as_posix() + "/", "")) for code, path in report.flatten(["code", "path"])}


def _run(*arguments: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(command, [str(a) for a in arguments])
    return result.exit_code, result.output


def _messages_complete(report: Report) -> None:
    for finding in report.findings:
        assert not re.search(r"\{[a-z_]+\}", finding.message), (finding.code, finding.message)


# --- stripping ---------------------------------------------------------------------------------------------

def test_jpeg_metadata_is_removed_segment_by_segment_and_pixels_stay(tmp_path: Path) -> None:
    data = jpeg_bytes(slice_pixels())
    stripped = strip_metadata(data)
    assert stripped.format == "JPEG"
    assert stripped.removed == ("APP1 XMP", "APP13 IPTC", "APP1 Exif", "COM")
    assert stripped.trailing == len(b"PatientName=" + PATIENT.encode() + b"\x00")
    assert PATIENT.encode() not in stripped.data
    assert _decoded(stripped.data) == _decoded(data)
    assert stripped.data.endswith(b"\xff\xd9")
    # no re-encoding: the copy is the input with whole segments cut out
    scan = data[data.index(b"\xff\xda") : data.rindex(b"\xff\xd9") + 2]
    assert stripped.data.endswith(scan) and stripped.data.startswith(b"\xff\xd8\xff\xe0")
    write(tmp_path / "clean.jpg", stripped.data)
    audit = audit_file(tmp_path, "clean.jpg", len(stripped.data), None)
    assert (audit.image_items, audit.trailing_bytes, audit.error) == ((), 0, None)


@pytest.mark.parametrize("options", [{"progressive": True}, {"restart_marker_blocks": 1}, {"optimize": True}])
def test_jpeg_scans_and_restart_markers_are_copied_whole(options: dict[str, object]) -> None:
    buffer = io.BytesIO()
    Image.fromarray(slice_pixels((64, 48)), mode="L").save(buffer, format="JPEG", comment=b"x", **options)
    stripped = strip_metadata(buffer.getvalue())
    assert stripped.removed == ("COM",)
    assert _decoded(stripped.data) == _decoded(buffer.getvalue())


@pytest.mark.parametrize("mode", ["P", "L", "1"])
def test_png_text_time_and_exif_chunks_are_removed_and_crcs_kept(tmp_path: Path, mode: str) -> None:
    data = png_bytes(label_map(), mode=mode, exif=True, trailing=b"after IEND")
    stripped = strip_metadata(data)
    assert stripped.format == "PNG"
    assert stripped.removed == ("tEXt", "zTXt", "iTXt", "tIME", "eXIf")
    assert stripped.trailing == len(b"after IEND")
    assert PATIENT.encode() not in stripped.data
    assert _decoded(stripped.data) == _decoded(data)
    write(tmp_path / "clean.png", stripped.data)
    audit = audit_file(tmp_path, "clean.png", len(stripped.data), None)
    assert (audit.image_items, audit.trailing_bytes, audit.error) == ((), 0, None)


@pytest.mark.parametrize(("data", "reason"), [
    (png_bytes(label_map())[:-20], "truncated"),
    (png_bytes(label_map()).replace(b"IDAT", b"IDAT\x00", 1)[:-1], "CRC|truncated|PNG chunk"),
    (jpeg_bytes(slice_pixels(), trailing=b"")[:-200], "truncated"),
    (b"BM" + bytes(100), "neither a PNG nor a JPEG"),
])
def test_damaged_files_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(SliceFormatError, match=reason):
        strip_metadata(data)


# --- the ingest --------------------------------------------------------------------------------------------

def test_folders_become_a_slices_source_that_validates(tmp_path: Path) -> None:
    images, masks = make_inputs(tmp_path / "in")
    out = tmp_path / "out"
    report = ingest_slices([images], [masks], out, IngestSlicesOptions(jobs=1))
    assert report.valid and report.findings == []
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "image/1/0000.jpg", "image/1/0001.jpg", "image/1/0002.jpg",
        "image/CP/7/70/0000.jpg", "image/CP/7/70/0008.jpg",
        "mask/1/0000.png", "mask/1/0001.png", "mask/1/0002.png",
        "mask/CP/7/70/0000.png", "mask/CP/7/70/0008.png",
        "provenance.json"]
    # pixels as they were, metadata gone
    for rel in ("image/CP/7/70/0008.jpg", "mask/1/0001.png"):
        source = (images if rel.startswith("image") else masks) / rel.split("/", 1)[1].replace("0008", "8") \
            .replace("0001", "1")
        assert _decoded((out / rel).read_bytes()) == _decoded(source.read_bytes())
        assert PATIENT.encode() not in (out / rel).read_bytes()
    with Image.open(out / "mask/1/0001.png") as mask:
        assert mask.mode == "P" and set(np.unique(np.asarray(mask))) == {0, 1, 3}
    stats = report.stats.model_extra or {}
    assert stats["pairs"] == 5 and stats["cases"] == 2 and stats["pairs_left_out"] == 0
    assert stats["removed"] == {"APP1 Exif": 5, "APP1 XMP": 5, "APP13 IPTC": 5, "COM": 5, "iTXt": 5, "tEXt": 5,
                                "tIME": 5, "zTXt": 5}
    assert stats["trailing_bytes"]["files"] == 5

    provenance = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["tool"]["command"] == "ingest-slices"
    assert provenance["counts"] == {"pairs": 5, "cases": 2, "pairs_left_out": 0, "findings": {}}
    assert provenance["cases"] == {"1": {"slices": 3}, "CP/7/70": {"slices": 2}}
    assert [(i["side"], i["name"], i["kind"], i["files"]) for i in provenance["inputs"]] == [
        ("image", "images-1", "folder", 5), ("mask", "masks-1", "folder", 5)]
    first = provenance["slices"][0]
    assert first["image"]["from"] == "images-1/1/0.jpg"
    assert first["image"]["source_sha256"] == hashlib.sha256((images / "1/0.jpg").read_bytes()).hexdigest()
    assert first["image"]["sha256"] == hashlib.sha256((out / "image/1/0000.jpg").read_bytes()).hexdigest()
    assert first["mask"]["removed"] == ["tEXt", "zTXt", "iTXt", "tIME"]
    assert str(tmp_path) not in (out / "provenance.json").read_text(encoding="utf-8")

    assert _data_level(_validated(out)) == []


def test_folders_and_split_zip_parts_give_the_same_tree(tmp_path: Path) -> None:
    images, masks = make_inputs(tmp_path / "in")
    image_parts = zip_parts(images, tmp_path / "image-parts", 3)
    mask_parts = zip_parts(masks, tmp_path / "mask-parts", 2)
    from_folders, from_zips = tmp_path / "a", tmp_path / "b"
    assert ingest_slices([images], [masks], from_folders, IngestSlicesOptions(jobs=1)).valid
    report = ingest_slices(image_parts, mask_parts, from_zips, IngestSlicesOptions(jobs=2))
    assert report.valid, report.findings
    assert tree_bytes(from_folders, skip=("provenance.json",)) == tree_bytes(from_zips, skip=("provenance.json",))
    a, b = (json.loads((o / "provenance.json").read_text(encoding="utf-8")) for o in (from_folders, from_zips))
    assert [(s["image"]["sha256"], s["mask"]["sha256"]) for s in a["slices"]] == \
        [(s["image"]["sha256"], s["mask"]["sha256"]) for s in b["slices"]]
    assert [(i["name"], i["kind"], i["bytes"]) for i in b["inputs"]] == \
        [(f"images-{n}", "zip", p.stat().st_size) for n, p in enumerate(image_parts, 1)] + \
        [(f"masks-{n}", "zip", p.stat().st_size) for n, p in enumerate(mask_parts, 1)]
    assert b["inputs"][0]["sha256"] == hashlib.sha256(image_parts[0].read_bytes()).hexdigest()
    # a folder holding the parts (as CNCB's downloads land) reads them as parts of one tree too
    from_folder_of_parts = tmp_path / "c"
    code, output = _run("--images", tmp_path / "image-parts", "--masks", *mask_parts, from_folder_of_parts)
    assert code == 0, output
    assert tree_bytes(from_folder_of_parts, skip=("provenance.json",)) == \
        tree_bytes(from_zips, skip=("provenance.json",))
    c = json.loads((from_folder_of_parts / "provenance.json").read_text(encoding="utf-8"))
    assert [i["name"] for i in c["inputs"] if i["side"] == "image"] == [
        "images-1", "images-1/part-1", "images-1/part-2", "images-1/part-3"]
    # the inputs' own names are told to the curator, not published
    assert f"images-1/part-1 = {(tmp_path / 'image-parts' / 'images-1.zip').as_posix()}" in output
    assert "image-parts" not in (from_folder_of_parts / "provenance.json").read_text(encoding="utf-8")


def test_one_archive_holding_image_and_mask_serves_both_sides(tmp_path: Path) -> None:
    """CNCB's ct_lesion_seg.zip: image/<n>/*.jpg, mask/<n>/*.png, README.txt and .DS_Store in one archive."""
    images, masks = make_inputs(tmp_path / "in", {"0": [0, 1], "149": [3]})
    seg = tmp_path / "ct_lesion_seg.zip"
    with zipfile.ZipFile(seg, "w") as archive:
        for side, folder in (("image", images), ("mask", masks)):
            for path in sorted(folder.rglob("*.*")):
                archive.write(path, f"ct_lesion_seg/{side}/{path.relative_to(folder).as_posix()}")
        archive.writestr("ct_lesion_seg/README.txt", "DESCRIPTION\n")
        archive.writestr("ct_lesion_seg/.DS_Store", b"\x00\x00\x00\x01Bud1")
    out, reference = tmp_path / "out", tmp_path / "reference"
    report = ingest_slices([seg], [seg], out, IngestSlicesOptions(jobs=1))
    assert report.valid and report.findings == []
    ingest_slices([images], [masks], reference, IngestSlicesOptions(jobs=1))
    assert tree_bytes(out, skip=("provenance.json",)) == tree_bytes(reference, skip=("provenance.json",))
    provenance = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert [i["read_from"] for i in provenance["inputs"]] == ["*/image/", "*/mask/"]   # the folder above: not named
    assert provenance["slices"][0]["image"]["from"] == "images-1/0/0.jpg"
    assert "ct_lesion_seg" not in (out / "provenance.json").read_text(encoding="utf-8")
    assert (report.stats.model_extra or {})["inputs"] == [
        {"name": "images-1", "path": seg.as_posix(), "read_from": "ct_lesion_seg/image/"},
        {"name": "masks-1", "path": seg.as_posix(), "read_from": "ct_lesion_seg/mask/"}]


@pytest.mark.parametrize("member", ["../evil.png", "{tmp}/evil.png", "..\\evil.png", "1/../../evil.png"])
def test_a_zip_slip_part_is_refused_and_nothing_is_written_outside_out(tmp_path: Path, member: str) -> None:
    member = member.format(tmp=tmp_path.as_posix())   # an absolute name pointing into this test's own folder
    images, masks = make_inputs(tmp_path / "in", {"1": [0, 1]})
    good = zip_parts(images, tmp_path / "parts", 1)
    evil = zip_slip(tmp_path / "parts" / "evil.zip", {
        "1/2.jpg": jpeg_bytes(slice_pixels(seed=2)), member: png_bytes(label_map())})
    write(masks / "1/2.png", png_bytes(label_map()))
    before = {p for p in tmp_path.rglob("*")}
    out = tmp_path / "out"
    code, output = _run("--images", *good, evil, "--masks", masks, "--format", "json", out)
    assert code == 1, output
    report = Report.model_validate_json(output)
    unsafe = [f for f in report.findings if f.code == "ARCHIVE_UNSAFE_MEMBER"]
    assert [(f.path, f.severity) for f in unsafe] == [(evil.as_posix(), Severity.error)]
    assert "evil.png" in unsafe[0].context["member"]
    # the whole part is refused: its good member too, so the mask of slice 2 has no image
    assert _relative(report, tmp_path) == {("ARCHIVE_UNSAFE_MEMBER", "parts/evil.zip"),
                                           ("SLICE_PAIR_MISSING", "in/masks/1/2.png")}
    _messages_complete(report)
    after = {p for p in tmp_path.rglob("*")}
    assert {p for p in after - before if out not in p.parents and p != out} == set()
    assert not any(p.name == "evil.png" for p in tmp_path.parent.rglob("evil.png"))
    assert sorted(p.relative_to(out).as_posix() for p in (out / "image").rglob("*.jpg")) == \
        ["image/1/0000.jpg", "image/1/0001.jpg"]


def test_problems_are_reported_and_their_pairs_left_out(tmp_path: Path) -> None:
    base = tmp_path / "in"
    images, masks = make_inputs(base, {"1": [0, 1, 2]})
    write(images / "1/3.jpg", jpeg_bytes(slice_pixels(seed=3)))                       # no mask
    write(masks / "1/4.png", png_bytes(label_map()))                                   # no image
    write(images / "2/0.jpg", jpeg_bytes(slice_pixels(seed=20)))                      # a case without masks
    write(images / "1/5.jpg", jpeg_bytes(slice_pixels(seed=5)))
    stray = label_map()
    stray[0, 0] = 5
    write(masks / "1/5.png", png_bytes(stray, mode="L"))                               # label 5
    write(images / "1/6.jpg", jpeg_bytes(slice_pixels(seed=6)))
    write(masks / "1/6.png", png_bytes(label_map(), mode="RGB"))                       # colours, not labels
    write(images / "1/7.jpg", jpeg_bytes(slice_pixels(seed=7)))
    write(masks / "1/7.png", png_bytes(label_map((SIZE[1], SIZE[0]))))                 # transposed size
    write(images / "1/8.jpg", jpeg_bytes(slice_pixels(seed=8)))
    write(images / "1/08.jpg", jpeg_bytes(slice_pixels(seed=9)))                       # the same slice twice
    write(masks / "1/8.png", png_bytes(label_map()))
    write(images / "1/9.jpg", jpeg_bytes(slice_pixels(seed=9), trailing=b"")[:-100])   # truncated
    write(masks / "1/9.png", png_bytes(label_map()))
    write(images / "1/scan.jpg", jpeg_bytes(slice_pixels(seed=10)))                   # not a number
    write(masks / "1/scan.png", png_bytes(label_map()))
    write(images / "Иванов/0.jpg", jpeg_bytes(slice_pixels(seed=11)))                  # not a portable case
    write(images / "1/.DS_Store", b"\x00\x00\x00\x01Bud1")
    write(images / "README.txt", b"slices\n")
    out = tmp_path / "out"
    code, output = _run("--images", images, "--masks", masks, "--format", "json", out)
    assert code == 1, output
    report = Report.model_validate_json(output)
    assert _relative(report, base) == {
        ("SLICE_PAIR_MISSING", "images/1/3.jpg"),
        ("SLICE_PAIR_MISSING", "masks/1/4.png"),
        ("SLICE_CASE_UNPAIRED", "images/2"),
        ("MASK_VALUES_UNEXPECTED", "masks/1/5.png"),
        ("MASK_MODE_INVALID", "masks/1/6.png"),
        ("SLICE_SIZE_MISMATCH", "masks/1/7.png"),
        ("SLICE_DUPLICATE", "images/1/8.jpg"),
        ("IMAGE_UNREADABLE", "images/1/9.jpg"),
        ("FILE_NAME_INVALID", "images/1/scan.jpg"),
        ("FILE_NAME_INVALID", "masks/1/scan.png"),
        ("FILE_NAME_INVALID", "images/Иванов/0.jpg"),
        ("FILE_JUNK", "images/1/.DS_Store"),
    }
    _messages_complete(report)
    by_code = {f.code: f for f in report.findings}
    assert by_code["MASK_VALUES_UNEXPECTED"].context["values"] == [5]
    assert by_code["MASK_VALUES_UNEXPECTED"].context["allowed"] == [0, 1, 2, 3]
    assert by_code["SLICE_SIZE_MISMATCH"].context["mask_size"] == "12x16"
    assert by_code["SLICE_DUPLICATE"].context["other"].endswith("images/1/08.jpg")
    assert by_code["SLICE_PAIR_MISSING"].context["counterpart"] in (f"{masks.as_posix()}/1/3.png",
                                                                    f"{images.as_posix()}/1/4.jpg")
    assert by_code["FILE_JUNK"].severity == Severity.info
    stats = report.stats.model_extra or {}
    assert stats["pairs"] == 3 and stats["files_ignored"] == 1
    assert stats["pairs_left_out"] == 8   # 3, 4, case 2, 5, 6, 7, 8, 9
    assert sorted(p.name for p in (out / "mask" / "1").iterdir()) == ["0000.png", "0001.png", "0002.png"]
    assert not (out / "image" / "2").exists()
    # what was left out leaves no trace of its names in what is published
    assert "Иванов" not in (out / "provenance.json").read_text(encoding="utf-8")
    assert json.loads((out / "provenance.json").read_text(encoding="utf-8"))["counts"]["pairs_left_out"] == 8


def test_a_different_label_set_is_a_setting(tmp_path: Path) -> None:
    images, masks = make_inputs(tmp_path / "in", {"1": [0, 1]})
    report = ingest_slices([images], [masks], tmp_path / "out", IngestSlicesOptions(labels=(0, 1, 2), jobs=1))
    assert [(f.code, f.context["values"]) for f in report.findings] == [("MASK_VALUES_UNEXPECTED", [3])]
    code, _ = _run("--images", images, "--masks", masks, "--labels", "0,1,2,3", tmp_path / "out2")
    assert code == 0


def test_flat_trees_go_into_one_case_and_numbers_are_padded(tmp_path: Path) -> None:
    """Inf-Net ships Imgs/6.jpg and GT/6.png with no case folder."""
    images, masks = make_inputs(tmp_path / "in", {"": [6, 59, 12345]})
    out = tmp_path / "out"
    code, output = _run("--images", images, "--masks", masks, "--case", "infnet", out)
    assert code == 0, output
    assert sorted(p.name for p in (out / "image" / "infnet").iterdir()) == ["0006.jpg", "0059.jpg", "12345.jpg"]
    assert "3 image/mask pairs in 1 case written" in output


def test_two_runs_are_byte_identical_and_inputs_untouched(tmp_path: Path) -> None:
    images, masks = make_inputs(tmp_path / "in")
    metadata = write_csv(tmp_path / "unzip_filenames.csv", "zip_file,label,patient_id,scan_id,n_slice",
                         ["CP-1.zip,CP,7,70,2"])
    inputs = tree_bytes(tmp_path / "in")
    first, second = tmp_path / "first", tmp_path / "second"
    for out, jobs in ((first, 1), (second, 4)):
        report = ingest_slices([images], [masks], out, IngestSlicesOptions(jobs=jobs, metadata=(metadata,)))
        assert report.valid
    assert tree_bytes(first) == tree_bytes(second)
    assert tree_bytes(tmp_path / "in") == inputs
    assert (first / "unzip_filenames.csv").read_bytes() == metadata.read_bytes()


def test_out_is_refused_when_not_empty_and_replaced_with_force_only_when_complete(tmp_path: Path) -> None:
    images, masks = make_inputs(tmp_path / "in", {"1": [0]})
    out = tmp_path / "out"
    write(out / "keep.txt", b"earlier work\n")
    code, output = _run("--images", images, "--masks", masks, out)
    assert code == 2 and "not empty" in output
    assert (out / "keep.txt").exists()
    # --force replaces only what ingest-slices wrote: a folder of other work is never deleted
    code, output = _run("--images", images, "--masks", masks, "--force", out)
    assert code == 2 and "not one: it holds no provenance.json" in output
    assert (out / "keep.txt").read_bytes() == b"earlier work\n"
    (out / "keep.txt").unlink()
    code, output = _run("--images", images, "--masks", masks, out)
    assert code == 0, output
    write(out / "image/1/stale.jpg", b"from an earlier run\n")
    code, output = _run("--images", images, "--masks", masks, "--force", out)
    assert code == 0, output
    assert not (out / "image/1/stale.jpg").exists() and (out / "image/1/0000.jpg").is_file()
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask   # published: not a 0700 temporary folder
    # an archive part that is no archive: a usage error, OUT as it was, no temporary folder left behind
    bogus = write(tmp_path / "bogus.zip", b"not a zip")
    code, output = _run("--images", bogus, "--masks", masks, "--force", out)
    assert code == 2 and "not a folder or an archive part" in output
    assert (out / "image/1/0000.jpg").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bogus.zip", "in", "out"]


@pytest.mark.parametrize(("planted", "reason"), [
    ({"provenance.json": b'{"tool": {"name": "curator", "command": "ingest"}}'}, "was not written by curator "
                                                                                  "ingest-slices"),
    ({"provenance.json": b"not json"}, "provenance.json cannot be read"),
    ({"provenance.json": b"[" * 100000}, "provenance.json cannot be read"),
    ({"LICENSE": b"CC-BY\n"}, "it also holds LICENSE, which ingest-slices does not write"),
], ids=["another-tool", "not-json", "nested", "extra-file"])
def test_force_refuses_an_out_that_ingest_slices_did_not_write(tmp_path: Path, planted: dict[str, bytes],
                                                                reason: str) -> None:
    images, masks = make_inputs(tmp_path / "in", {"1": [0]})
    out = tmp_path / "out"
    assert _run("--images", images, "--masks", masks, out)[0] == 0
    for name, data in planted.items():
        write(out / name, data)
    before = tree_bytes(out)
    code, output = _run("--images", images, "--masks", masks, "--force", out)
    assert code == 2 and "--force replaces only a folder written by curator ingest-slices" in output
    assert reason in output
    assert tree_bytes(out) == before


@pytest.mark.parametrize(("arguments", "message"), [
    (["--images", "{images}", "{out}"], "give --masks"),
    (["--images", "{images}", "--masks", "{masks}", "{images}/out"], "overlap"),
    (["--images", "{images}", "--masks", "{masks}", "--metadata", "{images}/1/0.jpg", "{out}"],
     "CNCB's metadata files"),
    (["--images", "{images}", "--masks", "{masks}", "--case", "../x", "{out}"], "--case"),
    (["--images", "{images}", "--masks", "{masks}", "--labels", "a,b", "{out}"], "--labels"),
    (["--images", "{images}", "--masks", "{masks}", "--bogus", "{out}"], "no such option"),
    (["--images", "{images}", "{images}/", "--masks", "{masks}", "{out}"], "twice"),
])
def test_usage_errors_exit_2(tmp_path: Path, arguments: list[str], message: str) -> None:
    images, masks = make_inputs(tmp_path / "in", {"1": [0]})
    values = {"images": images.as_posix(), "masks": masks.as_posix(), "out": (tmp_path / "out").as_posix()}
    code, output = _run(*(a.format(**values) for a in arguments))
    assert code == 2 and message in output, output
    assert not (tmp_path / "out").exists()


def test_arguments_split_into_groups_with_out_last_or_first() -> None:
    groups, out = split_arguments(("--images", "a.zip", "b.zip", "--masks", "m1.zip", "m2.zip", "OUT"))
    assert (groups["images"], groups["masks"], groups["metadata"], out) == (
        [Path("a.zip"), Path("b.zip")], [Path("m1.zip"), Path("m2.zip")], [], Path("OUT"))
    groups, out = split_arguments(("OUT", "--masks=m", "--images", "i", "--metadata", "x.csv", "y.csv"))
    assert (groups["images"], groups["masks"], groups["metadata"], out) == (
        [Path("i")], [Path("m")], [Path("x.csv"), Path("y.csv")], Path("OUT"))
    with pytest.raises(OptionsError, match="OUT"):
        split_arguments(("--images", "i", "--masks", "--metadata"))


def test_cncb_layout_with_its_metadata_validates(tmp_path: Path) -> None:
    """Three-level cases <label>/<patient_id>/<scan_id> and CNCB's two CSVs, which validate checks against the
    files (n_slice per scan, lesion slices by name)."""
    images, masks = make_inputs(tmp_path / "in", {"CP/7/70": [0, 1, 2], "NCP/8/80": [0, 1]})
    scans = write_csv(tmp_path / "unzip_filenames.csv", "zip_file,label,patient_id,scan_id,n_slice",
                      ["CP-1.zip,CP,7,70,3", "NCP-1.zip,NCP,8,80,2"])
    lesions = write_csv(tmp_path / "lesions_slices.csv", "imgpath", ["CP/7/70/0001.png", "NCP/8/80/0000.png"])
    out = tmp_path / "out"
    code, output = _run("--images", images, "--masks", masks, "--metadata", scans, lesions, out)
    assert code == 0, output
    assert (out / "lesions_slices.csv").read_bytes() == lesions.read_bytes()
    provenance = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert [m["name"] for m in provenance["metadata"]] == ["lesions_slices.csv", "unzip_filenames.csv"]
    assert _data_level(_validated(out)) == []


def test_an_unreadable_metadata_csv_is_reported_and_not_copied(tmp_path: Path) -> None:
    images, masks = make_inputs(tmp_path / "in", {"1": [0]})
    scans = write(tmp_path / "unzip_filenames.csv", b"zip_file;label\nCP-1.zip;CP\n")
    report = ingest_slices([images], [masks], tmp_path / "out", IngestSlicesOptions(metadata=(scans,), jobs=1))
    assert [f.code for f in report.findings] == ["METADATA_UNREADABLE"]
    assert not (tmp_path / "out" / "unzip_filenames.csv").exists()


def test_codes_are_catalogued_and_each_is_emitted() -> None:
    import curator.ingest.slices as module

    active = {code for code, rule in catalogue().items() if rule.status == "active"}
    assert active >= CODES
    source = "".join(path.read_text(encoding="utf-8")   # the command's steps: slices.py and slices_*.py beside it
                     for path in sorted(Path(module.__file__ or "").parent.glob("slices*.py")))
    used = set(re.findall(r'make_finding\(\s*"([A-Z_]+)"', source))
    used |= set(re.findall(r'\(\s*"([A-Z_]+)",\s*\{', source))       # problems found on worker threads
    used |= {"ARCHIVE_BOMB", "ARCHIVE_CORRUPT", "ARCHIVE_UNSAFE_MEMBER"}   # ArchiveProblem.code
    assert used == set(CODES)


@pytest.mark.parametrize("damage", ["truncated", "bomb"])
def test_a_damaged_or_exploding_part_is_refused_with_its_code(tmp_path: Path, damage: str) -> None:
    from curator.io.archive_read import Limits

    images, masks = make_inputs(tmp_path / "in", {"1": [0], "2": [0]})
    (part,) = zip_parts(masks, tmp_path / "parts", 1)
    limits = Limits()
    if damage == "truncated":
        part.write_bytes(part.read_bytes()[:-300])
    else:
        limits = Limits(max_total_bytes=500)
    report = ingest_slices([images], [part], tmp_path / "out", IngestSlicesOptions(limits=limits, jobs=1))
    code = "ARCHIVE_CORRUPT" if damage == "truncated" else "ARCHIVE_BOMB"
    assert _relative(report, tmp_path) == {(code, "parts/masks-1.zip"), ("SLICE_CASE_UNPAIRED", "in/images/1"),
                                           ("SLICE_CASE_UNPAIRED", "in/images/2")}
    _messages_complete(report)
    assert not (tmp_path / "out" / "mask").exists()
    provenance = json.loads((tmp_path / "out" / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["inputs"][1]["refused"] is True


# --- real data ---------------------------------------------------------------------------------------------

@pytest.mark.realdata
def test_infnet_pairs_ingest_with_their_time_chunks_removed(realdata: Path, tmp_path: Path) -> None:
    source = realdata / "infnet_covid_semiseg_png" / "MultiClassInfection-Test"
    images, masks = source / "Imgs", source / "GT"
    out = tmp_path / "infnet"
    report = ingest_slices([images], [masks], out)
    assert report.valid and report.findings == []
    stats = report.stats.model_extra or {}
    assert (stats["pairs"], stats["cases"], stats["removed"]) == (48, 1, {"tIME": 48})
    assert stats["trailing_bytes"] == {"files": 0, "bytes": 0}
    names = sorted(p.name for p in (out / "image" / "0").iterdir())
    assert len(names) == 48 and names[0] == "0006.jpg" and names[-1] == "0099.jpg"
    # the JPEGs carried nothing to remove: copied byte for byte
    assert (out / "image/0/0006.jpg").read_bytes() == (images / "6.jpg").read_bytes()
    values: set[int] = set()
    for mask in sorted((out / "mask" / "0").iterdir()):
        original = masks / f"{int(mask.stem)}.png"
        assert _decoded(mask.read_bytes()) == _decoded(original.read_bytes())
        assert b"tIME" in original.read_bytes() and b"tIME" not in mask.read_bytes()
        with Image.open(mask) as image:
            assert image.mode == "P"
            values |= {int(v) for v in np.unique(np.asarray(image))}
    assert values == {0, 1, 2}
    validated = _validated(out)
    assert _data_level(validated) == []
    assert validated.stats.files == 97


@pytest.mark.realdata
def test_real_cncb_csvs_are_copied_byte_for_byte(realdata: Path, tmp_path: Path) -> None:
    csvs = realdata / "cncb_metadata_csv"
    images, masks = make_inputs(tmp_path / "in", {"CP/3783/5727": [8]})
    metadata = (csvs / "unzip_filenames.csv", csvs / "lesions_slices.csv")
    report = ingest_slices([images], [masks], tmp_path / "out", IngestSlicesOptions(metadata=metadata, jobs=1))
    assert report.valid
    for path in metadata:
        assert (tmp_path / "out" / path.name).read_bytes() == path.read_bytes()
    provenance = json.loads((tmp_path / "out" / "provenance.json").read_text(encoding="utf-8"))
    assert {m["name"]: m["bytes"] for m in provenance["metadata"]} == {p.name: p.stat().st_size for p in metadata}
