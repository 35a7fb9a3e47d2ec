"""Writing outputs: the one home for where and how curator writes (DESIGN.md, "each idea has one home").

Every command that writes uses this module, and nothing else in curator renames, replaces or makes temporary
files and folders (tests/test_outputs.py greps for it):

- :func:`contains` is the one path-containment rule (links resolved): OUT is never inside a source, a source
  never inside OUT, a path named in a table never leaves its folder.
- :func:`lock` takes one lock per OUT (``fcntl.flock`` on ``.<OUT>.curator-lock`` beside it). A second run
  into the same OUT is refused at once with :class:`curator.errors.OutputError` (exit 3); the first run and its
  output are untouched. The lock file is removed when the run ends.
- :func:`staged` is the staging context: a hidden folder beside OUT, ``.<OUT>.curator-partial-<pid>-<random>``,
  holding ``owner.json`` (the tool, host, process id and its start time) and ``tree/``, the output being made.
  On success ``tree`` is renamed into place (an existing OUT, when the command may replace it, is removed only
  after the new one is there); on failure or interrupt the folder is removed. Staging folders left by a killed
  run are removed by the next run into the same OUT (:func:`clean_stale`): only folders with curator's name and
  marker whose process is gone. What was removed is logged (``curator.outputs``, shown on stderr).
- :func:`atomic_write`, :func:`atomic_file` and :func:`atomic_path` write one file through a temporary file in
  its folder, renamed over the target when complete (fsync first where the file is the durable record).
- :func:`writing` turns output-side ``OSError`` (read-only, full, quota, too large, no permission on OUT) into
  :class:`curator.errors.OutputError` naming the path, which the CLI maps to exit 3.

The mode policy, for every file and folder curator writes, whatever the umask: files ``0644`` (``rw-r--r--``),
folders and executable scripts ``0755``; a file that maps pseudonyms back to patients (the ingest key map) is
``0600`` from the moment it is created. A release is published, so nothing in it is private to its writer.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import secrets
import shutil
import socket
import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from curator.errors import OptionsError, OutputError

__all__ = ["DIR_MODE", "EXEC_MODE", "FILE_MODE", "PRIVATE_MODE", "NotRegularError", "Stage", "appending",
           "apply_modes", "atomic_file", "atomic_path", "atomic_write", "clean_stale", "contains", "lock", "move",
           "output_error", "overlap", "scratch", "scratch_folder", "staged", "writing"]

FILE_MODE = 0o644
EXEC_MODE = 0o755
DIR_MODE = 0o755
PRIVATE_MODE = 0o600

PARTIAL = "curator-partial"
MARKER = "owner.json"
TREE = "tree"
LOCK = "curator-lock"

log = logging.getLogger("curator.outputs")

# errors that only a write can cause: whatever the path, the output is to blame
_SPACE = "; free some space or choose another output folder, then run again"
_PLACE = "; choose an output folder you can write to, then run again"
_WRITE_ONLY = {
    errno.EROFS: "the file system is read-only" + _PLACE,
    errno.ENOSPC: "no space left on the device" + _SPACE,
    errno.EDQUOT: "the disk quota is exhausted" + _SPACE,
    errno.EFBIG: "the file is larger than the file system or the file-size limit allows" + _SPACE,
}
# errors that a read can cause too: the output's fault only when the path is an output place
_WRITE_SIDE = {
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EISDIR: "a folder is in the way",
    errno.EEXIST: "something is already there",
    errno.ENAMETOOLONG: "the name is too long for the file system",
    errno.EIO: "input/output error on the device",
    errno.EMLINK: "too many links",
    errno.EXDEV: "the output spans two file systems",
}


# --- containment ---------------------------------------------------------------------------------------------

def contains(folder: Path | str, path: Path | str) -> bool:
    """True when ``path`` is ``folder`` or lies below it, links resolved (the one containment rule)."""
    outer, inner = Path(folder).resolve(), Path(path).resolve()
    return inner == outer or outer in inner.parents


def overlap(out: Path, sources: Sequence[Path]) -> Path | None:
    """The first source that OUT lies in or that lies in OUT (then replacing OUT would destroy it), or None."""
    for source in sources:
        if contains(source, out) or contains(out, source):
            return source
    return None


# --- classifying output errors -------------------------------------------------------------------------------

def output_error(error: OSError, outs: Sequence[Path] = ()) -> OutputError | None:
    """``error`` as an OutputError naming the path when the output is to blame; None when it is not.

    ``outs`` are the output places (OUT, the key map, ...): a path inside one, in one's staging folder or lock
    file, or on the way to one (a folder being made) is the output's."""
    code = error.errno
    filename = error.filename if isinstance(error.filename, str | os.PathLike) else None
    if code in _WRITE_ONLY:
        where = filename or (outs[0] if outs else None)
        return OutputError(str(where) if where is not None else "the output", _WRITE_ONLY[code])
    if code in _WRITE_SIDE and filename is not None and any(_output_side(Path(filename), Path(o)) for o in outs):
        return OutputError(str(filename), _WRITE_SIDE[code] + _PLACE)
    return None


def _output_side(path: Path, out: Path) -> bool:
    path, out = path.absolute(), out.absolute()
    if contains(out, path) or contains(path, out):
        return True
    beside = (f".{out.name}.{PARTIAL}-", f".{out.name}.{LOCK}")
    return any(p.parent == out.parent and p.name.startswith(beside) for p in (path, *path.parents))


@contextmanager
def writing(*outs: Path) -> Iterator[None]:
    """Turn output-side OSErrors of the block into OutputError (see :func:`output_error`)."""
    try:
        yield
    except OSError as error:
        found = output_error(error, outs)
        if found is None:
            raise
        raise found from error


# --- atomic files ---------------------------------------------------------------------------------------------

@contextmanager
def atomic_path(target: Path | str, *, mode: int = FILE_MODE, durable: bool = False) -> Iterator[Path]:
    """A temporary path beside ``target``, created empty with ``mode`` (never readable beyond it, not even for a
    moment); the block writes it, and on success it replaces ``target``. On failure it is removed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    while True:
        temporary = target.with_name(f".{target.name}.{PARTIAL}-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            break
        except FileExistsError:
            continue
    try:
        os.fchmod(handle, mode)   # the umask does not apply: the mode is the policy's
    finally:
        os.close(handle)
    try:
        yield temporary
        temporary.chmod(mode)   # a writer that replaced the file must not change the policy
        if durable:
            _fsync(temporary)
        temporary.replace(target)
    except BaseException:
        with suppress(OSError):
            temporary.unlink()
        raise


@contextmanager
def atomic_file(target: Path | str, *, mode: int = FILE_MODE, durable: bool = True) -> Iterator[IO[bytes]]:
    """An open binary handle on a temporary file beside ``target``, renamed over it when the block ends well."""
    with atomic_path(target, mode=mode) as temporary, temporary.open("r+b") as handle:
        yield handle
        handle.flush()
        if durable:
            os.fsync(handle.fileno())


def atomic_write(target: Path | str, data: bytes, *, mode: int = FILE_MODE, durable: bool = False) -> None:
    """Write ``data`` to ``target`` through a temporary file (see :func:`atomic_path`)."""
    with atomic_file(target, mode=mode, durable=durable) as handle:
        handle.write(data)


def _fsync(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def move(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target`` (replacing a file there): the one rename every command uses."""
    Path(source).replace(target)


class NotRegularError(OSError):
    """Something other than a regular file (a link, FIFO, device, folder) is where a file is to be written."""


@contextmanager
def appending(path: Path | str, offset: int) -> Iterator[IO[bytes]]:
    """A binary handle writing ``path`` from byte ``offset`` on (bytes beyond it cut off; the file made, mode
    :data:`FILE_MODE`, when it is not there): a download's ``.part`` file, continued where an earlier run stopped.

    A link is never followed and a FIFO never waited on: anything but a regular file raises :class:`NotRegularError`.
    What was written is flushed and fsync'ed when the block ends, even on failure, so a rerun continues from it.
    """
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, FILE_MODE)
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularError(errno.EEXIST, "not a regular file", str(path))
        os.set_blocking(handle, True)
        os.fchmod(handle, FILE_MODE)
        os.ftruncate(handle, min(offset, info.st_size))
        os.lseek(handle, 0, os.SEEK_END)
        stream = os.fdopen(handle, "ab")
    except BaseException:
        os.close(handle)
        raise
    with stream:
        try:
            yield stream
        finally:
            stream.flush()
            os.fsync(stream.fileno())


def apply_modes(root: Path) -> None:
    """The mode policy over a tree curator made: folders 0755, files 0644 (0755 when executable). Links are
    neither followed nor changed."""
    def fix(path: Path, info: os.stat_result) -> None:
        if stat.S_ISDIR(info.st_mode):
            wanted = DIR_MODE
        elif stat.S_ISREG(info.st_mode):
            wanted = EXEC_MODE if info.st_mode & 0o111 else FILE_MODE
        else:
            return
        if stat.S_IMODE(info.st_mode) != wanted:
            path.chmod(wanted)

    fix(root, root.lstat())
    if not root.is_dir() or root.is_symlink():
        return
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            path = Path(folder, name)
            fix(path, path.lstat())


# --- one lock per OUT -----------------------------------------------------------------------------------------

def lock_path(out: Path) -> Path:
    out = out.absolute()
    return out.parent / f".{out.name}.{LOCK}"


@contextmanager
def lock(out: Path | str) -> Iterator[None]:
    """Hold the lock on OUT for the block; refuse at once (OutputError, exit 3) when another run holds it."""
    out = Path(out).absolute()
    path = lock_path(out)
    for above in out.parents:   # a file where a folder of the path should be: the user's mistake, not the disk's
        if above.exists() or above.is_symlink():
            if not above.is_dir():
                raise OptionsError(f"{above} is not a folder, so {out} cannot be made there; choose another "
                                   "output folder")
            break
    with writing(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                handle = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
            except OSError as error:   # the lock file is ours, not the user's: name the folder OUT goes in
                found = output_error(error, [out])
                if found is None:
                    raise
                raise OutputError(str(out.parent), found.reason) from error
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_small(handle)
                os.close(handle)
                who = f" (process {holder})" if holder.isdigit() else ""
                raise OutputError(str(out), f"another curator run{who} is writing it now; wait for it to finish "
                                  "or choose another output folder") from None
            except BaseException:
                os.close(handle)
                raise
            try:   # the file may have been removed by the run that held it just before: lock the one on disk
                same = os.path.samestat(os.fstat(handle), path.stat())
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(handle)
        os.ftruncate(handle, 0)
        os.write(handle, str(os.getpid()).encode())
    try:
        yield
    finally:
        with suppress(OSError):
            path.unlink()
        os.close(handle)


def _read_small(handle: int) -> str:
    try:
        return os.pread(handle, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""


# --- staging folders ------------------------------------------------------------------------------------------

def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid from the owner."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    now = _start_time(pid)
    return started is None or now is None or now == started


def _owner(folder: Path) -> dict[str, object] | None:
    """The marker of a staging folder curator made, or None (then it is not curator's and is left alone)."""
    marker = folder / MARKER
    try:
        if marker.is_symlink() or not marker.is_file() or marker.stat().st_size > 4096:
            return None
        document = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("tool") != "curator" or not isinstance(document.get("pid"), int):
        return None
    return document


def clean_stale(out: Path | str) -> list[Path]:
    """Remove the staging folders of OUT that a killed curator run left: curator's name and marker, this host,
    and a process that is gone. Returns what was removed (and logs it)."""
    out = Path(out).absolute()
    removed = []
    prefix = f".{out.name}.{PARTIAL}-"
    try:
        candidates = sorted(p for p in out.parent.iterdir() if p.name.startswith(prefix))
    except OSError:
        return []
    for folder in candidates:
        if folder.is_symlink() or not folder.is_dir():
            continue
        owner = _owner(folder)
        if owner is None or owner.get("host") != socket.gethostname():
            continue
        pid = owner["pid"]
        assert isinstance(pid, int)
        started = owner.get("started")
        if _alive(pid, started if isinstance(started, str) else None):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            removed.append(folder)
            log.warning("removed %s, left by an interrupted curator run (process %d)", folder, pid)
    return removed


@dataclass
class Stage:
    """A staging folder: write the output under ``root``; ``payload`` is what is renamed to OUT (``root`` by
    default; a path below it for an output that is one file)."""

    folder: Path
    root: Path
    payload: Path
    removed: list[Path] = field(default_factory=list)


@contextmanager
def staged(out: Path | str, *, replace: bool | Callable[[Path], bool] = False,
           merge: Sequence[str] = ()) -> Iterator[Stage]:
    """Make the output in a staging folder beside OUT; rename it into place when the block ends well.

    An existing empty folder at OUT is simply replaced. A non-empty one is replaced only when ``replace`` says
    so (the caller has checked that OUT is its own output); it is removed after the new one is in place. With
    ``merge`` names, an existing non-empty OUT is kept and only those entries of it are replaced. Take
    :func:`lock` on OUT around this. Output-side OSErrors become OutputError (exit 3).
    """
    out = Path(out).absolute()
    with writing(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        removed = clean_stale(out)
        while True:
            folder = out.parent / f".{out.name}.{PARTIAL}-{os.getpid()}-{secrets.token_hex(4)}"
            try:
                folder.mkdir()
                break
            except FileExistsError:
                continue
    stage = Stage(folder=folder, root=folder / TREE, payload=folder / TREE, removed=removed)
    try:
        with writing(out):
            atomic_write(folder / MARKER, json.dumps({
                "tool": "curator", "host": socket.gethostname(), "pid": os.getpid(),
                "started": _start_time(os.getpid()), "out": str(out)}).encode())
            stage.root.mkdir()
            yield stage
            apply_modes(stage.payload)
            _move_into_place(stage, out, replace, merge)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _move_into_place(stage: Stage, out: Path, replace: bool | Callable[[Path], bool], merge: Sequence[str]) -> None:
    if out.is_dir() and not out.is_symlink() and not any(out.iterdir()):
        out.rmdir()
    if not out.exists() and not out.is_symlink():
        move(stage.payload, out)
        return
    if merge and out.is_dir() and not out.is_symlink():
        for name in merge:
            old, new = out / name, stage.payload / name
            if old.is_dir() and not old.is_symlink():
                move(old, stage.folder / f"old-{name}")
            elif (old.exists() or old.is_symlink()) and not (new.is_file() and old.is_file()):
                old.unlink()
            if new.exists():
                move(new, old)
        return
    if not (replace(out) if callable(replace) else replace):
        raise OutputError(str(out), "it appeared while the output was being made; nothing was replaced")
    old = stage.folder / "old"
    move(out, old)   # inside the staging folder: a run killed now leaves it for clean_stale
    move(stage.payload, out)


# --- scratch space: intermediate files that are never output ------------------------------------------------------

def scratch_folder(prefix: str = "curator-") -> Path:
    """A new private folder (mode 0700) in the system's temporary folder; the caller removes it (``shutil.rmtree``).
    For spilled archive members and other intermediate bytes that never become output."""
    return Path(tempfile.mkdtemp(prefix=prefix))


@contextmanager
def scratch(prefix: str = "curator-") -> Iterator[Path]:
    """:func:`scratch_folder`, removed with everything in it when the block ends."""
    folder = scratch_folder(prefix)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
