"""Release metadata, verify kit and BagIt bag, each checked by the tool its users run.

frictionless, mlcroissant and bagit.py come with the ``test`` extra; xxhsum and shasum are used when the
machine has them (the tagged format is parsed either way). No test needs the network.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import stat
from pathlib import Path

import pytest
import xxhash

from curator.io.card import load_card
from curator.io.manifest import parse_manifest
from curator.models.card import DatasetCard
from curator.release.bagit import write_bag
from curator.release.manifests import release_files
from curator.release.metadata import METADATA_FILES, croissant, datacite, write_metadata, zenodo
from curator.release.verifykit import write_verify_kit
from curator.validate import ValidateOptions, validate
from tests.factories import card_data, flip_byte
from tests.release_extras import copy_release, finish_release, registry_rows, run, tool

STUDY = "studies/CT-1/study_0003.nii.gz"


@pytest.fixture(scope="module")
def full_release(built_release: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built release with the verify kit, metadata and manifests written as the builder writes them."""
    return finish_release(copy_release(built_release, tmp_path_factory.mktemp("full") / "release"))


@pytest.fixture
def damaged(full_release: Path, tmp_path: Path) -> Path:
    return copy_release(full_release, tmp_path / "release")


def _sha256sums(release: Path) -> dict[str, str]:
    return {e.path: e.digest for e in parse_manifest(release / "SHA256SUMS").entries}


def _json(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return data


# ------------------------------------------------------------------------------------------ the release


def test_release_with_all_outputs_still_validates(full_release: Path) -> None:
    report = validate(full_release, ValidateOptions(jobs=1))
    assert report.valid, [(f.code, f.path) for f in report.findings]
    assert not [f for f in report.findings if f.path in {"verify.sh", "verify.ps1", *METADATA_FILES}]


def test_manifests_list_kit_and_metadata_but_not_themselves(full_release: Path) -> None:
    listed = set(_sha256sums(full_release))
    assert {"verify.sh", "verify.ps1", *METADATA_FILES} <= listed
    assert not listed & {"SHA256SUMS", "MD5SUMS", "XXH128SUMS"}
    assert set(release_files(full_release)) == listed
    assert run("sha256sum", "-c", "--strict", "SHA256SUMS", cwd=full_release).returncode == 0
    assert run("md5sum", "-c", "--strict", "MD5SUMS", cwd=full_release).returncode == 0


def test_metadata_is_deterministic(full_release: Path, tmp_path: Path) -> None:
    again = copy_release(full_release, tmp_path / "again")
    for name in METADATA_FILES:
        (again / name).unlink()
    card = load_card(again / "dataset.yaml")
    files = [f for f in release_files(again) if f not in METADATA_FILES]
    assert write_metadata(again, card, registry_rows(again), files, jobs=2) == sorted(METADATA_FILES)
    for name in METADATA_FILES:
        assert (again / name).read_bytes() == (full_release / name).read_bytes(), name
        text = (again / name).read_text(encoding="utf-8")
        assert text.endswith("}\n") and "\r" not in text
        dates = set(re.findall(r"\d{4}-\d{2}-\d{2}", text))
        assert dates <= {card.release_date.isoformat()}, (name, dates)


# ------------------------------------------------------------------------------------ datapackage.json


def test_frictionless_validates_the_data_package(full_release: Path) -> None:
    result = run(tool("frictionless"), "validate", "--json", "datapackage.json", cwd=full_release)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["valid"] is True
    tasks = {task["place"]: task for task in report["tasks"]}
    registry = tasks["dataset_registry.csv"]
    assert registry["type"] == "table"
    assert registry["labels"] == ["study_id", "category", "study_file", "mask_file"]   # the BOM is not a label
    assert registry["stats"]["rows"] == len(registry_rows(full_release))
    assert set(tasks) == set(_sha256sums(full_release)) - set(METADATA_FILES)


def test_frictionless_fails_after_a_study_changes(damaged: Path) -> None:
    """Another valid volume in a study's place fails its hash; a corrupted gzip stream fails too (frictionless
    decompresses .gz resources while it hashes them, and stops at the broken stream)."""
    shutil.copyfile(damaged / "studies/CT-1/study_0004.nii.gz", damaged / STUDY)
    result = run(tool("frictionless"), "validate", "--json", "datapackage.json", cwd=damaged)
    assert result.returncode != 0
    report = json.loads(result.stdout)
    failed = {task["place"]: {e["type"] for e in task["errors"]} for task in report["tasks"] if not task["valid"]}
    assert failed == {STUDY: {"hash-count"}}
    flip_byte(damaged / STUDY, 40)
    assert run(tool("frictionless"), "validate", "datapackage.json", cwd=damaged).returncode != 0


def test_frictionless_enforces_the_registry_schema(damaged: Path) -> None:
    """A registry with a repeated id, an unknown category and a bad mask path fails the Table Schema (with the
    metadata rewritten for the new bytes, so only the schema can object)."""
    csv_path = damaged / "dataset_registry.csv"
    lines = csv_path.read_bytes().decode("utf-8-sig").split("\r\n")
    lines[2] = lines[1]                                                  # study_id 1 twice
    lines[3] = lines[3].replace("CT-1", "CT-9", 1)                       # the category column comes first
    lines[5] = lines[5] + "/masks/wrong.nii.gz"                          # study 5 has no mask: an empty cell
    csv_path.write_bytes(("\ufeff" + "\r\n".join(lines)).encode("utf-8"))
    card = load_card(damaged / "dataset.yaml")
    write_metadata(damaged, card, [], [f for f in release_files(damaged) if f not in METADATA_FILES], jobs=1)
    result = run(tool("frictionless"), "validate", "--json", "datapackage.json", cwd=damaged)
    assert result.returncode != 0
    report = json.loads(result.stdout)
    errors = [e for task in report["tasks"] for e in task["errors"]]
    kinds = {(e["type"], e.get("fieldName")) for e in errors}
    assert ("primary-key", None) in kinds or ("unique-error", "study_id") in kinds, kinds
    assert ("constraint-error", "category") in kinds
    assert ("constraint-error", "mask_file") in kinds


def test_data_package_describes_every_file(full_release: Path) -> None:
    package = _json(full_release / "datapackage.json")
    card = load_card(full_release / "dataset.yaml")
    sums = _sha256sums(full_release)
    assert package["$schema"] == "https://datapackage.org/profiles/2.0/datapackage.json"
    assert package["version"] == card.version and package["created"] == "2026-01-15T00:00:00Z"
    assert package["licenses"] == [{"name": "CC-BY-NC-ND-3.0", "path": "https://creativecommons.org/licenses/by-nc-nd/3.0/",
                                    "title": "Creative Commons Attribution-NonCommercial-NoDerivs 3.0 Unported"}]
    assert "Non-commercial use only" in str(package["description"])
    resources = package["resources"]
    assert isinstance(resources, list)
    for resource in resources:
        path = resource["path"]
        assert resource["hash"] == f"sha256:{sums[path]}"
        assert resource["bytes"] == (full_release / path).stat().st_size
    registry = next(r for r in resources if r["path"] == "dataset_registry.csv")
    workbook = next(r for r in resources if r["path"] == "dataset_registry.xlsx")
    # the workbook carries the schema too: guessed from a sample, an empty mask column would not be a string
    assert workbook["type"] == "table" and workbook["schema"] == registry["schema"]
    fields = {f["name"]: f for f in registry["schema"]["fields"]}
    assert registry["schema"]["primaryKey"] == ["study_id"]
    assert fields["study_id"]["type"] == "integer" and fields["study_id"]["constraints"]["unique"] is True
    assert fields["category"]["constraints"]["enum"] == [c.id for c in card.categories]
    assert re.fullmatch(fields["mask_file"]["constraints"]["pattern"], "/masks/study_0003_mask.nii.gz")
    assert re.fullmatch(fields["study_file"]["constraints"]["pattern"], "/" + STUDY)
    assert not re.fullmatch(fields["study_file"]["constraints"]["pattern"], "/studies/CT-9/study_0003.nii.gz")


# --------------------------------------------------------------------------------------- croissant.json


def test_mlcroissant_validates_without_warnings(full_release: Path) -> None:
    result = run(tool("mlcroissant"), "validate", "--jsonld", "croissant.json", cwd=full_release)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not [line for line in result.stderr.splitlines() if re.match(r"^[WE]\d{4} ", line)], result.stderr


def test_mlcroissant_loads_the_registry_and_checks_its_hash(damaged: Path) -> None:
    load = (tool("mlcroissant"), "load", "--jsonld", "croissant.json", "--record_set", "registry",
            "--num_records", "100")
    result = run(*load, cwd=damaged)
    assert result.returncode == 0, result.stderr[-3000:]
    records = [ast.literal_eval(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["registry/study_id"] for r in records] == [row.study_id for row in registry_rows(damaged)]
    csv_path = damaged / "dataset_registry.csv"
    csv_path.write_bytes(csv_path.read_bytes().replace(b"CT-4", b"CT-3"))
    result = run(*load, cwd=damaged)
    assert result.returncode != 0
    assert "hash" in (result.stdout + result.stderr).lower()


def test_mlcroissant_rejects_a_file_without_checksum(damaged: Path) -> None:
    data = _json(damaged / "croissant.json")
    distribution = data["distribution"]
    assert isinstance(distribution, list)
    del distribution[0]["sha256"]
    (damaged / "croissant.json").write_text(json.dumps(data), encoding="utf-8")
    result = run(tool("mlcroissant"), "validate", "--jsonld", "croissant.json", cwd=damaged)
    assert result.returncode != 0


def test_croissant_content(full_release: Path) -> None:
    data = _json(full_release / "croissant.json")
    sums = _sha256sums(full_release)
    assert data["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    assert data["license"] == "https://creativecommons.org/licenses/by-nc-nd/3.0/"
    assert data["datePublished"] == "2026-01-15" and data["version"] == "1.0.0"
    assert data["url"] == "https://example.org/test"
    assert data["name"] == {"en": "Test chest CT", "ru": "Тестовые КТ грудной клетки"}
    assert "Non-commercial use only" in " ".join(data["rai:dataLimitations"])   # type: ignore[arg-type]
    assert "anonymised" in str(data["rai:personalSensitiveInformation"])
    distribution = data["distribution"]
    assert isinstance(distribution, list)
    objects = {d["contentUrl"]: d for d in distribution if d["@type"] == "cr:FileObject"}
    assert {path: d["sha256"] for path, d in objects.items()} == {
        p: h for p, h in sums.items() if p not in METADATA_FILES}
    sets = {d["@id"]: d["includes"] for d in distribution if d["@type"] == "cr:FileSet"}
    assert sorted(p.relative_to(full_release).as_posix() for p in full_release.glob(sets["studies"])) == sorted(
        p for p in sums if p.startswith("studies/"))
    assert sorted(p.relative_to(full_release).as_posix() for p in full_release.glob(sets["masks"])) == sorted(
        p for p in sums if p.startswith("masks/"))
    registry = next(r for r in data["recordSet"] if r["@id"] == "registry")    # type: ignore[attr-defined]
    assert [f["source"]["extract"]["column"] for f in registry["field"]] == [
        "study_id", "category", "study_file", "mask_file"]


# ----------------------------------------------------------------------------------- DataCite, Zenodo


def _rich_card() -> DatasetCard:
    return DatasetCard.model_validate(card_data(
        licence="CC-BY-4.0",
        contributors=[{"name": {"en": "Doe, Jane", "ru": "Доу, Джейн"}, "affiliations": [1],
                       "orcid": "0000-0002-1825-0097"}],
        affiliations=[{"id": 1, "name": {"en": "Test Centre & Co", "ru": "Тестовый центр"},
                       "ror": "https://ror.org/05dxps055"}],
        description={"en": "Studies <with> \"markup\" & more.", "ru": "Исследования."}))


def test_datacite_attributes() -> None:
    card = _rich_card()
    data = datacite(card, [], [], {})
    assert data["types"]["resourceTypeGeneral"] == "Dataset"
    assert data["titles"][0] == {"title": "Test chest CT", "lang": "en"}
    assert data["titles"][1]["titleType"] == "TranslatedTitle" and data["titles"][1]["lang"] == "ru"
    creator = data["creators"][0]
    assert creator["name"] == "Doe, Jane" and creator["givenName"] == "Jane" and creator["familyName"] == "Doe"
    assert creator["nameIdentifiers"] == [{"nameIdentifier": "https://orcid.org/0000-0002-1825-0097",
                                           "nameIdentifierScheme": "ORCID", "schemeUri": "https://orcid.org"}]
    assert creator["affiliation"][0]["affiliationIdentifier"] == "https://ror.org/05dxps055"
    assert data["rightsList"][0]["rightsIdentifier"] == "CC-BY-4.0"
    assert data["rightsList"][0]["rightsIdentifierScheme"] == "SPDX"
    assert data["publicationYear"] == "2026" and data["version"] == "1.0.0"
    assert {"subject": "КТ", "lang": "ru"} in data["subjects"]
    assert data["url"] == card.permanent_link


def test_zenodo_metadata() -> None:
    data = zenodo(_rich_card(), [])
    assert data["upload_type"] == "dataset" and data["access_right"] == "open"
    assert data["license"] == "cc-by-4.0" and data["publication_date"] == "2026-01-15"
    assert data["creators"] == [{"name": "Doe, Jane", "affiliation": "Test Centre & Co",
                                 "orcid": "0000-0002-1825-0097"}]
    assert "Studies &lt;with&gt; &quot;markup&quot; &amp; more." in data["description"]
    assert "Non-commercial" not in data["description"]          # CC BY 4.0 allows commercial use
    nc = zenodo(DatasetCard.model_validate(card_data()), [])
    assert "Non-commercial use only" in nc["description"]


def test_croissant_of_a_card_with_orcid_validates(tmp_path: Path) -> None:
    data = croissant(_rich_card(), [], ["LICENSE"], {"LICENSE": {"sha256": "0" * 64, "bytes": "1"}})
    creator = data["creator"][0]
    assert creator["identifier"] == "https://orcid.org/0000-0002-1825-0097"
    assert creator["affiliation"][0]["identifier"] == "https://ror.org/05dxps055"
    (tmp_path / "croissant.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = run(tool("mlcroissant"), "validate", "--jsonld", "croissant.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]


# ---------------------------------------------------------------------------------------- verify kit


def test_verify_sh_passes_from_any_folder(full_release: Path, tmp_path: Path) -> None:
    assert (full_release / "verify.sh").stat().st_mode & stat.S_IXUSR
    result = run("bash", str(full_release / "verify.sh"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: all" in result.stdout
    assert run("sh", "verify.sh", cwd=full_release).returncode == 0


def test_verify_sh_fails_on_damage(damaged: Path, tmp_path: Path) -> None:
    flip_byte(damaged / STUDY)
    result = run("bash", str(damaged / "verify.sh"), cwd=tmp_path)
    assert result.returncode == 1
    assert STUDY in result.stdout + result.stderr and "FAILED" in result.stderr
    (damaged / "LICENSE").unlink()
    assert run("bash", "verify.sh", cwd=damaged).returncode == 1
    (damaged / "SHA256SUMS").unlink()
    result = run("bash", "verify.sh", cwd=damaged)
    assert result.returncode == 2 and "SHA256SUMS is missing" in result.stderr


@pytest.mark.skipif(shutil.which("shasum") is None, reason="shasum (Perl) is not installed")
def test_verify_sh_falls_back_to_shasum(damaged: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("shasum", "dirname", "grep", "perl"):
        found = shutil.which(name)
        if found:
            (bin_dir / name).symlink_to(found)
    env = {**os.environ, "PATH": str(bin_dir)}
    sh = shutil.which("sh") or "/bin/sh"
    result = run(sh, "verify.sh", cwd=damaged, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "with shasum" in result.stdout
    flip_byte(damaged / STUDY)
    assert run(sh, "verify.sh", cwd=damaged, env=env).returncode == 1


def test_verify_ps1(full_release: Path) -> None:
    script = (full_release / "verify.ps1").read_text(encoding="ascii")
    assert "Get-FileHash -LiteralPath $path -Algorithm SHA256" in script and "exit 1" in script
    pwsh = shutil.which("pwsh")
    if pwsh is None:
        pytest.skip("PowerShell (pwsh) is not installed; the script was checked as text only")
    assert run(pwsh, "-NoProfile", "-File", str(full_release / "verify.ps1")).returncode == 0


def test_verify_kit_is_fixed_text(tmp_path: Path, full_release: Path) -> None:
    assert write_verify_kit(tmp_path) == ["verify.ps1", "verify.sh"]
    for name in ("verify.sh", "verify.ps1"):
        data = (tmp_path / name).read_bytes()
        assert data == (full_release / name).read_bytes()
        assert data.isascii() and b"\r" not in data


def test_xxh128sums(full_release: Path) -> None:
    lines = (full_release / "XXH128SUMS").read_text(encoding="utf-8").splitlines()
    parsed = [re.fullmatch(r"XXH128 \((.+)\) = ([0-9a-f]{32})", line) for line in lines]
    assert all(parsed), lines
    digests = {m.group(1): m.group(2) for m in parsed if m}
    assert list(digests) == sorted(digests) == sorted(_sha256sums(full_release))
    for rel, digest in digests.items():
        assert xxhash.xxh3_128_hexdigest((full_release / rel).read_bytes()) == digest


@pytest.mark.needs_tool("xxhsum")
def test_xxhsum_checks_the_xxh128sums(full_release: Path) -> None:
    if shutil.which("xxhsum") is None:
        pytest.skip("xxhsum is not installed (Debian package xxhash)")
    result = run("xxhsum", "-c", "XXH128SUMS", cwd=full_release)
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------------------------------------- bag


def test_bag_validates_and_is_deterministic(full_release: Path, tmp_path: Path) -> None:
    write_bag(full_release, tmp_path / "bag")
    write_bag(full_release, tmp_path / "linked", link=True)
    result = run(tool("bagit.py"), "--validate", str(tmp_path / "bag"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert run(tool("bagit.py"), "--validate", str(tmp_path / "linked")).returncode == 0
    first = sorted(p.relative_to(tmp_path / "bag") for p in (tmp_path / "bag").rglob("*"))
    assert first == sorted(p.relative_to(tmp_path / "linked") for p in (tmp_path / "linked").rglob("*"))
    for rel in first:
        if (tmp_path / "bag" / rel).is_file():
            assert (tmp_path / "bag" / rel).read_bytes() == (tmp_path / "linked" / rel).read_bytes(), rel
    info = (tmp_path / "bag" / "bag-info.txt").read_text(encoding="utf-8")
    assert "Bagging-Date: 2026-01-15\n" in info
    files = [*release_files(full_release), "MD5SUMS", "SHA256SUMS", "XXH128SUMS"]
    size = sum((full_release / f).stat().st_size for f in files)
    assert f"Payload-Oxum: {size}.{len(files)}\n" in info
    manifest = (tmp_path / "bag" / "manifest-sha256.txt").read_text(encoding="utf-8")
    release_lines = (full_release / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    assert {line.replace("  ", "  data/", 1) for line in release_lines} <= set(manifest.splitlines())


def test_bag_detects_damage(full_release: Path, tmp_path: Path) -> None:
    write_bag(full_release, tmp_path / "bag")
    flip_byte(tmp_path / "bag" / "data" / STUDY)
    assert run(tool("bagit.py"), "--validate", str(tmp_path / "bag")).returncode != 0


def test_bag_refuses_a_folder_that_is_not_empty(full_release: Path, tmp_path: Path) -> None:
    from curator.errors import BuildError

    (tmp_path / "bag").mkdir()
    (tmp_path / "bag" / "x").write_text("x", encoding="utf-8")
    with pytest.raises(BuildError, match="not empty"):
        write_bag(full_release, tmp_path / "bag")
    with pytest.raises(BuildError, match="contain each other"):
        write_bag(full_release, full_release / "bag")
