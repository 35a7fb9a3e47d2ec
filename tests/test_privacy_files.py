"""Privacy audit of non-DICOM files (NIfTI text and extensions, gzip headers, PNG/JPEG metadata, document
properties, names, tables, the secret identifier list) and ``curator anonymise --nifti``."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import struct
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from isal import igzip
from PIL import Image

from curator.anonymise.nifti import (
    NiftiAnonymiseError,
    anonymise_nifti,
    anonymise_nifti_tree,
    scrub_nifti_header,
)
from curator.io.identifiers import IdentifierList, IdentifierListError, mask
from curator.io.privacy_files import read_nifti_metadata
from curator.models.findings import Report, Severity
from curator.validate import OptionsError, ValidateOptions, validate
from tests.factories import card_data, ct_volume
from tests.privacy_files_factories import (
    dicom_payload,
    jpeg_with_comment,
    minimal_pdf,
    planted_nifti,
    png_with_chunks,
    write_gz,
    xlsx_with_creator,
)
from tests.reports import validate_output

PRIVACY_FILES = {"PHI_NIFTI_TEXT", "PHI_NIFTI_EXTENSION", "PHI_GZIP_HEADER", "PHI_IMAGE_METADATA",
                 "PHI_DOCUMENT_METADATA", "PHI_IDENTIFIER_FOUND", "PHI_FILE_NAME", "PHI_TABLE_VALUE",
                 "PHI_AUDIT_INCOMPLETE"}
STUDY = "studies/CT-1/study_0003.nii.gz"


def phi(report: Report) -> list[list[object]]:
    return sorted([f.code, f.path, f.severity.value] for f in report.findings if f.code in PRIVACY_FILES)


def audit(root: Path, identifiers: Path | None = None, profile: str = "mosmed") -> Report:
    return validate(root, ValidateOptions(profile=profile, checksums=False, jobs=2, identifiers=identifiers))


def voxels_and_affine(path: Path) -> tuple[bytes, np.ndarray, str]:
    image = nib.load(path)
    return np.asarray(image.dataobj).tobytes(), image.affine, str(image.get_data_dtype())


@pytest.fixture
def planted(release: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The built release with every kind of planted identifier, and the secret list (Latin spelling)."""
    data = np.asarray(nib.load(release / STUDY).dataobj)
    write_gz(release / STUDY, planted_nifti(data, descrip="Ivanov Ivan", aux_file="2020-04-28",
                                            extensions=((2, dicom_payload(PatientName="Ivanov^Ivan",
                                                                          PatientBirthDate="19560314")),)))
    mask_file = release / "masks/study_0003_mask.nii.gz"
    write_gz(mask_file, gzip.decompress(mask_file.read_bytes()), name="ivanov_ivan_20200428.nii", mtime=1588116141)
    png_with_chunks(release / "figures/overview.png", {"Comment": "scan of Petrov P."})
    jpeg_with_comment(release / "figures/photo.jpg", "exported by workstation 7")
    xlsx_with_creator(release / "dataset_registry.xlsx", "Nikolay Pavlov", "Michael Fry")
    write_gz(release / "Ivanov_scan.nii.gz", planted_nifti(np.zeros((2, 2, 2), np.int16)))
    (release / "patients.csv").write_text("case,birth_date,weight\n1,1956-03-14,70\n2,1961-11-02,80\n",
                                          encoding="utf-8")
    readme = release / "README_RU.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nБлагодарим пациента Иванов Иван.\n",
                      encoding="utf-8")
    identifiers = tmp_path / "ids.txt"
    identifiers.write_text("# the secret list\nIvanov Ivan\n1234567\n", encoding="utf-8")
    return release, identifiers


# --- the audit ---------------------------------------------------------------------------------------------

def test_a_clean_built_release_has_no_privacy_finding(built_release: Path, tmp_path: Path) -> None:
    identifiers = tmp_path / "ids.txt"
    identifiers.write_text("Ivanov Ivan\n", encoding="utf-8")
    report = audit(built_release, identifiers)
    assert phi(report) == []
    assert not [f for f in report.findings if "privacy" in f.code.lower() or f.code.startswith("PHI_")]


def test_every_planted_item_is_found_with_its_code_path_and_masked_value(planted: tuple[Path, Path]) -> None:
    release, identifiers = planted
    report = audit(release, identifiers)
    rows = phi(report)
    expected = [
        ["PHI_NIFTI_TEXT", STUDY, "error"],                                     # a name in descrip
        ["PHI_NIFTI_TEXT", STUDY, "error"],                                     # a date in aux_file
        ["PHI_NIFTI_EXTENSION", STUDY, "error"],                                # DICOM extension
        ["PHI_GZIP_HEADER", "masks/study_0003_mask.nii.gz", "error"],           # FNAME with name and date
        ["PHI_IMAGE_METADATA", "figures/overview.png", "error"],                # tEXt with a name + tIME
        ["PHI_IMAGE_METADATA", "figures/photo.jpg", "warning"],                 # JPEG COM
        ["PHI_DOCUMENT_METADATA", "dataset_registry.xlsx", "info"],             # creator, lastModifiedBy
        ["PHI_FILE_NAME", "Ivanov_scan.nii.gz", "warning"],                     # a surname in a file name
        ["PHI_TABLE_VALUE", "patients.csv", "warning"],                         # birth dates
    ]
    for row in expected:
        assert row in rows, (row, rows)
    found = {(f.path, place) for f in report.findings if f.code == "PHI_IDENTIFIER_FOUND"
             for place in f.context["places"]}
    assert (STUDY, "descrip") in found
    assert (STUDY, "NIfTI extension 2") in found
    assert ("masks/study_0003_mask.nii.gz", "gzip FNAME") in found
    assert ("Ivanov_scan.nii.gz", "file name") not in found   # a surname alone is not the listed full name
    readme_hit = [f for f in report.findings if f.code == "PHI_IDENTIFIER_FOUND" and f.path == "README_RU.md"]
    assert len(readme_hit) == 1
    hit = readme_hit[0]
    assert hit.severity is Severity.error and hit.context["where"].startswith("line ")
    assert hit.context["entry"] == "#1 Iv*** Iv***" and hit.context["found_as"] == ["Ив*** Ив***"]

    by_code = {(f.code, f.path, f.context.get("where")): f for f in report.findings}
    text = by_code[("PHI_NIFTI_TEXT", STUDY, "descrip")]
    assert text.context["looks_like"] == ["name"] and text.context["masked"] == "Iv*** Iv***"
    assert by_code[("PHI_NIFTI_TEXT", STUDY, "aux_file")].context["looks_like"] == ["date"]
    extension = next(f for f in report.findings if f.code == "PHI_NIFTI_EXTENSION")
    assert extension.context["codes"] == "2 (DICOM: PatientName, PatientBirthDate)"
    gz = next(f for f in report.findings if f.code == "PHI_GZIP_HEADER")
    assert gz.context["fname"] == "iv*** iv*** 20*** n***" and set(gz.context["looks_like"]) == {"date", "name"}
    assert gz.context["mtime"] == "2020-04-28"
    png = next(f for f in report.findings if f.code == "PHI_IMAGE_METADATA" and f.path == "figures/overview.png")
    assert png.context["where"] == "tIME, tEXt Comment"
    document = next(f for f in report.findings if f.code == "PHI_DOCUMENT_METADATA")
    assert document.context["values"] == {"creator": "Ni*** Pa***", "lastModifiedBy": "Mi*** F***"}
    table = next(f for f in report.findings if f.code == "PHI_TABLE_VALUE")
    assert (table.context["field"], table.context["count"], table.context["first_line"]) == ("birth_date", 2, 2)
    # nothing identifying is printed in full, in any message or context
    dump = json.dumps([f.model_dump(mode="json") for f in report.findings if f.code in PRIVACY_FILES
                       and f.code != "PHI_FILE_NAME"], ensure_ascii=False)
    for secret in ("Ivanov", "Иванов", "Pavlov", "Michael", "1956-03-14", "20200428", "Petrov"):
        assert secret not in dump, secret


def test_cli_report_never_prints_a_listed_identifier(release: Path, tmp_path: Path) -> None:
    readme = release / "README_EN.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nWith thanks to Иванов Иван Иванович.\n",
                      encoding="utf-8")
    identifiers = tmp_path / "ids.txt"
    identifiers.write_text("Ivanov Ivan Ivanovich\n", encoding="utf-8")
    output = validate_output(release, "--identifiers", str(identifiers), "--format", "json", "--no-config",
                             exit_code=1)
    hits = [f for f in json.loads(output)["findings"] if f["code"] == "PHI_IDENTIFIER_FOUND"]
    assert [h["path"] for h in hits] == ["README_EN.md"]
    assert "Ivanov" not in output and "Иванов" not in output and "Ivan " not in output


def test_identifier_matching_transliterates_reorders_and_masks() -> None:
    names = IdentifierList.from_lines(["Ivanov Ivan Ivanovich", "# comment", "", "ACC-0012345", "Щукин Юрий"])

    def labels(text: str) -> list[str]:
        return [m.identifier.label for m in names.search(text)]

    assert labels("Иванов Иван Иванович") == ["#1 Iv*** Iv*** Iv***"]
    assert labels("IVANOV^IVAN") == ["#1 Iv*** Iv*** Iv***"]          # two full words of three
    assert labels("Ivanov I. I.") == ["#1 Iv*** Iv*** Iv***"]          # initials
    assert labels("Ivan Ivanovich Ivanov") == ["#1 Iv*** Iv*** Iv***"]
    assert labels("IvanovIvan.nii.gz") == ["#1 Iv*** Iv*** Iv***"]
    assert labels("Iwanow Iwan") == ["#1 Iv*** Iv*** Iv***"]            # German romanisation
    assert labels("Ivanov") == [] and labels("Ivanova Ivanna") == []
    assert labels("report acc-0012345.pdf") == ["#2 A*** 00***"]
    assert labels("acc-00123456") == []                                 # a longer number is another ID
    assert labels("Shchukin Yurii") == labels("Schukin Iurii") == labels("Yuriy Shukin") == ["#3 Щу*** Юр***"]
    long_text = "filler 123 lorem\n" * 500 + "Yuri Shchukin\n" + "filler\n" * 500
    [match] = names.search(long_text)
    assert long_text[match.start : match.end] == "Yuri Shchukin"
    assert mask("Иванов Иван") == "Ив*** Ив***" and mask("1234567") == "12***"
    with pytest.raises(IdentifierListError, match="fewer than 3"):
        IdentifierList.from_lines(["Li"])
    with pytest.raises(IdentifierListError, match="no entries"):
        IdentifierList.from_lines(["# only a comment"])


def test_an_unusable_identifier_list_is_an_options_error(built_release: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(OptionsError, match="no entries"):
        audit(built_release, empty)


def test_extensions_are_reported_never_unpickled_and_hostile_files_never_raise(tmp_path: Path) -> None:
    root = tmp_path / "rel"
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (Path.touch, (str(marker),))  # type: ignore[return-value]

    import pickle

    payload = pickle.dumps(Exploit())
    write_gz(root / "studies/CT-0/study_0001.nii.gz",
             planted_nifti(ct_volume(), extensions=((16, payload), (4, b"<AFNI_attributes/>"))))
    (root / "studies/CT-0/study_0002.nii").write_bytes(
        planted_nifti(ct_volume(), extensions=((2, b"\xff" * 40),)))                    # DICOM that does not parse
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00\x00\xff\xfftEXt" + b"x" * 10)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe1\xff\xff" + b"\x00" * 10)
    (root / "broken.xlsx").write_bytes(b"PK\x03\x04 not a zip")
    (root / "broken.pdf").write_bytes(b"%PDF-1.7\n/Author (unterminated")
    (root / "broken.json").write_text("{not json", encoding="utf-8")
    (root / "cyclic.yaml").write_text("a: &a [*a, *a]\nb: [&b x, *b]\n", encoding="utf-8")
    report = audit(root)
    assert not marker.exists()
    extension = [f for f in report.findings if f.code == "PHI_NIFTI_EXTENSION"]
    assert {f.path: f.context["codes"] for f in extension} == {
        "studies/CT-0/study_0001.nii.gz": "16 (pypickle), 4 (AFNI)",
        "studies/CT-0/study_0002.nii": "2 (DICOM)"}
    unparsed = next(f for f in extension if f.path.endswith(".nii"))
    assert "does not parse" in unparsed.context["extensions"][0]["error"]
    incomplete = {f.path for f in report.findings if f.code == "PHI_AUDIT_INCOMPLETE"}
    assert incomplete == {"broken.xlsx"}
    metadata = {f.path: f.context["where"] for f in report.findings if f.code == "PHI_IMAGE_METADATA"}
    assert metadata == {"broken.png": "tEXt xxxxxxxxxx", "broken.jpg": "APP1"}   # what there is, read safely


def test_document_metadata_and_zip_bombs(tmp_path: Path) -> None:
    root = tmp_path / "rel"
    root.mkdir()
    minimal_pdf(root / "README_EN.pdf", "Иванов Иван")
    bomb = root / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("docProps/core.xml", "<cp:coreProperties><dc:creator>Jane Roe</dc:creator>"
                                              "</cp:coreProperties>")
        archive.writestr("xl/sharedStrings.xml", b"<sst>" + b" " * (20 << 20) + b"</sst>")   # 20 MiB of spaces
    xlsx_with_creator(root / "neutral.xlsx", "openpyxl", "curator")
    xlsx_with_creator(root / "declared.xlsx", "Jane Doe", "Доу Джейн")     # the card's contributor, both languages
    (root / "dataset.yaml").write_text(json.dumps(card_data()), encoding="utf-8")   # contributor Doe, Jane
    identifiers = tmp_path / "ids.txt"
    identifiers.write_text("Ivanov Ivan\n", encoding="utf-8")
    report = audit(root, identifiers)
    rows = {(f.code, f.path): f for f in report.findings if f.code in PRIVACY_FILES}
    pdf = rows[("PHI_DOCUMENT_METADATA", "README_EN.pdf")]
    assert pdf.severity is Severity.info and pdf.context["where"] == "Author"   # Creator/Producer are software
    assert rows[("PHI_IDENTIFIER_FOUND", "README_EN.pdf")].context["where"] == "PDF Author"
    assert rows[("PHI_DOCUMENT_METADATA", "bomb.xlsx")].context["values"] == {"creator": "Ja*** R***"}
    assert "xl/sharedStrings.xml" in rows[("PHI_AUDIT_INCOMPLETE", "bomb.xlsx")].context["reason"]
    assert ("PHI_DOCUMENT_METADATA", "neutral.xlsx") not in rows
    assert ("PHI_DOCUMENT_METADATA", "declared.xlsx") not in rows


def test_trailing_bytes_after_the_image_and_clean_images(tmp_path: Path) -> None:
    root = tmp_path / "rel"
    png_with_chunks(root / "a.png", {}, time_chunk=False, trailing=b"Ivanov Ivan 1956")
    jpeg_with_comment(root / "b.jpg", "", trailing=b"hidden payload")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "clean.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "clean.jpg")
    report = audit(root)
    found = {f.path: f.context["where"] for f in report.findings if f.code == "PHI_IMAGE_METADATA"}
    assert found == {"a.png": "16 bytes after the end of the image", "b.jpg": "14 bytes after the end of the image"}


def test_names_and_table_values_keep_false_positives_low(tmp_path: Path) -> None:
    root = tmp_path / "rel"
    for name in ("studies/CT-1/study_0255.nii.gz", "image/CP/3783/5727/0008.png", "DICOM/CT.1.2.840.113619.2.55",
                 "anova_results.csv", "IM-0001-0001.dcm", "patients/20200428/scan.dcm", "ACC1234567.dcm",
                 "ivanova_maria/x.txt", "MultiClassInfection-Test/GT-1/96.png"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    (root / "unzip_filenames.csv").write_text("zip_file,label,patient_id,scan_id,n_slice\nCP-1.zip,CP,3783,5727,64\n",
                                              encoding="utf-8")
    (root / "scans.tsv").write_text("file\tsha1\temail\n1.nii\t8123456789012345abcd\tjane@example.org\n",
                                    encoding="utf-8")
    (root / "sidecar.json").write_text(json.dumps({"InstitutionName": "City Hospital 7", "PatientID": "P001",
                                                   "AcquisitionTime": "10:11:12", "contributors": [
                                                       {"name": "Doe, Jane", "email": "jane@example.org"}]}),
                                       encoding="utf-8")
    report = audit(root, profile="dicom")
    names = sorted((f.path, f.context["kinds"]) for f in report.findings if f.code == "PHI_FILE_NAME")
    assert names == [("ACC1234567.dcm", "record number"), ("ivanova_maria", "name"),
                     ("patients/20200428", "date")]
    values = sorted((f.path, f.context["field"], f.context["kinds"]) for f in report.findings
                    if f.code == "PHI_TABLE_VALUE")
    assert values == [("scans.tsv", "email", "contact"), ("sidecar.json", "InstitutionName", "site")]


# --- anonymise --nifti and the builder's scrub -------------------------------------------------------------

def test_anonymise_removes_every_nifti_finding_and_keeps_voxels_and_affine(planted: tuple[Path, Path],
                                                                            tmp_path: Path) -> None:
    release, identifiers = planted
    out = tmp_path / "anonymised"
    summary = anonymise_nifti_tree(release, out, jobs=2)
    assert summary.cleared == {"descrip": 1, "aux_file": 1} and summary.extensions == 1
    assert summary.files == 11 and summary.gzip_headers >= 1 and "SHA256SUMS" in summary.manifests
    for rel in (STUDY, "masks/study_0003_mask.nii.gz", "studies/CT-0/study_0002.nii.gz"):
        before, after = voxels_and_affine(release / rel), voxels_and_affine(out / rel)
        assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2] == after[2]
    report = audit(out, identifiers)
    left = {f.code for f in report.findings if f.path.endswith(".nii.gz")}
    assert not left & {"PHI_NIFTI_TEXT", "PHI_NIFTI_EXTENSION", "PHI_GZIP_HEADER"}
    assert not [f for f in report.findings if f.code == "PHI_IDENTIFIER_FOUND" and f.path.endswith(".nii.gz")]
    checksums = validate(out, ValidateOptions(profile="mosmed", jobs=2))
    assert not [f for f in checksums.findings if f.code == "CHECKSUM_MISMATCH" and f.path.endswith(".nii.gz")]
    assert (release / STUDY).read_bytes()[:2] == b"\x1f\x8b" and read_nifti_metadata(release / STUDY).fields
    again = anonymise_nifti_tree(release, tmp_path / "again", jobs=1)
    assert again.files == summary.files
    assert (tmp_path / "again" / STUDY).read_bytes() == (out / STUDY).read_bytes()   # deterministic
    with pytest.raises(OptionsError, match="exists"):
        anonymise_nifti_tree(release, out)
    with pytest.raises(OptionsError, match="outside"):
        anonymise_nifti_tree(release, release / "inside")


def test_scrub_contract_for_the_builder(release: Path, tmp_path: Path) -> None:
    clean = release / "studies/CT-0/study_0001.nii.gz"
    before = clean.read_bytes()
    assert not scrub_nifti_header(clean).changed and clean.read_bytes() == before   # untouched

    data = np.asarray(nib.load(release / STUDY).dataobj)
    write_gz(release / STUDY, planted_nifti(data, descrip="Time=101112.000", intent_name="Petrov",
                                            extensions=((6, b"a comment"),)), name="raw.nii", mtime=99)
    raw = release / "studies/CT-2/study_0006.nii"
    raw.write_bytes(planted_nifti(ct_volume(), descrip="x"))
    scrub = scrub_nifti_header(release / STUDY)
    assert scrub.changed and scrub.cleared == ("descrip", "intent_name") and scrub.extensions == 1
    assert scrub.gzip_header
    assert np.array_equal(np.asarray(nib.load(release / STUDY).dataobj), data)
    assert not scrub_nifti_header(release / STUDY).changed                      # idempotent
    assert scrub_nifti_header(raw).cleared == ("descrip",) and raw.read_bytes()[:4] == struct.pack("<i", 348)
    assert not list(release.rglob(".*scrub-*"))
    report = audit(release)
    assert not [f for f in report.findings if f.code in PRIVACY_FILES and f.path.startswith("studies/")]

    broken = release / "studies/CT-3/study_0007.nii.gz"
    good = broken.read_bytes()
    broken.write_bytes(good[:40])
    with pytest.raises(NiftiAnonymiseError):
        scrub_nifti_header(broken)
    assert broken.read_bytes() == good[:40]
    with pytest.raises(NiftiAnonymiseError, match="not a NIfTI"):
        anonymise_nifti(release / "README_EN.md", tmp_path / "x.nii")


def test_a_build_from_identifying_sources_is_clean_because_the_builder_scrubs(tmp_path: Path) -> None:
    """``curator.release`` calls scrub_nifti_header on every NIfTI it places: a source whose headers name the patient
    builds into a release without the name (the builder itself, nothing patched in)."""
    import curator.release as builder
    from tests.factories import make_source

    source = make_source(tmp_path / "source", studies=[("CT-1", "F", 40, True), ("CT-0", "M", 30, False)])
    for path in sorted((source / "raw").iterdir()):
        data = np.asarray(nib.load(path).dataobj)
        write_gz(path, planted_nifti(data, descrip="Ivanov Ivan 1956-03-14",
                                     extensions=((2, dicom_payload(PatientName="Ivanov^Ivan")),)), name=path.name)
    assert [f for f in audit(source).findings if f.code in ("PHI_NIFTI_TEXT", "PHI_NIFTI_EXTENSION")]
    result = builder.build(source, tmp_path / "release", jobs=1)
    assert not [f for f in result.report.findings if f.code.startswith("PHI_")]
    placed = sorted((tmp_path / "release").rglob("*.nii.gz"))
    assert len(placed) == 3
    for path in placed:
        meta = read_nifti_metadata(path)
        assert not meta.fields and not meta.extensions and meta.gzip is not None and meta.gzip.name is None
        assert b"Ivanov" not in gzip.decompress(path.read_bytes())[:4096]


# --- real data ---------------------------------------------------------------------------------------------

@pytest.mark.realdata
def test_real_mosmed_masks_time_and_gzip_name_then_anonymised(realdata: Path, tmp_path: Path) -> None:
    root = realdata / "mosmed_michaelwfry"
    report = audit(root)
    text = [f for f in report.findings if f.code == "PHI_NIFTI_TEXT"]
    assert len(text) == 50 and {f.severity for f in text} == {Severity.warning}
    assert {tuple(f.context["looks_like"]) for f in text} == {("dcm2niix acquisition time",)}
    assert {f.context["where"] for f in text} == {"descrip"}
    names = [f for f in report.findings if f.code == "PHI_GZIP_HEADER"]
    # the real FNAMEs are the files' own names (study_0255_mask.nii), compressed on 2020-04-28/29: reported, as info
    assert len(names) == 50 and {f.context["where"] for f in names} == {"FNAME (this file's own name)"}
    assert {f.severity for f in names} == {Severity.info}
    assert {f.context["mtime"] for f in names} <= {"2020-04-28", "2020-04-29"}
    document = next(f for f in report.findings if f.code == "PHI_DOCUMENT_METADATA")
    assert document.path == "dataset_registry.xlsx"
    assert document.context["values"] == {"connection sourceFile": document.context["values"]["connection sourceFile"],
                                          "creator": "Ni*** Pa***", "lastModifiedBy": "Mi*** F***"}
    assert not [f for f in report.findings if f.code in PRIVACY_FILES and f.severity is Severity.error]

    out = tmp_path / "masks"
    summary = anonymise_nifti_tree(root / "masks", out, jobs=2)
    assert summary.files == 50 and summary.cleared == {"descrip": 50} and summary.gzip_headers == 50
    for source in sorted((root / "masks").iterdir()):
        original, cleaned = igzip.decompress(source.read_bytes()), igzip.decompress((out / source.name).read_bytes())
        assert cleaned[352:] == original[352:]                           # voxels bit-identical
        old, new = nib.Nifti1Header.from_fileobj(io.BytesIO(original)), nib.Nifti1Header.from_fileobj(
            io.BytesIO(cleaned))
        assert np.array_equal(old.get_best_affine(), new.get_best_affine())
        assert new["descrip"] == b"" and cleaned[:348] != original[:348]
    after = audit(tmp_path)
    assert not [f for f in after.findings if f.code in PRIVACY_FILES]


@pytest.mark.realdata
def test_real_infnet_pngs_report_their_time_chunks(realdata: Path) -> None:
    report = audit(realdata / "infnet_covid_semiseg_png", profile="slices")
    found = [f for f in report.findings if f.code == "PHI_IMAGE_METADATA"]
    assert len(found) == 144 and {f.context["where"] for f in found} == {"tIME"}
    assert {f.path.rsplit("/", 2)[-2] for f in found} == {"GT", "GT-1", "GT-2"}    # the JPEG slices are clean
    assert {f.severity for f in found} == {Severity.warning}


@pytest.mark.realdata
def test_real_registry_author_is_found_from_the_identifier_list(realdata: Path, tmp_path: Path) -> None:
    root = tmp_path / "rel"
    root.mkdir()
    shutil.copyfile(realdata / "mosmed_michaelwfry/dataset_registry.xlsx", root / "dataset_registry.xlsx")
    identifiers = tmp_path / "ids.txt"
    identifiers.write_text("Павлов Николай\n", encoding="utf-8")   # the list in Cyrillic, the file in Latin
    report = audit(root, identifiers)
    [hit] = [f for f in report.findings if f.code == "PHI_IDENTIFIER_FOUND"]
    assert hit.context["where"] == "docProps creator" and hit.context["found_as"] == ["Ni*** Pa***"]


@pytest.mark.realdata
def test_real_dicom_text_values_are_searched_once(realdata: Path, tmp_path: Path) -> None:
    """DICOM files are read by curator.io.dicom_audit; the identifier search runs on the values it kept."""
    root = tmp_path / "rel"
    (root / "patient").mkdir(parents=True)
    shutil.copyfile(realdata / "pydicom_ct_files/pydicom_3.0.2_test_files/CT_small.dcm", root / "patient/CT_small.dcm")
    identifiers = tmp_path / "ids.txt"
    identifiers.write_text("CompressedSamples^CT1\n", encoding="utf-8")    # CT_small.dcm's PatientName
    report = audit(root, identifiers, profile="dicom")
    [hit] = [f for f in report.findings if f.code == "PHI_IDENTIFIER_FOUND"]
    assert hit.path == "patient/CT_small.dcm" and hit.context["where"] == "DICOM PatientName"



def test_a_png_with_more_chunks_than_the_audit_reads_is_incomplete_not_clean(tmp_path: Path) -> None:
    """Before: the chunk walk stopped at its limit in silence, so a text chunk after 100000 empty private chunks was
    neither flagged nor reported unread (ingest-slices' stripper walks every chunk and removes it)."""
    from curator.io.privacy_files import audit_file
    from curator.io.privacy_files_images import MAX_PNG_CHUNKS
    from tests.ingest_slices_factories import png_bytes, png_chunk
    from tests.slices_factories import label_map

    plain = png_bytes(label_map(), text=False, time=False)
    data = plain[:-12] + png_chunk(b"prVt", b"") * MAX_PNG_CHUNKS + png_chunk(b"tEXt", b"Author\x00Ivanov") \
        + plain[-12:]
    (tmp_path / "many.png").write_bytes(data)
    audit = audit_file(tmp_path, "many.png", len(data), None)
    assert (audit.image_items, audit.error) == ((), None)
    (reason,) = audit.incomplete
    assert reason.startswith(f"the chunks after the first {MAX_PNG_CHUNKS} (from byte ") and reason.endswith(
        ") were not read")
