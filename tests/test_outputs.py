"""curator.outputs: the one home for writing outputs, and the one NIfTI writer (issue 13, item 1; issue 12, trust)."""

from __future__ import annotations

import ast
import errno
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from curator import outputs
from curator.errors import OptionsError, OutputError
from curator.ingest.convert import Volume, write_volume
from curator.ingest.masks import stage_mask
from curator.io.nifti_writer import write_nifti
from curator.outputs import atomic_write, clean_stale, contains, lock, output_error, overlap, staged
from curator.release import build
from tests.factories import DEFAULT_AFFINE, ct_volume, lesion_mask, make_source
from tests.factories import write_nifti as write_test_nifti

PACKAGE = Path(__file__).resolve().parents[1] / "curator"


def _calls(module: Path) -> Iterator[tuple[int, str]]:
    """Each call that renames, replaces or makes a temporary file or folder: (line, what)."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute | ast.Name):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
        owner = node.func.value.id if isinstance(node.func, ast.Attribute) and isinstance(node.func.value,
                                                                                          ast.Name) else ""
        if name in {"rename", "renames", "mkdtemp", "mkstemp", "NamedTemporaryFile", "TemporaryDirectory",
                    "link", "symlink_to", "hardlink_to"} or (owner == "shutil" and name == "move"):
            yield node.lineno, f"{owner + '.' if owner else ''}{name}"
        # Path.replace / os.replace take one target; str.replace takes two strings; dataclasses.replace is no move
        elif name == "replace" and owner != "dataclasses" and (owner == "os" or len(node.args) == 1) \
                and not node.keywords:
            yield node.lineno, f"{owner + '.' if owner else ''}replace"


# os.link in the bag writer hard-links payload files (an opt-in copy of a finished release, not a move);
# there is no other way to make a hard link
ALLOWED = {("release/bagit.py", "os.link")}


def test_only_the_output_module_renames_or_makes_temporary_files() -> None:
    found = [f"{path.relative_to(PACKAGE).as_posix()}:{line}: {what}"
             for path in sorted(PACKAGE.rglob("*.py")) if path.relative_to(PACKAGE).as_posix() != "outputs.py"
             for line, what in _calls(path) if (path.relative_to(PACKAGE).as_posix(), what) not in ALLOWED]
    assert found == [], "write outputs through curator.outputs (staged, atomic_*, move):\n" + "\n".join(found)


def test_the_guard_sees_each_kind_of_second_copy(tmp_path: Path) -> None:
    """The grep above is not blind: each way of renaming or staging outside the module is caught."""
    planted = tmp_path / "planted.py"
    planted.write_text("import os, shutil, tempfile\nfrom pathlib import Path\n"
                       "os.replace('a', 'b')\nPath('a').rename('b')\nPath('a').replace(Path('b'))\n"
                       "tempfile.mkdtemp()\ntempfile.mkstemp()\nshutil.move('a', 'b')\n"
                       "'text'.replace('a', 'b')\n", encoding="utf-8")
    assert [what for _, what in _calls(planted)] == ["os.replace", "rename", "replace", "tempfile.mkdtemp",
                                                     "tempfile.mkstemp", "shutil.move"]


def test_one_nifti_writer_and_ingest_does_not_import_the_demo_generator() -> None:
    writers = sorted(path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
                     if ".set_sform(" in path.read_text(encoding="utf-8"))
    assert writers == ["io/nifti_writer.py"]
    for path in sorted((PACKAGE / "ingest").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert "curator.phantom" not in imported, path


@contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def test_ingest_volumes_and_masks_get_the_same_mode_whatever_the_umask(tmp_path: Path) -> None:
    """Ingest wrote study volumes 0644 and masks 0600 (two NIfTI writers); one writer, one mode policy."""
    volume = Volume(data=ct_volume((8, 8, 4)), affine=DEFAULT_AFFINE, spacing=(1.0, 1.0, 2.0), tilt_degrees=0.0,
                    notes=())
    given = write_test_nifti(tmp_path / "given_mask.nii.gz", lesion_mask((8, 8, 4)))
    with umask(0o077):
        write_volume(tmp_path / "out/volumes/study.nii.gz", volume)
        staged = stage_mask(given, tmp_path / "out/volumes/study.nii.gz", tmp_path / "out/masks/mask.nii.gz")
        assert staged.problem is None and staged.reordered == ""
        write_nifti(tmp_path / "out/masks/seg.nii.gz", lesion_mask((8, 8, 4)), DEFAULT_AFFINE)
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "out").rglob("*.nii.gz")}
    assert modes == {"study.nii.gz": 0o644, "mask.nii.gz": 0o644, "seg.nii.gz": 0o644}
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["mask.nii.gz", "masks", "seg.nii.gz",
                                                                     "study.nii.gz", "volumes"]   # no temporaries


def test_a_release_gets_the_mode_policy_whatever_the_umask(tmp_path: Path) -> None:
    source = make_source(tmp_path / "src")
    with umask(0o077):
        build(source, tmp_path / "release", jobs=1)
    modes = {p.relative_to(tmp_path).as_posix(): p.stat().st_mode & 0o777
             for p in [tmp_path / "release", *(tmp_path / "release").rglob("*")]}
    wrong = {path: oct(mode) for path, mode in modes.items()
             if mode != (0o755 if Path(tmp_path / path).is_dir() or path.endswith("verify.sh") else 0o644)}
    assert wrong == {} and modes["release/verify.sh"] == 0o755


def test_the_nifti_writer_is_deterministic_and_faithful(tmp_path: Path) -> None:
    import nibabel as nib

    data = ct_volume((9, 7, 5))
    write_nifti(tmp_path / "a.nii.gz", data, DEFAULT_AFFINE)
    write_nifti(tmp_path / "b.nii.gz", data, DEFAULT_AFFINE)
    assert (tmp_path / "a.nii.gz").read_bytes() == (tmp_path / "b.nii.gz").read_bytes()
    image = nib.load(tmp_path / "a.nii.gz")
    assert np.array_equal(np.asarray(image.dataobj), data) and np.allclose(image.affine, DEFAULT_AFFINE)
    with pytest.raises(ValueError, match=r"\.nii\.gz"):
        write_nifti(tmp_path / "c.nii", data, DEFAULT_AFFINE)
    assert not (tmp_path / "c.nii").exists()


# --- containment and output checks ----------------------------------------------------------------------------

def test_containment_is_by_whole_components_and_follows_links(tmp_path: Path) -> None:
    (tmp_path / "src/sub").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "src/sub")
    assert contains(tmp_path / "src", tmp_path / "src/sub/x")
    assert contains(tmp_path / "src", tmp_path / "src")
    assert not contains(tmp_path / "src", tmp_path / "src2/x")        # a name that only starts the same
    assert contains(tmp_path / "src", tmp_path / "link/out")          # a link into the source
    assert overlap(tmp_path / "link/out", [tmp_path / "other", tmp_path / "src"]) == tmp_path / "src"
    assert overlap(tmp_path, [tmp_path / "src"]) == tmp_path / "src"  # OUT around a source
    assert overlap(tmp_path / "out", [tmp_path / "src"]) is None


def test_output_side_errors_are_classified_and_read_errors_are_not(tmp_path: Path) -> None:
    out = tmp_path / "out"
    full = output_error(OSError(errno.ENOSPC, "No space left on device"), [out])
    assert isinstance(full, OutputError) and str(out) in str(full) and "no space left" in str(full)
    readonly = output_error(OSError(errno.EROFS, "Read-only file system", str(tmp_path)), [out])
    assert readonly is not None and readonly.path == str(tmp_path)   # the folder being made on the way to OUT
    denied_out = output_error(PermissionError(errno.EACCES, "Permission denied", str(out / "a/b")), [out])
    assert denied_out is not None and "permission denied" in str(denied_out)
    staging = tmp_path / ".out.curator-partial-1-ab/tree/x"
    assert output_error(PermissionError(errno.EACCES, "Permission denied", str(staging)), [out]) is not None
    # reading the source: not the output's fault
    assert output_error(PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "src/a")), [out]) is None
    assert output_error(FileNotFoundError(errno.ENOENT, "No such file", str(out / "a")), [out]) is None


def test_an_output_error_survives_a_worker_process() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(OutputError("/x/out", "no space left on the device")))
    assert isinstance(error, OutputError) and error.path == "/x/out" and str(error) == (
        "cannot write /x/out: no space left on the device")


def test_a_file_on_the_way_to_out_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OptionsError, match="afile is not a folder"), lock(tmp_path / "afile/sub/out"):
        pass


# --- atomic files ---------------------------------------------------------------------------------------------

def test_atomic_write_replaces_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "keys.csv"
    atomic_write(target, b"old", mode=outputs.PRIVATE_MODE)
    assert target.read_bytes() == b"old" and target.stat().st_mode & 0o777 == 0o600
    with pytest.raises(RuntimeError), outputs.atomic_file(target) as handle:
        handle.write(b"half")
        raise RuntimeError("cut off")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["keys.csv"]
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new" and target.stat().st_mode & 0o777 == 0o644


# --- the lock -------------------------------------------------------------------------------------------------

def test_a_second_holder_of_the_lock_is_refused_at_once(tmp_path: Path) -> None:
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from curator.outputs import lock\n"
        f"with lock({str(out)!r}):\n    print('held', flush=True); time.sleep(30)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputError, match=rf"process {holder.pid}\) is writing it now"), lock(out):
            pass
    finally:
        holder.kill()
        holder.wait()
    with lock(out):   # a lock whose holder died is free: flock goes with the process
        assert outputs.lock_path(out).is_file()
    assert not outputs.lock_path(out).exists()


# --- staging --------------------------------------------------------------------------------------------------

def test_staging_renames_into_place_or_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(RuntimeError), staged(out) as stage:
        (stage.root / "half.txt").write_text("x")
        owner = json.loads((stage.folder / "owner.json").read_text())
        assert owner["tool"] == "curator" and owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with staged(out) as stage:
        (stage.root / "done.txt").write_text("x")
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and (out / "done.txt").is_file()
    with staged(out, replace=True) as stage:
        (stage.root / "new.txt").write_text("y")
    assert [p.name for p in out.iterdir()] == ["new.txt"] and [p.name for p in tmp_path.iterdir()] == ["out"]


def _stale(out: Path, pid: int, tag: str, *, host: str | None = None, marker: bool = True) -> Path:
    folder = out.parent / f".{out.name}.curator-partial-{pid}-{tag}"
    (folder / "tree").mkdir(parents=True)
    (folder / "tree/half.nii.gz").write_bytes(b"x" * 100)
    if marker:
        (folder / "owner.json").write_text(json.dumps({"tool": "curator", "pid": pid, "started": None,
                                                       "host": host or socket.gethostname()}))
    return folder


def test_only_stale_staging_folders_that_curator_made_are_removed(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    out = tmp_path / "out"
    dead = _stale(out, gone.pid, "0000")
    live = _stale(out, os.getpid(), "1111")                       # its process runs: a run in progress
    unmarked = _stale(out, gone.pid, "2222", marker=False)        # not known to be curator's
    elsewhere = _stale(out, gone.pid, "3333", host="another-host")   # a process on another machine
    other_out = _stale(tmp_path / "other", gone.pid, "4444")      # another OUT's
    with caplog.at_level("WARNING", logger="curator.outputs"):
        assert clean_stale(out) == [dead]
    assert not dead.exists() and all(p.is_dir() for p in (live, unmarked, elsewhere, other_out))
    assert f"removed {dead}" in caplog.text
