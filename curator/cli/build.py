"""``curator build``: a complete release from a source folder.

Registered on the ``curator`` group in ``curator.cli.main``, which imports this module only when the command
is named: no command pays for the others' definitions at start-up.
"""

from __future__ import annotations

from pathlib import Path

import click

from curator.cli.main import guarded


@click.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace OUT if it exists (only once the new release is complete).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Files hashed at once (default: all cores).")
@click.option("--xxh128", is_flag=True, help="Also write a tagged XXH128SUMS (xxhsum -c checks it fast).")
@click.option("--bagit", "bag", type=click.Path(path_type=Path, file_okay=False),
              help="Also write a BagIt bag of the release to this folder.")
@guarded
def build(source: Path, out: Path, force: bool, jobs: int | None, xxh128: bool, bag: Path | None) -> None:
    """Build a release in OUT from SOURCE (dataset.yaml + studies.csv + NIfTI files)."""
    from curator.release import build as run_build

    result = run_build(source, out, force=force, jobs=jobs, xxh128=xxh128, bag=bag)
    per = ", ".join(f"{k} {v}" for k, v in result.per_category.items())
    from curator.wording import plural

    if not result.per_category:   # a slices release (curator.release.slices_release): slices, each with a mask
        click.echo(f"built {result.out}: {plural(result.studies, 'slice')} with label masks, {result.files} files, "
                   f"{result.bytes:,} bytes; validated (--deep) with 0 errors")
        return
    click.echo(f"built {result.out}: {plural(result.studies, 'study', 'studies')} ({per}), "
               f"{plural(result.masks, 'mask')}, "
               f"{result.files} files, {result.bytes:,} bytes; validated (--deep) with 0 errors")

