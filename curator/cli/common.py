"""What the commands share without click: exit codes, formats, the report's presentation and the mapping of
failures to exit codes. ``curator verify`` runs on these alone (see :mod:`curator.cli.entry`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curator.errors import BuildError, ExitCode, OptionsError, OutputError, ProfileError, RunError
from curator.escaping import display

if TYPE_CHECKING:
    from curator.models.findings import Report

EXIT_VALID, EXIT_INVALID, EXIT_USAGE, EXIT_CANNOT_RUN = (ExitCode.VALID, ExitCode.INVALID, ExitCode.USAGE,
                                                       ExitCode.CANNOT_RUN)


def report_failure(error: Exception) -> int:
    """Say on stderr why the command stopped; the documented exit code. An unexpected exception is an internal
    error (3), shown with its traceback for the bug report."""
    say = sys.stderr.write
    if isinstance(error, (OptionsError, ProfileError)):
        say(f"curator: error: {display(str(error), keep_newlines=True)}\n")
        return EXIT_USAGE
    if isinstance(error, OutputError):   # the output cannot be written (read-only, full, held by another run)
        say(f"curator: {display(str(error), keep_newlines=True)}\n")
        return EXIT_CANNOT_RUN
    if isinstance(error, RunError):
        say(f"curator: cannot run: {display(str(error), keep_newlines=True)}\n")
        return EXIT_CANNOT_RUN
    if isinstance(error, BuildError):
        say(f"curator build: {display(str(error), keep_newlines=True)}\n")
        for problem in error.problems[:50]:
            say(f"  - {display(problem)}\n")
        if len(error.problems) > 50:
            say(f"  ... and {len(error.problems) - 50} more\n")
        return error.exit_code
    import traceback

    say("curator: internal error (please report it with the traceback below)\n")
    say("".join(traceback.format_exception(error)) + "\n")
    return EXIT_CANNOT_RUN


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


def write_report(output: Path, text: str | bytes) -> None:
    """Write a report file atomically (curator.outputs): a failure never leaves a 0-byte or half-written report,
    nor spoils an older one. Bytes are a renderer's UTF-8 (the JSON and SARIF writers'), written as they are."""
    from curator.outputs import atomic_write

    if not output.parent.is_dir():   # a report goes into a folder that exists: a typo must not make folders
        raise FileNotFoundError(2, "no such folder", str(output.parent))
    # renderers escape names; backslashreplace guards a bug
    atomic_write(output, text if isinstance(text, bytes) else text.encode("utf-8", "backslashreplace"))


def emit(text: str | bytes, output: Path | None) -> None:
    if output is None:
        if isinstance(text, bytes):   # a 49 MB report is not decoded only to be encoded again (issue 15)
            sys.stdout.flush()
            buffer = getattr(sys.stdout, "buffer", None)
            if buffer is None:
                sys.stdout.write(text.decode())
            else:
                buffer.write(text)
                buffer.flush()
        else:
            sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        write_report(output, text)
    except OSError as error:
        raise OptionsError(f"cannot write the report to {display(str(output))}: {error.strerror or error}") \
            from error


def colour_wanted() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def cache_warning(cache: Any) -> None:
    """The cache's one warning (damaged and set aside, or unusable), on stderr: the report is unaffected."""
    if isinstance(cache, dict) and cache.get("warning"):
        sys.stderr.write(f"curator: warning: {display(str(cache['warning']))}\n")


def refetch_line(refetch: list[str]) -> None:
    if refetch:
        sys.stdout.write(f"fetch again ({len(refetch)}): " + " ".join(display(path) for path in refetch) + "\n")


def check_pairing(formats: tuple[str, ...], outputs: tuple[Path, ...]) -> tuple[str, ...]:
    """The formats asked for (text by default), once each --output is known to pair with one and at most one format
    is left for standard output; a command that works before it reports checks this first."""
    formats = formats or ("text",)
    if len(outputs) > len(formats):
        raise OptionsError(f"{len(outputs)} --output files for {len(formats)} --format(s); pair each output "
                           "with a format")
    if len(formats) - len(outputs) > 1:
        raise OptionsError("only one format can go to standard output; give the others an --output file")
    return formats


def present(report: Report, formats: tuple[str, ...], outputs: tuple[Path, ...], *, command: str,
             lang: str = "en", verbose: bool = False) -> None:
    """Each format to its --output (paired in order); the formats left over go to standard output."""
    from curator.render.github import job_summary, to_github
    from curator.render.junit import to_junit
    from curator.render.markdown import to_markdown
    from curator.render.report import GROUP_LIMIT, json_report, to_text
    from curator.render.sarif import sarif_report

    formats = check_pairing(formats, outputs)
    colour = not outputs[len(formats) - 1:] and colour_wanted()
    renderers: dict[str, Callable[[], str | bytes]] = {
        "text": lambda: to_text(report, command=command, lang=lang, limit=None if verbose else GROUP_LIMIT,
                                colour=colour),
        "json": lambda: json_report(report),
        "sarif": lambda: sarif_report(report, command),
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
