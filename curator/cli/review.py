"""``curator review ROOT --out DIR``: validate a release and write a static HTML review page with thumbnails.

Exit codes as ``curator validate``: 0 valid, 1 invalid (the page is written either way), 2 usage (a bad --out,
an unknown profile), 3 could not run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from curator.cli.main import EXIT_INVALID, EXIT_VALID, guarded


@click.command("review")
@click.argument("root", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Folder for index.html and thumbs/ (new or empty; never inside the release).")
@click.option("--force", is_flag=True, help="Replace the review already in --out (its index.html and thumbs/).")
@click.option("--profile", help="Layout profile (default: detected from the folder).")
@click.option("--fast", "tier", flag_value="fast", default=True,
              help="Validate headers, registry, manifests (default).")
@click.option("--deep", "tier", flag_value="deep",
              help="Also validate every NIfTI payload: gzip CRC, mask labels, empty masks, HU range.")
@click.option("--max-studies", type=click.IntRange(min=0), metavar="N",
              help="Draw at most N studies (those with findings first); default all, with a warning above 500.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Files read at once (default: all cores).")
@click.option("--no-cache", is_flag=True, help="Read every file again; remember nothing.")
@guarded
def review(root: Path, out: Path, force: bool, profile: str | None, tier: str, max_studies: int | None,
           jobs: int | None, no_cache: bool) -> None:
    """Validate the release at ROOT and write a review page to --out: summary, filterable findings and a
    strip of slices with their masks for each study (NIfTI study, DICOM patient or slices case). Open index.html
    in a browser."""
    from curator.io.cache import default_cache_dir
    from curator.render.progress import ProgressLine
    from curator.render.report import summary
    from curator.review import check_out, write_review
    from curator.root_and_hashes import check_root
    from curator.validate import ValidateOptions, validate

    progress = ProgressLine()
    options = ValidateOptions(profile=profile, jobs=jobs, deep=tier == "deep", progress=progress,
                              cache_dir=None if no_cache else default_cache_dir())
    try:
        check_root(root)
        check_out(root, out, force)   # before validating: a bad --out should not cost a validation
        report = validate(root, options)
        index = write_review(root, out, options=options, jobs=jobs, force=force, max_studies=max_studies,
                             report=report, warn=lambda text: click.echo(f"curator review: {text}", err=True))
    finally:
        progress.close()
    click.echo(summary(report))
    click.echo(f"review page: {index.resolve().as_uri()}")
    sys.exit(EXIT_VALID if report.valid else EXIT_INVALID)
