"""Options several click commands share, defined once: the report's formats and outputs, and archive limits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from curator.cli.common import FORMATS

F = TypeVar("F", bound=Callable[..., Any])


def report_options(function: F) -> F:
    """--format (repeatable), --output/-o (one per format) and --verbose, as every report-writing command has."""
    for option in reversed((
        click.option("--format", "fmt", type=click.Choice(FORMATS), multiple=True,
                     help="text (default), json, sarif, junit, github or markdown; repeat for several, each with an "
                          "--output."),
        click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), multiple=True,
                     help="Write the report here (one per --format, in order)."),
        click.option("--verbose", "-v", is_flag=True, help="Text output: list every finding, not two per code."),
    )):
        function = option(function)
    return function


def archive_limit_options(what: str) -> Callable[[F], F]:
    """--max-expanded-gb and --max-ratio: when an input ``what`` (an archive, an archive part) is an ARCHIVE_BOMB."""
    def decorate(function: F) -> F:
        function = click.option("--max-ratio", type=click.FloatRange(min=1), default=200.0, show_default=True,
                                help=f"{what} expanding more than this many times its size is refused "
                                     "(ARCHIVE_BOMB).")(function)
        return click.option("--max-expanded-gb", "max_gigabytes", type=click.FloatRange(min=0.001), default=64.0,
                            show_default=True,
                            help=f"{what} expanding beyond this is refused (ARCHIVE_BOMB).")(function)
    return decorate


def executor_options(function: F) -> F:
    """--executor [local|dask] and --scheduler ADDRESS (see :mod:`curator.cli.cluster`)."""
    from curator.cli.cluster import ENGINES, EXECUTOR_HELP, SCHEDULER_HELP

    function = click.option("--scheduler", metavar="ADDRESS", help=SCHEDULER_HELP)(function)
    return click.option("--executor", type=click.Choice(ENGINES), default="local", show_default=True,
                        help=EXECUTOR_HELP)(function)
