"""``curator fetch SOURCE... DEST``: download a release, resumably, checked while it streams; then verify DEST.

Exit codes as verify's: 0 every file fetched and DEST intact; 1 files damaged, incomplete or missing (named, and
listed on a ``fetch again`` line); 2 usage (a SOURCE curator does not read, a missing extra); 3 could not run (the
source cannot be reached, DEST cannot be written).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from curator.cli.main import EXIT_INVALID, EXIT_VALID, guarded


@click.command()
@click.argument("sources", nargs=-1, metavar="SOURCE...")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--urls", "urls_file", type=click.Path(path_type=Path, dir_okay=False),
              help="A text file of URLs, one a line (# starts a comment), fetched with the SOURCE URLs.")
@click.option("--checksums", metavar="NAME",
              help="The checksum listing beside the files (default SHA256SUMS, then MD5SUMS at a base URL; any "
                   "sum file by name among URLs), e.g. filemd5.json.")
@click.option("--server", metavar="URL", help="The Dataverse installation of a Dataverse DOI.")
@click.option("--api", metavar="URL",
              help="The API's base URL: Zenodo (default https://zenodo.org), the Hugging Face Hub (default "
                   "$HF_ENDPOINT or https://huggingface.co).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Files downloaded at once (default 4).")
@click.option("--force", is_flag=True, help="Replace files in DEST that differ from the source.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Seconds to wait for a server before the file counts as not fetched.")
@click.option("--max-size", type=click.IntRange(min=1), metavar="BYTES",
              help="The most bytes taken of a file whose source publishes no size (default 1 TiB): an endless "
                   "body stops there.")
@click.option("--progress/--no-progress", default=None, help="Show bytes, rate and time left on stderr (default: "
                                                              "when stderr is a terminal).")
@click.option("--cache-dir", type=click.Path(path_type=Path), help="verify's cache (default ~/.cache/curator).")
@click.option("--no-cache", is_flag=True, help="Remember nothing; verify reads DEST again.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@guarded
def fetch(sources: tuple[str, ...], dest: Path, urls_file: Path | None, checksums: str | None, server: str | None,
          api: str | None, jobs: int | None, force: bool, timeout: float, max_size: int | None, progress: bool | None,
          cache_dir: Path | None, no_cache: bool, fmt: str) -> None:
    """Download SOURCE into DEST, check each file against the checksums the source publishes while it streams,
    then verify DEST against its own manifest. A rerun continues interrupted files where they stopped.

    SOURCE: http(s):// URLs (a URL ending in / is a release's base, fetched by its SHA256SUMS), s3://bucket/prefix,
    zenodo:ID (or a Zenodo record URL or DOI), a Dataverse DOI with --server URL, or hf:OWNER/NAME.
    """
    from curator.cli.common import refetch_line
    from curator.fetch.run import fetch as run_fetch
    from curator.io.cache import default_cache_dir
    from curator.render.fetch import FetchProgress, fetch_json, fetch_text
    from curator.render.report import to_text

    shown = FetchProgress() if (sys.stderr.isatty() if progress is None else progress) else None
    try:
        result = run_fetch(sources, dest, urls_file=urls_file, checksums=checksums, server=server, api=api,
                           jobs=jobs, force=force, timeout=timeout, progress=shown,
                           **({"max_size": max_size} if max_size else {}),
                           cache_dir=None if no_cache else (cache_dir or default_cache_dir()))
    finally:
        if shown is not None:
            shown.close()
    if fmt == "json":
        click.echo(fetch_json(result), nl=False)
    else:
        click.echo(fetch_text(result), nl=False)
        if result.report is not None:
            click.echo(to_text(result.report, command="verify"), nl=False)
        refetch_line(result.refetch)
    sys.exit(EXIT_VALID if result.ok else EXIT_INVALID)
