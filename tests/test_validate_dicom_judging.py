"""validate --profile dicom judges each audited file as its batch returns from the workers (issue 15), not after
the last one; the reports must not change. Every output format of a small damaged DICOM release (planted
identifiers, private elements after the pixel data, a truncated file, an undecodable element, an empty data set, a
text file named .dcm, a clean series) is compared with a golden taken from the code before the change
(tests/golden/dicom_privacy/), read in batches of 2 files on 2 jobs so that judging crosses batch boundaries.

Regenerate (only when a report is meant to change): ``python -m tests.test_validate_dicom_judging``.
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from curator import validate
from curator.catalogue import make_finding
from curator.checks import phi_paths, privacy_dicom
from curator.io import dicom_audit
from curator.io.facts import Facts
from curator.models.findings import Finding, Severity
from curator.models.severity import sort_index
from curator.profiles import get_profile
from curator.report_closing import ordered
from tests.dicom_factories import write_series
from tests.dicom_privacy_factories import (
    PATH_ID,
    declared,
    with_untabled_text,
    write_damaged_patients,
    write_named,
)
from tests.reports import validate_output

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
    judge = validate._judge_dicom

    def observed(facts: Facts, wanted: tuple[str, ...]) -> dict[str, object]:
        made = judge(facts, wanted)
        inner = made["judge"]
        assert callable(inner)

        def judging(audited: dicom_audit.AuditedFile) -> None:
            batches_at_judging.append(len(read))
            inner(audited)

        return {"judge": judging}

    monkeypatch.setitem(validate.AS_READ, validate.DICOM_GATHERER, observed)
    facts = validate.gather(root, get_profile("dicom"), validate.ValidateOptions(jobs=1))
    assert facts.dicom_audit is not None and facts.dicom_judged is not None
    assert len(read) >= 4 and batches_at_judging[0] == 1 < len(read)   # the first file judged after one batch
    assert sorted(facts.dicom_judged) == sorted(facts.dicom_audit.files)
    assert facts.dicom_path_matches is not None and sorted(facts.dicom_path_matches) == sorted(facts.dicom_judged)
    for path, audited in facts.dicom_audit.files.items():
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
