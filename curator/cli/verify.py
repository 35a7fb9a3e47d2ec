"""``curator verify``: check a downloaded copy against its checksum manifest; name the files to fetch again.

Registered on the ``curator`` group in ``curator.cli.main``, which imports this module only when the command
is named: no command pays for the others' definitions at start-up.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from curator.cli.main import (
    EXIT_INVALID,
    EXIT_VALID,
    FORMATS,
    BytesProgress,
    colour_wanted,
    guarded,
    present,
    refetch_line,
)


@click.command()
@click.argument("root", type=click.Path(path_type=Path))
@click.option("--manifest", help="Manifest to check against (default: SHA256SUMS, else MD5SUMS, ...).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), multiple=True,
              help="text (default), json, sarif, junit, github or markdown; repeat for several, each with an --output.")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), multiple=True,
              help="Write the report here (one per --format, in order).")
@click.option("--verbose", "-v", is_flag=True, help="Text output: list every finding, not two per code.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Files hashed at once (default: all cores).")
@click.option("--only", multiple=True, help="Check only paths matching this glob (repeatable), e.g. 'masks/*'.")
@click.option("--cache-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where unchanged files' digests are remembered (default: ~/.cache/curator).")
@click.option("--no-cache", is_flag=True, help="Hash every file again; remember nothing.")
@guarded
def verify(root: Path, manifest: str | None, fmt: tuple[str, ...], output: tuple[Path, ...], verbose: bool,
           jobs: int | None, only: tuple[str, ...], cache_dir: Path | None, no_cache: bool) -> None:
    """Check a downloaded copy at ROOT against its checksum manifest; list the files to fetch again."""
    from curator.io.cache import default_cache_dir
    from curator.render.progress import ProgressLine
    from curator.render.text_groups import GROUP_LIMIT
    from curator.verify import judge, quick_answer, read_release

    line = ProgressLine()
    try:
        reading = read_release(root, manifest=manifest, jobs=jobs, only=only,
                               cache_dir=None if no_cache else (cache_dir or default_cache_dir()),
                               progress=BytesProgress(line, "verify"))
    finally:
        line.close()
    if fmt in ((), ("text",)) and not output:
        # worded without the report models: a cached rerun is done before pydantic would have loaded
        answer = quick_answer(reading, limit=None if verbose else GROUP_LIMIT, colour=colour_wanted())
        if answer is not None:
            click.echo(answer.text, nl=False)
            refetch_line(answer.refetch)
            sys.exit(EXIT_VALID if answer.valid else EXIT_INVALID)
    report = judge(reading, jobs)
    present(report, fmt, output, command="verify", verbose=verbose)
    if not fmt:
        refetch_line((report.stats.model_extra or {}).get("refetch") or [])
    sys.exit(EXIT_VALID if report.valid else EXIT_INVALID)

