"""``curator demo``: the embedded example, built, validated and verified.

Registered on the ``curator`` group in ``curator.cli.main``, which imports this module only when the command
is named: no command pays for the others' definitions at start-up.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from curator.cli.main import EXIT_INVALID, EXIT_VALID, guarded


@click.command()
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("curator-demo"),
              show_default=True, help="Folder for the demo source and release.")
@click.option("--force", is_flag=True, help="Replace an earlier demo in OUT.")
@guarded
def demo(out: Path, force: bool) -> None:
    """Make the embedded synthetic example, build its release, validate it and verify it."""
    from curator.demo import run_demo

    result = run_demo(out, force=force, echo=click.echo)
    sys.exit(EXIT_VALID if result.ok else EXIT_INVALID)

