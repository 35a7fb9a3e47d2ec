"""Readers run only for checks that are selected: `--ignore privacy` on a DICOM folder reads each file once
(issue 13: "each check declares what it needs, so that --select/--ignore skip the readers nobody needs").

Measured, not assumed: a subprocess counts every open() of a .dcm file through a Python audit hook.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

from curator.checks.all_checks import CHECK_MODULES
from curator.io.facts import Facts
from curator.profiles import get_profile
from curator.validate import GATHERERS, ValidateOptions, gather, readers_needed
from tests.dicom_factories import ct_slice

COUNT_OPENS = r'''
import collections, json, sys
opens = collections.Counter()
def hook(event, args):
    if event == "open" and isinstance(args[0], str) and args[0].endswith(".dcm"):
        opens[args[0].rsplit("/", 1)[-1]] += 1
sys.addaudithook(hook)
from curator.cli.entry import main
code = 0
try:
    main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
sys.stderr.write("\nOPENS " + json.dumps(opens) + "\n")
sys.exit(code)
'''


def _folder(root: Path, count: int = 4) -> Path:
    for instance in range(1, count + 1):
        ds = ct_slice(study_uid="2.25.1", series_uid="2.25.2", instance=instance, position=(0.0, 0.0, 2.0 * instance))
        (root / "P1").mkdir(parents=True, exist_ok=True)
        ds.save_as(root / "P1" / f"IM{instance:04d}.dcm", enforce_file_format=True)
    return root


def _run(root: Path, *extra: str, exit_code: int) -> tuple[dict[str, int], dict]:
    done = subprocess.run([sys.executable, "-c", COUNT_OPENS, "validate", str(root), "--profile", "dicom",
                           "--jobs", "1", "--no-cache", "--format", "json", *extra],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == exit_code and "Traceback" not in done.stderr, done.stdout[-3000:] + done.stderr[-3000:]
    opens = json.loads(done.stderr.rsplit("OPENS ", 1)[1])
    return opens, json.loads(done.stdout)


def test_ignoring_privacy_reads_each_dicom_file_once(tmp_path: Path) -> None:
    root = _folder(tmp_path / "src")
    opens, report = _run(root, "--ignore", "privacy", exit_code=0)
    assert opens == {f"IM{i:04d}.dcm": 1 for i in range(1, 5)}
    assert not [f for f in report["findings"] if f["code"].startswith("PHI_")]
    everything, full = _run(root, exit_code=1)         # the slices are not de-identified
    # issue 15: the fast tier parses each file once for the series and the privacy audit together (was 3 opens)
    assert everything == {f"IM{i:04d}.dcm": 1 for i in range(1, 5)}
    assert [f for f in full["findings"] if not f["code"].startswith("PHI_")] == report["findings"]


def test_every_reader_is_declared_by_a_check_and_every_declared_reader_exists() -> None:
    declared = {reader for module in CHECK_MODULES for reader in getattr(module, "READERS", ())}
    assert declared == set(GATHERERS)
    assert readers_needed(lambda code: not code.startswith("PHI_")) == set()
    assert readers_needed(lambda code: code == "PHI_PATH") == {"curator.io.dicom_audit:gather"}


def test_each_reader_fills_its_typed_field_and_a_skipped_reader_leaves_it_empty(tmp_path: Path) -> None:
    """Issue 13 item 3: no dynamic ``facts.extra[...]``; each reader's result is a typed field of Facts."""
    assert "extra" not in {f.name for f in dataclasses.fields(Facts)}
    root = _folder(tmp_path / "src", count=2)
    options = ValidateOptions(profile="dicom", jobs=1, checksums=False)
    skipped = gather(root, get_profile("dicom"), options, readers=set())
    assert skipped.dicom is not None and sorted(skipped.dicom.files) == ["P1/IM0001.dcm", "P1/IM0002.dcm"]
    assert (skipped.dicom_audit, skipped.privacy_files, skipped.slices) == (None, None, None)
    assert [f for module in CHECK_MODULES if module.CODES & {"PHI_PATH", "PHI_DICOM_ELEMENT", "PHI_FILE_NAME"}
            for f in module.check(skipped)] == []
    read = gather(root, get_profile("dicom"), options, readers={"curator.io.dicom_audit:gather"})
    assert read.dicom_audit is not None and sorted(read.dicom_audit.files) == ["P1/IM0001.dcm", "P1/IM0002.dcm"]
    assert read.privacy_files is None and read.slices is None
