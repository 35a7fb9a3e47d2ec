"""``curator rules``: the finding catalogue.

Registered on the ``curator`` group in ``curator.cli.main``, which imports this module only when the command
is named: no command pays for the others' definitions at start-up.
"""

from __future__ import annotations

import click

from curator.cli.main import guarded


@click.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@guarded
def rules(fmt: str) -> None:
    """List the finding codes: level, tags, title; [planned] codes are reserved for checks to come."""
    from curator.catalogue import catalogue
    from curator.render.rules import rules_json, rules_text

    click.echo(rules_json(catalogue()) if fmt == "json" else rules_text(catalogue()), nl=False)

