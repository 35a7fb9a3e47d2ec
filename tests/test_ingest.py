"""`curator ingest`: raw DICOM studies (folders and archives) into a build source, the MosMed way."""

from __future__ import annotations

import csv
import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner

from curator.cli.main import main
from tests.archive_factories import RarEntry, make_rar4
from tests.ingest_factories import PATIENTS, write_study

KEY = "k" * 32


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two patients' studies, one folder each, as a PACS export gives them."""
    root = tmp_path_factory.mktemp("raw") / "export"
    write_study(root / "case01", PATIENTS[0], accession="ACC1")
    write_study(root / "case02", PATIENTS[1], accession="ACC2")
    return root


def run(*args: str | Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["ingest", *map(str, args)], env={"CURATOR_ANON_KEY": KEY, **(env or {})})
    return result.exit_code, result.output


def rows(out: Path) -> list[dict[str, str]]:
    with (out / "studies.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def tree(out: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.relative_to(out).as_posix().startswith(skip)}


def test_mosmed_preset_keeps_the_body_series_and_every_tenth_image(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "source"
    code, output = run(*sorted(raw.iterdir()), out, "--preset", "mosmed", "--category", "CT-1", "--format", "json")
    assert code == 0, output
    report = json.loads(output)
    left_out = [f for f in report["findings"] if f["code"] == "INGEST_SERIES_LEFT_OUT"]
    assert len(left_out) == 2 and all("series 3" in f["message"] for f in left_out)   # the LUNG series
    table = rows(out)
    # ages from PatientAge, else birth and study dates; 93 folds to 90
    assert sorted((r["category"], r["sex"], r["age"]) for r in table) == [("CT-1", "F", "90"), ("CT-1", "M", "62")]
    for row in table:
        image = nib.load(out / row["study"])
        assert image.shape == (32, 32, 11)                   # instances 10, 20, ..., 110
        assert image.header.get_zooms() == pytest.approx((0.8, 0.8, 8.0))
        data = np.asarray(image.dataobj)
        assert data.dtype == np.int16 and data.min() == -1000  # HU, intercept applied
        assert row["patient"].startswith("ANON-") and row["study"].startswith(f"volumes/{row['patient']}/")
    provenance = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["rules"]["series"]["description"] == ["*BODY*"]
    assert provenance["rules"]["instances"] == {"every": 10, "remainder": 0}
    studies = [s for unit in provenance["units"] for s in unit["studies"]]
    assert [s["series"]["kept"] for s in studies] == [11, 11] and [s["series"]["images"] for s in studies] == [110] * 2
    assert all(len(i["sha256"]) == 64 for unit in provenance["units"] for i in unit["inputs"])
    # nothing identifying anywhere in OUT; all of it in the key file beside it
    everything = b"".join(tree(out).values())
    for needle in (b"Ivanov", b"MSK-000123", b"MSK-000456", b"Smirnova", b"19580312", b"City Hospital", b"ACC1",
                   str(raw).encode()):
        assert needle not in everything, needle
    key_map = out.parent / "source.keymap.csv"
    assert oct(key_map.stat().st_mode & 0o777) == "0o600"
    with key_map.open(encoding="utf-8", newline="") as handle:
        keys = {r["patient_id"]: r for r in csv.DictReader(handle)}
    assert set(keys) == {"MSK-000123", "MSK-000456"}
    assert {keys[p]["pseudonym"] for p in keys} == {r["patient"] for r in table}
    assert keys["MSK-000123"]["accession"] == "ACC1" and keys["MSK-000123"]["input"].endswith("case01")


def test_without_the_instance_rule_every_image_is_kept_and_lung_series_are_chosen_by_pattern(
        raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "lung"
    code, output = run(raw / "case01", out, "--series-description", "lung*", "--category", "CT-0")
    assert code == 0, output
    (row,) = rows(out)
    image = nib.load(out / row["study"])
    assert image.shape == (32, 32, 110) and image.header.get_zooms()[2] == pytest.approx(0.8)


def _archive(source: Path, target: Path, kind: str) -> Path:
    files = sorted(p for p in source.rglob("*") if p.is_file())
    if kind == "zip":
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, f"{source.name}/{path.relative_to(source).as_posix()}")
    elif kind == "tar.gz":
        with tarfile.open(target, "w:gz") as archive:
            archive.add(source, arcname=source.name)
    elif kind == "rar":   # RAR 4, stored (nothing free writes compressed RAR); read through rarfile
        make_rar4(target, [RarEntry(f"{source.name}/{p.relative_to(source).as_posix()}", p.read_bytes())
                           for p in files])
    else:
        py7zr = pytest.importorskip("py7zr")
        with py7zr.SevenZipFile(target, "w") as archive:
            archive.writeall(source, source.name)
    return target


def test_the_same_studies_from_a_folder_a_zip_a_tar_gz_a_7z_and_a_rar_give_identical_output(
        raw: Path, tmp_path: Path) -> None:
    outputs = {}
    for kind in ("folder", "zip", "tar.gz", "7z", "rar"):
        if kind == "folder":
            inputs = sorted(raw.iterdir())
        else:
            folder = tmp_path / f"in-{kind.replace('.', '')}"
            folder.mkdir()
            inputs = [_archive(case, folder / f"{case.name}.{kind}", kind) for case in sorted(raw.iterdir())]
        out = tmp_path / f"out-{kind.replace('.', '')}"
        code, output = run(*inputs, out, "--preset", "mosmed", "--category", "CT-2")
        assert code == 0, (kind, output)
        outputs[kind] = out
    reference = tree(outputs["folder"], skip=("provenance.json", ".ingest"))
    assert len([p for p in reference if p.endswith(".nii.gz")]) == 2
    for kind, out in outputs.items():
        assert tree(out, skip=("provenance.json", ".ingest")) == reference, kind
        provenance = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
        for unit in provenance["units"]:
            unit.pop("inputs"), unit.pop("fingerprint")
        if kind == "folder":
            expected = provenance
        assert provenance == expected, kind


def _hostile_zip(path: Path, name: str, data: bytes = b"x") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("fine.txt", b"ok")
        archive.writestr(name, data)
    return path


def test_a_hostile_archive_is_refused_with_its_code_and_the_other_inputs_are_still_ingested(
        raw: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    _hostile_zip(inputs / "slip.zip", "../../escaped.txt")
    with tarfile.open(inputs / "link.tar", "w") as archive:
        member = tarfile.TarInfo("case/IM1")
        member.type, member.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(member)
    with zipfile.ZipFile(inputs / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.dcm", bytes(64 * 2**20))
    out = tmp_path / "work" / "out"
    code, output = run(inputs / "slip.zip", inputs / "link.tar", inputs / "bomb.zip", raw / "case01", out,
                       "--category", "CT-1", "--preset", "mosmed", "--format", "json")
    assert code == 1, output
    findings = json.loads(output)["findings"]
    assert all("{" not in f["message"] for f in findings)      # every placeholder filled, the bomb's numbers too
    found = {(f["code"], f["path"]) for f in findings if f["severity"] == "error"}
    assert found == {("ARCHIVE_UNSAFE_MEMBER", "slip"), ("ARCHIVE_UNSAFE_MEMBER", "link"), ("ARCHIVE_BOMB", "bomb")}
    assert len(rows(out)) == 1                                # case01 made it
    assert not list(tmp_path.rglob("escaped.txt"))
    outside = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")
               if not p.is_relative_to(out) and not p.is_relative_to(inputs)}
    assert outside == {"work", "work/out.keymap.csv"}


def test_a_study_with_a_missing_slice_is_reported_and_skipped_without_stopping_the_others(
        raw: Path, tmp_path: Path) -> None:
    broken = tmp_path / "in" / "gap"
    write_study(broken, PATIENTS[0], images=60, skip=30)
    out = tmp_path / "out"
    code, output = run(broken, raw / "case02", out, "--preset", "mosmed", "--category", "CT-3", "--format", "json")
    assert code == 1
    (refused,) = [f for f in json.loads(output)["findings"] if f["code"] == "INGEST_SERIES_REFUSED"]
    assert refused["path"] == "gap" and "missing" in refused["message"].lower()
    assert len(rows(out)) == 1


def test_a_rerun_skips_inputs_already_done_and_redoes_what_changed_or_was_damaged(raw: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for case in sorted(raw.iterdir()):
        _archive(case, inputs / f"{case.name}.zip", "zip")
    out = tmp_path / "out"
    args = (inputs, out, "--preset", "mosmed", "--category", "CT-1", "--format", "json")
    code, first = run(*args)
    assert code == 0, first
    assert json.loads(first)["stats"]["units_done"] == 2
    volumes = sorted(out.rglob("*.nii.gz"))
    stamps = {p: p.stat().st_mtime_ns for p in volumes}
    code, second = run(*args)
    stats = json.loads(second)["stats"]
    assert (stats["units_done"], stats["units_resumed"]) == (0, 2)
    assert {p: p.stat().st_mtime_ns for p in volumes} == stamps
    volumes[0].write_bytes(b"damaged")                       # a damaged output is made again
    code, third = run(*args)
    assert json.loads(third)["stats"]["units_done"] == 1
    assert nib.load(volumes[0]).shape == (32, 32, 11)
    code, fourth = run(*args, "--every", "5")              # other rules: everything again
    assert json.loads(fourth)["stats"]["units_done"] == 2
    assert {nib.load(p).shape[2] for p in sorted(out.rglob("*.nii.gz"))} == {22}


def test_categories_come_from_a_map_by_input_or_patient_and_a_study_without_one_waits(
        raw: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "categories.csv"
    mapping.write_text("input,patient_id,category\ncase01,,CT-4\n", encoding="utf-8")
    out = tmp_path / "out"
    code, output = run(*sorted(raw.iterdir()), out, "--categories", mapping, "--format", "json")
    assert code == 1
    (missing,) = [f for f in json.loads(output)["findings"] if f["severity"] == "error"]
    assert missing["code"] == "INGEST_CATEGORY_MISSING" and missing["path"] == "case02"
    assert [r["category"] for r in rows(out)] == ["CT-4"]
    mapping.write_text("input,patient_id,category\ncase01,,CT-4\n,MSK-000456,CT-0\n", encoding="utf-8")
    code, output = run(*sorted(raw.iterdir()), out, "--categories", mapping, "--format", "json")
    assert code == 0, output
    assert json.loads(output)["stats"]["units_resumed"] == 2   # a new category does not convert again
    assert sorted(r["category"] for r in rows(out)) == ["CT-0", "CT-4"]


def test_a_mask_given_alongside_is_checked_against_the_converted_volume(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run(raw / "case01", out, "--preset", "mosmed", "--category", "CT-1")[0] == 0
    (row,) = rows(out)
    volume = nib.load(out / row["study"])
    good = np.zeros(volume.shape, dtype=np.uint8)
    good[10:20, 10:20, 3:6] = 1
    nib.save(nib.Nifti1Image(good, volume.affine), tmp_path / "good.nii.gz")
    shifted = volume.affine.copy()
    shifted[0, 3] += 2.0
    nib.save(nib.Nifti1Image(good, shifted), tmp_path / "shifted.nii.gz")
    mapping = tmp_path / "categories.csv"
    mapping.write_text("input,category,mask\ncase01,CT-1,good.nii.gz\n", encoding="utf-8")
    assert run(raw / "case01", out, "--preset", "mosmed", "--categories", mapping)[0] == 0
    (row,) = rows(out)
    written = nib.load(out / row["mask"])
    assert np.array_equal(np.asarray(written.dataobj), good) and np.allclose(written.affine, volume.affine)
    mapping.write_text("input,category,mask\ncase01,CT-1,shifted.nii.gz\n", encoding="utf-8")
    code, output = run(raw / "case01", out, "--preset", "mosmed", "--categories", mapping, "--format", "json")
    assert code == 1
    (invalid,) = [f for f in json.loads(output)["findings"] if f["severity"] == "error"]
    assert invalid["code"] == "INGEST_MASK_INVALID" and "shifted 2.000 mm" in invalid["message"]
    assert rows(out)[0]["mask"] == "" and not list(out.glob("masks/**/*.nii.gz"))


def test_a_mask_in_another_voxel_order_is_reordered_onto_the_volume_and_recorded(raw: Path, tmp_path: Path) -> None:
    """dcm2niix and TotalSegmentator write LAS; curator's volumes are LPS: the same grid, axis 1 reversed."""
    from tests.factories import in_voxel_order

    out = tmp_path / "out"
    assert run(raw / "case01", out, "--preset", "mosmed", "--category", "CT-1")[0] == 0
    volume = nib.load(out / rows(out)[0]["study"])
    assert nib.aff2axcodes(volume.affine) == ("L", "P", "S")
    good = np.zeros(volume.shape, dtype=np.uint8)
    good[10:20, 3:9, 3:6] = 1                       # not symmetric along any axis
    for codes, words in (("LAS", "axis 1 flipped"), ("SAL", "axes permuted")):
        data, affine = in_voxel_order(good, volume.affine, codes)
        nib.save(nib.Nifti1Image(data, affine), tmp_path / f"{codes}.nii.gz")
        mapping = tmp_path / "categories.csv"
        mapping.write_text(f"input,category,mask\ncase01,CT-1,{codes}.nii.gz\n", encoding="utf-8")
        code, output = run(raw / "case01", out, "--preset", "mosmed", "--categories", mapping)
        assert code == 0, output
        (row,) = rows(out)
        written = nib.load(out / row["mask"])
        assert np.array_equal(np.asarray(written.dataobj), good) and np.allclose(written.affine, volume.affine)
        (recorded,) = json.loads((out / "provenance.json").read_text(encoding="utf-8"))["masks"]
        assert recorded["mask"] == row["mask"] and f"mask voxel order {codes}, study's LPS" in recorded["voxel_order"]
        assert words in recorded["voxel_order"] and "no resampling" in recorded["voxel_order"]


def test_usage_errors_exit_2_and_write_nothing(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = run(raw / "case01", out, "--category", "CT-1", "--key-map", out / "keys.csv")
    assert code == 2 and "outside" in output
    code, output = run(raw / "case01", out, "--category", "CT-1", env={"CURATOR_ANON_KEY": ""})
    assert code == 2 and "key" in output
    code, output = run(raw / "case01", out)
    assert code == 2 and "category" in output
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "mine.txt").write_text("keep me", encoding="utf-8")
    code, output = run(raw / "case01", taken, "--category", "CT-1")
    assert code == 2 and (taken / "mine.txt").read_text(encoding="utf-8") == "keep me"
    assert not out.exists()


def test_the_text_report_says_where_the_key_file_is(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "src"
    code, output = run(raw / "case01", out, "--preset", "mosmed", "--category", "CT-1")
    assert code == 0
    assert "1 volume in" in output and str(tmp_path / "src.keymap.csv") in output
    assert io.StringIO(output).read().count("INGEST_SERIES_LEFT_OUT") == 1
    assert os.access(out / "studies.csv", os.R_OK)


def test_rules_come_from_a_yaml_file_and_an_unknown_key_is_a_usage_error(raw: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("series:\n  kernel: ['B70*']\ninstances:\n  every: 5\n  remainder: 1\n", encoding="utf-8")
    out = tmp_path / "out"
    code, output = run(raw / "case01", out, "--rules", rules, "--category", "CT-0")
    assert code == 0, output
    (row,) = rows(out)
    assert nib.load(out / row["study"]).shape == (32, 32, 22)        # instances 1, 6, ..., 106 of the LUNG series
    provenance = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["rules"]["series"]["kernel"] == ["B70*"] and provenance["rules"]["instances"]["remainder"] == 1
    rules.write_text("series:\n  kernels: ['B70*']\n", encoding="utf-8")
    code, output = run(raw / "case01", tmp_path / "other", "--rules", rules, "--category", "CT-0")
    assert code == 2 and "kernels" in output


def test_a_dicom_seg_in_the_input_becomes_the_mask_of_its_subsampled_volume(tmp_path: Path) -> None:
    from pydicom import dcmread

    from tests.seg_factories import seg_from_masks

    case = tmp_path / "in" / "case07"
    write_study(case, PATIENTS[0], images=40)
    body = sorted((dcmread(p) for p in (case / "SE2").iterdir()), key=lambda d: int(d.InstanceNumber))
    lesion = np.zeros((len(body), 32, 32), dtype=np.uint8)
    lesion[9:30, 5:11, 20:26] = 1          # instances 10..30, rows 5..10, columns 20..25 (a full-series SEG)
    (case / "SEG").mkdir()
    seg_from_masks(body, {1: lesion}).save_as(case / "SEG" / "lesions.dcm", enforce_file_format=True)
    out = tmp_path / "out"
    code, output = run(case, out, "--preset", "mosmed", "--category", "CT-2", "--format", "json")
    assert code == 0, output
    (row,) = rows(out)
    mask = np.asarray(nib.load(out / row["mask"]).dataobj)
    volume = nib.load(out / row["study"])
    assert mask.shape == volume.shape == (32, 32, 4)            # instances 10, 20, 30, 40
    expected = np.zeros(mask.shape, dtype=np.uint8)
    expected[20:26, 5:11, 0:3] = 1                               # i = column, j = row, k = kept slices 10, 20, 30
    assert np.array_equal(mask, expected)
    assert np.allclose(nib.load(out / row["mask"]).affine, volume.affine)
    study = json.loads((out / "provenance.json").read_text(encoding="utf-8"))["units"][0]["studies"][0]
    assert study["mask_from"] == "DICOM SEG" and any("dropped" in note for note in study["notes"])
    code, again = run(case, out, "--preset", "mosmed", "--category", "CT-2", "--format", "json")
    assert json.loads(again)["stats"]["units_resumed"] == 1 and rows(out)[0]["mask"] == row["mask"]


def test_a_series_that_is_not_greyscale_is_left_out_not_converted_as_hu(tmp_path: Path) -> None:
    from pydicom import dcmread

    case = tmp_path / "in" / "case09"
    write_study(case, PATIENTS[0], images=20)
    for path in (case / "SE2").iterdir():        # the BODY series claims a palette: its values are indices, not HU
        ds = dcmread(path)
        ds.PhotometricInterpretation = "PALETTE COLOR"
        ds.save_as(path, enforce_file_format=True)
    out = tmp_path / "out"
    code, output = run(case, out, "--series-description", "BODY*", "--category", "CT-1", "--format", "json")
    assert code == 1
    (finding,) = [f for f in json.loads(output)["findings"] if f["severity"] == "error"]
    assert finding["code"] == "INGEST_NO_SERIES" and "PALETTE COLOR" in finding["message"]
    assert rows(out) == []


def test_the_options_record_holds_every_click_parameter_once() -> None:
    """cli/ingest builds one IngestArguments from click's parameters: an option added without its field (or a field
    left behind by a removed option) fails here, not in a user's run."""
    from dataclasses import fields

    from curator.cli.ingest import IngestArguments, ingest

    assert sorted(p.name for p in ingest.params if p.name) == sorted(f.name for f in fields(IngestArguments))
