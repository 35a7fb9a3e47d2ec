"""``curator``: build, validate and verify dataset releases.

Exit codes (DESIGN.md): 0 valid/intact, 1 invalid, 2 usage or configuration error, 3 could not run.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from curator import __version__
from curator.cli.common import EXIT_INVALID, EXIT_VALID, FORMATS, present, report_failure, split_items

__all__ = ["EXIT_INVALID", "EXIT_VALID", "FORMATS", "guarded", "main", "present", "split_items"]

# Only click is imported at start-up. Each command is defined in its own module, imported when the command is named
# (_LazyGroup below), and imports its work when it runs. `curator verify` does not even need click: the entry point
# (curator.cli.entry) hands it to its own parser before click loads, since downloaders rerun it over whole releases
# and a cached rerun takes about as long as the interpreter's start-up.

F = TypeVar("F", bound=Callable[..., Any])


def guarded(function: F) -> F:
    """Map failures to the documented exit codes (:func:`curator.cli.common.report_failure`)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as error:
            sys.exit(report_failure(error))

    return wrapper  # type: ignore[return-value]


# commands that live in their own modules, imported only when named (or listed by --help): click's lazy group
_LAZY_COMMANDS = {
    "anonymise": ("curator.cli.anonymise", "anonymise"),
    "build": ("curator.cli.build", "build"),
    "cache": ("curator.cli.cache", "cache"),
    "demo": ("curator.cli.demo", "demo"),
    "diff": ("curator.cli.diff", "diff"),
    "fetch": ("curator.cli.fetch", "fetch"),
    "ingest": ("curator.cli.ingest", "ingest"),
    "ingest-slices": ("curator.cli.ingest_slices", "ingest_slices"),
    "pack": ("curator.cli.pack", "pack"),
    "publish": ("curator.cli.publish", "publish"),
    "review": ("curator.cli.review", "review"),
    "rules": ("curator.cli.rules", "rules"),
    "validate": ("curator.cli.validate", "validate"),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *_LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _LAZY_COMMANDS:
            module, name = _LAZY_COMMANDS[cmd_name]
            command: click.Command = getattr(importlib.import_module(module), name)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="curator")
def main() -> None:
    """Package, validate and verify medical-imaging dataset releases."""


@main.command(add_help_option=False, context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def verify(args: tuple[str, ...]) -> None:
    """Check a downloaded copy at ROOT against its checksum manifest; list the files to fetch again."""
    from curator.cli.verify import run

    sys.exit(run(list(args)))
