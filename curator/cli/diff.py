"""``curator diff``: what changed between two releases, and the SemVer bump it calls for.

Registered on the ``curator`` group in ``curator.cli.main``, which imports this module only when the command
is named: no command pays for the others' definitions at start-up.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from curator.cli.main import EXIT_INVALID, EXIT_VALID, guarded


@click.command()
@click.argument("old")
@click.argument("new")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--jobs", "-j", type=click.IntRange(min=1))
@guarded
def diff(old: str, new: str, fmt: str, jobs: int | None) -> None:
    """What changed from release OLD to NEW, and the SemVer bump it calls for (exit 0 same, 1 different).
    OLD and NEW may be folders or releases in object storage (s3://bucket/prefix, http(s):// bases)."""
    from curator.diff import diff_releases
    from curator.render.diff import diff_json, diff_markdown, diff_text

    result = diff_releases(old if "://" in old else Path(old), new if "://" in new else Path(new), jobs)
    renderers = {"text": diff_text, "json": diff_json, "markdown": diff_markdown}
    click.echo(renderers[fmt](result), nl=False)
    sys.exit(EXIT_VALID if result.bump == "NONE" else EXIT_INVALID)

