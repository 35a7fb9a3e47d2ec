"""``curator``: build, validate and verify dataset releases.

Exit codes (DESIGN.md): 0 valid/intact, 1 invalid, 2 usage or configuration error, 3 could not run.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from curator import __version__
from curator.errors import BuildError, OptionsError, ProfileError, RunError

if TYPE_CHECKING:
    from curator.models.findings import Report

# Only click and the exceptions are imported at start-up. Each command is defined in its own module, imported when
# the command is named (_LazyGroup below), and imports its work when it runs: a cached `curator verify` is done
# before pydantic, yaml or the other commands' definitions would have loaded.

F = TypeVar("F", bound=Callable[..., Any])

EXIT_VALID, EXIT_INVALID, EXIT_USAGE, EXIT_CANNOT_RUN = 0, 1, 2, 3


def guarded(function: F) -> F:
    """Map failures to the documented exit codes; an unexpected exception is an internal error (3)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except (OptionsError, ProfileError) as error:
            click.echo(f"curator: error: {error}", err=True)
            sys.exit(EXIT_USAGE)
        except RunError as error:
            click.echo(f"curator: cannot run: {error}", err=True)
            sys.exit(EXIT_CANNOT_RUN)
        except BuildError as error:
            click.echo(f"curator build: {error}", err=True)
            for problem in error.problems[:50]:
                click.echo(f"  - {problem}", err=True)
            if len(error.problems) > 50:
                click.echo(f"  ... and {len(error.problems) - 50} more", err=True)
            sys.exit(error.exit_code)
        except Exception:
            import traceback

            click.echo("curator: internal error (please report it with the traceback below)", err=True)
            click.echo(traceback.format_exc(), err=True)
            sys.exit(EXIT_CANNOT_RUN)

    return wrapper  # type: ignore[return-value]


def split_items(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(item.strip() for value in values for item in value.split(",") if item.strip())


FORMATS = ("text", "json", "sarif", "junit", "github", "markdown")


class BytesProgress:
    """A progress callback that also asks for bytes (hash_listed sees ``wants_bytes``)."""

    wants_bytes = True

    def __init__(self, line: Any, phase: str) -> None:
        self.line, self.phase = line, phase

    def __call__(self, done: int, total: int) -> None:
        self.line(self.phase, done, total)

    def with_bytes(self, done: int, total: int, done_bytes: int, total_bytes: int) -> None:
        self.line.with_bytes(self.phase, done, total, done_bytes, total_bytes)


def emit(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise OptionsError(f"cannot write the report to {output}: {error.strerror or error}") from error


def colour_wanted() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def refetch_line(refetch: list[str]) -> None:
    if refetch:
        click.echo(f"fetch again ({len(refetch)}): " + " ".join(refetch))


def present(report: Report, formats: tuple[str, ...], outputs: tuple[Path, ...], *, command: str,
             lang: str = "en", verbose: bool = False) -> None:
    """Each format to its --output (paired in order); the formats left over go to standard output."""
    from curator.render.github import job_summary, to_github
    from curator.render.junit import to_junit
    from curator.render.markdown import to_markdown
    from curator.render.report import GROUP_LIMIT, to_json, to_text
    from curator.render.sarif import to_sarif

    formats = formats or ("text",)
    if len(outputs) > len(formats):
        raise OptionsError(f"{len(outputs)} --output files for {len(formats)} --format(s); pair each output "
                           "with a format")
    if len(formats) - len(outputs) > 1:
        raise OptionsError("only one format can go to standard output; give the others an --output file")
    colour = not outputs[len(formats) - 1:] and colour_wanted()
    renderers: dict[str, Callable[[], str]] = {
        "text": lambda: to_text(report, command=command, lang=lang, limit=None if verbose else GROUP_LIMIT,
                                colour=colour),
        "json": lambda: to_json(report),
        "sarif": lambda: to_sarif(report, command),
        "junit": lambda: to_junit(report, command),
        "github": lambda: to_github(report, command),
        "markdown": lambda: to_markdown(report, command),
    }
    for index, fmt in enumerate(formats):
        emit(renderers[fmt](), outputs[index] if index < len(outputs) else None)
        summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
        if fmt == "github" and summary_file:
            try:
                with Path(summary_file).open("a", encoding="utf-8") as handle:
                    handle.write(job_summary(report, command))
            except OSError as error:
                raise OptionsError(f"cannot write GITHUB_STEP_SUMMARY {summary_file}: {error}") from error


# commands that live in their own modules, imported only when named (or listed by --help): click's lazy group
_LAZY_COMMANDS = {
    "anonymise": ("curator.cli.anonymise", "anonymise"),
    "build": ("curator.cli.build", "build"),
    "cache": ("curator.cli.cache", "cache"),
    "demo": ("curator.cli.demo", "demo"),
    "diff": ("curator.cli.diff", "diff"),
    "ingest": ("curator.cli.ingest", "ingest"),
    "ingest-slices": ("curator.cli.ingest_slices", "ingest_slices"),
    "pack": ("curator.cli.pack", "pack"),
    "review": ("curator.cli.review", "review"),
    "rules": ("curator.cli.rules", "rules"),
    "validate": ("curator.cli.validate", "validate"),
    "verify": ("curator.cli.verify", "verify"),
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
