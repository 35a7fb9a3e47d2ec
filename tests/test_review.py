"""``curator review``: the static review page, its thumbnails, its escaping, and the page in headless Chromium."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import openpyxl
import pytest
from click.testing import CliRunner
from PIL import Image

from curator.cli.main import main
from curator.models.findings import Counts, Finding, Report, Severity, Stats
from curator.review import find_studies, write_review
from curator.review.page import PAGE, review_html
from curator.review.strips import TILE, axial_planes
from curator.validate import ValidateOptions, validate
from tests.factories import DEFAULT_AFFINE, ct_volume, lesion_mask, write_nifti

CHROMIUM = Path("/usr/bin/chromium")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HOSTILE = '<img src=x onerror=alert(1)>'
HOSTILE_REGISTRY = "/studies/CT-0/<script>alert(2)</script>.nii.gz"


class _Page(HTMLParser):
    """The parts of a review page the tests look at: finding rows, study cards, images, the error box."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str | None]] = []
        self.cards: list[dict[str, str | None]] = []
        self.images: list[dict[str, str | None]] = []
        self.attributes: dict[str, dict[str, str | None]] = {}
        self.errors = ""
        self.json = ""
        self.out = ""      # what a test's script wrote (see ``scripted``)
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        data = dict(attrs)
        if tag == "tr" and "data-code" in data:
            self.rows.append(data)
        elif tag == "article":
            self.cards.append(data)
        elif tag == "img":
            self.images.append(data)
        if data.get("id"):
            self.attributes[str(data["id"])] = data
        if data.get("id") in ("js-errors", "report-data", "test-out"):
            self._in = data["id"]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("pre", "script"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "js-errors":
            self.errors += data
        elif self._in == "report-data":
            self.json += data
        elif self._in == "test-out":
            self.out += data


def parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def shown(rows: list[dict[str, str | None]]) -> list[dict[str, str | None]]:
    return [row for row in rows if "hidden" not in row]


def damage(release: Path) -> None:
    """A mask shifted by three voxels (its affine), a missing study, and OS litter (a warning)."""
    affine = nib.load(release / "studies/CT-1/study_0003.nii.gz").affine.copy()
    affine[1, 3] += 3 * 0.8
    write_nifti(release / "masks/study_0003_mask.nii.gz", lesion_mask(), affine)
    (release / "studies/CT-0/study_0002.nii.gz").unlink()
    (release / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")


# ----------------------------------------------------------------------------------------------------------
# The page and its thumbnails


def test_page_for_a_built_release(built_release: Path, tmp_path: Path) -> None:
    index = write_review(built_release, tmp_path / "review", jobs=1)
    assert index == tmp_path / "review" / "index.html"
    text = index.read_text(encoding="utf-8")
    page = parse(text)
    assert 'id="state">VALID<' in text and page.rows == []
    embedded = json.loads(page.json)
    assert embedded["valid"] is True and embedded["profile"] == "mosmed" and embedded["findings"] == []
    assert len(page.cards) == 8 and not any("flagged" in str(card["class"]) for card in page.cards)
    # no external resource: everything is inline, thumbnails by relative URL
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    thumbs = sorted((tmp_path / "review" / "thumbs").iterdir())
    assert [p.name for p in thumbs] == [f"study-{i:04d}.png" for i in range(1, 9)]
    assert sorted(str(img["src"]) for img in page.images) == [f"thumbs/{p.name}" for p in thumbs]
    for path in thumbs:
        assert path.read_bytes()[:8] == PNG_MAGIC
        with Image.open(path) as image:
            assert image.format == "PNG" and image.mode == "RGB"
            assert image.size == (4 * TILE, TILE)   # the factory volumes have 4 slices: one tile each
    # deterministic: the same release gives the same thumbnails, byte for byte
    again = write_review(built_release, tmp_path / "again", jobs=2)
    for path in thumbs:
        assert (again.parent / "thumbs" / path.name).read_bytes() == path.read_bytes()


def test_page_for_a_damaged_release(release: Path, tmp_path: Path) -> None:
    damage(release)
    out = tmp_path / "review"
    result = CliRunner().invoke(main, ["review", str(release), "--out", str(out), "--jobs", "1", "--no-cache"])
    assert result.exit_code == 1, result.output
    assert f"review page: {(out / 'index.html').resolve().as_uri()}" in result.output
    page = parse((out / "index.html").read_text(encoding="utf-8"))
    report = validate(release, ValidateOptions(jobs=1))
    assert json.loads(page.json)["findings"] == [f.model_dump(mode="json") for f in report.findings]
    rows = {(row["data-code"], row["data-path"]) for row in page.rows}
    assert ("MASK_GEOMETRY_MISMATCH", "masks/study_0003_mask.nii.gz") in rows
    assert ("FILE_MISSING", "studies/CT-0/study_0002.nii.gz") in rows
    assert ("FILE_JUNK", ".DS_Store") in rows
    cards = {card["id"]: card for card in page.cards}
    assert {"study-0002", "study-0003"} <= {k for k, c in cards.items() if "flagged" in str(c["class"])}
    assert "study-0001" in cards and "flagged" not in str(cards["study-0001"]["class"])
    text = (out / "index.html").read_text(encoding="utf-8")
    card_2 = text[text.index('id="study-0002"'):text.index("</article>", text.index('id="study-0002"'))]
    assert "the study file is missing" in card_2 and "<img" not in card_2
    assert 'href="#study-0003"' in text     # the table links the mask's finding to its study
    assert not (out / "thumbs" / "study-0002.png").exists()
    with Image.open(out / "thumbs" / "study-0003.png") as image:
        assert image.size == (4 * TILE, TILE)


def test_the_shifted_mask_is_drawn_where_its_affine_puts_it(release: Path) -> None:
    """Moving a mask's affine by three voxels draws like moving its data by three voxels: it shows."""
    study = release / "studies/CT-1/study_0003.nii.gz"
    aligned = axial_planes(study, release / "masks/study_0003_mask.nii.gz")
    shifted_affine = DEFAULT_AFFINE.copy()
    shifted_affine[1, 3] += 3 * 0.8            # mask voxel j now lies where study voxel j + 3 lies
    write_nifti(release / "masks/moved_affine.nii.gz", lesion_mask(), shifted_affine)
    write_nifti(release / "masks/moved_data.nii.gz", np.roll(lesion_mask(), 3, axis=1))   # y 2..4 -> 5..7
    by_affine = axial_planes(study, release / "masks/moved_affine.nii.gz")
    by_data = axial_planes(study, release / "masks/moved_data.nii.gz")
    assert by_affine.indices == by_data.indices == aligned.indices
    assert any("its own affine" in note for note in by_affine.notes) and not by_data.notes
    for (hu_a, mask_a), (hu_b, mask_b), (hu_0, mask_0) in zip(by_affine.slices, by_data.slices, aligned.slices,
                                                               strict=True):
        assert np.array_equal(hu_a, hu_0) and np.array_equal(hu_b, hu_0)
        assert mask_a is not None and mask_b is not None and mask_0 is not None
        assert np.array_equal(mask_a, mask_b)
        assert np.array_equal(mask_a, mask_0) is not bool(mask_0.any())   # every slice with a lesion shows the move
    assert any(mask_0 is not None and mask_0.any() for _, mask_0 in aligned.slices)


def test_hostile_names_are_escaped(release: Path, tmp_path: Path) -> None:
    (release / "studies/CT-1" / f"{HOSTILE}.nii.gz").write_bytes(b"junk")
    (release / "studies/CT-1" / os.fsdecode(b"bad\xffname.nii.gz")).write_bytes(b"junk")
    book = openpyxl.load_workbook(release / "dataset_registry.xlsx")
    sheet = book.worksheets[0]
    header = [cell.value for cell in sheet[1]]
    sheet.cell(row=3, column=header.index("study_file") + 1, value=HOSTILE_REGISTRY)
    book.save(release / "dataset_registry.xlsx")
    index = write_review(release, tmp_path / "review", jobs=1)
    text = index.read_text(encoding="utf-8")
    assert HOSTILE not in text and "<script>alert(2)" not in text
    assert html.escape(HOSTILE, quote=True) in text
    assert html.escape(HOSTILE_REGISTRY, quote=True) in text
    page = parse(text)
    assert any(row["data-path"] == f"studies/CT-1/{HOSTILE}.nii.gz" for row in page.rows)
    assert "\\u003cimg src=x" in page.json and "<" not in page.json
    assert any(finding["path"] == f"studies/CT-1/{HOSTILE}.nii.gz" for finding in json.loads(page.json)["findings"])
    # the registry's hostile study path is listed, never read (it is not a file of the release)
    card = next(card for card in page.cards if card["data-path"] == HOSTILE_REGISTRY.lstrip("/"))
    assert "flagged" in str(card["class"])


# ----------------------------------------------------------------------------------------------------------
# The output folder and the command line


def test_out_folder_rules(built_release: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    inside = runner.invoke(main, ["review", str(built_release), "--out", str(built_release / "review")])
    assert inside.exit_code == 2 and "inside the release" in inside.output
    assert not (built_release / "review").exists()
    around = runner.invoke(main, ["review", str(built_release), "--out", str(built_release.parent)])
    assert around.exit_code == 2
    out = tmp_path / "review"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    busy = runner.invoke(main, ["review", str(built_release), "--out", str(out)])
    assert busy.exit_code == 2 and "--force" in busy.output
    forced = runner.invoke(main, ["review", str(built_release), "--out", str(out), "--force", "-j", "1"])
    assert forced.exit_code == 0, forced.output
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine" and (out / "index.html").is_file()
    assert len(list((out / "thumbs").iterdir())) == 8
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]   # no temporary folder left behind
    missing = runner.invoke(main, ["review", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r2")])
    assert missing.exit_code == 3 and not (tmp_path / "r2").exists()
    usage = runner.invoke(main, ["review", str(built_release)])
    assert usage.exit_code == 2


def test_max_studies_draws_flagged_studies_first(release: Path, tmp_path: Path) -> None:
    damage(release)
    index = write_review(release, tmp_path / "review", jobs=1, max_studies=2)
    text = index.read_text(encoding="utf-8")
    assert [card["id"] for card in parse(text).cards] == ["study-0002", "study-0003"]
    assert "Showing 2 of 8 studies (--max-studies 2)" in text
    assert [p.name for p in (tmp_path / "review" / "thumbs").iterdir()] == ["study-0003.png"]


def test_many_studies_without_a_cap_are_warned_about(built_release: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import curator.review.folder

    monkeypatch.setattr(curator.review.folder, "LARGE", 3)
    heard: list[str] = []
    write_review(built_release, tmp_path / "review", jobs=1, warn=heard.append)
    assert len(heard) == 1 and "all 8 studies" in heard[0] and "--max-studies" in heard[0]


def test_studies_come_from_the_registry_and_the_disk(release: Path) -> None:
    from curator.profiles import get_profile

    write_nifti(release / "studies/CT-2/study_0042.nii.gz", ct_volume())
    studies = {s.study_path: s for s in find_studies(release, get_profile("mosmed"))}
    assert len(studies) == 9
    assert studies["studies/CT-1/study_0003.nii.gz"].mask_path == "masks/study_0003_mask.nii.gz"
    extra = studies["studies/CT-2/study_0042.nii.gz"]
    assert extra.study_id == 42 and extra.study_present and extra.mask_path is None


# ----------------------------------------------------------------------------------------------------------
# In a browser


@pytest.fixture(scope="module")
def damaged_review(built_release: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    base = tmp_path_factory.mktemp("browser")
    release = base / "release"
    shutil.copytree(built_release, release, symlinks=True)
    damage(release)
    (release / "studies/CT-1" / f"{HOSTILE}.nii.gz").write_bytes(b"junk")
    return write_review(release, base / "review", jobs=1)


def chromium(tmp_path: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    if not CHROMIUM.exists():
        pytest.skip("headless browser tests need /usr/bin/chromium (apt-get install chromium)")
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.iterdir()))}"
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
               f"--user-data-dir={profile}", *extra, url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.mark.needs_tool("chromium")
def test_browser_loads_the_page_without_errors(damaged_review: Path, tmp_path: Path) -> None:
    page = parse(chromium(tmp_path, damaged_review.as_uri(), "--dump-dom").stdout)
    assert page.attributes["js-errors"].get("hidden") is not None and page.errors == ""
    assert page.rows and len(shown(page.rows)) == len(page.rows)   # no filter: every row shows
    assert len(page.images) == 7


@pytest.mark.needs_tool("chromium")
def test_browser_filters_by_severity_code_and_path(damaged_review: Path, tmp_path: Path) -> None:
    url = damaged_review.as_uri()
    severities = {row["data-severity"] for row in parse(chromium(tmp_path, url, "--dump-dom").stdout).rows}
    assert {"error", "warning"} <= severities

    page = parse(chromium(tmp_path, url + "?severity=error", "--dump-dom").stdout)
    assert page.errors == ""
    visible = shown(page.rows)
    assert visible and {row["data-severity"] for row in visible} == {"error"}
    assert len(visible) == sum(1 for row in page.rows if row["data-severity"] == "error")

    page = parse(chromium(tmp_path, url + "#code=FILE_MISSING&severity=error,warning", "--dump-dom").stdout)
    assert {row["data-code"] for row in shown(page.rows)} == {"FILE_MISSING"}

    page = parse(chromium(tmp_path, url + "?path=study_0003&flagged=1", "--dump-dom").stdout)
    assert shown(page.rows) and all("study_0003" in str(row["data-path"]) for row in shown(page.rows))
    assert {card["id"] for card in page.cards if "hidden" not in card} == {"study-0002", "study-0003"}


@pytest.mark.needs_tool("chromium")
def test_browser_screenshot_renders(damaged_review: Path, tmp_path: Path) -> None:
    shot = tmp_path / "review.png"
    chromium(tmp_path, damaged_review.as_uri(), f"--screenshot={shot}", "--window-size=1280,1600")
    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    assert pixels.shape == (1600, 1280, 3)
    assert pixels.std() > 20                                   # not blank
    red = (pixels[..., 0] > 150) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    assert red.sum() > 100                                     # the INVALID badge, error rows, the flagged cards


# ----------------------------------------------------------------------------------------------------------
# Filters in the address, large reports: pages scripted in the browser

# runs after the page's own script: ``record(label)`` appends the page's state as one JSON line to
# <pre id="test-out">, which --dump-dom shows; ``pick``/``type``/``tick`` change a filter as a reviewer does
_PRELUDE = """
var out = document.createElement("pre");
out.id = "test-out";
document.body.appendChild(out);
function text(id) { return document.getElementById(id).textContent; }
function record(label) {
  var rows = Array.prototype.map.call(document.querySelectorAll("#findings-table tbody tr"), function (tr) {
    return [tr.getAttribute("data-code"), tr.getAttribute("data-severity"), tr.getAttribute("data-path")];
  });
  var more = document.getElementById("more");
  var levels = Array.prototype.filter.call(document.querySelectorAll("input[name=severity]"), function (box) {
    return box.checked;
  }).map(function (box) { return box.value; });
  out.textContent += JSON.stringify({label: label, hash: location.hash, rows: rows, matching: text("matching"),
    paging: document.getElementById("paging").textContent.replace(more.textContent, "").trim(),
    more: more.hidden ? null : more.textContent, code: document.getElementById("f-code").value,
    path: document.getElementById("f-path").value, severities: levels}) + "\\n";
}
function pick(value) {
  var code = document.getElementById("f-code");
  code.value = value;
  code.dispatchEvent(new Event("change"));
}
function type(value) {
  var path = document.getElementById("f-path");
  path.value = value;
  path.dispatchEvent(new Event("input"));
}
function tick(severity) { document.querySelector("input[name=severity][value=" + severity + "]").click(); }
"""


def scripted(index: Path, name: str, script: str, before: str = "") -> Path:
    """A copy of the review page beside it (its thumbnails resolve) that runs ``script`` after the page's own
    script, with ``_PRELUDE``'s helpers; ``before`` runs before the page's script."""
    text = index.read_text(encoding="utf-8")
    if before:
        mark = '<script type="application/json" id="report-data">'
        text = text.replace(mark, f"<script>{before}</script>\n{mark}", 1)
    head, tail = text.rsplit("</body>", 1)
    target = index.with_name(f"{name}.html")
    target.write_text(f"{head}<script>(function () {{{_PRELUDE}\n{script}\n}})();</script></body>{tail}",
                      encoding="utf-8")
    return target


def states(tmp_path: Path, url: str) -> tuple[_Page, dict[str, dict[str, Any]]]:
    """Load a scripted page; its DOM and the states it recorded, by label."""
    page = parse(chromium(tmp_path, url, "--dump-dom").stdout)
    assert page.errors == ""
    return page, {state["label"]: state for state in map(json.loads, page.out.splitlines())}


def rows_of(page: _Page) -> list[list[str | None]]:
    return [[row["data-code"], row["data-severity"], row["data-path"]] for row in page.rows]


@pytest.mark.needs_tool("chromium")
def test_browser_filters_are_written_to_the_hash_and_restored_from_it(damaged_review: Path, tmp_path: Path) -> None:
    findings = json.loads(parse(damaged_review.read_text(encoding="utf-8")).json)["findings"]
    page = parse(chromium(tmp_path, damaged_review.as_uri() + "#severity=warning", "--dump-dom").stdout)
    assert page.errors == "" and rows_of(page) == [[f["code"], f["severity"], f["path"]] for f in findings
                                                   if f["severity"] == "warning"]

    url = scripted(damaged_review, "hash-written", """
        record("loaded");
        pick("FILE_MISSING"); record("code");
        tick("info"); record("severity");
        type(" study_0002 "); record("path");
        document.getElementById("f-flagged").click(); record("flagged");
        pick(""); tick("info"); type(""); document.getElementById("f-flagged").click(); record("cleared");
    """).as_uri()
    _, seen = states(tmp_path, url)
    assert seen["loaded"]["hash"] == "" and len(seen["loaded"]["rows"]) == len(findings)
    assert seen["code"]["hash"] == "#code=FILE_MISSING"
    assert seen["severity"]["hash"] == "#code=FILE_MISSING&severity=error,warning"
    assert seen["path"]["hash"] == "#code=FILE_MISSING&severity=error,warning&path=study_0002"
    assert seen["flagged"]["hash"] == "#code=FILE_MISSING&severity=error,warning&path=study_0002&flagged=1"
    assert seen["cleared"]["hash"] == ""                        # filters back at their defaults leave the hash
    assert seen["cleared"]["rows"] == seen["loaded"]["rows"]
    assert seen["path"]["rows"] == [[f["code"], f["severity"], f["path"]] for f in findings
                                    if f["code"] == "FILE_MISSING" and "study_0002" in f["path"]] != []

    # the written address, opened again, is the same view
    again = parse(chromium(tmp_path, damaged_review.as_uri() + str(seen["flagged"]["hash"]), "--dump-dom").stdout)
    assert rows_of(again) == seen["flagged"]["rows"]
    assert {card["id"] for card in again.cards if "hidden" not in card} == {"study-0002", "study-0003"}

    # a filter the query sets stays in the hash when put back to its default: the hash must override it
    url = scripted(damaged_review, "hash-over-query", 'record("loaded"); tick("warning"); tick("info"); '
                   'record("all");').as_uri()
    _, seen = states(tmp_path, url + "?severity=error")
    assert {row[1] for row in seen["loaded"]["rows"]} == {"error"}
    assert seen["all"]["hash"] == "#severity=error,warning,info" and len(seen["all"]["rows"]) == len(findings)
    plain = damaged_review.as_uri() + "?severity=error" + str(seen["all"]["hash"])
    again = parse(chromium(tmp_path, plain, "--dump-dom").stdout)
    assert len(again.rows) == len(findings)


@pytest.mark.needs_tool("chromium")
def test_browser_a_refused_address_change_breaks_nothing(damaged_review: Path, tmp_path: Path) -> None:
    refuse = 'history.replaceState = function () { throw new DOMException("refused", "SecurityError"); };'
    url = scripted(damaged_review, "refused", 'pick("FILE_JUNK"); record("code");', before=refuse).as_uri()
    _, seen = states(tmp_path, url)
    assert seen["code"]["hash"] == "" and seen["code"]["rows"] == [["FILE_JUNK", "warning", ".DS_Store"]]


@pytest.mark.needs_tool("chromium")
def test_browser_hostile_addresses_are_harmless(damaged_review: Path, tmp_path: Path) -> None:
    hostile = "#code=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E&path=%E0%A4%A%3Cb%3E&severity=bogus&flagged=%00"
    url = scripted(damaged_review, "hostile-address", 'record("loaded");').as_uri()
    page, seen = states(tmp_path, url + hostile)
    assert page.rows == [] and len(page.images) == 7             # the thumbnails only: nothing injected
    loaded = seen["loaded"]
    assert loaded["code"] == "" and loaded["severities"] == [] and loaded["path"] == "\ufffd%A<b>"
    assert loaded["paging"] == "showing 0 of 0 matching findings" and loaded["more"] is None


@pytest.mark.needs_tool("chromium")
def test_browser_rows_drawn_by_the_script_are_the_pages_own(damaged_review: Path, tmp_path: Path) -> None:
    """The script redraws the table from the JSON: the same rows, links and titles as the HTML it replaces."""

    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[list[tuple[str, ...]]] = []
            self._cell: list[str] | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            data = {k: v or "" for k, v in attrs}
            if tag == "tr" and "data-code" in data:
                self.rows.append([tuple(f"{k}={v}" for k, v in sorted(data.items()))])
            elif tag == "td" and self.rows and self._cell is None:
                self._cell = [data.get("class", ""), data.get("title", ""), ""]
            elif tag == "a" and self._cell is not None:
                self._cell.append(data.get("href", ""))

        def handle_endtag(self, tag: str) -> None:
            if tag == "td" and self._cell is not None:
                self.rows[-1].append(tuple(self._cell))
                self._cell = None

        def handle_data(self, data: str) -> None:
            if self._cell is not None:
                self._cell[2] += data

    def cells(text: str) -> list[list[tuple[str, ...]]]:
        parser = Cells()
        parser.feed(text)
        return parser.rows

    static = cells(damaged_review.read_text(encoding="utf-8"))
    drawn = cells(chromium(tmp_path, damaged_review.as_uri(), "--dump-dom").stdout)
    assert static and drawn == static
    assert any(("link", "", "view", "#study-0003") in row for row in drawn)
    assert any(cell[0] == "code" and cell[1] for row in drawn for cell in row[1:])   # the rule's title


def synthetic_report(count: int, late: int = 10) -> Report:
    """``count`` findings: seven codes over three severities, then ``late`` of a code found nowhere before,
    about paths that look like object properties or markup."""
    severities = list(Severity)
    findings = [Finding.model_construct(code=f"CODE_{i % 7}", severity=severities[i % 3], study_id=i,
                                        path=f"studies/CT-{i % 5}/study_{i:05d}.nii.gz", message=f"finding {i}",
                                        context={})
                for i in range(count - late)]
    odd = ["constructor", "__proto__", HOSTILE, "toString"]
    findings += [Finding(code="LATE_CODE", severity=Severity.warning, path=f"late/{i}" if i >= len(odd) else odd[i],
                         message=f"late {i} {HOSTILE}") for i in range(late)]
    counts = Counts(**{s.value: sum(1 for f in findings if f.severity is s) for s in Severity})
    return Report(version="test", root="/data/release", profile=None, valid=False, counts=counts, stats=Stats(),
                  findings=findings)


@pytest.mark.needs_tool("chromium")
def test_a_large_report_is_drawn_a_page_at_a_time(tmp_path: Path) -> None:
    report = synthetic_report(20_000)
    text = review_html(report, [], title="curator review: large")
    index = tmp_path / "review" / "index.html"
    index.parent.mkdir()
    index.write_text(text, encoding="utf-8")
    static = parse(text)
    assert len(static.rows) == PAGE
    # the page is the embedded report plus about one page of rows, not 20,000 rows
    assert len(text.encode()) - len(static.json) < 250_000
    assert "the first 500 of 20,000 findings" in text
    # the counts beside the filters count every finding, not the drawn ones
    errors = sum(1 for f in report.findings if f.severity is Severity.error)
    code_0 = sum(1 for f in report.findings if f.code == "CODE_0")
    assert f"error ({errors:,})" in text and "LATE_CODE (10)" in text and f"CODE_0 ({code_0:,})" in text

    late = parse(chromium(tmp_path, index.as_uri() + "#code=LATE_CODE", "--dump-dom").stdout)
    assert late.errors == "" and len(late.rows) == 10 and {row["data-code"] for row in late.rows} == {"LATE_CODE"}
    assert [row["data-path"] for row in late.rows[:3]] == ["constructor", "__proto__", HOSTILE]
    assert late.images == []                                    # the hostile path stayed text

    url = scripted(index, "paging", """
        record("loaded");
        document.getElementById("more").click(); record("more");
        tick("warning"); tick("info"); record("errors");
        tick("warning"); type("late/"); record("late path");
        type(""); pick("LATE_CODE"); record("late code");
    """).as_uri()
    _, seen = states(tmp_path, url)
    first = seen["loaded"]
    assert len(first["rows"]) == PAGE and first["rows"] == rows_of(static)
    assert first["paging"] == "showing 500 of 20,000 matching findings" and first["more"] == "show 500 more"
    assert first["matching"] == "20,000 of 20,000 match"
    assert len(seen["more"]["rows"]) == 2 * PAGE and seen["more"]["rows"][:PAGE] == first["rows"]
    assert seen["more"]["paging"] == "showing 1,000 of 20,000 matching findings"
    # a filter runs over every finding; the table starts again at one page
    assert seen["errors"]["matching"] == f"{errors:,} of 20,000 match" and len(seen["errors"]["rows"]) == PAGE
    assert {row[1] for row in seen["errors"]["rows"]} == {"error"}
    assert seen["late path"]["rows"] == [["LATE_CODE", "warning", f"late/{i}"] for i in range(4, 10)]
    assert len(seen["late code"]["rows"]) == 10 and seen["late code"]["more"] is None
    assert seen["late code"]["paging"] == "showing 10 of 10 matching findings"
    assert seen["late code"]["hash"] == "#code=LATE_CODE&severity=error,warning"
    print(f"large report: {len(text.encode()):,} bytes of HTML ({len(static.json):,} of them the JSON report), "
          f"{len(static.rows)} rows in the HTML, {len(first['rows'])} rows in the DOM, "
          f"{len(seen['more']['rows'])} after 'show more'")
