"""PHI_PATH: file and folder names that carry the file's own identifiers, found by `curator validate` from the
headers the DICOM audit already read, and renamed by `curator anonymise` with keyed pseudonyms (issue 12, Trust 1)."""

from __future__ import annotations

import csv
import json
import shutil
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydicom import dcmread

from curator.anonymise import AnonymiseOptions, anonymise
from curator.anonymise.paths import path_pseudonym, plan_names
from curator.catalogue import catalogue
from curator.checks import phi_paths
from curator.checks.phi_paths import Identity, match_component
from curator.checks.privacy_patterns import looks_like_id
from curator.cli.main import main
from curator.errors import OptionsError
from curator.io.dicom_audit import AuditedFile, AuditElement, DicomAudit
from curator.io.facts import Facts
from curator.io.inventory import walk
from curator.profiles import get_profile
from tests.dicom_privacy_factories import (
    GE_STUDY,
    PATH_ID,
    PATH_OTHER_ID,
    PATH_SECRETS,
    clean_slice,
    write_named,
    write_planted,
)
from tests.hostile import run_bounded, snapshot, written_outside
from tests.reports import validate_report

KEY = "k" * 8 + "0123456789abcdef"
OTHER_KEY = "z" * 8 + "0123456789abcdef"
COVID_CT_MD = "covid_ct_md_dicom/Sample data/COVID-19 subjects/P001"


def validate(root: Path, exit_code: int = 1) -> list[dict]:
    """The privacy findings of `curator validate --profile dicom` (a source here always has PHI_DICOM_* errors,
    an anonymised copy none)."""
    findings: list[dict] = validate_report(root, "--profile", "dicom", "--select", "privacy",
                                           exit_code=exit_code)["findings"]
    return findings


def phi_path(findings: list[dict]) -> dict[str, list[str]]:
    """path -> the attributes PHI_PATH names for it."""
    rows: dict[str, list[str]] = {}
    for finding in findings:
        if finding["code"] == "PHI_PATH":
            assert finding["path"] not in rows, f"{finding['path']} reported twice"
            assert finding["severity"] == "error"
            rows[finding["path"]] = finding["context"]["attributes"]
    return rows


def run_anonymise(src: Path, out: Path, *args: str, key: str = KEY) -> dict:
    result = CliRunner().invoke(main, ["anonymise", str(src), str(out), "--format", "json", *args],
                                env={"CURATOR_ANON_KEY": key})
    assert result.exit_code == 0, result.output
    summary: dict = json.loads(result.output)
    return summary


def tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def name_map(out: Path) -> list[dict[str, str]]:
    with (out.parent / f"{out.name}.namemap.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# --- validate --------------------------------------------------------------------------------------------------

# (path of the file, identity overrides, the component path PHI_PATH must name, the attributes it carries)
NAMED = [
    ("98C14734-ASSH/IM1.dcm", {}, "98C14734-ASSH", ["PatientID"]),
    ("P001/98C14734-ASSH_1.dcm", {}, "P001/98C14734-ASSH_1.dcm", ["PatientID"]),
    ("p001/98c14734assh.dcm", {}, "p001/98c14734assh.dcm", ["PatientID"]),
    ("A_Kowalczyk_Wieslawa/IM1.dcm", {}, "A_Kowalczyk_Wieslawa", ["PatientName"]),
    ("KOWALCZYK^WIESLAWA/IM1.dcm", {}, "KOWALCZYK^WIESLAWA", ["PatientName"]),
    ("Wieslawa Kowalczyk/IM1.dcm", {}, "Wieslawa Kowalczyk", ["PatientName"]),
    ("scans/wieslawa-kowalczyk.ct/IM1.dcm", {}, "scans/wieslawa-kowalczyk.ct", ["PatientName"]),
    ("KowalczykWieslawa.dcm", {}, "KowalczykWieslawa.dcm", ["PatientName"]),
    ("kowalczyk/IM1.dcm", {}, "kowalczyk", ["PatientName"]),                     # the family name alone
    ("Ann_Lee/IM1.dcm", {"name": "Lee^Ann^Marie"}, "Ann_Lee", ["PatientName"]),  # family and first given name
    ("Иванов_Пётр/IM1.dcm", {"name": "Иванов^Пётр"}, "Иванов_Пётр", ["PatientName"]),
    ("ПЁТР ИВАНОВ/IM1.dcm", {"name": "Иванов^Пётр"}, "ПЁТР ИВАНОВ", ["PatientName"]),
    ("Ivanov_Petr/IM1.dcm", {"name": "Иванов^Пётр"}, "Ivanov_Petr", ["PatientName"]),   # romanised
    ("ACC20200417/IM1.dcm", {}, "ACC20200417", ["AccessionNumber"]),
    ("1958-03-12/IM1.dcm", {}, "1958-03-12", ["PatientBirthDate"]),
    ("x/12.03.1958_ct.dcm", {}, "x/12.03.1958_ct.dcm", ["PatientBirthDate"]),
    ("19580312/IM1.dcm", {}, "19580312", ["PatientBirthDate"]),
    ("MRN-000777/IM1.dcm", {"other_ids": ("X1", PATH_OTHER_ID)}, "MRN-000777", ["OtherPatientIDs"]),
    ("mrn_000777/IM1.dcm", {"other_ids_sequence": (PATH_OTHER_ID,)}, "mrn_000777", ["OtherPatientIDsSequence"]),
    ("patient_42/IM1.dcm", {"patient_id": "42"}, "patient_42", ["PatientID"]),
    ("42.dcm", {"patient_id": "42"}, "42.dcm", ["PatientID"]),
    ("98C14734-ASSH_Kowalczyk/IM1.dcm", {}, "98C14734-ASSH_Kowalczyk", ["PatientID", "PatientName"]),
]


@pytest.mark.parametrize(("rel", "identity", "component", "attributes"), NAMED, ids=[row[0] for row in NAMED])
def test_validate_finds_the_name_that_carries_the_files_own_identifier(tmp_path: Path, rel: str, identity: dict,
                                                                      component: str, attributes: list[str]) -> None:
    write_named(tmp_path, rel, **identity)
    findings = validate(tmp_path)
    assert phi_path(findings) == {component: attributes}
    assert not [f for f in findings if f["code"] == "PHI_FILE_NAME" and f["path"] == component]  # not doubled


# (path, identity overrides): names that must not be hits
NOT_NAMED = [
    ("P042/IM0042.dcm", {"patient_id": "42"}),               # a short ID counts only as a whole token
    ("study_0042/patient42.dcm", {"patient_id": "42"}),
    ("P001/IM0001.dcm", {"patient_id": "1"}),                # one character: never
    ("0000000/IM1.dcm", {"patient_id": "0000000"}),          # all zeros: never
    ("study_0001/IM0001.dcm", {}),
    ("P001/IM1.dcm", {}),
    ("98C14734-ASSHX/IM1.dcm", {}),                           # a longer token is another ID
    ("Wieslawa/IM1.dcm", {}),                                 # a given name alone
    ("blacksmith/IM1.dcm", {"name": "Smith^John"}),          # a name word inside another word
    ("li/IM1.dcm", {"name": "LI^WU"}),                        # a short name part alone
    ("119580312/IM1.dcm", {}),                                # the birth date inside a longer number
    ("ANONYMOUS/IM1.dcm", {"name": "ANONYMOUS", "patient_id": "ANONYMOUS"}),
    ("19000101/IM1.dcm", {"birth_date": "19000101"}),        # a dummy date
    ("studies/CT-1/study_0255/IM1.dcm", {}),                  # MosMed-style names
]


@pytest.mark.parametrize(("rel", "identity"), NOT_NAMED, ids=[row[0] for row in NOT_NAMED])
def test_validate_does_not_flag_names_that_do_not_carry_the_identifier(tmp_path: Path, rel: str,
                                                                      identity: dict) -> None:
    write_named(tmp_path, rel, **identity)
    assert phi_path(validate(tmp_path)) == {}


def test_each_component_is_reported_once_and_each_file_is_judged_by_its_own_header(tmp_path: Path) -> None:
    for instance in (1, 2, 3):
        write_named(tmp_path, f"A_Kowalczyk_Wieslawa/CT/IM{instance}.dcm", instance)
    write_named(tmp_path, "mixed/98C14734-ASSH_1.dcm")                      # PatientID 98C14734-ASSH
    write_named(tmp_path, "mixed/MRN-9001_1.dcm", patient_id="MRN-4471")    # another patient's ID: not its own
    write_named(tmp_path, "other/MRN-9001/IM1.dcm", patient_id="MRN-9001", name=None)
    findings = validate(tmp_path)
    assert phi_path(findings) == {"A_Kowalczyk_Wieslawa": ["PatientName"], "mixed/98C14734-ASSH_1.dcm": ["PatientID"],
                                  "other/MRN-9001": ["PatientID"]}
    folder = next(f for f in findings if f["code"] == "PHI_PATH" and f["path"] == "A_Kowalczyk_Wieslawa")
    assert folder["context"]["files"] == 3 and folder["context"]["folder"] is True
    assert "'A_Kowalczyk_Wieslawa'" in folder["message"] and "PatientName" in folder["message"]


def test_a_pseudonym_in_a_de_identified_file_may_name_its_folder(tmp_path: Path) -> None:
    (tmp_path / "SUBJ-001").mkdir()
    clean_slice().save_as(tmp_path / "SUBJ-001" / "SUBJ-001_1.dcm", enforce_file_format=True)
    assert validate(tmp_path, exit_code=0) == []


def test_the_name_heuristic_still_warns_where_the_headers_no_longer_name_the_patient(tmp_path: Path) -> None:
    (tmp_path / "Ivanov_Petr").mkdir()
    clean_slice().save_as(tmp_path / "Ivanov_Petr" / "IM1.dcm", enforce_file_format=True)
    rows = {(f["code"], f["path"]) for f in validate(tmp_path, exit_code=0)}   # a warning: still valid
    assert rows == {("PHI_FILE_NAME", "Ivanov_Petr")}


def test_phi_path_is_judged_from_the_audit_without_reading_any_file(tmp_path: Path) -> None:
    """The check needs nothing but what the DICOM audit kept: here the root does not even exist."""
    def element(location: str, tag: int, vr: str, value: str) -> AuditElement:
        return AuditElement(location, tag, vr, value, len(value))

    audited = AuditedFile(path="Kowalczyk_Wieslawa/98C14734-ASSH_1.dcm",
                          elements=(element("PatientID", 0x00100020, "LO", PATH_ID),
                                    element("PatientName", 0x00100010, "PN", "Kowalczyk^Wieslawa")),
                          identity_removed=None, method=(), method_codes=(), temporal=None, burned_in=None,
                          visual_features=None)
    facts = Facts(root=tmp_path / "absent", profile=get_profile("dicom"), languages=["en"], entries=[],
                  dicom_audit=DicomAudit(files={audited.path: audited}))
    rows = {(f.path, f.context["attribute"]) for f in phi_paths.check(facts)}
    assert rows == {("Kowalczyk_Wieslawa", "PatientName"), (audited.path, "PatientID")}
    # derived once per audit (PHI_PATH and the file-name check both ask), and afresh for another run's audit
    assert phi_paths.flagged_components(facts) is phi_paths.flagged_components(facts)
    again = Facts(root=tmp_path / "absent", profile=get_profile("dicom"), languages=["en"], entries=[],
                  dicom_audit=DicomAudit(files={}))
    assert dict(phi_paths.flagged_components(again)) == {}
    assert dict(phi_paths.flagged_components(replace(facts, dicom_audit=None))) == {}


def test_curators_own_2_25_names_are_not_record_numbers(tmp_path: Path) -> None:
    """Regression: `looks_like_id` took `2.25` for a decimal before it took out the UID, leaving its 39 digits."""
    name = "CT.2.25.241208573192479845508785784027202812053"
    assert not looks_like_id(name)
    src = tmp_path / "src"
    write_planted(src / "P002", count=1)
    shutil.copyfile(src / "P002" / "IM0001.dcm", src / "P002" / f"CT.{GE_STUDY}.3.dcm")
    out = tmp_path / "out"
    run_anonymise(src, out)
    renamed = [p for p in tree(out) if "/CT.2.25." in p]
    assert len(renamed) == 1
    assert validate(out, exit_code=0) == []


def test_phi_path_is_an_active_error_in_the_catalogue() -> None:
    rule = catalogue()["PHI_PATH"]
    assert rule.status == "active" and rule.level.value == "error" and set(rule.message) >= {"en", "ru"}
    assert {"PHI_PATH"} == phi_paths.CODES


# --- the matcher on its own ------------------------------------------------------------------------------------

def test_short_values_and_separators() -> None:
    identity = Identity.of([("PatientID", "42"), ("PatientName", "Doe^J"), ("AccessionNumber", "A1")])
    assert match_component("patient_42", identity) == ("PatientID",)
    assert match_component("patient 42 ct", identity) == ("PatientID",)
    assert match_component("patient42", identity) == ()      # a two-character ID only between separators
    assert match_component("a1_scan", identity) == ("AccessionNumber",)
    assert match_component("doe_j", identity) == ()          # a three-letter family name alone is not enough
    groups = Identity.of([("PatientName", "Yamada^Tarou=山田^太郎=やまだ^たろう")])
    assert match_component("Yamada_Tarou", groups) == match_component("山田太郎", groups) == ("PatientName",)
    assert match_component("Tarou", groups) == ()
    long_id = Identity.of([("PatientID", "12345")])
    assert match_component("P12345", long_id) == ("PatientID",)
    assert match_component("0012345", long_id) == ()
    assert match_component("123456", long_id) == ()


# --- anonymise -------------------------------------------------------------------------------------------------

@pytest.fixture
def named_source(tmp_path: Path) -> Path:
    """Folders and files named after their patient, as exports and people name them."""
    src = tmp_path / "src"
    write_named(src, "A_Kowalczyk_Wieslawa/98C14734-ASSH_1.dcm", 1)
    write_named(src, "A_Kowalczyk_Wieslawa/98C14734-ASSH_2.dcm", 2)
    write_named(src, "A_Kowalczyk_Wieslawa/1958-03-12/ACC20200417.dcm", 3)
    write_named(src, "by-accession/ACC20200417/IM1.dcm", 4)
    write_named(src, "patient_42/IM1.dcm", patient_id="42", name="Nowak^Jan", accession=None, birth_date=None,
                series_uid="2.25.5550002")
    write_named(src, "P001/IM1.dcm", patient_id="P999", name="Other^Person", accession=None, birth_date=None,
                series_uid="2.25.5550003")
    return src


def test_anonymise_renames_every_such_component_and_keeps_the_map_beside_out(named_source: Path,
                                                                          tmp_path: Path) -> None:
    before = validate(named_source)
    assert set(phi_path(before)) == {
        "A_Kowalczyk_Wieslawa", "A_Kowalczyk_Wieslawa/98C14734-ASSH_1.dcm", "A_Kowalczyk_Wieslawa/98C14734-ASSH_2.dcm",
        "A_Kowalczyk_Wieslawa/1958-03-12", "A_Kowalczyk_Wieslawa/1958-03-12/ACC20200417.dcm",
        "by-accession/ACC20200417", "patient_42"}
    out = tmp_path / "out"
    summary = run_anonymise(named_source, out)
    assert summary["files"] == 6 and summary["renamed"] == 7
    copied = tree(out)
    for secret in (*PATH_SECRETS, "patient_42"):
        assert not [p for p in copied if secret.casefold() in p.casefold()], secret
    assert {p for p in copied if p.startswith("P001")} == {"P001", "P001/IM1.dcm"}   # nothing else renamed
    assert "by-accession" in copied and all(p.endswith(".dcm") for p in copied if (out / p).is_file())

    rows = name_map(out)
    map_file = tmp_path / "out.namemap.csv"
    assert Path(summary["name_map"]) == map_file.resolve()
    assert stat.S_IMODE(map_file.stat().st_mode) == 0o600          # as private as ingest's key map
    assert {row["original"] for row in rows} == set(phi_path(before))
    for row in rows:
        assert (out / row["renamed"]).exists()
        assert row["renamed"].split("/")[-1].startswith("2.25.")
    assert {row["original"]: row["attributes"] for row in rows}["A_Kowalczyk_Wieslawa/1958-03-12/ACC20200417.dcm"] \
        == "AccessionNumber"

    assert validate(out, exit_code=0) == []                      # the copy: declared, pseudonymised, renamed


def test_renaming_is_deterministic_for_a_key(named_source: Path, tmp_path: Path) -> None:
    run_anonymise(named_source, tmp_path / "a")
    run_anonymise(named_source, tmp_path / "b")
    run_anonymise(named_source, tmp_path / "c", key=OTHER_KEY)
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert name_map(tmp_path / "a") == name_map(tmp_path / "b")
    renamed_a = {row["renamed"] for row in name_map(tmp_path / "a")}
    assert not renamed_a & {row["renamed"] for row in name_map(tmp_path / "c")}


def test_files_that_are_not_dicom_follow_their_folder_and_their_patient(named_source: Path, tmp_path: Path) -> None:
    folder = named_source / "A_Kowalczyk_Wieslawa"
    (folder / "98C14734-ASSH_report.txt").write_text("not dicom", encoding="utf-8")
    (folder / "notes.txt").write_text("not dicom", encoding="utf-8")
    out = tmp_path / "out"
    run_anonymise(named_source, out, "--copy-other")
    rows = {row["original"]: row["renamed"] for row in name_map(out)}
    report = rows["A_Kowalczyk_Wieslawa/98C14734-ASSH_report.txt"]
    assert report.endswith(".txt") and (out / report).read_text(encoding="utf-8") == "not dicom"
    assert (out / rows["A_Kowalczyk_Wieslawa"] / "notes.txt").is_file()


def test_nothing_is_written_beside_out_when_no_name_carries_an_identifier(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_planted(src / "P001", count=2)
    summary = run_anonymise(src, tmp_path / "out")
    assert summary["renamed"] == 0 and summary["name_map"] == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]


def test_the_name_map_may_not_go_inside_src_or_out(named_source: Path, tmp_path: Path) -> None:
    for inside in (named_source / "map.csv", tmp_path / "out" / "map.csv"):
        with pytest.raises(OptionsError, match="name map"):
            anonymise(named_source, tmp_path / "out", AnonymiseOptions(key=KEY.encode(), name_map=inside))
    assert not (tmp_path / "out").exists() and not (named_source / "map.csv").exists()


def test_name_map_option_places_the_map_and_refuses_to_overwrite_the_key(named_source: Path, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    summary = run_anonymise(named_source, tmp_path / "out", "--name-map", str(keys / "names.csv"))
    assert Path(summary["name_map"]) == (keys / "names.csv").resolve() and not (tmp_path / "out.namemap.csv").exists()
    assert stat.S_IMODE((keys / "names.csv").stat().st_mode) == 0o600
    key_file = keys / "anon.key"
    key_file.write_text(KEY, encoding="utf-8")
    runner = CliRunner()
    for target in (key_file, tmp_path / "out2" / "names.csv", named_source / "names.csv"):
        result = runner.invoke(main, ["anonymise", str(named_source), str(tmp_path / "out2"), "--key-file",
                                      str(key_file), "--name-map", str(target)])
        assert result.exit_code == 2, result.output
        assert "name map" in result.output
    assert key_file.read_text(encoding="utf-8") == KEY and not (tmp_path / "out2").exists()


def test_renaming_is_collision_free_and_keeps_extensions_that_carry_nothing() -> None:
    identity = Identity.of([("PatientName", "Kowal^Ewa"), ("PatientID", "ID-55555")])
    paths = ["x/Ewa.Kowal", "x/ID-55555.dcm", "x/id-55555.DCM", "x/Kowal.nii.gz", "x/2.25.1.dcm"]
    targets, renamed = plan_names(paths, dict.fromkeys(paths, identity), KEY.encode(),
                                  pseudonym=lambda key, stem, attempt: f"2.25.{attempt}")   # every stem collides
    names = [targets[p].split("/")[-1] for p in paths]
    assert len({n.casefold() for n in names}) == len(names)       # distinct, even ignoring case
    assert names[-1] == "2.25.1.dcm"                              # the name that carried nothing stays
    assert targets["x/Ewa.Kowal"].count(".") == 2                 # '.Kowal' is no extension to keep
    assert targets["x/Kowal.nii.gz"].endswith(".nii.gz") and targets["x/ID-55555.dcm"].endswith(".dcm")
    assert {r.original for r in renamed} == set(paths[:-1])
    real, _ = plan_names(paths, dict.fromkeys(paths, identity), KEY.encode())
    assert real["x/ID-55555.dcm"] == f"x/{path_pseudonym(KEY.encode(), 'ID-55555')}.dcm"


# --- real data -------------------------------------------------------------------------------------------------

@pytest.mark.realdata
def test_covid_ct_md_file_named_after_its_own_patient(realdata: Path, tmp_path: Path) -> None:
    """COVID-CT-MD's 98C14734-ASSH_<n>.dcm is its PatientID. The file has no PatientName element, so a second copy
    gets one (written with pydicom, the JPEG-lossless pixel data untouched) and a folder and file named after it."""
    real = realdata / COVID_CT_MD / "98C14734-ASSH_57.dcm"
    src = tmp_path / "src"
    (src / "98C14734-ASSH").mkdir(parents=True)
    shutil.copyfile(real, src / "98C14734-ASSH" / real.name)
    named = dcmread(real)
    named.PatientName = "Kowalczyk^Wieslawa"
    (src / "Kowalczyk_Wieslawa").mkdir()
    named.save_as(src / "Kowalczyk_Wieslawa" / "WIESLAWA KOWALCZYK 57.dcm")
    findings = validate(src)
    assert phi_path(findings) == {
        "98C14734-ASSH": ["PatientID"], "98C14734-ASSH/98C14734-ASSH_57.dcm": ["PatientID"],
        "Kowalczyk_Wieslawa": ["PatientName"], "Kowalczyk_Wieslawa/WIESLAWA KOWALCZYK 57.dcm": ["PatientName"]}

    out = tmp_path / "out"
    summary = run_anonymise(src, out)
    assert summary["files"] == 2 and summary["renamed"] == 4
    copied = tree(out)
    assert len(copied) == 4
    for secret in ("98C14734", "ASSH", "kowalczyk", "wieslawa"):
        assert not [p for p in copied if secret.casefold() in p.casefold()], secret
    assert {row["original"] for row in name_map(out)} == set(phi_path(findings))
    assert validate(out, exit_code=0) == []
    assert [e.path for e in walk(src) if e.kind == "dir"] == ["98C14734-ASSH", "Kowalczyk_Wieslawa"]  # SRC as it was


@pytest.mark.realdata
def test_covid_ct_md_series_in_its_own_layout(realdata: Path) -> None:
    """P001/98C14734-ASSH_<n>.dcm: every file is named after the PatientID; P001 is not."""
    findings = validate(realdata / COVID_CT_MD)
    rows = phi_path(findings)
    assert len(rows) == 148 and all(path.startswith("98C14734-ASSH_") for path in rows)
    assert {tuple(attributes) for attributes in rows.values()} == {("PatientID",)}



# --- hostile names ---------------------------------------------------------------------------------------------

def _hostile_tree(src: Path, count: int) -> None:
    """``count`` patients, each with a name of eight long words and 100 other IDs, in a folder and a file named
    with up to 240 letters made of those words (the worst case of the name matcher's segmentation)."""
    for index in range(count):
        words = [f"{chr(97 + index % 26)}{chr(97 + index // 26 % 26)}" + "q" * (2 + k) for k in range(8)]
        name = " ".join(words[:4]) + "^" + " ".join(words[4:])
        joined = "".join(words)
        folder = joined * (240 // len(joined))
        write_named(src, f"{folder}/{folder[: len(joined) * 2]}_{index}.dcm", index + 1, patient_id=f"H{index:06d}",
                    name=name, other_ids=tuple(f"OID{index:04d}{k:03d}" for k in range(100)),
                    series_uid=f"2.25.77{index}")


def test_hostile_names_and_identities_are_judged_and_renamed_within_bounds(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _hostile_tree(src, 300)
    before = snapshot(tmp_path)
    run = run_bounded(["validate", str(src), "--profile", "dicom", "--select", "privacy", "--format", "json"],
                      cwd=tmp_path, timeout=120)
    run.assert_bounded(exit_code=1, seconds=60, megabytes=250)
    print(f"validate: {run.seconds:.1f} s, {run.peak_mb:.0f} MB")
    rows = [f for f in run.report()["findings"] if f["code"] == "PHI_PATH"]
    assert len(rows) == 600 and {tuple(f["context"]["attributes"]) for f in rows} == {("PatientName",)}
    run = run_bounded(["anonymise", str(src), str(tmp_path / "out"), "--format", "json"], cwd=tmp_path,
                      timeout=120, env={"CURATOR_ANON_KEY": KEY})
    run.assert_bounded(exit_code=0, seconds=60, megabytes=250)
    print(f"anonymise: {run.seconds:.1f} s, {run.peak_mb:.0f} MB")
    assert run.report()["renamed"] == 600
    assert written_outside(before, snapshot(tmp_path), "out") == ["out.namemap.csv"]   # the map, beside OUT
    assert snapshot(src) == {k[len("src/"):]: v for k, v in before.items() if k.startswith("src/")}


def test_english_words_that_fold_onto_a_surname_ending_are_not_names() -> None:
    """`-iew` and `-ow` fold to `-ev`/`-ov` (for transliterations like Iwanow); review, overview and Moscow must not
    become surnames, else a release's own figures/overview.png is a PHI_FILE_NAME."""
    from curator.checks.privacy_patterns import looks_like_name

    for word in ("review", "overview", "preview", "interview", "Moscow", "figures/overview.png", "review.html"):
        assert not looks_like_name(word), word
    for name in ("Ivanov", "Iwanow", "Lebedev", "Petrova"):
        assert looks_like_name(name), name
