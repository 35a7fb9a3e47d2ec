"""``curator ingest-slices --labels SCHEME --to SCHEME`` and ``--map FILE``: the masks' values remapped exactly, the
remap recorded in provenance.json, the scheme declared for validate and build; and the mapping file's rules
(curator.label_schemes.read_mapping / check_mapping)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from curator.cli.ingest_slices import ingest_slices as command
from curator.ingest.slices import IngestSlicesOptions, ingest_slices
from curator.label_schemes import LabelSchemeError, check_mapping, parse_mapping
from tests.ingest_slices_factories import make_inputs, png_bytes, tree_bytes, write
from tests.slices_factories import label_map


def _run(*arguments: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(command, [str(a) for a in arguments])
    return result.exit_code, result.output


def _pixels(path: Path) -> tuple[str, np.ndarray]:
    with Image.open(path) as image:
        return image.mode, np.asarray(image).copy()


def _provenance(out: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    return document


# --- --labels infnet --to cncb ---------------------------------------------------------------------------------

def test_infnet_masks_are_remapped_into_cncb_pixel_by_pixel(tmp_path: Path) -> None:
    # even slices carry lesion 2: values {0, 1, 2}, Inf-Net's background, ground-glass, consolidation
    images, masks = make_inputs(tmp_path / "in", {"1": [0, 2, 4]})
    out = tmp_path / "out"
    code, output = _run("--images", images, "--masks", masks, "--labels", "infnet", "--to", "cncb", out)
    assert code == 0, output
    assert "masks remapped from infnet to cncb (0->0, 1->2, 2->3)" in output
    for n in (0, 2, 4):
        mode, values = _pixels(out / "mask" / "1" / f"{n:04d}.png")
        assert mode == "L"   # grey, not the source's palette: the value is the label
        assert np.array_equal(values, np.array([0, 2, 3], dtype=np.uint8)[label_map(lesion=2)])
    provenance = _provenance(out)
    assert (provenance["labels"], provenance["label_scheme"]) == ([0, 2, 3], "cncb")
    remap = provenance["remap"]
    assert (remap["from_scheme"], remap["to_scheme"], remap["table"]) == ("infnet", "cncb", {"0": 0, "1": 2, "2": 3})
    one = label_map(lesion=2)
    expected_before = {str(v): 3 * int((one == v).sum()) for v in (0, 1, 2)}
    assert remap["pixels_before"] == expected_before
    assert remap["pixels_after"] == {"0": expected_before["0"], "2": expected_before["1"], "3": expected_before["2"]}
    # the mask entry's digest is the remapped file's
    entry = provenance["slices"][0]["mask"]
    assert entry["sha256"] != entry["source_sha256"]


def test_a_value_outside_the_source_scheme_stops_the_run_before_anything_is_written(tmp_path: Path) -> None:
    images, masks = make_inputs(tmp_path / "in", {"1": [0, 1, 2]})   # slice 1 holds 3: not an Inf-Net value
    out = tmp_path / "out"
    code, output = _run("--images", images, "--masks", masks, "--labels", "infnet", "--to", "cncb", out,
                        "--format", "json")
    assert code == 1
    report = json.loads(output)
    assert [(f["code"], f["path"], f["context"]["values"]) for f in report["findings"]] == [
        ("MASK_VALUES_UNEXPECTED", f"{masks.as_posix()}/1/1.png", [3])]
    assert report["findings"][0]["context"]["scheme"] == "infnet"
    assert report["stats"]["written"] is False
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_a_refused_remap_leaves_an_earlier_output_as_it_was(tmp_path: Path) -> None:
    images, masks = make_inputs(tmp_path / "in", {"1": [0, 2]})
    out = tmp_path / "out"
    assert _run("--images", images, "--masks", masks, out)[0] == 0
    before = tree_bytes(out)
    write(masks / "1" / "4.png", png_bytes(label_map(lesion=3)))
    write(images / "1" / "4.jpg", (images / "1" / "0.jpg").read_bytes())
    code, output = _run("--images", images, "--masks", masks, "--labels", "infnet", "--to", "cncb", "--force", out)
    assert code == 1 and "nothing was written" in output
    assert tree_bytes(out) == before


def test_a_scheme_without_remap_keeps_the_masks_and_declares_it(tmp_path: Path) -> None:
    images, masks = make_inputs(tmp_path / "in", {"1": [0, 2]})
    out = tmp_path / "out"
    code, output = _run("--images", images, "--masks", masks, "--labels", "infnet", out)
    assert code == 0 and "masks in the label scheme infnet" in output
    mode, _ = _pixels(out / "mask" / "1" / "0000.png")
    assert mode == "P"   # copied as it came (metadata stripped only)
    provenance = _provenance(out)
    assert (provenance["labels"], provenance["label_scheme"], provenance["remap"]) == ([0, 1, 2], "infnet", None)
    # the declaration validate and build read; the OUT holding it is still ingest-slices' own for --force
    assert (out / "labels.yaml").read_text(encoding="utf-8").endswith("\nlabel_scheme: infnet\n")
    code, output = _run("--images", images, "--masks", masks, "--labels", "infnet", "--to", "cncb", "--force", out)
    assert code == 0, output
    assert "label_scheme: cncb\n" in (out / "labels.yaml").read_text(encoding="utf-8")


def test_without_a_scheme_the_meaning_is_left_undeclared(tmp_path: Path) -> None:
    images, masks = make_inputs(tmp_path / "in", {"1": [0, 1]})
    code, output = _run("--images", images, "--masks", masks, tmp_path / "out")
    assert code == 0 and "label scheme is not declared" in output
    assert _provenance(tmp_path / "out")["label_scheme"] is None
    assert not (tmp_path / "out" / "labels.yaml").exists()


# --- --map FILE ------------------------------------------------------------------------------------------------

def test_a_csv_map_remaps_one_bit_masks_and_a_16_bit_target_is_kept(tmp_path: Path) -> None:
    images, masks = make_inputs(tmp_path / "in", {"1": [0, 2]}, mask_mode="1")   # values 0 and 1
    mapping = write(tmp_path / "map.csv", b"from,to\n0,0\n1,300\n")
    out = tmp_path / "out"
    code, output = _run("--images", images, "--masks", masks, "--labels", "0,1", "--map", mapping, out)
    assert code == 0, output
    mode, values = _pixels(out / "mask" / "1" / "0000.png")
    assert mode.startswith("I")
    assert np.array_equal(values, np.where(label_map(lesion=2) > 0, 300, 0))
    provenance = _provenance(out)
    assert provenance["label_scheme"] is None and provenance["labels"] == [0, 300]
    assert provenance["remap"]["table"] == {"0": 0, "1": 300}
    assert len(provenance["remap"]["map_file_sha256"]) == 64
    assert "map.csv" not in json.dumps(provenance)


def test_a_yaml_map_into_a_scheme_declares_that_scheme(tmp_path: Path) -> None:
    images, masks = make_inputs(tmp_path / "in", {"1": [0, 2]})
    mapping = write(tmp_path / "map.yaml", b"0: 0\n1: 1\n2: 1\n")   # lung field and ground-glass -> lesion
    out = tmp_path / "out"
    code, output = _run("--images", images, "--masks", masks, "--labels", "0,1,2", "--map", mapping,
                        "--to", "binary-lesion", out)
    assert code == 0, output
    _, values = _pixels(out / "mask" / "1" / "0000.png")
    assert np.array_equal(values, (label_map(lesion=2) > 0).astype(np.uint8))
    assert _provenance(out)["label_scheme"] == "binary-lesion"


@pytest.mark.parametrize(("arguments", "content", "message"), [
    (["--labels", "infnet", "--to", "nope"], None, "--to nope: unknown label scheme 'nope'; known: binary-lesion"),
    (["--labels", "nope"], None, "--labels nope: unknown label scheme"),
    (["--labels", "0,1,2", "--to", "cncb"], None, "--to remaps by meaning, so it needs the masks' own scheme"),
    (["--labels", "cncb", "--to", "infnet"], None, "no label for 'cncb' 1 (lung field)"),
    (["--labels", "infnet"], b"0,0\n1,2\n", "does not map {2} of the source labels {0, 1, 2}"),
    (["--labels", "infnet"], b"0,0\n1,2\n2,3\n5,1\n", "maps {5}, which the source labels {0, 1, 2} do not have"),
    (["--labels", "infnet"], b"0,0\n1,2\n1,3\n2,3\n", "line 3: value 1 is mapped twice"),
    (["--labels", "infnet"], b"0,0\n1,two\n2,3\n", "line 2: 'two' is not a whole number"),
    (["--labels", "infnet", "--to", "cncb"], b"0,0\n1,2\n2,7\n", "maps onto {7}, outside the target labels"),
])
def test_a_bad_remap_is_a_usage_error_and_nothing_is_written(tmp_path: Path, arguments: list[str],
                                                             content: bytes | None, message: str) -> None:
    images, masks = make_inputs(tmp_path / "in", {"1": [0]})
    extra = ["--map", str(write(tmp_path / "map.csv", content))] if content is not None else []
    code, output = _run("--images", images, "--masks", masks, *arguments, *extra, tmp_path / "out")
    assert code == 2 and message in output, output
    assert not (tmp_path / "out").exists()


# --- the mapping file ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "content"), [
    ("map.yaml", "1: 2\n2: 3\n0: 0\n"),
    ("map.yml", "- {from: 0, to: 0}\n- {from: 1, to: 2}\n- {from: 2, to: 3}\n"),
    ("map.yaml", "- [0, 0]\n- [1, 2]\n- [2, 3]\n"),
    ("map.csv", "\ufeff# Inf-Net to CNCB\r\nfrom,to\r\n0,0\r\n1, 2\r\n2,3\r\n"),
])
def test_a_mapping_reads_as_yaml_or_csv(name: str, content: str) -> None:
    assert parse_mapping(content.encode("utf-8"), name) == {0: 0, 1: 2, 2: 3}


@pytest.mark.parametrize(("name", "content", "message"), [
    ("map.yaml", "1: 2\n1: 3\n", "value 1 is mapped twice"),
    ("map.yaml", "1: true\n", "True is not a whole number"),
    ("map.yaml", "1: 70000\n", "70000 is not a whole number from 0 to 65535"),
    ("map.yaml", "-1: 2\n", "-1 is not a whole number"),
    ("map.yaml", "just text\n", "expected a mapping of value: new value"),
    ("map.yaml", "{a: [1\n", "not valid YAML"),
    ("map.csv", "0,1,2\n", "expected two numbers, from,to"),
    ("map.csv", "from,to\n", "maps no value"),
])
def test_a_broken_mapping_names_what_breaks_the_rules(name: str, content: str, message: str) -> None:
    with pytest.raises(LabelSchemeError, match=message.replace("(", r"\(").replace("{", r"\{")):
        parse_mapping(content.encode("utf-8"), name)


def test_an_oversized_or_special_map_file_is_refused_unread(tmp_path: Path) -> None:
    images, masks = make_inputs(tmp_path / "in", {"1": [0]})
    big = write(tmp_path / "map.csv", b"0,0\n" * 300_000)
    code, output = _run("--images", images, "--masks", masks, "--labels", "infnet", "--map", big, tmp_path / "out")
    assert code == 2 and "expected at most 1,048,576 bytes" in output, output
    fifo = tmp_path / "map.yaml"
    os.mkfifo(fifo)   # open() on a FIFO waits for a writer: it must be refused, not read
    code, output = _run("--images", images, "--masks", masks, "--labels", "infnet", "--map", fifo, tmp_path / "out")
    assert code == 2 and "FIFO" in output, output
    assert not (tmp_path / "out").exists()


def test_a_mapping_may_merge_values_but_must_cover_the_source() -> None:
    check_mapping({0: 0, 1: 1, 2: 1}, {0, 1, 2}, {0, 1})   # two meanings folded into one: allowed
    with pytest.raises(LabelSchemeError, match=r"does not map \{3\}"):
        check_mapping({0: 0, 1: 1, 2: 1}, {0, 1, 2, 3})


# --- the API ---------------------------------------------------------------------------------------------------

def test_the_remap_is_deterministic(tmp_path: Path) -> None:
    images, masks = make_inputs(tmp_path / "in", {"1": [0, 2]})
    options = IngestSlicesOptions(scheme="infnet", to="cncb", jobs=1)
    ingest_slices([images], [masks], tmp_path / "a", options)
    ingest_slices([images], [masks], tmp_path / "b", options)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")


# --- real data -------------------------------------------------------------------------------------------------

@pytest.mark.realdata
def test_real_infnet_masks_remapped_into_cncb_match_the_source_pixel_by_pixel(realdata: Path, tmp_path: Path) -> None:
    """Inf-Net's palette PNGs (MultiClassInfection-Test/GT: 0 background, 1 ground-glass, 2 consolidation) into
    CNCB's meanings (2 ground-glass, 3 consolidation): every output pixel is the source pixel through 0->0, 1->2,
    2->3, read here with Pillow straight from the source PNG's palette indices."""
    source = realdata / "infnet_covid_semiseg_png" / "MultiClassInfection-Test"
    out = tmp_path / "cncb"
    code, output = _run("--images", source / "Imgs", "--masks", source / "GT", "--labels", "infnet", "--to", "cncb",
                        out)
    assert code == 0, output
    written = sorted((out / "mask" / "0").iterdir())
    assert len(written) == 48
    lut = np.array([0, 2, 3], dtype=np.uint8)
    totals = {0: 0, 1: 0, 2: 0}
    for mask in written:
        with Image.open(io.BytesIO((source / "GT" / f"{int(mask.stem)}.png").read_bytes())) as original:
            assert original.mode == "P"
            indices = np.asarray(original)
        mode, values = _pixels(mask)
        assert mode == "L" and values.shape == indices.shape
        assert np.array_equal(values, lut[indices]), mask.name
        for value in totals:
            totals[value] += int((indices == value).sum())
    assert all(totals.values())   # the real set holds all three labels
    remap = _provenance(out)["remap"]
    assert remap["pixels_before"] == {str(v): n for v, n in totals.items()}
    assert remap["pixels_after"] == {"0": totals[0], "2": totals[1], "3": totals[2]}


# --- bounds ----------------------------------------------------------------------------------------------------

def test_remapping_the_largest_mask_ingest_decodes_stays_bounded(tmp_path: Path) -> None:
    """A 4096 x 4096 palette mask (the decode limit, io.slices.MAX_DECODE_PIXELS) remapped in row bands: measured
    262 MB peak RSS with and without the remap (the JPEG decode and the value count dominate), 2.4 s."""
    from tests.hostile import run_bounded, snapshot

    images, masks = make_inputs(tmp_path / "in", {"": [0]}, size=(4096, 4096))
    before = snapshot(tmp_path / "in")
    run = run_bounded(["ingest-slices", "--images", str(images), "--masks", str(masks), "--labels", "infnet",
                       "--to", "cncb", "-j", "1", str(tmp_path / "out")], timeout=120)
    run.assert_bounded(exit_code=0, seconds=60, megabytes=350)
    assert snapshot(tmp_path / "in") == before
    mode, values = _pixels(tmp_path / "out" / "mask" / "0" / "0000.png")
    assert mode == "L" and set(np.unique(values).tolist()) == {0, 2, 3}
