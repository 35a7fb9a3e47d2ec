"""``curator build``: a complete release from a source folder.

Registered on the ``curator`` group in ``curator.cli.main``, which imports this module only when the command
is named: no command pays for the others' definitions at start-up.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from curator.cli.common import check_pairing
from curator.cli.main import guarded, present
from curator.cli.options import executor_options, report_options
from curator.errors import OptionsError


def _check_reports(source: Path, out: Path, output: tuple[Path, ...]) -> None:
    """A report goes beside the release and the source, never into them: a file in OUT would be a file the
    manifests do not list, and the source is never written to."""
    from curator.outputs import contains

    for path in output:
        for folder, what in ((out, "the release folder OUT"), (source, "the source folder")):
            if contains(folder, path):
                raise OptionsError(f"the report {path} would be written into {what}; write it elsewhere")


@click.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace OUT if it exists (only once the new release is complete).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Files hashed at once (default: all cores).")
@executor_options
@click.option("--xxh128", is_flag=True, help="Also write a tagged XXH128SUMS (xxhsum -c checks it fast).")
@click.option("--bagit", "bag", type=click.Path(path_type=Path, file_okay=False),
              help="Also write a BagIt bag of the release to this folder.")
@report_options
@guarded
def build(source: Path, out: Path, force: bool, jobs: int | None, xxh128: bool, bag: Path | None,
          fmt: tuple[str, ...], output: tuple[Path, ...], verbose: bool, executor: str, scheduler: str | None) -> None:
    """Build a release in OUT from SOURCE: dataset.yaml + studies.csv + NIfTI files, or dataset.yaml beside an
    ingest-slices tree (image/, mask/, labels.yaml).

    Every problem of the source is reported at once, as findings (--format as for validate); nothing is written
    then: exit 1 for bad source data, 2 for a dataset card that cannot be used. Once built, --format reports the
    deep validation of the release."""
    from curator.cli.cluster import command_engine, for_workers, note_executor
    from curator.release import SourceProblemsError
    from curator.release import build as run_build
    from curator.wording import plural

    formats = check_pairing(fmt, output)
    _check_reports(source, out, output)
    try:
        with command_engine(executor, scheduler, jobs, verbose) as running:
            result = run_build(for_workers(source, running), for_workers(out, running), force=force, jobs=jobs,
                               xxh128=xxh128, bag=bag)
            note_executor(running, result.report, out)
    except SourceProblemsError as problems:
        present(problems.report, fmt, output, command="build", verbose=True)   # every problem, to fix at once
        sys.stderr.write(f"curator build: {problems}\n")
        sys.exit(problems.exit_code)
    if fmt or output:
        present(result.report, fmt, output, command="build", verbose=verbose)
    if formats[len(output):] not in ((), ("text",)):   # standard output holds a report: no summary after it
        return
    if not result.per_category:   # a slices release (curator.release.slices_release): slices, each with a mask
        click.echo(f"built {result.out}: {plural(result.studies, 'slice')} with label masks, {result.files} files, "
                   f"{result.bytes:,} bytes; validated (--deep) with 0 errors")
        return
    per = ", ".join(f"{k} {v}" for k, v in result.per_category.items())
    click.echo(f"built {result.out}: {plural(result.studies, 'study', 'studies')} ({per}), "
               f"{plural(result.masks, 'mask')}, "
               f"{result.files} files, {result.bytes:,} bytes; validated (--deep) with 0 errors")
