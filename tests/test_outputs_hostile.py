"""Outputs that cannot be written, concurrent runs and left-over staging folders, for every writing command
(issue 12, "Trust": output problems, concurrent runs, left-over staging folders).

A read-only or full output is made with a real file system: a tmpfs mounted read-only, or a tmpfs of 16 KiB
(four pages). chmod does not stop root, and these tests run as root in CI; mounting needs root (or
CAP_SYS_ADMIN), so where it is not permitted the tests say so and skip.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from curator.release import build
from curator.validate import ValidateOptions, validate
from tests.dicom_factories import write_series
from tests.factories import make_source
from tests.hostile import CURATOR, run_bounded, snapshot, written_outside
from tests.ingest_factories import PATIENTS, write_study
from tests.ingest_slices_factories import make_inputs

KEY = "k" * 32
ENV = {"CURATOR_ANON_KEY": KEY}
SECONDS = 30          # measured 2-9 s (review validates first); the bound catches a hang on a loaded CI machine
MEGABYTES = 200       # measured 51-112 MB (review draws thumbnails); the interpreter and imports alone ~50-80 MB


def _mount(folder: Path, options: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {done.stderr.strip()}")


@pytest.fixture
def mounts() -> Iterator[Callable[[Path, str], Path]]:
    made: list[Path] = []

    def mount(folder: Path, options: str) -> Path:
        _mount(folder, options)
        made.append(folder)
        return folder

    yield mount
    for folder in reversed(made):
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One input per writing command: a build source, a built release, DICOM studies, slices."""
    base = tmp_path_factory.mktemp("inputs")
    source = make_source(base / "source")
    build(source, base / "release", jobs=1)
    write_study(base / "export/case01", PATIENTS[0], images=12)
    write_series(base / "dicom/patient1", count=4)
    make_inputs(base / "slices")
    return {"source": source, "release": base / "release", "export": base / "export/case01",
            "dicom": base / "dicom", "images": base / "slices/images", "masks": base / "slices/masks"}


def _command(name: str, inputs: dict[str, Path], out: Path, work: Path) -> tuple[list[str], Path]:
    """The command line that writes ``out``, and the input it must leave unchanged."""
    if name == "build":
        return ["build", str(inputs["source"]), str(out)], inputs["source"]
    if name == "ingest":
        return (["ingest", str(inputs["export"]), str(out), "--category", "CT-1", "--key-map",
                 str(work / "keys.csv")], inputs["export"])
    if name == "ingest-slices":
        return (["ingest-slices", "--images", str(inputs["images"]), "--masks", str(inputs["masks"]), str(out)],
                inputs["images"].parent)
    if name == "anonymise":
        return ["anonymise", str(inputs["dicom"]), str(out)], inputs["dicom"]
    if name == "review":
        return ["review", str(inputs["release"]), "--out", str(out), "--max-studies", "2"], inputs["release"]
    if name == "pack":
        return ["pack", str(inputs["release"]), str(out)], inputs["release"]
    if name == "demo":
        return ["demo", "--out", str(out)], inputs["source"]
    raise AssertionError(name)


COMMANDS = ["build", "ingest", "ingest-slices", "anonymise", "review", "pack", "demo"]


@pytest.mark.parametrize("name", COMMANDS)
def test_a_read_only_output_folder_is_exit_3_naming_the_path(name: str, inputs: dict[str, Path], tmp_path: Path,
                                                             mounts: Callable[[Path, str], Path]) -> None:
    """anonymise and review gave tracebacks, build exit 1; now: exit 3, the path named, nothing written."""
    parent = mounts(tmp_path / "ro", "size=1m,ro")
    out = parent / "out"
    args, source = _command(name, inputs, out, tmp_path)
    before, work_before = snapshot(source), snapshot(tmp_path)
    run = run_bounded(args, cwd=tmp_path, env=ENV, timeout=SECONDS * 2)
    run.assert_bounded(exit_code=3, seconds=SECONDS, megabytes=MEGABYTES)
    assert f"cannot write {parent}: the file system is read-only" in run.stderr, run.stderr
    assert snapshot(source) == before
    assert written_outside(work_before, snapshot(tmp_path), "ro/out") == []
    assert list(parent.iterdir()) == []


@pytest.mark.parametrize("name", COMMANDS)
def test_a_full_output_file_system_is_exit_3_and_leaves_no_partial_output(
        name: str, inputs: dict[str, Path], tmp_path: Path, mounts: Callable[[Path, str], Path]) -> None:
    """ingest blamed the input (INGEST_INPUT_UNREADABLE, exit 1) and build exited 1 for ENOSPC."""
    parent = mounts(tmp_path / "full", "size=16k")
    out = parent / "out"
    args, source = _command(name, inputs, out, tmp_path)
    before, work_before = snapshot(source), snapshot(tmp_path)
    run = run_bounded(args, cwd=tmp_path, env=ENV, timeout=SECONDS * 2)
    run.assert_bounded(exit_code=3, seconds=SECONDS, megabytes=MEGABYTES)
    assert "no space left on the device" in run.stderr and str(parent) in run.stderr, run.stderr
    assert "INGEST_INPUT_UNREADABLE" not in run.stdout + run.stderr
    assert snapshot(source) == before
    # ingest writes its key map before any study (outside OUT, as asked); nothing else is written outside OUT
    expected = ["keys.csv"] if name == "ingest" else []
    assert written_outside(work_before, snapshot(tmp_path), "full/out") == expected
    # no staging folder or lock file is left; ingest updates OUT in place, keeping what was finished
    left = sorted(p.name for p in parent.iterdir())
    assert left == (["out"] if name in ("ingest", "demo") else []), left


def _wait_for(path: Path, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, "the first run ended before it was seen writing"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.02)


def test_a_second_build_into_the_same_out_is_refused_and_the_first_completes(inputs: dict[str, Path],
                                                                             tmp_path: Path) -> None:
    """Two concurrent builds into one OUT both exited 0 and one silently replaced the other."""
    out = tmp_path / "out"
    source = make_source(tmp_path / "src", shape=(64, 64, 32))
    before = snapshot(source)
    first = subprocess.Popen([*CURATOR, "build", str(source), str(out), "--force"], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for(tmp_path / ".out.curator-lock", first, 60)
        second = run_bounded(["build", str(source), str(out), "--force"], cwd=tmp_path, timeout=SECONDS * 2)
        second.assert_bounded(exit_code=3, seconds=20, megabytes=MEGABYTES)
        assert f"cannot write {out}: another curator run (process {first.pid}) is writing it now" in second.stderr
        assert first.poll() is None, "the refused run must not stop the first"
    finally:
        _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr.decode()
    report = validate(out, ValidateOptions(jobs=1))
    assert report.valid and report.counts.error == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]   # no lock file, no staging folder left
    assert snapshot(source) == before


def test_a_killed_builds_staging_folder_is_removed_by_the_next_run_and_a_live_one_is_not(tmp_path: Path) -> None:
    """Hidden `.out.partial-*` folders left by a killed build were never cleaned."""
    out = tmp_path / "out"
    source = make_source(tmp_path / "src", shape=(64, 64, 32))
    killed = subprocess.Popen([*CURATOR, "build", str(source), str(out)], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".out.curator-partial-*/tree/*")):
            assert killed.poll() is None and time.monotonic() < deadline, "the build was not seen staging"
            time.sleep(0.02)
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
    left = list(tmp_path.glob(".out.curator-partial-*"))
    assert len(left) == 1 and not out.exists()
    # a staging folder of a run that is still going (this test's own process) must be left alone
    live = tmp_path / f".out.curator-partial-{os.getpid()}-live"
    (live / "tree").mkdir(parents=True)
    (live / "owner.json").write_text(json.dumps({"tool": "curator", "pid": os.getpid(), "started": None,
                                                 "host": socket.gethostname()}))
    live_before = snapshot(live)
    before, work_before = snapshot(source), snapshot(tmp_path)
    run = run_bounded(["build", str(source), str(out)], cwd=tmp_path, timeout=300)
    run.assert_bounded(exit_code=0, seconds=150, megabytes=MEGABYTES)
    assert f"removed {left[0]}, left by an interrupted curator run (process {killed.pid})" in run.stderr
    assert not left[0].exists() and snapshot(live) == live_before
    assert snapshot(source) == before
    changed = written_outside(work_before, snapshot(tmp_path), "out")
    assert changed == [] and sorted(p.name for p in tmp_path.iterdir()) == [live.name, "out", "src"]
    shutil.rmtree(live)


@pytest.mark.skipif(not Path("/usr/bin/prlimit").is_file(), reason="util-linux prlimit is not installed")
def test_a_file_over_the_size_limit_is_exit_3_not_a_failed_input_file(inputs: dict[str, Path],
                                                                      tmp_path: Path) -> None:
    """RLIMIT_FSIZE: a file larger than the limit fails with EFBIG (Python ignores SIGXFSZ), on any file system.
    anonymise reported such a file as one that "could not be anonymised" (exit 1, blaming the input)."""
    out = tmp_path / "out"
    args, source = _command("anonymise", inputs, out, tmp_path)
    before = snapshot(source)
    run = run_bounded(["/usr/bin/prlimit", "--fsize=1000", sys.executable, "-m", "curator", *args], cwd=tmp_path,
                      env=ENV, timeout=SECONDS * 2)
    run.assert_bounded(exit_code=3, seconds=SECONDS, megabytes=MEGABYTES)
    assert "larger than the file system or the file-size limit allows" in run.stderr, run.stderr
    assert snapshot(source) == before and sorted(p.name for p in tmp_path.iterdir()) == []
