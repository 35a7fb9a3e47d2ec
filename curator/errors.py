"""Exceptions that map to the documented exit codes (kept import-light: the CLI needs them at start-up)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The contract's exit codes (DESIGN.md): what a command's end means, by name."""

    VALID = 0        # the data is valid; the command did what was asked
    INVALID = 1      # the data is wrong: findings at or above --fail-on, a source that cannot be built from
    USAGE = 2        # usage or configuration error: options, the dataset card, the output folder
    CANNOT_RUN = 3   # could not run at all: root missing, output unwritable, internal error


class RunError(Exception):
    """The command could not run at all (exit 3): the root is missing, unreadable, not a folder."""


class OptionsError(Exception):
    """Options that make no sense (exit 2): an unknown code or tag in --select/--ignore, and the like."""


class ProfileError(Exception):
    """An unknown profile name or a broken profile file: a usage/configuration error (exit 2)."""


class BuildError(Exception):
    """The build could not be made. ``exit_code`` ExitCode.USAGE: bad configuration (card, options, output
    folder); ExitCode.INVALID: the source data itself is wrong (missing or unreadable files, masks off their
    study's grid)."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.INVALID, problems: list[str] | None = None):
        super().__init__(message)
        self.exit_code = exit_code
        self.problems = problems or []


class OutputError(RunError):
    """Curator could not write its output (exit 3): a read-only or full file system, no permission, a file too
    large, a concurrent run holding OUT. ``path`` names the place; the input is not to blame."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot write {path}: {reason}")
        self.path, self.reason = path, reason

    def __reduce__(self) -> tuple[type[OutputError], tuple[str, str]]:   # raised in worker processes too
        return (type(self), (self.path, self.reason))
