"""The harness of the hostile-input suite: run a curator command in a subprocess and measure what it did.

Every hostile test asserts the same things (issue 12, "Done means"): the exit code, no traceback, a wall-time
bound, a peak-memory bound measured on the child process (``os.wait4``'s rusage, not guessed), nothing written
outside OUT and the source unchanged. This module is the one place that measures them.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

CURATOR = [sys.executable, "-m", "curator"]
# A child forked from the test process starts with the test process's resident pages, and Linux carries that
# figure into the child's peak RSS across exec: measured directly, `python -c pass` run from a 600 MB pytest
# process "peaks" at 617 MB. So a small launcher (a fresh interpreter) forks the command and reports the
# command's own rusage through a pipe, and ends as the command did (same exit code, same signal).
_LAUNCHER = """import os, signal, sys
pid = os.fork()
if pid == 0:
    try:
        os.execv(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
os.write(int(sys.argv[1]), str(usage.ru_maxrss).encode())
code = os.waitstatus_to_exitcode(status)
if code < 0:
    if code != -signal.SIGKILL:
        signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
os._exit(code)
"""


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


def run_bounded(args: list[str], *, cwd: Path | None = None, timeout: float = 120.0,
                env: dict[str, str] | None = None, stdin: bytes | None = None) -> Run:
    """Run ``curator ARGS`` (or a full command when ARGS starts with a path to a program) in a subprocess.

    The command's own peak RSS comes from ``os.wait4`` (kilobytes on Linux), taken by a small launcher (see
    ``_LAUNCHER``). A command still running at ``timeout`` is killed with its launcher (one process group) and
    reported with exit code -9 and the time it ran, so a hang fails its test with a message instead of hanging
    the suite.
    """
    command = args if args and (args[0] == sys.executable or os.sep in args[0]) else [*CURATOR, *args]
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    out_dir = Path(os.environ.get("TMPDIR", "/tmp"))
    report, report_w = os.pipe()
    try:
        with _pipe_input(stdin or b"") as given, _capture(out_dir) as stdout, _capture(out_dir) as stderr:
            start = time.monotonic()
            process = subprocess.Popen([sys.executable, "-c", _LAUNCHER, str(report_w), *command], cwd=cwd,
                                       env=environment, stdin=given, stdout=stdout, stderr=stderr,
                                       pass_fds=(report_w,), start_new_session=True)
            os.close(report_w)
            report_w = -1
            status, usage = _wait(process, start + timeout)
            seconds = time.monotonic() - start
            process.returncode = status
            measured = os.read(report, 64)
            stdout.seek(0)
            stderr.seek(0)
            kilobytes = int(measured) if measured else (usage.ru_maxrss if usage is not None else 0)
            return Run(args=command, exit_code=status, stdout=stdout.read().decode("utf-8", "replace"),
                       stderr=stderr.read().decode("utf-8", "replace"), seconds=seconds, peak_mb=kilobytes / 1024)
    finally:
        os.close(report)
        if report_w >= 0:
            os.close(report_w)


def _wait(process: subprocess.Popen[bytes], deadline: float) -> tuple[int, os.struct_rusage | None]:
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid == process.pid:
            return os.waitstatus_to_exitcode(status), usage
        if time.monotonic() > deadline:
            os.killpg(process.pid, 9)  # the launcher and the command it started
            _, status, usage = os.wait4(process.pid, 0)
            return -9, usage
        time.sleep(0.01)


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
