"""The fast tier of profile dicom parses each file once for the series headers and the privacy audit together, in
batches on processes (issue 15). What it reads must be exactly what the two readers read one after the other,
whatever the batch boundaries and the number of jobs, with damaged files in the middle of a batch named exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from curator.io import dicom as dicom_files
from curator.io import dicom_audit, dicom_raw
from curator.io.facts import Facts
from curator.io.inventory import walk
from curator.profiles import get_profile
from tests.dicom_factories import write_series
from tests.dicom_privacy_factories import planted_slice, write_damaged_patients
from tests.reports import validate_report

TRUNCATED = "P1/IM0003.dcm"
NOT_DICOM = "P2/notes.dcm"


def _tree(root: Path) -> Path:
    """A patient with planted slices, one cut short in the middle (TRUNCATED), two with private elements after the
    pixel data (native and encapsulated); a patient with an undecodable element, an empty data set, a text file
    named .dcm (NOT_DICOM) and a README."""
    return write_damaged_patients(root, 8)


def _facts(root: Path, jobs: int) -> Facts:
    return Facts(root=root, profile=get_profile("dicom"), languages=["en"], entries=walk(root), jobs=jobs)


def _together(root: Path, jobs: int) -> Facts:
    facts = _facts(root, jobs)
    dicom_files.gather(facts)      # the fast tier: read_together
    dicom_audit.gather(facts)      # takes the audit read in the same parse
    return facts


def _separately(root: Path) -> Facts:
    """The two readers one after the other, each parsing every file itself (as before issue 15)."""
    facts = _facts(root, 1)
    paths = dicom_files.candidates(facts)
    facts.dicom = dicom_files.assemble(paths, [dicom_files.read_task((root, rel, False)) for rel in paths])
    dicom_audit.gather(facts)      # facts.dicom.audit is None: the audit reads every file on its own
    return facts


def _view(facts: Facts) -> dict[str, Any]:
    dicom, audit = facts.dicom, facts.dicom_audit
    assert dicom is not None and audit is not None
    return {"files": list(dicom.files.items()), "unreadable": list(dicom.unreadable.items()),
            "directories": dicom.directories, "looked_at": dicom.looked_at,
            "series": [(s.label, s.folder, [f.path for f in s.files]) for s in dicom.series],
            "audited": list(audit.files.items()), "audit_unreadable": list(audit.unreadable.items()),
            "audit_counts": (audit.looked_at, audit.skipped, audit.bytes)}


def test_one_parse_reads_what_the_two_readers_read(tmp_path: Path) -> None:
    root = _tree(tmp_path / "release")
    expected = _view(_separately(root))
    together = _together(root, 1)
    assert _view(together) == expected
    assert together.dicom is not None and together.dicom.audit is None   # taken by the audit's gather
    # what the tree holds, so the comparison is not between two empty readings
    assert sorted(dict(expected["unreadable"])) == [TRUNCATED, "P2/IM0002.dcm", NOT_DICOM]
    assert len(expected["files"]) == 8 and len(expected["audited"]) == 8   # IM0001-8 but 3, P2/IM0001
    trailing = dict(expected["audited"])["P1/IM0008.dcm"]
    assert any(e.location.endswith("(7FE1,1001)") or e.tag == 0x7FE11001 for e in trailing.elements)


def test_batches_on_processes_read_what_one_job_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 2 files on 2 processes: the damaged file lies inside a batch, the order and every result are
    those of one job reading file after file."""
    root = _tree(tmp_path / "release")
    one = _view(_together(root, 1))
    monkeypatch.setattr(dicom_audit, "BATCH_FILES", 2)
    batched = _view(_together(root, 2))
    assert batched == one
    assert dict(batched["unreadable"])[TRUNCATED] == dict(one["unreadable"])[TRUNCATED] != ""


def test_report_is_identical_with_one_and_two_jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path / "release")
    write_series(root / "P3" / "series", count=7)
    monkeypatch.setattr(dicom_audit, "BATCH_FILES", 3)
    one = validate_report(root, "--profile", "dicom", "--jobs", "1", "--no-cache", exit_code=1)
    two = validate_report(root, "--profile", "dicom", "--jobs", "2", "--no-cache", exit_code=1)
    assert two["findings"] == one["findings"] and two["counts"] == one["counts"]
    named = {f["path"] for f in one["findings"] if f["code"] == "DICOM_UNREADABLE"}
    assert TRUNCATED in named


def test_headers_longer_than_the_first_read_are_read_whole(tmp_path: Path) -> None:
    """The one parse reads a header from the file's first HEAD_CHUNK bytes when it ends inside them; a longer one
    (a 100 kB private element before the pixels) is read from the file, and one cut short past the chunk is read
    as the two readers read it."""
    root = _tree(tmp_path / "release")
    folder = root / "P3"
    folder.mkdir()
    for instance, cut in ((11, None), (12, dicom_raw.HEAD_CHUNK + 5000)):
        ds = planted_slice(instance, z=instance * 2.5)
        block = ds.private_block(0x0029, "LONG_VENDOR", create=True)
        block.add_new(0x01, "OB", b"\x01" * 100_000)
        path = folder / f"IM{instance:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        if cut is not None:
            path.write_bytes(path.read_bytes()[:cut])
    expected = _view(_separately(root))
    assert _view(_together(root, 1)) == expected
    long = dict(expected["audited"])["P3/IM0011.dcm"]
    assert any(e.tag == 0x00291001 and e.size == 100_000 for e in long.elements)
    cut = dict(expected["audited"])["P3/IM0012.dcm"]   # pydicom reads the cut element short, as from the file
    assert any(e.tag == 0x00291001 and 0 < e.size < 100_000 for e in cut.elements)


@pytest.mark.parametrize("mode", [None, 1, 2])   # pydicom's default (unset), WARN, RAISE
def test_a_batch_reads_without_value_validation_and_restores_the_setting(tmp_path: Path, mode: int | None) -> None:
    """The fast tier reads with pydicom's value validation off (its WARN default only warns, and warnings are
    ignored there: the same values, test_one_parse_reads_what_the_two_readers_read); the caller's setting is
    restored, even when the read fails."""
    from pydicom import config

    root = _tree(tmp_path / "release")
    config.settings._reading_validation_mode = mode
    try:
        seen: list[int] = []
        with dicom_raw.unvalidated():
            seen.append(config.settings.reading_validation_mode)
        assert dicom_audit.together_batch([(root, "P1/IM0001.dcm", True)])[0][0] is not None
        assert config.settings._reading_validation_mode == mode and seen == [config.IGNORE]
        with pytest.raises(RuntimeError), dicom_raw.unvalidated():
            raise RuntimeError
        assert config.settings._reading_validation_mode == mode
    finally:
        config.settings._reading_validation_mode = None


PROBE = """
import sys
from pathlib import Path
from curator.io import dicom_audit
from curator.io.facts import Facts
from curator.io.inventory import walk
from curator.profiles import get_profile
root = Path(sys.argv[1])
facts = Facts(root=root, profile=get_profile("dicom"), languages=["en"], entries=walk(root), jobs=2)
loaded = ["pydicom" in sys.modules]
real = dicom_audit.run_batches
def spy(*args, **kwargs):   # what the main process holds when the pool forks its workers
    loaded.append("pydicom" in sys.modules and "pydicom.filereader" in sys.modules)
    return real(*args, **kwargs)
dicom_audit.run_batches = spy
dicom_audit.BATCH_FILES = 2
dicom_audit.read_together(facts)
print(*loaded, len(facts.dicom.series), len(facts.dicom.audit.files), "pydicom" in sys.modules)
"""


def _fork_state(root: Path) -> list[str]:
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", PROBE, str(root)], capture_output=True, text=True,
                          check=True).stdout.split()


def test_the_workers_inherit_pydicom_from_the_main_process(tmp_path: Path) -> None:
    """Issue 15: each worker imported pydicom itself (~0.45 s of CPU a worker), and the main process again when the
    first result came back; now the main imports it before the pool forks, when the first files are Part 10."""
    write_series(tmp_path / "P1" / "series", count=5)
    assert _fork_state(tmp_path) == ["False", "True", "1", "5", "True"]


def test_no_pydicom_before_the_fork_without_part10_files(tmp_path: Path) -> None:
    """The other side: files named .dcm that are no DICOM do not load pydicom in the main process."""
    for index in range(5):
        (tmp_path / f"IM{index}.dcm").write_bytes(bytes(400))
    assert _fork_state(tmp_path) == ["False", "False", "0", "0", "False"]


def test_pydicom_elements_are_imported_once_per_process() -> None:
    """The audit walk asks for pydicom's element classes several times an element: an import inside a function
    from pydicom.dataelem costs tens of microseconds (its module __getattr__), so the lookup is remembered."""
    assert dicom_raw.pydicom_elements() is dicom_raw.pydicom_elements()
