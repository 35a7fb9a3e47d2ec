"""``curator cache``: the cache of digests and headers.

Registered on the ``curator`` group in ``curator.cli.main``, which imports this module only when the command
is named: no command pays for the others' definitions at start-up.
"""

from __future__ import annotations

from pathlib import Path

import click

from curator.cli.main import guarded


@click.group()
def cache() -> None:
    """The cache of digests and headers that makes reruns over unchanged files free."""


@cache.command("clear")
@click.option("--cache-dir", type=click.Path(path_type=Path, file_okay=False))
@guarded
def cache_clear(cache_dir: Path | None) -> None:
    """Delete the cache."""
    from curator.io.cache import clear_cache, default_cache_dir

    folder = cache_dir or default_cache_dir()
    freed = clear_cache(folder) if folder.is_dir() else 0
    click.echo(f"cleared {folder} ({freed:,} bytes)")
