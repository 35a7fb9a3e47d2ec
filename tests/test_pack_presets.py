"""``curator pack --preset cncb`` and ``--preset dataverse``: the two platforms' own publication forms.

Each form is checked by an independent reader, never by curator's own: coreutils ``md5sum -c`` over the entries of
CNCB's md5 JSON maps, and a plain-Python reader (json + hashlib, below) of the Dataverse listing.

Shapes, from their sources:
- CNCB (seed 004, ncov-ai.big.ac.cn): parts per class ``COVID19-1.zip`` .. ``COVID19-31.zip``, ``CP-1.zip`` ..,
  each class with an md5 list ``filemd5.json``/``CP.json``/``Normal.json``: a flat JSON object {file name: md5}.
- Dataverse: the native API's dataset JSON, ``GET /api/datasets/:persistentId/?persistentId=...``
  (https://guides.dataverse.org/en/latest/api/native-api.html#get-json-representation-of-a-dataset); the field
  names are those IQSS/dataverse prints in JsonPrinter.json(FileMetadata) ("label", "directoryLabel",
  "dataFile") and json(DataFile) ("filename", "contentType", "filesize", "md5", "checksum": {"type", "value"}),
  a file's path being directoryLabel/label.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from curator.cli.main import main
from curator.cli.pack import pack
from curator.profiles import get_profile
from curator.release.archives import PackError, pack_release
from curator.release.manifests import write_manifests
from curator.release.presets import group_files
from curator.verify import verify
from tests.factories import flip_byte
from tests.hostile import run_bounded, snapshot, written_outside
from tests.release_extras import archive_members, copy_release, finish_release, run, tree_files
from tests.slices_factories import make_cncb, make_slices

WHEN = dt.date(2026, 1, 15)
STEM = "TEST_0008-v1.0.0"
CATEGORIES = ("CT-0", "CT-1", "CT-2", "CT-3", "CT-4")


@pytest.fixture(scope="module")
def full_release(built_release: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return finish_release(copy_release(built_release, tmp_path_factory.mktemp("presets") / "release"))


@pytest.fixture(scope="module")
def cncb_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CNCB-style slices tree (classes CP and NCP, cases <label>/<patient>/<scan>) with its SHA256SUMS."""
    root = make_cncb(tmp_path_factory.mktemp("cncb") / "slices")
    write_manifests(root, jobs=1)
    return root


@pytest.fixture(autouse=True)
def _no_source_date_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)




def _extract_each(out: Path, parts: list[str], target: Path) -> None:
    """Every part extracts on its own (into one folder, so together they must be the release)."""
    target.mkdir()
    for name in parts:
        part = out / name
        command = (("unzip", "-q", str(part), "-d", str(target)) if name.endswith(".zip")
                   else ("tar", "xzf", str(part), "-C", str(target)))
        assert run(*command).returncode == 0, name


# ------------------------------------------------------------------------------------------------ cncb


def _md5sum_check(out: Path, listing: str) -> tuple[int, str]:
    """coreutils md5sum -c over the entries of one CNCB md5 JSON map."""
    entries = json.loads((out / listing).read_text(encoding="utf-8"))
    (out.parent / "check.md5").write_text("".join(f"{md5}  {name}\n" for name, md5 in entries.items()),
                                          encoding="utf-8")
    checked = run("md5sum", "-c", str(out.parent / "check.md5"), cwd=out)
    return checked.returncode, checked.stdout + checked.stderr


def test_cncb_mosmed_parts_per_category_with_md5_maps(full_release: Path, tmp_path: Path) -> None:
    out = tmp_path / "cncb"
    written = pack_release(full_release, out, fmt="zip", max_bytes=None, max_files=2, when=WHEN,
                           preset="cncb")
    parts = [p.name for p in written if p.name.endswith(".zip")]
    # each class's parts are named <CLASS>-<n>.zip, n counting from 1 without gaps, and listed in <CLASS>.json
    by_class: dict[str, list[int]] = {}
    for name in parts:
        match = re.fullmatch(r"(?P<cls>.+)-(?P<n>[0-9]+)\.zip", name)
        assert match, name
        by_class.setdefault(match["cls"], []).append(int(match["n"]))
    assert set(by_class) == {STEM, *CATEGORIES}
    assert all(sorted(numbers) == list(range(1, len(numbers) + 1)) for numbers in by_class.values())
    assert len(by_class["CT-1"]) == 3                      # three studies, two with masks: a part each
    for cls, numbers in by_class.items():
        listing = json.loads((out / f"{cls}.json").read_text(encoding="utf-8"))
        assert list(listing) == [f"{cls}-{n}.zip" for n in sorted(numbers)]
        assert all(re.fullmatch(r"[0-9a-f]{32}", md5) for md5 in listing.values())
    # a category's parts hold its studies and their masks only; the release's own files have parts of their own
    own = [m for name in parts if name.startswith(f"{STEM}-") for m in archive_members(out / name)]
    assert own and not [m for m in own if m.startswith(("studies/", "masks/"))]
    for name in (name for name in parts if not name.startswith(f"{STEM}-")):
        members = archive_members(out / name)
        studies = {m.split("/")[-1][:10] for m in members if m.startswith("studies/")}
        assert {m.split("/")[1] for m in members if m.startswith("studies/")} == {name.rsplit("-", 1)[0]}, name
        assert {m.split("/")[-1][:10] for m in members if m.startswith("masks/")} <= studies, name
    assert archive_members(out / f"{STEM}-1.zip") == ["LICENSE", "MD5SUMS"]     # sorted, two files a part
    # every part alone extracts; together they are the release, intact
    _extract_each(out, parts, tmp_path / "x")
    assert tree_files(tmp_path / "x") == tree_files(full_release)
    assert run("sha256sum", "-c", "--strict", "SHA256SUMS", cwd=tmp_path / "x").returncode == 0
    # coreutils agrees with every md5 map
    for cls in by_class:
        code, text = _md5sum_check(out, f"{cls}.json")
        assert code == 0, text


def test_cncb_damaged_and_missing_part_named_by_md5sum(full_release: Path, tmp_path: Path) -> None:
    out = tmp_path / "cncb"
    pack_release(full_release, out, fmt="zip", max_bytes=None, max_files=2, when=WHEN, preset="cncb")
    flip_byte(out / "CT-1-2.zip", offset=100)
    (out / "CT-1-1.zip").unlink()
    code, text = _md5sum_check(out, "CT-1.json")
    assert code == 1
    assert "CT-1-2.zip: FAILED\n" in text
    assert "CT-1-1.zip: FAILED open or read" in text
    code, text = _md5sum_check(out, "CT-0.json")        # the other classes are untouched
    assert code == 0, text


def test_cncb_slices_tree_parts_per_label_folder(cncb_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "cncb"
    written = pack_release(cncb_tree, out, fmt="zip", max_bytes=None, max_files=None, when=WHEN, preset="cncb",
                           name="CNCB-v1")
    assert [p.name for p in written] == ["CNCB-v1-1.zip", "CP-1.zip", "NCP-1.zip", "CNCB-v1.json", "CP.json",
                                         "NCP.json", "PARTS.tsv", "MD5SUMS", "SHA256SUMS"]
    assert archive_members(out / "CP-1.zip") == [f"{kind}/CP/7/70/{n:04d}.{ext}" for kind, ext in (("image", "jpg"),
                                                                                          ("mask", "png"))
                                          for n in range(3)]
    assert archive_members(out / "CNCB-v1-1.zip") == ["LICENSE", "MD5SUMS", "README_EN.md", "README_RU.md",
                                                      "SHA256SUMS", "labels.yaml", "lesions_slices.csv",
                                                      "unzip_filenames.csv"]
    for cls in ("CNCB-v1", "CP", "NCP"):
        code, text = _md5sum_check(out, f"{cls}.json")
        assert code == 0, text
    # a part limit splits a class between cases, never inside one
    split = pack_release(cncb_tree, tmp_path / "split", fmt="zip", max_bytes=None, max_files=6, when=WHEN,
                         preset="cncb", name="CNCB-v1")
    assert [p.name for p in split if p.name.startswith("CNCB")][:2] == ["CNCB-v1-1.zip", "CNCB-v1-2.zip"]


@pytest.mark.realdata
def test_cncb_form_matches_cncbs_own_metadata(realdata: Path, tmp_path: Path) -> None:
    """CNCB's real unzip_filenames.csv (realdata/cncb_metadata_csv, from the CC-CCII download) is the source of the
    form: every zip holds scans of one label only, named <label>-<n>.zip with n from 1 without gaps. A tree made
    of its first scans of each label (tiny stand-in slices) packs into parts with exactly those names."""
    with (realdata / "cncb_metadata_csv" / "unzip_filenames.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    labels: dict[str, set[str]] = {}
    for row in rows:
        labels.setdefault(row["zip_file"], set()).add(row["label"])
    assert all(len(found) == 1 for found in labels.values())
    numbers: dict[str, list[int]] = {}
    for zip_file, (label,) in labels.items():
        match = re.fullmatch(rf"{re.escape(label)}-(?P<n>[1-9][0-9]*)\.zip", zip_file)
        assert match, zip_file
        numbers.setdefault(label, []).append(int(match["n"]))
    assert {label: sorted(n) == list(range(1, len(n) + 1)) for label, n in numbers.items()} == {
        "CP": True, "NCP": True, "Normal": True}
    cases: dict[str, int] = {}
    for row in rows:
        if sum(case.startswith(row["label"] + "/") for case in cases) < 2:
            cases[f"{row['label']}/{row['patient_id']}/{row['scan_id']}"] = 2
    tree = make_slices(tmp_path / "cc-ccii", cases)
    write_manifests(tree, jobs=1)
    written = pack_release(tree, tmp_path / "out", fmt="zip", max_bytes=None, max_files=4, when=WHEN,
                           preset="cncb", name="CC-CCII")
    ours = {p.name for p in written if p.name.endswith(".zip") and not p.name.startswith("CC-CCII")}
    assert ours == {"CP-1.zip", "CP-2.zip", "NCP-1.zip", "NCP-2.zip", "Normal-1.zip", "Normal-2.zip"}
    assert ours <= set(labels)


def test_cncb_one_level_cases_follow_the_release_files(tmp_path: Path) -> None:
    """ct_lesion_seg form: cases image/<n>/ with no label folder are one class named by the stem, after the
    release's own files, which keep a part of their own."""
    root = make_slices(tmp_path / "seg", {"0": 2, "1": 2})
    write_manifests(root, jobs=1)
    written = pack_release(root, tmp_path / "out", fmt="zip", max_bytes=None, max_files=None, when=WHEN,
                           preset="cncb", name="ct_lesion_seg")
    assert [p.name for p in written][:3] == ["ct_lesion_seg-1.zip", "ct_lesion_seg-2.zip", "ct_lesion_seg.json"]
    assert archive_members(written[0]) == ["LICENSE", "MD5SUMS", "README_EN.md", "README_RU.md", "SHA256SUMS",
                                    "labels.yaml"]
    assert archive_members(written[1]) == ["image/0/0.jpg", "image/0/1.jpg", "image/1/0.jpg", "image/1/1.jpg",
                                    "mask/0/0.png", "mask/0/1.png", "mask/1/0.png", "mask/1/1.png"]


# ------------------------------------------------------------------------------------------- dataverse


def _read_dataverse(out: Path) -> dict[str, list[str]]:
    """A plain reader of a Dataverse dataset JSON: each listed file checked for size, md5 and checksum."""
    document = json.loads((out / "dataverse_files.json").read_text(encoding="utf-8"))
    assert document["status"] == "OK"
    verdict: dict[str, list[str]] = {"ok": [], "damaged": [], "missing": []}
    for entry in document["data"]["latestVersion"]["files"]:
        data = entry["dataFile"]
        assert data["filename"] == entry["label"] and data["checksum"]["type"] == "MD5"
        path = "/".join(filter(None, [entry.get("directoryLabel"), entry["label"]]))
        target = out / path
        if not target.is_file():
            verdict["missing"].append(path)
            continue
        content = target.read_bytes()
        good = (len(content) == data["filesize"] and hashlib.md5(content).hexdigest() == data["md5"]
                == data["checksum"]["value"])
        verdict["ok" if good else "damaged"].append(path)
    return verdict


def test_dataverse_mosmed_one_archive_per_study(full_release: Path, tmp_path: Path) -> None:
    out = tmp_path / "dv"
    written = pack_release(full_release, out, fmt="tar.gz", max_bytes=None, max_files=None, when=WHEN,
                           preset="dataverse")
    archives = [p.relative_to(out).as_posix() for p in written if p.name.endswith(".tar.gz")]
    studies = sorted(m for m in tree_files(full_release) if m.startswith("studies/"))
    expected = [f"{STEM}-1.tar.gz", *sorted(f"{s.split('/')[1]}/{s.split('/')[2][:10]}.tar.gz" for s in studies)]
    assert archives == expected
    assert archive_members(out / "CT-1/study_0003.tar.gz") == ["masks/study_0003_mask.nii.gz",
                                                        "studies/CT-1/study_0003.nii.gz"]
    assert archive_members(out / "CT-1/study_0005.tar.gz") == ["studies/CT-1/study_0005.nii.gz"]
    assert _read_dataverse(out) == {"ok": archives, "damaged": [], "missing": []}
    document = json.loads((out / "dataverse_files.json").read_text(encoding="utf-8"))
    first, study = document["data"]["latestVersion"]["files"][:2]
    assert "directoryLabel" not in first and study["directoryLabel"] == "CT-0"
    assert study["dataFile"]["contentType"] == "application/x-gzip"
    _extract_each(out, archives, tmp_path / "x")
    assert tree_files(tmp_path / "x") == tree_files(full_release)
    assert run("sha256sum", "-c", "--strict", "SHA256SUMS", cwd=tmp_path / "x").returncode == 0


def test_dataverse_damaged_and_missing_archive_named_by_a_plain_reader(cncb_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "dv"
    pack_release(cncb_tree, out, fmt="zip", max_bytes=None, max_files=None, when=WHEN, preset="dataverse",
                 name="CNCB-v1")
    assert _read_dataverse(out) == {"ok": ["CNCB-v1-1.zip", "CP/7/70.zip", "NCP/8/80.zip"], "damaged": [],
                                    "missing": []}
    assert archive_members(out / "NCP/8/80.zip") == ["image/NCP/8/80/0000.jpg", "image/NCP/8/80/0001.jpg",
                                              "mask/NCP/8/80/0000.png", "mask/NCP/8/80/0001.png"]
    flip_byte(out / "CP/7/70.zip", offset=200)
    (out / "NCP/8/80.zip").unlink()
    assert _read_dataverse(out) == {"ok": ["CNCB-v1-1.zip"], "damaged": ["CP/7/70.zip"], "missing": ["NCP/8/80.zip"]}


def test_dataverse_dicom_tree_one_archive_per_patient_folder(tmp_path: Path) -> None:
    """The Harvard COVID19-CT-dataset form itself: a patient folder (all its series) per archive."""
    root = tmp_path / "dicom"
    for rel in ("patient01/series1/CT.1.dcm", "patient01/series1/CT.2.dcm", "patient01/series2/CT.1.dcm",
                "patient02/CT.1.dcm"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(rel.encode() * 20)
    (root / "README.txt").write_text("patients\n", encoding="utf-8")
    written = pack_release(root, tmp_path / "out", fmt="tar.gz", max_bytes=None, max_files=None, when=WHEN,
                           preset="dataverse", name="COVID19-CT")
    assert [p.relative_to(tmp_path / "out").as_posix() for p in written][:3] == [
        "COVID19-CT-1.tar.gz", "patient01.tar.gz", "patient02.tar.gz"]
    assert archive_members(tmp_path / "out" / "patient01.tar.gz") == ["patient01/series1/CT.1.dcm",
                                                              "patient01/series1/CT.2.dcm",
                                                              "patient01/series2/CT.1.dcm"]
    assert _read_dataverse(tmp_path / "out") == {
        "ok": ["COVID19-CT-1.tar.gz", "patient01.tar.gz", "patient02.tar.gz"], "damaged": [], "missing": []}


# ------------------------------------------------------------------------- determinism, verify, the CLI


@pytest.mark.parametrize(("preset", "fmt"), [("cncb", "zip"), ("cncb", "tar.gz"), ("dataverse", "zip"),
                                             ("dataverse", "tar.gz")])
def test_presets_are_byte_identical_twice(full_release: Path, tmp_path: Path, preset: str, fmt: str) -> None:
    release = copy_release(full_release, tmp_path / "release")
    first = pack_release(release, tmp_path / "a", fmt=fmt, max_bytes=None, max_files=3, when=WHEN,
                         preset=preset, jobs=2)
    for path in release.rglob("*"):           # other times on disk must not leak into the archives
        os.utime(path, (1_800_000_000, 1_800_000_000))
    second = pack_release(release, tmp_path / "b", fmt=fmt, max_bytes=None, max_files=3, when=WHEN,
                          preset=preset, jobs=1)
    assert [p.relative_to(tmp_path / "a") for p in first] == [p.relative_to(tmp_path / "b") for p in second]
    assert tree_files(tmp_path / "a") == tree_files(tmp_path / "b")
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


@pytest.mark.parametrize("preset", ["cncb", "dataverse"])
def test_curator_verify_reads_a_preset_folder(full_release: Path, tmp_path: Path, preset: str) -> None:
    """The folder verifies with the parts' SHA256SUMS (which lists the platform's listings too); a damaged and a
    missing archive are the ones to fetch again."""
    out = tmp_path / preset
    written = pack_release(full_release, out, fmt="zip", max_bytes=None, max_files=None, when=WHEN, preset=preset)
    intact = verify(out, jobs=1)
    assert intact.valid and intact.findings == []
    archives = [p.relative_to(out).as_posix() for p in written if p.name.endswith(".zip")]
    damaged, missing = archives[-1], archives[-2]
    flip_byte(out / damaged, offset=100)
    (out / missing).unlink()
    report = verify(out, jobs=1)
    assert not report.valid
    assert (report.stats.model_extra or {})["refetch"] == sorted([damaged, missing])


def test_cli_preset_dataverse_defaults_to_tar_gz(full_release: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(pack, [str(full_release), str(tmp_path / "dv"), "--preset", "dataverse"])
    assert result.exit_code == 0, result.output
    assert "CT-4/study_0008.tar.gz  " in result.output
    assert "(with dataverse_files.json, PARTS.tsv, MD5SUMS, SHA256SUMS)" in result.output
    assert not list((tmp_path / "dv").rglob("*.zip"))
    zipped = runner.invoke(pack, [str(full_release), str(tmp_path / "dvz"), "--preset", "dataverse", "--format",
                                  "zip"])
    assert zipped.exit_code == 0, zipped.output
    assert (tmp_path / "dvz" / "CT-4" / "study_0008.zip").is_file()
    cncb = runner.invoke(pack, [str(full_release), str(tmp_path / "cncb"), "--preset", "cncb"])
    assert cncb.exit_code == 0, cncb.output
    assert f"(with {STEM}.json, CT-0.json, CT-1.json, CT-2.json, CT-3.json, CT-4.json, PARTS.tsv" in cncb.output


# ---------------------------------------------------------------------------------------------- refusals


def test_dataverse_refuses_a_unit_over_the_size_limit(full_release: Path, tmp_path: Path) -> None:
    with pytest.raises(PackError, match=r"masks/study_0003_mask.nii.gz \+ studies/CT-1/study_0003.nii.gz must "
                                        "stay together"):
        pack_release(full_release, tmp_path / "out", fmt="zip", max_bytes=None, max_files=1, when=WHEN,
                     preset="dataverse")
    assert not (tmp_path / "out").exists()


def test_presets_refuse_names_that_are_not_portable(tmp_path: Path) -> None:
    root = tmp_path / "dicom"
    (root / "Patient 1").mkdir(parents=True)
    (root / "Patient 1" / "CT.1.dcm").write_bytes(b"\0" * 200)
    with pytest.raises(PackError, match="'Patient 1' break the portable-name policy") as caught:
        pack_release(root, tmp_path / "dv", fmt="zip", max_bytes=None, max_files=None, when=WHEN,
                     preset="dataverse", name="dicom")
    assert caught.value.exit_code == 2
    assert not (tmp_path / "dv").exists()
    # a class that has the parts' own name
    seg = make_slices(tmp_path / "seg", {"CP/1/2": 1})
    with pytest.raises(PackError, match="'CP' is also a class"):
        pack_release(seg, tmp_path / "o", fmt="zip", max_bytes=None, max_files=None, when=WHEN, preset="cncb",
                     name="CP")


def test_presets_need_data_files_of_a_known_layout(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "README_EN.md").write_text("# only text\n", encoding="utf-8")
    with pytest.raises(PackError, match="no data files of a known layout") as caught:
        pack_release(root, tmp_path / "out", fmt="zip", max_bytes=None, max_files=None, when=WHEN,
                     preset="dataverse")
    assert caught.value.exit_code == 2


def test_a_study_in_two_categories_is_refused() -> None:
    with pytest.raises(ValueError, match="study_0001 is in two categories, CT-0 and CT-1"):
        group_files(["studies/CT-0/study_0001.nii.gz", "studies/CT-1/study_0001.nii.gz"], get_profile("mosmed"))


def test_hostile_patient_folder_names_are_refused_escaped_and_bounded(tmp_path: Path) -> None:
    """A patient folder named with a terminal escape and a bidi override: the dataverse form would name an archive
    after it, so packing stops with exit 2, the names escaped, nothing written, the source untouched."""
    work = tmp_path / "work"
    root = work / "release"
    for name in ("p\x1b[2J", "rtl\u202egnp"):
        (root / name).mkdir(parents=True)
        (root / name / "CT.1.dcm").write_bytes(b"\0" * 300)
    before = snapshot(work)
    run = run_bounded(["pack", str(root), str(work / "out"), "--preset", "dataverse"], cwd=work,
                      env={"SOURCE_DATE_EPOCH": "1768435200"})
    run.assert_bounded(exit_code=2, seconds=15, megabytes=150)    # measured 1.3 s, 75 MB
    assert "'p\\x1b[2J', 'rtl\\u202egnp' break the portable-name policy" in run.stderr
    assert "\x1b" not in run.stderr and "\u202e" not in run.stderr
    after = snapshot(work)
    assert written_outside(before, after, "out") == [] and not (work / "out").exists()
    assert after == before


@pytest.mark.parametrize(("preset", "form"), [("cncb", "md5 JSON map"), ("dataverse", "Dataverse dataset JSON")])
def test_a_consumer_with_only_the_platforms_listing_gets_the_exact_parts_to_fetch_again(
        full_release: Path, tmp_path: Path, preset: str, form: str) -> None:
    """The round trip of issue 14: what a downloader of a CNCB or Dataverse publication holds is the archives and
    the platform's own listing (no SHA256SUMS, no PARTS.tsv). `curator verify` finds that listing, names its form,
    says intact, then names exactly the damaged and the missing archive."""

    out = tmp_path / preset
    written = pack_release(full_release, out, fmt="zip", max_bytes=None, max_files=2, when=WHEN, preset=preset)
    for own in ("SHA256SUMS", "MD5SUMS", "PARTS.tsv"):
        (out / own).unlink()
    intact = CliRunner().invoke(main, ["verify", str(out), "--format", "json", "--no-cache"])
    assert intact.exit_code == 0, intact.output
    report = json.loads(intact.output)
    assert report["stats"]["form"] == form
    assert report["findings"] == []
    archives = sorted(p.relative_to(out).as_posix() for p in written if p.name.endswith(".zip"))
    damaged, missing = archives[-1], archives[0]
    flip_byte(out / damaged, offset=100)
    (out / missing).unlink()
    broken = CliRunner().invoke(main, ["verify", str(out), "--format", "json", "--no-cache"])
    assert broken.exit_code == 1, broken.output
    assert json.loads(broken.output)["stats"]["refetch"] == sorted([damaged, missing])
