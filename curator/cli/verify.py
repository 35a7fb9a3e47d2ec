"""``curator verify``: check a downloaded copy against its checksum manifest; name the files to fetch again.

Parsed with argparse, not click: downloaders rerun it over whole releases, and with the cache a rerun takes about
as long as the interpreter's start-up, to which click would add half again. :mod:`curator.cli.entry` sends
``curator verify ...`` here before click is imported; the click group forwards to the same :func:`run`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from curator.cli.cluster import ENGINES, EXECUTOR_HELP, SCHEDULER_HELP
from curator.cli.common import (
    EXIT_INVALID,
    EXIT_USAGE,
    EXIT_VALID,
    FORMATS,
    BytesProgress,
    cache_warning,
    colour_wanted,
    present,
    refetch_line,
    report_failure,
)

if TYPE_CHECKING:
    from curator.executor import Running


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value


def _root(text: str) -> Path | str:
    """A local folder, or a URL kept as text (a Path would fold its ``//``)."""
    return text if "://" in text else Path(text)


def _formatter(prog: str) -> argparse.HelpFormatter:
    # the width as shutil.get_terminal_size gives it: argparse would import shutil (and bz2, lzma) for it on every
    # run, help or not, which is a twentieth of a cached verify
    try:
        width = int(os.environ.get("COLUMNS", "0")) or os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):   # no terminal (or no stdout at all): argparse's own fallback
        width = 80
    return argparse.HelpFormatter(prog, width=max(width - 2, 40))


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="curator verify", allow_abbrev=False, formatter_class=_formatter,
        description="Check a downloaded copy at ROOT against the checksums its publisher ships; list the files to "
                    "fetch again. "
                    "Exit 0 all intact, 1 files damaged or missing, 2 usage error, 3 could not run.")
    parse.add_argument("root", type=_root, metavar="ROOT",
                       help="The release folder (or a folder of archive parts), or its URL: s3://bucket/prefix or an "
                            "http(s):// base (credentials from the environment or ~/.aws, never the command line).")
    parse.add_argument("--against", "--manifest", dest="against", metavar="FILE",
                       help="The checksum listing to check against: a sum file (SHA256SUMS, MD5SUMS, ...), a bag's "
                            "bagit.txt, an md5 JSON map (CNCB), a Dataverse dataset JSON, a Zenodo record JSON, "
                            "datapackage.json or Croissant metadata. Default: the one found in ROOT (a bag, "
                            "SHA256SUMS, ..., MD5SUMS, datapackage.json, croissant.json, md5 JSON maps).")
    parse.add_argument("--format", dest="fmt", choices=FORMATS, action="append", default=[], metavar="FORMAT",
                       help="text (default), json, sarif, junit, github or markdown; repeat for several, each with "
                            "an --output.")
    parse.add_argument("--output", "-o", type=Path, action="append", default=[], metavar="FILE",
                       help="Write the report here (one per --format, in order).")
    parse.add_argument("--verbose", "-v", action="store_true", help="Text output: list every finding, not two per "
                                                                   "code.")
    parse.add_argument("--jobs", "-j", type=_positive, metavar="N", help="Files hashed at once (default: all cores).")
    parse.add_argument("--executor", choices=ENGINES, default="local", help=EXECUTOR_HELP)
    parse.add_argument("--scheduler", metavar="ADDRESS", help=SCHEDULER_HELP)
    parse.add_argument("--only", action="append", default=[], metavar="GLOB",
                       help="Check only paths matching this glob (repeatable), e.g. 'masks/*'.")
    parse.add_argument("--cache-dir", type=Path, metavar="DIR",
                       help="Where unchanged files' digests are remembered (default: ~/.cache/curator).")
    parse.add_argument("--no-cache", action="store_true", help="Hash every file again; remember nothing.")
    return parse


def run(argv: list[str]) -> int:
    """The exit code of ``curator verify argv...`` (its output written to stdout/stderr)."""
    try:
        options = parser().parse_args(argv)
    except SystemExit as done:   # --help (0) or a usage error, already explained by argparse (2)
        return done.code if isinstance(done.code, int) else EXIT_USAGE
    try:
        return _verify(options)
    except Exception as error:
        return report_failure(error)


def _verify(options: argparse.Namespace) -> int:
    from curator.cli.cluster import command_engine

    with command_engine(options.executor, options.scheduler, options.jobs, options.verbose) as running:
        return _verify_on(options, running)


def _verify_on(options: argparse.Namespace, running: Running) -> int:
    from curator.cli.cluster import for_workers, note_executor
    from curator.io.cache import default_cache_dir
    from curator.render.progress import ProgressLine
    from curator.verify import judge, quick_answer, read_release
    from curator.wording import GROUP_LIMIT

    fmt, output = tuple(options.fmt), tuple(options.output)
    line = ProgressLine()
    try:
        reading = read_release(for_workers(options.root, running), manifest=options.against, jobs=options.jobs,
                               only=tuple(options.only),
                               cache_dir=None if options.no_cache else (options.cache_dir or default_cache_dir()),
                               progress=BytesProgress(line, "verify"))
    finally:
        line.close()
    cache_warning(reading.cache)
    if fmt in ((), ("text",)) and not output and running.local:
        # worded without the report models: a cached rerun is done before pydantic would have loaded
        answer = quick_answer(reading, limit=None if options.verbose else GROUP_LIMIT, colour=colour_wanted())
        if answer is not None:
            sys.stdout.write(answer.text)
            refetch_line(answer.refetch)
            return EXIT_VALID if answer.valid else EXIT_INVALID
    report = judge(reading, options.jobs)
    note_executor(running, report, options.root)
    present(report, fmt, output, command="verify", verbose=options.verbose)
    if not fmt:
        refetch_line((report.stats.model_extra or {}).get("refetch") or [])
    return EXIT_VALID if report.valid else EXIT_INVALID
