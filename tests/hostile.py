"""The harness of the hostile-input suite: run a curator command in a subprocess and measure what it did.

Every hostile test asserts the same things (issue 12, "Done means"): the exit code, no traceback, a wall-time
bound, a peak-memory bound measured on the child process (``os.wait4``'s rusage, not guessed), nothing written
outside OUT and the source unchanged. This module is the one place that measures them.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CURATOR = [sys.executable, "-m", "curator"]


@dataclass(frozen=True)
class Run:
    """What one bounded run of a command did."""

    args: list[str]
    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float

    def assert_bounded(self, *, exit_code: int, seconds: float, megabytes: float) -> None:
        """The contract of a hostile input: this exit code, no traceback, within time and memory."""
        shown = f"{' '.join(self.args)}\n--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}"
        assert self.exit_code == exit_code, f"exit {self.exit_code}, expected {exit_code}\n{shown}"
        assert "Traceback" not in self.stdout + self.stderr, shown
        assert self.seconds <= seconds, f"took {self.seconds:.2f} s, bound {seconds} s\n{shown}"
        assert self.peak_mb <= megabytes, f"peak RSS {self.peak_mb:.0f} MB, bound {megabytes} MB\n{shown}"

    def report(self) -> dict[str, Any]:
        """The JSON report the command printed (run with ``--format json``; call ``assert_bounded`` first)."""
        try:
            document = json.loads(self.stdout)
        except ValueError as error:
            raise AssertionError(f"no JSON report on stdout ({error}):\n{self.stdout[-3000:]}") from None
        assert isinstance(document, dict), self.stdout[-3000:]
        return document


def run_bounded(args: list[str], *, cwd: Path | None = None, timeout: float = 120.0,
                env: dict[str, str] | None = None, stdin: bytes | None = None) -> Run:
    """Run ``curator ARGS`` (or a full command when ARGS starts with a path to a program) in a subprocess.

    The child's own peak RSS comes from ``os.wait4`` (kilobytes on Linux), taken by a small helper process that
    forks the command: a child forked straight from pytest would report pytest's own RSS as its peak (Linux
    carries the pre-exec high-water mark into ``ru_maxrss``). A child still running at ``timeout`` is killed
    (with its process group) and reported with exit code -9 and the time it ran, so a hang fails its test with
    a message instead of hanging the suite.
    """
    command = args if args and (args[0] == sys.executable or os.sep in args[0]) else [*CURATOR, *args]
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    out_dir = Path(os.environ.get("TMPDIR", "/tmp"))
    with _pipe_input(stdin or b"") as given, _capture(out_dir) as stdout, _capture(out_dir) as stderr, \
            _capture(out_dir) as measured:
        start = time.monotonic()
        process = subprocess.Popen([sys.executable, "-S", "-c", _MEASURE, str(measured.fileno()), *command],
                                   cwd=cwd, env=environment, stdin=given, stdout=stdout, stderr=stderr,
                                   pass_fds=(measured.fileno(),), start_new_session=True)
        status, peak_kb = _wait(process, start + timeout, measured)
        seconds = time.monotonic() - start
        process.returncode = status
        stdout.seek(0)
        stderr.seek(0)
        return Run(args=command, exit_code=status, stdout=stdout.read().decode("utf-8", "replace"),
                   stderr=stderr.read().decode("utf-8", "replace"), seconds=seconds, peak_mb=peak_kb / 1024)


# forks the command, waits for it and writes "<exit code> <peak RSS in KB>" to the file descriptor argv[1]
_MEASURE = """import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
os.write(int(sys.argv[1]), f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}".encode())
"""


def _wait(process: subprocess.Popen[bytes], deadline: float, measured: Any) -> tuple[int, int]:
    while process.poll() is None:
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return -9, 0
        time.sleep(0.01)
    measured.seek(0)
    status, peak = measured.read().decode().split()
    return int(status), int(peak)


def _capture(folder: Path):  # type: ignore[no-untyped-def]
    import tempfile

    return tempfile.TemporaryFile(dir=folder)


def _pipe_input(data: bytes):  # type: ignore[no-untyped-def]
    import tempfile

    handle = tempfile.TemporaryFile()  # noqa: SIM115 (returned open, closed by the caller's with)
    handle.write(data)
    handle.seek(0)
    return handle


def snapshot(root: Path) -> dict[str, tuple[str, int, str]]:
    """Every entry under ROOT (links not followed): kind, mode and content digest, to prove nothing changed."""
    entries: dict[str, tuple[str, int, str]] = {}
    if not root.exists() and not root.is_symlink():
        return entries
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            info = path.lstat()
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                entries[relative] = ("link", info.st_mode, str(path.readlink()))
            elif path.is_file():
                entries[relative] = ("file", info.st_mode, _digest(path))
            elif path.is_dir():
                entries[relative] = ("dir", info.st_mode, "")
            else:
                entries[relative] = ("other", info.st_mode, "")
    return entries


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def written_outside(before: dict[str, tuple[str, int, str]], after: dict[str, tuple[str, int, str]],
                    out: str) -> list[str]:
    """Entries added or changed between two snapshots of a work folder, except under OUT (relative)."""
    prefix = out.rstrip("/") + "/"
    return sorted(name for name, entry in after.items()
                  if before.get(name) != entry and name != out.rstrip("/") and not name.startswith(prefix))
