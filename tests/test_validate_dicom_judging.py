"""validate --profile dicom judges each audited file as its batch returns from the workers (issue 15), not after
the last one; the reports must not change. Every output format of a small damaged DICOM release (planted
identifiers, private elements after the pixel data, a truncated file, an undecodable element, an empty data set, a
text file named .dcm, a clean series) is compared with a golden taken from the code before the change
(tests/golden/dicom_privacy/), read in batches of 2 files on 2 jobs so that judging crosses batch boundaries.

Regenerate (only when a report is meant to change): ``python -m tests.test_validate_dicom_judging``.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from pydicom.dataset import Dataset

from curator import dicom_judging, validate
from curator.catalogue import make_finding
from curator.checks import phi_paths, privacy_dicom
from curator.io import dicom_audit
from curator.io.dicom import DicomFile
from curator.models.findings import Finding, Severity
from curator.models.severity import sort_index
from curator.profiles import get_profile
from curator.report_closing import ordered
from tests.check_facts import observe_dicom_judging
from tests.dicom_factories import write_series
from tests.dicom_privacy_factories import (
    PATH_ID,
    declared,
    with_untabled_text,
    write_damaged_patients,
    write_named,
)
from tests.reports import validate_output, validate_report

GOLDEN = Path(__file__).resolve().parent / "golden" / "dicom_privacy"
FORMATS = {"text": "report.txt", "json": "report.json", "sarif": "report.sarif", "junit": "report.xml",
           "github": "report.github", "markdown": "report.md"}


def damaged_release(root: Path) -> Path:
    """Planted slices (two declared, one with an option claim, one with names in untabled text), two with private
    elements after the pixel data, one cut short, an undecodable element, an empty data set, a text file named .dcm,
    a clean series, two files in a folder named after their patient, a README."""
    write_damaged_patients(root, 9, _planted)
    write_series(root / "P3" / "series", count=5)
    for instance in (1, 2):   # folders and files named after the patient of their headers (PHI_PATH)
        write_named(root, f"{PATH_ID}/KOWALCZYK_{instance}.dcm", instance)
    return root


def _planted(instance: int, ds: Dataset) -> Dataset:
    """Two slices declared de-identified (one claiming an option), one with names in untabled text."""
    if instance in (4, 5):
        return declared(ds, *(("113107",) if instance == 5 else ()))
    return with_untabled_text(ds) if instance == 6 else ds


def _normalised(text: str, root: Path) -> str:
    """The output without what differs between runs: the release's folder and the run time."""
    text = text.replace(root.as_uri(), "file:///ROOT").replace(str(root), "ROOT")
    text = re.sub(r'"seconds": [0-9.eE+-]+', '"seconds": 0', text)
    text = re.sub(r'time="[0-9.]+"', 'time="0"', text)
    return re.sub(r"in [0-9.]+ s\b", "in 0 s", text)


def outputs(root: Path) -> dict[str, str]:
    """Each format's output of ``validate --profile dicom --jobs 2`` of ``root``, normalised."""
    return {name: _normalised(validate_output(root, "--profile", "dicom", "--jobs", "2", "--no-cache",
                                              "--format", name, exit_code=1), root)
            for name in FORMATS}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_output_equals_the_golden_taken_before_judging_as_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setattr(dicom_audit, "BATCH_FILES", 2)   # several batches: files judged as each one returns
    root = damaged_release(tmp_path / "release")
    got = _normalised(validate_output(root, "--profile", "dicom", "--jobs", "2", "--no-cache", "--format", name,
                                      exit_code=1), root)
    assert got == (GOLDEN / FORMATS[name]).read_text(encoding="utf-8")


def test_the_golden_release_has_privacy_findings_of_many_kinds() -> None:
    """The comparison is not between two empty reports: the golden holds the findings the judging makes."""
    text = (GOLDEN / "report.json").read_text(encoding="utf-8")
    for code in ("PHI_DICOM_ELEMENT", "PHI_DICOM_PRIVATE", "PHI_DICOM_UID_ROOT", "PHI_DICOM_NOT_DEIDENTIFIED",
                 "PHI_DICOM_AGE_NINETY_PLUS", "PHI_DICOM_TEXT", "PHI_DICOM_CLAIM_CONTRADICTED", "DICOM_UNREADABLE",
                 "PHI_PATH"):
        assert f'"code": "{code}"' in text, code


def test_each_audited_file_is_judged_as_its_batch_returns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """validate's gather judges a file as soon as its batch is back (not after the last one), and keeps for the
    check exactly the findings judge_file makes of it, for every audited file."""
    root = damaged_release(tmp_path / "release")
    monkeypatch.setattr(dicom_audit, "BATCH_FILES", 2)
    read: list[int] = []
    batch = dicom_audit.together_batch

    def counted(items: list[tuple[Path, str, bool]]) -> list[dicom_audit.Together]:   # observes, changes nothing
        read.append(len(items))
        return batch(items)

    monkeypatch.setattr(dicom_audit, "together_batch", counted)
    batches_at_judging: list[int] = []
    observe_dicom_judging(monkeypatch, lambda audited: batches_at_judging.append(len(read)))
    facts = validate.gather(root, get_profile("dicom"), validate.ValidateOptions(jobs=1))
    assert facts.dicom_audit is not None and facts.dicom_judged is not None
    assert len(read) >= 4 and batches_at_judging[0] == 1 < len(read)   # the first file judged after one batch
    assert sorted(facts.dicom_judged) == sorted(facts.dicom_audit.files)
    assert facts.dicom_path_matches is not None and sorted(facts.dicom_path_matches) == sorted(facts.dicom_judged)
    for path in facts.dicom_audit.files:   # (judged in the worker: the main keeps no elements)
        audited = dicom_audit.audit_task((root, path))
        assert isinstance(audited, dicom_audit.AuditedFile)
        assert facts.dicom_judged[path] == list(privacy_dicom.judge_file(audited))
        assert facts.dicom_path_matches[path] == phi_paths.path_matches(path, audited)
    assert facts.dicom_path_matches[f"{PATH_ID}/KOWALCZYK_1.dcm"]   # a path that carries its patient's identity


def test_nothing_is_judged_as_read_when_the_privacy_check_does_not_run(tmp_path: Path) -> None:
    root = damaged_release(tmp_path / "release")
    selection = validate._selection(validate.ValidateOptions(ignore=("privacy",)))
    facts = validate.gather(root, get_profile("dicom"), validate.ValidateOptions(jobs=1), None,
                            validate.readers_needed(selection.keeps))
    assert facts.dicom is not None and facts.dicom.files   # read, but not judged
    assert facts.dicom_judged is None and facts.dicom_path_matches is None


PROBE = """
import sys
from curator.checks import privacy_dicom
from curator.io import dicom_audit
dicom_audit.BATCH_FILES = 2   # several batches, so that the pool (or the cluster) runs them
judged = []
judge_file = privacy_dicom.judge_file
def counted(audited):   # counts the files judged in this process (a forked worker counts in its own copy)
    judged.append(audited.path)
    return judge_file(audited)
privacy_dicom.judge_file = counted
from tests.reports import validate_output, validate_report
text = validate_output(sys.argv[1], "--profile", "dicom", "--no-cache", "--format", "json", *sys.argv[2:],
                       exit_code=1)
print(len(judged), any(name == "pydicom" or name.startswith("pydicom.") for name in sys.modules))
print(text, end="")
"""


def _probed(root: Path, *args: str) -> tuple[str, dict[str, Any]]:
    """("files judged in the main process, whether it imported pydicom", the normalised JSON report without
    ``stats.executor``, which only Dask writes, and ``stats.bytes``) of validate in a fresh interpreter."""
    run = subprocess.run([sys.executable, "-c", PROBE, str(root), *args], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    found, _, text = run.stdout.partition("\n")
    report: dict[str, Any] = json.loads(_normalised(text, root))
    report["stats"].pop("executor", None)
    report["stats"].pop("bytes")   # (write_series' generated UIDs are now and then a digit shorter)
    return found, report


def test_each_file_is_judged_in_the_worker_that_read_it_on_every_executor(tmp_path: Path) -> None:
    """Issue 15: on the pool and on Dask the workers judge, the main process judges no file (it judged all 16); on
    Dask it never imports pydicom either (the pool's workers inherit it from the main, loaded before the fork). The
    report equals the golden on --jobs 1 (read and judged in process), --jobs 2 and --executor dask alike."""
    root = damaged_release(tmp_path / "release")
    golden = json.loads((GOLDEN / "report.json").read_text(encoding="utf-8"))
    golden["stats"].pop("bytes")
    assert _probed(root, "--jobs", "1") == ("16 True", golden)
    assert _probed(root, "--jobs", "2") == ("0 True", golden)
    assert _probed(root, "--executor", "dask", "--jobs", "2") == ("0 False", golden)


def test_a_batch_sends_each_kind_of_finding_once_and_the_main_rebuilds_them(tmp_path: Path) -> None:
    """judged_batch's findings are references to one finding per kind in the batch (pickled once); rebuilt about
    each path they equal judge_file's of the whole audited file, whose elements stay in the worker."""
    root = damaged_release(tmp_path / "release")
    rels = [f"P1/IM{instance:04d}.dcm" for instance in (1, 2, 9)]
    judged = [audited for _, audited in dicom_judging.judged_batch([(root, rel, True) for rel in rels])]
    assert all(isinstance(audited, dicom_judging.JudgedFile) and audited.elements == () for audited in judged)
    first, second, _ = cast(list[dicom_judging.JudgedFile], judged)
    assert first.findings and first.findings[0][0] is not None and first.findings[0] is second.findings[0]
    for rel, audited in zip(rels, judged, strict=True):
        whole = dicom_audit.audit_task((root, rel))
        assert isinstance(whole, dicom_audit.AuditedFile) and isinstance(audited, dicom_judging.JudgedFile)
        assert dicom_judging.rebuilt(audited) == list(privacy_dicom.judge_file(whole))
        assert audited.matches == phi_paths.path_matches(rel, whole)
    kept = dicom_judging.judged_batch([(root, rels[0], True)], elements=True)[0][1]   # --identifiers reads them
    assert isinstance(kept, dicom_judging.JudgedFile) and kept.elements


def test_the_identifier_search_reads_the_elements_the_workers_send_back_for_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--identifiers is the one check still reading each file's elements: judged in the workers (batches of 2 on 2
    jobs), its findings equal those of the files read and judged in process (--jobs 1)."""
    monkeypatch.setattr(dicom_audit, "BATCH_FILES", 2)
    root = damaged_release(tmp_path / "release")
    identifiers = tmp_path / "ids.txt"
    identifiers.write_text("MRN-4471\n", encoding="utf-8")   # planted_slice's PatientID

    def hits(jobs: str) -> list[dict[str, Any]]:
        report = validate_report(root, "--profile", "dicom", "--no-cache", "--identifiers", str(identifiers),
                                 "--jobs", jobs, exit_code=1)
        return [f for f in report["findings"] if f["code"] == "PHI_IDENTIFIER_FOUND"]

    found = hits("2")
    assert len(found) >= 8 and found == hits("1")


def test_a_finding_worded_otherwise_is_sent_as_it_is() -> None:
    """Only a finding Relocation words the same about its own path is shared; another is sent whole."""
    made = make_finding("PHI_DICOM_TEXT", "P1/IM0001.dcm", keyword="StudyDescription", tag="(0008,1030)",
                        value="J*** S****", kinds="a name")
    odd = made.model_copy(update={"message": "worded by hand"})
    shared: dict[tuple[object, ...], object] = {}
    assert dicom_judging._shared(made, shared)[0] is not None   # type: ignore[arg-type]
    assert dicom_judging._shared(odd, {}) == (None, odd)   # type: ignore[arg-type]
    floated = make_finding("PHI_DICOM_TEXT", "P1/IM0001.dcm", keyword="x", tag="y", value=-0.0, kinds="z")
    assert dicom_judging._shared(floated, {}) == (None, floated)   # 0.0 and -0.0: equal, but not in JSON


def test_a_zero_padded_series_number_is_kept_as_read(tmp_path: Path) -> None:
    """The header's numbers become plain ints (the main unpickles them without pydicom) only where they print the
    same: an IS read as "005" keeps its text ("#005" in a series label)."""
    from pydicom.valuerep import IS

    write_series(tmp_path / "P1" / "series", count=1)
    header = dicom_judging.judged_batch([(tmp_path, "P1/series/IM0001.dcm", False)])[0][0]
    assert isinstance(header, DicomFile)
    padded = replace(header, series_number=IS("005"), instance_number=IS("7"))
    assert dicom_judging._portable(padded) is padded
    plain = dicom_judging._portable(replace(header, series_number=IS("5"), instance_number=IS("7")))
    assert isinstance(plain, DicomFile)
    assert (type(plain.series_number), plain.series_number, type(plain.instance_number)) == (int, 5, int)


def write_golden(work: Path) -> None:   # pragma: no cover - run by hand
    root = damaged_release(work / "release")
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, text in outputs(root).items():
        (GOLDEN / FORMATS[name]).write_text(text, encoding="utf-8")


if __name__ == "__main__":   # pragma: no cover
    import tempfile

    with tempfile.TemporaryDirectory() as temporary:
        write_golden(Path(temporary))
    sys.exit(0)


def _key_order(findings: list[Finding]) -> list[Finding]:
    """The report's order as a key per finding (most severe first, then code, path, row; ties as given)."""
    def row(finding: Finding) -> int:
        value = finding.context.get("row", 0)
        return value if isinstance(value, int) else 0
    return sorted(findings, key=lambda f: (sort_index(f.severity), f.code, f.path, row(f)))


@pytest.mark.parametrize("rows", [False, True])
def test_the_report_order_is_the_key_order_with_ties_as_given(rows: bool) -> None:
    """report_closing.ordered sorts in stable passes (path, code, level) when no finding has a row: the same
    list, object for object, as the one key, for shuffled findings of every level with equal paths and codes; a
    severity overridden (a warning code reported as an error) and, with ``rows``, registry rows too."""
    rng = random.Random(15)
    findings = []
    for number in range(600):
        code = rng.choice(["PHI_DICOM_ELEMENT", "PHI_DICOM_PRIVATE", "DICOM_UNREADABLE", "PHI_DICOM_UID_ROOT"])
        severity = rng.choice([Severity.error, Severity.warning, Severity.info])
        context = {"row": rng.randint(1, 5)} if rows and number % 3 == 0 else {}
        findings.append(make_finding(code, f"P{rng.randint(1, 4)}/IM{rng.randint(1, 6)}.dcm", severity=severity,
                                     keyword=str(number), tag="(0010,0010)", action="X", value="x",
                                     direct_identifier=False, rule_source="t", count=1, groups="0009",
                                     creators=[], claims_safe_private=False, reason="r", organisation="o",
                                     root="1.2", keywords="k", attributes=[], **context))
    got = ordered(findings)
    assert [id(f) for f in got] == [id(f) for f in _key_order(findings)]
    assert got[0].severity == Severity.error and got[-1].severity == Severity.info
